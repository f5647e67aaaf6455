"""The repository stands alone: no file points outside it (a user's clone has nothing beside
it), and every relative Markdown link resolves. Run by scripts/test.sh."""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEXT = (".cpp", ".h", ".py", ".md", ".sh", ".txt", ".cmake", ".toml", ".in")
OUTSIDE = re.compile(r"\.\./shared|shared/reference|shared/DESIGN|(?<![\w/])DESIGN\.md")
MD_LINK = re.compile(r"\]\(([^)#\s]+)")


def tracked_files():
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:  # not a git checkout (an unpacked sdist): walk the tree
        return [os.path.relpath(os.path.join(d, f), ROOT) for d, _, fs in os.walk(ROOT)
                for f in fs]
    return out.stdout.split()


def text_files():
    for rel in tracked_files():
        name = os.path.basename(rel)
        if (rel.endswith(TEXT) or name in ("run", "CMakeLists.txt")) and \
                not rel.startswith("docs/data/") and os.path.isfile(os.path.join(ROOT, rel)):
            yield rel


def test_no_file_points_outside_the_repository():
    me = os.path.relpath(__file__, ROOT)
    bad = []
    for rel in text_files():
        if rel == me:
            continue
        with open(os.path.join(ROOT, rel), encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if OUTSIDE.search(line):
                    bad.append(f"{rel}:{n}: {line.strip()[:100]}")
    assert not bad, "references outside the repository (cite docs/design.md, and the paper " \
                    "by title and arXiv id):\n" + "\n".join(bad)


def test_relative_markdown_links_resolve():
    bad = []
    for rel in text_files():
        if not rel.endswith(".md"):
            continue
        with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                for target in MD_LINK.findall(line):
                    if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
                        continue
                    path = os.path.normpath(os.path.join(ROOT, os.path.dirname(rel), target))
                    if not path.startswith(ROOT + os.sep) or not os.path.exists(path):
                        bad.append(f"{rel}:{n}: {target}")
    assert not bad, "broken or outside links:\n" + "\n".join(bad)
