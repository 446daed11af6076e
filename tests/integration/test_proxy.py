"""TLS to proxy backends: mod_proxy's https://, h2:// and wss:// workers with
mod_gtls as the TLS client (GnuTLSProxy*). Every backend is a second real
httpd (mod_gtls, or mod_ssl) on loopback, with the test PKI."""
import http.client
import os
import re
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

from conftest import needs_h2, tls_vhost
from harness.clients import curl, run
from harness.httpd import free_port
from harness.pki import _certtool, _template

# What the backend tells about the TLS connection the proxy made, in headers
# that mod_proxy passes on to the client.
BACKEND_HEADERS = "\n".join([
    '  Header always set X-Backend-SNI "%{SSL_TLS_SNI}s"',
    '  Header always set X-Backend-Resumed "%{SSL_SESSION_RESUMED}s"',
    '  Header always set X-Backend-Protocol "%{SSL_PROTOCOL}s"',
    '  Header always set X-Backend-Client "%{SSL_CLIENT_S_DN}s"',
])


class Backend:
    def __init__(self, server, port):
        self.server, self.port = server, port


def start_backend(httpd_factory, leaf, extra="", mod_ssl=False, log_level="info gtls:debug"):
    """An httpd serving hello.txt over TLS with `leaf` on a free port."""
    port = free_port()
    server = httpd_factory(extra_modules=["ssl"] if mod_ssl else [], load_gtls=not mod_ssl, log_level=log_level)
    root = server.docroot("backend")
    (root / "hello.txt").write_text("hello from the backend\n")
    site = f'  DocumentRoot "{root}"\n{BACKEND_HEADERS}\n{extra}'
    if mod_ssl:
        conf = (f"Listen 127.0.0.1:{port}\nSSLSessionCache shmcb:{server.root}/logs/ssl_cache(512000)\n"
                f"<VirtualHost 127.0.0.1:{port}>\n  ServerName localhost\n  SSLEngine on\n"
                f'  SSLCertificateFile "{leaf.chain}"\n  SSLCertificateKeyFile "{leaf.key}"\n{site}\n</VirtualHost>\n')
    else:
        conf = f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "localhost", [leaf], extra=site)
    server.write_config(conf)
    server.start(wait_port=port)
    return Backend(server, port)


def start_frontend(httpd_factory, pki, vhost_lines, tls_leaf=None, modules=("proxy", "proxy_http"), global_conf=""):
    """An httpd whose vhost front.test proxies; plain HTTP unless `tls_leaf`."""
    port = free_port()
    server = httpd_factory(extra_modules=list(modules))
    if tls_leaf is not None:
        vhost = tls_vhost(port, "front.test", [tls_leaf], extra=vhost_lines)
    else:
        vhost = f"<VirtualHost 127.0.0.1:{port}>\n  ServerName front.test\n{vhost_lines}\n</VirtualHost>\n"
    server.write_config(f"Listen 127.0.0.1:{port}\n{global_conf}" + vhost)
    server.start(wait_port=port)
    return server, port


def proxy_lines(pki, backend_port, path="/proxy/", scheme="https", extra=""):
    return (f'  GnuTLSProxyEngine On\n  GnuTLSProxyCAFile "{pki.ca}"\n'
            f"  ProxyPass {path} {scheme}://localhost:{backend_port}/\n{extra}")


def get(port, path="/proxy/hello.txt", extra=()):
    """(status, headers lower-cased, body) of a plain HTTP GET to the frontend."""
    status, _, out, err = curl(f"http://127.0.0.1:{port}{path}", "/dev/null", extra=["-D", "-", *extra])
    head, _, body = out.partition(b"\r\n\r\n")
    return status, head.decode(errors="replace").lower(), body


def expired_leaf(pki, name):
    """A certificate for `name` from the test intermediate that expired in 2021."""
    base = pki.dir / f"{name}-expired"
    key, cert, chain = Path(f"{base}.key"), Path(f"{base}.pem"), Path(f"{base}.chain.pem")
    _certtool("--generate-privkey", "--key-type", "ecdsa", "--curve", "secp256r1", "--outfile", str(key))
    _certtool("--generate-certificate", "--load-privkey", str(key),
              "--load-ca-certificate", str(pki.intermediate), "--load-ca-privkey", str(pki.intermediate_key),
              "--outfile", str(cert), "--template", _template(Path(f"{base}.tmpl"), [
                  f'cn = "{name}"', f'dns_name = "{name}"', "tls_www_server", "signing_key",
                  'activation_date = "2020-01-01 00:00:00"', 'expiration_date = "2021-01-01 00:00:00"']))
    chain.write_text(cert.read_text() + pki.intermediate.read_text())
    os.chmod(key, 0o644)
    return type("Leaf", (), {"name": name, "cert": cert, "chain": chain, "key": key})


