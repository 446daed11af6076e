"""Session resumption as the client reports it: tickets and the session cache."""
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
