"""SNI picks among name-based vhosts on one address; Host must agree (421)."""
import pytest

from conftest import tls_vhost
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
                          extra=f'  DocumentRoot "{root}"')
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
    code_leaf = served_leaf_unverified(port, "other.test", pki.ca)
    assert code_leaf == pem_body(leaves["a.test"].cert.read_text())


def test_no_sni_gets_the_default_vhost(three_vhosts, pki, port):
    _, leaves = three_vhosts
    status, _, body, err = curl(f"https://127.0.0.1:{port}/", pki.ca, extra=["-k", "-H", "Host: a.test"])
    assert status == 200, err
    assert body == b"site a.test\n"


def test_host_naming_another_vhost_is_misdirected(three_vhosts, pki, port):
    server, _ = three_vhosts
    status, _, _, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port, extra=["-H", "Host: b.test"])
    assert status == 421, err
    assert "GTLS0211" in server.read_error_log()
    # The same vhost under another of its names is fine.
    status, _, body, _ = curl(f"https://b.test:{port}/", pki.ca, "b.test", port, extra=["-H", "Host: www.b.test"])
    assert (status, body) == (200, b"site b.test\n")


def test_misdirected_over_http2(three_vhosts, pki, port):
    status, version, _, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port,
                                   extra=["--http2", "-H", "Host: c.test"])
    assert status == 421, err


def served_leaf_unverified(port, sni, ca):
    from harness.clients import run
    result = run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", sni], timeout=30)
    return pem_body(result.stdout.decode(errors="replace"))
