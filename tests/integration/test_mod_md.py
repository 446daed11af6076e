"""mod_md manages mod_gtls's certificates: a `GnuTLSEnable On` vhost without
certificate lines in an MDomain gets its certificate from a real ACME server
(pebble, validating http-01 and tls-alpn-01 against this httpd), serves mod_md's
fallback with 503 until then, and the issued one after a graceful restart;
mod_md's OCSP stapling (MDStapling) is a staple source next to response files."""
import re
import shutil
import subprocess
import tempfile
import time
from types import SimpleNamespace
from pathlib import Path

import pytest

from conftest import tls_vhost
from harness.acme import Pebble
from harness.clients import curl, gnutls_cli, pem_body, s_client
from harness.httpd import free_port
from harness.ocsp import OpensslResponder, make_response
from test_stapling import received_staple, wait_until

ISSUANCE_TIMEOUT = 90  # seconds; pebble issues in 1-3 s, RSA key generation under ASan is slower


@pytest.fixture
def acme():
    """(pebble, http port, TLS port): pebble validates on httpd's two ports. Its
    directory is readable by httpd's User: mod_md's watchdog child reads the CA
    file of pebble's API there."""
    http_port, tls_port = free_port(), free_port()
    directory = Path(tempfile.mkdtemp(prefix="gtls-pebble-"))
    directory.chmod(0o755)
    made = []

    def start(**kwargs):
        pebble = Pebble(directory, http_port, tls_port, **kwargs)
        made.append(pebble)
        return pebble, http_port, tls_port

    yield start
    for pebble in made:
        pebble.stop()
    shutil.rmtree(directory, ignore_errors=True)


def md_site(server, pebble, http_port, tls_port, challenge="http-01", md_lines="", tls_lines=""):
    """MDomain a.test: a plain vhost for http-01 and a TLS vhost with no certificate lines."""
    store = server.root / "md"
    server.write_config(
        pebble.md_directives(store, challenges=challenge) + md_lines +
        "MDomain a.test\n"
        f"Listen 127.0.0.1:{http_port}\nListen 127.0.0.1:{tls_port}\n"
        f"<VirtualHost 127.0.0.1:{http_port}>\n  ServerName a.test\n</VirtualHost>\n"
        f"<VirtualHost 127.0.0.1:{tls_port}>\n  ServerName a.test\n  GnuTLSEnable On\n{tls_lines}</VirtualHost>\n")


def issued(server, pebble, count=1):
    """Waits until mod_md says its `count`-th certificate set is ready and its
    watchdog has finished that run (AH10107 "next run in", at md:debug, see
    md_server). A child that a graceful restart or a stop ends while mod_md's
    thread is still at work can crash in mod_md: it calls OpenSSL after
    OpenSSL's exit cleanup (seen with mod_ssl alike)."""
    deadline = time.monotonic() + ISSUANCE_TIMEOUT

    def done():
        log = server.read_error_log()
        ready = [m.end() for m in re.finditer("AH10059", log)]
        return len(ready) >= count and "AH10107" in log[ready[count - 1]:]

    while not done():
        assert time.monotonic() < deadline, f"no certificate from pebble:\n{server.read_error_log()}\n{pebble.logs()}"
        time.sleep(0.3)


def md_server(httpd_factory):
    """An httpd with mod_md, logging what issued() waits for."""
    return httpd_factory(extra_modules=["md"], log_level="info gtls:trace1 md:debug")


def served_after_issuance(server, pebble, tls_port):
    """Starts httpd, waits for mod_md's certificate, reloads; returns the root it verifies against."""
    server.start(wait_port=tls_port)
    issued(server, pebble)
    server.graceful()
    return pebble.write_issuing_root()


def leaf_text(port, ca, extra=()):
    """openssl's text of the leaf served for a.test, verified against `ca`."""
    code, out = s_client(port, "a.test", ca, extra=list(extra))
    assert code == 0 and "Verify return code: 0 (ok)" in out, out
    pem = "-----BEGIN CERTIFICATE-----\n" + pem_body(out) + "\n-----END CERTIFICATE-----\n"
    return subprocess.run(["openssl", "x509", "-noout", "-text", "-serial"], input=pem, capture_output=True,
                          text=True, check=True).stdout


