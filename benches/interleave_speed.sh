#!/usr/bin/env bash
# Interleavings: wall time of PostgreSQL 15's isolation tester and of keyrace on the same
# specs (benches/specs/*.spec, written for keyrace), on the same PostgreSQL server, one
# after the other, alternating which goes first, ROUNDS rounds. Each spec is one process
# of each tool; keyrace runs with `--format isolationtester` and its stdout is checked to be
# the isolation tester's. Then the specs marked `dialects = postgres, mysql` run through
# keyrace on MariaDB, to measure what a permutation costs there.
# Then the whole directory as a suite: the isolation tester spec after spec, keyrace one
# process for the directory. Writes results/interleave-speed.md.
#
#   benches/interleave_speed.sh            # release binary (built if missing), 5 rounds
#   KEYRACE_BIN=target/debug/keyrace ROUNDS=3 benches/interleave_speed.sh
set -euo pipefail
cd "$(dirname "$0")/.."

IT=${KEYRACE_ISOLATIONTESTER:-/usr/lib/postgresql/15/lib/pgxs/src/test/isolation/isolationtester}
PG_URL=${KEYRACE_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
MY_URL=${KEYRACE_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}
KEYRACE=${KEYRACE_BIN:-target/release/keyrace}
ROUNDS=${ROUNDS:-5}
OUT=${OUT:-results/interleave-speed.md}
# `table` to time a keyrace from before `--format isolationtester` existed.
FORMAT=${KEYRACE_FORMAT:-isolationtester}

[ -x "$IT" ] || { echo "no isolation tester at $IT (apt-get install postgresql-client-15)" >&2; exit 2; }
if [ ! -x "$KEYRACE" ]; then
  [ "$KEYRACE" = target/release/keyrace ] || { echo "no keyrace binary at $KEYRACE" >&2; exit 2; }
  cargo build --release --quiet
fi

work=$(mktemp -d)
db="keyrace_bench_it_$$"
cleanup() {
  psql "$PG_URL" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$PG_URL" -qAtc "CREATE DATABASE $db" >/dev/null
it_conn="${PG_URL%/*}/$db"

specs=(benches/specs/*.spec)
now() { date +%s.%N; }

# run_it SPEC OUTFILE / run_keyrace SPEC OUTFILE DIALECT: print the wall seconds.
run_it() {
  local t0; t0=$(now)
  "$IT" "$it_conn" <"$1" >"$2" 2>"$2.err" || true
  echo "$(now) - $t0" | bc
}
run_keyrace() {
  local t0; t0=$(now)
  KEYRACE_POSTGRES_URL="$PG_URL" KEYRACE_MYSQL_URL="$MY_URL" \
    "$KEYRACE" run --only "$3" --quiet --no-html --out "$work/results" \
    --format "$FORMAT" "$1" >"$2" 2>"$2.err" || true
  echo "$(now) - $t0" | bc
}

# A one-step spec: what a file costs before any permutation (the isolation tester: start
# and connect; keyrace: start, detect the server, create and drop its own database).
printf 'session s1\nstep s1_a { SELECT 1; }\n' >"$work/trivial.spec"
ov_it=""; ov_kr=""
for r in $(seq 1 "$ROUNDS"); do
  ov_it+="$(run_it "$work/trivial.spec" "$work/trivial.it") "
  ov_kr+="$(run_keyrace "$work/trivial.spec" "$work/trivial.kr" postgres) "
done

declare -A it_t kr_t same
for s in "${specs[@]}"; do it_t[$s]=""; kr_t[$s]=""; same[$s]=yes; done
for r in $(seq 1 "$ROUNDS"); do
  for s in "${specs[@]}"; do
    name=$(basename "$s" .spec)
    if (( r % 2 )); then
      a=$(run_it "$s" "$work/$name.it"); b=$(run_keyrace "$s" "$work/$name.kr" postgres)
    else
      b=$(run_keyrace "$s" "$work/$name.kr" postgres); a=$(run_it "$s" "$work/$name.it")
    fi
    it_t[$s]+="$a "; kr_t[$s]+="$b "
    cmp -s "$work/$name.it" "$work/$name.kr" || same[$s]=no
  done
  echo "round $r of $ROUNDS done" >&2
done

# The whole directory, one after another, as a suite runs: the isolation tester one process
# per spec in its one database (as pg_regress runs it), keyrace one process for the
# directory (one database per file, the next created while this one runs).
dir_it=""; dir_kr=""; dir_same=yes
dir_run_it() {
  local t0; t0=$(now)
  for s in "${specs[@]}"; do "$IT" "$it_conn" <"$s" 2>/dev/null || true; done >"$work/dir.it"
  dir_it+="$(echo "$(now) - $t0" | bc) "
}
dir_run_kr() {
  local t0; t0=$(now)
  KEYRACE_POSTGRES_URL="$PG_URL" "$KEYRACE" run --only postgres --quiet --no-html \
    --out "$work/results" --format "$FORMAT" benches/specs/ >"$work/dir.kr" 2>/dev/null || true
  dir_kr+="$(echo "$(now) - $t0" | bc) "
}
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then dir_run_it; dir_run_kr; else dir_run_kr; dir_run_it; fi
  cmp -s "$work/dir.it" "$work/dir.kr" || dir_same=no
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
perms() { grep -c '^starting permutation' "$1" || true; }

{
  echo "# Interleavings: keyrace against PostgreSQL's isolation tester"
  echo
  echo "Written by \`benches/interleave_speed.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo "Isolation tester: \`$IT\`; keyrace: \`$KEYRACE\` ($("$KEYRACE" --version 2>/dev/null | head -1)),"
  echo "\`--format $FORMAT\`. Server: $(psql "$PG_URL" -qAtc 'SELECT version()' | cut -d' ' -f1-2),"
  echo "same machine ($(nproc) cores, shared). Each spec is one process per tool; $ROUNDS rounds,"
  echo "alternating which tool goes first; medians of wall time in seconds."
  echo
  echo "| spec | permutations | isolation tester (s) | keyrace (s) | keyrace / isolation tester | same stdout |"
  echo "|---|---:|---:|---:|---:|---|"
  tot_it=0; tot_kr=0; tot_p=0
  for s in "${specs[@]}"; do
    name=$(basename "$s" .spec)
    p=$(perms "$work/$name.it")
    mi=$(echo "${it_t[$s]}" | median); mk=$(echo "${kr_t[$s]}" | median)
    tot_it=$(echo "$tot_it + $mi" | bc); tot_kr=$(echo "$tot_kr + $mk" | bc); tot_p=$((tot_p + p))
    printf '| %s | %d | %.3f | %.3f | %.2f | %s |\n' "$name" "$p" "$mi" "$mk" "$(echo "$mk / $mi" | bc -l)" "${same[$s]}"
  done
  printf '| **all** | %d | %.3f | %.3f | %.2f | |\n' "$tot_p" "$tot_it" "$tot_kr" "$(echo "$tot_kr / $tot_it" | bc -l)"
  echo
  oi=$(echo "$ov_it" | median); ok=$(echo "$ov_kr" | median)
  n=${#specs[@]}
  printf 'A file before any permutation (a one-step spec): isolation tester %.3f s, keyrace %.3f s\n' "$oi" "$ok"
  echo "(keyrace creates and drops a database of its own for each file; the isolation tester"
  echo "uses one that exists). Without that per-file cost, over the $n specs: isolation tester"
  printf '%.3f s, keyrace %.3f s (%.2f).\n' "$(echo "$tot_it - $n * $oi" | bc -l)" "$(echo "$tot_kr - $n * $ok" | bc -l)" \
    "$(echo "($tot_kr - $n * $ok) / ($tot_it - $n * $oi)" | bc -l)"
  echo

  di=$(echo "$dir_it" | median); dk=$(echo "$dir_kr" | median)
  echo "## The directory as a suite"
  echo
  echo "The $n specs one after another, medians of $ROUNDS rounds (alternating who goes first):"
  echo "the isolation tester one process per spec in one database that exists, keyrace one"
  echo "\`keyrace run --only postgres benches/specs/\` (a database of its own per file, the next"
  echo "file's created while this one runs, this one's dropped while the next runs)."
  echo
  echo "| isolation tester (s) | keyrace (s) | keyrace / isolation tester | same stdout |"
  echo "|---:|---:|---:|---|"
  printf '| %.3f | %.3f | %.2f | %s |\n' "$di" "$dk" "$(echo "$dk / $di" | bc -l)" "$dir_same"
  echo

  # MariaDB: the portable specs through keyrace only (the isolation tester is PostgreSQL's).
  if mariadb -h127.0.0.1 -uroot -e 'SELECT 1' >/dev/null 2>&1 || [ -n "${KEYRACE_MYSQL_URL:-}" ]; then
    echo "## MariaDB: what a permutation costs"
    echo
    echo "The specs marked \`# keyrace: dialects = postgres, mysql\`, through keyrace on"
    echo "$(mariadb -h127.0.0.1 -uroot -N -e 'SELECT VERSION()' 2>/dev/null || echo "$MY_URL"), median of $ROUNDS runs:"
    echo
    echo "| spec | permutations | keyrace on MariaDB (s) | per permutation (ms) | keyrace on PostgreSQL, per permutation (ms) |"
    echo "|---|---:|---:|---:|---:|"
    for s in $(grep -l 'keyrace: dialects = postgres, mysql' "${specs[@]}"); do
      name=$(basename "$s" .spec)
      ts=""
      for r in $(seq 1 "$ROUNDS"); do ts+="$(run_keyrace "$s" "$work/$name.my" mysql) "; done
      m=$(echo "$ts" | median); p=$(perms "$work/$name.my")
      pg=$(echo "${kr_t[$s]}" | median)
      printf '| %s | %d | %.3f | %.1f | %.1f |\n' "$name" "$p" "$m" "$(echo "1000 * $m / $p" | bc -l)" "$(echo "1000 * $pg / $p" | bc -l)"
    done
    echo
  fi
} >"$OUT"
cat "$OUT"
