#!/usr/bin/env bash
# The benchmark report (issue 20, item 6), as root:
#   bash test/bench/all.sh [--quick] [--out FILE] [--logdir DIR]
#
# Builds and installs finsec once, then runs every test/bench/*.sh (but
# this one) one after another with the arguments below, logs each one's
# full output to DIR/<bench>.log (default: a new temporary directory,
# printed), collects the lines
#     RESULT|<bench>|<figure>|<value>|<op>|<target>|<unit>
# and prints one markdown table: benchmark | figure | value | target |
# met/unmet (- for an informational figure), then the machine and each
# bench's wall time.  A bench that exits non-zero or prints no RESULT line
# is a row "FAILED"; the report goes on.  --out FILE saves the report too.
# Exit status 0 when every bench ran and printed its figures, 1 otherwise.
#
# Sizes (full: about 25 minutes on a 2-core machine; --quick: about 5 min,
# 8 on a busy machine):
#   bench               full                        --quick
#   audit               10 s/run, 300k verify rows  3 s, 100k
#   limits              10 s/run, 200k rows         3 s, 50k
#   risk                10 s/run, 20k customers,    3 s, 5k, 50k
#                       200k list entries
#   mac                 300k messages               50k
#   money               3M rows                     500k
#   card                300k cards                  50k
#   protected           300k rows, 5 s runs         20k, 2 s
#   credit              200k records, 5 s runs      30k, 2 s
#   credit_anon         300k records, 1 run         50k, 1
#   credit_query        10k subjects, 3000 calls    2000, 500
#   monitor             --quick (15 s, 1 round)     --quick --secs 5 --phases throughput
#   compliance          2000 tables, 200 roles      300, 30
#   compliance_reports  300k rows                   50k
#   tpcb                15 s/run, scale 20          4 s, scale 5
# A bench added later (not in this table) runs with its own defaults, or
# with FINSEC_BENCH_ARGS_<name> / FINSEC_BENCH_QUICK_ARGS_<name> from the
# environment (name with - as _), and a timeout (FINSEC_BENCH_TIMEOUT,
# default 1800 s, --quick 600 s) bounds every bench.
. "$(dirname "$0")/../../scripts/lib.sh"

quick=0 out="" logdir=""
while [ $# -gt 0 ]; do
	case $1 in
		--quick) quick=1 ;;
		--out) out=$2; shift ;;
		--logdir) logdir=$2; shift ;;
		*) die "unknown argument $1 (see the head of $0)" ;;
	esac
	shift
done

declare -A FULL QUICK
FULL[audit]="10 300000"; QUICK[audit]="3 100000"
FULL[limits]="10 200000"; QUICK[limits]="3 50000"
FULL[risk]="10 20000 200000"; QUICK[risk]="3 5000 50000"
FULL[mac]="300000"; QUICK[mac]="50000"
FULL[money]="3000000"; QUICK[money]="500000"
FULL[card]="300000"; QUICK[card]="50000"
FULL[protected]="300000"; QUICK[protected]="20000"
FULL[credit]="200000"; QUICK[credit]="30000"
FULL[credit_anon]="300000 1"; QUICK[credit_anon]="50000 1"
FULL[credit_query]="10000 3000"; QUICK[credit_query]="2000 500"
FULL[monitor]="--quick"; QUICK[monitor]="--quick --secs 5 --phases throughput"
FULL[compliance]="2000 200"; QUICK[compliance]="300 30"
FULL[compliance_reports]="300000"; QUICK[compliance_reports]="50000"
FULL[tpcb]="15 20"; QUICK[tpcb]="4 5"
# the pgbench seconds of the scripts that read them from the environment
secs_env=5
[ $quick = 0 ] || secs_env=2
timeout_s=${FINSEC_BENCH_TIMEOUT:-1800}
[ $quick = 0 ] || timeout_s=${FINSEC_BENCH_TIMEOUT:-600}

if [ -z "$logdir" ]; then
	logdir=$(mktemp -d "${TMPDIR:-/tmp}/finsec-bench.XXXXXX")
fi
mkdir -p "$logdir"
echo "logs: $logdir"

t_start=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
ensure_deps
build_install >"$logdir/build.log" 2>&1 || { cat "$logdir/build.log"; die "the build failed"; }
export FINSEC_BENCH_NO_BUILD=1

