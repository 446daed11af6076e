"""A real Apache httpd (Debian's apache2 binary) with its own ServerRoot in a
temp dir and free loopback ports, configured per test."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HTTPD = os.environ.get("GTLS_HTTPD", "/usr/sbin/apache2")
MODULES = os.environ.get("GTLS_HTTPD_MODULES", "/usr/lib/apache2/modules")
GTLS_MODULE = os.environ.get("GTLS_MODULE", str(Path(__file__).resolve().parents[3] / "build/module/mod_gtls.so"))

# The MPM of every httpd a test does not give one; GTLS_TEST_MPM=worker or
# prefork runs the whole suite under another MPM.
DEFAULT_MPM = os.environ.get("GTLS_TEST_MPM", "event")
# Modules compiled into Debian's apache2 need no LoadModule.
BASE_MODULES = ["authz_core", "mime", "dir", "alias", "headers", "rewrite", "env", "setenvif",
                "socache_shmcb", "http2", "cgid", "status"]
SERIOUS_LEVELS = re.compile(r"\] \[[\w]*:(error|crit|alert|emerg)\] ")
# A crashed child is reported by the parent at `notice` level only (AH00052
# "child pid N exit signal Segmentation fault"), a crash in the parent as AH00060:
# these fail a test like an error-level line does.
CRASHES = re.compile(r"AH0005[12]|AH00060|exit signal|seg fault")
# Stopping makes the event MPM close the sockets of its busy workers from the
# main thread (close_worker_sockets); a worker lingering over one of them at
# that moment fails to poll it (AH03092, EBADF). That is httpd tearing itself
# down, not a fault of the module: expected while stop() runs, an error before.
STOP_RACES = re.compile(r"\(9\)Bad file descriptor: AH03092: process_lingering_close")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _children(pid: int):
    """Pids whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_for_port(port: int, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class Httpd:
    """One httpd instance. `conf` is the test's part of httpd.conf (vhosts,
    global directives); the base part loads modules and sets paths."""

    def __init__(self, mpm: str = DEFAULT_MPM, log_level: str = "info gtls:trace1", timeout: int = 10,
                 extra_modules=(), load_gtls: bool = True):
        self.root = Path(tempfile.mkdtemp(prefix="gtls-it-"))
        os.chmod(self.root, 0o755)
        for sub in ("logs", "htdocs", "cgi-bin", "conf"):
            (self.root / sub).mkdir()
            os.chmod(self.root / sub, 0o755)
        os.chmod(self.root / "logs", 0o1777)  # sanitizer logs are written by httpd's User
        self.mpm = mpm
        self.log_level = log_level
        self.timeout = timeout
        self.modules = BASE_MODULES + list(extra_modules)
        self.load_gtls = load_gtls
        self.conf_path = self.root / "conf" / "httpd.conf"
        self.error_log = self.root / "logs" / "error.log"
        self.pid_file = self.root / "logs" / "httpd.pid"
        self.allowed_errors = []
        self.problems = []  # harness-detected failures (e.g. httpd did not stop)
        self.stop_log_ranges = []  # error-log byte ranges written while stop() ran
        # Libraries and variables httpd runs with besides the sanitizer's
        # (e.g. libfaketime for clock jumps).
        self.extra_preload = []
        self.extra_environment = {}
        self.started = False
        (self.root / "htdocs" / "index.html").write_text("default\n")

    # --- configuration -------------------------------------------------
    def base_config(self) -> str:
        lines = [f'ServerRoot "{self.root}"',
                 f"LoadModule mpm_{self.mpm}_module {MODULES}/mod_mpm_{self.mpm}.so"]
        for name in self.modules:
            lines.append(f"LoadModule {name}_module {MODULES}/mod_{name}.so")
        if self.load_gtls:
            lines.append(f"LoadModule gtls_module {GTLS_MODULE}")
        if os.geteuid() == 0:
            lines += ["User www-data", "Group www-data"]
        lines += [
            "ServerName localhost",
            f'PidFile "{self.pid_file}"',
            f'ErrorLog "{self.error_log}"',
            f"LogLevel {self.log_level}",
            'LogFormat "%h %v \\"%r\\" %>s %b %{SSL_PROTOCOL}x" common',
            f'CustomLog "{self.root}/logs/access.log" common',
            f"Mutex file:{self.root}/logs",
            f'ScriptSock "{self.root}/logs/cgid.sock"',
            "TypesConfig /etc/mime.types",
            f"Timeout {self.timeout}",
            f'DocumentRoot "{self.root}/htdocs"',
            "DirectoryIndex index.html",
            f'<Directory "{self.root}/htdocs">',
            "  Require all granted",
            "</Directory>",
            f'ScriptAlias /cgi-bin/ "{self.root}/cgi-bin/"',
            f'<Directory "{self.root}/cgi-bin">',
            "  Require all granted",
            "</Directory>",
        ]
        return "\n".join(lines) + "\n"

    def write_config(self, conf: str):
        self.conf_path.write_text(self.base_config() + conf)

    def docroot(self, name: str = "") -> Path:
        path = self.root / "htdocs" / name if name else self.root / "htdocs"
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o755)
        return path

    def add_cgi(self, name: str, script: str) -> str:
        path = self.root / "cgi-bin" / name
        path.write_text(script)
        os.chmod(path, 0o755)
        return f"/cgi-bin/{name}"

    # --- lifecycle -----------------------------------------------------
    def command(self):
        """The httpd command line for this server, before its action arguments."""
        return [HTTPD, "-d", str(self.root), "-f", str(self.conf_path)]

    def environment(self):
        """The environment httpd runs in."""
        env = dict(os.environ)
        env.update(self.extra_environment)
        preload = os.environ.get("GTLS_SANITIZER_PRELOAD")
        if preload:
            # A sanitizer build of the module needs its runtime loaded first; reports
            # go to logs/sanitizer.* (writable by httpd's User) and fail the test.
            env["ASAN_OPTIONS"] = f"detect_leaks=0:log_path={self.root}/logs/sanitizer"
            env["UBSAN_OPTIONS"] = f"print_stacktrace=1:log_path={self.root}/logs/sanitizer"
        libraries = ([preload] if preload else []) + list(self.extra_preload)
        if libraries:
            env["LD_PRELOAD"] = ":".join(libraries)
        return env

    def _ctl(self, *args):
        return subprocess.run([*self.command(), *args], capture_output=True, text=True, timeout=120, check=False,
                              env=self.environment())

    def configtest(self, conf: str = None):
        """(exit code, combined output) of `httpd -t`; with `conf`, on the base
        config plus `conf` (written first), otherwise on the current config."""
        if conf is not None:
            self.write_config(conf)
        result = self._ctl("-t")
        return result.returncode, result.stdout + result.stderr

    def start(self, wait_port: int = None):
        generations = self.generations()
        result = self._ctl("-k", "start")
        if result.returncode != 0:
            raise RuntimeError(f"httpd did not start: {result.stdout}{result.stderr}\n{self.read_error_log()}")
        self.started = True
        deadline = time.monotonic() + 10
        while not self.pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if wait_port:
            wait_for_port(wait_port)
            # The port opens before the parent logs that it runs: wait for that
            # line too, or a later generations() count (graceful()) would take
            # it for the next generation.
            while self.generations() <= generations and time.monotonic() < deadline:
                time.sleep(0.05)

    def pid(self) -> int:
        return int(self.pid_file.read_text().strip())

    def children(self):
        """Pids of the parent's live child processes (the workers)."""
        return _children(self.pid())

    def generations(self) -> int:
        return self.read_error_log().count("resuming normal operations")

    def graceful(self, timeout: float = 20.0):
        before = self.generations()
        result = self._ctl("-k", "graceful")
        if result.returncode != 0:
            raise RuntimeError(f"graceful failed: {result.stdout}{result.stderr}")
        deadline = time.monotonic() + timeout
        while self.generations() <= before:
            if time.monotonic() > deadline:
                raise TimeoutError("httpd did not finish the graceful restart")
            time.sleep(0.05)

    def stop(self):
        """Stops httpd and waits for it. `-k stop` parses the configuration
        first, so when a test left a broken one the parent gets the same SIGTERM
        directly. A parent that does not exit is killed together with its
        children (killing the parent alone orphans them, and they keep the
        port), and the test fails."""
        if not self.started:
            return
        self.started = False
        try:
            pid = self.pid()
        except (OSError, ValueError):
            return
        log_offset = self._error_log_size()
        try:
            self._stop(pid)
        finally:
            self.stop_log_ranges.append((log_offset, self._error_log_size()))

    def _stop(self, pid: int):
        result = self._ctl("-k", "stop")
        if result.returncode != 0 and _alive(pid):
            os.kill(pid, signal.SIGTERM)
        if _wait_exit(pid, 20):
            return
        children = _children(pid)
        self.problems.append(f"httpd (pid {pid}) did not stop within 20 s; killed with children {children}")
        for victim in [pid, *children]:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _wait_exit(pid, 5)

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)

    # --- logs ----------------------------------------------------------
    def read_error_log(self) -> str:
        try:
            return self.error_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _error_log_size(self) -> int:
        try:
            return self.error_log.stat().st_size
        except FileNotFoundError:
            return 0

    def allow_error(self, pattern: str):
        """Declares an error-level log line the test expects."""
        self.allowed_errors.append(re.compile(pattern))

    def sanitizer_reports(self):
        return [p.read_text(errors="replace") for p in (self.root / "logs").glob("sanitizer*")]

    def unexpected_errors(self):
        bad = self.sanitizer_reports() + list(self.problems)
        try:
            log = self.error_log.read_bytes()
        except FileNotFoundError:
            log = b""
        offset = 0
        for raw in log.splitlines(keepends=True):
            line_offset, offset = offset, offset + len(raw)
            line = raw.decode(errors="replace").rstrip("\r\n")
            stopping = any(begin <= line_offset < end for begin, end in self.stop_log_ranges)
            if CRASHES.search(line):
                bad.append(line)  # a crash is never whitelisted
            elif stopping and STOP_RACES.search(line):
                continue
            elif SERIOUS_LEVELS.search(line) and not any(p.search(line) for p in self.allowed_errors):
                bad.append(line)
        return bad
