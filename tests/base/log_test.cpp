#include <catch2/catch.hpp>

#include "base/clock.hpp"
#include "base/log.hpp"

using hush::log::Level;
using hush::log::level_named;

TEST_CASE("log levels are read from their configured names") {
  CHECK(level_named("debug") == Level::Debug);
  CHECK(level_named("info") == Level::Info);
  CHECK(level_named("warn") == Level::Warn);
  CHECK(level_named("error") == Level::Error);
  CHECK(level_named("") == Level::Info);
}

TEST_CASE("the clock's seconds and microseconds agree") {
  int64_t us = hush::now_us();
  int64_t s = hush::now_seconds();
  CHECK(s >= us / 1000000);
  CHECK(s - us / 1000000 <= 1);
  CHECK(us > int64_t(1600000000) * 1000000);
}
