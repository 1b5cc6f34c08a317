--
-- 132_credit_query: finsec.credit_query and credit_batch_query
-- (docs/credit.md): what a call returns (masked values, disputes
-- marked), what it records (finsec.credit_query_log, the durable ledger
-- row, also after ROLLBACK), every refusal with its SQLSTATE and its
-- durable ledger row, reason codes and credit users, batch queries.
--
SET client_min_messages = warning;
CREATE DATABASE regress_cquery;
\c regress_cquery
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_cq_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_cq_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_cq_owner LOGIN IN ROLE finsec_app;
CREATE ROLE regress_cq_admin_owner LOGIN IN ROLE finsec_admin, regress_cq_owner;
CREATE ROLE regress_cq_u1 LOGIN IN ROLE finsec_app;      -- BANK0001, query
CREATE ROLE regress_cq_u2 LOGIN IN ROLE finsec_app;      -- BANK0002, query + batch_query
CREATE ROLE regress_cq_h LOGIN IN ROLE finsec_app;       -- BANK0001, dispute handler only
CREATE ROLE regress_cq_u3 LOGIN IN ROLE finsec_app;      -- BANK0003 (suspended institution)
CREATE ROLE regress_cq_none LOGIN IN ROLE finsec_app;    -- not a credit user
GRANT CREATE ON SCHEMA public TO regress_cq_owner;
GRANT regress_cq_none TO regress_cq_u1;

