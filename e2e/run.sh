#!/usr/bin/env bash
# End-to-end test of the Cloudflare Workers build of wasm-smtp, on this machine only
# (127.0.0.1): the real Workers runtime (workerd) runs the built Worker, which sends mail
# to real SMTP servers (aiosmtpd with STARTTLS / implicit TLS / AUTH, Postfix smtp-sink).
#
#   bash e2e/run.sh BUILD_DIR [CASE ...]
#
# BUILD_DIR is the Worker built by worker-build: the folder holding index.js and
# index_bg.wasm (`build/`), or the crate folder that contains `build/`. Without CASE
# every case runs; `python3 e2e/harness.py list` names them.
#
# Steps: setup.sh (installs what is missing, ~1 s when all is there), a throwaway test CA
# (ca.sh), servers.py (four aiosmtpd variants), three smtp-sink instances, workerd with
# one Worker service per case (harness.py config), then harness.py test. Every process
# started here is stopped on exit. Readiness is polled, bounded (no fixed sleeps).
# Prints "N passed, M failed"; exits non-zero on any failure.
#
# Environment:
#   E2E_SETUP=0        do not run setup.sh (tools must be installed already)
#   E2E_KEEP=1         keep the work folder (logs, config, received mail) even on success
#   E2E_VERBOSE=1      workerd --verbose
#   E2E_TOOLS          tool cache (default $HOME/.cache/wasm-smtp-tools)
#   E2E_MAIN           main module name if not index.js
#   E2E_COMPAT_DATE    compatibilityDate (default 2025-11-01)
#   E2E_COMPAT_FLAGS   compatibilityFlags, comma or space separated (default none)
#   E2E_HTTP_TIMEOUT   seconds per request to the Worker (default 30)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"

