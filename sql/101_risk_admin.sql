--
-- 101_risk_admin: rulesets as the model registry (drafts, content hash,
-- two-person deployment), lists managed by operators, the decision log,
-- cases that feed the lists, the risk report, sightings and link
-- analysis (docs/risk-admin.md).  Concurrent edits during a deployment:
-- test/isolation/specs/101-risk-deploy.spec.
--
\set VERBOSITY default
SET client_min_messages = warning;
CREATE ROLE regress_rk_alice LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_rk_bob LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_rk_op LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_rk_auditor LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_rk_app LOGIN IN ROLE finsec_app;
SET client_min_messages = notice;
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	-- numbers that depend on earlier tests: request, ruleset, entry, decision, case
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '(request|ruleset|entry|decision|case) \d+', '\1 N', 'g');
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;
-- the same, with the error's hint
CREATE FUNCTION pg_temp.try_hint(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	h text;
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '(request|ruleset|entry|decision|case) \d+', '\1 N', 'g')
		   || ' (hint: ' || h || ')';
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try_hint(text) TO PUBLIC;
-- finsec.linked_entities() with the card key of the run shown as "C"
CREATE FUNCTION pg_temp.links(t text, v text, depth integer DEFAULT 2, max_entities integer DEFAULT 1000)
RETURNS TABLE (entity_type text, value text, distance integer, via_type text, via_value text, links bigint, truncated boolean)
LANGUAGE sql AS $$
	SELECT l.entity_type, CASE WHEN l.entity_type = 'card' AND l.value = finsec.risk_card_key('6216261000000000018') THEN 'C' ELSE l.value END,
		   l.distance, l.via_type,
		   CASE WHEN l.via_type = 'card' AND l.via_value = finsec.risk_card_key('6216261000000000018') THEN 'C' ELSE l.via_value END,
		   l.links, l.truncated
	  FROM finsec.linked_entities(t, v, depth, max_entities) l
$$;
GRANT EXECUTE ON FUNCTION pg_temp.links(text, text, integer, integer) TO PUBLIC;
-- Whatever earlier tests deployed is retired.
UPDATE finsec.risk_ruleset SET state = 'retired' WHERE state = 'active';

CREATE TABLE rk_pay (id bigserial PRIMARY KEY, cust text NOT NULL, amount numeric NOT NULL,
	at timestamptz NOT NULL DEFAULT now(), payee text, device text, ip inet, phone text, card finsec.bank_card);
CREATE INDEX ON rk_pay (cust, at);
CREATE INDEX ON rk_pay (device, at);
SELECT finsec.enable_risk('rk_pay', customer => 'cust', posted_at => 'at', counterparty => 'payee',
	device => 'device', ip => 'ip', phone => 'phone', card => 'card');

-- A draft, written by an administrator; thresholds are checked.
SET SESSION AUTHORIZATION regress_rk_alice;
SELECT pg_temp.try($$SELECT finsec.risk_ruleset_create('bad', 30, 20, 10)$$);
SELECT pg_temp.try($$SELECT finsec.risk_ruleset_create('bad', 'NaN', 'NaN', 'NaN')$$);
SELECT finsec.risk_ruleset_create('first rules', 10, 20, 30) AS v1 \gset
INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category) VALUES
	(:v1, 'black_device', 'list', '{"color": "black", "entity": "device", "force": "block"}', 0, 'BLACK_DEVICE', 'account_takeover'),
	(:v1, 'grey_ip', 'list', '{"color": "grey", "entity": "ip"}', 15, 'GREY_IP', 'card_not_present'),
	(:v1, 'big', 'threshold', '{"attribute": "amount", "op": ">=", "value": 10000}', 25, 'AMOUNT_HIGH', 'money_laundering');
UPDATE finsec.risk_ruleset SET training_checksum = 'sha256:00ff', training_rows = 120000,
	training_data_at = '2026-01-01 00:00:00+00' WHERE version = :v1;
