"""Real TLS clients: curl, gnutls-cli, openssl s_client, run with timeouts."""
import re
import subprocess


def run(args, timeout=60, input_bytes=b""):
    return subprocess.run(args, input=input_bytes, capture_output=True, timeout=timeout)


def curl(url, ca, host=None, port=None, extra=(), timeout=60):
    """Runs curl; returns (http status, http version, body bytes, stderr text).
    `host`/`port` pin the URL's name to 127.0.0.1 (--resolve), so SNI is `host`."""
    args = ["curl", "-sS", "--cacert", str(ca), "-o", "-", "-w", "\n%{http_code} %{http_version}"]
    if host:
        args += ["--resolve", f"{host}:{port}:127.0.0.1"]
    args += list(extra) + [url]
    result = run(args, timeout=timeout)
    body, _, trailer = result.stdout.rpartition(b"\n")
    status, _, version = trailer.decode().partition(" ")
    return int(status or 0), version, body, result.stderr.decode(errors="replace")


def gnutls_cli(port, sni, ca, priority=None, extra=(), timeout=30, input_bytes=b""):
    args = ["gnutls-cli", "--x509cafile", str(ca), "--port", str(port), "--sni-hostname", sni,
            "--verify-hostname", sni]
    if priority:
        args += ["--priority", priority]
    args += list(extra) + ["127.0.0.1"]
    result = run(args, timeout=timeout, input_bytes=input_bytes)
    return result.returncode, result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")


def s_client(port, sni, ca, extra=(), timeout=30, input_bytes=b"", address="127.0.0.1"):
    args = ["openssl", "s_client", "-connect", f"{address}:{port}", "-servername", sni, "-CAfile", str(ca),
            "-verify_return_error", "-verify_hostname", sni] + list(extra)
    result = run(args, timeout=timeout, input_bytes=input_bytes)
    return result.returncode, result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")


PEM = re.compile(r"-----BEGIN CERTIFICATE-----\s+(.*?)\s+-----END CERTIFICATE-----", re.S)


def pem_body(text: str) -> str:
    """The base64 of the first certificate in `text`, whitespace removed."""
    match = PEM.search(text)
    assert match, f"no certificate in:\n{text}"
    return "".join(match.group(1).split())


def served_leaf(port, sni, ca, extra=()):
    """The leaf certificate (base64) the server presents to openssl s_client."""
    code, out = s_client(port, sni, ca, extra=list(extra))
    assert code == 0, out
    return pem_body(out)
