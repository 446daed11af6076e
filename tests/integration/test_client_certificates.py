"""Client certificates for a server or virtual host (GnuTLSClientVerify
request|require, GnuTLSClientCAFile, GnuTLSClientCRLFile) and the SSL_CLIENT_*
variables, with curl, openssl s_client and gnutls-cli as clients."""
import subprocess

import pytest

from conftest import needs_h2, tls_vhost
from harness.clients import curl, gnutls_cli, s_client
from test_ssl_variables import ENV_CGI


def start(httpd_factory, pki, port, verify, extra="", ca=None):
    server = httpd_factory()
    cgi = server.add_cgi("env.py", ENV_CGI)
    server.write_config(f"Listen 127.0.0.1:{port}\n" + tls_vhost(
        port, "a.test", [pki.leaf("a.test", "ecdsa")],
        extra=f"  GnuTLSClientVerify {verify}\n  GnuTLSClientCAFile \"{ca or pki.ca}\"\n  Protocols h2 http/1.1\n{extra}"))
    server.start(wait_port=port)
    return server, cgi


def variables(body):
    return dict(line.split("=", 1) for line in body.decode().splitlines() if "=" in line)


def with_cert(leaf):
    return ["--cert", str(leaf.chain), "--key", str(leaf.key)]


@pytest.mark.parametrize("version", ["--tlsv1.3", "--tlsv1.2"])
def test_require_serves_a_verified_client_and_exports_its_identity(httpd_factory, pki, port, version):
    server, cgi = start(httpd_factory, pki, port, "require")
    alice = pki.client("alice")
    status, _, body, err = curl(f"https://a.test:{port}{cgi}", pki.ca, "a.test", port,
                                extra=[version, *(["--tls-max", "1.2"] if version == "--tlsv1.2" else []),
                                       *with_cert(alice)])
    assert status == 200, err
    env = variables(body)
    assert env["SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert env["SSL_CLIENT_S_DN_CN"] == "alice"
    assert env["SSL_CLIENT_S_DN"] == "CN=alice,O=mod_gtls tests"
    assert env["SSL_CLIENT_I_DN"] == "CN=mod_gtls test intermediate"
    serial = subprocess_serial(alice.cert)
    assert env["SSL_CLIENT_M_SERIAL"] == serial
    assert env["SSL_CLIENT_A_KEY"] == "EC/ECDSA"
    assert "SSL_CLIENT_CERT" not in env  # as mod_ssl: only with ExportCertData


def subprocess_serial(cert):
    out = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-serial"], capture_output=True,
                         text=True, check=True).stdout
    return out.strip().split("=")[1].upper()


