--
-- 121_protect_identifiers: protected_resident_id, protected_uscc and
-- protected_mobile (docs/protected-data.md): validated exactly like the
-- clear identifier types, stored encrypted, masked by the identifier's
-- own mask whatever the policy says, counted by the probe budget.
--
SET client_min_messages = warning;
-- EXPLAIN with the sealed forms of literals (random nonces) shortened.
CREATE FUNCTION pg_temp.plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
	FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		RETURN NEXT regexp_replace(l, '~fp1\.[A-Za-z0-9_-]+', '~fp1...', 'g');
	END LOOP;
END $$;

-- protect.enc and protect.fp (120 made them; made here when run alone).
SELECT count(*) = 2 AS have_protect_keys FROM finsec.key WHERE label IN ('protect.enc', 'protect.fp') \gset
\if :have_protect_keys
\else
CREATE ROLE regress_i_adm1 LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_i_adm2 LOGIN IN ROLE finsec_admin;
SET SESSION AUTHORIZATION regress_i_adm1;
SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm') AS k1 \gset
SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256') AS k2 \gset
SET SESSION AUTHORIZATION regress_i_adm2;
SELECT finsec.approve(:k1) IS NOT NULL AND finsec.approve(:k2) IS NOT NULL AS keys_approved \gset
RESET SESSION AUTHORIZATION;
DROP ROLE regress_i_adm1, regress_i_adm2;
\endif
CREATE ROLE regress_i_admin LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_i_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_i_unmask LOGIN IN ROLE finsec_app, finsec_unmask;
SET SESSION AUTHORIZATION regress_i_admin;
-- A policy's mask does not apply to identifiers: they keep their own.
SELECT finsec.protect_policy_create('kyc_id', mask => 'name', label => 'identifier') > 0 AS created;
SELECT finsec.protect_policy_create('kyc_phone', mask => 'phone') > 0 AS created;
RESET SESSION AUTHORIZATION;

-- Valid input: canonical form (upper-case X), the identifier's mask.
SELECT finsec.mask(v) FROM (VALUES ('11010519491231002X'::finsec.protected_resident_id),
								   ('11010519491231002x'), (' 11010519491231002X ')) t(v);
SELECT finsec.mask('91350100M000100Y43'::finsec.protected_uscc),
	   finsec.mask('13812345678'::finsec.protected_mobile),
	   finsec.mask('+86 138 1234 5678'::finsec.protected_mobile);
SELECT finsec.mask('11010519491231002X'::finsec.protected_resident_id(kyc_id)) AS own_mask_under_name_policy;
SELECT split_part('13812345678'::finsec.protected_mobile::text, '~', 1) AS shown,
	   position('12345678' IN '13812345678'::finsec.protected_mobile::text) AS clear_at;

-- Invalid input: the same errors as the clear types, never the value.
\set VERBOSITY default
SELECT '11010519491231002Y'::finsec.protected_resident_id;
SELECT '110105194912310'::finsec.protected_resident_id;
\set VERBOSITY terse
SELECT '11010519491231002Y'::finsec.cn_resident_id;
SELECT ''::finsec.protected_resident_id;
SELECT '99010519491231002X'::finsec.protected_resident_id;
SELECT '11010519491331002X'::finsec.protected_resident_id;
SELECT '91350100M000100Y44'::finsec.protected_uscc;
SELECT '91350100M000100Y4'::finsec.protected_uscc;
SELECT '1381234567'::finsec.protected_mobile;
SELECT '12812345678'::finsec.protected_mobile;
SELECT '+1 13812345678'::finsec.protected_mobile;
SELECT repeat('1', 100000)::finsec.protected_mobile;

-- Casts from the clear types (assignment), none back.
CREATE TABLE regress_kyc (
	id int PRIMARY KEY,
	rid finsec.protected_resident_id(kyc_id) UNIQUE,
	code finsec.protected_uscc("default"),
	mobile finsec.protected_mobile("default")
);
INSERT INTO regress_kyc VALUES (1, '11010519491231002X'::finsec.cn_resident_id, '91350100M000100Y43'::finsec.uscc,
								'13812345678'::finsec.cn_mobile);
