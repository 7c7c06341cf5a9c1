// The stored form of raw query rows: a block packs the rows of consecutive
// ids into one blob of varints. One SQLite row per block instead of one per
// query is what lets the log keep up with a busy resolver: a row insert costs
// about 1-2 us in SQLite, a packed row about 0.05 us (tests/bench).
//
// Blob layout, format 2 (written now): a format byte (2), the size of the
// inflated body as a varint, then the body deflated (zlib). The body is the
// first row's time as a varint, then one column after another, each as its
// length in bytes (varint) and its values for every row in order: time
// difference from the previous row (zigzag varint), device_id, address_id,
// domain_id, qtype, (transport | status << 4) as one byte, rcode, reason_id,
// upstream_id (0: none), latency_us, answer length and answer items
// (record.hpp). Every integer but the flags byte is a varint. Columns put
// alike values side by side (the same answer, latency or device again and
// again), which deflate shrinks to a few bits: under a flood of new names a
// row took 21 bytes as format 1, which is the same values row after row
// (format byte 1, then the first time and each row's fields in turn, not
// deflated) and is still read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "querylog/record.hpp"

namespace hush::querylog {

// A block never holds more rows than this, so a block that could hold id X
// starts after X - kMaxBlockRows.
constexpr int64_t kMaxBlockRows = 4096;

struct Row {
  int64_t id = 0;
  int64_t time_us = 0;
  int64_t device_id = 0;
  int64_t address_id = 0;
  int64_t domain_id = 0;
  uint16_t qtype = 0;
  Transport transport = Transport::Udp;
  Status status = Status::Forwarded;
  uint16_t rcode = 0;
  int64_t reason_id = 0;    // 0: none
  int64_t upstream_id = 0;  // 0: none
  uint32_t latency_us = 0;
  std::string_view answer;  // items; points into the block it was read from
};

class BlockWriter {
 public:
  // Starts an empty block.
  void clear();
  // Appends `r` (its id and answer are not stored: ids are implied by the
  // block's first id and the row's position).
  void add(const Row& r);
  size_t rows() const { return rows_; }
  // The block as stored (format 2); valid until the next add() or clear().
  std::string_view bytes();
  // Bytes held for the block being filled, for the writer's memory figure.
  size_t capacity() const;

 private:
  static constexpr int kColumns = 11;
  std::string columns_[kColumns];
  std::string out_;
  size_t rows_ = 0;
  int64_t first_time_ = 0, last_time_ = 0;
  bool packed_ = false;
};

// Decodes the `n` rows of a block whose first id is `first_id` into `out`
// (replacing its contents); answers point into `blob` or, for a deflated
// block, into `scratch`, which holds the inflated body. Returns false, with
// `out` empty, when the blob is damaged.
bool read_block(std::string_view blob, int64_t first_id, int64_t n, std::vector<Row>& out, std::string& scratch);

}  // namespace hush::querylog
