"""valgrind memcheck of httpd (in the foreground, its worker processes
traced through their fork) with mod_gtls through a scripted session: handshakes on both chains, stapling, resumption by ticket and cache,
HTTP/2, a bad client, a graceful restart, and a stop. No invalid access and no
definite leak may come from mod_gtls. Slow (valgrind), so the sanitizer run,
which covers the same code faster, leaves it out."""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import needs_h2, tls_vhost
from harness.clients import curl, gnutls_cli, s_client
from harness.httpd import HTTPD, wait_for_port
from harness.ocsp import make_response
from test_stapling import ECDSA_ONLY, RSA_ONLY, received_staple

pytestmark = [
    pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed"),
    pytest.mark.skipif(bool(os.environ.get("GTLS_SANITIZER_PRELOAD")), reason="the sanitizer build covers this"),
]


def valgrind_errors(log: str):
    """Error records (invalid accesses, uninitialised values, definite leaks)
    whose stack passes through mod_gtls."""
    records = re.split(r"\n==\d+== \n", log)
    bad = []
    for record in records:
        if "mod_gtls.so" not in record and "gtls::" not in record:
            continue
        if re.search(r"Invalid (read|write|free)|uninitialised|Mismatched free|definitely lost in", record):
            bad.append(record.strip())
    return bad


@needs_h2
def test_memcheck_of_a_scripted_session(httpd_factory, pki, port, tmp_path):
    rsa, ecdsa = pki.leaf("a.test", "rsa"), pki.leaf("a.test", "ecdsa")
    server = httpd_factory(mpm="event", timeout=30)
    files = server.root / "ocsp"
    files.mkdir()
    os.chmod(files, 0o755)
    responses = {"rsa": make_response(pki, rsa, files / "rsa.der"), "ecdsa": make_response(pki, ecdsa, files / "ecdsa.der")}
    server.docroot().joinpath("hello.txt").write_text("hello over tls\n")
    extra = "\n".join([f'  GnuTLSOCSPResponseFile "{files}/rsa.der"', f'  GnuTLSOCSPResponseFile "{files}/ecdsa.der"',
                       "  Protocols h2 http/1.1"])
    server.write_config(f"GnuTLSCache shmcb:{server.root}/logs/gtls_cache(512000)\nListen 127.0.0.1:{port}\n"
                        "StartServers 1\nServerLimit 2\nThreadsPerChild 5\nMaxRequestWorkers 10\n"
                        "MinSpareThreads 1\nMaxSpareThreads 10\n" +
                        tls_vhost(port, "a.test", [rsa, ecdsa], extra=extra))
    logs = server.root / "logs"
    process = subprocess.Popen(
        ["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite", "--num-callers=30",
         f"--log-file={logs}/valgrind.%p.log", HTTPD, "-DFOREGROUND", *server.command()[1:]],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=server.environment())
    try:
        wait_for_port(port, timeout=120)
        for priority, kind in ((RSA_ONLY, "rsa"), (ECDSA_ONLY, "ecdsa")):
            for version in ("+VERS-TLS1.3", "+VERS-TLS1.2"):
                assert received_staple(port, "a.test", pki, priority, tmp_path, version=version) == responses[kind]
        for args in (["--http1.1"], ["--http2"]):
            status, version, body, err = curl(f"https://a.test:{port}/hello.txt", pki.ca, "a.test", port,
                                              extra=args, timeout=60)
            assert (status, body) == (200, b"hello over tls\n"), err
        get = b"GET /hello.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
        for tls in (["-tls1_3"], ["-tls1_2"], ["-tls1_2", "-no_ticket"]):  # tickets, and the session cache
            session = tmp_path / "session.pem"
            session.unlink(missing_ok=True)
            s_client(port, "a.test", pki.ca, extra=tls + ["-ign_eof", "-sess_out", str(session)], input_bytes=get,
                     timeout=60)
            code, out = s_client(port, "a.test", pki.ca, extra=tls + ["-ign_eof", "-sess_in", str(session)],
                                 input_bytes=get, timeout=60)
            assert "Reused" in out, out
        code, out = gnutls_cli(port, "a.test", pki.ca, extra=["--alpn", "h2"], timeout=60)
        assert code == 0, out
        with __import__("socket").create_connection(("127.0.0.1", port), timeout=30) as bad:
            bad.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")  # plain HTTP on the TLS port
            bad.recv(4096)
        # A graceful restart: the old generation's workers finish, its pconf is freed.
        before = server.read_error_log().count("resuming normal operations")
        process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 120
        while server.read_error_log().count("resuming normal operations") <= before:
            assert time.monotonic() < deadline, "the graceful restart did not finish"
            time.sleep(0.5)
        wait_for_port(port, timeout=120)
        status, _, body, err = curl(f"https://a.test:{port}/hello.txt", pki.ca, "a.test", port, timeout=60)
        assert status == 200, err
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=180)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    texts = [path.read_text(errors="replace") for path in sorted(logs.glob("valgrind.*.log"))]
    assert len(texts) >= 3, "expected the parent and workers of two generations"  # parent, cgid, workers
    for text in texts:
        assert "ERROR SUMMARY" in text, text[-3000:]
    bad = [record for text in texts for record in valgrind_errors(text)]
    assert bad == [], "\n\n".join(bad)[:20000]
    for text in texts:
        print(re.findall(r"ERROR SUMMARY: .*", text)[-1])
