--
-- 030_keyring: the keyring and two-person approval (docs/keyring.md;
-- D5, D7, A7).  The cluster runs with the fixed test master key of
-- scripts/lib.sh, so check values of imported keys are stable.
--
SET client_min_messages = warning;
CREATE ROLE regress_alice LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_bob LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_carol LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_auditor LOGIN IN ROLE finsec_auditor;
-- A role that can act as another is the same person for approvals.
CREATE ROLE regress_alice_too LOGIN IN ROLE finsec_admin, regress_alice;

SELECT loaded, check_value, problem FROM finsec.keyring_master();
SELECT component, ok, detail FROM finsec.status() WHERE component LIKE 'keyring%' OR component = 'change_requests';

-- Requests: only finsec_admin members, and only through the functions.
SET SESSION AUTHORIZATION regress_app;
SELECT finsec.key_generate('app.mac', 'mac', 'hmac-sha256');
SELECT finsec.request_change('key.retire', 'app.mac');
SELECT * FROM finsec.key_version;
SELECT * FROM finsec.key_inventory;
RESET SESSION AUTHORIZATION;

-- Bad requests are refused at request time, with nothing written.
SET SESSION AUTHORIZATION regress_alice;
SELECT finsec.key_generate('Bad Label', 'mac', 'hmac-sha256');
SELECT finsec.key_generate('k1', 'macs', 'hmac-sha256');
SELECT finsec.key_generate('k1', 'mac', 'aes-256-gcm');
SELECT finsec.key_generate('k1', 'encryption', 'cmac-aes');
SELECT finsec.key_import('k1', 'mac', 'hmac-sha256', '\x4a656665');    -- RFC 4231 case 2 key "Jefe": too short
SELECT finsec.key_import('k1', 'mac', 'cmac-aes', '\x00112233445566778899aabbccddeeff00');  -- 17 bytes
SELECT finsec.key_import('k1', 'mac', 'iso9797-alg3', '\x0123456789abcdef0123456789abcdef');  -- K = K'
SELECT finsec.key_import('k1', 'mac', 'iso9797-alg3', '\x0123456789abcdef0023456789abcdef');  -- K = K' up to parity
SELECT finsec.key_import('k1', 'mac', 'iso9797-alg3', '\x0123456789abcdeffedcba9876543210', kcv => '08D7B5');
SELECT finsec.key_import('k1', 'mac', 'hmac-sha256', NULL);
SELECT finsec.request_change('no.such', 'x');
SELECT finsec.request_change('key.generate', 'k1');
SELECT count(*) AS nothing_written FROM finsec.key;

-- A retail MAC key imported with its check value (the classic TDES test
-- key, whose KCV is 08D7B4), a generated HMAC key, and an OTP key.
SELECT finsec.key_import('x919', 'mac', 'iso9797-alg3', '\x0123456789abcdeffedcba9876543210',
						 kcv => '08d7b4', reason => 'terminal MAC key from the HSM ceremony') AS req_x919 \gset
SELECT finsec.key_generate('pay.hmac', 'mac', 'hmac-sha256', 'payment notifications') AS req_hmac \gset
SELECT finsec.key_generate('otp', 'fingerprint', 'hmac-sha256') AS req_otp \gset
SELECT label, purpose, algorithm, version, state, origin, kcv = '08D7B4' AS classic_kcv, created_by, activated_by
  FROM finsec.key_inventory ORDER BY label;
SELECT request_id = :req_x919 AS is_x919, kind, target, state, requested_by, reason,
	   expires_at - requested_at AS valid_for, payload - 'key_id' AS payload
  FROM finsec.change_request WHERE request_id = :req_x919;

-- Nothing is usable before approval.
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_app;
SELECT finsec.mac('pay.hmac', 'hmac-sha256', 'x');
RESET SESSION AUTHORIZATION;

-- The requester cannot approve, nor can a role that can act as the
-- requester, nor a superuser (who can act as anyone).
SET SESSION AUTHORIZATION regress_alice;
SELECT finsec.approve(:req_x919);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_alice_too;
SELECT finsec.approve(:req_x919);
RESET SESSION AUTHORIZATION;
SET ROLE regress_bob;            -- session_user is still the superuser
SELECT finsec.approve(:req_x919);
RESET ROLE;
-- An auditor reads but cannot approve.
SET SESSION AUTHORIZATION regress_auditor;
SELECT finsec.approve(:req_x919);
SELECT count(*) AS pending_seen FROM finsec.change_request WHERE state = 'pending';
RESET SESSION AUTHORIZATION;

