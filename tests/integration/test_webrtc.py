"""WebRTC lesson on the real stack: signaling through nginx and the api, coturn, aiortc peers.

The lesson's TURN server sits behind the `webrtc` profile; conftest's
`lesson_services` starts it for this module. The peers are one-shot
containers on the networks rtc-a and rtc-b.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from comms_sandbox import ports, webrtc
from scenarios.result import ScenarioResult
from tests.helpers import failed
from tests.integration.browser import goto


def test_peers_on_one_network_connect_host_to_host_and_lose_nothing(
    result: ScenarioResult,
) -> None:
    direct = result.metrics["direct"]
    assert failed(direct) == [], direct
    assert direct["pair"]["local"]["type"] == "host"


def test_peers_that_cannot_reach_each_other_connect_only_through_turn(
    result: ScenarioResult,
) -> None:
    relayed = result.metrics["relayed"]
    assert failed(relayed) == [], relayed
    assert relayed["pair"]["remote"]["type"] == "relay"
    assert relayed["relayed_bytes"] > 0


def test_malformed_signaling_never_reaches_the_other_peer(result: ScenarioResult) -> None:
    refusals = result.metrics["refusals"]
    assert failed(refusals) == [], refusals


def test_turn_refuses_a_bad_credential(result: ScenarioResult) -> None:
    turn = result.metrics["refusals"]["turn"]
    assert turn["valid"]["allocated"] and not turn["wrong"]["allocated"], turn
    assert "401" in turn["wrong"]["error"]


# ---- a browser peer: Debian's chromium driven by Playwright (nothing downloaded)


def wait_for_result(page: Page, timeout_s: float) -> dict[str, Any]:
    """page.evaluate, not wait_for_function: the page's CSP forbids eval, which polling needs."""
    deadline = time.monotonic() + timeout_s
    while (result := page.evaluate("window.result")) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"no result after {timeout_s} s; the page says: {page.inner_text('#log')}")
        page.wait_for_timeout(100)
    return result


def test_a_browser_peer_and_a_python_peer_talk_over_a_relayed_data_channel(
    browser: Browser,
) -> None:
    """The page (/signal/) calls a Python peer through the sandbox's signaling; relay only."""
    room, reports = f"browser-{uuid.uuid4().hex[:6]}", {}
    answering = threading.Thread(target=lambda: reports.update(bob=webrtc.run_peer(
        "rtc-peer-a", "--room", room, "--peer", "bob", "--answer")))  # fmt: skip
    answering.start()
    time.sleep(webrtc.ANSWERER_HEAD_START_S)
    page = browser.new_page()
    # 127.0.0.1, not localhost: the TURN port is published on IPv4 loopback only.
    goto(page, f"https://{ports.HOST}:{ports.PROXY_TLS.port}/signal/?room={room}&call=bob"
              "&messages=30")  # fmt: skip
    # The page offers again for a minute while bob's container has not joined yet.
    result = wait_for_result(page, timeout_s=90)
    answering.join(timeout=60)
    assert result.get("answered") == 30, result
    assert (result["pair"]["local"], result["pair"]["remote"]) == ("relay", "relay"), result
    assert reports["bob"]["pair"]["local"]["type"] == "relay", reports