def serial(text):
    return re.search(r"serial=(\w+)", text).group(1)


def fallback_served(port, ca):
    """Whether the server presents mod_md's self-signed fallback (which `ca` does not trust)."""
    code, out = s_client(port, "a.test", ca)
    return code != 0 and "Apache Managed Domain Fallback" in out


def test_http01_fallback_then_issued_certificate(acme, httpd_factory, tmp_path):
    pebble, http_port, tls_port = acme()
    server = md_server(httpd_factory)
    md_site(server, pebble, http_port, tls_port)
    assert server.configtest()[0] == 0  # no certificate lines: not an error with mod_md loaded
    server.start(wait_port=tls_port)
    log = server.read_error_log()
    assert re.search(r"GTLS0108: a\.test:\d+: mod_md has no certificate for it yet", log), log
    # Until mod_md has a certificate: its self-signed fallback, and 503.
    assert fallback_served(tls_port, pebble.api_ca)
    status, _, _, err = curl(f"https://a.test:{tls_port}/", "/dev/null", host="a.test", port=tls_port, extra=["-k"])
    assert status == 503, err

    issued(server, pebble)
    assert "GTLS0216" not in server.read_error_log()  # http-01: no TLS challenge
    server.graceful()
    root = pebble.write_issuing_root()
    text = leaf_text(tls_port, root)
    assert "DNS:a.test" in text
    status, _, body, err = curl(f"https://a.test:{tls_port}/", root, host="a.test", port=tls_port)
    assert (status, body) == (200, b"default\n"), err
    assert re.search(r"GTLS0107: a\.test:\d+: serving the 1 certificate chain\(s\) mod_md manages: \S+/md/domains/"
                     r"a\.test/pubcert\.pem", server.read_error_log())


def test_tls_alpn01_challenge_answered_in_the_handshake(acme, httpd_factory):
    pebble, http_port, tls_port = acme()
    server = md_server(httpd_factory)
    md_site(server, pebble, http_port, tls_port, challenge="tls-alpn-01",
            tls_lines="  Protocols h2 http/1.1 acme-tls/1\n")
    root = served_after_issuance(server, pebble, tls_port)
    log = server.read_error_log()
    assert re.search(r"GTLS0216: a\.test:\d+: answering the acme-tls/1 challenge for 'a\.test'", log), log
    assert "DNS:a.test" in leaf_text(tls_port, root)
    # A client asking for acme-tls/1 when no challenge is pending gets the real certificate.
    code, out = s_client(tls_port, "a.test", root, extra=["-alpn", "acme-tls/1"])
    assert code == 0 and "Verify return code: 0 (ok)" in out, out


def test_tls_alpn01_needs_the_protocol_allowed(acme, httpd_factory):
    """Without acme-tls/1 in Protocols, mod_md cannot use tls-alpn-01 and says so;
    nothing is answered with a challenge certificate."""
    pebble, http_port, tls_port = acme()
    server = md_server(httpd_factory)
    server.allow_error(re.compile(r"\[md:error\]|AH10056"))
    md_site(server, pebble, http_port, tls_port, challenge="tls-alpn-01")
    server.start(wait_port=tls_port)
    wait_until(lambda: "AH10056" in server.read_error_log(), timeout=ISSUANCE_TIMEOUT, what="mod_md giving up")
    log = server.read_error_log()
    assert "GTLS0216" not in log
    assert fallback_served(tls_port, pebble.api_ca)


def test_rsa_and_ecdsa_from_one_mdomain(acme, httpd_factory):
    pebble, http_port, tls_port = acme()
    server = md_server(httpd_factory)
    md_site(server, pebble, http_port, tls_port, md_lines="MDPrivateKeys secp256r1 RSA 2048\n")
    root = served_after_issuance(server, pebble, tls_port)
    assert re.search(r"GTLS0107: a\.test:\d+: serving the 2 certificate chain\(s\)", server.read_error_log())
    # A client that offers both gets ECDSA (the cheaper signature); one that takes only RSA gets RSA.
    assert "id-ecPublicKey" in leaf_text(tls_port, root)
    assert "rsaEncryption" in leaf_text(tls_port, root, extra=["-sigalgs", "RSA-PSS+SHA256:RSA+SHA256"])
    code, out = gnutls_cli(tls_port, "a.test", root, priority="NORMAL:-SIGN-ALL:+SIGN-RSA-PSS-RSAE-SHA256",
                           input_bytes=b"")
    assert code == 0 and "(RSA-PSS-RSAE-SHA256)" in out, out


