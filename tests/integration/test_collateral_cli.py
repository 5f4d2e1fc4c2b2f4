"""`atls-proxy collateral fetch|show` against a fake PCCS (backends/fake_pcs.py) serving the
collateral of a mock TEE directory (`mock-tee init`): fetch, vet, store, list; failures map to
exit codes 3 (service unreachable or failing) and 4 (documents fail vetting)."""
import json

import pytest

from conftest import BIN, run
from fake_pcs import FakePcs

MOCK_FMSPC = "00a06e570000"




@pytest.fixture
def pcs(mock_tee):
    collateral = json.loads((mock_tee / "tdx-collateral.json").read_text())
    server = FakePcs(collateral, MOCK_FMSPC, "platform")
    yield server
    server.close()


def collateral_cli(mock_tee, *args, trust_mock=True):
    prefix = [BIN, "--insecure-trust-mock-tee", mock_tee] if trust_mock else [BIN]
    return run(prefix + ["collateral", *args])


def test_fetch_stores_and_show_lists(tmp_path, mock_tee, pcs):
    cache = tmp_path / "cache"
    fetched = collateral_cli(mock_tee, "fetch", "--fmspc", MOCK_FMSPC, "--pccs-url",
                             pcs.base_url + "/sgx/certification/v4/", "--cache-dir", cache,
                             "--json")
    assert fetched.returncode == 0, fetched.stdout.decode() + fetched.stderr.decode()
    out = json.loads(fetched.stdout)
    assert out["stored"] is True
    assert out["key"] == "tdx-00a06e570000-platform"
    assert out["base_url"] == pcs.base_url
    assert (cache / "tdx-00a06e570000-platform.cache").is_file()
    assert pcs.total_hits() == 4

    shown = collateral_cli(mock_tee, "show", "--cache-dir", cache, "--json")
    assert shown.returncode == 0, shown.stderr.decode()
    listing = json.loads(shown.stdout)
    assert [e["key"] for e in listing["entries"]] == ["tdx-00a06e570000-platform"]
    entry = listing["entries"][0]
    assert entry["valid"] is True
    assert entry["time_to_expiry_seconds"] > 0
    assert entry["age_seconds"] >= 0
    assert entry["dates"]["tcb_evaluation_data_number"] == 1

    # Human-readable form, and without the mock root the same file does not verify.
    text = collateral_cli(mock_tee, "show", "--cache-dir", cache)
    assert b"tdx-00a06e570000-platform" in text.stdout and b"valid" in text.stdout
    production = collateral_cli(mock_tee, "show", "--cache-dir", cache, "--json",
                                trust_mock=False)
    assert json.loads(production.stdout)["entries"][0]["valid"] is False


def test_fetch_failures_have_their_exit_codes(tmp_path, mock_tee, pcs):
    cache = tmp_path / "cache"
    pcs.fail_with(503, retry_after=30)
    failed = collateral_cli(mock_tee, "fetch", "--fmspc", MOCK_FMSPC, "--pccs-url", pcs.base_url,
                            "--cache-dir", cache, "--json")
    assert failed.returncode == 3, failed.stdout.decode() + failed.stderr.decode()
    assert json.loads(failed.stdout)["error"] == "collateral.server_error"
    assert not (cache / "tdx-00a06e570000-platform.cache").exists()

    pcs.recover()
    # The production root does not accept the mock collateral: vetting fails, nothing stored.
    rejected = collateral_cli(mock_tee, "fetch", "--fmspc", MOCK_FMSPC, "--pccs-url",
                              pcs.base_url, "--cache-dir", cache, "--json", trust_mock=False)
    assert rejected.returncode == 4, rejected.stdout.decode() + rejected.stderr.decode()
    assert json.loads(rejected.stdout)["error"] == "collateral.validation_failed"

    unknown = collateral_cli(mock_tee, "fetch", "--fmspc", "0102030405ff", "--pccs-url",
                             pcs.base_url, "--cache-dir", cache, "--json")
    assert unknown.returncode == 3
    assert json.loads(unknown.stdout)["error"] == "collateral.not_found"

    usage = collateral_cli(mock_tee, "fetch", "--fmspc", "xyz", "--cache-dir", cache)
    assert usage.returncode == 2
