// Any backup file, format version 1 or 2: the document's checks, every
// part's parser (the restore preview against an empty data directory, which
// reads and writes nothing) and the log's bytes after the document, only
// hashed. A mutated document would nearly always fail its checksum first,
// so the input's "sha256" is made to match its contents before reading:
// what follows the checksum is what the fuzzer explores.
#include <cstdint>
#include <string>

#include "backup/backup.hpp"
#include "backup/parts.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  // The first line (version 2 with a log) or the whole input.
  size_t nl = text.find('\n');
  for (size_t end : {nl, std::string::npos}) {
    auto doc = nlohmann::json::parse(text.substr(0, end), nullptr, false);
    if (!doc.is_object() || !doc.contains("contents")) continue;
    doc["sha256"] = hush::backup::sha256_hex(doc["contents"].dump());
    text = end == std::string::npos ? doc.dump() : doc.dump() + text.substr(end);
    break;
  }
  std::string error;
  if (auto b = hush::backup::parse(text, error)) hush::backup::preview(*b, {"/nonexistent", ""});
  return 0;
}
