"""Unit tests of proxy/certs.py: the throwaway local CA and its certificates (no Docker)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from comms_sandbox.certs import TlsFiles, ensure_certificates, main, reissue


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def issued_by(leaf: Path, ca: Path) -> bool:
    """Whether the CA's key signed the leaf (not only a CA of the same name)."""
    try:
        load_cert(leaf).verify_directly_issued_by(load_cert(ca))
    except (InvalidSignature, ValueError, TypeError):  # bad signature, other issuer, key type
        return False
    return True


def sans(path: Path) -> list[x509.GeneralName]:
    ext = load_cert(path).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return list(ext.value)


def all_files(files: TlsFiles) -> list[Path]:
    """Every file, those in the mutual-TLS folders too."""
    return sorted(p for p in files.directory.rglob("*") if p.is_file())


@pytest.fixture
def files(tmp_path: Path) -> TlsFiles:
    return ensure_certificates(tmp_path / "tls")


def test_writes_the_expected_files(files: TlsFiles) -> None:
    names = [str(p.relative_to(files.directory)) for p in all_files(files)]
    assert names == [
        "api-auth/ca.crt",
        "api-auth/tls.crt",
        "api-auth/tls.key",
        "backend.key",
        "backend.pem",
        "ca.key",
        "ca.pem",
        "kafka/ca.crt",
        "kafka/keystore.pem",
        "kafka/tls.crt",
        "kafka/tls.key",
        "outside.key",
        "outside.pem",
        "pricing-mtls/ca.crt",
        "pricing-mtls/tls.crt",
        "pricing-mtls/tls.key",
        "proxy-client/ca.crt",
        "proxy-client/tls.crt",
        "proxy-client/tls.key",
        "server.key",
        "server.pem",
        "wrong-ca.pem",
    ]


def test_leaves_are_issued_by_the_ca_and_not_by_the_wrong_ca(files: TlsFiles) -> None:
    ca, wrong_ca = load_cert(files.ca_cert), load_cert(files.wrong_ca_cert)
    for leaf_path in (files.server_cert, files.backend_cert):
        leaf = load_cert(leaf_path)
        leaf.verify_directly_issued_by(ca)
        with pytest.raises(ValueError):  # the issuer name already differs
            leaf.verify_directly_issued_by(wrong_ca)


def test_sans_are_exactly_as_specified(files: TlsFiles) -> None:
    assert sans(files.server_cert) == [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.DNSName("proxy"),
    ]
    assert sans(files.backend_cert) == [
        x509.DNSName("api-tls"),
        x509.DNSName("passthrough.localhost"),
    ]


def test_keys_match_their_certificates(files: TlsFiles) -> None:
    for cert_path, key_path in (
        (files.server_cert, files.server_key),
        (files.backend_cert, files.backend_key),
        (files.outside_cert, files.outside_key),
    ):
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert key.public_key() == load_cert(cert_path).public_key()


def test_mutual_tls_leaves_live_a_day_for_their_own_use_and_rotate(files: TlsFiles) -> None:
    server, client = load_cert(files.pricing_mtls_cert), load_cert(files.client_cert)
    proxy = load_cert(files.proxy_client_cert)
    for leaf in (server, client, proxy):
        assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= timedelta(days=1, minutes=5)
        leaf.verify_directly_issued_by(load_cert(files.ca_cert))
    usage = x509.ExtendedKeyUsage
    # api-auth serves TLS to nginx and is pricing's client; nginx is only a client.
    assert list(client.extensions.get_extension_for_class(usage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    assert list(proxy.extensions.get_extension_for_class(usage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert (files.pricing_mtls_cert.parent / "ca.crt").read_bytes() == files.ca_cert.read_bytes()
    rotated = reissue(files, "pricing-mtls")
    assert rotated.serial_number != server.serial_number
    assert load_cert(files.pricing_mtls_cert) == rotated
    key = serialization.load_pem_private_key(files.pricing_mtls_key.read_bytes(), password=None)
    assert key.public_key() == rotated.public_key()
    ensure_certificates(files.directory, now=datetime.now(UTC) + timedelta(hours=13))
    assert load_cert(files.pricing_mtls_cert) != rotated  # half its life gone: re-issued


def test_second_call_changes_nothing(files: TlsFiles) -> None:
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in all_files(files)}
    assert ensure_certificates(files.directory) == files
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in all_files(files)} == before


def test_renews_leaves_close_to_expiry_and_keeps_the_ca(files: TlsFiles) -> None:
    old_server, old_ca = files.server_cert.read_bytes(), files.ca_cert.read_bytes()
    ensure_certificates(files.directory, now=datetime.now(UTC) + timedelta(days=85))
    assert files.server_cert.read_bytes() != old_server
    assert files.ca_cert.read_bytes() == old_ca
    assert issued_by(files.server_cert, files.ca_cert)


def test_replaces_a_leaf_signed_by_another_ca(files: TlsFiles, tmp_path: Path) -> None:
    old_server = tmp_path / "old-server.pem"
    old_server.write_bytes(files.server_cert.read_bytes())
    files.ca_cert.unlink()
    files.ca_key.unlink()
    ensure_certificates(files.directory)
    assert not issued_by(old_server, files.ca_cert)  # the new CA did not sign the old leaf
    assert issued_by(files.server_cert, files.ca_cert)
    assert issued_by(files.backend_cert, files.ca_cert)


def test_modes(files: TlsFiles) -> None:
    assert stat.S_IMODE(files.directory.stat().st_mode) == 0o700
    for folder in files.mtls_folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder.name
    for path in all_files(files):
        expected = 0o600 if path == files.ca_key else 0o644
        assert stat.S_IMODE(path.stat().st_mode) == expected, path.name


def test_cli_prints_the_ca_and_a_curl_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--dir", str(tmp_path / "cli")]) == 0
    ca = tmp_path / "cli" / "ca.pem"
    assert ca.exists()
    assert f"curl --cacert {ca} https://localhost:8443/whoami" in capsys.readouterr().out


# --- a real handshake over loopback ----------------------------------------------


def handshake(files: TlsFiles, cafile: Path) -> str | None:
    """Serve one TLS connection with the server certificate; connect with `cafile` trusted.

    Returns the negotiated version; raises what the client's handshake raises.
    """
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(files.server_cert, files.server_key)
    client_ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(5)

        def serve() -> None:
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                pass  # the client rejected us: that is its side's result

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        try:
            with (
                socket.create_connection(listener.getsockname(), timeout=5) as raw,
                client_ctx.wrap_socket(raw, server_hostname="localhost") as tls,
            ):
                assert tls.recv(2) == b"ok"
                return tls.version()
        finally:
            server.join(timeout=5)


def test_tls_handshake_with_the_ca_succeeds(files: TlsFiles) -> None:
    assert handshake(files, files.ca_cert) == "TLSv1.3"


def test_tls_handshake_with_the_wrong_ca_fails(files: TlsFiles) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(files, files.wrong_ca_cert)
