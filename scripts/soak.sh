#!/usr/bin/env bash
# Randomized soak of `sluice run` with an oracle (tests/soak/soak.py).
#
#   scripts/soak.sh [--seed S] [--minutes M] [--sluice PATH] [--keep]
#                   [--writers LIST] [--faults LIST]
#
# Starts a private PostgreSQL (removed on exit), migrates it with the pleo and
# sales packs and the soak's own pack (tests/soak/pack/soak), and runs one
# daemon `sluice run --settle-ms 200` (at times a second one) on a private
# inbox while a scheduler driven by one random.Random(seed) starts writers
# and faults at random, overlapping:
#   writers: inplace pleo rename csv log gzip rotate cp-loaded cp-loading
#            mv-back delete truncate same-size slow-json rotate-midline reload
#            cdc (transactions on a replicated source database)
#   faults:  kill pg-crash disk-full stop second-daemon
# Every record carries a unique id. At quiet points (every few dozen steps:
# writers done, faults over, the daemon idle) and at the end, an oracle
# checks each record in staging and sluice.rejects (exactly once; at most
# once for records a writer destroyed before they could be read; a `cp` of a
# loaded file adds nothing) and that the pleo and sales reports equal their
# full recompute, and that the replicated source's mirrors equal its tables
# and each of its transactions is in the change logs once. On failure it prints the seed, the schedule, the first
# offending records and the daemon's log tail. The last line is a summary;
# exit 0 only when the oracle passed.
#
# Options:
#   --seed S         seed of the schedule (default: random, printed); the same
#                    seed (and --writers/--faults) replays the same sequence of
#                    actions (timing-dependent interleavings may differ)
#   --minutes M      how long writers and faults run (default 5; may be a
#                    fraction); a final check of up to ~2 minutes follows
#   --sluice PATH    the binary to run (default build/app/sluice); it is
#                    copied first, so a rebuild does not disturb the run
#   --writers LIST   comma-separated writers to run (default: all)
#   --faults LIST    comma-separated faults to strike (default: all; '' none)
#   --keep           keep the work folder (inbox, daemon logs, schedule,
#                    dumps of the ledger and rejects) and the warehouse
#                    (stopped), and print where they are and how to start it
#   -h, --help       this text
#
# Needs root for the disk-full fault (a tmpfs mounted as a tablespace); without
# root, or when mount fails, that fault is skipped with a note.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

seed=
minutes=5
sluice_bin=$root/build/app/sluice
keep=0
writers=all
faults=all
while (($#)); do
  case $1 in
    -h|--help) sluice_usage "$0"; exit 0 ;;
    --seed) seed=${2:?--seed needs a value}; shift 2 ;;
    --seed=*) seed=${1#*=}; shift ;;
    --minutes) minutes=${2:?--minutes needs a value}; shift 2 ;;
    --minutes=*) minutes=${1#*=}; shift ;;
    --sluice) sluice_bin=${2:?--sluice needs a path}; shift 2 ;;
    --sluice=*) sluice_bin=${1#*=}; shift ;;
    --writers) writers=${2?--writers needs a list}; shift 2 ;;
    --writers=*) writers=${1#*=}; shift ;;
    --faults) faults=${2?--faults needs a list}; shift 2 ;;
    --faults=*) faults=${1#*=}; shift ;;
    --keep) keep=1; shift ;;
    *) sluice_die "unknown option $1 (see --help)" ;;
  esac
done
[[ -z "$seed" ]] && seed=$(( (RANDOM << 15 | RANDOM) % 1000000000 ))
[[ "$seed" =~ ^[0-9]+$ ]] || sluice_die "--seed must be a non-negative integer"
[[ "$minutes" =~ ^[0-9]+([.][0-9]+)?$ ]] || sluice_die "--minutes must be a number"
[[ -x "$sluice_bin" ]] || sluice_die "no sluice binary at $sluice_bin (build it, or give --sluice PATH)"
command -v python3 >/dev/null || sluice_die "python3 is needed (apt-get install python3)"
command -v psql >/dev/null || sluice_die "psql is needed (scripts/install-deps.sh)"

echo "soak: seed $seed, $minutes min, sluice $sluice_bin, writers $writers, faults ${faults:-none}"

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-soak.XXXXXX")
# The server user must reach the tablespace folder inside it.
chmod 0711 "$work"
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # Daemons the harness started and did not stop (it was killed itself).
  if [[ -f "$work/daemon.pids" ]]; then
    while read -r pid; do
      if [[ "$pid" =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q -- "$work/bin/sluice"; then
        kill -CONT "$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done <"$work/daemon.pids"
  fi
  if ((keep)); then
    sluice_cluster_stop "$SLUICE_THROWAWAY_DIR" || true
  else
    sluice_throwaway_cluster_remove || true
  fi
  if mountpoint -q "$work/disk" 2>/dev/null; then umount -l "$work/disk" || true; fi
  ((keep)) || rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$work/bin"
cp "$sluice_bin" "$work/bin/sluice"

sluice_throwaway_cluster throwaway
psql -X -q -v ON_ERROR_STOP=1 -d "$SLUICE_THROWAWAY_DSN" -c 'create database soak'
dsn=$(sluice_cluster_dsn "$SLUICE_THROWAWAY_DIR" soak)
# A copy of the pack: migrate records the folder it came from.
cp -r "$root/tests/soak/pack" "$work/pack"
if ! "$work/bin/sluice" migrate --dsn "$dsn" --packs pleo,sales --pack-dir "$work/pack/soak" >"$work/migrate.log" 2>&1; then
  cat "$work/migrate.log" >&2
  sluice_die "sluice migrate failed"
fi

set +e
python3 "$root/tests/soak/soak.py" --work "$work" --dsn "$dsn" \
  --cluster-dir "$SLUICE_THROWAWAY_DIR" --pg-bindir "$(sluice_pg_bindir)" \
  --sluice "$work/bin/sluice" --sluice-origin "$sluice_bin" --seed "$seed" --minutes "$minutes" \
  --writers "$writers" --faults "$faults" --keep "$keep"
status=$?
set -e
exit "$status"
