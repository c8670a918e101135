#!/usr/bin/env bash
# keyrace's client cost against the reference clients, on the same machine, server, table and
# key set: pgbench -M prepared (PostgreSQL) and sysbench (MariaDB), each running one upsert per
# operation in autocommit, then keyrace's built-in upsert on the equivalent scenario
# (benches/upsert-pg.toml, benches/upsert-my.toml), at 16 and 64 clients.
#
# The headline figure is CPU per operation: each client process's own user+sys time (wait4's
# rusage of the child, through benches/rusage.py: all its threads, set-up and tear-down
# included) divided by the operations it reports (pgbench: transactions actually processed;
# sysbench: transactions; keyrace: the report's ops). Throughput stays beside it.
#
# The tools alternate (peer first on odd repetitions, keyrace first on even ones); each cell is
# repeated REPS times and the medians compared. Both sides open their connections first and are
# measured over the same fixed duration from their start (pgbench reports tps without the
# initial connection time; keyrace measures from the release of its already connected
# workers; sysbench counts events over its run time after thread_init). Prints one line per
# cell (medians; the spread is min..max over the repetitions):
#   cell=<pgbench|sysbench>-c<clients> keyrace_cpu_us_per_op=<a> peer_cpu_us_per_op=<b>
#   cpu_ratio=<a/b> keyrace_ops_per_sec=<x> peer_ops_per_sec=<y> ratio=<x/y>
#   spread_keyrace_cpu=<lo..hi> spread_peer_cpu=<lo..hi> spread_keyrace_ops=<lo..hi>
#   spread_peer_ops=<lo..hi> reps=<n> keyrace_user_us_per_op=<u> keyrace_sys_us_per_op=<s>
#   peer_user_us_per_op=<u> peer_sys_us_per_op=<s> transport=<tcp|unix>
# (user: the client's own code and libraries; sys: the kernel working for it, which for one
# small statement per operation is mostly the send that hands the statement to the server)
# and writes them with every run's figures and the environment to results/bench-<date>.md.
#
# Environment: KEYRACE_POSTGRES_URL / KEYRACE_MYSQL_URL (defaults: the local servers as the
# README sets them up), DURATION (seconds, default 10), REPS (default 5), CLIENTS (default
# "16 64"), CELLS (default "pgbench sysbench"), KEYRACE_THREADS (keyrace's runtime threads),
# KEYRACE (a keyrace binary to use instead of building target/release/keyrace), OUT (the
# Markdown file, default results/bench-<date>.md), TRANSPORT (tcp, default, or unix: both sides
# through the servers' Unix sockets). Installs pgbench (Debian's
# postgresql-client) and sysbench when they are missing. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
REPS=${REPS:-5}
CLIENTS=${CLIENTS:-"16 64"}
CELLS=${CELLS:-"pgbench sysbench"}
# TRANSPORT=unix: every client (keyrace and the peer alike) reaches the servers through their
# Unix sockets (PG_SOCKET_DIR, MY_SOCKET) instead of TCP on 127.0.0.1.
TRANSPORT=${TRANSPORT:-tcp}
PG_SOCKET_DIR=${PG_SOCKET_DIR:-/var/run/postgresql}
MY_SOCKET=${MY_SOCKET:-/run/mysqld/mysqld.sock}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
MY_HOST=${MY_HOST:-127.0.0.1}
MY_PORT=${MY_PORT:-3306}
MY_USER=${MY_USER:-root}
PG_URL=${KEYRACE_POSTGRES_URL:-postgres://$PG_USER@$PG_HOST:$PG_PORT/postgres}
MY_URL=${KEYRACE_MYSQL_URL:-mysql://$MY_USER@$MY_HOST:$MY_PORT/test}
MY_WHERE=(--mysql-host="$MY_HOST" --mysql-port="$MY_PORT")
case $TRANSPORT in
  tcp) ;;
  unix)
    PG_HOST=$PG_SOCKET_DIR
    PG_URL="postgres://$PG_USER@localhost:$PG_PORT/postgres?host=$PG_SOCKET_DIR"
    MY_URL="mysql://$MY_USER@localhost/test?socket=$MY_SOCKET"
    MY_WHERE=(--mysql-socket="$MY_SOCKET")
    ;;
  *) echo "TRANSPORT must be tcp or unix, not $TRANSPORT" >&2; exit 2 ;;