SELECT state, content_hash IS NULL AS no_hash, created_by FROM finsec.risk_ruleset WHERE version = :v1;
-- the content hash does not depend on the session's time zone
SET TimeZone = 'America/New_York';
SELECT finsec.risk_ruleset_hash(:v1) AS hash_ny \gset
SET TimeZone = 'Asia/Shanghai';
SELECT finsec.risk_ruleset_hash(:v1) = :'hash_ny' AS same_hash_in_shanghai,
	   finsec.risk_ruleset_content(:v1)::jsonb->'training'->>'data_at' AS data_at_in_utc;
-- administrators cannot activate a version themselves
SELECT pg_temp.try(format('UPDATE finsec.risk_ruleset SET state = %L WHERE version = %s', 'active', :v1));
-- two-person deployment: the requester cannot approve
SET TimeZone = 'America/New_York';
SELECT finsec.request_risk_deploy(:v1, 'first rules') AS req \gset
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :req));
-- a draft changed after the request cannot be approved
UPDATE finsec.risk_rule SET weight = 26 WHERE ruleset_version = :v1 AND name = 'big';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_bob;
SET TimeZone = 'Asia/Shanghai';
SELECT pg_temp.try_hint(format('SELECT finsec.approve(%s)', :req));
SELECT finsec.reject(:req, 'stale') IS NOT NULL AS rejected;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_alice;
SET TimeZone = 'America/New_York';
SELECT finsec.request_risk_deploy(:v1, 'first rules, again') AS req \gset
-- requests are checked: no such version, no rules, payload
SELECT pg_temp.try('SELECT finsec.request_risk_deploy(999999)');
SELECT pg_temp.try(format('SELECT finsec.request_risk_deploy(%s)', finsec.risk_ruleset_create('empty')));
SELECT pg_temp.try(format($$SELECT finsec.request_change('risk.deploy', %L, '{"version": 1}')$$, :v1));
SELECT pg_temp.try(format($$SELECT finsec.request_change('risk.deploy', %L, '{"note": 1}')$$, :v1));
RESET SESSION AUTHORIZATION;
-- another administrator approves, in another time zone: the pinned hash still matches
SET SESSION AUTHORIZATION regress_rk_bob;
SET TimeZone = 'Asia/Shanghai';
SELECT finsec.approve(:req) - 'content_hash' - 'deployed' AS applied;
RESET SESSION AUTHORIZATION;
RESET TimeZone;
SELECT state, requested_by, deployed_by, deploy_request = :req AS request,
	   content_hash = finsec.risk_ruleset_hash(version) AS hash_matches,
	   content_hash = (SELECT decode(payload->>'content_hash', 'hex') FROM finsec.change_request WHERE request_id = :req) AS hash_pinned,
	   training_rows FROM finsec.risk_ruleset WHERE version = :v1;
-- an auditor recomputes the hash from the canonical content
SET SESSION AUTHORIZATION regress_rk_auditor;
SELECT sha256(convert_to(finsec.risk_ruleset_content(:v1), 'UTF8')) = content_hash AS recomputed,
	   jsonb_array_length(finsec.risk_ruleset_content(:v1)::jsonb->'rules') AS rules
  FROM finsec.risk_ruleset WHERE version = :v1;
RESET SESSION AUTHORIZATION;
-- deployed versions never change and are never deleted
SET SESSION AUTHORIZATION regress_rk_alice;
SELECT pg_temp.try(format('UPDATE finsec.risk_rule SET weight = 1 WHERE ruleset_version = %s', :v1));
SELECT pg_temp.try(format('DELETE FROM finsec.risk_rule WHERE ruleset_version = %s', :v1));
SELECT pg_temp.try(format($$INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, reason_code, category)
	VALUES (%s, 'late', 'threshold', '{"attribute": "amount", "op": ">", "value": 1}', 'LATE', 'money_laundering')$$, :v1));
SELECT pg_temp.try(format('UPDATE finsec.risk_ruleset SET note = %L WHERE version = %s', 'edited', :v1));
SELECT pg_temp.try(format('DELETE FROM finsec.risk_ruleset WHERE version = %s', :v1));
-- a copy is a new draft with the same content, hence the same hash, until it is edited
SELECT finsec.risk_ruleset_copy(:v1, 'second rules') AS v2 \gset
SELECT state, content_hash IS NULL AS no_hash, training_rows, finsec.risk_ruleset_hash(version) = finsec.risk_ruleset_hash(:v1) AS same_hash,
	   (SELECT count(*) FROM finsec.risk_rule WHERE ruleset_version = :v2) AS rules_copied
  FROM finsec.risk_ruleset WHERE version = :v2;
