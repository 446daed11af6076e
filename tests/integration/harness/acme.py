"""Let's Encrypt's ACME test server `pebble` (Debian's pebble 2.4.0) on loopback,
for tests in which mod_md obtains certificates from it.

Two processes: `pebble-challtestsrv` serves only DNS (every name is 127.0.0.1,
no AAAA: pebble's validator dials the first address it resolves and asks AAAA
first, so a ::1 answer would send it to an address httpd does not listen on),
and `pebble` itself, which resolves through it and validates http-01 on
`http_port` and tls-alpn-01 on `tls_port` of 127.0.0.1 - the httpd under test.
Pebble ships no certificates in Debian: its API certificate (for 127.0.0.1 and
localhost) and the CA that signs it (`api_ca`, mod_md's MDCACertificateFile)
are made here with certtool. The CA that signs *issued* certificates is a
different one, made afresh by pebble at every start: `issuing_root_pem()`.
Pebble sends leaf + intermediate as the certificate, so mod_md serves the
intermediate and clients verify against the root alone. Pebble validates
every challenge from three "perspectives": three requests (or handshakes)
reach httpd per validation. Pebble 2.4 has no ARI (renewalInfo)."""
import json
import os
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from .httpd import free_port, wait_for_port

PEBBLE = os.environ.get("GTLS_PEBBLE", "/usr/bin/pebble")
CHALLTESTSRV = os.environ.get("GTLS_PEBBLE_CHALLTESTSRV", "/usr/bin/pebble-challtestsrv")

# Pebble's knobs (README of pebble 2.4.0). Never PEBBLE_VA_ALWAYS_VALID: the
# validation of the challenge by httpd is what the tests are about.
PEBBLE_ENVIRONMENT = {
    "PEBBLE_VA_NOSLEEP": "1",       # no random 0-15 s sleep before each validation
    "PEBBLE_WFE_NONCEREJECT": "0",  # do not reject 5 % of good nonces (badNonce)
    "PEBBLE_AUTHZREUSE": "0",       # every order needs its challenge validated again
}


