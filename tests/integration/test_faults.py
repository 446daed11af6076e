"""Faults under load: response files rotated while clients handshake, clients
aborting at every point of the handshake, clock jumps, and a thousand vhosts
with their own files. Each loop is bounded and stops by itself."""
import concurrent.futures
import hashlib
import os
import random
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import tls_vhost
from harness.clients import curl
from harness.ocsp import _index_line, make_response, replace_atomically
from test_stapling import ECDSA_ONLY, RSA_ONLY, received_staple

PROBE = Path(os.environ.get("GTLS_BUILD_DIR", Path(__file__).resolve().parents[2] / "build")) / \
    "tests/integration/gtls-staple-probe"
FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def probe(port, sni, ca, priority, seconds=None, connections=None):
    """Starts gtls-staple-probe; its stdout has one line per handshake."""
    args = [str(PROBE), "--port", str(port), "--sni", sni, "--ca", str(ca), "--priority", priority]
    args += ["--seconds", str(seconds)] if seconds else ["--connections", str(connections)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def probe_lines(port, sni, ca, priority, connections):
    process = probe(port, sni, ca, priority, connections=connections)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out.split()


def dual_chain_server(httpd_factory, pki, port, interval):
    """An httpd with one vhost, an RSA and an ECDSA chain and a response file
    for each in its own ocsp/ directory (not written yet)."""
    rsa, ecdsa = pki.leaf("a.test", "rsa"), pki.leaf("a.test", "ecdsa")
    server = httpd_factory()
    files = server.root / "ocsp"
    files.mkdir()
    os.chmod(files, 0o755)
    extra = "\n".join([f'  GnuTLSOCSPResponseFile "{files}/rsa.der"', f'  GnuTLSOCSPResponseFile "{files}/ecdsa.der"',
                       f"  GnuTLSOCSPCheckInterval {interval}"])
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [rsa, ecdsa], extra=extra))
    return server, files, rsa, ecdsa


# --- rotation under load ---------------------------------------------------

