--
-- 136_credit_dispute: disputes of credit records (src/credit/dispute.c,
-- migration section 6; 004 9.8, 9.4.2 c; 征信业管理条例 art. 25):
-- open (by or for the record's subject, kept as its pseudonym), checks,
-- verified / unconfirmed (personal statement sealed with the record's
-- period) / withdrawn, corrections only through the two-person kind
-- credit.correction (a new row, the original kept; no clear value in the
-- request), statutory deadlines with a fixed clock (received_at in the
-- past), every refusal with its SQLSTATE.
--
-- Runs in a database of its own (keys, a registered table).
--
SET client_min_messages = warning;
CREATE DATABASE regress_dispute;
\c regress_dispute
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_dp_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_dp_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_dp_owner LOGIN IN ROLE finsec_app;
CREATE ROLE regress_dp_reg LOGIN IN ROLE finsec_admin, regress_dp_owner;
CREATE ROLE regress_dp_handler LOGIN IN ROLE finsec_app;
CREATE ROLE regress_dp_handler2 LOGIN IN ROLE finsec_app;
CREATE ROLE regress_dp_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_dp_auditor LOGIN IN ROLE finsec_auditor;
GRANT CREATE ON SCHEMA public TO regress_dp_owner;

-- keys, the period policy and the keys of the periods used below
SET SESSION AUTHORIZATION regress_dp_a;
SELECT finsec.key_generate('credit.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('credit.fp', 'fingerprint', 'hmac-sha256') AS k2 \gset
SELECT finsec.key_generate('credit.pseudonym', 'pseudonym', 'hmac-sha256') AS k3 \gset
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS k4 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256') AS k5 \gset
SET SESSION AUTHORIZATION regress_dp_b;
SELECT finsec.approve(:k1) ->> 'state', finsec.approve(:k2) ->> 'state', finsec.approve(:k3) ->> 'state',
	   finsec.approve(:k4) ->> 'state', finsec.approve(:k5) ->> 'state';
SET SESSION AUTHORIZATION regress_dp_a;
SELECT finsec.protect_policy_create('credit_p', enc_key => 'credit.enc', fp_key => 'credit.fp',
									mask => 'name', period_unit => 'month', fp_scope => 'period') > 0 AS created;
SELECT finsec.protect_period_keys('credit_p', current_date - 400, current_date + 40, 'test periods') AS pk \gset
SET SESSION AUTHORIZATION regress_dp_b;
SELECT finsec.approve(:pk) ->> 'policy' AS policy;

-- institutions: a provider and a user institution, active
SET SESSION AUTHORIZATION regress_dp_a;
SELECT finsec.credit_institution_apply('B1000001', 'Bank One', 'provider_user');
SELECT finsec.credit_institution_apply('P2000002', 'Provider Two', 'provider');
SELECT finsec.credit_institution_activate('B1000001', 'SA-1', 'CT-1') AS a1 \gset
SELECT finsec.credit_institution_activate('P2000002', 'SA-2', 'CT-2') AS a2 \gset
SET SESSION AUTHORIZATION regress_dp_b;
SELECT finsec.approve(:a1) ->> 'to', finsec.approve(:a2) ->> 'to';
RESET SESSION AUTHORIZATION;
INSERT INTO finsec.credit_user (role_name, institution, duties) VALUES
	('regress_dp_handler', 'B1000001', '{query,dispute}'),
	('regress_dp_handler2', 'P2000002', '{dispute}'),
	('regress_dp_app', 'B1000001', '{query}');

-- the registered table, three records of two subjects
SET SESSION AUTHORIZATION regress_dp_owner;
CREATE TABLE loan (
	id			bigint PRIMARY KEY,
	name		finsec.protected_text(credit_p) NOT NULL,
	id_no		finsec.protected_resident_id(credit_p) NOT NULL,
	overdue		finsec.protected_text(credit_p),
	amount		numeric,
	closed_on	date NOT NULL,
	inst		text);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_dp_reg;
SELECT finsec.register_credit_table('loan', key => 'id', subject => 'id_no', behaviour_end => 'closed_on',
	policy => 'credit_p', identifiers => '{name}', sensitive => '{overdue}', institution => 'inst') IS NOT NULL
	AS registered;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_dp_owner;
INSERT INTO loan VALUES
	(1, '张三', '11010519491231002X', '90 days', 12000, current_date - 30, 'B1000001'),
	(2, '张三', '11010519491231002X', 'none', 5000, current_date - 300, 'P2000002'),
	(3, '李四', '110105198001011238', '30 days', 800, current_date - 10, 'B1000001');
RESET SESSION AUTHORIZATION;

\set VERBOSITY sqlstate
-- ---- opening ------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_dp_handler;
-- the subject of record 1, written in lower case (one subject: normalised)
SELECT finsec.credit_dispute_open('loan', '1', '11010519491231002x', NULL, 'regress_dp_handler',
								  now() - interval '25 days') AS d1 \gset
-- refused: another subject's record (S9D61), no such record (S9D60), a
-- bad key (22P02), an unregistered table (S9D68), a handler without the
-- duty (S9D62), the wrong institution (S9D60), received in the future
-- (S9D67), a second open dispute of the record (S9D63), NULLs (22004)
SELECT finsec.credit_dispute_open('loan', '3', '11010519491231002X', NULL, 'regress_dp_handler');
SELECT finsec.credit_dispute_open('loan', '99', '11010519491231002X', NULL, 'regress_dp_handler');
SELECT finsec.credit_dispute_open('loan', 'one', '11010519491231002X', NULL, 'regress_dp_handler');
SELECT finsec.credit_dispute_open('pg_class', '1', '11010519491231002X', NULL, 'regress_dp_handler');
SELECT finsec.credit_dispute_open('loan', '2', '11010519491231002X', NULL, 'regress_dp_app');
SELECT finsec.credit_dispute_open('loan', '2', '11010519491231002X', 'B1000001', 'regress_dp_handler');
SELECT finsec.credit_dispute_open('loan', '2', '11010519491231002X', NULL, 'regress_dp_handler', now() + interval '1 day');
SELECT finsec.credit_dispute_open('loan', '1', '11010519491231002X', NULL, 'regress_dp_handler');
SELECT finsec.credit_dispute_open('loan', '2', NULL, NULL, 'regress_dp_handler');
-- record 2 (provider P2000002), handled at P2000002; record 3 received today
SELECT finsec.credit_dispute_open('loan', '2', '11010519491231002X', NULL, 'regress_dp_handler2',
								  now() - interval '18 days') AS d2 \gset
SELECT finsec.credit_dispute_open('loan', '3', '110105198001011238', 'B1000001', 'regress_dp_handler') AS d3 \gset
RESET SESSION AUTHORIZATION;
-- an application role without the duty dispute cannot open one
SET SESSION AUTHORIZATION regress_dp_app;
SELECT finsec.credit_dispute_open('loan', '3', '110105198001011238', NULL, 'regress_dp_handler');
RESET SESSION AUTHORIZATION;

-- what is kept: the pseudonym (the same for both records of one subject,
-- another for the other subject), the provider, the deadline 20 days on
SELECT id = :d1 AS d1, record_key, institution, handler, status,
	   subject_pseudonym ~ '^p1\.[0-9a-f]{64}$' AS pseudonym_form,
	   due_at - received_at AS deadline, opened_by
  FROM finsec.credit_dispute ORDER BY id;
SELECT count(DISTINCT subject_pseudonym) AS subjects FROM finsec.credit_dispute;
SELECT (SELECT subject_pseudonym FROM finsec.credit_dispute WHERE id = :d1)
	   = finsec.credit_pseudonym('11010519491231002X') AS same_as_credit_pseudonym;
-- nothing in clear in the dispute, its ledger row or its refusals
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT count(*) AS clear_subject_anywhere
  FROM finsec.audit WHERE detail::text LIKE '%11010519491231002%' OR description LIKE '%11010519491231002%'
	 OR detail::text LIKE '%张三%';
SELECT event_type, success, detail ->> 'sqlstate' AS sqlstate, count(*)
  FROM finsec.audit WHERE event_type = 'credit.dispute_open' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- ---- deadlines (fixed clock: received_at in the past) ---------------------------
-- d1 received 25 days ago: 5 days overdue; d2 18 days ago: due in 2 days;
-- d3 today: due in 20 days, listed only with a window of 21 days
SELECT id = :d1 AS is_d1, id = :d2 AS is_d2, overdue, round(extract(epoch FROM time_left) / 86400) AS days_left
  FROM finsec.credit_disputes_overdue() ORDER BY due_at;
SELECT count(*) FROM finsec.credit_disputes_overdue('21 days');
SELECT count(*) FROM finsec.credit_disputes_overdue('0');
-- the deadline is the server's (1 to 20 days, the statutory maximum): not a session's to change
SET finsec.credit_dispute_days = 19;
SHOW finsec.credit_dispute_days;

-- ---- checks -------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_dp_handler;
SELECT finsec.credit_dispute_check(:d1, 'core banking ledger', '还款记录显示2026年已结清', false);
SELECT finsec.credit_dispute_check(:d1, 'branch paper file', 'the overdue was recorded in error', false);
-- not the handler of d2 (S9D62 family: 42501), bad input (S9D67), NULL (22004), no dispute (42704)
SELECT finsec.credit_dispute_check(:d2, 'x', 'y', true);
SELECT finsec.credit_dispute_check(:d1, '', 'y', true);
SELECT finsec.credit_dispute_check(:d1, 'x', repeat('y', 4001), true);
SELECT finsec.credit_dispute_check(:d1, 'x', NULL, true);
SELECT finsec.credit_dispute_check(999999, 'x', 'y', true);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_dp_handler2;
SELECT finsec.credit_dispute_check(:d2, 'provider system', 'record confirmed as reported', true);
RESET SESSION AUTHORIZATION;
-- a finding is sealed with the record's period, never in clear
SELECT dispute_id = :d1 AS d1, check_no, source, confirms, checked_by,
	   position(convert_to('结清', 'UTF8') IN finding) = 0 AND position('error'::bytea IN finding) = 0 AS finding_not_in_clear,
	   (finsec._credit_sealed_info(finding)).period
		 = to_char(current_date - CASE dispute_id WHEN :d1 THEN 30 ELSE 300 END, 'YYYYMM')::int AS period_of_record,
	   (finsec._credit_sealed_info(finding)).policy_id = finsec._protect_policy_id('credit_p') AS policy,
	   (finsec._credit_sealed_info(finding)).readable
  FROM finsec.credit_dispute_check ORDER BY dispute_id, check_no;
SELECT status FROM finsec.credit_dispute WHERE id IN (:d1, :d2) ORDER BY id;

-- ---- resolving ------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_dp_handler2;
-- verified: d2's record can no longer be corrected
SELECT finsec.credit_dispute_resolve(:d2, 'corrected');            -- S9D69
SELECT finsec.credit_dispute_resolve(:d2, 'accepted');             -- S9D67
SELECT finsec.credit_dispute_resolve(:d2, 'verified', 'a statement');  -- S9D67
SELECT finsec.credit_dispute_resolve(:d2, 'verified');
SELECT finsec.credit_dispute_resolve(:d2, 'withdrawn');            -- S9D63: closed
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_dp_handler;
-- d3: unconfirmed needs a check (S9D64), verified a confirming one (S9D64)
SELECT finsec.credit_dispute_resolve(:d3, 'unconfirmed', '本人对该逾期记录有异议');
SELECT finsec.credit_dispute_check(:d3, 'core banking ledger', 'no record either way', false);
SELECT finsec.credit_dispute_resolve(:d3, 'verified');
SELECT finsec.credit_dispute_resolve(:d3, 'unconfirmed', '');      -- S9D67
SELECT finsec.credit_dispute_resolve(:d3, 'unconfirmed', '本人对该逾期记录有异议，系银行系统错误所致');
RESET SESSION AUTHORIZATION;
-- the statement: sealed under the key of record 3's period
SELECT dispute_id = :d3 AS d3, record_key, recorded_by,
	   position(convert_to('异议', 'UTF8') IN statement) = 0 AS not_in_clear,
	   (finsec._credit_sealed_info(statement)).period = to_char(current_date - 10, 'YYYYMM')::int AS period_of_record,
	   (finsec._credit_sealed_info(statement)).readable
  FROM finsec.credit_statement;
SELECT id = :d3 AS d3, status, closed_at IS NOT NULL AS closed FROM finsec.credit_dispute WHERE id = :d3;
-- what credit_query shows with record 3 (finsec_credit_statements): the
-- statement in clear for the querying institution; none for record 1
SELECT jsonb_array_length(s) AS n, s -> 0 ->> 'statement' AS statement, s -> 0 ->> 'shredded' AS shredded,
	   (s -> 0 ->> 'dispute_id')::bigint = :d3 AS of_d3
  FROM finsec._credit_statements('loan', '3') s;
SELECT finsec._credit_statements('loan', '1');

-- ---- corrections: two-person, a new row, the original kept -------------------------
SET SESSION AUTHORIZATION regress_dp_a;
-- d2 was verified: its record cannot be corrected (not even by a new dispute)
SELECT finsec.credit_correction(:d2, '{"id": 20}');                -- S9D63 (closed)
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_dp_handler2;
SELECT finsec.credit_dispute_open('loan', '2', '11010519491231002X', NULL, 'regress_dp_handler2') AS d4 \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_dp_a;
SELECT finsec.credit_correction(:d4, '{"id": 20, "name": "张三", "id_no": "11010519491231002X", "closed_on": "2026-01-01"}');  -- S9D65
-- d1: bad rows refused when requested
SELECT finsec.credit_correction(:d1, '[1]');                                              -- S9D66
SELECT finsec.credit_correction(:d1, '{"id": 10, "nosuch": 1}');                          -- S9D66
SELECT finsec.credit_correction(:d1, ('{"id": 10, "name": "张三"}')::jsonb);                       -- S9D66: no subject
SELECT finsec.credit_correction(:d1, ('{"id": 1, "name": "张三", "id_no": "11010519491231002X", "closed_on": "' || (current_date - 30) || '"}')::jsonb);   -- S9D66: same key
SELECT finsec.credit_correction(:d1, ('{"id": 3, "name": "张三", "id_no": "11010519491231002X", "closed_on": "' || (current_date - 30) || '"}')::jsonb);   -- S9D66: taken key
SELECT finsec.credit_correction(:d1, ('{"id": 10, "name": "李四", "id_no": "110105198001011238", "closed_on": "' || (current_date - 30) || '"}')::jsonb);  -- S9D61: another subject
SELECT finsec.credit_correction(:d1, ('{"id": 10, "name": "张三", "id_no": "11010519491231002X", "closed_on": "' || (current_date - 30) || '", "amount": {"x": 1}}')::jsonb);  -- S9D66
SELECT finsec.credit_correction(:d1, ('{"id": 10, "name": "张三", "id_no": "not an id", "closed_on": "' || (current_date - 30) || '"}')::jsonb);  -- 22P02-like (the type's own check)
-- the correction of d1: the overdue removed
SELECT finsec.credit_correction(:d1, jsonb_build_object('id', 10, 'name', '张三', 'id_no', '11010519491231002x',
	'overdue', 'none', 'amount', 12000, 'closed_on', current_date - 30, 'inst', 'B1000001'),
	'overdue recorded in error (checks 1, 2)') AS c1 \gset
SELECT finsec.credit_correction(:d1, '{"id": 11}');                                       -- S9D63: one pending
-- the request holds no clear value: personal columns sealed, others as text
SELECT jsonb_object_keys(payload -> 'columns') AS col,
	   payload -> 'columns' -> jsonb_object_keys(payload -> 'columns') ? 's' AS sealed
  FROM finsec.change_request WHERE request_id = :c1 ORDER BY 1;
SELECT payload::text LIKE '%张三%' OR payload::text LIKE '%1101051949%' OR payload::text LIKE '%none%' AS clear_in_request
  FROM finsec.change_request WHERE request_id = :c1;
SELECT finsec.approve(:c1);                                        -- S9R01: the requester
RESET SESSION AUTHORIZATION;
-- not approved yet: no new row
SELECT count(*) AS rows_before FROM loan;
SET SESSION AUTHORIZATION regress_dp_b;
SELECT finsec.approve(:c1) ->> 'status' AS status;
RESET SESSION AUTHORIZATION;
-- the original row is untouched, the correction a new row of the same subject
-- (read here by the superuser, the table's direct reads being for auditors)
SELECT id, finsec.reveal(name, 'regress check') = '张三' AS same_name,
	   finsec.reveal(id_no, 'regress check') = '11010519491231002X' AS same_subject,
	   finsec.reveal(overdue, 'regress check') AS overdue, amount, closed_on = current_date - 30 AS closed_on_ok, inst,
	   (finsec.protected_info(id_no)).period = to_char(closed_on, 'YYYYMM')::int AS sealed_in_its_period
  FROM loan WHERE id IN (1, 2, 10) ORDER BY id;
SELECT dispute_id = :d1 AS d1, record_key, correction_key, request_id = :c1 AS by_request, requested_by, approved_by
  FROM finsec.credit_correction;
SELECT id = :d1 AS d1, status FROM finsec.credit_dispute WHERE id = :d1;
-- the table still verifies (a new row appended, nothing changed)
SELECT relation, ok FROM finsec.audit_verify('loan');

-- ---- the dispute registers are append-only ---------------------------------------
UPDATE finsec.credit_dispute_check SET confirms = true;
DELETE FROM finsec.credit_statement;
TRUNCATE finsec.credit_correction;
-- and not the application's to read or write
SET SESSION AUTHORIZATION regress_dp_app;
SELECT count(*) FROM finsec.credit_statement;
SELECT finsec._credit_record('loan', '1', NULL);
SELECT finsec._credit_seal_for_record('loan', current_date, 'x');
SELECT finsec._credit_correction_insert('loan', '{}');
RESET SESSION AUTHORIZATION;

-- ---- attacks -------------------------------------------------------------------
-- a handler's SECURITY DEFINER wrapper does not lend its duty: finsec sees
-- the role that calls it (the outer role), here one without the duty
RESET SESSION AUTHORIZATION;
GRANT CREATE ON SCHEMA public TO regress_dp_handler2;
SET SESSION AUTHORIZATION regress_dp_handler2;
CREATE FUNCTION public.lend_check(bigint) RETURNS integer LANGUAGE sql SECURITY DEFINER
	AS $$ SELECT finsec.credit_dispute_check($1, 'wrapper', 'lent', true) $$;
GRANT EXECUTE ON FUNCTION public.lend_check(bigint) TO regress_dp_app;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_dp_app;
SELECT public.lend_check(:d4);                                            -- 42501
RESET SESSION AUTHORIZATION;
-- SET ROLE to the handler by a login that is a member of it: it acts as
-- the handler (that is what membership means), and is recorded as such
GRANT regress_dp_handler2 TO regress_dp_app;
SET SESSION AUTHORIZATION regress_dp_app;
SET ROLE regress_dp_handler2;
SELECT finsec.credit_dispute_check(:d4, 'provider system', 'record confirmed again', true);
RESET ROLE;
RESET SESSION AUTHORIZATION;
REVOKE regress_dp_handler2 FROM regress_dp_app;
SELECT checked_by FROM finsec.credit_dispute_check WHERE dispute_id = :d4;
-- a correction request filed around credit_correction with a forged,
-- already "sealed" payload: prepare takes only the row and seals it again
-- (on a new dispute of record 3, whose earlier one was unconfirmed)
SET SESSION AUTHORIZATION regress_dp_handler;
SELECT finsec.credit_dispute_open('loan', '3', '110105198001011238', NULL, 'regress_dp_handler') AS d5 \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_dp_a;
SELECT finsec.request_change('credit.correction', :'d5', '{"columns": {"id": {"t": "30"}}, "key": "30"}');   -- S9D66
SELECT count(*) AS correction_requests FROM finsec.change_request WHERE kind = 'credit.correction';
SELECT finsec.request_change('credit.correction', 'x1', '{"row": {}}');            -- 22023
RESET SESSION AUTHORIZATION;
-- the internal steps, called directly even by an administrator: refused
SET SESSION AUTHORIZATION regress_dp_a;
SELECT finsec._credit_correction_seal('loan', '{"id": 1}', 'p1.00');              -- 42501
SELECT finsec._credit_correction_apply(1, 'credit.correction', '1', '{}');       -- 42501
SELECT finsec._credit_dispute_record('loan', '1', NULL, 'x');                    -- 42501
RESET SESSION AUTHORIZATION;
-- the disputes table itself is not writable by an administrator
SET SESSION AUTHORIZATION regress_dp_a;
UPDATE finsec.credit_dispute SET status = 'verified' WHERE id = :d4;              -- 42501
INSERT INTO finsec.credit_statement VALUES (:d4, 'loan', '2', '\x00', now(), 'x'); -- 42501
RESET SESSION AUTHORIZATION;

-- ---- the ledger ------------------------------------------------------------------
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT event_type, action, success, detail ->> 'sqlstate' AS sqlstate, count(*)
  FROM finsec.audit WHERE event_type LIKE 'credit.dispute%' OR event_type = 'credit.correction'
 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;
SELECT count(*) AS clear_values_in_ledger
  FROM finsec.audit
 WHERE detail::text ~ '(张三|李四|1101051949|结清|异议|error)' OR description ~ '(张三|李四|1101051949|结清|异议)';

-- refusals name what to do (messages, details and hints)
\set SHOW_CONTEXT never
\set VERBOSITY default
SET SESSION AUTHORIZATION regress_dp_handler;
SELECT finsec.credit_dispute_open('loan', '3', '11010519491231002X', NULL, 'regress_dp_handler');
SELECT finsec.credit_dispute_resolve(:d4, 'corrected');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_dp_a;
SELECT finsec.credit_correction(:d4, '{"id": 21}');
SELECT finsec.credit_correction(:d1, '{"id": 21}');
RESET SESSION AUTHORIZATION;

-- ---- shredded with the record ----------------------------------------------------
-- record 2's dispute d4 ends unconfirmed with a statement; then the keys of
-- record 2's (ended) period are destroyed: the statement and the findings
-- of its disputes can no longer be opened, and the record can no longer
-- be disputed
\set VERBOSITY sqlstate
SET SESSION AUTHORIZATION regress_dp_handler2;
SELECT finsec.credit_dispute_resolve(:d4, 'unconfirmed', '该记录并非本人所为');
RESET SESSION AUTHORIZATION;
SELECT s -> 0 ->> 'statement' AS before_shred FROM finsec._credit_statements('loan', '2') s;
SET SESSION AUTHORIZATION regress_dp_a;
SELECT finsec.protect_shred('credit_p', current_date - 300, 'retention test') AS shred \gset
SET SESSION AUTHORIZATION regress_dp_b;
SELECT finsec.approve(:shred) ->> 'period' = to_char(current_date - 300, 'YYYYMM') AS shredded_period;
RESET SESSION AUTHORIZATION;
SELECT s -> 0 ->> 'statement' AS statement, s -> 0 ->> 'shredded' AS shredded
  FROM finsec._credit_statements('loan', '2') s;
SELECT d.record_key, (finsec._credit_sealed_info(c.finding)).readable AS finding_readable
  FROM finsec.credit_dispute_check c JOIN finsec.credit_dispute d ON d.id = c.dispute_id
 WHERE d.record_key IN ('1', '2') ORDER BY c.dispute_id, c.check_no;
SET SESSION AUTHORIZATION regress_dp_handler2;
SELECT finsec.credit_dispute_open('loan', '2', '11010519491231002X', NULL, 'regress_dp_handler2');   -- S9D60
RESET SESSION AUTHORIZATION;
\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_dispute;
DROP ROLE regress_dp_a, regress_dp_b, regress_dp_owner, regress_dp_reg, regress_dp_handler, regress_dp_handler2,
	regress_dp_app, regress_dp_auditor;
