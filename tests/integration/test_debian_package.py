"""The Debian package, the way an administrator uses it: build it
(packaging/build-deb.sh, lintian clean), install it into this machine's own
apache2, `a2enmod gtls`, enable a site made from the packaged dual-certificate
example on a loopback port, `apache2ctl configtest`, serve HTTPS with a staple
per chain, `apache2ctl graceful`, then purge, and check that /etc/apache2 is
exactly as it was before.

It changes the system, so it needs root and a system apache2 that is not
running; where that is missing it is skipped, except under CI, where it fails."""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from harness.clients import curl
from harness.httpd import free_port
from harness.ocsp import make_response
from test_stapling import ECDSA_ONLY, RSA_ONLY, received_staple

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "libapache2-mod-gtls"
APACHE_ETC = Path("/etc/apache2")
SYSTEM_PID_FILE = Path("/var/run/apache2/apache2.pid")
SITE = "gtls-package-test"
SYSTEM_ERROR_LOG = Path("/var/log/apache2/error.log")


def sh(*args, timeout=300, check=True):
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result


def package_installed(name):
    result = sh("dpkg-query", "-W", "-f=${Status}", name, check=False)
    return result.returncode == 0 and "installed" in result.stdout.split()[-1:]


def system_httpd_pid():
    try:
        pid = int(SYSTEM_PID_FILE.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def why_not_runnable():
    if os.geteuid() != 0:
        return "needs root (it installs a package into the system's apache2)"
    if not shutil.which("apache2ctl") or not shutil.which("a2enmod"):
        return "Debian's apache2 (apache2ctl, a2enmod) is not installed"
    for name in (PACKAGE, "libapache2-mod-gnutls"):
        if package_installed(name):
            return f"{name} is installed already; this test does not touch an admin's installation"
    if system_httpd_pid():
        return "the system apache2 is running; this test does not disturb it"
    return None


@pytest.fixture
def system_apache():
    if os.environ.get("GTLS_SANITIZER_PRELOAD"):
        pytest.skip("the package is built without sanitizers; the normal run covers it")
    reason = why_not_runnable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"cannot run under CI: {reason}")
        pytest.skip(reason)
    shmcb_was_enabled = enabled("mods", "socache_shmcb.load")
    yield
    # Whatever happened, leave the system's apache2 stopped and the package gone.
    if system_httpd_pid():
        sh("apache2ctl", "stop", check=False)
        wait_for(lambda: system_httpd_pid() is None, "the system apache2 to stop", timeout=20, check=False)
    if package_installed(PACKAGE):
        sh("dpkg", "--purge", PACKAGE, check=False)
    if not shmcb_was_enabled and enabled("mods", "socache_shmcb.load"):
        sh("a2dismod", "-q", "socache_shmcb", check=False)


def snapshot(tree: Path):
    """Every path under `tree` with its content hash or link target."""
    state = {}
    for path in sorted(tree.rglob("*")):
        if path.is_symlink():
            state[str(path)] = "-> " + os.readlink(path)
        elif path.is_file():
            state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[str(path)] = "dir"
    return state


def wait_for(predicate, what, timeout=10.0, check=True):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            assert not check, f"timed out waiting for {what}"
            return False
        time.sleep(0.1)
    return True


def enabled(kind, name):
    return (APACHE_ETC / f"{kind}-enabled" / name).exists()


def site_from_example(pki, port, files: Path):
    """The packaged dual-certificate example, pointed at the test PKI and port."""
    example = Path(f"/usr/share/doc/{PACKAGE}/examples/dual-certificate-vhost.conf").read_text()
    rsa, ecdsa = pki.leaf("a.test", "rsa"), pki.leaf("a.test", "ecdsa")
    replacements = {
        "Listen 443": f"Listen 127.0.0.1:{port}",
        "<VirtualHost *:443>": f"<VirtualHost 127.0.0.1:{port}>",
        "ServerName www.example.com": "ServerName a.test",
        "/etc/ssl/certs/www.example.com-rsa.chain.pem": str(rsa.chain),
        "/etc/ssl/private/www.example.com-rsa.key": str(rsa.key),
        "/etc/ssl/certs/www.example.com-ecdsa.chain.pem": str(ecdsa.chain),
        "/etc/ssl/private/www.example.com-ecdsa.key": str(ecdsa.key),
        "/var/lib/ocsp/www.example.com-rsa.der": str(files / "rsa.der"),
        "/var/lib/ocsp/www.example.com-ecdsa.der": str(files / "ecdsa.der"),
        "<IfModule !ssl_module>": "<IfModule gtls_module>",  # mod_ssl's Listen 443 is not ours to reuse here
    }
    for old, new in replacements.items():
        assert old in example, f"the packaged example no longer has {old!r}"
        example = example.replace(old, new)
    return example, rsa, ecdsa


