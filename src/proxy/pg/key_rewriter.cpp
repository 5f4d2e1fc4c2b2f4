#include "proxy/pg/key_rewriter.h"

#include <algorithm>

#include "proxy/pg/errors.h"
#include "proxy/pg/wire.h"

namespace atls::proxy::pg {

Result<void> KeyRewriter::feed(ByteView in, Bytes& out) {
  std::size_t pos = 0;
  while (pos < in.size()) {
    if (passthrough_) {
      out.insert(out.end(), in.begin() + static_cast<std::ptrdiff_t>(pos), in.end());
      return {};
    }
    if (!in_body_) {
      // Collect the 5-byte header: type + Int32 length (which includes itself).
      const std::size_t take = std::min<std::size_t>(5 - header_have_, in.size() - pos);
      std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(pos), take, header_ + header_have_);
      header_have_ += take;
      pos += take;
      if (header_have_ < 5) {
        return {};
      }
      const std::uint32_t length = load_u32(header_ + 1);
      if (length < 4) {
        return make_error_code(Errc::BackendMessageInvalid);
      }
      remaining_ = length - 4;
      in_body_ = true;
      header_have_ = 0;
      end_after_body_ = header_[0] == 'Z';
      buffering_key_ = header_[0] == 'K';
      if (buffering_key_) {
        if (rewrote_ || remaining_ < 4 + kMinCancelKey || remaining_ > 4 + kMaxCancelKey) {
          return make_error_code(Errc::BackendKeyDataInvalid);
        }
        key_message_.assign(header_, header_ + 5);
      } else {
        out.insert(out.end(), header_, header_ + 5);
      }
    }
    const std::size_t take = std::min<std::size_t>(remaining_, in.size() - pos);
    const auto first = in.begin() + static_cast<std::ptrdiff_t>(pos);
    if (buffering_key_) {
      key_message_.insert(key_message_.end(), first, first + static_cast<std::ptrdiff_t>(take));
    } else {
      out.insert(out.end(), first, first + static_cast<std::ptrdiff_t>(take));
    }
    pos += take;
    remaining_ -= static_cast<std::uint32_t>(take);
    if (remaining_ > 0) {
      return {};
    }
    in_body_ = false;
    if (buffering_key_) {
      buffering_key_ = false;
      const std::uint32_t real_pid = load_u32(key_message_.data() + 5);
      const ByteView real_key(key_message_.data() + 9, key_message_.size() - 9);
      const Issued issued = issue_(real_pid, real_key);
      if (issued.key.size() != real_key.size()) {
        return make_error_code(Errc::BackendKeyDataInvalid);
      }
      out.insert(out.end(), key_message_.begin(), key_message_.begin() + 5);
      append_u32(out, issued.pid);
      out.insert(out.end(), issued.key.begin(), issued.key.end());
      // The real key must not linger in memory longer than needed.
      std::fill(key_message_.begin(), key_message_.end(), std::uint8_t{0});
      key_message_.clear();
      rewrote_ = true;
    }
    if (end_after_body_) {
      passthrough_ = true;
    }
  }
  return {};
}

}  // namespace atls::proxy::pg
