"""GnuTLSClientVerify in <Location>/<Directory>/.htaccess: a request there
needs a client certificate that the handshake did not ask for, so mod_gtls asks
for it after the handshake (TLS 1.3 post-handshake authentication), keeps the
request data the client sends meanwhile, and answers 403 when it cannot ask
(TLS 1.2, a client that did not offer it) or gets no valid certificate; over
HTTP/2 the client is sent to HTTP/1.1. Real clients: curl, openssl s_client,
and Python's ssl module for a client that sends a body without reading."""
import hashlib
import re
import socket
import ssl
import subprocess

import pytest

from conftest import needs_h2, tls_vhost
from harness.clients import s_client

ECHO_CGI = """#!/usr/bin/python3
import hashlib, os, sys
body = sys.stdin.buffer.read()
print("Content-Type: text/plain")
print()
for key in sorted(os.environ):
    if key.startswith("SSL_CLIENT_"):
        print(f"{key}={os.environ[key]}")
print(f"BODY_LENGTH={len(body)}")
print(f"BODY_SHA256={hashlib.sha256(body).hexdigest()}")
"""

REQUEST = "GET {path} HTTP/1.1\r\nHost: a.test\r\n{more}\r\n"


def start(httpd_factory, pki, port, extra=""):
    server = httpd_factory()
    for name in ("open.py", "secret.py", "maybe.py"):
        server.add_cgi(name, ECHO_CGI)
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(
        port, "a.test", [pki.leaf("a.test", "ecdsa")],
        extra=f'  GnuTLSClientCAFile "{pki.ca}"\n  Protocols h2 http/1.1\n'
              "  <Location /cgi-bin/secret.py>\n    GnuTLSClientVerify require\n  </Location>\n"
              "  <Location /cgi-bin/maybe.py>\n    GnuTLSClientVerify request\n  </Location>\n" + extra))
    server.start(wait_port=port)
    return server


def curl_many(paths, pki, port, extra=()):
    """One curl run fetching `paths` in order over one connection where it can;
    returns [(status, new connections, http version, variables)]."""
    args = ["curl", "-sS", "--cacert", str(pki.ca), "--resolve", f"a.test:{port}:127.0.0.1",
            "-w", "\n@@%{http_code} %{num_connects} %{http_version}@@\n", *extra,
            *[f"https://a.test:{port}{path}" for path in paths]]
    out = subprocess.run(args, capture_output=True, timeout=60)
    results = []
    for body, status, connects, version in re.findall(rb"(.*?)\n@@(\d+) (\d+) ([\d.]+)@@\n", out.stdout, re.S):
        env = dict(line.split("=", 1) for line in body.decode().splitlines() if "=" in line)
        results.append((int(status), int(connects), version.decode(), env))
    assert len(results) == len(paths), out.stderr.decode()
    return results


def with_cert(leaf):
    return ["--cert", str(leaf.chain), "--key", str(leaf.key)]