def _certtool(*args):
    subprocess.run(["certtool", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _template(path: Path, lines) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


class Pebble:
    """pebble + its DNS on free 127.0.0.1 ports; started by the constructor,
    stopped by stop() (or leaving the `with` block). `validity_seconds` is the
    validity of issued certificates (config `certificateValidityPeriod`, in
    seconds); None keeps pebble's default of five years. `ocsp_responder_url`
    goes into issued certificates (AIA); pebble has no responder of its own."""

    def __init__(self, directory: Path, http_port: int, tls_port: int, validity_seconds: int = None,
                 ocsp_responder_url: str = ""):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.http_port, self.tls_port = http_port, tls_port
        self.port, self.management_port = free_port(), free_port()  # ACME API, pebble's management
        self.dns_port, self.dns_management_port = free_port(), free_port()  # challtestsrv
        self.directory_url = f"https://127.0.0.1:{self.port}/dir"
        self.management_url = f"https://127.0.0.1:{self.management_port}"
        # challtestsrv's HTTP API (/add-a, /set-servfail, /dns-request-history, ...)
        self.dns_management_url = f"http://127.0.0.1:{self.dns_management_port}"
        self.api_ca = self.dir / "pebble-api-ca.pem"
        self.api_cert, self.api_key = self.dir / "pebble-api.pem", self.dir / "pebble-api.key"
        self.config = self.dir / "pebble-config.json"
        self.log = self.dir / "pebble.log"
        self.dns_log = self.dir / "challtestsrv.log"
        self.processes = []
        self._make_api_certificate()
        settings = {"listenAddress": f"127.0.0.1:{self.port}",
                    "managementListenAddress": f"127.0.0.1:{self.management_port}",
                    "certificate": str(self.api_cert), "privateKey": str(self.api_key),
                    "httpPort": http_port, "tlsPort": tls_port,
                    "ocspResponderURL": ocsp_responder_url, "externalAccountBindingRequired": False}
        if validity_seconds is not None:
            settings["certificateValidityPeriod"] = int(validity_seconds)
        self.config.write_text(json.dumps({"pebble": settings}, indent=2) + "\n")
        try:
            self.start()
        except BaseException:
            self.stop()
            raise

    def _make_api_certificate(self):
        ca_key = self.dir / "pebble-api-ca.key"
        _certtool("--generate-privkey", "--key-type", "ecdsa", "--curve", "secp256r1", "--outfile", str(ca_key))
        _certtool("--generate-self-signed", "--load-privkey", str(ca_key), "--outfile", str(self.api_ca),
                  "--template", _template(self.dir / "pebble-api-ca.tmpl", [
                      'cn = "pebble API test CA"', "ca", "cert_signing_key", "expiration_days = 3650"]))
        _certtool("--generate-privkey", "--key-type", "ecdsa", "--curve", "secp256r1", "--outfile", str(self.api_key))
        _certtool("--generate-certificate", "--load-privkey", str(self.api_key),
                  "--load-ca-certificate", str(self.api_ca), "--load-ca-privkey", str(ca_key),
                  "--outfile", str(self.api_cert), "--template", _template(self.dir / "pebble-api.tmpl", [
                      'cn = "localhost"', 'dns_name = "localhost"', 'ip_address = "127.0.0.1"',
                      "tls_www_server", "signing_key", "expiration_days = 3650"]))

    def _spawn(self, command, log: Path, environment=None):
        # No PEBBLE_* from the caller's environment (PEBBLE_VA_ALWAYS_VALID would
        # make every validation pass without asking httpd).
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("PEBBLE_")}
        with log.open("ab") as out:  # the child keeps its own descriptor
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env={**inherited, **(environment or {})})
        self.processes.append(process)
        return process

    def start(self, timeout: float = 20.0):
        """Starts both processes (the constructor does); returns once the ACME
        directory answers, raises with the logs if a process exits first."""
        # Only the DNS server: the httpd under test answers the challenges itself.
        # (No -doh flag in 2.4.0; the management listener cannot be disabled.)
        self._spawn([CHALLTESTSRV, "-dns01", f"127.0.0.1:{self.dns_port}", "-http01", "", "-https01", "",
                     "-tlsalpn01", "", "-management", f"127.0.0.1:{self.dns_management_port}",
                     "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""], self.dns_log)
        self._wait(lambda: self._port_open(self.dns_port) and self._port_open(self.dns_management_port), timeout,
                   "pebble-challtestsrv")
        self._spawn([PEBBLE, "-config", str(self.config), "-dnsserver", f"127.0.0.1:{self.dns_port}"],
                    self.log, PEBBLE_ENVIRONMENT)
        self._wait(lambda: self._answers(self.directory_url, b"newAccount"), timeout, "pebble")
        self._wait(lambda: self._answers(f"{self.management_url}/roots/0", b"CERTIFICATE"), timeout, "pebble")

    def _wait(self, ready, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [f"{p.args[0]} (status {p.returncode})" for p in self.processes if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start ({'exited: ' + ', '.join(dead) if dead else 'timeout'})\n"
                                   + self.logs())
            time.sleep(0.1)

    @staticmethod
    def _port_open(port: int) -> bool:
        try:
            wait_for_port(port, 0.1)
            return True
        except TimeoutError:
            return False

    def _answers(self, url: str, expected: bytes) -> bool:
        try:
            return expected in self._get(url, timeout=1)
        except OSError:  # URLError, refused, TLS not up yet
            return False

    def _get(self, url: str, timeout: float = 10) -> bytes:
        """GET over HTTPS verified with `api_ca` (API and management share the certificate)."""
        context = ssl.create_default_context(cafile=str(self.api_ca))
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return response.read()

    def md_directives(self, store_dir: Path, challenges: str = "http-01") -> str:
        """mod_md's global directives for this pebble (tested with mod_md 2.6.10);
        the test adds `MDomain name` and the vhosts on http_port / tls_port
        (tls-alpn-01 needs `Protocols h2 http/1.1 acme-tls/1` in the TLS vhost)."""
        return "\n".join([f"MDCertificateAuthority {self.directory_url}", f"MDCACertificateFile {self.api_ca}",
                          "MDCertificateAgreement accepted", "MDContactEmail admin@a.test",
                          f"MDPortMap 80:{self.http_port} 443:{self.tls_port}", "MDRetryDelay 1s",
                          f"MDStoreDir {store_dir}", f"MDCAChallenges {challenges}"]) + "\n"

    # --- the CA that signs issued certificates (new at every pebble start) ---
    def issuing_root_pem(self) -> str:
        return self._get(f"{self.management_url}/roots/0").decode()

    def issuing_intermediate_pem(self) -> str:
        return self._get(f"{self.management_url}/intermediates/0").decode()

    def issuing_intermediate_key_pem(self) -> str:
        """The intermediate's private key (pebble hands it out for tests): an
        OCSP responder for issued certificates signs with it."""
        return self._get(f"{self.management_url}/intermediate-keys/0").decode()

    def write_issuing_root(self, path: Path = None, with_intermediate: bool = False) -> Path:
        """Writes the issuing root (optionally followed by the intermediate) to
        `path` (default <directory>/issuing-root.pem), for -CAfile and the like."""
        path = Path(path or self.dir / "issuing-root.pem")
        path.write_text(self.issuing_root_pem() + (self.issuing_intermediate_pem() if with_intermediate else ""))
        return path

    # --- logs and lifecycle -----------------------------------------------
    def logs(self) -> str:
        """Both logs, for a failing test's message."""
        parts = []
        for log in (self.log, self.dns_log):
            text = log.read_text(errors="replace") if log.exists() else "(none)\n"
            parts.append(f"--- {log.name} ---\n{text}")
        return "".join(parts)

    def stop(self):
        """Terminates pebble and challtestsrv (SIGTERM to their PIDs; SIGKILL
        after 10 s) and waits for them."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
