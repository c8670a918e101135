#!/usr/bin/env bash
# keyrace's client memory with many workers: the peak resident set (VmHWM, read from
# /proc/<pid>/status by benches/rusage.py while it runs) of the keyrace process running
# benches/upsert-my.toml (one upsert per operation, 1000 keys) with 1 worker (the fixed cost)
# and with each count of WORKERS, against a throwaway MariaDB started here with
# max_connections = the largest count + 100 (the shared servers allow 100 and 151).
# Prints one line per binary and worker count:
#   binary=<label> workers=<n> hwm_mib=<peak RSS> kib_per_worker=<(peak - peak with 1)/(n - 1)>
#   ops=<n> ops_per_sec=<x> cpu_us_per_op=<user+sys per operation> exit=<keyrace's exit code>
# (a run that ended early, e.g. a server overwhelmed by 5,000 sessions, still reports its peak
# and partial figures, with its exit code and the error on stderr)
# and writes them with the environment to OUT (default results/memory.md).
#
# Environment: WORKERS (default "1000 5000"), DURATION (seconds, default 10), BINARIES
# ("label=path ...", default "current=target/release/keyrace", built here), PORT (of the
# throwaway server, default 3399), KEYRACE_THREADS. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-"1000 5000"}
DURATION=${DURATION:-10}
PORT=${PORT:-3399}
OUT=${OUT:-results/memory.md}
RUSAGE=benches/rusage.py
WORK=$(mktemp -d /tmp/keyrace-memory.XXXXXX)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '[memory] %s\n' "$*" >&2; }

if [[ -z ${BINARIES:-} ]]; then
  log "building the release binary"
  cargo build --release --quiet --bin keyrace
  BINARIES="current=target/release/keyrace"
fi

max_workers=1
for n in $WORKERS; do ((n > max_workers)) && max_workers=$n; done
log "starting a throwaway MariaDB on port $PORT (max_connections=$((max_workers + 100)))"
mariadb-install-db --no-defaults --datadir="$WORK/data" --user=root \
  --auth-root-authentication-method=normal --skip-test-db >"$WORK/install.log" 2>&1 \
  || { cat "$WORK/install.log" >&2; exit 2; }
mariadbd --no-defaults --datadir="$WORK/data" --user=root --port="$PORT" \
  --bind-address=127.0.0.1 --socket="$WORK/sock" --pid-file="$WORK/pid" \
  --log-error="$WORK/error.log" --max-connections=$((max_workers + 100)) \
  --open-files-limit=$((2 * max_workers + 1000)) --skip-log-bin \
  --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=2 &
server_pid=$!
for _ in $(seq 1 100); do
  mariadb-admin --no-defaults -h127.0.0.1 -P"$PORT" -uroot ping >/dev/null 2>&1 && break
  sleep 0.2
done
mariadb --no-defaults -h127.0.0.1 -P"$PORT" -uroot -e 'CREATE DATABASE IF NOT EXISTS test' \
  || { cat "$WORK/error.log" >&2; exit 2; }
URL="mysql://root@127.0.0.1:$PORT/test"

run() { # binary workers -> "hwm_kib ops ops_per_sec cpu_us_per_op exit_code"
  local out="$WORK/out" code=0
  rm -rf "$out"
  "$RUSAGE" "$WORK/rusage" "$1" run benches/upsert-my.toml --only mysql --mysql "$URL" \
    --workers "$2" --duration "${DURATION}s" --out "$out" --quiet --no-html \
    >"$WORK/keyrace.log" 2>&1 || { code=$?; grep -i error "$WORK/keyrace.log" >&2; }
  python3 - "$out" "$WORK/rusage" "$code" <<'PY'
import json, pathlib, sys
r = json.load(open(sorted(pathlib.Path(sys.argv[1]).glob("*.json"))[-1]))
def find(o):
    if isinstance(o, dict):
        if "ops_per_sec" in o and "ops" in o:
            yield o
        for v in o.values():
            yield from find(v)
    elif isinstance(o, list):
        for v in o:
            yield from find(v)
cell = next(find(r))
u = dict(kv.split("=") for kv in open(sys.argv[2]).read().split())
cpu = (float(u["user_s"]) + float(u["sys_s"])) * 1e6 / max(cell["ops"], 1)
print(u["hwm_kib"], cell["ops"], cell["ops_per_sec"], f"{cpu:.2f}", sys.argv[3])
PY
}

lines=()
for b in $BINARIES; do
  label=${b%%=*} bin=${b#*=}
  read -r base _ <<<"$(run "$bin" 1)"
  for n in $WORKERS; do
    read -r hwm ops rate cpu code <<<"$(run "$bin" "$n")"
    line=$(awk -v l="$label" -v n="$n" -v h="$hwm" -v b="$base" -v o="$ops" -v r="$rate" -v c="$cpu" -v e="$code" 'BEGIN {
      printf "binary=%s workers=%d hwm_mib=%.1f kib_per_worker=%.1f ops=%d ops_per_sec=%.0f cpu_us_per_op=%s exit=%s",
        l, n, h / 1024, (h - b) / (n - 1), o, r, c, e }')
    echo "$line"
    lines+=("$line")
  done
  lines+=("binary=$label workers=1 hwm_mib=$(awk -v b="$base" 'BEGIN {printf "%.1f", b / 1024}')")
done

{
  echo "# keyrace client memory, $(date +%F)"
  echo
  echo '```'
  printf '%s\n' "${lines[@]}"
  echo '```'
  echo
  echo "Peak resident set (VmHWM) of the keyrace process, benches/upsert-my.toml for ${DURATION}s"
  echo "(one upsert per operation, 1000 keys uniform) against a throwaway MariaDB on the same"
  echo "machine; kib_per_worker is the peak above the 1-worker run, divided by the extra workers."
  echo
  echo "## Environment"
  echo
  echo "- host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "- binaries: $BINARIES ($(git rev-parse --short HEAD)$(git diff --quiet || echo ', dirty')), KEYRACE_THREADS=${KEYRACE_THREADS:-default}"
  echo "- MariaDB: $(mariadbd --version)"
} >"$OUT"
log "wrote $OUT"
