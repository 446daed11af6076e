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
