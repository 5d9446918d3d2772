"""Which images a set of services runs, and making sure those (and only those) exist.

`make up` used to pull or build every image any lesson might use, the Go build of
Toxiproxy and Zipkin's jars included. Now each start names its services, and
images/select.sh pulls or builds just their images: a lesson's on its first use.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from typing import Any

from comms_sandbox import REPO
from comms_sandbox.compose_model import load_model

SELECT = REPO / "images" / "select.sh"
# ${PROXY_IMAGE:-nginx:...} in an image name or a build argument.
VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+_(?:IMAGE|BASE))(?::-[^}]*)?\}")
# images/select.sh's name for the image each compose variable holds.
IMAGE_OF_VARIABLE = {"PROXY_IMAGE": "nginx", "LOADGEN_BASE": "loadgen"}


def image_name(variable: str) -> str:
    """The local image name for a compose variable: KAFKA_IMAGE -> kafka."""
    return IMAGE_OF_VARIABLE.get(variable, variable.removesuffix("_IMAGE").lower())


def variables_of(service: dict[str, Any]) -> set[str]:
    """The image variables a service's image and build arguments name."""
    build = service.get("build") or {}
    args = build.get("args", {}) if isinstance(build, dict) else {}
    texts = [str(service.get("image", "")), *map(str, args.values())]
    return {m["name"] for text in texts for m in VARIABLE.finditer(text)}


def images_for(services: Iterable[str]) -> list[str]:
    """The images (select.sh's names) that `services` run or are built on."""
    defined = load_model(REPO / "compose.yaml", REPO)["services"]
    found = {image_name(v) for name in services for v in variables_of(defined[name])}
    return sorted(found)


# The images this process made sure of already: a test session starts one lesson
# after another, and select.sh's cached builds of the same images took 5 to 15 s
# at each start.
ENSURED: set[str] = set()


def ensure_images(services: Iterable[str]) -> None:
    """Pull or build what `services` need (images/select.sh), each image once per
    process; CalledProcessError if not."""
    names = [name for name in images_for(services) if name not in ENSURED]
    if names:
        subprocess.run([str(SELECT), *names], cwd=REPO, check=True)
        ENSURED.update(names)
