"""Traffic shapes that exercise the TLS filters beyond one request per
connection: HTTP/2 multiplexing, keep-alive, pipelining, TLS 1.3 KeyUpdate,
0-RTT attempts and slow readers."""
import hashlib
import re
import subprocess
import time

import pytest

from conftest import needs_h2, tls_vhost
from harness.clients import curl, run, s_client


@pytest.fixture
def server(httpd_factory, pki, port):
    server = httpd_factory()
    root = server.docroot()
    (root / "hello.txt").write_text("hello over tls\n")
    # 4 MiB that compress badly, for the slow reader
    blob = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range((4 << 20) // 32))
    (root / "blob.bin").write_bytes(blob)
    server.write_config(f"Listen 127.0.0.1:{port}\nMaxKeepAliveRequests 0\nKeepAliveTimeout 30\n" +
                        tls_vhost(port, "a.test", [pki.leaf("a.test", "rsa"), pki.leaf("a.test", "ecdsa")],
                                  extra="  Protocols h2 http/1.1"))
    server.start(wait_port=port)
    server.blob_sha256 = hashlib.sha256(blob).hexdigest()
    return server


@needs_h2
def test_http2_multiplexed_streams(server, pki, port):
    # 4 connections, up to 20 concurrent streams each, 400 requests.
    result = run(["h2load", "-n", "400", "-c", "4", "-m", "20", "--connect-to", f"127.0.0.1:{port}",
                  f"https://a.test:{port}/hello.txt"], timeout=120)
    out = result.stdout.decode(errors="replace")
    assert result.returncode == 0, out + result.stderr.decode(errors="replace")
    assert "Application protocol: h2" in out, out
    assert re.search(r"requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed, 0 errored", out), out
    assert "status codes: 400 2xx" in out, out


def test_many_requests_on_one_keepalive_connection(server, pki, port):
    urls = [f"https://a.test:{port}/hello.txt"] * 100
    args = ["curl", "-sS", "--http1.1", "--cacert", str(pki.ca), "--resolve", f"a.test:{port}:127.0.0.1",
            "-w", "%{num_connects}\n", *urls]
    result = run(args, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert out.count("hello over tls\n") == 100
    # curl reports one new connection for the first transfer and 0 for reused ones
    assert out.count("\n1\n") + out.startswith("1\n") <= 1, out


def test_pipelined_requests(server, pki, port):
    requests = b"".join(b"GET /hello.txt?%d HTTP/1.1\r\nHost: a.test\r\n\r\n" % i for i in range(20))
    requests += b"GET /hello.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    code, out = s_client(port, "a.test", pki.ca, extra=["-quiet", "-ign_eof"], input_bytes=requests)
    assert code == 0, out
    assert out.count("HTTP/1.1 200 OK") == 21, out
    assert out.count("hello over tls") == 21


@pytest.mark.parametrize("command", ["k", "K"])  # KeyUpdate without / with update_requested
def test_tls13_key_update(server, pki, port, command):
    # s_client turns an input line "k"/"K" into a KeyUpdate (only without
    # -ign_eof, so stdin stays open until the server closes).
    client = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "a.test",
                               "-CAfile", str(pki.ca), "-tls1_3", "-crlf"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # s_client reads stdin in chunks and looks at a chunk's first letter only
        for chunk in (b"GET /hello.txt HTTP/1.1\nHost: a.test\n\n", f"{command}\n".encode(),
                      b"GET /hello.txt HTTP/1.1\nHost: a.test\nConnection: close\n\n"):
            client.stdin.write(chunk)
            client.stdin.flush()
            time.sleep(0.5)
        out, _ = client.communicate(timeout=30)
    finally:
        client.kill()
        client.wait()
    out = out.decode(errors="replace")
    assert "KEYUPDATE" in out, out
    # both requests answered, the second one after the key update
    assert out.count("HTTP/1.1 200 OK") == 2 and out.count("hello over tls") == 2, out
    assert out.index("KEYUPDATE") < out.rindex("HTTP/1.1 200 OK"), out


def test_requested_key_update_is_answered_at_once(server, pki, port):
    # RFC 8446 section 4.6.3: a KeyUpdate with update_requested gets one back.
    # Some clients (tlsfuzzer) wait for it before they send more, so it must
    # not wait for the server's next response data. s_client -msg prints the
    # handshake messages it receives.
    client = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "a.test",
                               "-CAfile", str(pki.ca), "-tls1_3", "-crlf", "-msg"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for chunk in (b"GET /hello.txt HTTP/1.1\nHost: a.test\n\n", b"K\n"):
            client.stdin.write(chunk)
            client.stdin.flush()
            time.sleep(1)
        out, _ = client.communicate(timeout=30)
    finally:
        client.kill()
        client.wait()
    out = out.decode(errors="replace")
    after = out.split("KEYUPDATE", 1)[1]  # s_client's note that it sent one
    assert re.search(r"<<< TLS 1.3, Handshake \[length 0005\], KeyUpdate", after), out


def test_early_data_attempt_is_answered(server, pki, port, tmp_path):
    # A resumed TLS 1.3 client that sends its request as 0-RTT early data: the
    # server may refuse the early data, but the connection must then carry on.
    session = tmp_path / "session.pem"
    early = tmp_path / "early.txt"
    request = b"GET /hello.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    early.write_bytes(request)
    code, out = s_client(port, "a.test", pki.ca, extra=["-tls1_3", "-ign_eof", "-sess_out", str(session)],
                         input_bytes=request)
    assert code == 0 and "hello over tls" in out, out
    code, out = s_client(port, "a.test", pki.ca, extra=["-tls1_3", "-ign_eof", "-sess_in", str(session),
                                                        "-early_data", str(early)], input_bytes=b"")
    assert code == 0, out
    assert "Reused, TLSv1.3" in out, out
    if "Early data was rejected" in out or "Early data was not sent" in out:
        # the server did not take the early request; a normal one still works
        code, out = s_client(port, "a.test", pki.ca, extra=["-tls1_3", "-ign_eof", "-sess_in", str(session)],
                             input_bytes=request)
        assert code == 0, out
    assert "hello over tls" in out, out


@pytest.mark.parametrize("http", ["--http1.1", pytest.param("--http2", marks=needs_h2)])
def test_slow_reader_gets_every_byte(server, pki, port, http):
    result = subprocess.run(["curl", "-sS", http, "--limit-rate", "2M", "--max-time", "60", "--cacert", str(pki.ca),
                             "--resolve", f"a.test:{port}:127.0.0.1", f"https://a.test:{port}/blob.bin"],
                            capture_output=True, timeout=90)
    assert result.returncode == 0, result.stderr
    assert hashlib.sha256(result.stdout).hexdigest() == server.blob_sha256


def test_large_request_headers(server, pki, port):
    # 6 headers of 8000 bytes: the request head spans several TLS records.
    headers = [arg for i in range(6) for arg in ("-H", f"X-Big-{i}: {'x' * 8000}")]
    status, _, body, err = curl(f"https://a.test:{port}/hello.txt", pki.ca, "a.test", port,
                                extra=["--http1.1", *headers])
    assert (status, body) == (200, b"hello over tls\n"), err


def tiny_segment_tls_get(port, ca, version, chunk=1):
    """A complete HTTPS GET where every byte the client sends goes out in its
    own TCP segment (Python ssl over memory BIOs): records and handshake
    messages reach the server in pieces. Returns the plaintext response."""
    import socket
    import ssl
    context = ssl.create_default_context(cafile=str(ca))
    context.minimum_version = context.maximum_version = version
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="a.test")
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def flush():
        data = outgoing.read()
        for i in range(0, len(data), chunk):
            sock.sendall(data[i:i + chunk])

    def receive():
        data = sock.recv(65536)
        if data:
            incoming.write(data)
        else:
            incoming.write_eof()
        return data

    try:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                flush()
                assert receive(), "server closed during the handshake"
        flush()
        tls.write(b"GET /hello.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        flush()
        response = b""
        while True:
            try:
                piece = tls.read(65536)
                if not piece:
                    break
                response += piece
            except ssl.SSLWantReadError:
                flush()
                if not receive():
                    break
            except ssl.SSLZeroReturnError:
                break
        return response
    finally:
        sock.close()


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_one_byte_tcp_segments(server, pki, port, version):
    import ssl
    response = tiny_segment_tls_get(port, pki.ca, getattr(ssl.TLSVersion, version))
    assert response.startswith(b"HTTP/1.1 200 OK\r\n"), response[:200]
    assert response.endswith(b"hello over tls\n"), response[-200:]


def test_chunked_upload(server, pki, port):
    cgi = server.add_cgi("count.py", "#!/usr/bin/python3\nimport sys\n"
                                     "data = sys.stdin.buffer.read()\n"
                                     "print('Content-Type: text/plain')\nprint()\nprint(len(data))\n")
    result = subprocess.run(["curl", "-sS", "--http1.1", "--max-time", "60", "--cacert", str(pki.ca),
                             "--resolve", f"a.test:{port}:127.0.0.1", "-H", "Transfer-Encoding: chunked",
                             "--data-binary", "@-", f"https://a.test:{port}{cgi}"],
                            input=b"z" * 3_000_000, capture_output=True, timeout=90)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == b"3000000", result.stdout


def keepalive_client(port, ca, setup_slots, all_idle, results):
    """One request, then idle until every client is idle, then a second request
    on the same connection."""
    import http.client
    import socket
    import ssl
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with setup_slots:
            connection = http.client.HTTPSConnection("a.test", port, context=context, timeout=30)
            connection.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30),
                                                  server_hostname="a.test")
            connection.request("GET", "/hello.txt")
            response = connection.getresponse()
            answers = [(response.status, response.read())]
        all_idle.wait(timeout=60)
        time.sleep(1.0)  # idle long enough for the MPM to park the connection
        with setup_slots:  # a burst of 25 requests would make all 10 workers busy
            connection.request("GET", "/hello.txt")
            response = connection.getresponse()
            answers.append((response.status, response.read()))
        connection.close()
        results.append(answers == [(200, b"hello over tls\n")] * 2 or answers)
    except Exception as e:  # noqa: BLE001 - reported by the test
        results.append(repr(e))


