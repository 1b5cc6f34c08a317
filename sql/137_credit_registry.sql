--
-- 137_credit_registry: the credit institution registry, data files and
-- the exchange log (src/credit/registry.c, migration section 6;
-- 004 9.1, 9.2, 9.4.1 b-d, 9.6 a).  Every refusal with its SQLSTATE;
-- status changes two-person where the clause asks for it; registers
-- append-only and hash-chained; refusals durably in the ledger.
--
SET client_min_messages = warning;
CREATE ROLE regress_reg_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_reg_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_reg_op LOGIN IN ROLE finsec_operator;
CREATE ROLE regress_reg_loader LOGIN IN ROLE finsec_app;
CREATE ROLE regress_reg_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_reg_auditor LOGIN IN ROLE finsec_auditor;
\set VERBOSITY sqlstate

-- ---- institutions: apply --------------------------------------------------
SET SESSION AUTHORIZATION regress_reg_a;
SELECT finsec.credit_institution_apply('B1000001', '某某银行', 'provider_user');
SELECT finsec.credit_institution_apply('P2000002', 'Provider Two', 'provider');
SELECT finsec.credit_institution_apply('U3000003', 'User Three', 'user');
-- bad input: each refused (S9D70), a code taken (S9D71), NULLs (22004)
SELECT finsec.credit_institution_apply('b1000001', 'lower case', 'provider');
SELECT finsec.credit_institution_apply('ABC', 'too short', 'provider');
SELECT finsec.credit_institution_apply(repeat('A', 33), 'too long', 'provider');
SELECT finsec.credit_institution_apply('X4000004', '', 'provider');
SELECT finsec.credit_institution_apply('X4000004', E'new\nline', 'provider');
SELECT finsec.credit_institution_apply('X4000004', 'bad kind', 'bank');
SELECT finsec.credit_institution_apply('B1000001', 'again', 'provider');
SELECT finsec.credit_institution_apply(NULL, 'x', 'provider');
SELECT code, name, kind, status, status_reason FROM finsec.credit_institution ORDER BY code;
RESET SESSION AUTHORIZATION;
-- not for an application or an operator; and the table itself is not writable
SET SESSION AUTHORIZATION regress_reg_app;
SELECT finsec.credit_institution_apply('X4000004', 'app', 'provider');
INSERT INTO finsec.credit_institution (code, name, kind, status) VALUES ('X4000004', 'direct', 'provider', 'active');
UPDATE finsec.credit_institution SET status = 'active';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_reg_op;
SELECT finsec.credit_institution_apply('X4000004', 'op', 'provider');
SELECT finsec.credit_institution_suspend('B1000001', 'operator');
RESET SESSION AUTHORIZATION;

-- ---- activation: two-person, with the assessment and the test ---------------
SET SESSION AUTHORIZATION regress_reg_a;
SELECT finsec.credit_institution_activate('B1000001', '', 'connection test passed');   -- S9D79
SELECT finsec.credit_institution_activate('B1000001', 'assessment 2026-11 passed', NULL);  -- S9D79
SELECT finsec.credit_institution_activate('NOSUCH01', 'a', 't');  -- 42704
SELECT finsec.credit_institution_activate('B1000001', 'security assessment SA-2026-11 passed',
										  'connection test CT-17 passed', 'access granted') AS act_b \gset
SELECT finsec.credit_institution_activate('P2000002', 'SA-2026-12', 'CT-18') AS act_p \gset
SELECT finsec.credit_institution_activate('U3000003', 'SA-2026-13', 'CT-19') AS act_u \gset
-- not yet active; the requester cannot approve its own request
SELECT status FROM finsec.credit_institution WHERE code = 'B1000001';
SELECT finsec.approve(:act_b);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_reg_b;
SELECT finsec.approve(:act_b) ->> 'to' AS b, finsec.approve(:act_p) ->> 'to' AS p,
	   finsec.approve(:act_u) ->> 'to' AS u;
SELECT code, status, status_reason, status_by, request_id = :act_b AS by_request
  FROM finsec.credit_institution ORDER BY code;
-- an active institution cannot be activated again (checked when requested)
SELECT finsec.credit_institution_activate('B1000001', 'a', 't');  -- S9D72
-- suspension: immediate, needs a reason, only of an active institution
SELECT finsec.credit_institution_suspend('P2000002', NULL);
SELECT finsec.credit_institution_suspend('P2000002', 'late files, under review') ->> 'to';
SELECT finsec.credit_institution_suspend('P2000002', 'twice');   -- S9D72
SELECT code, status, status_reason FROM finsec.credit_institution WHERE code = 'P2000002';
RESET SESSION AUTHORIZATION;

-- ---- data files -------------------------------------------------------------
-- a credit user of B1000001 with the duty submit may register its files;
-- another application role may not
INSERT INTO finsec.credit_user (role_name, institution, duties) VALUES
	('regress_reg_loader', 'B1000001', '{submit}'),
	('regress_reg_app', 'B1000001', '{query}');
