"""Whatever JSON or size a client sends, the api answers 4xx with a reason, never 5xx."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.guards import MAX_BODY_BYTES, MAX_HEADER_BYTES, json_safe
from api.main import app

JSON = {"content-type": "application/json"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "body",
    [
        b'{"sku": "BOOK-42", "quantity": NaN}',
        b'{"sku": "BOOK-42", "quantity": Infinity}',
        b'{"sku": "BOOK-42", "quantity": -Infinity}',
        b'{"sku": "BOOK-42", "quantity": 1e400}',
        b'{"sku": "BOOK-42", "quantity": 123456789012345678901234567890}',
        b'{"sku": 5, "quantity": "x"}',
        b'{"sku": "' + b"A" * 200_000 + b'", "quantity": 1}',
        b"[" * 5_000 + b"]" * 5_000,
        b'{"sku": "\xff\xfe", "quantity": 1}',
        b"not json",
        b"",
        b"null",
    ],
)
def test_any_json_body_is_a_4xx_with_a_reason(client: TestClient, body: bytes) -> None:
    for path in ("/quotes", "/orders", "/feed/events"):
        response = client.post(path, content=body, headers=JSON)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        assert response.json()["detail"]


def test_a_body_over_the_limit_is_413_declared_or_streamed(client: TestClient) -> None:
    big = b"x" * (MAX_BODY_BYTES + 1)
    assert client.post("/quotes", content=big, headers=JSON).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the api counts as it reads
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536

    streamed = client.post("/quotes", content=chunks(), headers=JSON)
    assert streamed.status_code == 413
    assert streamed.json()["detail"] == "Content Too Large"


def test_headers_over_the_limit_are_431(client: TestClient) -> None:
    response = client.get("/whoami", headers={"x-padding": "a" * (MAX_HEADER_BYTES + 1)})
    assert response.status_code == 431


def test_echoed_inputs_are_json_safe_and_short() -> None:
    assert json_safe(float("nan")) == "nan"
    assert json_safe(3) == 3
    assert len(json_safe("x" * 10_000)) <= 210
