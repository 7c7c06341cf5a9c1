#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/atomic_file.hpp"

namespace fs = std::filesystem;
using hush::write_file_atomic;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/hush-atomic-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, ec);
    fs::remove_all(path, ec);
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("an atomic write replaces the file with all its parts") {
  TempDir dir;
  std::string path = (dir.path / "f.json").string();
  REQUIRE(write_file_atomic(path, {"old"}) == "");
  REQUIRE(write_file_atomic(path, {"new ", "contents"}, 0600) == "");
  CHECK(slurp(path) == "new contents");
  CHECK(!fs::exists(path + ".tmp"));
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("a failed atomic write leaves the old file and no temporary") {
  TempDir dir;
  std::string path = (dir.path / "f.json").string();
  REQUIRE(write_file_atomic(path, {"old"}) == "");

  SECTION("the hook before the sync refuses") {
    std::string err = write_file_atomic(path, {"new"}, 0644, [](int) { return false; });
    CHECK(err.rfind("cannot write " + path + ":", 0) == 0);
  }
  SECTION("the target cannot be replaced") {
    // A directory in the way of the rename: the temporary is written, then fails.
    std::string blocked = (dir.path / "sub").string();
    fs::create_directories(blocked + "/x");
    std::string err = write_file_atomic(blocked, {"new"});
    CHECK(err.rfind("cannot write " + blocked + ":", 0) == 0);
    CHECK(!fs::exists(blocked + ".tmp"));
    CHECK(fs::is_directory(blocked + "/x"));
  }
  SECTION("the temporary cannot be created") {
    std::string missing = (dir.path / "no" / "f.json").string();
    std::string err = write_file_atomic(missing, {"new"});
    CHECK(err.rfind("cannot write " + missing + ".tmp:", 0) == 0);
  }
  CHECK(slurp(path) == "old");
  CHECK(!fs::exists(path + ".tmp"));
}
