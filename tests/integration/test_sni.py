"""SNI picks among name-based vhosts on one address; Host must agree (421)."""
import pytest

from conftest import needs_h2, tls_vhost
from harness.clients import curl, served_leaf, pem_body


@pytest.fixture
def three_vhosts(httpd_factory, pki, port):
    server = httpd_factory()
    leaves = {
        "a.test": pki.leaf("a.test", "ecdsa"),
        "b.test": pki.leaf("b.test", "ecdsa", alt_names=["www.b.test"]),
        "c.test": pki.leaf("c.test", "ecdsa", alt_names=["x.wild.test"]),
    }
    conf = f"Listen 127.0.0.1:{port}\n"
    for name, aliases in (("a.test", ()), ("b.test", ("www.b.test",)), ("c.test", ("*.wild.test",))):
        root = server.docroot(name)
        (root / "index.html").write_text(f"site {name}\n")
        conf += tls_vhost(port, name, [leaves[name]], aliases=aliases,
                          extra=f'  DocumentRoot "{root}"\n  Protocols h2 http/1.1')
    server.write_config(conf)
    server.start(wait_port=port)
    return server, leaves


@pytest.mark.parametrize("sni,site", [
    ("a.test", "a.test"), ("b.test", "b.test"), ("www.b.test", "b.test"),
    ("c.test", "c.test"), ("x.wild.test", "c.test"),
])
def test_each_name_gets_its_certificate_and_content(three_vhosts, pki, port, sni, site):
    _, leaves = three_vhosts
    assert served_leaf(port, sni, pki.ca) == pem_body(leaves[site].cert.read_text())
    status, _, body, err = curl(f"https://{sni}:{port}/", pki.ca, sni, port)
    assert status == 200, err
    assert body == f"site {site}\n".encode()


def test_unknown_sni_gets_the_default_vhost(three_vhosts, pki, port):
    _, leaves = three_vhosts
    # The default vhost's certificate does not name "other.test", so only look at what is served.
    assert served_leaf_unverified(port, ["-servername", "other.test"]) == pem_body(leaves["a.test"].cert.read_text())
    # Host other.test also falls to the default vhost, so SNI and Host agree: no 421.
    status, _, body, err = curl(f"https://other.test:{port}/", pki.ca, "other.test", port, extra=["-k"])
    assert (status, body) == (200, b"site a.test\n"), err


def test_no_sni_gets_the_default_vhost(three_vhosts, pki, port):
    _, leaves = three_vhosts
    assert served_leaf_unverified(port, ["-noservername"]) == pem_body(leaves["a.test"].cert.read_text())
    # curl sends no SNI for an IP address.
    status, _, body, err = curl(f"https://127.0.0.1:{port}/", pki.ca, extra=["-k", "-H", "Host: a.test"])
    assert status == 200, err
    assert body == b"site a.test\n"


def test_no_sni_lets_host_choose(three_vhosts, pki, port):
    # Documented: the 421 check applies only when the client sent SNI (as mod_ssl).
    status, _, body, err = curl(f"https://127.0.0.1:{port}/", pki.ca, extra=["-k", "-H", "Host: b.test"])
    assert (status, body) == (200, b"site b.test\n"), err


@pytest.mark.parametrize("sni,host,site", [
    ("a.test", "A.Test", "a.test"),            # case-insensitive
    ("a.test", "a.test:{port}", "a.test"),      # with the port
    ("a.test", "a.test.", "a.test"),            # trailing dot
    ("x.wild.test", "y.wild.test", "c.test"),  # another name of the same vhost
])
def test_host_variants_of_the_sni_vhost_are_not_misdirected(three_vhosts, pki, port, sni, host, site):
    status, _, body, err = curl(f"https://{sni}:{port}/", pki.ca, sni, port,
                                extra=["-H", f"Host: {host.format(port=port)}"])
    assert (status, body) == (200, f"site {site}\n".encode()), err


