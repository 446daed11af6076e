"""Stapling with no response file configured: mod_gtls fetches the response
itself (one fetcher for the whole server), keeps it in GnuTLSOCSPResponseDir
and staples it through the same validated-file path as configured files."""
import hashlib
import subprocess
import time

import pytest

from conftest import tls_vhost
from harness.clients import gnutls_cli
from harness.httpd import free_port
from harness.ocsp import OpensslResponder, ScriptedResponder, make_response
from test_ocsp_fetch import responders  # noqa: F401 (a fixture)
from test_stapling import ECDSA_ONLY, received_staple, wait_until


def fetched_file(directory, leaf):
    der = subprocess.run(["openssl", "x509", "-in", str(leaf.cert), "-outform", "DER"],
                         capture_output=True, check=True).stdout
    return directory / (hashlib.sha256(der).hexdigest() + ".der")


def site(server, port, leaves, extra="", global_lines=""):
    directory = server.root / "ocsp-state"
    server.write_config(global_lines + f"GnuTLSOCSPResponseDir {directory}\nListen 127.0.0.1:{port}\n" +
                        tls_vhost(port, "a.test", leaves, extra="  GnuTLSOCSPCheckInterval 1\n" + extra))
    return directory


def test_first_fetch_staples_without_any_file(httpd_factory, pki, port, responders, tmp_path):
    url = f"http://127.0.0.1:{free_port()}/"
    leaf = pki.leaf("a.test", "ecdsa", ocsp_uri=url)
    responders(OpensslResponder, pki, [(leaf, "V")], int(url.rsplit(":", 1)[1].strip("/")))
    server = httpd_factory()
    directory = site(server, port, [leaf])
    server.start(wait_port=port)
    written = fetched_file(directory, leaf)
    # The first fetch happens before the workers start: the very first
    # handshakes staple exactly the file it wrote, which is a good response for
    # this certificate.
    assert written.exists()
    for _ in range(3):  # handshakes land on different processes
        assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == written.read_bytes()
    check = subprocess.run(["openssl", "ocsp", "-no_nonce", "-respin", str(written), "-issuer", str(pki.intermediate),
                            "-cert", str(leaf.cert), "-CAfile", str(pki.ca)], capture_output=True, text=True)
    assert f"{leaf.cert}: good" in check.stdout, check.stdout + check.stderr
    assert "GTLS0310" in server.read_error_log()


def test_restart_staples_the_persisted_response_before_any_fetch(httpd_factory, pki, port, responders, tmp_path):
    responder_port = free_port()
    url = f"http://127.0.0.1:{responder_port}/"
    leaf = pki.leaf("a.test", "ecdsa", tag="persist", ocsp_uri=url)
    responder = responders(OpensslResponder, pki, [(leaf, "V")], responder_port)
    server = httpd_factory()
    directory = site(server, port, [leaf])
    server.start(wait_port=port)
    wait_until(lambda: fetched_file(directory, leaf).exists(), timeout=20, what="the first fetch")
    persisted = fetched_file(directory, leaf).read_bytes()
    responder.stop()
    server.stop()
    server.start(wait_port=port)
    # The responder is gone: the staple can only come from the file on disk.
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == persisted


def test_one_fetch_per_certificate_whatever_the_number_of_processes(httpd_factory, pki, port, responders, tmp_path):
    """event MPM with 3 worker processes and two certificates: the fetcher is
    a singleton, so each responder is asked once, not once per process."""
    counted = []
    leaves = []
    for key_type in ("ecdsa", "rsa"):
        responder_port = free_port()
        leaf = pki.leaf("a.test", key_type, tag="count", ocsp_uri=f"http://127.0.0.1:{responder_port}/")
        response = make_response(pki, leaf, tmp_path / f"{key_type}.der")
        counted.append(responders(ScriptedResponder, responder_port,
                                  lambda request, body=response: (200, body, 0)))
        leaves.append(leaf)
    server = httpd_factory()
    # The scripted responders hand out one presigned response (with a nonce of
    # its own, as a CDN-cached one may have): only acceptable without nonces.
    site(server, port, leaves, extra="  GnuTLSOCSPCheckNonce Off", global_lines="StartServers 3\nMinSpareThreads 75\n")
    server.start(wait_port=port)
    assert len(server.children()) >= 3
    wait_until(lambda: received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) != b"", timeout=20,
               what="the ECDSA response to be stapled")
    time.sleep(4)  # every process's refresher has looked at the files several times
    assert [responder.requests for responder in counted] == [1, 1]


