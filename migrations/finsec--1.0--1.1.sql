/* finsec 1.0 -> 1.1 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '1.1'" to load this file. \quit

-- =====================================================================
-- Protected personal data (issue 17, docs/protected-data.md):
-- finsec.protected_text and the protected identifier types, encrypted
-- under a policy's keyring key, fingerprinted for equality, masked on
-- output; reveal through one audited, rate-limited gate; period keys and
-- crypto-shredding; the finsec sensitivity-label provider.
-- Clauses D3, D4 (002 4.4.3, 004 8.3.5 b, 004 8.3.4 b/d enhanced,
-- 003 6.4.2.5.1, 002 3.2.7).
-- =====================================================================

-- ---------------------------------------------------------------------
-- 1. Core: policies, the protected types, their operators and casts,
--    mask(), protected_info(), protected_rekey().
-- ---------------------------------------------------------------------

-- (end of section 1)

-- ---------------------------------------------------------------------
-- 2. Reveal gate, period keys, crypto-shredding, batch re-keying.
-- ---------------------------------------------------------------------

-- (end of section 2)

-- ---------------------------------------------------------------------
-- 3. Sensitivity labels: the finsec label provider's clearances,
--    labelled_columns(), label_suggestions().
-- ---------------------------------------------------------------------

/*
 * The provider itself is C (src/protect/label.c, registered when the
 * library is preloaded): SECURITY LABEL FOR finsec ON TABLE|COLUMN ...
 * IS 'public'|'internal'|'quasi_identifier'|'identifier'|'sensitive'.
 * Setting or raising a label is the owner's (PostgreSQL's check);
 * lowering or removing a restricted one is the two-person kind
 * protect.label_change.  A role reads a column whose effective label is
 * restricted only with a clearance (granting: protect.clearance_grant;
 * revoking: direct); columns of a protected type are readable as masks.
 */
CREATE TABLE finsec.label_clearance (
	label			text NOT NULL CHECK (label IN ('quasi_identifier', 'identifier', 'sensitive')),
	grantee			name NOT NULL,
	audited			boolean NOT NULL DEFAULT true,
	request_id		bigint,
	requested_by	name,
	granted_by		name NOT NULL DEFAULT session_user,
	granted_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (label, grantee)
);
COMMENT ON TABLE finsec.label_clearance IS
	'finsec: roles cleared to read columns labelled up to label (members of grantee included); audited = false: reads leave no label.read row';
SELECT pg_catalog.pg_extension_config_dump('finsec.label_clearance', '');
REVOKE ALL ON TABLE finsec.label_clearance FROM PUBLIC;
GRANT SELECT ON TABLE finsec.label_clearance TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._label_clearance_changed() RETURNS trigger
LANGUAGE C AS 'MODULE_PATHNAME', 'finsec_label_clearance_changed';
REVOKE ALL ON FUNCTION finsec._label_clearance_changed() FROM PUBLIC;
CREATE TRIGGER label_clearance_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON finsec.label_clearance
	FOR EACH STATEMENT EXECUTE FUNCTION finsec._label_clearance_changed();

CREATE FUNCTION finsec._label_current(tbl regclass, col name)
RETURNS text
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'finsec_label_current';
COMMENT ON FUNCTION finsec._label_current(regclass, name) IS
	'internal: the finsec label of a table (col NULL) or column, after checking it can carry one';
REVOKE ALL ON FUNCTION finsec._label_current(regclass, name) FROM PUBLIC;

CREATE FUNCTION finsec._label_apply(tbl regclass, col name, new_label text, expected text)
RETURNS text
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'finsec_label_apply';
COMMENT ON FUNCTION finsec._label_apply(regclass, name, text, text) IS
	'internal: apply an approved protect.label_change (the label must still be the one pinned); returns the label replaced';
REVOKE ALL ON FUNCTION finsec._label_apply(regclass, name, text, text) FROM PUBLIC;

CREATE FUNCTION finsec._label_effective(tbl regclass, attnum smallint)
RETURNS text
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'finsec_label_effective';
COMMENT ON FUNCTION finsec._label_effective(regclass, smallint) IS
	'internal: the effective finsec label of a column (attnum 0: of the table), through inheritance both ways';
