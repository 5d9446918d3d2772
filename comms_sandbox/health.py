"""Is the sandbox up? Scenarios ask first, so a stopped sandbox gets advice, not a traceback."""

from collections.abc import Callable

import httpx

from comms_sandbox import config


class SandboxNotUpError(RuntimeError):
    """The sandbox does not answer where the scenario expects it."""


def require_lesson_service(what: str, answers: Callable[[], bool], lesson: str) -> None:
    """SandboxNotUpError naming the lesson to start when `answers()` is False."""
    if not answers():
        raise SandboxNotUpError(
            f"{what} does not answer: start the lesson with `make up LESSON={lesson}`."
        )


def require_proxy() -> None:
    if not config.ca_cert().exists():
        raise SandboxNotUpError(
            f"no local CA at {config.ca_cert()}: `make up` creates it (python -m proxy.certs)."
        )
    url = f"{config.proxy_http_url()}/nginx-health"
    try:
        response = httpx.get(url, timeout=3)
    except httpx.HTTPError as exc:
        raise SandboxNotUpError(
            f"the sandbox does not answer at {url} ({type(exc).__name__}). "
            "Start it with `make up` (or set PROXY_PORT if you moved the proxy)."
        ) from exc
    if response.status_code != 200:
        raise SandboxNotUpError(
            f"{url} answered {response.status_code}: the proxy is up but not healthy; "
            "see `make ps` and `make logs SERVICE=proxy`."
        )


def url_answers(url: str) -> bool:
    """True when a GET of `url` answers 200 within 3 s (HTTPS: trusting the local CA)."""
    try:
        return httpx.get(url, timeout=3, verify=config.tls_context()).status_code == 200
    except httpx.HTTPError:
        return False
