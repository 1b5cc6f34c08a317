#!/usr/bin/env bash
# The cost of finsec on work it does not control (issue 20, item 5), as root:
#   bash test/bench/tpcb.sh [seconds-per-run] [scale] [clients]   (default 15, 20, 8)
#
# pgbench's built-in TPC-B (-M prepared, synchronous_commit off, fsync off
# as every bench cluster) on pgbench's own tables, which finsec knows
# nothing of, in three configurations of one cluster:
#   A  no preload (shared_preload_libraries = '')
#   B  finsec preloaded, with its workers as in production
#      (finsec.audit_seal_databases = the database of C), in a database
#      without the extension
#   C  finsec preloaded and CREATE EXTENSION finsec in that database (a
#      copy of A's database made before the runs)
# Runs interleave A B C A B C A B C (a restart when the preload changes,
# then a 2 s warm-up) so that drift hits all three alike; the median of the
# three runs of each counts.  Target: B/A >= 0.97 and C/A >= 0.97.
. "$(dirname "$0")/../../scripts/lib.sh"

secs=${1:-15}
scale=${2:-20}
clients=${3:-8}
port=${FINSEC_BENCH_PORT:-54364}

ensure_deps
build_install
make_workdir
trap 'stop_cluster bench; rm -rf "$WORKDIR"' EXIT
start_cluster bench "$port"
{
	echo "synchronous_commit = off"
	echo "include_if_exists = 'mode.conf'"
} >>"$WORKDIR/bench/postgresql.conf"

mode=""
set_mode() { # nopreload | preload: restart when it changes
	[ "$mode" = "$1" ] && return 0
	if [ "$1" = nopreload ]; then
		echo "shared_preload_libraries = ''" >"$WORKDIR/bench/mode.conf"
	else
		: >"$WORKDIR/bench/mode.conf"
	fi
	chown postgres "$WORKDIR/bench/mode.conf"
	as_pg pg_ctl -D "$WORKDIR/bench" -l "$WORKDIR/bench.log" -w restart >/dev/null
	mode=$1
	local want=finsec
	[ "$1" = preload ] || want=""
	[ "$(as_pg psql -X -At -d postgres -c "SHOW shared_preload_libraries")" = "$want" ] ||
		die "shared_preload_libraries is not '$want' in mode $1"
}

say "pgbench -i -s $scale (TPC-B tables), and a copy with CREATE EXTENSION finsec"
as_pg createdb tpcb
as_pg pgbench -i -q -s "$scale" tpcb >/dev/null 2>&1 || die "pgbench -i failed"
as_pg psql -X -q -d tpcb -c "VACUUM ANALYZE" -c CHECKPOINT
as_pg createdb -T tpcb tpcb_ext
as_pg psql -X -q -v ON_ERROR_STOP=1 -d tpcb_ext -c "CREATE EXTENSION finsec"
# the workers as in production: one in the database that has the extension
echo "finsec.audit_seal_databases = 'tpcb_ext'" >>"$WORKDIR/bench/postgresql.conf"

run() { # db -> tps
	as_pg pgbench -n -M prepared -c "$clients" -j 2 -T 2 "$1" >/dev/null 2>&1 || true
	as_pg pgbench -n -M prepared -c "$clients" -j 2 -T "$secs" "$1" 2>/dev/null |
		awk '/^tps/ { print $3; exit }'
}

say "TPC-B, scale $scale, $clients clients, -M prepared, ${secs} s a run, A B C interleaved three times"
declare -a A B C
for round in 1 2 3; do
	set_mode nopreload; A+=("$(run tpcb)")
	set_mode preload;   B+=("$(run tpcb)")
	C+=("$(run tpcb_ext)")
	echo "round $round: no preload ${A[-1]} tps, preloaded ${B[-1]} tps, preloaded + extension ${C[-1]} tps"
done
workers=$(as_pg psql -X -At -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'finsec worker'")
echo "finsec workers running in the preloaded cluster: $workers"
[ "$workers" -ge 1 ] || echo "note: no finsec worker was running at the end of the runs (see $WORKDIR/bench.log)"
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
ma=$(median "${A[@]}") mb=$(median "${B[@]}") mc=$(median "${C[@]}")
if [ -z "$ma" ] || [ -z "$mb" ] || [ -z "$mc" ]; then die "a pgbench run gave no tps"; fi
awk -v a="$ma" -v b="$mb" -v c="$mc" 'BEGIN {
	printf "medians: no preload %.0f tps, preloaded %.0f tps (%.3f), preloaded + extension %.0f tps (%.3f) (target >= 0.97)\n",
		a, b, b / a, c, c / a;
	printf "RESULT|tpcb|preloaded/no preload|%.3g|>=|0.97|ratio\n", b / a;
	printf "RESULT|tpcb|preloaded+extension/no preload|%.3g|>=|0.97|ratio\n", c / a;
	printf "RESULT|tpcb|no preload|%.0f|-|-|tps\n", a;
	printf "RESULT|tpcb|preloaded|%.0f|-|-|tps\n", b;
	printf "RESULT|tpcb|preloaded+extension|%.0f|-|-|tps\n", c }'
