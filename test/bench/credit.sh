#!/usr/bin/env bash
# Benchmark of credit data (docs/credit.md, "Performance"), as root:
#   bash test/bench/credit.sh [records]
#
# Every figure is a ratio of two measurements of the same run, on the same
# cluster, so that a busy machine moves both sides alike.
# 1. De-identification of N (default 1,000,000) expired records of one
#    period (one batch: read and open as the owner, generalise, prove,
#    archive, destroy the period's keys; finsec.deidentify_now, the code the
#    worker runs) while pgbench inserts new records into the same table
#    (4 clients; the table is append-only, so OLTP on it is inserts).
#    Records per second of the batch, and the insert TPS while the batch
#    runs (pgbench -P 1, the seconds the batch spans) against the TPS of
#    the same pgbench with no batch; target: with / without >= 0.90.
# 2. finsec.credit_query of one subject (the query log row, the ledger
#    event, the probes of every live period) against a plain indexed
#    SELECT of the same rows from a plain-text copy of the table, the same
#    subjects: pgbench -M prepared, 1 client, per-transaction log; p50 and
#    p99 latency of each and their ratio; target: p50 ratio <= 1.5.
#    Skipped (saying so) when finsec.credit_query is not built.
. "$(dirname "$0")/../../scripts/lib.sh"

n=${1:-1000000}
port=${FINSEC_BENCH_PORT:-54353}
secs=${FINSEC_BENCH_SECONDS:-10}
clients=${FINSEC_BENCH_CLIENTS:-4}

ensure_deps
build_install
make_workdir
trap 'stop_cluster bench; rm -rf "$WORKDIR"' EXIT
start_cluster bench "$port"
cat >>"$WORKDIR/bench/postgresql.conf" <<CONF
max_wal_size = '8GB'
checkpoint_timeout = '30min'
shared_buffers = '1GB'
work_mem = '256MB'
finsec.reveal_budget = 0
CONF
as_pg pg_ctl -D "$WORKDIR/bench" -l "$WORKDIR/bench.log" -w restart >/dev/null
as_pg createdb bench

psql_b() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -d bench "$@"; }
has_fn() { [ "$(psql_b -c "SELECT count(*) FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace WHERE s.nspname = 'finsec' AND p.proname = '$1'")" != 0 ]; }

psql_b >/dev/null <<'SQL'
CREATE EXTENSION finsec;
CREATE ROLE bench_alice LOGIN IN ROLE finsec_admin;
CREATE ROLE bench_bob LOGIN IN ROLE finsec_admin;
CREATE ROLE bench_owner LOGIN IN ROLE finsec_app;
CREATE ROLE bench_reg LOGIN IN ROLE finsec_admin, bench_owner;
CREATE ROLE bench_app LOGIN IN ROLE finsec_app;
GRANT CREATE ON SCHEMA public TO bench_owner;
SET SESSION AUTHORIZATION bench_alice;
SELECT finsec.key_generate('credit.enc', 'encryption', 'aes-256-gcm') IS NOT NULL;
SELECT finsec.key_generate('credit.fp', 'fingerprint', 'hmac-sha256') IS NOT NULL;
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') IS NOT NULL;
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256') IS NOT NULL;
SELECT finsec.key_generate('credit.pseudonym', 'pseudonym', 'hmac-sha256') IS NOT NULL;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION bench_bob;
SELECT count(finsec.approve(request_id)) FROM finsec.change_request WHERE state = 'pending';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION bench_alice;
SELECT finsec.protect_policy_create('credit_p', enc_key => 'credit.enc', fp_key => 'credit.fp',
									mask => 'name', period_unit => 'month', fp_scope => 'period');
SELECT finsec.protect_period_keys('credit_p', (date_trunc('month', current_date) - interval '2 months')::date,
								  current_date, 'bench');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION bench_bob;
SELECT count(finsec.approve(request_id)) FROM finsec.change_request
 WHERE state = 'pending' AND kind = 'protect.period_keys';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION bench_owner;
