#!/usr/bin/env bash
# The one test command: installs what is missing, builds everything into build/
# (CMake + Ninja, RelWithDebInfo), validates docker-compose.yml, starts a
# throwaway PostgreSQL (temp dir, random port, removed on exit) and runs every
# CTest test, unit and integration. Extra arguments go to ctest:
#   scripts/test.sh              # everything
#   scripts/test.sh -L unit      # only the unit tests
#   scripts/test.sh -R churn     # tests whose name matches
# Environment: SLUICE_JOBS (build parallelism, default nproc),
# SLUICE_TEST_JOBS (ctest parallelism, default 2). The tests get
# SLUICE_TEST_DSN (the warehouse's throwaway cluster) and, when a second one
# starts, SLUICE_TEST_SOURCE_DSN (the replication sources' cluster).
#
# Sanitizers: the same suite, built with them into a folder of its own
# (build-asan/, build-tsan/); the sluice the integration tests start is built
# the same way, and a report of any process a test started fails that test
# and is printed (the SQL tests, which run SQL in the server, are left out):
#   scripts/test.sh --sanitize address,undefined
#   scripts/test.sh --sanitize thread --tags '[daemon],[committer]'
# --tags runs the integration tests with those Catch2 tags (a Catch2 test
# spec: ',' is or) and nothing else.
# Its summary line names the suite: "sanitize thread: 40 of 40 tests passed".
# Exits with ctest's status (or 1 when the build or the compose check fails).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in -h|--help) sluice_usage "${BASH_SOURCE[0]}"; exit 0 ;; esac

root=$(sluice_repo_root)
cd "$root"
started=$SECONDS

suite=plain
build_dir=$root/build
if [[ "${1:-}" == --sanitize ]]; then
  [[ $# -ge 2 ]] || sluice_die "--sanitize needs a value: address,undefined or thread"
  export SLUICE_SANITIZE=$2
  shift 2
  case "$SLUICE_SANITIZE" in
    address|undefined|address,undefined|undefined,address) build_dir=$root/build-asan ;;
    thread) build_dir=$root/build-tsan ;;
    *) sluice_die "--sanitize $SLUICE_SANITIZE: use address,undefined or thread" ;;
  esac
  suite="sanitize $SLUICE_SANITIZE"
  # A report stops the process that made it (halt_on_error), with its stack.
  # Leaks are not looked for: the daemons the tests start are killed, and a
  # clean exit frees what the process ends with anyway.
  export ASAN_OPTIONS="halt_on_error=1:detect_leaks=0:abort_on_error=0:print_summary=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:print_summary=1"
  export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:history_size=4"
  # Where the test binaries collect their children's reports (tests/unit/catch_main.cpp).
  export SLUICE_SANITIZER_LOGS
  SLUICE_SANITIZER_LOGS=$(mktemp -d "${TMPDIR:-/tmp}/sluice-sanitizer.XXXXXX")
  chmod 0777 "$SLUICE_SANITIZER_LOGS"
