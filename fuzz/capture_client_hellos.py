#!/usr/bin/env python3
"""Captures real ClientHellos as seeds for the ClientHello fuzzers.

gnutls-cli and openssl s_client connect, with various options, through a loopback
relay to a gnutls-serv (the certificate and key given), which prefers X25519 with
server precedence as mod_gtls's default priorities do, so a client that sends only
a P-256 key share gets a HelloRetryRequest. The relay records what each client
sends; a capture is those bytes up to the end of the client's last ClientHello
(two of them after a HelloRetryRequest, with the compatibility ChangeCipherSpec
between them).

  capture_client_hellos.py CERT KEY HELLO_DIR EXTENSION_DIR

HELLO_DIR gets the captured byte streams (client_hello_fuzzer's seeds),
EXTENSION_DIR the server_name and ALPN extension_data of each first ClientHello
(client_hello_extension_fuzzer's seeds).
"""
import os
import selectors
import socket
import subprocess
import sys
import time

SERVER_PRIORITIES = "NORMAL:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:%SERVER_PRECEDENCE"
GNUTLS_CLI = ["gnutls-cli", "--insecure", "-p", "{port}", "127.0.0.1"]
S_CLIENT = ["openssl", "s_client", "-connect", "127.0.0.1:{port}"]
CLIENTS = {
    "gnutls-sni-alpn": GNUTLS_CLI + ["--sni-hostname=www.example.com", "--alpn=h2", "--alpn=http/1.1"],
    "gnutls-named-vhost": GNUTLS_CLI + ["--sni-hostname=b.fuzz.test", "--alpn=http/1.1"],
    "gnutls-tls12-no-sni": GNUTLS_CLI + ["--disable-sni", "--priority=NORMAL:-VERS-TLS1.3"],
    "gnutls-hrr": GNUTLS_CLI + ["--sni-hostname=www.example.com", "--alpn=h2",
                                "--priority=NORMAL:-GROUP-ALL:+GROUP-SECP384R1:+GROUP-SECP256R1"],
    "openssl-sni-alpn": S_CLIENT + ["-servername", "www.example.com", "-alpn", "h2,http/1.1"],
    "openssl-tls12-named-vhost": S_CLIENT + ["-servername", "b.fuzz.test", "-tls1_2", "-alpn", "http/1.1"],
    "openssl-no-sni": S_CLIENT + ["-noservername", "-alpn", "http/1.1"],
    "openssl-hrr": S_CLIENT + ["-servername", "www.example.com", "-groups", "P-256:X25519", "-alpn", "h2"],
    "openssl-status-request": S_CLIENT + ["-servername", "www.example.com", "-status"],
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, deadline):
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"gnutls-serv did not listen on port {port}")


def relay(listener, server_port, timeout=10.0):
    """Accepts one client, relays it to the server; returns what the client sent."""
    listener.settimeout(timeout)
    client, _ = listener.accept()
    server = socket.create_connection(("127.0.0.1", server_port), timeout=timeout)
    sent = bytearray()
    selector = selectors.DefaultSelector()
    selector.register(client, selectors.EVENT_READ, server)
    selector.register(server, selectors.EVENT_READ, client)
    deadline = time.monotonic() + timeout
    open_ends = 2
    while open_ends and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            data = key.fileobj.recv(65536)
            if not data:
                selector.unregister(key.fileobj)
                open_ends -= 1
                try:
                    key.data.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                continue
            if key.fileobj is client:
                sent += data
            key.data.sendall(data)
    client.close()
    server.close()
    return bytes(sent)


def records(stream):
    """(content_type, fragment, end offset) of each complete TLS record."""
    offset = 0
    while offset + 5 <= len(stream):
        length = int.from_bytes(stream[offset + 3:offset + 5], "big")
        if offset + 5 + length > len(stream):
            return
        yield stream[offset], stream[offset + 5:offset + 5 + length], offset + 5 + length
        offset += 5 + length


def cut_after_last_client_hello(stream):
    """The stream up to the end of the last plaintext ClientHello, and the first ClientHello body."""
    handshake = bytearray()
    end = 0
    first = None
    for content_type, fragment, record_end in records(stream):
        if content_type == 20:  # TLS 1.3's compatibility ChangeCipherSpec, maybe before a second ClientHello
            continue
        if content_type != 22:  # not a plaintext handshake record: encrypted traffic from here on
            break
        handshake += fragment
        # Whole messages: a 1-byte type, a 3-byte length. After the client's
        # ClientHellos come its TLS 1.2 ClientKeyExchange or encrypted records.
        while len(handshake) >= 4 and len(handshake) >= 4 + int.from_bytes(handshake[1:4], "big"):
            size = 4 + int.from_bytes(handshake[1:4], "big")
            if handshake[0] != 1:  # not a client_hello
                return stream[:end], first
            end = record_end
            first = first or bytes(handshake[4:size])
            handshake = handshake[size:]
    return stream[:end], first


def extensions(hello):
    """(type, extension_data) of a ClientHello body (RFC 8446 section 4.1.2)."""
    p = 2 + 32
    p += 1 + hello[p]                                   # legacy_session_id
    p += 2 + int.from_bytes(hello[p:p + 2], "big")      # cipher_suites
    p += 1 + hello[p]                                   # legacy_compression_methods
    end = p + 2 + int.from_bytes(hello[p:p + 2], "big")
    p += 2
    while p + 4 <= end:
        kind = int.from_bytes(hello[p:p + 2], "big")
        size = int.from_bytes(hello[p + 2:p + 4], "big")
        yield kind, hello[p + 4:p + 4 + size]
        p += 4 + size


def main():
    cert, key, hello_dir, extension_dir = sys.argv[1:5]
    os.makedirs(hello_dir, exist_ok=True)
    os.makedirs(extension_dir, exist_ok=True)
    server_port = free_port()
    server = subprocess.Popen(["gnutls-serv", "--port", str(server_port), "--x509certfile", cert,
                               "--x509keyfile", key, "--priority", SERVER_PRIORITIES, "--alpn=h2",
                               "--alpn=http/1.1"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    captured = 0
    try:
        wait_listening(server_port, time.monotonic() + 20)
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            port = listener.getsockname()[1]
            for name, command in CLIENTS.items():
                client = subprocess.Popen([part.format(port=port) for part in command], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    stream = relay(listener, server_port)
                except OSError as e:
                    print(f"  {name}: no capture ({e})", file=sys.stderr)
                    stream = b""
                finally:
                    try:
                        client.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        client.kill()
                        client.wait()
                hellos, first = cut_after_last_client_hello(stream)
                if not hellos:
                    print(f"  {name}: no ClientHello captured", file=sys.stderr)
                    continue
                with open(os.path.join(hello_dir, name), "wb") as f:
                    f.write(hellos)
                captured += 1
                for kind, data in extensions(first):
                    if kind in (0, 16):
                        label = "server-name" if kind == 0 else "alpn"
                        with open(os.path.join(extension_dir, f"{name}-{label}"), "wb") as f:
                            f.write(data)
    finally:
        server.terminate()
        server.wait()
    print(f"captured {captured} of {len(CLIENTS)} ClientHello streams")
    if captured == 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
