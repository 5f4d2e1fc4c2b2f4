#pragma once
// PEM text of AMD's pinned SEV-SNP certificates (ARK, ASK, ASVK per product). Use
// trust_anchors.h, which checks their fingerprints, rather than these strings directly.

#include <string_view>

namespace atls::attest::snp::amd_roots {

extern const std::string_view kArkMilanPem;
extern const std::string_view kAskMilanPem;
extern const std::string_view kAsvkMilanPem;
extern const std::string_view kArkGenoaPem;
extern const std::string_view kAskGenoaPem;
extern const std::string_view kAsvkGenoaPem;
extern const std::string_view kArkTurinPem;
extern const std::string_view kAskTurinPem;
extern const std::string_view kAsvkTurinPem;

}  // namespace atls::attest::snp::amd_roots
