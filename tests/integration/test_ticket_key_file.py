"""GnuTLSSessionTicketKeyFile: several servers (here two httpds on 127.0.0.1
and 127.0.0.2, same port and vhost) accept each other's tickets, tickets
survive a graceful reload, and virtual hosts sharing a file stay apart."""
import base64
import os
import socket
import time

import pytest

from conftest import tls_vhost
from test_resumption import reuses, session_of


def key_file(path, raw=None, mode=0o600, encode=False):
    raw = raw if raw is not None else os.urandom(64)
    path.write_bytes(base64.b64encode(raw) + b"\n" if encode else raw)
    os.chmod(path, mode)
    return path


def start(httpd_factory, pki, port, address, key, names=("a.test",)):
    server = httpd_factory()
    conf = f"Listen {address}:{port}\n"
    for name in names:
        conf += tls_vhost(port, name, [pki.leaf(name, "ecdsa")],
                          extra=f'  GnuTLSSessionTicketKeyFile "{key}"' if key else "").replace(
            "127.0.0.1:", f"{address}:")
    server.write_config(conf)
    server.start()
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection((address, port), timeout=1).close()
            return server
        except OSError:
            assert time.monotonic() < deadline, f"httpd is not listening on {address}:{port}"
            time.sleep(0.05)


@pytest.mark.parametrize("version_arg", ["-tls1_3", "-tls1_2"])
@pytest.mark.parametrize("encode", [False, True])
def test_servers_sharing_a_key_file_resume_each_others_tickets(httpd_factory, pki, port, tmp_path, version_arg,
                                                               encode):
    key = key_file(tmp_path / "ticket.key", encode=encode)
    start(httpd_factory, pki, port, "127.0.0.1", key)
    start(httpd_factory, pki, port, "127.0.0.2", key)
    session = tmp_path / "session.pem"
    assert session_of(port, pki, "a.test", session, version_arg, address="127.0.0.1")
    assert reuses(port, pki, "a.test", session, version_arg, address="127.0.0.2")


def test_servers_with_different_key_files_do_not(httpd_factory, pki, port, tmp_path):
    start(httpd_factory, pki, port, "127.0.0.1", key_file(tmp_path / "a.key"))
    start(httpd_factory, pki, port, "127.0.0.2", key_file(tmp_path / "b.key"))
    session = tmp_path / "session.pem"
    assert session_of(port, pki, "a.test", session, "-tls1_3", address="127.0.0.1")
    assert not reuses(port, pki, "a.test", session, "-tls1_3", address="127.0.0.2")


@pytest.mark.parametrize("with_file", [True, False])
def test_tickets_survive_a_graceful_reload_only_with_a_key_file(httpd_factory, pki, port, tmp_path, with_file):
    server = start(httpd_factory, pki, port, "127.0.0.1", key_file(tmp_path / "t.key") if with_file else None)
    session = tmp_path / "session.pem"
    assert session_of(port, pki, "a.test", session, "-tls1_3")
    server.graceful()
    assert reuses(port, pki, "a.test", session, "-tls1_3") == with_file


def test_rewriting_the_file_and_reloading_rotates_the_key(httpd_factory, pki, port, tmp_path):
    key = key_file(tmp_path / "t.key")
    server = start(httpd_factory, pki, port, "127.0.0.1", key)
    session = tmp_path / "session.pem"
    assert session_of(port, pki, "a.test", session, "-tls1_3")
    key_file(key)
    server.graceful()
    assert not reuses(port, pki, "a.test", session, "-tls1_3")


def test_vhosts_sharing_a_file_keep_their_tickets_apart(httpd_factory, pki, port, tmp_path):
    start(httpd_factory, pki, port, "127.0.0.1", key_file(tmp_path / "t.key"), names=("a.test", "b.test"))
    session = tmp_path / "session.pem"
    assert session_of(port, pki, "b.test", session, "-tls1_3")
    assert reuses(port, pki, "b.test", session, "-tls1_3")
    assert not reuses(port, pki, "a.test", session, "-tls1_3")


@pytest.mark.parametrize("contents,mode,reason", [
    (b"too short", 0o600, "64 random bytes"),
    (os.urandom(64), 0o644, "readable by every user"),
    (os.urandom(65), 0o600, "64 random bytes"),
])
def test_bad_key_files_fail_configtest(httpd_factory, pki, port, tmp_path, contents, mode, reason):
    key = key_file(tmp_path / "bad.key", raw=contents, mode=mode)
    server = httpd_factory()
    code, out = server.configtest(f"Listen 127.0.0.1:{port}\n" + tls_vhost(
        port, "a.test", [pki.leaf("a.test", "ecdsa")], extra=f'  GnuTLSSessionTicketKeyFile "{key}"'))
    assert code != 0
    assert "GnuTLSSessionTicketKeyFile" in out and str(key) in out and reason in out, out