benches=()
for f in "$(dirname "$0")"/*.sh; do
	b=$(basename "$f" .sh)
	[ "$b" = all ] || benches+=("$b")
done
# the table's order first, then any other in name order
ordered=()
for b in audit limits risk mac money card protected credit credit_anon credit_query monitor compliance compliance_reports tpcb; do
	[[ " ${benches[*]} " == *" $b "* ]] && ordered+=("$b")
done
for b in "${benches[@]}"; do
	[[ " ${ordered[*]} " == *" $b "* ]] || ordered+=("$b")
done

rows="$logdir/results.txt"
: >"$rows"
declare -A WALL STATUS
failed=0
for b in "${ordered[@]}"; do
	v=${b//-/_}
	if [ $quick = 1 ]; then
		envargs="FINSEC_BENCH_QUICK_ARGS_$v"; args=${!envargs:-${QUICK[$b]:-}}
	else
		envargs="FINSEC_BENCH_ARGS_$v"; args=${!envargs:-${FULL[$b]:-}}
	fi
	say "bench $b ${args:-(its defaults)}"
	t0=$(date +%s)
	rc=0
	# shellcheck disable=SC2086 # the arguments are words
	FINSEC_BENCH_SECONDS=$secs_env timeout --kill-after=30 "$timeout_s" \
		bash "$(dirname "$0")/$b.sh" $args >"$logdir/$b.log" 2>&1 || rc=$?
	WALL[$b]=$(( $(date +%s) - t0 ))
	n=$(grep -c '^RESULT|' "$logdir/$b.log" || true)
	if [ "$rc" != 0 ] || [ "$n" = 0 ]; then
		STATUS[$b]="FAILED (exit $rc, $n RESULT lines; see $logdir/$b.log)"
		failed=1
		echo "RESULT|$b|FAILED (exit $rc$([ "$n" = 0 ] && echo ', no RESULT line'))|FAILED|-|-|-" >>"$rows"
		tail -3 "$logdir/$b.log" | sed 's/^/    /'
	else
		STATUS[$b]="ok"
	fi
	grep '^RESULT|' "$logdir/$b.log" >>"$rows" || true
	echo "    ${WALL[$b]} s, $n figures, ${STATUS[$b]}"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
total=$(( $(date +%s) - t_start ))

report() {
	echo "# finsec benchmark report$([ $quick = 1 ] && echo ' (--quick: small sizes, a smoke run)')"
	echo
	echo "| benchmark | figure | value | target | met/unmet |"
	echo "|---|---|---|---|---|"
	awk -F'|' '$1 == "RESULT" {
		bench = $2; fig = $3; val = $4; op = $5; tgt = $6; unit = $7;
		if (val == "FAILED") { printf "| %s | %s | FAILED | | FAILED |\n", bench, fig; next }
		u = (unit == "ratio" || unit == "-" || unit == "") ? "" : " " unit;
		if (op == "-" || tgt == "-" || tgt == "") { printf "| %s | %s | %s%s | - | - |\n", bench, fig, val, u; next }
		v = val + 0; t = tgt + 0;
		ok = (op == ">=") ? (v >= t) : (op == "<=") ? (v <= t) : (op == ">") ? (v > t) : (op == "<") ? (v < t) : -1;
		st = (ok == 1) ? "met" : (ok == 0) ? "**unmet**" : "?";
		sub(/^>=$/, "≥", op); sub(/^<=$/, "≤", op);
		printf "| %s | %s | %s%s | %s %s%s | %s |\n", bench, fig, val, u, op, tgt, u, st }' "$rows"
	echo
	echo "Machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
		"$(awk '/MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo) RAM," \
		"Debian $(cat /etc/debian_version 2>/dev/null || echo '?')," \
		"PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{ print $3 }');" \
		"$(date -u '+%Y-%m-%d %H:%M UTC'); load average before $load_before, after $load_after."
	echo
	echo "Wall time: $(for b in "${ordered[@]}"; do printf '%s %s s, ' "$b" "${WALL[$b]}"; done)total $total s" \
		"(with the build)."
}
report | tee "$logdir/report.md"
[ -z "$out" ] || cp "$logdir/report.md" "$out"
echo
echo "logs: $logdir"
exit $failed