def test_renewal_replaces_the_certificate(acme, httpd_factory):
    """Certificates valid for 2 days with a 3-day renewal window: mod_md renews
    the one it just activated; the next graceful restart serves the new one."""
    pebble, http_port, tls_port = acme(validity_seconds=2 * 86400)
    server = md_server(httpd_factory)
    md_site(server, pebble, http_port, tls_port, md_lines="MDRenewWindow 3d\nMDPrivateKeys secp256r1\n")
    root = served_after_issuance(server, pebble, tls_port)
    first = serial(leaf_text(tls_port, root))
    issued(server, pebble, count=2)
    assert serial(leaf_text(tls_port, root)) == first  # staged, not yet active
    server.graceful()
    second = serial(leaf_text(tls_port, root))
    assert second != first
    issued(server, pebble, count=3)  # mod_md renews again (still in the window): stop after that run


def test_vhost_without_certificate_outside_any_mdomain_fails_to_start(acme, httpd_factory):
    pebble, http_port, tls_port = acme()
    server = md_server(httpd_factory)
    server.write_config(pebble.md_directives(server.root / "md") + "MDomain a.test\n" +
                        f"Listen 127.0.0.1:{tls_port}\n<VirtualHost 127.0.0.1:{tls_port}>\n"
                        "  ServerName b.test\n  GnuTLSEnable On\n</VirtualHost>\n")
    server.allow_error(re.compile(r"GTLS0101|AH00016|Configuration Failed"))
    with pytest.raises(RuntimeError):
        server.start(wait_port=tls_port)
    assert re.search(r"GTLS0101: b\.test:\d+ .*no GnuTLSCertificateFile is configured and no module \(mod_md: "
                     r"MDomain\) provides a certificate", server.read_error_log())


def test_without_mod_md_a_vhost_without_certificate_is_refused(httpd_factory, port):
    server = httpd_factory()
    code, out = server.configtest(f"Listen 127.0.0.1:{port}\n<VirtualHost 127.0.0.1:{port}>\n"
                                  "  ServerName a.test\n  GnuTLSEnable On\n</VirtualHost>\n")
    assert code != 0 and "GnuTLSEnable is On but no GnuTLSCertificateFile is configured" in out, out


def test_md_stapling_of_a_configured_certificate(httpd_factory, pki, port, tmp_path):
    """MDStapling on (MDStapleOthers by default): mod_md fetches the response of a
    configured certificate without a response file, mod_gtls staples it (and
    not its own fetcher); a GnuTLSOCSPResponseFile still wins for its chain."""
    responder_port = free_port()
    url = f"http://127.0.0.1:{responder_port}/"
    ecdsa = pki.leaf("a.test", "ecdsa", tag="md-staple", ocsp_uri=url)
    rsa = pki.leaf("a.test", "rsa", tag="md-staple", ocsp_uri=url)
    responder = OpensslResponder(pki, [(ecdsa, "V"), (rsa, "V")], responder_port)
    try:
        server = md_server(httpd_factory)
        rsa_response = make_response(pki, rsa, server.root / "rsa.der")
        server.write_config(
            f"MDStoreDir {server.root}/md\nMDStapling on\nListen 127.0.0.1:{port}\n" +
            tls_vhost(port, "a.test", [ecdsa, rsa],
                      extra=f'  GnuTLSOCSPResponseFile ""\n  GnuTLSOCSPResponseFile "{server.root}/rsa.der"\n'
                            "  <Location /server-status>\n    SetHandler server-status\n  </Location>"))
        server.start(wait_port=port)
        log = server.read_error_log()
        assert re.search(r"GTLS0318: a\.test:\d+#0: mod_md keeps its OCSP response", log), log
        assert "#1: mod_md keeps" not in log
        ecdsa_only = "NORMAL:-SIGN-ALL:+SIGN-ECDSA-SECP256R1-SHA256"
        received = []  # each worker process asks mod_md once per GnuTLSOCSPCheckInterval
        wait_until(lambda: received.append(received_staple(port, "a.test", pki, ecdsa_only, tmp_path)) or received[-1],
                   timeout=30, what="mod_md's staple")
        staple = received[-1]
        check = subprocess.run(["openssl", "ocsp", "-respin", "/dev/stdin", "-issuer", str(pki.intermediate),
                                "-cert", str(ecdsa.cert), "-CAfile", str(pki.ca), "-no_nonce"], input=staple,
                               capture_output=True)
        assert f"{ecdsa.cert}: good".encode() in check.stdout, check.stdout + check.stderr
        rsa_only = "NORMAL:-SIGN-ALL:+SIGN-RSA-PSS-RSAE-SHA256"
        assert received_staple(port, "a.test", pki, rsa_only, tmp_path) == rsa_response
        assert "GTLS0317" in server.read_error_log()
        assert "GTLS0310" not in server.read_error_log()  # mod_gtls's own fetcher stayed out

        def status_page_serves():
            status, _, body, err = curl(f"https://a.test:{port}/server-status?auto", pki.ca, host="a.test", port=port)
            assert status == 200, err
            return re.search(r"GTLSStaple: a\.test:\d+#0 serving=yes served=\d+ .* file=mod_md ", body.decode())

        # Per process, like the handshakes: the answering process may not have asked mod_md yet.
        wait_until(status_page_serves, timeout=10, what="server-status showing mod_md's staple")
    finally:
        responder.stop()


