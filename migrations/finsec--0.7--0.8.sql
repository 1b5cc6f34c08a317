/* finsec 0.7 -> 0.8 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '0.8'" to load this file. \quit

-- =====================================================================
-- Security hardening (issue 14, docs/security-model.md#threat-model).
--
-- Each section below is one class of defect found by a penetration test
-- of 0.7, fixed as a class.
-- =====================================================================

-- ---------------------------------------------------------------------
-- 1. No user-defined code runs with raised privileges (guards, limits,
--    risk: registered columns restricted to trusted types).
-- ---------------------------------------------------------------------

-- (end of section 1)

-- ---------------------------------------------------------------------
-- 2. NULL-safe functions; robustness of arguments.
-- ---------------------------------------------------------------------

-- (end of section 2)

-- ---------------------------------------------------------------------
-- 3. Audit records that survive the caller's rollback; secrets and
--    personal data kept out of logs; finsec's event namespaces reserved.
-- ---------------------------------------------------------------------

-- (end of section 3)

-- ---------------------------------------------------------------------
-- 4. Card numbers: no equality oracle for roles without finsec_unmask.
-- ---------------------------------------------------------------------

-- (end of section 4)

-- ---------------------------------------------------------------------
-- 5. The ledger and protected tables through inheritance, partitions,
--    rules, function replacement and renames.
-- ---------------------------------------------------------------------

-- (end of section 5)

-- ---------------------------------------------------------------------
-- 6-7. Limits and guards: no single-person switch; application fields
--    that cannot weaken limits; the table owner's statements.
-- ---------------------------------------------------------------------

-- (end of section 6-7)

-- ---------------------------------------------------------------------
-- Also: passwords (embedded sequences, keyed history), dump and restore
-- of deployed risk rulesets.
-- ---------------------------------------------------------------------

/*
 * Identity sequences of the configuration tables were not kept by pg_dump:
 * after a restore the next rule, list entry, case, sighting or limit
 * policy took identifier 1 again and failed on the primary key.
 */
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_rule_rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_list_entry_entry_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_case_case_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_sighting_sighting_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.limit_policy_policy_id_seq', '');

/*
 * Dump and restore of rulesets: pg_restore loads finsec.risk_ruleset and
 * finsec.risk_rule with COPY, so deployed and retired versions arrive as
 * new rows, and their rules as rules of a version that is no longer a
 * draft.  Both are accepted only while restoring: the session's role is a
 * superuser (is_superuser, which a SECURITY DEFINER function does not
 * change) and it set finsec.restore = on, which only a superuser can set.
 * finsec_admin can do neither, so deployment stays two-person.  A restored
 * version must carry a complete deployment record; its content is checked
 * against the recorded hash before it scores (src/risk/rules.c).  In
 * risk_rule_check, a restored rule of a version that left 'draft' passes
 * the state test and leaves the version's row alone (the line numbers of
 * its body are kept, for the messages' CONTEXT).
 */
CREATE OR REPLACE FUNCTION finsec.risk_ruleset_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		IF OLD.state <> 'draft' THEN
			RAISE EXCEPTION 'risk ruleset % cannot be deleted: it was deployed', OLD.version
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = 'Deployed versions are the model registry''s record (JR/T 0199 8.3).';
		END IF;
		PERFORM finsec.audit_event('risk.ruleset_delete', 'risk_ruleset:' || OLD.version, 'delete', true,
			format('draft risk ruleset %s deleted', OLD.version), jsonb_build_object('version', OLD.version));
		RETURN OLD;
	END IF;
	IF TG_OP = 'INSERT' THEN
		IF NEW.state <> 'draft' OR NEW.content_hash IS NOT NULL OR NEW.deployed_by IS NOT NULL THEN
			IF NOT (coalesce(current_setting('finsec.restore', true), 'off') = 'on' AND current_setting('is_superuser') = 'on') THEN
				RAISE EXCEPTION 'a new risk ruleset is a draft' USING ERRCODE = 'object_not_in_prerequisite_state',
					HINT = 'To restore a dump with deployed rulesets, run pg_restore as a superuser with finsec.restore = on (PGOPTIONS=''-c finsec.restore=on''); see docs/install.md.';
			END IF;
			IF NEW.state = 'draft' OR NEW.content_hash IS NULL OR octet_length(NEW.content_hash) <> 32
			   OR NEW.deployed_by IS NULL OR NEW.deployed_at IS NULL
			   OR (NEW.state = 'retired') <> (NEW.retired_at IS NOT NULL) THEN
				RAISE EXCEPTION 'restored risk ruleset % has no complete deployment record', NEW.version
					USING ERRCODE = 'object_not_in_prerequisite_state',
						  DETAIL = 'A deployed or retired version carries its content hash, deployer and deployment time (and retirement time); a draft carries none.';
			END IF;
			-- the server log keeps a trace of every version a restore loaded
			RAISE LOG 'finsec: risk ruleset % restored as %, content hash %, deployed by % at %',
				NEW.version, NEW.state, encode(NEW.content_hash, 'hex'), NEW.deployed_by, NEW.deployed_at;
		END IF;
		RETURN NEW;
	END IF;
	IF OLD.state = 'draft' AND NEW.state = 'draft' THEN
		IF NEW.content_hash IS NOT NULL OR NEW.deployed_by IS NOT NULL THEN
			RAISE EXCEPTION 'a draft has no deployment record' USING ERRCODE = 'object_not_in_prerequisite_state';
		END IF;
		RETURN NEW;
	END IF;
	IF OLD.state = 'draft' AND NEW.state = 'active' THEN
		NEW.content_hash := finsec.risk_ruleset_hash(NEW.version);
		NEW.deployed_by := coalesce(NEW.deployed_by, session_user);
		NEW.deployed_at := coalesce(NEW.deployed_at, now());
		RETURN NEW;
	END IF;
	IF OLD.state = 'active' AND NEW.state = 'retired'
	   AND (to_jsonb(NEW) - 'state' - 'retired_at') = (to_jsonb(OLD) - 'state' - 'retired_at') THEN
		NEW.retired_at := coalesce(NEW.retired_at, now());
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'risk ruleset % cannot change from % to %', OLD.version, OLD.state, NEW.state
		USING ERRCODE = 'object_not_in_prerequisite_state',
			  HINT = 'Deployed versions are immutable: copy one into a new draft with finsec.risk_ruleset_copy().';
