"""The stack's Compose model read without Docker: compose.yaml, the lessons' files it
includes, and the service templates their services extend, merged as Compose merges them.

The host's tools and the policy tests read the stack here, so they see every service
whichever file declares it. What is resolved is what this repository uses:
- `include:` (a list of paths): each file's services, networks, volumes and secrets
  join the model; a service declared twice is an error, as it is for Compose;
- `extends:` (`service`, optionally `file`), chained: a service's own keys win over its
  template's, mappings merge key by key, lists are joined without repeats, and the
  keys Compose replaces whole (`command`, `entrypoint`, a healthcheck's `test`) are
  the service's own;
- relative host paths (bind mounts, build contexts) become relative to the
  repository root (`./scenarios/webrtc/turnserver.conf`), whichever file named them.
YAML anchors are resolved by the YAML parser, within one file, as Compose does.
An integration test compares the result with `docker compose config`.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from pathlib import Path
from typing import Any

import yaml

REPLACED_WHOLE = frozenset({"command", "entrypoint", "test"})
# ${NAME:-default} in a value: the model keeps it as written; with_defaults() reads
# it as Compose does when NAME is unset (the capture tool's network_mode, say).
VARIABLE_WITH_DEFAULT = re.compile(r"\$\{[A-Za-z0-9_]+:-([^}]*)\}")
TOP_LEVEL_RESOURCES = ("networks", "volumes", "secrets")


class ComposeModelError(ValueError):
    """The files do not make one model (a service declared twice, a missing template)."""


def with_defaults(value: Any) -> Any:
    """A string with every ${NAME:-default} replaced by its default; anything else as is."""
    return VARIABLE_WITH_DEFAULT.sub(lambda m: m[1], value) if isinstance(value, str) else value


def merge(base: Any, own: Any, key: str = "") -> Any:
    """`own` over `base`, as Compose's `extends` merges a service over its template."""
    if isinstance(base, dict) and isinstance(own, dict):
        merged = dict(base)
        for name, value in own.items():
            merged[name] = merge(base[name], value, name) if name in base else value
        return merged
    if isinstance(base, list) and isinstance(own, list) and key not in REPLACED_WHOLE:
        return base + [item for item in own if item not in base]
    return own


def repo_relative(value: str, folder: Path, repo: Path) -> str:
    """A path written relative to `folder`, rewritten relative to `repo` (./...)."""
    resolved = Path(os.path.normpath(folder / value))
    return "./" + resolved.relative_to(repo).as_posix() if resolved != repo else "."


def relocate_volume(volume: Any, folder: Path, repo: Path) -> Any:
    """A bind mount's host path made repo-relative; named volumes are left alone."""
    if isinstance(volume, str) and volume.startswith("."):
        source, _, rest = volume.partition(":")
        return f"{repo_relative(source, folder, repo)}:{rest}" if rest else volume
    if isinstance(volume, dict) and str(volume.get("source", "")).startswith("."):
        return {**volume, "source": repo_relative(volume["source"], folder, repo)}
    return volume


def relocate_paths(service: dict[str, Any], folder: Path, repo: Path) -> dict[str, Any]:
    """Every relative host path of a service, as seen from the repository root."""
    service = dict(service)
    if "volumes" in service:
        service["volumes"] = [relocate_volume(v, folder, repo) for v in service["volumes"]]
    build = service.get("build")
    if isinstance(build, dict) and "context" in build:
        service["build"] = {**build, "context": repo_relative(build["context"], folder, repo)}
    return service


def read_yaml(path: Path) -> dict[str, Any]:
    """The file as data: parsed once while it is unchanged (every service and template
    of a file is resolved from it), a fresh copy each time."""
    return copy.deepcopy(parsed(path.resolve(), path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=64)
def parsed(path: Path, mtime_ns: int) -> dict[str, Any]:
    """The parsed file; `mtime_ns` is only part of the cache key: a changed file is read anew."""
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ComposeModelError(f"{path}: not a Compose file")
    return data


def resolve_service(path: Path, name: str, repo: Path, seen: tuple[str, ...] = ()) -> dict:
    """Service `name` of the file at `path`, its `extends` chain merged in."""
    key = f"{path}:{name}"
    if key in seen:
        raise ComposeModelError(f"extends loops: {' -> '.join((*seen, key))}")
    services = read_yaml(path).get("services") or {}
    if name not in services:
        raise ComposeModelError(f"{path}: no service {name!r} to extend")
    own = relocate_paths(services[name], path.parent, repo)
    extends = own.pop("extends", None)
    if extends is None:
        return own
    if isinstance(extends, str):
        extends = {"service": extends}
    template_file = (path.parent / extends["file"]).resolve() if "file" in extends else path
    template = resolve_service(template_file, extends["service"], repo, (*seen, key))
    return merge(template, own)


def included_paths(path: Path, data: dict[str, Any]) -> list[Path]:
    """The files `data` (read from `path`) includes, in order."""
    entries = data.get("include") or []
    return [(path.parent / (e if isinstance(e, str) else e["path"])).resolve() for e in entries]


def load_model(path: Path, repo: Path | None = None) -> dict[str, Any]:
    """The file at `path` with what it includes and extends, as one Compose model.

    Each service also gets `x-file`: the repository-relative file that declares it.
    """
    path = path.resolve()
    repo = (repo or path.parent).resolve()
    data = read_yaml(path)
    model: dict[str, Any] = {k: v for k, v in data.items() if k != "include"}
    model["services"] = {}
    for included in included_paths(path, data):
        add_model(model, load_model(included, repo), included)
    for name in data.get("services") or {}:
        if name in model["services"]:
            raise ComposeModelError(f"service {name!r} is declared twice ({path})")
        service = resolve_service(path, name, repo)
        service["x-file"] = path.relative_to(repo).as_posix()
        model["services"][name] = service
    return model


def add_model(model: dict[str, Any], included: dict[str, Any], path: Path) -> None:
    """An included file's services and resources into `model` (a clash is an error)."""
    for name, service in included["services"].items():
        if name in model["services"]:
            raise ComposeModelError(f"service {name!r} of {path} is declared twice")
        model["services"][name] = service
    for kind in TOP_LEVEL_RESOURCES:
        ours = model.setdefault(kind, {}) if included.get(kind) else model.get(kind, {})
        for name, resource in (included.get(kind) or {}).items():
            if name in ours and ours[name] != resource:
                raise ComposeModelError(f"{kind} {name!r} of {path} conflicts")
            ours[name] = resource