INSERT INTO regress_kyc VALUES (2, finsec.cn_resident_id_from_15('130503670401001'), NULL, '+86 13900001111');
SELECT id, finsec.mask(rid), finsec.mask(code), finsec.mask(mobile), (finsec.protected_info(rid)).policy
  FROM regress_kyc ORDER BY id;
SELECT '13812345678'::finsec.protected_mobile::finsec.cn_mobile;
SELECT '13812345678'::finsec.protected_mobile::text LIKE '138****5678~fp1.%' AS text_is_sealed_form;
SELECT '11010519491231002X'::finsec.protected_resident_id::finsec.protected_text;

-- Equality by fingerprint, whatever the written form.
SELECT id FROM regress_kyc WHERE rid = '11010519491231002x'::finsec.protected_resident_id(kyc_id);
SELECT id FROM regress_kyc WHERE mobile = '+86 138-1234-5678'::finsec.protected_mobile("default");
SELECT count(*) FROM regress_kyc a JOIN regress_kyc b ON a.mobile = b.mobile;
INSERT INTO regress_kyc VALUES (3, '11010519491231002X', NULL, NULL);
SET enable_seqscan = off;
SELECT pg_temp.plan($$SELECT id FROM regress_kyc WHERE rid = '11010519491231002X'::finsec.protected_resident_id(kyc_id)$$);
RESET enable_seqscan;

-- Sealed forms keep their kind.
SELECT (rid::text)::finsec.protected_resident_id(kyc_id) = rid AS round_trip FROM regress_kyc WHERE id = 1;
SELECT (mobile::text)::finsec.protected_uscc FROM regress_kyc WHERE id = 1;
SELECT (mobile::text)::finsec.protected_text FROM regress_kyc WHERE id = 1;

-- Reveal gives the canonical value.
GRANT SELECT ON regress_kyc TO regress_i_app, regress_i_unmask;
SET SESSION AUTHORIZATION regress_i_app;
SELECT finsec.reveal(rid) FROM regress_kyc WHERE id = 1;
SELECT finsec.reveal(NULL::finsec.protected_mobile);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_i_unmask;
SELECT id, finsec.reveal(rid, 'kyc', 'regress_kyc'), finsec.reveal(code), finsec.reveal(mobile)
  FROM regress_kyc ORDER BY id;
RESET SESSION AUTHORIZATION;
SELECT finsec.flush_audit_events() >= 0 AS flushed;
SELECT detail->>'kind' AS kind, detail->>'policy' AS policy, detail->>'masked' AS masked
  FROM finsec.audit WHERE event_type = 'protect.reveal' AND detail->>'kind' <> 'text' ORDER BY finsec_seq;

-- The probe budget: constructing many mobile numbers of one visible
-- pattern (138****5678) is how the hidden digits are guessed.
SET finsec.card_probe_budget = 3;
SET SESSION AUTHORIZATION regress_i_app;
SELECT finsec.mask(('138' || lpad(i::text, 4, '0') || '5678')::finsec.protected_mobile) FROM generate_series(1, 3) i;
SELECT '13800015678'::finsec.protected_mobile IS NOT NULL AS same_value_again_is_free;
SELECT '13800045678'::finsec.protected_mobile;
SELECT '13900045678'::finsec.protected_mobile IS NOT NULL AS other_pattern_counts_apart;
-- A phone-masked text is counted the same way; other masks are not.
SELECT finsec.mask(('138' || lpad(i::text, 4, '0') || '9999')::finsec.protected_text(kyc_phone)) FROM generate_series(1, 4) i;
RESET SESSION AUTHORIZATION;
RESET finsec.card_probe_budget;
SELECT finsec.flush_card_probes() >= 1 AS flushed;
SELECT event_type, object, detail->>'kind' AS kind, detail->>'visible' AS visible, (detail->>'refused')::int AS refused
  FROM finsec.audit WHERE event_type LIKE 'protect.probe%' ORDER BY finsec_seq;

DROP TABLE regress_kyc;
