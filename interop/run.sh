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
dir="$(mktemp -d /tmp/wasm-smtp-interop.XXXXXX)"

bash "$here/servers.sh" start "$dir"
trap 'bash "$here/servers.sh" stop "$dir" || true; echo "interop: servers, mail and logs in $dir"' EXIT
sed -n 's/^\(POSTFIX_VERSION\|AIOSMTPD_VERSION\|SMTP_SINK_VERSION\)=/interop: \1=/p' "$dir/servers.env"

cd "$root"
INTEROP_ENV="$dir/servers.env" cargo test -p wasm-smtp-tokio --test interop -- --ignored
