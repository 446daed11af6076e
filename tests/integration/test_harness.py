"""The harness's own checks: the error-log scan that fails tests, and the PKI.
These start no httpd."""
import subprocess

import pytest

from harness.httpd import Httpd

LINES = {
    "gtls_error": "[Wed Nov 25 05:00:00.000001 2026] [gtls:error] [pid 10:tid 11] GTLS0302: bad staple",
    "core_crit": "[Wed Nov 25 05:00:00.000002 2026] [core:crit] [pid 10:tid 11] AH00000: something",
    "info": "[Wed Nov 25 05:00:00.000003 2026] [gtls:info] [pid 10:tid 11] GTLS0201: handshake failed",
    "warn": "[Wed Nov 25 05:00:00.000004 2026] [gtls:warn] [pid 10:tid 11] GTLS0304: caveat",
    "crash": "[Wed Nov 25 05:00:00.000005 2026] [core:notice] [pid 10:tid 10] AH00052: child pid 12 "
             "exit signal Segmentation fault (11)",
    "core_dump": "[Wed Nov 25 05:00:00.000006 2026] [core:notice] [pid 10:tid 10] AH00051: child pid 12 "
                 "exit signal Aborted (6), possible coredump in /tmp",
    "linger_race": "[Wed Nov 25 05:00:00.000007 2026] [mpm_event:error] [pid 12:tid 13] (9)Bad file descriptor: "
                   "AH03092: process_lingering_close: apr_pollset_add failure",
}


@pytest.fixture
def server():
    server = Httpd()
    yield server
    server.cleanup()


def write_log(server, *names):
    server.error_log.write_text("\n".join(LINES[n] for n in names) + "\n")


def test_error_levels_fail_and_info_warn_do_not(server):
    write_log(server, "info", "warn", "gtls_error", "core_crit")
    assert server.unexpected_errors() == [LINES["gtls_error"], LINES["core_crit"]]


def test_declared_errors_are_allowed(server):
    write_log(server, "gtls_error", "core_crit")
    server.allow_error(r"GTLS0302")
    assert server.unexpected_errors() == [LINES["core_crit"]]


def test_crashed_children_fail_even_when_errors_are_allowed(server):
    write_log(server, "info", "crash", "core_dump")
    server.allow_error(r".*")
    assert server.unexpected_errors() == [LINES["crash"], LINES["core_dump"]]


def test_lingering_close_race_is_expected_only_while_stopping(server):
    # The event MPM closes busy workers' sockets when it stops; outside a stop
    # the same line means a socket was closed under httpd's feet.
    write_log(server, "linger_race", "linger_race", "linger_race")
    line = len(LINES["linger_race"]) + 1
    server.stop_log_ranges.append((line, 2 * line))
    assert server.unexpected_errors() == [LINES["linger_race"], LINES["linger_race"]]
    server.stop_log_ranges.append((2 * line, 3 * line))
    assert server.unexpected_errors() == [LINES["linger_race"]]


def test_sanitizer_reports_fail(server):
    write_log(server, "info")
    (server.root / "logs" / "sanitizer.1234").write_text("ERROR: AddressSanitizer: heap-use-after-free\n")
    assert any("AddressSanitizer" in report for report in server.unexpected_errors())


def test_pki_chain_verifies_and_pairs(pki):
    for key_type, algorithm in (("rsa", "RSA"), ("ecdsa", "EC")):
        leaf = pki.leaf("harness.test", key_type, alt_names=["www.harness.test"])
        # The chain file is leaf + intermediate and verifies against the root.
        verify = subprocess.run(["certtool", "--verify", "--load-ca-certificate", str(pki.ca),
                                 "--infile", str(leaf.chain)], capture_output=True, text=True, timeout=30)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        text = subprocess.run(["openssl", "x509", "-in", str(leaf.cert), "-noout", "-text"],
                              capture_output=True, text=True, timeout=30, check=True).stdout
        assert "DNS:harness.test" in text and "DNS:www.harness.test" in text
        assert f"Public Key Algorithm: {'rsaEncryption' if algorithm == 'RSA' else 'id-ecPublicKey'}" in text
        # The key belongs to the certificate.
        cert_key = subprocess.run(["openssl", "x509", "-in", str(leaf.cert), "-noout", "-pubkey"],
                                  capture_output=True, text=True, timeout=30, check=True).stdout
        key_pub = subprocess.run(["openssl", "pkey", "-in", str(leaf.key), "-pubout"],
                                 capture_output=True, text=True, timeout=30, check=True).stdout
        assert cert_key == key_pub


def test_pki_leaves_with_other_alt_names_are_other_certificates(pki):
    plain = pki.leaf("sans.test", "ecdsa")
    with_alias = pki.leaf("sans.test", "ecdsa", alt_names=["www.sans.test"])
    assert plain.cert != with_alias.cert and plain.cert.read_text() != with_alias.cert.read_text()
    assert pki.leaf("sans.test", "ecdsa", alt_names=("www.sans.test",)) is with_alias
    assert pki.leaf("sans.test", "ecdsa") is plain
