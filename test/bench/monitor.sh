#!/usr/bin/env bash
# Benchmark of the transaction monitor (issue 16), as root:
#   bash test/bench/monitor.sh [--quick] [--secs N] [--rounds N] [--customers N]
#        [--per-customer N] [--days N] [--plants N] [--mem-payments N]
#        [--mem-seconds N] [--interval MS] [--phases recall,throughput,memory]
#        [--allow-missing] [--fsync on|off]
# (FINSEC_BENCH_PORT picks the port, default 54352; FINSEC_PGROOT as
# everywhere.)  Defaults are the full run; --quick is a smoke run
# (per-customer 2, plants 5, 15 s x 1 round, 300k payments for memory).
#
# 1. Recall, database "recall", processed by finsec.monitor_now() rounds:
#    test/bench/monitor_gen.sql makes background traffic of --customers
#    customers (100k) with --per-customer payments on average over --days
#    days and plants instances of every typology, sized from the default
#    rules in finsec.monitor_rule; the payments are inserted in time order,
#    5000 per transaction.  Per typology (and per large-value class, mode
#    and direction): plants found = an alert of that kind whose entity is
#    one of the plant's customers/accounts and whose events (union over its
#    alerts) cover the plant's payments; plants flagged but not covered are
#    shown as "partial".  Alerts on background entities per 10,000
#    background payments.  Then the cost of each rule's evaluator per
#    batch (test/bench/monitor_profile.sql).
# 2. Throughput, pgbench 8 clients -j 2, --secs per run, --rounds rounds,
#    single-row INSERTs into identical tables, in turn:
#      none: not registered (database benchoff, no worker there)
#      off:  registered (stamp trigger), no worker in its database
#      on:   registered in database bench, whose finsec worker runs the
#            monitor every --interval ms
#    TPS ratios off/none and on/none (target >= 0.90); the monitor's rate
#    while busy (payments / sum(finished_at - started_at) of its batches)
#    and wall-clock catch-up after each run; lag at full speed and in one
#    run paced (pgbench -R) at half the monitor's rate, from a payment's insert
#    (posted_at = clock_timestamp()) to the finished_at of the batch that
#    processed it: p50 / p99 / max.
# 3. Memory: a fresh server, the worker's VmRSS / RssAnon (private) /
#    RssShmem (shared buffers it touched) at start and while it processes
#    --mem-payments payments (10M) or as many as --mem-seconds (600) allow.
# Events are kept (finsec.monitor_event_retention = 0): the generated
# history is dated from 2026-09-01 back, whatever the day of the run.
# The cluster runs with fsync off by default (CPU cost, the worst case for
# the ratio and the highest insert rate to keep up with; --fsync on for
# commits that reach the disk) and shared_buffers 2GB.  Exits non-zero when the setup is broken:
# a missing function or kind (unless --allow-missing), a failing rule, a
# payment processed not exactly once, a monitor that does not catch up,
# a worker that restarted.
. "$(dirname "$0")/../../scripts/lib.sh"

cmdline="bash test/bench/monitor.sh $*"
quick=0 secs=60 rounds=2 customers=100000 per_customer=10 days=30 plants=10
mem_payments=10000000 mem_seconds=600 interval=100 phases=recall,throughput,memory allow_missing=0 fsync=off
set_secs='' set_rounds='' set_pc='' set_plants='' set_mp='' set_ms=''
while [ $# -gt 0 ]; do
	case $1 in
		--quick) quick=1 ;;
		--secs) set_secs=$2; shift ;;
		--rounds) set_rounds=$2; shift ;;
		--customers) customers=$2; shift ;;
		--per-customer) set_pc=$2; shift ;;
		--days) days=$2; shift ;;
		--plants) set_plants=$2; shift ;;
		--mem-payments) set_mp=$2; shift ;;
		--mem-seconds) set_ms=$2; shift ;;
		--interval) interval=$2; shift ;;
		--phases) phases=$2; shift ;;
		--allow-missing) allow_missing=1 ;;
		--fsync) fsync=$2; shift ;;
		*) die "unknown argument $1 (see the head of $0)" ;;
	esac
	shift