def test_host_naming_another_vhost_is_misdirected(three_vhosts, pki, port):
    server, _ = three_vhosts
    status, _, _, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port, extra=["-H", "Host: b.test"])
    assert status == 421, err
    assert "GTLS0211" in server.read_error_log()
    # The same vhost under another of its names is fine.
    status, _, body, _ = curl(f"https://b.test:{port}/", pki.ca, "b.test", port, extra=["-H", "Host: www.b.test"])
    assert (status, body) == (200, b"site b.test\n")


@needs_h2
def test_misdirected_over_http2(three_vhosts, pki, port):
    status, version, _, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port,
                                   extra=["--http2", "-H", "Host: c.test"])
    assert (status, version) == (421, "2"), err


def served_leaf_unverified(port, name_args):
    """The leaf served to openssl s_client with `name_args` (-servername X / -noservername)."""
    from harness.clients import run
    result = run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *name_args], timeout=30)
    return pem_body(result.stdout.decode(errors="replace"))


def test_sni_and_signature_algorithms_together(httpd_factory, pki, port):
    """Every vhost has its own RSA and ECDSA chain: the pair (SNI, client's
    signature algorithms) picks exactly one of the six leaves."""
    server = httpd_factory()
    names = ("a.test", "b.test", "c.test")
    leaves = {(n, t): pki.leaf(n, t) for n in names for t in ("rsa", "ecdsa")}
    conf = f"Listen 127.0.0.1:{port}\n"
    for name in names:
        # ECDSA first on one vhost, RSA first on the others: order must not matter
        order = ("ecdsa", "rsa") if name == "b.test" else ("rsa", "ecdsa")
        conf += tls_vhost(port, name, [leaves[(name, t)] for t in order])
    server.write_config(conf)
    server.start(wait_port=port)
    sigalgs = {"rsa": "rsa_pss_rsae_sha256:RSA+SHA256", "ecdsa": "ECDSA+SHA256"}
    for version in ("-tls1_2", "-tls1_3"):
        for (name, key_type), leaf in leaves.items():
            got = served_leaf(port, name, pki.ca, extra=[version, "-sigalgs", sigalgs[key_type]])
            assert got == pem_body(leaf.cert.read_text()), (version, name, key_type)


def test_sni_only_chooses_among_vhosts_of_the_address(httpd_factory, pki):
    """Two ports, one vhost each: SNI naming the other port's vhost does not
    move the connection there; the port's own vhost answers."""
    from harness.httpd import free_port
    ports = {"a.test": free_port(), "b.test": free_port()}
    server = httpd_factory()
    conf = "".join(f"Listen 127.0.0.1:{p}\n" for p in ports.values())
    for name, p in ports.items():
        root = server.docroot(name)
        (root / "index.html").write_text(f"site {name}\n")
        conf += tls_vhost(p, name, [pki.leaf(name, "ecdsa")], extra=f'  DocumentRoot "{root}"')
    server.write_config(conf)
    server.start(wait_port=ports["b.test"])
    for name, p in ports.items():
        other = "b.test" if name == "a.test" else "a.test"
        assert served_leaf_unverified(p, ["-servername", other]) == pem_body(pki.leaf(name, "ecdsa").cert.read_text())
        status, _, body, err = curl(f"https://{name}:{p}/", pki.ca, name, p)
        assert (status, body) == (200, f"site {name}\n".encode()), err


def test_wildcard_address_vhosts(httpd_factory, pki, port):
    server = httpd_factory()
    conf = f"Listen 127.0.0.1:{port}\n"
    for name in ("a.test", "b.test"):
        root = server.docroot(name)
        (root / "index.html").write_text(f"site {name}\n")
        conf += tls_vhost(port, name, [pki.leaf(name, "ecdsa")],
                          extra=f'  DocumentRoot "{root}"').replace("127.0.0.1:", "*:", 1)
    server.write_config(conf)
    server.start(wait_port=port)
    for name in ("a.test", "b.test"):
        assert served_leaf(port, name, pki.ca) == pem_body(pki.leaf(name, "ecdsa").cert.read_text())
        status, _, body, err = curl(f"https://{name}:{port}/", pki.ca, name, port)
        assert (status, body) == (200, f"site {name}\n".encode()), err


