"""The polling-and-push page in a real browser: four methods, one feed, a replica killed.

Debian's chromium (/usr/bin/chromium, installed by scripts/ensure-browser.sh)
driven by Playwright: nothing is downloaded, `playwright install` never runs.
The page (services/api/static/feed.html) follows the feed by short polling,
long polling, server-sent events and WebSocket through nginx; every panel
publishes its counts as data-* attributes, which this test reads. Every event
must reach every panel exactly once, also across the death of an api replica.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Error, Page
from testcontainers.compose import DockerCompose

from comms_sandbox import config, docker
from tests.integration.browser import NetworkChanges, goto

METHODS = ("short-poll", "long-poll", "sse", "websocket")
SCREENSHOT = config.RESULTS_DIR / "polling-and-push-browser.png"
VIEWPORT = {"width": 1440, "height": 900}

PanelState = dict[str, str]  # a panel's data-* attributes (camelCase, as dataset names them)

PANELS_JS = """() => Object.fromEntries([...document.querySelectorAll('.panel[data-method]')]
  .map(p => [p.dataset.method, {...p.dataset}]))"""


def panels(page: Page) -> dict[str, PanelState]:
    # page.evaluate, not wait_for_function: the page's own CSP forbids eval,
    # which Playwright's polling predicates need.
    return page.evaluate(PANELS_JS)


def describe(state: dict[str, PanelState]) -> str:
    keys = ("connected", "received", "lastId", "duplicates", "missing", "requests", "start")
    return "\n".join(
        f"  {method:<10} " + " ".join(f"{k}={s.get(k)!r}" for k in keys)
        for method, s in state.items()
    )


def wait_for_panels(
    page: Page, condition: Callable[[PanelState], bool], what: str, timeout_s: float
) -> dict[str, PanelState]:
    """Until every panel meets the condition; a failure shows every panel's counts."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = panels(page)
        if set(state) == set(METHODS) and all(condition(s) for s in state.values()):
            return state
        if time.monotonic() > deadline:
            pytest.fail(
                f"after {timeout_s:.0f} s, not every panel {what}:\n{describe(state)}",
                pytrace=False,
            )
        page.wait_for_timeout(100)  # lets Playwright deliver events meanwhile


def all_once_up_to(start: int, target: int) -> Callable[[PanelState], bool]:
    """Every feed event after `start` up to `target` (or later), each exactly once.

    With nobody else publishing, the panel then holds exactly target - start
    events; an event published meanwhile by someone else does not fail the test.
    """

    def met(s: PanelState) -> bool:
        last = int(s["lastId"] or start)
        return last >= target and s["received"] == str(last - start) and s["duplicates"] == "0"

    return met


def publish(client: httpx.Client, count: int, order_id: str) -> list[int]:
    """POST `count` events; their ids.

    Right after a replica dies, nginx may answer a POST with 502 (it had sent the
    request on a connection to the dead replica, and does not resend a POST by
    itself): the test sends it again. This test is about the receiving side: an
    event created twice would be one more event in the feed, which the panels
    must then show too.
    """
    statuses = ("placed", "paid", "packed", "shipped")
    ids = []
    for i in range(count):
        body = {"order_id": order_id, "status": statuses[i % len(statuses)]}
        deadline = time.monotonic() + 15
        while True:
            try:
                response = client.post("/feed/events", json=body)
            except httpx.TransportError as exc:
                failure = repr(exc)
            else:
                if response.status_code not in (502, 503, 504):
                    break
                failure = f"{response.status_code}: {response.text[:200]}"
            assert time.monotonic() < deadline, f"POST /feed/events keeps failing: {failure}"
            time.sleep(0.5)
        assert response.status_code == 201, (response.status_code, response.text)
        ids.append(response.json()["id"])
    return ids


PUBLISH_RESULT_JS = """() => {
  const result = document.getElementById('publish-result');
  const busy = document.getElementById('publish-ten').disabled;
  return {busy, published: Number(result.dataset.published || 0), text: result.textContent};
}"""
CLICKS = 3


