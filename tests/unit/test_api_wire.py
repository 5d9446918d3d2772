"""POST /wire/read in process (no Docker): both formats read alike, bad bodies get a reason."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sandbox.wire.v1 import basket_pb2

from api.main import app
from scenarios.on_the_wire.reading import basket, encoded, server_timing

PROTOBUF = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_same_basket_reads_alike_as_json_and_as_protobuf(client: TestClient) -> None:
    items = basket(4096)
    bodies = encoded(items)
    answers = {kind: client.post("/wire/read", content=body,
                                 headers=JSON if kind == "json" else PROTOBUF)
               for kind, body in bodies.items()}  # fmt: skip
    total = sum(item["quantity"] * item["price_cents"] for item in items)
    for kind, response in answers.items():
        answer = response.json()
        assert response.status_code == 200, response.text
        assert (answer["format"], answer["items"], answer["total_cents"]) == (
            kind,
            len(items),
            total,
        )
        assert answer["body_bytes"] == len(bodies[kind])
        stages = server_timing(response.headers["server-timing"])
        assert set(stages) == {"read", "decode", "validate", "handle", "encode"}


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [(b"\xff\xff", PROTOBUF, 400, "not a sandbox.wire.v1.Basket"),
     (b"{bad", JSON, 400, "not JSON"),
     (b"\x80", JSON, 400, "not JSON"),
     (b"[" * 100_000, JSON, 400, "nested too deeply"),
     (b"[1]", JSON, 422, 'one field, "items"'),
     (b'{"items": [1]}', JSON, 422, "list of objects"),
     (b'{"items": [{"sku": "BOOK-42", "quantity": true, "price_cents": 1}]}', JSON, 422,
      "item 0: quantity"),
     (b'{"items": [{"sku": "BOOK-42", "quantity": 1, "price_cents": 1, "x": 1}]}', JSON, 422,
      "unknown fields"),
     (basket_pb2.Basket(items=[basket_pb2.Item(sku="BOOK-42")]).SerializeToString(), PROTOBUF,
      422, "item 0: quantity"),
     (b"{}", {"content-type": "text/plain"}, 415, "Content-Type must be"),
     (b"{}", {}, 415, "not none")],
)  # fmt: skip
def test_a_bad_body_gets_its_4xx_and_a_reason(
    client: TestClient, body: bytes, headers: dict[str, str], status: int, reason: str
) -> None:
    response = client.post("/wire/read", content=body, headers=headers)
    assert response.status_code == status
    assert reason in response.json()["detail"]


def test_more_items_than_allowed_are_refused_in_either_format(client: TestClient) -> None:
    item = {"sku": "B42", "quantity": 1, "price_cents": 1}
    many = json.dumps({"items": [item] * 20_001}, separators=(",", ":"))  # under 1 MiB
    as_json = client.post("/wire/read", content=many, headers=JSON)
    message = basket_pb2.Basket(items=[basket_pb2.Item(**item)] * 20_001)
    as_protobuf = client.post("/wire/read", content=message.SerializeToString(), headers=PROTOBUF)
    for response in (as_json, as_protobuf):
        assert response.status_code == 422
        assert "more than 20000 items" in response.json()["detail"]


def test_paced_bytes_come_whole_with_their_length(client: TestClient) -> None:
    response = client.get("/wire/bytes", params={"size": 10_000, "chunk": 1000, "every_ms": 1})
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content) == 10_000
    stamps = [int.from_bytes(response.content[at : at + 8], "big") for at in range(0, 10_000, 1000)]
    assert stamps == sorted(stamps) and stamps[-1] - stamps[0] >= 9 * 1_000_000  # 9 pauses of 1 ms


@pytest.mark.parametrize(
    "params",
    [{"size": 0}, {"size": 5 * 1024 * 1024}, {"size": 10, "chunk": 0},
     {"size": 10, "every_ms": 1001}, {"size": 4_000_000, "chunk": 1, "every_ms": 1}],
)  # fmt: skip
def test_paced_bytes_out_of_range_are_a_422(client: TestClient, params: dict[str, int]) -> None:
    response = client.get("/wire/bytes", params=params)
    assert response.status_code == 422
    assert response.json()["detail"]
