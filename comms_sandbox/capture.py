"""Packet captures inside a container's network namespace, and reading them back.

`capturing(target, path)` runs dumpcap in the `capture` tool (scenarios/on_the_wire/
compose.yaml): a one-shot container that shares `target`'s network namespace, so
it sees exactly the packets that container sends and receives, on every interface.
It holds NET_RAW, the only capability any sandbox service has, only while it runs.
dumpcap writes pcapng to its stdout; the file on the host is the user's own.

`packets(path, keylog)` reads a capture back with tshark in the `pcap-reader` tool
(no network): one Packet per frame, with TLS and QUIC decrypted where `keylog`
(the NSS key log the sandbox's clients wrote: SSLKEYLOGFILE) has the secrets.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from comms_sandbox import REPO, docker
from comms_sandbox.compose import compose, compose_env, profile_flags
from comms_sandbox.images import ensure_images

# What a capture may be sent: dumpcap's own limits, so a forgotten capture cannot
# fill the disk. 64 MiB is thousands of handshakes; -a stops it, and says so.
MAX_FILE_KIB = 65536
MAX_SECONDS = 600
# dumpcap opens its packet socket, then reports "Capturing on ..." on stderr: the
# capture starts missing nothing only after that line (measured: about 0.3 s).
STARTED_LINE = "Capturing on"
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 15
KEYLOG_VARIABLE = "SSLKEYLOGFILE"


class CaptureError(RuntimeError):
    """dumpcap did not start, or tshark could not read a capture."""


def dumpcap_args(interface: str = "any", capture_filter: str | None = None) -> list[str]:
    """dumpcap's arguments: pcapng to stdout, bounded in size and time."""
    bounded = ["-a", f"filesize:{MAX_FILE_KIB}", "-a", f"duration:{MAX_SECONDS}"]
    chosen = ["-f", capture_filter] if capture_filter else []
    return ["-i", interface, "-q", *bounded, *chosen, "-w", "-"]


@contextmanager
def capturing(target: str, path: Path, capture_filter: str | None = None) -> Iterator[Path]:
    """Capture `target`'s traffic (a container name) into `path` (pcapng) while inside."""
    ensure_images(["capture"])
    path.parent.mkdir(parents=True, exist_ok=True)
    name = f"sandbox-capture-{uuid.uuid4().hex[:8]}"
    command = ["docker", "compose", *profile_flags(["capture"]), "run", "--rm", "-T",
               "--no-deps", "--name", name, "capture",
               *dumpcap_args(capture_filter=capture_filter)]  # fmt: skip
    env = compose_env() | {"CAPTURE_TARGET": target}
    with path.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out,
                                   stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            _wait_started(process)
            yield path
        finally:
            _stop(process, name)


def _wait_started(process: subprocess.Popen[str]) -> None:
    assert process.stderr is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if line.startswith(STARTED_LINE):
            return
    raise CaptureError(f"dumpcap did not start: {''.join(seen)[-2000:]}")


def _stop(process: subprocess.Popen[str], name: str) -> None:
    """SIGINT: dumpcap finishes its last block, so the file is whole."""
    if process.poll() is None:
        # Already gone: it stopped by itself at a limit (-a), and said so on stderr.
        with suppress(docker.DockerError):
            docker.send_signal(name, "INT")
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()


@dataclass
class Packet:
    """One frame as tshark dissected it; lists hold every occurrence in the frame."""

    number: int
    time: float
    src: str
    dst: str
    sport: int
    dport: int
    transport: str  # "tcp" or "udp"
    stream: int  # tshark's tcp.stream or udp.stream
    flags: str = ""  # TCP: "SA", "A", "PA", "FA", "R"...
    payload: int = 0  # bytes of TCP or UDP payload
    tls_handshake: list[int] = field(default_factory=list)  # message types (1: ClientHello)
    tls_content: list[int] = field(default_factory=list)  # record types, inner if decrypted
    quic_long: list[int] = field(default_factory=list)  # long-header packet types
    quic_frames: list[int] = field(default_factory=list)  # frame types (decrypted)
    quic_streams: list[int] = field(default_factory=list)  # STREAM frames' stream ids
    # Hello randoms, hex: a ClientHello's names its connection in an NSS key log.
    tls_random: list[str] = field(default_factory=list)

    @property
    def endpoints(self) -> tuple[tuple[str, int], tuple[str, int]]:
        return (self.src, self.sport), (self.dst, self.dport)


FIELDS = (
    "frame.number", "frame.time_epoch", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport",
    "udp.srcport", "udp.dstport", "tcp.stream", "udp.stream", "tcp.flags", "tcp.len",
    "udp.length", "tls.handshake.type", "tls.record.content_type", "quic.long.packet_type",
    "quic.frame_type", "quic.stream.stream_id", "tls.handshake.random",
)  # fmt: skip


