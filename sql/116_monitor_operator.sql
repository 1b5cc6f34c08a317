--
-- 116_monitor_operator: abnormal operator behaviour (004 9.3 c), 9.7 c);
-- W4, C2; docs/monitor.md).  Rule kind operator_rate counts one
-- role's audited sensitive operations in a window against its own usual
-- rate; action 'suspend' revokes its finsec duties until two
-- administrators restore them (change kind monitor.restore_role).
--
SET client_min_messages = warning;
-- Other files leave administrators behind; set them aside (restored at the
-- end) so that this file knows exactly who can approve.
CREATE TEMP TABLE other_admins AS
	SELECT m.member::regrole::text AS member, m.admin_option FROM pg_auth_members m
	 WHERE m.roleid = 'finsec_admin'::regrole;
DO $$ DECLARE o record; BEGIN
	FOR o IN SELECT * FROM other_admins LOOP EXECUTE format('REVOKE finsec_admin FROM %I', o.member); END LOOP;
END $$;
CREATE ROLE regress_oa1 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_oa2 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_oa3 LOGIN IN ROLE finsec_admin, finsec_unmask;
CREATE ROLE regress_busy LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_calm LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_newbie LOGIN IN ROLE finsec_operator;
-- peeker is also the application's (finsec_app, never suspended: payments would stop).
CREATE ROLE regress_peeker LOGIN IN ROLE finsec_unmask, finsec_operator, finsec_app;

-- The kind, its parameters and the shipped rules (params complete).
SELECT kind, scope, entities, window_required, evaluator, on_alert
  FROM finsec.monitor_rule_kind WHERE kind = 'operator_rate';
SELECT p.key, p.value->>'type' AS type, p.value->'default' AS "default", p.value->'min' AS min
  FROM finsec.monitor_rule_kind k, jsonb_each(k.parameters) p WHERE k.kind = 'operator_rate' ORDER BY 1;
SELECT rule_name, version, state, action, shadow, severity, category, time_window, params
  FROM finsec.monitor_rule WHERE kind = 'operator_rate' ORDER BY 1;
SELECT category, family, clause FROM finsec.risk_category WHERE category = 'insider_abuse';
SELECT array_agg(p.key ORDER BY p.key) = array_agg(q.key ORDER BY q.key) AS shipped_params_complete
  FROM finsec.monitor_rule r CROSS JOIN LATERAL jsonb_object_keys(r.params) p(key)
  JOIN finsec.monitor_rule_kind k ON k.kind = r.kind CROSS JOIN LATERAL jsonb_object_keys(k.parameters) q(key)
 WHERE r.kind = 'operator_rate' AND p.key = q.key;

-- Ledger rows written as a superuser (who may supply the time of an event).
CREATE FUNCTION pg_temp.ledger(who name, ev text, n integer, ago interval, ok boolean DEFAULT true)
RETURNS void LANGUAGE sql AS $$
	INSERT INTO finsec.audit (event_time, db_user, session_user_name, application_name, backend_pid, event_type, success)
	SELECT now() - ago - i * interval '1 second', who, who, 'regress', 0, ev, ok FROM generate_series(1, n) i
$$;
-- Hits on this file's roles (other files' reveals may be in the window too).
CREATE FUNCTION pg_temp.eval(rule text)
RETURNS SETOF finsec.monitor_hit LANGUAGE sql AS $$
	SELECT h.* FROM finsec.monitor_rule r, finsec._monitor_eval_operator_rate(r, NULL, NULL) h
	 WHERE r.rule_name = rule AND r.version = 1
	   AND h.entity IN ('regress_busy', 'regress_calm', 'regress_newbie', 'regress_peeker', 'regress_oa3')
$$;
-- A statement's outcome, without the request numbers that depend on other files.
CREATE FUNCTION pg_temp.try(q text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'request [0-9]+', 'request N', 'g');
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;
CREATE FUNCTION pg_temp.show(rule text)
RETURNS TABLE (entity text, value numeric, threshold numeric, baseline_count bigint, per_window numeric,
			   no_baseline boolean, by_type jsonb, period_is_local_hour boolean)
LANGUAGE sql AS $$
	SELECT h.entity, h.value, (h.detail->>'threshold')::numeric, (h.detail->>'baseline_count')::bigint,
		   (h.detail->>'baseline_per_window')::numeric, (h.detail->>'no_baseline')::boolean, h.detail->'by_type',
		   h.period = to_char(finsec._monitor_local(h.hit_at), 'YYYY-MM-DD HH24')
	  FROM pg_temp.eval(rule) h ORDER BY 1
