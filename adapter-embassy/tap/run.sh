#!/usr/bin/env bash
# The embedded stack against a real server, through a TAP device:
#   embassy-executor (std) + embassy-net (smoltcp) on a TAP device + embedded-tls + the
#   unchanged SMTP core  ->  aiosmtpd (STARTTLS and implicit TLS, AUTH, a test CA).
#
# Creates a network namespace with IPv6 off, a TAP device in it with 169.254.77.1/24
# (the server's side; the embassy stack is 169.254.77.2/24), a test CA and a server
# certificate for smtp.embassy.test, runs the servers of e2e/servers.py on 169.254.77.1
# and the program (examples/tap.rs) inside the namespace, and checks:
#   1. STARTTLS + AUTH PLAIN: the delivered message equals the sent one byte for byte;
#      TLS 1.3, upgraded by STARTTLS, authenticated, envelope as sent;
#   2. implicit TLS + AUTH LOGIN: the same;
#   3. STARTTLS with a CA that did not sign the server's certificate: the handshake
#      fails, no AUTH and no message reach the server;
#   4. implicit TLS with a server name the certificate does not carry: the same.
# Deletes everything it created on exit. Needs root, /dev/net/tun and `ip netns`.
# Every failure fails the script; nothing is skipped.
#
#   bash adapter-embassy/tap/run.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../../e2e/versions.sh
. "$root/e2e/versions.sh"

ns="wsmtp-embassy-$$"
tap=tap-smtp
host_ip=169.254.77.1
dev_cidr=169.254.77.2/24
name=smtp.embassy.test
user=device@embassy.test
export SMTP_PASSWORD="tap-run-secret"
work="$(mktemp -d /tmp/wsmtp-embassy-tap.XXXXXX)"
server_pid=

