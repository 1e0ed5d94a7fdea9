#!/usr/bin/env python3
"""Checks the layering ARCHITECTURE.md promises, and fails if it is broken:

- no import cycle between the top-level modules of any crate;
- the "never" rules ARCHITECTURE.md states (the domain never reaches the
  store, the engine never names the Lambda crate, ...), listed in NEVER;
- nothing imports from a binary's `main.rs`: every `crate::x` a binary's
  module names is a module `main.rs` declares, not an item defined in it.

A module depends on every top-level module it names, in any form: `use
crate::a::b;`, `use crate::{a, b::{c, d}};`, `super::` paths (resolved from
where the file sits), `self::` paths, and paths written inline
(`crate::a::f()`). Comments and `#[cfg(test)]` items (a test module, a
test-only `use`) do not count; the rest of the file does, wherever the tests
sit in it.

    python3 scripts/layering.py
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRATES = ["engine", "sim", "client", "lambda", "loadtest", "testkit", "benches"]

# (crate, module, modules or crates it must never name, why). A module is a
# top-level module of the crate's src/ ("store" is store.rs or store/);
# "*" is every module of the crate. A name with "::" is an external crate
# path prefix, checked against the file's text.
NEVER = [
    ("engine", "domain", {"store", "queue", "queues", "http", "processor", "notifier", "app"},
     "the domain's rules stand alone"),
    ("engine", "validation", {"store", "queue", "queues", "http", "app"}, "parsing knows no I/O"),
    ("engine", "events", {"store", "queue", "queues", "http", "app"}, "events are data"),
    ("engine", "store", {"queue", "queues", "processor", "notifier", "ingest", "http", "app", "config"},
     "the store knows no stage, queue or app configuration"),
    ("engine", "queue", {"store", "processor", "notifier", "ingest", "http", "app"},
     "a queue knows no stage"),
    ("engine", "processor", {"app", "http", "harness"}, "the stages never reach the app"),
    ("engine", "notifier", {"app", "http", "harness"}, "the stages never reach the app"),
    ("engine", "ingest", {"app", "harness"}, "the stages never reach the app"),
    ("engine", "app", {"harness"}, "fault machinery wraps the app from outside"),
    ("engine", "http", {"harness", "app"}, "fault machinery wraps the API from outside"),
    ("engine", "*", {"orderflow_lambda::", "aws_lambda_events::", "lambda_http::", "lambda_runtime::",
                     "aws_sdk_secretsmanager::"}, "the engine knows no Lambda"),
    ("sim", "aws", {"report", "plan", "cmd", "cli", "pipeline"},
     "the model of AWS never reaches what renders or drives it"),
    ("sim", "report", {"cmd", "cli"}, "a report never reaches a command"),
    ("sim", "plan", {"cmd", "cli"}, "the planner never reaches a command"),
    ("sim", "observed", {"cmd", "cli", "pipeline"},
     "what a stack did is read, judged and fitted apart from the commands that ask"),
    ("sim", "load", {"aws", "invariants", "cmd", "cli", "report"}, "the load knows only the API"),
    ("sim", "invariants", {"aws", "cmd", "cli"}, "the invariants read only what the run left"),
]


def strip_comments(text: str) -> str:
    """The text without comments, strings kept (a path in a string is not
    an import, but it does no harm here: none of ours names `crate::`)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(re.sub(r"//.*", "", l) for l in text.splitlines())


