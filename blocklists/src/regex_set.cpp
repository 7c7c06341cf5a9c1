#include "hush/blocklists/regex_set.h"

#include <algorithm>

namespace hush::blocklists {
namespace {

// RE2's default 8 MiB budget runs the lazy DFA out of states with ~1,000
// alternations and makes Match() fail; 64 MiB holds them with room to spare.
constexpr int64_t kMaxMem = 64 << 20;

re2::RE2::Options options() {
  re2::RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(kMaxMem);
  return o;
}

}  // namespace

RegexSet::RegexSet() : set_(std::make_unique<re2::RE2::Set>(options(), re2::RE2::UNANCHORED)) {}
RegexSet::~RegexSet() = default;
RegexSet::RegexSet(RegexSet&&) noexcept = default;
RegexSet& RegexSet::operator=(RegexSet&&) noexcept = default;

int RegexSet::add(std::string_view pattern, std::string* error) {
  std::string err;
  int idx = set_->Add(re2::StringPiece(pattern.data(), pattern.size()), &err);
  if (idx < 0) {
    if (error) *error = err;
    return -1;
  }
  count_ = static_cast<size_t>(idx) + 1;
  mem_estimate_ += 64 * pattern.size();  // observed order of RE2 program bytes per pattern byte
  return idx;
}

bool RegexSet::compile(std::string* error) {
  if (count_ == 0) return true;
  if (!set_->Compile()) {
    if (error) *error = "RE2::Set compile failed (out of memory budget)";
    count_ = 0;
    return false;
  }
  return true;
}

bool RegexSet::matches(std::string_view text) const {
  bool hit = false;
  for_each_match(text, [&](size_t) { return hit = true; });
  return hit;
}

std::vector<int>& RegexSet::scratch() const {
  thread_local std::vector<int> hits;
  if (hits.capacity() < count_) hits.reserve(count_);
  return hits;
}

}  // namespace hush::blocklists