def test_responder_down_at_first_then_up(httpd_factory, pki, port, responders, tmp_path):
    responder_port = free_port()
    url = f"http://127.0.0.1:{responder_port}/"
    leaf = pki.leaf("a.test", "ecdsa", tag="late", ocsp_uri=url)
    server = httpd_factory()
    site(server, port, [leaf])
    server.start(wait_port=port)
    wait_until(lambda: "GTLS0311" in server.read_error_log(), timeout=10, what="the failed fetch to be logged")
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == b""
    responders(OpensslResponder, pki, [(leaf, "V")], responder_port)
    wait_until(lambda: received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) != b"", timeout=30,
               what="the retry to fetch and staple")


def test_must_staple_certificate_with_a_live_responder(httpd_factory, pki, port, responders, tmp_path):
    responder_port = free_port()
    url = f"http://127.0.0.1:{responder_port}/"
    leaf = pki.leaf("a.test", "ecdsa", must_staple=True, ocsp_uri=url)
    responders(OpensslResponder, pki, [(leaf, "V")], responder_port)
    server = httpd_factory()
    server.allow_error("GTLS0303")  # no staple until the first fetch: said loudly for must-staple
    site(server, port, [leaf])
    code, out = server.configtest()
    assert code == 0, out
    server.start(wait_port=port)

    def stapled():  # gnutls-cli refuses a must-staple certificate without its staple
        saved = tmp_path / "staple.der"
        code, out = gnutls_cli(port, "a.test", pki.ca, priority="NORMAL", extra=["--save-ocsp", str(saved)])
        return code == 0 and saved.exists() and saved.stat().st_size > 0

    wait_until(stapled, timeout=20, what="the must-staple certificate's staple")


def test_responder_url_directive_overrides_the_certificate(httpd_factory, pki, port, responders, tmp_path):
    responder_port = free_port()
    leaf = pki.leaf("a.test", "ecdsa", tag="override", ocsp_uri="http://127.0.0.1:9/")  # nothing listens
    responders(OpensslResponder, pki, [(leaf, "V")], responder_port)
    server = httpd_factory()
    site(server, port, [leaf], extra=f"  GnuTLSOCSPResponderURL http://127.0.0.1:{responder_port}/")
    server.start(wait_port=port)
    wait_until(lambda: received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) != b"", timeout=20,
               what="the response from the configured responder")


def test_certificate_without_responder_is_not_fetched(httpd_factory, pki, port, tmp_path):
    leaf = pki.leaf("a.test", "ecdsa")  # no AIA
    server = httpd_factory()
    directory = site(server, port, [leaf])
    server.start(wait_port=port)
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == b""
    assert not directory.exists()