def test_absolute_uri_naming_another_vhost_is_misdirected(three_vhosts, pki, port):
    from harness.clients import s_client
    request = f"GET https://b.test:{port}/ HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n".encode()
    code, out = s_client(port, "a.test", pki.ca, extra=["-ign_eof"], input_bytes=request)
    assert "HTTP/1.1 421 Misdirected Request" in out, out


@pytest.mark.parametrize("legacy_version", [b"\x03\x03", b"\x04\x01", b"\xfe\x01"])
def test_sni_counts_whatever_the_client_hello_legacy_version(three_vhosts, pki, port, legacy_version):
    # A TLS 1.2 ClientHello naming b.test: GnuTLS serves hellos with a legacy
    # version it does not know (RFC 5246 E.1), and the vhost must still be the
    # one SNI names (its certificate travels in clear under TLS 1.2).
    import socket
    import ssl
    from test_robustness import rebuilt_client_hello
    context = ssl.create_default_context()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    tls = context.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname="b.test")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = rebuilt_client_hello(outgoing.read(), lambda extensions: extensions, legacy_version=legacy_version)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(hello)
        flight = b""
        while b"mod_gtls test intermediate" not in flight and len(flight) < 20000:
            chunk = sock.recv(4096)
            if not chunk:
                break
            flight += chunk
    assert flight[:1] == b"\x16", flight[:20]  # a handshake, not an alert
    assert b"b.test" in flight and b"a.test" not in flight, "the default vhost's certificate was served"


def test_sni_ignores_case(three_vhosts, pki, port):
    _, leaves = three_vhosts
    for sni, site in (("B.Test", "b.test"), ("WWW.B.TEST", "b.test"), ("X.Wild.Test", "c.test")):
        assert served_leaf_unverified(port, ["-servername", sni]) == pem_body(leaves[site].cert.read_text()), sni


def test_sni_follows_configuration_order_like_host(httpd_factory, pki, port):
    """An earlier vhost's wildcard alias wins over a later vhost's exact name, for
    SNI as for Host; the first of two vhosts with the same name wins."""
    server = httpd_factory()
    leaves = {"first.test": pki.leaf("first.test", "ecdsa", alt_names=["*.order.test"]),
              "exact.order.test": pki.leaf("exact.order.test", "ecdsa"),
              "twice.test": pki.leaf("twice.test", "ecdsa"),
              "twice.test-2": pki.leaf("twice.test", "rsa")}
    conf = f"Listen 127.0.0.1:{port}\n"
    for site, name, aliases in (("first.test", "first.test", ("*.order.test",)),
                                ("exact.order.test", "exact.order.test", ()),
                                ("twice.test", "twice.test", ()), ("twice.test-2", "twice.test", ())):
        root = server.docroot(site)
        (root / "index.html").write_text(f"site {site}\n")
        conf += tls_vhost(port, name, [leaves[site]], aliases=aliases, extra=f'  DocumentRoot "{root}"')
    server.write_config(conf)
    server.start(wait_port=port)
    for sni, site in (("exact.order.test", "first.test"), ("twice.test", "twice.test")):
        assert served_leaf(port, sni, pki.ca) == pem_body(leaves[site].cert.read_text()), sni
        status, _, body, err = curl(f"https://{sni}:{port}/", pki.ca, sni, port)
        assert (status, body) == (200, f"site {site}\n".encode()), err


def shared_certificate_vhosts(httpd_factory, pki, port, b_extra="", extra_modules=()):
    """a.test and b.test on one address, both serving one certificate that
    covers both names: what a browser reuses an HTTP/2 connection for."""
    server = httpd_factory(extra_modules=extra_modules)
    leaf = pki.leaf("a.test", "ecdsa", tag="shared", alt_names=["b.test"])
    conf = f"Listen 127.0.0.1:{port}\n"
    for name, extra in (("a.test", ""), ("b.test", b_extra)):
        root = server.docroot(name)
        (root / "index.html").write_text(f"site {name}\n")
        conf += tls_vhost(port, name, [leaf], extra=f'  DocumentRoot "{root}"\n  Protocols h2 http/1.1\n{extra}')
    return server, conf