SET SESSION AUTHORIZATION regress_reg_loader;
SELECT finsec.credit_file_register('B1000001', 'B1000001_20261201_01.txt',
								   convert_to('rec1|rec2|rec3|rec4', 'UTF8'), records => 4) AS f1 \gset
-- the register is not the loader's to read
SELECT id = :f1 AS same, institution, name, sha256 = encode(sha256(convert_to('rec1|rec2|rec3|rec4', 'UTF8')), 'hex') AS sha_ok,
	   bytes, records, loaded, rejected, feedback_sent_at IS NULL AS no_feedback
  FROM finsec.credit_data_files;
-- the same content again: refused (it would be loaded twice)
SELECT finsec.credit_file_register('B1000001', 'renamed.txt', convert_to('rec1|rec2|rec3|rec4', 'UTF8'));
SELECT finsec.credit_file_register('B1000001', 'by hash', sha256 => upper(encode(sha256(convert_to('rec1|rec2|rec3|rec4', 'UTF8')), 'hex')));
-- content and hash, neither, a bad hash, a bad name, negative records
SELECT finsec.credit_file_register('B1000001', 'both', '\x00', repeat('a', 64));
SELECT finsec.credit_file_register('B1000001', 'neither');
SELECT finsec.credit_file_register('B1000001', 'badhash', sha256 => 'xyz');
SELECT finsec.credit_file_register('B1000001', E'bad\tname', '\x01');
SELECT finsec.credit_file_register('B1000001', 'neg', '\x02', records => -1);
-- another institution's files: not this loader's
SELECT finsec.credit_file_register('U3000003', 'other', '\x03');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_reg_app;
SELECT finsec.credit_file_register('B1000001', 'app', '\x04');   -- 42501: no duty submit
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_reg_op;
-- the institution must be an active provider
SELECT finsec.credit_file_register('P2000002', 'suspended', '\x05');  -- S9D74
SELECT finsec.credit_file_register('U3000003', 'a user', '\x06');     -- S9D74
SELECT finsec.credit_file_register('NOSUCH01', 'unknown', '\x07');    -- S9D74
SELECT finsec.credit_file_register('B1000001', 'B1000001_20261201_02.txt', sha256 => repeat('ab', 32)) AS f2 \gset

-- load results: counts add up to the records, one reason per rejected record
SELECT finsec.credit_file_feedback(:f1);                                     -- S9D77: no result yet
SELECT finsec.credit_file_result(:f1, 3, 0);                                 -- S9D76: 3 + 0 <> 4
SELECT finsec.credit_file_result(:f1, 2, 2, '{"1": "bad ID"}');              -- S9D76: 1 reason for 2
SELECT finsec.credit_file_result(:f1, 2, 2, '{"1": "bad ID", "4": "x"}');    -- S9D76: index 4 of 4 records
SELECT finsec.credit_file_result(:f1, 2, 2, '{"1": "bad ID", "01": "x"}');   -- S9D76: not an index
SELECT finsec.credit_file_result(:f1, 2, 2, '{"1": "bad ID", "2": ""}');     -- S9D76: empty reason
SELECT finsec.credit_file_result(:f1, 2, 2, '{"1": "bad ID", "2": 7}');      -- S9D76: not text
SELECT finsec.credit_file_result(:f1, 2, 2, '["1"]');                        -- S9D76: not an object
SELECT finsec.credit_file_result(:f1, -1, 5, '{}');                          -- S9D76
SELECT finsec.credit_file_result(:f1, 2, 2, '{"1": "bad resident ID check digit", "3": "behaviour end missing"}');
SELECT finsec.credit_file_result(:f1, 4, 0);                                 -- S9D77: once
SELECT finsec.credit_file_result(999999, 1, 0);                              -- 42704
-- no records declared: indexes below loaded + rejected
SELECT finsec.credit_file_result(:f2, 1, 1, '{"2": "x"}');                   -- S9D76
SELECT finsec.credit_file_result(:f2, 1, 1, '{"1": "duplicate record key"}') ->> 'rejected';
-- feedback: a failed sending is logged and can be retried; sent once
SELECT finsec.credit_file_feedback(:f1, false, 'B1000001-frontend') IS NULL AS not_sent;
SELECT finsec.credit_file_feedback(:f1) IS NOT NULL AS sent;
SELECT finsec.credit_file_feedback(:f1);                                     -- S9D77
SELECT name, records, loaded, rejected, rejections, feedback_sent_at IS NOT NULL AS feedback_sent
  FROM finsec.credit_data_files ORDER BY id;

