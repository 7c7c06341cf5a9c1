"""The layout docs/ARCHITECTURE.md promises, checked on every test run:
- no file outside tests/ includes a header of a module above its own
  (module ranks below follow the map; a lower rank is further down);
- no function in the query path (net, pipeline, upstream, cache, dns) is
  longer than 80 lines.

Run: python3 -m unittest -v tests/architecture/layout_test.py
"""
import os
import re
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Lower ranks are further down the map; a module may include only modules of
# a lower rank (and itself). "hush" is blocklists/ (hush/blocklists/...).
RANK = {
    "base": 0, "hush": 1, "dns": 2,
    "alerts": 3, "cache": 3, "upstream": 3, "access": 3, "local": 3, "metrics": 3, "tls": 3,
    "clients": 4, "config": 4, "validate": 4,
    "querylog": 5, "runtime": 5, "dnstap": 6, "logexport": 6, "pipeline": 6, "policy": 6, "net": 7,
    "report": 8, "backup": 8, "sync": 8.5, "web": 9, "app": 10,
}
QUERY_PATH = ["resolver/net", "resolver/pipeline", "resolver/upstream", "resolver/cache", "resolver/dns",
              "resolver/dnstap"]
MAX_FUNCTION_LINES = 80


def sources(*roots):
    for root in roots:
        for dirpath, _, files in os.walk(os.path.join(ROOT, root)):
            for f in files:
                if f.endswith((".cpp", ".hpp", ".h")):
                    yield os.path.join(dirpath, f)


def module_of(path):
    rel = os.path.relpath(path, ROOT).split(os.sep)
    return {"resolver": rel[1] if len(rel) > 2 else None, "web": "web", "blocklists": "hush"}[rel[0]]


def without_comments_and_strings(src):
    out, i, n = [], 0, len(src)
    while i < n:
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            j = src.find("*/", i)
            j = n if j < 0 else j + 2
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif src[i] in "\"'":
            q, j = src[i], i + 1
            while j < n and src[j] != q:
                j += 2 if src[j] == "\\" else 1
            out.append(q + q)
            i = j + 1
        else:
            out.append(src[i])
            i += 1
    return "".join(out)


def function_lengths(path):
    """(lines, first line) of each outermost function body in the file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        s = without_comments_and_strings(f.read())
    stack, head_start, found = [], 0, []
    for i, c in enumerate(s):
        if c == "{":
            head = " ".join(s[head_start:i].split())
            in_function = "fn" in stack
            is_scope = re.search(r"\b(namespace|class|struct|enum|union)\b[^()]*$", head) or head.startswith("extern")
            is_function = (not in_function and "(" in head and not is_scope and not head.endswith("=")
                           and not re.match(r"^(if|for|while|switch|else|do)\b", head))
            stack.append("fn" if is_function else "block")
            if is_function:
                found.append([s.count("\n", 0, i) + 1, i])
            head_start = i + 1
        elif c == "}":
            if stack and stack.pop() == "fn":
                start_line, start = found[-1][0], found[-1][1]
                found[-1] = (s.count("\n", start, i) + 1, start_line)
            head_start = i + 1
        elif c == ";":
            head_start = i + 1
    return [f for f in found if isinstance(f, tuple)]


class LayoutTest(unittest.TestCase):
    def test_includes_point_down(self):
        up = []
        for path in sources("resolver", "web", "blocklists"):
            mine = module_of(path)
            if mine is None:
                continue
            self.assertIn(mine, RANK, "%s: module %s is not on the map" % (path, mine))
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
            for n, line in enumerate(lines, 1):
                m = re.match(r'#include "([a-z_]+)/', line)
                if not m:
                    continue
                target = m.group(1)
                self.assertIn(target, RANK, "%s:%d includes an unknown module %s" % (path, n, target))
                if target != mine and RANK[target] >= RANK[mine]:
                    up.append("%s:%d: %s includes %s" % (os.path.relpath(path, ROOT), n, mine, target))
        self.assertEqual(up, [], "includes pointing up or sideways:\n" + "\n".join(up))

    def test_query_path_functions_are_short(self):
        long = []
        for path in sources(*QUERY_PATH):
            for lines, first in function_lengths(path):
                if lines > MAX_FUNCTION_LINES:
                    long.append("%s:%d: %d lines" % (os.path.relpath(path, ROOT), first, lines))
        self.assertEqual(long, [], "functions over %d lines:\n%s" % (MAX_FUNCTION_LINES, "\n".join(long)))

    def test_the_function_counter_counts(self):
        # A guard for the check above: a long function must be seen as long.
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".cpp", delete=False) as f:
            f.write("namespace a {\nint f(int x) {\n" + "  x += 1;\n" * 90 + "  if (x) { return 1; }\n  return x;\n}\n}\n")
        try:
            lengths = function_lengths(f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(len(lengths), 1)
        self.assertGreater(lengths[0][0], 90)


if __name__ == "__main__":
    unittest.main()