def test_location_require_asks_for_the_certificate_after_the_handshake(httpd_factory, pki, port):
    server = start(httpd_factory, pki, port)
    alice = pki.client("alice")
    (s1, c1, _, open_env), (s2, c2, _, secret_env), (s3, c3, _, maybe_env) = curl_many(
        ["/cgi-bin/open.py", "/cgi-bin/secret.py", "/cgi-bin/maybe.py"], pki, port,
        extra=["--tlsv1.3", "--http1.1", *with_cert(alice)])
    assert (s1, s2, s3) == (200, 200, 200)
    assert (c1, c2, c3) == (1, 0, 0)  # one connection: the certificate came after its handshake
    assert open_env["SSL_CLIENT_VERIFY"] == "NONE" and "SSL_CLIENT_S_DN_CN" not in open_env
    assert secret_env["SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert secret_env["SSL_CLIENT_S_DN_CN"] == "alice"
    # Asked once per connection: the next directory sees the same certificate.
    assert maybe_env["SSL_CLIENT_VERIFY"] == "SUCCESS" and maybe_env["SSL_CLIENT_S_DN_CN"] == "alice"
    assert "GTLS0242" not in server.read_error_log()


def test_request_body_sent_while_asked_is_kept(httpd_factory, pki, port):
    server = start(httpd_factory, pki, port)
    alice = pki.client("alice")
    body = bytes(range(256)) * 200  # 51,200 bytes, sent at once with the request
    request = (f"POST /cgi-bin/secret.py HTTP/1.1\r\nHost: a.test\r\nContent-Length: {len(body)}\r\n"
               "Connection: close\r\n\r\n").encode() + body
    _, out = s_client(port, "a.test", pki.ca, input_bytes=request,
                      extra=["-tls1_3", "-enable_pha", "-ign_eof", "-cert", str(alice.cert), "-key", str(alice.key),
                             "-cert_chain", str(pki.intermediate)])
    assert "HTTP/1.1 200" in out, server.read_error_log()
    assert "SSL_CLIENT_S_DN_CN=alice" in out
    assert f"BODY_LENGTH={len(body)}" in out and f"BODY_SHA256={hashlib.sha256(body).hexdigest()}" in out, out


def test_no_certificate_gets_403_and_the_connection_goes_on(httpd_factory, pki, port):
    server = start(httpd_factory, pki, port)
    requests = (REQUEST.format(path="/cgi-bin/secret.py", more="") +
                REQUEST.format(path="/cgi-bin/maybe.py", more="") +
                REQUEST.format(path="/cgi-bin/open.py", more="Connection: close\r\n"))
    _, out = s_client(port, "a.test", pki.ca, input_bytes=requests.encode(), extra=["-tls1_3", "-enable_pha", "-ign_eof"])
    statuses = re.findall(r"HTTP/1.1 (\d+)", out)
    assert statuses == ["403", "200", "200"], out
    assert "SSL_CLIENT_VERIFY=NONE" in out
    log = server.read_error_log()
    assert "GTLS0242" in log and "the client sent no certificate" in log, log


def test_certificate_from_another_ca_gets_403(httpd_factory, pki, rsa_pki, port):
    server = start(httpd_factory, pki, port)
    mallory = rsa_pki.client("mallory")
    (status, _, _, _), (maybe_status, _, _, env) = curl_many(
        ["/cgi-bin/secret.py", "/cgi-bin/maybe.py"], pki, port, extra=["--tlsv1.3", "--http1.1", *with_cert(mallory)])
    assert status == 403
    assert maybe_status == 200 and env["SSL_CLIENT_VERIFY"].startswith("FAILED:") and env["SSL_CLIENT_S_DN_CN"] == "mallory"
    log = server.read_error_log()
    assert "GTLS0240" in log and "GTLS0242" in log, log


@pytest.mark.parametrize("tls,reason", [
    (["-tls1_3"], "the client did not offer TLS 1.3 post-handshake authentication"),
    (["-tls1_2", "-enable_pha"], "the connection is TLS 1.2, whose renegotiation mod_gtls refuses"),
])
def test_a_connection_that_cannot_be_asked_gets_403(httpd_factory, pki, port, tls, reason):
    server = start(httpd_factory, pki, port)
    alice = pki.client("alice")
    requests = REQUEST.format(path="/cgi-bin/maybe.py", more="") + REQUEST.format(path="/cgi-bin/secret.py",
                                                                                  more="Connection: close\r\n")
    _, out = s_client(port, "a.test", pki.ca, input_bytes=requests.encode(),
                      extra=[*tls, "-ign_eof", "-cert", str(alice.cert), "-key", str(alice.key),
                             "-cert_chain", str(pki.intermediate)])
    # `request` goes on without one; `require` cannot.
    assert re.findall(r"HTTP/1.1 (\d+)", out) == ["200", "403"], out
    assert "SSL_CLIENT_VERIFY=NONE" in out
    assert reason in server.read_error_log()


@needs_h2
def test_http2_client_is_sent_to_http1_and_gets_in(httpd_factory, pki, port):
    server = start(httpd_factory, pki, port)
    [(status, _, version, env)] = curl_many(["/cgi-bin/secret.py"], pki, port,
                                            extra=["--http2", "--tlsv1.3", *with_cert(pki.client("alice"))])
    assert (status, version) == (200, "1.1")
    assert env["SSL_CLIENT_S_DN_CN"] == "alice"
    assert "GTLS0243" in server.read_error_log()


def test_htaccess_can_require_a_certificate(httpd_factory, pki, port):
    server = httpd_factory()
    private = server.docroot("private")
    (private / "index.html").write_text("private\n")
    (private / ".htaccess").write_text("GnuTLSClientVerify require\n")
    server.write_config(f"Listen 127.0.0.1:{port}\n" +
                        f'<Directory "{private}">\n  AllowOverride AuthConfig\n</Directory>\n' + tls_vhost(
                            port, "a.test", [pki.leaf("a.test", "ecdsa")], extra=f'  GnuTLSClientCAFile "{pki.ca}"'))
    server.start(wait_port=port)
    [(status, _, _, _)] = curl_many(["/private/"], pki, port, extra=["--tlsv1.3", "--http1.1"])
    assert status == 403
    [(status, _, _, _)] = curl_many(["/private/"], pki, port, extra=["--tlsv1.3", "--http1.1",
                                                                    *with_cert(pki.client("alice"))])
    assert status == 200


def test_plain_http_never_gets_a_require_location(httpd_factory, pki, port):
    from harness.httpd import free_port
    plain = free_port()
    server = httpd_factory()
    server.add_cgi("secret.py", ECHO_CGI)
    server.write_config(f"Listen 127.0.0.1:{port}\nListen 127.0.0.1:{plain}\n"
                        "<Location /cgi-bin/secret.py>\n  GnuTLSClientVerify require\n</Location>\n" +
                        tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")],
                                  extra=f'  GnuTLSClientCAFile "{pki.ca}"') +
                        f"<VirtualHost 127.0.0.1:{plain}>\n  ServerName a.test\n</VirtualHost>\n")
    server.start(wait_port=port)
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                          f"http://127.0.0.1:{plain}/cgi-bin/secret.py"], capture_output=True, timeout=30)
    assert out.stdout == b"403", out
    assert "did not come over TLS" in server.read_error_log()


