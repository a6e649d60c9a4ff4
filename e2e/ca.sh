#!/usr/bin/env bash
# Makes a throwaway test CA and a server certificate signed by it, for the TLS test
# servers and for workerd's trust store (workerd refuses a self-signed end-entity
# certificate, so the leaf must be CA:FALSE and issued by a separate CA).
#
#   bash e2e/ca.sh DIR
#
# Writes into DIR: ca.pem (CA certificate), ca.key, server.pem (leaf certificate),
# server.key (its key, unencrypted), server-chain.pem (leaf + CA). The leaf is valid for
# DNS:localhost and IP:127.0.0.1, for 2 days.
set -euo pipefail

dir="${1:?usage: ca.sh DIR}"
mkdir -p "$dir"
cd "$dir"

openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout ca.key -out ca.pem -days 2 -sha256 \
  -subj "/CN=wasm-smtp e2e test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" 2>/dev/null

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null

cat >server.ext <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EXT

openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out server.pem -days 2 -sha256 -extfile server.ext 2>/dev/null

cat server.pem ca.pem >server-chain.pem
rm -f server.csr server.ext ca.srl
chmod 600 ca.key server.key

openssl verify -CAfile ca.pem server.pem >/dev/null
echo "ca.sh: test CA and server certificate in $dir"
