// Any list file a subscription can download: the format parsers and the
// compiler behind them.
#include <cstdint>
#include <string_view>

#include "hush/blocklists/format.h"

using namespace hush::blocklists;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ParseStats stats;
  size_t rules = 0;
  parse_list(text, ParseOptions{}, [&](Rule&&) { ++rules; }, stats);
  ParseOptions sub;
  sub.subdomains = true;
  ParseStats stats2;
  parse_list(text, sub, [&](Rule&&) { ++rules; }, stats2);
  return 0;
}