def test_the_shipped_example_gets_its_certificates(acme, httpd_factory):
    """conf/examples/acme-site-with-mod_md.conf, pointed at pebble, gets an
    RSA and an ECDSA certificate for both names by tls-alpn-01 alone."""
    pebble, _, tls_port = acme()
    example = (Path(__file__).resolve().parents[2] / "conf/examples/acme-site-with-mod_md.conf").read_text()
    server = md_server(httpd_factory)
    example = (example.replace("*:443", f"127.0.0.1:{tls_port}")
               .replace("/var/www/html", str(server.docroot())))
    server.write_config(pebble.md_directives(server.root / "md", challenges="tls-alpn-01") +
                        f"Listen 127.0.0.1:{tls_port}\n" + example)
    root = served_after_issuance(server, pebble, tls_port)
    for name in ("www.example.org", "example.org"):
        code, out = s_client(tls_port, name, root)
        assert code == 0 and "Verify return code: 0 (ok)" in out, out
    code, out = s_client(tls_port, "www.example.org", root, extra=["-sigalgs", "RSA-PSS+SHA256"])
    assert code == 0 and "Peer signature type: RSA-PSS" in out, out


def test_mod_md_sees_tls_and_status_pages_agree(acme, httpd_factory):
    """MDRequireHttps: plain requests are redirected and TLS answers carry HSTS
    (mod_md asks ap_ssl_conn_is_ssl); md-status, server-status and the
    handshake name the same certificate."""
    pebble, http_port, tls_port = acme()
    server = md_server(httpd_factory)
    md_site(server, pebble, http_port, tls_port, md_lines="MDRequireHttps permanent\n",
            tls_lines="  <Location /md-status>\n    SetHandler md-status\n  </Location>\n"
                      "  <Location /server-status>\n    SetHandler server-status\n  </Location>\n")
    root = served_after_issuance(server, pebble, tls_port)
    served = serial(leaf_text(tls_port, root)).lstrip("0").upper()

    status, _, body, err = curl(f"http://a.test:{http_port}/", root, host="a.test", port=http_port, extra=["-i"])
    assert status == 301 and re.search(rb"(?i)location: https://a\.test", body), body + err.encode()
    status, _, body, err = curl(f"https://a.test:{tls_port}/", root, host="a.test", port=tls_port, extra=["-i"])
    assert status == 200 and re.search(rb"(?i)strict-transport-security: max-age=", body), body + err.encode()

    status, _, body, err = curl(f"https://a.test:{tls_port}/md-status", root, host="a.test", port=tls_port)
    assert status == 200, err
    assert served in [value.lstrip("0").upper() for value in re.findall(r'"serial": "(\w+)"', body.decode())], body
    status, _, body, err = curl(f"https://a.test:{tls_port}/server-status?auto", root, host="a.test", port=tls_port)
    assert status == 200, err
    line = re.search(r"GTLSCertificate: a\.test:\d+#0 source=mod_md key=RSA serial=(\w+) file=\S+/pubcert\S*\.pem ",
                     body.decode())
    assert line and line.group(1).lstrip("0").upper() == served, body


