#!/usr/bin/env bash
# Makes the fuzzers' seed corpora under OUTDIR (default build/fuzz, or $GTLS_FUZZ_DIR):
#   OUTDIR/ocsp-fixtures/            PKI and responses (tests/fixtures/make-ocsp-fixtures.sh
#                                    and tests/unit/fixtures/make_ocsp_extra_fixtures.sh)
#   OUTDIR/seeds/ocsp_response_fuzzer/           those responses (DER, one PEM)
#   OUTDIR/seeds/directive_values_fuzzer/        valid and invalid directive arguments
#   OUTDIR/seeds/client_hello_fuzzer/            ClientHellos from gnutls-cli and openssl s_client
#   OUTDIR/seeds/client_hello_extension_fuzzer/  their server_name and ALPN extensions, and hand-made ones
# The fixture PKI is kept between runs (the fuzzers' own corpora, under
# OUTDIR/corpus/, hold responses signed by its keys) and made again only when it
# is missing or 300 days old (the leaves last 365). Seeds are made again when
# missing or when this script or the capture script changed.
#   fuzz/make-corpora.sh [OUTDIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${GTLS_FUZZ_DIR:-$root/build/fuzz}}
fixtures=$out/ocsp-fixtures
seeds=$out/seeds
mkdir -p "$out"

if [[ ! -f $fixtures/leaf-rsa-issued.pem || -n $(find "$fixtures/leaf-ecdsa.pem" -mtime +300 2>/dev/null) ]]; then
  "$root/tests/fixtures/make-ocsp-fixtures.sh" "$fixtures" >/dev/null
  "$root/tests/unit/fixtures/make_ocsp_extra_fixtures.sh" "$fixtures" >/dev/null
  rm -rf "$seeds/ocsp_response_fuzzer"
fi

stamp=$seeds/.made
if [[ -f $stamp && ! $root/fuzz/make-corpora.sh -nt $stamp && ! $root/fuzz/capture_client_hellos.py -nt $stamp &&
      ! $fixtures/leaf-ecdsa.pem -nt $stamp && -d $seeds/ocsp_response_fuzzer ]]; then
  exit 0
fi
rm -rf "$seeds"
mkdir -p "$seeds"/{ocsp_response_fuzzer,directive_values_fuzzer,client_hello_fuzzer,client_hello_extension_fuzzer}

# OCSP: every response the fixture scripts make, except the empty file and the
# 70 KiB one (the validator refuses both before parsing; the big one would only
# make libFuzzer's inputs longer).
for response in "$fixtures"/*.der; do
  case $(basename "$response") in empty.der | oversized.der) continue ;; esac
  cp "$response" "$seeds/ocsp_response_fuzzer/"
done
cp "$fixtures/good-ecdsa.pem" "$seeds/ocsp_response_fuzzer/"

# Directive arguments. A NUL separates GnuTLSCache's legacy second word.
n=0
directive_seed() { printf '%b' "$1" > "$seeds/directive_values_fuzzer/$(printf '%02d' $n)"; n=$((n + 1)); }
for value in On off ON maybe '' 0 300 604800 604801 -1 5s 007 99999999999999999999 \
             -9223372036854775808 none NONE shmcb 'shmcb:/run/gtls_cache(512000)' 'dbm:/var/cache/gtls' \
             'memcache:127.0.0.1:11211' 'redis:localhost:6379' gdbm: 'sh/mcb' ':' 'none:x' \
             NORMAL SECURE256 PERFORMANCE '@SYSTEM' 'NONE:+VERS-TLS1.3:+AES-128-GCM:+AEAD:+GROUP-X25519:+SIGN-ALL' \
             'NORMAL:-VERS-ALL:+VERS-TLS1.2:%SERVER_PRECEDENCE' 'NORMAL:+NO-SUCH-THING' 'NORMAL:%COMPAT:%NO_TICKETS' \
             'NORMAL:-VERS-ALL' 'NORMAL::' '%SERVER_PRECEDENCE' 'SYSTEM:+VERS-TLS1.3'; do
  directive_seed "$value"
done
directive_seed 'dbm\0/var/cache/gtls'
directive_seed 'gdbm\0/var/cache/gtls'
directive_seed 'shmcb:/x\0/y'
directive_seed 'none\0/y'
directive_seed "$(sed -n 's/^ *"\(.*\)"[;]*$/\1/p' "$root/module/core/priorities.h" | tr -d '\n')"

# ClientHellos, through a relay to a gnutls-serv with the fixture leaf.
python3 "$root/fuzz/capture_client_hellos.py" "$fixtures/leaf-ecdsa.pem" "$fixtures/leaf-ecdsa.key" \
  "$seeds/client_hello_fuzzer" "$seeds/client_hello_extension_fuzzer" >/dev/null
# Not TLS at all: a browser speaking plain HTTP to the port.
printf 'GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n' > "$seeds/client_hello_fuzzer/plain-http"

# Extension bodies the clients do not send: several names, an empty host_name,
# another name type, truncated and oversized lengths, empty protocol names.
extension_seed() { printf '%b' "$2" > "$seeds/client_hello_extension_fuzzer/$1"; }
extension_seed several-names '\x00\x16\x00\x00\x06a.test\x00\x00\x06b.test\x01\x00\x01x'
extension_seed empty-host-name '\x00\x0c\x00\x00\x00\x00\x00\x06a.test'
extension_seed other-name-type '\x00\x09\x07\x00\x06a.test'
extension_seed truncated-name '\x00\x09\x00\x00\x08a.test'
extension_seed oversized-list '\xff\xff\x00\x00\x06a.test'
extension_seed alpn-empty-name '\x00\x06\x02h2\x00\x01x'
extension_seed alpn-overrun '\x00\x05\x02h2\x09ht'
extension_seed alpn-many '\x00\x1c\x02h2\x08http/1.1\x08http/1.0\x06spdy/3'
touch "$stamp"
echo "seed corpora in $seeds"
