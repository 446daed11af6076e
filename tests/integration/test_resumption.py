"""Session resumption as the client reports it: tickets and the session cache."""
import subprocess
import time

import pytest

from conftest import tls_vhost
from harness.clients import gnutls_cli, s_client

TLS12 = "NORMAL:-VERS-ALL:+VERS-TLS1.2"
TLS13 = "NORMAL:-VERS-ALL:+VERS-TLS1.3"


def start(httpd_factory, pki, port, vhost_extra="", session_cache=False):
    server = httpd_factory()
    cache = f"GnuTLSCache shmcb:{server.root}/logs/gtls_cache(512000)\n" if session_cache else ""
    server.write_config(cache + f"Listen 127.0.0.1:{port}\n" +
                        tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")], extra=vhost_extra))
    server.start(wait_port=port)
    return server


def resumed(port, pki, priority, extra=()):
    code, out = gnutls_cli(port, "a.test", pki.ca, priority=priority, extra=["--resume", *extra])
    assert code == 0, out
    return "This is a resumed session" in out


@pytest.mark.parametrize("priority", [TLS13, TLS12])
def test_tickets_resume(httpd_factory, pki, port, priority):
    start(httpd_factory, pki, port)
    assert resumed(port, pki, priority)


def test_tls13_resumption_reported_by_openssl(httpd_factory, pki, port, tmp_path):
    start(httpd_factory, pki, port)
    session = tmp_path / "session.pem"
    code, out = s_client(port, "a.test", pki.ca, extra=["-tls1_3", "-sess_out", str(session)],
                         input_bytes=b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    assert code == 0, out
    code, out = s_client(port, "a.test", pki.ca, extra=["-tls1_3", "-sess_in", str(session)])
    assert code == 0, out
    assert "Reused, TLSv1.3" in out


def test_tls12_session_cache_without_tickets(httpd_factory, pki, port):
    start(httpd_factory, pki, port, vhost_extra="  GnuTLSSessionTickets Off", session_cache=True)
    assert resumed(port, pki, TLS12, extra=["--noticket"])


def test_no_tickets_and_no_cache_means_no_resumption(httpd_factory, pki, port):
    start(httpd_factory, pki, port, vhost_extra="  GnuTLSSessionTickets Off")
    assert not resumed(port, pki, TLS12, extra=["--noticket"])
    assert not resumed(port, pki, TLS13)


def test_tickets_of_one_vhost_do_not_resume_on_another(httpd_factory, pki, port):
    server = httpd_factory()
    server.write_config(f"Listen 127.0.0.1:{port}\n" +
                        tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")]) +
                        tls_vhost(port, "b.test", [pki.leaf("b.test", "ecdsa")]))
    server.start(wait_port=port)
    code, out = gnutls_cli(port, "a.test", pki.ca, priority=TLS13, extra=["--resume"])
    assert "This is a resumed session" in out, out
    # gnutls-cli resumes against the same name; a different vhost must do a full handshake.
    code, out = s_client(port, "a.test", pki.ca, extra=["-tls1_3", "-sess_out", str(server.root / "s.pem")],
                         input_bytes=b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    assert code == 0, out
    code, out = s_client(port, "b.test", pki.ca, extra=["-tls1_3", "-sess_in", str(server.root / "s.pem")])
    assert "Reused" not in out


GET = b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"


def openssl_resumes(port, pki, session, version_arg, extra=(), session_required=True):
    """Full handshake saving the session, then a second connection offering it;
    returns True when openssl reports the second one as reused. Without
    `session_required`, no session to save (TLS 1.3 without tickets) means False."""
    code, out = s_client(port, "a.test", pki.ca, extra=[version_arg, "-ign_eof", "-sess_out", str(session), *extra],
                         input_bytes=GET)
    assert code == 0, out
    assert "HTTP/1.1 200" in out, out
    if not session_required and not session.exists():
        return False
    assert session.exists() and session.stat().st_size > 0, out
    code, out = s_client(port, "a.test", pki.ca, extra=[version_arg, "-ign_eof", "-sess_in", str(session), *extra],
                         input_bytes=GET)
    assert code == 0, out
    assert "HTTP/1.1 200" in out, out
    return "Reused, TLSv1" in out


@pytest.mark.parametrize("version_arg", ["-tls1_2", "-tls1_3"])
def test_openssl_ticket_resumption(httpd_factory, pki, port, tmp_path, version_arg):
    start(httpd_factory, pki, port)
    assert openssl_resumes(port, pki, tmp_path / "s.pem", version_arg)


def test_openssl_tls12_session_id_cache(httpd_factory, pki, port, tmp_path):
    start(httpd_factory, pki, port, vhost_extra="  GnuTLSSessionTickets Off", session_cache=True)
    assert openssl_resumes(port, pki, tmp_path / "s.pem", "-tls1_2", extra=["-no_ticket"])


def test_openssl_no_tickets_no_cache(httpd_factory, pki, port, tmp_path):
    start(httpd_factory, pki, port, vhost_extra="  GnuTLSSessionTickets Off")
    assert not openssl_resumes(port, pki, tmp_path / "s12.pem", "-tls1_2")
    assert not openssl_resumes(port, pki, tmp_path / "s13.pem", "-tls1_3", session_required=False)


def test_legacy_two_word_dbm_cache_resumes(httpd_factory, pki, port):
    server = httpd_factory(extra_modules=["socache_dbm"])
    server.write_config(f"GnuTLSCache dbm {server.root}/logs/gtls_cache\n"
                        f"Listen 127.0.0.1:{port}\n" +
                        tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")], extra="  GnuTLSSessionTickets Off"))
    server.start(wait_port=port)
    assert resumed(port, pki, TLS12, extra=["--noticket"])


@pytest.mark.parametrize("mode", ["tls13-ticket", "tls12-ticket", "tls12-cache"])
def test_resumption_in_another_process(httpd_factory, pki, port, tmp_path, mode):
    """prefork serves one connection per process: while the first connection is
    still open, the resuming one is necessarily served by another process, so
    ticket keys and the session cache must be shared across processes."""
    server = httpd_factory(mpm="prefork")
    tickets = "On" if "ticket" in mode else "Off"
    cache = f"GnuTLSCache shmcb:{server.root}/logs/gtls_cache(512000)\n" if mode == "tls12-cache" else ""
    server.write_config(cache + "StartServers 3\nMinSpareServers 3\n" + f"Listen 127.0.0.1:{port}\n" +
                        tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")],
                                  extra=f"  GnuTLSSessionTickets {tickets}\n"
                                        f'  CustomLog "{server.root}/logs/pids.log" "%P %{{SSL_SESSION_RESUMED}}x"'))
    server.start(wait_port=port)
    version_arg = "-tls1_3" if mode.startswith("tls13") else "-tls1_2"
    extra = ["-no_ticket"] if mode == "tls12-cache" else []
    session = tmp_path / "s.pem"
    first = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "a.test",
                              "-CAfile", str(pki.ca), version_arg, "-sess_out", str(session), *extra],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not (session.exists() and session.stat().st_size > 0):
            assert time.monotonic() < deadline and first.poll() is None, "no session from the first connection"
            time.sleep(0.05)
        # Keep the first connection (and its process) busy with a request in progress.
        first.stdin.write(b"GET / HTTP/1.1\r\nHost: a.test\r\n")
        first.stdin.flush()
        code, out = s_client(port, "a.test", pki.ca,
                             extra=[version_arg, "-ign_eof", "-sess_in", str(session), *extra], input_bytes=GET)
        assert code == 0, out
        assert "Reused, TLSv1" in out and "HTTP/1.1 200" in out, out
    finally:
        first.kill()
        first.wait()
    server.stop()  # flushes the access log
    # The first connection's unfinished request is logged too, when it is cut.
    entries = [line.split() for line in (server.root / "logs" / "pids.log").read_text().splitlines()]
    resumed_pids = {pid for pid, how in entries if how == "Resumed"}
    initial_pids = {pid for pid, how in entries if how == "Initial"}
    assert len(resumed_pids) == 1 and resumed_pids.isdisjoint(initial_pids), entries


@pytest.mark.parametrize("mode", ["tls13-ticket", "tls12-cache"])
def test_session_from_before_a_graceful_restart(httpd_factory, pki, port, tmp_path, mode):
    # A session of the previous generation (old ticket key, or a cache entry) is
    # either resumed or replaced by a full handshake; never an error.
    cache = mode == "tls12-cache"
    server = start(httpd_factory, pki, port, session_cache=cache,
                   vhost_extra="  GnuTLSSessionTickets Off" if cache else "")
    version_arg = "-tls1_2" if cache else "-tls1_3"
    extra = ["-no_ticket"] if cache else []
    session = tmp_path / "s.pem"
    assert openssl_resumes(port, pki, session, version_arg, extra=extra)
    server.graceful()
    code, out = s_client(port, "a.test", pki.ca, extra=[version_arg, "-ign_eof", "-sess_in", str(session), *extra],
                         input_bytes=GET)
    assert code == 0 and "HTTP/1.1 200" in out, out


@pytest.mark.parametrize("mode", ["tls13-ticket", "tls12-ticket", "tls12-cache"])
def test_expired_sessions_are_not_resumed(httpd_factory, pki, port, tmp_path, mode):
    cache = mode == "tls12-cache"
    server = httpd_factory()
    server.write_config((f"GnuTLSCache shmcb:{server.root}/logs/gtls_cache(512000)\n" if cache else "")
                        + "GnuTLSCacheTimeout 1\n" + f"Listen 127.0.0.1:{port}\n"
                        + tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")],
                                    extra="  GnuTLSSessionTickets Off" if cache else ""))
    server.start(wait_port=port)
    version_arg = "-tls1_3" if mode.startswith("tls13") else "-tls1_2"
    extra = ["-no_ticket"] if cache else []
    session = tmp_path / "s.pem"
    code, out = s_client(port, "a.test", pki.ca, extra=[version_arg, "-ign_eof", "-sess_out", str(session), *extra],
                         input_bytes=GET)
    assert code == 0 and session.exists(), out
    time.sleep(3.5)  # well past the 1 s lifetime
    code, out = s_client(port, "a.test", pki.ca, extra=[version_arg, "-ign_eof", "-sess_in", str(session), *extra],
                         input_bytes=GET)
    assert code == 0 and "HTTP/1.1 200" in out, out
    assert "New, TLSv1" in out, out


def session_of(port, pki, sni, session, version_arg, extra=(), address="127.0.0.1"):
    """A full handshake with SNI `sni` that saves its session (if the server gave one)."""
    code, out = s_client(port, sni, pki.ca, extra=[version_arg, "-ign_eof", "-sess_out", str(session), *extra],
                         input_bytes=GET.replace(b"a.test", sni.encode()), address=address)
    assert code == 0 and "HTTP/1.1 200" in out, out
    return session.exists() and session.stat().st_size > 0


def reuses(port, pki, sni, session, version_arg, extra=(), address="127.0.0.1"):
    """Offers `session` with SNI `sni`; True when openssl reports it reused."""
    code, out = s_client(port, sni, pki.ca, extra=[version_arg, "-ign_eof", "-sess_in", str(session), *extra],
                         input_bytes=GET.replace(b"a.test", sni.encode()), address=address)
    assert code == 0 and "HTTP/1.1 200" in out, out
    return "Reused, TLSv1" in out


def two_vhosts(httpd_factory, pki, port, b_extra="", cache=False):
    """a.test is the address's default vhost; b.test is chosen by SNI only."""
    server = httpd_factory()
    server.write_config((f"GnuTLSCache shmcb:{server.root}/logs/gtls_cache(512000)\n" if cache else "") +
                        f"Listen 127.0.0.1:{port}\n" +
                        tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")]) +
                        tls_vhost(port, "b.test", [pki.leaf("b.test", "ecdsa")], extra=b_extra))
    server.start(wait_port=port)
    return server


@pytest.mark.parametrize("version_arg", ["-tls1_2", "-tls1_3"])
def test_tickets_off_on_a_vhost_chosen_by_sni(httpd_factory, pki, port, tmp_path, version_arg):
    """GnuTLSSessionTickets Off on b.test: no ticket is issued there, and a ticket
    of a.test (tickets on) is accepted neither on b.test nor is b.test's
    session resumable on a.test."""
    two_vhosts(httpd_factory, pki, port, b_extra="  GnuTLSSessionTickets Off")
    session_b = tmp_path / "b.pem"
    if session_of(port, pki, "b.test", session_b, version_arg):
        assert not reuses(port, pki, "b.test", session_b, version_arg)
        assert not reuses(port, pki, "a.test", session_b, version_arg)
    session_a = tmp_path / "a.pem"
    assert session_of(port, pki, "a.test", session_a, version_arg)
    assert reuses(port, pki, "a.test", session_a, version_arg)
    assert not reuses(port, pki, "b.test", session_a, version_arg)


@pytest.mark.parametrize("version_arg", ["-tls1_2", "-tls1_3"])
def test_ticket_of_a_vhost_chosen_by_sni_resumes_only_there(httpd_factory, pki, port, tmp_path, version_arg):
    two_vhosts(httpd_factory, pki, port)
    session = tmp_path / "b.pem"
    assert session_of(port, pki, "b.test", session, version_arg)
    assert reuses(port, pki, "b.test", session, version_arg)
    assert not reuses(port, pki, "a.test", session, version_arg)


def test_cached_session_of_a_vhost_chosen_by_sni_resumes_only_there(httpd_factory, pki, port, tmp_path):
    two_vhosts(httpd_factory, pki, port, b_extra="  GnuTLSSessionTickets Off", cache=True)
    session = tmp_path / "b.pem"
    assert session_of(port, pki, "b.test", session, "-tls1_2", extra=["-no_ticket"])
    assert reuses(port, pki, "b.test", session, "-tls1_2", extra=["-no_ticket"])
    assert not reuses(port, pki, "a.test", session, "-tls1_2", extra=["-no_ticket"])


def test_same_name_on_two_addresses_does_not_share_cached_sessions(httpd_factory, pki, port, tmp_path):
    """Two vhosts both named a.test, on 127.0.0.1 and 127.0.0.2, with different
    keys: a session cached on one address never resumes on the other."""
    server = httpd_factory()
    vhosts = ""
    for address, tag in (("127.0.0.1", "one"), ("127.0.0.2", "two")):
        leaf = pki.leaf("a.test", "ecdsa", tag=tag)
        vhosts += (f"Listen {address}:{port}\n<VirtualHost {address}:{port}>\n  ServerName a.test\n"
                   f"  GnuTLSEnable On\n  GnuTLSSessionTickets Off\n"
                   f'  GnuTLSCertificateFile "{leaf.chain}"\n  GnuTLSKeyFile "{leaf.key}"\n</VirtualHost>\n')
    server.write_config(f"GnuTLSCache shmcb:{server.root}/logs/gtls_cache(512000)\n" + vhosts)
    server.start(wait_port=port)
    session = tmp_path / "s.pem"
    assert session_of(port, pki, "a.test", session, "-tls1_2", extra=["-no_ticket"])
    assert reuses(port, pki, "a.test", session, "-tls1_2", extra=["-no_ticket"])
    assert not reuses(port, pki, "a.test", session, "-tls1_2", extra=["-no_ticket"], address="127.0.0.2")


@pytest.mark.parametrize("version_arg", ["-tls1_2", "-tls1_3"])
def test_cache_timeout_zero_means_no_resumption(httpd_factory, pki, port, tmp_path, version_arg):
    """GnuTLSCacheTimeout 0 once made GnuTLS divide by zero on every TLS 1.3
    handshake (the worker died); now it means: no tickets, no cached sessions.
    The harness fails the test if a child crashed."""
    server = httpd_factory()
    server.write_config(f"GnuTLSCache shmcb:{server.root}/logs/gtls_cache(512000)\n"
                        "GnuTLSCacheTimeout 0\n" + f"Listen 127.0.0.1:{port}\n" +
                        tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")]))
    server.start(wait_port=port)
    for attempt in range(3):
        session = tmp_path / f"s{attempt}.pem"
        if session_of(port, pki, "a.test", session, version_arg):
            assert not reuses(port, pki, "a.test", session, version_arg)


@pytest.mark.parametrize("version_arg", ["-tls1_3", "-tls1_2"])
@pytest.mark.parametrize("timeout", [30, 604800])
def test_cache_timeout_extremes_resume(httpd_factory, pki, port, tmp_path, version_arg, timeout):
    """The ends of GnuTLSCacheTimeout's range reach GnuTLS's ticket-key rotation
    (which multiplies and divides by the lifetime): both must resume, not crash."""
    server = httpd_factory()
    server.write_config(f"GnuTLSCache shmcb:{server.root}/logs/gtls_cache(512000)\n"
                        f"GnuTLSCacheTimeout {timeout}\nGnuTLSOCSPCheckInterval 0\n" + f"Listen 127.0.0.1:{port}\n" +
                        tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")]))
    server.start(wait_port=port)
    session = tmp_path / "s.pem"
    assert session_of(port, pki, "a.test", session, version_arg)
    assert reuses(port, pki, "a.test", session, version_arg)


# gnutls-cli offers only psk_ke (resumption without a fresh (EC)DHE) when its
# priorities have the PSK key exchange and no (EC)DHE-PSK; it then needs PSK
# credentials of its own, which the server never sees (it has none).
PSK_KE_ONLY = TLS13 + ":+PSK"
DUMMY_PSK = ["--pskusername", "nobody", "--pskkey", "00112233445566778899aabbccddeeff"]


def test_tls13_resumption_requires_psk_dhe_ke_by_default(httpd_factory, pki, port):
    # RFC 8446 section 4.2.9: psk_ke resumes without forward secrecy. The
    # default priorities name no PSK key exchange, so GnuTLS accepts only
    # psk_dhe_ke: a client offering psk_ke alone gets a full handshake.
    start(httpd_factory, pki, port)
    assert resumed(port, pki, TLS13, extra=DUMMY_PSK)
    assert not resumed(port, pki, PSK_KE_ONLY, extra=DUMMY_PSK)


def test_priorities_with_psk_allow_psk_ke_resumption(httpd_factory, pki, port):
    # An administrator who adds +PSK to GnuTLSPriorities accepts psk_ke.
    start(httpd_factory, pki, port, vhost_extra="  GnuTLSPriorities NORMAL:+PSK")
    assert resumed(port, pki, PSK_KE_ONLY, extra=DUMMY_PSK)