done
if [ $quick = 1 ]; then
	secs=15 rounds=1 per_customer=2 plants=5 mem_payments=300000 mem_seconds=120
fi
secs=${set_secs:-$secs} rounds=${set_rounds:-$rounds} per_customer=${set_pc:-$per_customer}
plants=${set_plants:-$plants} mem_payments=${set_mp:-$mem_payments} mem_seconds=${set_ms:-$mem_seconds}
port=${FINSEC_BENCH_PORT:-54352}
has_phase() { [[ ",$phases," == *",$1,"* ]]; }

kinds=(large_value structuring rapid_in_out fan_in fan_out cycle scatter_gather dormant_reactivated night_burst)
problems=()
RESULTS=()
problem() { printf 'PROBLEM: %s\n' "$*"; problems+=("$*"); }
now() { date +%s.%N; }

ensure_deps
build_install
make_workdir
trap 'stop_cluster bench; rm -rf "$WORKDIR"' EXIT
start_cluster bench "$port"
cat >>"$WORKDIR/bench/postgresql.conf" <<EOF
finsec.audit_seal_databases = 'bench'
finsec.monitor_interval = '${interval}ms'
shared_buffers = '2GB'
max_wal_size = '8GB'
checkpoint_timeout = '15min'
fsync = $fsync
finsec.monitor_event_retention = 0
EOF
as_pg pg_ctl -D "$WORKDIR/bench" -l "$WORKDIR/bench.log" -w restart >/dev/null
cp "$FINSEC_ROOT"/test/bench/monitor_{gen,recall,profile}.sql "$WORKDIR/"
chown postgres "$WORKDIR"/monitor_{gen,recall,profile}.sql