CREATE TABLE loan (
	id			bigint PRIMARY KEY,
	subject		finsec.protected_text(credit_p) NOT NULL,
	name		finsec.protected_text(credit_p),
	birth_date	finsec.protected_text(credit_p),
	region		finsec.protected_text(credit_p),
	status		finsec.protected_text(credit_p),
	amount		numeric,
	closed_on	date NOT NULL);
CREATE INDEX loan_subject ON loan (subject);
CREATE SEQUENCE loan_new_id START 100000000;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION bench_reg;
SELECT finsec.register_credit_table('loan', key => 'id', subject => 'subject', behaviour_end => 'closed_on',
	policy => 'credit_p', identifiers => '{name}',
	quasi_identifiers => '{"birth_date": ["year", "years:5", "decade"], "region": ["prefix:4", "prefix:2"]}',
	sensitive => '{status}', k => 5, l => 2);
RESET SESSION AUTHORIZATION;
SQL

# The records: subjects of 1 to 3 records, birth dates 1950-1999, regions
# of 40 cities of 8 provinces, 4 statuses; behaviour ended two months ago
# (period A; made due below), spread over its days.
say "generating $n records of period A"
rows=$WORKDIR/records.txt
a_first=$(psql_b -c "SELECT (date_trunc('month', current_date) - interval '2 months')::date")
awk -v n="$n" -v a="$a_first" 'BEGIN {
	srand(20261202);
	split("11 31 44 51 32 33 42 37", P, " ");
	split("overdue default written_off settled", S, " ");
	split("张 王 李 赵 刘 陈 杨 黄 周 吴", F, " ");
	split("伟 芳 娜 敏 静 丽 强 磊 军 洋", G, " ");
	split(a, D, "-");
	for (i = 1; i <= n; i++) {
		subj = sprintf("S-%08d", int((i + 2) / 3 * 1.0) + int(rand() * 2));
		y = 1950 + int(rand() * 50); m = 1 + int(rand() * 12); d = 1 + int(rand() * 28);
		region = P[1 + int(rand() * 8)] sprintf("%02d", 1 + int(rand() * 5)) sprintf("%02d", 1 + int(rand() * 20));
		printf "%d\t%s\t%s%s%s\t%04d-%02d-%02d\t%s\t%s\t%d\t%s-%s-%02d\n", i, subj, F[1 + int(rand() * 10)],
			G[1 + int(rand() * 10)], G[1 + int(rand() * 10)], y, m, d, region, S[1 + int(rand() * 4)],
			100 * (1 + int(rand() * 500)), D[1], D[2], 1 + int(rand() * 28);
	}
}' >"$rows"
chown postgres "$rows"
now() { date +%s.%N; }
t0=$(now)
as_pg psql -X -q -v ON_ERROR_STOP=1 -d bench -U bench_owner -c "\\copy loan (id, subject, name, birth_date, region, status, amount, closed_on) FROM '$rows'"
say "loaded $(psql_b -c 'SELECT count(*) FROM loan') records in $(echo "$(now) $t0" | awk '{printf "%.1f", $1 - $2}') s"
psql_b -c 'VACUUM ANALYZE loan' -c CHECKPOINT

# A plain-text copy of the same records, for query latency: opened by a
# member of finsec_unmask would cost reveals; the records are the file's.
psql_b <<SQL
CREATE TABLE loan_plain (id bigint PRIMARY KEY, subject text NOT NULL, name text, birth_date text, region text,
						 status text, amount numeric, closed_on date NOT NULL);
COPY loan_plain FROM '$rows';
CREATE INDEX loan_plain_subject ON loan_plain (subject);
VACUUM ANALYZE loan_plain;
CREATE TABLE probe AS SELECT row_number() OVER () AS id, subject
  FROM (SELECT DISTINCT subject FROM loan_plain ORDER BY 1 LIMIT 10000) s;
ALTER TABLE probe ADD PRIMARY KEY (id);
GRANT SELECT ON probe, loan_plain TO bench_app;
GRANT USAGE, SELECT ON SEQUENCE loan_new_id TO bench_owner;
SQL

