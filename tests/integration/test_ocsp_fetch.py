"""gtls-ocsp-fetch against real and scripted OCSP responders on 127.0.0.1, and
end to end: httpd with mod_gtls staples what the tool just wrote, without a
reload."""
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import tls_vhost
from harness.httpd import free_port
from harness.ocsp import OpensslResponder, ScriptedResponder, make_response
from test_stapling import ECDSA_ONLY, received_staple, wait_until

FETCH = Path(os.environ.get("GTLS_BUILD_DIR", Path(__file__).resolve().parents[2] / "build")) / "tools/gtls-ocsp-fetch"


def fetch(*args, timeout=60):
    """(exit code, stdout, stderr) of gtls-ocsp-fetch."""
    result = subprocess.run([str(FETCH), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    return result.returncode, result.stdout, result.stderr


def validates(pki, leaf, path):
    """openssl's own verdict on a response file: the status line for `leaf`."""
    result = subprocess.run(["openssl", "ocsp", "-respin", str(path), "-issuer", str(pki.intermediate),
                             "-cert", str(leaf.cert), "-CAfile", str(pki.ca)], capture_output=True, text=True)
    return result.stdout + result.stderr


@pytest.fixture
def responders(pki):
    started = []

    def start(kind, *args):
        responder = kind(*args)
        started.append(responder)
        return responder

    yield start
    for responder in started:
        responder.stop()


@pytest.fixture
def leaf(pki):
    return pki.leaf("fetch.test", "ecdsa")


def test_good_answer_is_written_atomically_with_a_readable_mode(pki, leaf, responders, tmp_path):
    responder = responders(OpensslResponder, pki, [(leaf, "V")], free_port())
    out = tmp_path / "fetch.der"
    code, stdout, stderr = fetch("--chain", leaf.chain, "--out", out, "--url", responder.url)
    assert code == 0, stdout + stderr
    assert stdout.startswith(f"gtls-ocsp-fetch: fetched {leaf.chain} {out}: good from {responder.url}"), stdout
    assert "next_update" in stdout
    assert f"{leaf.cert}: good" in validates(pki, leaf, out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["fetch.der"]  # no temporary file left


def test_fresh_file_is_not_fetched_again(pki, leaf, responders, tmp_path):
    out = tmp_path / "fetch.der"
    answers = []

    def answer(request):
        answers.append(request)
        return 200, make_response(pki, leaf, tmp_path / "signed.der", days=4), 0

    responder = responders(ScriptedResponder, free_port(), answer)
    assert fetch("--chain", leaf.chain, "--out", out, "--url", responder.url)[0] == 0
    code, stdout, _ = fetch("--chain", leaf.chain, "--out", out, "--url", responder.url, "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["exit"] == 0 and report["bindings"][0]["status"] == "fresh", report
    assert report["bindings"][0]["next_update"], report
    assert responder.requests == 1
    # --quiet (for cron) prints nothing when all is well.
    assert fetch("--chain", leaf.chain, "--out", out, "--url", responder.url, "--quiet")[:2] == (0, "")
    # --force asks anyway; the answer is as new, so it replaces the file.
    assert fetch("--chain", leaf.chain, "--out", out, "--url", responder.url, "--force")[0] == 0
    assert responder.requests == 2


def test_post_only_responder_is_asked_again_with_post(pki, leaf, responders, tmp_path):
    """Short requests go out as RFC 5019 GETs; a responder that refuses GET
    (an openssl CGI, an httpd refusing %2F in paths) gets the same request as a
    POST at once."""
    out = tmp_path / "fetch.der"
    response = make_response(pki, leaf, tmp_path / "signed.der")
    responder = responders(ScriptedResponder, free_port(), lambda request: (200, response, 0), 405)
    code, stdout, stderr = fetch("--chain", leaf.chain, "--out", out, "--url", responder.url)
    assert code == 0, stdout + stderr
    assert out.read_bytes() == response
    assert responder.methods == ["GET", "POST"]


def test_due_file_is_refreshed(pki, leaf, responders, tmp_path):
    out = tmp_path / "fetch.der"
    # A response whose life is mostly over: signed 3 days ago, valid for 4.
    make_response(pki, leaf, out, days=4, shift_seconds=-3 * 86400)
    old = out.read_bytes()
    responder = responders(OpensslResponder, pki, [(leaf, "V")], free_port())
    code, stdout, stderr = fetch("--chain", leaf.chain, "--out", out, "--url", responder.url)
    assert code == 0 and "fetched" in stdout, stdout + stderr
    assert out.read_bytes() != old


def test_revoked_is_written_and_reported_loudly(pki, responders, tmp_path):
    revoked = pki.leaf("revoked-fetch.test", "ecdsa")
    responder = responders(OpensslResponder, pki, [(revoked, "R")], free_port())
    out = tmp_path / "revoked.der"
    code, stdout, _ = fetch("--chain", revoked.chain, "--out", out, "--url", responder.url)
    assert code == 3, stdout
    assert "revoked" in stdout and "THE CERTIFICATE IS REVOKED" in stdout, stdout
    assert f"{revoked.cert}: revoked" in validates(pki, revoked, out)


def test_unknown_answer_leaves_a_good_file_untouched(pki, leaf, responders, tmp_path):
    out = tmp_path / "fetch.der"
    good = make_response(pki, leaf, out, days=2, shift_seconds=-86400 - 3600)  # due: past half its life
    other = pki.leaf("other-fetch.test", "ecdsa")
    responder = responders(OpensslResponder, pki, [(other, "V")], free_port())  # does not know `leaf`
    code, stdout, _ = fetch("--chain", leaf.chain, "--out", out, "--url", responder.url)
    assert code == 1, stdout  # failed, but the file on disk still staples
    assert "failed" in stdout and "answered unknown" in stdout, stdout
    assert out.read_bytes() == good


def test_no_file_and_failure_is_exit_2(pki, leaf, tmp_path):
    out = tmp_path / "fetch.der"
    code, stdout, _ = fetch("--chain", leaf.chain, "--out", out, "--url", f"http://127.0.0.1:{free_port()}/",
                            "--retries", "1", "--quiet")
    assert code == 2, stdout
    assert "Couldn't connect" in stdout and "after 2 attempt(s)" in stdout, stdout
    assert not out.exists()


@pytest.mark.parametrize("case", ["http-error", "garbage", "other-certificate", "slow", "try-later"])
def test_bad_answers_leave_the_file_untouched(pki, leaf, responders, tmp_path, case):
    out = tmp_path / "fetch.der"
    good = make_response(pki, leaf, out, days=2, shift_seconds=-86400 - 3600)
    other = pki.leaf("other-fetch.test", "ecdsa")
    other_response = make_response(pki, other, tmp_path / "other.der")
    try_later = bytes([0x30, 0x03, 0x0A, 0x01, 0x03])  # OCSPResponse { responseStatus tryLater }
    answers = {
        "http-error": (500, b"oops", 0),
        "garbage": (200, os.urandom(300), 0),
        "other-certificate": (200, other_response, 0),
        "slow": (200, good, 5),
        "try-later": (200, try_later, 0),
    }
    responder = responders(ScriptedResponder, free_port(), lambda request: answers[case])
    started = time.monotonic()
    code, stdout, _ = fetch("--chain", leaf.chain, "--out", out, "--url", responder.url, "--timeout", "1",
                            "--retries", "1", timeout=60)
    assert code == 1, stdout
    assert out.read_bytes() == good
    expected = {"http-error": "HTTP 500", "garbage": "unparsable", "other-certificate": "wrong-certificate",
                "slow": "Timeout", "try-later": "tryLater"}[case]
    assert expected in stdout, stdout
    if case == "http-error":  # each of the two attempts asks by GET, then by POST
        assert responder.methods == ["GET", "POST", "GET", "POST"], responder.methods
    elif case in ("slow", "try-later"):  # worth asking again: retried once
        assert responder.requests == 2, responder.requests
    else:
        assert responder.requests == 1, responder.requests
    if case == "slow":
        assert time.monotonic() - started < 15


def test_an_older_good_answer_does_not_replace_a_newer_file(pki, leaf, responders, tmp_path):
    out = tmp_path / "fetch.der"
    # The file's thisUpdate is 2 minutes ahead of the responder's; the answer
    # would be valid longer, but it is older information.
    newer = make_response(pki, leaf, out, days=2, shift_seconds=120)
    responder = responders(OpensslResponder, pki, [(leaf, "V")], free_port(), 5)
    code, stdout, _ = fetch("--chain", leaf.chain, "--out", out, "--url", responder.url, "--force")
    assert code == 0, stdout
    assert stdout.startswith("gtls-ocsp-fetch: kept"), stdout
    assert out.read_bytes() == newer


def test_a_newer_answer_replaces_the_file_even_when_it_expires_sooner(pki, leaf, responders, tmp_path):
    # The CA shortened its responses' validity from 5 days to 2.
    out = tmp_path / "fetch.der"
    older = make_response(pki, leaf, out, days=5, shift_seconds=-60)
    responder = responders(OpensslResponder, pki, [(leaf, "V")], free_port(), 2)
    code, stdout, _ = fetch("--chain", leaf.chain, "--out", out, "--url", responder.url, "--force")
    assert code == 0, stdout
    assert stdout.startswith("gtls-ocsp-fetch: fetched"), stdout
    assert out.read_bytes() != older


def test_nonce_and_sha256_certid(pki, leaf, responders, tmp_path):
    responder = responders(OpensslResponder, pki, [(leaf, "V")], free_port())
    out = tmp_path / "fetch.der"
    code, stdout, _ = fetch("--chain", leaf.chain, "--out", out, "--url", responder.url, "--nonce", "--sha256")
    assert code == 0, stdout
    assert "SHA256" in stdout, stdout  # the module's warning about SHA-256 CertIDs


def test_a_response_with_another_nonce_is_refused(pki, leaf, responders, tmp_path):
    # A responder that echoes a nonce of its own: a replayed or misrouted answer.
    out = tmp_path / "fetch.der"
    replayed = subprocess.run(["openssl", "ocsp", "-issuer", str(pki.intermediate), "-cert", str(leaf.cert),
                               "-reqout", str(tmp_path / "req.der")], capture_output=True)
    assert replayed.returncode == 0
    port = free_port()
    real = responders(OpensslResponder, pki, [(leaf, "V")], port)
    with_other_nonce = subprocess.run(["openssl", "ocsp", "-reqin", str(tmp_path / "req.der"), "-url", real.url,
                                       "-CAfile", str(pki.ca), "-respout", str(tmp_path / "other-nonce.der")],
                                      capture_output=True)
    assert with_other_nonce.returncode == 0, with_other_nonce.stderr
    body = (tmp_path / "other-nonce.der").read_bytes()
    responder = responders(ScriptedResponder, free_port(), lambda request: (200, body, 0))
    code, stdout, _ = fetch("--chain", leaf.chain, "--out", out, "--url", responder.url, "--nonce", "--retries", "0")
    assert code == 2, stdout
    assert "another request's nonce" in stdout, stdout
    assert not out.exists()


def test_responder_from_the_certificate(pki, responders, tmp_path):
    port = free_port()
    with_aia = pki.leaf("aia-fetch.test", "ecdsa", ocsp_uri=f"http://127.0.0.1:{port}/")
    responders(OpensslResponder, pki, [(with_aia, "V")], port)
    out = tmp_path / "aia.der"
    code, stdout, _ = fetch("--chain", with_aia.chain, "--out", out)
    assert code == 0, stdout
    assert f"good from http://127.0.0.1:{port}/" in stdout
    without = pki.leaf("fetch.test", "ecdsa")
    code, stdout, _ = fetch("--chain", without.chain, "--out", tmp_path / "none.der")
    assert code == 2 and "no OCSP responder" in stdout, stdout


def test_usage_errors(leaf, tmp_path):
    assert fetch()[0] == 64
    assert fetch("--chain", leaf.chain)[0] == 64
    code, _, stderr = fetch("--chain", leaf.chain, "--out", tmp_path / "x", "--timeout", "soon")
    assert code == 64 and "--timeout" in stderr


def test_from_httpd_refreshes_every_binding_and_httpd_staples_it_without_reload(httpd_factory, pki, port,
                                                                              responders, tmp_path):
    responder_port = free_port()
    url = f"http://127.0.0.1:{responder_port}/"
    rsa, ecdsa = pki.leaf("a.test", "rsa", ocsp_uri=url), pki.leaf("a.test", "ecdsa", ocsp_uri=url)
    responders(OpensslResponder, pki, [(rsa, "V"), (ecdsa, "V")], responder_port)
    server = httpd_factory()
    files = server.root / "ocsp"
    files.mkdir()
    os.chmod(files, 0o755)
    # The RSA file is fresh; the ECDSA one does not exist yet, so httpd starts
    # and staples nothing for that chain.
    rsa_response = make_response(pki, rsa, files / "rsa.der")
    extra = "\n".join([f'  GnuTLSOCSPResponseFile "{files}/rsa.der"', f'  GnuTLSOCSPResponseFile "{files}/ecdsa.der"',
                       "  GnuTLSOCSPCheckInterval 1"])
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [rsa, ecdsa], extra=extra))
    server.start(wait_port=port)
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == b""

    result = subprocess.run([str(FETCH), "--from-httpd", "--httpd-command", " ".join(server.command()), "--json"],
                            capture_output=True, text=True, timeout=60, env=server.environment())
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    by_id = {b["id"]: b for b in report["bindings"]}
    assert sorted(by_id) == [f"a.test:{port}#0", f"a.test:{port}#1"], report
    assert by_id[f"a.test:{port}#0"]["status"] == "fresh", report
    assert by_id[f"a.test:{port}#1"]["status"] == "fetched", report
    assert by_id[f"a.test:{port}#1"]["chain"] == str(ecdsa.chain)
    assert (files / "rsa.der").read_bytes() == rsa_response
    written = (files / "ecdsa.der").read_bytes()
    # httpd picks the new file up by itself (check interval 1 s), no reload.
    wait_until(lambda: received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == written, timeout=10,
               what="httpd to staple the response the tool wrote")


def test_from_httpd_with_a_broken_configuration(httpd_factory, pki, port):
    server = httpd_factory()
    server.write_config(f"Listen 127.0.0.1:{port}\nGnuTLSEnable maybe\n")
    result = subprocess.run([str(FETCH), "--from-httpd", "--httpd-command", " ".join(server.command())],
                            capture_output=True, text=True, timeout=60, env=server.environment())
    assert result.returncode == 78, result.stdout + result.stderr
    assert "configuration test did not pass" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to an unprivileged user needs root")
def test_from_httpd_runs_without_root(httpd_factory, pki, port, responders, tmp_path):
    """The bindings dump reads no key, so the fetch job can run as a user that
    can read nothing private and write only the response directory."""
    responder_port = free_port()
    url = f"http://127.0.0.1:{responder_port}/"
    ecdsa = pki.leaf("a.test", "ecdsa", ocsp_uri=url)
    responders(OpensslResponder, pki, [(ecdsa, "V")], responder_port)
    server = httpd_factory()
    files = server.root / "ocsp"
    files.mkdir()
    os.chown(files, 65534, 65534)  # nobody
    assert stat.S_IMODE(os.stat(ecdsa.key).st_mode) == 0o600 and os.stat(ecdsa.key).st_uid == 0
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(
        port, "a.test", [ecdsa], extra=f'  GnuTLSOCSPResponseFile "{files}/ecdsa.der"'))
    tool = tmp_path / "gtls-ocsp-fetch"  # where nobody can run it from
    tool.write_bytes(FETCH.read_bytes())
    os.chmod(tool, 0o755)
    os.chmod(tmp_path, 0o755)
    result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(tool),
                             "--from-httpd", "--httpd-command", " ".join(server.command()), "--json"],
                            capture_output=True, text=True, timeout=60, env=server.environment())
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert [(b["id"], b["status"]) for b in report["bindings"]] == [(f"a.test:{port}#0", "fetched")], report
    assert "good" in validates(pki, ecdsa, files / "ecdsa.der")
