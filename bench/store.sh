#!/usr/bin/env bash
# bench/store.sh [runs] [messages]: what the durable store gives the gateway
# on its own: store-load enqueues `messages` 1 KB deliveries (two recipients
# each) from 20 threads, every one committed before it counts, into a new
# SQLite file (WAL, synchronous=FULL) and a new database on a throw-away
# PostgreSQL server (Debian's defaults: fsync on), interleaved `runs` times.
# Prints the median rate and CPU per 1000 enqueues for each engine.
if [ -z "${QMAIL_REMOTE_TEST_POSTGRES_URL:-}" ]; then
    cd "$(dirname "$0")/.." && scripts/setup.sh bench
    exec scripts/with-postgres.sh bash bench/store.sh "$@"
fi
source "$(dirname "$0")/common.sh"
runs=${1:-5}
messages=${2:-20000}
load=.build/release/store-load
base=${QMAIL_REMOTE_TEST_POSTGRES_URL%/*}

run() {  # engine url -> "rate cpu_ms_per_1000"
    local out
    out=$( { /usr/bin/time -f "cpu %U %S" "$load" enqueue "$2" 20 "$messages" 1024 >/dev/null; } 2>&1 )
    local rate cpu
    rate=$(sed -n 's/.*: \([0-9]*\)\/s$/\1/p' <<<"$out")
    cpu=$(awk -v n="$messages" '/^cpu/ { printf "%.0f", ($2 + $3) * 1000 * 1000 / n }' <<<"$out")
    echo "$1 $rate $cpu" >>"$work/results"
}

for round in $(seq "$runs"); do
    run sqlite "sqlite:$work/state-$round.db"
    psql -X -q "$QMAIL_REMOTE_TEST_POSTGRES_URL" -c "CREATE DATABASE bench_$round"
    run postgresql "$base/bench_$round"
done

echo "| store, 20 threads, 1 KB, $messages enqueues x $runs | enqueues/s (median) | CPU ms per 1000 (median) |"
echo "|---|---|---|"
for engine in sqlite postgresql; do
    awk -v e="$engine" '$1 == e { print $2 }' "$work/results" | sort -n >"$work/rates"
    awk -v e="$engine" '$1 == e { print $3 }' "$work/results" | sort -n >"$work/cpu"
    median() { awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }' "$1"; }
    echo "| $engine | $(median "$work/rates") | $(median "$work/cpu") |"
done
echo "(all runs: $(tr '\n' ' ' <"$work/results"))"
