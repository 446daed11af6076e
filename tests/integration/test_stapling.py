"""Per-certificate OCSP stapling from response files, on a real httpd."""
import os
import re
import subprocess
import time
import urllib.request

import pytest

from conftest import tls_vhost
from harness.clients import gnutls_cli, s_client, curl
from harness.httpd import free_port
from harness.ocsp import make_response, replace_atomically

ECDSA_ONLY = "NORMAL:-SIGN-ALL:+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SHA256"
RSA_ONLY = "NORMAL:-SIGN-ALL:+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-SHA256"


def received_staple(port, sni, pki, priority, tmp_path, version="+VERS-TLS1.3"):
    """The exact bytes gnutls-cli received as the OCSP staple, or b"" if none."""
    saved = tmp_path / f"staple-{time.monotonic_ns()}.der"
    code, out = gnutls_cli(port, sni, pki.ca, priority=f"{priority}:-VERS-ALL:{version}",
                           extra=["--save-ocsp", str(saved)])
    assert code == 0, out
    return saved.read_bytes() if saved.exists() else b""


def wait_until(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture
def dual(httpd_factory, pki, port):
    server = httpd_factory()
    rsa, ecdsa = pki.leaf("a.test", "rsa"), pki.leaf("a.test", "ecdsa")
    ocsp_dir = server.root / "ocsp"
    ocsp_dir.mkdir()
    os.chmod(ocsp_dir, 0o755)
    responses = {
        "rsa": make_response(pki, rsa, ocsp_dir / "rsa.der"),
        "ecdsa": make_response(pki, ecdsa, ocsp_dir / "ecdsa.der"),
    }
    extra = "\n".join([
        "  GnuTLSOCSPStapling On",
        f'  GnuTLSOCSPResponseFile "{ocsp_dir}/rsa.der"',
        f'  GnuTLSOCSPResponseFile "{ocsp_dir}/ecdsa.der"',
        "  GnuTLSOCSPCheckInterval 1",
    ])
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [rsa, ecdsa], extra=extra))
    server.start(wait_port=port)
    return server, ocsp_dir, responses, (rsa, ecdsa)


@pytest.mark.parametrize("version", ["+VERS-TLS1.3", "+VERS-TLS1.2"])
def test_each_chain_gets_its_own_staple(dual, pki, port, tmp_path, version):
    _, _, responses, _ = dual
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path, version) == responses["ecdsa"]
    assert received_staple(port, "a.test", pki, RSA_ONLY, tmp_path, version) == responses["rsa"]


@pytest.mark.parametrize("sigalgs,key", [("ECDSA+SHA256", "ecdsa"), ("rsa_pss_rsae_sha256:RSA+SHA256", "rsa")])
@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_openssl_sees_a_good_staple_for_its_chain(dual, pki, port, sigalgs, key, version):
    _, _, _, (rsa, ecdsa) = dual
    leaf = rsa if key == "rsa" else ecdsa
    code, out = s_client(port, "a.test", pki.ca, extra=["-status", version, "-sigalgs", sigalgs])
    assert code == 0, out
    assert "OCSP Response Status: successful" in out, out
    assert "Cert Status: good" in out
    serial = subprocess.run(["openssl", "x509", "-in", str(leaf.cert), "-noout", "-serial"],
                            capture_output=True, text=True).stdout.strip().split("=")[1]
    assert f"Serial Number: {serial}" in out.replace(" ", " ")


def test_curl_cert_status(dual, pki, port):
    status, _, _, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port, extra=["--cert-status"])
    assert status == 200, err


def test_client_without_status_request_gets_none(dual, pki, port):
    # Under TLS 1.2 a staple travels in its own CertificateStatus handshake message.
    code, out = s_client(port, "a.test", pki.ca, extra=["-msg", "-tls1_2", "-status"])
    assert code == 0 and "CertificateStatus" in out, out
    code, out = s_client(port, "a.test", pki.ca, extra=["-msg", "-tls1_2"])
    assert code == 0, out
    assert "CertificateStatus" not in out


def test_rename_and_in_place_replacement_picked_up_without_reload(dual, pki, port, tmp_path):
    server, ocsp_dir, responses, (rsa, ecdsa) = dual
    generations = server.generations()
    renewed = make_response(pki, ecdsa, tmp_path / "renewed.der", days=3)
    assert renewed != responses["ecdsa"]
    replace_atomically(ocsp_dir / "ecdsa.der", renewed)
    wait_until(lambda: received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == renewed,
               timeout=3 + 2, what="the renamed response")
    rewritten = make_response(pki, rsa, tmp_path / "rewritten.der", days=4)
    (ocsp_dir / "rsa.der").write_bytes(rewritten)  # in place
    wait_until(lambda: received_staple(port, "a.test", pki, RSA_ONLY, tmp_path) == rewritten,
               timeout=3 + 2, what="the rewritten response")
    assert server.generations() == generations, "no reload may be needed"