@needs_h2
def test_host_of_a_vhost_with_the_same_tls_setup_is_served(httpd_factory, pki, port):
    server, conf = shared_certificate_vhosts(httpd_factory, pki, port)
    server.write_config(conf)
    server.start(wait_port=port)
    for extra in ([], ["--http2"]):
        status, _, body, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port,
                                    extra=extra + ["-H", "Host: b.test"])
        assert (status, body) == (200, b"site b.test\n"), err
    assert "GTLS0211" not in server.read_error_log()


def test_host_of_a_vhost_with_other_priorities_is_misdirected(httpd_factory, pki, port):
    server, conf = shared_certificate_vhosts(
        httpd_factory, pki, port, b_extra="  GnuTLSPriorities NORMAL:-VERS-ALL:+VERS-TLS1.3")
    server.write_config(conf)
    server.start(wait_port=port)
    status, _, _, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port, extra=["-H", "Host: b.test"])
    assert status == 421, err


def test_error_document_for_421_is_served(three_vhosts, pki, port):
    """The ErrorDocument's internal redirect is not itself misdirected."""
    server, _ = three_vhosts
    root = server.docroot("b.test")
    (root / "misdirected.html").write_text("please reconnect\n")
    conf = server.conf_path.read_text().replace(
        f'  DocumentRoot "{root}"', f'  DocumentRoot "{root}"\n  ErrorDocument 421 /misdirected.html')
    server.conf_path.write_text(conf)
    server.graceful()
    status, _, body, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port, extra=["-H", "Host: b.test"])
    assert (status, body) == (421, b"please reconnect\n"), err


def test_forward_proxy_requests_are_not_misdirected(httpd_factory, pki, port):
    """A forward proxy request names the origin server, not a vhost of ours."""
    from harness.clients import s_client
    from harness.httpd import free_port
    backend = free_port()
    server, conf = shared_certificate_vhosts(httpd_factory, pki, port, extra_modules=["proxy", "proxy_http"])
    # b.test gets other priorities, so a Host of b.test would be misdirected.
    conf = conf.replace("  ServerName b.test\n", "  ServerName b.test\n  GnuTLSPriorities NORMAL:-VERS-ALL:+VERS-TLS1.3\n")
    plain_root = server.docroot("plain")
    (plain_root / "index.html").write_text("origin\n")
    conf += (f"Listen 127.0.0.1:{backend}\n<VirtualHost 127.0.0.1:{backend}>\n  ServerName origin.test\n"
             f'  DocumentRoot "{plain_root}"\n</VirtualHost>\n')
    # In both TLS vhosts: the vhost the request's host selects decides whether it is proxied.
    proxy = f"  ProxyRequests On\n  ProxyRemote * http://127.0.0.1:{backend}\n"
    conf = conf.replace("  GnuTLSEnable On\n", proxy + "  GnuTLSEnable On\n")
    server.write_config(conf)
    server.start(wait_port=port)
    request = f"GET http://b.test/ HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n".encode()
    code, out = s_client(port, "a.test", pki.ca, extra=["-ign_eof"], input_bytes=request)
    assert "HTTP/1.1 200 OK" in out and "origin" in out, out


def test_sni_with_a_trailing_dot_selects_the_vhost(three_vhosts, pki, port):
    _, leaves = three_vhosts
    assert served_leaf_unverified(port, ["-servername", "b.test."]) == pem_body(leaves["b.test"].cert.read_text())


def test_sni_without_host_is_a_bad_request(three_vhosts, pki, port):
    from harness.clients import s_client
    server, _ = three_vhosts
    code, out = s_client(port, "b.test", pki.ca, extra=["-ign_eof"], input_bytes=b"GET / HTTP/1.0\r\n\r\n")
    assert "HTTP/1.1 400 Bad Request" in out, out
    assert "site b.test" not in out and "site a.test" not in out
    assert "GTLS0220" in server.read_error_log()
