#!/usr/bin/env bash
# Installs what the end-to-end harness needs, each step only if missing, with exact
# versions, and prints how long each step took:
#   1. Debian `postfix` (only for its `smtp-sink` tool; the Postfix daemon is never
#      configured nor left running),
#   2. aiosmtpd (+ its two dependencies) into a Python venv in the tool cache,
#   3. the workerd binary (npm package `workerd`, about 155 MB with its platform
#      package) into the tool cache.
# Nothing is written into the repository: no lock file, no node_modules.
#
#   bash e2e/setup.sh            # install what is missing
#   bash e2e/setup.sh --print    # only print the paths the harness uses (after install)
#
# Environment:
#   E2E_TOOLS   tool cache (default: $HOME/.cache/wasm-smtp-tools)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.sh
. "$here/versions.sh"

print_only=0
if [ "${1:-}" = --print ]; then print_only=1; fi

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
step_start=0
step() { printf '== setup: %s\n' "$*"; step_start=$(now); }
done_step() { printf '   %s (%ss)\n' "$*" "$(took "$step_start")"; }

if [ "$print_only" = 1 ]; then
  echo "SMTP_SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)"
  echo "E2E_PYTHON=$E2E_PYTHON"
  echo "WORKERD=$WORKERD"
  exit 0
fi

total_start=$(now)

# ---------------------------------------------------------------- 1. postfix / smtp-sink
step "postfix (smtp-sink)"
if command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ]; then
  done_step "already installed: $(dpkg-query -W -f='postfix ${Version}' postfix 2>/dev/null || echo smtp-sink)"
else
  if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: installing postfix needs root (apt-get)" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  # `apt-get update` only when the package lists do not know postfix yet.
  if ! apt-cache policy postfix 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    apt-get update -qq
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  # Keep the package scripts from starting any daemon while installing: a policy-rc.d
  # that denies every start, removed again afterwards (only if we created it).
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  rc=0
  apt-get install -y -qq --no-install-recommends postfix >/dev/null || rc=$?
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  [ "$rc" = 0 ] || { echo "setup.sh: apt-get install postfix failed ($rc)" >&2; exit "$rc"; }
  done_step "installed $(dpkg-query -W -f='postfix ${Version}' postfix)"
fi
# Whatever happened before: the Postfix daemon must not be running (smtp-sink is all we use).
if [ -x /usr/sbin/postfix ] && /usr/sbin/postfix status >/dev/null 2>&1; then
  echo "   the postfix daemon is running: stopping it"
  /usr/sbin/postfix stop >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------------- 2. aiosmtpd in a venv
step "aiosmtpd $AIOSMTPD_VERSION (venv in $E2E_TOOLS)"
want_py="aiosmtpd==$AIOSMTPD_VERSION atpublic==$ATPUBLIC_VERSION attrs==$ATTRS_VERSION"
have_py() {
  [ -x "$E2E_PYTHON" ] && "$E2E_PYTHON" - "$AIOSMTPD_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
sys.exit(0 if version("aiosmtpd") == sys.argv[1] else 1)
PY
}
if have_py; then
  done_step "already installed"
else
  mkdir -p "$E2E_TOOLS"
  rm -rf "$E2E_VENV"
  python3 -m venv "$E2E_VENV"
  # shellcheck disable=SC2086
  "$E2E_PYTHON" -m pip install -q --disable-pip-version-check --no-input $want_py
  have_py || { echo "setup.sh: aiosmtpd did not install" >&2; exit 1; }
  done_step "installed $want_py"
fi

# ---------------------------------------------------------------- 3. workerd
step "workerd $WORKERD_VERSION (npm, into $E2E_TOOLS)"
have_workerd() {
  [ -x "$WORKERD" ] &&
    grep -q "\"version\": *\"$WORKERD_VERSION\"" "$WORKERD_DIR/node_modules/workerd/package.json" 2>/dev/null &&
    "$WORKERD" --version >/dev/null 2>&1
}
if have_workerd; then
  done_step "already installed: $("$WORKERD" --version)"
else
  command -v npm >/dev/null 2>&1 || { echo "setup.sh: npm is missing (apt-get install nodejs npm)" >&2; exit 2; }
  rm -rf "$WORKERD_DIR"
  mkdir -p "$WORKERD_DIR"
  # A private prefix outside the repository; its package.json/lock stay there.
  npm install --prefix "$WORKERD_DIR" --no-audit --no-fund --no-save --no-package-lock \
    --loglevel=error "workerd@$WORKERD_VERSION" >/dev/null
  have_workerd || { echo "setup.sh: workerd binary not found at $WORKERD" >&2; exit 1; }
  done_step "installed: $("$WORKERD" --version)"
fi

printf '== setup: done in %ss\n' "$(took "$total_start")"
