--
-- 101_risk_admin: rulesets as the model registry (drafts, content hash,
-- two-person deployment), lists managed by operators, the decision log,
-- cases that feed the lists, the risk report, sightings and link
-- analysis (docs/risk.md).
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
-- Whatever earlier tests deployed is retired.
UPDATE finsec.risk_ruleset SET state = 'retired' WHERE state = 'active';

CREATE TABLE rk_pay (id bigserial PRIMARY KEY, cust text NOT NULL, amount numeric NOT NULL,
	at timestamptz NOT NULL DEFAULT now(), payee text, device text, ip inet, phone text);
CREATE INDEX ON rk_pay (cust, at);
CREATE INDEX ON rk_pay (device, at);
SELECT finsec.enable_risk('rk_pay', customer => 'cust', posted_at => 'at', counterparty => 'payee',
	device => 'device', ip => 'ip', phone => 'phone');

-- A draft, written by an administrator.
SET SESSION AUTHORIZATION regress_rk_alice;
SELECT finsec.risk_ruleset_create('first rules', 10, 20, 30) AS v1 \gset
INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category) VALUES
	(:v1, 'black_device', 'list', '{"color": "black", "entity": "device", "force": "block"}', 0, 'BLACK_DEVICE', 'account_takeover'),
	(:v1, 'grey_ip', 'list', '{"color": "grey", "entity": "ip"}', 15, 'GREY_IP', 'card_not_present'),
	(:v1, 'big', 'threshold', '{"attribute": "amount", "op": ">=", "value": 10000}', 25, 'AMOUNT_HIGH', 'money_laundering');
UPDATE finsec.risk_ruleset SET training_checksum = 'sha256:00ff', training_rows = 120000 WHERE version = :v1;
SELECT state, content_hash IS NULL AS no_hash, created_by FROM finsec.risk_ruleset WHERE version = :v1;
-- administrators cannot activate a version themselves
SELECT pg_temp.try(format('UPDATE finsec.risk_ruleset SET state = %L WHERE version = %s', 'active', :v1));
-- two-person deployment: the requester cannot approve
SELECT finsec.request_risk_deploy(:v1, 'first rules') AS req \gset
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :req));
-- a draft changed after the request cannot be approved
UPDATE finsec.risk_rule SET weight = 26 WHERE ruleset_version = :v1 AND name = 'big';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_bob;
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :req));
SELECT finsec.reject(:req, 'stale') IS NOT NULL AS rejected;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_alice;
SELECT finsec.request_risk_deploy(:v1, 'first rules, again') AS req \gset
-- requests are checked: not a draft, no such version, no rules
SELECT pg_temp.try('SELECT finsec.request_risk_deploy(999999)');
SELECT pg_temp.try(format('SELECT finsec.request_risk_deploy(%s)', finsec.risk_ruleset_create('empty')));
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_bob;
SELECT finsec.approve(:req) - 'content_hash' AS applied;
RESET SESSION AUTHORIZATION;
SELECT state, requested_by, deployed_by, content_hash = finsec.risk_ruleset_hash(version) AS hash_matches,
	   training_rows FROM finsec.risk_ruleset WHERE version = :v1;
-- deployed versions never change and are never deleted
SET SESSION AUTHORIZATION regress_rk_alice;
SELECT pg_temp.try(format('UPDATE finsec.risk_rule SET weight = 1 WHERE ruleset_version = %s', :v1));
SELECT pg_temp.try(format('UPDATE finsec.risk_ruleset SET note = %L WHERE version = %s', 'edited', :v1));
SELECT pg_temp.try(format('DELETE FROM finsec.risk_ruleset WHERE version = %s', :v1));
-- a copy is a new draft with the same content
SELECT finsec.risk_ruleset_copy(:v1, 'second rules') AS v2 \gset
SELECT count(*) AS rules_copied FROM finsec.risk_rule WHERE ruleset_version = :v2;
SELECT state FROM finsec.risk_ruleset WHERE version = :v2;
RESET SESSION AUTHORIZATION;