REVOKE ALL ON FUNCTION finsec._label_effective(regclass, smallint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._label_effective(regclass, smallint)
	TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec._label_masked_type(typ oid)
RETURNS boolean
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'finsec_label_masked_type';
COMMENT ON FUNCTION finsec._label_masked_type(oid) IS
	'internal: is the type (or its base or element type) one of finsec''s protected types, whose output is a mask';
REVOKE ALL ON FUNCTION finsec._label_masked_type(oid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._label_masked_type(oid)
	TO finsec_admin, finsec_auditor, finsec_operator;

-- protect.label_change: prepare pins the label it replaces.
CREATE FUNCTION finsec._label_change_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass;
	col name;
	new_label text;
	cur text;
BEGIN
	IF jsonb_typeof(payload) IS DISTINCT FROM 'object' OR jsonb_typeof(payload->'relid') IS DISTINCT FROM 'number'
	   OR jsonb_typeof(coalesce(payload->'column', 'null')) NOT IN ('string', 'null')
	   OR jsonb_typeof(coalesce(payload->'label', 'null')) NOT IN ('string', 'null')
	   OR EXISTS (SELECT 1 FROM jsonb_object_keys(payload) k WHERE k NOT IN ('relid', 'column', 'label')) THEN
		RAISE EXCEPTION 'a protect.label_change request needs the payload {"relid": <table OID>, "column": <name or null>, "label": <label or null>}'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF (payload->>'relid')::numeric NOT BETWEEN 1 AND 4294967295 THEN
		RAISE EXCEPTION 'relid of a protect.label_change request is not a table OID' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	rel := (payload->>'relid')::numeric::bigint::oid;
	col := payload->>'column';
	new_label := payload->>'label';
	IF new_label IS NOT NULL AND new_label NOT IN ('public', 'internal', 'quasi_identifier', 'identifier', 'sensitive') THEN
		RAISE EXCEPTION '"%" is not a finsec sensitivity label', new_label
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The labels are public, internal, quasi_identifier, identifier and sensitive.';
	END IF;
	cur := finsec._label_current(rel, col);
	IF cur IS NOT DISTINCT FROM new_label THEN
		RAISE EXCEPTION '% already has the finsec label %', CASE WHEN col IS NULL THEN format('table %s', rel)
			ELSE format('column %I of %s', col, rel) END, coalesce(new_label, '(none)')
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	RETURN jsonb_build_object('relid', rel::oid::bigint, 'relation', rel::text, 'column', col,
							  'label', new_label, 'replaces', cur);
END
$$;
REVOKE ALL ON FUNCTION finsec._label_change_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._label_change_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass;
	old text;
BEGIN
	SELECT c.oid INTO rel FROM pg_class c WHERE c.oid = (payload->>'relid')::numeric::bigint::oid;
	IF rel IS NULL THEN
		RAISE EXCEPTION 'the table of change request % no longer exists', request_id
			USING ERRCODE = 'undefined_table';
	END IF;
	old := finsec._label_apply(rel, payload->>'column', payload->>'label', payload->>'replaces');
	PERFORM finsec.audit_event('label.change', target, 'change', true,
							   'finsec label changed on approval',
							   jsonb_build_object('request_id', request_id, 'relation', rel::text,
												  'column', payload->>'column', 'label', payload->>'label',
												  'replaced', old),
							   session_user);
	RETURN jsonb_build_object('relation', rel::text, 'column', payload->>'column',
							  'label', payload->>'label', 'replaced', old);
END
$$;
REVOKE ALL ON FUNCTION finsec._label_change_apply(bigint, text, text, jsonb) FROM PUBLIC;

-- protect.clearance_grant: prepare checks the role and pins the clearance it replaces.
CREATE FUNCTION finsec._label_grant_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cur finsec.label_clearance;
BEGIN
	IF jsonb_typeof(payload) IS DISTINCT FROM 'object'
	   OR jsonb_typeof(payload->'label') IS DISTINCT FROM 'string'
	   OR jsonb_typeof(payload->'grantee') IS DISTINCT FROM 'string'
	   OR jsonb_typeof(payload->'audited') IS DISTINCT FROM 'boolean'
	   OR EXISTS (SELECT 1 FROM jsonb_object_keys(payload) k WHERE k NOT IN ('label', 'grantee', 'audited')) THEN
		RAISE EXCEPTION 'a protect.clearance_grant request needs the payload {"label": <label>, "grantee": <role>, "audited": <boolean>}'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF payload->>'label' NOT IN ('quasi_identifier', 'identifier', 'sensitive') THEN
		RAISE EXCEPTION '"%" is not a finsec label that needs a clearance', payload->>'label'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Clearances are for quasi_identifier, identifier and sensitive; a clearance for a label covers the lower ones.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = payload->>'grantee') THEN
		RAISE EXCEPTION 'role "%" does not exist', payload->>'grantee'
			USING ERRCODE = 'undefined_object';
	END IF;
	SELECT * INTO cur FROM finsec.label_clearance c
	 WHERE c.label = payload->>'label' AND c.grantee = payload->>'grantee';
	IF FOUND AND cur.audited = (payload->>'audited')::boolean THEN
		RAISE EXCEPTION 'role "%" already holds this clearance for %', payload->>'grantee', payload->>'label'
			USING ERRCODE = 'duplicate_object';
	END IF;
	RETURN payload || jsonb_build_object('replaces_audited', cur.audited);
END
$$;
REVOKE ALL ON FUNCTION finsec._label_grant_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._label_grant_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	requester name;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = payload->>'grantee') THEN
		RAISE EXCEPTION 'role "%" does not exist', payload->>'grantee'
			USING ERRCODE = 'undefined_object';
	END IF;
	SELECT cr.requested_by INTO requester FROM finsec.change_request cr WHERE cr.request_id = _label_grant_apply.request_id;
	INSERT INTO finsec.label_clearance AS c (label, grantee, audited, request_id, requested_by, granted_by, granted_at)
	VALUES (payload->>'label', payload->>'grantee', (payload->>'audited')::boolean, request_id, requester,
			session_user, now())
	ON CONFLICT (label, grantee) DO UPDATE
	   SET audited = EXCLUDED.audited, request_id = EXCLUDED.request_id,
		   requested_by = EXCLUDED.requested_by, granted_by = EXCLUDED.granted_by,
		   granted_at = EXCLUDED.granted_at;
	PERFORM finsec.audit_event('label.clearance_grant', target, 'grant', true,
							   'finsec label clearance granted on approval',
							   jsonb_build_object('request_id', request_id, 'label', payload->>'label',
												  'grantee', payload->>'grantee',
												  'audited', (payload->>'audited')::boolean,
												  'requested_by', requester),
							   session_user);
	RETURN jsonb_build_object('label', payload->>'label', 'grantee', payload->>'grantee',
							  'audited', (payload->>'audited')::boolean);
