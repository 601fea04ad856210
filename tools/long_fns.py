#!/usr/bin/env python3
"""Functions longer than a bound, and files longer than another, in Rust source folders.

    python3 tools/long_fns.py [--fn-lines 150] [--file-lines 800] DIR...

A function runs from its `fn` line to the line whose closing brace returns to the `fn`
line's indentation (rustfmt's layout); `#[cfg(test)]` modules are measured like the rest,
test functions included. Prints one line per offender; exit 1 if any.
"""
import argparse, os, re, sys

FN = re.compile(r"^(\s*)(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")

p = argparse.ArgumentParser()
p.add_argument("--fn-lines", type=int, default=150)
p.add_argument("--file-lines", type=int, default=800)
p.add_argument("dirs", nargs="+")
a = p.parse_args()
bad = 0
for d in a.dirs:
    for root, _, names in os.walk(d):
        for n in sorted(names):
            if not n.endswith(".rs"):
                continue
            path = os.path.join(root, n)
            lines = open(path, encoding="utf-8").read().split("\n")
            if len(lines) > a.file_lines:
                print(f"{path}: {len(lines)} lines (file)")
                bad += 1
            for i, line in enumerate(lines):
                m = FN.match(line)
                if not m or line.rstrip().endswith(";"):
                    continue
                indent = m.group(1)
                end = next((j for j in range(i + 1, len(lines))
                            if lines[j].startswith(indent + "}") and not lines[j].startswith(indent + "} else")), None)
                if end is not None and end - i + 1 > a.fn_lines:
                    print(f"{path}:{i + 1}: fn {m.group(7)} is {end - i + 1} lines")
                    bad += 1
sys.exit(1 if bad else 0)