-- A different administrator approves: the key becomes active.
SET SESSION AUTHORIZATION regress_bob;
SELECT finsec.approve(:req_x919, 'KCV checked against the ceremony form');
SELECT finsec.approve(:req_hmac) - 'kcv' AS result;
SELECT finsec.approve(:req_otp) - 'kcv' AS result;
SELECT finsec.approve(:req_otp);    -- not pending any more
SELECT finsec.approve(999999);
SELECT label, version, state, created_by, activated_by FROM finsec.key_inventory ORDER BY label;
RESET SESSION AUTHORIZATION;

-- Keys are usable now, and every backend's check passes.
SET SESSION AUTHORIZATION regress_app;
SELECT encode(finsec.mac('x919', 'iso9797-alg3', convert_to('Now is the time for all ', 'UTF8')), 'hex') AS x919_mac;
SELECT finsec.mac_verify('pay.hmac', 'hmac-sha256', 'abc', finsec.mac('pay.hmac', 'hmac-sha256', 'abc'));
RESET SESSION AUTHORIZATION;
SELECT label, version, state, ok, detail FROM finsec.key_verify() ORDER BY label, version;

-- Rejection and cancellation discard the pending material.
SET SESSION AUTHORIZATION regress_alice;
SELECT finsec.key_generate('rejected.key', 'mac', 'cmac-aes') AS req_rej \gset
SELECT finsec.key_generate('cancelled.key', 'mac', 'cmac-sm4') AS req_can \gset
SELECT finsec.reject(:req_can, 'typo in the label');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_carol;
SELECT finsec.reject(:req_rej, 'not needed');
SELECT finsec.approve(:req_rej);
RESET SESSION AUTHORIZATION;
SELECT r.target, r.state, r.requested_by, r.decided_by, v.state AS version_state, v.wrapped IS NULL AS material_erased
  FROM finsec.change_request r JOIN finsec.key k ON k.label = r.target
  JOIN finsec.key_version v ON v.key_id = k.key_id
 WHERE r.request_id IN (:req_rej, :req_can) ORDER BY r.request_id;

-- Expiry: a request past its time cannot be approved, and is discarded.
SET SESSION AUTHORIZATION regress_alice;
SELECT finsec.key_generate('late.key', 'mac', 'hmac-sm3') AS req_late \gset
RESET SESSION AUTHORIZATION;
UPDATE finsec.change_request SET expires_at = now() - interval '1 second' WHERE request_id = :req_late;
SET SESSION AUTHORIZATION regress_bob;
SELECT finsec.approve(:req_late);
SELECT finsec.expire_requests();   -- what the next request, approval or rejection also does
RESET SESSION AUTHORIZATION;
SELECT r.state, v.state AS version_state, v.wrapped IS NULL AS material_erased
  FROM finsec.change_request r JOIN finsec.key k ON k.label = r.target
  JOIN finsec.key_version v ON v.key_id = k.key_id WHERE r.request_id = :req_late;

-- Rotation: the new version becomes active, the old one retired.  MACs made
-- under the old version still verify; new MACs use the new version.
SET SESSION AUTHORIZATION regress_app;
SELECT finsec.mac('pay.hmac', 'hmac-sha256', 'before rotation') AS old_mac \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_alice;
SELECT finsec.key_rotate('pay.hmac', 'yearly rotation') AS req_rot \gset
SELECT finsec.key_rotate('no.such.key');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_carol;
SELECT finsec.approve(:req_rot) - 'kcv' AS result;
RESET SESSION AUTHORIZATION;
SELECT version, state FROM finsec.key_inventory WHERE label = 'pay.hmac' ORDER BY version;
SET SESSION AUTHORIZATION regress_app;
SELECT finsec.mac_verify('pay.hmac', 'hmac-sha256', 'before rotation', :'old_mac') AS old_mac_verifies;
SELECT finsec.mac('pay.hmac', 'hmac-sha256', 'before rotation') <> :'old_mac' AS new_version_used;
RESET SESSION AUTHORIZATION;

