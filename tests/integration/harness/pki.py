"""Test PKI made at test time with certtool: a root CA, an intermediate CA and,
per host name, an RSA-2048 and an ECDSA P-256 leaf with chain files."""
import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Leaf:
    name: str
    key_type: str  # "rsa" or "ecdsa"
    cert: Path     # leaf only
    chain: Path    # leaf + intermediate
    key: Path


def _certtool(*args):
    subprocess.run(["certtool", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _template(path: Path, lines):
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _ca_key_args(key_type: str):
    if key_type == "rsa":
        return ["--key-type", "rsa", "--bits", "3072"]
    return ["--key-type", "ecdsa", "--curve", "secp256r1"]


class Pki:
    """`ca_key_type` ("ecdsa" or "rsa") is the key type of the root and the
    intermediate; leaves are made in either type. The issuer of every leaf is
    `intermediate` / `intermediate_key` (for OCSP responses)."""

    def __init__(self, directory: Path, ca_key_type: str = "ecdsa"):
        self.dir = Path(directory)
        self.ca_key_type = ca_key_type
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca_key = self.dir / "ca.key"
        self.ca = self.dir / "ca.pem"
        self.intermediate_key = self.dir / "intermediate.key"
        self.intermediate = self.dir / "intermediate.pem"
        self._leaves = {}
        _certtool("--generate-privkey", *_ca_key_args(ca_key_type), "--outfile", str(self.ca_key))
        _certtool("--generate-self-signed", "--load-privkey", str(self.ca_key), "--outfile", str(self.ca),
                  "--template", _template(self.dir / "ca.tmpl", [
                      'cn = "mod_gtls test root"', "ca", "cert_signing_key", "crl_signing_key",
                      "expiration_days = 3650"]))
        _certtool("--generate-privkey", *_ca_key_args(ca_key_type), "--outfile", str(self.intermediate_key))
        _certtool("--generate-certificate", "--load-privkey", str(self.intermediate_key),
                  "--load-ca-certificate", str(self.ca), "--load-ca-privkey", str(self.ca_key),
                  "--outfile", str(self.intermediate),
                  "--template", _template(self.dir / "intermediate.tmpl", [
                      'cn = "mod_gtls test intermediate"', "ca", "cert_signing_key", "crl_signing_key",
                      "expiration_days = 3650"]))

    def leaf(self, name: str, key_type: str, tag: str = "", alt_names=(), must_staple=False, ocsp_uri=None) -> Leaf:
        """The leaf for (name, key_type, tag, alt_names, must_staple), made on
        first use. `tag` makes a second, different certificate for the same name.
        Different alt_names are different certificates (and files): a test that
        asks for b.test with www.b.test never gets a cached b.test without it."""
        alt_names = tuple(alt_names)
        key = (name, key_type, tag, alt_names, must_staple, ocsp_uri)
        if key in self._leaves:
            return self._leaves[key]
        sans = ("-san-" + hashlib.sha256(" ".join(alt_names).encode()).hexdigest()[:8]) if alt_names else ""
        aia = ("-aia-" + hashlib.sha256(ocsp_uri.encode()).hexdigest()[:8]) if ocsp_uri else ""
        base = self.dir / f"{name}-{key_type}{('-' + tag) if tag else ''}{sans}{aia}{'-must-staple' if must_staple else ''}"
        key_path = Path(f"{base}.key")
        cert = Path(f"{base}.pem")
        chain = Path(f"{base}.chain.pem")
        if key_type == "rsa":
            _certtool("--generate-privkey", "--key-type", "rsa", "--bits", "2048", "--outfile", str(key_path))
        else:
            _certtool("--generate-privkey", "--key-type", "ecdsa", "--curve", "secp256r1", "--outfile", str(key_path))
        lines = [f'cn = "{name}"', f'dns_name = "{name}"'] + [f'dns_name = "{n}"' for n in alt_names] + [
            "tls_www_server", "signing_key", "encryption_key", "expiration_days = 365"] + (
            ["tls_feature = 5"] if must_staple else []) + ([f'ocsp_uri = "{ocsp_uri}"'] if ocsp_uri else [])
        _certtool("--generate-certificate", "--load-privkey", str(key_path),
                  "--load-ca-certificate", str(self.intermediate), "--load-ca-privkey", str(self.intermediate_key),
                  "--outfile", str(cert), "--template", _template(Path(f"{base}.tmpl"), lines))
        chain.write_text(cert.read_text() + self.intermediate.read_text())
        os.chmod(key_path, 0o600)
        leaf = Leaf(name, key_type, cert, chain, key_path)
        self._leaves[key] = leaf
        return leaf

    def client(self, name: str, key_type: str = "ecdsa", extra=()) -> Leaf:
        """A client certificate (TLS Web Client Authentication) for `name`,
        issued by the intermediate, with its chain file; made on first use.
        `extra`: more certtool template lines (units, e-mail, DNS names)."""
        extra = tuple(extra)
        key = ("client", name, key_type, extra)
        if key in self._leaves:
            return self._leaves[key]
        base = self.dir / (f"client-{name}-{key_type}" +
                           (("-" + hashlib.sha256("\n".join(extra).encode()).hexdigest()[:8]) if extra else ""))
        key_path, cert, chain = Path(f"{base}.key"), Path(f"{base}.pem"), Path(f"{base}.chain.pem")
        if key_type == "rsa":
            _certtool("--generate-privkey", "--key-type", "rsa", "--bits", "2048", "--outfile", str(key_path))
        else:
            _certtool("--generate-privkey", "--key-type", "ecdsa", "--curve", "secp256r1", "--outfile", str(key_path))
        _certtool("--generate-certificate", "--load-privkey", str(key_path),
                  "--load-ca-certificate", str(self.intermediate), "--load-ca-privkey", str(self.intermediate_key),
                  "--outfile", str(cert), "--template", _template(Path(f"{base}.tmpl"), [
                      f'cn = "{name}"', 'organization = "mod_gtls tests"', *extra, "tls_www_client", "signing_key",
                      "expiration_days = 365"]))
        chain.write_text(cert.read_text() + self.intermediate.read_text())
        os.chmod(key_path, 0o644)  # read by the test's client processes
        leaf = Leaf(name, key_type, cert, chain, key_path)
        self._leaves[key] = leaf
        return leaf

    def crl(self, revoked, out: Path) -> Path:
        """A CRL from the intermediate revoking the `revoked` leaves."""
        args = ["--generate-crl", "--load-ca-certificate", str(self.intermediate),
                "--load-ca-privkey", str(self.intermediate_key), "--outfile", str(out),
                "--template", _template(out.with_suffix(".tmpl"), ["crl_next_update = 30", "crl_number = 1"])]
        if revoked:
            listed = out.with_suffix(".revoked.pem")
            listed.write_text("".join(leaf.cert.read_text() for leaf in revoked))
            args += ["--load-certificate", str(listed)]
        _certtool(*args)
        return out

    def ca_bundle(self) -> Path:
        return self.ca