def test_proxied_request_is_verified_and_names_the_backend(httpd_factory, pki):
    backend = start_backend(httpd_factory, pki.leaf("localhost", "ecdsa"))
    front, port = start_frontend(httpd_factory, pki, proxy_lines(pki, backend.port))
    status, head, body = get(port)
    assert (status, body) == (200, b"hello from the backend\n"), head
    assert "x-backend-sni: localhost" in head  # SNI is the URL's host
    assert "x-backend-protocol: tlsv1.3" in head
    log = front.read_error_log()
    assert re.search(r"GTLS0253: front\.test:\d+: TLS connection to backend localhost \(127\.0\.0\.1:%d\) opened"
                     % backend.port, log), log


def test_tls_frontend_proxies_to_tls_backend(httpd_factory, pki):
    backend = start_backend(httpd_factory, pki.leaf("localhost", "rsa"))
    front, port = start_frontend(httpd_factory, pki, proxy_lines(pki, backend.port),
                                 tls_leaf=pki.leaf("front.test", "ecdsa"))
    status, _, body, err = curl(f"https://front.test:{port}/proxy/hello.txt", pki.ca, "front.test", port)
    assert (status, body) == (200, b"hello from the backend\n"), err


def test_mod_ssl_backend(httpd_factory, pki):
    backend = start_backend(httpd_factory, pki.leaf("localhost", "ecdsa"), mod_ssl=True, log_level="info")
    front, port = start_frontend(httpd_factory, pki, proxy_lines(pki, backend.port))
    status, head, body = get(port)
    assert (status, body) == (200, b"hello from the backend\n"), head
    assert "x-backend-sni: localhost" in head


@pytest.mark.parametrize("case", ["untrusted", "wrong-name", "expired", "revoked", "no-common-priority",
                                  "address-not-in-certificate"])
def test_backend_failing_verification_gives_502_and_a_log_line(httpd_factory, pki, rsa_pki, case):
    leaf = pki.leaf("localhost", "ecdsa")
    backend_extra, proxy_extra, target = "", "", "localhost"
    if case == "untrusted":
        leaf = rsa_pki.leaf("localhost", "ecdsa")
        reason = "issuer is unknown"
    elif case == "wrong-name":
        leaf = pki.leaf("other.test", "ecdsa")
        reason = "it is not for 'localhost'"
    elif case == "expired":
        leaf = expired_leaf(pki, "localhost")
        reason = "expired"
    elif case == "revoked":
        crl = pki.crl([leaf], pki.dir / "proxy-revoked.crl")
        proxy_extra = f'  GnuTLSProxyCRLFile "{crl}"\n'
        reason = "revoked"
    elif case == "no-common-priority":
        backend_extra = "  GnuTLSPriorities NORMAL:-VERS-ALL:+VERS-TLS1.2"
        proxy_extra = "  GnuTLSProxyPriorities NORMAL:-VERS-ALL:+VERS-TLS1.3\n"
        reason = "alert"
    else:
        target = "127.0.0.1"  # the certificate names localhost, not the address
        reason = "it is not for '127.0.0.1'"
    backend = start_backend(httpd_factory, leaf, extra=backend_extra)
    backend.server.allow_error("GTLS0201")
    lines = (f'  GnuTLSProxyEngine On\n  GnuTLSProxyCAFile "{pki.ca}"\n{proxy_extra}'
             f"  ProxyPass /proxy/ https://{target}:{backend.port}/\n")
    front, port = start_frontend(httpd_factory, pki, lines)
    for pattern in ("GTLS0251", "AH01102", "AH00898", "AH01084"):
        front.allow_error(pattern)
    status, head, body = get(port)
    assert status == 502, (head, body)
    assert b"Proxy Error" in body
    log = front.read_error_log()
    line = next((l for l in log.splitlines() if "GTLS0251" in l), "")
    assert f"front.test:{port}: TLS handshake with backend {target}" in line, log
    assert f"127.0.0.1:{backend.port}" in line
    assert reason in line, line
    assert "hello.txt" not in backend.server.root.joinpath("logs", "access.log").read_text()