def read_args(pcap: str, keylog: str | None) -> list[str]:
    """tshark reading `pcap` (a path inside pcap-reader), decrypting with `keylog` if any."""
    keys = ["-o", f"tls.keylog_file:{keylog}"] if keylog else []
    return ["-r", pcap, "-n", *keys]


def tshark_args(pcap: str, keylog: str | None) -> list[str]:
    """tshark's arguments for FIELDS, tab-separated, every occurrence comma-joined."""
    fields = [arg for name in FIELDS for arg in ("-e", name)]
    return [*read_args(pcap, keylog), "-T", "fields", "-E", "separator=/t",
            "-E", "occurrence=a", "-E", "aggregator=,", *fields]  # fmt: skip


def packets(pcap: Path, keylog: Path | None = None) -> list[Packet]:
    """Every IPv4 TCP or UDP frame of `pcap`, decrypted with `keylog` where it can be."""
    return parse_fields(tshark(pcap, tshark_args(*inside(pcap, keylog))))


def inside(pcap: Path, keylog: Path | None) -> tuple[str, str | None]:
    """Where pcap-reader sees a capture and its key log (which must sit beside it)."""
    if keylog is not None and keylog.resolve().parent != pcap.resolve().parent:
        raise CaptureError("the key log must sit beside the capture")
    return f"/results/{pcap.name}", f"/results/{keylog.name}" if keylog is not None else None


def tshark(pcap: Path, args: list[str]) -> str:
    """tshark ARGS in the pcap-reader tool, which sees the capture's folder as /results
    (read-only, no network); its output. The host needs no Wireshark of its own."""
    ensure_images(["capture"])
    result = compose(*profile_flags(["pcap-reader"]), "run", "--rm", "-T", "--no-deps",
                     "pcap-reader", *args, capture=True,
                     env={"CAPTURE_DIR": str(pcap.resolve().parent)}, timeout=120)  # fmt: skip
    if result.returncode != 0:
        raise CaptureError(f"tshark could not read {pcap}: {result.stderr[-2000:]}")
    return result.stdout


def parse_fields(text: str) -> list[Packet]:
    """tshark's FIELDS lines as Packets; frames without IPv4 TCP or UDP are left out."""
    parsed = []
    for line in text.splitlines():
        values = dict(zip(FIELDS, line.split("\t"), strict=False))
        if values.get("ip.src") and (values.get("tcp.srcport") or values.get("udp.srcport")):
            parsed.append(_packet(values))
    return parsed


def _packet(v: dict[str, str]) -> Packet:
    tcp = bool(v.get("tcp.srcport"))
    kind = "tcp" if tcp else "udp"
    return Packet(
        number=int(v["frame.number"]),
        time=float(v["frame.time_epoch"]),
        # tshark gives every IP header's address (a tunnel: several): the first is the outer.
        src=v["ip.src"].split(",")[0],
        dst=v["ip.dst"].split(",")[0],
        sport=int(v[f"{kind}.srcport"]),
        dport=int(v[f"{kind}.dstport"]),
        transport=kind,
        stream=int(v[f"{kind}.stream"]),
        flags=flag_letters(int(v["tcp.flags"], 16)) if tcp and v.get("tcp.flags") else "",
        payload=int(v["tcp.len"]) if tcp else max(0, int(v.get("udp.length") or 8) - 8),
        tls_handshake=_numbers(v.get("tls.handshake.type", "")),
        tls_content=_numbers(v.get("tls.record.content_type", "")),
        quic_long=_numbers(v.get("quic.long.packet_type", "")),
        quic_frames=_numbers(v.get("quic.frame_type", "")),
        quic_streams=_numbers(v.get("quic.stream.stream_id", "")),
        tls_random=[
            r.replace(":", "").lower()
            for r in v.get("tls.handshake.random", "").split(",")
            if r.strip()
        ],
    )


def flag_letters(bits: int) -> str:
    """TCP flags as letters in a fixed order: 0x012 -> "SA"."""
    return "".join(letter for letter, bit in (("S", 0x02), ("F", 0x01), ("R", 0x04),
                                              ("P", 0x08), ("A", 0x10)) if bits & bit)  # fmt: skip


def _numbers(text: str) -> list[int]:
    return [int(item, 0) for item in text.split(",") if item.strip()]


def keylog_for(folder: Path) -> Path:
    """Where the sandbox's clients write their TLS secrets for a capture in `folder`."""
    return folder / "keys.log"


@contextmanager
def logging_keys(path: Path) -> Iterator[Path]:
    """SSLKEYLOGFILE=path while inside: Python's ssl default contexts (httpx, the
    scenarios' clients), aioquic (comms_sandbox.http3) and curl append their secrets.
    The file starts empty: only this run's secrets sit beside its capture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    before = os.environ.get(KEYLOG_VARIABLE)
    os.environ[KEYLOG_VARIABLE] = str(path)
    try:
        yield path
    finally:
        if before is None:
            os.environ.pop(KEYLOG_VARIABLE, None)
        else:
            os.environ[KEYLOG_VARIABLE] = before