@pytest.mark.parametrize("line,expected", [
    ("GnuTLSOCSPResponderURL ftp://ocsp.test/", "must be an http:// or https:// URL"),
    ("GnuTLSOCSPSocketTimeout 0", "GnuTLSOCSPSocketTimeout"),
    ("GnuTLSOCSPCheckNonce sometimes", "GnuTLSOCSPCheckNonce"),
    ("GnuTLSOCSPResponseDir /tmp/x", "cannot occur within <VirtualHost> section"),
    ("GnuTLSOCSPCacheTimeout 0", "GnuTLSOCSPCacheTimeout"),
    ("GnuTLSOCSPFuzzTime soon", "GnuTLSOCSPFuzzTime"),
    ("GnuTLSOCSPAutoRefresh maybe", "GnuTLSOCSPAutoRefresh"),
])
def test_fetch_directive_errors(httpd_factory, pki, port, line, expected):
    server = httpd_factory()
    code, out = server.configtest(f"Listen 127.0.0.1:{port}\n" +
                                  tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")], extra="  " + line))
    assert code != 0
    assert expected in out, out


def test_status_page_shows_what_the_fetcher_did(httpd_factory, pki, port, responders, tmp_path):
    import urllib.request
    responder_port = free_port()
    url = f"http://127.0.0.1:{responder_port}/"
    good = pki.leaf("a.test", "ecdsa", tag="status", ocsp_uri=url)
    down = pki.leaf("a.test", "rsa", tag="status", ocsp_uri="http://127.0.0.1:9/")  # nothing listens
    responders(OpensslResponder, pki, [(good, "V")], responder_port)
    server = httpd_factory()
    status_port = free_port()
    site(server, port, [good, down], global_lines=(
        f"Listen 127.0.0.1:{status_port}\n<VirtualHost 127.0.0.1:{status_port}>\n"
        "  <Location /server-status>\n    SetHandler server-status\n  </Location>\n</VirtualHost>\n"))
    server.start(wait_port=port)

    def fetch_lines():
        text = urllib.request.urlopen(f"http://127.0.0.1:{status_port}/server-status?auto", timeout=10).read().decode()
        return {line.split()[1]: line for line in text.splitlines() if line.startswith("GTLSStapleFetch:")}

    wait_until(lambda: "result=fetched" in fetch_lines().get(f"a.test:{port}#0", ""), timeout=20,
               what="the status page to show the fetch")
    wait_until(lambda: "result=failed" in fetch_lines().get(f"a.test:{port}#1", ""), timeout=20,
               what="the status page to show the failure")
    lines = fetch_lines()
    assert f"responder={url} " in lines[f"a.test:{port}#0"] and lines[f"a.test:{port}#0"].endswith("error=-")
    assert "responder=http://127.0.0.1:9/ " in lines[f"a.test:{port}#1"]
    assert "error=-" not in lines[f"a.test:{port}#1"]
    html = urllib.request.urlopen(f"http://127.0.0.1:{status_port}/server-status", timeout=10).read().decode()
    assert "mod_gtls OCSP fetching" in html


def test_graceful_restart_keeps_stapling_the_fetched_response(httpd_factory, pki, port, responders, tmp_path):
    responder_port = free_port()
    url = f"http://127.0.0.1:{responder_port}/"
    leaf = pki.leaf("a.test", "ecdsa", tag="graceful", ocsp_uri=url)
    responders(OpensslResponder, pki, [(leaf, "V")], responder_port)
    server = httpd_factory()
    directory = site(server, port, [leaf])
    server.start(wait_port=port)
    wait_until(lambda: received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) != b"", timeout=20,
               what="the first staple")
    server.graceful()
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == fetched_file(directory, leaf).read_bytes()


@pytest.mark.parametrize("answer", [
    (200, b"\x30\x03\x0a\x01\x00", 0),      # garbage that parses as nothing useful
    (200, b"A" * (200 * 1024), 0),          # far over the size cap
    (500, b"", 0),                          # an HTTP error
    (200, b"\x30\x03\x0a\x01\x03", 0),      # tryLater
])
def test_hostile_or_broken_responders_are_never_stapled(httpd_factory, pki, port, responders, tmp_path, answer):
    responder_port = free_port()
    leaf = pki.leaf("a.test", "ecdsa", tag="hostile", ocsp_uri=f"http://127.0.0.1:{responder_port}/")
    responder = responders(ScriptedResponder, responder_port, lambda request: answer)
    server = httpd_factory()
    directory = site(server, port, [leaf])
    server.start(wait_port=port)
    wait_until(lambda: responder.requests >= 1 and "GTLS0311" in server.read_error_log(), timeout=15,
               what="the fetch to fail")
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == b""
    assert not fetched_file(directory, leaf).exists()


def fresh_answers(pki, leaf, tmp_path, **validity):
    """A scripted responder's answer: a response signed now (no nonce check)."""
    def answer(request):
        return 200, make_response(pki, leaf, tmp_path / f"answer-{time.monotonic_ns()}.der", **validity), 0
    return answer


