-- Cost of each active payment rule's evaluator per batch (test/bench/monitor.sh,
-- after the recall run): every evaluator is called again on the last 5
-- batches of table :tid holding at least 1000 payments (an evaluator reads
-- events up to the batch's last only, so this is what the monitor ran),
-- against the batches' own duration (finished_at - started_at: every rule,
-- alerts, position).  Read only: nothing is written.
\set ON_ERROR_STOP on
\pset footer off
\echo ==== evaluator cost per batch (last 5 batches of >= 1000 payments)
CREATE TEMP TABLE prof_batch AS
SELECT batch_id, first_event, last_event, payments, extract(epoch FROM finished_at - started_at) * 1000 AS ms
  FROM finsec.monitor_batch WHERE table_id = :tid AND payments >= 1000 AND first_event IS NOT NULL
 ORDER BY batch_id DESC LIMIT 5;
CREATE TEMP TABLE prof (rule_name text, kind text, ms float8, hits bigint);
DO $$
DECLARE
	r finsec.monitor_rule;
	b record;
	fn text;
	t0 timestamptz;
	n bigint;
BEGIN
	FOR r IN SELECT ru.* FROM finsec.monitor_rule ru JOIN finsec.monitor_rule_kind k USING (kind)
			  WHERE ru.state = 'active' AND k.scope = 'payment' ORDER BY ru.rule_name LOOP
		SELECT k.evaluator::oid::regproc::text INTO fn FROM finsec.monitor_rule_kind k WHERE k.kind = r.kind;
		FOR b IN SELECT * FROM prof_batch LOOP
			t0 := clock_timestamp();
			EXECUTE format('SELECT count(*) FROM %s($1, $2, $3)', fn) INTO n USING r, b.first_event, b.last_event;
			INSERT INTO prof VALUES (r.rule_name, r.kind, extract(epoch FROM clock_timestamp() - t0) * 1000, n);
		END LOOP;
	END LOOP;
END $$;
SELECT format('%-42s %-20s %8s ms per batch  %6s hits', rule_name, kind, round(avg(ms)::numeric, 1), sum(hits))
  FROM prof GROUP BY rule_name, kind ORDER BY avg(ms) DESC;
SELECT format('sum of the evaluators %s ms; the batches themselves %s ms for %s payments on average (%s payments/s)',
			  (SELECT round((sum(ms) / 5)::numeric, 1) FROM prof), round(avg(ms)::numeric, 1), round(avg(payments)),
			  round(sum(payments) / (sum(ms) / 1000)))
  FROM prof_batch;
