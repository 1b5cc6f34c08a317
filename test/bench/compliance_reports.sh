#!/usr/bin/env bash
# Benchmark of the compliance reports (issue 19, P1/Q1), as root:
#   bash test/bench/compliance_reports.sh [rows]
#
# One payments table of N (default 1,000,000) rows, one every 30 seconds
# from 2026-01-01 (Beijing), 50,000 accounts, two currencies, seven kinds,
# registered with limits and risk, an index on the time column; times
# report_business over a month and a year, report_data_quality with the
# default bound and with a bound of N, report_limits and report_audit
# (docs/compliance.md#performance).  FINSEC_BENCH_NO_BUILD=1 uses
# the installed build.
. "$(dirname "$0")/../../scripts/lib.sh"

n=${1:-1000000}

if [ -z "${FINSEC_BENCH_NO_BUILD:-}" ]; then
	ensure_deps
	build_install
fi
make_workdir
trap 'stop_cluster bench; rm -rf "$WORKDIR"' EXIT
start_cluster bench 54343
as_pg psql -X -q -v ON_ERROR_STOP=1 -d postgres <<SQL | tee "$WORKDIR/reports.out"
CREATE EXTENSION finsec;
CREATE TABLE pay (id bigint PRIMARY KEY, payer text NOT NULL, acct text, amount numeric NOT NULL, cur text,
	kind text NOT NULL, at timestamptz NOT NULL, card text, payee_idno text, orig bigint);
INSERT INTO pay
	SELECT g, 'p' || (g % 50000), 'A' || (g % 50000), (g % 10000) / 100.0,
		   CASE WHEN g % 7 = 0 THEN 'USD' ELSE 'CNY' END,
		   (ARRAY['payment', 'payment', 'payment', 'transfer', 'withdrawal', 'settlement', 'refund'])[1 + g % 7],
		   timestamptz '2026-01-01 00:00+08' + g * interval '30 seconds', '4111111111111111', NULL, NULL
	  FROM generate_series(1, $n) g;
SELECT finsec.enable_limits('pay', customer => 'payer', amount => 'amount', account => 'acct', kind => 'kind',
	counterparty => 'payee_idno', payment_id => 'id', reversal_of => 'orig');
SELECT finsec.enable_risk('pay', customer => 'payer', amount => 'amount', posted_at => 'at', account => 'acct',
	currency => 'cur', card => 'card');
CREATE INDEX ON pay (at);
ANALYZE pay;
\timing on
\echo report_business, one month
SELECT count(*) FROM finsec.report_business('2026-01-01', '2026-02-01', 'en');
\echo report_business, one year
SELECT count(*) FROM finsec.report_business('2026-01-01', '2027-01-01', 'en');
\echo report_data_quality, one year, default bound
SELECT count(*) FROM finsec.report_data_quality('2026-01-01', '2027-01-01', 'en');
\echo report_data_quality, one year, bound $n
SELECT count(*) FROM finsec.report_data_quality('2026-01-01', '2027-01-01', 'en', $n);
\echo report_limits, five years
SELECT count(*) FROM finsec.report_limits('2021-06-01', '2026-06-01', 'en');
\echo report_audit, one year
SELECT count(*) FROM finsec.report_audit('2026-01-01', '2027-01-01', 'en');
SQL
# the figures: each report's time (the "Time:" line after its label)
awk -v n="$n" '/^report_/ { label = $0; next }
	/^Time:/ && label != "" { printf "RESULT|compliance_reports|%s, %d rows|%.3g|-|-|s\n", label, n, $2 / 1000; label = "" }' \
	"$WORKDIR/reports.out"
