#!/usr/bin/env python3
"""Checks the layering ARCHITECTURE.md promises, and fails if it is broken:

- no import cycle between the top-level modules of any crate (a module that
  names `crate::a` depends on `a`; doc comments and `#[cfg(test)]` modules
  do not count);
- nothing imports from a binary's `main.rs`: every `crate::x` a binary's
  module names is a module `main.rs` declares, not an item defined in it.

    python3 scripts/layering.py
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRATES = ["engine", "sim", "client", "lambda", "loadtest", "testkit", "benches"]


def code_of(path: pathlib.Path) -> str:
    """The file's code before its tests, without comment lines."""
    text = path.read_text().split("#[cfg(test)]")[0]
    return "\n".join(l for l in text.splitlines() if not l.strip().startswith("//"))


def graph(src: pathlib.Path) -> dict:
    deps: dict = {}
    for path in sorted(src.rglob("*.rs")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "mod":
            parts = parts[:-1]
        top = "(root)" if parts in (["lib"], ["main"]) or parts[0] == "bin" else parts[0]
        names = set(re.findall(r"\bcrate::([A-Za-z_][A-Za-z0-9_]*)", code_of(path)))
        deps.setdefault(top, set()).update(n for n in names if n != top)
    return deps


def cycles(deps: dict) -> list:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in deps.get(v, ()):
            if w not in deps:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(deps):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    problems = []
    for crate in CRATES:
        src = ROOT / crate / "src"
        if not src.is_dir():
            continue
        deps = graph(src)
        for component in cycles(deps):
            edges = "; ".join(f"{m} -> {', '.join(sorted(deps[m] & set(component)))}" for m in component)
            problems.append(f"{crate}: import cycle among {', '.join(component)} ({edges})")
        main_rs = src / "main.rs"
        if main_rs.exists():
            declared = set(re.findall(r"^\s*(?:pub\s+)?mod\s+(\w+)\s*;", main_rs.read_text(), re.M))
            for module, names in deps.items():
                if module == "(root)":
                    continue
                for name in sorted(names - declared):
                    problems.append(f"{crate}: module `{module}` imports `crate::{name}` from main.rs")
    for p in problems:
        print(p)
    if problems:
        return 1
    print("no import cycle in any crate, and nothing imports from a main.rs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
