--
-- 158_compliance_verify_record: finsec.key_verify() and finsec.audit_verify()
-- record themselves in the ledger (key.verify, audit.verify), durably: the
-- record survives the caller's ROLLBACK; a failing verification is recorded
-- with success false; applications cannot forge these event types
-- (docs/compliance.md).
--
SET client_min_messages = warning;
CREATE ROLE regress158_alice LOGIN IN ROLE finsec_admin;
CREATE ROLE regress158_bob LOGIN IN ROLE finsec_admin;
CREATE ROLE regress158_auditor LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress158_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress158_nobody LOGIN;

-- A key of this test, approved by a second administrator.
SET SESSION AUTHORIZATION regress158_alice;
SELECT finsec.key_generate('regress158.k', 'mac', 'hmac-sha256', 'verification test') AS req \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress158_bob;
SELECT finsec.approve(:req) ? 'kcv' AS approved;
RESET SESSION AUTHORIZATION;

CREATE TEMP TABLE mark AS SELECT coalesce(max(finsec_seq), 0) AS seq FROM finsec.audit;
GRANT SELECT ON mark TO regress158_auditor;

-- key_verify writes one key.verify row: object keyring, success, counts.
SET SESSION AUTHORIZATION regress158_auditor;
SELECT ok FROM finsec.key_verify() WHERE label = 'regress158.k';
-- (Keys of earlier test files may be in any state: judge this test's key.)
SELECT event_type, db_user, object, action,
       success = ((detail->>'failed')::int = 0) AS success_iff_none_failed,
       (detail->>'keys')::int >= 1 AS keys_counted,
       jsonb_array_length(detail->'failed_labels') = (detail->>'failed')::int AS labels_counted,
       detail->'failed_labels' ? 'regress158.k' AS this_key_failed,
       detail ?& ARRAY['keys', 'versions', 'failed', 'failed_labels'] AS complete
  FROM finsec.audit WHERE finsec_seq > (SELECT seq FROM mark) AND event_type = 'key.verify';
RESET SESSION AUTHORIZATION;
-- Nothing of a key in the record: no wrapped bytes, no check value.
SELECT count(*) AS key_material_in_record
  FROM finsec.audit a, finsec.key_version v JOIN finsec.key k USING (key_id)
 WHERE a.finsec_seq > (SELECT seq FROM mark) AND a.event_type = 'key.verify'
   AND k.label = 'regress158.k'
   AND (position(v.kcv IN a.detail::text) > 0 OR position(encode(v.wrapped, 'hex') IN a.detail::text) > 0);

-- The record survives the caller's rollback.
UPDATE mark SET seq = (SELECT max(finsec_seq) FROM finsec.audit);
SET SESSION AUTHORIZATION regress158_auditor;
BEGIN;
SELECT count(*) > 0 AS verified FROM finsec.key_verify();
ROLLBACK;
RESET SESSION AUTHORIZATION;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT event_type, db_user, success = ((detail->>'failed')::int = 0) AS success_iff_none_failed
  FROM finsec.audit WHERE finsec_seq > (SELECT seq FROM mark) AND event_type = 'key.verify';

-- A key that fails verification: success false, its label named.
CREATE TEMP TABLE saved AS
  SELECT v.* FROM finsec.key_version v JOIN finsec.key k USING (key_id) WHERE k.label = 'regress158.k';
UPDATE finsec.key_version SET kcv = '000000'
 WHERE key_id = (SELECT key_id FROM finsec.key WHERE label = 'regress158.k');
UPDATE mark SET seq = (SELECT max(finsec_seq) FROM finsec.audit);
SET SESSION AUTHORIZATION regress158_auditor;
SELECT ok FROM finsec.key_verify() WHERE label = 'regress158.k';
SELECT event_type, success, (detail->>'failed')::int >= 1 AS failed_counted,
       detail->'failed_labels' ? 'regress158.k' AS label_named, description LIKE '% keys failed verification' AS described
  FROM finsec.audit WHERE finsec_seq > (SELECT seq FROM mark) AND event_type = 'key.verify';
RESET SESSION AUTHORIZATION;
DELETE FROM finsec.key_version WHERE key_id = (SELECT key_id FROM saved LIMIT 1);
INSERT INTO finsec.key_version SELECT * FROM saved;
SELECT ok FROM finsec.key_verify() WHERE label = 'regress158.k';

-- audit_verify writes one audit.verify row: object ledger, the counts.
CREATE TABLE regress158_t (i int, note text);
SELECT finsec.protect_table('regress158_t') IS NOT NULL AS protected;
INSERT INTO regress158_t VALUES (1, 'one'), (2, 'two');
SELECT relation, blocks_sealed, rows_sealed FROM finsec.audit_seal('regress158_t');
UPDATE mark SET seq = (SELECT max(finsec_seq) FROM finsec.audit);
SET SESSION AUTHORIZATION regress158_auditor;
SELECT relation, ok, rows_checked, blocks_checked, rows_pending, first_failure
  FROM finsec.audit_verify('regress158_t');
SELECT event_type, db_user, object, action, success, detail->>'problems' AS problems,
       detail->'chains' AS chains, detail->'rows' AS rows, detail->'blocks' AS blocks,
       detail->'failed_relations' AS failed_relations, detail->'relation' AS relation,
       detail->'since_digest' AS since_digest
  FROM finsec.audit WHERE finsec_seq > (SELECT seq FROM mark) AND event_type = 'audit.verify';
RESET SESSION AUTHORIZATION;

-- ... also when the caller rolls back.
UPDATE mark SET seq = (SELECT max(finsec_seq) FROM finsec.audit);
SET SESSION AUTHORIZATION regress158_auditor;
BEGIN;
SELECT relation, ok FROM finsec.audit_verify('regress158_t');
ROLLBACK;
RESET SESSION AUTHORIZATION;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT event_type, success, detail->'relation' AS relation
  FROM finsec.audit WHERE finsec_seq > (SELECT seq FROM mark) AND event_type = 'audit.verify';

-- A failing verification is recorded with success false and the relation
-- it names: a digest whose head the chain does not match (the chain was
-- rewritten since; the digest keeps only this test's chain) ...
CREATE TEMP TABLE d AS SELECT finsec.audit_digest() AS digest;
GRANT SELECT ON d TO regress158_auditor;
UPDATE mark SET seq = (SELECT max(finsec_seq) FROM finsec.audit);
SET SESSION AUTHORIZATION regress158_auditor;
SELECT relation, ok, first_failure IS NOT NULL AS failure_said FROM finsec.audit_verify('regress158_t',
       (SELECT jsonb_set(digest, '{chains}', jsonb_agg(jsonb_set(c, '{head_hash}', to_jsonb(repeat('00', 32)))))
          FROM d, jsonb_array_elements(digest->'chains') c
         WHERE c->>'relation' = 'public.regress158_t'
         GROUP BY digest));
SELECT event_type, success, detail->>'problems' AS problems, detail->'failed_relations' AS failed_relations,
       detail->'since_digest' AS since_digest
  FROM finsec.audit WHERE finsec_seq > (SELECT seq FROM mark) AND event_type = 'audit.verify';
RESET SESSION AUTHORIZATION;
-- ... or a digest naming a chain the ledger does not have (a quoted,
-- hostile relation name stays a JSON string).
UPDATE mark SET seq = (SELECT max(finsec_seq) FROM finsec.audit);
SET SESSION AUTHORIZATION regress158_auditor;
SELECT relation, ok, first_failure FROM finsec.audit_verify(NULL,
       '{"chains": [{"chain_id": "00000000-0000-0000-0000-000000000158", "relation": "public.\"<script>x\""}]}')
 WHERE NOT ok;
SELECT event_type, success, detail->>'problems' AS problems, detail->'failed_relations' AS failed_relations,
       detail->'since_digest' AS since_digest, description LIKE '% chains failed verification' AS described
  FROM finsec.audit WHERE finsec_seq > (SELECT seq FROM mark) AND event_type = 'audit.verify';
RESET SESSION AUTHORIZATION;

-- Applications cannot forge these event types.
SET SESSION AUTHORIZATION regress158_app;
SELECT finsec.audit_event('key.verify', 'keyring', 'verify', true);
SELECT finsec.audit_event('audit.verify', 'ledger', 'verify', true);
SELECT finsec.audit_event('Key.Verify', 'keyring', 'verify', true);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress158_auditor;
SELECT finsec.audit_event('audit.verify', 'ledger', 'verify', true);
RESET SESSION AUTHORIZATION;

-- Other roles cannot run the verifications at all: an application role
-- (which has the schema) is refused EXECUTE, a role without the schema
-- is refused earlier.
SET SESSION AUTHORIZATION regress158_app;
SELECT * FROM finsec.key_verify();
SELECT * FROM finsec.audit_verify();
SELECT * FROM finsec._audit_verify_rows();
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress158_nobody;
SELECT * FROM finsec.key_verify();
SELECT * FROM finsec.audit_verify();
SELECT * FROM finsec._audit_verify_rows();
RESET SESSION AUTHORIZATION;

-- A read-only transaction verifies but cannot record (documented).
UPDATE mark SET seq = (SELECT max(finsec_seq) FROM finsec.audit);
SET SESSION AUTHORIZATION regress158_auditor;
BEGIN READ ONLY;
SELECT relation, ok FROM finsec.audit_verify('regress158_t');
COMMIT;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS recorded_read_only
  FROM finsec.audit WHERE finsec_seq > (SELECT seq FROM mark) AND event_type = 'audit.verify';

-- Clean up (the key stays: keys are destroyed through two-person requests).
DROP ROLE regress158_nobody, regress158_app;
