# Exact versions and paths of the end-to-end tools (sourced by setup.sh and run.sh).
# shellcheck shell=bash disable=SC2034
AIOSMTPD_VERSION=1.4.6
ATPUBLIC_VERSION=9.0.0 # aiosmtpd dependency; 9.x needs Python >= 3.11
ATTRS_VERSION=26.1.0   # aiosmtpd dependency
WORKERD_VERSION=1.20261117.1

E2E_TOOLS="${E2E_TOOLS:-${HOME:-/root}/.cache/wasm-smtp-tools}"
E2E_VENV="$E2E_TOOLS/venv-aiosmtpd-$AIOSMTPD_VERSION"
E2E_PYTHON="$E2E_VENV/bin/python"
WORKERD_DIR="$E2E_TOOLS/workerd-$WORKERD_VERSION"
case "$(uname -m)" in
  aarch64 | arm64) WORKERD_PLATFORM=linux-arm64 ;;
  *) WORKERD_PLATFORM=linux-64 ;;
esac
WORKERD="$WORKERD_DIR/node_modules/@cloudflare/workerd-$WORKERD_PLATFORM/bin/workerd"
