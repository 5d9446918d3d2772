"""RFC 8470 in the api: unsafe requests that came in early data get 425 and run nothing."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.early_data import refused_as_too_early
from api.main import app

EARLY = {"early-data": "1"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_an_unsafe_request_in_early_data_is_425_with_a_reason(client: TestClient) -> None:
    # An invalid body would be a 422 if the route ran: 425 shows it did not.
    response = client.post("/orders", content=b"not json", headers=EARLY)
    assert response.status_code == 425
    assert "early data" in response.json()["detail"]
    assert response.headers["x-served-by"]


def test_a_safe_request_in_early_data_is_served(client: TestClient) -> None:
    assert client.get("/whoami", headers=EARLY).status_code == 200


def test_without_the_header_the_same_request_runs(client: TestClient) -> None:
    assert client.post("/orders", content=b"not json").status_code == 422


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("POST", [(b"early-data", b"1")], True),
        ("DELETE", [(b"early-data", b"1")], True),
        ("PUT", [(b"early-data", b" 1 ")], True),
        ("GET", [(b"early-data", b"1")], False),
        ("HEAD", [(b"early-data", b"1")], False),
        ("POST", [(b"early-data", b"0")], False),
        ("POST", [], False),
    ],
)
def test_which_requests_are_too_early(
    method: str, headers: list[tuple[bytes, bytes]], refused: bool
) -> None:
    assert refused_as_too_early(method, headers) is refused