def test_rotated_files_only_ever_staple_a_valid_response(httpd_factory, pki, port, tmp_path):
    # Every worker checks its files every 250 ms (interval 0).
    server, files, rsa, ecdsa = dual_chain_server(httpd_factory, pki, port, interval=0)
    valid = {kind: [make_response(pki, leaf, tmp_path / f"{kind}-{i}.der", days=2 + i) for i in range(5)]
             for kind, leaf in (("rsa", rsa), ("ecdsa", ecdsa))}
    wrong = make_response(pki, pki.leaf("other.test", "ecdsa"), tmp_path / "other.der")
    for kind in valid:
        replace_atomically(files / f"{kind}.der", valid[kind][0])
    server.start(wait_port=port)

    probes = [(kind, version, probe(port, "a.test", pki.ca, f"{priority}:-VERS-ALL:{version}", seconds=14))
              for kind, priority in (("rsa", RSA_ONLY), ("ecdsa", ECDSA_ONLY))
              for version in ("+VERS-TLS1.3", "+VERS-TLS1.2")]
    rng = random.Random(7)

    def rotate():
        for i in range(200):
            for kind in valid:
                path = files / f"{kind}.der"
                good = rng.choice(valid[kind])
                step = i % 5
                if step == 0:  # a new valid file, renamed over the old
                    replace_atomically(path, good)
                elif step == 1:  # garbage, renamed
                    replace_atomically(path, os.urandom(rng.randint(1, 2000)))
                elif step == 2:  # rewritten in place, half now, the rest a moment later
                    with open(path, "wb") as out:
                        out.write(good[:len(good) // 2])
                        out.flush()
                        time.sleep(0.02)
                        out.write(good[len(good) // 2:])
                elif step == 3:  # another certificate's valid response, in place
                    path.write_bytes(wrong)
                else:  # a valid one rewritten in place at once
                    path.write_bytes(good)
            time.sleep(0.03)
        for kind in valid:  # end on a valid file
            replace_atomically(files / f"{kind}.der", valid[kind][-1])

    rotator = threading.Thread(target=rotate)
    rotator.start()
    rotator.join(timeout=120)
    assert not rotator.is_alive()
    allowed = {kind: {sha256(r) for r in valid[kind]} for kind in valid}
    for kind, version, process in probes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        lines = out.split("\n")[:-1]
        assert len(lines) > 100, f"{kind} {version}: only {len(lines)} handshakes"
        errors = [line for line in lines if line.startswith("error")]
        assert errors == [], f"{kind} {version}: {errors[:5]}"
        seen = set(lines)
        assert seen <= allowed[kind], f"{kind} {version}: stapled something never valid: {seen - allowed[kind]}"
        assert len(seen) >= 2, f"{kind} {version}: the rotation was never picked up ({seen})"


# --- aborted handshakes ----------------------------------------------------

def client_hello(sni):
    """The bytes of a real TLS 1.3 ClientHello (made without a network)."""
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def abort_once(port, hello, rng):
    """One client that gives up at a random point of the handshake."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        mode = rng.randrange(4)
        if mode == 0:  # part of the ClientHello, then gone
            sock.sendall(hello[:rng.randrange(len(hello))])
        elif mode == 1:  # the ClientHello, then gone before the answer
            sock.sendall(hello)
        elif mode == 2:  # the ClientHello, part of the server's flight read, then a reset
            sock.sendall(hello)
            sock.recv(rng.randint(1, 3000))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        else:  # the ClientHello and the whole server flight, then garbage instead of Finished
            sock.sendall(hello)
            sock.settimeout(0.5)
            try:
                while sock.recv(65536):
                    pass
            except socket.timeout:
                pass
            sock.sendall(b"\x17\x03\x03\x00\x10" + os.urandom(16))
    except OSError:
        pass  # the server may close first; that is fine
    finally:
        sock.close()


def proc_status(pid, field):
    return int(next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith(f"{field}:")))


def worker_state(server):
    """(open descriptors, RSS KiB) of the one worker process (the threaded
    child; mod_cgid's daemon is the other, single-threaded one)."""
    (worker,) = [pid for pid in server.children() if proc_status(pid, "Threads") > 1]
    return len(os.listdir(f"/proc/{worker}/fd")), proc_status(worker, "VmRSS")


def test_aborted_handshakes_leak_neither_descriptors_nor_memory(httpd_factory, pki, port):
    server = httpd_factory(mpm="event")
    server.write_config(f"Listen 127.0.0.1:{port}\nStartServers 1\nServerLimit 1\nThreadsPerChild 25\n"
                        "MaxRequestWorkers 25\nMinSpareThreads 1\nMaxSpareThreads 25\n" +
                        tls_vhost(port, "a.test", [pki.leaf("a.test", "rsa"), pki.leaf("a.test", "ecdsa")]))
    server.start(wait_port=port)
    hello = client_hello("a.test")
    rng = random.Random(11)

    def aborts(count):
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: abort_once(port, hello, rng), range(count)))
        time.sleep(3)  # lingering closes end within 2 s

    aborts(300)  # warm-up: thread stacks, allocator arenas, session caches
    fds_before, rss_before = worker_state(server)
    aborts(1000)
    fds_after, rss_after = worker_state(server)
    print(f"1000 aborted handshakes: descriptors {fds_before} -> {fds_after}, RSS {rss_before} -> {rss_after} KiB")
    assert fds_after <= fds_before + 2, (fds_before, fds_after)
    if not os.environ.get("GTLS_SANITIZER_PRELOAD"):  # ASan keeps freed memory in quarantine (up to 256 MB)
        assert rss_after - rss_before < 3 * 1024, f"RSS grew by {rss_after - rss_before} KiB over 1000 aborted handshakes"
    status, _, _, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port)
    assert status == 200, err


# --- clock jumps -----------------------------------------------------------

@pytest.mark.skipif(not FAKETIME.exists(), reason="libfaketime is not installed")
@pytest.mark.skipif(bool(os.environ.get("GTLS_SANITIZER_PRELOAD")),
                    reason="libfaketime and ASan both interpose libc; httpd hangs at start with both")
def test_clock_jumps_never_staple_an_expired_or_future_response(httpd_factory, pki, port, tmp_path):
    server, files, rsa, ecdsa = dual_chain_server(httpd_factory, pki, port, interval=1)
    clock = server.root / "faketime"  # read by the workers too, as httpd's User
    clock.write_text("+0d\n")
    os.chmod(clock, 0o644)
    responses = {"rsa": make_response(pki, rsa, files / "rsa.der", days=2),
                 "ecdsa": make_response(pki, ecdsa, files / "ecdsa.der", days=2)}
    server.extra_preload.append(str(FAKETIME))
    server.extra_environment.update({"FAKETIME_TIMESTAMP_FILE": str(clock), "FAKETIME_NO_CACHE": "1",
                                     "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
    server.start(wait_port=port)

    def staples():
        return {kind: set(probe_lines(port, "a.test", pki.ca, priority, 3))
                for kind, priority in (("rsa", RSA_ONLY), ("ecdsa", ECDSA_ONLY))}

    assert staples() == {kind: {sha256(r)} for kind, r in responses.items()}
    clock.write_text("+3d\n")  # past nextUpdate: nothing may be stapled
    time.sleep(1.5)
    assert staples() == {"rsa": {"none"}, "ecdsa": {"none"}}
    clock.write_text("-1d\n")  # thisUpdate is now a day ahead: not yet valid
    time.sleep(1.5)
    assert staples() == {"rsa": {"none"}, "ecdsa": {"none"}}
    clock.write_text("+0d\n")  # back to the real time: the files are valid again
    wait_until_stapled = time.monotonic() + 10
    while staples() != {kind: {sha256(r)} for kind, r in responses.items()}:
        assert time.monotonic() < wait_until_stapled, "stapling did not resume when the clock came back"
        time.sleep(0.5)


# --- a thousand vhosts -------------------------------------------------------

def test_a_thousand_vhosts_each_staple_their_own(httpd_factory, pki, port, tmp_path):
    count = 1000
    server = httpd_factory()
    work = server.root / "many"  # the workers re-read the response files as httpd's User
    work.mkdir()
    os.chmod(work, 0o755)
    keys = {"rsa": pki.leaf("key-donor.test", "rsa").key, "ecdsa": pki.leaf("key-donor.test", "ecdsa").key}
    index = work / "index.txt"

    def make(args):
        i, kind = args
        name = f"v{i}.many.test"
        base = work / f"{name}-{kind}"
        template = Path(f"{base}.tmpl")
        template.write_text(f'cn = "{name}"\ndns_name = "{name}"\ntls_www_server\nsigning_key\n'
                            f'encryption_key\nexpiration_days = 30\nserial = {i * 2 + (kind == "rsa") + 1000}\n')
        subprocess.run(["certtool", "--generate-certificate", "--load-privkey", str(keys[kind]),
                        "--load-ca-certificate", str(pki.intermediate), "--load-ca-privkey", str(pki.intermediate_key),
                        "--template", str(template), "--outfile", f"{base}.pem"], check=True, capture_output=True)
        Path(f"{base}.chain.pem").write_text(Path(f"{base}.pem").read_text() + pki.intermediate.read_text())
        return i, kind, base

    jobs = [(i, kind) for i in range(1, count + 1) for kind in ("rsa", "ecdsa")]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        made = list(pool.map(make, jobs))
    index.write_text("".join(_index_line("V", Path(f"{base}.pem")) for _, _, base in made))
    Path(f"{index}.attr").write_text("unique_subject = no\n")

    def sign(entry):
        _, _, base = entry
        subprocess.run(["openssl", "ocsp", "-index", str(index), "-rsigner", str(pki.intermediate),
                        "-rkey", str(pki.intermediate_key), "-CA", str(pki.intermediate), "-issuer",
                        str(pki.intermediate), "-cert", f"{base}.pem", "-ndays", "2", "-respout", f"{base}.der"],
                       check=True, capture_output=True)
        os.chmod(f"{base}.der", 0o644)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(sign, made))

    vhosts = []
    for i in range(1, count + 1):
        base = {kind: work / f"v{i}.many.test-{kind}" for kind in ("rsa", "ecdsa")}
        vhosts += [f"<VirtualHost 127.0.0.1:{port}>", f"  ServerName v{i}.many.test", "  GnuTLSEnable On"]
        for kind in ("rsa", "ecdsa"):
            vhosts += [f'  GnuTLSCertificateFile "{base[kind]}.chain.pem"', f'  GnuTLSKeyFile "{keys[kind]}"']
        vhosts += [f'  GnuTLSOCSPResponseFile "{base[kind]}.der"' for kind in ("rsa", "ecdsa")]
        vhosts.append("</VirtualHost>")
    server.write_config(f"Listen 127.0.0.1:{port}\n" + "\n".join(vhosts) + "\n")
    started = time.monotonic()
    server.start(wait_port=port)
    print(f"1000 vhosts x 2 chains started in {time.monotonic() - started:.2f} s")
    for i in (1, 2, 500, 999, 1000):
        for kind, priority in (("rsa", RSA_ONLY), ("ecdsa", ECDSA_ONLY)):
            expected = Path(work / f"v{i}.many.test-{kind}.der").read_bytes()
            assert received_staple(port, f"v{i}.many.test", pki, priority, tmp_path) == expected, (i, kind)