def test_idle_keepalive_connections_hold_no_thread(httpd_factory, pki, port):
    # One process with 10 worker threads and 25 idle keep-alive TLS
    # connections: only if an idle connection holds no thread (the event MPM
    # parks it) does every connection get its second answer. Connections are
    # set up, and asked again, 4 at a time so that they never occupy every
    # thread (the event MPM closes idle connections when all its workers are busy).
    import threading
    server = httpd_factory(mpm="event", log_level="info gtls:trace1 mpm_event:trace1")
    server.docroot().joinpath("hello.txt").write_text("hello over tls\n")
    server.write_config(f"Listen 127.0.0.1:{port}\nStartServers 1\nServerLimit 1\nThreadsPerChild 10\n"
                        "MaxRequestWorkers 10\nMinSpareThreads 1\nMaxSpareThreads 10\n"
                        "MaxKeepAliveRequests 0\nKeepAliveTimeout 60\n" +
                        tls_vhost(port, "a.test", [pki.leaf("a.test", "rsa"), pki.leaf("a.test", "ecdsa")]))
    server.start(wait_port=port)
    clients = 25
    setup_slots = threading.Semaphore(4)
    all_idle = threading.Barrier(clients)
    results = []
    threads = [threading.Thread(target=keepalive_client, args=(port, pki.ca, setup_slots, all_idle, results))
               for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert len(results) == clients
    assert [r for r in results if r is not True] == []
    assert "All workers are busy" not in server.read_error_log()


def test_client_abandoning_downloads(server, pki, port):
    # Clients that stop reading or hang up mid-response, over HTTP/1.1 and HTTP/2.
    for http in ("--http1.1", "--http2"):
        for _ in range(3):
            result = subprocess.run(["curl", "-sS", http, "--limit-rate", "500K", "--max-time", "1", "--cacert",
                                     str(pki.ca), "--resolve", f"a.test:{port}:127.0.0.1",
                                     f"https://a.test:{port}/blob.bin", "-o", "/dev/null"],
                                    capture_output=True, timeout=30)
            assert result.returncode == 28, result.stderr  # curl's own time limit cut it
    status, _, body, err = curl(f"https://a.test:{port}/hello.txt", pki.ca, "a.test", port)
    assert (status, body) == (200, b"hello over tls\n"), err
