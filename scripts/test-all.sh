#!/usr/bin/env bash
# The whole test suite, for a newcomer on a fresh machine and for CI (.ci/run calls it).
# Installs what it needs (Rust targets, cargo tools cached in ~/.cache/wasm-smtp-tools,
# workerd from npm, aiosmtpd from PyPI, Postfix from Debian) and starts every server its
# tests use, on loopback only. Needs root (Postfix, apt).
#
#   bash scripts/test-all.sh
#
# Environment: FUZZ_SECONDS (per fuzz target, default 15); STAGES_BUDGETS=warn reports
# stages over their budget without failing (a slow machine).
#
# Ends with one line per stage with its time and budget (under .ci/run, in the summary
# of .ci/run instead); fails when a stage or the whole run goes over its budget.
set -euo pipefail
cd "$(dirname "$0")/.."

# Budgets in seconds, the only place they are set for this script (scripts/stages.sh
# does the timing): about twice each stage's time in a measured cold run on a fresh
# 2-core machine (nothing installed, nothing built; CONTRIBUTING.md has the figures).
# Under .ci/run, the budget of its test-all.sh stage bounds the whole.
budget_total=2400           # 40 min
budget_targets=120          # rustup target add
budget_builds=300           # ~20 builds and clippy runs for thumbv7em and wasm32
budget_api_docs=120
budget_no_alloc=120         # nostd-check (its own workspace), four feature sets
budget_fuzz=480             # cargo-fuzz and nightly install (~2.5 min), builds, 8 runs of 15 s
budget_worker=1200          # worker-build (~5 min cold) and wasm-bindgen-cli (~4 min) installs
budget_e2e=180              # workerd (npm), aiosmtpd (PyPI), Postfix (apt) on first run
budget_interop=240          # Postfix install if missing, tokio adapter's interop tests
budget_firmware=360         # several thumbv7em firmware builds
budget_tap=180              # embassy std example build, TAP runs
budget_tests=480            # cargo test: workspace, core in three feature sets, adapters

. scripts/stages.sh
stages_begin test-all.sh "$budget_total" scripts/test-all.sh

stage targets "$budget_targets" "Rust targets"
rustup target add wasm32-unknown-unknown thumbv7em-none-eabihf

stage builds "$budget_builds" "core builds for no_std targets; adapter for the Workers target"
cargo build -p wasm-smtp-core --target thumbv7em-none-eabihf
# Without default features, and each default feature alone.
for f in "" chunking auth-oauth timeouts; do
  cargo build -p wasm-smtp-core --target thumbv7em-none-eabihf --no-default-features ${f:+--features "$f"}
done
cargo clippy -p wasm-smtp-core --target thumbv7em-none-eabihf --no-default-features -- -D warnings
cargo build -p wasm-smtp-core --target thumbv7em-none-eabihf --features defmt
cargo build -p wasm-smtp-core --target thumbv7em-none-eabihf --features auth-scram,auth-cram-md5
cargo build -p wasm-smtp-core --target thumbv7em-none-eabihf --features embassy-time
cargo clippy -p wasm-smtp-core --target thumbv7em-none-eabihf --features defmt,embassy-time -- -D warnings
cargo build -p wasm-smtp-core --target wasm32-unknown-unknown --release
cargo build -p wasm-smtp-core --target wasm32-unknown-unknown --release --features auth-scram,auth-cram-md5
cargo build -p wasm-smtp-cloudflare --target wasm32-unknown-unknown --release
cargo build -p wasm-smtp-cloudflare --target wasm32-unknown-unknown --release --no-default-features
cargo clippy -p wasm-smtp-cloudflare --target wasm32-unknown-unknown --no-default-features -- -D warnings

stage "API docs" "$budget_api_docs" \
  "API docs build without warnings (broken links, private links), for each feature set"
for f in --no-default-features "" --all-features; do
  RUSTDOCFLAGS="-D warnings" cargo doc -q --no-deps -p wasm-smtp-core $f
done
RUSTDOCFLAGS="-D warnings" cargo doc -q --no-deps -p wasm-smtp-cloudflare -p wasm-smtp-embassy \
  -p wasm-smtp-mock -p wasm-smtp-tokio

stage "no-alloc link" "$budget_no_alloc" \
  "no-alloc link check (thumbv7em binary driving a full session)"
bash nostd-check/run.sh
NOSTD_CHECK_MINIMAL=1 bash nostd-check/run.sh
NOSTD_CHECK_FEATURES=scram bash nostd-check/run.sh
NOSTD_CHECK_FEATURES=cram-md5 bash nostd-check/run.sh

stage fuzz "$budget_fuzz" "every target for a short bounded time"
FUZZ_INSTALL=1 FUZZ_SECONDS="${FUZZ_SECONDS:-15}" bash fuzz/run.sh
# The engine without its default features (the driver's I/O runs without the timer
# race there): the targets that drive whole sessions.
FUZZ_CARGO_ARGS=--no-default-features FUZZ_SECONDS="${FUZZ_SECONDS:-15}" \
  bash fuzz/run.sh session whole_session

stage "Worker build" "$budget_worker" \
  "build the example Worker with worker-build (tools cached in ~/.cache)"
bash adapter-cloudflare/examples/worker/build.sh

stage "Workers e2e" "$budget_e2e" \
  "workerd + aiosmtpd (STARTTLS, implicit TLS) + smtp-sink on loopback"
bash e2e/run.sh adapter-cloudflare/examples/worker/build

stage interop "$budget_interop" \
  "tokio adapter against aiosmtpd, smtp-sink fault knobs and Postfix smtpd"
bash interop/run.sh

stage firmware "$budget_firmware" \
  "Cortex-M firmware on embassy-net + embedded-tls links; flash and RAM figures"
bash adapter-embassy/firmware/run.sh

stage "embassy TAP" "$budget_tap" \
  "embassy-net + embedded-tls on a TAP device delivers to aiosmtpd (netns, 169.254.77.0/24)"
bash adapter-embassy/tap/run.sh

stage tests "$budget_tests" "unit, transcript, loopback, command-line and doc tests"
cargo test --workspace
# The sans-I/O session driven by a blocking loop over std::net::TcpStream (STARTTLS with
# rustls's blocking stream, AUTH, one message) against the loopback test server.
cargo run -p wasm-smtp-mock --features server --example blocking
# The core alone: its default build, without default features (the minimal engine: the
# tests of CHUNKING, XOAUTH2/OAUTHBEARER and time limits are compiled out, the others
# must pass unchanged), and every feature (CRAM-MD5 tests need it). The Workers and
# embassy adapters without default features too.
cargo test -p wasm-smtp-core
cargo test -p wasm-smtp-core --no-default-features
cargo test -p wasm-smtp-core --all-features
cargo test -p wasm-smtp-cloudflare -p wasm-smtp-embassy --no-default-features

