#!/usr/bin/python3
"""mod_gtls vs mod_ssl vs the GnuTLS floor, in one run, interleaved and repeated.

Judged by server CPU time (utime+stime of the whole httpd process tree, from
/proc, including reaped children) per unit of work; wall-clock figures are
reported too. Writes a Markdown table (bench/RESULTS.md by default) and a PNG
chart of the ratios. Not a test: nothing here asserts a timing.

    bench/run.py                 full run (>= 5 rounds)
    bench/run.py --smoke         a few hundred handshakes, to see it still works

Besides the handshake, request and transfer scenarios it measures server memory
per idle keep-alive connection and, with 1, 100 and 1,000 name-based vhosts,
handshake CPU (SNI naming the last vhost), startup time and memory.
"""
import argparse
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HTTPD = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
TICKS = os.sysconf("SC_CLK_TCK")
# X25519 does the key exchange; secp256r1 is listed too because OpenSSL serves an
# ECDSA P-256 certificate under TLS 1.2 only to clients that list its curve.
CLIENT_TLS13 = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1"
CLIENT_TLS12 = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1"
ECDSA_ONLY = ":-SIGN-ALL:+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SHA256"
RSA_ONLY = ":-SIGN-ALL:+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-SHA256"
# What Chromium and Firefox offer, in their order: ECDSA first, RSA accepted too.
# (GnuTLS names code point 0x0403 ECDSA-SECP256R1-SHA256 under TLS 1.3 and
# ECDSA-SHA256 under TLS 1.2; a browser's one entry is both.)
BROWSER_SIGALGS = (":-SIGN-ALL:+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SHA256:+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-SHA256:"
                   "+SIGN-ECDSA-SECP384R1-SHA384:+SIGN-RSA-PSS-RSAE-SHA384:+SIGN-RSA-SHA384:"
                   "+SIGN-RSA-PSS-RSAE-SHA512:+SIGN-RSA-SHA512")


