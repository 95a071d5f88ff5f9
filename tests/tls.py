"""Servers on loopback for outbound calls to meet: a TLS server nobody trusts (webhooks, the processor), and any
other way of taking connections."""

import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed_tls_server(certfile):
    """A TLS server on loopback whose certificate nobody trusts; it answers 200 to whoever gets through."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certfile.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context.load_cert_chain(certfile)
    handshakes = []

    def handshake(conn):
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                handshakes.append("ok")
                tls.recv(65536)
                tls.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (ssl.SSLError, OSError) as exc:
            handshakes.append(type(exc).__name__)

    return accepting(handshake), handshakes


def accepting(handle) -> socket.socket:
    """A listener on loopback whose connections ``handle(conn)`` takes, one after another, in a thread of its own,
    until the listener is closed."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=5)

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            handle(conn)

    threading.Thread(target=serve, daemon=True).start()
    return listener
