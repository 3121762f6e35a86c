#!/usr/bin/env bash
# The one test command: installs what is missing, builds everything into build/
# (CMake + Ninja, RelWithDebInfo), validates docker-compose.yml, starts a
# throwaway PostgreSQL (temp dir, random port, removed on exit) and runs every
# CTest test, unit and integration. Extra arguments go to ctest:
#   scripts/test.sh              # everything
#   scripts/test.sh -L unit      # only the unit tests
#   scripts/test.sh -R churn     # tests whose name matches
# Environment: SLUICE_JOBS (build parallelism, default nproc),
# SLUICE_TEST_JOBS (ctest parallelism, default 2).
# Exits with ctest's status (or 1 when the build or the compose check fails).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in -h|--help) sluice_usage "${BASH_SOURCE[0]}"; exit 0 ;; esac

root=$(sluice_repo_root)
cd "$root"
started=$SECONDS

section() { printf '\n==> %s\n' "$*"; }

section "dependencies"
scripts/install-deps.sh

section "build"
sluice_build "$root" verbose

section "docker-compose.yml"
compose=failed
if docker-compose -f docker-compose.yml config -q; then
  compose=ok
  echo "docker-compose.yml is valid"
fi

section "throwaway PostgreSQL"
trap 'sluice_throwaway_cluster_remove' EXIT
trap 'exit 130' INT TERM
sluice_throwaway_cluster
export SLUICE_TEST_DSN=$SLUICE_THROWAWAY_DSN
echo "SLUICE_TEST_DSN=$SLUICE_TEST_DSN"

section "ctest $*"
ctest_log=$SLUICE_THROWAWAY_DIR/ctest.log
set +e
(cd build && ctest --output-on-failure --parallel "${SLUICE_TEST_JOBS:-2}" "$@") 2>&1 | tee "$ctest_log"
ctest_status=${PIPESTATUS[0]}
set -e

result=$(grep -E 'tests passed|No tests were found' "$ctest_log" | tail -1 || true)
status=$ctest_status
if [[ $compose != ok ]]; then status=1; fi
verdict=PASSED
if ((status != 0)); then verdict=FAILED; fi
printf '\ntest.sh: %s in %ds (ctest: %s; docker-compose config: %s)\n' \
  "$verdict" $((SECONDS - started)) "${result:-no result, status $ctest_status}" "$compose"
exit "$status"