fi
export SLUICE_BUILD_DIR=$build_dir
tags=
if [[ "${1:-}" == --tags ]]; then
  [[ $# -ge 2 ]] || sluice_die "--tags needs a Catch2 tag spec, e.g. '[daemon],[cdc]'"
  tags=$2
  suite+=" $tags"
  shift 2
fi

section() { printf '\n==> %s\n' "$*"; }

section "dependencies"
scripts/install-deps.sh

section "build"
# With --tags only the integration tests run: only they (and what they start)
# are built.
if [[ -n "$tags" ]]; then sluice_build "$root" verbose sluice-integration-tests
else sluice_build "$root" verbose; fi

section "docker-compose.yml"
compose=failed
if docker-compose -f docker-compose.yml config -q; then
  compose=ok
  echo "docker-compose.yml is valid"
fi

section "throwaway PostgreSQL"
warehouse_cluster=
source_cluster=
remove_clusters() {
  if [[ -n "${SLUICE_SANITIZER_LOGS:-}" ]]; then rm -rf "$SLUICE_SANITIZER_LOGS"; fi
  if [[ -n "$source_cluster" ]]; then sluice_throwaway_cluster_remove "$source_cluster"; fi
  sluice_throwaway_cluster_remove "${warehouse_cluster:-$SLUICE_THROWAWAY_DIR}"
}
trap 'remove_clusters' EXIT
trap 'exit 130' INT TERM
sluice_throwaway_cluster
warehouse_cluster=$SLUICE_THROWAWAY_DIR
export SLUICE_TEST_DSN=$SLUICE_THROWAWAY_DSN
echo "SLUICE_TEST_DSN=$SLUICE_TEST_DSN"
# A second cluster as the change-data-capture tests' source, so that a crash
# of the source is tested apart from one of the warehouse. When it cannot
# start, those tests use a database on the warehouse's cluster.
if source_cluster=$(sluice_throwaway_cluster >&2 && echo "$SLUICE_THROWAWAY_DIR"); then
  export SLUICE_TEST_SOURCE_DSN
  SLUICE_TEST_SOURCE_DSN=$(sluice_cluster_dsn "$source_cluster")
  echo "SLUICE_TEST_SOURCE_DSN=$SLUICE_TEST_SOURCE_DSN"
else
  source_cluster=
  echo "no second cluster: the change-data-capture sources live on the warehouse's cluster"
fi

# A ctest regex matching exactly the integration tests named in $1, one a line.
names_regex() {
  printf '%s\n' "$1" | sed -e 's/[][\.^$*+?(){}|/]/\\&/g' -e 's/^/^integration:/' -e 's/$/$/' | paste -sd'|'
}

if [[ -n "$tags" ]]; then
  # The tests with those tags, by name: ctest knows names, Catch2 knows tags.
  # (Catch2 2 exits with the number of tests it listed.)
  names=$({ "$build_dir/tests/sluice-integration-tests" --list-test-names-only "$tags" || true; } | sed '/^$/d')
  [[ -n "$names" ]] || sluice_die "no integration test has the tags $tags"
  if [[ -n "${SLUICE_SANITIZE:-}" ]]; then  # not the [slow] ones, as below
    slow=$({ "$build_dir/tests/sluice-integration-tests" --list-test-names-only "[slow]" || true; } | sed '/^$/d')
    names=$(grep -vxF -e "$slow" <<<"$names" || true)
    [[ -n "$names" ]] || sluice_die "every integration test with the tags $tags is [slow]: none runs under a sanitizer"
  fi
  set -- -R "$(names_regex "$names")" "$@"
elif [[ -n "${SLUICE_SANITIZE:-}" ]]; then
  # The SQL tests run SQL in the server (sluice only migrates, as every
  # integration test does): a sanitizer has nothing to look at in them. The
  # [slow] tests run in the plain suite (CI's time budget): the kill -9 tests
  # of large files, whose recovery the soak's kill and crash faults drive
  # under a sanitizer too, and the 1M-row source transaction, whose point is
  # a memory bound no sanitizer build checks.
  slow=$({ "$build_dir/tests/sluice-integration-tests" --list-test-names-only "[slow]" || true; } | sed '/^$/d')
  set -- -LE sql "$@"
  if [[ -n "$slow" ]]; then set -- -E "$(names_regex "$slow")" "$@"; fi
fi

if [[ -n "$tags" ]]; then section "ctest: the integration tests tagged $tags"; else section "ctest $*"; fi
ctest_log=$SLUICE_THROWAWAY_DIR/ctest.log
set +e
(cd "$build_dir" && ctest --output-on-failure --parallel "${SLUICE_TEST_JOBS:-2}" "$@") 2>&1 | tee "$ctest_log"
ctest_status=${PIPESTATUS[0]}
set -e

# A failure's cause can sit in the middle of a long log (a daemon's output
# given as context); the assertions that failed are repeated here, at the end,
# each cut short, where a reader of only the log's tail sees them too.
if ((ctest_status != 0)); then
  section "what failed (each failed assertion, from the log above)"
  awk '/^[^ ].*:[0-9]+: FAILED:$/ { left = 12; print "--"; }
       left > 0 { print substr($0, 1, 300); left--; }' "$ctest_log" | head -n 150
  section "errors sluice logged in the failed tests (some are the faults a test injects)"
  grep -E ' (error|critical) +\[' "$ctest_log" | cut -c1-300 | tail -n 40 || true
fi

result=$(grep -E 'tests passed|No tests were found' "$ctest_log" | tail -1 || true)
status=$ctest_status
if [[ $compose != ok ]]; then status=1; fi
verdict=PASSED
if ((status != 0)); then verdict=FAILED; fi
printf '\ntest.sh: %s in %ds (ctest: %s; docker-compose config: %s)\n' \
  "$verdict" $((SECONDS - started)) "${result:-no result, status $ctest_status}" "$compose"
# One line for the suite, e.g. "sanitize address,undefined: 268 of 268 tests passed".
if [[ "$result" =~ ([0-9]+)%\ tests\ passed,\ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
  total=${BASH_REMATCH[3]}
  printf '%s: %d of %d tests passed\n' "$suite" $((total - BASH_REMATCH[2])) "$total"
else
  printf '%s: no tests ran (status %d)\n' "$suite" "$ctest_status"
fi
exit "$status"