esac
PG_DB=keyrace_pgbench
MY_DB=keyrace_sysbench
RUSAGE=benches/rusage.py
WORK=$(mktemp -d /tmp/keyrace-compare.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

log() { printf '[compare] %s\n' "$*" >&2; }

if [[ -z ${KEYRACE:-} ]]; then
  log "building the release binary"
  cargo build --release --quiet --bin keyrace
  KEYRACE=target/release/keyrace
fi

apt_install() { # package
  log "installing $1"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1"; }; } >/dev/null
}
if [[ " $CELLS " == *" pgbench "* ]] && ! command -v pgbench >/dev/null; then
  apt_install postgresql-client
fi
if [[ " $CELLS " == *" sysbench "* ]] && ! command -v sysbench >/dev/null; then
  apt_install sysbench
fi

psql_() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -v ON_ERROR_STOP=1 -qtAX "$@"; }
my_() {
  if [[ $TRANSPORT == unix ]]; then mariadb -S"$MY_SOCKET" -u"$MY_USER" -N -B "$@"
  else mariadb -h"$MY_HOST" -P"$MY_PORT" -u"$MY_USER" -N -B "$@"; fi
}

max_clients=0
for c in $CLIENTS; do ((c > max_clients)) && max_clients=$c; done
if [[ " $CELLS " == *" pgbench "* ]]; then
  pg_max=$(psql_ -d postgres -c 'SHOW max_connections')
  ((pg_max >= max_clients + 5)) || { log "PostgreSQL max_connections=$pg_max < $max_clients clients + 5"; exit 2; }
  psql_ -d postgres -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB"
  psql_ -d $PG_DB -c "CREATE TABLE counters (k BIGINT PRIMARY KEY, n BIGINT NOT NULL)"
