"""GnuTLSCache on a real memcached and Redis shared by two httpds (127.0.0.1
and 127.0.0.2, same port, a `*:port` virtual host as a fleet has): a TLS 1.2
session made on one resumes on the other; the cache going away costs full
handshakes, not failures, and resumption comes back with it."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import tls_vhost
from harness.httpd import free_port
from test_resumption import reuses, session_of

KINDS = {
    "memcache": lambda port: ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16"] +
                             (["-u", "nobody"] if os.geteuid() == 0 else []),
    "redis": lambda port: ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                           "--appendonly", "no", "--daemonize", "no"],
}


def listening(address, port):
    try:
        socket.create_connection((address, port), timeout=1).close()
        return True
    except OSError:
        return False


def wait_listening(address, port, timeout=10):
    deadline = time.monotonic() + timeout
    while not listening(address, port):
        assert time.monotonic() < deadline, f"nothing listens on {address}:{port}"
        time.sleep(0.05)


class CacheServer:
    def __init__(self, kind, port):
        self.kind, self.port, self.process = kind, port, None

    def start(self):
        self.process = subprocess.Popen(KINDS[self.kind](self.port), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_listening("127.0.0.1", self.port)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)


@pytest.fixture(params=sorted(KINDS))
def cache(request):
    binary = KINDS[request.param](0)[0]
    if shutil.which(binary) is None:
        pytest.fail(f"{binary} is not installed (scripts/install-deps.sh installs it)")
    server = CacheServer(request.param, free_port())
    server.start()
    yield server
    server.stop()


def start_httpd(httpd_factory, pki, port, address, cache):
    server = httpd_factory(extra_modules=[f"socache_{cache.kind}"])
    vhost = tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")], extra="  GnuTLSSessionTickets Off")
    server.write_config(f"GnuTLSCache {cache.kind}:127.0.0.1:{cache.port}\nListen {address}:{port}\n" +
                        vhost.replace(f"127.0.0.1:{port}", f"*:{port}"))
    server.start()
    wait_listening(address, port)
    return server


def test_a_session_made_on_one_server_resumes_on_the_other(httpd_factory, pki, port, tmp_path, cache):
    start_httpd(httpd_factory, pki, port, "127.0.0.1", cache)
    start_httpd(httpd_factory, pki, port, "127.0.0.2", cache)
    session = tmp_path / "session.pem"
    assert session_of(port, pki, "a.test", session, "-tls1_2", address="127.0.0.1")
    assert reuses(port, pki, "a.test", session, "-tls1_2", address="127.0.0.2")


def test_cache_server_going_away_and_coming_back(httpd_factory, pki, port, tmp_path, cache):
    server = start_httpd(httpd_factory, pki, port, "127.0.0.1", cache)
    # httpd's cache providers log each failed store themselves.
    server.allow_error(r"\[socache_(redis|memcache):")
    cache.stop()
    # Handshakes go on, full ones (s_client fails the test if one fails).
    session = tmp_path / "session.pem"
    session_of(port, pki, "a.test", session, "-tls1_2")
    assert not reuses(port, pki, "a.test", session, "-tls1_2")
    cache.start()
    deadline = time.monotonic() + 30
    while True:
        session_of(port, pki, "a.test", session, "-tls1_2")
        if reuses(port, pki, "a.test", session, "-tls1_2"):
            break
        assert time.monotonic() < deadline, "resumption did not come back with the cache server"
        time.sleep(1)


def test_a_hung_cache_server_costs_one_timeout_not_one_per_handshake(httpd_factory, pki, port, tmp_path, cache):
    """A cache server that stops answering (SIGSTOP: connections stay open,
    nothing comes back; httpd's memcache provider would wait forever) delays
    no handshake by more than mod_gtls's own 500 ms wait: sessions are stored
    off the handshake, a lookup gives up in time, the outage is logged once
    per process, and resumption returns with the server."""
    server = start_httpd(httpd_factory, pki, port, "127.0.0.1", cache)
    server.allow_error(r"\[socache_(redis|memcache):")
    session = tmp_path / "session.pem"
    os.kill(cache.process.pid, signal.SIGSTOP)
    try:
        durations = []
        for round in range(3):
            for _ in range(4):
                began = time.monotonic()
                session_of(port, pki, "a.test", session, "-tls1_2")
                assert not reuses(port, pki, "a.test", session, "-tls1_2")
                durations.append(time.monotonic() - began)
            time.sleep(1)
        # Without the bound: memcache waits forever, redis RedisTimeout (5 s) per call.
        assert max(durations) < 3, durations
        log = server.read_error_log()
        assert 1 <= log.count("GTLS0404") <= len(server.children()), log
    finally:
        os.kill(cache.process.pid, signal.SIGCONT)
    deadline = time.monotonic() + 30
    while True:
        session_of(port, pki, "a.test", session, "-tls1_2")
        if reuses(port, pki, "a.test", session, "-tls1_2"):
            break
        assert time.monotonic() < deadline, "resumption did not come back with the cache server"
        time.sleep(1)
    assert "GTLS0405" in server.read_error_log()
