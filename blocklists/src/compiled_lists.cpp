#include "hush/blocklists/compiled_lists.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
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
      const PlainSink plain = [&](std::string_view name, bool subtree, bool allow_rule) {
        (allow_rule ? allow : block).add(name, id, subtree);
      };
      opts.plain = &plain;
      parse_list(in.text, opts, [&](Rule&& r) {
        if (r.badfilter) {
          badfilters.add(std::move(r));
        } else if (r.plain()) {
          (r.allow ? allow : block).add(r.name, id, r.kind == RuleKind::Subtree);
        } else {
          out.rules.push_back(std::move(r));
          out.rule_list.push_back(id);
        }
      }, rep.stats);
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