$$;

-- A rule over application export events: window 1 hour, baseline 10 hours,
-- at least 4, 3 times the usual rate, 10 for a role without history.
INSERT INTO finsec.monitor_rule (rule_name, version, kind, entity, time_window, params, category, severity, action, state)
VALUES ('regress.export_rate', 1, 'operator_rate', 'role', interval '1 hour',
		'{"events": ["regress.export%"], "min_count": 4, "factor": 3, "baseline": "10 hours", "max_count": 10,
		  "suspend_roles": ["finsec_unmask", "finsec_operator", "finsec_auditor", "finsec_admin"]}',
		'insider_abuse', 'high', 'alert', 'draft');

-- Baselines: busy 20 in the 10 hours before the window (2 per window: fires
-- at 3 x 2 = 6), calm 5 (0.5 per window: the minimum 4 decides), newbie none
-- (fires at 10).  Not counted: busy's 100 exports before the baseline period,
-- calm's 100 logins (another event type).
SELECT pg_temp.ledger('regress_busy', 'regress.export_csv', 20, interval '5 hours');
SELECT pg_temp.ledger('regress_busy', 'regress.export_csv', 100, interval '12 hours');
SELECT pg_temp.ledger('regress_calm', 'regress.export_pdf', 5, interval '3 hours');
SELECT pg_temp.ledger('regress_calm', 'regress.login', 100, interval '3 hours');
SELECT pg_temp.ledger('regress_calm', 'regress.login', 100, interval '10 minutes');

-- Just below: busy 5, calm 3, newbie 9 in the window: quiet.
SELECT pg_temp.ledger('regress_busy', 'regress.export_csv', 5, interval '30 minutes');
SELECT pg_temp.ledger('regress_calm', 'regress.export_pdf', 3, interval '30 minutes');
SELECT pg_temp.ledger('regress_newbie', 'regress.export_csv', 9, interval '30 minutes');
SELECT count(*) AS hits_below FROM pg_temp.eval('regress.export_rate');

-- At the thresholds: one more each (busy's in another matching type, one
-- of calm's a failed attempt, which counts too): all three fire.
SELECT pg_temp.ledger('regress_busy', 'regress.export_xls', 1, interval '20 minutes');
SELECT pg_temp.ledger('regress_calm', 'regress.export_pdf', 1, interval '20 minutes', false);
SELECT pg_temp.ledger('regress_newbie', 'regress.export_csv', 1, interval '20 minutes');
SELECT * FROM pg_temp.show('regress.export_rate');

-- The baseline is the role's own: busy at 6 with 21 in its baseline (2.1 per
-- window, threshold 6.3) is quiet again; newbie with one export in the hour
-- before the window now has a baseline (0.1 per window): the minimum decides.
SELECT pg_temp.ledger('regress_busy', 'regress.export_csv', 1, interval '70 minutes');
SELECT pg_temp.ledger('regress_newbie', 'regress.export_csv', 1, interval '70 minutes');
SELECT * FROM pg_temp.show('regress.export_rate');
-- Events older than the window leave it: busy's window is empty once its
-- events are 61 minutes old (as here for the ones written 70 minutes ago).
SELECT count(*) FILTER (WHERE entity = 'regress_busy') AS busy_hits FROM pg_temp.eval('regress.export_rate');

