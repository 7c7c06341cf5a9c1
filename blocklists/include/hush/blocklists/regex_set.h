// All regex rules matched in one pass with RE2::Set, so 1,000 Pi-hole regexes
// cost one DFA walk over the name instead of 1,000 separate matches.
#pragma once

#include <re2/set.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hush::blocklists {

class RegexSet {
 public:
  RegexSet();
  ~RegexSet();
  RegexSet(RegexSet&&) noexcept;
  RegexSet& operator=(RegexSet&&) noexcept;

  // Patterns are searched unanchored (Pi-hole and AdGuard semantics: a
  // pattern that wants anchoring says ^ or $ itself). Returns the pattern's
  // index, or -1 with `error` set.
  int add(std::string_view pattern, std::string* error);
  // Must be called once after the last add(); returns false with `error`.
  bool compile(std::string* error);

  // Calls f(index) for every matching pattern, in ascending index order; f
  // returns true to stop. The match list is a per-thread buffer reserved to
  // the pattern count, so steady-state lookups do not allocate.
  template <class F>
  void for_each_match(std::string_view text, F&& f) const {
    if (!set_ || count_ == 0) return;
    std::vector<int>& hits = scratch();
    if (!set_->Match(re2::StringPiece(text.data(), text.size()), &hits)) return;
    std::sort(hits.begin(), hits.end());
    for (int i : hits) {
      if (f(static_cast<size_t>(i))) return;
    }
  }
  bool matches(std::string_view text) const;
  size_t size() const { return count_; }
  // Estimate only: RE2::Set does not expose its program size.
  size_t memory_bytes() const { return mem_estimate_; }

 private:
  std::vector<int>& scratch() const;
  std::unique_ptr<re2::RE2::Set> set_;
  size_t count_ = 0;
  size_t mem_estimate_ = 0;
};

}  // namespace hush::blocklists