@pytest.mark.parametrize("directive, leaf_case", [("GnuTLSProxyCheckPeerName Off", "wrong-name"),
                                                  ("GnuTLSProxyCheckPeerExpire Off", "expired")])
def test_checks_can_be_turned_off(httpd_factory, pki, directive, leaf_case):
    leaf = pki.leaf("other.test", "ecdsa") if leaf_case == "wrong-name" else expired_leaf(pki, "localhost")
    backend = start_backend(httpd_factory, leaf)
    front, port = start_frontend(httpd_factory, pki, proxy_lines(pki, backend.port, extra=f"  {directive}\n"))
    status, head, body = get(port)
    assert (status, body) == (200, b"hello from the backend\n"), head


def test_client_certificate_to_a_backend_that_requires_one(httpd_factory, pki):
    client = pki.client("front-proxy")
    backend = start_backend(httpd_factory, pki.leaf("localhost", "ecdsa"),
                            extra=f'  GnuTLSClientVerify require\n  GnuTLSClientCAFile "{pki.ca}"')
    backend.server.allow_error("GTLS0201")
    extra = f'  GnuTLSProxyCertificateFile "{client.chain}"\n  GnuTLSProxyKeyFile "{client.key}"\n'
    front, port = start_frontend(httpd_factory, pki, proxy_lines(pki, backend.port, extra=extra))
    status, head, body = get(port)
    assert (status, body) == (200, b"hello from the backend\n"), head
    assert "x-backend-client: " in head and "cn=front-proxy" in head


def test_client_certificate_missing_gives_502(httpd_factory, pki):
    backend = start_backend(httpd_factory, pki.leaf("localhost", "ecdsa"),
                            extra=f'  GnuTLSClientVerify require\n  GnuTLSClientCAFile "{pki.ca}"')
    backend.server.allow_error("GTLS0201")
    front, port = start_frontend(httpd_factory, pki, proxy_lines(pki, backend.port))
    for pattern in ("GTLS0209", "AH01102", "AH00898"):
        front.allow_error(pattern)
    status, head, body = get(port)
    assert status == 502
    # TLS 1.3: the backend refuses after the client's side of the handshake is done.
    assert re.search(r"\[gtls:error\].*GTLS0209: front\.test:\d+: TLS error reading from localhost \(127\.0\.0\.1:\d+\): "
                     r"it sent alert 'Certificate is required'", front.read_error_log()), front.read_error_log()


@pytest.mark.parametrize("protocol", ["TLS1.3", "TLS1.2"])
@pytest.mark.parametrize("backend_module", ["mod_gtls", "mod_ssl"])
def test_backend_sessions_are_resumed(httpd_factory, pki, protocol, backend_module):
    """KeepAlive Off on the backend: every proxied request opens a new backend
    connection; all but the first resume a session of the ones before."""
    priorities = "NORMAL:-VERS-ALL:+VERS-" + protocol
    if backend_module == "mod_gtls":
        extra = f"  KeepAlive Off\n  GnuTLSPriorities {priorities}"
    else:
        extra = "  KeepAlive Off\n  SSLProtocol " + ("TLSv1.3" if protocol == "TLS1.3" else "TLSv1.2")
    backend = start_backend(httpd_factory, pki.leaf("localhost", "ecdsa"), extra=extra,
                            mod_ssl=backend_module == "mod_ssl", log_level="info")
    front, port = start_frontend(httpd_factory, pki, proxy_lines(pki, backend.port))
    # One client connection, so one httpd process: each keeps its own sessions.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    resumed = []
    for _ in range(4):
        connection.request("GET", "/proxy/hello.txt")
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"hello from the backend\n")
        assert response.getheader("X-Backend-Protocol") == protocol.replace("TLS", "TLSv")
        resumed.append(response.getheader("X-Backend-Resumed"))
    connection.close()
    assert resumed == ["Initial", "Resumed", "Resumed", "Resumed"]