UPDATE finsec.risk_rule SET weight = 30 WHERE ruleset_version = :v2 AND name = 'big';
SELECT finsec.risk_ruleset_hash(:v2) = finsec.risk_ruleset_hash(:v1) AS same_hash_after_edit;
SELECT pg_temp.try('SELECT finsec.risk_ruleset_copy(999999)');
-- a draft can be deleted, with its rules
DELETE FROM finsec.risk_ruleset WHERE version = :v2;
SELECT count(*) AS rules_left FROM finsec.risk_rule WHERE ruleset_version = :v2;
RESET SESSION AUTHORIZATION;
SELECT event_type, regexp_replace(description, '\d+', 'N', 'g') AS description FROM finsec.audit
 WHERE event_type LIKE 'risk.ruleset%' ORDER BY finsec_seq;

-- Lists: operators add and remove entries; values are normalised and checked.
SET SESSION AUTHORIZATION regress_rk_op;
SELECT finsec.risk_list_add('black', 'device', 'dev-evil', reason => 'known emulator') AS e1 \gset
SELECT finsec.risk_list_add('grey', 'ip', '198.51.100.0/24', reason => 'proxy range') AS e2 \gset
SELECT finsec.risk_list_add('black', 'phone', '+86 139-0000-0000') AS e3 \gset
SELECT finsec.risk_list_add('grey', 'ip', ' 203.0.113.77 ', expires_at => now() + interval '1 day') AS e4 \gset
SELECT finsec.risk_list_add_card('black', '6216261000000000018', side => 'payer') AS e5 \gset
SELECT entity_type, CASE WHEN entity_type = 'card' THEN value = finsec.risk_card_key('6216261000000000018') ELSE NULL END AS card_key,
	   CASE WHEN entity_type <> 'card' THEN value END AS value, net, side, added_by
  FROM finsec.risk_list_entry WHERE entry_id IN (:e1, :e2, :e3, :e4, :e5) ORDER BY entry_id;
-- an identical active entry is refused (the same address written as /32 too)
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'device', ' dev-evil')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('grey', 'ip', '203.0.113.77/32')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'phone', '0086 13900000000')$$);
-- ... but the same value on another side or list is another entry
SELECT finsec.risk_list_add('black', 'device', 'dev-evil', side => 'payee') > :e1 AS other_side;
SELECT pg_temp.try($$SELECT finsec.risk_list_add('purple', 'device', 'x')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'planet', 'x')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'device', '  ')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'ip', '198.51.100.7/24')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'ip', 'proxy.example')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'phone', '12-34')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'card', '6222020000000000')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'device', 'x', expires_at => now() - interval '1 day')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'device', 'x', side => 'middle')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'device', 'x', case_id => -1)$$);
SELECT pg_temp.try(format('SELECT finsec.risk_list_remove(%s, NULL)', :e3));
-- removing a black entry is a request (docs/risk-admin.md "Two-person list
-- changes"): the entry stays in effect until an administrator approves it
SELECT finsec.request_risk_list_remove(:e3, 'wrong number') AS rm \gset
SELECT removed_at IS NULL AS still_listed FROM finsec.risk_list_entry WHERE entry_id = :e3;
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :rm));
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_bob;
SELECT finsec.approve(:rm) - 'entry_id' AS approved;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_op;
SELECT pg_temp.try(format('SELECT finsec.risk_list_remove(%s, %L)', :e3, 'again'));
-- once removed, the same entry can be added again
SELECT finsec.risk_list_add('black', 'phone', '13900000000') > :e3 AS added_again;
RESET SESSION AUTHORIZATION;
-- once expired, too
UPDATE finsec.risk_list_entry SET expires_at = now() - interval '1 second' WHERE entry_id = :e4;
SET SESSION AUTHORIZATION regress_rk_op;
SELECT finsec.risk_list_add('grey', 'ip', '203.0.113.77') > :e4 AS added_after_expiry;
RESET SESSION AUTHORIZATION;
SELECT entry_id = :e3 AS e3, removed_by, removal_reason FROM finsec.risk_list_entry
 WHERE entry_id >= :e1 AND removed_at IS NOT NULL ORDER BY entry_id;
