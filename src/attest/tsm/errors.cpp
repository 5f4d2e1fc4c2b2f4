#include "attest/tsm/errors.h"

#include <array>

namespace atls::attest::tsm {
namespace {

constexpr std::array kTable{
    errc_row(Errc::Unavailable, "unavailable",
             "configfs-tsm report directory is missing (no configfs-tsm on this system)"),
    errc_row(Errc::NoProvider, "no_provider",
             "configfs-tsm has no TEE provider registered (mkdir failed with ENXIO)"),
    errc_row(Errc::PermissionDenied, "permission_denied",
             "permission denied on the configfs-tsm report directory"),
    errc_row(Errc::EntryCreateFailed, "entry_create_failed",
             "could not create a configfs-tsm report entry"),
    errc_row(Errc::AttributeMissing, "attribute_missing",
             "a configfs-tsm report attribute did not appear"),
    errc_row(Errc::ProviderMismatch, "provider_mismatch",
             "configfs-tsm provider is not the expected TEE"),
    errc_row(Errc::AttributeReadFailed, "attribute_read_failed",
             "reading a configfs-tsm report attribute failed"),
    errc_row(Errc::AttributeMalformed, "attribute_malformed",
             "a configfs-tsm report attribute is not a decimal number"),
    errc_row(Errc::InvalidInblobSize, "invalid_inblob_size", "inblob must be exactly 64 bytes"),
    errc_row(Errc::PrivlevelUnsupported, "privlevel_unsupported",
             "the configfs-tsm provider does not accept a privilege level"),
    errc_row(Errc::PrivlevelOutOfRange, "privlevel_out_of_range",
             "privilege level must be between 0 and 3"),
    errc_row(Errc::PrivlevelBelowFloor, "privlevel_below_floor",
             "privilege level is below the provider's privlevel_floor"),
    errc_row(Errc::PrivlevelWriteFailed, "privlevel_write_failed",
             "writing the configfs-tsm privlevel attribute failed"),
    errc_row(Errc::InblobWriteFailed, "inblob_write_failed",
             "writing the configfs-tsm inblob attribute failed"),
    errc_row(Errc::OutblobReadFailed, "outblob_read_failed",
             "reading the configfs-tsm outblob failed (report generation failed)"),
    errc_row(Errc::OutblobEmpty, "outblob_empty", "the configfs-tsm outblob is empty"),
    errc_row(Errc::OutblobTooLarge, "outblob_too_large",
             "the configfs-tsm outblob exceeds the size limit"),
    errc_row(Errc::AuxblobReadFailed, "auxblob_read_failed",
             "reading the configfs-tsm auxblob failed"),
    errc_row(Errc::AuxblobTooLarge, "auxblob_too_large",
             "the configfs-tsm auxblob exceeds the size limit"),
    errc_row(Errc::GenerationRace, "generation_race",
             "another writer changed the configfs-tsm report entry on every attempt"),
    errc_row(Errc::Busy, "busy", "too many concurrent configfs-tsm requests"),
};

const NamedCategory kCategory{"tsm", kTable};

}  // namespace

const NamedCategory& tsm_category() noexcept {
  return kCategory;
}

}  // namespace atls::attest::tsm