def without_tests(text: str) -> str:
    """The code without `#[cfg(test)]` items: a braced module is cut to its
    matching brace, anything else to its `;`."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        j = m.end()
        brace, semi = text.find("{", j), text.find(";", j)
        if semi != -1 and (brace == -1 or semi < brace):
            i = semi + 1
            continue
        depth, k = 0, brace
        while k < len(text):
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        i = k + 1
    out.append(text[i:])
    return "".join(out)


def split_top(tree: str) -> list:
    """`a, b::{c, d}, e` split at the commas outside braces."""
    parts, depth, cur = [], 0, ""
    for ch in tree:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def expand(tree: str) -> list:
    """Every path a use tree names, as lists of segments."""
    tree = re.sub(r"\s+", "", tree)
    if tree.startswith("{") and tree.endswith("}"):
        return [p for part in split_top(tree[1:-1]) for p in expand(part)]
    m = re.match(r"^([^{]*?)::\{(.*)\}$", tree)
    if m:
        head = m.group(1).split("::")
        return [head + p for part in split_top(m.group(2)) for p in expand(part)]
    return [re.sub(r"\bas\b.*$", "", tree).split("::")]


def resolve(path: list, here: list) -> list:
    """A path's segments from the crate root, given the module it is
    written in (`here`, from the root); [] for one outside the crate."""
    if not path:
        return []
    if path[0] == "crate":
        return path[1:]
    if path[0] in ("self", "super"):
        base = list(here)
        while path and path[0] in ("self", "super"):
            if path.pop(0) == "super":
                base = base[:-1]
        return base + path
    return []


def module_of(src: pathlib.Path, path: pathlib.Path) -> list:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main") and len(parts) >= 1:
        parts = parts[:-1] if parts[-1] == "mod" else []
    if parts and parts[0] == "bin":
        return []
    return parts


def names_in(code: str, here: list) -> set:
    """The top-level modules a file's code names."""
    found = set()
    for m in re.finditer(r"\buse\s+([^;]+);", code):
        for p in expand(m.group(1)):
            r = resolve(list(p), here)
            if r:
                found.add(r[0])
    for m in re.finditer(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)", code):
        segs = [m.group(1)] + m.group(2).split("::")[1:]
        r = resolve(segs, here)
        if r:
            found.add(r[0])
    return found


def graph(src: pathlib.Path) -> tuple:
    deps, text = {}, {}
    for path in sorted(src.rglob("*.rs")):
        here = module_of(src, path)
        top = here[0] if here else "(root)"
        code = without_tests(strip_comments(path.read_text()))
        deps.setdefault(top, set()).update(n for n in names_in(code, here) if n != top)
        text[top] = text.get(top, "") + code
    return deps, text


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


def self_check() -> None:
    """The parser sees each import form (a check that cannot fail is worse
    than none)."""
    code = without_tests(strip_comments(
        "use crate::{a, b::{c, d as e}};\nuse super::f::G;\nfn x() { crate::h::i(); }\n"
        "use self::j;\n// use crate::k;\n#[cfg(test)]\nmod tests { use crate::l; }\n"
        "#[cfg(test)]\nuse crate::m;\nuse crate::n::{self};\n"))
    got = names_in(code, ["z", "y"])
    want = {"a", "b", "h", "z", "n"}
    assert got == want, f"the import parser is broken: {sorted(got)} != {sorted(want)}"
    assert resolve(["super", "f"], ["z"]) == ["f"], "super:: from a top-level module is the root's"


def main() -> int:
    self_check()
    problems = []
    for crate in CRATES:
        src = ROOT / crate / "src"
        if not src.is_dir():
            continue
        deps, text = graph(src)
        for component in cycles(deps):
            edges = "; ".join(f"{m} -> {', '.join(sorted(deps[m] & set(component)))}" for m in component)
            problems.append(f"{crate}: import cycle among {', '.join(component)} ({edges})")
        for c, module, never, why in NEVER:
            if c != crate:
                continue
            if module != "*" and module not in deps:
                problems.append(f"{crate}: the rule for `{module}` names a module that is not there")
            for m in deps if module == "*" else [module]:
                for name in sorted(never):
                    if "::" in name:
                        hit = name in text.get(m, "")
                    else:
                        hit = name in deps.get(m, set())
                    if hit:
                        problems.append(f"{crate}: `{m}` names `{name}`, and must not: {why}")
        main_rs = src / "main.rs"
        if main_rs.exists():
            declared = set(re.findall(r"^\s*(?:pub\s+)?mod\s+(\w+)\s*;", main_rs.read_text(), re.M))
            for module, names in deps.items():
                if module == "(root)" or (src / "lib.rs").exists():
                    continue
                for name in sorted(names - declared):
                    problems.append(f"{crate}: module `{module}` imports `crate::{name}` from main.rs")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"no import cycle in any crate, {len(NEVER)} never-rules hold, and nothing imports from a main.rs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
