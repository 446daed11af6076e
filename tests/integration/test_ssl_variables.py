"""mod_ssl's variables under mod_gtls: mod_rewrite %{HTTPS}, mod_headers %{…}s,
mod_log_config %{…}x and the CGI environment."""
import subprocess

import pytest

from conftest import tls_vhost
from harness.clients import curl, s_client

ENV_CGI = """#!/usr/bin/python3
import os
print("Content-Type: text/plain")
print()
for key in sorted(os.environ):
    if key == "HTTPS" or key.startswith("SSL_"):
        print(f"{key}={os.environ[key]}")
"""


@pytest.fixture
def server(httpd_factory, pki, port):
    server = httpd_factory()
    cgi = server.add_cgi("env.py", ENV_CGI)
    extra = "\n".join([
        "  RewriteEngine On",
        "  RewriteCond %{HTTPS} =on",
        "  RewriteRule ^/is-https$ /yes.txt [L]",
        "  RewriteRule ^/is-https$ /no.txt [L]",
        '  Header always set X-TLS-Protocol "%{SSL_PROTOCOL}s"',
        '  Header always set X-TLS-SNI "%{SSL_TLS_SNI}s"',
        f'  CustomLog "{server.root}/logs/tls.log" "%{{SSL_PROTOCOL}}x %{{SSL_CIPHER}}x %U"',
    ])
    server.docroot().joinpath("yes.txt").write_text("https is on\n")
    server.docroot().joinpath("no.txt").write_text("https is off\n")
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")],
                                                                  extra=extra))
    server.start(wait_port=port)
    return server, cgi


def test_rewrite_sees_https_on(server, pki, port):
    status, _, body, err = curl(f"https://a.test:{port}/is-https", pki.ca, "a.test", port)
    assert (status, body) == (200, b"https is on\n"), err


@pytest.mark.parametrize("args,protocol", [(["--tlsv1.3"], "TLSv1.3"), (["--tls-max", "1.2"], "TLSv1.2")])
def test_cgi_environment(server, pki, port, args, protocol):
    _, cgi = server
    status, _, body, err = curl(f"https://a.test:{port}{cgi}", pki.ca, "a.test", port, extra=args)
    assert status == 200, err
    env = dict(line.split("=", 1) for line in body.decode().splitlines())
    assert env["HTTPS"] == "on"
    assert env["SSL_PROTOCOL"] == protocol
    assert env["SSL_TLS_SNI"] == "a.test"
    assert env["SSL_CIPHER"].startswith("TLS_")
    assert env["SSL_VERSION_LIBRARY"].startswith("GnuTLS/")
    assert env["SSL_SESSION_RESUMED"] == "Initial"
    assert env["SSL_SERVER_S_DN"] == "CN=a.test"
    assert env["SSL_SERVER_A_KEY"] == "EC/ECDSA"
    # The served certificate as openssl reads it from the chain file.
    leaf = str(pki.leaf("a.test", "ecdsa").cert)
    def x509(*args):
        return subprocess.run(["openssl", "x509", "-in", leaf, "-noout", *args], capture_output=True, text=True,
                              check=True).stdout.strip().split("=", 1)[1]
    assert env["SSL_SERVER_M_SERIAL"] == x509("-serial")
    assert env["SSL_SERVER_I_DN"] == x509("-issuer", "-nameopt", "RFC2253")
    assert env["SSL_SERVER_V_START"] == x509("-startdate")
    assert env["SSL_SERVER_V_END"] == x509("-enddate")
    assert env["SSL_SERVER_M_VERSION"] == "3"
    assert env["SSL_SERVER_A_SIG"] == "ECDSA-SHA256"


def test_headers_and_log_see_variables(server, pki, port):
    srv, _ = server
    # curl -D - puts the headers in front of the body on stdout.
    status, _, out, err = curl(f"https://a.test:{port}/yes.txt", pki.ca, "a.test", port,
                               extra=["--tlsv1.3", "-D", "-"])
    assert status == 200, err
    headers = out.decode(errors="replace").lower()
    assert "x-tls-protocol: tlsv1.3" in headers
    assert "x-tls-sni: a.test" in headers
    srv.stop()  # flush the logs
    line = (srv.root / "logs" / "tls.log").read_text().splitlines()[-1]
    protocol, cipher, path = line.split()
    assert (protocol, path) == ("TLSv1.3", "/yes.txt")
    assert cipher.startswith("TLS_")


def test_cgi_sees_a_resumed_session(server, pki, port, tmp_path):
    _, cgi = server
    session = tmp_path / "session.pem"
    request = f"GET {cgi} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n".encode()
    code, out = s_client(port, "a.test", pki.ca, extra=["-tls1_3", "-ign_eof", "-sess_out", str(session)],
                         input_bytes=request)
    assert code == 0 and "SSL_SESSION_RESUMED=Initial" in out, out
    code, out = s_client(port, "a.test", pki.ca, extra=["-tls1_3", "-ign_eof", "-sess_in", str(session)],
                         input_bytes=request)
    assert code == 0 and "Reused, TLSv1.3" in out, out
    assert "SSL_SESSION_RESUMED=Resumed" in out, out
    assert "HTTPS=on" in out


def test_rewrite_ssl_variable_lookup(httpd_factory, pki, port):
    # %{SSL:VAR} in mod_rewrite goes through the same ssl_var_lookup hook.
    server = httpd_factory()
    server.docroot().joinpath("tls13.txt").write_text("tls 1.3\n")
    server.docroot().joinpath("other.txt").write_text("not tls 1.3\n")
    extra = "\n".join([
        "  RewriteEngine On",
        "  RewriteCond %{SSL:SSL_PROTOCOL} =TLSv1.3",
        "  RewriteRule ^/which$ /tls13.txt [L]",
        "  RewriteRule ^/which$ /other.txt [L]",
    ])
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")],
                                                                  extra=extra))
    server.start(wait_port=port)
    for args, expected in ((["--tlsv1.3"], b"tls 1.3\n"), (["--tls-max", "1.2"], b"not tls 1.3\n")):
        status, _, body, err = curl(f"https://a.test:{port}/which", pki.ca, "a.test", port, extra=args)
        assert (status, body) == (200, expected), err


def test_plain_http_vhost_has_https_off(httpd_factory, pki, port):
    # The same rules on a plain-HTTP port of the same server: HTTPS is not on there.
    from harness.httpd import free_port
    plain_port = free_port()
    server = httpd_factory()
    cgi = server.add_cgi("env.py", ENV_CGI)
    server.write_config(f"Listen 127.0.0.1:{port}\nListen 127.0.0.1:{plain_port}\n"
                        + tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")])
                        + f"<VirtualHost 127.0.0.1:{plain_port}>\n  ServerName a.test\n</VirtualHost>\n")
    server.start(wait_port=port)
    status, _, body, err = curl(f"http://127.0.0.1:{plain_port}{cgi}", pki.ca)
    assert status == 200, err
    assert b"HTTPS=on" not in body and b"SSL_PROTOCOL" not in body, body
    status, _, body, err = curl(f"https://a.test:{port}{cgi}", pki.ca, "a.test", port)
    assert status == 200 and b"HTTPS=on" in body, err