-- Lists: operators add and remove entries; values are normalised and checked.
SET SESSION AUTHORIZATION regress_rk_op;
SELECT finsec.risk_list_add('black', 'device', 'dev-evil', reason => 'known emulator') AS e1 \gset
SELECT finsec.risk_list_add('grey', 'ip', '198.51.100.0/24', reason => 'proxy range') AS e2 \gset
SELECT finsec.risk_list_add('black', 'phone', '+86 139-0000-0000') AS e3 \gset
SELECT entity_type, value, net, side, added_by FROM finsec.risk_list_entry WHERE entry_id IN (:e1, :e2, :e3) ORDER BY entry_id;
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'device', 'dev-evil')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('purple', 'device', 'x')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'planet', 'x')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'ip', '198.51.100.7/24')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'card', '6222020000000000')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'device', 'x', expires_at => now() - interval '1 day')$$);
SELECT pg_temp.try($$SELECT finsec.risk_list_add('black', 'device', 'x', side => 'middle')$$);
SELECT pg_temp.try(format('SELECT finsec.risk_list_remove(%s, NULL)', :e3));
SELECT finsec.risk_list_remove(:e3, 'wrong number');
SELECT pg_temp.try(format('SELECT finsec.risk_list_remove(%s, %L)', :e3, 'again'));
RESET SESSION AUTHORIZATION;
-- the ledger names the entry, never the phone number
SELECT event_type, description, detail->>'value' AS value FROM finsec.audit
 WHERE event_type LIKE 'risk.list%' ORDER BY finsec_seq;
-- the application cannot manage lists, read them, or open cases
SET SESSION AUTHORIZATION regress_rk_app;
SELECT pg_temp.try($$SELECT finsec.risk_list_add('white', 'customer', 'me')$$);
SELECT pg_temp.try('SELECT count(*) FROM finsec.risk_list_entry');
SELECT pg_temp.try('SELECT finsec.risk_case_open(1)');
RESET SESSION AUTHORIZATION;

-- Decisions other than allow are logged even when the payment rolls back.
SET SESSION AUTHORIZATION regress_rk_app;
BEGIN;
SELECT decision, reasons FROM finsec.risk_score(customer => 'u1', amount => 50, device => 'dev-evil', ip => '198.51.100.9') \gset
ROLLBACK;
SELECT :'decision' AS decision, :'reasons' AS reasons;
SELECT decision, decision_id IS NOT NULL AS logged
  FROM finsec.risk_score(customer => 'u2', amount => 12000, device => 'dev-2', ip => '203.0.113.5', phone => '13900001111');
SELECT decision, decision_id IS NULL AS not_logged FROM finsec.risk_score(customer => 'u3', amount => 1);
RESET SESSION AUTHORIZATION;
SELECT waiting_here FROM finsec.risk_decision_buffer();
SELECT finsec.flush_risk_decisions();
SELECT waiting_here FROM finsec.risk_decision_buffer();
SELECT decision, score, ruleset_version = :v1 AS v1, array_length(rules, 1) AS rules, customer, device, ip, phone,
	   db_user, tableoid::regclass::text LIKE 'finsec.risk_decision_log_p%' AS daily_partition
  FROM finsec.risk_decision_log ORDER BY decision_id;
SELECT finsec.flush_risk_decisions();

-- Cases: open on a logged decision, review, close.
SET SESSION AUTHORIZATION regress_rk_op;
SELECT decision_id AS d1 FROM finsec.risk_decision_log WHERE customer = 'u1' \gset
SELECT decision_id AS d2 FROM finsec.risk_decision_log WHERE customer = 'u2' \gset
SELECT finsec.risk_case_open(:d2, 'large amount from a new device') AS c2 \gset
SELECT pg_temp.try(format('SELECT finsec.risk_case_open(%s)', :d2));
SELECT pg_temp.try('SELECT finsec.risk_case_open(-1)');
SELECT finsec.risk_case_review(:c2, 'calling the customer');
-- confirmed fraud: the device, IP and phone go on the black list, tagged with the case
SELECT finsec.risk_case_close(:c2, 'confirmed_fraud', 'customer denies the payment', list_days => 365) - 'case_id' - 'entries_added' AS closed;
SELECT color, entity_type, coalesce(value, net::text) AS value, case_id = :c2 AS tagged, expires_at > now() + interval '364 days' AS expires
  FROM finsec.risk_list_entry WHERE case_id = :c2 ORDER BY entry_id;
