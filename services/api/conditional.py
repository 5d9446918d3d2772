"""Entity tags and the conditional request fields, as RFC 9110 defines them.

- An order's ETag is strong and made from its version: `"v3"`. The same
  version always has the same representation (updated_at moves only with the
  version), so byte-for-byte equality holds (RFC 9110, section 8.8.3).
- If-Match (section 13.1.1) uses the strong comparison (section 8.8.3.2): a
  weak tag never matches. Its field value is "*" or a list of entity tags;
  for anything else the section's evaluation ends in "Otherwise, the
  condition is false": a malformed If-Match fails the precondition, 412.
- If-None-Match (section 13.1.2) uses the weak comparison; a malformed value
  ends in "Otherwise, the condition is true": the full answer, not a 304.
- A write without If-Match gets 428 Precondition Required (RFC 6585,
  section 3): the client must show which version it means to change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# entity-tag = [ weak ] opaque-tag; opaque-tag = DQUOTE *etagc DQUOTE;
# etagc = %x21 / %x23-7E / obs-text (RFC 9110, section 8.8.3). Lists are
# comma-separated with optional whitespace (section 5.6.1).
ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')
LIST_SEPARATOR = re.compile(r"[ \t]*,[ \t]*")
MAX_FIELD_LENGTH = 1024  # longer lists are not a client's real cache


@dataclass(frozen=True)
class EntityTag:
    opaque: str  # between the quotes
    weak: bool = False

    def __str__(self) -> str:
        return f'{"W/" if self.weak else ""}"{self.opaque}"'


def etag_of(version: int) -> EntityTag:
    return EntityTag(f"v{version}")


class MalformedFieldError(ValueError):
    """Neither "*" nor a list of entity tags."""


def parse_tags(value: str) -> list[EntityTag] | None:
    """None for "*", else the list of entity tags; MalformedFieldError for anything else."""
    text = value.strip(" \t")
    if text == "*":
        return None
    if not text or len(text) > MAX_FIELD_LENGTH:
        raise MalformedFieldError('expected "*" or a list of entity tags such as "v1"')
    tags = []
    for member in LIST_SEPARATOR.split(text):
        if not member:  # empty list elements are allowed and ignored (section 5.6.1)
            continue
        match = ENTITY_TAG.fullmatch(member)
        if match is None:
            raise MalformedFieldError(f'{member[:40]!r} is not an entity tag: quote it, as in "v1"')
        tags.append(EntityTag(match[2], weak=bool(match[1])))
    if not tags:
        raise MalformedFieldError("an empty list of entity tags")
    return tags


def if_match_holds(value: str, current: EntityTag) -> bool:
    """RFC 9110, section 13.1.1, for a resource that exists: "*" holds; a list holds if
    a member matches by the strong comparison; a malformed value does not hold."""
    try:
        tags = parse_tags(value)
    except MalformedFieldError:
        return False
    return tags is None or any(not t.weak and t.opaque == current.opaque for t in tags)


def if_none_match_holds(value: str, current: EntityTag) -> bool:
    """RFC 9110, section 13.1.2, for a resource that exists: "*" fails; a list fails if a
    member matches by the weak comparison; a malformed value holds."""
    try:
        tags = parse_tags(value)
    except MalformedFieldError:
        return True
    return tags is not None and all(t.opaque != current.opaque for t in tags)


def if_match_problem(value: str, current: EntityTag) -> str:
    """Why an If-Match did not hold, for the 412's reason."""
    try:
        parse_tags(value)
    except MalformedFieldError as exc:
        return f"If-Match is malformed ({exc}), so it cannot match: the current ETag is {current}"
    return f"If-Match {value.strip()[:80]} does not match the current ETag {current}"
