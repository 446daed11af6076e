"""Private keys where administrators keep them: passphrase-encrypted key files
(GnuTLSPIN) and PKCS #11 tokens (pkcs11: URIs, GnuTLSP11Module), with SoftHSM2
as a real token made by the test. Keys on the token sign in every worker
process (PKCS #11 sessions are opened again after fork), across a graceful
restart, and each chain keeps its own OCSP staple."""
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import tls_vhost
from harness.clients import curl, s_client
from harness.ocsp import make_response

SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN = "4711"
# scripts/install-deps.sh installs it; under CI a missing token library fails the tests.
pytestmark = pytest.mark.skipif(not SOFTHSM.exists() and os.environ.get("CI") != "true",
                                reason="softhsm2 is not installed")


class Token:
    """A SoftHSM2 token in a temporary directory, readable by httpd's User."""

    def __init__(self, label="gtls"):
        self.dir = Path(tempfile.mkdtemp(prefix="gtls-token-"))
        (self.dir / "tokens").mkdir()
        self.conf = self.dir / "softhsm2.conf"
        self.conf.write_text(f"directories.tokendir = {self.dir}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n")
        self.env = dict(os.environ, SOFTHSM2_CONF=str(self.conf), GNUTLS_PIN=PIN, GNUTLS_SO_PIN="123456")
        self.label = label
        self._run("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", "123456")
        self.share()

    def _run(self, *args):
        result = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr

    def share(self):
        for path in [self.dir, *self.dir.rglob("*")]:
            os.chmod(path, 0o777 if path.is_dir() else 0o666)

    def store_key(self, key: Path, label: str, object_id: str):
        self._run("p11tool", "--provider", str(SOFTHSM), "--login", "--write", "--load-privkey", str(key),
                  "--label", label, "--id", object_id, f"pkcs11:token={self.label}")
        self.share()
        return f"pkcs11:token={self.label};object={label};type=private"

    def store_certificate(self, cert: Path, label: str, object_id: str):
        self._run("p11tool", "--provider", str(SOFTHSM), "--login", "--write", "--load-certificate", str(cert),
                  "--label", label, "--id", object_id, f"pkcs11:token={self.label}")
        self.share()
        return f"pkcs11:token={self.label};object={label};type=cert"


@pytest.fixture
def token():
    return Token()


def token_server(httpd_factory, token, port, vhost, globals_="", check_only=False):
    server = httpd_factory()
    server.extra_environment["SOFTHSM2_CONF"] = str(token.conf)
    conf = f"Listen 127.0.0.1:{port}\nGnuTLSP11Module {SOFTHSM}\n{globals_}" + vhost
    if check_only:
        return server, server.configtest(conf)
    server.write_config(conf)
    server.start(wait_port=port)
    return server, None


def vhost_lines(port, pairs, extra=""):
    lines = [f"<VirtualHost 127.0.0.1:{port}>", "  ServerName a.test", "  GnuTLSEnable On"]
    for cert, key in pairs:
        lines += [f'  GnuTLSCertificateFile "{cert}"', f'  GnuTLSKeyFile "{key}"']
    return "\n".join(lines + [extra, "</VirtualHost>"]) + "\n"


def served_key(port, pki, sigalgs):
    code, out = s_client(port, "a.test", pki.ca, extra=["-tls1_3", "-sigalgs", sigalgs, "-status", "-ign_eof"],
                         input_bytes=b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    return code, out


def test_rsa_and_ecdsa_keys_on_the_token_each_with_its_staple(httpd_factory, pki, token, port, tmp_path):
    rsa, ecdsa = pki.leaf("a.test", "rsa"), pki.leaf("a.test", "ecdsa")
    rsa_uri = token.store_key(rsa.key, "rsa", "01")
    ecdsa_uri = token.store_key(ecdsa.key, "ecdsa", "02")
    ocsp = tmp_path / "ocsp"
    ocsp.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(ocsp, 0o755)
    responses = {"rsa": make_response(pki, rsa, ocsp / "rsa.der"), "ecdsa": make_response(pki, ecdsa, ocsp / "ecdsa.der")}
    server, _ = token_server(httpd_factory, token, port, vhost_lines(
        port, [(rsa.chain, rsa_uri), (ecdsa.chain, ecdsa_uri)],
        extra=f'  GnuTLSPIN {PIN}\n  GnuTLSOCSPResponseFile "{ocsp}/rsa.der"\n  GnuTLSOCSPResponseFile "{ocsp}/ecdsa.der"'))
    # Several connections, so that several worker threads (and processes) sign.
    for _ in range(3):
        for sigalgs, key_name in (("rsa_pss_rsae_sha256", "RSA"), ("ECDSA+SHA256", "ECDSA")):
            code, out = served_key(port, pki, sigalgs)
            assert code == 0 and "HTTP/1.1 200" in out, out
            assert f"Peer signature type: {'RSA-PSS' if key_name == 'RSA' else 'ECDSA'}" in out, out
            assert "Cert Status: good" in out, out
    server.graceful()
    code, out = served_key(port, pki, "ECDSA+SHA256")
    assert code == 0 and "HTTP/1.1 200" in out and "Cert Status: good" in out, out
    assert "GTLS0104" not in server.read_error_log()


def test_certificate_and_key_on_the_token(httpd_factory, pki, token, port):
    # mod_gnutls's form: both as URIs; the token holds the leaf alone.
    rsa = pki.leaf("a.test", "rsa")
    key_uri = token.store_key(rsa.key, "web", "03")
    cert_uri = token.store_certificate(rsa.cert, "web", "03")
    token_server(httpd_factory, token, port, vhost_lines(port, [(cert_uri, key_uri)], extra=f"  GnuTLSPIN {PIN}"))
    status, _, body, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port, extra=["--cacert", str(pki.intermediate)])
    assert (status, body) == (200, b"default\n"), err


