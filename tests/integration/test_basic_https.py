"""HTTPS basics with real clients: protocol versions, chain choice by signature
algorithm, HTTP/2 over ALPN."""
import pytest

from conftest import needs_h2, tls_vhost
from harness.clients import curl, gnutls_cli, pem_body, s_client, served_leaf


@pytest.fixture
def dual_cert_server(httpd_factory, pki, port):
    rsa = pki.leaf("a.test", "rsa")
    ecdsa = pki.leaf("a.test", "ecdsa")
    server = httpd_factory()
    server.docroot().joinpath("hello.txt").write_text("hello over tls\n")
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [rsa, ecdsa],
                                                                  extra="  Protocols h2 http/1.1"))
    server.start(wait_port=port)
    return server, rsa, ecdsa


@pytest.mark.parametrize("version_args,expected", [
    (["--tlsv1.2", "--tls-max", "1.2"], "TLSv1.2"),
    (["--tlsv1.3"], "TLSv1.3"),
])
def test_200_over_tls12_and_tls13(dual_cert_server, pki, port, version_args, expected):
    server, _, _ = dual_cert_server
    status, _, body, err = curl(f"https://a.test:{port}/hello.txt", pki.ca, "a.test", port,
                                extra=["--http1.1", *version_args, "-v"])
    assert status == 200, err
    assert body == b"hello over tls\n"
    assert f"SSL connection using {expected}" in err


@pytest.mark.parametrize("groups,expected", [(None, "X25519"), ("X25519:P-256", "X25519"),
                                             ("P-256", "prime256v1")])
def test_key_share_is_used_without_hello_retry(dual_cert_server, pki, port, groups, expected):
    # OpenSSL sends a key share for its first group only. The default
    # priorities must take it: a HelloRetryRequest (a second ServerHello) costs
    # the client a round trip.
    extra = ["-tls1_3", "-msg"] + (["-groups", groups] if groups else [])
    code, out = s_client(port, "a.test", pki.ca, extra=extra)
    assert code == 0, out
    assert out.count("ServerHello") == 1, out
    assert f"Server Temp Key: {'ECDH, ' if expected == 'prime256v1' else ''}{expected}" in out, out


def test_gnutls_cli_tls12(dual_cert_server, pki, port):
    code, out = gnutls_cli(port, "a.test", pki.ca, priority="NORMAL:-VERS-ALL:+VERS-TLS1.2",
                           input_bytes=b"GET /hello.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    assert code == 0, out
    assert "(TLS1.2" in out
    assert "hello over tls" in out


@pytest.mark.parametrize("tls_args", [["-tls1_2"], ["-tls1_3"]])
def test_client_signature_algorithms_pick_the_chain(dual_cert_server, pki, port, tls_args):
    _, rsa, ecdsa = dual_cert_server
    ecdsa_only = served_leaf(port, "a.test", pki.ca, extra=tls_args + ["-sigalgs", "ECDSA+SHA256"])
    rsa_only = served_leaf(port, "a.test", pki.ca,
                           extra=tls_args + ["-sigalgs", "rsa_pss_rsae_sha256:RSA+SHA256"])
    assert ecdsa_only == pem_body(ecdsa.cert.read_text())
    assert rsa_only == pem_body(rsa.cert.read_text())


@pytest.mark.parametrize("version", ["+VERS-TLS1.2", "+VERS-TLS1.3"])
@pytest.mark.parametrize("signatures,expected", [
    ("+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SHA256", "ecdsa"),
    ("+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-SHA256", "rsa"),
])
def test_gnutls_client_signature_algorithms_pick_the_chain(dual_cert_server, pki, port, version, signatures,
                                                            expected):
    _, rsa, ecdsa = dual_cert_server
    code, out = gnutls_cli(port, "a.test", pki.ca, priority=f"NORMAL:-VERS-ALL:{version}:-SIGN-ALL:{signatures}",
                           extra=["--print-cert"])
    assert code == 0, out
    assert pem_body(out) == pem_body({"rsa": rsa, "ecdsa": ecdsa}[expected].cert.read_text())


@needs_h2
def test_http2_via_alpn(dual_cert_server, pki, port):
    status, version, body, err = curl(f"https://a.test:{port}/hello.txt", pki.ca, "a.test", port,
                                      extra=["--http2"])
    assert (status, version) == (200, "2"), err
    assert body == b"hello over tls\n"


def test_http11_only_vhost_does_not_negotiate_h2(httpd_factory, pki, port):
    server = httpd_factory()
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")],
                                                                  extra="  Protocols http/1.1"))
    server.start(wait_port=port)
    status, version, _, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port, extra=["--http2", "-v"])
    assert (status, version) == (200, "1.1"), err


def test_main_server_tls_without_virtualhost(httpd_factory, pki, port):
    leaf = pki.leaf("a.test", "ecdsa")
    server = httpd_factory()
    server.write_config(f"Listen 127.0.0.1:{port}\nGnuTLSEnable On\n"
                        f'GnuTLSCertificateFile "{leaf.chain}"\nGnuTLSKeyFile "{leaf.key}"\n')
    server.start(wait_port=port)
    status, _, body, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port)
    assert status == 200, err
    assert body == b"default\n"


