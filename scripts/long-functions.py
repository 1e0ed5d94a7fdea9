#!/usr/bin/env python3
"""Lists every Rust function outside the tests longer than 80 lines, and fails
if there is one: under */src and benches/ (skipping `#[cfg(test)]` modules).
A function is measured from the line that opens it to the line of its
closing brace, by matching braces outside strings and comments (good enough
for this code). The Pulumi program's TypeScript is held to the same 80 lines
by eslint's max-lines-per-function (pulumi/eslint.config.mjs, run by its
`npm test`).

    python3 scripts/long-functions.py [--limit N]
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIMIT = int(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else 80

RUST_FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def code_of(line: str) -> str:
    """The line without string contents and line comments (roughly)."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    line = re.sub(r"`[^`]*`", "``", line)
    return line.split("//", 1)[0]


def functions(path: pathlib.Path, pattern: re.Pattern, skip_test_modules: bool):
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if skip_test_modules and line.strip() == "#[cfg(test)]":
            return
        m = pattern.match(line)
        if not m:
            i += 1
            continue
        name = next(g for g in reversed(m.groups()) if g and re.fullmatch(r"\w+", g))
        depth, opened, j = 0, False, i
        while j < len(lines):
            code = code_of(lines[j])
            if not opened and ";" in code and "{" not in code:
                break  # a declaration without a body
            depth += code.count("{") - code.count("}")
            opened = opened or "{" in code
            if opened and depth <= 0:
                break
            j += 1
        if opened:
            yield name, i + 1, j - i + 1
        i += 1


def main() -> int:
    found = []
    rust = [p for p in ROOT.glob("*/src/**/*.rs") if "target" not in p.parts]
    rust += list((ROOT / "benches").glob("benches/*.rs"))
    for path in sorted(rust):
        for name, line, length in functions(path, RUST_FN, True):
            if length > LIMIT:
                found.append((length, f"{path.relative_to(ROOT)}:{line}", name))
    for length, where, name in sorted(found, reverse=True):
        print(f"{length:4} lines  {where}  {name}")
    if found:
        print(f"{len(found)} function(s) over {LIMIT} lines", file=sys.stderr)
        return 1
    print(f"no function outside the tests is over {LIMIT} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
