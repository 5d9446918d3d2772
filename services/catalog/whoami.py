"""Two TCP listeners that tell a client which address they see: the PROXY protocol part.

Port 9000 answers with its TCP peer's address: behind a layer-4 proxy that is
the proxy's. Port 9001 expects the PROXY protocol (version 1, a text line that
nginx's `proxy_protocol on` sends first: "PROXY TCP4 <client> <proxy> <client
port> <proxy port>\\r\\n", at most 107 bytes) and answers with the client's
address from it. Each answer is one JSON line, also logged on stdout. A line
that is not a PROXY header gets an error line and the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

PLAIN_PORT, PROXY_PROTOCOL_PORT = 9000, 9001
MAX_HEADER = 107  # the v1 header's longest form, CRLF included (the spec's figure)
HEADER_TIMEOUT_S = 2.0
MAX_SEEN = 100
seen: list[dict[str, Any]] = []  # the last MAX_SEEN answers, newest last


async def start() -> list[asyncio.Server]:
    plain = await asyncio.start_server(answer_plain, "0.0.0.0", PLAIN_PORT, limit=MAX_HEADER)
    proxied = await asyncio.start_server(answer_proxied, "0.0.0.0", PROXY_PROTOCOL_PORT,
                                         limit=MAX_HEADER)  # fmt: skip
    return [plain, proxied]


def parse_v1(line: bytes) -> tuple[str, int]:
    """The client's address and port from a PROXY v1 line; ValueError if it is not one."""
    if len(line) > MAX_HEADER or not line.endswith(b"\r\n"):
        raise ValueError("not a PROXY v1 line (too long or no CRLF)")
    parts = line[:-2].decode("ascii").split(" ")
    if parts[0] != "PROXY" or len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
        raise ValueError(f"not a PROXY v1 TCP header: {line[:60]!r}")
    family = socket.AF_INET if parts[1] == "TCP4" else socket.AF_INET6
    socket.inet_pton(family, parts[2])  # raises OSError (a ValueError here) if malformed
    port = int(parts[4])
    if not 0 < port < 65536:
        raise ValueError(f"bad source port {port}")
    return parts[2], port


async def answer_plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    peer = writer.get_extra_info("peername")[:2]
    await reply(writer, {"port": PLAIN_PORT, "peer": peer[0], "client": peer[0],
                         "client_port": peer[1], "proxy_protocol": False})  # fmt: skip


async def answer_proxied(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    peer = writer.get_extra_info("peername")[:2]
    try:
        line = await asyncio.wait_for(reader.readuntil(b"\r\n"), HEADER_TIMEOUT_S)
        client, port = parse_v1(line)
    except (ValueError, OSError, UnicodeDecodeError, TimeoutError,
            asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:  # fmt: skip
        await reply(writer, {"port": PROXY_PROTOCOL_PORT, "peer": peer[0],
                             "error": f"PROXY header refused: {error}"})  # fmt: skip
        return
    await reply(writer, {"port": PROXY_PROTOCOL_PORT, "peer": peer[0], "client": client,
                         "client_port": port, "proxy_protocol": True})  # fmt: skip


async def reply(writer: asyncio.StreamWriter, answer: dict[str, Any]) -> None:
    answer["replica"] = socket.gethostname()
    seen.append(answer)
    del seen[:-MAX_SEEN]
    print("whoami:", json.dumps(answer), flush=True)
    writer.write(json.dumps(answer).encode() + b"\n")
    try:
        await writer.drain()
    finally:
        writer.close()
