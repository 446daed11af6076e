"""Broken configurations fail `httpd -t` with the directive and the reason."""
import socket
from pathlib import Path

import pytest

from conftest import tls_vhost
from harness.httpd import Httpd


@pytest.fixture
def check(httpd_factory, pki, port):
    def run(vhost_body=None, global_conf="", leaves=None):
        server = httpd_factory()
        leaves = leaves if leaves is not None else [pki.leaf("a.test", "ecdsa")]
        vhost = tls_vhost(port, "a.test", leaves, extra=vhost_body or "")
        server.write_config(global_conf + f"Listen 127.0.0.1:{port}\n" + vhost)
        return server.configtest()
    return run


def test_good_configuration_passes(check):
    code, out = check()
    assert code == 0, out
    assert "Syntax OK" in out


@pytest.mark.parametrize("body,expected", [
    ("  GnuTLSEnable maybe", "GnuTLSEnable must be On or Off"),
    ("  GnuTLSSessionTickets sometimes", "GnuTLSSessionTickets must be On or Off"),
    ("  GnuTLSPriorities NORMAL:+NOT-A-CIPHER", "GnuTLSPriorities invalid priority string"),
    ("  GnuTLSCacheTimeout forever", "GnuTLSCacheTimeout must be a whole number"),
    ("  GnuTLSCache shmcb", "GnuTLSCache cannot occur within <VirtualHost> section"),
    ("  GnuTLSClientVerify require", "no GnuTLSClientCAFile names the CAs to trust"),
    ("  <Directory />\n    GnuTLSClientVerify require\n  </Directory>",
     "GnuTLSClientVerify in a <Directory> or <Location> asks for client certificates but no GnuTLSClientCAFile"),
    ("  GnuTLSKeyFile /nonexistent/extra.key", "GnuTLSKeyFile: 2 key file(s) for 1 GnuTLSCertificateFile"),
    ("  GnuTLSCertificateFile /nonexistent/chain.pem\n  GnuTLSKeyFile /nonexistent/key.pem",
     "GnuTLSCertificateFile cannot read /nonexistent/chain.pem: No such file or directory"),
])
def test_bad_value_names_directive(check, body, expected):
    code, out = check(body)
    assert code != 0
    assert expected in out, out


# The abuse corpus: wrong arity, values out of range, wrong contexts, features
# mod_gtls refuses. Each fails `httpd -t` naming the directive and the reason
# (and, run under the sanitizer build, crashes nothing).
@pytest.mark.parametrize("body,expected", [
    ("  GnuTLSEnable", "GnuTLSEnable takes one argument"),
    ("  GnuTLSEnable On Off", "GnuTLSEnable takes one argument"),
    ("  GnuTLSCertificateFile /a.pem /b.pem", "GnuTLSCertificateFile takes one argument"),
    ("  GnuTLSCacheTimeout -1", "GnuTLSCacheTimeout must be between 0 and 604800 seconds, not -1"),
    ("  GnuTLSCacheTimeout 99999999999999999999", "GnuTLSCacheTimeout must be a whole number of seconds"),
    ("  GnuTLSOCSPCheckInterval 86401", "GnuTLSOCSPCheckInterval must be between 0 and 86400 seconds, not 86401"),
    ("  GnuTLSOCSPStapling maybe", "GnuTLSOCSPStapling must be On or Off, not 'maybe'"),
    ("  GnuTLSOCSPResponseFile", 'GnuTLSOCSPResponseFile needs a response FILE, or "" for none'),
    ("  GnuTLSOCSPResponseFile /a.der\n  GnuTLSOCSPResponseFile /b.der",
     "GnuTLSOCSPResponseFile: 2 occurrence(s) for 1 certificate(s)"),
    ("  GnuTLSP11Module /x.so", "GnuTLSP11Module belongs in the server config, outside <VirtualHost>"),
    ("  GnuTLSPIN", "GnuTLSPIN needs the PIN or passphrase"),
    ("  GnuTLSSRKPIN 1234", "GnuTLSSRKPIN is refused: TPM 1.2 keys are not supported by mod_gtls"),
    ("  GnuTLSProxyEngine maybe", "GnuTLSProxyEngine must be On or Off, not 'maybe'"),
    ("  <Location />\n    GnuTLSProxyCAFile /ca.pem\n  </Location>", "GnuTLSProxyCAFile not allowed in <Location> context"),
    ("  <Location />\n    GnuTLSEnable On\n  </Location>", "GnuTLSEnable not allowed in <Location> context"),
    ("  <Directory />\n    GnuTLSCacheTimeout 10\n  </Directory>", "GnuTLSCacheTimeout not allowed in <Directory> context"),
])
def test_abuse_corpus_fails_configtest_with_directive_and_reason(check, body, expected):
    code, out = check(body)
    assert code != 0, out
    assert expected in out, out