-- the ledger names the entry, never the phone number or the card key
SELECT event_type, regexp_replace(description, '\d+', 'N') AS description, detail->>'value' AS value,
	   detail::text ~ '1390000|v[0-9]+:' AS leaks
  FROM finsec.audit WHERE event_type LIKE 'risk.list%' ORDER BY finsec_seq;
-- the application cannot manage lists, read them, or open or read cases
SET SESSION AUTHORIZATION regress_rk_app;
SELECT pg_temp.try($$SELECT finsec.risk_list_add('white', 'customer', 'me')$$);
SELECT pg_temp.try('SELECT count(*) FROM finsec.risk_list_entry');
SELECT pg_temp.try('SELECT finsec.risk_case_open(1)');
SELECT pg_temp.try('SELECT count(*) FROM finsec.risk_case');
SELECT pg_temp.try($$SELECT count(*) FROM finsec.linked_entities('customer', 'u1')$$);
RESET SESSION AUTHORIZATION;
-- nor can the auditor change them
SET SESSION AUTHORIZATION regress_rk_auditor;
SELECT pg_temp.try($$SELECT finsec.risk_list_add('white', 'customer', 'me')$$);
RESET SESSION AUTHORIZATION;

-- Decisions other than allow are logged even when the payment rolls back.
SET SESSION AUTHORIZATION regress_rk_app;
BEGIN;
SELECT decision, reasons FROM finsec.risk_score(customer => 'u1', amount => 50, device => 'dev-evil', ip => '198.51.100.9') \gset
ROLLBACK;
SELECT :'decision' AS decision, :'reasons' AS reasons;
SELECT decision, decision_id IS NOT NULL AS logged
  FROM finsec.risk_score(customer => 'u2', amount => 12000, device => 'dev-2', ip => '203.0.113.5', phone => '13900001111',
						 card => '6212345678901234569');
SELECT decision, decision_id IS NULL AS not_logged FROM finsec.risk_score(customer => 'u3', amount => 1);
RESET SESSION AUTHORIZATION;
SELECT waiting_here FROM finsec.risk_decision_buffer();
SELECT finsec.flush_risk_decisions();
SELECT waiting_here FROM finsec.risk_decision_buffer();
-- the card is logged by its whole key (never the number), so that a case can list it
SELECT decision, score, ruleset_version = :v1 AS v1, array_length(rules, 1) AS rules, customer, device, ip, phone,
	   card_key = finsec.risk_card_key('6212345678901234569') AS card_key,
	   db_user, tableoid::regclass::text LIKE 'finsec.risk_decision_log_p%' AS daily_partition
  FROM finsec.risk_decision_log WHERE customer IN ('u1', 'u2', 'u3') ORDER BY decision_id;
SELECT finsec.flush_risk_decisions();

-- Cases: open on a logged decision, review, close.
SET SESSION AUTHORIZATION regress_rk_op;
SELECT decision_id AS d1 FROM finsec.risk_decision_log WHERE customer = 'u1' \gset
SELECT decision_id AS d2 FROM finsec.risk_decision_log WHERE customer = 'u2' \gset
SELECT finsec.risk_case_open(:d2, 'large amount from a new device') AS c2 \gset
SELECT pg_temp.try(format('SELECT finsec.risk_case_open(%s)', :d2));
SELECT pg_temp.try('SELECT finsec.risk_case_open(-1)');
SELECT state, decision, category, opened_by, entities - 'card' AS entities, entities->>'card' = finsec.risk_card_key('6212345678901234569') AS card
  FROM finsec.risk_case WHERE case_id = :c2;
