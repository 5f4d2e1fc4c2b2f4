#pragma once

#include "core/error.h"

namespace atls::policy {

enum class Errc {
  NotAListOfRecords = 1,
  EmptyPolicy,
  RecordNotObject,
  UnknownField,
  UnsupportedRecordForm,
  WrongFieldType,
  MissingAttestationType,
  UnknownAttestationType,
  MeasurementsOnNoneRecord,
  BadRegisterKey,
  BadRegisterIndex,
  DuplicateRegister,
  BothExpectedAndExpectedAny,
  NoExpectedValue,
  EmptyExpectedAny,
  BadHex,
  BadLength,
  InvalidAllowedType,
  PolicyOptionConflict,
  SourceUnreadable,
  InsecureUrl,
  FetchFailed,
  UnknownTcbStatus,
};

ATLS_DECLARE_ERRC(Errc, policy_category)

}  // namespace atls::policy

ATLS_REGISTER_ERRC(atls::policy::Errc);
