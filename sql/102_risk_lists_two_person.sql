--
-- 102_risk_lists_two_person: changes that weaken the risk lists take two
-- people (issue 14, class 6; docs/risk-admin.md "Two-person list changes").
--
-- On 0.7 one operator alone could white-list a fraudster (a white hit
-- forces allow past every rule), remove a black entry, or close a case as
-- a false positive, which removed the matching entries and could white-list
-- the customer.  Each now files a change request that a finsec_admin other
-- than the requester approves; approval pins the entry and case state.
-- Approval racing a list edit: test/isolation/specs/102-risk-list-approve.spec.
--
\set VERBOSITY default
SET client_min_messages = warning;
CREATE ROLE regress_rl_op1 LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_rl_op2 LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_rl_adm1 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_rl_adm2 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_rl_app LOGIN IN ROLE finsec_app;
SET client_min_messages = notice;
-- the error's code and message, without numbers that depend on earlier tests
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '\d+', 'N', 'g');
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;
-- the newest request of a kind (operators cannot read finsec.change_request)
CREATE FUNCTION pg_temp.req(k text) RETURNS bigint LANGUAGE sql SECURITY DEFINER AS $$
	SELECT max(request_id) FROM finsec.change_request WHERE kind = k
$$;
GRANT EXECUTE ON FUNCTION pg_temp.req(text) TO PUBLIC;

-- A ruleset: big payments are blocked, black customers, devices and
-- phones are blocked, a white customer is allowed whatever the score.
UPDATE finsec.risk_ruleset SET state = 'retired', retired_at = now() WHERE state = 'active';
CREATE TABLE rl_pay (id bigserial PRIMARY KEY, cust text NOT NULL, amount numeric NOT NULL,
	at timestamptz NOT NULL DEFAULT now(), device text, phone text);
SELECT finsec.enable_risk('rl_pay', customer => 'cust', posted_at => 'at', device => 'device', phone => 'phone');
SET SESSION AUTHORIZATION regress_rl_adm1;
SELECT finsec.risk_ruleset_create('two-person lists', 10, 20, 30) AS v \gset
INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category) VALUES
	(:v, 'white_customer', 'list', '{"color": "white", "entity": "customer", "force": "allow"}', 0, 'TRUSTED', 'card_not_present'),
	(:v, 'black_device', 'list', '{"color": "black", "entity": "device", "force": "block"}', 0, 'BLACK_DEVICE', 'account_takeover'),
	(:v, 'black_phone', 'list', '{"color": "black", "entity": "phone", "force": "block"}', 0, 'BLACK_PHONE', 'telecom_fraud'),
	(:v, 'big', 'threshold', '{"attribute": "amount", "op": ">=", "value": 10000}', 40, 'AMOUNT_HIGH', 'money_laundering');
RESET SESSION AUTHORIZATION;
UPDATE finsec.risk_ruleset SET state = 'active', deployed_by = current_user, deployed_at = now() WHERE version = :v;
SELECT decision FROM finsec.risk_score(customer => 'fraudster', amount => 50000);

