"""Large transfers arrive intact: a 1 GiB download and a 100 MiB upload."""
import hashlib
import os
import subprocess

import pytest

from conftest import needs_h2, tls_vhost

HASH_CGI = """#!/usr/bin/python3
import hashlib, os, sys
digest = hashlib.sha256()
remaining = int(os.environ.get("CONTENT_LENGTH", "0"))
while remaining > 0:
    chunk = sys.stdin.buffer.read(min(remaining, 1 << 20))
    if not chunk:
        break
    digest.update(chunk)
    remaining -= len(chunk)
print("Content-Type: text/plain")
print()
print(digest.hexdigest(), int(os.environ.get("CONTENT_LENGTH", "0")) - remaining)
"""


def write_pseudo_random(path, size):
    """Writes `size` bytes of non-repeating content; returns its sha256."""
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(path, "wb") as out:
        for i in range(size >> 20):
            chunk = hashlib.sha256(i.to_bytes(8, "big")).digest() + block[32:]
            out.write(chunk)
            digest.update(chunk)
    os.chmod(path, 0o644)
    return digest.hexdigest()


@pytest.fixture
def server(httpd_factory, pki, port):
    server = httpd_factory(timeout=60)
    server.add_cgi("hash.py", HASH_CGI)
    server.write_config(f"Listen 127.0.0.1:{port}\nLimitRequestBody 0\n" +
                        tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")], extra="  Protocols h2 http/1.1"))
    server.start(wait_port=port)
    return server


def curl_sha256(args):
    """Streams curl's output through sha256; returns (digest, size, http version)."""
    args = [args[0], "--max-time", "300", "-w", "%{stderr}HTTP-VERSION=%{http_version}", *args[1:]]
    curl = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: curl.stdout.read(1 << 20), b""):
        digest.update(chunk)
        size += len(chunk)
    _, err = curl.communicate(timeout=300)
    assert curl.returncode == 0, err
    return digest.hexdigest(), size, err.decode().rpartition("HTTP-VERSION=")[2]


@pytest.mark.parametrize("http", ["--http1.1", pytest.param("--http2", marks=needs_h2)])
def test_1gib_download(server, pki, port, http):
    path = server.docroot() / "big.bin"
    expected = write_pseudo_random(path, 1 << 30)
    try:
        digest, size, version = curl_sha256(["curl", "-sS", http, "--cacert", str(pki.ca), "--resolve",
                                    f"a.test:{port}:127.0.0.1", f"https://a.test:{port}/big.bin"])
    finally:
        path.unlink()
    assert size == 1 << 30
    assert digest == expected
    assert version == ("2" if http == "--http2" else "1.1")


@pytest.mark.parametrize("http", ["--http1.1", pytest.param("--http2", marks=needs_h2)])
def test_100mib_upload(server, pki, port, tmp_path, http):
    upload = tmp_path / "upload.bin"
    expected = write_pseudo_random(upload, 100 << 20)
    result = subprocess.run(["curl", "-sS", "--max-time", "300", http, "-w", "\n%{http_version}", "--cacert", str(pki.ca), "--resolve",
                             f"a.test:{port}:127.0.0.1", "-H", "Content-Type: application/octet-stream",
                             "--data-binary", f"@{upload}", f"https://a.test:{port}/cgi-bin/hash.py"],
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr
    digest, size, version = result.stdout.decode().split()
    assert (digest, int(size)) == (expected, 100 << 20)
    assert version == ("2" if http == "--http2" else "1.1")


def test_small_response_is_one_tls_record(server, pki, port):
    """httpd passes a response's headers and its body in separate brigades; they
    still reach the client in one TLS record (fewer bytes, one encryption)."""
    from harness.clients import s_client
    (server.docroot() / "small.txt").write_text("hello\n")
    request = b"GET /small.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    code, out = s_client(port, "a.test", pki.ca, extra=["-msg", "-ign_eof"], input_bytes=request)
    assert code == 0, out
    lines = out.splitlines()
    status = next(i for i, line in enumerate(lines) if line.startswith("HTTP/1.1 200"))
    sent = max(i for i, line in enumerate(lines[:status]) if line.startswith(">>>") and "RecordHeader" in line)
    end = next(i for i, line in enumerate(lines) if i > status and "close_notify" in line)
    window = lines[sent:end + 1]
    received = sum(1 for line in window if line.startswith("<<<") and "RecordHeader" in line)
    not_data = sum(1 for line in window if line.startswith("<<<") and ("Handshake" in line or "Alert" in line))
    assert "hello" in "\n".join(lines[status:end]), out
    assert received - not_data == 1, "\n".join(window)
