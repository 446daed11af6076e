"""What a client sees when the server ends a TLS connection on an error: the
alert RFC 8446 section 6.2 (RFC 5246 section 7.2.2) asks for arrives before the
close, for TLS 1.3 and 1.2; renegotiation is refused with a warning; a
ClientHello is served whatever its size as long as its fields keep within
their TLS lengths, and one longer than TLS allows is answered decode_error."""
import socket
import ssl
import struct
import subprocess
import time

import pytest

from conftest import tls_vhost
from test_robustness import python_client_hello, rebuilt_client_hello


@pytest.fixture
def server(httpd_factory, pki, port):
    server = httpd_factory(timeout=5)
    server.docroot().joinpath("hello.txt").write_text("hello over tls\n")
    server.write_config(f"Listen 127.0.0.1:{port}\n" +
                        tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")]))
    server.start(wait_port=port)
    return server


VERSIONS = {"tls1.3": ssl.TLSVersion.TLSv1_3, "tls1.2": ssl.TLSVersion.TLSv1_2}


class Client:
    """A Python ssl client on MemoryBIOs over a real socket: the handshake is
    real, and afterwards raw bytes can go onto the socket behind its back."""

    def __init__(self, port, ca, version, alpn=None):
        context = ssl.create_default_context(cafile=str(ca))
        context.minimum_version = context.maximum_version = VERSIONS[version]
        if alpn:
            context.set_alpn_protocols(alpn)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="a.test")
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)

    def handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                self.sock.sendall(self.outgoing.read())
                return
            except ssl.SSLWantReadError:
                self.sock.sendall(self.outgoing.read())
                data = self.sock.recv(65536)
                assert data, "the server closed during the handshake"
                self.incoming.write(data)

    def request(self):
        self.tls.write(b"GET /hello.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        self.sock.sendall(self.outgoing.read())
        return self.read_until_close()

    def read_until_close(self):
        """Everything the server sends until it closes, decrypted; raises the
        ssl.SSLError a received fatal alert becomes."""
        received = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if data:
                self.incoming.write(data)
            else:
                self.incoming.write_eof()
            try:
                while chunk := self.tls.read(65536):
                    received += chunk
                if not data:
                    return received
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                return received
            if not data:
                return received

    def close(self):
        self.sock.close()


def alert_after(server, pki, port, version, raw):
    """The alert name (OpenSSL's reason, e.g. TLSV1_ALERT_RECORD_OVERFLOW) the
    server sends after `raw` arrives on an established connection."""
    client = Client(port, pki.ca, version)
    try:
        client.handshake()
        client.sock.sendall(raw)
        with pytest.raises(ssl.SSLError) as error:
            client.read_until_close()
        return error.value.reason
    finally:
        client.close()


# An oversized record: one byte more than a TLS 1.3 protected record may carry
# (2^14 + 256, RFC 8446 section 5.2) and than a TLS 1.2 one (2^14 + 2048, RFC 5246
# section 6.2.3); the header alone is enough for the server to know.
OVERSIZED = {"tls1.3": 2 ** 14 + 256 + 1, "tls1.2": 2 ** 14 + 2048 + 1}


@pytest.mark.parametrize("version", ["tls1.3", "tls1.2"])
def test_oversized_record_gets_record_overflow(server, pki, port, version):
    raw = bytes([23, 3, 3]) + struct.pack(">H", OVERSIZED[version]) + bytes(64)
    assert alert_after(server, pki, port, version, raw) == "TLSV1_ALERT_RECORD_OVERFLOW"
    assert "GTLS0209" in server.read_error_log()


@pytest.mark.parametrize("version", ["tls1.3", "tls1.2"])
def test_record_that_does_not_decrypt_gets_bad_record_mac(server, pki, port, version):
    # Application data in the clear: it cannot authenticate (RFC 8446 section 5.2).
    raw = bytes([23, 3, 3, 0, 40]) + b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n".ljust(40, b"x")
    assert alert_after(server, pki, port, version, raw) == "SSLV3_ALERT_BAD_RECORD_MAC"


@pytest.mark.parametrize("raw", [
    bytes([20, 3, 3, 0, 1, 1]),
    bytes([22, 3, 3, 0, 4, 20, 0, 0, 0]),
    bytes([22, 3, 3, 0, 5, 24, 0, 0, 1, 1]),
    bytes([21, 3, 3, 0, 2, 1, 0]),
], ids=["change-cipher-spec", "finished", "key-update", "alert"])
def test_unprotected_record_after_the_tls13_handshake_gets_unexpected_message(server, pki, port, raw):
    # RFC 8446 section 5: after the handshake every record is protected (outer
    # type application_data); a record of another type is unexpected_message.
    assert alert_after(server, pki, port, "tls1.3", raw) == "SSLV3_ALERT_UNEXPECTED_MESSAGE"
    assert "GTLS0209" in server.read_error_log()


def test_connection_still_serves_after_the_handshake(server, pki, port):
    # The helper itself: a plain request over the MemoryBIO client works.
    client = Client(port, pki.ca, "tls1.3")
    try:
        client.handshake()
        assert client.request().endswith(b"hello over tls\n")
    finally:
        client.close()


def test_client_renegotiation_gets_a_no_renegotiation_warning(server, pki, port):
    # openssl s_client's "R" command renegotiates a TLS 1.2 connection; -msg
    # prints each record it receives. The server must answer the new ClientHello
    # with a warning no_renegotiation at once, not when the client sends again.
    client = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "a.test", "-CAfile", str(pki.ca),
         "-tls1_2", "-msg"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(1.5)
        client.stdin.write(b"R\n")
        client.stdin.flush()
        time.sleep(2)
        out = client.communicate(timeout=20)[0].decode(errors="replace")
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    assert "Verify return code: 0 (ok)" in out, out
    after = out.split("RENEGOTIATING", 1)[1]
    assert "Alert" in after and "warning no_renegotiation" in after, out
    assert "GTLS0208" in server.read_error_log()


def alpn_list(total):
    """ALPN names of 255 bytes (unknown to the server) adding up to about
    `total` bytes, then http/1.1."""
    names = [(b"x%03d" % i).ljust(255, b"-") for i in range(total // 256)]
    return [n.decode() for n in names] + ["http/1.1"]


def test_largest_legal_client_hellos_are_served(server, pki, port):
    # A real client (Python's ssl) with an ALPN list that fills most of the
    # 2^16-1 bytes TLS allows for the extensions: a legal ClientHello of about
    # 64 KiB (5 records), and a full handshake and request over it.
    client = Client(port, pki.ca, "tls1.3", alpn=alpn_list(65280))
    try:
        client.handshake()
        assert client.request().endswith(b"hello over tls\n")
    finally:
        client.close()
    log = server.read_error_log()
    assert "GTLS0213" not in log, log


def room_left(extensions, reserved=4):
    """Bytes still free in a 2^16-1 extensions block after `extensions` and one
    more extension header."""
    return 65535 - sum(4 + len(d) for _, d in extensions) - reserved


def largest_padding(extensions):
    # RFC 7685 padding as large as the extensions block allows (about 64 KB).
    return extensions + [(21, bytes(room_left(extensions)))]


def most_extensions(extensions):
    # As many (empty, unknown, distinct) extensions as fit: over 16,000.
    count = room_left(extensions, reserved=0) // 4
    return extensions + [(0x4000 + i, b"") for i in range(count)]


def most_signature_algorithms(extensions):
    # Only what a TLS 1.3 handshake needs, then a signature_algorithms list
    # filling the rest of the block (over 32,000 entries, unknown ones after
    # the real ones).
    kept = [(t, d) for t, d in extensions if t in (43, 51)]
    kept.append((10, b"\x00\x02\x00\x1d"))  # supported_groups: x25519
    real = dict(extensions)[13][2:]
    unknown = b"".join(struct.pack(">H", 0x8000 + i) for i in range((room_left(kept) - 2 - len(real)) // 2))
    algorithms = real + unknown
    return kept + [(13, struct.pack(">H", len(algorithms)) + algorithms)]


@pytest.mark.parametrize("change", [largest_padding, most_extensions, most_signature_algorithms])
def test_client_hellos_at_the_legal_limits_get_a_server_hello(server, pki, port, change):
    hello = rebuilt_client_hello(python_client_hello(), change)
    assert len(hello) > 65536
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(hello)
        answer = sock.recv(5)
    assert answer[:1] == b"\x16", answer  # a handshake record: the ServerHello
    assert "GTLS0213" not in server.read_error_log()


def test_client_hello_longer_than_tls_allows_gets_decode_error(server, pki, port):
    # A handshake header announcing one byte more than the fields of a
    # ClientHello can add up to (131,396 bytes): decode_error after one record.
    announced = 131396 + 1
    first = bytes([1]) + announced.to_bytes(3, "big") + bytes(16380)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(bytes([22, 3, 1]) + struct.pack(">H", len(first)) + first)
        answer = sock.recv(7)
    assert answer == bytes([21, 3, 3, 0, 2, 2, 50]), answer  # fatal decode_error
    time.sleep(0.3)
    log = server.read_error_log()
    assert "announced a ClientHello of 131397 bytes" in log, log
    assert log.count("GTLS0213") == 1, log


def tls12_client_hello():
    """A real TLS 1.2 ClientHello from Python's ssl, made without a network."""
    context = ssl.create_default_context()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    tls = context.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname="a.test")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_handshake_longer_than_tls_allows_gets_decode_error(server, pki, port):
    # After a legal ClientHello, a ClientKeyExchange announcing 16 MiB, sent on
    # and on: GnuTLS would buffer all of it; the server stops reading once the
    # client has sent more than a legal handshake needs, and says so once.
    huge = bytes([16]) + (0xFFFFFF).to_bytes(3, "big") + bytes(16380)
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(tls12_client_hello())
        try:
            sock.sendall(bytes([22, 3, 3, 0x40, 0x00]) + huge)
            for _ in range(100):
                sock.sendall(bytes([22, 3, 3, 0x40, 0x00]) + bytes(16384))
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer = sock.recv(1 << 20)
        except ConnectionResetError:
            pass
    time.sleep(0.3)
    log = server.read_error_log()
    assert "GTLS0213" in log and "without finishing the TLS handshake" in log, log
    assert log.count("GTLS0213") == 1, log
    assert answer == b"" or answer[0] == 22, answer  # the server's flight (the alert may be lost to the reset)
