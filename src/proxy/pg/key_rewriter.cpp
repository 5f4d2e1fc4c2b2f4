#include "proxy/pg/key_rewriter.h"

#include <algorithm>
#include <string_view>
#include <vector>

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
      buffering_ = 0;
      if (header_[0] == 'K') {
        if (rewrote_ || remaining_ < 4 + kMinCancelKey || remaining_ > 4 + kMaxCancelKey) {
          return make_error_code(Errc::BackendKeyDataInvalid);
        }
        buffering_ = 'K';
      } else if (header_[0] == 'R' && remaining_ <= kMaxBufferedAuth) {
        buffering_ = 'R';
      }
      if (buffering_ != 0) {
        held_.assign(header_, header_ + 5);
      } else {
        out.insert(out.end(), header_, header_ + 5);
      }
    }
    const std::size_t take = std::min<std::size_t>(remaining_, in.size() - pos);
    const auto first = in.begin() + static_cast<std::ptrdiff_t>(pos);
    if (buffering_ != 0) {
      held_.insert(held_.end(), first, first + static_cast<std::ptrdiff_t>(take));
    } else {
      out.insert(out.end(), first, first + static_cast<std::ptrdiff_t>(take));
    }
    pos += take;
    remaining_ -= static_cast<std::uint32_t>(take);
    if (remaining_ > 0) {
      return {};
    }
    in_body_ = false;
    if (buffering_ == 'K') {
      if (auto emitted = emit_key_data(out); !emitted) {
        return emitted;
      }
    } else if (buffering_ == 'R') {
      if (auto emitted = emit_authentication(out); !emitted) {
        return emitted;
      }
    }
    buffering_ = 0;
    if (end_after_body_) {
      passthrough_ = true;
    }
  }
  return {};
}

Result<void> KeyRewriter::emit_key_data(Bytes& out) {
  const std::uint32_t real_pid = load_u32(held_.data() + 5);
  const ByteView real_key(held_.data() + 9, held_.size() - 9);
  auto issued = issue_(real_pid, real_key);
  if (!issued || issued->key.size() != real_key.size()) {
    std::fill(held_.begin(), held_.end(), std::uint8_t{0});
    held_.clear();
    return issued ? make_error_code(Errc::BackendKeyDataInvalid) : issued.error();
  }
  out.insert(out.end(), held_.begin(), held_.begin() + 5);
  append_u32(out, issued->pid);
  out.insert(out.end(), issued->key.begin(), issued->key.end());
  // The real key must not linger in memory longer than needed.
  std::fill(held_.begin(), held_.end(), std::uint8_t{0});
  held_.clear();
  rewrote_ = true;
  return {};
}

Result<void> KeyRewriter::emit_authentication(Bytes& out) {
  // Authentication messages: Int32 code, then code-specific data (§55.7). Only SASL (10),
  // "String mechanism names, each NUL-terminated, then a final NUL", is rewritten.
  constexpr std::uint32_t kAuthenticationSasl = 10;
  const ByteView body = ByteView(held_).subspan(5);
  if (body.size() < 4 || load_u32(body.data()) != kAuthenticationSasl) {
    out.insert(out.end(), held_.begin(), held_.end());
    return {};
  }
  std::vector<std::string_view> kept;
  std::size_t stripped = 0;
  std::size_t pos = 4;
  for (;;) {
    if (pos >= body.size()) {
      return make_error_code(Errc::BackendMessageInvalid);  // no final NUL
    }
    if (body[pos] == 0) {
      if (pos + 1 != body.size()) {
        return make_error_code(Errc::BackendMessageInvalid);  // bytes after the list
      }
      break;
    }
    const auto* begin = body.data() + pos;
    const auto* nul = std::find(begin, body.data() + body.size(), std::uint8_t{0});
    if (nul == body.data() + body.size()) {
      return make_error_code(Errc::BackendMessageInvalid);
    }
    const std::string_view name(reinterpret_cast<const char*>(begin),
                                static_cast<std::size_t>(nul - begin));
    if (name.ends_with("-PLUS")) {
      ++stripped;
    } else {
      kept.push_back(name);
    }
    pos = static_cast<std::size_t>(nul - body.data()) + 1;
  }
  if (stripped == 0 || kept.empty()) {
    // Nothing to remove, or only channel-binding mechanisms: the client fails either way, with
    // the backend's own offer.
    out.insert(out.end(), held_.begin(), held_.end());
    return {};
  }
  Bytes rewritten{'R', 0, 0, 0, 0};
  append_u32(rewritten, kAuthenticationSasl);
  for (const auto name : kept) {
    rewritten.insert(rewritten.end(), name.begin(), name.end());
    rewritten.push_back(0);
  }
  rewritten.push_back(0);
  const auto length = static_cast<std::uint32_t>(rewritten.size() - 1);
  rewritten[1] = static_cast<std::uint8_t>(length >> 24);
  rewritten[2] = static_cast<std::uint8_t>(length >> 16);
  rewritten[3] = static_cast<std::uint8_t>(length >> 8);
  rewritten[4] = static_cast<std::uint8_t>(length);
  out.insert(out.end(), rewritten.begin(), rewritten.end());
  stripped_ += stripped;
  return {};
}

}  // namespace atls::proxy::pg
