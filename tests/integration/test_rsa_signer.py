"""RSA key files sign with OpenSSL's libcrypto by default (GnuTLSRSASigner
openssl) and with GnuTLS when told (GnuTLSRSASigner gnutls): clients that accept
only RSA complete TLS 1.3 and 1.2 handshakes with either signer, for RSA-PSS and
PKCS #1 v1.5, RSA-2048 and RSA-3072, with GnuTLSKeyVerifySignatures on and off;
each chain keeps its own OCSP staple; a graceful restart loads the keys again;
startup says which signer is used."""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import tls_vhost
from harness.clients import curl, gnutls_cli, pem_body, s_client
from harness.ocsp import make_response
from harness.pki import Leaf

# openssl s_client options: (name, arguments, the peer signature type it must print)
RSA_ONLY_OPENSSL = {
    "TLS 1.3 rsa_pss_rsae_sha256": (["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"], "RSA-PSS"),
    "TLS 1.3 rsa_pss_rsae_sha512": (["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha512"], "RSA-PSS"),
    "TLS 1.2 rsa_pkcs1_sha256": (["-tls1_2", "-sigalgs", "rsa_pkcs1_sha256"], "RSA"),
    "TLS 1.2 rsa_pkcs1_sha384": (["-tls1_2", "-sigalgs", "rsa_pkcs1_sha384"], "RSA"),
    "TLS 1.2 rsa_pss_rsae_sha256": (["-tls1_2", "-sigalgs", "rsa_pss_rsae_sha256"], "RSA-PSS"),
}
RSA_ONLY_GNUTLS = {
    "TLS 1.3 RSA-PSS-RSAE-SHA384": "NORMAL:-VERS-ALL:+VERS-TLS1.3:-SIGN-ALL:+SIGN-RSA-PSS-RSAE-SHA384",
    "TLS 1.2 RSA-SHA256": "NORMAL:-VERS-ALL:+VERS-TLS1.2:-SIGN-ALL:+SIGN-RSA-SHA256",
}


def rsa_leaf(pki, name, bits):
    """An RSA leaf of `bits` for `name` from the test PKI's intermediate (the
    PKI's own leaves are RSA-2048)."""
    if bits == 2048:
        return pki.leaf(name, "rsa")
    base = pki.dir / f"{name}-rsa{bits}"
    key, cert, chain, template = (Path(f"{base}{suffix}") for suffix in (".key", ".pem", ".chain.pem", ".tmpl"))
    if not chain.exists():
        template.write_text(f'cn = "{name}"\ndns_name = "{name}"\ntls_www_server\nsigning_key\nexpiration_days = 30\n')
        for args in (["--generate-privkey", "--key-type", "rsa", "--bits", str(bits), "--outfile", str(key)],
                     ["--generate-certificate", "--load-privkey", str(key), "--load-ca-certificate",
                      str(pki.intermediate), "--load-ca-privkey", str(pki.intermediate_key), "--template",
                      str(template), "--outfile", str(cert)]):
            subprocess.run(["certtool", *args], check=True, capture_output=True, timeout=120)
        chain.write_text(cert.read_text() + pki.intermediate.read_text())
        os.chmod(key, 0o600)
    return Leaf(name, "rsa", cert, chain, key)


def start(httpd_factory, port, vhost, globals_=""):
    server = httpd_factory()
    server.write_config(f"Listen 127.0.0.1:{port}\n{globals_}\n" + vhost)
    server.start(wait_port=port)
    return server


def assert_rsa_handshakes(port, pki, leaf):
    for name, (arguments, signature_type) in RSA_ONLY_OPENSSL.items():
        code, out = s_client(port, leaf.name, pki.ca, extra=arguments)
        assert code == 0, f"{name}: {out}"
        assert f"Peer signature type: {signature_type}\n" in out, f"{name}: {out}"
        assert pem_body(out) == pem_body(leaf.cert.read_text()), name
    for name, priority in RSA_ONLY_GNUTLS.items():
        code, out = gnutls_cli(port, leaf.name, pki.ca, priority=priority, input_bytes=b"")
        assert code == 0, f"{name}: {out}"
    status, _, body, err = curl(f"https://{leaf.name}:{port}/", pki.ca, host=leaf.name, port=port)
    assert status == 200, err
    assert body == b"default\n"


@pytest.mark.parametrize("bits", [2048, 3072])
@pytest.mark.parametrize("signer", ["default", "openssl", "gnutls"])
def test_rsa_only_clients_complete_handshakes(httpd_factory, pki, port, signer, bits):
    leaf = rsa_leaf(pki, "r.test", bits)
    globals_ = "" if signer == "default" else f"GnuTLSRSASigner {signer}"
    server = start(httpd_factory, port, tls_vhost(port, leaf.name, [leaf]), globals_)
    assert_rsa_handshakes(port, pki, leaf)
    log = server.read_error_log()
    if signer == "gnutls":
        assert "GTLS0105: RSA signer: GnuTLS/" in log, log
    else:
        assert "GTLS0105: RSA signer: OpenSSL 3." in log, log
        assert "for 1 RSA key file(s)" in log and "GnuTLSKeyVerifySignatures Off" in log, log


@pytest.mark.parametrize("bits", [2048, 3072])
def test_verified_signatures_reach_the_client(httpd_factory, pki, port, bits):
    leaf = rsa_leaf(pki, "v.test", bits)
    server = start(httpd_factory, port, tls_vhost(port, leaf.name, [leaf]), "GnuTLSKeyVerifySignatures On")
    assert_rsa_handshakes(port, pki, leaf)
    assert "GnuTLSKeyVerifySignatures On" in server.read_error_log()


