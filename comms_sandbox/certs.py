"""A throwaway local certificate authority and the sandbox's TLS certificates.

The sandbox's TLS work needs certificates that a client can really verify, so
that a handshake shows what TLS checks (the chain, the name, the expiry)
rather than switching verification off. `ensure_certificates()` keeps a small
private CA in `.sandbox/tls/` (git-ignored, never committed) and issues:

    ca.pem, ca.key          the local CA (the key is kept so leaves can be re-issued)
    server.pem, server.key  the proxy: localhost, 127.0.0.1, ::1, proxy
    backend.pem, backend.key  a backend that terminates TLS itself: api-tls,
                            passthrough.localhost
    outside.pem, outside.key  the proxies lesson's site beyond the forward proxy:
                            www.outside.test, other.outside.test
    pricing-mtls/           lesson auth's pricing replica that requires a client
                            certificate: tls.crt, tls.key (pricing-mtls, short-lived:
                            MTLS_VALIDITY) and ca.crt; a folder, mounted whole, so
                            that a re-issued pair reaches the running container
    api-auth/               api-auth's one identity, short-lived too: the certificate
                            it serves to nginx and presents to pricing-mtls
                            (serverAuth and clientAuth), and ca.crt
    proxy-client/           the client certificate nginx presents to api-auth
                            (clientAuth only, short-lived), and ca.crt
    kafka/                  the broker's SASL_SSL listener (lesson auth): tls.crt,
                            tls.key, ca.crt, and keystore.pem (the key, then the
                            certificate: Kafka's PEM key store in one file)
    wrong-ca.pem            an unrelated CA that signs nothing: verifying against
                            it must fail

It is idempotent: while every file is present, consistent and more than
RENEW_BEFORE from expiry, it changes nothing; otherwise it re-issues what is
needed (the CA is kept while it is still good, so a client that trusts ca.pem
keeps trusting the new leaves).

    python -m proxy.certs [--dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_DIR = Path(__file__).resolve().parents[1] / ".sandbox" / "tls"

ORGANIZATION = "comms-sandbox (throwaway, local only)"
CA_NAME = "comms-sandbox local CA"
WRONG_CA_NAME = "comms-sandbox unrelated CA"
SERVER_NAME = "localhost"
BACKEND_NAME = "api-tls"
OUTSIDE_NAME = "www.outside.test"

SERVER_SANS: tuple[x509.GeneralName, ...] = (
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    x509.IPAddress(ipaddress.ip_address("::1")),
    x509.DNSName("proxy"),
)
BACKEND_SANS: tuple[x509.GeneralName, ...] = (
    x509.DNSName("api-tls"),
    x509.DNSName("passthrough.localhost"),
)
OUTSIDE_SANS: tuple[x509.GeneralName, ...] = (
    x509.DNSName("www.outside.test"),
    x509.DNSName("other.outside.test"),
)
PRICING_MTLS_SANS: tuple[x509.GeneralName, ...] = (x509.DNSName("pricing-mtls"),)
CLIENT_SANS: tuple[x509.GeneralName, ...] = (x509.DNSName("api-auth"),)
PROXY_CLIENT_SANS: tuple[x509.GeneralName, ...] = (x509.DNSName("proxy"),)
KAFKA_SANS: tuple[x509.GeneralName, ...] = (x509.DNSName("kafka"),)

CA_VALIDITY = timedelta(days=365)
LEAF_VALIDITY = timedelta(days=90)
CLOCK_SKEW = timedelta(minutes=5)  # not_valid_before is backdated by this much
RENEW_BEFORE = timedelta(days=7)  # re-issue a certificate this close to expiry
# Lesson auth's mutual TLS: certificates that live a day and are re-issued once half
# of it is gone (a stolen key is worth a day at most; rotation is routine).
MTLS_VALIDITY = timedelta(days=1)
MTLS_RENEW_BEFORE = timedelta(hours=12)
PRICING_MTLS_NAME = "pricing-mtls"
CLIENT_NAME = "api-auth"
PROXY_CLIENT_NAME = "proxy"
KAFKA_NAME = "kafka"

DIR_MODE = 0o700
CERT_MODE = 0o644
# Private keys are world-readable inside a 0700 directory on purpose: compose
# bind-mounts them one file at a time into containers that run as non-root
# users (nginx uid 101, the services uid 10001), which must read them. The
# directory keeps other host users out, and the keys are throwaway and local-only.
KEY_MODE = 0o644
# The CA's key is never mounted anywhere: only its owner needs it.
CA_KEY_MODE = 0o600
# A mutual-TLS folder is mounted whole: its container user must be able to enter it
# (the folder above, 0700, still keeps other host users out).
MTLS_DIR_MODE = 0o755

PrivateKey = ec.EllipticCurvePrivateKey
SERVER, CLIENT = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH


@dataclass(frozen=True)
class TlsFiles:
    """Where the certificates live; every path is inside `directory`."""

    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    backend_cert: Path
    backend_key: Path
    wrong_ca_cert: Path
    outside_cert: Path
    outside_key: Path
    pricing_mtls_cert: Path
    pricing_mtls_key: Path
    client_cert: Path
    client_key: Path
    proxy_client_cert: Path
    proxy_client_key: Path
    kafka_cert: Path
    kafka_key: Path

    @classmethod
    def in_directory(cls, directory: Path) -> TlsFiles:
        return cls(
            directory=directory,
            ca_cert=directory / "ca.pem",
            server_cert=directory / "server.pem",
            server_key=directory / "server.key",
            backend_cert=directory / "backend.pem",
            backend_key=directory / "backend.key",
            wrong_ca_cert=directory / "wrong-ca.pem",
            outside_cert=directory / "outside.pem",
            outside_key=directory / "outside.key",
            pricing_mtls_cert=directory / "pricing-mtls" / "tls.crt",
            pricing_mtls_key=directory / "pricing-mtls" / "tls.key",
            client_cert=directory / "api-auth" / "tls.crt",
            client_key=directory / "api-auth" / "tls.key",
            proxy_client_cert=directory / "proxy-client" / "tls.crt",
            proxy_client_key=directory / "proxy-client" / "tls.key",
            kafka_cert=directory / "kafka" / "tls.crt",
            kafka_key=directory / "kafka" / "tls.key",
        )

    @property
    def mtls_folders(self) -> tuple[Path, ...]:
        """Mounted whole into a container (a file bind-mounted alone would keep
        showing the old one after an atomic rename): each holds a pair and ca.crt."""
        return (
            self.pricing_mtls_cert.parent,
            self.client_cert.parent,
            self.proxy_client_cert.parent,
            self.kafka_cert.parent,
        )

    @property
    def kafka_keystore(self) -> Path:
        return self.kafka_cert.parent / "keystore.pem"

    @property
    def ca_key(self) -> Path:
        """The CA's private key: only needed to re-issue the leaves."""
        return self.directory / "ca.key"


