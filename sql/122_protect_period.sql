--
-- 122_protect_period: period keys and crypto-shredding
-- (docs/protected-data.md#periods; D4, 003 6.4.2.5.1, 004 8.3.4 d).
-- A column of a period policy is sealed under the key of its row's date
-- (trigger finsec_protect_period); the period keys are made by the keyring
-- on a two-person approval (protect.period_keys); shredding an ended
-- period (protect.shred) destroys every version of its keys, after which
-- its values read as NULL or S9P21, mask to NULL, print as [shredded],
-- take no new value, and the rows and the ledger stay untouched.
--
-- Runs in a database of its own, so that its keys do not meet those of
-- the other files.
--
SET client_min_messages = warning;
CREATE DATABASE regress_period;
\c regress_period
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_pd_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_pd_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_pd_owner LOGIN IN ROLE finsec_app;
CREATE ROLE regress_pd_other LOGIN IN ROLE finsec_app;
CREATE ROLE regress_pd_unmask LOGIN IN ROLE finsec_app, finsec_unmask;
GRANT CREATE ON SCHEMA public TO regress_pd_owner, regress_pd_other;

-- The keys a literal goes through (default policy, then the column's
-- policy without a period), made the ordinary way.
SET SESSION AUTHORIZATION regress_pd_a;
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS r1 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256') AS r2 \gset
SELECT finsec.key_generate('cust.enc', 'encryption', 'aes-256-gcm') AS r3 \gset
SELECT finsec.key_generate('cust.fp', 'fingerprint', 'hmac-sha256') AS r4 \gset
SELECT finsec.protect_policy_create('cust_name', enc_key => 'cust.enc', fp_key => 'cust.fp', mask => 'name',
									period_unit => 'month') > 0 AS policy_created;
SELECT finsec.protect_policy_create('cust_plain', enc_key => 'cust.enc', fp_key => 'cust.fp', mask => 'name') > 0
	AS plain_policy_created;
SET SESSION AUTHORIZATION regress_pd_b;
SELECT finsec.approve(:r1) ->> 'state', finsec.approve(:r2) ->> 'state',
	   finsec.approve(:r3) ->> 'state', finsec.approve(:r4) ->> 'state';
RESET SESSION AUTHORIZATION;
SELECT policy_name, enc_key, fp_key, fp_scope, period_unit FROM finsec.protect_policy
 WHERE policy_name LIKE 'cust%' ORDER BY 1;

SET SESSION AUTHORIZATION regress_pd_owner;
CREATE TABLE pd_txn (id int PRIMARY KEY, booked date, other text,
					 name finsec.protected_text(cust_name), plain finsec.protected_text(cust_plain));
CREATE TABLE pd_ts (id int PRIMARY KEY, at timestamptz, name finsec.protected_text(cust_name));
GRANT SELECT ON pd_txn TO regress_pd_unmask;
RESET SESSION AUTHORIZATION;

-- protect_period: by the table's owner only, on a column of a period
-- policy, with a date or timestamptz column.
SET SESSION AUTHORIZATION regress_pd_other;
SELECT finsec.protect_period('pd_txn', 'name', 'booked');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_pd_owner;
\set VERBOSITY sqlstate
SELECT finsec.protect_period('pd_txn', 'plain', 'booked');   -- no period
SELECT finsec.protect_period('pd_txn', 'other', 'booked');   -- not protected
SELECT finsec.protect_period('pd_txn', 'name', 'other');     -- not a date
SELECT finsec.protect_period('pd_txn', 'name', 'nosuch');
SELECT finsec.protect_period('pd_txn', 'name', NULL);
\set VERBOSITY default
SELECT finsec.protect_period('pd_txn', 'name', 'booked');
SELECT finsec.protect_period('pd_ts', 'name', 'at');
SELECT finsec.protect_period('pd_txn', 'name', 'booked');   -- again
-- Nor can the trigger be made by hand, or by another role.
CREATE TRIGGER finsec_protect_period BEFORE INSERT ON pd_ts FOR EACH ROW EXECUTE FUNCTION finsec._protect_period_trigger('name', 'at');
CREATE TRIGGER mine BEFORE INSERT ON pd_ts FOR EACH ROW EXECUTE FUNCTION finsec._protect_period_trigger('name', 'at');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_pd_other;
SELECT finsec._protect_period_sync('pd_txn');
SELECT finsec._protect_period_register('pd_txn', 'plain', 'booked', 'cust_plain');
RESET SESSION AUTHORIZATION;
SELECT tgname, tgenabled, tgtype FROM pg_trigger WHERE tgrelid = 'pd_txn'::regclass ORDER BY 1;
SELECT relid, column_name, date_column, policy_name, created_by FROM finsec.protect_period_column ORDER BY 1;

-- The trigger and its columns are the two-person kind's to remove: not
-- the owner's to drop, disable, rename or retype.
SET SESSION AUTHORIZATION regress_pd_owner;
DROP TRIGGER finsec_protect_period ON pd_txn;
ALTER TABLE pd_txn DISABLE TRIGGER finsec_protect_period;
ALTER TABLE pd_txn DISABLE TRIGGER USER;
ALTER TABLE pd_txn ENABLE REPLICA TRIGGER finsec_protect_period;
ALTER TABLE pd_txn ENABLE TRIGGER finsec_protect_period;
ALTER TRIGGER finsec_protect_period ON pd_txn RENAME TO other;
ALTER TABLE pd_txn RENAME COLUMN booked TO booked_on;
ALTER TABLE pd_txn DROP COLUMN booked;
ALTER TABLE pd_txn DROP COLUMN name;
ALTER TABLE pd_txn ALTER COLUMN name TYPE finsec.protected_text(cust_plain);
DROP TABLE pd_txn;
-- Other columns stay the owner's.
ALTER TABLE pd_txn ADD COLUMN note text;
ALTER TABLE pd_txn RENAME COLUMN note TO remark;
ALTER TABLE pd_txn DROP COLUMN remark;
RESET SESSION AUTHORIZATION;
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'pd_txn'::regclass;

-- Without the period's keys: the keyring's error, and a hint naming
-- protect_period_keys; nothing stored.
SET SESSION AUTHORIZATION regress_pd_owner;
INSERT INTO pd_txn (id, booked, name) VALUES (1, '2025-01-15', '张三');
-- A NULL date is refused; a NULL value needs no key.
INSERT INTO pd_txn (id, booked, name) VALUES (1, NULL, '张三');
INSERT INTO pd_txn (id, booked, name) VALUES (9, NULL, NULL);
DELETE FROM pd_txn;
RESET SESSION AUTHORIZATION;

-- protect.period_keys: two people; the keys are the keyring's own
-- key.generate versions, approved with the request.
SET SESSION AUTHORIZATION regress_pd_a;
SELECT finsec.protect_period_keys('cust_name', '2025-01-01', '2035-01-31');   -- 121 months
SELECT finsec.protect_period_keys('cust_name', '2025-02-01', '2025-01-01');
SELECT finsec.protect_period_keys('nosuch', '2025-01-01', '2025-01-31');
SELECT finsec.protect_period_keys('cust_plain', '2025-01-01', '2025-01-31');
-- A request filed around protect_period_keys is refused.
SELECT finsec.request_change('protect.period_keys', 'cust_name', '{"keys": []}');
SELECT finsec.request_change('protect.period_keys', 'cust_name', '{"keys": [{"label": "cust.enc.202501", "request_id": 1}]}');
SELECT finsec.protect_period_keys('cust_name', '2025-01-10', '2025-02-20', 'two months') AS pk \gset
SELECT finsec.protect_period_keys('cust_name', current_date, current_date, 'this month') AS pk_now \gset
SELECT kind, target, state, jsonb_array_length(payload -> 'keys') AS keys, payload -> 'periods' AS periods
  FROM finsec.change_request WHERE request_id = :pk;
SELECT finsec.approve(:pk);   -- the requester
SELECT label, state FROM finsec.key_inventory WHERE label LIKE 'cust.%.2025%' ORDER BY 1;
SET SESSION AUTHORIZATION regress_pd_b;
SELECT finsec.approve(:pk) -> 'keys' AS generated;
SELECT finsec.approve(:pk_now) ->> 'policy' AS policy;
RESET SESSION AUTHORIZATION;
SELECT label, purpose, state, version FROM finsec.key_inventory WHERE label LIKE 'cust.%.2025%' ORDER BY 1;
-- Each key has its key.generate request, approved with the parent.
SELECT kind, state, decided_by, note FROM finsec.change_request
 WHERE kind = 'key.generate' AND target LIKE 'cust.%.2025%' ORDER BY target;
SET SESSION AUTHORIZATION regress_pd_a;
SELECT finsec.protect_period_keys('cust_name', '2025-01-01', '2025-02-28');   -- all there
-- A rejected request takes its keys with it (the keyring's discard).
SELECT finsec.protect_period_keys('cust_name', '2024-11-01', '2024-11-30', 'rejected') AS pk_rej \gset
SET SESSION AUTHORIZATION regress_pd_b;
SELECT finsec.reject(:pk_rej, 'not needed');
RESET SESSION AUTHORIZATION;
SELECT label, state FROM finsec.key_inventory WHERE label LIKE 'cust.%.202411' ORDER BY 1;
SELECT kind, state FROM finsec.change_request WHERE target LIKE 'cust.%.202411' OR request_id = :pk_rej ORDER BY request_id;
-- Asked again, the labels get new versions (key.rotate), approved the same way.
SET SESSION AUTHORIZATION regress_pd_a;
SELECT finsec.protect_period_keys('cust_name', '2024-11-01', '2024-11-30', 'again') AS pk_again \gset
SET SESSION AUTHORIZATION regress_pd_b;
SELECT finsec.approve(:pk_again) -> 'keys' AS keys;
RESET SESSION AUTHORIZATION;
SELECT label, state, version FROM finsec.key_inventory WHERE label LIKE 'cust.%.202411' ORDER BY 1, 3;
RESET SESSION AUTHORIZATION;

-- Rows: each value under the key of its row's month.
SET SESSION AUTHORIZATION regress_pd_owner;
INSERT INTO pd_txn (id, booked, name) VALUES (1, '2025-01-15', '张三'), (2, '2025-01-20', '李四'),
											 (3, '2025-02-10', '王五'), (4, current_date, '赵六');
INSERT INTO pd_ts VALUES (1, '2025-01-31 23:30:00+00', 'UTC January'),
						 (2, '2025-02-01 01:00:00+08', 'UTC January too');   -- 2025-01-31 17:00 UTC
SELECT id, (finsec.protected_info(name)).period = to_char(booked, 'YYYYMM')::int AS under_its_month,
	   (finsec.protected_info(name)).enc_key = 'cust.enc.' || to_char(booked, 'YYYYMM') AS enc_key,
	   (finsec.protected_info(name)).fp_key = 'cust.fp.' || to_char(booked, 'YYYYMM') AS fp_key,
	   (finsec.protected_info(name)).state
  FROM pd_txn ORDER BY id;
SELECT id, (finsec.protected_info(name)).period FROM pd_ts ORDER BY id;
-- Moving a row to another month re-seals its value; other updates do not.
UPDATE pd_txn SET booked = '2025-02-03' WHERE id = 2;
UPDATE pd_txn SET other = 'x' WHERE id = 3;
SELECT id, (finsec.protected_info(name)).period FROM pd_txn WHERE id IN (2, 3) ORDER BY id;
-- Values of different months never compare equal (fingerprints per period).
INSERT INTO pd_txn (id, booked, name) VALUES (5, '2025-02-11', '张三');
SELECT count(*) AS same_name_across_months FROM pd_txn a JOIN pd_txn b ON a.name = b.name WHERE a.id = 1 AND b.id = 5;
DELETE FROM pd_txn WHERE id = 5;
RESET SESSION AUTHORIZATION;

-- protect.shred: refused for a period not yet ended, and for a period
-- without keys; two people.
SET SESSION AUTHORIZATION regress_pd_a;
\set VERBOSITY sqlstate
SELECT finsec.protect_shred('cust_name', current_date, 'too early');
\set VERBOSITY default
SELECT finsec.protect_shred('cust_name', '2024-06-01', 'no keys');
SELECT finsec.protect_shred('cust_plain', '2025-01-01', 'no period');
SELECT finsec.protect_shred('cust_name', '2025-01-31', 'retention of January 2025 ended') AS sh \gset
SELECT finsec.approve(:sh);   -- the requester
SET SESSION AUTHORIZATION regress_pd_b;
SELECT finsec.approve(:sh) ->> 'destroyed' AS destroyed;
RESET SESSION AUTHORIZATION;
SELECT policy_name, period, period_start, period_end, keys, requested_by, shredded_by FROM finsec.protect_shredded;
SELECT label, state, version FROM finsec.key_inventory WHERE label LIKE 'cust.%.202501' ORDER BY 1;
SELECT count(*) AS wrapped_left FROM finsec.key_version kv JOIN finsec.key k USING (key_id)
 WHERE k.label LIKE 'cust.%.202501' AND kv.wrapped IS NOT NULL;
SELECT event_type, object, action FROM finsec.audit
 WHERE event_type IN ('protect.shred', 'key.retire', 'key.destroy', 'protect.period_keys')
 ORDER BY finsec_seq;
SET SESSION AUTHORIZATION regress_pd_a;
SELECT finsec.protect_shred('cust_name', '2025-01-02');   -- already
SELECT finsec.protect_period_keys('cust_name', '2025-01-01', '2025-01-31');   -- never again
RESET SESSION AUTHORIZATION;

-- After the shred: the January value reads as NULL (the reveal row says
-- shredded) or S9P21 by setting, masks to NULL, prints [shredded]; the
-- February and current values still reveal.
SET SESSION AUTHORIZATION regress_pd_unmask;
SELECT id, finsec.reveal(name, 'after shred') AS revealed, finsec.mask(name) AS masked,
	   split_part(name::text, '~', 1) AS printed, (finsec.protected_info(name)).state
  FROM pd_txn ORDER BY id;
SET finsec.protect_shredded_read = 'error';
\set VERBOSITY sqlstate
SELECT finsec.reveal(name) FROM pd_txn WHERE id = 1;
SELECT finsec.mask(name) FROM pd_txn WHERE id = 1;
\set VERBOSITY default
SELECT finsec.reveal(name) FROM pd_txn WHERE id = 3;
RESET finsec.protect_shredded_read;
RESET SESSION AUTHORIZATION;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT CASE WHEN detail ->> 'period' = to_char(current_date, 'YYYYMM') THEN 'this month'
			ELSE detail ->> 'period' END AS period, (detail ->> 'shredded')::boolean AS shredded, count(*)
  FROM finsec.audit WHERE event_type = 'protect.reveal' GROUP BY 1, 2 ORDER BY 1;

-- The shredded period takes no new value, nor a row moved into it; the
-- shredded row itself may still change in its other columns.
SET SESSION AUTHORIZATION regress_pd_owner;
INSERT INTO pd_txn (id, booked, name) VALUES (6, '2025-01-03', '孙七');
UPDATE pd_txn SET booked = '2025-01-05' WHERE id = 3;
UPDATE pd_txn SET booked = '2025-02-05' WHERE id = 1;   -- out of it: cannot be opened
UPDATE pd_txn SET other = 'kept' WHERE id = 1;
SELECT id, other, split_part(name::text, '~', 1) AS printed FROM pd_txn WHERE id = 1;
RESET SESSION AUTHORIZATION;

-- The ledger's hash chain still verifies; the rows are untouched.
SELECT count(*) > 0 AS sealed FROM finsec.audit_seal();
SELECT bool_and(ok) AS verified FROM finsec.audit_verify();

-- Batch re-keying after a rotation of February's key: every value of the
-- column ends under the active versions; the shredded one is left alone.
SET SESSION AUTHORIZATION regress_pd_a;
SELECT finsec.key_rotate('cust.enc.202502') AS rot \gset
SET SESSION AUTHORIZATION regress_pd_b;
SELECT finsec.approve(:rot) ->> 'state';
RESET SESSION AUTHORIZATION;
GRANT SELECT, UPDATE ON pd_txn TO regress_pd_a;
SET SESSION AUTHORIZATION regress_pd_a;
SELECT id, (finsec.protected_info(name)).enc_version, finsec._protected_is_current(name) AS current
  FROM pd_txn ORDER BY id;
CALL finsec.protected_rekey_column('pd_txn', 'name', 1);
SELECT id, (finsec.protected_info(name)).enc_version, finsec._protected_is_current(name) AS current
  FROM pd_txn ORDER BY id;
CALL finsec.protected_rekey_column('pd_txn', 'other', 1);
CALL finsec.protected_rekey_column('pd_txn', 'name', 0);
BEGIN;
CALL finsec.protected_rekey_column('pd_txn', 'name', 10);   -- no COMMIT inside a transaction block
ROLLBACK;
RESET SESSION AUTHORIZATION;
-- Without UPDATE on the table, the caller cannot re-key it.
SET SESSION AUTHORIZATION regress_pd_b;
CALL finsec.protected_rekey_column('pd_txn', 'name', 10);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_pd_unmask;
SELECT id, finsec.reveal(name, 'after rekey') FROM pd_txn ORDER BY id;
CALL finsec.protected_rekey_column('pd_txn', 'name', 10);   -- not an administrator
RESET SESSION AUTHORIZATION;

-- protect.period_drop: two people; then the trigger and its registration are gone.
SET SESSION AUTHORIZATION regress_pd_a;
SELECT finsec.protect_period_drop('pd_txn', 'plain');
SELECT finsec.protect_period_drop('pd_txn', 'name', 'retired') AS pdrop \gset
SELECT finsec.approve(:pdrop);
SET SESSION AUTHORIZATION regress_pd_b;
SELECT finsec.approve(:pdrop);
RESET SESSION AUTHORIZATION;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'pd_txn'::regclass;
SELECT count(*) AS registered FROM finsec.protect_period_column WHERE relid = 'pd_txn'::regclass;
-- Now the owner's again.
SET SESSION AUTHORIZATION regress_pd_owner;
ALTER TABLE pd_txn RENAME COLUMN booked TO booked_on;
DROP TABLE pd_txn;
RESET SESSION AUTHORIZATION;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_period;
DROP ROLE regress_pd_a, regress_pd_b, regress_pd_owner, regress_pd_other, regress_pd_unmask;
