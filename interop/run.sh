#!/usr/bin/env bash
# The interoperability suite: start the real servers (interop/servers.sh: aiosmtpd,
# Postfix smtp-sink with fault knobs, Postfix smtpd), run the Rust tests that talk to
# them (adapter-tokio/tests/interop.rs, all #[ignore]d so that a plain `cargo test`
# skips them visibly), and stop the servers whatever happened.
#
#   bash interop/run.sh              # needs root (Postfix); installs what is missing
#
# A server that fails to start fails the run (servers.sh exits non-zero); a test run
# without servers fails too (the tests need INTEROP_ENV). Nothing listens beyond
# 127.0.0.1. The working directory (mail, logs) is kept and printed at the end.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
# Free ports are picked by binding port 0 and closing them; another process can take
# one before its server binds it. servers.sh then fails cleanly ("Address already in
# use" in the server's log): start again in a fresh directory (bounded).
for attempt in 1 2 3; do
  dir="$(mktemp -d /tmp/wasm-smtp-interop.XXXXXX)"
  if bash "$here/servers.sh" start "$dir" 2>&1 | tee "$dir.start.log"; then
    rm -f "$dir.start.log"
    break
  fi
  if [ "$attempt" = 3 ] || ! grep -q "Address already in use" "$dir.start.log"; then
    echo "interop: the servers did not start (see above; $dir)" >&2
    exit 1
  fi
  echo "interop: a port was taken meanwhile, starting again (attempt $attempt)"
  rm -f "$dir.start.log"
done
trap 'bash "$here/servers.sh" stop "$dir" || true; echo "interop: servers, mail and logs in $dir"' EXIT
sed -n 's/^\(POSTFIX_VERSION\|AIOSMTPD_VERSION\|SMTP_SINK_VERSION\)=/interop: \1=/p' "$dir/servers.env"

cd "$root"
INTEROP_ENV="$dir/servers.env" cargo test -p wasm-smtp-tokio --test interop -- --ignored
