// Any local record line or hosts file a user writes.
#include <cstdint>
#include <string>
#include <vector>

#include "local/zone.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  hush::local::Zone z("lan", 300);
  std::vector<hush::local::LoadError> errors;
  z.import_hosts(text, "fuzz", errors);
  z.add(text);
  z.add_reverse_records();
  z.find(text, 1);
  return 0;
}