-- keys, the period policy, period keys for three months
SET SESSION AUTHORIZATION regress_cq_a;
SELECT finsec.key_generate('credit.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('credit.fp', 'fingerprint', 'hmac-sha256') AS k2 \gset
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS k3 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256') AS k4 \gset
SELECT finsec.key_generate('credit.pseudonym', 'pseudonym', 'hmac-sha256') AS k5 \gset
SET SESSION AUTHORIZATION regress_cq_b;
SELECT finsec.approve(:k1) ->> 'state', finsec.approve(:k2) ->> 'state', finsec.approve(:k3) ->> 'state',
	   finsec.approve(:k4) ->> 'state', finsec.approve(:k5) ->> 'state';
SET SESSION AUTHORIZATION regress_cq_a;
SELECT finsec.protect_policy_create('credit_p', enc_key => 'credit.enc', fp_key => 'credit.fp',
									mask => 'name', period_unit => 'month', fp_scope => 'period') > 0 AS created;
SELECT finsec.protect_period_keys('credit_p', current_date - 400, current_date - 400) AS pk1 \gset
SELECT finsec.protect_period_keys('credit_p', current_date - 70, current_date - 70) AS pk2 \gset
SELECT finsec.protect_period_keys('credit_p', current_date, current_date) AS pk3 \gset
SET SESSION AUTHORIZATION regress_cq_b;
SELECT finsec.approve(:pk1) ->> 'policy', finsec.approve(:pk2) ->> 'policy', finsec.approve(:pk3) ->> 'policy';
RESET SESSION AUTHORIZATION;

-- institutions (the registry part's functions set these; here directly)
INSERT INTO finsec.credit_institution (code, name, kind, status) VALUES
	('BANK0001', 'Bank one', 'provider_user', 'active'),
	('BANK0002', 'Bank two', 'provider_user', 'active'),
	('BANK0003', 'Bank three', 'user', 'suspended');

SET SESSION AUTHORIZATION regress_cq_owner;
CREATE TABLE loan (
	id			bigint PRIMARY KEY,
	name		finsec.protected_text(credit_p) NOT NULL,
	id_no		finsec.protected_resident_id(credit_p) NOT NULL,
	region		finsec.protected_text(credit_p),
	overdue		finsec.protected_text(credit_p),
	amount		numeric,
	closed_on	date NOT NULL,
	inst		text);
CREATE INDEX loan_name ON loan (name);
GRANT SELECT ON loan TO finsec_app;   -- the application's grant: the read check refuses anyway
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cq_admin_owner;
SELECT finsec.register_credit_table('loan', key => 'id', subject => 'name', behaviour_end => 'closed_on',
	policy => 'credit_p', identifiers => '{id_no}',
	quasi_identifiers => '{"region": ["prefix:4", "prefix:2"]}',
	sensitive => '{overdue}', institution => 'inst') IS NOT NULL AS registered;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cq_owner;
INSERT INTO loan (id, name, id_no, region, overdue, amount, closed_on, inst) VALUES
	(1, '张三', '11010519491231002X', '110105', 'M3', 12000, current_date - 400, 'BANK0001'),
	(2, '张三', '11010519491231002X', '110105', 'M1', 3000, current_date - 70, 'BANK0002'),
	(3, '张三', '11010519491231002X', '110108', 'M2', 500, current_date, 'BANK0001'),
	(4, '李四', '110101199003076632', '310101', 'M1', 800, current_date - 70, 'BANK0002');
RESET SESSION AUTHORIZATION;

-- credit users (finsec_admin, audited)
SET SESSION AUTHORIZATION regress_cq_a;
SELECT finsec.credit_user_set('regress_cq_u1', 'BANK0001', '{query}');
SELECT finsec.credit_user_set('regress_cq_u2', 'BANK0002', '{query,batch_query}');
SELECT finsec.credit_user_set('regress_cq_h', 'BANK0001', '{dispute}');
SELECT finsec.credit_user_set('regress_cq_u3', 'BANK0003', '{query}');
\set VERBOSITY sqlstate
SELECT finsec.credit_user_set('regress_cq_u1', 'NOSUCH01', '{query}');        -- S9D22
SELECT finsec.credit_user_set('regress_cq_u1', 'BANK0001', '{query,read}');   -- S9D32
SELECT finsec.credit_user_set('regress_cq_u1', 'BANK0001', '{}');             -- S9D32
SELECT finsec.credit_user_set('finsec_admin', 'BANK0001', '{query}');         -- S9D32
SELECT finsec.credit_user_set('regress_nosuch', 'BANK0001', '{query}');       -- 42704
SELECT finsec.credit_user_set(NULL, 'BANK0001', '{query}');                   -- 22004
SELECT finsec.credit_user_remove('regress_cq_none');                          -- S9D21
\set VERBOSITY default
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cq_u1;
SELECT finsec.credit_user_set('regress_cq_u1', 'BANK0001', '{query,batch_query}');   -- not an admin
RESET SESSION AUTHORIZATION;
SELECT role_name, institution, duties, query_status FROM finsec.credit_user ORDER BY 1;

-- reason codes: the seeded catalog; add and retire (audited)
SELECT code, requires_dispute, active, builtin FROM finsec.credit_reason ORDER BY code;
SET SESSION AUTHORIZATION regress_cq_a;
SELECT finsec.credit_reason_add('collection_review', '催收复核 collection review');
SELECT finsec.credit_reason_add('collection_review', 'again');            -- 23505
SELECT finsec.credit_reason_add('Bad Code', 'x');                         -- S9D31
SELECT finsec.credit_reason_retire('collection_review', 'not used');
SELECT finsec.credit_reason_retire('collection_review');                  -- S9D25: already retired
RESET SESSION AUTHORIZATION;
SELECT event_type, object, action, success FROM finsec.audit
 WHERE event_type LIKE 'credit.%' AND event_type NOT IN ('credit.register') ORDER BY finsec_seq;

-- a credit query: the subject's three live records, masked; the table
-- read through finsec's own function only
SET SESSION AUTHORIZATION regress_cq_u1;
SELECT record_key, record ->> 'name' AS name, record ->> 'id_no' AS id_no, record ->> 'overdue' AS overdue,
	   record ->> 'amount' AS amount, record ->> 'inst' AS inst,
	   (record ->> 'closed_on')::date - current_date AS closed_days, under_dispute, disputes
  FROM finsec.credit_query('loan', '张三', 'loan_approval', client_address => '10.1.2.3')
 ORDER BY record_key;
-- nothing of the sealed form comes out
SELECT count(*) AS sealed_forms FROM finsec.credit_query('loan', '张三', 'loan_approval') q
 WHERE q.record::text LIKE '%~fp1.%';
-- another subject, and one without records
SELECT record_key FROM finsec.credit_query('loan', '李四', 'post_loan');
SELECT count(*) FROM finsec.credit_query('loan', '王五', 'post_loan');
-- direct reads are refused (the registration part's check)
SELECT count(*) FROM loan;
RESET SESSION AUTHORIZATION;

-- what was recorded: one log row per call, the subject as its pseudonym
SELECT l.institution, l.user_name, l.session_user_name, l.client_address, l.reason,
	   l.subject_pseudonym = finsec.credit_pseudonym(s.subject) AS pseudonym_ok, l.relid, l.rows_returned,
	   l.dispute_id, l.batch_id, l.outcome
  FROM finsec.credit_query_log l
  JOIN (VALUES (1, '张三'), (2, '张三'), (3, '李四'), (4, '王五')) AS s(n, subject) ON s.n = l.id
 ORDER BY l.id;
-- the log never holds the subject in clear
SELECT count(*) AS clear_subjects FROM finsec.credit_query_log l WHERE l::text LIKE '%张三%' OR l::text LIKE '%李四%';
-- and a credit.query ledger row per call
SELECT a.db_user, a.object, a.detail ->> 'rows' AS rows, a.detail ->> 'reason' AS reason,
	   a.detail ->> 'foreign' AS foreign, a.detail ->> 'institution' AS institution,
	   (a.detail ->> 'log_id')::bigint AS log_id
  FROM finsec.audit a WHERE a.event_type = 'credit.query' ORDER BY a.finsec_seq;
-- the log is append-only, each row chained through its ledger row
UPDATE finsec.credit_query_log SET rows_returned = 0;
DELETE FROM finsec.credit_query_log;
TRUNCATE finsec.credit_query_log;
SELECT count(*) AS rows, count(*) FILTER (WHERE a.detail ->> 'log_sha256'
	   = finsec.credit_query_log_hash(l)) AS hashes_match
  FROM finsec.credit_query_log l JOIN finsec.audit a
	ON a.event_type = 'credit.query' AND (a.detail ->> 'log_id')::bigint = l.id;
SELECT bool_and(ok) AS ledger_ok FROM finsec.audit_verify();

-- a call rolled back keeps its ledger row (durable), not its log row
SET SESSION AUTHORIZATION regress_cq_u1;
BEGIN;
SELECT count(*) FROM finsec.credit_query('loan', '李四', 'post_loan');
ROLLBACK;
RESET SESSION AUTHORIZATION;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT count(*) AS log_rows FROM finsec.credit_query_log;
SELECT a.detail ->> 'rows' AS rows, a.detail ->> 'rolled_back' AS rolled_back
  FROM finsec.audit a WHERE a.event_type = 'credit.query' ORDER BY a.finsec_seq DESC LIMIT 1;

-- refusals: each with its SQLSTATE and a durable credit.query_refused row
\set VERBOSITY default
SET SESSION AUTHORIZATION regress_cq_none;
SELECT * FROM finsec.credit_query('loan', '张三', 'loan_approval');            -- S9D21 not a credit user
SET SESSION AUTHORIZATION regress_cq_u3;
SELECT * FROM finsec.credit_query('loan', '张三', 'loan_approval');            -- S9D22 institution suspended
SET SESSION AUTHORIZATION regress_cq_h;
SELECT * FROM finsec.credit_query('loan', '张三', 'loan_approval');            -- S9D21 no duty query
SET SESSION AUTHORIZATION regress_cq_u1;
SELECT * FROM finsec.credit_query('loan', '张三', NULL);                       -- S9D24
SELECT * FROM finsec.credit_query('loan', '张三', '');                         -- S9D24
SELECT * FROM finsec.credit_query('loan', '张三', 'because I want');           -- S9D25 (never logged in clear)
SELECT * FROM finsec.credit_query('loan', '张三', 'collection_review');        -- S9D25 retired
SELECT * FROM finsec.credit_query('loan', '张三', 'dispute_check');            -- S9D26
SELECT * FROM finsec.credit_query('loan', '张三', 'loan_approval', 1);         -- S9D27
SELECT * FROM finsec.credit_query('pg_class', '张三', 'loan_approval');        -- S9D20
\set VERBOSITY sqlstate
SELECT * FROM finsec.credit_query('loan', NULL, 'loan_approval');              -- 22004
SELECT * FROM finsec.credit_query('loan', '', 'loan_approval');                -- S9D35
SELECT * FROM finsec.credit_query('loan', repeat('x', 2000), 'loan_approval'); -- S9D35
SELECT * FROM finsec.credit_query(NULL, '张三', 'loan_approval');              -- 22004
SELECT * FROM finsec.credit_query('loan', '张三', 'loan_approval', -1);        -- 22023
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM finsec.credit_query('loan', '张三', 'loan_approval');            -- S9D30
ROLLBACK;
\set VERBOSITY default
-- calling as another role does not help: the caller is current_user
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_cq_u1;
SET ROLE regress_cq_none;
SELECT * FROM finsec.credit_query('loan', '张三', 'loan_approval');            -- S9D21
RESET ROLE;
RESET SESSION AUTHORIZATION;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT a.db_user, a.detail ->> 'category' AS category, a.detail ->> 'sqlstate' AS sqlstate,
	   a.detail ->> 'reason' AS reason, a.detail ->> 'rolled_back' AS rolled_back
  FROM finsec.audit a WHERE a.event_type = 'credit.query_refused' ORDER BY a.finsec_seq;
-- the refused reason text is nowhere in the ledger
SELECT count(*) AS clear_reason FROM finsec.audit a WHERE a::text LIKE '%because I want%';

-- disputes: the handler's query bound to its dispute; disputed records
-- marked in every result; the handler sees the disputed record only
INSERT INTO finsec.credit_dispute (relid, record_key, subject_pseudonym, institution, handler, due_at)
VALUES ('loan', '2', finsec.credit_pseudonym('张三'), 'BANK0001', 'regress_cq_h', now() + interval '20 days'),
	   ('loan', '4', finsec.credit_pseudonym('李四'), 'BANK0001', 'regress_cq_u1', now() + interval '20 days');
INSERT INTO finsec.credit_dispute (relid, record_key, subject_pseudonym, institution, handler, status, due_at, closed_at)
VALUES ('loan', '1', finsec.credit_pseudonym('张三'), 'BANK0001', 'regress_cq_h', 'verified', now() + interval '20 days', now());
SELECT id, record_key, handler, status FROM finsec.credit_dispute ORDER BY id;
SET SESSION AUTHORIZATION regress_cq_h;
SELECT record_key, under_dispute, jsonb_path_query_array(disputes, '$[*].status') AS statuses
  FROM finsec.credit_query('loan', '张三', 'dispute_check', 1) ORDER BY record_key;
SELECT * FROM finsec.credit_query('loan', '李四', 'dispute_check', 1);         -- S9D28 another subject
SELECT * FROM finsec.credit_query('loan', '张三', 'dispute_check', 2);         -- S9D28 not the handler
SELECT * FROM finsec.credit_query('loan', '张三', 'dispute_check', 3);         -- S9D28 closed
SELECT * FROM finsec.credit_query('loan', '张三', 'dispute_check', 99);        -- S9D28 no such dispute
SELECT * FROM finsec.credit_query('loan', '张三', 'post_loan', 1);             -- S9D27 other reason
SET SESSION AUTHORIZATION regress_cq_u1;
SELECT record_key, under_dispute, jsonb_array_length(disputes) AS disputes
  FROM finsec.credit_query('loan', '张三', 'loan_approval') ORDER BY record_key;
RESET SESSION AUTHORIZATION;
-- an unconfirmed dispute's personal statement comes with the record
-- (dispute part: sealed with the record's period)
SELECT finsec.credit_dispute_check(2, 'branch records', 'the overdue month could not be confirmed', false) IS NOT NULL AS checked;
SELECT finsec.credit_dispute_resolve(2, 'unconfirmed', '本人对该逾期记录有异议') IS NOT NULL AS resolved;
SET SESSION AUTHORIZATION regress_cq_u1;
SELECT record_key, under_dispute, disputes -> 0 ->> 'status' AS status, disputes -> 0 ->> 'statement' AS statement,
	   disputes -> 0 ->> 'statement_shredded' AS shredded
  FROM finsec.credit_query('loan', '李四', 'post_loan');
RESET SESSION AUTHORIZATION;
SELECT l.user_name, l.reason, l.dispute_id, l.rows_returned FROM finsec.credit_query_log l
 WHERE l.dispute_id IS NOT NULL ORDER BY l.id;

-- batch queries: duty batch_query; the file's name and SHA-256, counts;
-- one log row per subject with the batch id
SET SESSION AUTHORIZATION regress_cq_u1;
SELECT * FROM finsec.credit_batch_query('loan', 'req-001.txt', convert_to('张三\n李四', 'UTF8'),
	'{张三,李四}', 'loan_approval');                                          -- S9D21 no duty
SET SESSION AUTHORIZATION regress_cq_u2;
SELECT subject_index, record_key, record ->> 'name' AS name, under_dispute
  FROM finsec.credit_batch_query('loan', 'req-002.txt', convert_to(E'张三\n李四\n王五', 'UTF8'),
								 '{张三,李四,王五}', 'post_loan', '10.9.9.9')
 ORDER BY subject_index, record_key;
\set VERBOSITY sqlstate
SELECT * FROM finsec.credit_batch_query('loan', 'r', '\x00', '{}', 'post_loan');          -- S9D34
SELECT * FROM finsec.credit_batch_query('loan', 'r', '\x00', '{张三,NULL}', 'post_loan'); -- 22004
SELECT * FROM finsec.credit_batch_query('loan', '', '\x00', '{张三}', 'post_loan');       -- S9D34
SELECT * FROM finsec.credit_batch_query('loan', 'r', NULL, '{张三}', 'post_loan');        -- 22004
SELECT * FROM finsec.credit_batch_query('loan', 'r', '\x00', '{张三}', 'dispute_check');  -- S9D26
\set VERBOSITY default
RESET SESSION AUTHORIZATION;
SELECT b.institution, b.user_name, b.relid, b.request_name,
	   b.request_sha256 = encode(sha256(convert_to(E'张三\n李四\n王五', 'UTF8')), 'hex') AS sha_ok,
	   b.reason, b.requested, b.found, b.rows_returned
  FROM finsec.credit_query_batch b ORDER BY b.id;
SELECT l.batch_id = b.id AS same_batch, l.rows_returned, l.client_address
  FROM finsec.credit_query_log l JOIN finsec.credit_query_batch b ON b.id = l.batch_id ORDER BY l.id;
SELECT count(*) FILTER (WHERE a.detail ->> 'batch_sha256'
	   = finsec.credit_query_batch_hash(b)) AS batch_hash_matches
  FROM finsec.credit_query_batch b JOIN finsec.audit a
	ON a.event_type = 'credit.batch_query' AND (a.detail ->> 'batch_id')::bigint = b.id;

-- privileges: the log and the catalog are not the application's
SET SESSION AUTHORIZATION regress_cq_u1;
SELECT count(*) FROM finsec.credit_query_log;
INSERT INTO finsec.credit_query_log (institution, user_name, session_user_name, reason, subject_pseudonym, relid,
	rows_returned, outcome) VALUES ('BANK0001', 'x', 'x', 'x', 'x', 'loan', 0, 'ok');
UPDATE finsec.credit_user SET query_status = 'active';
INSERT INTO finsec.credit_reason (code, description) VALUES ('mine', 'mine');
SELECT finsec.audit_event('credit.query', 'loan', 'query', true, NULL, '{"subject": "x"}');
RESET SESSION AUTHORIZATION;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_cquery;
DROP ROLE regress_cq_a, regress_cq_b, regress_cq_owner, regress_cq_admin_owner, regress_cq_u1, regress_cq_u2,
	regress_cq_h, regress_cq_u3, regress_cq_none;
