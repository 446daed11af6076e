"""Bad traffic never takes the server down: plain HTTP, garbage, aborted and
stalled handshakes; the next client is always served."""
import socket
import time

import pytest

from conftest import tls_vhost
from harness.clients import curl, gnutls_cli


@pytest.fixture
def server(httpd_factory, pki, port):
    server = httpd_factory(timeout=2)
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")]))
    server.start(wait_port=port)
    return server


def still_serves(pki, port):
    status, _, body, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port)
    return status == 200 and body == b"default\n"


def read_all(sock, timeout=10.0):
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


def test_plain_http_gets_400_and_close(server, pki, port):
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer
    assert b"https://" in answer
    assert "GTLS0207" in server.read_error_log()
    assert still_serves(pki, port)


def test_garbage_gets_closed(server, pki, port):
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(bytes(range(256)) * 4)
        answer = read_all(sock)
    # A TLS alert record (content type 21) or nothing at all, then close.
    assert answer == b"" or answer[0] == 21, answer
    assert still_serves(pki, port)


def test_client_hello_then_abort(server, pki, port):
    hello = capture_client_hello(port)
    for cut in (5, 40, len(hello) - 1, len(hello)):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(hello[:cut])
            if cut == len(hello):
                sock.recv(100)
    assert still_serves(pki, port)


def test_stalled_handshake_is_dropped_after_timeout(server, pki, port):
    hello = capture_client_hello(port)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(hello[: len(hello) // 2])
        started = time.monotonic()
        answer = read_all(sock, timeout=30)
        waited = time.monotonic() - started
    assert answer == b"" or answer[0] == 21
    assert waited < 25, "the server did not drop a stalled handshake"
    assert "GTLS0202" in server.read_error_log()
    assert still_serves(pki, port)


def test_client_renegotiation_refused_connection_survives(server, pki, port):
    # gnutls-cli --rehandshake asks for a renegotiation after the handshake (TLS 1.2).
    code, out = gnutls_cli(port, "a.test", pki.ca, priority="NORMAL:-VERS-ALL:+VERS-TLS1.2",
                           extra=["--rehandshake"])
    assert "ReHandshake was completed" not in out
    assert still_serves(pki, port)


def capture_client_hello(port):
    """A real ClientHello from gnutls-cli, captured by a loopback listener."""
    import subprocess
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    capture_port = listener.getsockname()[1]
    client = subprocess.Popen(["gnutls-cli", "--insecure", "--port", str(capture_port), "--sni-hostname", "a.test",
                               "127.0.0.1"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        listener.settimeout(10)
        conn, _ = listener.accept()
        conn.settimeout(5)
        hello = conn.recv(65536)
        conn.close()
    finally:
        listener.close()
        client.kill()
        client.wait()
    assert hello and hello[0] == 22, hello
    return hello