-- ---- the exchange log -------------------------------------------------------
SELECT finsec.credit_exchange_log('PBOC-CRC', 'out', 'data_file', true, 'B1000001', :f1, 'forwarded') > 0 AS logged;
SELECT finsec.credit_exchange_log('PBOC-CRC', 'out', 'query', false, detail => 'timeout') > 0 AS logged;
SELECT finsec.credit_exchange_log('PBOC-CRC', 'sideways', 'query', true);     -- S9D76
SELECT finsec.credit_exchange_log('PBOC-CRC', 'in', 'Query Result', true);    -- S9D76
SELECT finsec.credit_exchange_log('', 'in', 'query', true);                   -- S9D76
SELECT finsec.credit_exchange_log('PBOC-CRC', 'in', 'query', true, detail => repeat('x', 1001));  -- S9D76
SELECT finsec.credit_exchange_log('PBOC-CRC', 'in', 'query', true, 'NOSUCH01');                 -- S9D74
SELECT finsec.credit_exchange_log('PBOC-CRC', 'in', 'query', true, 'U3000003', :f1);             -- S9D76: not its file
SELECT finsec.credit_exchange_log('PBOC-CRC', 'in', 'query', NULL);                             -- 22004
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_reg_app;
SELECT finsec.credit_exchange_log('PBOC-CRC', 'in', 'query', true, 'B1000001');   -- 42501
SELECT count(*) FROM finsec.credit_exchange;                                    -- 42501
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_reg_auditor;
SELECT counterparty, institution, direction, kind, file_id IS NOT NULL AS has_file, success, detail, by_role
  FROM finsec.credit_exchange ORDER BY id;
RESET SESSION AUTHORIZATION;

-- append-only: no UPDATE, DELETE or TRUNCATE, even for
-- the superuser; the ledger (where each row also is) verifies
UPDATE finsec.credit_exchange SET success = true;
DELETE FROM finsec.credit_data_file_event;
TRUNCATE finsec.credit_data_file;
SELECT count(*) AS chains_failing FROM finsec.audit_verify() WHERE NOT ok;

-- ---- deregistration: two-person, refused while disputes are open -------------
-- (disputes are opened on registered tables in 136; here one is made by
-- hand on a registration row, to test the refusal alone)
CREATE TABLE regress_reg_t (k int);
INSERT INTO finsec.credit_table (relid, key_column, subject_column, behaviour_end_column, policy_name,
								 period_unit, retention)
VALUES ('regress_reg_t', 'k', 'k', 'k', 'none', 'month', '5 years');
INSERT INTO finsec.credit_dispute (relid, record_key, subject_pseudonym, institution, handler, due_at)
VALUES ('regress_reg_t', '1', 'p1.00', 'U3000003', 'regress_reg_app', now() + interval '20 days');
SET SESSION AUTHORIZATION regress_reg_a;
SELECT finsec.credit_institution_deregister('U3000003', 'left the market');       -- S9D73 (its record's dispute)
SELECT finsec.credit_institution_deregister('B1000001', 'left the market');       -- S9D73 (its handler's dispute)
SELECT finsec.credit_institution_deregister('NOSUCH01');                          -- 42704
SELECT finsec.credit_institution_deregister('P2000002', 'suspended, then left') AS dereg_p \gset
RESET SESSION AUTHORIZATION;
-- a dispute opened after the request: the approval checks again
INSERT INTO finsec.credit_dispute (relid, record_key, subject_pseudonym, institution, handler, due_at)
VALUES ('regress_reg_t', '2', 'p1.01', 'P2000002', 'regress_reg_app', now() + interval '20 days');
SET SESSION AUTHORIZATION regress_reg_b;
SELECT finsec.approve(:dereg_p);                                                  -- S9D73
RESET SESSION AUTHORIZATION;
UPDATE finsec.credit_dispute SET status = 'withdrawn', closed_at = now() WHERE record_key = '2';
SET SESSION AUTHORIZATION regress_reg_b;
SELECT finsec.approve(:dereg_p) ->> 'to';
SELECT code, status, status_reason FROM finsec.credit_institution WHERE code = 'P2000002';
-- deregistered for ever: never activated again, the code never reused
SELECT finsec.credit_institution_activate('P2000002', 'a', 't');                 -- S9D72
SELECT finsec.credit_institution_apply('P2000002', 'again', 'provider');         -- S9D71
SELECT finsec.credit_institution_suspend('P2000002', 'x');                       -- S9D72
SELECT finsec.credit_institution_deregister('P2000002');                         -- S9D72
RESET SESSION AUTHORIZATION;
DELETE FROM finsec.credit_dispute;
DELETE FROM finsec.credit_table;
DROP TABLE regress_reg_t;

-- ---- the ledger: every status change, file and exchange, and the refusals
-- (durable: they survive the rollback of the refused statement)
SELECT finsec.flush_audit_events() > 0 AS flushed;
SELECT event_type, object, action, success, detail ->> 'from' AS "from", detail ->> 'to' AS "to",
	   detail ->> 'sqlstate' AS sqlstate, db_user
  FROM finsec.audit
 WHERE event_type IN ('credit.institution_status', 'credit.file', 'credit.exchange')
 ORDER BY finsec_seq;
-- no file name or content, and the assessment only in the activation's row
SELECT count(*) FILTER (WHERE detail::text LIKE '%rec1%' OR description LIKE '%rec1%') AS content_in_ledger,
	   count(*) FILTER (WHERE detail ->> 'assessment' IS NOT NULL) AS assessments
  FROM finsec.audit WHERE event_type LIKE 'credit.%';
\set VERBOSITY default
DELETE FROM finsec.credit_user;
DROP ROLE regress_reg_a, regress_reg_b, regress_reg_op, regress_reg_loader, regress_reg_app, regress_reg_auditor;
