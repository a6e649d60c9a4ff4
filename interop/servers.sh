#!/usr/bin/env bash
# Real SMTP servers on 127.0.0.1 for the interoperability suite: aiosmtpd variants,
# Postfix smtp-sink instances with fault knobs, and a real Postfix (smtpd + virtual
# delivery to a maildir), every one on its own free loopback port, all state in DIR.
#
#   bash interop/servers.sh start DIR   # start everything, write DIR/servers.env, exit 0
#   bash interop/servers.sh stop DIR    # stop everything started in DIR, check it is gone
#
# start: installs what is missing (bash e2e/setup.sh), makes a test CA (bash e2e/ca.sh),
# starts the servers in the background (pids in DIR/pids), waits (bounded polling, no
# fixed sleeps) until each one listens, probes EHLO, then writes DIR/servers.env
# (KEY=VALUE lines, written last and atomically: its presence means "all ready").
# If any server fails to start, its log is printed, whatever was started is stopped,
# and the exit status is 1. Needs root (Postfix). DIR must be new or empty.
#
# stop: SIGTERM to every recorded server, `postfix -c DIR/postfix stop`, bounded wait,
# SIGKILL (by pid) for anything left, then checks that no port of servers.env listens
# and no Postfix process of DIR remains. Exit status 1 if something is left. DIR (mail,
# logs) is kept.
#
# See interop/README.md for the env keys and how tests fetch delivered messages.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=../e2e/versions.sh
. "$repo/e2e/versions.sh"

SYS_PY=/usr/bin/python3
INTEROP_USER=alice
REJECT_PREFIX=reject
POSTFIX_HOSTNAME=interop-postfix.localhost
POSTFIX_SIZE_LIMIT=52428800 # 50 MiB
SINK_HOST_SUFFIX=interop-sink.localhost

# The smtp-sink instances: NAME -> options. Hard/soft reply texts are set per instance
# (-B/-b); -f and -r imply "no PIPELINING" (smtp-sink(1)).
SINKS=(SINK SINK_SOFT_RCPT SINK_HARD_RCPT SINK_SOFT_MAIL SINK_HARD_MAIL SINK_SOFT_DOT
  SINK_HARD_DOT SINK_DROP_DATA SINK_DROP_DOT SINK_421_RCPT SINK_ABORT_DATA SINK_NOESMTP
  SINK_NOEXT)
sink_opts() {
  case "$1" in
    SINK) opts=() ;;
    SINK_SOFT_RCPT) opts=(-r RCPT -b "450 4.2.0 Error: recipient temporarily rejected") ;;
    SINK_HARD_RCPT) opts=(-f RCPT -B "550 5.1.1 Error: recipient rejected") ;;
    SINK_SOFT_MAIL) opts=(-r MAIL -b "451 4.3.0 Error: sender temporarily rejected") ;;
    SINK_HARD_MAIL) opts=(-f MAIL -B "550 5.7.1 Error: sender rejected") ;;
    SINK_SOFT_DOT) opts=(-r . -b "451 4.3.0 Error: message temporarily rejected") ;;
    SINK_HARD_DOT) opts=(-f . -B "554 5.6.0 Error: message rejected") ;;
    SINK_DROP_DATA) opts=(-q DATA) ;;
    SINK_DROP_DOT) opts=(-q .) ;;
    SINK_421_RCPT) opts=(-Q RCPT) ;;
    SINK_ABORT_DATA) opts=(-A 0) ;;
    SINK_NOESMTP) opts=(-e) ;;
    SINK_NOEXT) opts=(-8 -a -C -F -E -N -p) ;;
    *) echo "servers.sh: unknown sink $1" >&2; exit 2 ;;
  esac
}
sink_doc() {
  case "$1" in
    SINK) echo "accepts everything, stores each message" ;;
    SINK_SOFT_RCPT) echo "every RCPT: 450 4.2.0 (no PIPELINING)" ;;
    SINK_HARD_RCPT) echo "every RCPT: 550 5.1.1 (no PIPELINING)" ;;
    SINK_SOFT_MAIL) echo "every MAIL: 451 4.3.0 (no PIPELINING)" ;;
    SINK_HARD_MAIL) echo "every MAIL: 550 5.7.1 (no PIPELINING)" ;;
    SINK_SOFT_DOT) echo "end of DATA: 451 4.3.0, message is stored anyway (no PIPELINING)" ;;
    SINK_HARD_DOT) echo "end of DATA: 554 5.6.0, message is stored anyway (no PIPELINING)" ;;
    SINK_DROP_DATA) echo "DATA command: connection closed without a reply" ;;
    SINK_DROP_DOT) echo "end of DATA: message stored, connection closed without a reply" ;;
    SINK_421_RCPT) echo "RCPT: 421 4.0.0 Server closing connection, then closed" ;;
    SINK_ABORT_DATA) echo "DATA: 354, then at once 550 This violates SMTP and close, body unread" ;;
    SINK_NOESMTP) echo "greeting without ESMTP; EHLO: 500 5.5.1 unknown command; HELO works" ;;
    SINK_NOEXT) echo "EHLO lists no extension at all (no PIPELINING/8BITMIME/AUTH/DSN/...)" ;;
  esac
}

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
[ "$#" = 2 ] || usage
cmd="$1"
dir_arg="$2"

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
t0=$(now)
step() { printf '== interop servers (t+%ss): %s\n' "$(took "$t0")" "$*"; }
lower() { printf '%s' "$1" | tr 'A-Z_' 'a-z-'; }

