#include "hush/blocklists/compiled_lists.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <exception>
#include <set>
#include <thread>
#include <tuple>

#include "base/file.hpp"


namespace hush::blocklists {
namespace {

// A $badfilter rule names the rule it cancels by repeating it; plain targets
// are matched by (name, subtree, allow), others by full rule equality.
struct Badfilters {
  std::set<std::tuple<std::string, bool, bool>> plain;
  std::vector<Rule> other;

  void add(Rule r) {
    r.badfilter = false;
    if (r.plain()) {
      plain.emplace(r.name, r.kind == RuleKind::Subtree, r.allow);
    } else {
      other.push_back(std::move(r));
    }
  }
  bool cancels(const Rule& r) const {
    return std::any_of(other.begin(), other.end(), [&](const Rule& b) { return b.same_rule(r); });
  }
};

}  // namespace

size_t CompiledLists::memory_bytes() const {
  size_t n = block.memory_bytes() + allow.memory_bytes() + sets.memory_bytes();
  for (const Rule& r : rules) n += sizeof(Rule) + r.name.capacity() + r.text.capacity();
  return n;
}

namespace {

// One list's text, and whatever keeps it alive.
struct Fetched {
  ListSource source;
  std::string_view text;
  std::string error;
  std::shared_ptr<const void> owner;
};

// The file mapped rather than read: its pages are the page cache's, so a
// 30 MB list costs no copy and no 30 MB of fresh anonymous memory, whose
// first-touch faults were a fifth of a cold start (BM_PolicyBuildFromFiles).
// Anything mmap refuses (a pipe, an empty file) is read instead.
Fetched fetch_file(const ListSource& src) {
  Fetched f{src, {}, {}, {}};
  int fd = ::open(src.path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st{};
  if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    const auto size = static_cast<size_t>(st.st_size);
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      ::close(fd);
      ::madvise(p, size, MADV_SEQUENTIAL);
      f.text = std::string_view(static_cast<const char*>(p), size);
      f.owner = std::shared_ptr<const void>(p, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
      return f;
    }
  }
  if (fd >= 0) ::close(fd);
  if (std::optional<std::string> text = read_file(src.path)) {
    auto owned = std::make_shared<std::string>(std::move(*text));
    f.text = *owned;
    f.owner = std::move(owned);
  } else {
    f.error = "cannot open " + src.path + ": " + std::strerror(errno);
  }
  return f;
}

// Adds `b`'s counts after `a`'s; b's line numbers were counted from its
// own first line.
void append_stats(ParseStats& a, ParseStats&& b) {
  const size_t offset = a.lines;
  a.lines += b.lines;
  a.comments += b.comments;
  a.rules += b.rules;
  for (size_t f = 0; f < kFormatCount; ++f) a.by_format[f] += b.by_format[f];
  a.self_entries += b.self_entries;
  a.skipped_browser += b.skipped_browser;
  a.skipped_unsupported += b.skipped_unsupported;
  a.invalid += b.invalid;
  for (InvalidLine& l : b.first_invalid) {
    if (a.first_invalid.size() == kKeptInvalid) break;
    l.line += offset;
    a.first_invalid.push_back(std::move(l));
  }
}

// Parsing is most of a first start's CPU (BM_PolicyBuildFromFiles), and a
// small board has a second core: a big list's second half is parsed on a
// thread of its own into builders of its own, appended after the first
// half's, so the result is the same as one pass in file order. RPZ (its SOA
// may span lines) and regex lists stay in one piece; they are small.
constexpr size_t kPartBytes = size_t{4} << 20;

void parse_in_parts(std::string_view text, ParseOptions opts, uint32_t id, CompiledSet::Builder& block,
                    CompiledSet::Builder& allow, const RuleSink& rule, ParseStats& stats) {
  const PlainSink plain = [&](std::string_view name, bool subtree, bool allow_rule) {
    (allow_rule ? allow : block).add(name, id, subtree);
  };
  opts.plain = &plain;
  const ParseStats detected = detect_list(text, opts);
  const size_t nl = text.size() >= kPartBytes ? text.find('\n', text.size() / 2) : std::string_view::npos;
  if (nl == std::string_view::npos || detected.detected == Format::Rpz || detected.detected == Format::Regex) {
    parse_list(text, opts, rule, stats);
    return;
  }
  opts.detected = &detected;
  CompiledSet::Builder block2, allow2;
  std::vector<Rule> rules2;
  ParseStats stats2;
  std::exception_ptr failed;
  std::thread second([&] {
    try {
      const PlainSink plain2 = [&](std::string_view name, bool subtree, bool allow_rule) {
        (allow_rule ? allow2 : block2).add(name, id, subtree);
      };
      ParseOptions opts2 = opts;
      opts2.plain = &plain2;
      // Plain adblock rules go straight to the builders, as in the first
      // half: held as Rules until the join, their heap outlived the build.
      parse_list(text.substr(nl + 1), opts2, [&](Rule&& r) {
        if (!r.badfilter && r.plain()) {
          (r.allow ? allow2 : block2).add(r.name, id, r.kind == RuleKind::Subtree);
        } else {
          rules2.push_back(std::move(r));
        }
      }, stats2);
    } catch (...) {
      failed = std::current_exception();
    }
  });
  try {
    parse_list(text.substr(0, nl + 1), opts, rule, stats);
  } catch (...) {
    second.join();
    throw;
  }
  second.join();
  if (failed) std::rethrow_exception(failed);
  for (Rule& r : rules2) {
    r.line += static_cast<uint32_t>(stats.lines);
    rule(std::move(r));
  }
  block.append(std::move(block2));
  allow.append(std::move(allow2));
  append_stats(stats, std::move(stats2));
}

// Lists are fetched one at a time so only one file's text is in memory.
template <class Fetch>
CompiledLists compile(size_t count, Fetch&& fetch) {
  CompiledLists out;
  const auto n_lists = static_cast<uint32_t>(count);
  out.sets = SetTable(n_lists);
  CompiledSet::Builder block;
  CompiledSet::Builder allow;
  Badfilters badfilters;

  for (uint32_t id = 0; id < n_lists; ++id) {
    const Fetched in = fetch(id);
    ListReport rep;
    rep.name = in.source.name;
    rep.path = in.source.path;
    rep.error = in.error;
    if (in.error.empty()) {
      ParseOptions opts;
      opts.subdomains = in.source.subdomains;
      opts.file_name = in.source.path;
      const RuleSink rule = [&](Rule&& r) {
        if (r.badfilter) {
          badfilters.add(std::move(r));
        } else if (r.plain()) {
          (r.allow ? allow : block).add(r.name, id, r.kind == RuleKind::Subtree);
        } else {
          out.rules.push_back(std::move(r));
          out.rule_list.push_back(id);
        }
      };
      parse_in_parts(in.text, opts, id, block, allow, rule, rep.stats);
    }
    out.lists.push_back(std::move(rep));
  }

  std::vector<size_t> per_list(n_lists, 0);
  auto cancel = [&](CompiledSet::Builder& b, bool allow_side) {
    b.erase_if([&](std::string_view name, bool subtree) {
      return badfilters.plain.count({std::string(name), subtree, allow_side}) != 0;
    }, [&](uint32_t) { ++out.badfiltered; });
  };
  if (!badfilters.plain.empty()) {
    cancel(block, false);
    cancel(allow, true);
  }
  block.count_ids(per_list);
  allow.count_ids(per_list);
  if (!badfilters.other.empty()) {
    size_t w = 0;
    for (size_t i = 0; i < out.rules.size(); ++i) {
      if (badfilters.cancels(out.rules[i])) {
        ++out.badfiltered;
        continue;
      }
      out.rules[w] = std::move(out.rules[i]);
      out.rule_list[w++] = out.rule_list[i];
    }
    out.rules.resize(w);
    out.rule_list.resize(w);
  }
  for (uint32_t l : out.rule_list) ++per_list[l];
  for (uint32_t l = 0; l < n_lists; ++l) out.lists[l].entries = per_list[l];

  size_t dropped_block = 0;
  size_t dropped_allow = 0;
  out.block = block.build(out.sets, true, &dropped_block);
  out.allow = allow.build(out.sets, true, &dropped_allow);
  out.dropped_covered = dropped_block + dropped_allow;
  return out;
}

}  // namespace

CompiledLists compile_texts(const std::vector<ListText>& inputs) {
  return compile(inputs.size(), [&](uint32_t i) {
    return Fetched{inputs[i].source, inputs[i].text, inputs[i].error, {}};
  });
}

CompiledLists compile_lists(const std::vector<ListSource>& sources) {
  return compile(sources.size(), [&](uint32_t i) { return fetch_file(sources[i]); });
}

}  // namespace hush::blocklists