@pytest.mark.parametrize("bad", ["truncated", "older-revoked", "other-certificate", "missing"])
def test_bad_replacement_keeps_the_last_good_staple(dual, pki, port, tmp_path, bad):
    server, ocsp_dir, responses, (rsa, ecdsa) = dual
    target = ocsp_dir / "ecdsa.der"
    if bad == "truncated":
        replace_atomically(target, responses["ecdsa"][: len(responses["ecdsa"]) // 2])
        expected_log = r"GTLS0302: a\.test:\d+#1: OCSP response .* not stapled \(unparsable\)"
    elif bad == "older-revoked":
        # Signed before the response in use: not news, so not stapled (but an error).
        replace_atomically(target, make_response(pki, ecdsa, tmp_path / "revoked.der", status="R",
                                                 shift_seconds=-60))
        expected_log = r"GTLS0302: a\.test:\d+#1: .* not stapled \(revoked\): .* is not newer"
        server.allow_error(expected_log)
    elif bad == "other-certificate":
        replace_atomically(target, responses["rsa"])
        expected_log = r"GTLS0302: a\.test:\d+#1: .* not stapled \(wrong-certificate\)"
    else:
        target.unlink()
        expected_log = r"GTLS0303: a\.test:\d+#1: cannot read OCSP response file"
    wait_until(lambda: re.search(expected_log, server.read_error_log()), timeout=5, what=expected_log)
    for _ in range(3):
        assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == responses["ecdsa"]
    # Logged once per worker process that noticed, never once per handshake.
    pids = [re.search(r"\[pid (\d+)", line).group(1)
            for line in server.read_error_log().splitlines() if re.search(expected_log, line)]
    assert pids and len(pids) == len(set(pids)), pids


def test_newer_revoked_response_is_stapled_at_once(dual, pki, port, tmp_path):
    server, ocsp_dir, responses, (rsa, ecdsa) = dual
    revoked_log = rf"\[gtls:error\].*GTLS0308: a\.test:{port}#1: the certificate is REVOKED"
    server.allow_error(revoked_log)
    # Signed 2 s ahead, so its thisUpdate is surely newer than the good one's.
    replace_atomically(ocsp_dir / "ecdsa.der",
                       make_response(pki, ecdsa, tmp_path / "revoked.der", status="R", shift_seconds=2))

    def openssl_status():
        code, out = s_client(port, "a.test", pki.ca, extra=["-status", "-tls1_3", "-sigalgs", "ECDSA+SHA256"])
        assert code == 0, out
        return out
    wait_until(lambda: "Cert Status: revoked" in openssl_status(), timeout=5, what="the revoked staple")
    # The other chain keeps its good staple.
    assert received_staple(port, "a.test", pki, RSA_ONLY, tmp_path) == responses["rsa"]
    # Logged at error at every check (interval 1 s) while it is in use.
    wait_until(lambda: len(re.findall(revoked_log, server.read_error_log())) >= 3, timeout=10,
               what="repeated GTLS0308 lines")


def test_newer_unknown_response_withdraws_the_staple(dual, pki, port, tmp_path):
    server, ocsp_dir, responses, (rsa, ecdsa) = dual
    replace_atomically(ocsp_dir / "ecdsa.der",
                       make_response(pki, ecdsa, tmp_path / "unknown.der", status="U", shift_seconds=2))
    wait_until(lambda: received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == b"", timeout=5,
               what="no staple after an unknown response")
    assert re.search(rf"GTLS0302: a\.test:{port}#1: .* not stapled \(unknown\): .*the previous response is withdrawn",
                     server.read_error_log())
    code, out = s_client(port, "a.test", pki.ca, extra=["-status", "-tls1_3", "-sigalgs", "ECDSA+SHA256"])
    assert code == 0 and "OCSP response: no response sent" in out, out


def test_expiry_stops_stapling(httpd_factory, pki, port, tmp_path):
    leaf = pki.leaf("a.test", "ecdsa")
    server = httpd_factory()
    response_file = server.root / "htdocs" / "short.der"
    # Signed 110 s in the past with a 2-minute validity: nextUpdate is ~10 s away.
    short = make_response(pki, leaf, response_file, minutes=2, shift_seconds=-110)
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(
        port, "a.test", [leaf], extra=f'  GnuTLSOCSPResponseFile "{response_file}"'))
    server.start(wait_port=port)
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == short
    wait_until(lambda: received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == b"", timeout=30,
               what="the staple to stop at nextUpdate")
    wait_until(lambda: "GTLS0305" in server.read_error_log(), timeout=5, what="the expiry log line")


def test_next_update_in_year_9999_is_stapled(httpd_factory, pki, port, tmp_path):
    # Past what a nanosecond system_clock holds (2262): clamped, not overflowed.
    leaf = pki.leaf("a.test", "ecdsa")
    server = httpd_factory()
    response_file = server.root / "htdocs" / "far.der"
    far = make_response(pki, leaf, response_file, days=2911800)
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(
        port, "a.test", [leaf], extra=f'  GnuTLSOCSPResponseFile "{response_file}"'))
    server.start(wait_port=port)
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == far
    assert re.search(r"GTLS0301: a\.test:\d+#0: .* nextUpdate 2262-04-11T23:47:16Z", server.read_error_log())


