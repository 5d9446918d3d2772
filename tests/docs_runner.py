"""Lesson pages are code: their `console` blocks run, and what they promise is checked.

In a page, a fenced block whose info string is `console` is executed:
- a line starting with `$ ` is a command, run with bash from the repository
  root with .venv/bin first on PATH; it must exit 0;
- the lines after it, up to the next command or the block's end, are the
  output it promises: each non-blank promised line must appear, in order, as
  a line of the real output (both stripped); `...` inside a line matches any
  text, and a line that is only `...` is a reminder that lines are skipped
  (they always may be).
Blocks meant to be read, not run (`make up`, slow or destructive commands),
use another info string, such as `sh`.

A page's relative links are checked too, without running anything
(`broken_links`): each `[text](target)`, `![alt](target)` or `[label]: target`
outside code must name a file or folder that exists, and a `#anchor` on a
Markdown file (or on the page itself) must be one of its headings, slugged as
GitHub does (lower case, punctuation dropped, spaces to `-`, `-1`, `-2` for
repeats), or an HTML `id`/`name`.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
ELLIPSIS = "..."
COMMAND_TIMEOUT_S = 300


@dataclass
class Command:
    line: int  # 1-based line of the command in its page
    command: str
    promised: list[str] = field(default_factory=list)


def console_commands(markdown: str) -> list[Command]:
    """The commands of every `console` block, in page order, with what each promises."""
    commands: list[Command] = []
    fence: str | None = None
    running = False
    for number, line in enumerate(markdown.splitlines(), start=1):
        opening = FENCE.match(line)
        if fence is None:
            if opening:
                fence = opening["fence"]
                running = opening["info"].strip().split(" ")[0] == "console"
            continue
        if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
            fence, running = None, False
        elif running and line.startswith("$ "):
            commands.append(Command(number, line[2:].strip()))
        elif running and commands and line.strip() and line.strip() != ELLIPSIS:
            commands[-1].promised.append(line.strip())
    return commands


def line_pattern(promised: str) -> re.Pattern[str]:
    parts = (re.escape(part) for part in promised.split(ELLIPSIS))
    return re.compile("^" + ".*".join(parts) + "$")


def first_unmet_promise(promised: list[str], output: str) -> str | None:
    """The first promised line not found (in order) in `output`; None when all are."""
    lines = iter(line.strip() for line in output.splitlines())
    for expected in promised:
        pattern = line_pattern(expected)
        if not any(pattern.match(line) for line in lines):
            return expected
    return None


def run(command: Command, repo: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PATH"] = f"{repo / '.venv' / 'bin'}:{env.get('PATH', '')}"
    env["COLUMNS"] = "200"  # rich tables unwrapped, as on a wide terminal
    return subprocess.run(
        ["bash", "-c", command.command],
        cwd=repo, env=env, capture_output=True, text=True,
        timeout=COMMAND_TIMEOUT_S, check=False,
    )  # fmt: skip


def check(command: Command, repo: Path) -> str | None:
    """Run one command; None when it exited 0 and kept its promises, else why not."""
    result = run(command, repo)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        return f"line {command.line}: `{command.command}` exited {result.returncode}:\n{output}"
    unmet = first_unmet_promise(command.promised, result.stdout)
    if unmet is not None:
        return (
            f"line {command.line}: `{command.command}` did not print {unmet!r} "
            f"(after the promised lines before it). Its output:\n{output}"
        )
    return None


# Links: inline `[text](target "title")` (and images), and reference definitions.
INLINE_LINK = re.compile(
    r"!?\[(?:[^\]\\]|\\.)*\]\(\s*(?:<(?P<angled>[^>]*)>|(?P<bare>[^\s)]*))[^)]*\)"
)
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(?P<target>[^\s>]+)")
CODE_SPAN = re.compile(r"(`+).*?\1")
ABSOLUTE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")  # https:, mailto:, //host
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(?P<text>.*?)(?:\s+#+)?\s*$")
HTML_ANCHOR = re.compile(r"""<[^>]*\b(?:id|name)\s*=\s*["'](?P<anchor>[^"']+)["']""")
HTML_TAG = re.compile(r"<[^>]+>")
LINK_TEXT = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
NOT_IN_SLUG = re.compile(r"[^\w\- ]")
MARKDOWN_SUFFIXES = {".md", ".markdown"}


@dataclass(frozen=True)
class Link:
    line: int  # 1-based line of the link in its page
    target: str


def prose_lines(markdown: str) -> list[tuple[int, str]]:
    """(line number, line) of every line outside fenced code blocks."""
    lines: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(markdown.splitlines(), start=1):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening["fence"]
        elif fence is not None:
            if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                fence = None
        else:
            lines.append((number, line))
    return lines


def relative_links(markdown: str) -> list[Link]:
    """The links of a page that point into the repository (no scheme, no `//host`)."""
    links: list[Link] = []
    for number, text in prose_lines(markdown):
        line = CODE_SPAN.sub("", text)  # `[a](b)` in code is an example, not a link
        definition = REFERENCE_DEFINITION.match(line)
        targets = [definition["target"]] if definition else []
        targets += [
            m["angled"] if m["angled"] is not None else m["bare"]
            for m in INLINE_LINK.finditer(line)
        ]
        links += [Link(number, t) for t in targets if t and not ABSOLUTE.match(t)]
    return links


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text (github-slugger): what the rendered text keeps."""
    text = HTML_TAG.sub("", LINK_TEXT.sub(r"\1", heading)).replace("`", "")
    return NOT_IN_SLUG.sub("", text.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every anchor a page offers: its headings' slugs (repeats numbered) and HTML ids."""
    found: set[str] = set()
    seen: Counter[str] = Counter()
    for _, line in prose_lines(markdown):
        found.update(m["anchor"] for m in HTML_ANCHOR.finditer(CODE_SPAN.sub("", line)))
        heading = HEADING.match(line)
        if heading:
            base = slug(heading["text"])
            found.add(f"{base}-{seen[base]}" if seen[base] else base)
            seen[base] += 1
    return found


def link_target(link: Link, page: Path, repo: Path) -> Path:
    """The file a link names, as GitHub resolves it: from the page's folder, or from
    the repository's root for a leading `/`; the page itself for a bare `#anchor`."""
    path = unquote(link.target.partition("#")[0])
    if not path:
        return page.resolve()
    if path.startswith("/"):
        return (repo / path.lstrip("/")).resolve()
    return (page.parent / path).resolve()


def link_problem(link: Link, page: Path, repo: Path) -> str | None:
    """Why a link from `page` is broken (missing file, outside the repository, no such
    anchor), or None when GitHub would find what it names."""
    root = repo.resolve()
    target = link_target(link, page, root)
    anchor = unquote(link.target.partition("#")[2])
    where = f"line {link.line}: link `{link.target}`"
    if not target.is_relative_to(root):
        return f"{where} leaves the repository"
    if not target.exists():
        return f"{where}: no file {target.relative_to(root)}"
    is_page = target.is_file() and target.suffix.lower() in MARKDOWN_SUFFIXES
    if anchor and is_page and anchor.lower() not in anchors(target.read_text()):
        return f"{where}: no heading or id `#{anchor}` in {target.relative_to(root)}"
    return None


def broken_links(page: Path, repo: Path) -> list[str]:
    """Every relative link of `page` that names a missing file or anchor, with why."""
    problems = (link_problem(link, page, repo) for link in relative_links(page.read_text()))
    return [problem for problem in problems if problem is not None]