SELECT finsec.risk_case_review(:c2, 'calling the customer');
SELECT finsec.risk_case_note(:c2, 'customer called back');
SELECT pg_temp.try(format('SELECT finsec.risk_case_close(%s, %L)', :c2, 'maybe'));
SELECT pg_temp.try(format('SELECT finsec.risk_case_close(%s, %L, list_color => %L)', :c2, 'confirmed_fraud', 'white'));
SELECT pg_temp.try(format('SELECT finsec.risk_case_close(%s, %L, list_entities => %L)', :c2, 'confirmed_fraud', '{device,planet}'));
SELECT pg_temp.try(format('SELECT finsec.risk_case_close(%s, %L, list_days => 0)', :c2, 'confirmed_fraud'));
-- (nothing of the refused closes was written)
SELECT state, outcome, (SELECT count(*) FROM finsec.risk_list_entry l WHERE l.case_id = :c2) AS entries
  FROM finsec.risk_case WHERE case_id = :c2;
-- confirmed fraud: the device, IP, phone and card go on the black list, tagged with the case
SELECT finsec.risk_case_close(:c2, 'confirmed_fraud', 'customer denies the payment', list_days => 365)
	   - 'case_id' - 'entries_added' AS closed;
SELECT color, entity_type, CASE WHEN entity_type = 'card' THEN 'the card key' ELSE coalesce(value, net::text) END AS value,
	   side, case_id = :c2 AS tagged, expires_at > now() + interval '364 days' AS expires
  FROM finsec.risk_list_entry WHERE case_id = :c2 ORDER BY entry_id;
SELECT state, outcome, category, assignee, opened_by, closed_by,
	   (SELECT array_agg(h->>'action' ORDER BY o) FROM jsonb_array_elements(history) WITH ORDINALITY AS x(h, o)) AS steps,
	   jsonb_array_length(history->-1->'entries_added') AS listed
  FROM finsec.risk_case WHERE case_id = :c2;
SELECT pg_temp.try(format('SELECT finsec.risk_case_note(%s, %L)', :c2, 'late note'));
SELECT pg_temp.try(format('SELECT finsec.risk_case_review(%s)', :c2));
RESET SESSION AUTHORIZATION;
-- the next payment from that device is blocked
SELECT decision, reasons->0->>'rule' AS rule, reasons->0->>'force' AS force FROM finsec.risk_score(customer => 'u9', amount => 1, device => 'dev-2');
-- a second fraud from the same device: the device is already listed, and kept as it is
SET SESSION AUTHORIZATION regress_rk_app;
SELECT decision FROM finsec.risk_score(customer => 'u4', amount => 12000, device => 'dev-2');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_op;
SELECT finsec.flush_risk_decisions();
SELECT pg_temp.try('SELECT finsec.risk_case_open(NULL)');
SELECT finsec.risk_case_open((SELECT max(decision_id) FROM finsec.risk_decision_log WHERE customer = 'u4')) AS c4 \gset
SELECT jsonb_array_length(r->'entries_added') AS added, jsonb_array_length(r->'entries_already_listed') AS kept
  FROM finsec.risk_case_close(:c4, 'confirmed_fraud', list_entities => '{device,customer}') AS r;
SELECT entity_type, value FROM finsec.risk_list_entry WHERE case_id = :c4;
-- a false positive restores: the entries matching the decision are removed
SELECT finsec.risk_case_open(:d1) AS c1 \gset
SELECT pg_temp.try(format('SELECT finsec.risk_case_close(%s, %L, list_color => %L)', :c1, 'false_positive', 'grey'));
-- (closed at once; the removals and the white entry are a request an administrator approves)
SET client_min_messages = warning;
SELECT r->>'request_id' AS restore_req, jsonb_array_length(r->'entries_to_remove') AS to_remove,
	   jsonb_array_length(r->'entries_removed') AS removed_now, r->'customer_to_whitelist' AS to_whitelist
  FROM finsec.risk_case_close(:c1, 'false_positive', 'device was resold', list_color => 'white') AS r \gset
SET client_min_messages = notice;
SELECT :to_remove AS to_remove, :removed_now AS removed_now, :to_whitelist AS to_whitelist;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_bob;
SELECT jsonb_array_length(r->'entries_removed') AS removed, jsonb_array_length(r->'entries_added') AS whitelisted
  FROM finsec.approve(:restore_req) AS r;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_op;
SELECT entry_id = :e1 AS black_device, entry_id = :e2 AS grey_range, regexp_replace(removal_reason, '\d+', 'N') AS removal_reason
  FROM finsec.risk_list_entry WHERE removed_at IS NOT NULL AND removal_reason LIKE 'case%' ORDER BY entry_id;