END
$$;
REVOKE ALL ON FUNCTION finsec._label_grant_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('protect.label_change', 'finsec._label_change_prepare(text, text, jsonb)',
	 'finsec._label_change_apply(bigint, text, text, jsonb)', NULL,
	 'change or remove the finsec sensitivity label of a table or column (target: table[.column]; the label replaced is pinned at request)'),
	('protect.clearance_grant', 'finsec._label_grant_prepare(text, text, jsonb)',
	 'finsec._label_grant_apply(bigint, text, text, jsonb)', NULL,
	 'grant a role a clearance to read columns labelled up to a label (target: role:label)');

CREATE FUNCTION finsec.label_change(tbl regclass, col name, new_label text, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('protect.label_change',
								 coalesce($1::text, '?') || coalesce('.' || quote_ident($2), ''),
								 jsonb_build_object('relid', $1::oid::bigint, 'column', $2, 'label', $3), $4)
$$;
COMMENT ON FUNCTION finsec.label_change(regclass, name, text, text) IS
	'request a change or removal (new_label NULL) of the finsec label of a table (col NULL) or column; another finsec_admin approves (finsec.approve)';
REVOKE ALL ON FUNCTION finsec.label_change(regclass, name, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.label_change(regclass, name, text, text) TO finsec_admin;

CREATE FUNCTION finsec.label_grant(label text, grantee name, audited boolean DEFAULT true, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('protect.clearance_grant', coalesce($2::text, '?') || ':' || coalesce($1, '?'),
								 jsonb_build_object('label', $1, 'grantee', $2, 'audited', $3), $4)
$$;
COMMENT ON FUNCTION finsec.label_grant(text, name, boolean, text) IS
	'request a clearance for a role to read columns labelled up to label (audited = false: no label.read rows); another finsec_admin approves';
REVOKE ALL ON FUNCTION finsec.label_grant(text, name, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.label_grant(text, name, boolean, text) TO finsec_admin;

CREATE FUNCTION finsec.label_revoke(label text, grantee name, reason text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	gone boolean;
BEGIN
	PERFORM finsec._require_admin('revoke');
	IF label IS NULL OR grantee IS NULL THEN
		RAISE EXCEPTION 'label and grantee must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	DELETE FROM finsec.label_clearance c WHERE c.label = label_revoke.label AND c.grantee = label_revoke.grantee;
	gone := FOUND;
	PERFORM finsec.audit_event('label.clearance_revoke', grantee || ':' || label, 'revoke', gone, reason,
							   jsonb_build_object('label', label, 'grantee', grantee, 'revoked', gone),
							   session_user);
	RETURN gone;
END
$$;
COMMENT ON FUNCTION finsec.label_revoke(text, name, text) IS
	'revoke a label clearance at once (taking a right away needs one administrator); false when there was none';
REVOKE ALL ON FUNCTION finsec.label_revoke(text, name, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.label_revoke(text, name, text) TO finsec_admin;

CREATE FUNCTION finsec.labelled_columns()
RETURNS TABLE (table_name regclass, column_name name, label text, effective_label text, masked boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH RECURSIVE labelled AS (
		SELECT DISTINCT s.objoid AS relid FROM pg_seclabel s
		 WHERE s.provider = 'finsec' AND s.classoid = 'pg_class'::regclass
	), descendants(relid) AS (
		SELECT relid FROM labelled
		UNION
		SELECT i.inhrelid FROM pg_inherits i JOIN descendants d ON i.inhparent = d.relid
	), ancestors(relid) AS (
		SELECT relid FROM labelled
		UNION
		SELECT i.inhparent FROM pg_inherits i JOIN ancestors a ON i.inhrelid = a.relid
	), rels AS (
		SELECT relid FROM descendants UNION SELECT relid FROM ancestors
	), cols AS (
		SELECT c.oid AS relid, a.attname, a.attnum, a.atttypid
		  FROM rels JOIN pg_class c ON c.oid = rels.relid
		  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		UNION ALL
		SELECT rels.relid, NULL::name, 0::smallint, NULL::oid FROM rels
	)
	SELECT x.relid::regclass, x.attname, s.label, x.effective, x.masked
	  FROM (SELECT cols.*, finsec._label_effective(cols.relid, cols.attnum) AS effective,
				   CASE WHEN cols.attnum > 0 THEN finsec._label_masked_type(cols.atttypid) END AS masked
			  FROM cols) x
	  LEFT JOIN pg_seclabel s ON s.objoid = x.relid AND s.classoid = 'pg_class'::regclass
							 AND s.objsubid = x.attnum AND s.provider = 'finsec'
	 WHERE x.effective IS NOT NULL
	 ORDER BY x.relid::regclass::text, x.attnum
$$;
COMMENT ON FUNCTION finsec.labelled_columns() IS
	'every labelled table (column_name NULL) and column, with its own label, its effective label (inheritance both ways) and whether its type shows only masks';
REVOKE ALL ON FUNCTION finsec.labelled_columns() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.labelled_columns() TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.label_suggestions()
RETURNS TABLE (table_name regclass, column_name name, column_type regtype, suggested_label text, reason text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT x.relid::regclass, x.attname, x.atttypid::regtype, x.suggestion[1], x.suggestion[2]
	  FROM (SELECT c.oid AS relid, a.attname, a.attnum, a.atttypid,
				   CASE
					 WHEN bt.typnamespace = 'finsec'::regnamespace AND bt.typname IN
						  ('bank_card', 'bank_account', 'cn_resident_id', 'protected_resident_id', 'protected_text')
					   THEN ARRAY['sensitive', 'type finsec.' || bt.typname]
					 WHEN bt.typnamespace = 'finsec'::regnamespace AND bt.typname IN
						  ('uscc', 'protected_uscc', 'cn_mobile', 'protected_mobile')
					   THEN ARRAY['identifier', 'type finsec.' || bt.typname]
					 WHEN bt.typcategory <> 'S' THEN NULL
					 WHEN a.attname ~* '(^|_)(id_?no|id_?card|id_?number|resident_?id|cert_?no)($|_)|身份证|证件号'
					   THEN ARRAY['sensitive', 'name looks like an identity number']
					 WHEN a.attname ~* '(^|_)(phone|mobile|tel|telephone|cellphone)($|_)|手机|电话'
					   THEN ARRAY['identifier', 'name looks like a phone number']
					 WHEN a.attname ~* '(^|_)e_?mail($|_)|邮箱'
					   THEN ARRAY['identifier', 'name looks like an e-mail address']
					 WHEN a.attname ~* '(^|_)(address|addr)($|_)|地址|住址'
					   THEN ARRAY['quasi_identifier', 'name looks like an address']
					 WHEN a.attname ~* '(^|_)name$|姓名'
					   THEN ARRAY['quasi_identifier', 'name looks like a personal name']
				   END AS suggestion
			  FROM pg_class c
			  JOIN pg_namespace n ON n.oid = c.relnamespace
			  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
			  JOIN pg_type t ON t.oid = a.atttypid
			  JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
			 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
			   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'finsec', 'pg_toast')
			   AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%') x
	 WHERE x.suggestion IS NOT NULL
	   AND finsec._label_effective(x.relid, x.attnum) IS NULL
	 ORDER BY x.relid::regclass::text, x.attnum
$$;
COMMENT ON FUNCTION finsec.label_suggestions() IS
	'unlabelled columns that look sensitive (a protected or identifier type, or a name like name/phone/id_no/address/email and their Chinese forms), with a suggested finsec label; label a column public to dismiss it';
REVOKE ALL ON FUNCTION finsec.label_suggestions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.label_suggestions() TO finsec_admin, finsec_auditor, finsec_operator;

-- (end of section 3)