-- The ledger is read through indexes: the window by event_time, a role's
-- baseline by (session_user_name, event_type, event_time).
-- (Another role's 20000 exports in the baseline period make the difference.)
SELECT pg_temp.ledger('regress_newbie', 'regress.export_bulk', 20000, interval '2 hours');
ANALYZE finsec.audit;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM finsec.audit a
 WHERE a.session_user_name = 'regress_busy' AND a.event_type = ANY ('{regress.export_csv}')
   AND a.event_time > now() - interval '11 hours' AND a.event_time <= now() - interval '1 hour';
EXPLAIN (COSTS OFF) SELECT min(a.event_type) FROM finsec.audit a
 WHERE a.session_user_name = 'regress_busy' AND a.event_type > 'a';
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT * FROM finsec._monitor_role_event_types('regress_calm');

-- Real reveals with the default event types; action suspend.
-- (Card keys: made here unless an earlier file made them.)
SELECT NOT EXISTS (SELECT 1 FROM finsec.key WHERE label = 'card.enc') AS need_keys \gset
\if :need_keys
SET SESSION AUTHORIZATION regress_oa1;
SELECT finsec.key_generate('card.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('card.fp', 'fingerprint', 'hmac-sm3') AS k2 \gset
SET SESSION AUTHORIZATION regress_oa2;
SELECT finsec.approve(:k1) ->> 'state' AS k1, finsec.approve(:k2) ->> 'state' AS k2 \gset
RESET SESSION AUTHORIZATION;
\endif
SELECT component, ok FROM finsec.status() WHERE component = 'card_keys';
CREATE TABLE regress_oper_cards (id int PRIMARY KEY, card finsec.bank_card);
INSERT INTO regress_oper_cards SELECT i, c::finsec.bank_card FROM unnest(ARRAY['6216261000000000018', '4111111111111111', '4222222222222',
															 '6212345678901265', '5555555555554444']) WITH ORDINALITY u(c, i);
GRANT SELECT ON regress_oper_cards TO regress_peeker, regress_oa3, regress_oa2;

INSERT INTO finsec.monitor_rule (rule_name, version, kind, entity, time_window, params, category, severity, action, state)
VALUES ('regress.reveal_suspend', 1, 'operator_rate', 'role', interval '1 hour',
		'{"events": ["card.reveal", "account.reveal"], "min_count": 3, "factor": 5, "baseline": "14 days", "max_count": 5,
		  "suspend_roles": ["finsec_unmask", "finsec_operator", "finsec_auditor", "finsec_admin"]}',
		'insider_abuse', 'critical', 'suspend', 'draft');

-- What the core does with a hit, done here by hand: the alert, then on_alert.
CREATE FUNCTION pg_temp.raise(rule text, who text)
RETURNS bigint LANGUAGE sql AS $$
	INSERT INTO finsec.alert (rule_name, rule_version, kind, entity_type, entity, period, severity, category,
							  first_hit_at, last_hit_at, value, detail)
	SELECT r.rule_name, r.version, r.kind, r.entity, who, to_char(finsec._monitor_local(now()), 'YYYY-MM-DD HH24'),
		   r.severity, r.category, now(), now(), 1, '{}'
	  FROM finsec.monitor_rule r WHERE r.rule_name = rule AND r.version = 1
	RETURNING alert_id
$$;
CREATE FUNCTION pg_temp.on_alert(alert bigint, created boolean DEFAULT true)
RETURNS void LANGUAGE sql AS $$
	SELECT finsec._monitor_suspend_role(a.alert_id, r, created)
	  FROM finsec.alert a JOIN finsec.monitor_rule r ON r.rule_name = a.rule_name AND r.version = a.rule_version
	 WHERE a.alert_id = alert
$$;
CREATE FUNCTION pg_temp.duties(who name)
RETURNS text LANGUAGE sql AS $$
	SELECT coalesce(string_agg(g.rolname || CASE WHEN m.admin_option THEN '+admin' ELSE '' END, ',' ORDER BY g.rolname), '-')
	  FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
	 WHERE m.member = who::regrole AND g.rolname LIKE 'finsec%'
$$;

-- 4 reveals: quiet (no history: 5 needed); the 5th fires.
SET SESSION AUTHORIZATION regress_peeker;
SELECT count(finsec.reveal(card, 'regress', 'id=' || id)) FROM regress_oper_cards WHERE id <= 4;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS hits_at_4 FROM pg_temp.eval('regress.reveal_suspend');
SET SESSION AUTHORIZATION regress_peeker;
SELECT count(finsec.reveal(card, 'regress', 'id=' || id)) FROM regress_oper_cards WHERE id = 5;
RESET SESSION AUTHORIZATION;
SELECT entity, value, threshold, no_baseline, by_type FROM pg_temp.show('regress.reveal_suspend');

-- An 'alert' rule suspends nothing; the 'suspend' rule revokes the duties.
SELECT pg_temp.on_alert(pg_temp.raise('regress.export_rate', 'regress_peeker'));
SELECT pg_temp.duties('regress_peeker') AS after_alert_rule, count(*) AS suspensions FROM finsec.role_suspension;
SELECT pg_temp.raise('regress.reveal_suspend', 'regress_peeker') AS peek_alert \gset
SELECT pg_temp.on_alert(:peek_alert);
SELECT pg_temp.duties('regress_peeker') AS after_suspend_rule;
SELECT role, revoked_roles, admin_option, kept_roles, alert_id = :peek_alert AS alert, rule_name,
	   detail->'still_member_of' AS still, detail->'can_regrant' AS regrant, lifted_at IS NULL AS active
  FROM finsec.role_suspension ORDER BY suspension_id;
SELECT event_type, object, action, success, description, detail->'revoked' AS revoked
  FROM finsec.audit WHERE event_type IN ('role.suspend', 'role.restore') ORDER BY finsec_seq;

-- The suspended role can no longer reveal, nor give itself its duty back.
SET SESSION AUTHORIZATION regress_peeker;
SELECT finsec.reveal(card) FROM regress_oper_cards WHERE id = 1;
GRANT finsec_unmask TO regress_peeker;
SELECT finsec.request_change('monitor.restore_role', 'regress_peeker');
SELECT finsec.audit_event('role.restore', 'regress_peeker');
RESET SESSION AUTHORIZATION;

-- A membership granted back outside a restoration is revoked again when the
-- alert is extended (the core calls on_alert with created = false).
GRANT finsec_unmask TO regress_peeker;
SELECT pg_temp.on_alert(:peek_alert, false);
SELECT pg_temp.duties('regress_peeker') AS after_regrant;
SELECT count(*) AS suspensions, min(revoked_roles::text) AS revoked,
	   min(detail->>'regranted_outside_restore') AS regranted FROM finsec.role_suspension;
SELECT pg_temp.on_alert(:peek_alert, false);   -- nothing new: nothing written
SELECT count(*) AS suspend_records FROM finsec.audit WHERE event_type = 'role.suspend' AND object = 'regress_peeker';

-- Restoration: two-person.  Bad requests first.
SET SESSION AUTHORIZATION regress_oa1;
SELECT finsec.request_change('monitor.restore_role', 'regress_busy');
SELECT finsec.request_change('monitor.restore_role', 'regress_peeker', '{"role": "x"}');
SELECT finsec.request_change('monitor.restore_role', 'regress_peeker', '{"suspension_id": "1"}');
SELECT finsec.request_change('monitor.restore_role', 'regress_peeker', '{"suspension_id": 999}');
SELECT finsec.request_change('monitor.restore_role', 'regress_peeker') AS restore1 \gset
SELECT finsec.request_change('monitor.restore_role', 'regress_peeker');
SELECT payload - 'suspended_at' - 'suspension_id' - 'roleid' - 'alert_id' AS payload
  FROM finsec.change_request WHERE request_id = :restore1;
SELECT pg_temp.try('SELECT finsec.approve(' || :restore1 || ')') AS by_requester;
SET SESSION AUTHORIZATION regress_peeker;
SELECT pg_temp.try('SELECT finsec.approve(' || :restore1 || ')') AS by_suspended_role;
SET SESSION AUTHORIZATION regress_oa2;
SELECT finsec.approve(:restore1) - 'suspension_id' AS restored;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.duties('regress_peeker') AS after_restore;
SELECT role, revoked_roles, lifted_by, lifted_at IS NOT NULL AS lifted, request_id = :restore1 AS by_request
  FROM finsec.role_suspension ORDER BY suspension_id;
SELECT event_type, object, success, description, detail->'granted' AS granted
  FROM finsec.audit WHERE event_type = 'role.restore' ORDER BY finsec_seq;
SET SESSION AUTHORIZATION regress_peeker;
SELECT finsec.reveal(card) IS NOT NULL AS reveals_again FROM regress_oper_cards WHERE id = 1;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_oa1;
SELECT finsec.request_change('monitor.restore_role', 'regress_peeker');   -- lifted already
RESET SESSION AUTHORIZATION;

-- Administrators.  With three, one can be suspended entirely (two remain).
SELECT pg_temp.raise('regress.reveal_suspend', 'regress_oa3') AS oa3_alert \gset
SELECT pg_temp.on_alert(:oa3_alert);
SELECT pg_temp.duties('regress_oa3') AS oa3_after;
-- A suspending rule hits, each round, a suspended role whose duty came back
-- outside a restoration, without any new operation; on_alert revokes it again.
SELECT count(*) AS no_regrant_hit FROM pg_temp.eval('regress.reveal_suspend') WHERE entity = 'regress_oa3';
GRANT finsec_unmask TO regress_oa3;
SELECT entity, value, detail->'regranted_outside_restore' AS regranted,
	   period = to_char(finsec._monitor_local(hit_at), 'YYYY-MM-DD HH24') AS hourly
  FROM pg_temp.eval('regress.reveal_suspend') WHERE entity = 'regress_oa3';
SELECT count(*) AS alert_rule_ignores_it FROM finsec.monitor_rule r, finsec._monitor_eval_operator_rate(r, NULL, NULL) h
 WHERE r.rule_name = 'regress.export_rate' AND h.entity = 'regress_oa3';
SELECT pg_temp.on_alert(:oa3_alert, false);
SELECT pg_temp.duties('regress_oa3') AS oa3_again, count(*) AS hits_after
  FROM pg_temp.eval('regress.reveal_suspend') WHERE entity = 'regress_oa3';
-- With two left, the next one keeps finsec_admin (else nobody could approve
-- a restoration): only its other duties are revoked.
GRANT finsec_unmask TO regress_oa2 WITH ADMIN OPTION;
SELECT pg_temp.raise('regress.reveal_suspend', 'regress_oa2') AS oa2_alert \gset
SELECT pg_temp.on_alert(:oa2_alert);
SELECT pg_temp.duties('regress_oa2') AS oa2_after;
SELECT role, revoked_roles, admin_option, kept_roles, detail->'kept_because' AS kept_because
  FROM finsec.role_suspension WHERE lifted_at IS NULL ORDER BY suspension_id;
-- oa2 may not request or approve its own restoration.
SET SESSION AUTHORIZATION regress_oa2;
SELECT finsec.request_change('monitor.restore_role', 'regress_oa2');
SET SESSION AUTHORIZATION regress_oa1;
SELECT finsec.request_change('monitor.restore_role', 'regress_oa2') AS restore_oa2 \gset
SELECT finsec.request_change('monitor.restore_role', 'regress_oa3') AS restore_oa3 \gset
SET SESSION AUTHORIZATION regress_oa2;
SELECT pg_temp.try('SELECT finsec.approve(' || :restore_oa2 || ')') AS by_the_subject;
-- oa2 restores oa3, who then restores oa2 (with its admin option).
SELECT finsec.approve(:restore_oa3) - 'suspension_id' AS oa3_restored;
SET SESSION AUTHORIZATION regress_oa3;
SELECT finsec.approve(:restore_oa2) - 'suspension_id' AS oa2_restored;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.duties('regress_oa2') AS oa2, pg_temp.duties('regress_oa3') AS oa3;
SELECT state, count(*) FROM finsec.change_request WHERE kind = 'monitor.restore_role' GROUP BY 1 ORDER BY 1;

-- Never suspended: a superuser, finsec's own roles, a role with no direct
-- duty (a member through a group: alert and audit say so, nothing revoked).
CREATE ROLE regress_super LOGIN SUPERUSER;
CREATE ROLE regress_tellers NOLOGIN IN ROLE finsec_unmask;
CREATE ROLE regress_teller LOGIN IN ROLE regress_tellers;
SELECT pg_temp.on_alert(pg_temp.raise('regress.reveal_suspend', 'regress_super'));
SELECT pg_temp.on_alert(pg_temp.raise('regress.reveal_suspend', 'finsec_unmask'));
SELECT pg_temp.on_alert(pg_temp.raise('regress.reveal_suspend', 'regress_teller'));
SELECT pg_temp.on_alert(pg_temp.raise('regress.reveal_suspend', 'regress_gone'));
SELECT object, success, description, detail->'still_member_of' AS still
  FROM finsec.audit WHERE event_type = 'role.suspend' AND NOT success
   AND object IN ('regress_super', 'finsec_unmask', 'regress_teller', 'regress_gone') ORDER BY finsec_seq;
SELECT pg_temp.duties('regress_teller') AS teller, pg_temp.duties('regress_tellers') AS tellers,
	   count(*) AS active_suspensions FROM finsec.role_suspension WHERE lifted_at IS NULL;
-- A role with CREATEROLE can grant itself its duty back: suspended with a warning.
CREATE ROLE regress_creator LOGIN CREATEROLE IN ROLE finsec_unmask;
SELECT pg_temp.on_alert(pg_temp.raise('regress.reveal_suspend', 'regress_creator'));
SELECT revoked_roles, detail->'can_regrant' AS regrant FROM finsec.role_suspension WHERE role = 'regress_creator';

-- End to end: a rule set by two administrators, reveals, finsec.monitor_now(),
-- the alert, its case, the suspension, the restoration.
CREATE ROLE regress_clerk LOGIN IN ROLE finsec_unmask, finsec_app;
GRANT SELECT ON regress_oper_cards TO regress_clerk;
SET SESSION AUTHORIZATION regress_oa1;
-- Bad rules are refused when requested.
SELECT v.what, pg_temp.try(format('SELECT finsec.request_change(%L, %L, %L)', 'monitor.rule_set', 'regress.reveal_guard',
							jsonb_build_object('kind', 'operator_rate', 'entity', v.entity, 'params', v.params::jsonb))) AS outcome
  FROM (VALUES ('wrong entity', 'customer', '{}'), ('unknown parameter', 'role', '{"treshold": 3}'),
			   ('min_count 0', 'role', '{"min_count": 0}'), ('min_count 2.5', 'role', '{"min_count": 2.5}'),
			   ('baseline 0', 'role', '{"baseline": "0"}'), ('events not an array', 'role', '{"events": "card.reveal"}'),
			   ('factor below 1', 'role', '{"factor": 0.5}')) v(what, entity, params);
SELECT finsec.request_change('monitor.rule_set', 'regress.reveal_guard',
	'{"kind": "operator_rate", "entity": "role", "time_window": "1 hour", "category": "insider_abuse",
	  "severity": "critical", "action": "suspend", "params": {"min_count": 3, "max_count": 5}}') AS guard_req \gset
SET SESSION AUTHORIZATION regress_oa2;
SELECT finsec.approve(:guard_req) AS guard_rule;
RESET SESSION AUTHORIZATION;
SELECT version, state, action, time_window, params, approved_by FROM finsec.monitor_rule WHERE rule_name = 'regress.reveal_guard';

CREATE FUNCTION pg_temp.alerts(who text)
RETURNS TABLE (n bigint, hits bigint, value numeric, state text, severity text, category text, with_case boolean, no_baseline text)
LANGUAGE sql AS $$
	SELECT count(*), sum(a.hits), max(a.value), min(a.state), min(a.severity), min(a.category),
		   bool_and(a.case_id IS NOT NULL), min(a.detail->>'no_baseline')
	  FROM finsec.alert a WHERE a.rule_name = 'regress.reveal_guard' AND a.entity_type = 'role' AND a.entity = who
$$;
-- A round (other files' rules run too: their outcome is not this file's).
CREATE FUNCTION pg_temp.round()
RETURNS boolean LANGUAGE sql AS $$
	SELECT count(*) FILTER (WHERE relid IS NULL) = 1 FROM finsec.monitor_now()
$$;
GRANT EXECUTE ON FUNCTION pg_temp.round() TO PUBLIC;

-- 4 reveals and a round: quiet; the 5th and a round: alert, case, suspension.
SET SESSION AUTHORIZATION regress_clerk;
SELECT count(finsec.reveal(card, 'regress', 'id=' || id)) FROM regress_oper_cards WHERE id <= 4;
SET SESSION AUTHORIZATION regress_oa1;
SELECT pg_temp.round();
RESET SESSION AUTHORIZATION;
SELECT * FROM pg_temp.alerts('regress_clerk');
SELECT pg_temp.duties('regress_clerk') AS clerk;
SET SESSION AUTHORIZATION regress_clerk;
SELECT count(finsec.reveal(card, 'regress', 'id=' || id)) FROM regress_oper_cards WHERE id = 5;
SET SESSION AUTHORIZATION regress_oa1;
SELECT pg_temp.round();
RESET SESSION AUTHORIZATION;
SELECT * FROM pg_temp.alerts('regress_clerk');
SELECT pg_temp.duties('regress_clerk') AS clerk;
SELECT c.entities, c.category FROM finsec.risk_case c JOIN finsec.alert a ON a.case_id = c.case_id
 WHERE a.rule_name = 'regress.reveal_guard' AND a.entity = 'regress_clerk';
SELECT revoked_roles, rule_name,
	   alert_id = (SELECT alert_id FROM finsec.alert WHERE rule_name = 'regress.reveal_guard' AND entity = 'regress_clerk') AS its_alert
  FROM finsec.role_suspension WHERE role = 'regress_clerk';
SELECT rule_name, evaluations > 0 AS evaluated, failures, last_error FROM finsec.monitor_rule_status
 WHERE rule_name IN ('regress.reveal_guard', 'operator.reveal_rate', 'operator.reveal_flood') ORDER BY 1;
SET SESSION AUTHORIZATION regress_clerk;
SELECT finsec.reveal(card) FROM regress_oper_cards WHERE id = 1;
RESET SESSION AUTHORIZATION;

-- Granted back by hand: the next round takes it away again; the alert is
-- extended, not repeated.
GRANT finsec_unmask TO regress_clerk;
SET SESSION AUTHORIZATION regress_oa1;
SELECT pg_temp.round();
RESET SESSION AUTHORIZATION;
SELECT pg_temp.duties('regress_clerk') AS clerk, (SELECT hits FROM pg_temp.alerts('regress_clerk')) AS hits,
	   (SELECT count(*) FROM finsec.role_suspension WHERE role = 'regress_clerk') AS suspensions,
	   (SELECT count(*) FROM finsec.audit WHERE event_type = 'role.suspend' AND object = 'regress_clerk') AS audited;

-- Two administrators restore it.  The next round extends the alert (the
-- reveals are still in the window) but leaves the restoration alone: that
-- alert has been decided on.
SET SESSION AUTHORIZATION regress_oa1;
SELECT finsec.request_change('monitor.restore_role', 'regress_clerk', '{}', 'chargeback batch, approved by the desk') AS clerk_req \gset
SET SESSION AUTHORIZATION regress_oa3;
SELECT finsec.approve(:clerk_req) - 'suspension_id' AS clerk_restored;
SET SESSION AUTHORIZATION regress_oa1;
SELECT pg_temp.round();
RESET SESSION AUTHORIZATION;
SELECT pg_temp.duties('regress_clerk') AS clerk, (SELECT hits FROM pg_temp.alerts('regress_clerk')) AS hits,
	   (SELECT count(*) FILTER (WHERE lifted_at IS NULL) FROM finsec.role_suspension WHERE role = 'regress_clerk') AS active;
SET SESSION AUTHORIZATION regress_clerk;
SELECT finsec.reveal(card) IS NOT NULL AS reveals_again FROM regress_oper_cards WHERE id = 1;
RESET SESSION AUTHORIZATION;

-- The rule is switched off again (two-person), so that later rounds leave other files' roles alone.
SET SESSION AUTHORIZATION regress_oa1;
SELECT finsec.request_change('monitor.rule_retire', 'regress.reveal_guard') AS retire_req \gset
SET SESSION AUTHORIZATION regress_oa2;
SELECT finsec.approve(:retire_req) AS retired;
RESET SESSION AUTHORIZATION;

-- Privileges: the table is read by admins, auditors, operators; the
-- functions are finsec's own.
SELECT has_table_privilege('finsec_app', 'finsec.role_suspension', 'SELECT') AS app_reads,
	   has_table_privilege('finsec_operator', 'finsec.role_suspension', 'SELECT') AS operator_reads,
	   has_table_privilege('finsec_operator', 'finsec.role_suspension', 'INSERT') AS operator_writes,
	   has_function_privilege('finsec_admin', 'finsec._monitor_suspend_role(bigint, finsec.monitor_rule, boolean)', 'EXECUTE') AS admin_calls,
	   has_function_privilege('finsec_operator', 'finsec._monitor_eval_operator_rate(finsec.monitor_rule, bigint, bigint)', 'EXECUTE') AS operator_evals;

RESET SESSION AUTHORIZATION;
DROP TABLE regress_oper_cards;
DO $$ DECLARE o record; BEGIN
	FOR o IN SELECT * FROM other_admins LOOP
		EXECUTE format('GRANT finsec_admin TO %I', o.member) || CASE WHEN o.admin_option THEN ' WITH ADMIN OPTION' ELSE '' END;
	END LOOP;
END $$;
DROP ROLE regress_clerk, regress_creator, regress_teller, regress_tellers, regress_super, regress_peeker,
	regress_busy, regress_calm, regress_newbie, regress_oa1, regress_oa2, regress_oa3;
