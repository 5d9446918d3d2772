"""HTTP/1.1, HTTP/2 and HTTP/3 through the real nginx, 0-RTT, and TCP next to UDP.

Most assertions are on the lesson's run(); a few talk to the proxy directly.
The echo service sits behind the `http-versions` profile; conftest's
`lesson_services` starts it for this module (as `make up LESSON=http-versions` does)
and stops it after.
"""

from __future__ import annotations

import json

import httpx

from comms_sandbox import config, http3
from comms_sandbox.http3 import H3Session
from scenarios.result import ScenarioResult
from tests.helpers import assert_holds, failed


def test_an_http3_get_through_the_proxy_is_version_3() -> None:
    exchange = http3.get("/whoami")
    assert exchange.status == 200
    assert json.loads(exchange.body)["headers"]["x-forwarded-proto"] == "https"


def test_http1_and_http2_answers_advertise_h3_on_the_same_port() -> None:
    for http2 in (False, True):
        with httpx.Client(verify=config.tls_context(), http1=not http2, http2=http2) as client:
            response = client.get(f"{config.proxy_url()}/whoami")
        assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
        assert response.headers["alt-svc"] == 'h3=":8443"; ma=86400'


def test_a_resumed_connection_sends_a_get_in_early_data_and_it_is_served() -> None:
    with H3Session.open(http3.fetch_ticket()) as session:
        get = session.request("GET", "/whoami")
        session.run_until(lambda: get.finished() and session.handshake_done())
        assert session.early_data_accepted and session.resumed
        assert get.flights_before_sent == 0 and get.status == 200
        assert json.loads(get.body)["headers"]["early-data"] == "1"


def test_a_post_in_early_data_gets_425_and_after_the_handshake_it_runs() -> None:
    body, headers = b"not json", [("content-type", "application/json")]
    with H3Session.open(http3.fetch_ticket()) as session:
        early = session.request("POST", "/orders", headers, body)
        session.run_until(lambda: early.finished() and session.handshake_done())
        later = session.request("POST", "/orders", headers, body)
        session.run_until(later.finished)
    assert (early.status, later.status) == (425, 422)  # 422: it ran, and refused the body


def test_a_client_cannot_fake_the_early_data_header(proxy: httpx.Client) -> None:
    response = proxy.post("/orders", content=b"not json", headers={"early-data": "1"})
    assert response.status_code == 422


def test_negotiation_and_connections_hold(result: ScenarioResult) -> None:
    negotiation = result.metrics["negotiation"]
    assert failed(negotiation) == [], negotiation["clients"]


def test_handshake_round_trips_hold(result: ScenarioResult) -> None:
    handshakes = result.metrics["handshakes"]
    assert failed(handshakes) == [], handshakes["paths"]


def test_zero_rtt_replay_is_refused_and_one_order_placed(result: ScenarioResult) -> None:
    zero_rtt = result.metrics["zero_rtt"]
    assert failed(zero_rtt) == [], zero_rtt["nginx"]


def test_head_of_line_blocking_on_http1_only(result: ScenarioResult) -> None:
    head_of_line = result.metrics["head_of_line"]
    assert failed(head_of_line) == [], head_of_line["clients"]


def test_tcp_and_udp_contrast(result: ScenarioResult) -> None:
    tcp_udp = result.metrics["tcp_udp"]
    assert failed(tcp_udp) == [], tcp_udp


def test_bad_quic_input_is_refused_and_others_are_served(result: ScenarioResult) -> None:
    refusals = result.metrics["refusals"]
    assert failed(refusals) == [], refusals


def test_the_scenario_holds_as_a_whole(result: ScenarioResult) -> None:
    assert_holds(result)
