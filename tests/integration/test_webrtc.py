"""WebRTC lesson on the real stack: signaling through nginx and the api, coturn, aiortc peers.

The lesson's TURN server sits behind the `webrtc` profile; conftest's
`lesson_services` starts it for this module. The peers are one-shot
containers on the networks rtc-a and rtc-b.
"""

from __future__ import annotations

from scenarios.result import ScenarioResult
from tests.helpers import failed


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
