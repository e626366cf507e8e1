#!/usr/bin/env bash
# Set-up for the README's two commands, run by `make demo`, `make test` and .ci/run:
#   scripts/bootstrap.sh          system packages, then the venv
#   scripts/bootstrap.sh system   only the system packages
#   scripts/bootstrap.sh venv     only the venv (.venv, editable installs of the checkout)
# Idempotent and quick when everything is present. On Debian or Ubuntu it installs what is
# missing with apt-get (through sudo when not root); elsewhere it prints the exact list.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
OS_RELEASE=${OS_RELEASE:-/etc/os-release}
VENV=${VENV:-.venv}
what=${1:-all}

# command-or-file|Debian package|what needs it
REQUIREMENTS=(
  "java|openjdk-17-jre-headless|the Kafka broker (Java 17)"
  "javac|openjdk-17-jdk-headless|building examples/java (the Java producer example)"
  "zsh|zsh|the zsh completion test"
  "mvn|maven|resolving the Kafka broker's jars from Maven Central"
  "/usr/lib/postgresql/15/bin/postgres|postgresql-15|the ledger's database (PostgreSQL 15)"
  "prometheus|prometheus|metrics and alert rules"
  "promtool|prometheus|the alert-rule tests"
  "prometheus-postgres-exporter|prometheus-postgres-exporter|PostgreSQL metrics"
  "kcat|kcat|the benchmark's raw Kafka reader"
  "chromium|chromium|the audit page's browser test"
  "docker-compose|docker-compose|validating docker-compose.yml"
)

have() {
  case "$1" in
    /*) [ -x "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

python_ok() {
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

missing_packages() {
  local entry binary package
  for entry in "${REQUIREMENTS[@]}"; do
    IFS='|' read -r binary package _ <<<"$entry"
    have "$binary" || echo "$package"
  done
  # Debian ships venv's ensurepip separately.
  if python_ok && ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    echo python3-venv
  fi
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

stop_system_services() {
  # Debian starts system services on install. The stack runs its own servers on its own ports
  # and folders; the system PostgreSQL (5432) may stay, but the system Prometheus and exporter
  # would hold the ports the stack's own use.
  command -v systemctl >/dev/null 2>&1 || return 0
  local service
  for service in prometheus prometheus-postgres-exporter; do
    if systemctl is-active --quiet "$service" 2>/dev/null; then
      as_root systemctl disable --now "$service" || true
    fi
  done
}

install_system() {
  if ! python_ok; then
    echo "bootstrap: Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" -V 2>&1 || echo absent))." >&2
    echo "bootstrap: set PYTHON=/path/to/python3.11 or install it, then re-run." >&2
    exit 1
  fi
  local packages
  mapfile -t packages < <(missing_packages | sort -u)
  if [ ${#packages[@]} -eq 0 ]; then
    stop_system_services
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1 || ! grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' "$OS_RELEASE" 2>/dev/null; then
    echo "bootstrap: this is not Debian or Ubuntu; install these (Debian names), then re-run:" >&2
    local entry binary package why
    for entry in "${REQUIREMENTS[@]}"; do
      IFS='|' read -r binary package why <<<"$entry"
      have "$binary" || echo "  $package  ($binary: $why)" >&2
    done
    exit 1
  fi
  echo "bootstrap: installing ${packages[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
  stop_system_services
  mapfile -t packages < <(missing_packages | sort -u)
  if [ ${#packages[@]} -gt 0 ]; then
    echo "bootstrap: still missing after apt-get: ${packages[*]} (on Ubuntu, postgresql-15 comes" \
         "from the PostgreSQL apt repository; chromium from a snap)" >&2
    exit 1
  fi
}

install_venv() {
  local stamp="$VENV/bin/procledger-dev"
  if [ -x "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt setup.py ] \
     && [ "$stamp" -nt dev/pyproject.toml ]; then
    return 0
  fi
  echo "bootstrap: installing the venv in $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -e ".[dev]" -e ./dev
  touch "$stamp"
}

case "$what" in
  all) install_system; install_venv ;;
  system) install_system ;;
  venv) install_venv ;;
  *) echo "usage: scripts/bootstrap.sh [all|system|venv]" >&2; exit 2 ;;
esac
