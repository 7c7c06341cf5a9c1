// The HTTP side of DNS over HTTPS without sockets: the request reader's
// statuses, HTTP/1.1 framing and order, and the bounds a client meets.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "net/doh_request.hpp"
#include "net/doh_session.hpp"

using namespace hush::net;

namespace {
// www.test. A, id 0.
const std::vector<uint8_t> kQuery{0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};
const std::string kQueryB64 = "AAABAAABAAAAAAAAA3d3dwR0ZXN0AAABAAE";

struct Asked {
  uint32_t stream;
  std::string client_id;
  std::vector<uint8_t> msg;
};

std::string as_text(const std::vector<uint8_t>& b) { return std::string(b.begin(), b.end()); }
}  // namespace

TEST_CASE("DoH requests: path, client ID, GET and POST, and each error's status", "[doh]") {
  auto get = doh::parse({"GET", "/dns-query?dns=" + kQueryB64, "", ""});
  CHECK(get.status == 0);
  CHECK(get.message == kQuery);
  CHECK(get.client_id.empty());
  auto named = doh::parse({"POST", "/dns-query/Phone-Anna", "application/dns-message; x=1",
                           std::string_view(reinterpret_cast<const char*>(kQuery.data()), kQuery.size())});
  CHECK(named.status == 0);
  CHECK(named.client_id == "phone-anna");
  CHECK(named.message == kQuery);
  CHECK(doh::parse({"GET", "/dns-query?a=b&dns=" + kQueryB64 + "==", "", ""}).status == 0);  // padding tolerated

  CHECK(doh::parse({"GET", "/dns-query?dns=***", "", ""}).status == 400);
  CHECK(doh::parse({"GET", "/dns-query", "", ""}).status == 400);
  CHECK(doh::parse({"GET", "/dns-query?dns=AAAA", "", ""}).status == 400);  // 3 bytes: not a message
  CHECK(doh::parse({"GET", "/resolve?dns=" + kQueryB64, "", ""}).status == 404);
  CHECK(doh::parse({"GET", "/dns-queryx?dns=" + kQueryB64, "", ""}).status == 404);
  CHECK(doh::parse({"GET", "/dns-query/bad_id?dns=" + kQueryB64, "", ""}).status == 404);
  CHECK(doh::parse({"GET", "/dns-query/" + std::string(64, 'a') + "?dns=" + kQueryB64, "", ""}).status == 404);
  CHECK(doh::parse({"DELETE", "/dns-query", "", ""}).status == 405);
  CHECK(doh::parse({"POST", "/dns-query", "application/json", "{}"}).status == 415);
  const std::string big(65536, 'x');
  CHECK(doh::parse({"POST", "/dns-query", "application/dns-message", big}).status == 413);
}

TEST_CASE("DoH answers are fresh for their smallest answer or authority TTL", "[doh]") {
  // www.test. A 300 192.0.2.1, compressed owner.
  std::vector<uint8_t> answer = kQuery;
  answer[2] = 0x81;
  answer[7] = 1;
  for (uint8_t b : {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 192, 0, 2, 1}) answer.push_back(b);
  CHECK(doh::freshness(answer.data(), answer.size()) == 300);
  CHECK(doh::freshness(kQuery.data(), kQuery.size()) == -1);
}

TEST_CASE("DoH over HTTP/1.1: keep-alive, one request at a time in order, errors that end the connection",
          "[doh]") {
  std::vector<Asked> asked;
  auto s = DohSession::http1([&](uint32_t stream, std::string_view id, const uint8_t* msg, size_t len) {
    asked.push_back({stream, std::string(id), {msg, msg + len}});
  });
  const std::string two = "GET /dns-query/tv?dns=" + kQueryB64 + " HTTP/1.1\r\nHost: x\r\n\r\n" +
                          "POST /dns-query HTTP/1.1\r\nContent-Type: application/dns-message\r\nContent-Length: " +
                          std::to_string(kQuery.size()) + "\r\n\r\n" + as_text(kQuery);
  REQUIRE(s->receive(reinterpret_cast<const uint8_t*>(two.data()), two.size()));
  // The second waits until the first is answered.
  REQUIRE(asked.size() == 1);
  CHECK(asked[0].client_id == "tv");
  CHECK(s->buffered() > 0);
  s->answer(asked[0].stream, kQuery.data(), kQuery.size());
  REQUIRE(asked.size() == 2);
  CHECK(asked[1].client_id.empty());
  s->answer(asked[1].stream, kQuery.data(), kQuery.size());
  std::vector<uint8_t> out;
  s->output(out);
  const std::string text = as_text(out);
  CHECK(text.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(text.find("HTTP/1.1 200 OK\r\n", 10) != std::string::npos);
  CHECK(text.find("content-type: application/dns-message") != std::string::npos);
  CHECK_FALSE(s->done());

  // A body over 65535 bytes: 413 at once; the body is read and dropped,
  // then the connection ends (closing on unread bytes would reset it and
  // lose the 413).
  const std::string big = "POST /dns-query HTTP/1.1\r\nContent-Length: 70000\r\n\r\n";
  s->receive(reinterpret_cast<const uint8_t*>(big.data()), big.size());
  out.clear();
  s->output(out);
  CHECK(as_text(out).rfind("HTTP/1.1 413", 0) == 0);
  CHECK(as_text(out).find("connection: close") != std::string::npos);
  CHECK_FALSE(s->done());
  const std::vector<uint8_t> body(69999, 0);
  CHECK(s->receive(body.data(), body.size()));
  CHECK_FALSE(s->done());
  CHECK(s->receive(body.data(), 1));
  CHECK(s->done());
  out.clear();
  s->output(out);
  CHECK(out.empty());

  // Past what is worth reading, the connection ends at once.
  auto t = DohSession::http1([](uint32_t, std::string_view, const uint8_t*, size_t) { FAIL("no request"); });
  const std::string huge = "POST /dns-query HTTP/1.1\r\nContent-Length: " + std::to_string(DohSession::kMaxDiscard + 1) +
                           "\r\n\r\n";
  t->receive(reinterpret_cast<const uint8_t*>(huge.data()), huge.size());
  out.clear();
  t->output(out);
  CHECK(as_text(out).rfind("HTTP/1.1 413", 0) == 0);
  CHECK(t->done());
}

TEST_CASE("DoH over HTTP/1.1: a head that never ends is refused at 16 KiB", "[doh]") {
  auto s = DohSession::http1([](uint32_t, std::string_view, const uint8_t*, size_t) { FAIL("no request"); });
  const std::string head = "GET /dns-query HTTP/1.1\r\nX: " + std::string(DohSession::kMaxHead, 'a');
  s->receive(reinterpret_cast<const uint8_t*>(head.data()), head.size());
  std::vector<uint8_t> out;
  s->output(out);
  CHECK(as_text(out).rfind("HTTP/1.1 431", 0) == 0);
  CHECK(s->done());
}

TEST_CASE("DoH over HTTP/2: a client that does not speak it ends the session", "[doh]") {
  auto s = DohSession::http2([](uint32_t, std::string_view, const uint8_t*, size_t) { FAIL("no request"); });
  const std::string junk = "GET / HTTP/1.1\r\n\r\n";
  CHECK_FALSE(s->receive(reinterpret_cast<const uint8_t*>(junk.data()), junk.size()));
}