def test_sni_each_vhost_its_own_staple(httpd_factory, pki, port, tmp_path):
    server = httpd_factory()
    conf = f"Listen 127.0.0.1:{port}\n"
    responses = {}
    for name in ("a.test", "b.test"):
        leaf = pki.leaf(name, "ecdsa")
        responses[name] = make_response(pki, leaf, server.root / f"{name}.der")
        conf += tls_vhost(port, name, [leaf], extra=f'  GnuTLSOCSPResponseFile "{server.root}/{name}.der"')
    server.write_config(conf)
    server.start(wait_port=port)
    for name in ("a.test", "b.test"):
        assert received_staple(port, name, pki, ECDSA_ONLY, tmp_path) == responses[name]


def test_vhosts_naming_the_same_file_and_certificate_share_one_source(httpd_factory, pki, port, tmp_path):
    leaf = pki.leaf("a.test", "ecdsa")
    server = httpd_factory()
    other = free_port()
    response_file = server.root / "shared.der"
    first = make_response(pki, leaf, response_file)
    extra = f'  GnuTLSOCSPResponseFile "{response_file}"\n  GnuTLSOCSPCheckInterval 1'
    server.write_config(f"Listen 127.0.0.1:{port}\nListen 127.0.0.1:{other}\n" +
                        tls_vhost(port, "a.test", [leaf], extra=extra) + tls_vhost(other, "a.test", [leaf], extra=extra))
    server.start(wait_port=port)
    for each in (port, other):
        assert received_staple(each, "a.test", pki, ECDSA_ONLY, tmp_path) == first, each
    # One source: the file is read once per process and the log line names both certificates.
    loads = [line for line in server.read_error_log().splitlines() if "GTLS0301" in line]
    assert loads, server.read_error_log()
    for line in loads:
        names = re.search(r"GTLS0301: (.*): stapling OCSP response from (\S+)", line)
        assert names and names.group(2) == str(response_file), line
        assert sorted(names.group(1).split(", ")) == sorted([f"a.test:{port}#0", f"a.test:{other}#0"]), line
    renewed = make_response(pki, leaf, tmp_path / "renewed.der", days=3)
    replace_atomically(response_file, renewed)
    for each in (port, other):
        wait_until(lambda: received_staple(each, "a.test", pki, ECDSA_ONLY, tmp_path) == renewed, timeout=5,
                   what=f"the renewed response on port {each}")


def test_stapling_off_and_empty_entry(httpd_factory, pki, port, tmp_path):
    leaf_rsa, leaf_ecdsa = pki.leaf("a.test", "rsa"), pki.leaf("a.test", "ecdsa")
    server = httpd_factory()
    make_response(pki, leaf_ecdsa, server.root / "ecdsa.der")
    extra = f'  GnuTLSOCSPResponseFile ""\n  GnuTLSOCSPResponseFile "{server.root}/ecdsa.der"'
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [leaf_rsa, leaf_ecdsa], extra=extra))
    server.start(wait_port=port)
    assert received_staple(port, "a.test", pki, RSA_ONLY, tmp_path) == b""
    assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) != b""
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(
        port, "a.test", [leaf_rsa, leaf_ecdsa], extra=extra + "\n  GnuTLSOCSPStapling Off"))
    server.graceful()
    wait_until(lambda: received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == b"", what="stapling off")


def test_graceful_switches_response_paths(httpd_factory, pki, port, tmp_path):
    leaf = pki.leaf("a.test", "ecdsa")
    server = httpd_factory()
    first = make_response(pki, leaf, server.root / "first.der", days=2)
    second = make_response(pki, leaf, server.root / "second.der", days=3)
    for path, expected in (("first.der", first), ("second.der", second)):
        server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(
            port, "a.test", [leaf], extra=f'  GnuTLSOCSPResponseFile "{server.root}/{path}"'))
        if server.started:
            server.graceful()
        else:
            server.start(wait_port=port)
        wait_until(lambda: received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == expected, what=path)