def test_each_chain_keeps_its_staple_with_either_signer(httpd_factory, pki, port):
    """The OpenSSL signer changes how the key reaches the credentials, not the
    certificate index each staple is bound to."""
    rsa, ecdsa = pki.leaf("s.test", "rsa"), pki.leaf("s.test", "ecdsa")
    server = httpd_factory()
    ocsp_dir = server.root / "ocsp"
    ocsp_dir.mkdir()
    os.chmod(ocsp_dir, 0o755)
    responses = {leaf.cert: make_response(pki, leaf, ocsp_dir / f"{leaf.cert.stem}.der") for leaf in (rsa, ecdsa)}
    extra = "  GnuTLSOCSPStapling On\n" + "\n".join(
        f'  GnuTLSOCSPResponseFile "{ocsp_dir / (leaf.cert.stem + ".der")}"' for leaf in (rsa, ecdsa))
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "s.test", [rsa, ecdsa], extra=extra))
    server.start(wait_port=port)
    for leaf, arguments in ((rsa, ["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"]),
                            (rsa, ["-tls1_2", "-sigalgs", "rsa_pkcs1_sha256"]),
                            (ecdsa, ["-tls1_3"])):
        code, out = s_client(port, "s.test", pki.ca, extra=["-status", *arguments])
        assert code == 0, out
        assert "OCSP Response Status: successful" in out and "Cert Status: good" in out, out
        assert pem_body(out.split("Server certificate", 1)[-1]) == pem_body(leaf.cert.read_text())
    assert responses[rsa.cert] != responses[ecdsa.cert]


def test_graceful_restart_signs_with_the_new_key(httpd_factory, pki, port):
    first, second = pki.leaf("g.test", "rsa"), pki.leaf("g.test", "rsa", tag="renewed")
    server = httpd_factory()
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "g.test", [first]))
    server.start(wait_port=port)
    assert_rsa_handshakes(port, pki, first)
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "g.test", [second]))
    server.graceful()
    assert_rsa_handshakes(port, pki, second)
    assert server.read_error_log().count("GTLS0105: RSA signer: OpenSSL") >= 2


def test_rsa_key_exchange_keeps_the_gnutls_signer(httpd_factory, pki, port):
    """The OpenSSL signer only signs; TLS_RSA_* suites need the key to decrypt."""
    leaf = pki.leaf("k.test", "rsa")
    priorities = 'GnuTLSPriorities "NORMAL:-VERS-ALL:+VERS-TLS1.2:+RSA"'
    server = start(httpd_factory, port, tls_vhost(port, leaf.name, [leaf], extra=priorities))
    code, out = s_client(port, leaf.name, pki.ca, extra=["-tls1_2", "-cipher", "AES128-GCM-SHA256"])
    assert code == 0, out
    assert "Cipher is AES128-GCM-SHA256" in out, out
    code, out = s_client(port, leaf.name, pki.ca, extra=["-tls1_2", "-sigalgs", "rsa_pkcs1_sha256"])
    assert code == 0, out
    log = server.read_error_log()
    assert "GTLS0106: k.test:" in log and "its RSA keys sign with GnuTLS" in log, log
    assert "for 0 RSA key file(s)" in log, log


@pytest.mark.parametrize("line, message", [
    ("GnuTLSRSASigner nettle", "must be gnutls or openssl, not 'nettle'"),
    ("GnuTLSKeyVerifySignatures maybe", "GnuTLSKeyVerifySignatures"),
])
def test_bad_values_fail_the_configuration_test(httpd_factory, port, line, message):
    server = httpd_factory()
    code, out = server.configtest(f"{line}\n")
    assert code != 0 and message in out, out


@pytest.mark.parametrize("directive", ["GnuTLSRSASigner gnutls", "GnuTLSKeyVerifySignatures On"])
def test_signer_directives_belong_to_the_server_config(httpd_factory, pki, port, directive):
    leaf = pki.leaf("c.test", "rsa")
    server = httpd_factory()
    code, out = server.configtest(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "c.test", [leaf], extra=directive))
    assert code != 0 and "cannot occur within <VirtualHost> section" in out, out


@pytest.mark.parametrize("signer", ["openssl", "gnutls"])
def test_a_broken_or_foreign_rsa_key_fails_the_configuration_test(httpd_factory, pki, port, tmp_path, signer):
    leaf, other = pki.leaf("b.test", "rsa"), pki.leaf("b.test", "rsa", tag="other")
    broken = tmp_path / "broken.key"
    # certtool writes a description before the PEM block: cut into the block itself.
    text = leaf.key.read_text().splitlines()
    begin = next(i for i, line in enumerate(text) if line.startswith("-----BEGIN"))
    broken.write_text("\n".join(text[:begin + 3] + text[begin + 6:]) + "\n")
    for key, reason in ((broken, "no private key could be read"), (other.key, "does not match the certificate")):
        server = httpd_factory()
        conf = (f"GnuTLSRSASigner {signer}\nListen 127.0.0.1:{port}\n<VirtualHost 127.0.0.1:{port}>\n"
                f'  ServerName b.test\n  GnuTLSEnable On\n  GnuTLSCertificateFile "{leaf.chain}"\n'
                f'  GnuTLSKeyFile "{key}"\n</VirtualHost>\n')
        code, out = server.configtest(conf)
        assert code != 0, out
        assert "GnuTLSKeyFile" in out and reason in out, out