# OLTP: new records of this month (period C), one a transaction.
cat >"$WORKDIR/insert.sql" <<'SQL'
\set r random(1, 1000000)
INSERT INTO loan (id, subject, name, birth_date, region, status, amount, closed_on) VALUES (nextval('loan_new_id'), ('N-' || :r)::finsec.protected_text(credit_p), '新客户', '1990-01-01', '110101', 'overdue', :r, current_date);
SQL
chown postgres "$WORKDIR"/*.sql
oltp() { # seconds progress-file -> mean tps (pgbench -P 1 lines in the file)
	as_pg pgbench -n -c "$clients" -j "$clients" -T "$1" -P 1 -U bench_owner -f "$WORKDIR/insert.sql" bench \
		>/dev/null 2>"$2" || { tail -5 "$2" >&2; die "pgbench failed"; }
}

say "1. de-identification of $n expired records while pgbench inserts ($clients clients)"
# "Today" moved so that period A is due and B, C are not.
ahead=$(psql_b -c "SELECT ((date_trunc('month', current_date) - interval '1 month')::date - 1 + interval '5 years')::date + 1 - finsec._deid_today()")
[ "$(psql_b -c "SET finsec.deid_test_days_ahead = $ahead" -c "SELECT count(*) FROM finsec.deid_due")" -ge 1 ] \
	|| die "period A is not due"
oltp "$secs" "$WORKDIR/base1.log"
base=$(awk '/^progress/ { s += $4; k++ } END { printf "%.1f", s / k }' "$WORKDIR/base1.log")
# The batch starts 2 s into a pgbench run long enough to outlast it.
long=$((secs * 30))
# In a session of its own, so that the whole run is stopped by its id.
setsid runuser -u postgres -- env PATH="$PATH" pgbench -n -c "$clients" -j "$clients" -T "$long" -P 1 -U bench_owner \
	-f "$WORKDIR/insert.sql" bench >/dev/null 2>"$WORKDIR/during.log" &
oltp_pid=$!
sleep 2
b0=$(now)
batch=$(psql_b -c "SET finsec.deid_test_days_ahead = $ahead" -c "SET SESSION AUTHORIZATION bench_alice" \
	-c "SELECT string_agg(b::text, ',') FROM finsec.deidentify_now('loan') b")
b1=$(now)
kill -INT -- "-$oltp_pid" 2>/dev/null; wait "$oltp_pid" 2>/dev/null
[ -n "$batch" ] || die "no batch was made"
psql_b -c "SELECT id, state, records, published, suppressed, proof -> 'levels' FROM finsec.deid_batch ORDER BY id"
recs=$(psql_b -c "SELECT records FROM finsec.deid_batch WHERE id IN ($batch) AND state = 'published'")
[ -n "$recs" ] || die "the batch was refused: $(psql_b -c "SELECT proof FROM finsec.deid_batch WHERE id IN ($batch)")"
[ "$(psql_b -c 'SELECT count(*) FROM finsec.protect_shredded')" = 1 ] || die "the period was not shredded"
# The progress lines of the seconds the batch spans (2 s after the start of the run).
dur=$(echo "$b1 $b0" | awk '{print $1 - $2}')
during=$(awk -v d="$dur" '/^progress/ { t = $2 + 0; if (t > 2 && t <= 2 + d) { s += $4; k++ } } END { if (k) printf "%.1f", s / k; else print "0" }' "$WORKDIR/during.log")
oltp "$secs" "$WORKDIR/base2.log"
base2=$(awk '/^progress/ { s += $4; k++ } END { printf "%.1f", s / k }' "$WORKDIR/base2.log")
awk -v n="$recs" -v d="$dur" -v b="$base" -v b2="$base2" -v w="$during" 'BEGIN {
	bb = (b + b2) / 2;
	printf "batch:                   %d records in %.1f s: %.0f records/s\n", n, d, n / d;
	printf "insert TPS without batch:%8.1f (before %.1f, after %.1f)\n", bb, b, b2;
	printf "insert TPS during batch: %8.1f\n", w;
	printf "with/without TPS ratio = %.2f (target >= 0.90: %s)\n", w / bb, (w / bb >= 0.90) ? "met" : "NOT MET";
	printf "RESULT|credit|de-identification batch|%.0f|-|-|records/s\n", n / d;
	printf "RESULT|credit|insert TPS during/without batch|%.3g|>=|0.90|ratio\n", w / bb }'

say "2. credit_query of one subject vs a plain indexed SELECT of the same rows (pgbench -M prepared, 1 client, ${secs} s)"
if ! has_fn credit_query; then
	say "finsec.credit_query is not built in this tree: skipped"
	exit 0
fi
psql_b >/dev/null <<'SQL'
INSERT INTO finsec.credit_institution (code, name, kind, status) VALUES ('B1000001', 'Bench Bank', 'provider_user', 'active');
SELECT finsec.credit_user_set('bench_app', 'B1000001', '{query}');
SELECT 'ALTER SYSTEM SET finsec.credit_query_max_subjects = 10000000' FROM pg_settings WHERE name = 'finsec.credit_query_max_subjects' \gexec
SELECT pg_reload_conf();
SQL
# Records of this month's new subjects too, so that every live period is probed.
cat >"$WORKDIR/query.sql" <<'SQL'
\set id random(1, 10000)
SELECT count(*) FROM finsec.credit_query('loan', (SELECT subject FROM probe WHERE id = :id), 'loan_approval');
SQL
cat >"$WORKDIR/plain.sql" <<'SQL'
\set id random(1, 10000)
SELECT count(*) FROM (SELECT * FROM loan_plain WHERE subject = (SELECT subject FROM probe WHERE id = :id)) s;
SQL
chown postgres "$WORKDIR"/*.sql
# The probes are of period A, shredded by part 1: query the live periods' subjects instead.
psql_b <<SQL
TRUNCATE probe;
INSERT INTO probe SELECT row_number() OVER (), 'N-' || g FROM generate_series(1, 10000) g;
INSERT INTO loan_plain SELECT 200000000 + g, 'N-' || g, '新客户', '1990-01-01', '110101', 'overdue', g, current_date
  FROM generate_series(1, 10000) g;
ANALYZE loan_plain;
SQL
as_pg psql -X -q -v ON_ERROR_STOP=1 -d bench -U bench_owner \
	-c "INSERT INTO loan (id, subject, name, birth_date, region, status, amount, closed_on) SELECT nextval('loan_new_id'), ('N-' || g)::finsec.protected_text(credit_p), '新客户', '1990-01-01', '110101', 'overdue', g, current_date FROM generate_series(1, 10000) g"
lat() { # script -> "p50 p99" in ms (per-transaction log)
	rm -f "$WORKDIR"/lat.*
	(cd "$WORKDIR" && as_pg pgbench -n -c 1 -T "$secs" -M prepared -U bench_app -l --log-prefix=lat -f "$1" bench >/dev/null 2>&1)
	cat "$WORKDIR"/lat.* | awk '{ print $3 / 1000 }' | sort -n | awk '{ v[NR] = $1 } END {
		printf "%.3f %.3f %d\n", v[int(NR * 0.50) + 1], v[int(NR * 0.99) + 1], NR }'
}
read -r p50_plain p99_plain n_plain <<<"$(lat "$WORKDIR/plain.sql")"
read -r p50_q p99_q n_q <<<"$(lat "$WORKDIR/query.sql")"
awk -v a="$p50_plain" -v b="$p99_plain" -v c="$p50_q" -v d="$p99_q" -v na="$n_plain" -v nq="$n_q" 'BEGIN {
	printf "plain indexed SELECT:    p50 %.3f ms, p99 %.3f ms (%d statements)\n", a, b, na;
	printf "credit_query:            p50 %.3f ms, p99 %.3f ms (%d calls)\n", c, d, nq;
	printf "credit_query/plain p50 ratio = %.2f, p99 ratio = %.2f (target <= 1.5: %s)\n", c / a, d / b, (c / a <= 1.5) ? "met" : "NOT MET";
	printf "RESULT|credit|credit_query/plain p50 latency|%.3g|<=|1.5|ratio\n", c / a;
	printf "RESULT|credit|credit_query/plain p99 latency|%.3g|-|-|ratio\n", d / b }'
