"""Which of a virtual host's chains a client gets: the cheapest one it can
verify (ECDSA before RSA), whatever the configuration order, each with its own
staple; `GnuTLSCertificatePreference order` lets the configuration decide."""
import os
import subprocess
import time

import pytest

from conftest import tls_vhost
from harness.clients import gnutls_cli, pem_body, run, s_client
from harness.ocsp import make_response

# The signature algorithms Chromium and Firefox offer, in their order (TLS 1.3).
BROWSER_SIGALGS = ("ECDSA+SHA256:rsa_pss_rsae_sha256:RSA+SHA256:ECDSA+SHA384:"
                   "rsa_pss_rsae_sha384:RSA+SHA384:rsa_pss_rsae_sha512:RSA+SHA512")
# A browser's TLS 1.2 suites: ECDSA and RSA authentication, ECDSA first.
BROWSER_TLS12_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                         "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                         "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")

OPENSSL_CLIENTS = {
    "openssl TLS 1.3 defaults": ["-tls1_3"],
    "openssl TLS 1.2 defaults": ["-tls1_2"],
    "browser TLS 1.3": ["-tls1_3", "-sigalgs", BROWSER_SIGALGS],
    "browser TLS 1.2": ["-tls1_2", "-cipher", BROWSER_TLS12_CIPHERS],
}
RSA_ONLY_CLIENTS = {
    "TLS 1.3 RSA-PSS only": ["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"],
    "TLS 1.2 ECDHE-RSA suite only": ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
}


def serial(cert) -> str:
    out = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-serial"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().split("=")[1]


def served(port, sni, pki, extra):
    """(leaf base64, serial named by the stapled OCSP response or None) as
    openssl s_client sees them."""
    code, out = s_client(port, sni, pki.ca, extra=["-status"] + list(extra))
    assert code == 0, out
    stapled = None
    if "OCSP Response Status: successful" in out:
        assert "Cert Status: good" in out, out
        stapled = out.split("Serial Number: ", 1)[1].split()[0]
    # The OCSP response printed above may carry its signer's certificate.
    return pem_body(out.split("Server certificate", 1)[-1]), stapled


def start_site(httpd_factory, pki, port, vhosts):
    """Starts httpd with one name-based vhost per (name, leaves, extra) on
    `port`; every leaf staples its own response. Returns {leaf.cert: response bytes}."""
    server = httpd_factory()
    ocsp_dir = server.root / "ocsp"
    ocsp_dir.mkdir()
    os.chmod(ocsp_dir, 0o755)
    responses = {}
    conf = f"Listen 127.0.0.1:{port}\n"
    for name, leaves, extra in vhosts:
        lines = ["  GnuTLSOCSPStapling On"]
        for leaf in leaves:
            path = ocsp_dir / f"{leaf.cert.stem}.der"
            responses[leaf.cert] = make_response(pki, leaf, path)
            lines.append(f'  GnuTLSOCSPResponseFile "{path}"')
        conf += tls_vhost(port, name, leaves, extra="\n".join(lines + ([extra] if extra else [])))
    server.write_config(conf)
    server.start(wait_port=port)
    return server, responses


@pytest.fixture(params=["rsa-first", "ecdsa-first"])
def dual(request, httpd_factory, pki, port):
    rsa, ecdsa = pki.leaf("a.test", "rsa"), pki.leaf("a.test", "ecdsa")
    leaves = [rsa, ecdsa] if request.param == "rsa-first" else [ecdsa, rsa]
    _, responses = start_site(httpd_factory, pki, port, [("a.test", leaves, "")])
    return rsa, ecdsa, responses


@pytest.mark.parametrize("client", OPENSSL_CLIENTS)
def test_clients_accepting_both_get_ecdsa_and_its_staple(dual, pki, port, client):
    rsa, ecdsa, _ = dual
    leaf, stapled = served(port, "a.test", pki, OPENSSL_CLIENTS[client])
    assert leaf == pem_body(ecdsa.cert.read_text()), f"{client} was not served the ECDSA chain"
    assert stapled == serial(ecdsa.cert)


@pytest.mark.parametrize("client", RSA_ONLY_CLIENTS)
def test_rsa_only_clients_get_rsa_and_its_staple(dual, pki, port, client):
    rsa, ecdsa, _ = dual
    leaf, stapled = served(port, "a.test", pki, RSA_ONLY_CLIENTS[client])
    assert leaf == pem_body(rsa.cert.read_text()), f"{client} was not served the RSA chain"
    assert stapled == serial(rsa.cert)


@pytest.mark.parametrize("version", ["+VERS-TLS1.3", "+VERS-TLS1.2"])
def test_gnutls_cli_defaults_get_ecdsa_and_its_staple(dual, pki, port, tmp_path, version):
    rsa, ecdsa, responses = dual
    chain, staple = tmp_path / "chain.pem", tmp_path / "staple.der"
    code, out = gnutls_cli(port, "a.test", pki.ca, priority=f"NORMAL:-VERS-ALL:{version}",
                           extra=["--save-cert", str(chain), "--save-ocsp", str(staple)])
    assert code == 0, out
    assert pem_body(chain.read_text()) == pem_body(ecdsa.cert.read_text())
    assert staple.read_bytes() == responses[ecdsa.cert]


