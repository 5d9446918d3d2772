"""WebRTC signaling: the messages peers exchange through the api, checked before they travel.

Peers join a room over the api's WebSocket and send each other offers,
answers and ICE candidates (RFC 8829's JSEP, in the shape browsers use).
The api never interprets a session: it checks that a message is well formed
and addressed to a peer of the room, then hands it to that peer through
Redis, whichever replica holds the peer's connection. A message that fails a
check is answered with an error to its sender and goes nowhere else.

TURN credentials are the TURN REST API's time-limited ones
(draft-uberti-behave-turn-rest): username "<expiry>:<peer>", password
base64(HMAC-SHA1(secret, username)); coturn checks them with the same shared
secret (use-auth-secret) and refuses them once expired.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

# A whole WebSocket message: the api's uvicorn closes bigger frames (--ws-max-size,
# 1009). A data-channel offer with its candidates is about 1 to 2 KiB.
MAX_FRAME_BYTES = 4096
MAX_SDP_BYTES = 3800
MAX_CANDIDATE_CHARS = 512  # an ICE candidate line is about 100
MAX_PEERS = 8  # per room
CREDENTIAL_TTL_S = 600

PeerId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
RoomId = PeerId


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Description(_Message):
    """An offer or an answer: a session description (SDP) for one peer."""

    type: Literal["offer", "answer"]
    to: PeerId
    sdp: Annotated[str, StringConstraints(max_length=MAX_SDP_BYTES, pattern=r"^v=0\r?\n")]


class Candidate(_Message):
    """One ICE candidate (trickle ICE); an empty candidate means "no more"."""

    type: Literal["candidate"]
    to: PeerId
    candidate: Annotated[
        str, StringConstraints(max_length=MAX_CANDIDATE_CHARS, pattern=r"^(candidate:[ -~]+)?$")
    ]
    sdpMid: Annotated[str, StringConstraints(max_length=32)] | None = None  # noqa: N815 - the browser's name
    sdpMLineIndex: Annotated[int, Field(ge=0, le=15)] | None = None  # noqa: N815


class Note(_Message):
    """A short text for another peer, carried by the server (the lesson compares this path
    with the data channel's)."""

    type: Literal["message"]
    to: PeerId
    data: Annotated[str, StringConstraints(max_length=1024)]


class Bye(_Message):
    type: Literal["bye"]
    to: PeerId


class Ping(_Message):
    type: Literal["ping"]


Message = Annotated[Description | Candidate | Note | Bye | Ping, Field(discriminator="type")]
MESSAGE = TypeAdapter(Message)


class InvalidSignalError(ValueError):
    """A message that will not be forwarded; the reason goes back to its sender."""


def parse(text: str | None) -> Description | Candidate | Note | Bye | Ping:
    """A client's WebSocket text frame as a message, or InvalidSignalError saying why not."""
    if text is None:
        raise InvalidSignalError("binary frames are not supported: send JSON text")
    if len(text.encode()) > MAX_FRAME_BYTES:
        raise InvalidSignalError(f"message over {MAX_FRAME_BYTES} bytes")
    try:
        return MESSAGE.validate_python(json.loads(text))
    except json.JSONDecodeError as exc:
        raise InvalidSignalError(f"not JSON: {exc.msg} at position {exc.pos}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "message"
        raise InvalidSignalError(f"{where}: {first['msg']}") from None


def forwarded(message: Description | Candidate | Note | Bye, sender: str) -> dict[str, Any]:
    """What the addressee receives: the message, with who sent it instead of whom it is for."""
    return {**message.model_dump(exclude={"to"}, exclude_none=True), "from": sender}


def turn_credentials(secret: bytes, peer: str, now: float | None = None,
                     ttl_s: int = CREDENTIAL_TTL_S) -> dict[str, Any]:  # fmt: skip
    """Time-limited TURN credentials for `peer` (the TURN REST API scheme coturn checks)."""
    expiry = int((now if now is not None else time.time()) + ttl_s)
    username = f"{expiry}:{peer}"
    digest = hmac.new(secret, username.encode(), hashlib.sha1).digest()
    return {"username": username, "credential": base64.b64encode(digest).decode(), "ttl": ttl_s}
