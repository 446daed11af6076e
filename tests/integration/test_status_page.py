"""mod_status's page: mod_gnutls's library and session lines, per-certificate
staple lines."""
import re
import subprocess
import urllib.request

from conftest import tls_vhost
from harness.clients import curl
from harness.httpd import free_port

STATUS = "  <Location /server-status>\n    SetHandler server-status\n  </Location>\n"


def gnutls_version():
    out = subprocess.run(["gnutls-cli", "--version"], capture_output=True, text=True).stdout
    return re.search(r"gnutls-cli (\d+\.\d+\.\d+)", out).group(1)


def start(httpd_factory, pki, port):
    server = httpd_factory()
    plain = free_port()
    leaf = pki.leaf("a.test", "ecdsa")
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [leaf], extra=STATUS) +
                        f"Listen 127.0.0.1:{plain}\n<VirtualHost 127.0.0.1:{plain}>\n{STATUS}</VirtualHost>\n")
    server.start(wait_port=port)
    return server, plain


def test_mod_gnutls_lines_over_tls(httpd_factory, pki, port):
    start(httpd_factory, pki, port)
    status, _, body, err = curl(f"https://a.test:{port}/server-status?auto", pki.ca, "a.test", port,
                                extra=["--tlsv1.3", "--http1.1"])
    assert status == 200, err
    text = body.decode()
    assert f"Using GnuTLS version: {gnutls_version()}\n" in text, text
    assert re.search(r"^Built against GnuTLS version: \d+\.\d+\.\d+$", text, re.M), text
    assert re.search(r"^Current TLS session: \(TLS1\.3\)-\(ECDHE-X25519\)-\(ECDSA-SECP256R1-SHA256\)-\(AES-128-GCM\)$",
                     text, re.M), text
    status, _, body, err = curl(f"https://a.test:{port}/server-status", pki.ca, "a.test", port)
    html = body.decode()
    assert "<dt>Current TLS session:</dt><dd>(TLS1.3)-" in html, html
    assert "<dt>Using TLS:</dt><dd>yes</dd>" in html, html


def test_no_session_line_over_plain_http(httpd_factory, pki, port):
    _, plain = start(httpd_factory, pki, port)
    text = urllib.request.urlopen(f"http://127.0.0.1:{plain}/server-status?auto", timeout=10).read().decode()
    assert "Using GnuTLS version: " in text, text
    assert "Current TLS session" not in text
    html = urllib.request.urlopen(f"http://127.0.0.1:{plain}/server-status", timeout=10).read().decode()
    assert "<dt>Using TLS:</dt><dd>no</dd>" in html, html


def test_served_counts_are_the_whole_servers(httpd_factory, pki, port, tmp_path):
    """Handshakes spread over several worker processes; whichever process
    answers the status page reports all of them."""
    from harness.ocsp import make_response
    from test_stapling import ECDSA_ONLY, received_staple
    server = httpd_factory()
    status_port = free_port()
    leaf = pki.leaf("a.test", "ecdsa")
    response = tmp_path / "a.der"
    make_response(pki, leaf, response)
    server.write_config("StartServers 3\nMinSpareThreads 75\n" + f"Listen 127.0.0.1:{port}\n" +
                        tls_vhost(port, "a.test", [leaf], extra=f'  GnuTLSOCSPResponseFile "{response}"') +
                        f"Listen 127.0.0.1:{status_port}\n<VirtualHost 127.0.0.1:{status_port}>\n{STATUS}</VirtualHost>\n")
    server.start(wait_port=port)
    assert len(server.children()) >= 3
    handshakes = 12
    for _ in range(handshakes):
        assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) != b""
    for _ in range(6):  # several reads, answered by whichever process
        text = urllib.request.urlopen(f"http://127.0.0.1:{status_port}/server-status?auto", timeout=10).read().decode()
        assert re.search(rf"GTLSStaple: a\.test:{port}#0 serving=yes served={handshakes} ", text), text
