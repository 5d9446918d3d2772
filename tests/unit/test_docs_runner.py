"""The runner that executes lesson pages: parsing, matching, and failing when it should."""

from pathlib import Path

from tests.docs_runner import Command, check, console_commands, first_unmet_promise

PAGE = """# A lesson

```console
$ echo hello
hello
$ printf 'a\\nb\\nc\\n'
a
...
c
```

```sh
$ make up
not run
```

~~~console
$ echo "served by api-2 in 3 ms"
served by ... in ... ms
~~~
"""


def test_only_console_blocks_are_commands() -> None:
    commands = console_commands(PAGE)
    assert [c.command for c in commands] == [
        "echo hello",
        "printf 'a\\nb\\nc\\n'",
        'echo "served by api-2 in 3 ms"',
    ]
    assert commands[0].promised == ["hello"]
    assert commands[1].promised == ["a", "c"]
    assert commands[0].line == 4


def test_promises_match_in_order_with_wildcards() -> None:
    assert first_unmet_promise(["a", "c"], "a\nb\nc\n") is None
    assert first_unmet_promise(["served by ... in ... ms"], "served by api-2 in 3 ms") is None
    assert first_unmet_promise(["ok: True"], "  ok: True  \n") is None


def test_a_missing_or_misordered_promise_fails() -> None:
    assert first_unmet_promise(["ok: True"], "ok: False\n") == "ok: True"
    assert first_unmet_promise(["c", "a"], "a\nb\nc\n") == "a"
    assert first_unmet_promise(["served by ... ms"], "served by api-2 in 3 s") == (
        "served by ... ms"
    )


def test_a_failing_command_is_reported(tmp_path: Path) -> None:
    assert check(Command(1, "true"), tmp_path) is None
    assert "exited 3" in (check(Command(1, "exit 3"), tmp_path) or "")
    broken = check(Command(7, "echo nope", ["yes"]), tmp_path)
    assert broken is not None and "line 7" in broken and "'yes'" in broken
