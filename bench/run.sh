#!/usr/bin/env bash
# The benchmark command: installs what it needs, builds, starts mod_gtls and
# mod_ssl httpds (and an OCSP responder for mod_ssl) on loopback ports, runs
# the interleaved rounds, stops everything, and writes bench/RESULTS.md + .png.
#   bench/run.sh [--rounds N] [--smoke] [--output FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
if ! command -v gnuplot >/dev/null; then
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends gnuplot-nox
fi
"$root/scripts/build.sh"
exec /usr/bin/python3 "$root/bench/run.py" "$@"