def publish_ten_from_the_page(page: Page, network_changes: NetworkChanges) -> None:
    """Click "Publish 10" and wait until the page has published all ten.

    When the page reports a failure, the click is tried again (CLICKS in all) only if
    Chromium cut one of its POSTs because the host's addresses changed (the other
    test lane's lesson created its Docker network): that is the machine, not the
    page. Any other failure fails the test with the page's own words.
    """
    for click in range(1, CLICKS + 1):
        before = page.evaluate(PUBLISH_RESULT_JS)["published"]
        mark = len(network_changes.cut)
        page.click("#publish-ten")
        state = page_finished_publishing(page)
        if state["published"] - before == 10:
            return
        cut = [url for url in network_changes.since(mark) if url.endswith("/feed/events")]
        assert cut and click < CLICKS, (
            f"click {click}: {state['text']} (POSTs the machine cut: {len(cut)})"
        )
        print(f"click {click}: {state['text']}; Chromium cut {len(cut)} POST(s) with "
              "ERR_NETWORK_CHANGED: clicking again")  # fmt: skip


def page_finished_publishing(page: Page, timeout_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    page.wait_for_timeout(100)  # the click's handler has disabled the button
    while (state := page.evaluate(PUBLISH_RESULT_JS))["busy"]:
        assert time.monotonic() < deadline, f"still publishing: {state['text']}"
        page.wait_for_timeout(100)
    return state


class Replicas:
    """Which api replica served the page's long-lived connections (X-Served-By, seen by CDP)."""

    def __init__(self, page: Page) -> None:
        self.websocket: list[str] = []
        self.sse: list[str] = []
        cdp = page.context.new_cdp_session(page)
        cdp.on("Network.webSocketHandshakeResponseReceived", self._websocket)
        cdp.on("Network.responseReceived", self._response)
        cdp.send("Network.enable")

    @staticmethod
    def _served_by(response: dict[str, Any]) -> str | None:
        headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
        return headers.get("x-served-by")

    def _websocket(self, params: dict[str, Any]) -> None:
        if hostname := self._served_by(params["response"]):
            self.websocket.append(hostname)

    def _response(self, params: dict[str, Any]) -> None:
        if "/feed/stream" in params["response"]["url"] and (
            hostname := self._served_by(params["response"])
        ):
            self.sse.append(hostname)

    def victim(self) -> tuple[str, str]:
        """(container name, the panel it should disturb): the WebSocket's replica if the
        handshake names it, else the SSE stream's, else the first running replica (api-1)."""
        names = docker.names_by_hostname("api")
        for method, seen in (("websocket", self.websocket), ("sse", self.sse)):
            if seen and seen[-1] in names:
                return names[seen[-1]], method
        running = [c.name for c in docker.containers("api") if c.state == "running"]
        return running[0], ""


def test_every_method_gets_every_event_once_even_when_a_replica_dies(
    stack: DockerCompose, browser: Browser
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    replicas = Replicas(page)
    network_changes = NetworkChanges(page)
    client = httpx.Client(base_url=config.proxy_url(), verify=config.tls_context(), timeout=10)
    try:
        response = goto(page, f"{config.proxy_url()}/feed/")
        assert response is not None and response.status == 200
        assert response.headers["content-type"].startswith("text/html")
        wait_for_panels(page, lambda s: s["connected"] == "true", "connected", 20)
        start = int(page.evaluate("() => document.body.dataset.latestAtLoad"))

        publish_ten_from_the_page(page, network_changes)
        ids = publish(client, 5, "B-2002")
        # 15 events, ids start+1..start+15 unless someone else publishes too (or a
        # click the machine cut short published some before the next click).
        state = wait_for_panels(
            page, all_once_up_to(start, ids[-1]), "has the 15 events, once each", 20
        )

        victim, disturbed = replicas.victim()
        before = state
        print(f"killing {victim}, which served the page's {disturbed or 'polling'}")
        docker.kill(victim)
        try:
            ids = publish(client, 10, "C-3003")
            state = wait_for_panels(
                page,
                all_once_up_to(start, ids[-1]),
                f"has the 25 events, once each, after {victim} was killed",
                30,
            )
        finally:
            docker.start(victim)
            docker.wait_healthy(victim)
        # The kill cut the connections the victim held: every panel comes back.
        wait_for_panels(page, lambda s: s["connected"] == "true", "connected again", 20)

        for method, s in state.items():
            assert s["missing"] == "0", (method, s)
            assert int(s["received"]) >= 25, (method, s)
        if disturbed:  # the killed replica held that connection: the page opened another
            assert int(state[disturbed]["requests"]) > int(before[disturbed]["requests"]), (
                victim,
                disturbed,
                describe(state),
            )
        assert page_errors == []
    except BaseException:
        with contextlib.suppress(Error):
            screenshot(page)  # what the page showed when the test failed
        raise
    else:
        screenshot(page)
    finally:
        client.close()
        context.close()


def screenshot(page: Page) -> None:
    page.wait_for_timeout(300)  # the page repaints at most every 30 ms
    config.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
