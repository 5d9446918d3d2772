"""A fixed delay for the packets an iptables NFQUEUE rule hands to this process.

This kernel has no netem, so `tc qdisc ... netem delay` is not there to give a
path its round trip. iptables' NFQUEUE target is: it parks each matching packet
in the kernel and tells a process about it over netlink (NETLINK_NETFILTER,
nfnetlink_queue); the packet moves on only when the process gives its verdict.
Giving NF_ACCEPT `delay_s` after the packet came is a delay line, packets in
their order. Only the packet's id is copied to this process (NFQNL_COPY_META),
never its bytes. The rule's `--queue-bypass` lets packets through undelayed
whenever no process is bound to the queue.

The messages (linux/netfilter/nfnetlink_queue.h): a netlink header, an
nfgenmsg whose res_id is the queue number, then attributes (type, length,
payload padded to 4 bytes).
"""

from __future__ import annotations

import collections
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
MSG_PACKET, MSG_VERDICT, MSG_CONFIG = 0, 1, 2
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
CFG_CMD, CFG_PARAMS = 1, 2  # NFQA_CFG_*
CMD_BIND, COPY_META = 1, 1
PACKET_HDR, VERDICT_HDR = 1, 2  # NFQA_PACKET_HDR, NFQA_VERDICT_HDR
NF_ACCEPT = 1
HEADER = struct.Struct("=IHHII")  # struct nlmsghdr
RECEIVE_BYTES = 1 << 16


def attribute(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def message(kind: int, queue: int, attributes: list[bytes], flags: int = NLM_F_REQUEST) -> bytes:
    """One nfnetlink_queue message: nlmsghdr, nfgenmsg (AF_UNSPEC, version 0, the queue
    number in network order), then the attributes."""
    body = struct.pack("=BB", socket.AF_UNSPEC, 0) + struct.pack("!H", queue)
    body += b"".join(attributes)
    return HEADER.pack(HEADER.size + len(body), NFNL_SUBSYS_QUEUE << 8 | kind, flags, 0, 0) + body


def packet_ids(data: bytes) -> Iterator[int]:
    """The ids of the packets announced in one netlink read; OSError for an error answer."""
    offset = 0
    while offset + HEADER.size <= len(data):
        length, kind, _, _, _ = HEADER.unpack_from(data, offset)
        if kind == NLMSG_ERROR:
            error = struct.unpack_from("=i", data, offset + HEADER.size)[0]
            if error:
                raise OSError(-error, "nfnetlink_queue refused a request")
        elif kind == NFNL_SUBSYS_QUEUE << 8 | MSG_PACKET:
            yield from _packet_id(data, offset + HEADER.size + 4, offset + length)
        offset += (length + 3) & ~3


def _packet_id(data: bytes, start: int, end: int) -> Iterator[int]:
    while start + 4 <= end:
        length, kind = struct.unpack_from("=HH", data, start)
        if kind & 0x7FFF == PACKET_HDR:
            yield struct.unpack_from("!I", data, start + 4)[0]
            return
        start += max(4, (length + 3) & ~3)


class DelayLine:
    """Holds every packet of NFQUEUE `queue` for `delay_s`, in a thread of its own."""

    def __init__(self, queue: int, delay_s: float) -> None:
        self.queue, self.delay_s = queue, delay_s
        self.held: collections.deque[tuple[float, int]] = collections.deque()
        self.delayed = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> DelayLine:
        self.sock.bind((0, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        bind = struct.pack("=BB", CMD_BIND, 0) + struct.pack("!H", socket.AF_INET)
        self._configure(attribute(CFG_CMD, bind))
        self._configure(attribute(CFG_PARAMS, struct.pack("!IB", 0, COPY_META)))
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()  # unbinds: the rule's --queue-bypass lets packets through again

    def _configure(self, setting: bytes) -> None:
        self.sock.send(message(MSG_CONFIG, self.queue, [setting], NLM_F_REQUEST | NLM_F_ACK))
        list(packet_ids(self.sock.recv(RECEIVE_BYTES)))  # raises on an error answer

    def _serve(self) -> None:
        while not self.stopping.is_set():
            wait = self.held[0][0] - time.monotonic() if self.held else 0.1
            ready, _, _ = select.select([self.sock], [], [], max(0.0, min(wait, 0.1)))
            if ready:
                arrived = time.monotonic()
                for packet in packet_ids(self.sock.recv(RECEIVE_BYTES)):
                    self.held.append((arrived + self.delay_s, packet))
                    self.delayed += 1
            self._release(time.monotonic())
        self._release(float("inf"))

    def _release(self, now: float) -> None:
        while self.held and self.held[0][0] <= now:
            _, packet = self.held.popleft()
            verdict = attribute(VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet))
            self.sock.send(message(MSG_VERDICT, self.queue, [verdict]))
