"""Secure defaults, judged by testssl.sh: mod_gtls with nothing but certificates,
keys and response files configured, next to mod_ssl with Debian's default
ssl.conf settings in the same httpd. mod_gtls must show no vulnerability and no
"NOT ok"; both reports are kept in build/test-artifacts/testssl/ and compared."""
import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from conftest import tls_vhost
from harness.httpd import free_port
from harness.ocsp import make_response

ARTIFACTS = Path(os.environ.get("GTLS_BUILD_DIR", Path(__file__).resolve().parents[2] / "build")) / \
    "test-artifacts" / "testssl"
# Findings about the site or the network rather than TLS: no CAA record for a
# test name, the page's HTTP headers, the local openssl having no GOST engine.
NOT_ABOUT_TLS = {"DNS_CAArecord", "HSTS", "security_headers", "engine_problem"}
BAD = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN")

pytestmark = pytest.mark.skipif(shutil.which("testssl") is None, reason="testssl.sh is not installed")


def run_testssl(name, port, ca):
    """Runs testssl.sh against 127.0.0.1:port with SNI a.test; returns (json findings, text)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    json_path, text_path = ARTIFACTS / f"{name}.json", ARTIFACTS / f"{name}.txt"
    for path in (json_path, text_path):
        path.unlink(missing_ok=True)
    result = subprocess.run(["testssl", "--quiet", "--color", "0", "--warnings", "batch", "--ip", "127.0.0.1",
                             "--add-ca", str(ca), "--jsonfile", str(json_path), "--logfile", str(text_path),
                             f"a.test:{port}"], capture_output=True, text=True, timeout=900)
    assert json_path.exists(), result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(json_path.read_text()), text_path.read_text()


def problems(findings):
    # With several certificates the per-certificate ids read "cert_... <cert#2>".
    return [f"{f['severity']} {f['id']}: {f['finding']}" for f in findings
            if f["severity"] in BAD and f["id"].split(" <cert#")[0] not in NOT_ABOUT_TLS]


def test_testssl_finds_nothing_wrong_with_the_defaults(httpd_factory, pki, port):
    responder = "http://127.0.0.1:9/"  # the AIA a real certificate has; nothing is asked of it here
    rsa, ecdsa = pki.leaf("a.test", "rsa", ocsp_uri=responder), pki.leaf("a.test", "ecdsa", ocsp_uri=responder)
    server = httpd_factory(extra_modules=["ssl"])
    files = server.root / "ocsp"
    files.mkdir()
    os.chmod(files, 0o755)
    make_response(pki, rsa, files / "rsa.der")
    make_response(pki, ecdsa, files / "ecdsa.der")
    ssl_port = free_port()
    extra = f'  GnuTLSOCSPResponseFile "{files}/rsa.der"\n  GnuTLSOCSPResponseFile "{files}/ecdsa.der"'
    # mod_ssl as Debian's ssl.conf and default-ssl.conf set it up.
    debian_mod_ssl = "\n".join([
        f"Listen 127.0.0.1:{ssl_port}",
        f'SSLSessionCache shmcb:{server.root}/logs/ssl_scache(512000)',
        "SSLCipherSuite HIGH:!aNULL", "SSLProtocol all -SSLv3",
        f"<VirtualHost 127.0.0.1:{ssl_port}>", "  ServerName a.test", "  SSLEngine on",
        f'  SSLCertificateFile "{rsa.chain}"', f'  SSLCertificateKeyFile "{rsa.key}"',
        f'  SSLCertificateFile "{ecdsa.chain}"', f'  SSLCertificateKeyFile "{ecdsa.key}"',
        "</VirtualHost>"])
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [rsa, ecdsa], extra=extra) +
                        debian_mod_ssl + "\n")
    server.start(wait_port=port)

    gtls, gtls_text = run_testssl("mod_gtls", port, pki.ca)
    ssl, _ = run_testssl("mod_ssl-debian-default", ssl_port, pki.ca)
    summary = ["severity   mod_gtls  mod_ssl (Debian default)"]
    counts = Counter(f["severity"] for f in gtls), Counter(f["severity"] for f in ssl)
    for severity in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN", "OK", "INFO"):
        summary.append(f"{severity:<10} {counts[0][severity]:>8}  {counts[1][severity]:>8}")
    summary += ["", "mod_ssl (Debian default) findings mod_gtls does not have:"]
    summary += [f"  {p}" for p in problems(ssl) if p not in problems(gtls)]
    (ARTIFACTS / "comparison.txt").write_text("\n".join(summary) + "\n")
    print("\n".join(summary))

    assert problems(gtls) == [], "\n".join(problems(gtls))
    assert "NOT ok" not in gtls_text, [line for line in gtls_text.splitlines() if "NOT ok" in line]
    assert "VULNERABLE" not in gtls_text
    by_id = {f["id"]: f["finding"] for f in gtls}
    stapling = [finding for id_, finding in by_id.items() if id_.startswith("OCSP_stapling")]
    assert stapling == ["offered", "offered"], stapling  # each of the two chains staples
    assert [by_id.get(v) for v in ("SSLv3", "TLS1", "TLS1_1")] == ["not offered"] * 3
    assert by_id.get("TLS1_2") == "offered" and by_id.get("TLS1_3", "").startswith("offered")
