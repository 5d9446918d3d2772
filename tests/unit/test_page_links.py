"""Every committed Markdown file links only to files and headings that exist (no Docker)."""

import shutil
import subprocess
from pathlib import Path

import pytest

from comms_sandbox import REPO
from tests.docs_runner import anchors, broken_links, relative_links, slug

SKIPPED_FOLDERS = {".venv", "node_modules", "results"}


def committed_pages() -> list[Path]:
    """The Markdown files git tracks; outside a git checkout, those on disk but not in
    hidden or generated folders."""
    if shutil.which("git") and (REPO / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", "*.md"],
            cwd=REPO, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return sorted(REPO / name for name in listed.split("\0") if name)
    return sorted(
        page
        for page in REPO.rglob("*.md")
        if not any(part.startswith(".") or part in SKIPPED_FOLDERS for part in page.parts)
    )


PAGES = committed_pages()


def test_the_pages_are_found() -> None:
    names = {page.relative_to(REPO).as_posix() for page in PAGES}
    assert {"README.md", "scenarios/README.md", "images/README.md"} <= names
    assert "scenarios/load_balancing/README.md" in names


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_relative_links_name_files_and_headings_that_exist(page: Path) -> None:
    problems = broken_links(page, REPO)
    assert not problems, f"{page.relative_to(REPO)}:\n" + "\n".join(problems)


# The checker itself, fed pages with broken links in a repository of its own.

PAGE = """# A page

## Run it, then look (twice)

## Run it, then look (twice)

See [the code](code.py), [the folder](docs/), [a section](#run-it-then-look-twice),
[the second one](#run-it-then-look-twice-1), [the other page's](docs/other.md#the-tls-knob).
![a chart](docs/chart.png) and [absolute ones](https://example.org/x.md#nowhere) are fine.
`[in code](missing.py)` is not a link.

```sh
[in a block](missing.py)
```

[label]: docs/other.md
"""

OTHER = """# Other

## The `TLS` knob

<a id="kept-by-hand"></a>
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "code.py").write_text("")
    (tmp_path / "docs" / "chart.png").write_bytes(b"")
    (tmp_path / "docs" / "other.md").write_text(OTHER)
    (tmp_path / "README.md").write_text(PAGE)
    return tmp_path


def test_links_outside_code_are_found() -> None:
    targets = [link.target for link in relative_links(PAGE)]
    assert targets == [
        "code.py",
        "docs/",
        "#run-it-then-look-twice",
        "#run-it-then-look-twice-1",
        "docs/other.md#the-tls-knob",
        "docs/chart.png",
        "docs/other.md",
    ]
    assert relative_links(PAGE)[0].line == 7


def test_anchors_are_githubs_slugs() -> None:
    assert slug("Run it, then look (twice)") == "run-it-then-look-twice"
    assert slug("The `tcp_abort_on_overflow` knob") == "the-tcp_abort_on_overflow-knob"
    assert slug("[Images](x.md): with or without a registry") == "images-with-or-without-a-registry"
    assert anchors(OTHER) == {"other", "the-tls-knob", "kept-by-hand"}


def test_a_page_whose_links_all_resolve_passes(repo: Path) -> None:
    assert broken_links(repo / "README.md", repo) == []


def test_a_link_to_a_missing_file_fails(repo: Path) -> None:
    (repo / "README.md").write_text("# Page\n\nSee [the old code](sides.py).\n")
    assert broken_links(repo / "README.md", repo) == ["line 3: link `sides.py`: no file sides.py"]


def test_a_link_to_a_missing_anchor_fails(repo: Path) -> None:
    page = "# Page\n\n[here](#benchmark) and [there](docs/other.md#the-tls-knobs)\n"
    (repo / "README.md").write_text(page)
    assert broken_links(repo / "README.md", repo) == [
        "line 3: link `#benchmark`: no heading or id `#benchmark` in README.md",
        "line 3: link `docs/other.md#the-tls-knobs`: "
        "no heading or id `#the-tls-knobs` in docs/other.md",
    ]


def test_a_link_leaving_the_repository_fails(repo: Path) -> None:
    (repo / "docs" / "other.md").write_text("[up](../../elsewhere.md)\n")
    assert broken_links(repo / "docs" / "other.md", repo) == [
        "line 1: link `../../elsewhere.md` leaves the repository"
    ]