def test_package_installs_serves_staples_reloads_and_purges(system_apache, pki, tmp_path):
    etc_before = snapshot(APACHE_ETC)
    shmcb_was_enabled = enabled("mods", "socache_shmcb.load")

    build = sh(str(ROOT / "packaging/build-deb.sh"), timeout=900)
    deb = Path(build.stdout.strip().splitlines()[-1])
    assert deb.name.startswith(f"{PACKAGE}_") and deb.suffix == ".deb" and deb.exists(), build.stdout
    contents = sh("dpkg-deb", "-c", str(deb)).stdout
    for path in ("./usr/lib/apache2/modules/mod_gtls.so", "./usr/sbin/gtls-ocsp-fetch",
                 "./etc/apache2/mods-available/gtls.load",
                 "./etc/apache2/mods-available/gtls.conf", f"./usr/share/doc/{PACKAGE}/examples/"):
        assert path in contents, contents
    depends = sh("dpkg-deb", "-f", str(deb), "Depends", "Conflicts").stdout
    assert "apache2-api-20120211" in depends and "libgnutls30" in depends, depends
    assert "Conflicts: libapache2-mod-gnutls" in depends, depends

    sh("dpkg", "-i", str(deb))
    assert not enabled("mods", "gtls.load"), "installing must not enable the module by itself"
    sh("a2enmod", "gtls")
    assert enabled("mods", "gtls.load") and enabled("mods", "gtls.conf")
    assert enabled("mods", "socache_shmcb.load"), "gtls.load declares socache_shmcb, a2enmod must enable it"

    # Response files are re-read by the workers as www-data.
    files = Path(tempfile.mkdtemp(prefix="gtls-deb-"))
    try:
        files.chmod(0o755)
        port = free_port()
        site, rsa, ecdsa = site_from_example(pki, port, files)
        responses = {"rsa": make_response(pki, rsa, files / "rsa.der"),
                     "ecdsa": make_response(pki, ecdsa, files / "ecdsa.der")}
        (APACHE_ETC / "sites-available" / f"{SITE}.conf").write_text(site)
        sh("a2ensite", SITE)

        log_offset = SYSTEM_ERROR_LOG.stat().st_size if SYSTEM_ERROR_LOG.exists() else 0
        configtest = sh("apache2ctl", "configtest")
        assert "Syntax OK" in configtest.stdout + configtest.stderr
        sh("apache2ctl", "start")
        wait_for(system_httpd_pid, "the system apache2 to start")
        status, _, body, err = curl(f"https://a.test:{port}/", pki.ca, "a.test", port,
                                    extra=["--cert-status"], timeout=30)
        assert status == 200 and body, err
        assert received_staple(port, "a.test", pki, RSA_ONLY, tmp_path) == responses["rsa"]
        assert received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == responses["ecdsa"]
        # The packaged tool reads the same bindings from Debian's apache2ctl.
        refresh = sh("gtls-ocsp-fetch", "--from-httpd", "--json")
        bindings = {b["id"]: b for b in json.loads(refresh.stdout)["bindings"]}
        assert sorted(bindings) == [f"a.test:{port}#0", f"a.test:{port}#1"], refresh.stdout
        assert {b["status"] for b in bindings.values()} == {"fresh"}, refresh.stdout

        # graceful applies a new response path; the parent stays.
        parent = system_httpd_pid()
        newer = make_response(pki, ecdsa, files / "ecdsa-2.der", days=3)
        site_file = APACHE_ETC / "sites-available" / f"{SITE}.conf"
        site_file.write_text(site_file.read_text().replace(str(files / "ecdsa.der"), str(files / "ecdsa-2.der")))
        sh("apache2ctl", "graceful")
        wait_for(lambda: received_staple(port, "a.test", pki, ECDSA_ONLY, tmp_path) == newer,
                 "the graceful restart to staple the new ECDSA response", timeout=20)
        assert system_httpd_pid() == parent
        assert received_staple(port, "a.test", pki, RSA_ONLY, tmp_path) == responses["rsa"]

        sh("apache2ctl", "stop")
        wait_for(lambda: system_httpd_pid() is None, "the system apache2 to stop", timeout=20)
        with SYSTEM_ERROR_LOG.open("rb") as log:
            log.seek(log_offset)
            written = log.read().decode(errors="replace")
        assert written.count("resuming normal operations") == 2, written  # start and graceful
        bad = [line for line in written.splitlines() if ":error]" in line or "exit signal" in line]
        assert bad == [], written
    finally:
        sh("a2dissite", SITE, check=False)
        (APACHE_ETC / "sites-available" / f"{SITE}.conf").unlink(missing_ok=True)
        shutil.rmtree(files, ignore_errors=True)

    sh("dpkg", "--purge", PACKAGE)
    assert not package_installed(PACKAGE)
    assert not Path("/usr/lib/apache2/modules/mod_gtls.so").exists()
    if not shmcb_was_enabled:
        sh("a2dismod", "-q", "socache_shmcb")  # a2enmod enabled it for gtls
    assert snapshot(APACHE_ETC) == etc_before