# mod_ssl is told to choose the suites mod_gtls chooses by default, so
# the two are compared on the same cryptography. (Debian's default follows the
# client's order and would pick TLS_AES_256_GCM_SHA384 here, whose SHA-384 key
# schedule costs more.)
MOD_SSL_SAME_SUITES = ["SSLCipherSuite TLSv1.3 TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
                       "SSLCipherSuite ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                       "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                       "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
                       "SSLHonorCipherOrder on"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15, address="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((address, port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def tree_cpu_seconds(pid):
    """utime+stime of `pid` and its live children, plus what reaped children used."""
    def stat(p):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        return fields  # fields[11]=utime, [12]=stime, [13]=cutime, [14]=cstime (0-based after the name)
    total = 0
    parent = stat(pid)
    total += sum(int(parent[i]) for i in (11, 12, 13, 14))
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    for child in children:
        try:
            fields = stat(child)
            total += sum(int(fields[i]) for i in (11, 12))
        except (FileNotFoundError, ProcessLookupError):
            pass  # exited between listing and reading; its time moves to cutime
    return total / TICKS


def tree_cpu_ns_precise(pid):
    """On-CPU nanoseconds of every thread of `pid` and its children, from
    /proc/*/task/*/schedstat. Finer than the clock ticks of tree_cpu_seconds, but
    threads that exit are lost: used only for paired runs against a steady set of
    workers (MaxConnectionsPerChild 0)."""
    total = 0
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    for process in [str(pid), *children]:
        for task in Path(f"/proc/{process}/task").glob("*"):
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return total


class Server:
    """One httpd (mod_gtls or mod_ssl) with the same MPM settings for both."""

    def __init__(self, kind, workdir, pki, ports, ocsp_port=None, vhosts=None, fleet=None, token=None, signer=None):
        """`vhosts` = N builds N name-based vhosts (v1..vN.scale.localhost, both
        chains, no staple) on ports[0] instead of the staple on/off pair.
        `fleet` = (address, ticket key file) builds one member of a fleet: a
        `*:port` vhost (ECDSA chain) listening on address:ports[0], with the
        fleet's shared ticket key.
        `token` = (provider library, {key type: pkcs11 URI}, PIN) builds two
        mod_gtls vhosts with both chains: keys in files on ports[0], keys on
        the token on ports[1].
        `signer` = "openssl" or "gnutls" (GnuTLSRSASigner; "" for mod_ssl)
        builds one vhost with the RSA-2048 chain on ports[0] and one with the
        RSA-3072 chain on ports[1], no staple."""
        self.kind, self.ports = kind, ports
        self.address = fleet[0] if fleet else "127.0.0.1"
        suffix = (f"-{vhosts}-vhosts" if vhosts is not None else f"-fleet-{fleet[0]}" if fleet
                  else "-token" if token else f"-signer-{signer or 'mod_ssl'}" if signer is not None else "")
        self.dir = Path(workdir) / f"{kind}{suffix}"
        (self.dir / "logs").mkdir(parents=True)
        (self.dir / "htdocs").mkdir()
        os.chmod(self.dir / "logs", 0o1777)
        (self.dir / "htdocs" / "small.txt").write_text("hello\n")
        self.conf = self.dir / "httpd.conf"
        lines = [f'ServerRoot "{self.dir}"', f"LoadModule mpm_event_module {MODULES}/mod_mpm_event.so",
                 f"LoadModule authz_core_module {MODULES}/mod_authz_core.so",
                 f"LoadModule mime_module {MODULES}/mod_mime.so",
                 f"LoadModule socache_shmcb_module {MODULES}/mod_socache_shmcb.so",
                 "ServerName localhost", f'PidFile "{self.dir}/logs/httpd.pid"', f'ErrorLog "{self.dir}/logs/error.log"',
                 "LogLevel warn", f"Mutex file:{self.dir}/logs", "TypesConfig /etc/mime.types",
                 f'DocumentRoot "{pki.parent}/htdocs"', "KeepAlive On", "MaxKeepAliveRequests 0",
                 "StartServers 2", "ServerLimit 2", "ThreadsPerChild 25", "MaxRequestWorkers 50",
                 "MinSpareThreads 1", "MaxSpareThreads 50", "MaxConnectionsPerChild 0",
                 # Room for the idle keep-alive connections of the memory scenario.
                 "KeepAliveTimeout 60", "AsyncRequestWorkerFactor 64",
                 # As in every packaged apache2.conf: no .htaccess lookups per request.
                 "<Directory />", "  AllowOverride None", "</Directory>"]
        if os.geteuid() == 0:
            lines += ["User www-data", "Group www-data"]
        chains = [("rsa", "localhost-rsa"), ("ecdsa", "localhost-ecdsa")]
        if fleet is not None:
            lines += self._fleet_member(kind, pki, ports[0], *fleet)
        elif token is not None:
            lines += self._token_vhosts(pki, ports, chains, *token)
        elif signer is not None:
            lines += self._signer_vhosts(kind, pki, ports, signer)
        elif vhosts is not None:
            lines += self._scale_vhosts(kind, pki, ports[0], vhosts, chains)
        elif kind == "gtls":
            lines += [f"LoadModule gtls_module {ROOT}/build/module/mod_gtls.so",
                      f"GnuTLSCache shmcb:{self.dir}/logs/cache(512000)"]
            for port, staple in zip(ports, (True, False)):
                lines += [f"Listen 127.0.0.1:{port}", f"<VirtualHost 127.0.0.1:{port}>", "  ServerName localhost",
                          "  GnuTLSEnable On"]
                for _, base in chains:
                    lines += [f'  GnuTLSCertificateFile "{pki}/{base}.chain.pem"', f'  GnuTLSKeyFile "{pki}/{base}.key"']
                if staple:
                    lines += [f'  GnuTLSOCSPResponseFile "{pki}/{base}.ocsp.der"' for _, base in chains]
                lines.append("</VirtualHost>")
            lines += self._plain_vhost(ports)
        else:
            lines += [f"LoadModule ssl_module {MODULES}/mod_ssl.so",
                      f"SSLSessionCache shmcb:{self.dir}/logs/cache(512000)",
                      f"SSLStaplingCache shmcb:{self.dir}/logs/stapling(512000)",
                      "SSLProtocol -all +TLSv1.2 +TLSv1.3", *MOD_SSL_SAME_SUITES]
            for port, staple in zip(ports, (True, False)):
                lines += [f"Listen 127.0.0.1:{port}", f"<VirtualHost 127.0.0.1:{port}>", "  ServerName localhost",
                          "  SSLEngine on"]
                for _, base in chains:
                    lines += [f'  SSLCertificateFile "{pki}/{base}.chain.pem"', f'  SSLCertificateKeyFile "{pki}/{base}.key"']
                if staple:
                    lines += ["  SSLUseStapling on", f"  SSLStaplingForceURL http://127.0.0.1:{ocsp_port}/",
                              "  SSLStaplingReturnResponderErrors off"]
                lines.append("</VirtualHost>")
            lines += self._plain_vhost(ports)
        self.conf.write_text("\n".join(lines) + "\n")

    @staticmethod
    def _plain_vhost(ports):
        """ports[2], when given, serves plain HTTP: httpd's own cost per connection."""
        if len(ports) < 3:
            return []
        return [f"Listen 127.0.0.1:{ports[2]}", f"<VirtualHost 127.0.0.1:{ports[2]}>", "  ServerName localhost",
                "</VirtualHost>"]

    @staticmethod
    def _fleet_member(kind, pki, port, address, key_file):
        base = f"{pki}/localhost-ecdsa"
        if kind == "gtls":
            lines = [f"LoadModule gtls_module {ROOT}/build/module/mod_gtls.so", f"Listen {address}:{port}",
                     f"<VirtualHost *:{port}>", "  ServerName localhost", "  GnuTLSEnable On",
                     f'  GnuTLSSessionTicketKeyFile "{key_file}"',
                     f'  GnuTLSCertificateFile "{base}.chain.pem"', f'  GnuTLSKeyFile "{base}.key"']
        else:
            lines = [f"LoadModule ssl_module {MODULES}/mod_ssl.so", "SSLProtocol -all +TLSv1.2 +TLSv1.3",
                     *MOD_SSL_SAME_SUITES, f"Listen {address}:{port}", f"<VirtualHost *:{port}>",
                     "  ServerName localhost", "  SSLEngine on", f'  SSLSessionTicketKeyFile "{key_file}"',
                     f'  SSLCertificateFile "{base}.chain.pem"', f'  SSLCertificateKeyFile "{base}.key"']
        return lines + ["</VirtualHost>"]

    @staticmethod
    def _token_vhosts(pki, ports, chains, provider, uris, pin):
        lines = [f"LoadModule gtls_module {ROOT}/build/module/mod_gtls.so", f"GnuTLSP11Module {provider}"]
        for port, on_token in zip(ports, (False, True)):
            lines += [f"Listen 127.0.0.1:{port}", f"<VirtualHost 127.0.0.1:{port}>", "  ServerName localhost",
                      "  GnuTLSEnable On", f"  GnuTLSPIN {pin}"]
            for key_type, base in chains:
                key = uris[key_type] if on_token else f"{pki}/{base}.key"
                lines += [f'  GnuTLSCertificateFile "{pki}/{base}.chain.pem"', f'  GnuTLSKeyFile "{key}"']
            lines.append("</VirtualHost>")
        return lines

    @staticmethod
    def _signer_vhosts(kind, pki, ports, signer):
        if kind == "gtls":
            lines = [f"LoadModule gtls_module {ROOT}/build/module/mod_gtls.so", f"GnuTLSRSASigner {signer}"]
        else:
            lines = [f"LoadModule ssl_module {MODULES}/mod_ssl.so", "SSLProtocol -all +TLSv1.2 +TLSv1.3",
                     *MOD_SSL_SAME_SUITES]
        for port, base in zip(ports, ("localhost-rsa", "localhost-rsa3072")):
            lines += [f"Listen 127.0.0.1:{port}", f"<VirtualHost 127.0.0.1:{port}>", "  ServerName localhost"]
            if kind == "gtls":
                lines += ["  GnuTLSEnable On", f'  GnuTLSCertificateFile "{pki}/{base}.chain.pem"',
                          f'  GnuTLSKeyFile "{pki}/{base}.key"']
            else:
                lines += ["  SSLEngine on", f'  SSLCertificateFile "{pki}/{base}.chain.pem"',
                          f'  SSLCertificateKeyFile "{pki}/{base}.key"']
            lines.append("</VirtualHost>")
        return lines

    @staticmethod
    def _scale_vhosts(kind, pki, port, count, chains):
        if kind == "gtls":
            lines = [f"LoadModule gtls_module {ROOT}/build/module/mod_gtls.so"]
            enable = ["  GnuTLSEnable On"] + [line for _, base in chains for line in (
                f'  GnuTLSCertificateFile "{pki}/{base}.chain.pem"', f'  GnuTLSKeyFile "{pki}/{base}.key"')]
        else:
            lines = [f"LoadModule ssl_module {MODULES}/mod_ssl.so", "SSLProtocol -all +TLSv1.2 +TLSv1.3",
                     *MOD_SSL_SAME_SUITES]
            enable = ["  SSLEngine on"] + [line for _, base in chains for line in (
                f'  SSLCertificateFile "{pki}/{base}.chain.pem"', f'  SSLCertificateKeyFile "{pki}/{base}.key"')]
        lines.append(f"Listen 127.0.0.1:{port}")
        for i in range(1, count + 1):
            lines += [f"<VirtualHost 127.0.0.1:{port}>", f"  ServerName v{i}.scale.localhost", *enable, "</VirtualHost>"]
        return lines

    def start(self):
        started = time.monotonic()
        subprocess.run([HTTPD, "-d", str(self.dir), "-f", str(self.conf), "-k", "start"], check=True)
        for port in self.ports:
            wait_port(port, address=self.address)
        pid_file = self.dir / "logs" / "httpd.pid"
        for _ in range(100):
            if pid_file.exists() and pid_file.read_text().strip():
                break
            time.sleep(0.05)
        self.pid = int(pid_file.read_text())
        self.startup_seconds = time.monotonic() - started

    def memory_kib(self):
        """Proportional set size (shared pages split between sharers) of the
        whole httpd process tree, in KiB."""
        total = 0
        for pid in [self.pid, *subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True,
                                              text=True).stdout.split()]:
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
            except (FileNotFoundError, ProcessLookupError):
                pass
        return total

    def stop(self):
        if not hasattr(self, "pid"):
            pid_file = self.dir / "logs" / "httpd.pid"
            if not pid_file.exists():
                return
            self.pid = int(pid_file.read_text())
        subprocess.run([HTTPD, "-d", str(self.dir), "-f", str(self.conf), "-k", "stop"], check=False)
        for _ in range(100):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(self.pid, signal.SIGKILL)

    def cpu(self):
        return tree_cpu_seconds(self.pid)


