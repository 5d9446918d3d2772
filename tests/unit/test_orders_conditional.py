"""Entity tags, If-Match and If-None-Match as RFC 9110 section 13.1 evaluates them (no Docker)."""

import pytest

from api.conditional import (
    EntityTag,
    MalformedFieldError,
    etag_of,
    if_match_holds,
    if_match_problem,
    if_none_match_holds,
    parse_tags,
)

CURRENT = etag_of(3)


def test_an_orders_etag_is_strong_and_made_from_its_version() -> None:
    assert str(CURRENT) == '"v3"'
    assert str(EntityTag("v3", weak=True)) == 'W/"v3"'


@pytest.mark.parametrize(
    ("value", "tags"),
    [
        ('"v1"', [EntityTag("v1")]),
        ('"v1", W/"v2" ,"v3"', [EntityTag("v1"), EntityTag("v2", weak=True), EntityTag("v3")]),
        ('"v1",,"v2"', [EntityTag("v1"), EntityTag("v2")]),  # empty elements are ignored
        ('""', [EntityTag("")]),
        ("*", None),
        ("  *\t", None),
    ],
)
def test_parse_tags_reads_star_and_lists(value: str, tags: list[EntityTag] | None) -> None:
    assert parse_tags(value) == tags


@pytest.mark.parametrize(
    "value",
    ["v1", "'v1'", '"v1', 'W/v1', '"v1" "v2"', '*, "v1"', "", " ", ",", '"a"b"', '"\x7f"',
     '"' + "x" * 2000 + '"'],
)  # fmt: skip
def test_anything_else_is_malformed(value: str) -> None:
    with pytest.raises(MalformedFieldError):
        parse_tags(value)


@pytest.mark.parametrize(
    ("value", "holds"),
    [
        ('"v3"', True),
        ('"v1", "v3"', True),
        ("*", True),
        ('"v2"', False),
        ('W/"v3"', False),  # strong comparison: a weak tag never matches (section 8.8.3.2)
        ("v3", False),  # malformed: "Otherwise, the condition is false"
        ("", False),
    ],
)
def test_if_match_uses_the_strong_comparison(value: str, holds: bool) -> None:
    assert if_match_holds(value, CURRENT) is holds


@pytest.mark.parametrize(
    ("value", "holds"),
    [
        ('"v3"', False),  # the client has it: 304
        ('W/"v3"', False),  # weak comparison: a weak tag matches (section 8.8.3.2)
        ("*", False),
        ('"v2"', True),
        ("v3", True),  # malformed: "Otherwise, the condition is true"
    ],
)
def test_if_none_match_uses_the_weak_comparison(value: str, holds: bool) -> None:
    assert if_none_match_holds(value, CURRENT) is holds


def test_the_412_reason_says_why() -> None:
    assert "malformed" in if_match_problem("v3", CURRENT)
    assert '"v3"' in if_match_problem('"v2"', CURRENT)
    assert "does not match" in if_match_problem('"v2"', CURRENT)