def test_curl_defaults_get_ecdsa_and_a_verified_staple(dual, pki, port):
    rsa, ecdsa, _ = dual
    result = run(["curl", "-sS", "--cacert", str(pki.ca), "--resolve", f"a.test:{port}:127.0.0.1",
                  "--cert-status", "-o", "/dev/null", "-w", "%{certs}", f"https://a.test:{port}/"])
    assert result.returncode == 0, result.stderr
    assert pem_body(result.stdout.decode()) == pem_body(ecdsa.cert.read_text())


@pytest.mark.parametrize("first", ["rsa", "ecdsa"])
def test_preference_order_serves_the_first_configured_chain(httpd_factory, pki, port, first):
    rsa, ecdsa = pki.leaf("a.test", "rsa"), pki.leaf("a.test", "ecdsa")
    leaves = [rsa, ecdsa] if first == "rsa" else [ecdsa, rsa]
    start_site(httpd_factory, pki, port, [("a.test", leaves, "  GnuTLSCertificatePreference order")])
    leaf, stapled = served(port, "a.test", pki, ["-tls1_3", "-sigalgs", BROWSER_SIGALGS])
    assert leaf == pem_body(leaves[0].cert.read_text())
    assert stapled == serial(leaves[0].cert)
    # A client that can verify only the other chain still gets it.
    only = RSA_ONLY_CLIENTS["TLS 1.3 RSA-PSS only"] if first == "ecdsa" else ["-tls1_3", "-sigalgs", "ECDSA+SHA256"]
    leaf, stapled = served(port, "a.test", pki, only)
    assert leaf == pem_body(leaves[1].cert.read_text())
    assert stapled == serial(leaves[1].cert)


def test_sni_vhosts_with_different_chain_sets(httpd_factory, pki, port):
    a_rsa, a_ecdsa = pki.leaf("a.test", "rsa"), pki.leaf("a.test", "ecdsa")
    b_rsa = pki.leaf("b.test", "rsa")
    c_rsa, c_ecdsa = pki.leaf("c.test", "rsa"), pki.leaf("c.test", "ecdsa")
    start_site(httpd_factory, pki, port, [
        ("a.test", [a_rsa, a_ecdsa], ""),
        ("b.test", [b_rsa], ""),
        ("c.test", [c_rsa, c_ecdsa], "  GnuTLSCertificatePreference order"),
    ])
    browser = ["-tls1_3", "-sigalgs", BROWSER_SIGALGS]
    for name, expected in [("a.test", a_ecdsa), ("b.test", b_rsa), ("c.test", c_rsa)]:
        leaf, stapled = served(port, name, pki, browser)
        assert leaf == pem_body(expected.cert.read_text()), name
        assert stapled == serial(expected.cert), name
    # An ECDSA-only client cannot verify b.test's only chain: the handshake fails
    # rather than serving something it cannot check.
    code, out = s_client(port, "b.test", pki.ca, extra=["-tls1_3", "-sigalgs", "ECDSA+SHA256"])
    assert code != 0, out


def test_single_chain_vhost_unchanged(httpd_factory, pki, port):
    rsa = pki.leaf("a.test", "rsa")
    start_site(httpd_factory, pki, port, [("a.test", [rsa], "")])
    for extra in (["-tls1_3"], ["-tls1_2"], ["-tls1_3", "-sigalgs", BROWSER_SIGALGS]):
        leaf, stapled = served(port, "a.test", pki, extra)
        assert leaf == pem_body(rsa.cert.read_text())
        assert stapled == serial(rsa.cert)


def test_status_page_keeps_configured_indexes(httpd_factory, pki, port):
    """Offering chains to GnuTLS cheapest first must not renumber them: index 0
    stays the first configured chain in logs and on the status page."""
    rsa, ecdsa = pki.leaf("a.test", "rsa"), pki.leaf("a.test", "ecdsa")
    server, _ = start_site(httpd_factory, pki, port, [("a.test", [rsa, ecdsa], "")])
    deadline = time.monotonic() + 10
    log = server.read_error_log()
    while f"{rsa.cert.stem}.der" not in log and time.monotonic() < deadline:
        time.sleep(0.2)
        log = server.read_error_log()
    rsa_lines = [line for line in log.splitlines() if f"{rsa.cert.stem}.der" in line]
    assert rsa_lines and all(f"a.test:{port}#0" in line for line in rsa_lines), log


@pytest.mark.parametrize("value", ["fastest", "cost order"])
def test_bad_preference_fails_configtest(httpd_factory, pki, port, value):
    server = httpd_factory()
    rsa = pki.leaf("a.test", "rsa")
    code, out = server.configtest(f"Listen 127.0.0.1:{port}\n" + tls_vhost(
        port, "a.test", [rsa], extra=f"  GnuTLSCertificatePreference {value}"))
    assert code != 0
    assert "GnuTLSCertificatePreference" in out, out
