#!/usr/bin/env bash
# Installs the Debian packages mod_gtls needs to build, run its demo and run its
# tests, the fuzzers included (fuzz/). Installs only what is missing; needs root
# (or sudo) when anything is.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  apache2 apache2-dev libapr1-dev libaprutil1-dev
  libgnutls28-dev gnutls-bin openssl libssl-dev libcurl4-gnutls-dev
  googletest libgtest-dev libbenchmark-dev
  python3 python3-pytest
  curl faketime nghttp2-client testssl.sh valgrind
  # real session cache servers for the several-servers tests
  memcached redis-server
  # a real PKCS #11 token for the key storage tests
  softhsm2
  # Let's Encrypt's ACME test server, from which mod_md gets certificates in the tests
  pebble
  debhelper dpkg-dev fakeroot lintian
  # libFuzzer's runtime is in libclang-rt-14-dev, only a Recommends of clang-14;
  # llvm-14 has the llvm-symbolizer that makes sanitizer reports readable.
  clang-14 libclang-rt-14-dev llvm-14
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "Installing: ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian's postinst may start the system apache2; ours run on their own ports
# and ServerRoots, so the system one is left as the admin configured it. An
# apache2 that this very install started (none ran before) is stopped again:
# the package test needs the system apache2 stopped, and nobody asked for it.
system_pid_file=/var/run/apache2/apache2.pid
if [[ " ${missing[*]} " == *" apache2 "* && -s $system_pid_file ]] &&
   "${sudo_cmd[@]}" kill -0 "$(cat "$system_pid_file")" 2>/dev/null; then
  echo "Stopping the system apache2 that installing it started"
  "${sudo_cmd[@]}" apache2ctl stop || true
fi
