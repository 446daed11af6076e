import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness.httpd import DEFAULT_MPM, Httpd, free_port  # noqa: E402
from harness.pki import Pki  # noqa: E402


# mod_http2 refuses to run under prefork (AH10034): tests that need HTTP/2 to be
# negotiated are skipped when GTLS_TEST_MPM=prefork.
needs_h2 = pytest.mark.skipif(DEFAULT_MPM == "prefork", reason="mod_http2 does not run under prefork")


@pytest.fixture(scope="session")
def pki():
    directory = Path(tempfile.mkdtemp(prefix="gtls-pki-"))
    directory.chmod(0o755)
    return Pki(directory)


@pytest.fixture(scope="session")
def rsa_pki():
    """A second PKI whose root and intermediate are RSA."""
    directory = Path(tempfile.mkdtemp(prefix="gtls-pki-rsa-"))
    directory.chmod(0o755)
    return Pki(directory, ca_key_type="rsa")


@pytest.fixture
def httpd_factory(request):
    """Makes Httpd instances; stops them after the test and fails the test on
    error-level log lines it did not declare with allow_error()."""
    made = []

    def make(**kwargs):
        server = Httpd(**kwargs)
        made.append(server)
        return server

    yield make
    failures = []
    test_failed = getattr(request.node, "rep_call_failed", False)
    for server in made:
        server.stop()
        bad = server.unexpected_errors()
        if bad:
            failures.append(f"unexpected errors in {server.error_log}:\n" + "\n".join(bad))
        elif not test_failed:
            server.cleanup()  # kept for inspection when the test failed
    if failures:
        pytest.fail("\n".join(failures))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call_failed = report.failed


def tls_vhost(port, name, leaves, extra="", aliases=()):
    """A <VirtualHost> with GnuTLS on and one certificate/key pair per leaf."""
    lines = [f"<VirtualHost 127.0.0.1:{port}>", f"  ServerName {name}"]
    for alias in aliases:
        lines.append(f"  ServerAlias {alias}")
    lines.append("  GnuTLSEnable On")
    for leaf in leaves:
        lines.append(f'  GnuTLSCertificateFile "{leaf.chain}"')
        lines.append(f'  GnuTLSKeyFile "{leaf.key}"')
    if extra:
        lines.append(extra)
    lines.append("</VirtualHost>")
    return "\n".join(lines) + "\n"


@pytest.fixture
def port():
    return free_port()
