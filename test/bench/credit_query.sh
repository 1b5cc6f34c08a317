#!/usr/bin/env bash
# Latency of finsec.credit_query (docs/credit.md), as root:
#   bash test/bench/credit_query.sh [subjects] [calls]
#
# A registered credit table of 2 records per subject (default 10,000
# subjects) in 2 of the 12 live months (period keys for the current month
# and the 11 before it: each query probes 12 periods), against a plain
# table of the same rows (name text, btree index).  pgbench -M prepared,
# 1 client, [calls] (default 10,000) transactions each, twice, alternating:
#   credit_query(tbl, 'S<i>', 'loan_approval') as a credit user (all its
#     checks, 12 probes sealed, the read as the owner, masking, the log row,
#     the durable ledger row, the abnormal-querying count),
#   SELECT * FROM plain WHERE name = 'S<i>' AND closed_on + 5 years >= today.
# Mean latency, p50 and p99 of each and their ratio (target <= 1.5).
. "$(dirname "$0")/../../scripts/lib.sh"

n=${1:-10000}
calls=${2:-10000}
port=${FINSEC_BENCH_PORT:-54362}

ensure_deps
build_install
make_workdir
trap 'stop_cluster bench; rm -rf "$WORKDIR"' EXIT
start_cluster bench "$port"
as_pg createdb bench

psql_b() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -d bench "$@"; }
psql_b >/dev/null <<SQL
CREATE EXTENSION finsec;
CREATE ROLE bench_a LOGIN IN ROLE finsec_admin;
CREATE ROLE bench_b LOGIN IN ROLE finsec_admin;
CREATE ROLE bench_u LOGIN IN ROLE finsec_app;
ALTER ROLE bench_u SET finsec.credit_query_max_subjects = 10000000;
SET SESSION AUTHORIZATION bench_a;
SELECT finsec.key_generate('credit.enc', 'encryption', 'aes-256-gcm');
SELECT finsec.key_generate('credit.fp', 'fingerprint', 'hmac-sha256');
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm');
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256');
SELECT finsec.key_generate('credit.pseudonym', 'pseudonym', 'hmac-sha256');
SET SESSION AUTHORIZATION bench_b;
SELECT count(finsec.approve(request_id)) FROM finsec.change_request WHERE state = 'pending';
SET SESSION AUTHORIZATION bench_a;
SELECT finsec.protect_policy_create('credit_p', enc_key => 'credit.enc', fp_key => 'credit.fp',
									mask => 'name', period_unit => 'month', fp_scope => 'period');
SELECT finsec.protect_period_keys('credit_p', (date_trunc('month', current_date) - interval '11 months')::date, current_date);
SET SESSION AUTHORIZATION bench_b;
SELECT count(finsec.approve(request_id)) FROM finsec.change_request WHERE state = 'pending' AND kind = 'protect.period_keys';
RESET SESSION AUTHORIZATION;
INSERT INTO finsec.credit_institution (code, name, kind, status) VALUES ('BENCH001', 'Bench bank', 'provider_user', 'active');
CREATE TABLE loan (id bigint PRIMARY KEY, name finsec.protected_text(credit_p) NOT NULL,
				   amount numeric, closed_on date NOT NULL);
CREATE INDEX loan_name ON loan (name);
SELECT finsec.register_credit_table('loan', key => 'id', subject => 'name', behaviour_end => 'closed_on',
									policy => 'credit_p');
SELECT finsec.credit_user_set('bench_u', 'BENCH001', '{query}');
CREATE TABLE plain (id bigint PRIMARY KEY, name text NOT NULL, amount numeric, closed_on date NOT NULL);
CREATE INDEX plain_name ON plain (name);
GRANT SELECT ON plain TO bench_u;
SQL
say "loading $n subjects, 2 records each"
psql_b >/dev/null <<SQL
INSERT INTO loan SELECT 2 * i + r, ('S' || i)::finsec.protected_text(credit_p), i % 1000,
	   (date_trunc('month', current_date) - ((i + r * 5) % 12) * interval '1 month')::date
  FROM generate_series(1, $n) i, generate_series(0, 1) r;
INSERT INTO plain SELECT 2 * i + r, 'S' || i, i % 1000,
	   (date_trunc('month', current_date) - ((i + r * 5) % 12) * interval '1 month')::date
  FROM generate_series(1, $n) i, generate_series(0, 1) r;
VACUUM ANALYZE loan;
VACUUM ANALYZE plain;
SQL
cat >"$WORKDIR/cq.sql" <<SQL
\set i random(1, $n)
SELECT count(*) FROM finsec.credit_query('loan', 'S' || :i, 'loan_approval');
SQL
cat >"$WORKDIR/plain.sql" <<SQL
\set i random(1, $n)
SELECT count(*) FROM (SELECT * FROM plain WHERE name = 'S' || :i AND closed_on + interval '5 years' >= current_date) x;
SQL
chown postgres "$WORKDIR"/*.sql
[ "$(as_pg psql -X -At -U bench_u -d bench -c "SELECT count(*) FROM finsec.credit_query('loan', 'S7', 'loan_approval')")" = 2 ] \
	|| die "credit_query did not find the subject's 2 records"
bench() { # script tag -> "mean p50 p99" (ms)
	rm -f "$WORKDIR"/log_"$2"*
	(cd "$WORKDIR" && as_pg pgbench -n -c 1 -t "$calls" -M prepared -U bench_u -l --log-prefix="log_$2" -f "$1" bench >/dev/null 2>&1)
	cat "$WORKDIR"/log_"$2"* | awk '{ print $3 / 1000 }' | sort -n \
		| awk '{ v[NR] = $1; s += $1 } END { printf "%.3f %.3f %.3f\n", s / NR, v[int(NR * 0.5)], v[int(NR * 0.99)] }'
}
chmod 777 "$WORKDIR"
all=""
for round in 1 2; do
	p=$(bench "$WORKDIR/plain.sql" plain$round); say "plain indexed SELECT  round $round: mean/p50/p99 ms $p"
	q=$(bench "$WORKDIR/cq.sql" cq$round); say "credit_query          round $round: mean/p50/p99 ms $q"
	echo "$p $q" | awk '{ printf "  ratio mean %.2f, p50 %.2f, p99 %.2f\n", $4 / $1, $5 / $2, $6 / $3 }'
	all="$all $p $q"
done
# the figures: the ratios of the sums over both rounds
echo "$all" | awk '{ for (i = 0; i < NF; i += 6) { for (j = 1; j <= 6; j++) s[j] += $(i + j) } }
	END { printf "RESULT|credit_query|credit_query/plain mean latency|%.3g|<=|1.5|ratio\n", s[4] / s[1];
		  printf "RESULT|credit_query|credit_query/plain p50 latency|%.3g|-|-|ratio\n", s[5] / s[2];
		  printf "RESULT|credit_query|credit_query/plain p99 latency|%.3g|-|-|ratio\n", s[6] / s[3];
		  printf "RESULT|credit_query|credit_query mean latency|%.3g|-|-|ms\n", s[4] / 2 }'
