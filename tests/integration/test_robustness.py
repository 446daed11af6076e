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


def test_stalled_and_idle_connections_do_not_block_others(httpd_factory, pki, port):
    # Timeout is long here: while the stalled connections are still open, other
    # clients must be served.
    server = httpd_factory(timeout=20)
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")]))
    server.start(wait_port=port)
    hello = capture_client_hello(port)
    stalled = []
    try:
        for i in range(12):
            sock = socket.create_connection(("127.0.0.1", port))
            if i % 2:
                sock.sendall(hello[: len(hello) // 2])  # half a ClientHello
            stalled.append(sock)                       # or nothing at all
        for _ in range(5):
            assert still_serves(pki, port)
        for sock in stalled:  # all still open: nothing was dropped to make room
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
    finally:
        for sock in stalled:
            sock.close()
    assert still_serves(pki, port)


@pytest.mark.parametrize("priority", [
    "NORMAL:-VERS-ALL:+VERS-TLS1.1",                              # protocol too old for the default
    "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA1",  # no AEAD cipher
    "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA",                 # no forward secrecy
])
def test_refused_client_gets_a_fatal_alert_and_next_is_served(server, pki, port, priority):
    # RFC 8446 6.2 / RFC 5246 7.2.2: a failed handshake is signalled with a fatal
    # alert (protocol_version, handshake_failure, ...), not a bare TCP close
    # (which clients report as "non-properly terminated"; mod_ssl sends the alert).
    code, out = gnutls_cli(port, "a.test", pki.ca, priority=priority)
    assert code != 0, out
    assert "*** Received alert [" in out, out
    assert still_serves(pki, port)


def test_many_bad_clients_at_once(server, pki, port):
    import threading
    hello = capture_client_hello(port)

    def bad(kind):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                if kind == 0:
                    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
                elif kind == 1:
                    sock.sendall(bytes(range(256)) * 8)
                elif kind == 2:
                    sock.sendall(hello[:-3])
                else:
                    sock.sendall(hello)
                    sock.settimeout(5)
                    sock.recv(10)
                # reset instead of a clean close for half of them
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass

    threads = [threading.Thread(target=bad, args=(i % 4,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for _ in range(5):
        assert still_serves(pki, port)


# --- TLS-level abuse with handcrafted ClientHellos -------------------------

def python_client_hello(sni="a.test"):
    """A real TLS 1.3 ClientHello from Python's ssl, made without a network."""
    import ssl
    tls = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def rebuilt_client_hello(hello, change, legacy_version=None):
    """`hello` with its extensions passed through `change(list of (type, data))`
    (and its legacy_version replaced when given), lengths fixed, split into
    records of at most 16 KiB."""
    import struct
    body = hello[5:]
    assert hello[0] == 22 and body[0] == 1
    message = body[4:4 + int.from_bytes(body[1:4], "big")]
    p = 2 + 32
    p += 1 + message[p]                                   # session id
    p += 2 + int.from_bytes(message[p:p + 2], "big")      # cipher suites
    p += 1 + message[p]                                   # compression methods
    end = p + 2 + int.from_bytes(message[p:p + 2], "big")
    extensions, q = [], p + 2
    while q < end:
        length = int.from_bytes(message[q + 2:q + 4], "big")
        extensions.append((int.from_bytes(message[q:q + 2], "big"), message[q + 4:q + 4 + length]))
        q += 4 + length
    encoded = b"".join(struct.pack(">HH", t, len(d)) + d for t, d in change(extensions))
    message = (legacy_version or message[:2]) + message[2:p] + struct.pack(">H", len(encoded)) + encoded
    handshake = bytes([1]) + len(message).to_bytes(3, "big") + message
    return b"".join(bytes([22, 3, 1]) + struct.pack(">H", len(handshake[i:i + 16384])) + handshake[i:i + 16384]
                    for i in range(0, len(handshake), 16384))


def server_answer(port, data):
    """The first 5 bytes the server sends back (a record header), or b"" if it
    closed first."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return b""
        try:
            return sock.recv(5)
        except (ConnectionResetError, socket.timeout):
            return b""


def test_many_server_names_are_bounded(server, pki, port):
    import struct

    def many_names(extensions):
        names = [b"a.test"] + [f"n{i}.example".encode() for i in range(300)]
        listed = b"".join(b"\x00" + struct.pack(">H", len(n)) + n for n in names)
        return [(t, struct.pack(">H", len(listed)) + listed if t == 0 else d) for t, d in extensions]

    answer = server_answer(port, rebuilt_client_hello(python_client_hello(), many_names))
    # Either served (a ServerHello, content type 22: the first name counts) or refused with an alert (21).
    assert answer[:1] in (b"\x16", b"\x15"), answer
    assert still_serves(pki, port)


def test_large_but_legal_client_hello_is_served(server, pki, port):
    padded = rebuilt_client_hello(python_client_hello(), lambda extensions: extensions + [(21, b"\x00" * 30000)])
    assert server_answer(port, padded)[:1] == b"\x16"  # a ServerHello
    assert still_serves(pki, port)


def test_oversized_handshake_is_dropped_early(server, pki, port):
    # A ClientHello announcing 16 MiB, sent on and on: the server must stop at
    # the first record (no ClientHello can be that long) instead of buffering
    # it all. What the client managed to send says little (the kernel buffers
    # megabytes on loopback), so the server's own account is what is checked:
    # one GTLS0213 line with the announced length.
    import os
    import struct
    header = bytes([1]) + (0xFFFFFF).to_bytes(3, "big") + os.urandom(16380)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(bytes([22, 3, 1]) + struct.pack(">H", len(header)) + header)
        try:
            for _ in range(64):
                sock.sendall(bytes([22, 3, 1, 0x40, 0x00]) + os.urandom(16384))
        except (BrokenPipeError, ConnectionResetError):
            pass
    deadline = time.monotonic() + 5
    while "GTLS0213" not in (log := server.read_error_log()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "announced a ClientHello of 16777215 bytes" in log, log
    assert log.count("GTLS0213") == 1, log
    assert still_serves(pki, port)


@pytest.mark.parametrize("record", [
    bytes([22, 3, 1, 0xFF, 0xFF]) + bytes(65535),
    bytes([22, 3, 3, 0x00, 0x04, 1, 0, 0, 0]),
    bytes([23, 3, 3, 0x00, 0x10]) + bytes(16),
    bytes([22, 3, 1, 0x00, 0x08, 1, 0, 0, 4, 3, 3, 0, 0]),
], ids=["record-longer-than-tls-allows", "empty-client-hello", "application-data-first", "hello-cut-in-random"])
def test_malformed_client_hellos_get_an_alert_or_close(server, pki, port, record):
    answer = server_answer(port, record)
    assert answer[:1] in (b"", b"\x15"), answer
    assert still_serves(pki, port)


def test_unknown_alpn_gets_no_protocol_and_http11(server, pki, port):
    code, out = gnutls_cli(port, "a.test", pki.ca, extra=["--alpn", "spdy/1", "--alpn", "foo"],
                           input_bytes=b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    assert code == 0, out
    assert "Application protocol" not in out, out  # no ALPN answer rather than one the client did not offer
    assert "HTTP/1.1 200 OK" in out, out