def start_ocsp_responder(pki, port):
    """mod_ssl cannot staple from files: it asks a responder. This one, on
    127.0.0.1, answers each request with the pre-signed response of the
    certificate whose serial number the request carries."""
    import http.server
    import threading

    responses = {}
    for base in ("localhost-rsa", "localhost-ecdsa"):
        serial = subprocess.run(["openssl", "x509", "-in", str(pki / f"{base}.pem"), "-noout", "-serial"],
                                capture_output=True, text=True, check=True).stdout.strip().split("=")[1]
        responses[bytes.fromhex(serial)] = (pki / f"{base}.ocsp.der").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            request = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = next((r for serial, r in responses.items() if serial in request), b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def client(args):
    # A small real file unless the scenario names another path (the last --path wins).
    result = subprocess.run([str(ROOT / "build/bench/gtls-bench-client"), "--path", "/small.txt", *args],
                            capture_output=True, text=True,
                            timeout=600)
    if result.returncode not in (0, 1):
        raise RuntimeError(result.stderr)
    return json.loads(result.stdout)


def make_pki(workdir):
    pki = Path(workdir) / "pki"
    subprocess.run([str(ROOT / "scripts/make-demo-pki.sh"), str(pki), "localhost", "*.scale.localhost"], check=True)
    htdocs = Path(workdir) / "htdocs"
    htdocs.mkdir()
    (htdocs / "small.txt").write_text("hello\n")
    with open(htdocs / "bulk.bin", "wb") as out:
        block = os.urandom(1 << 20)
        for _ in range(100):
            out.write(block)
    make_rsa3072_leaf(pki)
    subprocess.run(["chmod", "-R", "a+rX", str(workdir)], check=True)
    subprocess.run(["chmod", "0600", *map(str, pki.glob("*.key"))], check=True)
    return pki


def make_rsa3072_leaf(pki):
    """localhost-rsa3072.{key,pem,chain.pem}: an RSA-3072 leaf from the demo
    PKI's intermediate, for the signer rows."""
    base = pki / "localhost-rsa3072"
    template = pki / "rsa3072.tmpl"
    template.write_text('cn = "localhost"\ndns_name = "localhost"\ntls_www_server\nsigning_key\nexpiration_days = 30\n')
    for args in (["--generate-privkey", "--key-type", "rsa", "--bits", "3072", "--outfile", f"{base}.key"],
                 ["--generate-certificate", "--load-privkey", f"{base}.key", "--load-ca-certificate",
                  str(pki / "intermediate.pem"), "--load-ca-privkey", str(pki / "intermediate.key"),
                  "--template", str(template), "--outfile", f"{base}.pem"]):
        subprocess.run(["certtool", *args], check=True, capture_output=True)
    template.unlink()
    (pki / "localhost-rsa3072.chain.pem").write_text((pki / "localhost-rsa3072.pem").read_text() +
                                                     (pki / "intermediate.pem").read_text())


PLAIN_HTTP = "Plain HTTP connection + GET (no TLS)"
ECDSA_STAPLE = "ECDSA full handshake, staple"
BROWSER_TLS13 = "Browser-like client (ECDSA+RSA), TLS 1.3 full handshake, staple"
BROWSER_TLS12 = "Browser-like client (ECDSA+RSA), TLS 1.2 full handshake, staple"


def scenarios(smoke):
    n = 60 if smoke else 2000
    return [
        # name, unit, client args, which port (staple on/off), floor args
        (ECDSA_STAPLE, "µs/conn", ["--priority", CLIENT_TLS13 + ECDSA_ONLY, "--connections", str(n)],
         0, ["--client-priority", CLIENT_TLS13 + ECDSA_ONLY, "--staple", "ecdsa"]),
        ("ECDSA full handshake, no staple", "µs/conn", ["--priority", CLIENT_TLS13 + ECDSA_ONLY, "--connections", str(n)],
         1, ["--client-priority", CLIENT_TLS13 + ECDSA_ONLY]),
        ("RSA-2048 full handshake, staple", "µs/conn", ["--priority", CLIENT_TLS13 + RSA_ONLY, "--connections", str(n)],
         0, ["--client-priority", CLIENT_TLS13 + RSA_ONLY, "--staple", "rsa"]),
        # What real visitors do on the dual-certificate vhost: offer both
        # signature types, ECDSA first; the server picks the chain.
        (BROWSER_TLS13, "µs/conn", ["--priority", CLIENT_TLS13 + BROWSER_SIGALGS, "--connections", str(n)],
         0, ["--client-priority", CLIENT_TLS13 + BROWSER_SIGALGS, "--staple", "ecdsa"]),
        (BROWSER_TLS12, "µs/conn", ["--priority", CLIENT_TLS12 + BROWSER_SIGALGS, "--connections", str(n)],
         0, None),
        ("TLS 1.3 resumed (ticket)", "µs/conn", ["--priority", CLIENT_TLS13 + ECDSA_ONLY, "--resume",
                                                  "--connections", str(n)],
         0, ["--client-priority", CLIENT_TLS13 + ECDSA_ONLY, "--resume", "--staple", "ecdsa"]),
        ("TLS 1.2 full handshake", "µs/conn", ["--priority", CLIENT_TLS12 + ECDSA_ONLY, "--connections", str(n)],
         0, None),
        ("Keep-alive, 100 requests/conn", "µs/req", ["--priority", CLIENT_TLS13 + ECDSA_ONLY, "--connections",
                                                     str(max(2, n // 100)), "--requests", "100"], 0, None),
        ("Bulk 100 MiB download", "ms/GiB", ["--priority", CLIENT_TLS13 + ECDSA_ONLY, "--connections",
                                             "1" if smoke else "3", "--path", "/bulk.bin"], 0, None),
        # The same httpd without TLS: what any TLS module pays on top of.
        (PLAIN_HTTP, "µs/conn", ["--plain", "--connections", str(n)], 2, None),
    ]


STAPLE_COST = "Stapling's own cost (staple on minus off, ECDSA)"


def staple_pairs(servers, pki, pairs, connections, results, errors):
    """Stapling's own CPU per handshake: `pairs` back-to-back runs with the
    staple on and off (in random order within a pair), each difference taken
    within its pair so that drift of the machine cancels; for the floor
    likewise. Differences are far smaller than the run-to-run noise of the
    main table, hence this separate, paired and finer measurement."""
    floor_base = [str(ROOT / "build/bench/gtls-bench-floor"), "--chain", str(pki / "localhost-ecdsa.chain.pem"),
                  "--key", str(pki / "localhost-ecdsa.key"), "--ca", str(pki / "ca.pem"),
                  "--client-priority", CLIENT_TLS13 + ECDSA_ONLY, "--connections", str(connections)]
    for _ in range(pairs):
        for who, server in servers.items():
            per_connection = {}
            for staple in random.sample([True, False], 2):
                before = tree_cpu_ns_precise(server.pid)
                data = client(["--port", str(server.ports[0 if staple else 1]), "--ca", str(pki / "ca.pem"),
                               "--priority", CLIENT_TLS13 + ECDSA_ONLY, "--connections", str(connections)])
                if data["errors"] or (staple and data["stapled"] < data["connections"]):
                    errors.append(f"{who} staple pair: {data}")
                per_connection[staple] = (tree_cpu_ns_precise(server.pid) - before) / 1e3 / max(1, data["connections"])
            results.setdefault((STAPLE_COST, who), []).append(per_connection[True] - per_connection[False])
        per_connection = {}
        for staple in random.sample([True, False], 2):
            extra = ["--staple", str(pki / "localhost-ecdsa.ocsp.der")] if staple else []
            out = subprocess.run(floor_base + extra, capture_output=True, text=True, timeout=600)
            per_connection[staple] = json.loads(out.stdout)["server_cpu_us_per_connection"]
        results.setdefault((STAPLE_COST, "floor"), []).append(per_connection[True] - per_connection[False])


def per_unit(unit, cpu_seconds, result):
    if unit == "µs/conn":
        return cpu_seconds / max(1, result["connections"]) * 1e6
    if unit == "µs/req":
        return cpu_seconds / max(1, result["requests"]) * 1e6
    return cpu_seconds / max(1, result["body_bytes"]) * (1 << 30) * 1e3


def idle_connection_memory(server, port, ca, count):
    """KiB of server memory (PSS of the tree) per idle keep-alive TLS 1.3
    connection: `count` connections each make one request and stay open."""
    import ssl
    context = ssl.create_default_context(cafile=str(ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    before = server.memory_kib()
    held = []
    try:
        for _ in range(count):
            sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30),
                                       server_hostname="localhost")
            sock.sendall(b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            answer = b""
            while not answer.endswith(b"hello\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    raise RuntimeError(f"{server.kind}: connection closed after {len(held)} idle connections")
                answer += chunk
            held.append(sock)
        time.sleep(1.0)
        return (server.memory_kib() - before) / count
    finally:
        for sock in held:
            sock.close()


def scale_round(workdir, pki, counts, rounds, smoke, results, walls, errors):
    """Per-handshake CPU with 1..N name-based vhosts (SNI picks the last one),
    and startup time and memory with each count."""
    n = 60 if smoke else 1000
    for count in counts:
        servers = {kind: Server(kind, workdir, pki, (free_port(),), vhosts=count) for kind in ("gtls", "ssl")}
        try:
            for kind, server in servers.items():
                server.start()
                time.sleep(0.5)
                results.setdefault((f"Startup, {count} vhosts", kind), []).append(server.startup_seconds)
                results.setdefault((f"Memory after start, {count} vhosts", kind), []).append(
                    server.memory_kib() / 1024)
            for _ in range(rounds):
                for kind in random.sample(list(servers), len(servers)):
                    server = servers[kind]
                    before = server.cpu()
                    data = client(["--port", str(server.ports[0]), "--sni", f"v{count}.scale.localhost",
                                   "--ca", str(pki / "ca.pem"), "--priority", CLIENT_TLS13 + ECDSA_ONLY,
                                   "--connections", str(n)])
                    if data["errors"]:
                        errors.append(f"{kind} {count} vhosts: {data}")
                    name = f"SNI handshake, {count} vhosts"
                    results.setdefault((name, kind), []).append(per_unit("µs/conn", server.cpu() - before, data))
                    walls.setdefault((name, kind), []).append(data["seconds"])
        finally:
            for server in servers.values():
                server.stop()


RESUMED_SAME = "TLS 1.3 resumed on the server that made the ticket (2-server fleet)"
RESUMED_OTHER = "TLS 1.3 resumed on another server of the fleet (shared ticket key)"


def fleet_round(workdir, pki, rounds, smoke, results, walls, errors):
    """Two servers of each kind on 127.0.0.1 and 127.0.0.2, same port and
    vhost, one ticket key file: CPU of the second server per resumed
    handshake, when the ticket came from itself and from the other one."""
    n = 60 if smoke else 2000
    keys = {"gtls": 64, "ssl": 48}  # GnuTLS's master key; mod_ssl's key file
    ports = {kind: free_port() for kind in keys}
    servers = {}
    for kind, size in keys.items():
        key_file = Path(workdir) / f"{kind}-ticket.key"
        key_file.write_bytes(os.urandom(size))
        os.chmod(key_file, 0o600)
        for address in ("127.0.0.1", "127.0.0.2"):
            servers[kind, address] = Server(kind, workdir, pki, (ports[kind],), fleet=(address, key_file))
    try:
        for server in servers.values():
            server.start()
        for _ in range(rounds):
            plan = [(kind, name) for kind in keys for name in (RESUMED_SAME, RESUMED_OTHER)]
            random.shuffle(plan)
            for kind, name in plan:
                second = servers[kind, "127.0.0.2"]
                first = "127.0.0.2" if name == RESUMED_SAME else "127.0.0.1"
                before = second.cpu()
                data = client(["--port", str(ports[kind]), "--ca", str(pki / "ca.pem"), "--priority",
                               CLIENT_TLS13 + ECDSA_ONLY, "--resume", "--address", first,
                               "--resume-address", "127.0.0.2", "--connections", str(n)])
                cpu = second.cpu() - before
                if data["errors"] or data["resumed"] < n - 1:
                    errors.append(f"{kind} {name}: {data}")
                results.setdefault((name, kind), []).append(cpu / max(1, data["resumed"]) * 1e6)
                walls.setdefault((name, kind), []).append(data["seconds"])
    finally:
        for server in servers.values():
            server.stop()


SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")
TOKEN_ROWS = {(key_type, on_token): f"{label} full handshake, key {'on SoftHSM (PKCS #11)' if on_token else 'in a file'}"
              for key_type, label in (("ecdsa", "ECDSA"), ("rsa", "RSA-2048")) for on_token in (False, True)}


def token_round(workdir, pki, rounds, smoke, results, walls, errors):
    """mod_gtls with the same ECDSA and RSA keys in files and on a SoftHSM2
    token, each on its own vhost of one httpd: CPU per full handshake."""
    if not SOFTHSM.exists():
        errors.append(f"{SOFTHSM} missing (Debian package softhsm2): no PKCS #11 rows")
        return
    n = 60 if smoke else 2000
    token_dir = Path(workdir) / "token"
    (token_dir / "tokens").mkdir(parents=True)
    conf = token_dir / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {token_dir}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n")
    pin = "4711"
    env = {**os.environ, "SOFTHSM2_CONF": str(conf), "GNUTLS_PIN": pin, "GNUTLS_SO_PIN": "12345678"}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "bench", "--pin", pin, "--so-pin", "12345678"],
                   env=env, check=True, capture_output=True)
    uris = {}
    for number, key_type in enumerate(("ecdsa", "rsa"), start=1):
        subprocess.run(["p11tool", "--provider", str(SOFTHSM), "--login", "--write", "--load-privkey",
                        str(pki / f"localhost-{key_type}.key"), "--label", key_type, "--id", f"{number:02d}",
                        "pkcs11:token=bench"], env=env, check=True, capture_output=True)
        uris[key_type] = f"pkcs11:token=bench;object={key_type};type=private"
    subprocess.run(["chmod", "-R", "a+rwX", str(token_dir)], check=True)  # httpd's User opens the token
    os.environ["SOFTHSM2_CONF"] = str(conf)  # for the httpd started below
    server = Server("gtls", workdir, pki, (free_port(), free_port()), token=(SOFTHSM, uris, pin))
    try:
        server.start()
        for _ in range(rounds):
            plan = list(TOKEN_ROWS.items())
            random.shuffle(plan)
            for (key_type, on_token), name in plan:
                sigalgs = ECDSA_ONLY if key_type == "ecdsa" else RSA_ONLY
                before = server.cpu()
                data = client(["--port", str(server.ports[1 if on_token else 0]), "--ca", str(pki / "ca.pem"),
                               "--priority", CLIENT_TLS13 + sigalgs, "--connections", str(n)])
                cpu = server.cpu() - before
                if data["errors"]:
                    errors.append(f"gtls {name}: {data}")
                results.setdefault((name, "gtls"), []).append(cpu / max(1, data["connections"]) * 1e6)
                walls.setdefault((name, "gtls"), []).append(data["seconds"])
    finally:
        server.stop()
        os.environ.pop("SOFTHSM2_CONF", None)


SIGNER_ROWS = {(bits, signer): f"RSA-{bits} full handshake, no staple, GnuTLSRSASigner {signer}"
               for bits in (2048, 3072) for signer in ("openssl", "gnutls")}


def signer_round(workdir, pki, rounds, smoke, results, walls, errors):
    """RSA-2048 and RSA-3072 full TLS 1.3 handshakes (RSA-PSS) with each
    GnuTLSRSASigner, next to mod_ssl and the GnuTLS floor on the same keys.
    One httpd per signer (the directive is server-wide) and one mod_ssl; the
    mod_ssl and floor figures of a key size stand in both of its rows."""
    n = 60 if smoke else 2000
    servers = {who: Server("ssl" if who == "ssl" else "gtls", workdir, pki, (free_port(), free_port()),
                           signer="" if who == "ssl" else who) for who in ("openssl", "gnutls", "ssl")}
    try:
        for server in servers.values():
            server.start()
            for port in server.ports:  # warm up
                client(["--port", str(port), "--ca", str(pki / "ca.pem"), "--connections", "20",
                        "--priority", CLIENT_TLS13 + RSA_ONLY])
        for _ in range(rounds):
            plan = [(bits, who) for bits in (2048, 3072) for who in (*servers, "floor")]
            random.shuffle(plan)
            for bits, who in plan:
                base = "localhost-rsa" if bits == 2048 else "localhost-rsa3072"
                print(f"  {who}: RSA-{bits} signer row", file=sys.stderr, flush=True)
                if who == "floor":
                    out = subprocess.run([str(ROOT / "build/bench/gtls-bench-floor"), "--chain",
                                          str(pki / f"{base}.chain.pem"), "--key", str(pki / f"{base}.key"),
                                          "--ca", str(pki / "ca.pem"), "--connections", str(n),
                                          "--client-priority", CLIENT_TLS13 + RSA_ONLY],
                                         capture_output=True, text=True, timeout=600)
                    data = json.loads(out.stdout)
                    if data["errors"]:
                        errors.append(f"floor RSA-{bits}: {data}")
                    for signer in ("openssl", "gnutls"):
                        results.setdefault((SIGNER_ROWS[bits, signer], "floor"), []).append(
                            data["server_cpu_us_per_connection"])
                    continue
                server = servers[who]
                before = server.cpu()
                data = client(["--port", str(server.ports[0 if bits == 2048 else 1]), "--ca", str(pki / "ca.pem"),
                               "--priority", CLIENT_TLS13 + RSA_ONLY, "--connections", str(n)])
                cpu = server.cpu() - before
                if data["errors"]:
                    errors.append(f"{who} RSA-{bits}: {data}")
                rows = [SIGNER_ROWS[bits, s] for s in ("openssl", "gnutls")] if who == "ssl" else [SIGNER_ROWS[bits, who]]
                for row in rows:
                    kind = "ssl" if who == "ssl" else "gtls"
                    results.setdefault((row, kind), []).append(per_unit("µs/conn", cpu, data))
                    walls.setdefault((row, kind), []).append(data["seconds"])
    finally:
        for server in servers.values():
            server.stop()


SCALE_COUNTS = (1, 100, 1000)
IDLE_CONNECTIONS = {False: 2000, True: 100}  # by --smoke


def extra_rows(smoke):
    """Rows that do not come from scenarios(): memory and scale."""
    counts = (1, 10) if smoke else SCALE_COUNTS
    rows = [(STAPLE_COST, "µs/conn"), ("Idle keep-alive connection memory", "KiB/conn"),
            (RESUMED_SAME, "µs/conn"), (RESUMED_OTHER, "µs/conn")]
    rows += [(name, "µs/conn") for name in TOKEN_ROWS.values()]
    rows += [(name, "µs/conn") for name in SIGNER_ROWS.values()]
    rows += [(f"SNI handshake, {c} vhosts", "µs/conn") for c in counts]
    rows += [(f"Startup, {c} vhosts", "s") for c in counts]
    rows += [(f"Memory after start, {c} vhosts", "MiB") for c in counts]
    return rows


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup in `finally`
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a short run that only checks the benchmark works")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", default=str(ROOT / "bench/RESULTS.md"))
    args = parser.parse_args()
    rounds = 1 if args.smoke else max(5, args.rounds)

    workdir = Path(tempfile.mkdtemp(prefix="gtls-bench-"))
    os.chmod(workdir, 0o755)
    pki = make_pki(workdir)
    ocsp_port = free_port()
    responder = start_ocsp_responder(pki, ocsp_port)
    servers = {kind: Server(kind, workdir, pki, (free_port(), free_port(), free_port()), ocsp_port)
               for kind in ("gtls", "ssl")}
    results = {}  # (scenario, who) -> list of per-unit CPU; walls likewise
    walls = {}
    suites = {}  # who -> scenario -> cipher suite the server chose
    served_keys = {}  # who -> scenario -> key type of the chain the server served
    errors = []
    try:
        wait_port(ocsp_port)
        for server in servers.values():
            server.start()
        # Warm up: mod_ssl fetches its staples, both fill their caches.
        for kind, server in servers.items():
            for port in server.ports:
                client(["--port", str(port), "--ca", str(pki / "ca.pem"), "--connections", "20",
                        "--priority", CLIENT_TLS13 + ECDSA_ONLY])
                client(["--port", str(port), "--ca", str(pki / "ca.pem"), "--connections", "20",
                        "--priority", CLIENT_TLS13 + RSA_ONLY])
        for round_number in range(rounds):
            plan = [(s, who) for s in scenarios(args.smoke) for who in ("gtls", "ssl", "floor")]
            random.shuffle(plan)
            for (name, unit, client_args, port_index, floor_args), who in plan:
                print(f"  {who}: {name}", file=sys.stderr, flush=True)
                if who == "floor":
                    if floor_args is None:
                        continue
                    floor = list(floor_args)
                    if "--staple" in floor:
                        key = floor[floor.index("--staple") + 1]
                        floor[floor.index("--staple") + 1] = str(pki / f"localhost-{key}.ocsp.der")
                    key_type = "rsa" if RSA_ONLY in floor[floor.index("--client-priority") + 1] else "ecdsa"
                    count = client_args[client_args.index("--connections") + 1]
                    for transport, extra in (("floor", []), ("floor-tcp", ["--tcp"])):
                        out = subprocess.run([str(ROOT / "build/bench/gtls-bench-floor"),
                                              "--chain", str(pki / f"localhost-{key_type}.chain.pem"),
                                              "--key", str(pki / f"localhost-{key_type}.key"),
                                              "--ca", str(pki / "ca.pem"), "--connections", count, *floor, *extra],
                                             capture_output=True, text=True, timeout=600)
                        data = json.loads(out.stdout)
                        if data["errors"]:
                            errors.append(f"{transport} {name}: {data}")
                        results.setdefault((name, transport), []).append(data["server_cpu_us_per_connection"])
                    continue
                server = servers[who]
                before = server.cpu()
                data = client(["--port", str(server.ports[port_index]), "--ca", str(pki / "ca.pem"), *client_args])
                cpu = server.cpu() - before
                if data["errors"]:
                    errors.append(f"{who} {name}: {data}")
                if "staple" in name and ", staple" in name and data["stapled"] < data["connections"]:
                    errors.append(f"{who} {name}: only {data['stapled']} of {data['connections']} handshakes stapled")
                results.setdefault((name, who), []).append(per_unit(unit, cpu, data))
                walls.setdefault((name, who), []).append(data["seconds"])
                if data.get("suite"):
                    suites.setdefault(who, {})[name] = data["suite"]
                if data.get("server_key"):
                    served_keys.setdefault(who, {})[name] = data["server_key"]
            for who in random.sample(list(servers), len(servers)):
                print(f"  {who}: idle connection memory", file=sys.stderr, flush=True)
                results.setdefault(("Idle keep-alive connection memory", who), []).append(
                    idle_connection_memory(servers[who], servers[who].ports[1], pki / "ca.pem",
                                           IDLE_CONNECTIONS[args.smoke]))
            print(f"round {round_number + 1}/{rounds} done", file=sys.stderr)
        print("  stapling's own cost: paired runs", file=sys.stderr, flush=True)
        staple_pairs(servers, pki, 4 if args.smoke else 12, 60 if args.smoke else 1000, results, errors)
    finally:
        for server in servers.values():
            server.stop()
        responder.shutdown()
    print("  fleet: resumption across two servers", file=sys.stderr, flush=True)
    fleet_round(workdir, pki, rounds, args.smoke, results, walls, errors)
    print("  RSA signers: GnuTLSRSASigner openssl and gnutls, RSA-2048 and RSA-3072", file=sys.stderr, flush=True)
    signer_round(workdir, pki, rounds, args.smoke, results, walls, errors)
    print("  PKCS #11: keys on SoftHSM and in files", file=sys.stderr, flush=True)
    token_round(workdir, pki, rounds, args.smoke, results, walls, errors)
    print("  scale: 1..N name-based vhosts", file=sys.stderr, flush=True)
    scale_round(workdir, pki, (1, 10) if args.smoke else SCALE_COUNTS, rounds, args.smoke, results, walls, errors)
    micro = staple_micro_benchmark(workdir)
    write_report(args, rounds, results, walls, errors, micro, suites, served_keys)
    shutil.rmtree(workdir, ignore_errors=True)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    return 0


def staple_micro_benchmark(workdir):
    """ns per call of the staple path (bench/staple_callback_bench.cc), or None."""
    program = ROOT / "build/bench/gtls-bench-staple"
    if not program.exists():
        return None
    fixtures = Path(workdir) / "ocsp-fixtures"
    subprocess.run([str(ROOT / "tests/fixtures/make-ocsp-fixtures.sh"), str(fixtures)], check=True,
                   capture_output=True)
    result = subprocess.run([str(program), "--benchmark_format=json", "--benchmark_min_time=0.2"],
                            capture_output=True, text=True, env={**os.environ, "GTLS_BENCH_FIXTURES": str(fixtures)})
    if result.returncode != 0:
        return None
    return {b["name"]: b["cpu_time"] for b in json.loads(result.stdout)["benchmarks"]}


def write_report(args, rounds, results, walls, errors, micro, suites, served_keys):
    names = [(s[0], s[1]) for s in scenarios(args.smoke)] + extra_rows(args.smoke)
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.machine())
    lines = ["# mod_gtls benchmark results", "",
             f"- command: `bench/run.py{' --smoke' if args.smoke else ''}`; {rounds} interleaved round(s), "
             "order shuffled per round",
             f"- machine: {os.cpu_count()} cores, {cpu_model}; {platform.platform()}",
             f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             "- figure: server CPU time (utime+stime of the httpd process tree) per unit; floor = GnuTLS server "
             "thread in-process (bench/floor.cc)", "",
             "| scenario | unit | mod_gtls min | mod_gtls median | mod_ssl min | mod_ssl median | floor median "
             "| floor over TCP | gtls/ssl | gtls/floor |", "|---|---|---|---|---|---|---|---|---|---|"]
    chart = []
    for name, unit in names:
        g, s, f, ft = (results.get((name, who), []) for who in ("gtls", "ssl", "floor", "floor-tcp"))
        gm = statistics.median(g) if g else float("nan")
        sm = statistics.median(s) if s else float("nan")
        fm = statistics.median(f) if f else float("nan")
        cell = lambda v: "–" if v != v else f"{v:.1f}"  # noqa: E731
        if unit in ("s", "MiB"):
            cell = lambda v: "–" if v != v else f"{v:.2f}"  # noqa: E731
        is_difference = name == STAPLE_COST  # a ratio of two differences near zero means nothing
        lines.append(f"| {name} | {unit} | {cell(min(g) if g else float('nan'))} | {cell(gm)} | "
                     f"{cell(min(s) if s else float('nan'))} | {cell(sm)} | {cell(fm)} | "
                     f"{cell(statistics.median(ft)) if ft else '–'} | "
                     f"{cell(gm / sm) if sm and not is_difference else '–'} | "
                     f"{cell(gm / fm) if f and not is_difference else '–'} |")
        if unit not in ("s", "MiB") and not is_difference:  # the chart shows cost ratios only
            chart.append((name, gm / sm if sm else float("nan"), gm / fm if f else float("nan")))
    counts = (1, 10) if args.smoke else SCALE_COUNTS
    one, most = (statistics.median(results.get((f"SNI handshake, {c} vhosts", "gtls"), [float("nan")]))
                 for c in (counts[0], counts[-1]))
    median = lambda key: statistics.median(results[key]) if results.get(key) else float("nan")  # noqa: E731
    plain, staple, floor = median((PLAIN_HTTP, "gtls")), median((ECDSA_STAPLE, "gtls")), median((ECDSA_STAPLE, "floor"))
    lines += ["", f"TLS inside httpd (ECDSA with staple minus the same httpd's plain-HTTP connection): "
              f"{staple - plain:.0f} µs = {(staple - plain) / floor:.2f} × the floor; "
              f"the floor plus httpd's own cost: {(floor + plain):.0f} µs = {(floor + plain) / floor:.2f} × the floor."]
    token_ratios = [f"{label} {median((TOKEN_ROWS[key_type, True], 'gtls')) / median((TOKEN_ROWS[key_type, False], 'gtls')):.2f}"
                    for key_type, label in (("ecdsa", "ECDSA"), ("rsa", "RSA-2048"))]
    lines += ["", "Keys on a SoftHSM2 token (PKCS #11) against the same keys in files, same httpd, server CPU per full "
              "TLS 1.3 handshake: " + ", ".join(token_ratios) + " (mod_ssl not measured: it has no PKCS #11 key support "
              "without an OpenSSL provider)."]
    chosen = {who: suites.get(who, {}).get(ECDSA_STAPLE, "?") for who in ("gtls", "ssl")}
    lines += ["", f"Cipher suite each server chose for the benchmark client (GnuTLS NORMAL order) in the TLS 1.3 "
              f"scenarios: mod_gtls {chosen['gtls']} (its default), mod_ssl {chosen['ssl']} (told to prefer the same "
              "suite; with Debian's default it would follow the client to TLS_AES_256_GCM_SHA384)."]
    for name in (BROWSER_TLS13, BROWSER_TLS12):
        keys = {who: served_keys.get(who, {}).get(name, "?") for who in ("gtls", "ssl")}
        lines += ["", f"{name}: chain served by mod_gtls {keys['gtls']}, by mod_ssl {keys['ssl']}; "
                  f"mod_gtls/mod_ssl CPU {median((name, 'gtls')) / median((name, 'ssl')):.2f} (goal: ECDSA and ≤ 0.6)."]
    cost = {who: median((STAPLE_COST, who)) for who in ("gtls", "ssl", "floor")}
    lines += ["", f"Stapling's own cost, median of paired on/off runs (on-CPU time from schedstat): mod_gtls "
              f"{cost['gtls']:.1f} µs, mod_ssl {cost['ssl']:.1f} µs, floor {cost['floor']:.1f} µs per handshake "
              f"(goal: mod_gtls ≤ floor + 3 µs)."]
    lines += ["", f"mod_gtls handshake CPU with {counts[-1]} vhosts / with {counts[0]}: {most / one:.2f}",
              "Memory is the proportional set size (PSS) of the httpd process tree; idle connection memory is its "
              f"growth with {IDLE_CONNECTIONS[args.smoke]:,} idle keep-alive TLS 1.3 connections, per connection."]
    lines += ["", "Ratios below 1.0 mean mod_gtls used less server CPU. Wall-clock seconds per client run (median):", ""]
    for name, _ in names:
        g, s = walls.get((name, "gtls"), []), walls.get((name, "ssl"), [])
        if g and s:
            lines.append(f"- {name}: mod_gtls {statistics.median(g):.3f} s, mod_ssl {statistics.median(s):.3f} s")
    if micro:
        lines += ["", "Staple path alone (bench/staple_callback_bench.cc, CPU ns per call):", ""]
        lines += [f"- {name}: {ns:,.0f} ns" for name, ns in micro.items()]
    if errors:
        lines += ["", "Errors during the run:", ""] + [f"- {e}" for e in errors]
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    png = output.with_suffix(".png")
    if shutil.which("gnuplot"):
        data = output.with_suffix(".dat")
        data.write_text("".join(f'"{n}" {a:.3f} {b:.3f}\n' for n, a, b in chart).replace("nan", "NaN"))
        script = (f'set terminal pngcairo noenhanced size 1000,500; set output "{png}"; set style data histogram;'
                  'set style histogram cluster gap 1; set style fill solid 0.8; set ylabel "server CPU ratio";'
                  'set xtics rotate by -25 font ",8"; set yrange [0:*]; set grid ytics;'
                  f'plot "{data}" using 2:xtic(1) title "mod_gtls / mod_ssl", "" using 3 title "mod_gtls / GnuTLS floor",'
                  ' 1 with lines lt -1 notitle')
        subprocess.run(["gnuplot", "-e", script], check=False)
        data.unlink()
        lines += ["", f"![ratios]({png.name})"]
    output.write_text("\n".join(lines) + "\n")
    print(output.read_text())


if __name__ == "__main__":
    sys.exit(main())
