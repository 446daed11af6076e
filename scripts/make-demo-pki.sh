#!/usr/bin/env bash
# Makes a throw-away PKI with certtool: a root CA, an intermediate CA, and an RSA
# and an ECDSA leaf for NAME (and any further DNS names), each with a chain file
# (leaf + intermediate).
#   scripts/make-demo-pki.sh DIR NAME [DNS_NAME...]
set -euo pipefail
dir=$1 name=$2
shift 2
extra_names=""
for alt in "$@"; do extra_names+="dns_name = \"$alt\""$'\n'; done
mkdir -p "$dir"
cd "$dir"
quiet() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; }; }

cat > ca.tmpl <<T
cn = "mod_gtls demo root CA"
ca
cert_signing_key
crl_signing_key
expiration_days = 3650
T
cat > intermediate.tmpl <<T
cn = "mod_gtls demo intermediate CA"
ca
cert_signing_key
crl_signing_key
expiration_days = 3650
T
cat > leaf.tmpl <<T
cn = "$name"
dns_name = "$name"
${extra_names}ip_address = "127.0.0.1"
tls_www_server
signing_key
encryption_key
expiration_days = 365
T
quiet certtool --generate-privkey --key-type ecdsa --outfile ca.key
quiet certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem
quiet certtool --generate-privkey --key-type ecdsa --outfile intermediate.key
quiet certtool --generate-certificate --load-privkey intermediate.key --load-ca-certificate ca.pem \
  --load-ca-privkey ca.key --template intermediate.tmpl --outfile intermediate.pem
for type in rsa ecdsa; do
  if [[ $type == rsa ]]; then key_args=(--key-type rsa --bits 2048); else key_args=(--key-type ecdsa --curve secp256r1); fi
  quiet certtool --generate-privkey "${key_args[@]}" --outfile "$name-$type.key"
  quiet certtool --generate-certificate --load-privkey "$name-$type.key" --load-ca-certificate intermediate.pem \
    --load-ca-privkey intermediate.key --template leaf.tmpl --outfile "$name-$type.pem"
  cat "$name-$type.pem" intermediate.pem > "$name-$type.chain.pem"
done
rm -f ./*.tmpl

# OCSP responses for both leaves, signed by the intermediate (as its responder
# would), valid for 7 days; written to a temp file and renamed, as a cron job
# refreshing them should.
: > index.txt
echo "unique_subject = no" > index.txt.attr
for type in rsa ecdsa; do
  serial=$(openssl x509 -in "$name-$type.pem" -noout -serial | cut -d= -f2)
  subject=$(openssl x509 -in "$name-$type.pem" -noout -subject -nameopt compat | sed 's/^subject=//')
  printf 'V\t301231235959Z\t\t%s\tunknown\t%s\n' "$serial" "$subject" >> index.txt
done
for type in rsa ecdsa; do
  quiet openssl ocsp -index index.txt -rsigner intermediate.pem -rkey intermediate.key -CA intermediate.pem \
    -issuer intermediate.pem -cert "$name-$type.pem" -ndays 7 -respout "$name-$type.ocsp.der.tmp"
  mv "$name-$type.ocsp.der.tmp" "$name-$type.ocsp.der"
done
rm -f index.txt index.txt.attr index.txt.old index.txt.attr.old
