// Any configuration file: the TOML reader, every key's check, and resolve().
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hush::Config cfg;
  std::vector<std::string> errors;
  std::string text(reinterpret_cast<const char*>(data), size);
  if (hush::load_config_text(text, "fuzz.toml", cfg, errors)) hush::resolve(cfg, errors, "/nonexistent");
  return 0;
}