def test_response_without_next_update_is_stapled_for_the_cache_timeout(httpd_factory, pki, port, responders,
                                                                       tmp_path):
    """mod_gnutls's GnuTLSOCSPCacheTimeout: a fetched response without
    nextUpdate lives that long, and is asked for again before it ends."""
    responder_port = free_port()
    leaf = pki.leaf("a.test", "ecdsa", tag="no-next", ocsp_uri=f"http://127.0.0.1:{responder_port}/")
    responder = responders(ScriptedResponder, responder_port, fresh_answers(pki, leaf, tmp_path, days=None))
    server = httpd_factory()
    directory = site(server, port, [leaf], extra="  GnuTLSOCSPCheckNonce Off\n  GnuTLSOCSPCacheTimeout 4\n"
                                                 "  GnuTLSOCSPFuzzTime 0")
    server.start(wait_port=port)
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == fetched_file(directory, leaf).read_bytes()
    wait_until(lambda: responder.requests >= 3, timeout=20, what="the response to be asked for again")
    # Without answers it is stapled no longer than its 4 seconds.
    responder.stop()
    time.sleep(5)
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == b""


def test_configured_response_file_without_next_update_is_not_stapled(httpd_factory, pki, port, tmp_path):
    leaf = pki.leaf("a.test", "ecdsa")
    response = tmp_path / "no-next.der"
    make_response(pki, leaf, response, days=None)
    server = httpd_factory()
    server.allow_error("GTLS0302")
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(
        port, "a.test", [leaf], extra=f"  GnuTLSOCSPResponseFile {response}\n  GnuTLSOCSPCacheTimeout 600"))
    server.start(wait_port=port)
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == b""
    assert "no-next-update" in server.read_error_log()


def test_cache_timeout_asks_again_however_long_the_response_lives(httpd_factory, pki, port, responders, tmp_path):
    responder_port = free_port()
    leaf = pki.leaf("a.test", "ecdsa", tag="cache-timeout", ocsp_uri=f"http://127.0.0.1:{responder_port}/")
    responder = responders(ScriptedResponder, responder_port, fresh_answers(pki, leaf, tmp_path, days=7))
    server = httpd_factory()
    directory = site(server, port, [leaf], extra="  GnuTLSOCSPCheckNonce Off\n  GnuTLSOCSPCacheTimeout 3\n"
                                                 "  GnuTLSOCSPFuzzTime 0")
    server.start(wait_port=port)
    first = fetched_file(directory, leaf).read_bytes()
    wait_until(lambda: responder.requests >= 3, timeout=20, what="two more requests")
    wait_until(lambda: received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) not in (b"", first),
               timeout=10, what="a newer response to be stapled")


def test_auto_refresh_off_asks_only_for_responses_in_use(httpd_factory, pki, port, responders, tmp_path):
    """GnuTLSOCSPAutoRefresh Off: no handshake, no request (beyond the first
    fetch at startup); handshakes that staple it bring the refresh back."""
    responder_port = free_port()
    leaf = pki.leaf("a.test", "ecdsa", tag="auto-off", ocsp_uri=f"http://127.0.0.1:{responder_port}/")
    responder = responders(ScriptedResponder, responder_port, fresh_answers(pki, leaf, tmp_path, days=7))
    server = httpd_factory()
    site(server, port, [leaf], extra="  GnuTLSOCSPCheckNonce Off\n  GnuTLSOCSPCacheTimeout 2\n"
                                     "  GnuTLSOCSPFuzzTime 0\n  GnuTLSOCSPAutoRefresh Off")
    server.start(wait_port=port)
    time.sleep(6)
    assert responder.requests == 1
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) != b""
    wait_until(lambda: responder.requests >= 2, timeout=10, what="the used response to be asked for again")


def test_a_stuck_responder_delays_the_start_by_the_socket_timeout_at_most(httpd_factory, pki, port, responders,
                                                                          tmp_path):
    responder_port = free_port()
    leaf = pki.leaf("a.test", "ecdsa", tag="stuck", ocsp_uri=f"http://127.0.0.1:{responder_port}/")
    response = make_response(pki, leaf, tmp_path / "late.der")
    responders(ScriptedResponder, responder_port, lambda request: (200, response, 12))
    server = httpd_factory()
    site(server, port, [leaf], extra="  GnuTLSOCSPCheckNonce Off\n  GnuTLSOCSPSocketTimeout 1")
    began = time.monotonic()
    server.start(wait_port=port)
    assert time.monotonic() - began < 8
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == b""
    assert "GTLS0311" in server.read_error_log()
