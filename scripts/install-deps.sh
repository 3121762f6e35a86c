#!/usr/bin/env bash
# Installs the Debian packages sluice needs to build, test and benchmark.
# Quick and silent when everything is there; installs with apt only when
# something is missing and we are root, otherwise prints the command to run.
# Packages named as arguments are wanted too (scripts/fuzz.sh adds clang's).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache          # toolchain (ccache: CI's compile cache)
  libpq-dev libboost-dev libsimdjson-dev libspdlog-dev libfmt-dev
  libcli11-dev libxxhash-dev zlib1g-dev catch2
  libhowardhinnant-date-dev                                    # libraries (date/tz.h: time zones)
  postgresql                                                   # server + psql for tests, rerun.sh
  docker-compose                                               # validates docker-compose.yml
  time                                                         # /usr/bin/time -v for bench.sh
  prometheus chromium                                          # the daemon's /metrics and page, tested for real
)

packages+=("$@")

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$pkg")
done
((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "missing packages: ${missing[*]}" >&2
  echo "install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
