#include "policy/errors.h"

#include <array>

namespace atls::policy {
namespace {

constexpr std::array kTable{
    errc_row(Errc::NotAListOfRecords, "not_a_list_of_records",
             "policy must be a JSON array of records (or a single record object)"),
    errc_row(Errc::EmptyPolicy, "empty_policy", "policy contains no records"),
    errc_row(Errc::RecordNotObject, "record_not_object", "policy record is not a JSON object"),
    errc_row(Errc::UnknownField, "unknown_field", "unknown field"),
    errc_row(Errc::UnsupportedRecordForm, "unsupported_record_form",
             "record form is not supported by this version"),
    errc_row(Errc::WrongFieldType, "wrong_field_type", "field has the wrong JSON type"),
    errc_row(Errc::MissingAttestationType, "missing_attestation_type",
             "record has no attestation_type"),
    errc_row(Errc::UnknownAttestationType, "unknown_attestation_type", "unknown attestation type"),
    errc_row(Errc::MeasurementsOnNoneRecord, "measurements_on_none_record",
             "a record of type none cannot list measurements"),
    errc_row(Errc::BadRegisterKey, "bad_register_key", "unrecognised register key"),
    errc_row(Errc::BadRegisterIndex, "bad_register_index",
             "register index out of range for the attestation type"),
    errc_row(Errc::DuplicateRegister, "duplicate_register", "register listed twice in one record"),
    errc_row(Errc::BothExpectedAndExpectedAny, "both_expected_and_expected_any",
             "register has both expected and expected_any"),
    errc_row(Errc::NoExpectedValue, "no_expected_value",
             "register has neither expected nor expected_any"),
    errc_row(Errc::EmptyExpectedAny, "empty_expected_any", "expected_any is empty"),
    errc_row(Errc::BadHex, "bad_hex", "value is not hex"),
    errc_row(Errc::BadLength, "bad_length", "value has the wrong length for the register"),
    errc_row(Errc::InvalidAllowedType, "invalid_allowed_type",
             "invalid --allowed-remote-attestation-type"),
    errc_row(Errc::PolicyOptionConflict, "policy_option_conflict",
             "exactly one of --measurements-file or --allowed-remote-attestation-type is needed"),
    errc_row(Errc::SourceUnreadable, "source_unreadable", "measurements file cannot be read"),
    errc_row(Errc::InsecureUrl, "insecure_url",
             "plain http measurements URLs are only allowed for loopback hosts"),
    errc_row(Errc::FetchFailed, "fetch_failed", "fetching the measurements URL failed"),
    errc_row(Errc::UnknownTcbStatus, "unknown_tcb_status", "unknown or unacceptable TCB status"),
};

const NamedCategory kCategory{"policy", kTable};

}  // namespace

const NamedCategory& policy_category() noexcept {
  return kCategory;
}

}  // namespace atls::policy
