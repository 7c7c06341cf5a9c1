#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/file.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using hush::test::TempDir;
using hush::read_file;
using hush::write_file_atomic;

namespace {


}  // namespace

TEST_CASE("an atomic write replaces the file with all its parts") {
  TempDir dir;
  std::string path = (dir.path / "f.json").string();
  REQUIRE(write_file_atomic(path, {"old"}) == "");
  REQUIRE(write_file_atomic(path, {"new ", "contents"}, 0600) == "");
  CHECK(read_file(path) == "new contents");
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
  CHECK(read_file(path) == "old");
  CHECK(!fs::exists(path + ".tmp"));
}

TEST_CASE("a file is read whole, or not at all with errno saying why") {
  TempDir dir;
  std::string path = (dir.path / "f.bin").string();
  std::string big(300000, 'x');
  big[5] = '\0';
  REQUIRE(write_file_atomic(path, {big}) == "");
  CHECK(read_file(path) == big);
  CHECK(read_file((dir.path / "empty").string()) == std::nullopt);
  CHECK(errno == ENOENT);
  CHECK(read_file(dir.path.string()) == std::nullopt);
  CHECK(errno == EISDIR);
}