@needs_h2
def test_h2_backend(httpd_factory, pki):
    backend = start_backend(httpd_factory, pki.leaf("localhost", "ecdsa"), extra="  Protocols h2 http/1.1")
    front, port = start_frontend(httpd_factory, pki, proxy_lines(pki, backend.port, scheme="h2"),
                                 modules=("proxy", "proxy_http", "proxy_http2"))
    for _ in range(3):
        status, head, body = get(port)
        assert (status, body) == (200, b"hello from the backend\n"), head
    access = (backend.server.root / "logs" / "access.log").read_text()
    assert access.count('"GET /hello.txt HTTP/2.0" 200') == 3, access


@needs_h2
def test_h2_to_a_backend_without_h2_fails_with_a_log_line(httpd_factory, pki):
    backend = start_backend(httpd_factory, pki.leaf("localhost", "ecdsa"), extra="  Protocols http/1.1")
    backend.server.allow_error("GTLS0201")
    front, port = start_frontend(httpd_factory, pki, proxy_lines(pki, backend.port, scheme="h2"),
                                 modules=("proxy", "proxy_http", "proxy_http2"))
    front.allow_error("GTLS0252")
    front.allow_error("AH\\d+")  # mod_proxy_http2's own account of the failure
    status, head, body = get(port)
    assert status in (502, 503), head
    assert re.search(r"GTLS0252: front\.test:\d+: backend localhost .* did not agree to any of the protocols \[h2\]",
                     front.read_error_log())


@pytest.mark.parametrize("section", ["Proxy", "Location"])
def test_engine_in_a_section(httpd_factory, pki, section):
    backend = start_backend(httpd_factory, pki.leaf("localhost", "ecdsa"))
    where = f"https://localhost:{backend.port}/" if section == "Proxy" else "/proxy/"
    lines = (f'  GnuTLSProxyCAFile "{pki.ca}"\n  ProxyPass /proxy/ https://localhost:{backend.port}/\n'
             f'  <{section} "{where}">\n    GnuTLSProxyEngine On\n  </{section}>\n')
    front, port = start_frontend(httpd_factory, pki, lines)
    status, head, body = get(port)
    assert (status, body) == (200, b"hello from the backend\n"), head


def test_no_engine_means_no_tls_by_mod_gtls(httpd_factory, pki):
    """Without GnuTLSProxyEngine (and no mod_ssl), mod_proxy cannot do TLS and says so."""
    backend = start_backend(httpd_factory, pki.leaf("localhost", "ecdsa"))
    lines = f"  ProxyPass /proxy/ https://localhost:{backend.port}/\n"
    front, port = start_frontend(httpd_factory, pki, lines)
    front.allow_error("AH01961|AH00961")
    status, head, body = get(port)
    assert status == 500
    assert "hello.txt" not in (backend.server.root / "logs" / "access.log").read_text()


def test_mod_ssl_and_mod_gtls_each_claim_their_own_vhosts_backends(httpd_factory, pki):
    backend = start_backend(httpd_factory, pki.leaf("localhost", "ecdsa"))
    gtls_port, ssl_port = free_port(), free_port()
    front = httpd_factory(extra_modules=["ssl", "proxy", "proxy_http"])
    front.write_config(
        f"Listen 127.0.0.1:{gtls_port}\nListen 127.0.0.1:{ssl_port}\n"
        f"<VirtualHost 127.0.0.1:{gtls_port}>\n  ServerName gtls.test\n{proxy_lines(pki, backend.port)}</VirtualHost>\n"
        f"<VirtualHost 127.0.0.1:{ssl_port}>\n  ServerName ssl.test\n  SSLProxyEngine on\n"
        f'  SSLProxyCACertificateFile "{pki.ca}"\n  SSLProxyVerify require\n  SSLProxyVerifyDepth 3\n'
        f"  ProxyPass /proxy/ https://localhost:{backend.port}/\n</VirtualHost>\n")
    front.start(wait_port=gtls_port)
    for port in (gtls_port, ssl_port):
        for _ in range(2):
            status, head, body = get(port)
            assert (status, body) == (200, b"hello from the backend\n"), head
    log = front.read_error_log()
    assert re.search(r"GTLS0253: gtls\.test:\d+: TLS connection to backend", log)
    assert "GTLS0253: ssl.test" not in log


