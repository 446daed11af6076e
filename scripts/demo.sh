#!/usr/bin/env bash
# README command 1: installs what is missing, builds mod_gtls, makes a demo PKI
# and starts Debian's httpd with mod_gtls on a loopback port.
#   scripts/demo.sh          start (or restart) the demo
#   scripts/demo.sh stop     stop it
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${GTLS_BUILD_DIR:-$root/build}
demo=$build_dir/demo
httpd=/usr/sbin/apache2

stop_demo() {
  if [[ -f $demo/logs/httpd.pid ]] && kill -0 "$(cat "$demo/logs/httpd.pid")" 2>/dev/null; then
    "$httpd" -d "$demo" -f "$demo/httpd.conf" -k stop
    for _ in $(seq 50); do [[ -f $demo/logs/httpd.pid ]] || break; sleep 0.1; done
    echo "demo stopped"
  fi
}

if [[ ${1:-} == stop ]]; then stop_demo; exit 0; fi

"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
stop_demo

mkdir -p "$demo"/{pki,logs,htdocs}
"$root/scripts/make-demo-pki.sh" "$demo/pki" localhost

port=${GTLS_DEMO_PORT:-8443}
if ! python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1])))" "$port" 2>/dev/null; then
  port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
fi

user_lines=""
if [[ $(id -u) -eq 0 ]]; then user_lines=$'User www-data\nGroup www-data'; fi
python3 - "$root/conf/demo/httpd.conf.in" "$demo/httpd.conf" "$demo" "$port" \
    "$build_dir/module/mod_gtls.so" "$(apxs -q LIBEXECDIR)" "$user_lines" <<'PY'
import sys
template, out, root, port, module, modules, user_lines = sys.argv[1:]
text = open(template).read()
for key, value in {"ROOT": root, "PORT": port, "MODULE": module, "MODULES": modules,
                   "USER_LINES": user_lines}.items():
    text = text.replace("@" + key + "@", value)
open(out, "w").write(text)
PY
cat > "$demo/htdocs/index.html" <<HTML
<!doctype html><title>mod_gtls demo</title>
<h1>mod_gtls works</h1>
<p>This page came over TLS from Apache httpd with mod_gtls.</p>
HTML
chmod -R a+rX "$demo"
chmod 0600 "$demo"/pki/*.key

"$httpd" -t -d "$demo" -f "$demo/httpd.conf"
"$httpd" -d "$demo" -f "$demo/httpd.conf" -k start
for _ in $(seq 100); do
  python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 0.2)" "$port" 2>/dev/null && break
  sleep 0.1
done

cat <<TXT

mod_gtls demo is running on https://localhost:$port/ (ServerRoot $demo)
  curl --cacert $demo/pki/ca.pem https://localhost:$port/
  curl --http2 --cacert $demo/pki/ca.pem -sv https://localhost:$port/ -o /dev/null
  gnutls-cli --x509cafile $demo/pki/ca.pem --port $port localhost
  openssl s_client -connect 127.0.0.1:$port -servername localhost -status -sigalgs ECDSA+SHA256 </dev/null
  openssl s_client -connect 127.0.0.1:$port -servername localhost -status -sigalgs rsa_pss_rsae_sha256 </dev/null
  curl --cert-status --cacert $demo/pki/ca.pem https://localhost:$port/
  curl --cacert $demo/pki/ca.pem 'https://localhost:$port/server-status?auto' | grep GTLSStaple
Each certificate's OCSP response: $demo/pki/localhost-{rsa,ecdsa}.ocsp.der
(re-run scripts/make-demo-pki.sh's openssl ocsp step and rename over them: served within 2 s, no reload)
Error log: $demo/logs/error.log
Stop it:   $root/scripts/demo.sh stop
TXT