if [ "$#" -lt 1 ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
build="$1"
shift
if [ -f "$build/build/index.js" ] && [ ! -f "$build/index.js" ]; then build="$build/build"; fi
[ -d "$build" ] || { echo "run.sh: no such folder: $build" >&2; exit 2; }
build="$(cd "$build" && pwd)"
if [ -z "${E2E_MAIN:-}" ] && [ ! -f "$build/index.js" ]; then
  echo "run.sh: $build has no index.js (is it worker-build's build/ folder? else set E2E_MAIN)" >&2
  exit 2
fi

start=$(date +%s.%N)
elapsed() { awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
step() { printf '== e2e (t+%ss): %s\n' "$(elapsed)" "$*"; }
ncases=$(python3 "$here/harness.py" list | wc -l)
if [ "$#" -gt 0 ]; then ncases=$#; fi
die() {
  echo "run.sh: $*" >&2
  local log
  for log in workerd.log servers.stderr; do
    if [ -n "${work:-}" ] && [ -s "$work/$log" ]; then
      echo "-- $log (last 30 lines):" >&2
      tail -n 30 "$work/$log" | cut -c1-400 >&2
    fi
  done
  echo "e2e: 0 passed, $ncases failed"
  exit 1
}

if [ "${E2E_SETUP:-1}" != 0 ]; then
  step "setup"
  bash "$here/setup.sh" | sed 's/^/   /'
fi
[ -x "$E2E_PYTHON" ] || die "aiosmtpd venv missing ($E2E_PYTHON): run e2e/setup.sh"
[ -x "$WORKERD" ] || die "workerd missing ($WORKERD): run e2e/setup.sh"
SMTP_SINK="$(command -v smtp-sink || echo /usr/sbin/smtp-sink)"
[ -x "$SMTP_SINK" ] || die "smtp-sink missing: run e2e/setup.sh"

work="$(mktemp -d "${TMPDIR:-/tmp}/wasm-smtp-e2e.XXXXXX")"
pids=()
cleanup() {
  rc=$?
  local pid deadline
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 5))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" = 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then
    rm -rf "$work"
  else
    echo "run.sh: logs, config and received mail kept in $work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for WHAT SECONDS PID COMMAND...: poll COMMAND until it succeeds, the process PID
# dies, or SECONDS pass.
wait_for() {
  local what="$1" secs="$2" pid="$3" deadline
  shift 3
  deadline=$(($(date +%s) + secs))
  until "$@" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "$what exited before it was ready (logs in $work)"
    [ "$(date +%s)" -lt "$deadline" ] || die "$what not ready after ${secs}s (logs in $work)"
    sleep 0.05
  done
}
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

step "test CA (in $work)"
bash "$here/ca.sh" "$work/ca" >/dev/null

step "aiosmtpd servers"
mkdir -p "$work/out"
"$E2E_PYTHON" "$here/servers.py" --out "$work/out" --ready "$work/servers.ready" \
  --cert "$work/ca/server-chain.pem" --key "$work/ca/server.key" \
  --starttls 0 --implicit 0 --nostarttls 0 --refusestarttls 0 \
  --log "$work/servers.log" >"$work/servers.stderr" 2>&1 &
servers_pid=$!
pids+=("$servers_pid")

wait_for "servers.py" 20 "$servers_pid" test -s "$work/servers.ready"

step "smtp-sink (plain, MAIL hard-rejected, MAIL soft-rejected)"
mkdir -p "$work/sink"
sink_user="$(id -un)" # smtp-sink insists on -u when started as root
# Free ports are picked by binding port 0 and closing; another process may take one
# before smtp-sink binds it ("Address already in use"). Then pick again (bounded).
start_sinks() {
  read -r sink_port sink_hard_port sink_soft_port < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
  "$SMTP_SINK" -u "$sink_user" -h e2e-sink.localhost -d "$work/sink/%Y%m%d%H%M%S." \
    "127.0.0.1:$sink_port" 16 >"$work/sink.log" 2>&1 &
  sink_pid=$!
  "$SMTP_SINK" -u "$sink_user" -h e2e-sink-hard.localhost -f MAIL \
    "127.0.0.1:$sink_hard_port" 16 >"$work/sink-hard.log" 2>&1 &
  sink_hard_pid=$!
  "$SMTP_SINK" -u "$sink_user" -h e2e-sink-soft.localhost -r MAIL \
    "127.0.0.1:$sink_soft_port" 16 >"$work/sink-soft.log" 2>&1 &
  sink_soft_pid=$!
  pids+=("$sink_pid" "$sink_hard_pid" "$sink_soft_pid")
}
sinks_listen() { # all three listen, or one has exited (then status 2)
  local pid port
  for pair in "$sink_pid:$sink_port" "$sink_hard_pid:$sink_hard_port" "$sink_soft_pid:$sink_soft_port"; do
    pid=${pair%%:*} port=${pair##*:}
    if ! tcp_open "$port"; then
      kill -0 "$pid" 2>/dev/null || return 2
      return 1
    fi
  done
}
for attempt in 1 2 3 4 5; do
  start_sinks
  deadline=$(($(date +%s) + 10))
  status=1
  while [ "$status" = 1 ] && [ "$(date +%s)" -lt "$deadline" ]; do
    status=0
    sinks_listen || status=$?
    [ "$status" = 1 ] && sleep 0.05
  done
  [ "$status" = 0 ] && break
  kill "$sink_pid" "$sink_hard_pid" "$sink_soft_pid" 2>/dev/null || true
  wait "$sink_pid" "$sink_hard_pid" "$sink_soft_pid" 2>/dev/null || true
  if [ "$status" = 1 ] || [ "$attempt" = 5 ] || ! grep -qs "Address already in use" "$work"/sink*.log; then
    cat "$work"/sink*.log >&2 || true
    die "smtp-sink did not start (logs in $work)"
  fi
  echo "   smtp-sink: a port was taken meanwhile, picking again (attempt $attempt)"
done
printf '{"sink": %s, "sink_hard": %s, "sink_soft": %s}\n' \
  "$sink_port" "$sink_hard_port" "$sink_soft_port" >"$work/sink.ports"
echo "   aiosmtpd: $(cat "$work/servers.ready"); smtp-sink: $(cat "$work/sink.ports")"

step "workerd $("$WORKERD" --version 2>&1) with the Worker from $build"
nsockets=$(python3 "$here/harness.py" config --build "$build" --work "$work" \
  --ports "$work/servers.ready" --sink-ports "$work/sink.ports" --ca "$work/ca/ca.pem")
verbose=()
if [ "${E2E_VERBOSE:-0}" = 1 ]; then verbose=(--verbose); fi
# The control fd reports {"event":"listen","socket":NAME,"port":N} per socket when ready.
"$WORKERD" serve "$work/workerd.capnp" "${verbose[@]}" --control-fd 3 \
  3>"$work/workerd.control" >"$work/workerd.log" 2>&1 &
workerd_pid=$!
pids+=("$workerd_pid")
all_listening() { [ "$(grep -c '"listen"' "$work/workerd.control")" -ge "$nsockets" ]; }
wait_for "workerd" 30 "$workerd_pid" all_listening
echo "   $nsockets Worker services listening"

step "cases"
rc=0
python3 "$here/harness.py" test --work "$work" --control "$work/workerd.control" \
  --out "$work/out" --sink-dump "$work/sink" "$@" || rc=$?
if [ "$rc" != 0 ]; then
  echo "-- workerd log (last 40 lines):"
  tail -n 40 "$work/workerd.log" | cut -c1-400
  echo "-- servers.py stderr (last 20 lines):"
  tail -n 20 "$work/servers.stderr"
fi
step "done (rc=$rc)"
exit "$rc"
