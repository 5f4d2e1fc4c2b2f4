// BackendKeyData rewriting (standards.md §5.4) across arbitrary chunking, and the cancel map
// (issue, lookup, release, failure rate limit).
#include "proxy/pg/key_rewriter.h"

#include <gtest/gtest.h>

#include "proxy/pg/cancel_map.h"
#include "proxy/pg/errors.h"
#include "proxy/pg/wire.h"

namespace atls::proxy::pg {
namespace {

Bytes message(char type, const Bytes& body) {
  Bytes out{static_cast<std::uint8_t>(type)};
  append_u32(out, static_cast<std::uint32_t>(body.size() + 4));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes key_data(std::uint32_t pid, const Bytes& key) {
  Bytes body;
  append_u32(body, pid);
  body.insert(body.end(), key.begin(), key.end());
  return message('K', body);
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

// A typical start-up answer: AuthenticationOk, ParameterStatus, BackendKeyData,
// ReadyForQuery, then a query result that happens to contain a 'K'-looking byte pattern.
struct Session {
  Bytes before;
  Bytes key;
  Bytes after;
};

Session typical_session(const Bytes& real_key) {
  Session s;
  s.before = concat({message('R', {0, 0, 0, 0}), message('S', Bytes{'a', 0, 'b', 0}),
                     message('N', Bytes(50, 'n'))});
  s.key = key_data(4242, real_key);
  s.after = concat({message('Z', {'I'}), key_data(1, {9, 9, 9, 9}), Bytes{'D', 0, 0}});
  return s;
}

KeyRewriter::Issue fixed_issue(std::uint32_t* seen_pid, Bytes* seen_key) {
  return [seen_pid, seen_key](std::uint32_t pid, ByteView key) {
    *seen_pid = pid;
    seen_key->assign(key.begin(), key.end());
    return KeyRewriter::Issued{77, Bytes(key.size(), 0xee)};
  };
}

TEST(PgKeyRewriter, ReplacesKeyDataAtEverySplit) {
  const Bytes real{1, 2, 3, 4};
  const Session s = typical_session(real);
  const Bytes input = concat({s.before, s.key, s.after});
  const Bytes expected = concat({s.before, key_data(77, Bytes(4, 0xee)), s.after});
  for (std::size_t split = 0; split <= input.size(); ++split) {
    std::uint32_t pid = 0;
    Bytes key;
    KeyRewriter rewriter(fixed_issue(&pid, &key));
    Bytes out;
    ASSERT_TRUE(rewriter.feed(ByteView(input.data(), split), out));
    ASSERT_TRUE(rewriter.feed(ByteView(input.data() + split, input.size() - split), out));
    EXPECT_EQ(out, expected) << "split at " << split;
    EXPECT_EQ(pid, 4242U);
    EXPECT_EQ(key, real);
    EXPECT_TRUE(rewriter.rewrote_key());
    EXPECT_TRUE(rewriter.passthrough());
  }
}

TEST(PgKeyRewriter, ByteAtATime) {
  const Bytes real(32, 0x5a);  // protocol 3.2 key length
  const Session s = typical_session(real);
  const Bytes input = concat({s.before, s.key, s.after});
  std::uint32_t pid = 0;
  Bytes key;
  KeyRewriter rewriter(fixed_issue(&pid, &key));
  Bytes out;
  for (std::uint8_t byte : input) {
    ASSERT_TRUE(rewriter.feed(ByteView(&byte, 1), out));
  }
  EXPECT_EQ(out, concat({s.before, key_data(77, Bytes(32, 0xee)), s.after}));
  EXPECT_EQ(key, real);
}

TEST(PgKeyRewriter, ErrorBeforeKeyDataPassesUnchanged) {
  // A failed login: no BackendKeyData at all, the stream ends with ErrorResponse.
  const Bytes input = concat({message('R', {0, 0, 0, 5, 1, 2, 3, 4}),
                              encode_error_response("FATAL", "28P01", "password")});
  bool called = false;
  KeyRewriter rewriter([&called](std::uint32_t, ByteView key) {
    called = true;
    return KeyRewriter::Issued{1, Bytes(key.size(), 0)};
  });
  Bytes out;
  ASSERT_TRUE(rewriter.feed(input, out));
  EXPECT_EQ(out, input);
  EXPECT_FALSE(called);
  EXPECT_FALSE(rewriter.passthrough());
}

TEST(PgKeyRewriter, MalformedBackendMessages) {
  const auto issue = [](std::uint32_t, ByteView key) {
    return KeyRewriter::Issued{1, Bytes(key.size(), 0)};
  };
  {
    KeyRewriter rewriter(issue);
    Bytes out;
    EXPECT_EQ(rewriter.feed(Bytes{'S', 0, 0, 0, 3}, out).error(),
              make_error_code(Errc::BackendMessageInvalid));
  }
  {
    KeyRewriter rewriter(issue);
    Bytes out;
    // Key of 3 bytes.
    EXPECT_EQ(rewriter.feed(key_data(1, {1, 2, 3}), out).error(),
              make_error_code(Errc::BackendKeyDataInvalid));
  }
  {
    KeyRewriter rewriter(issue);
    Bytes out;
    EXPECT_EQ(rewriter.feed(key_data(1, Bytes(kMaxCancelKey + 1, 1)), out).error(),
              make_error_code(Errc::BackendKeyDataInvalid));
  }
  {
    KeyRewriter rewriter(issue);
    Bytes out;
    // Two BackendKeyData before ReadyForQuery.
    EXPECT_EQ(
        rewriter.feed(concat({key_data(1, {1, 2, 3, 4}), key_data(2, {1, 2, 3, 4})}), out).error(),
        make_error_code(Errc::BackendKeyDataInvalid));
  }
  {
    // The issuer returning a key of another length is refused (never leak a mismatch).
    KeyRewriter rewriter([](std::uint32_t, ByteView) { return KeyRewriter::Issued{1, {1}}; });
    Bytes out;
    EXPECT_EQ(rewriter.feed(key_data(1, {1, 2, 3, 4}), out).error(),
              make_error_code(Errc::BackendKeyDataInvalid));
  }
}

TEST(PgKeyRewriter, IssuerFailureEndsTheSession) {
  KeyRewriter rewriter([](std::uint32_t, ByteView) -> Result<KeyRewriter::Issued> {
    return make_error_code(Errc::CancelKeyUnavailable);
  });
  Bytes out;
  auto fed = rewriter.feed(concat({message('R', {0, 0, 0, 0}), key_data(7, {1, 2, 3, 4})}), out);
  ASSERT_FALSE(fed);
  EXPECT_EQ(fed.error(), make_error_code(Errc::CancelKeyUnavailable));
  // Nothing of the real key data was emitted.
  EXPECT_EQ(out, message('R', {0, 0, 0, 0}));
}

TEST(PgKeyRewriter, HugeDeclaredLengthStreamsWithoutBuffering) {
  // A non-K message with a large declared length is copied through as it arrives.
  KeyRewriter rewriter([](std::uint32_t, ByteView key) {
    return KeyRewriter::Issued{1, Bytes(key.size(), 0)};
  });
  Bytes header{'D', 0x7f, 0xff, 0xff, 0xff};
  Bytes out;
  ASSERT_TRUE(rewriter.feed(header, out));
  const Bytes chunk(1000, 'x');
  ASSERT_TRUE(rewriter.feed(chunk, out));
  EXPECT_EQ(out.size(), header.size() + chunk.size());
}

Bytes sasl(std::initializer_list<std::string_view> names) {
  Bytes body;
  append_u32(body, 10);
  for (auto name : names) {
    body.insert(body.end(), name.begin(), name.end());
    body.push_back(0);
  }
  body.push_back(0);
  return message('R', body);
}

KeyRewriter::Issued same_length(std::uint32_t, ByteView key) {
  return KeyRewriter::Issued{1, Bytes(key.size(), 0)};
}

TEST(PgKeyRewriter, StripsChannelBindingMechanismsAtEverySplit) {
  const Bytes input = concat({sasl({"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}),
                              message('R', {0, 0, 0, 11, 'x'}), message('Z', {'I'})});
  const Bytes expected =
      concat({sasl({"SCRAM-SHA-256"}), message('R', {0, 0, 0, 11, 'x'}), message('Z', {'I'})});
  for (std::size_t split = 0; split <= input.size(); ++split) {
    KeyRewriter rewriter(same_length);
    Bytes out;
    ASSERT_TRUE(rewriter.feed(ByteView(input.data(), split), out));
    ASSERT_TRUE(rewriter.feed(ByteView(input.data() + split, input.size() - split), out));
    EXPECT_EQ(out, expected) << split;
    EXPECT_EQ(rewriter.stripped_mechanisms(), 1U);
  }
}

TEST(PgKeyRewriter, OtherAuthenticationMessagesPassUnchanged) {
  for (const Bytes& input :
       {sasl({"SCRAM-SHA-256"}), sasl({"SCRAM-SHA-256-PLUS"}), message('R', {0, 0, 0, 0}),
        message('R', {0, 0, 0, 5, 1, 2, 3, 4}), message('R', {0, 0, 0, 3}), message('R', {})}) {
    KeyRewriter rewriter(same_length);
    Bytes out;
    ASSERT_TRUE(rewriter.feed(input, out));
    EXPECT_EQ(out, input);
    EXPECT_EQ(rewriter.stripped_mechanisms(), 0U);
  }
  // Larger than the buffering bound: streamed through untouched.
  Bytes big_body;
  append_u32(big_body, 10);
  big_body.insert(big_body.end(), KeyRewriter::kMaxBufferedAuth, 'A');
  const Bytes big = message('R', big_body);
  KeyRewriter rewriter(same_length);
  Bytes out;
  ASSERT_TRUE(rewriter.feed(big, out));
  EXPECT_EQ(out, big);
}

TEST(PgKeyRewriter, MalformedSaslListsAreRefused) {
  const auto refuse = [](const Bytes& body) {
    KeyRewriter rewriter(same_length);
    Bytes out;
    auto fed = rewriter.feed(message('R', body), out);
    ASSERT_FALSE(fed);
    EXPECT_EQ(fed.error(), make_error_code(Errc::BackendMessageInvalid));
  };
  refuse({0, 0, 0, 10});                                   // no list, no final NUL
  refuse({0, 0, 0, 10, 'A', 'B'});                         // unterminated name
  refuse({0, 0, 0, 10, 'A', 0});                           // no final NUL
  refuse({0, 0, 0, 10, 'A', 0, 0, 'x'});                   // bytes after the list
  refuse({0, 0, 0, 10, 'A', '-', 'P', 'L', 'U', 'S', 0});  // no final NUL
}

// ---- cancel map ----

TEST(PgCancelMap, IssuesFreshKeysAndMapsThemBack) {
  CancelMap map;
  const Bytes real{1, 2, 3, 4};
  const auto issued = *map.issue(4242, real);
  EXPECT_EQ(issued.key.size(), real.size());
  EXPECT_NE(issued.pid, 0U);
  EXPECT_LT(issued.pid, 0x80000000U);
  EXPECT_EQ(map.size(), 1U);
  const auto now = CancelMap::Clock::now();
  auto target = map.lookup(issued.pid, issued.key, now);
  ASSERT_TRUE(target);
  EXPECT_EQ(target->pid, 4242U);
  EXPECT_EQ(target->key, real);
  // Two sessions never share a fake pid.
  const auto other = *map.issue(4243, real);
  EXPECT_NE(other.pid, issued.pid);
  map.release(issued.pid, issued.key);
  EXPECT_EQ(map.lookup(issued.pid, issued.key, now).error(),
            make_error_code(Errc::CancelUnknownKey));
  EXPECT_EQ(map.size(), 1U);
}

TEST(PgCancelMap, WrongKeyOrLengthIsUnknown) {
  CancelMap map;
  const auto issued = *map.issue(1, Bytes{1, 2, 3, 4});
  const auto now = CancelMap::Clock::now();
  Bytes wrong = issued.key;
  wrong[0] ^= 1;
  EXPECT_EQ(map.lookup(issued.pid, wrong, now).error(), make_error_code(Errc::CancelUnknownKey));
  Bytes longer = issued.key;
  longer.push_back(0);
  EXPECT_EQ(map.lookup(issued.pid, longer, now).error(), make_error_code(Errc::CancelUnknownKey));
  // Release with the wrong key does not remove the entry.
  map.release(issued.pid, wrong);
  EXPECT_TRUE(map.lookup(issued.pid, issued.key, now));
}

TEST(PgCancelMap, FailuresAreRateLimited) {
  CancelMapOptions options;
  options.failures_per_second = 1.0;
  options.failure_burst = 3.0;
  CancelMap map(options);
  const auto issued = *map.issue(1, Bytes{1, 2, 3, 4});
  const auto t0 = CancelMap::Clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(map.lookup(12345, Bytes{0, 0, 0, 0}, t0).error(),
              make_error_code(Errc::CancelUnknownKey));
  }
  // Bucket empty: even the right key is refused (no oracle while throttled).
  EXPECT_EQ(map.lookup(issued.pid, issued.key, t0).error(), make_error_code(Errc::CancelThrottled));
  EXPECT_EQ(map.lookup(12345, Bytes{0, 0, 0, 0}, t0).error(),
            make_error_code(Errc::CancelThrottled));
  // One second later one token is back.
  const auto t1 = t0 + std::chrono::seconds(1);
  EXPECT_TRUE(map.lookup(issued.pid, issued.key, t1));
  // Successful lookups cost nothing.
  EXPECT_TRUE(map.lookup(issued.pid, issued.key, t1));
  EXPECT_EQ(map.lookup(1, Bytes{0, 0, 0, 0}, t1).error(), make_error_code(Errc::CancelUnknownKey));
  EXPECT_EQ(map.lookup(issued.pid, issued.key, t1).error(), make_error_code(Errc::CancelThrottled));
  // A clock going backwards does not refill.
  EXPECT_EQ(map.lookup(issued.pid, issued.key, t0).error(), make_error_code(Errc::CancelThrottled));
}

TEST(PgCancelMap, FullMapStillHidesTheRealKey) {
  CancelMapOptions options;
  options.max_entries = 1;
  CancelMap map(options);
  const Bytes real{1, 2, 3, 4};
  ASSERT_TRUE(map.issue(1, real));
  const auto second = *map.issue(2, real);
  EXPECT_EQ(map.size(), 1U);
  EXPECT_EQ(second.key.size(), 4U);
  EXPECT_EQ(map.lookup(second.pid, second.key, CancelMap::Clock::now()).error(),
            make_error_code(Errc::CancelUnknownKey));
}

}  // namespace
}  // namespace atls::proxy::pg
