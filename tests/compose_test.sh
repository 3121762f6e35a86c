#!/usr/bin/env bash
# docker-compose.yml as far as it can be checked without a Docker engine
# (none runs on the test machines):
#   - `docker-compose config` accepts it with every profile;
#   - the README's Docker section names every service, and each
#     `docker-compose exec SERVICE` there is one of them;
#   - the shell scripts its services run parse (bash -n, sh -n);
#   - the secrets are files (never values in the file) and the daemon
#     connects as sluice_loader, BI is told to use sluice_reader.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

compose=(docker-compose -f docker-compose.yml --profile bi --profile demo)
config=$("${compose[@]}" config) || { echo "FAILED: docker-compose config"; exit 1; }
services=$("${compose[@]}" config --services)
section=$(sed -n '/^## Docker$/,/^## Layout$/p' README.md)
[[ -n "$section" ]] || fail "README.md has no Docker section"

for s in $services; do
  grep -q -- "\`$s\`\|$s" <<<"$section" || fail "service $s is not named in the README's Docker section"
done
while read -r s; do
  grep -qx -- "$s" <<<"$services" || fail "the README runs docker-compose exec $s, which is no service"
done < <(grep -o 'docker-compose exec [a-z-]*' <<<"$section" | awk '{print $3}' | sort -u)

# Each service's entrypoint that runs a script: parse it with its shell.
scripts=$(mktemp -d)
trap 'rm -rf "$scripts"' EXIT
printf '%s\n' "$config" > "$scripts/config.yml"
python3 - "$scripts" <<'PY' || fail "could not read the services' scripts"
import sys, yaml
out = sys.argv[1]
with open(f"{out}/config.yml") as f:
    doc = yaml.safe_load(f)
for name, svc in doc["services"].items():
    entry = svc.get("entrypoint") or []
    if isinstance(entry, list) and len(entry) >= 3 and entry[0] in ("sh", "bash") and entry[1].startswith("-"):
        with open(f"{out}/{name}.{entry[0]}", "w") as f:
            f.write(entry[2].replace("$$", "$"))  # compose's escape of $
PY
found=0
for f in "$scripts"/*.sh "$scripts"/*.bash; do
  [[ -e "$f" ]] || continue
  found=$((found + 1))
  shell=${f##*.}
  "$shell" -n "$f" || fail "the script of service $(basename "${f%.*}") does not parse ($shell -n)"
done
((found >= 2)) || fail "expected the scripts of sluice-init and shop-source, found $found"

grep -q 'POSTGRES_PASSWORD_FILE: /run/secrets/warehouse_password' docker-compose.yml ||
  fail "the warehouse's password does not come from a secret file"
if grep -Eqi '(password|PGPASSWORD)[:=] *[^$/ ]' <(grep -v '^ *#' docker-compose.yml | grep -v 'PASSWORD_FILE'); then
  fail "a password value is written in docker-compose.yml"
fi
grep -q 'user=sluice_loader' docker-compose.yml || fail "the daemon does not connect as sluice_loader"
grep -q 'sluice_reader' <<<"$section" || fail "the README does not tell BI users to log in as sluice_reader"

if ((failures > 0)); then exit 1; fi
echo "docker-compose.yml: $(wc -w <<<"$services") services, $found scripts checked"
