"""The network I/O backend (io_uring or epoll, CMake option ATLS_IO_URING) when the kernel refuses
io_uring: the proxy commands stop at start-up with one clear message, the file-only commands still
work. The refusal is real: the child runs under a seccomp filter that fails io_uring_setup(2)
with EPERM, as container runtimes' default profiles do."""
import ctypes
import os
import platform

import pytest

from conftest import BIN, io_backend, run

IO_URING_SETUP = 425  # the same number on every architecture (syscall table unification, 5.1)
EPERM = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
BPF_LD_W_ABS = 0x20
BPF_JMP_JEQ_K = 0x15
BPF_RET_K = 0x06


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def deny_io_uring():
    """preexec_fn: installs a seccomp filter in the child that fails io_uring_setup with EPERM."""
    program = (SockFilter * 4)(
        SockFilter(BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        SockFilter(BPF_JMP_JEQ_K, 0, 1, IO_URING_SETUP),
        SockFilter(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM),
        SockFilter(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    fprog = SockFprog(len(program), program)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


pytestmark = pytest.mark.skipif(platform.system() != "Linux", reason="seccomp is Linux-only")


def test_version_names_the_backend():
    assert io_backend() in ("io_uring", "epoll")


def test_proxy_command_stops_with_a_clear_message_when_io_uring_is_refused():
    # get-tls-cert to a port nothing listens on: with a usable backend it fails to connect
    # (exit 3); with io_uring refused it must not get that far.
    result = run([BIN, "get-tls-cert", "127.0.0.1:1", "--allowed-remote-attestation-type", "none"],
                 preexec_fn=deny_io_uring, timeout=30)
    output = (result.stdout + result.stderr).decode()
    if io_backend() == "io_uring":
        assert result.returncode == 1, output
        assert "cli.io_backend_unavailable" in output, output
        assert "io_uring_setup: Operation not permitted" in output, output
        assert "-DATLS_IO_URING=OFF" in output and "kernel.io_uring_disabled" in output, output
    else:
        # The epoll build never asks for a ring: the filter changes nothing.
        assert result.returncode == 3, output
        assert "io_uring" not in output, output


def test_file_only_commands_run_without_io_uring(tmp_path):
    result = run([BIN, "mock-tee", "init", tmp_path / "pki"], preexec_fn=deny_io_uring, timeout=60)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert any((tmp_path / "pki").iterdir())


def test_the_filter_really_refuses_io_uring():
    # The filter itself, checked with a raw io_uring_setup from a child Python, so that a
    # passing test above cannot come from a filter that does nothing.
    code = ("import ctypes, sys\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "params = ctypes.create_string_buffer(120)\n"
            f"fd = libc.syscall({IO_URING_SETUP}, 2, params)\n"
            "sys.exit(ctypes.get_errno() if fd < 0 else 0)\n")
    result = run(["/usr/bin/python3", "-c", code], preexec_fn=deny_io_uring)
    assert result.returncode == EPERM, result.stderr.decode()