def test_md_stapling_of_its_own_certificate(acme, httpd_factory, tmp_path):
    """MDomain with MDStapling on: the certificate pebble issues names an OCSP
    responder (openssl ocsp, signing with pebble's intermediate); mod_md fetches
    the response and mod_gtls staples it, validated, with nothing configured."""
    responder_port = free_port()
    pebble, http_port, tls_port = acme(ocsp_responder_url=f"http://127.0.0.1:{responder_port}/")
    server = md_server(httpd_factory)
    md_site(server, pebble, http_port, tls_port, md_lines="MDStapling on\nMDPrivateKeys secp256r1\n")
    server.start(wait_port=tls_port)
    issued(server, pebble)
    # A responder for pebble's intermediate that knows the issued certificate.
    issuer = SimpleNamespace(dir=tmp_path, intermediate=tmp_path / "pebble-intermediate.pem",
                             intermediate_key=tmp_path / "pebble-intermediate.key")
    issuer.intermediate.write_text(pebble.issuing_intermediate_pem())
    issuer.intermediate_key.write_text(pebble.issuing_intermediate_key_pem())
    staged = next((server.root / "md" / "staging" / "a.test").glob("pubcert*.pem"))
    leaf = SimpleNamespace(cert=tmp_path / "issued.pem")
    leaf.cert.write_text(staged.read_text())
    responder = OpensslResponder(issuer, [(leaf, "V")], responder_port)
    try:
        server.graceful()
        assert re.search(r"GTLS0318: a\.test:\d+#0: mod_md keeps its OCSP response", server.read_error_log())
        root = pebble.write_issuing_root()
        saved = tmp_path / "staple.der"

        def staple():
            saved.unlink(missing_ok=True)
            code, out = gnutls_cli(tls_port, "a.test", root, extra=["--save-ocsp", str(saved)])
            assert code == 0, out
            return saved.read_bytes() if saved.exists() else b""

        wait_until(lambda: staple() != b"", timeout=30, what="mod_md's staple")
        check = subprocess.run(["openssl", "ocsp", "-respin", str(saved), "-issuer", str(issuer.intermediate),
                                "-cert", str(leaf.cert), "-CAfile", str(root), "-no_nonce"], capture_output=True)
        assert f"{leaf.cert}: good".encode() in check.stdout, check.stdout + check.stderr
        log = server.read_error_log()
        assert "GTLS0317" in log
        assert "GTLS0310" not in log and "GTLS0311" not in log  # mod_gtls's own fetcher stayed out
    finally:
        responder.stop()


def test_managed_certificate_replaces_configured_one(acme, httpd_factory, pki):
    """A vhost of an MDomain that also names a certificate file serves that file
    until mod_md has its certificate (no fallback, no 503), then mod_md's."""
    pebble, http_port, tls_port = acme()
    leaf = pki.leaf("a.test", "ecdsa", tag="before-md")
    server = md_server(httpd_factory)
    md_site(server, pebble, http_port, tls_port,
            tls_lines=f'  GnuTLSCertificateFile "{leaf.chain}"\n  GnuTLSKeyFile "{leaf.key}"\n')
    server.start(wait_port=tls_port)
    assert "GTLS0108" not in server.read_error_log()
    status, _, body, err = curl(f"https://a.test:{tls_port}/", pki.ca, host="a.test", port=tls_port)
    assert (status, body) == (200, b"default\n"), err
    issued(server, pebble)
    server.graceful()
    assert "DNS:a.test" in leaf_text(tls_port, pebble.write_issuing_root())
    assert re.search(r"GTLS0107: a\.test:\d+: serving the 1 certificate chain\(s\) mod_md manages: \S+ "
                     r"\(instead of its GnuTLSCertificateFile\)", server.read_error_log())