-- Retire, destroy, and re-activate; each checked at request time.
SET SESSION AUTHORIZATION regress_alice;
SELECT finsec.key_destroy('pay.hmac', 2);       -- active: retire it first
SELECT finsec.key_activate('pay.hmac', 2);      -- already active
SELECT finsec.key_retire('pay.hmac', 1);        -- already retired
SELECT finsec.key_destroy('pay.hmac', 7);
SELECT finsec.key_destroy('pay.hmac', 1, 'superseded') AS req_destroy \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_bob;
SELECT finsec.approve(:req_destroy) - 'kcv' AS result;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_app;
SELECT finsec.mac_verify('pay.hmac', 'hmac-sha256', 'before rotation', :'old_mac') AS old_mac_after_destroy;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_bob;
SELECT finsec.key_retire('pay.hmac') AS req_retire \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_carol;
SELECT finsec.approve(:req_retire) - 'kcv' AS result;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_app;
SELECT finsec.mac('pay.hmac', 'hmac-sha256', 'x');               -- no active version
SELECT finsec.mac_verify('pay.hmac', 'hmac-sha256', 'x', '\x00000000');  -- retired still verifies (false)
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_carol;
SELECT finsec.key_activate('pay.hmac', 2, 'retired by mistake') AS req_act \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_alice;
SELECT finsec.approve(:req_act) - 'kcv' AS result;
RESET SESSION AUTHORIZATION;
SELECT version, state, retired_by IS NOT NULL AS was_retired, destroyed_by
  FROM finsec.key_inventory WHERE label = 'pay.hmac' ORDER BY version;

-- Every step is in the audit ledger, under the person who took it.
SELECT event_type, object, action, session_user_name
  FROM finsec.audit
 WHERE event_type LIKE 'change.%' OR event_type LIKE 'key.%' AND event_type <> 'key.use'
 ORDER BY finsec_seq;
-- Key use is counted per key, operation and role; the flush writes the
-- committed transactions' counts.
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT object, action, sum((detail->>'count')::int) AS uses
  FROM finsec.audit WHERE event_type = 'key.use' GROUP BY object, action ORDER BY object, action;

-- Tampering with a stored key is detected, never used.
CREATE TEMP TABLE saved AS SELECT * FROM finsec.key_version;
CREATE TEMP TABLE saved_key AS SELECT * FROM finsec.key;
UPDATE finsec.key_version SET wrapped = set_byte(wrapped, 20, get_byte(wrapped, 20) # 1)
 WHERE key_id = (SELECT key_id FROM finsec.key WHERE label = 'x919');
UPDATE finsec.key SET algorithm = 'hmac-sm3' WHERE label = 'otp';
UPDATE finsec.key_version SET kcv = '000000'
 WHERE key_id = (SELECT key_id FROM finsec.key WHERE label = 'pay.hmac') AND version = 2;
SELECT label, version, ok, detail FROM finsec.key_verify() ORDER BY label, version;
SET SESSION AUTHORIZATION regress_app;
SELECT finsec.mac('x919', 'iso9797-alg3', 'x');
RESET SESSION AUTHORIZATION;
-- A version wrapped under another master key says so.
UPDATE finsec.key_version SET master_kcv = '0123456789abcdef'
 WHERE key_id = (SELECT key_id FROM finsec.key WHERE label = 'otp');
SELECT label, ok, detail FROM finsec.key_verify() WHERE label = 'otp';
SELECT component, ok FROM finsec.status() WHERE component = 'keyring_keys';
DELETE FROM finsec.key_version;
UPDATE finsec.key k SET algorithm = s.algorithm FROM saved_key s WHERE s.key_id = k.key_id;
INSERT INTO finsec.key_version SELECT * FROM saved;
SELECT finsec.rewrap_keys();    -- no previous master key loaded
SELECT label, version, ok FROM finsec.key_verify() ORDER BY label, version;

-- The keys survive in the catalog only wrapped: no function returns material,
-- and nothing of the imported key appears in the tables.
SELECT count(*) AS tables_holding_key_bytes
  FROM finsec.key_version WHERE position('\x0123456789abcdeffedcba9876543210'::bytea IN wrapped) > 0;
-- (A type's send function returns that type's binary form, so it is not
-- counted.)
SELECT p.oid::regprocedure AS function_returning_bytea
  FROM pg_proc p WHERE p.pronamespace = 'finsec'::regnamespace AND p.prorettype = 'bytea'::regtype
   AND NOT EXISTS (SELECT FROM pg_type t WHERE t.typsend = p.oid)
 ORDER BY 1::text;