-- ---------------------------------------------------------------------
-- 1. One operator white-lists a fraudster: nothing is listed until a
--    second person approves.
-- ---------------------------------------------------------------------
SELECT max(finsec_seq) AS seq0 FROM finsec.audit \gset
SET SESSION AUTHORIZATION regress_rl_op1;
-- (the NOTICE names the request: "white-list entry requested: change request N")
SET client_min_messages = warning;
SELECT finsec.risk_list_add('white', 'customer', 'fraudster', reason => 'VIP, trust me') IS NULL AS no_entry_id;
SET client_min_messages = notice;
SELECT pg_temp.req('risk.list_white') AS w1 \gset
SELECT count(*) AS white_entries FROM finsec.risk_list_entry WHERE color = 'white' AND value = 'fraudster';
RESET SESSION AUTHORIZATION;
SELECT decision FROM finsec.risk_score(customer => 'fraudster', amount => 50000);
SELECT kind, target, state, requested_by, payload - 'expires_at' AS payload FROM finsec.change_request WHERE request_id = :w1;
-- the same through the request function (its id returned), and duplicates of it
SET SESSION AUTHORIZATION regress_rl_op1;
SELECT finsec.request_risk_list_white('customer', 'friend', reason => 'friend') AS w2 \gset
SELECT :w2 > :w1 AS filed;
SELECT pg_temp.try($$SELECT finsec.request_risk_list_white('customer', 'x', side => 'middle')$$);
SELECT pg_temp.try($$SELECT finsec.request_risk_list_white('planet', 'x')$$);
SELECT pg_temp.try($$SELECT finsec.request_risk_list_white('customer', 'x', expires_at => now() - interval '1 day')$$);
SELECT pg_temp.try($$SELECT finsec.request_risk_list_white('customer', 'x', case_id => -1)$$);
SELECT pg_temp.try($$SELECT finsec.request_risk_list_white('customer', NULL)$$);
-- the requester cannot approve, nor can another operator: an administrator approves
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :w1));
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rl_op2;
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :w1));
RESET SESSION AUTHORIZATION;
-- an administrator's own white request: self-approval refused, and the
-- kinds cannot be filed through request_change() (its ledger record would
-- carry the payload)
SET SESSION AUTHORIZATION regress_rl_adm1;
SET client_min_messages = warning;
SELECT finsec.risk_list_add('white', 'merchant', 'm-1', side => 'payee') IS NULL AS no_entry_id;
SET client_min_messages = notice;
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', pg_temp.req('risk.list_white')));
SELECT pg_temp.try($$SELECT finsec.request_change('risk.list_white', 'white customer', '{"entity_type": "customer", "value": "me", "side": "any"}')$$);
SELECT pg_temp.try($$SELECT finsec.request_change('risk.list_remove', 'entry 1', '{"entry_id": 1}')$$);
SELECT pg_temp.try($$SELECT finsec.request_change('risk.case_restore', 'risk_case:1', '{"case_id": 1, "entries": []}')$$);
SELECT finsec.reject(pg_temp.req('risk.list_white'), 'withdrawn');
-- a different administrator approves the operator's request: now it counts
SELECT finsec.approve(:w1) - 'entry_id' AS approved;
RESET SESSION AUTHORIZATION;
SELECT decision FROM finsec.risk_score(customer => 'fraudster', amount => 50000);
SELECT color, value, added_by, request_id = :w1 AS by_request FROM finsec.risk_list_entry WHERE value = 'fraudster';
SELECT state, decided_by FROM finsec.change_request WHERE request_id = :w1;
-- removing a white entry tightens: an operator does it at once
SET SESSION AUTHORIZATION regress_rl_op2;
SELECT finsec.risk_list_remove((SELECT entry_id FROM finsec.risk_list_entry WHERE value = 'fraudster' AND removed_at IS NULL), 'no VIP after all');
RESET SESSION AUTHORIZATION;
SELECT decision FROM finsec.risk_score(customer => 'fraudster', amount => 50000);
-- a stale white request: the same entry was listed meanwhile (by a superuser, at once)
SELECT finsec.risk_list_add('white', 'customer', 'friend') IS NOT NULL AS superuser_lists_at_once;
SET SESSION AUTHORIZATION regress_rl_adm2;
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :w2));
SELECT finsec.reject(:w2, 'listed meanwhile');
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------
-- 2. Removing a black entry is a request; approval pins the entry.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_rl_op1;
-- adding black entries stays single-person
SELECT finsec.risk_list_add('black', 'device', 'dev-mule', reason => 'mule device') AS b1 \gset
SELECT finsec.risk_list_add('black', 'phone', '+86 139-1111-2222', reason => 'scam line') AS b2 \gset
SET client_min_messages = warning;
SELECT finsec.risk_list_remove(:b1, 'customer says it is not a mule');
SET client_min_messages = notice;
SELECT pg_temp.req('risk.list_remove') AS r1 \gset
SELECT removed_at IS NULL AS still_listed FROM finsec.risk_list_entry WHERE entry_id = :b1;
RESET SESSION AUTHORIZATION;
SELECT decision FROM finsec.risk_score(customer => 'c2', amount => 1, device => 'dev-mule');
-- two requests for the same entry: the second one approved is stale
SET SESSION AUTHORIZATION regress_rl_op2;
SELECT finsec.request_risk_list_remove(:b1, 'duplicate request') AS r2 \gset
SELECT pg_temp.try(format('SELECT finsec.request_risk_list_remove(%s, %L)', :b1, ''));
SELECT pg_temp.try(format('SELECT finsec.request_risk_list_remove(%s, %L)', -1, 'none'));
SELECT pg_temp.try(format('SELECT finsec.request_risk_list_remove(%s, %L)',
	(SELECT entry_id FROM finsec.risk_list_entry WHERE value = 'friend' AND removed_at IS NULL), 'white'));
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rl_adm1;
SELECT finsec.approve(:r1) - 'entry_id' AS approved;
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :r2));
SELECT state FROM finsec.change_request WHERE request_id = :r2;
SELECT finsec.reject(:r2, 'stale');
RESET SESSION AUTHORIZATION;
SELECT decision FROM finsec.risk_score(customer => 'c2', amount => 1, device => 'dev-mule');
SELECT removed_by, removal_reason, removal_request = :r1 AS by_request FROM finsec.risk_list_entry WHERE entry_id = :b1;
-- an entry whose row was written after the request (a superuser extended it) is stale too
SET SESSION AUTHORIZATION regress_rl_op1;
SELECT finsec.request_risk_list_remove(:b2, 'number reassigned') AS r3 \gset
RESET SESSION AUTHORIZATION;
UPDATE finsec.risk_list_entry SET expires_at = now() + interval '1 year' WHERE entry_id = :b2;
SET SESSION AUTHORIZATION regress_rl_adm2;
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :r3));
RESET SESSION AUTHORIZATION;
SELECT removed_at IS NULL AS still_listed FROM finsec.risk_list_entry WHERE entry_id = :b2;
SELECT decision FROM finsec.risk_score(customer => 'c3', amount => 1, phone => '13911112222');
-- a fresh request is approved; in a superuser's session removal is at once
SET SESSION AUTHORIZATION regress_rl_op1;
SELECT finsec.request_risk_list_remove(:b2, 'number reassigned') AS r4 \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rl_adm2;
SELECT finsec.approve(:r4) - 'entry_id' AS approved;
RESET SESSION AUTHORIZATION;
SELECT finsec.risk_list_add('black', 'device', 'dev-su') AS b3 \gset
SELECT finsec.risk_list_remove(:b3, 'superuser');
SELECT removed_by = current_user AS removed_at_once, removal_request IS NULL AS no_request FROM finsec.risk_list_entry WHERE entry_id = :b3;