SELECT color, entity_type, value FROM finsec.risk_list_entry WHERE case_id = :c1;
SELECT jsonb_array_length(history->-1->'entries_removed') AS removed_in_history FROM finsec.risk_case WHERE case_id = :c1;
SELECT pg_temp.try(format('SELECT finsec.risk_case_close(%s, %L)', :c1, 'confirmed_fraud'));
SELECT pg_temp.try('SELECT finsec.risk_case_close(-1, ''duplicate'')');
RESET SESSION AUTHORIZATION;
SELECT decision FROM finsec.risk_score(customer => 'u1', amount => 50, device => 'dev-evil');
-- A customer id longer than the log keeps is logged as its hash: a false
-- positive still finds its entries; a confirmed fraud cannot list it, and says so.
SET SESSION AUTHORIZATION regress_rk_op;
SELECT finsec.risk_list_add('black', 'customer', repeat('long-customer-', 7)) AS e_long \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_app;
SELECT decision FROM finsec.risk_score(customer => repeat('long-customer-', 7), amount => 12000);
SELECT decision FROM finsec.risk_score(customer => repeat('long-customer-', 7), amount => 12001);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_op;
SELECT finsec.flush_risk_decisions();
SELECT customer ~ '^sha256:[0-9a-f]{56}$' AS hashed, count(*) FROM finsec.risk_decision_log
 WHERE customer = 'sha256:' || left(encode(sha256(convert_to(repeat('long-customer-', 7), 'UTF8')), 'hex'), 56) GROUP BY 1;
SELECT finsec.risk_case_open(min(decision_id)) AS c5, finsec.risk_case_open(max(decision_id)) AS c6 FROM finsec.risk_decision_log
 WHERE customer = 'sha256:' || left(encode(sha256(convert_to(repeat('long-customer-', 7), 'UTF8')), 'hex'), 56) \gset
SET client_min_messages = warning;
SELECT r->'entries_to_remove' = jsonb_build_array(:e_long) AS long_entry_to_remove, r->>'request_id' AS long_req
  FROM finsec.risk_case_close(:c5, 'false_positive') AS r \gset
SET client_min_messages = notice;
SELECT :'long_entry_to_remove' AS long_entry_to_remove;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_bob;
SELECT finsec.approve(:long_req)->'entries_removed' = jsonb_build_array(:e_long) AS long_entry_removed;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_op;
SELECT r->'entries_added' AS added, r->'not_listed_hashed' AS not_listed
  FROM finsec.risk_case_close(:c6, 'confirmed_fraud', list_entities => '{customer}') AS r;
SELECT finsec.risk_case_open(decision_id) AS c7 FROM finsec.risk_decision_log WHERE customer = 'u9' \gset
SELECT finsec.risk_case_close(:c7, 'inconclusive')->'entries_added' AS nothing_listed;
RESET SESSION AUTHORIZATION;
-- every step is in the ledger, by case
SELECT event_type, count(*) FROM finsec.audit WHERE event_type LIKE 'risk.case%' GROUP BY 1 ORDER BY 1;

-- The risk report of the period (JR/T 0122 6.2.4.5).
SET SESSION AUTHORIZATION regress_rk_auditor;
-- (decisions of earlier tests are in the period too: the rows with cases, and the totals)
SELECT * FROM finsec.risk_report(now() - interval '1 day', now() + interval '1 day') WHERE cases > 0;
SELECT sum(decisions) = (SELECT count(*) FROM finsec.risk_decision_log) AS all_decisions, sum(cases) AS cases,
	   sum(open_cases) AS open_cases
  FROM finsec.risk_report(now() - interval '1 day', now() + interval '1 day');
SELECT count(*) AS nothing_before FROM finsec.risk_report(now() - interval '2 days', now() - interval '1 day');
RESET SESSION AUTHORIZATION;

