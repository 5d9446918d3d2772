"""Utilities the tests share: reading rendered nginx configuration."""

import re


def block(text: str, opening: str, start: int = 0) -> str:
    """The first block (from `start`) whose opening line is `opening {`, to its closing brace."""
    # Only a whole opening: `stream {` but not `location = /feed/stream {`.
    found = re.compile(rf"(?<!\S){re.escape(opening)} \{{\n").search(text, start)
    if found is None:
        raise ValueError(f"no block opening with {opening!r}")
    begin = found.start()
    depth, end = 0, begin
    for end in range(begin, len(text)):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0 and text[end] == "}":
            break
    return text[begin : end + 1]


def server_block(text: str, listen: str) -> str:
    """The server block with `listen LISTEN;`."""
    at = text.index(f"listen {listen};")
    return block(text, "server", start=text.rindex("server {", 0, at))


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]
