#!/usr/bin/env bash
# Is sqlx the floor of keyrace's client CPU? The same hot path (one upsert per operation in
# autocommit, CLIENTS connections on one current-thread runtime, random keys of 1,000) through
# sqlx and through the other maintained async driver of each engine: mysql_async (MySQL/MariaDB)
# and tokio-postgres (PostgreSQL), alternating, REPS repetitions of DURATION seconds. CPU is the
# process's own getrusage between "every connection open and prepared" and "the last loop
# ended" (benches/drivers/src/main.rs), so it is the hot path alone.
#
# Prints one line per driver and client count (medians, spread min..max):
#   driver=<d> clients=<n> cpu_us_per_op=<m> user_us_per_op=<m> sys_us_per_op=<m>
#   ops_per_sec=<m> spread_cpu=<lo..hi> reps=<n>
# and writes them with every run's figures to OUT (default results/drivers-<date>.md).
#
# Environment: KEYRACE_POSTGRES_URL / KEYRACE_MYSQL_URL (defaults: the local servers as the
# README sets them up; a database keyrace_drivers is created on each and dropped at the end),
# DURATION (default 10), REPS (default 5), CLIENTS (default "16 64"), TRANSPORT (tcp, or unix
# for the servers' Unix sockets: /var/run/postgresql and /run/mysqld/mysqld.sock). Builds
# benches/drivers (its own workspace: `cargo test` never builds mysql_async). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
REPS=${REPS:-5}
CLIENTS=${CLIENTS:-"16 64"}
TRANSPORT=${TRANSPORT:-tcp}
PG_BASE=${KEYRACE_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
MY_BASE=${KEYRACE_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}
DB=keyrace_drivers
OUT=${OUT:-results/drivers-$(date -u +%F).md}
BIN=benches/drivers/target/release/keyrace-driver-cost
WORK=$(mktemp -d /tmp/keyrace-drivers.XXXXXX)

log() { printf '[drivers] %s\n' "$*" >&2; }
with_db() { # url db -> the url naming db
  python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$1" "$2"
}
PG_URL=$(with_db "$PG_BASE" "$DB")
MY_URL=$(with_db "$MY_BASE" "$DB")
cleanup() {
  psql -X -q -d "$PG_BASE" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  mariadb --defaults-file=/dev/null -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

log "building benches/drivers"
(cd benches/drivers && cargo build --release --quiet)

psql -X -q -v ON_ERROR_STOP=1 -d "$PG_BASE" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$PG_URL" -c "CREATE TABLE counters (k BIGINT PRIMARY KEY, n BIGINT NOT NULL)"
my() { python3 - "$MY_BASE" "$1" <<'PY'
import subprocess, sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
args = ["mariadb", "--defaults-file=/dev/null", "-h", p.hostname or "127.0.0.1", "-P", str(p.port or 3306), "-u", p.username or "root"]
if p.password:
    args.append("-p" + u.unquote(p.password))
sys.exit(subprocess.run(args + ["-e", sys.argv[2]]).returncode)
PY
}
my "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB; CREATE TABLE $DB.counters (k BIGINT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB"

if [[ $TRANSPORT == unix ]]; then
  PG_URL="postgres://postgres@localhost/$DB?host=/var/run/postgresql"
  MY_URL="mysql://root@localhost/$DB?socket=/run/mysqld/mysqld.sock"
  MY_URL_ASYNC="mysql://root@localhost/$DB?socket=/run/mysqld/mysqld.sock&prefer_socket=true"
else
  MY_URL_ASYNC="$MY_URL?prefer_socket=false"
fi

url_of() { case $1 in
  sqlx-mysql) echo "$MY_URL" ;; mysql_async) echo "$MY_URL_ASYNC" ;; *) echo "$PG_URL" ;; esac; }
reset() { case $1 in
  *mysql*) my "TRUNCATE $DB.counters" ;;
  *) psql -X -q -d "$PG_URL" -c "TRUNCATE counters" -c CHECKPOINT ;; esac; }

runs=$WORK/runs
: >"$runs"
for c in $CLIENTS; do
  for pair in "sqlx-mysql mysql_async" "sqlx-postgres tokio-postgres"; do
    read -r a b <<<"$pair"
    for rep in $(seq 1 "$REPS"); do
      order="$a $b"; ((rep % 2 == 0)) && order="$b $a"
      for d in $order; do
        reset "$d"
        line=$("$BIN" "$d" "$(url_of "$d")" "$c" "$DURATION")
        log "rep $rep: $line"
        echo "rep=$rep $line" >>"$runs"
      done
    done
  done
done

summary=$(python3 - "$runs" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split())
    runs[(f["driver"], int(f["clients"]))].append(f)
for (d, c), rs in runs.items():
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    cpu = [float(r["cpu_us_per_op"]) for r in rs]
    print(f"driver={d} clients={c} cpu_us_per_op={med('cpu_us_per_op'):.2f} "
          f"user_us_per_op={med('user_us_per_op'):.2f} sys_us_per_op={med('sys_us_per_op'):.2f} "
          f"ops_per_sec={med('ops_per_sec'):.0f} spread_cpu={min(cpu):.2f}..{max(cpu):.2f} reps={len(rs)}")
PY
)
echo "$summary"
{
  echo "# sqlx against mysql_async and tokio-postgres: client CPU per upsert ($(date -u '+%F %H:%M') UTC)"
  echo
  echo "Written by \`benches/drivers.sh\` (TRANSPORT=$TRANSPORT, DURATION=${DURATION}s, REPS=$REPS, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))."
  echo
  echo '```'
  echo "$summary"
  echo '```'
  echo
  echo "Every run:"
  echo
  echo '```'
  cat "$runs"
  echo '```'
  echo
  echo "- host: $(uname -srm), $(nproc) cores"
  echo "- PostgreSQL: $(psql -X -tA -d "$PG_URL" -c 'SHOW server_version')"
  echo "- MariaDB: $(my 'SELECT VERSION()' 2>/dev/null | tail -1)"
} >"$OUT"
log "wrote $OUT"