fi
if [[ " $CELLS " == *" sysbench "* ]]; then
  my_max=$(my_ -e 'SELECT @@max_connections')
  ((my_max >= max_clients + 5)) || { log "MariaDB max_connections=$my_max < $max_clients clients + 5"; exit 2; }
  my_ -e "DROP DATABASE IF EXISTS $MY_DB; CREATE DATABASE $MY_DB;
          CREATE TABLE $MY_DB.counters (k BIGINT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB"
fi

# µs of the client's user+sys time (from a rusage.py file) per operation, its context
# switches (voluntary + involuntary) per operation, then the user and the system (kernel) part
# of the first figure: "<cpu_us_per_op> <switches_per_op> <user_us_per_op> <sys_us_per_op>".
cpu_per_op() { # rusage-file ops
  awk -v ops="$2" '{for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}}
    END {printf "%.3f %.3f %.3f %.3f", (v["user_s"] + v["sys_s"]) * 1e6 / ops, (v["vcsw"] + v["ivcsw"]) / ops,
      v["user_s"] * 1e6 / ops, v["sys_s"] * 1e6 / ops}' "$1"
}

# Each run starts from an empty table after a checkpoint, like keyrace's fresh database, and
# prints "<ops> <ops_per_sec> <cpu_us_per_op> <context_switches_per_op>".
run_pgbench() { # clients
  psql_ -d $PG_DB -c 'TRUNCATE counters' -c 'CHECKPOINT'
  "$RUSAGE" "$WORK/rusage" pgbench -n -M prepared -f benches/pgbench-upsert.sql -c "$1" -j 1 \
    -T "$DURATION" -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" $PG_DB \
    2>"$WORK/pgbench.err" >"$WORK/pgbench.out" || { cat "$WORK/pgbench.err" >&2; return 1; }
  local ops tps
  ops=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.out" | head -1)
  echo "$ops $tps $(cpu_per_op "$WORK/rusage" "$ops")"
}

run_sysbench() { # clients
  my_ -e "TRUNCATE $MY_DB.counters"
  "$RUSAGE" "$WORK/rusage" sysbench benches/sysbench-upsert.lua --db-driver=mysql \
    "${MY_WHERE[@]}" --mysql-user="$MY_USER" --mysql-db=$MY_DB \
    --threads="$1" --time="$DURATION" --events=0 --report-interval=0 run \
    >"$WORK/sysbench.out" 2>&1 || { cat "$WORK/sysbench.out" >&2; return 1; }
  local ops tps
  ops=$(sed -n 's/.*transactions: *\([0-9]*\) *(.*/\1/p' "$WORK/sysbench.out" | head -1)
  tps=$(sed -n 's/.*transactions: *[0-9]* *(\([0-9.]*\) per sec.).*/\1/p' "$WORK/sysbench.out" | head -1)
  echo "$ops $tps $(cpu_per_op "$WORK/rusage" "$ops")"
}

run_keyrace() { # dialect clients
  local dialect=$1 clients=$2 scenario out figures
  out="$WORK/keyrace-out"
  rm -rf "$out"
  if [[ $dialect == postgres ]]; then
    psql_ -d postgres -c 'CHECKPOINT'
    scenario=benches/upsert-pg.toml
  else
    scenario=benches/upsert-my.toml
  fi
  "$RUSAGE" "$WORK/rusage" "$KEYRACE" run "$scenario" --only "$dialect" --postgres "$PG_URL" \
    --mysql "$MY_URL" --workers "$clients" --duration "${DURATION}s" --out "$out" --quiet \
    --no-html >"$WORK/keyrace.log" 2>&1 || { cat "$WORK/keyrace.log" >&2; return 1; }
  figures=$(python3 - "$out" <<'PY'
import json, pathlib, sys
f = sorted(pathlib.Path(sys.argv[1]).glob("*.json"))[-1]
r = json.load(open(f))
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
print(cell["ops"], cell["ops_per_sec"])
PY
  )
  echo "$figures $(cpu_per_op "$WORK/rusage" "${figures%% *}")"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
range_() { # printf-format values... -> lo..hi
  local f=$1
  shift
  printf '%s\n' "$@" | sort -g | awk -v f="$f" 'NR == 1 {lo = $1} {hi = $1} END {printf f ".." f, lo, hi}'
}

lines=()
details=()
for cell in $CELLS; do
  if [[ $cell == pgbench ]]; then dialect=postgres; else dialect=mysql; fi
  for c in $CLIENTS; do
    ks=() ps=() kc=() pc=() ku=() kk=() pu=() pk=()
    for rep in $(seq 1 "$REPS"); do
      if ((rep % 2 == 1)); then
        p=$(run_$cell "$c"); k=$(run_keyrace $dialect "$c")
      else
        k=$(run_keyrace $dialect "$c"); p=$(run_$cell "$c")
      fi
      read -r k_ops k_rate k_cpu k_cs k_user k_sys <<<"$k"
      read -r p_ops p_rate p_cpu p_cs p_user p_sys <<<"$p"
      log "$cell-c$c rep $rep: keyrace $k_ops ops, $k_rate/s, $k_cpu µs/op; peer $p_ops ops, $p_rate/s, $p_cpu µs/op"
      ks+=("$k_rate") ps+=("$p_rate") kc+=("$k_cpu") pc+=("$p_cpu")
      ku+=("$k_user") kk+=("$k_sys") pu+=("$p_user") pk+=("$p_sys")
      details+=("| $cell-c$c | $rep | $k_ops | $k_rate | $k_cpu ($k_user + $k_sys) | $k_cs | $p_ops | $p_rate | $p_cpu ($p_user + $p_sys) | $p_cs |")
    done
    line=$(awk -v cell="$cell-c$c" -v kc="$(median "${kc[@]}")" -v pc="$(median "${pc[@]}")" \
      -v k="$(median "${ks[@]}")" -v p="$(median "${ps[@]}")" 'BEGIN {
      printf "cell=%s keyrace_cpu_us_per_op=%.2f peer_cpu_us_per_op=%.2f cpu_ratio=%.3f keyrace_ops_per_sec=%.0f peer_ops_per_sec=%.0f ratio=%.3f",
        cell, kc, pc, kc / pc, k, p, k / p }')
    line="$line spread_keyrace_cpu=$(range_ %.2f "${kc[@]}") spread_peer_cpu=$(range_ %.2f "${pc[@]}")"
    line="$line spread_keyrace_ops=$(range_ %.0f "${ks[@]}") spread_peer_ops=$(range_ %.0f "${ps[@]}") reps=$REPS"
    # The kernel's part: with keyrace_sys alone above 0.7 × peer_cpu, no user-space change
    # can bring cpu_ratio to 0.7 (see results/cost-*.md).
    line="$line keyrace_user_us_per_op=$(median "${ku[@]}") keyrace_sys_us_per_op=$(median "${kk[@]}")"
    line="$line peer_user_us_per_op=$(median "${pu[@]}") peer_sys_us_per_op=$(median "${pk[@]}") transport=$TRANSPORT"
    echo "$line"
    lines+=("$line")
  done
done

[[ " $CELLS " == *" pgbench "* ]] && psql_ -d postgres -c "DROP DATABASE IF EXISTS $PG_DB"
[[ " $CELLS " == *" sysbench "* ]] && my_ -e "DROP DATABASE IF EXISTS $MY_DB"

date_=$(date +%F)
md=${OUT:-results/bench-$date_.md}
{
  echo "# keyrace vs pgbench / sysbench, $date_"
  echo
  echo '```'
  printf '%s\n' "${lines[@]}"
  echo '```'
  echo
  echo "Medians of $REPS alternating runs of ${DURATION}s per tool and cell (spread: min..max over"
  echo "the runs); 1000 keys uniform, one upsert per operation in autocommit, empty table at the"
  echo "start of every run. CPU: the client process's own user+sys time (wait4 rusage, all"
  echo "threads, set-up included) divided by the operations it reports; switches: the client's"
  echo "context switches (voluntary + involuntary) per operation."
  echo
  echo "| cell | rep | keyrace ops | keyrace ops/s | keyrace µs/op (user + sys) | keyrace switches/op | peer ops | peer ops/s | peer µs/op (user + sys) | peer switches/op |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${details[@]}"
  echo
  echo "## Environment"
  echo
  echo "- host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "- cpu: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
  echo "- load average before the write-up: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- keyrace: $("$KEYRACE" --version) ($KEYRACE, $(git rev-parse --short HEAD)$(git diff --quiet || echo ', dirty')), KEYRACE_THREADS=${KEYRACE_THREADS:-default}"
  echo "- $(cargo --version)"
  if [[ " $CELLS " == *" pgbench "* ]]; then
    echo "- $(pgbench --version) -M prepared -j 1, script benches/pgbench-upsert.sql"
    echo "- PostgreSQL: $(psql_ -d postgres -c 'SELECT version()')"
    echo "  - $(psql_ -d postgres -c "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('max_connections','shared_buffers','synchronous_commit','fsync','wal_level','max_wal_size','checkpoint_timeout')")"
  fi
  if [[ " $CELLS " == *" sysbench "* ]]; then
    echo "- $(sysbench --version), script benches/sysbench-upsert.lua (server-side prepared statement)"
    echo "- MariaDB: $(my_ -e 'SELECT version()')"
    echo "  - $(my_ -e "SELECT CONCAT('max_connections=', @@max_connections, ', innodb_buffer_pool_size=', @@innodb_buffer_pool_size, ', innodb_flush_log_at_trx_commit=', @@innodb_flush_log_at_trx_commit, ', log_bin=', @@log_bin, ', sync_binlog=', @@sync_binlog)")"
  fi
} >"$md"
log "wrote $md"