-- Sightings and link analysis: u5 paid from device D, phone P and card C;
-- u6 paid from device D with card C; u8 paid the same payee as u5; u7
-- logged in with phone P (a sighting) from IP 203.0.113.5, which u10 paid from.
INSERT INTO rk_pay (cust, amount, payee, device, phone, card, ip) VALUES
	('u5', 10, 'acct-x', 'D', '13800000001', '6216261000000000018', NULL),
	('u5', 20, 'acct-x', 'D', NULL, NULL, NULL),
	('u6', 10, 'acct-y', 'D', NULL, '6216261000000000018', NULL),
	('u8', 10, 'acct-x', NULL, NULL, NULL, NULL),
	('u10', 10, NULL, NULL, NULL, NULL, '203.0.113.5');
SET SESSION AUTHORIZATION regress_rk_app;
SELECT finsec.record_sighting('customer', 'u7', 'phone', '+86 138 0000 0001');
SELECT finsec.record_sighting('customer', 'u7', 'ip', '203.0.113.5/32');
SELECT pg_temp.try($$SELECT finsec.record_sighting('customer', 'u7', 'planet', 'P')$$);
SELECT pg_temp.try($$SELECT finsec.record_sighting('customer', 'u7', 'ip', 'not an address')$$);
SELECT pg_temp.try($$SELECT finsec.record_sighting('customer', NULL, 'ip', '203.0.113.5')$$);
SELECT pg_temp.try($$SELECT finsec.record_sighting('customer', 'u7', 'ip', '203.0.113.5', 'infinity')$$);
RESET SESSION AUTHORIZATION;
SELECT entity_type, value, other_type, other_value FROM finsec.risk_sighting ORDER BY sighting_id;
SET SESSION AUTHORIZATION regress_rk_op;
SELECT * FROM pg_temp.links('customer', 'u5', 1);
SELECT * FROM pg_temp.links('customer', 'u5', 2);
-- from a phone written differently, from the card (by its key), from an IP
SELECT * FROM pg_temp.links('phone', '0086-138-0000-0001', 1);
SELECT * FROM pg_temp.links('card', finsec.risk_card_key('6216261000000000018'), 1);
SELECT * FROM pg_temp.links('ip', '203.0.113.5', 2);
-- the cap: rows stop at max_entities, and say so
SELECT entity_type, value, distance, truncated FROM pg_temp.links('customer', 'u5', 2, max_entities => 3);
SELECT bool_and(truncated) AS truncated, count(*) FROM pg_temp.links('customer', 'u5', 2, max_entities => 6);
SELECT bool_or(truncated) AS truncated, count(*) FROM pg_temp.links('customer', 'u5', 2, max_entities => 7);
SELECT pg_temp.try($$SELECT * FROM finsec.linked_entities('customer', 'u5', 7)$$);
SELECT pg_temp.try($$SELECT * FROM finsec.linked_entities('customer', 'u5', 0)$$);
SELECT pg_temp.try($$SELECT * FROM finsec.linked_entities('customer', 'u5', 2, 0)$$);
SELECT pg_temp.try($$SELECT * FROM finsec.linked_entities('planet', 'u5')$$);
SELECT count(*) AS unknown FROM finsec.linked_entities('customer', 'nobody');
RESET SESSION AUTHORIZATION;

-- Retiring the active version (two-person) leaves decisions degraded.
SET SESSION AUTHORIZATION regress_rk_alice;
SELECT finsec.request_risk_retire('suspend scoring') AS req \gset
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :req));
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_bob;
SELECT finsec.approve(:req) - 'retired' AS applied;
SELECT pg_temp.try('SELECT finsec.request_risk_retire()');
RESET SESSION AUTHORIZATION;
SELECT decision, degraded FROM finsec.risk_score(customer => 'u1', amount => 50, device => 'dev-evil');
SELECT version = :v1 AS v1, state, retired_at IS NOT NULL AS retired, content_hash = finsec.risk_ruleset_hash(version) AS hash_still_matches
  FROM finsec.risk_ruleset WHERE version = :v1;
SELECT pg_temp.try(format($$UPDATE finsec.risk_ruleset SET state = 'active' WHERE version = %s$$, :v1));

SELECT finsec.disable_risk('rk_pay');
DROP TABLE rk_pay;
DROP ROLE regress_rk_alice, regress_rk_bob, regress_rk_op, regress_rk_auditor, regress_rk_app;
