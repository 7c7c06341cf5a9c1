// Objects libuv holds between a call and its callback. Until libuv takes one
// a unique_ptr owns it; once the call succeeds the pointer is released into
// the request's (or handle's) data, and the callback takes it back with
// reclaim(), so every path frees it exactly once.
#pragma once

#include <uv.h>

#include <memory>

namespace hush::net {

template <class T>
std::unique_ptr<T> reclaim(void* data) {
  return std::unique_ptr<T>(static_cast<T*>(data));
}

template <class T>
uv_handle_t* as_handle(T* h) {
  return reinterpret_cast<uv_handle_t*>(h);
}

template <class T>
uv_stream_t* as_stream(T* h) {
  return reinterpret_cast<uv_stream_t*>(h);
}

}  // namespace hush::net