SELECT state, outcome, category, assignee, jsonb_array_length(history) AS steps FROM finsec.risk_case WHERE case_id = :c2;
SELECT pg_temp.try(format('SELECT finsec.risk_case_note(%s, %L)', :c2, 'late note'));
RESET SESSION AUTHORIZATION;
-- the next payment from that device is blocked
SELECT decision, reasons->0->>'rule' AS rule, reasons->0->>'force' AS force FROM finsec.risk_score(customer => 'u9', amount => 1, device => 'dev-2');
-- a false positive restores: the entries matching the decision are removed
SET SESSION AUTHORIZATION regress_rk_op;
SELECT finsec.risk_case_open(:d1) AS c1 \gset
SELECT jsonb_array_length(finsec.risk_case_close(:c1, 'false_positive', 'device was resold', list_color => 'white')->'entries_removed') AS removed;
SELECT entry_id = :e1 AS black_device, regexp_replace(removal_reason, '\d+', 'N') AS removal_reason FROM finsec.risk_list_entry
 WHERE removed_at IS NOT NULL AND removal_reason LIKE 'case%' ORDER BY entry_id;
SELECT color, entity_type, value FROM finsec.risk_list_entry WHERE case_id = :c1;
SELECT pg_temp.try(format('SELECT finsec.risk_case_close(%s, %L)', :c1, 'confirmed_fraud'));
SELECT pg_temp.try(format('SELECT finsec.risk_case_close(%s, %L)', :d1, 'maybe'));
RESET SESSION AUTHORIZATION;
SELECT decision FROM finsec.risk_score(customer => 'u1', amount => 50, device => 'dev-evil');

-- The risk report of the period (JR/T 0122 6.2.4.5).
SET SESSION AUTHORIZATION regress_rk_auditor;
SELECT * FROM finsec.risk_report(now() - interval '1 day', now() + interval '1 day');
RESET SESSION AUTHORIZATION;

-- Sightings and link analysis: u5 paid from device D and phone P; u6 paid
-- from device D; u7 logged in with phone P (a sighting).
INSERT INTO rk_pay (cust, amount, payee, device, phone) VALUES
	('u5', 10, 'acct-x', 'D', 'P'), ('u6', 10, 'acct-y', 'D', NULL), ('u8', 10, 'acct-x', NULL, NULL);
SET SESSION AUTHORIZATION regress_rk_app;
SELECT finsec.record_sighting('customer', 'u7', 'phone', 'P');
SELECT pg_temp.try($$SELECT finsec.record_sighting('customer', 'u7', 'planet', 'P')$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_op;
SELECT * FROM finsec.linked_entities('customer', 'u5', 1);
SELECT * FROM finsec.linked_entities('customer', 'u5', 2);
SELECT entity_type, value, distance, truncated FROM finsec.linked_entities('customer', 'u5', 2, max_entities => 3);
SELECT pg_temp.try($$SELECT * FROM finsec.linked_entities('customer', 'u5', 7)$$);
RESET SESSION AUTHORIZATION;

-- Retiring the active version (two-person) leaves decisions degraded.
SET SESSION AUTHORIZATION regress_rk_alice;
SELECT finsec.request_risk_retire('suspend scoring') AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rk_bob;
SELECT finsec.approve(:req);
RESET SESSION AUTHORIZATION;
SELECT decision, degraded FROM finsec.risk_score(customer => 'u1', amount => 50, device => 'dev-evil');
SELECT version = :v1 AS v1, state, retired_at IS NOT NULL AS retired FROM finsec.risk_ruleset WHERE version = :v1;

SELECT finsec.disable_risk('rk_pay');
DROP TABLE rk_pay;
DROP ROLE regress_rk_alice, regress_rk_bob, regress_rk_op, regress_rk_auditor, regress_rk_app;
