#!/usr/bin/env python3
"""Fails on a broken link: in the built book (every relative href and src of
its HTML pages must name a file of the book, and a #fragment an id on that
page), and in Markdown files of the repository (every relative link must name
a file of the repository, and a #fragment a heading of a Markdown target).
Links to other sites are not followed (the tests run offline).

    check-links.py BOOK_DIR [FILE.md ...]
"""
import html.parser
import os
import re
import sys
import urllib.parse


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key) and tag in ("a", "img", "link", "script"):
                self.links.append(attrs[key])


def parse(path, cache={}):
    if path not in cache:
        page = Page()
        with open(path, encoding="utf-8") as f:
            page.feed(f.read())
        cache[path] = page
    return cache[path]


def external(link):
    return re.match(r"^[a-z][a-z0-9+.-]*:", link) is not None


def check_book(root):
    broken = []
    for folder, _, files in os.walk(root):
        for name in files:
            # print.html repeats every page with its links rewritten.
            if not name.endswith(".html") or name == "print.html":
                continue
            path = os.path.join(folder, name)
            for link in parse(path).links:
                if external(link) or link.startswith("//"):
                    continue
                target, _, fragment = link.partition("#")
                target = urllib.parse.unquote(target)
                dest = os.path.normpath(os.path.join(folder, target)) if target else path
                if os.path.isdir(dest):
                    dest = os.path.join(dest, "index.html")
                rel = os.path.relpath(path, root)
                if not os.path.exists(dest):
                    broken.append(f"{rel}: {link}: no such file")
                elif fragment and dest.endswith(".html") and urllib.parse.unquote(fragment) not in parse(dest).ids:
                    broken.append(f"{rel}: {link}: no such anchor")
    return broken


def slug(heading):
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"`|\*\*|\[|\]\([^)]*\)", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(md_path):
    with open(md_path, encoding="utf-8") as f:
        text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.*)$", text, flags=re.M)}


def check_markdown(path):
    broken = []
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
    for link in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text):
        if external(link):
            continue
        target, _, fragment = link.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), urllib.parse.unquote(target))) if target else path
        if not os.path.exists(dest):
            broken.append(f"{path}: {link}: no such file")
        elif fragment and dest.endswith(".md") and fragment not in anchors(dest):
            broken.append(f"{path}: {link}: no such heading")
    return broken


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    broken = check_book(argv[1])
    for md in argv[2:]:
        broken += check_markdown(md)
    for line in broken:
        print(f"broken link: {line}", file=sys.stderr)
    if broken:
        sys.exit(1)
    print(f"links: every relative link resolves ({argv[1]} and {len(argv) - 2} Markdown files)")


if __name__ == "__main__":
    main(sys.argv)
