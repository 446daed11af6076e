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
    """Writes a DER response for `leaf` (status V=good, R=revoked) to `out`.
    `shift_seconds` < 0 signs it that many seconds in the past (faketime)."""
    out = Path(out)
    index = out.with_suffix(".idx")
    index.write_text(_index_line(status, leaf.cert))
    Path(f"{index}.attr").write_text("unique_subject = no\n")
    signer_cert, signer_key = signer or (pki.intermediate, pki.intermediate_key)
    validity = ["-nmin", str(minutes)] if minutes is not None else ["-ndays", str(days)]
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