# --- building certificates -------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _new_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _make_ca(common_name: str, now: datetime) -> tuple[x509.Certificate, PrivateKey]:
    key = _new_key()
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


@dataclass(frozen=True)
class Leaf:
    """What a leaf is for: its name and SANs, server or client, how long it lives."""

    name: str
    sans: tuple[x509.GeneralName, ...]
    usages: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.SERVER_AUTH,)
    validity: timedelta = LEAF_VALIDITY
    renew_before: timedelta = RENEW_BEFORE


def _make_leaf(
    leaf: Leaf,
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    now: datetime,
) -> tuple[x509.Certificate, PrivateKey]:
    key = _new_key()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(leaf.name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + leaf.validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(leaf.usages)), critical=False)
        .add_extension(x509.SubjectAlternativeName(list(leaf.sans)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


# --- files -----------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file in the same directory, then rename over `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    _write_atomic(path, cert.public_bytes(serialization.Encoding.PEM), CERT_MODE)


def _write_key(path: Path, key: PrivateKey, mode: int = KEY_MODE) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomic(path, pem, mode)


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _load_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{path}: not an EC private key")
    return key


# --- checks ----------------------------------------------------------------------

# What a missing, unreadable, malformed or wrongly signed file raises.
_UNUSABLE = (OSError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound)


def _fresh(cert: x509.Certificate, now: datetime, renew_before: timedelta = RENEW_BEFORE) -> bool:
    """Already valid, and not expiring within renew_before."""
    return cert.not_valid_before_utc <= now and now + renew_before < cert.not_valid_after_utc


def _sans(cert: x509.Certificate) -> list[x509.GeneralName]:
    return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


def _ca_ok(cert_path: Path, key_path: Path | None, now: datetime) -> bool:
    try:
        cert = _load_cert(cert_path)
        cert.verify_directly_issued_by(cert)  # self-signed, and the signature holds
        matches = key_path is None or _load_key(key_path).public_key() == cert.public_key()
    except _UNUSABLE:
        return False
    return matches and _fresh(cert, now)


def _leaf_ok(
    cert_path: Path, key_path: Path, leaf: Leaf, ca_cert: x509.Certificate, now: datetime
) -> bool:
    try:
        cert = _load_cert(cert_path)
        cert.verify_directly_issued_by(ca_cert)
        key = _load_key(key_path)
        actual_sans = _sans(cert)
        usages = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except _UNUSABLE:
        return False
    return (
        key.public_key() == cert.public_key()
        and actual_sans == list(leaf.sans)
        and usages == list(leaf.usages)
        and _fresh(cert, now, leaf.renew_before)
    )


def leaves(files: TlsFiles) -> tuple[tuple[Leaf, Path, Path], ...]:
    """Every leaf the CA issues, with where its certificate and key go."""
    short = {"validity": MTLS_VALIDITY, "renew_before": MTLS_RENEW_BEFORE}
    return (
        (Leaf(SERVER_NAME, SERVER_SANS), files.server_cert, files.server_key),
        (Leaf(BACKEND_NAME, BACKEND_SANS), files.backend_cert, files.backend_key),
        (Leaf(OUTSIDE_NAME, OUTSIDE_SANS), files.outside_cert, files.outside_key),
        (Leaf(PRICING_MTLS_NAME, PRICING_MTLS_SANS, **short),  # type: ignore[arg-type]
         files.pricing_mtls_cert, files.pricing_mtls_key),
        # api-auth: a server to nginx, a client to pricing-mtls; one name, one pair.
        (Leaf(CLIENT_NAME, CLIENT_SANS, (SERVER, CLIENT), **short),  # type: ignore[arg-type]
         files.client_cert, files.client_key),
        (Leaf(PROXY_CLIENT_NAME, PROXY_CLIENT_SANS, (CLIENT,), **short),  # type: ignore[arg-type]
         files.proxy_client_cert, files.proxy_client_key),
        (Leaf(KAFKA_NAME, KAFKA_SANS), files.kafka_cert, files.kafka_key),
    )  # fmt: skip


def throwaway_client(now: datetime | None = None) -> tuple[str, str]:
    """A client certificate and its key (PEM) from a CA made for it and forgotten: what
    a peer that is not the sandbox's would present."""
    now = now or datetime.now(UTC)
    ca_cert, ca_key = _make_ca(WRONG_CA_NAME, now)
    leaf = Leaf(CLIENT_NAME, CLIENT_SANS, (CLIENT,), MTLS_VALIDITY)
    cert, key = _make_leaf(leaf, ca_cert, ca_key, now)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def reissue(files: TlsFiles, name: str, now: datetime | None = None) -> x509.Certificate:
    """A new certificate and key for the leaf `name`, whatever the old one's age (a
    rotation); written over the old files, each by an atomic rename."""
    now = now or datetime.now(UTC)
    ca_cert, ca_key = _load_cert(files.ca_cert), _load_key(files.ca_key)
    leaf, cert_path, key_path = next(entry for entry in leaves(files) if entry[0].name == name)
    cert, key = _make_leaf(leaf, ca_cert, ca_key, now)
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert


# --- the entry points ------------------------------------------------------------


def ensure_certificates(directory: Path = DEFAULT_DIR, *, now: datetime | None = None) -> TlsFiles:
    """Make sure `directory` holds a good CA and leaves; touch nothing if it already does.

    `now` (timezone-aware; default: the current time) is when validity is judged
    and from when new certificates run. Each part is checked on its own and
    re-issued only if it is missing, malformed, mis-signed, has other SANs or
    expires within RENEW_BEFORE; a new CA makes every leaf fail the check.
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    files = TlsFiles.in_directory(directory)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(DIR_MODE)
    if _ca_ok(files.ca_cert, files.ca_key, now):
        ca_cert, ca_key = _load_cert(files.ca_cert), _load_key(files.ca_key)
    else:
        ca_cert, ca_key = _make_ca(CA_NAME, now)
        _write_key(files.ca_key, ca_key, CA_KEY_MODE)
        _write_cert(files.ca_cert, ca_cert)
    if not _ca_ok(files.wrong_ca_cert, None, now):
        _write_cert(files.wrong_ca_cert, _make_ca(WRONG_CA_NAME, now)[0])
    for folder in files.mtls_folders:
        folder.mkdir(exist_ok=True)
        folder.chmod(MTLS_DIR_MODE)
        if not (folder / "ca.crt").exists() or (folder / "ca.crt").read_bytes() != (
            files.ca_cert.read_bytes()
        ):
            _write_atomic(folder / "ca.crt", files.ca_cert.read_bytes(), CERT_MODE)
    for leaf, cert_path, key_path in leaves(files):
        if not _leaf_ok(cert_path, key_path, leaf, ca_cert, now):
            cert, key = _make_leaf(leaf, ca_cert, ca_key, now)
            _write_key(key_path, key)
            _write_cert(cert_path, cert)
    keystore = files.kafka_key.read_bytes() + files.kafka_cert.read_bytes()
    if not files.kafka_keystore.exists() or files.kafka_keystore.read_bytes() != keystore:
        _write_atomic(files.kafka_keystore, keystore, KEY_MODE)
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m proxy.certs",
        description="Create (or keep) the sandbox's throwaway local CA and TLS certificates.",
    )
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help=f"where to keep them (default: {DEFAULT_DIR})"
    )
    args = parser.parse_args(argv)
    files = ensure_certificates(args.dir)
    print(f"CA certificate: {files.ca_cert}")
    print(f"  e.g. curl --cacert {files.ca_cert} https://localhost:8443/whoami")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