-- ---------------------------------------------------------------------
-- 3. A false positive closes the case at once; its list changes are a
--    request linked to the case.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_rl_op1;
SELECT finsec.risk_list_add('black', 'device', 'dev-fp', reason => 'suspected farm') AS b4 \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rl_app;
SELECT decision FROM finsec.risk_score(customer => 'cust-fp', amount => 1, device => 'dev-fp');
SELECT decision FROM finsec.risk_score(customer => 'cust-fp2', amount => 1, device => 'dev-fp');
RESET SESSION AUTHORIZATION;
SELECT finsec.flush_risk_decisions() >= 0 AS flushed;
SET SESSION AUTHORIZATION regress_rl_op1;
SELECT finsec.risk_case_open(max(decision_id)) AS k1 FROM finsec.risk_decision_log WHERE customer = 'cust-fp' \gset
SELECT finsec.risk_case_open(max(decision_id)) AS k2 FROM finsec.risk_decision_log WHERE customer = 'cust-fp2' \gset
SET client_min_messages = warning;
SELECT r->>'request_id' AS k1_req, r - 'case_id' - 'request_id' - 'entries_to_remove' AS result,
	   r->'entries_to_remove' = jsonb_build_array(:b4) AS pins_the_entry
  FROM finsec.risk_case_close(:k1, 'false_positive', 'device was resold', list_color => 'white') AS r \gset
