// Query names may hold any byte. What the CLI prints of them must not drive
// the terminal (an OSC title sequence, a bell) nor pass a dot inside a label
// off as a label boundary.
#include <catch2/catch.hpp>

#include "dns_client.hpp"
#include "harness.hpp"

using namespace hush_it;

namespace {

// A query for the labels as given, byte for byte.
Bytes raw_query(const std::vector<std::string>& labels) {
  Bytes q{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  for (const std::string& l : labels) {
    q.push_back(uint8_t(l.size()));
    q.insert(q.end(), l.begin(), l.end());
  }
  q.insert(q.end(), {0, 0, rr::A, 0, 1});
  return q;
}

// A byte that a terminal acts on: anything below a space but the newline, and DEL.
bool has_control_byte(const std::string& s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\n') || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("names with control bytes and dotted labels reach the terminal escaped", "[integration][cli]") {
  Env env;
  const std::string data_dir = env.hush.data_dir().string();
  const std::string escaped = "\\027]0;pwned\\007.a\\.b.test";
  REQUIRE(udp_send_raw(env.ep(), raw_query({"\x1b]0;pwned\x07", "a.b", "test"}), 3000ms));

  CommandResult search;
  bool logged = wait_until(
      [&] {
        search = run_command({hush_binary(), "log", "search", "--domain", "pwned", "--data-dir", data_dir}, 5s);
        return search.out.find("pwned") != std::string::npos;
      },
      10s, 200ms);
  INFO("log search:\n" << search.out << search.err << env.logs());
  REQUIRE(logged);
  CHECK_FALSE(has_control_byte(search.out));
  CHECK(search.out.find(escaped) != std::string::npos);

  auto stats = run_command({hush_binary(), "stats", "--data-dir", data_dir}, 5s);
  INFO("stats:\n" << stats.out << stats.err);
  CHECK(stats.exit_code() == 0);
  CHECK_FALSE(has_control_byte(stats.out));
  CHECK(stats.out.find(escaped) != std::string::npos);

  auto tail = run_command({hush_binary(), "log", "tail", "--data-dir", data_dir}, 5s);
  CHECK_FALSE(has_control_byte(tail.out));
  CHECK(tail.out.find(escaped) != std::string::npos);

  for (const char* command : {"clients", "report"}) {
    auto r = run_command({hush_binary(), command, "--data-dir", data_dir}, 10s);
    INFO(command << ":\n" << r.out << r.err);
    CHECK(r.exit_code() == 0);
    CHECK_FALSE(has_control_byte(r.out));
  }
}