@pytest.mark.parametrize("problem,expected", [
    ("wrong pin", "the token refused the login"),
    ("no pin", "the token refused the login"),
    ("missing object", "no such object on any token"),
    ("other key", "the private key does not match the certificate"),
])
def test_token_problems_fail_the_configuration_check(httpd_factory, pki, token, port, problem, expected):
    rsa, ecdsa = pki.leaf("a.test", "rsa"), pki.leaf("a.test", "ecdsa")
    uri = token.store_key(rsa.key, "rsa", "01")
    token.store_key(pki.leaf("b.test", "rsa").key, "other", "04")
    pin = {"wrong pin": "  GnuTLSPIN 0000", "no pin": ""}.get(problem, f"  GnuTLSPIN {PIN}")
    if problem == "missing object":
        uri = f"pkcs11:token={token.label};object=nothing;type=private"
    if problem == "other key":
        uri = f"pkcs11:token={token.label};object=other;type=private"
    _, (code, out) = token_server(httpd_factory, token, port, vhost_lines(port, [(rsa.chain, uri)], extra=pin),
                                  check_only=True)
    assert code != 0
    assert "GnuTLSKeyFile" in out and expected in out, out
    # One wrong PIN is one failed login: the token is not locked by retries.
    if problem == "wrong pin":
        _, (code, out) = token_server(httpd_factory, token, port,
                                      vhost_lines(port, [(rsa.chain, uri)], extra=f"  GnuTLSPIN {PIN}"), check_only=True)
        assert code == 0, out


def test_unknown_provider_fails_the_configuration_check(httpd_factory, pki, port):
    server = httpd_factory()
    code, out = server.configtest(f"Listen 127.0.0.1:{port}\nGnuTLSP11Module /nonexistent/libp11.so\n" +
                                  tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")]))
    assert code != 0
    assert "GnuTLSP11Module /nonexistent/libp11.so: cannot load the provider" in out, out


@pytest.fixture
def encrypted_key(pki, tmp_path):
    leaf = pki.leaf("a.test", "ecdsa")
    out = tmp_path / "encrypted.key"
    subprocess.run(["openssl", "pkcs8", "-topk8", "-in", str(leaf.key), "-passout", "pass:s3cret phrase",
                    "-out", str(out)], check=True, capture_output=True)
    os.chmod(tmp_path, 0o755)
    os.chmod(out, 0o644)
    assert "ENCRYPTED PRIVATE KEY" in out.read_text()
    return leaf, out


@pytest.mark.parametrize("pin", ['"s3cret phrase"', "s3cret phrase"])
def test_encrypted_key_file_with_its_passphrase(httpd_factory, pki, port, encrypted_key, pin):
    leaf, key = encrypted_key
    server = httpd_factory()
    server.write_config(f"Listen 127.0.0.1:{port}\n" + vhost_lines(port, [(leaf.chain, key)], extra=f"  GnuTLSPIN {pin}"))
    server.start(wait_port=port)
    status, _, body, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port)
    assert (status, body) == (200, b"default\n"), err


@pytest.mark.parametrize("pin,expected", [
    ("", "the private key is encrypted and no GnuTLSPIN gives its passphrase"),
    ("  GnuTLSPIN wrong", "the private key is encrypted and GnuTLSPIN is not its passphrase"),
])
def test_encrypted_key_file_without_the_right_passphrase(httpd_factory, pki, port, encrypted_key, pin, expected):
    leaf, key = encrypted_key
    server = httpd_factory()
    code, out = server.configtest(f"Listen 127.0.0.1:{port}\n" + vhost_lines(port, [(leaf.chain, key)], extra=pin))
    assert code != 0
    assert f"GnuTLSKeyFile {key}: {expected}" in out, out


def test_srk_pin_is_refused_clearly(httpd_factory, pki, port):
    server = httpd_factory()
    code, out = server.configtest(f"Listen 127.0.0.1:{port}\nGnuTLSSRKPIN 1234\n" +
                                  tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")]))
    assert code != 0
    assert "GnuTLSSRKPIN" in out and "TPM 1.2 keys are not supported" in out, out