fail() { echo "tap/run.sh: FAIL: $*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }

cleanup() {
  local rc=$?
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  ip netns del "$ns" 2>/dev/null || true
  if [ "$rc" != 0 ] && [ -f "$work/server.log" ]; then
    echo "--- server log (last 30 lines)" >&2; tail -n 30 "$work/server.log" >&2 || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || fail "needs root (network namespace, TAP device)"
[ -c /dev/net/tun ] || fail "/dev/net/tun is missing"

step "aiosmtpd (e2e/setup.sh) and the program (cargo build --example tap)"
bash "$root/e2e/setup.sh" >/dev/null
[ -x "$E2E_PYTHON" ] || fail "no aiosmtpd venv at $E2E_PYTHON"
(cd "$root" && cargo build -q -p wasm-smtp-embassy --example tap)
target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
program="$target_dir/debug/examples/tap"
[ -x "$program" ] || fail "no program at $program"

step "test CA and server certificate for $name (and a CA that did not sign it)"
cd "$work"
mkca() {
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.pem" -days 2 -sha256 -subj "/CN=wasm-smtp embassy $1" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
  openssl x509 -in "$1.pem" -outform DER -out "$1.der"
}
mkca ca
mkca other-ca
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout server.key -out server.csr -subj "/CN=$name" 2>/dev/null
cat >server.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:$name,IP:$host_ip
EXT
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
  -days 2 -sha256 -extfile server.ext 2>/dev/null
cat server.pem ca.pem >server-chain.pem
openssl verify -CAfile ca.pem server.pem >/dev/null
! openssl verify -CAfile other-ca.pem server.pem >/dev/null 2>&1 || fail "other-ca verifies the server?"

step "network namespace $ns, $tap with $host_ip/24 (IPv6 off; the device is $dev_cidr)"
ip netns add "$ns"
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$ns" tuntap add dev "$tap" mode tap
ip -n "$ns" addr add "$host_ip/24" dev "$tap"
ip -n "$ns" link set "$tap" up
ip -n "$ns" -brief addr

step "aiosmtpd on $host_ip:587 (STARTTLS required) and $host_ip:465 (implicit TLS)"
mkdir -p out
ip netns exec "$ns" "$E2E_PYTHON" "$root/e2e/servers.py" --host "$host_ip" \
  --out "$work/out" --ready "$work/ready" --cert server-chain.pem --key server.key \
  --starttls 587 --implicit 465 --user "$user" --password "$SMTP_PASSWORD" \
  --log "$work/server.log" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 200); do
  [ -f ready ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat server.err >&2; fail "the server exited"; }
  sleep 0.05
done
[ -f ready ] || fail "the server did not start"
cat ready; echo

# Messages with CRLF line ends, so that what the server stores must equal the file.
python3 - <<'PY'
lines_a = ["From: device@embassy.test", "To: ops@embassy.test",
           "Subject: embassy-net + embedded-tls + wasm-smtp over a TAP device", "", "Hello from smoltcp."]
lines_a += [".", "..two dots", ".leading dot", "x" * 998]
lines_a += [f"line {i:05} " + "abcdefghijklmnopqrstuvwxyz" * 2 for i in range(600)]  # ~40 KB: many TLS records
lines_a += ["end"]
open("message-a.eml", "wb").write(("\r\n".join(lines_a) + "\r\n").encode())
lines_b = ["From: device@embassy.test", "To: ops@embassy.test", "Subject: implicit TLS, AUTH LOGIN", "",
           "Second message.", ". not the end"]
open("message-b.eml", "wb").write(("\r\n".join(lines_b) + "\r\n").encode())
PY

# run_program CASE EXPECTED_STATUS ARGS...
run_program() {
  local case="$1" want="$2"; shift 2
  local status=0
  timeout 60 ip netns exec "$ns" "$program" --tap "$tap" --address "$dev_cidr" --server "$host_ip" \
    --user "$user" --from "$user" --to ops@embassy.test "$@" >"$case.out" 2>"$case.err" || status=$?
  cat "$case.out"
  if [ "$status" != "$want" ]; then
    cat "$case.err" >&2
    fail "$case: exit status $status, expected $want"
  fi
}

# check_delivery SEQ VARIANT MESSAGE MECHANISM STARTTLS
check_delivery() {
  local base="out/msg-$1-$2"
  [ -f "$base.json" ] || fail "no message $base.json"
  cmp "$3" "$base.eml" || fail "$base.eml differs from $3"
  python3 - "$base.json" "$4" "$5" "$user" <<'PY'
import json, sys
rec = json.load(open(sys.argv[1]))
want = {"tls": True, "tls_version": "TLSv1.3", "starttls": sys.argv[3] == "true", "authenticated": True,
        "auth_mechanism": sys.argv[2], "auth_user": sys.argv[4], "mail_from": sys.argv[4],
        "rcpt_tos": ["ops@embassy.test"], "ehlo": "device.embassy.test"}
bad = {k: (rec.get(k), v) for k, v in want.items() if rec.get(k) != v}
if bad:
    sys.exit(f"unexpected session facts (got, want): {bad}")
if rec["peer"][0] != "169.254.77.2":
    sys.exit(f"peer {rec['peer']}")
print(f"   delivered {rec['size']} bytes, sha256 {rec['sha256'][:16]}..., {rec['tls_version']}, "
      f"AUTH {rec['auth_mechanism']}, starttls={rec['starttls']}, from {rec['peer'][0]}")
PY
}

# check_refused CASE VARIANT: the connection of CASE (found by the program's local port)
# sent no AUTH and no message. After STARTTLS the server records the connection when it
# ends (wait for that record); with implicit TLS the server's side of the handshake never
# completes, so aiosmtpd may not create a session (and no record) at all.
check_refused() {
  python3 - "$1" "$2" <<'PY'
import glob, json, re, sys, time
case, variant = sys.argv[1], sys.argv[2]
m = re.search(r"connected from 169\.254\.77\.2:(\d+) ", open(f"{case}.err").read())
if not m:
    sys.exit(f"{case}: the program did not print its local port")
port = int(m.group(1))
def find():
    for path in glob.glob(f"out/conn-*-{variant}.json"):
        rec = json.load(open(path))
        if rec.get("peer") and rec["peer"][1] == port:
            return rec
deadline = time.monotonic() + 10
rec = find()
while rec is None and variant == "starttls" and time.monotonic() < deadline:
    time.sleep(0.05)
    rec = find()
if rec is None:
    if variant == "starttls":
        sys.exit(f"{case}: no connection record for port {port}")
    print(f"   server: no SMTP session from port {port} (its TLS handshake never completed)")
    sys.exit(0)
said = [t for d, t in rec["transcript"] if d == "C"]
if rec["auth_attempts"] or any(t.upper().startswith("AUTH") for t in said) or rec["messages"]:
    sys.exit(f"{case}: AUTH or a message after a failed handshake: {rec}")
print(f"   server saw from port {port}: {said} (no AUTH, no message)")
PY
}

step "1. STARTTLS + AUTH PLAIN, 40 KB message"
run_program starttls 0 --port 587 --security starttls --server-name "$name" --ca ca.der \
  --mechanism plain --message message-a.eml
check_delivery 1 starttls message-a.eml PLAIN true

step "2. implicit TLS + AUTH LOGIN"
run_program implicit 0 --port 465 --security implicit --server-name "$name" --ca ca.der \
  --mechanism login --message message-b.eml
check_delivery 2 implicit message-b.eml LOGIN false

step "3. STARTTLS, server certificate not signed by the given CA: refused"
run_program wrong-ca 3 --port 587 --security starttls --server-name "$name" --ca other-ca.der \
  --mechanism plain --message message-b.eml
grep -q 'transport=Some(Tls(InvalidCertificate))' wrong-ca.out || fail "wrong-ca: not a certificate error"
check_refused wrong-ca starttls

step "4. implicit TLS, server name not in the certificate: refused"
run_program wrong-name 3 --port 465 --security implicit --server-name other.embassy.test --ca ca.der \
  --mechanism login --message message-b.eml
grep -q 'transport=Some(Tls(InvalidCertificate))' wrong-name.out || fail "wrong-name: not a certificate error"
check_refused wrong-name implicit

n="$(ls out/msg-*.json | wc -l)"
[ "$n" = 2 ] || fail "$n messages delivered, expected 2"

printf '\ntap/run.sh: all TAP checks passed (2 messages delivered byte for byte, 2 handshakes refused)\n'
