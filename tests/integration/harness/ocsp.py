"""OCSP responses for the test PKI, signed offline by the intermediate CA with
`openssl ocsp` (optionally under faketime to place them in time)."""
import os
import subprocess
from pathlib import Path


def _index_line(status, cert: Path):
    serial = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-serial"], check=True,
                            capture_output=True, text=True).stdout.strip().split("=", 1)[1]
    subject = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-subject", "-nameopt", "compat"],
                             check=True, capture_output=True, text=True).stdout.strip().split("=", 1)[1]
    revoked = "260101000000Z" if status == "R" else ""
    return f"{status}\t301231235959Z\t{revoked}\t{serial}\tunknown\t{subject}\n"


def make_response(pki, leaf, out: Path, status="V", minutes=None, days=2, shift_seconds=0, signer=None):
    """Writes a DER response for `leaf` (status V=good, R=revoked, U=unknown) to
    `out`, valid for `minutes` or `days` (both None: without nextUpdate).
    `shift_seconds` < 0 signs it that many seconds in the past, > 0 in the
    future (faketime)."""
    out = Path(out)
    index = out.with_suffix(".idx")
    index.write_text("" if status == "U" else _index_line(status, leaf.cert))
    Path(f"{index}.attr").write_text("unique_subject = no\n")
    signer_cert, signer_key = signer or (pki.intermediate, pki.intermediate_key)
    validity = (["-nmin", str(minutes)] if minutes is not None else ["-ndays", str(days)] if days is not None
                else [])
    command = ["openssl", "ocsp", "-index", str(index), "-rsigner", str(signer_cert), "-rkey", str(signer_key),
               "-CA", str(pki.intermediate), "-issuer", str(pki.intermediate), *validity,
               "-cert", str(leaf.cert), "-respout", str(out)]
    if shift_seconds:
        command = ["faketime", "-f", f"{shift_seconds:+d}s", *command]
    subprocess.run(command, check=True, capture_output=True)
    os.chmod(out, 0o644)
    return out.read_bytes()


def replace_atomically(path: Path, data: bytes):
    temporary = Path(f"{path}.tmp")
    temporary.write_bytes(data)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


class OpensslResponder:
    """A real OCSP responder on 127.0.0.1 (`openssl ocsp -port`), signing with
    the intermediate CA, answering for the given (leaf, status) pairs:
    status V good, R revoked; any other certificate is unknown."""

    def __init__(self, pki, entries, port, days=2):
        import time
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        directory = Path(pki.dir) / f"responder-{port}"
        directory.mkdir(exist_ok=True)
        index = directory / "index.txt"
        index.write_text("".join(_index_line(status, leaf.cert) for leaf, status in entries))
        Path(f"{index}.attr").write_text("unique_subject = no\n")
        self.log = (directory / "responder.log").open("wb")
        self.process = subprocess.Popen(
            ["openssl", "ocsp", "-index", str(index), "-port", str(port), "-rsigner", str(pki.intermediate),
             "-rkey", str(pki.intermediate_key), "-CA", str(pki.intermediate), "-ndays", str(days)],
            stdout=self.log, stderr=subprocess.STDOUT)
        # Ready once it says so: a probe connection would wedge it (it serves one
        # connection at a time and waits for the probe's request).
        log_path = directory / "responder.log"
        deadline = time.monotonic() + 10
        while b"waiting for OCSP client connections" not in log_path.read_bytes():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"openssl ocsp did not start on {port}: {log_path.read_text()}")
            time.sleep(0.05)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class ScriptedResponder:
    """An HTTP server on 127.0.0.1 whose every answer is `answer(request_bytes)`
    -> (http status, body bytes, delay seconds); counts the requests and
    records their methods. With `get_status`, GET requests are answered with
    that HTTP status and an empty body instead (a POST-only responder)."""

    def __init__(self, port, answer, get_status=None):
        import http.server
        import threading
        import time
        responder = self
        self.requests = 0
        self.methods = []
        self.url = f"http://127.0.0.1:{port}/"

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self, request):
                responder.requests += 1
                responder.methods.append(self.command)
                status, body, delay = (get_status, b"", 0) if get_status and self.command == "GET" else answer(request)
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                import base64
                import urllib.parse
                self._serve(base64.b64decode(urllib.parse.unquote(self.path.lstrip("/"))))

            def do_POST(self):
                self._serve(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
