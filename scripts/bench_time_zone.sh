#!/usr/bin/env bash
# scripts/bench_time_zone.sh — loader/contract's time_zone (date/tz.h) against
# the implementation of another revision, converting local times to UTC in
# one process. A benchmark, not a test.
#
# usage: scripts/bench_time_zone.sh [--baseline REV] [--zone NAME] [--count N]
#                                   [--runs R] [--compare-all]
#
#   --baseline REV  the revision whose loader/contract/time_zone.{h,cpp} is the
#                   baseline (default: main). Its two files are copied, for this
#                   run only, into a temporary directory, their namespace made
#                   sluice::loader::baseline, and compiled into the benchmark
#                   beside the working tree's time_zone with the same flags.
#   --zone NAME     the zone (default Europe/Oslo)
#   --count N       local times per input (default 5000000)
#   --runs R        runs; medians are reported (default 5)
#   --compare-all   instead of timing: check that both agree on every zone of
#                   the database, 1850-2200 (exit 1 when they do not)
#
# Prints the median ns per conversion of each and the ratio new/old, for
# local times spread over 2000-2030 and for an ascending batch.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$(sluice_repo_root)

baseline=main
bench_args=()
while (($#)); do
  case "$1" in
    --baseline) baseline=${2:?--baseline needs a revision}; shift ;;
    --zone|--count|--runs) bench_args+=("$1" "${2:?$1 needs a value}"); shift ;;
    --compare-all) bench_args+=("$1") ;;
    -h|--help) sluice_usage "${BASH_SOURCE[0]}"; exit 0 ;;
    *) sluice_die "unknown argument $1 (see --help)" ;;
  esac
  shift
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/baseline"
for file in time_zone.h time_zone.cpp; do
  git -C "$root" show "$baseline:loader/contract/$file" >"$work/baseline/$file" ||
    sluice_die "no loader/contract/$file at $baseline"
done
# Its own namespace (nested, so that it still finds result<> and
# days_since_2000), and its own header.
sed -i -e 's/^namespace sluice::loader {/namespace sluice::loader::baseline {/' \
  -e 's/^}  \/\/ namespace sluice::loader$/}  \/\/ namespace sluice::loader::baseline/' \
  -e 's|#include "loader/contract/time_zone.h"|#include "baseline/time_zone.h"|' \
  "$work/baseline/time_zone.h" "$work/baseline/time_zone.cpp"

# The flags of a RelWithDebInfo build, and the definitions CMake's
# date::date-tz target passes on (dateTargets.cmake).
flags=(-std=c++20 -O2 -g -DNDEBUG -DUSE_OS_TZDB=1 -DONLY_C_LOCALE=1 -DHAS_STRING_VIEW=1 -I"$root" -I"$work")
sluice_log "compiling the benchmark (time_zone of the working tree, baseline $baseline) ..."
nice -n 10 g++ "${flags[@]}" -DSLUICE_TZ_BASELINE -o "$work/bench" \
  "$root/scripts/bench_time_zone.cpp" "$root/loader/contract/time_zone.cpp" \
  "$root/loader/contract/time_parse.cpp" "$work/baseline/time_zone.cpp" -ldate-tz -pthread
"$work/bench" "${bench_args[@]}"