def test_backend_closing_idle_connections_is_handled(httpd_factory, pki):
    """The backend closes idle keep-alive connections (close_notify) and, after
    a restart, drops them abruptly: the next request opens a new one."""
    backend = start_backend(httpd_factory, pki.leaf("localhost", "ecdsa"), extra="  KeepAliveTimeout 1")
    front, port = start_frontend(httpd_factory, pki, proxy_lines(pki, backend.port))
    assert get(port)[0] == 200
    time.sleep(2.5)
    assert get(port)[0] == 200
    backend.server.stop()
    backend.server.started = False
    backend.server.start(wait_port=backend.port)
    status, head, body = get(port)
    assert (status, body) == (200, b"hello from the backend\n"), head


def child_peak_memory_kib(server):
    peaks = []
    for pid in server.children():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match:
            peaks.append(int(match.group(1)))
    return max(peaks)


def test_large_transfers_stream_through_the_proxy(httpd_factory, pki, tmp_path):
    """1 GiB down and 100 MiB up through TLS on both sides: the sizes arrive
    whole and the proxy's processes do not grow by the body's size."""
    backend = start_backend(httpd_factory, pki.leaf("localhost", "ecdsa"))
    big = backend.server.root / "htdocs" / "backend" / "big.bin"
    with open(big, "wb") as f:
        f.truncate(1 << 30)
    backend.server.add_cgi("count.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nwc -c\n")
    front, port = start_frontend(httpd_factory, pki, proxy_lines(pki, backend.port)
                                 + f"  ProxyPass /cgi/ https://localhost:{backend.port}/cgi-bin/\n",
                                 tls_leaf=pki.leaf("front.test", "ecdsa"))
    before = child_peak_memory_kib(front)
    result = run(["curl", "-sS", "--cacert", str(pki.ca), "--resolve", f"front.test:{port}:127.0.0.1",
                  "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                  f"https://front.test:{port}/proxy/big.bin"], timeout=300)
    assert result.stdout.decode() == f"200 {1 << 30}", result.stderr
    upload = tmp_path / "upload.bin"
    with open(upload, "wb") as f:
        f.truncate(100 << 20)
    status, _, body, err = curl(f"https://front.test:{port}/cgi/count.cgi", pki.ca, "front.test", port,
                                extra=["--data-binary", f"@{upload}", "-H", "Content-Type: application/octet-stream"],
                                timeout=300)
    assert (status, body.strip()) == (200, str(100 << 20).encode()), err
    # AddressSanitizer keeps freed memory in quarantine (256 MiB by default):
    # a process's peak means something only with the real allocator.
    if not os.environ.get("GTLS_SANITIZER_PRELOAD"):
        grown = child_peak_memory_kib(front) - before
        assert grown < 64 * 1024, f"a proxy process grew by {grown} KiB"


class WebSocketEchoBackend:
    """A TLS server (Python's ssl) that answers a WebSocket upgrade with 101
    and then echoes every byte: what mod_proxy tunnels for wss://."""

    def __init__(self, leaf, port):
        self.listener = socket.create_server(("127.0.0.1", port))
        self.listener.settimeout(30)
        self.sni = []
        self.context = None
        if leaf is not None:  # else plain ws://
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(str(leaf.chain), str(leaf.key))
            self.context.sni_callback = lambda sock, name, ctx: self.sni.append(name)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            raw, _ = self.listener.accept()
        except OSError:
            return
        with (self.context.wrap_socket(raw, server_side=True) if self.context else raw) as conn:
            conn.settimeout(30)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                conn.sendall(data)

    def stop(self):
        self.listener.close()
        self.thread.join(timeout=10)


def receive_until(sock, done):
    got = b""
    while not done(got):
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {got!r}"
        got += chunk
    return got


def upgrade_and_echo(sock):
    """Upgrades /ws/ on the frontend to a WebSocket tunnel and sends a long
    and a one-byte message through it: each must come back at once."""
    sock.sendall(b"GET /ws/ HTTP/1.1\r\nHost: front.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert receive_until(sock, lambda got: b"\r\n\r\n" in got).startswith(b"HTTP/1.1 101")
    for message in (b"echo through TLS", b"x"):
        sock.sendall(message)
        assert receive_until(sock, lambda got: len(got) >= len(message)) == message


def test_wss_tunnel(httpd_factory, pki):
    backend_port = free_port()
    backend = WebSocketEchoBackend(pki.leaf("localhost", "ecdsa"), backend_port)
    try:
        front, port = start_frontend(httpd_factory, pki, proxy_lines(pki, backend_port, path="/ws/", scheme="wss"),
                                     modules=("proxy", "proxy_http", "proxy_wstunnel"))
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            upgrade_and_echo(s)
        assert backend.sni == ["localhost"]
    finally:
        backend.stop()


@pytest.mark.parametrize("lines, expected", [
    ('  GnuTLSProxyEngine On\n  GnuTLSProxyCAFile "/nonexistent/ca.pem"', "GnuTLSProxyCAFile /nonexistent/ca.pem"),
    ("  GnuTLSProxyEngine On\n  GnuTLSProxyCertificateFile /etc/hostname", "needs a GnuTLSProxyKeyFile"),
    ("  GnuTLSProxyPriorities NORMAL:+NOT-A-THING", "GnuTLSProxyPriorities"),
    ("  GnuTLSProxyEngine maybe", "GnuTLSProxyEngine"),
])
def test_configuration_errors_fail_configtest(httpd_factory, lines, expected):
    server = httpd_factory(extra_modules=["proxy", "proxy_http"])
    port = free_port()
    code, out = server.configtest(f"Listen 127.0.0.1:{port}\n<VirtualHost 127.0.0.1:{port}>\n"
                                  f"  ServerName front.test\n{lines}\n</VirtualHost>\n")
    assert code != 0
    assert expected in out, out


def test_websocket_tunnel_through_a_tls_frontend(httpd_factory, pki):
    """The other direction of the same split: the client speaks TLS to
    mod_gtls, the backend plain ws://; small messages must not wait."""
    backend_port = free_port()
    backend = WebSocketEchoBackend(None, backend_port)
    try:
        front, port = start_frontend(httpd_factory, pki, f"  ProxyPass /ws/ ws://127.0.0.1:{backend_port}/\n",
                                     tls_leaf=pki.leaf("front.test", "ecdsa"),
                                     modules=("proxy", "proxy_http", "proxy_wstunnel"))
        context = ssl.create_default_context(cafile=str(pki.ca))
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
                context.wrap_socket(raw, server_hostname="front.test") as s:
            upgrade_and_echo(s)
    finally:
        backend.stop()


def test_preserved_host_is_the_name_checked_and_sent(httpd_factory, pki):
    """ProxyPreserveHost On: mod_proxy connects for the client's Host, so that
    is the SNI and the name the backend's certificate must carry."""
    backend = start_backend(httpd_factory, pki.leaf("localhost", "ecdsa"))
    front, port = start_frontend(httpd_factory, pki,
                                 proxy_lines(pki, backend.port, extra="  ProxyPreserveHost On\n")
                                 + "  ServerAlias localhost\n")
    for pattern in ("GTLS0251", "AH01102", "AH00898"):
        front.allow_error(pattern)
    status, head, body = get(port, extra=["-H", "Host: localhost"])
    assert (status, body) == (200, b"hello from the backend\n"), head
    assert "x-backend-sni: localhost" in head
    status, head, body = get(port, extra=["-H", "Host: front.test"])
    assert status == 502
    assert "it is not for 'front.test'" in front.read_error_log()


def test_the_shipped_example_configures(httpd_factory, pki):
    """conf/examples/reverse-proxy-to-tls-backend.conf passes `apachectl -t`
    with its files pointed at the test PKI."""
    example = (Path(__file__).resolve().parents[2] / "conf/examples/reverse-proxy-to-tls-backend.conf").read_text()
    leaf = pki.leaf("www.example.org", "ecdsa")
    port = free_port()
    example = (example.replace("*:443", f"127.0.0.1:{port}")
               .replace("/etc/ssl/certs/www.example.org.chain.pem", str(leaf.chain))
               .replace("/etc/ssl/private/www.example.org.key", str(leaf.key))
               .replace("/etc/ssl/certs/internal-ca.pem", str(pki.ca)))
    server = httpd_factory(extra_modules=["proxy", "proxy_http"])
    code, out = server.configtest(f"Listen 127.0.0.1:{port}\n{example}")
    assert code == 0, out