END
$$;

CREATE OR REPLACE FUNCTION finsec.risk_rule_check()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v bigint;
	st text;
	mine boolean;
BEGIN
	FOREACH v IN ARRAY CASE TG_OP WHEN 'INSERT' THEN ARRAY[NEW.ruleset_version]
								  WHEN 'DELETE' THEN ARRAY[OLD.ruleset_version]
								  ELSE ARRAY[OLD.ruleset_version, NEW.ruleset_version] END LOOP
		SELECT s.state, s.xmin = pg_current_xact_id()::xid INTO st, mine
		  FROM finsec.risk_ruleset s WHERE s.version = v FOR UPDATE;
		-- not found: a draft being deleted (its rules go with it), or a foreign key error to come
		CONTINUE WHEN NOT FOUND;
		IF st <> 'draft' AND NOT (TG_OP = 'INSERT' AND coalesce(current_setting('finsec.restore', true), 'off') = 'on' AND current_setting('is_superuser') = 'on') THEN
			RAISE EXCEPTION 'rules of risk ruleset % cannot change: it is no longer a draft', v
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Copy it into a new draft with finsec.risk_ruleset_copy(), change that, and deploy it.';
		END IF;
		-- once per transaction is enough (a long list of rules would otherwise lengthen the row's chain)
		CONTINUE WHEN mine OR st <> 'draft';
		UPDATE finsec.risk_ruleset s SET content_hash = NULL WHERE s.version = v;
	END LOOP;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		NEW.params := finsec._risk_check_rule(NEW.kind, NEW.params);
		RETURN NEW;
	END IF;
	RETURN OLD;
END
$$;

/*
 * Password history and personal-data profiles under the keyring: the key
 * version of each row (NULL: kept as in 0.7, salted but not keyed), and
 * finsec.password_rekey() to move 0.7 rows under the fingerprint key
 * "auth.password" once two administrators have created it (a password
 * change or a profile update moves them too).  docs/auth.md "Keyed history".
 */
ALTER TABLE finsec.password_history ADD COLUMN key_version integer CHECK (key_version > 0);
ALTER TABLE finsec.role_profile ADD COLUMN key_version integer CHECK (key_version > 0);
COMMENT ON COLUMN finsec.password_history.key_version IS
	'version of keyring key auth.password the hash is kept under: HMAC(key, FSPH1 || PBKDF2); NULL: PBKDF2 alone (0.7)';
COMMENT ON COLUMN finsec.role_profile.key_version IS
	'version of keyring key auth.password the token hashes are kept under: HMAC(key, FSPP1 || SHA-256); NULL: SHA-256 alone (0.7)';

CREATE FUNCTION finsec.password_rekey()
RETURNS bigint
LANGUAGE C
AS 'MODULE_PATHNAME', 'finsec_password_rekey';
COMMENT ON FUNCTION finsec.password_rekey() IS
	'move password history and profile rows kept unkeyed (0.7) under keyring key auth.password; returns the rows moved (0 while the key does not exist)';
REVOKE ALL ON FUNCTION finsec.password_rekey() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.password_rekey() TO finsec_admin;

-- (end of section "also")