def test_server_ends_every_connection_with_close_notify(dual_cert_server, pki, port):
    # gnutls-cli exits non-zero ("non-properly terminated") when the server
    # closes without a close_notify; a race here once failed half the runs.
    request = b"GET /hello.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    for priority in ("NORMAL:-VERS-ALL:+VERS-TLS1.2", "NORMAL:-VERS-ALL:+VERS-TLS1.3"):
        for _ in range(15):
            code, out = gnutls_cli(port, "a.test", pki.ca, priority=priority, input_bytes=request)
            assert code == 0 and "hello over tls" in out, out


@pytest.mark.parametrize("alpn,expected", [pytest.param(["h2", "http/1.1"], "h2", marks=needs_h2),
                                           (["http/1.1"], "http/1.1")])
def test_gnutls_cli_alpn(dual_cert_server, pki, port, alpn, expected):
    extra = [arg for protocol in alpn for arg in ("--alpn", protocol)]
    code, out = gnutls_cli(port, "a.test", pki.ca, extra=extra)
    assert code == 0, out
    assert f"- Application protocol: {expected}" in out, out


@pytest.mark.parametrize("tls_args", [["-tls1_2"], ["-tls1_3"]])
def test_all_rsa_hierarchy(httpd_factory, rsa_pki, port, tls_args):
    # Root, intermediate and leaf all RSA, next to an ECDSA leaf of the same PKI:
    # an RSA-only client gets the RSA chain and verifies it.
    rsa, ecdsa = rsa_pki.leaf("a.test", "rsa"), rsa_pki.leaf("a.test", "ecdsa")
    server = httpd_factory()
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [ecdsa, rsa]))
    server.start(wait_port=port)
    rsa_only = served_leaf(port, "a.test", rsa_pki.ca, extra=tls_args + ["-sigalgs", "rsa_pss_rsae_sha256:RSA+SHA256"])
    assert rsa_only == pem_body(rsa.cert.read_text())
    ecdsa_only = served_leaf(port, "a.test", rsa_pki.ca, extra=tls_args + ["-sigalgs", "ECDSA+SHA256"])
    assert ecdsa_only == pem_body(ecdsa.cert.read_text())


@needs_h2
def test_alpn_follows_the_vhost_chosen_by_sni(httpd_factory, pki, port):
    # The default vhost has no h2, the second one has: ALPN must use the
    # Protocols of the vhost SNI chose, in both directions.
    server = httpd_factory()
    server.write_config(f"Listen 127.0.0.1:{port}\n"
                        + tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")], extra="  Protocols http/1.1")
                        + tls_vhost(port, "b.test", [pki.leaf("b.test", "ecdsa")], extra="  Protocols h2 http/1.1")
                        + tls_vhost(port, "c.test", [pki.leaf("c.test", "ecdsa")], extra="  Protocols http/1.1"))
    server.start(wait_port=port)
    for name, expected in (("a.test", "1.1"), ("b.test", "2"), ("c.test", "1.1")):
        status, version, _, err = curl(f"https://{name}:{port}/", pki.ca, name, port, extra=["--http2"])
        assert (status, version) == (200, expected), (name, err)


def test_priorities_of_the_vhost_chosen_by_sni(httpd_factory, pki, port):
    # b.test (not the default vhost) allows TLS 1.2 only; a.test the default set.
    server = httpd_factory()
    server.write_config(f"Listen 127.0.0.1:{port}\n"
                        + tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")])
                        + tls_vhost(port, "b.test", [pki.leaf("b.test", "ecdsa")],
                                    extra="  GnuTLSPriorities NORMAL:-VERS-ALL:+VERS-TLS1.2"))
    server.start(wait_port=port)
    tls13_only = "NORMAL:-VERS-ALL:+VERS-TLS1.3"
    code, out = gnutls_cli(port, "a.test", pki.ca, priority=tls13_only)
    assert code == 0 and "(TLS1.3" in out, out
    code, out = gnutls_cli(port, "b.test", pki.ca, priority=tls13_only)
    assert code != 0, out
    code, out = gnutls_cli(port, "b.test", pki.ca, priority="NORMAL")
    assert code == 0 and "(TLS1.2" in out, out


def test_redirects_say_https_for_a_non_tls_vhost_answering_over_tls(httpd_factory, pki, port):
    """A name-based vhost without GnuTLSEnable answers over its address's TLS
    connection: the redirects httpd builds must keep the client on https."""
    server = httpd_factory()
    leaf = pki.leaf("a.test", "ecdsa")
    root = server.docroot("plain")
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_text("sub\n")
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [leaf]) +
                        f'<VirtualHost 127.0.0.1:{port}>\n  ServerName plain.test\n  DocumentRoot "{root}"\n'
                        "</VirtualHost>\n")
    server.start(wait_port=port)
    # No SNI (an IP address): Host alone selects plain.test, and mod_dir redirects /sub.
    for host, location in ((f"plain.test:{port}", f"https://plain.test:{port}/sub/"),
                           ("plain.test", "https://plain.test/sub/")):  # the default port is 443
        status, _, _, err = curl(f"https://127.0.0.1:{port}/sub", pki.ca,
                                 extra=["-k", "-H", f"Host: {host}", "-D", "/dev/stderr"])
        assert status == 301, err
        assert f"Location: {location}\r\n" in err, err