@pytest.mark.parametrize("tls", ["-tls1_3", "-tls1_2"])
def test_require_refuses_a_client_without_a_certificate(httpd_factory, pki, port, tls):
    start(httpd_factory, pki, port, "require")
    code, out = s_client(port, "a.test", pki.ca, extra=[tls, "-ign_eof"],
                         input_bytes=b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    assert "HTTP/1.1 200" not in out, out
    assert "alert" in out.lower(), out


def test_require_answers_403_to_a_certificate_from_another_ca(httpd_factory, pki, rsa_pki, port):
    # As mod_gnutls: the handshake completes and every request is refused, so
    # the client sees why instead of a broken connection.
    server, cgi = start(httpd_factory, pki, port, "require")
    mallory = rsa_pki.client("mallory")
    status, _, body, err = curl(f"https://a.test:{port}{cgi}", pki.ca, "a.test", port, extra=with_cert(mallory))
    assert status == 403, err
    assert b"SSL_CLIENT" not in body
    log = server.read_error_log()
    assert "GTLS0240" in log and "CN=mallory" in log and "does not verify" in log, log
    assert "GTLS0242" in log and "answering 403" in log, log


def test_require_wants_tls_client_authentication_by_default(httpd_factory, pki, port):
    server, cgi = start(httpd_factory, pki, port, "require")
    server_only = pki.leaf("a.test", "ecdsa")  # TLS Web Server Authentication only
    status, _, _, err = curl(f"https://a.test:{port}{cgi}", pki.ca, "a.test", port, extra=with_cert(server_only))
    assert status == 403, err
    assert "lacks key purpose 1.3.6.1.5.5.7.3.2" in server.read_error_log()
    status, _, body, err = curl(f"https://a.test:{port}{cgi}", pki.ca, "a.test", port,
                                extra=with_cert(pki.client("alice")))
    assert (status, variables(body)["SSL_CLIENT_VERIFY"]) == (200, "SUCCESS"), err


def test_request_serves_everyone_and_says_what_it_saw(httpd_factory, pki, rsa_pki, port):
    server, cgi = start(httpd_factory, pki, port, "request")
    url = f"https://a.test:{port}{cgi}"
    status, _, body, err = curl(url, pki.ca, "a.test", port)
    assert status == 200, err
    assert variables(body)["SSL_CLIENT_VERIFY"] == "NONE"
    assert "SSL_CLIENT_S_DN" not in variables(body)
    status, _, body, err = curl(url, pki.ca, "a.test", port, extra=with_cert(pki.client("alice")))
    assert (status, variables(body)["SSL_CLIENT_VERIFY"]) == (200, "SUCCESS"), err
    status, _, body, err = curl(url, pki.ca, "a.test", port, extra=with_cert(rsa_pki.client("mallory")))
    assert status == 200, err
    env = variables(body)
    assert env["SSL_CLIENT_VERIFY"].startswith("FAILED:"), env
    assert env["SSL_CLIENT_S_DN_CN"] == "mallory"


def test_crl_refuses_a_revoked_client(httpd_factory, pki, port, tmp_path):
    bob, carol = pki.client("bob"), pki.client("carol")
    crl = pki.crl([bob], tmp_path / "clients.crl")
    server, cgi = start(httpd_factory, pki, port, "require", extra=f'  GnuTLSClientCRLFile "{crl}"')
    status, _, _, err = curl(f"https://a.test:{port}{cgi}", pki.ca, "a.test", port, extra=with_cert(bob))
    assert status == 403, err
    assert "revoked" in server.read_error_log()
    status, _, body, err = curl(f"https://a.test:{port}{cgi}", pki.ca, "a.test", port, extra=with_cert(carol))
    assert (status, variables(body)["SSL_CLIENT_S_DN_CN"]) == (200, "carol"), err


def test_require_expr_on_the_client_name(httpd_factory, pki, port):
    server, _ = start(httpd_factory, pki, port, "require", extra=(
        "  <Location /admin>\n    Require expr %{SSL_CLIENT_S_DN_CN} == 'alice'\n  </Location>"))
    server.docroot("admin").joinpath("index.html").write_text("admin\n")
    server.allow_error("AH01630")  # carol's 403, as httpd logs it
    url = f"https://a.test:{port}/admin/"
    status, _, body, err = curl(url, pki.ca, "a.test", port, extra=with_cert(pki.client("alice")))
    assert (status, body) == (200, b"admin\n"), err
    status, _, _, err = curl(url, pki.ca, "a.test", port, extra=with_cert(pki.client("carol")))
    assert status == 403, err


@needs_h2
def test_require_over_http2(httpd_factory, pki, port):
    server, cgi = start(httpd_factory, pki, port, "require")
    status, version, body, err = curl(f"https://a.test:{port}{cgi}", pki.ca, "a.test", port,
                                      extra=["--http2", *with_cert(pki.client("alice"))])
    assert (status, version) == (200, "2"), err
    assert variables(body)["SSL_CLIENT_S_DN_CN"] == "alice"


def test_resumed_session_keeps_the_client_identity(httpd_factory, pki, port, tmp_path):
    server, cgi = start(httpd_factory, pki, port, "require")
    alice = pki.client("alice")
    session = tmp_path / "session.pem"
    request = f"GET {cgi} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n".encode()
    cert = ["-cert", str(alice.cert), "-key", str(alice.key), "-cert_chain", str(pki.intermediate)]
    code, out = s_client(port, "a.test", pki.ca, extra=["-tls1_3", "-ign_eof", "-sess_out", str(session), *cert],
                         input_bytes=request)
    assert "SSL_CLIENT_S_DN_CN=alice" in out, out
    code, out = s_client(port, "a.test", pki.ca, extra=["-tls1_3", "-ign_eof", "-sess_in", str(session), *cert],
                         input_bytes=request)
    assert "Reused, TLSv1.3" in out, out
    assert "SSL_CLIENT_S_DN_CN=alice" in out and "SSL_CLIENT_VERIFY=SUCCESS" in out, out


def test_gnutls_cli_with_a_client_certificate(httpd_factory, pki, port):
    start(httpd_factory, pki, port, "require")
    alice = pki.client("alice", "rsa")
    code, out = gnutls_cli(port, "a.test", pki.ca, extra=["--x509certfile", str(alice.chain),
                                                          "--x509keyfile", str(alice.key)],
                           input_bytes=b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    assert "HTTP/1.1 200" in out, out


@pytest.mark.parametrize("conf,expected", [
    ("  GnuTLSClientVerify require", "no GnuTLSClientCAFile"),
    ("  GnuTLSClientVerify sometimes", "must be ignore, none, off, request or require"),
    ('  GnuTLSClientVerify require\n  GnuTLSClientCAFile "/nonexistent/ca.pem"', "GnuTLSClientCAFile /nonexistent/ca.pem"),
    ("  <Location /x>\n    GnuTLSClientVerify require\n  </Location>",
     "GnuTLSClientVerify in a <Directory> or <Location> asks for client certificates but no GnuTLSClientCAFile"),
    ("  <Location /x>\n    GnuTLSClientVerify always\n  </Location>", "must be ignore, none, off, request or require"),
])
def test_configuration_errors(httpd_factory, pki, port, conf, expected):
    server = httpd_factory()
    code, out = server.configtest(f"Listen 127.0.0.1:{port}\n" + tls_vhost(port, "a.test", [pki.leaf("a.test", "ecdsa")],
                                                                           extra=conf))
    assert code != 0
    assert expected in out, out


def test_dn_components_and_alternative_names(httpd_factory, pki, port):
    server, cgi = start(httpd_factory, pki, port, "require")
    dave = pki.client("dave", extra=['unit = "ops"', 'unit = "dev"', 'country = "DE"',
                                     'email = "dave@example.test"', 'dns_name = "dave.example.test"'])
    status, _, body, err = curl(f"https://a.test:{port}{cgi}", pki.ca, "a.test", port, extra=with_cert(dave))
    assert status == 200, err
    env = variables(body)
    assert env["SSL_CLIENT_S_DN_CN"] == "dave"
    assert env["SSL_CLIENT_S_DN_O"] == "mod_gtls tests"
    assert env["SSL_CLIENT_S_DN_C"] == "DE"
    assert {env["SSL_CLIENT_S_DN_OU"], env["SSL_CLIENT_S_DN_OU_1"]} == {"ops", "dev"}
    assert env["SSL_CLIENT_I_DN_CN"] == "mod_gtls test intermediate"
    assert env["SSL_CLIENT_SAN_Email_0"] == "dave@example.test"
    assert env["SSL_CLIENT_SAN_DNS_0"] == "dave.example.test"
    assert 363 <= int(env["SSL_CLIENT_V_REMAIN"]) <= 365
    assert env["SSL_SERVER_S_DN_CN"] == "a.test" and env["SSL_SERVER_SAN_DNS_0"] == "a.test"
    # mod_gnutls's spelling: every alternative name in order, with its type.
    assert {env["SSL_CLIENT_S_AN0"], env["SSL_CLIENT_S_AN1"]} == {"RFC822NAME:dave@example.test",
                                                                   "DNSNAME:dave.example.test"}
    assert "SSL_CLIENT_S_AN2" not in env
    assert env["SSL_SERVER_S_AN0"] == "DNSNAME:a.test"


def test_key_purpose_is_required(httpd_factory, pki, port):
    client_auth, email_protection = "1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4"
    server, cgi = start(httpd_factory, pki, port, "request",
                        extra=f"  GnuTLSClientKeyPurpose {client_auth} {email_protection}")
    url = f"https://a.test:{port}{cgi}"
    plain = pki.client("alice")  # TLS Web Client Authentication only
    status, _, body, err = curl(url, pki.ca, "a.test", port, extra=with_cert(plain))
    assert status == 200, err
    assert variables(body)["SSL_CLIENT_VERIFY"] == f"FAILED:the certificate lacks key purpose {email_protection}"
    both = pki.client("erin", extra=["email_protection_key"])
    status, _, body, err = curl(url, pki.ca, "a.test", port, extra=with_cert(both))
    assert (status, variables(body)["SSL_CLIENT_VERIFY"]) == (200, "SUCCESS"), err


@pytest.mark.parametrize("setting,exported", [("On", True), ("Off", False), ("100", "marker")])
def test_export_certificates(httpd_factory, pki, port, setting, exported):
    server, cgi = start(httpd_factory, pki, port, "require", extra=f"  GnuTLSExportCertificates {setting}")
    alice = pki.client("alice")
    status, _, body, err = curl(f"https://a.test:{port}{cgi}", pki.ca, "a.test", port, extra=with_cert(alice))
    assert status == 200, err
    text = body.decode()
    if exported is True:
        assert "SSL_CLIENT_CERT=-----BEGIN CERTIFICATE-----" in text and "SSL_SERVER_CERT=-----BEGIN" in text
        # The intermediate alice's chain file sends after her certificate, as mod_ssl names it.
        intermediate = pki.intermediate.read_text().strip()
        assert "SSL_CLIENT_CERT_CHAIN_0=" + intermediate in text, text
        assert "SSL_CLIENT_CERT_CHAIN_1" not in text
    elif exported == "marker":
        # Never cut short: mod_gnutls's marker stands in for it.
        assert "SSL_CLIENT_CERT=GNUTLS_CERTIFICATE_SIZE_LIMIT_EXCEEDED\n" in text, text
        assert "SSL_SERVER_CERT=GNUTLS_CERTIFICATE_SIZE_LIMIT_EXCEEDED\n" in text, text
        assert "GTLS0241" in server.read_error_log()
    else:
        assert "SSL_CLIENT_CERT" not in text and "SSL_SERVER_CERT" not in text  # CERT_CHAIN_0 neither


def test_client_chain_larger_than_a_record(httpd_factory, pki, port):
    # 120 long alternative names (certtool takes at most 128): the client's
    # Certificate message spans two records.
    names = [f'dns_name = "client-{i:04d}.{"x" * 60}.{"y" * 60}.{"z" * 60}.example.test"' for i in range(120)]
    big = pki.client("big", extra=names)
    assert len(big.chain.read_bytes()) > 16 * 1024 * 4 / 3  # PEM of more than 16 KiB of DER
    server, cgi = start(httpd_factory, pki, port, "require")
    for version in (["--tlsv1.3"], ["--tlsv1.2", "--tls-max", "1.2"]):
        status, _, body, err = curl(f"https://a.test:{port}{cgi}", pki.ca, "a.test", port,
                                    extra=[*version, *with_cert(big)])
        assert status == 200, err
        env = variables(body)
        assert env["SSL_CLIENT_VERIFY"] == "SUCCESS"
        assert env["SSL_CLIENT_SAN_DNS_119"] == f"client-0119.{'x' * 60}.{'y' * 60}.{'z' * 60}.example.test"


def test_graceful_reload_reads_a_changed_ca_file(httpd_factory, pki, rsa_pki, port, tmp_path):
    ca_file = tmp_path / "clients-ca.pem"
    ca_file.write_text(pki.ca.read_text())
    ca_file.chmod(0o644)
    server, cgi = start(httpd_factory, pki, port, "require", ca=ca_file)
    url = f"https://a.test:{port}{cgi}"
    alice, mallory = pki.client("alice"), rsa_pki.client("mallory")
    assert curl(url, pki.ca, "a.test", port, extra=with_cert(alice))[0] == 200
    assert curl(url, pki.ca, "a.test", port, extra=with_cert(mallory))[0] == 403
    ca_file.write_text(rsa_pki.ca.read_text())
    server.graceful()
    assert curl(url, pki.ca, "a.test", port, extra=with_cert(mallory))[0] == 200
    assert curl(url, pki.ca, "a.test", port, extra=with_cert(alice))[0] == 403