def test_empty_response_file_entry_is_accepted(check):
    code, out = check('  GnuTLSOCSPResponseFile ""')
    assert code == 0, out


@pytest.mark.parametrize("content,expected", [
    ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "no private key could be read"),
    ("", "no private key could be read"),
])
def test_garbage_key_file(check, pki, tmp_path, content, expected):
    leaf = pki.leaf("a.test", "ecdsa")
    key = tmp_path / "garbage.key"
    key.write_text(content)
    code, out = check(leaves=[type(leaf)(leaf.name, leaf.key_type, leaf.cert, leaf.chain, key)])
    assert code != 0
    assert f"a.test:" in out and "#0" in out and f"GnuTLSKeyFile {key}: {expected}" in out, out


@pytest.mark.parametrize("chain,expected", [("empty", "no certificate could be read"), ("/etc", "not a regular file")])
def test_unusable_chain_file(check, pki, tmp_path, chain, expected):
    leaf = pki.leaf("a.test", "ecdsa")
    path = Path("/etc") if chain == "/etc" else tmp_path / "empty.pem"
    if chain == "empty":
        path.write_text("")
    code, out = check(leaves=[type(leaf)(leaf.name, leaf.key_type, path, path, leaf.key)])
    assert code != 0
    assert "GnuTLSCertificateFile" in out and expected in out, out


def test_key_of_other_certificate(check, pki):
    leaf = pki.leaf("a.test", "ecdsa")
    other = pki.leaf("b.test", "ecdsa")
    mixed = type(leaf)(leaf.name, leaf.key_type, leaf.cert, leaf.chain, other.key)
    code, out = check(leaves=[mixed])
    assert code != 0
    assert "a.test:" in out and "#0" in out
    assert f"GnuTLSKeyFile {other.key}: the private key does not match the certificate" in out, out


def test_enabled_without_certificate(check):
    code, out = check(leaves=[])
    assert code != 0
    assert "GnuTLSEnable is On but no GnuTLSCertificateFile" in out, out


def test_unknown_cache_provider(check):
    code, out = check(global_conf="GnuTLSCache nosuchcache:/tmp/x\n")
    assert code != 0
    assert "unknown session cache type 'nosuchcache'" in out, out


def test_garbage_certificate_file(check, pki, tmp_path):
    leaf = pki.leaf("a.test", "ecdsa")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("this is not a certificate\n")
    code, out = check(leaves=[type(leaf)(leaf.name, leaf.key_type, garbage, garbage, leaf.key)])
    assert code != 0
    assert f"GnuTLSCertificateFile {garbage}: no certificate could be read" in out, out


def test_mod_gnutls_configuration_runs_unchanged(check):
    code, out = check("\n".join([
        "  GnuTLSPriorities NORMAL",
        "  GnuTLSClientVerify ignore",
        "  GnuTLSDHFile /etc/nonexistent-dh.pem",
        "  GnuTLSOCSPAutoRefresh Off",
        "  GnuTLSExportCertificates off",
        "  GnuTLSSessionTickets on",
    ]), global_conf="GnuTLSCache none\nGnuTLSCacheTimeout 600\n")
    assert code == 0, out


def test_more_certificates_than_keys(check, pki):
    leaf = pki.leaf("a.test", "ecdsa")
    code, out = check(f'  GnuTLSCertificateFile "{pki.leaf("a.test", "rsa").chain}"', leaves=[leaf])
    assert code != 0
    assert "1 key file(s) for 2 GnuTLSCertificateFile" in out, out


def test_broken_configuration_does_not_start(httpd_factory, pki, port):
    server = httpd_factory()
    leaf = pki.leaf("a.test", "ecdsa")
    other = pki.leaf("b.test", "ecdsa")
    mixed = type(leaf)(leaf.name, leaf.key_type, leaf.cert, leaf.chain, other.key)
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [mixed]))
    with pytest.raises(RuntimeError) as failure:
        server.start(wait_port=port)
    assert "does not match the certificate" in str(failure.value)
    with pytest.raises(OSError):  # nothing serves the port, not even plaintext
        socket.create_connection(("127.0.0.1", port), 1).close()
    server.allow_error(r"GTLS0101")  # the startup failure is logged at error level too