def test_too_much_request_data_before_the_answer_gets_413(httpd_factory, pki, port):
    server = start(httpd_factory, pki, port)
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.post_handshake_auth = True
    body = b"x" * (512 * 1024)
    head = (f"POST /cgi-bin/secret.py HTTP/1.1\r\nHost: a.test\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        with context.wrap_socket(raw, server_hostname="a.test") as tls:
            try:
                # Writes everything before reading: the certificate request waits unread.
                tls.sendall(head + body)
                while chunk := tls.recv(65536):
                    answer += chunk
            except (OSError, ssl.SSLError):
                pass
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert "GTLS0244" in server.read_error_log()


@pytest.mark.parametrize("conf,expected", [
    ("<Location /x>\n  GnuTLSClientVerify require\n</Location>\n",
     "GnuTLSClientVerify in a <Directory> or <Location> asks for client certificates but no GnuTLSClientCAFile"),
    ("<Location /x>\n  GnuTLSClientVerify maybe\n</Location>\n", "must be ignore, none, off, request or require"),
])
def test_directory_configuration_errors(httpd_factory, pki, port, conf, expected):
    server = httpd_factory()
    code, out = server.configtest(f"Listen 127.0.0.1:{port}\n" + conf +
                                  tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")]))
    assert code != 0
    assert expected in out, out
