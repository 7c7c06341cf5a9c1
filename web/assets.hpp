// The dashboard's static files (web/ui), compiled into the binary by
// web/embed_assets.cmake. Read-only, valid for the life of the process.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace hush::web {

struct Asset {
  std::string_view path;          // "/index.html", "/vendor/uPlot.iife.min.js"
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  const unsigned char* data;
  size_t size;
  std::string_view etag;          // "\"<hash of the bytes>\"", quotes included
  // Served under a name with its hash ("/app.3f2a9c0d1e4b.js"), whose
  // content never changes: cached for a year without asking.
  bool immutable = false;
  std::string_view bytes() const { return {reinterpret_cast<const char*>(data), size}; }
};

std::span<const Asset> assets();

// The asset at `path`, or null.
inline const Asset* find_asset(std::string_view path) {
  for (const Asset& a : assets())
    if (a.path == path) return &a;
  return nullptr;
}

}  // namespace hush::web