# Is PID alive (a zombie counts as gone)?
alive() {
  local st
  st="$(ps -o stat= -p "$1" 2>/dev/null || true)"
  [ -n "$st" ] && [ "${st#Z}" = "$st" ]
}
# Is 127.0.0.1:PORT listening?
listening() { ss -Hltn "( sport = :$1 )" 2>/dev/null | grep -q "127.0.0.1:$1 "; }
# Processes of the Postfix instance of DIR (every Postfix daemon inherits MAIL_CONFIG).
postfix_pids() {
  local d="$1" f p
  # shellcheck disable=SC2013 # /proc paths: no spaces
  for f in $(grep -lzxF "MAIL_CONFIG=$d/postfix" /proc/[0-9]*/environ 2>/dev/null); do
    p="${f#/proc/}"
    p="${p%/environ}"
    if alive "$p"; then echo "$p"; fi
  done
  return 0
}

# ------------------------------------------------------------------------------ stop
do_stop() {
  local d="$1" f pid name pids=() left=() port
  # 1. background servers recorded in DIR/pids (checked to be ours: DIR in argv).
  for f in "$d"/pids/*.pid; do
    [ -e "$f" ] || continue
    name="$(basename "$f" .pid)"
    [ "$name" = postfix-master ] && continue
    pid="$(cat "$f")"
    if alive "$pid" && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$d/"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  # 2. Postfix. `postfix -c DIR/postfix stop` is "kill -TERM <master pid>" followed by a
  #    loop that polls with `sleep 1`; we send the same SIGTERM to the master (it stops
  #    its child daemons) and poll ourselves. Leftover daemons are handled below.
  if [ -f "$d/postfix/main.cf" ]; then
    local pf master
    pf="$(postfix_pids "$d")"
    master="$(tr -d ' \n' 2>/dev/null <"$d/postfix-queue/pid/master.pid" || true)"
    if [ -n "$pf" ]; then
      if [ -n "$master" ] && printf '%s\n' "$pf" | grep -qx "$master"; then
        /usr/sbin/postlog -c "$d/postfix" -t postfix/interop-servers.sh \
          "stopping the Postfix mail system (SIGTERM to master $master)" 2>/dev/null || true
        kill -TERM "$master" 2>/dev/null || true
      else
        # shellcheck disable=SC2086
        kill -TERM $pf 2>/dev/null || true
      fi
      # shellcheck disable=SC2206
      pids+=($pf)
    fi
  fi
  # 3. Bounded wait, then SIGKILL by pid.
  local deadline=$((SECONDS + 10))
  for pid in "${pids[@]}"; do
    while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.02; done
  done
  for pid in "${pids[@]}"; do
    if alive "$pid"; then
      echo "servers.sh: pid $pid did not stop in time: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${pids[@]}"; do
    deadline=$((SECONDS + 5))
    while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.02; done
  done
  # 4. Check: nothing of ours left.
  for pid in "${pids[@]}"; do alive "$pid" && left+=("pid $pid"); done
  for pid in $( [ -f "$d/postfix/main.cf" ] && postfix_pids "$d"); do left+=("postfix pid $pid"); done
  if [ -f "$d/servers.env" ]; then
    # shellcheck disable=SC2013 # one number per line
    for port in $(sed -n 's/^[A-Z0-9_]*_PORT=\([0-9][0-9]*\)$/\1/p' "$d/servers.env"); do
      listening "$port" && left+=("port $port still listening")
    done
  fi
  if [ "${#left[@]}" -gt 0 ]; then
    printf 'servers.sh: still running after stop: %s\n' "${left[*]}" >&2
    return 1
  fi
  rm -f "$d"/pids/*.pid
  return 0
}

if [ "$cmd" = stop ]; then
  [ -d "$dir_arg" ] || { echo "servers.sh: no such directory: $dir_arg" >&2; exit 2; }
  dir="$(cd "$dir_arg" && pwd -P)"
  mkdir -p "$dir/logs"
  if do_stop "$dir"; then
    step "stopped (nothing left running from $dir)"
    exit 0
  fi
  exit 1
fi
[ "$cmd" = start ] || usage

# ------------------------------------------------------------------------------ start
[ "$(id -u)" = 0 ] || { echo "servers.sh: start needs root (Postfix)" >&2; exit 2; }
mkdir -p "$dir_arg"
dir="$(cd "$dir_arg" && pwd -P)"
case "$dir" in
  *[!A-Za-z0-9._/+-]*) echo "servers.sh: DIR must be a plain path (no spaces etc.): $dir" >&2; exit 2 ;;
esac
if [ -n "$(ls -A "$dir")" ]; then
  echo "servers.sh: $dir is not empty (use a fresh directory)" >&2
  exit 2
fi
mkdir -p "$dir/pids" "$dir/logs"

start_ok=0
failed_log=""
on_exit() {
  local rc=$?
  [ "$start_ok" = 1 ] && exit 0
  [ "$rc" = 0 ] && rc=1
  echo "servers.sh: start failed (rc=$rc)" >&2
  if [ -n "$failed_log" ]; then
    for f in $failed_log; do
      [ -f "$f" ] || continue
      echo "-- $f:" >&2
      tail -n 60 "$f" | cut -c1-400 >&2
    done
  else
    for f in "$dir"/logs/*; do
      [ -s "$f" ] || continue
      echo "-- $f (last 20 lines):" >&2
      tail -n 20 "$f" | cut -c1-400 >&2
    done
  fi
  # A `postfix start` still in progress would leave a master behind: let it finish first.
  if [ -n "${pf_start_pid:-}" ]; then wait "$pf_start_pid" 2>/dev/null || true; fi
  do_stop "$dir" || true
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() {
  failed_log="${2:-}"
  echo "servers.sh: $1" >&2
  exit 1
}

# wait_for WHAT SECONDS PID LOG COMMAND...: poll COMMAND until it succeeds; fail with
# LOG if PID dies or SECONDS pass.
wait_for() {
  local what="$1" secs="$2" pid="$3" log="$4" deadline
  shift 4
  deadline=$(($(date +%s) + secs))
  until "$@" 2>/dev/null; do
    if [ -n "$pid" ] && ! alive "$pid"; then fail "$what exited before it was ready" "$log"; fi
    [ "$(date +%s)" -lt "$deadline" ] || fail "$what not ready after ${secs}s" "$log"
    sleep 0.02
  done
}

# ---------------------------------------------------------------- 0. tools
step "tools"
have_py() {
  [ -x "$E2E_PYTHON" ] && "$E2E_PYTHON" - "$AIOSMTPD_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
sys.exit(0 if version("aiosmtpd") == sys.argv[1] else 1)
PY
}
if ! { [ -x /usr/sbin/smtp-sink ] && [ -x /usr/sbin/postfix ] && [ -x /usr/sbin/postconf ] && have_py; }; then
  step "installing what is missing: bash e2e/setup.sh"
  bash "$repo/e2e/setup.sh" 2>&1 | sed 's/^/   /' || fail "e2e/setup.sh failed"
fi
for tool in /usr/sbin/smtp-sink /usr/sbin/postfix /usr/sbin/postconf "$SYS_PY" "$E2E_PYTHON"; do
  [ -x "$tool" ] || fail "missing $tool"
done
for tool in openssl ss setpriv script; do
  command -v "$tool" >/dev/null || fail "missing $tool (packages openssl, iproute2, util-linux, bsdutils)"
done
postfix_version="$(/usr/sbin/postconf -d -h mail_version)"
postfix_pkg="$(dpkg-query -W -f='${Version}' postfix 2>/dev/null || echo unknown)"

# ---------------------------------------------------------------- 1. certificates
step "test CA (bash e2e/ca.sh)"
bash "$repo/e2e/ca.sh" "$dir/ca" >"$dir/logs/ca.log" 2>&1 || fail "e2e/ca.sh failed" "$dir/logs/ca.log"
password="interop-$(od -An -tx1 -N6 /dev/urandom | tr -d ' \n')"

# ---------------------------------------------------------------- 2. free ports (aiosmtpd binds port 0 itself)
nports=$((${#SINKS[@]} + 3))  # sinks, then Postfix x3
read -r -a ports < <("$SYS_PY" - "$nports" <<'PY'
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])
PY
)
[ "${#ports[@]}" = "$nports" ] || fail "could not pick $nports free ports"

# ---------------------------------------------------------------- 3. Postfix
step "postfix $postfix_version (package $postfix_pkg): config in $dir/postfix"
nsinks=${#SINKS[@]}
pf_port="${ports[$nsinks]}"
pf_tls_port="${ports[$((nsinks + 1))]}"
pf_smtps_port="${ports[$((nsinks + 2))]}"
nobody_uid="$(id -u nobody)"
nobody_gid="$(id -g nobody)"
mkdir -p "$dir/postfix"
mkdir -m 755 "$dir/postfix-queue"
mkdir -p "$dir/postfix-mail/inbox/new" "$dir/postfix-mail/inbox/cur" "$dir/postfix-mail/inbox/tmp"
chmod -R 755 "$dir/postfix-mail"
chown -R "$nobody_uid:$nobody_gid" "$dir/postfix-mail"
# virtual(8) delivers as nobody: DIR must be searchable for it.
mail_ok() { setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups -- test -w "$dir/postfix-mail/inbox/new"; }
if ! mail_ok; then
  chmod o+x "$dir"
  mail_ok || fail "user nobody cannot reach $dir/postfix-mail (a parent directory is not searchable): use a DIR under /tmp"
fi
cat >"$dir/postfix/main.cf" <<EOF
# Postfix instance of the wasm-smtp interop suite (generated by interop/servers.sh).
# Everything lives under $dir; nothing system-wide is used or changed.
compatibility_level = 3.6
queue_directory = $dir/postfix-queue
data_directory = $dir/postfix-data
meta_directory = /etc/postfix
maillog_file = $dir/logs/postfix.log
maillog_file_prefixes = /var, /dev/stdout, $dir
myhostname = $POSTFIX_HOSTNAME
mydomain = localhost
myorigin = \$myhostname
mydestination =
relay_domains =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
biff = no
append_dot_mydomain = no
readme_directory = no
alias_maps =
alias_database =
# Do not touch message headers: no address rewriting, no added Message-ID/Date/From
# (the default, permit_inet_interfaces, would treat 127.0.0.1 as a local client).
local_header_rewrite_clients =
smtputf8_enable = yes
message_size_limit = $POSTFIX_SIZE_LIMIT
mailbox_size_limit = 0
virtual_mailbox_limit = 0
# No throttling of fast test clients.
in_flow_delay = 0s
# Every domain is local: all mail goes to ONE maildir (POSTFIX_SPOOL), except recipients
# whose local part starts with "$REJECT_PREFIX" (550 5.1.1 User unknown). Nothing leaves.
virtual_mailbox_domains = static:all
virtual_mailbox_base = $dir/postfix-mail
virtual_mailbox_maps = regexp:$dir/postfix/vmailbox.regexp
virtual_uid_maps = static:$nobody_uid
virtual_gid_maps = static:$nobody_gid
default_transport = error:interop: no outbound mail
relay_transport = error:interop: no outbound mail
# STARTTLS with the test CA's leaf certificate (localhost, 127.0.0.1); no AUTH (no SASL).
smtpd_tls_security_level = may
smtpd_tls_cert_file = $dir/ca/server-chain.pem
smtpd_tls_key_file = $dir/ca/server.key
smtpd_tls_loglevel = 1
EOF
cat >"$dir/postfix/vmailbox.regexp" <<EOF
if !/^$REJECT_PREFIX/
/^[^@]+@/	inbox/
endif
EOF
# chroot column (5th) is n everywhere: nothing to copy into a chroot jail.
cat >"$dir/postfix/master.cf" <<EOF
# service       type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$pf_port inet n - n - - smtpd
127.0.0.1:$pf_tls_port inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
127.0.0.1:$pf_smtps_port inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
# `postfix start` (postfix-script: checks, post-install create-missing, master -w) is the
# slowest step (~0.5 s alone, 2 s with the others starting): run it in the background.
( /usr/sbin/postfix -c "$dir/postfix" start </dev/null >"$dir/logs/postfix-start.log" 2>&1 ) &
pf_start_pid=$!

# ---------------------------------------------------------------- 4. aiosmtpd (port 0: free ports)
step "aiosmtpd $AIOSMTPD_VERSION variants"
mkdir -p "$dir/aiosmtpd"
"$E2E_PYTHON" "$here/aiosmtpd_servers.py" --out "$dir/aiosmtpd" --ready "$dir/aiosmtpd.ready" \
  --cert "$dir/ca/server-chain.pem" --key "$dir/ca/server.key" \
  --user "$INTEROP_USER" --password "$password" --reject-prefix "$REJECT_PREFIX" \
  --starttls 0 --implicit 0 --nostarttls 0 --refusestarttls 0 --rejectrcpt 0 \
  --log "$dir/logs/aiosmtpd.log" </dev/null >"$dir/logs/aiosmtpd.stderr" 2>&1 &
aiosmtpd_pid=$!
echo "$aiosmtpd_pid" >"$dir/pids/aiosmtpd.pid"

# ---------------------------------------------------------------- 5. smtp-sink instances
step "smtp-sink x${#SINKS[@]}"
declare -A sink_port sink_pid
i=0
for name in "${SINKS[@]}"; do
  sink_opts "$name"
  lname="$(lower "$name")"
  port="${ports[$i]}"
  i=$((i + 1))
  mkdir -p "$dir/sink/$lname"
  # -u root: smtp-sink insists on -u when started as root (it keeps root: it writes DIR).
  /usr/sbin/smtp-sink -u root -h "$lname.$SINK_HOST_SUFFIX" -d "$dir/sink/$lname/%Y%m%d%H%M%S." \
    "${opts[@]}" "127.0.0.1:$port" 64 </dev/null >"$dir/logs/$lname.log" 2>&1 &
  sink_pid[$name]=$!
  sink_port[$name]=$port
  echo "$!" >"$dir/pids/$lname.pid"
done

# ---------------------------------------------------------------- 6. wait until all listen
step "waiting for listeners"
if ! wait "$pf_start_pid"; then
  # postfix(1) prints its fatal errors only when stderr is a terminal (else to syslog,
  # which may not exist here): repeat the configuration check on a pseudo-terminal.
  script -qec "/usr/sbin/postfix -c $dir/postfix check" /dev/null >>"$dir/logs/postfix-start.log" 2>&1 || true
  fail "postfix -c $dir/postfix start failed" "$dir/logs/postfix-start.log $dir/logs/postfix.log"
fi
pf_master="$(tr -d ' \n' 2>/dev/null <"$dir/postfix-queue/pid/master.pid" || true)"
[ -n "$pf_master" ] || fail "postfix started but wrote no master.pid" "$dir/logs/postfix.log"
echo "$pf_master" >"$dir/pids/postfix-master.pid"
wait_for "aiosmtpd_servers.py" 20 "$aiosmtpd_pid" "$dir/logs/aiosmtpd.stderr" test -s "$dir/aiosmtpd.ready"
for name in "${SINKS[@]}"; do
  wait_for "smtp-sink $name" 10 "${sink_pid[$name]}" "$dir/logs/$(lower "$name").log" listening "${sink_port[$name]}"
done
for p in "$pf_port" "$pf_tls_port" "$pf_smtps_port"; do
  wait_for "postfix (127.0.0.1:$p)" 10 "$pf_master" "$dir/logs/postfix.log" listening "$p"
done
aiosmtpd_ports="$("$SYS_PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
for v in ("starttls", "implicit", "nostarttls", "refusestarttls", "rejectrcpt"):
    print("AIOSMTPD_%s_PORT=%d" % (v.upper(), d[v]))' "$dir/aiosmtpd.ready")" ||
  fail "bad ready file" "$dir/logs/aiosmtpd.stderr"
listen_time="$(took "$t0")"

# ---------------------------------------------------------------- 7. EHLO probes
step "EHLO probes (Postfix, smtp-sink)"
sink_targets=()
for name in "${SINKS[@]}"; do sink_targets+=("$name=plain:${sink_port[$name]}"); done
"$SYS_PY" "$here/ehlo.py" --ca "$dir/ca/ca.pem" --keywords-file "$dir/ehlo-keywords.txt" \
  POSTFIX=starttls:"$pf_port" POSTFIX_TLS_REQUIRED=starttls:"$pf_tls_port" \
  POSTFIX_SMTPS=implicit:"$pf_smtps_port" "${sink_targets[@]}" \
  >"$dir/ehlo.txt" 2>"$dir/logs/ehlo.log" || fail "EHLO probes failed" "$dir/logs/ehlo.log $dir/logs/postfix.log"
awk '/^# /{keep = ($2 ~ /^POSTFIX/)} keep' "$dir/ehlo.txt" >"$dir/postfix-ehlo.txt"
pf_keywords="$(sed -n 's/^POSTFIX=//p' "$dir/ehlo-keywords.txt")"
[ -n "$pf_keywords" ] || fail "no EHLO keywords from Postfix" "$dir/ehlo.txt"

# ---------------------------------------------------------------- 8. servers.env (last, atomic)
{
  echo "INTEROP_DIR=$dir"
  echo "INTEROP_HOST=127.0.0.1"
  echo "INTEROP_TLS_NAME=localhost"
  echo "INTEROP_CA=$dir/ca/ca.pem"
  echo "INTEROP_USER=$INTEROP_USER"
  echo "INTEROP_PASSWORD=$password"
  echo "INTEROP_REJECT_PREFIX=$REJECT_PREFIX"
  echo "INTEROP_PYTHON=$SYS_PY"
  echo "INTEROP_DELIVERED=$here/delivered.py"
  echo "INTEROP_STARTUP_SECONDS=$listen_time"
  echo "AIOSMTPD_VERSION=$AIOSMTPD_VERSION"
  echo "AIOSMTPD_HOSTNAME=e2e-smtp.localhost"
  echo "AIOSMTPD_SPOOL=$dir/aiosmtpd"
  echo "AIOSMTPD_SIZE_LIMIT=33554432"
  echo "$aiosmtpd_ports"
  echo "SMTP_SINK_VERSION=$postfix_version"
  for name in "${SINKS[@]}"; do
    echo "${name}_PORT=${sink_port[$name]}"
    echo "${name}_SPOOL=$dir/sink/$(lower "$name")"
  done
  echo "POSTFIX_VERSION=$postfix_version"
  echo "POSTFIX_PACKAGE_VERSION=$postfix_pkg"
  echo "POSTFIX_HOSTNAME=$POSTFIX_HOSTNAME"
  echo "POSTFIX_PORT=$pf_port"
  echo "POSTFIX_TLS_REQUIRED_PORT=$pf_tls_port"
  echo "POSTFIX_SMTPS_PORT=$pf_smtps_port"
  echo "POSTFIX_SPOOL=$dir/postfix-mail/inbox"
  echo "POSTFIX_SIZE_LIMIT=$POSTFIX_SIZE_LIMIT"
  echo "POSTFIX_EHLO_KEYWORDS=$pf_keywords"
  echo "POSTFIX_EHLO=$dir/postfix-ehlo.txt"
  echo "POSTFIX_CONFIG=$dir/postfix"
  echo "POSTFIX_LOG=$dir/logs/postfix.log"
} >"$dir/servers.env.tmp"
{
  echo "smtp-sink instances (PORT, SPOOL = directory of -d dumps):"
  for name in "${SINKS[@]}"; do printf '  %-16s %5s  %s\n' "$name" "${sink_port[$name]}" "$(sink_doc "$name")"; done
} >"$dir/sinks.txt"
mv "$dir/servers.env.tmp" "$dir/servers.env"
start_ok=1
step "ready: $dir/servers.env (all listening after ${listen_time}s)"
