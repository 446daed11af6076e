"""mod_ssl and mod_gtls in one httpd, each serving its own port."""
from conftest import tls_vhost
from harness.clients import curl, served_leaf, pem_body
from harness.httpd import free_port


def test_mod_ssl_and_mod_gtls_side_by_side(httpd_factory, pki):
    gtls_port, ssl_port = free_port(), free_port()
    leaf = pki.leaf("a.test", "ecdsa")
    ssl_leaf = pki.leaf("a.test", "rsa")
    server = httpd_factory(extra_modules=["ssl"])
    ssl_root = server.docroot("ssl")
    (ssl_root / "index.html").write_text("served by mod_ssl\n")
    gtls_root = server.docroot("gtls")
    (gtls_root / "index.html").write_text("served by mod_gtls\n")
    server.write_config(
        f"Listen 127.0.0.1:{gtls_port}\nListen 127.0.0.1:{ssl_port}\n"
        f"SSLSessionCache shmcb:{server.root}/logs/ssl_cache(512000)\n"
        + tls_vhost(gtls_port, "a.test", [leaf], extra=f'  DocumentRoot "{gtls_root}"\n'
                    '  Header always set X-Protocol "%{SSL_PROTOCOL}s"')
        + f"<VirtualHost 127.0.0.1:{ssl_port}>\n  ServerName a.test\n  SSLEngine on\n"
          f'  SSLCertificateFile "{ssl_leaf.chain}"\n  SSLCertificateKeyFile "{ssl_leaf.key}"\n'
          f'  DocumentRoot "{ssl_root}"\n'
          '  Header always set X-Protocol "%{SSL_PROTOCOL}s"\n</VirtualHost>\n')
    server.start(wait_port=gtls_port)
    for port, text, cert in ((gtls_port, b"served by mod_gtls\n", leaf), (ssl_port, b"served by mod_ssl\n", ssl_leaf)):
        status, _, body, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port, extra=["--http1.1"])
        assert (status, body) == (200, text), err
        status, _, out, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port, extra=["--tlsv1.3", "-D", "-"])
        assert "x-protocol: tlsv1.3" in out.decode().lower()
        assert served_leaf(port, "a.test", pki.ca) == pem_body(cert.cert.read_text())


def test_each_port_handled_by_its_own_module_concurrently(httpd_factory, pki):
    """Both ports at once, several clients each: every answer names the TLS
    library of the module that owns the port."""
    import threading
    gtls_port, ssl_port = free_port(), free_port()
    leaf = pki.leaf("a.test", "rsa")  # the same certificate on both ports
    server = httpd_factory(extra_modules=["ssl"])
    header = '  Header always set X-Library "%{SSL_VERSION_LIBRARY}s"'
    server.write_config(
        f"Listen 127.0.0.1:{gtls_port}\nListen 127.0.0.1:{ssl_port}\n"
        f"SSLSessionCache shmcb:{server.root}/logs/ssl_cache(512000)\n"
        f"GnuTLSCache shmcb:{server.root}/logs/gtls_cache(512000)\n"
        + tls_vhost(gtls_port, "a.test", [leaf], extra=header + "\n  Protocols h2 http/1.1")
        + f"<VirtualHost 127.0.0.1:{ssl_port}>\n  ServerName a.test\n  SSLEngine on\n"
          f'  SSLCertificateFile "{leaf.chain}"\n  SSLCertificateKeyFile "{leaf.key}"\n'
          f"{header}\n  Protocols h2 http/1.1\n</VirtualHost>\n")
    server.start(wait_port=gtls_port)
    failures = []

    def client(port, library, http):
        for _ in range(10):
            status, version, out, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port,
                                             extra=[http, "-D", "-"])
            headers = out.decode(errors="replace").lower()
            if status != 200 or f"x-library: {library}" not in headers:
                failures.append((port, status, version, headers[:300], err))

    threads = [threading.Thread(target=client, args=(port, library, http))
               for port, library in ((gtls_port, "gnutls/"), (ssl_port, "openssl/"))
               for http in ("--http1.1", "--http2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