def test_status_page_reports_staples(dual, pki, port):
    server, _, _, _ = dual
    status_port = free_port()
    conf = server.conf_path.read_text() + (
        f"Listen 127.0.0.1:{status_port}\n<VirtualHost 127.0.0.1:{status_port}>\n"
        "  <Location /server-status>\n    SetHandler server-status\n  </Location>\n</VirtualHost>\n")
    server.conf_path.write_text(conf)
    server.graceful()
    text = urllib.request.urlopen(f"http://127.0.0.1:{status_port}/server-status?auto", timeout=10).read().decode()
    lines = [line for line in text.splitlines() if line.startswith("GTLSStaple:")]
    assert len(lines) == 2, text
    assert re.search(rf"GTLSStaple: a\.test:{port}#0 serving=yes served=\d+ this_update=\S+ next_update=\S+ "
                     rf"file=\S+rsa\.der problem=-", lines[0]), lines[0]
    html = urllib.request.urlopen(f"http://127.0.0.1:{status_port}/server-status", timeout=10).read().decode()
    assert "mod_gtls OCSP stapling" in html


def test_must_staple_without_response_file_fails_configtest(httpd_factory, pki, port):
    leaf = pki.leaf("must.test", "ecdsa", must_staple=True)
    server = httpd_factory()
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "must.test", [leaf]))
    code, out = server.configtest()
    assert code != 0
    assert f"must.test:{port}#0" in out and "requires OCSP stapling" in out, out


def test_must_staple_with_invalid_file_starts_and_logs_error(httpd_factory, pki, port, tmp_path):
    leaf = pki.leaf("must.test", "ecdsa", must_staple=True)
    server = httpd_factory()
    bad = server.root / "bad.der"
    bad.write_bytes(b"garbage")
    os.chmod(bad, 0o644)
    server.allow_error(r"GTLS0302: must\.test:\d+#0: .* not stapled \(unparsable\)")
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(
        port, "must.test", [leaf], extra=f'  GnuTLSOCSPResponseFile "{bad}"'))
    server.start(wait_port=port)
    assert re.search(r"\[gtls:error\].*GTLS0302: must\.test", server.read_error_log())


@pytest.mark.parametrize("extra,expected", [
    ('  GnuTLSOCSPResponseFile /a.der\n  GnuTLSOCSPResponseFile /b.der',
     "GnuTLSOCSPResponseFile: 2 occurrence(s) for 1 certificate(s)"),
    ('  GnuTLSOCSPCheckInterval soon', "GnuTLSOCSPCheckInterval must be a whole number"),
    ('  GnuTLSOCSPStapling perhaps', "GnuTLSOCSPStapling must be On or Off"),
])
def test_stapling_config_errors(httpd_factory, pki, port, extra, expected):
    server = httpd_factory()
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")],
                                                                  extra=extra))
    code, out = server.configtest()
    assert code != 0
    assert expected in out, out


@pytest.mark.parametrize("extra", ['  GnuTLSOCSPResponseFile /x.der', '  GnuTLSOCSPStapling On'])
def test_chain_without_issuer_is_a_config_error_when_stapling_is_asked_for(httpd_factory, pki, port, extra):
    leaf = pki.leaf("a.test", "ecdsa", ocsp_uri="http://127.0.0.1:9/")
    server = httpd_factory()
    alone = type(leaf)(leaf.name, leaf.key_type, leaf.cert, leaf.cert, leaf.key)
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [alone], extra=extra))
    code, out = server.configtest()
    assert code != 0
    assert "must include the issuer certificate" in out, out


def test_chain_without_issuer_serves_unstapled_when_stapling_is_on_by_default(httpd_factory, pki, port, tmp_path):
    """mod_gnutls configurations often name a leaf-only file and never mention
    stapling: the vhost must start, serve, and say why nothing is stapled."""
    leaf = pki.leaf("a.test", "ecdsa", ocsp_uri="http://127.0.0.1:9/")
    server = httpd_factory()
    alone = type(leaf)(leaf.name, leaf.key_type, leaf.cert, leaf.cert, leaf.key)
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [alone]))
    code, out = server.configtest()
    assert code == 0, out
    assert re.search(r"GTLS0315: certificate a\.test:\d+#0: .*holds no issuer", out), out
    server.start(wait_port=port)
    # The client is given the intermediate the server no longer sends.
    bundle = tmp_path / "ca-and-intermediate.pem"
    bundle.write_text(pki.ca.read_text() + leaf.chain.read_text().replace(leaf.cert.read_text(), ""))
    code, out = s_client(port, "a.test", bundle, extra=["-status"])
    assert code == 0, out
    assert "OCSP response: no response sent" in out, out
