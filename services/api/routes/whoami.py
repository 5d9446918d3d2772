"""/whoami: which replica answered, and what the proxy told it about the request."""

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.identity import HOSTNAME, PID

router = APIRouter(tags=["identity"])


class WhoAmI(BaseModel):
    hostname: str
    pid: int
    peer: str | None  # the TCP peer: the proxy, not the client
    peer_port: int | None  # one value per TCP connection the request came on
    scheme: str  # "https" only where this process itself terminated TLS
    headers: dict[str, str]


@router.get("/whoami", summary="Replica identity and the headers the proxy forwarded")
async def whoami(request: Request) -> WhoAmI:
    return WhoAmI(
        hostname=HOSTNAME,
        pid=PID,
        peer=request.client.host if request.client else None,
        peer_port=request.client.port if request.client else None,
        scheme=request.url.scheme,
        headers=dict(request.headers),
    )