psql_d() { local db=$1; shift; as_pg psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
for db in recall bench benchoff; do as_pg createdb "$db"; psql_d "$db" -c "CREATE EXTENSION finsec"; done

# ---- the setup is what the benchmark needs -----------------------------
[ "$(psql_d bench -c "SELECT to_regprocedure('finsec.monitor_now()') IS NOT NULL
                        AND EXISTS (SELECT FROM pg_proc WHERE proname = 'enable_monitoring' AND pronamespace = 'finsec'::regnamespace)")" = t ] ||
	die "finsec.enable_monitoring / finsec.monitor_now() are missing: the monitor core is not in this tree"
echo "finsec.monitor_interval = $(psql_d bench -c "SHOW finsec.monitor_interval"), finsec.monitor_batch_rows = $(psql_d bench -c "SHOW finsec.monitor_batch_rows")"
missing=$(psql_d bench -c "SELECT string_agg(k, ' ') FROM unnest(string_to_array('${kinds[*]}', ' ')) k
                            WHERE NOT EXISTS (SELECT FROM finsec.monitor_rule r WHERE r.kind = k AND r.state = 'active')")
if [ -n "$missing" ]; then
	[ $allow_missing = 1 ] || die "no active rule of kind: $missing (--allow-missing measures the others)"
	echo "note: no active rule of kind $missing; their plants are generated and reported as missed"
fi
say "active payment rules"
psql_d bench -c "SELECT format('%-34s %-20s %-9s %-12s %s', r.rule_name, r.kind, r.entity, coalesce(r.time_window::text, '-'), r.params)
                   FROM finsec.monitor_rule r JOIN finsec.monitor_rule_kind k USING (kind)
                  WHERE r.state = 'active' AND k.scope = 'payment' ORDER BY r.kind, r.rule_name"

payments_table() { # db table
	psql_d "$1" <<SQL
CREATE TABLE $2 (
	id bigserial PRIMARY KEY,
	customer text NOT NULL, customer_type text NOT NULL DEFAULT 'natural', account text, counterparty text,
	direction text NOT NULL DEFAULT 'out', cash boolean NOT NULL DEFAULT false, cross_border boolean NOT NULL DEFAULT false,
	currency text NOT NULL DEFAULT 'CNY', amount numeric(18,2) NOT NULL,
	posted_at timestamptz NOT NULL DEFAULT clock_timestamp());
SQL
}
enable() { # db table
	psql_d "$1" -c "SELECT finsec.enable_monitoring('$2', customer => 'customer', amount => 'amount', posted_at => 'posted_at',
		account => 'account', counterparty => 'counterparty', currency => 'currency', direction => 'direction',
		customer_type => 'customer_type', cash => 'cash', cross_border => 'cross_border', reference => 'id')" >/dev/null
}
usd_rate() { # db
	psql_d "$1" -c "INSERT INTO finsec.currency_rate (currency, valid_from, cny_per_unit, source)
	                VALUES ('USD', '2024-01-01', 7.1, 'benchmark') ON CONFLICT DO NOTHING"
}
table_id() { psql_d "$1" -c "SELECT table_id FROM finsec.monitor_table WHERE relid = '$2'::regclass"; }
processed() { psql_d "$1" -c "SELECT coalesce(sum(payments), 0) FROM finsec.monitor_batch WHERE table_id = $2"; }
# rounds of monitor_now() until a round finds nothing; fails on a failing rule
drain() { # db
	local out p f
	while :; do
		out=$(psql_d "$1" -c "SELECT coalesce(sum(payments), 0), coalesce(sum(rules_failed), 0) FROM finsec.monitor_now()")
		p=${out%|*} f=${out#*|}
		[ "$f" = 0 ] || problem "monitor_now() in $1: $f rule evaluations failed"
		[ "$p" != 0 ] || break
	done
}
exactly_once() { # db table label
	local tid; tid=$(table_id "$1" "$2")
	local r; r=$(psql_d "$1" -c "SELECT (SELECT count(*) FROM $2) || ' ' || count(*) || ' ' || count(DISTINCT reference)
	                              FROM finsec.monitor_event WHERE table_id = $tid")
	read -r rows events distinct <<<"$r"
	if [ "$rows" = "$events" ] && [ "$events" = "$distinct" ]; then
		echo "$3: $rows payments, $events events: each processed exactly once"
	else
		problem "$3: $rows payments but $events events ($distinct distinct references): not exactly once"
	fi
}
failing_rules() { # db
	local f; f=$(psql_d "$1" -c "SELECT string_agg(format('%s (%s failures, %s: %s)', rule_name, failures, last_sqlstate, last_error), '; ')
	                              FROM finsec.monitor_rule_status WHERE failures > 0")
	[ -z "$f" ] || problem "failing rules in $1: $f"
}
worker_pid() { psql_d bench -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'finsec worker' AND datname = 'bench'"; }
mem() { # pid -> "VmRSS RssAnon RssShmem VmHWM" in kB
	awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } /^RssShmem:/ { s = $2 } /^VmHWM:/ { h = $2 }
	     END { print r, a, s, h }' "/proc/$1/status"
}
declare -A SUMMARY

# ======================================================================
if has_phase recall; then
	say "recall: generating $customers customers x ~$per_customer payments over $days days, $plants plants per typology"
	usd_rate recall
	payments_table recall pay
	enable recall pay
	t0=$(now)
	psql_d recall -v seed=0.42 -v customers="$customers" -v per_customer="$per_customer" -v days="$days" \
		-v plants="$plants" -f "$WORKDIR/monitor_gen.sql" >/dev/null
	psql_d recall -c "SELECT format('%-20s %-14s %10s  (%s)', kind, knob, value, source) FROM gen_knob ORDER BY kind, knob"
	echo "generated $(psql_d recall -c "SELECT count(*) || ' payments (' || count(*) FILTER (WHERE plant IS NULL) || ' background), '
	                                   || (SELECT count(*) FROM gen_plant) || ' plants' FROM gen_pay") in $(echo "$(now) $t0" | awk '{printf "%.0f", $1 - $2}') s"
	psql_d recall -c "CALL gen_load(5000)"
	t0=$(now)
	drain recall
	t_recall=$(echo "$(now) $t0" | awk '{print $1 - $2}')
	n_recall=$(psql_d recall -c "SELECT count(*) FROM pay")
	printf 'monitor_now() rounds processed %s payments in %.1f s: %.0f payments/s\n' "$n_recall" "$t_recall" \
		"$(echo "$n_recall $t_recall" | awk '{print $1 / $2}')"
	exactly_once recall pay "recall"
	failing_rules recall
	tid=$(table_id recall pay)

	say "recall"
	psql_d recall -v tid="$tid" -f "$WORKDIR/monitor_recall.sql" | tee "$WORKDIR/recall.txt"
	psql_d recall -v tid="$tid" -f "$WORKDIR/monitor_profile.sql"
	while read -r kind variant found _ planted _; do
		[ "$variant" = all ] || continue
		SUMMARY[recall,$kind]="$found/$planted"
		RESULTS+=("RESULT|monitor|recall $kind, plants found|$(awk -v f="$found" -v p="$planted" 'BEGIN { printf "%.3g", p ? f / p : 0 }')|-|-|fraction")
		[ "$found" = "$planted" ] || echo "note: $kind found $found of $planted plants"
	done < <(sed -n '/^==== recall/,/^==== alerts/p' "$WORKDIR/recall.txt")
	while read -r kind n _ _ _ _ _ per _; do
		SUMMARY[bg,$kind]="$n alerts, $per per 10,000 background payments"
	done < <(grep ' alerts on background entities = ' "$WORKDIR/recall.txt")
fi

# ======================================================================
if has_phase throughput || has_phase memory; then
	say "throughput setup: tables pay_none, pay_off (database benchoff, no worker), pay_on (database bench, worker)"
	payments_table benchoff pay_none
	payments_table benchoff pay_off
	payments_table bench pay_on
	usd_rate benchoff; usd_rate bench
	enable benchoff pay_off
	enable bench pay_on
	tid_on=$(table_id bench pay_on)
	# every customer has paid once before (10,000 per transaction)
	for t in benchoff:pay_none benchoff:pay_off bench:pay_on; do
		for i in $(seq 0 9); do
			psql_d "${t%%:*}" -c "INSERT INTO ${t#*:} (customer, account, counterparty, amount)
			                      SELECT 'c' || c, 'Ac' || c, 'X' || c, 100 FROM generate_series($((i * 10000 + 1)), $((i * 10000 + 10000))) c"
		done
	done
	# the worker picks up pay_on by itself
	wait_caught_up() { # seconds -> 0 when caught up, 1 when not in time, 2 on an error
		local deadline=$(( $(date +%s) + $1 )) want p
		want=$(psql_d bench -c "SELECT last_value FROM pay_on_id_seq") || return 2
		while :; do
			p=$(processed bench "$tid_on") || return 2
			[ "$p" -lt "$want" ] || return 0
			[ "$(date +%s)" -lt "$deadline" ] || return 1
			sleep 0.2
		done
	}
	wait_caught_up 300 || die "the worker did not process the 100k initial payments of pay_on in 300 s (is the monitor task running? $(psql_d bench -c "SELECT string_agg(task || ' runs ' || runs || ' failures ' || failures || coalesce(' ' || last_error, ''), '; ') FROM finsec.worker_tasks() WHERE task LIKE 'monitor%'"))"
	psql_d benchoff -c "VACUUM ANALYZE"; psql_d bench -c "VACUUM ANALYZE"
fi

if has_phase throughput; then
	for t in none off on; do
		cat >"$WORKDIR/pay_$t.sql" <<EOF
\set c random(1, 100000)
\set k random(1, 200000)
\set a random(100, 500000)
INSERT INTO pay_$t (customer, account, counterparty, direction, cash, amount) VALUES ('c' || :c, 'Ac' || :c, 'X' || :k, CASE WHEN :a % 5 < 2 THEN 'in' ELSE 'out' END, :a % 13 = 0, :a / 100.0);
EOF
	done
	chown postgres "$WORKDIR"/pay_*.sql
	tps() { # db table [pgbench options]
		local db=$1 t=$2 out; shift 2
		out=$(as_pg pgbench -n -M prepared -c 8 -j 2 -T "$secs" "$@" -f "$WORKDIR/pay_$t.sql" "$db" 2>&1) ||
			die "pgbench on $t failed: $out"
		out=$(echo "$out" | awk '/^tps/ { print $3; exit }')
		[ -n "$out" ] || die "pgbench on $t printed no tps"
		echo "$out"
	}
	say "throughput: pgbench 8 clients, ${secs} s per run, $rounds rounds; monitor interval ${interval} ms"
	declare -a T_none T_off T_on RATE CATCH
	psql_d bench -c "CREATE TABLE bench_run (t_start timestamptz, t_end timestamptz, paced boolean)"
	for round in $(seq 1 "$rounds"); do
		T_none+=("$(tps benchoff none)")
		T_off+=("$(tps benchoff off)")
		t_start=$(psql_d bench -c "SELECT clock_timestamp()")
		before=$(processed bench "$tid_on")
		T_on+=("$(tps bench on)")
		t_end=$(psql_d bench -c "SELECT clock_timestamp()")
		t0=$(now)
		wait_caught_up $((secs * 10 + 60)) || { problem "round $round: the monitor had not caught up $((secs * 10 + 60)) s after the inserts ended"; }
		CATCH+=("$(echo "$(now) $t0" | awk '{printf "%.1f", $1 - $2}')")
		RATE+=("$(psql_d bench -c "SELECT coalesce(round(sum(payments) / nullif(extract(epoch FROM sum(finished_at - started_at)), 0)), 0)
		                           FROM finsec.monitor_batch WHERE table_id = $tid_on AND started_at >= '$t_start' AND payments > 0")")
		[ "${RATE[-1]}" != 0 ] || problem "round $round: no batch of the worker processed pay_on"
		echo "round $round: none ${T_none[-1]} tps, off ${T_off[-1]} tps, on ${T_on[-1]} tps;" \
			"monitor $(( $(processed bench "$tid_on") - before )) payments, ${RATE[-1]} payments/s while busy, caught up ${CATCH[-1]} s after the inserts"
		psql_d bench -c "INSERT INTO bench_run VALUES ('$t_start', '$t_end', false)"
	done
	mean() { echo "$*" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; print s / NF }'; }
	rate=$(mean "${RATE[@]}")
	# the lag at an insert rate the monitor sustains: half its rate while busy
	paced=$(awk -v r="$rate" 'BEGIN { r = int(r / 2); print (r < 50) ? 50 : r }')
	t_start=$(psql_d bench -c "SELECT clock_timestamp()")
	T_paced=$(tps bench on -R "$paced")
	t_end=$(psql_d bench -c "SELECT clock_timestamp()")
	wait_caught_up $((secs * 10 + 60)) || problem "paced run: the monitor had not caught up $((secs * 10 + 60)) s after the inserts ended"
	psql_d bench -c "INSERT INTO bench_run VALUES ('$t_start', '$t_end', true)"
	echo "paced run: pgbench -R $paced (half the monitor's rate): $T_paced tps"
	lag_sql() { # paced
		echo "
		SELECT format('%s s / %s s / %s s', round(percentile_disc(0.5) WITHIN GROUP (ORDER BY lag)::numeric, 3),
					  round(percentile_disc(0.99) WITHIN GROUP (ORDER BY lag)::numeric, 3), round(max(lag)::numeric, 3)) || '|' || count(*)
		  FROM (SELECT extract(epoch FROM b.finished_at - e.at) AS lag
				  FROM finsec.monitor_event e JOIN finsec.monitor_batch b USING (batch_id)
				 WHERE e.table_id = $tid_on
				   AND EXISTS (SELECT FROM bench_run r WHERE r.paced = $1 AND e.at BETWEEN r.t_start AND r.t_end)) s"
	}
	lag_paced=$(psql_d bench -c "$(lag_sql true)")
	lag=$(psql_d bench -c "$(lag_sql false)")
	exactly_once bench pay_on "pay_on after the runs"
	failing_rules bench
	mn=$(mean "${T_none[@]}") mo=$(mean "${T_off[@]}") mon=$(mean "${T_on[@]}")
	RESULTS+=("$(awk -v n="$mn" -v o="$mo" -v w="$mon" -v r="$rate" 'BEGIN {
		printf "RESULT|monitor|insert TPS registered, no worker/none|%.3g|>=|0.90|ratio\n", o / n;
		printf "RESULT|monitor|insert TPS monitor on/none|%.3g|>=|0.90|ratio\n", w / n;
		printf "RESULT|monitor|monitor rate/insert rate with it on|%.3g|>=|1|ratio", r / w }')")
	SUMMARY[tps]=$(awk -v n="$mn" -v o="$mo" -v w="$mon" 'BEGIN { printf "none %.0f, off %.0f, on %.0f tps; off/none %.3f, on/none %.3f (target >= 0.90: %s)",
		n, o, w, o / n, w / n, (w / n >= 0.90) ? "met" : "NOT met" }')
	SUMMARY[rate]=$(awk -v r="$rate" -v w="$mon" -v c="${CATCH[*]}" 'BEGIN { printf "%.0f payments/s while busy = %.2f x the insert rate with the monitor on (%s); catch-up after the inserts: %s s",
		r, r / w, (r >= w) ? "keeps up" : "does NOT keep up", c }')
	SUMMARY[lag]="p50 / p99 / max at full insert speed = ${lag%|*} over ${lag#*|} payments; at $paced payments/s (pgbench -R, $T_paced tps) = ${lag_paced%|*} over ${lag_paced#*|} payments"
fi

# ======================================================================
if has_phase memory; then
	say "memory: fresh server, worker RSS while it processes up to $mem_payments payments (at most ${mem_seconds} s)"
	psql_d bench <<'SQL'
CREATE PROCEDURE mem_insert(n bigint, chunk integer) LANGUAGE plpgsql AS $$
DECLARE done bigint := 0;
BEGIN
	WHILE done < n LOOP
		INSERT INTO pay_on (customer, account, counterparty, direction, cash, amount)
		SELECT 'c' || c, 'Ac' || c, 'X' || (random() * 200000)::int, CASE WHEN random() < 0.4 THEN 'in' ELSE 'out' END,
			   random() < 0.08, round((exp(ln(300) + 1.5 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))::numeric, 2) + 0.01
		  FROM (SELECT 1 + (random() * 99999)::int AS c FROM generate_series(1, least(chunk, n - done))) s;
		COMMIT;
		done := done + chunk;
	END LOOP;
END $$;
SQL
	as_pg pg_ctl -D "$WORKDIR/bench" -l "$WORKDIR/bench.log" -w restart >/dev/null
	for i in $(seq 1 100); do pid=$(worker_pid); [ -n "$pid" ] && break; sleep 0.1; done
	[ -n "$pid" ] || die "no finsec worker in database bench after the restart"
	sleep 2
	read -r rss0 anon0 shm0 hwm0 < <(mem "$pid")
	echo "worker pid $pid at start: VmRSS $rss0 kB, RssAnon $anon0 kB, RssShmem $shm0 kB"
	p0=$(processed bench "$tid_on")
	inserted=0 t0=$(date +%s) last_report=$(date +%s) max_anon=$anon0 max_rss=$rss0
	while :; do
		p=$(processed bench "$tid_on")
		done_n=$(( p - p0 ))
		el=$(( $(date +%s) - t0 ))
		[ "$done_n" -lt "$mem_payments" ] || break
		[ "$el" -lt "$mem_seconds" ] || break
		if [ $inserted -lt "$mem_payments" ] && [ $((inserted - done_n)) -lt 200000 ]; then
			n=$(( mem_payments - inserted < 100000 ? mem_payments - inserted : 100000 ))
			psql_d bench -c "CALL mem_insert($n, 10000)"
			inserted=$((inserted + n))
		else
			sleep 1
		fi
		[ "$(worker_pid)" = "$pid" ] || die "the finsec worker restarted during the memory run (pid $pid -> $(worker_pid)); see $WORKDIR/bench.log"
		read -r rss anon shm hwm < <(mem "$pid")
		[ "$anon" -le "$max_anon" ] || max_anon=$anon
		[ "$rss" -le "$max_rss" ] || max_rss=$rss
		if [ $(( $(date +%s) - last_report )) -ge 30 ]; then
			echo "  ${el} s: $done_n payments processed, VmRSS $rss kB, RssAnon $anon kB, RssShmem $shm kB"
			last_report=$(date +%s)
		fi
	done
	# what was inserted is processed before the figures are read
	want=$(psql_d bench -c "SELECT last_value FROM pay_on_id_seq") deadline=$(( $(date +%s) + 600 ))
	while p=$(processed bench "$tid_on") && [ "$p" -lt "$want" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 1; done
	p=$(processed bench "$tid_on")
	[ "$p" -ge "$want" ] || problem "memory: the worker had not processed all $want payments of pay_on 600 s after the inserts ended"
	done_n=$(( p - p0 )) el=$(( $(date +%s) - t0 ))
	[ "$(worker_pid)" = "$pid" ] || die "the finsec worker restarted during the memory run"
	read -r rss anon shm hwm < <(mem "$pid")
	[ "$anon" -le "$max_anon" ] || max_anon=$anon
	echo "after $done_n payments in $el s: VmRSS $rss kB, RssAnon $anon kB, RssShmem $shm kB, VmHWM $hwm kB"
	exactly_once bench pay_on "pay_on after the memory run"
	failing_rules bench
	[ "$done_n" -ge "$mem_payments" ] || echo "note: $done_n of $mem_payments payments in the time allowed"
	RESULTS+=("RESULT|monitor|worker RssAnon max, $done_n payments|$max_anon|-|-|kB")
	SUMMARY[mem]=$(printf 'worker after %s payments (%s s): VmRSS %s kB -> %s kB (max %s), RssAnon %s kB -> %s kB (max %s), RssShmem %s kB' \
		"$done_n" "$el" "$rss0" "$rss" "$max_rss" "$anon0" "$anon" "$max_anon" "$shm")
fi

# ======================================================================
say "summary"
echo "command: $cmdline (customers $customers, per-customer $per_customer, days $days, plants $plants, secs $secs, rounds $rounds, interval $interval ms, fsync $fsync, mem-payments $mem_payments, mem-seconds $mem_seconds)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), PostgreSQL $(psql_d bench -c "SHOW server_version"), fsync $(psql_d bench -c "SHOW fsync")"
for k in "${kinds[@]}"; do
	[ -z "${SUMMARY[recall,$k]:-}" ] || printf 'recall %-20s found %-9s background: %s\n' "$k" "${SUMMARY[recall,$k]}" "${SUMMARY[bg,$k]:-no rule}"
done
[ -z "${SUMMARY[tps]:-}" ] || echo "insert TPS: ${SUMMARY[tps]}"
[ -z "${SUMMARY[rate]:-}" ] || echo "monitor: ${SUMMARY[rate]}"
[ -z "${SUMMARY[lag]:-}" ] || echo "lag: ${SUMMARY[lag]}"
[ -z "${SUMMARY[mem]:-}" ] || echo "memory: ${SUMMARY[mem]}"
[ ${#RESULTS[@]} -eq 0 ] || printf '%s\n' "${RESULTS[@]}"
if [ ${#problems[@]} -gt 0 ]; then
	printf 'FAILED: %s\n' "${problems[@]}"
	exit 1
fi