SET client_min_messages = notice;
SELECT :'result'::jsonb AS result, :'pins_the_entry' AS pins_the_entry;
SELECT state, outcome, closed_by FROM finsec.risk_case WHERE case_id = :k1;
SELECT removed_at IS NULL AS still_listed FROM finsec.risk_list_entry WHERE entry_id = :b4;
SELECT count(*) AS white_entries FROM finsec.risk_list_entry WHERE value = 'cust-fp';
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :k1_req));
RESET SESSION AUTHORIZATION;
SELECT decision FROM finsec.risk_score(customer => 'cust-fp', amount => 1, device => 'dev-fp');
SELECT kind, target = 'risk_case:' || :k1 AS linked_to_case, requested_by, jsonb_array_length(payload->'entries') AS pinned,
	   payload->>'white_customer' AS white_customer
  FROM finsec.change_request WHERE request_id = :k1_req;
-- the second case on the same device: its restore pins the same entry
SET SESSION AUTHORIZATION regress_rl_op2;
SET client_min_messages = warning;
SELECT r->>'request_id' AS k2_req FROM finsec.risk_case_close(:k2, 'false_positive') AS r \gset
SET client_min_messages = notice;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rl_adm1;
SELECT finsec.approve(:k1_req) - 'case_id' - 'entries_removed' - 'entries_added' - 'request_id' AS approved;
-- now stale: the entry it pinned was removed by the first restore
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :k2_req));
SELECT finsec.reject(:k2_req, 'already restored by the other case');
RESET SESSION AUTHORIZATION;
SELECT decision FROM finsec.risk_score(customer => 'cust-fp', amount => 50000, device => 'dev-fp');
SELECT color, entity_type, value, added_by, case_id = :k1 AS tagged, request_id = :k1_req AS by_request
  FROM finsec.risk_list_entry WHERE value IN ('cust-fp', 'dev-fp') ORDER BY entry_id;
SELECT case_id = :k1 AS k1, array_agg(h->>'action' ORDER BY o) AS steps
  FROM finsec.risk_case, jsonb_array_elements(history) WITH ORDINALITY AS x(h, o)
 WHERE case_id IN (:k1, :k2) GROUP BY case_id ORDER BY case_id;
-- a false positive with nothing to restore files nothing
SET SESSION AUTHORIZATION regress_rl_app;
SELECT decision FROM finsec.risk_score(customer => 'cust-big', amount => 50000);
RESET SESSION AUTHORIZATION;
SELECT finsec.flush_risk_decisions() >= 0 AS flushed;
SET SESSION AUTHORIZATION regress_rl_op1;
SELECT finsec.risk_case_open(max(decision_id)) AS k3 FROM finsec.risk_decision_log WHERE customer = 'cust-big' \gset
SELECT r->'request_id' AS request_id, r->'entries_to_remove' AS to_remove FROM finsec.risk_case_close(:k3, 'false_positive') AS r;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------
-- 4. Both steps are in the ledger; never a phone number.
-- ---------------------------------------------------------------------
SELECT event_type, split_part(object, ':', 1) AS object,
	   detail->>'request_id' IS NOT NULL AS names_request,
	   detail::text ~ '13911112222|139-1111' AS leaks
  FROM finsec.audit
 WHERE finsec_seq > :seq0
   AND ((event_type LIKE 'change.%' AND object ~ '^risk\.(list_|case_restore)')
		OR (event_type LIKE 'risk.list%' AND detail ? 'request_id')
		OR event_type LIKE 'risk.case_restore%')
 ORDER BY finsec_seq;
SELECT count(*) AS phone_in_ledger FROM finsec.audit
 WHERE finsec_seq > :seq0 AND (detail::text LIKE '%13911112222%' OR description LIKE '%13911112222%');

-- The application cannot file list requests.
SET SESSION AUTHORIZATION regress_rl_app;
SELECT pg_temp.try($$SELECT finsec.request_risk_list_white('customer', 'me')$$);
SELECT pg_temp.try($$SELECT finsec.request_risk_list_remove(1, 'x')$$);
RESET SESSION AUTHORIZATION;

UPDATE finsec.risk_ruleset SET state = 'retired', retired_at = now() WHERE state = 'active';
SELECT finsec.disable_risk('rl_pay');
DROP TABLE rl_pay;
DROP ROLE regress_rl_op1, regress_rl_op2, regress_rl_adm1, regress_rl_adm2, regress_rl_app;
