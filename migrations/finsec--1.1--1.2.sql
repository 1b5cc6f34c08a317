/* finsec 1.1 -> 1.2 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '1.2'" to load this file. \quit

-- =====================================================================
-- Credit data lifecycle (issue 18, docs/credit.md): registered credit
-- tables whose raw rows are immutable and whose personal columns are
-- sealed under per-period keys; the enforced query log; the
-- de-identification worker that proves k-anonymity, l-diversity and
-- re-identification risk before it publishes a period into
-- finsec_archive and destroys the period's keys; disputes; the
-- institution registry, data files and exchange log; the outbound-link
-- check.  Clauses C1-C8 (004 9.1-9.10, 8.3.2 b enhanced, 7.4.4 b),
-- D3/D4.
-- =====================================================================

-- ---------------------------------------------------------------------
-- 1. Catalog: the research role, the archive schema, institutions and
--    their users, registered tables and their columns.
-- ---------------------------------------------------------------------

/*
 * finsec_research reads finsec_archive's aggregate views and nothing in
 * production (004 9.10).  Created like the other duty roles (0.1): a
 * pre-existing role of that name must be an ordinary NOLOGIN group role.
 */
DO $roles$
DECLARE
	bad text;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'finsec_research') THEN
		BEGIN
			CREATE ROLE finsec_research NOLOGIN;
			COMMENT ON ROLE finsec_research IS
				'finsec: reads de-identified credit data in finsec_archive (aggregates with small cells suppressed); nothing in production';
		EXCEPTION WHEN unique_violation OR duplicate_object THEN
			NULL;			-- created meanwhile by a concurrent install
		END;
	END IF;
	SELECT concat_ws(', ',
					 CASE WHEN rolcanlogin THEN 'LOGIN' END,
					 CASE WHEN rolsuper THEN 'SUPERUSER' END,
					 CASE WHEN rolcreaterole THEN 'CREATEROLE' END,
					 CASE WHEN rolcreatedb THEN 'CREATEDB' END,
					 CASE WHEN rolreplication THEN 'REPLICATION' END,
					 CASE WHEN rolbypassrls THEN 'BYPASSRLS' END)
	  INTO bad
	  FROM pg_catalog.pg_roles WHERE rolname = 'finsec_research';
	IF bad <> '' THEN
		RAISE EXCEPTION 'role "%" already exists with attributes finsec cannot accept', 'finsec_research'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = format('The role has %s; finsec roles must be NOLOGIN group roles without special attributes.', bad),
				  HINT = 'Remove those attributes (ALTER ROLE finsec_research NOLOGIN ...) or drop the role, then retry.';
	END IF;
END
$roles$;

GRANT USAGE ON SCHEMA finsec TO finsec_research;

/*
 * The non-production store (004 9.6 b): de-identified copies of expired
 * records, one archive table per registered table, created by
 * register_credit_table, written only by finsec.  finsec_research reads
 * only its aggregate views.
 */
CREATE SCHEMA finsec_archive;
COMMENT ON SCHEMA finsec_archive IS
	'finsec: de-identified credit records moved out of production (004 9.6 b); written only by finsec, read through aggregate views by finsec_research';
REVOKE ALL ON SCHEMA finsec_archive FROM PUBLIC;
GRANT USAGE ON SCHEMA finsec_archive TO finsec_research, finsec_auditor;

/*
 * Information providers and users (004 9.1, 9.2): unique codes and an
 * access status.  Status changes go through finsec functions (section 6);
 * deregistration is refused while a dispute of the institution is open.
 */
CREATE TABLE finsec.credit_institution (
	code		text PRIMARY KEY CHECK (code ~ '^[0-9A-Z]{4,32}$'),
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	kind		text NOT NULL CHECK (kind IN ('provider', 'user', 'provider_user')),
	status		text NOT NULL DEFAULT 'applied'
				CHECK (status IN ('applied', 'active', 'suspended', 'deregistered')),
	applied_at	timestamptz NOT NULL DEFAULT now(),
	status_at	timestamptz NOT NULL DEFAULT now(),
	status_reason text,
	status_by	name NOT NULL DEFAULT session_user,
	request_id	bigint
);
COMMENT ON TABLE finsec.credit_institution IS
	'credit information providers and users with unique codes and access status (004 9.1, 9.2)';
REVOKE ALL ON TABLE finsec.credit_institution FROM PUBLIC;
GRANT SELECT ON TABLE finsec.credit_institution TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.credit_institution', '');

/*
 * The roles that act for an institution (004 9.3 b): which duties each
 * holds and whether its query right is suspended (004 9.7 c).  Keyed by
 * role name, so that a dump restores it.
 */
CREATE TABLE finsec.credit_user (
	role_name	name PRIMARY KEY,
	institution text NOT NULL REFERENCES finsec.credit_institution,
	duties		text[] NOT NULL DEFAULT '{query}'
				CHECK (duties <@ ARRAY['query', 'batch_query', 'dispute', 'submit']::text[]
					   AND cardinality(duties) > 0),
	query_status text NOT NULL DEFAULT 'active' CHECK (query_status IN ('active', 'suspended')),
	status_at	timestamptz NOT NULL DEFAULT now(),
	status_reason text,
	created_by	name NOT NULL DEFAULT session_user,
	created_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE finsec.credit_user IS
	'roles acting for a credit institution, their duties and query status (004 9.3 b, 9.7 c)';
REVOKE ALL ON TABLE finsec.credit_user FROM PUBLIC;
GRANT SELECT ON TABLE finsec.credit_user TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.credit_user', '');

/*
 * Registered credit tables (finsec.register_credit_table, section 2).
 * Every personal column (subject, identifiers, quasi-identifiers,
 * sensitive) is a protected type under the table's period policy and
 * follows behaviour_end (protect_period), so that a period's keys can be
 * destroyed when its retention ends; the table is protect_table()'d.
 */
CREATE TABLE finsec.credit_table (
	relid		regclass PRIMARY KEY,
	key_column	name NOT NULL,
	subject_column name NOT NULL,
	behaviour_end_column name NOT NULL,
	institution_column name,
	policy_name text NOT NULL,
	period_unit text NOT NULL CHECK (period_unit IN ('day', 'month')),
	retention	interval NOT NULL,
	action		text NOT NULL DEFAULT 'deidentify' CHECK (action IN ('deidentify', 'delete')),
	k			integer NOT NULL DEFAULT 5 CHECK (k >= 2),
	l			integer NOT NULL DEFAULT 2 CHECK (l >= 1),
	max_suppression numeric NOT NULL DEFAULT 0.05 CHECK (max_suppression >= 0 AND max_suppression < 1),
	archive_table text,
	retention_request bigint,
	registered_by name NOT NULL DEFAULT session_user,
	registered_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE finsec.credit_table IS
	'credit tables registered with finsec.register_credit_table: immutable raw rows, period-sealed personal columns, retention';
REVOKE ALL ON TABLE finsec.credit_table FROM PUBLIC;
GRANT SELECT ON TABLE finsec.credit_table TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.credit_table', '');

/* The role of each column of a registered table, and a QI's ladder. */
CREATE TABLE finsec.credit_column (
	relid		regclass NOT NULL REFERENCES finsec.credit_table ON DELETE CASCADE,
	column_name name NOT NULL,
	column_role text NOT NULL
				CHECK (column_role IN ('key', 'subject', 'identifier', 'quasi_identifier', 'sensitive',
									   'public', 'behaviour_end', 'institution')),
	ladder		jsonb CHECK ((column_role = 'quasi_identifier') = (ladder IS NOT NULL)),
	PRIMARY KEY (relid, column_name)
);
COMMENT ON TABLE finsec.credit_column IS
	'the role of each column of a registered credit table; quasi-identifiers carry their generalisation ladder';
REVOKE ALL ON TABLE finsec.credit_column FROM PUBLIC;
GRANT SELECT ON TABLE finsec.credit_column TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.credit_column', '');

/*
 * Disputes (004 9.8, 征信业管理条例 art. 25): one row per objection to a
 * record of a registered table.  Section 6 adds its checks, corrections,
 * statements and functions; credit_query (section 3) marks disputed
 * records and binds a handler's queries to the dispute.  The subject is
 * kept as its keyed pseudonym (credit.pseudonym), never in clear.
 */
CREATE TABLE finsec.credit_dispute (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	relid		regclass NOT NULL REFERENCES finsec.credit_table,
	record_key	text NOT NULL,
	subject_pseudonym text NOT NULL,
	institution text REFERENCES finsec.credit_institution,
	handler		name NOT NULL,
	status		text NOT NULL DEFAULT 'open'
				CHECK (status IN ('open', 'checking', 'verified', 'corrected', 'unconfirmed', 'withdrawn')),
	received_at timestamptz NOT NULL DEFAULT now(),
	due_at		timestamptz NOT NULL,
	closed_at	timestamptz,
	opened_by	name NOT NULL DEFAULT session_user,
	CHECK ((status IN ('open', 'checking')) = (closed_at IS NULL))
);
CREATE INDEX credit_dispute_record ON finsec.credit_dispute (relid, record_key);
CREATE INDEX credit_dispute_open ON finsec.credit_dispute (status) WHERE status IN ('open', 'checking');
COMMENT ON TABLE finsec.credit_dispute IS
	'disputes of credit records: request, handler, status and statutory deadline (004 9.8)';
REVOKE ALL ON TABLE finsec.credit_dispute FROM PUBLIC;
GRANT SELECT ON TABLE finsec.credit_dispute TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.credit_dispute', '');

/*
 * Keyed pseudonyms of subjects (src/credit/pseudonym.c): what the query
 * log and disputes keep.  The key is the keyring's credit.pseudonym
 * (purpose pseudonym), generated like any key under two-person control.
 */
CREATE FUNCTION finsec.credit_pseudonym(subject text) RETURNS text
AS 'MODULE_PATHNAME', 'finsec_credit_pseudonym_sql'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION finsec.credit_pseudonym(text) IS
	'the keyed pseudonym of a credit subject (credit.pseudonym key), as the query log and disputes keep it; each call is a durable ledger row';
REVOKE ALL ON FUNCTION finsec.credit_pseudonym(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_pseudonym(text) TO finsec_admin, finsec_auditor;

-- ---------------------------------------------------------------------
-- 2. Registration (src/credit/register.c): register_credit_table,
--    the finsec label provider's credit labels, the archive table,
--    retention override and unregistration (two-person).
-- ---------------------------------------------------------------------

-- C helpers (src/credit/register.c).
CREATE FUNCTION finsec._credit_table_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'finsec_credit_table_changed'
LANGUAGE C;
REVOKE ALL ON FUNCTION finsec._credit_table_changed() FROM PUBLIC;
CREATE TRIGGER finsec_credit_table_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON finsec.credit_table FOR EACH STATEMENT EXECUTE FUNCTION finsec._credit_table_changed();
CREATE TRIGGER finsec_credit_column_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON finsec.credit_column FOR EACH STATEMENT EXECUTE FUNCTION finsec._credit_table_changed();

CREATE FUNCTION finsec._credit_ladder_check(ladder jsonb, col text, typ regtype) RETURNS integer
AS 'MODULE_PATHNAME', 'finsec_credit_ladder_check'
LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION finsec._credit_ladder_check(jsonb, text, regtype) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._credit_ladder_check(jsonb, text, regtype) TO finsec_admin;

CREATE FUNCTION finsec._credit_type_trusted(typ regtype) RETURNS boolean
AS 'MODULE_PATHNAME', 'finsec_credit_type_trusted'
LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION finsec._credit_type_trusted(regtype) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._credit_type_trusted(regtype) TO finsec_admin;

CREATE FUNCTION finsec._credit_protected(tbl regclass) RETURNS boolean
AS 'MODULE_PATHNAME', 'finsec_credit_protected'
LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION finsec._credit_protected(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._credit_protected(regclass) TO finsec_admin;

-- The insert guard (register_guard.c): expired records, inactive providers.
CREATE FUNCTION finsec._credit_guard() RETURNS trigger
AS 'MODULE_PATHNAME', 'finsec_credit_guard'
LANGUAGE C;
COMMENT ON FUNCTION finsec._credit_guard() IS
	'trigger finsec_credit_guard of a registered credit table: refuses a record whose retention ended before it arrived, or from an institution that is not an active provider';
REVOKE ALL ON FUNCTION finsec._credit_guard() FROM PUBLIC;
-- the table's owner creates the trigger (finsec._credit_guard_sync)
GRANT EXECUTE ON FUNCTION finsec._credit_guard() TO PUBLIC;

CREATE FUNCTION finsec._credit_guard_sync(tbl regclass) RETURNS void
AS 'MODULE_PATHNAME', 'finsec_credit_guard_sync'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec._credit_guard_sync(regclass) IS
	'create the trigger finsec_credit_guard on a table, as the current user, who must own it';
REVOKE ALL ON FUNCTION finsec._credit_guard_sync(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._credit_guard_sync(regclass) TO finsec_admin;

CREATE FUNCTION finsec._credit_archive_protect(archive regclass) RETURNS void
AS 'MODULE_PATHNAME', 'finsec_credit_archive_protect'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION finsec._credit_archive_protect(regclass) FROM PUBLIC;

CREATE FUNCTION finsec._credit_cached(tbl regclass) RETURNS jsonb
AS 'MODULE_PATHNAME', 'finsec_credit_table_sql'
LANGUAGE C STABLE;
COMMENT ON FUNCTION finsec._credit_cached(regclass) IS
	'what this backend''s cache of registered credit tables holds for a table (attnums and roles; no value)';
REVOKE ALL ON FUNCTION finsec._credit_cached(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._credit_cached(regclass) TO finsec_admin, finsec_auditor;

/*
 * The plan of a registration: every check, no write.  Returns
 * {"policy", "period_unit", "columns": [{"name", "attnum", "role",
 * "type", "ladder", "label"}...] in attnum order}.  Reads the catalog
 * only (no code of the table's owner runs).  Called by
 * register_credit_table (as the caller) and again by
 * _credit_register_record (as finsec's owner) with the same arguments.
 */
CREATE FUNCTION finsec._credit_register_plan(
	tbl regclass, key text, subject text, behaviour_end text, policy text,
	identifiers text[], quasi_identifiers jsonb, sensitive text[], public text[],
	institution text, retention interval, action text, k integer, l integer,
	max_suppression numeric, applied boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET intervalstyle = 'postgres'
AS $$
DECLARE
	c record;
	roles jsonb := '{}';
	rname text;
	col text;
	pol finsec.protect_policy;
	cols jsonb := '[]';
	lbl text;
	r text;
	typ text;
	ladder jsonb;
	prot text[] := ARRAY['finsec.protected_text', 'finsec.protected_resident_id',
						 'finsec.protected_uscc', 'finsec.protected_mobile'];
	ok boolean;
BEGIN
	IF tbl IS NULL OR key IS NULL OR subject IS NULL OR behaviour_end IS NULL OR policy IS NULL THEN
		RAISE EXCEPTION 'table, key, subject, behaviour_end and policy must not be null'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Name the table, its record key, subject and behaviour-end columns and the period policy of its personal columns.';
	END IF;
	IF identifiers IS NULL OR quasi_identifiers IS NULL OR sensitive IS NULL OR retention IS NULL
	   OR action IS NULL OR k IS NULL OR l IS NULL OR max_suppression IS NULL THEN
		RAISE EXCEPTION 'identifiers, quasi_identifiers, sensitive, retention, action, k, l and max_suppression must not be null'
			USING ERRCODE = 'null_value_not_allowed', HINT = 'Leave an argument out to take its default.';
	END IF;

	-- the table
	SELECT cl.relkind, cl.relispartition, cl.relhasrules, cl.relrowsecurity, cl.relpersistence,
		   cl.relnamespace::regnamespace::text AS nsp, cl.reloftype
	  INTO c FROM pg_class cl WHERE cl.oid = tbl;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid USING ERRCODE = 'undefined_table';
	END IF;
	IF c.relkind <> 'r' OR c.relispartition THEN
		RAISE EXCEPTION 'cannot register % as a credit table: it is not a plain table', tbl
			USING ERRCODE = 'S9D01',
				  DETAIL = format('Its kind is %s%s.', c.relkind, CASE WHEN c.relispartition THEN ' (a partition)' ELSE '' END),
				  HINT = 'Register an ordinary table without partitions (CREATE TABLE without PARTITION BY).';
	END IF;
	IF c.relpersistence <> 'p' THEN
		RAISE EXCEPTION 'cannot register % as a credit table: it is not a permanent table', tbl
			USING ERRCODE = 'S9D01', HINT = 'Credit records must survive a crash: use a permanent, logged table.';
	END IF;
	IF c.nsp IN ('finsec', 'finsec_archive', 'pg_catalog', 'information_schema') OR c.nsp LIKE 'pg\_%' THEN
		RAISE EXCEPTION 'cannot register % as a credit table: it is in schema %', tbl, c.nsp
			USING ERRCODE = 'S9D01', HINT = 'Register an application table.';
	END IF;
	IF EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = tbl OR i.inhparent = tbl) THEN
		RAISE EXCEPTION 'cannot register % as a credit table: it takes part in table inheritance', tbl
			USING ERRCODE = 'S9D01',
				  HINT = 'A parent''s reads include its children''s rows; detach it (ALTER TABLE ... NO INHERIT) first.';
	END IF;
	IF c.reloftype <> 0 THEN
		RAISE EXCEPTION 'cannot register % as a credit table: it is a typed table', tbl
			USING ERRCODE = 'S9D01', HINT = 'Detach it with ALTER TABLE ... NOT OF first.';
	END IF;
	IF c.relhasrules OR EXISTS (SELECT 1 FROM pg_rewrite rw WHERE rw.ev_class = tbl) THEN
		RAISE EXCEPTION 'cannot register % as a credit table: it has rules', tbl
			USING ERRCODE = 'S9D01', HINT = 'A rule can divert or rewrite the table''s reads and writes; drop the rules first.';
	END IF;
	IF c.relrowsecurity OR EXISTS (SELECT 1 FROM pg_policy po WHERE po.polrelid = tbl) THEN
		RAISE EXCEPTION 'cannot register % as a credit table: it has row-level security', tbl
			USING ERRCODE = 'S9D01',
				  HINT = 'A policy runs its owner''s expressions on every row finsec reads; drop the policies and DISABLE ROW LEVEL SECURITY first.';
	END IF;
	IF EXISTS (SELECT 1 FROM finsec.credit_table t WHERE t.relid = tbl) THEN
		RAISE EXCEPTION 'cannot register % as a credit table: it is registered already', tbl
			USING ERRCODE = 'S9D01', HINT = 'finsec.credit_table lists the registered tables.';
	END IF;
	IF NOT applied AND EXISTS (SELECT 1 FROM finsec.protect_period_column pc WHERE pc.relid = tbl) THEN
		RAISE EXCEPTION 'cannot register % as a credit table: it has period-keyed columns already', tbl
			USING ERRCODE = 'S9D01',
				  HINT = 'Registration makes every personal column period-keyed itself; register a table without finsec.protect_period() columns.';
	END IF;

	-- the policy
	SELECT * INTO pol FROM finsec.protect_policy pp WHERE pp.policy_name = policy;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'protect policy "%" does not exist', policy
			USING ERRCODE = 'S9D04', HINT = 'finsec.protect_policy lists the policies; create one with finsec.protect_policy_create(..., period_unit => ''month'').';
	END IF;
	IF pol.period_unit IS NULL OR pol.period_unit NOT IN ('day', 'month') OR pol.fp_scope <> 'period' THEN
		RAISE EXCEPTION 'protect policy "%" is not a period policy with a fingerprint per period', policy
			USING ERRCODE = 'S9D04',
				  DETAIL = format('Its period unit is %s and its fingerprint scope %s.', coalesce(pol.period_unit, 'none'), pol.fp_scope),
				  HINT = 'Credit tables need period_unit ''day'' or ''month'' and fp_scope ''period'', so that destroying a period''s keys leaves nothing to link (docs/protected-data.md, "Period keys").';
	END IF;

	-- parameters
	IF action NOT IN ('deidentify', 'delete') THEN
		RAISE EXCEPTION 'action must be deidentify or delete, not "%"', action
			USING ERRCODE = 'S9D05', HINT = 'deidentify moves expired records into finsec_archive; delete only destroys them.';
	END IF;
	IF k < 2 THEN
		RAISE EXCEPTION 'k must be at least 2, not %', k
			USING ERRCODE = 'S9D05', HINT = 'k-anonymity with k = 1 protects nobody; the default is 5.';
	END IF;
	IF l < 1 OR l > k THEN
		RAISE EXCEPTION 'l must be between 1 and k (%), not %', k, l
			USING ERRCODE = 'S9D05', HINT = 'A class of k records has at most k distinct sensitive values; the default is 2.';
	END IF;
	IF max_suppression < 0 OR max_suppression > 0.5 THEN
		RAISE EXCEPTION 'max_suppression must be between 0 and 0.5, not %', max_suppression
			USING ERRCODE = 'S9D05', HINT = 'It is the share of a batch''s records that may be withheld; the default is 0.05.';
	END IF;
	IF retention::text <> '5 years' THEN
		RAISE EXCEPTION 'retention must be 5 years, not %', retention
			USING ERRCODE = 'S9D06',
				  DETAIL = 'Negative credit information is kept 5 years from the end of the behaviour (征信业管理条例 art. 16): shorter breaks the floor, longer the deletion.',
				  HINT = 'Register with 5 years; a documented exception is the two-person change finsec.credit_retention_override(table, retention, reason).';
	END IF;
	IF jsonb_typeof(quasi_identifiers) <> 'object' THEN
		RAISE EXCEPTION 'quasi_identifiers must be a JSON object of column to ladder'
			USING ERRCODE = 'S9D05', HINT = 'E.g. ''{"birth_date": ["year", "years:5", "decade"], "region": ["prefix:4", "prefix:2"]}''.';
	END IF;

	-- roles by argument: each named column exactly once
	FOR rname, col IN
		SELECT 'key', key UNION ALL SELECT 'subject', subject UNION ALL SELECT 'behaviour_end', behaviour_end
		UNION ALL SELECT 'institution', institution WHERE institution IS NOT NULL
		UNION ALL SELECT 'identifier', x FROM unnest(identifiers) x
		UNION ALL SELECT 'quasi_identifier', x FROM jsonb_object_keys(quasi_identifiers) x
		UNION ALL SELECT 'sensitive', x FROM unnest(sensitive) x
		UNION ALL SELECT 'public', x FROM unnest(coalesce(public, '{}')) x
	LOOP
		IF col IS NULL THEN
			RAISE EXCEPTION 'a % column name is null', rname
				USING ERRCODE = 'null_value_not_allowed', HINT = 'Column lists must not contain NULL.';
		END IF;
		IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = col
						  AND a.attnum > 0 AND NOT a.attisdropped) THEN
			RAISE EXCEPTION 'column "%" of relation % does not exist', col, tbl
				USING ERRCODE = 'undefined_column', HINT = format('It was named as the %s column.', rname);
		END IF;
		IF col IN ('finsec_txid', 'finsec_seq') THEN
			RAISE EXCEPTION 'column "%" of relation % is finsec''s own', col, tbl
				USING ERRCODE = 'S9D02', HINT = 'protect_table() adds finsec_txid and finsec_seq; give them no role.';
		END IF;
		IF roles ? col THEN
			RAISE EXCEPTION 'column "%" of relation % has two roles: % and %', col, tbl, roles->>col, rname
				USING ERRCODE = 'S9D02', HINT = 'Give each column exactly one role.';
		END IF;
		roles := roles || jsonb_build_object(col, rname);
	END LOOP;

	-- every column, in attnum order
	FOR c IN
		SELECT a.attnum, a.attname::text AS name, a.atttypid, a.atttypmod, a.attnotnull,
			   format_type(a.atttypid, NULL) AS typ,
			   (SELECT s.label FROM pg_seclabel s WHERE s.provider = 'finsec' AND s.classoid = 'pg_class'::regclass
				   AND s.objoid = tbl AND s.objsubid = a.attnum) AS label
		  FROM pg_attribute a
		 WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
		   AND a.attname NOT IN ('finsec_txid', 'finsec_seq')
		 ORDER BY a.attnum
	LOOP
		r := roles->>c.name;
		IF r IS NULL AND c.label IN ('identifier', 'quasi_identifier', 'sensitive', 'public') THEN
			r := c.label;
			IF r = 'quasi_identifier' THEN
				RAISE EXCEPTION 'column "%" of relation % is labelled quasi_identifier but has no ladder', c.name, tbl
					USING ERRCODE = 'S9D02',
						  HINT = 'Name it in quasi_identifiers with its generalisation ladder, e.g. ''{"' || c.name || '": ["prefix:4", "prefix:2"]}''.';
			END IF;
		END IF;
		IF r IS NULL AND public IS NULL THEN
			r := 'public';
		END IF;
		IF r IS NULL THEN
			RAISE EXCEPTION 'column "%" of relation % has no role', c.name, tbl
				USING ERRCODE = 'S9D02',
					  HINT = 'Name it among identifiers, quasi_identifiers, sensitive or public, or label it with SECURITY LABEL FOR finsec.';
		END IF;
		ladder := NULL;
		typ := c.typ;
		IF r IN ('subject', 'identifier', 'quasi_identifier', 'sensitive') THEN
			IF typ <> ALL (prot) THEN
				RAISE EXCEPTION 'the % column "%" of relation % must be of a protected type, not %', r, c.name, tbl, typ
					USING ERRCODE = 'S9D03',
						  HINT = format('Declare it finsec.protected_text(%s) (or protected_resident_id, protected_uscc, protected_mobile): its values are sealed under the period keys and shredded with them.', policy);
			END IF;
			IF c.atttypmod <> pol.policy_id THEN
				RAISE EXCEPTION 'the % column "%" of relation % is not under policy %', r, c.name, tbl, policy
					USING ERRCODE = 'S9D03',
						  DETAIL = format('Its type is %s.', format_type(c.atttypid, c.atttypmod)),
						  HINT = format('Every personal column of a credit table is under the one period policy: declare it %s(%s).', typ, policy);
			END IF;
			IF r = 'quasi_identifier' THEN
				ladder := quasi_identifiers->c.name;
				PERFORM finsec._credit_ladder_check(ladder, c.name, c.atttypid::regtype);
			END IF;
		ELSIF r = 'key' THEN
			IF NOT finsec._credit_type_trusted(c.atttypid::regtype) OR typ = ANY (prot) THEN
				RAISE EXCEPTION 'the key column "%" of relation % has type %, which finsec does not trust', c.name, tbl, typ
					USING ERRCODE = 'S9D03', HINT = 'Use a built-in type such as bigint, text or uuid for the record key.';
			END IF;
			IF NOT c.attnotnull OR NOT EXISTS (
				SELECT 1 FROM pg_index i
				 WHERE i.indrelid = tbl AND i.indisunique AND i.indimmediate AND i.indisvalid
				   AND i.indnatts = 1 AND i.indnkeyatts = 1 AND i.indkey[0] = c.attnum
				   AND i.indexprs IS NULL AND i.indpred IS NULL) THEN
				RAISE EXCEPTION 'the key column "%" of relation % is not unique and NOT NULL', c.name, tbl
					USING ERRCODE = 'S9D03',
						  HINT = 'The record key needs NOT NULL and a unique index on it alone (PRIMARY KEY or UNIQUE, not deferrable, no predicate).';
			END IF;
		ELSIF r = 'behaviour_end' THEN
			IF c.atttypid <> 'date'::regtype OR NOT c.attnotnull THEN
				RAISE EXCEPTION 'the behaviour_end column "%" of relation % must be date NOT NULL', c.name, tbl
					USING ERRCODE = 'S9D03', DETAIL = format('It is %s%s.', typ, CASE WHEN c.attnotnull THEN ' NOT NULL' ELSE '' END),
						  HINT = 'Retention counts from the end of the behaviour: a date every record has.';
			END IF;
		ELSIF r = 'institution' THEN
			IF c.atttypid NOT IN ('text'::regtype, 'varchar'::regtype) THEN
				RAISE EXCEPTION 'the institution column "%" of relation % must be text or varchar, not %', c.name, tbl, typ
					USING ERRCODE = 'S9D03', HINT = 'It holds the providing institution''s code (finsec.credit_institution).';
			END IF;
		ELSE
			IF NOT finsec._credit_type_trusted(c.atttypid::regtype) THEN
				RAISE EXCEPTION 'the public column "%" of relation % has type %, which finsec does not trust', c.name, tbl, typ
					USING ERRCODE = 'S9D03',
						  HINT = 'Public columns are copied to the archive as they are: use built-in types, or make the column personal (a protected type).';
			END IF;
		END IF;
		cols := cols || jsonb_build_array(jsonb_build_object(
			'name', c.name, 'attnum', c.attnum, 'role', r, 'type', format_type(c.atttypid, c.atttypmod),
			'ladder', ladder, 'label', c.label));
	END LOOP;
	RETURN jsonb_build_object('policy', pol.policy_name, 'period_unit', pol.period_unit, 'columns', cols);
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_register_plan(regclass, text, text, text, text, text[], jsonb, text[],
	text[], text, interval, text, integer, integer, numeric, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._credit_register_plan(regclass, text, text, text, text, text[], jsonb, text[],
	text[], text, interval, text, integer, integer, numeric, boolean) TO finsec_admin;

/*
 * The registration's own rows and the archive table, as finsec's owner.
 * Plans again (the caller cannot hand it a different plan), and checks
 * what register_credit_table did as the table's owner: protect_table,
 * protect_period of every personal column on behaviour_end.
 */
CREATE FUNCTION finsec._credit_register_record(
	tbl regclass, key text, subject text, behaviour_end text, policy text,
	identifiers text[], quasi_identifiers jsonb, sensitive text[], public text[],
	institution text, retention interval, action text, k integer, l integer,
	max_suppression numeric)
RETURNS text
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	plan jsonb;
	c jsonb;
	owner oid;
	relname text;
	nspname text;
	arch text;
	ddl text := '';
	t text;
BEGIN
	SELECT cl.relowner, cl.relname, cl.relnamespace::regnamespace::text INTO owner, relname, nspname
	  FROM pg_class cl WHERE cl.oid = tbl;
	IF NOT pg_has_role(session_user, 'finsec_admin', 'USAGE') OR NOT pg_has_role(session_user, owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be a finsec_admin able to act as the owner of table %', tbl
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	plan := finsec._credit_register_plan(tbl, key, subject, behaviour_end, policy, identifiers,
										 quasi_identifiers, sensitive, public, institution, retention,
										 action, k, l, max_suppression, true);
	IF NOT finsec._credit_protected(tbl) THEN
		RAISE EXCEPTION 'table % is not protected', tbl
			USING ERRCODE = 'S9D01', HINT = 'Register it with finsec.register_credit_table(), which protects it.';
	END IF;
	FOR c IN SELECT * FROM jsonb_array_elements(plan->'columns') LOOP
		IF c->>'role' IN ('subject', 'identifier', 'quasi_identifier', 'sensitive') AND NOT EXISTS (
			SELECT 1 FROM finsec.protect_period_column pc
			 WHERE pc.relid = tbl AND pc.column_name = c->>'name' AND pc.date_column = behaviour_end) THEN
			RAISE EXCEPTION 'column "%" of % is not period-keyed on %', c->>'name', tbl, behaviour_end
				USING ERRCODE = 'S9D01', HINT = 'Register it with finsec.register_credit_table(), which keys it.';
		END IF;
	END LOOP;

	IF NOT EXISTS (SELECT 1 FROM pg_trigger tg WHERE tg.tgrelid = tbl AND tg.tgname = 'finsec_credit_guard'
					  AND tg.tgenabled = 'A') THEN
		RAISE EXCEPTION 'table % has no insert guard', tbl
			USING ERRCODE = 'S9D01', HINT = 'Register it with finsec.register_credit_table(), which installs it.';
	END IF;

	-- the archive table (layout: docs/credit.md, "Archive"); append-only and
	-- hash-chained itself (protect_table adds finsec_txid, finsec_seq last)
	IF action = 'deidentify' THEN
		arch := 'finsec_archive.' || quote_ident(relname);
		IF to_regclass(arch) IS NOT NULL THEN
			arch := 'finsec_archive.' || quote_ident(left(nspname || '_' || relname, 63));
		END IF;
		IF to_regclass(arch) IS NOT NULL THEN
			RAISE EXCEPTION 'the archive table % exists already', arch
				USING ERRCODE = 'S9D01', HINT = 'Rename the table or drop the leftover archive table (as a superuser) first.';
		END IF;
		FOR c IN SELECT * FROM jsonb_array_elements(plan->'columns') LOOP
			CONTINUE WHEN c->>'role' IN ('key', 'behaviour_end');
			t := CASE WHEN c->>'role' = 'public' THEN c->>'type' ELSE 'pg_catalog.text' END;
			ddl := ddl || ', ' || quote_ident(c->>'name') || ' ' || t;
		END LOOP;
		EXECUTE 'CREATE TABLE ' || arch || ' (batch_id pg_catalog.int8 NOT NULL, period pg_catalog.int4 NOT NULL'
				|| ddl || ')';
		EXECUTE 'REVOKE ALL ON TABLE ' || arch || ' FROM PUBLIC';
		EXECUTE 'GRANT SELECT ON TABLE ' || arch || ' TO finsec_auditor';
		EXECUTE 'COMMENT ON TABLE ' || arch || ' IS '
				|| quote_literal('finsec: de-identified expired records of ' || tbl::text || ' (written only by finsec)');
		PERFORM finsec._credit_archive_protect(arch::regclass);
	END IF;

	INSERT INTO finsec.credit_table (relid, key_column, subject_column, behaviour_end_column, institution_column,
									 policy_name, period_unit, retention, action, k, l, max_suppression,
									 archive_table, registered_by)
	VALUES (tbl, key, subject, behaviour_end, institution, plan->>'policy', plan->>'period_unit', retention,
			action, k, l, max_suppression, arch, session_user);
	INSERT INTO finsec.credit_column (relid, column_name, column_role, ladder)
	SELECT tbl, e->>'name', e->>'role', CASE WHEN e->>'role' = 'quasi_identifier' THEN e->'ladder' END
	  FROM jsonb_array_elements(plan->'columns') e;

	PERFORM finsec.audit_event('credit.register', tbl::text, 'register', true, NULL,
		jsonb_build_object('policy', plan->>'policy', 'period_unit', plan->>'period_unit',
						   'retention', retention::text, 'action', action, 'k', k, 'l', l,
						   'max_suppression', max_suppression, 'archive', arch,
						   'columns', (SELECT jsonb_object_agg(e->>'name', e->>'role')
										 FROM jsonb_array_elements(plan->'columns') e)),
		session_user);
	RETURN arch;
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_register_record(regclass, text, text, text, text, text[], jsonb, text[],
	text[], text, interval, text, integer, integer, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._credit_register_record(regclass, text, text, text, text, text[], jsonb, text[],
	text[], text, interval, text, integer, integer, numeric) TO finsec_admin;

/*
 * Register a credit table (docs/credit.md, "Registration").  Runs as the
 * caller, who must be finsec_admin and able to act as the table's owner:
 * everything done on the table (protect_table, protect_period, labels)
 * is done as the caller; finsec's own rows by _credit_register_record.
 * One statement: an error anywhere leaves nothing registered.
 */
CREATE FUNCTION finsec.register_credit_table(
	tbl regclass, key text, subject text, behaviour_end text, policy text,
	identifiers text[] DEFAULT '{}', quasi_identifiers jsonb DEFAULT '{}', sensitive text[] DEFAULT '{}',
	public text[] DEFAULT NULL, institution text DEFAULT NULL, retention interval DEFAULT '5 years',
	action text DEFAULT 'deidentify', k integer DEFAULT 5, l integer DEFAULT 2,
	max_suppression numeric DEFAULT 0.05)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	plan jsonb;
	c jsonb;
	owner oid;
	want text;
	rank jsonb := '{"public": 1, "internal": 2, "quasi_identifier": 3, "identifier": 4, "sensitive": 5}';
	has_rows boolean;
BEGIN
	IF tbl IS NULL THEN
		RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT cl.relowner INTO owner FROM pg_class cl WHERE cl.oid = tbl;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid USING ERRCODE = 'undefined_table';
	END IF;
	IF NOT pg_has_role(current_user, 'finsec_admin', 'USAGE') OR NOT pg_has_role(current_user, owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be a finsec_admin able to act as the owner of table %', tbl
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Register as a member of finsec_admin and of the table''s owner role.';
	END IF;
	-- every check first
	plan := finsec._credit_register_plan(tbl, key, subject, behaviour_end, policy, identifiers,
										 quasi_identifiers, sensitive, public, institution, retention,
										 action, k, l, max_suppression);
	-- raw rows written before registration were not sealed per period
	EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', tbl);
	EXECUTE format('SELECT EXISTS (SELECT FROM ONLY %s)', tbl) INTO has_rows;
	IF has_rows THEN
		RAISE EXCEPTION 'cannot register % as a credit table: it has rows', tbl
			USING ERRCODE = 'S9D01',
				  DETAIL = 'Rows written before registration are not sealed under their period''s keys and could never be shredded.',
				  HINT = 'Register the table empty, then load it (COPY or INSERT).';
	END IF;
	-- the policy's keys are the table's alone: a period's batch destroys them
	IF EXISTS (SELECT 1 FROM finsec.credit_table t WHERE t.policy_name = register_credit_table.policy AND t.relid <> register_credit_table.tbl)
	   OR EXISTS (SELECT 1 FROM finsec.protect_period_column pc
				   WHERE pc.policy_name = register_credit_table.policy AND pc.relid <> register_credit_table.tbl) THEN
		RAISE EXCEPTION 'protect policy "%" already keys another table''s columns', register_credit_table.policy
			USING ERRCODE = 'S9D04',
				  DETAIL = 'A credit table''s batch destroys its policy''s period keys; another table under the same policy would lose its values with it, or keep the batch from running.',
				  HINT = 'Create a period policy of the credit table''s own (finsec.protect_policy_create).';
	END IF;

	-- as the caller (the table's owner's rights)
	-- No statistics of any column: pg_stats would show the plain columns'
	-- common values and histograms (record keys, dates, amounts) and the
	-- protected columns' masks and fingerprints (which link a subject's
	-- rows) to anyone with SELECT on the table, which the read guard
	-- cannot see.
	FOR c IN SELECT * FROM jsonb_array_elements(plan->'columns') LOOP
		EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS 0', tbl, c->>'name');
	END LOOP;
	IF NOT finsec._credit_protected(tbl) THEN
		PERFORM finsec.protect_table(tbl);
	END IF;
	FOR c IN SELECT * FROM jsonb_array_elements(plan->'columns') LOOP
		IF c->>'role' IN ('subject', 'identifier', 'quasi_identifier', 'sensitive') THEN
			PERFORM finsec.protect_period(tbl, (c->>'name')::name, behaviour_end::name);
		END IF;
	END LOOP;
	IF NOT EXISTS (SELECT 1 FROM pg_trigger tg WHERE tg.tgrelid = tbl AND tg.tgname = 'finsec_credit_guard') THEN
		PERFORM finsec._credit_guard_sync(tbl);
	END IF;
	FOR c IN SELECT * FROM jsonb_array_elements(plan->'columns') LOOP
		want := CASE c->>'role' WHEN 'subject' THEN 'identifier' WHEN 'identifier' THEN 'identifier'
							   WHEN 'quasi_identifier' THEN 'quasi_identifier'
							   WHEN 'sensitive' THEN 'sensitive' END;
		IF want IS NOT NULL AND coalesce((rank->>(c->>'label'))::int, 0) < (rank->>want)::int THEN
			EXECUTE format('SECURITY LABEL FOR finsec ON COLUMN %s.%I IS %L', tbl, c->>'name', want);
		END IF;
	END LOOP;

	RETURN finsec._credit_register_record(tbl, key, subject, behaviour_end, policy, identifiers,
										  quasi_identifiers, sensitive, public, institution, retention,
										  action, k, l, max_suppression);
END
$$;
COMMENT ON FUNCTION finsec.register_credit_table(regclass, text, text, text, text, text[], jsonb, text[],
	text[], text, interval, text, integer, integer, numeric) IS
	'register a credit table: protected (append-only, hash-chained), personal columns sealed per period of behaviour_end, labelled, with its archive table; returns the archive table''s name (NULL for action delete)';
REVOKE ALL ON FUNCTION finsec.register_credit_table(regclass, text, text, text, text, text[], jsonb, text[],
	text[], text, interval, text, integer, integer, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.register_credit_table(regclass, text, text, text, text, text[], jsonb, text[],
	text[], text, interval, text, integer, integer, numeric) TO finsec_admin;


-- credit.retention: a documented exception to the legal 5 years
-- (two-person; recorded in credit_table.retention_request).
CREATE FUNCTION finsec.credit_retention_override(tbl regclass, retention interval, reason text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET intervalstyle = 'postgres'
AS $$
BEGIN
	IF reason IS NULL OR length(btrim(reason)) < 10 THEN
		RAISE EXCEPTION 'a retention override needs its documented reason'
			USING ERRCODE = 'S9D06',
				  HINT = 'Say why this table departs from the legal 5 years (at least 10 characters): the reason is the record of the exception.';
	END IF;
	RETURN finsec.request_change('credit.retention', tbl::text,
								 jsonb_build_object('relid', tbl::oid, 'retention', retention::text), reason);
END
$$;
COMMENT ON FUNCTION finsec.credit_retention_override(regclass, interval, text) IS
	'request a retention other than the legal 5 years for a registered credit table (the reason documents the exception); another finsec_admin approves';
REVOKE ALL ON FUNCTION finsec.credit_retention_override(regclass, interval, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_retention_override(regclass, interval, text) TO finsec_admin;

CREATE FUNCTION finsec._credit_retention_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET intervalstyle = 'postgres'
AS $$
DECLARE
	r interval;
	cur interval;
BEGIN
	IF payload ->> 'relid' IS NULL OR payload ->> 'retention' IS NULL THEN
		RAISE EXCEPTION 'table and retention must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT t.retention INTO cur FROM finsec.credit_table t WHERE t.relid = (payload ->> 'relid')::oid;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table % is not a registered credit table', target
			USING ERRCODE = 'S9D06', HINT = 'finsec.credit_table lists the registered tables.';
	END IF;
	r := (payload ->> 'retention')::interval;
	IF r <= interval '0' OR r > interval '100 years' THEN
		RAISE EXCEPTION 'retention must be positive and at most 100 years, not %', r USING ERRCODE = 'S9D06';
	END IF;
	IF r::text = cur::text THEN
		RAISE EXCEPTION 'table % already has retention %', target, r USING ERRCODE = 'S9D06';
	END IF;
	RETURN jsonb_build_object('relid', (payload ->> 'relid')::oid, 'retention', r::text, 'previous', cur::text);
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_retention_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._credit_retention_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE finsec.credit_table t SET retention = (payload ->> 'retention')::interval,
		   retention_request = _credit_retention_apply.request_id
	 WHERE t.relid = (payload ->> 'relid')::oid;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table % is no longer a registered credit table', target USING ERRCODE = 'S9D06';
	END IF;
	PERFORM finsec.audit_event('credit.retention', target, 'override', true, NULL,
							   jsonb_build_object('request_id', request_id, 'retention', payload ->> 'retention',
												  'previous', payload ->> 'previous'),
							   session_user);
	RETURN jsonb_build_object('table', target, 'retention', payload ->> 'retention');
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_retention_apply(bigint, text, text, jsonb) FROM PUBLIC;

-- credit.unregister: the registration removed (protection, period keys,
-- labels, the insert guard and the archive table stay).
CREATE FUNCTION finsec.unregister_credit_table(tbl regclass, reason text)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('credit.unregister', $1::text, jsonb_build_object('relid', $1::oid), $2)
$$;
COMMENT ON FUNCTION finsec.unregister_credit_table(regclass, text) IS
	'request that a credit table''s registration be removed (refused while it has disputes); another finsec_admin approves';
REVOKE ALL ON FUNCTION finsec.unregister_credit_table(regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.unregister_credit_table(regclass, text) TO finsec_admin;

CREATE FUNCTION finsec._credit_unregister_check(relid oid, target text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF relid IS NULL OR NOT EXISTS (SELECT 1 FROM finsec.credit_table t WHERE t.relid = _credit_unregister_check.relid) THEN
		RAISE EXCEPTION 'table % is not a registered credit table', target
			USING ERRCODE = 'S9D10', HINT = 'finsec.credit_table lists the registered tables.';
	END IF;
	IF EXISTS (SELECT 1 FROM finsec.credit_dispute d
				WHERE d.relid = _credit_unregister_check.relid AND d.status IN ('open', 'checking')) THEN
		RAISE EXCEPTION 'cannot unregister %: it has open disputes', target
			USING ERRCODE = 'S9D10',
				  HINT = 'Resolve its disputes first (finsec.credit_dispute_resolve; 004 9.8).';
	END IF;
	IF EXISTS (SELECT 1 FROM finsec.credit_dispute d WHERE d.relid = _credit_unregister_check.relid) THEN
		RAISE EXCEPTION 'cannot unregister %: its dispute records refer to the registration', target
			USING ERRCODE = 'S9D10',
				  DETAIL = 'Closed disputes are kept with the registration they refer to.',
				  HINT = 'A table that had disputes stays registered.';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_unregister_check(oid, text) FROM PUBLIC;

CREATE FUNCTION finsec._credit_unregister_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM finsec._credit_unregister_check((payload ->> 'relid')::oid, target);
	RETURN jsonb_build_object('relid', (payload ->> 'relid')::oid);
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_unregister_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._credit_unregister_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t finsec.credit_table;
BEGIN
	SELECT * INTO t FROM finsec.credit_table ct WHERE ct.relid = (payload ->> 'relid')::oid FOR UPDATE;
	PERFORM finsec._credit_unregister_check((payload ->> 'relid')::oid, target);
	DELETE FROM finsec.credit_column c WHERE c.relid = t.relid;
	DELETE FROM finsec.credit_table ct WHERE ct.relid = t.relid;
	PERFORM finsec.audit_event('credit.unregister', target, 'unregister', true, NULL,
							   jsonb_build_object('request_id', request_id, 'archive', t.archive_table),
							   session_user);
	RETURN jsonb_build_object('table', target, 'archive', t.archive_table);
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_unregister_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('credit.retention', 'finsec._credit_retention_prepare(text, text, jsonb)',
	 'finsec._credit_retention_apply(bigint, text, text, jsonb)', NULL,
	 'give a registered credit table a retention other than the legal 5 years (finsec.credit_retention_override; the reason documents the exception)'),
	('credit.unregister', 'finsec._credit_unregister_prepare(text, text, jsonb)',
	 'finsec._credit_unregister_apply(bigint, text, text, jsonb)', NULL,
	 'remove the registration of a credit table without disputes (finsec.unregister_credit_table)');

/*
 * A credit table's policy keys that table only (its batches destroy the
 * period keys): no other table's column may be period-keyed under it
 * (finsec.protect_period by anyone, e.g. an application role blocking the
 * batches or losing its own values to them).
 */
CREATE FUNCTION finsec._credit_policy_exclusive() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM finsec.credit_table t
				WHERE t.policy_name = NEW.policy_name AND t.relid <> NEW.relid) THEN
		RAISE EXCEPTION 'protect policy "%" keys a credit table: it cannot key columns of %', NEW.policy_name, NEW.relid
			USING ERRCODE = 'S9D04',
				  DETAIL = 'The credit table''s de-identification batches destroy the policy''s period keys.',
				  HINT = 'Use a period policy of the table''s own (finsec.protect_policy_create).';
	END IF;
	RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_policy_exclusive() FROM PUBLIC;
CREATE TRIGGER credit_policy_exclusive BEFORE INSERT OR UPDATE ON finsec.protect_period_column
	FOR EACH ROW EXECUTE FUNCTION finsec._credit_policy_exclusive();

-- (section 2 ends here)


-- ---------------------------------------------------------------------
-- 3. Query log (src/credit/query.c): reason codes, pseudonyms,
--    credit_query, credit_batch_query, credit_query_log, abnormal
--    querying and the suspension of a user's query right.
-- ---------------------------------------------------------------------

/*
 * Reason codes of credit queries (004 9.3 a): every credit_query names
 * one; a code requiring a dispute is usable only by the dispute's handler
 * with the dispute's id (004 9.8 b).  Seeded codes are builtin (created by
 * the extension, not dumped); finsec_admin adds and retires codes
 * (audited).  A code is never deleted: the query log names it.
 */
CREATE TABLE finsec.credit_reason (
	code		text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,47}$'),
	description text NOT NULL CHECK (length(description) BETWEEN 1 AND 200),
	requires_dispute boolean NOT NULL DEFAULT false,
	active		boolean NOT NULL DEFAULT true,
	builtin		boolean NOT NULL DEFAULT false,
	created_by	name NOT NULL DEFAULT session_user,
	created_at	timestamptz NOT NULL DEFAULT now(),
	retired_at	timestamptz,
	CHECK (active = (retired_at IS NULL))
);
COMMENT ON TABLE finsec.credit_reason IS
	'reason codes of credit queries (004 9.3 a); requires_dispute: only a dispute handler with the dispute id (004 9.8 b)';
REVOKE ALL ON TABLE finsec.credit_reason FROM PUBLIC;
GRANT SELECT ON TABLE finsec.credit_reason TO finsec_admin, finsec_auditor, finsec_operator, finsec_app;
INSERT INTO finsec.credit_reason (code, description, requires_dispute, builtin, created_by) VALUES
	('loan_approval', '贷款审批 loan approval', false, true, 'finsec'),
	('post_loan', '贷后管理 post-loan management', false, true, 'finsec'),
	('credit_card_approval', '信用卡审批 credit card approval', false, true, 'finsec'),
	('guarantee_check', '担保资格审查 guarantee eligibility check', false, true, 'finsec'),
	('own_request', '本人查询 the subject''s own request', false, true, 'finsec'),
	('dispute_check', '异议核查 dispute check (the handler, with the dispute id)', true, true, 'finsec'),
	('judicial', '司法 judicial request', false, true, 'finsec');
SELECT pg_catalog.pg_extension_config_dump('finsec.credit_reason', 'WHERE NOT builtin');

CREATE FUNCTION finsec.credit_reason_add(code text, description text, requires_dispute boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF code IS NULL OR description IS NULL OR requires_dispute IS NULL THEN
		RAISE EXCEPTION 'a reason code needs a code, a description and whether it requires a dispute'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF code !~ '^[a-z][a-z0-9_]{1,47}$' THEN
		RAISE EXCEPTION 'invalid reason code' USING ERRCODE = 'S9D31',
			HINT = 'A code is 2 to 48 characters: a lower-case letter, then lower-case letters, digits or underscores.';
	END IF;
	IF EXISTS (SELECT 1 FROM finsec.credit_reason r WHERE r.code = credit_reason_add.code) THEN
		RAISE EXCEPTION 'reason code "%" already exists', code USING ERRCODE = 'unique_violation',
			HINT = 'A code is never reused, even retired: choose another.';
	END IF;
	INSERT INTO finsec.credit_reason (code, description, requires_dispute)
	VALUES (code, description, requires_dispute);
	PERFORM finsec.audit_event('credit.reason_add', 'credit_reason:' || code, 'add', true,
							   'credit query reason code added',
							   jsonb_build_object('code', code, 'requires_dispute', requires_dispute));
END
$$;
COMMENT ON FUNCTION finsec.credit_reason_add(text, text, boolean) IS
	'add a reason code of credit queries; audited';
REVOKE ALL ON FUNCTION finsec.credit_reason_add(text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_reason_add(text, text, boolean) TO finsec_admin;

CREATE FUNCTION finsec.credit_reason_retire(code text, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	UPDATE finsec.credit_reason r SET active = false, retired_at = now()
	 WHERE r.code = credit_reason_retire.code AND r.active;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no active reason code "%"', code USING ERRCODE = 'S9D25',
			HINT = 'See finsec.credit_reason.';
	END IF;
	PERFORM finsec.audit_event('credit.reason_retire', 'credit_reason:' || code, 'retire', true,
							   reason, jsonb_build_object('code', code));
END
$$;
COMMENT ON FUNCTION finsec.credit_reason_retire(text, text) IS
	'retire a reason code: credit_query refuses it from then on; audited';
REVOKE ALL ON FUNCTION finsec.credit_reason_retire(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_reason_retire(text, text) TO finsec_admin;

-- Users of credit queries (finsec.credit_user, section 1): set and removed
-- by finsec_admin, audited.  Restoring a suspended query right is
-- two-person (credit.user_restore below); credit_user_set keeps the status.
CREATE FUNCTION finsec.credit_user_set(role name, institution text, duties text[] DEFAULT '{query}')
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF role IS NULL OR institution IS NULL OR duties IS NULL THEN
		RAISE EXCEPTION 'a credit user needs a role, an institution and duties'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = role) THEN
		RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = 'undefined_object';
	END IF;
	IF EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = role AND (r.rolsuper OR r.rolname LIKE 'finsec%')) THEN
		RAISE EXCEPTION 'role "%" cannot be a credit user', role USING ERRCODE = 'S9D32',
			HINT = 'Credit users are the application''s own login or group roles, not superusers or finsec''s roles.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM finsec.credit_institution i WHERE i.code = institution) THEN
		RAISE EXCEPTION 'credit institution "%" does not exist', institution USING ERRCODE = 'S9D22',
			HINT = 'Register it with finsec.credit_institution_apply().';
	END IF;
	IF cardinality(duties) = 0 OR array_position(duties, NULL) IS NOT NULL
	   OR NOT duties <@ ARRAY['query', 'batch_query', 'dispute', 'submit']::text[] THEN
		RAISE EXCEPTION 'invalid duties' USING ERRCODE = 'S9D32',
			HINT = 'Duties are one or more of query, batch_query, dispute, submit.';
	END IF;
	INSERT INTO finsec.credit_user AS u (role_name, institution, duties)
	VALUES (role, institution, ARRAY(SELECT DISTINCT d FROM unnest(duties) d ORDER BY d))
	ON CONFLICT (role_name) DO UPDATE SET institution = EXCLUDED.institution, duties = EXCLUDED.duties;
	PERFORM finsec.audit_event('credit.user_set', 'credit_user:' || role, 'set', true, NULL,
							   jsonb_build_object('role', role, 'institution', institution, 'duties', to_jsonb(duties)));
END
$$;
COMMENT ON FUNCTION finsec.credit_user_set(name, text, text[]) IS
	'make a role a credit user of an institution with duties (query, batch_query, dispute, submit), or change them; audited';
REVOKE ALL ON FUNCTION finsec.credit_user_set(name, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_user_set(name, text, text[]) TO finsec_admin;

CREATE FUNCTION finsec.credit_user_remove(role name)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM finsec.credit_user u WHERE u.role_name = role AND u.query_status = 'suspended') THEN
		RAISE EXCEPTION 'credit user "%" is suspended', role USING ERRCODE = 'S9D23',
			HINT = 'A suspended user is removed only after its restore (finsec.credit_user_restore) has been approved, so that the suspension cannot be erased by removing and adding the role again.';
	END IF;
	DELETE FROM finsec.credit_user u WHERE u.role_name = role;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'role "%" is not a credit user', role USING ERRCODE = 'S9D21';
	END IF;
	PERFORM finsec.audit_event('credit.user_remove', 'credit_user:' || role, 'remove', true, NULL,
							   jsonb_build_object('role', role));
END
$$;
COMMENT ON FUNCTION finsec.credit_user_remove(name) IS
	'remove a credit user (refused while its query right is suspended); audited';
REVOKE ALL ON FUNCTION finsec.credit_user_remove(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_user_remove(name) TO finsec_admin;

/*
 * The query log (004 9.3, 8.3.2 b enhanced): one row per credit_query
 * call (per subject of a batch), written in the caller's transaction
 * before any row is returned; append-only (the ledger's immutable
 * triggers: finsec's own tables cannot be protect_table()d) and chained
 * through the ledger: each row's credit.query ledger row (hash-chained)
 * carries its id and the SHA-256 of its content.  A call the caller rolls
 * back leaves its durable ledger row.  The subject is its keyed
 * pseudonym.
 */
CREATE TABLE finsec.credit_query_log (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at			timestamptz NOT NULL DEFAULT clock_timestamp(),
	institution text NOT NULL,
	user_name	name NOT NULL,
	session_user_name name NOT NULL,
	client_addr inet,
	client_address inet,
	reason		text NOT NULL,
	subject_pseudonym text NOT NULL,
	relid		regclass NOT NULL,
	rows_returned integer NOT NULL,
	dispute_id	bigint,
	batch_id	bigint,
	outcome		text NOT NULL CHECK (outcome IN ('ok', 'suspended'))
);
CREATE INDEX credit_query_log_user_at ON finsec.credit_query_log (user_name, at);
COMMENT ON TABLE finsec.credit_query_log IS
	'every credit query: institution, user, client address, time, reason, subject pseudonym, rows returned (004 9.3, 8.3.2 b); append-only, each row chained through its credit.query ledger row';
REVOKE ALL ON TABLE finsec.credit_query_log FROM PUBLIC;
GRANT SELECT ON TABLE finsec.credit_query_log TO finsec_admin, finsec_auditor;
SELECT pg_catalog.pg_extension_config_dump('finsec.credit_query_log', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.credit_query_log_id_seq', '');
CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE OR DELETE ON finsec.credit_query_log
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable();
CREATE TRIGGER finsec_ledger_no_truncate BEFORE TRUNCATE ON finsec.credit_query_log
	FOR EACH STATEMENT EXECUTE FUNCTION finsec.ledger_immutable();
ALTER TABLE finsec.credit_query_log ENABLE ALWAYS TRIGGER finsec_ledger_immutable,
	ENABLE ALWAYS TRIGGER finsec_ledger_no_truncate;

/*
 * The SHA-256 of a log row as its ledger row keeps it (log_sha256):
 * settings pinned, so that anyone recomputes the same text.
 */
CREATE FUNCTION finsec.credit_query_log_hash(r finsec.credit_query_log)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET DateStyle = 'ISO, YMD'
SET IntervalStyle = 'postgres'
SET extra_float_digits = 1
AS $$ SELECT encode(sha256(convert_to(to_jsonb(r)::text, 'UTF8')), 'hex') $$;
COMMENT ON FUNCTION finsec.credit_query_log_hash(finsec.credit_query_log) IS
	'the SHA-256 of a query log row that its credit.query ledger row (hash-chained) keeps as log_sha256';
REVOKE ALL ON FUNCTION finsec.credit_query_log_hash(finsec.credit_query_log) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_query_log_hash(finsec.credit_query_log) TO finsec_admin, finsec_auditor;

/* Batch queries (004 9.3 c): the request file's name, hash and counts. */
CREATE TABLE finsec.credit_query_batch (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at			timestamptz NOT NULL DEFAULT clock_timestamp(),
	institution text NOT NULL,
	user_name	name NOT NULL,
	relid		regclass NOT NULL,
	request_name text NOT NULL,
	request_sha256 text NOT NULL CHECK (request_sha256 ~ '^[0-9a-f]{64}$'),
	reason		text NOT NULL,
	requested	integer NOT NULL,
	found		integer NOT NULL,
	rows_returned integer NOT NULL
);
COMMENT ON TABLE finsec.credit_query_batch IS
	'batch credit queries: request file name, SHA-256, subjects requested and found, rows returned (004 9.3 c); append-only, each row chained through its credit.batch_query ledger row';
REVOKE ALL ON TABLE finsec.credit_query_batch FROM PUBLIC;
GRANT SELECT ON TABLE finsec.credit_query_batch TO finsec_admin, finsec_auditor;
SELECT pg_catalog.pg_extension_config_dump('finsec.credit_query_batch', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.credit_query_batch_id_seq', '');
CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE OR DELETE ON finsec.credit_query_batch
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable();
CREATE TRIGGER finsec_ledger_no_truncate BEFORE TRUNCATE ON finsec.credit_query_batch
	FOR EACH STATEMENT EXECUTE FUNCTION finsec.ledger_immutable();
ALTER TABLE finsec.credit_query_batch ENABLE ALWAYS TRIGGER finsec_ledger_immutable,
	ENABLE ALWAYS TRIGGER finsec_ledger_no_truncate;

CREATE FUNCTION finsec.credit_query_batch_hash(r finsec.credit_query_batch)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET DateStyle = 'ISO, YMD'
SET IntervalStyle = 'postgres'
SET extra_float_digits = 1
AS $$ SELECT encode(sha256(convert_to(to_jsonb(r)::text, 'UTF8')), 'hex') $$;
COMMENT ON FUNCTION finsec.credit_query_batch_hash(finsec.credit_query_batch) IS
	'the SHA-256 of a batch row that its credit.batch_query ledger row (hash-chained) keeps as batch_sha256';
REVOKE ALL ON FUNCTION finsec.credit_query_batch_hash(finsec.credit_query_batch) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_query_batch_hash(finsec.credit_query_batch) TO finsec_admin, finsec_auditor;

/*
 * The ledger rows of a user's queries in the last hour, for the abnormal
 * querying counts (credit_query counts credit.query and
 * credit.query_refused rows of its caller, also those the caller rolled
 * back, which the ledger keeps).
 */
CREATE INDEX audit_credit_user_time_idx ON finsec.audit (db_user, event_time)
	WHERE event_type IN ('credit.query', 'credit.query_refused', 'credit.user_suspended');

CREATE FUNCTION finsec.credit_query(tbl regclass, subject text, reason text,
	dispute_id bigint DEFAULT NULL, client_address inet DEFAULT NULL)
RETURNS TABLE (record_key text, record jsonb, under_dispute boolean, disputes jsonb)
AS 'MODULE_PATHNAME', 'finsec_credit_query'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION finsec.credit_query(regclass, text, text, bigint, inet) IS
	'the records of one subject in a registered credit table, for a credit user with a reason code: logged (finsec.credit_query_log) and audited; the only way to read a registered table';
REVOKE ALL ON FUNCTION finsec.credit_query(regclass, text, text, bigint, inet) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_query(regclass, text, text, bigint, inet) TO finsec_app, finsec_admin;

CREATE FUNCTION finsec.credit_batch_query(tbl regclass, request_name text, request bytea,
	subjects text[], reason text, client_address inet DEFAULT NULL)
RETURNS TABLE (subject_index integer, record_key text, record jsonb, under_dispute boolean, disputes jsonb)
AS 'MODULE_PATHNAME', 'finsec_credit_batch_query'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION finsec.credit_batch_query(regclass, text, bytea, text[], text, inet) IS
	'the records of many subjects (a request file), for a credit user with duty batch_query: the file''s name and SHA-256 and the counts in finsec.credit_query_batch, one log row per subject';
REVOKE ALL ON FUNCTION finsec.credit_batch_query(regclass, text, bytea, text[], text, inet) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_batch_query(regclass, text, bytea, text[], text, inet) TO finsec_app, finsec_admin;

-- credit.user_restore: a query right suspended for abnormal querying
-- (004 9.7 c) is restored only by two administrators.
CREATE FUNCTION finsec.credit_user_restore(role name, reason text)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('credit.user_restore', role::text, '{}'::jsonb, reason)
$$;
COMMENT ON FUNCTION finsec.credit_user_restore(name, text) IS
	'request that a credit user''s suspended query right be restored; another finsec_admin approves';
REVOKE ALL ON FUNCTION finsec.credit_user_restore(name, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_user_restore(name, text) TO finsec_admin;

CREATE FUNCTION finsec._credit_user_restore_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u finsec.credit_user;
BEGIN
	SELECT * INTO u FROM finsec.credit_user cu WHERE cu.role_name = target;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'role "%" is not a credit user', target USING ERRCODE = 'S9D21';
	END IF;
	IF u.query_status <> 'suspended' THEN
		RAISE EXCEPTION 'the query right of credit user "%" is not suspended', target USING ERRCODE = 'S9D33';
	END IF;
	RETURN jsonb_build_object('suspended_at', u.status_at, 'suspension', u.status_reason);
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_user_restore_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._credit_user_restore_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE finsec.credit_user cu SET query_status = 'active', status_at = now(),
		   status_reason = format('restored by request %s', request_id)
	 WHERE cu.role_name = target AND cu.query_status = 'suspended';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'the query right of credit user "%" is not suspended', target USING ERRCODE = 'S9D33';
	END IF;
	PERFORM finsec.audit_event('credit.user_restore', 'credit_user:' || target, 'restore', true, NULL,
							   jsonb_build_object('request_id', request_id, 'role', target), session_user);
	RETURN jsonb_build_object('role', target, 'query_status', 'active');
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_user_restore_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('credit.user_restore', 'finsec._credit_user_restore_prepare(text, text, jsonb)',
	 'finsec._credit_user_restore_apply(bigint, text, text, jsonb)', NULL,
	 'restore the query right of a credit user suspended for abnormal querying (finsec.credit_user_restore)');


-- (section 3 ends here)


-- ---------------------------------------------------------------------
-- 4. Anonymity engine (src/credit/ladder.c, anon.c): ladders, ladder
--    maps, deid_evaluate, deid_aggregate.
-- ---------------------------------------------------------------------

/*
 * Ladder maps (map:NAME steps): a value and what it generalises to, e.g.
 * an employer and its industry.  Read when a ladder is parsed.
 */
CREATE TABLE finsec.credit_ladder_map (
	map_name	text NOT NULL CHECK (map_name ~ '^[a-z0-9_.]{1,63}$'),
	value		text NOT NULL CHECK (octet_length(value) BETWEEN 1 AND 255),
	generalised text NOT NULL CHECK (octet_length(generalised) BETWEEN 1 AND 63),
	PRIMARY KEY (map_name, value)
);
COMMENT ON TABLE finsec.credit_ladder_map IS
	'generalisation maps of quasi-identifier ladders (map:NAME steps): value -> generalised';
REVOKE ALL ON TABLE finsec.credit_ladder_map FROM PUBLIC;
GRANT SELECT ON TABLE finsec.credit_ladder_map TO finsec_admin, finsec_auditor;
SELECT pg_catalog.pg_extension_config_dump('finsec.credit_ladder_map', '');

-- Maintenance of the maps (finsec_admin), each change a ledger row.
CREATE FUNCTION finsec.credit_ladder_map_set(map_name text, value text, generalised text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF map_name IS NULL OR value IS NULL OR generalised IS NULL THEN
		RAISE EXCEPTION 'a ladder map entry needs a map name, a value and what it generalises to'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	INSERT INTO finsec.credit_ladder_map AS m VALUES (map_name, value, generalised)
		ON CONFLICT ON CONSTRAINT credit_ladder_map_pkey
		DO UPDATE SET generalised = EXCLUDED.generalised;
	PERFORM finsec.audit_event('credit.ladder_map_set', 'credit_ladder_map:' || map_name, 'set', true,
							   'ladder map entry set', jsonb_build_object('map', map_name));
END
$$;
COMMENT ON FUNCTION finsec.credit_ladder_map_set(text, text, text) IS
	'set what a value generalises to in a ladder map (map:NAME steps); audited';
REVOKE ALL ON FUNCTION finsec.credit_ladder_map_set(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_ladder_map_set(text, text, text) TO finsec_admin;

CREATE FUNCTION finsec.credit_ladder_map_delete(map_name text, value text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
BEGIN
	DELETE FROM finsec.credit_ladder_map m
	 WHERE m.map_name = credit_ladder_map_delete.map_name
	   AND (credit_ladder_map_delete.value IS NULL OR m.value = credit_ladder_map_delete.value);
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM finsec.audit_event('credit.ladder_map_delete', 'credit_ladder_map:' || map_name, 'delete', true,
							   'ladder map entries deleted', jsonb_build_object('map', map_name, 'entries', n));
	RETURN n;
END
$$;
COMMENT ON FUNCTION finsec.credit_ladder_map_delete(text, text) IS
	'delete one entry (or, without value, the whole map) of a ladder map; audited';
REVOKE ALL ON FUNCTION finsec.credit_ladder_map_delete(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_ladder_map_delete(text, text) TO finsec_admin;

CREATE FUNCTION finsec.credit_ladder_levels(ladder jsonb, value text,
	OUT level integer, OUT step text, OUT generalised text) RETURNS SETOF record
AS 'MODULE_PATHNAME', 'finsec_credit_ladder_levels_sql'
LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION finsec.credit_ladder_levels(jsonb, text) IS
	'every level of a generalisation ladder for one value: to try a ladder before registering it';
REVOKE ALL ON FUNCTION finsec.credit_ladder_levels(jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_ladder_levels(jsonb, text) TO finsec_admin, finsec_auditor;

/*
 * The anonymity engine on sample records (src/credit/anon.c): the proof a
 * batch would carry (levels, published, suppressed, classes, risks,
 * histogram, min_l, ok, refusal) and the indexes of the records withheld.
 * Reads nothing but the ladder maps, as the caller.
 */
CREATE FUNCTION finsec.deid_evaluate(records jsonb, quasi_identifiers jsonb,
	sensitive text[] DEFAULT '{}', k integer DEFAULT 5, l integer DEFAULT 2,
	max_suppression numeric DEFAULT 0.05) RETURNS jsonb
AS 'MODULE_PATHNAME', 'finsec_deid_evaluate'
LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION finsec.deid_evaluate(jsonb, jsonb, text[], integer, integer, numeric) IS
	'k-anonymity, l-diversity and re-identification risk of sample records under ladders: the least-loss generalisation and its proof';
REVOKE ALL ON FUNCTION finsec.deid_evaluate(jsonb, jsonb, text[], integer, integer, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.deid_evaluate(jsonb, jsonb, text[], integer, integer, numeric)
	TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._credit_research_read(archive text, detail jsonb) RETURNS void
AS 'MODULE_PATHNAME', 'finsec_credit_research_read'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION finsec._credit_research_read(text, jsonb) FROM PUBLIC;

/*
 * Research access to the archive (004 9.10, C4): counts per group of
 * quasi-identifier, sensitive or public columns (and period) of the
 * archive of a registered table, each cell of fewer than k records
 * suppressed (k: the table's, or larger), their number in a final row.
 * Never a pseudonym column.  A durable ledger row per call.
 */
CREATE FUNCTION finsec.deid_aggregate(archive regclass, group_by text[], k integer DEFAULT NULL)
RETURNS SETOF jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t record;
	kk integer;
	col text;
	cols text[] := '{}';
	sel text := '';
	grp text := '';
	q text;
	g jsonb;
	n bigint;
	published bigint := 0;
	suppressed bigint := 0;
BEGIN
	IF archive IS NULL OR group_by IS NULL THEN
		RAISE EXCEPTION 'finsec.deid_aggregate() needs an archive table and the columns to group by'
			USING ERRCODE = 'S9D43', HINT = 'E.g. finsec.deid_aggregate(''finsec_archive.loan'', ''{region, overdue}'').';
	END IF;
	SELECT ct.relid, ct.k INTO t
	  FROM finsec.credit_table ct
	 WHERE ct.archive_table IS NOT NULL AND pg_catalog.to_regclass(ct.archive_table) = archive;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation % is not the archive of a registered credit table', archive
			USING ERRCODE = 'S9D43', HINT = 'Name an archive table of finsec.credit_table (archive_table), e.g. finsec_archive.<table>.';
	END IF;
	kk := coalesce(k, t.k);
	IF kk < t.k THEN
		RAISE EXCEPTION 'k = % is smaller than the table''s k = %', kk, t.k
			USING ERRCODE = 'S9D43', HINT = 'Cells are suppressed below the table''s k at least; give a larger k or none.';
	END IF;
	IF pg_catalog.cardinality(group_by) > 16 OR pg_catalog.array_ndims(group_by) > 1 THEN
		RAISE EXCEPTION 'group_by names at most 16 columns, in a one-dimensional array'
			USING ERRCODE = 'S9D43';
	END IF;
	FOREACH col IN ARRAY group_by LOOP
		IF col IS NULL OR col = ANY (cols) THEN
			RAISE EXCEPTION 'group_by names a column twice or a NULL column'
				USING ERRCODE = 'S9D43', HINT = 'Name each column once.';
		END IF;
		IF col <> 'period' AND NOT EXISTS (
			SELECT 1 FROM finsec.credit_column cc
			 WHERE cc.relid = t.relid AND cc.column_name = col
			   AND cc.column_role IN ('quasi_identifier', 'sensitive', 'public')) THEN
			RAISE EXCEPTION 'column "%" cannot be grouped by', col
				USING ERRCODE = 'S9D43',
					  DETAIL = 'Research aggregates group by period and the quasi-identifier, sensitive and public columns only; never by a pseudonym.',
					  HINT = 'See finsec.credit_column for the roles of the table''s columns.';
		END IF;
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
						WHERE a.attrelid = archive AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped) THEN
			RAISE EXCEPTION 'the archive % has no column "%"', archive, col
				USING ERRCODE = 'S9D43';
		END IF;
		cols := cols || col;
		sel := sel || CASE WHEN sel = '' THEN '' ELSE ', ' END || pg_catalog.quote_literal(col) || ', ' || pg_catalog.quote_ident(col);
		grp := grp || CASE WHEN grp = '' THEN '' ELSE ', ' END || pg_catalog.quote_ident(col);
	END LOOP;
	IF grp = '' THEN
		q := pg_catalog.format('SELECT ''{}''::jsonb, count(*) FROM %s HAVING count(*) > 0', archive);
	ELSE
		q := pg_catalog.format('SELECT pg_catalog.jsonb_build_object(%s), count(*) FROM %s GROUP BY %s ORDER BY %s',
							   sel, archive, grp, grp);
	END IF;
	FOR g, n IN EXECUTE q LOOP
		IF n >= kk THEN
			published := published + 1;
			RETURN NEXT pg_catalog.jsonb_build_object('group', g, 'count', n);
		ELSE
			suppressed := suppressed + 1;
		END IF;
	END LOOP;
	RETURN NEXT pg_catalog.jsonb_build_object('suppressed_cells', suppressed, 'k', kk);
	PERFORM finsec._credit_research_read(archive::text,
		pg_catalog.jsonb_build_object('group_by', pg_catalog.to_jsonb(cols), 'k', kk,
									  'cells', published, 'suppressed_cells', suppressed));
END
$$;
COMMENT ON FUNCTION finsec.deid_aggregate(regclass, text[], integer) IS
	'research counts over a de-identified archive, cells of fewer than k records suppressed; audited';
REVOKE ALL ON FUNCTION finsec.deid_aggregate(regclass, text[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.deid_aggregate(regclass, text[], integer) TO finsec_research, finsec_auditor;

-- (section 4 ends here)


-- ---------------------------------------------------------------------
-- 5. De-identification (src/credit/deid.c): deid_batch (the proofs),
--    deidentify_now, deidentified_copy, the worker task, research views.
-- ---------------------------------------------------------------------

/*
 * The proofs: one row per batch, published or refused (append-only; the
 * published ones are also ledger events credit.deid_batch, chained).  A
 * published retention batch of a (table, period) is unique: a record is
 * never processed twice.  The per-batch pseudonym key is never stored:
 * the proof says so and carries no fingerprint of it.
 */
CREATE SEQUENCE finsec.deid_batch_id_seq;
REVOKE ALL ON SEQUENCE finsec.deid_batch_id_seq FROM PUBLIC;
CREATE TABLE finsec.deid_batch (
	id			bigint PRIMARY KEY DEFAULT nextval('finsec.deid_batch_id_seq'),
	relid		regclass NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('retention', 'copy')),
	period		integer CHECK ((kind = 'retention') = (period IS NOT NULL)),
	period_start date,
	period_end	date,
	state		text NOT NULL CHECK (state IN ('published', 'refused')),
	reason		text CHECK ((state = 'refused') = (reason IS NOT NULL)),
	action		text NOT NULL CHECK (action IN ('deidentify', 'delete')),
	records		integer NOT NULL CHECK (records >= 0),
	published	integer NOT NULL CHECK (published >= 0),
	suppressed	integer NOT NULL CHECK (suppressed >= 0),
	target		text,
	proof		jsonb NOT NULL,
	keys_destroyed jsonb,
	started_at	timestamptz NOT NULL,
	finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	run_by		name NOT NULL DEFAULT session_user,
	CHECK (state = 'published' OR (published = 0 AND keys_destroyed IS NULL))
);
ALTER SEQUENCE finsec.deid_batch_id_seq OWNED BY finsec.deid_batch.id;
CREATE UNIQUE INDEX deid_batch_once ON finsec.deid_batch (relid, period)
	WHERE kind = 'retention' AND state = 'published';
CREATE INDEX deid_batch_relid ON finsec.deid_batch (relid, period);
COMMENT ON TABLE finsec.deid_batch IS
	'de-identification batches of registered credit tables: the proof (k, l, risks, levels, rows hash), refusals, keys destroyed (append-only)';
REVOKE ALL ON TABLE finsec.deid_batch FROM PUBLIC;
GRANT SELECT ON TABLE finsec.deid_batch TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.deid_batch', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.deid_batch_id_seq', '');

CREATE FUNCTION finsec._deid_batch_immutable() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'finsec.deid_batch is append-only'
		USING ERRCODE = 'S9D54',
			  DETAIL = 'A batch''s proof is a record of what was published and which keys were destroyed.',
			  HINT = 'Batches are added by the de-identification worker and finsec.deidentify_now().';
END
$$;
REVOKE ALL ON FUNCTION finsec._deid_batch_immutable() FROM PUBLIC;
CREATE TRIGGER finsec_deid_batch_immutable BEFORE UPDATE OR DELETE
	ON finsec.deid_batch FOR EACH ROW EXECUTE FUNCTION finsec._deid_batch_immutable();
CREATE TRIGGER finsec_deid_batch_no_truncate BEFORE TRUNCATE
	ON finsec.deid_batch FOR EACH STATEMENT EXECUTE FUNCTION finsec._deid_batch_immutable();

/* A period's keys destroyed by a batch (request_id 0: no change request; deid_batch says which batch). */
ALTER TABLE finsec.protect_shredded ADD COLUMN deid_batch bigint;
COMMENT ON COLUMN finsec.protect_shredded.deid_batch IS
	'the finsec.deid_batch that destroyed the keys when a retention batch did (request_id is then 0)';

-- "Today" for retention: the date in finsec.deid_timezone (plus
-- finsec.deid_test_days_ahead, a superuser's setting for tests; 0).
CREATE FUNCTION finsec._deid_today()
RETURNS date
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT (now() AT TIME ZONE coalesce(nullif(current_setting('finsec.deid_timezone', true), ''), 'Asia/Shanghai'))::date
		   + coalesce(nullif(current_setting('finsec.deid_test_days_ahead', true), '')::integer, 0)
$$;
REVOKE ALL ON FUNCTION finsec._deid_today() FROM PUBLIC;

/*
 * The periods of a registered table that have keys and were neither
 * shredded nor published by a retention batch; due when their last day +
 * the table's retention is before today.
 */
CREATE FUNCTION finsec._deid_periods(tbl regclass)
RETURNS TABLE (period integer, first_day date, last_day date, due_on date, due boolean)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT b.period, b.first_day, b.last_day, (b.last_day + ct.retention)::date + 1,
		   (b.last_day + ct.retention)::date < finsec._deid_today()
	  FROM finsec.credit_table ct
	  JOIN finsec.protect_policy pp ON pp.policy_name = ct.policy_name
	  JOIN finsec.key k ON k.label LIKE replace(replace(pp.enc_key, '\', '\\'), '_', '\_') || '.%'
	  CROSS JOIN LATERAL (SELECT substr(k.label, length(pp.enc_key) + 2) AS suffix) s
	  CROSS JOIN LATERAL finsec._protect_period_bounds(ct.period_unit,
			to_date(s.suffix, CASE ct.period_unit WHEN 'day' THEN 'YYYYMMDD' ELSE 'YYYYMM' END)) b
	 WHERE ct.relid = tbl
	   AND s.suffix ~ CASE ct.period_unit WHEN 'day' THEN '^[0-9]{8}$' ELSE '^[0-9]{6}$' END
	   AND b.period = s.suffix::integer
	   AND NOT EXISTS (SELECT FROM finsec.protect_shredded ps
					   WHERE ps.policy_name = ct.policy_name AND ps.period = b.period)
	   AND NOT EXISTS (SELECT FROM finsec.deid_batch db
					   WHERE db.relid = ct.relid AND db.period = b.period
						 AND db.kind = 'retention' AND db.state = 'published')
$$;
REVOKE ALL ON FUNCTION finsec._deid_periods(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._deid_periods(regclass) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * Due periods not yet processed, by table, with the last refusal if any:
 * what the worker has still to do (finsec.status_credit reads it).
 */
CREATE VIEW finsec.deid_due AS
	SELECT ct.relid AS table_name, p.period, p.first_day, p.last_day, p.due_on,
		   finsec._deid_today() - p.due_on AS days_overdue,
		   r.id AS refused_batch, r.reason AS refusal, r.finished_at AS refused_at
	  FROM finsec.credit_table ct
	 CROSS JOIN LATERAL finsec._deid_periods(ct.relid) p
	  LEFT JOIN LATERAL (SELECT db.id, db.reason, db.finished_at FROM finsec.deid_batch db
						  WHERE db.relid = ct.relid AND db.period = p.period AND db.kind = 'retention'
							AND db.state = 'refused'
						  ORDER BY db.id DESC LIMIT 1) r ON true
	 WHERE p.due;
COMMENT ON VIEW finsec.deid_due IS
	'periods of registered credit tables past their retention and not yet de-identified (with the last refusal)';
REVOKE ALL ON finsec.deid_due FROM PUBLIC;
GRANT SELECT ON finsec.deid_due TO finsec_admin, finsec_auditor, finsec_operator;

/* The proofs, for admins and auditors. */
CREATE VIEW finsec.deid_batches AS
	SELECT db.id, db.relid AS table_name, db.kind, db.period, db.period_start, db.period_end, db.state,
		   db.reason, db.action, db.records, db.published, db.suppressed, db.target,
		   db.proof -> 'engine' -> 'levels' AS levels,
		   db.proof ->> 'rows_hash' AS rows_hash,
		   db.proof, db.keys_destroyed, db.started_at, db.finished_at, db.run_by
	  FROM finsec.deid_batch db;
COMMENT ON VIEW finsec.deid_batches IS
	'de-identification batches and their proofs (finsec.deid_batch)';
REVOKE ALL ON finsec.deid_batches FROM PUBLIC;
GRANT SELECT ON finsec.deid_batches TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * The hash of a batch's archive rows: SHA-256 over the sorted SHA-256 of
 * each row's jsonb text without batch_id and the chain columns finsec_txid,
 * finsec_seq (order-free, recomputable by an auditor with plain SQL).
 */
CREATE FUNCTION finsec._deid_rows_hash(archive regclass, batch bigint)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	h text;
BEGIN
	EXECUTE format('SELECT encode(sha256(coalesce(string_agg(d, ''''::bytea ORDER BY d), ''''::bytea)), ''hex'')'
				   ' FROM (SELECT sha256(convert_to((to_jsonb(a) - ''batch_id'' - ''finsec_txid'' - ''finsec_seq'')::text, ''UTF8'')) AS d'
				   ' FROM %s a WHERE a.batch_id = $1) r', archive)
	  INTO h USING batch;
	RETURN h;
END
$$;
REVOKE ALL ON FUNCTION finsec._deid_rows_hash(regclass, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._deid_rows_hash(regclass, bigint) TO finsec_admin, finsec_auditor;

/* Whether a published batch's archive rows are still those its proof hashed. */
CREATE FUNCTION finsec.deid_verify(batch bigint)
RETURNS boolean
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	b finsec.deid_batch;
	arch text;
BEGIN
	IF NOT (pg_has_role(session_user, 'finsec_admin', 'MEMBER') OR pg_has_role(session_user, 'finsec_auditor', 'MEMBER')) THEN
		RAISE EXCEPTION 'permission denied for function finsec.deid_verify' USING ERRCODE = 'insufficient_privilege';
	END IF;
	SELECT * INTO b FROM finsec.deid_batch WHERE id = batch;
	IF NOT FOUND OR b.state <> 'published' OR b.kind <> 'retention' OR b.action <> 'deidentify' THEN
		RETURN NULL;
	END IF;
	arch := b.proof ->> 'archive_table';
	RETURN finsec._deid_rows_hash(arch::regclass, batch) = b.proof ->> 'rows_hash';
END
$$;
COMMENT ON FUNCTION finsec.deid_verify(bigint) IS
	'whether the archive rows of a published de-identification batch still hash to its proof''s rows_hash (NULL: no archive rows to check)';
REVOKE ALL ON FUNCTION finsec.deid_verify(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.deid_verify(bigint) TO finsec_admin, finsec_auditor;

/*
 * Destroy the keys of a period of a table's policy as protect_shred's
 * apply does (the keyring's key.retire and key.destroy), recorded in
 * finsec.protect_shredded with the batch.  Called by deid.c as finsec's
 * owner, in the batch's transaction.
 */
CREATE FUNCTION finsec._deid_shred(tbl regclass, period integer, batch bigint)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p finsec.protect_policy;
	ct finsec.credit_table;
	b record;
	lbl record;
	v record;
	keys jsonb := '{}';
	ver jsonb;
BEGIN
	SELECT * INTO ct FROM finsec.credit_table c WHERE c.relid = tbl;
	SELECT * INTO p FROM finsec.protect_policy pp WHERE pp.policy_name = ct.policy_name;
	b := finsec._protect_period_bounds(p.period_unit,
			to_date(period::text, CASE p.period_unit WHEN 'day' THEN 'YYYYMMDD' ELSE 'YYYYMM' END));
	IF b.period <> period OR b.last_day >= finsec._deid_today() THEN
		RAISE EXCEPTION 'period % of protect policy "%" has not ended', period, p.policy_name USING ERRCODE = 'S9P26';
	END IF;
	FOR lbl IN SELECT * FROM finsec._protect_period_labels(p, period) LOOP
		ver := '[]';
		FOR v IN SELECT kv.key_id, kv.version, kv.state FROM finsec.key_version kv JOIN finsec.key k USING (key_id)
				  WHERE k.label = lbl.label AND kv.state <> 'destroyed' ORDER BY kv.version LOOP
			IF v.state = 'active' THEN
				PERFORM finsec._key_apply(0, 'key.retire', lbl.label,
										  jsonb_build_object('key_id', v.key_id, 'version', v.version));
			END IF;
			PERFORM finsec._key_apply(0, 'key.destroy', lbl.label,
									  jsonb_build_object('key_id', v.key_id, 'version', v.version));
			ver := ver || to_jsonb(v.version);
		END LOOP;
		IF EXISTS (SELECT FROM finsec.key k WHERE k.label = lbl.label) THEN
			keys := keys || jsonb_build_object(lbl.label, ver);
		END IF;
	END LOOP;
	INSERT INTO finsec.protect_shredded (policy_name, period, period_start, period_end, keys, request_id,
										 requested_by, deid_batch)
	VALUES (p.policy_name, period, b.first_day, b.last_day, keys, 0, session_user, batch);
	PERFORM finsec.audit_event('protect.shred', p.policy_name, 'shred', true, NULL,
							   jsonb_build_object('deid_batch', batch, 'period', period, 'keys', keys),
							   session_user);
	RETURN keys;
END
$$;
REVOKE ALL ON FUNCTION finsec._deid_shred(regclass, integer, bigint) FROM PUBLIC;

CREATE FUNCTION finsec.deidentify_now(tbl regclass)
RETURNS SETOF bigint
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'finsec_deidentify_now';
COMMENT ON FUNCTION finsec.deidentify_now(regclass) IS
	'run the due de-identification batches of a registered credit table now (one per due period); returns the batch ids, refused ones included';
REVOKE ALL ON FUNCTION finsec.deidentify_now(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.deidentify_now(regclass) TO finsec_admin;

CREATE FUNCTION finsec.deidentified_copy(tbl regclass, target text, k integer DEFAULT NULL,
										 l integer DEFAULT NULL, max_suppression numeric DEFAULT NULL)
RETURNS bigint
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'finsec_deidentified_copy';
COMMENT ON FUNCTION finsec.deidentified_copy(regclass, text, integer, integer, numeric) IS
	'create target (owned by the caller) with a de-identified, k-anonymous copy of the current records of a registered credit table, for test environments (004 7.4.4 b); returns the batch id of its proof';
REVOKE ALL ON FUNCTION finsec.deidentified_copy(regclass, text, integer, integer, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.deidentified_copy(regclass, text, integer, integer, numeric) TO finsec_admin;


-- (section 5 ends here)


-- ---------------------------------------------------------------------
-- 6. Disputes and the registry (src/credit/dispute.c, registry.c):
--    disputes, checks, corrections, personal statements, deadlines;
--    institution status, data files, the exchange log.
-- ---------------------------------------------------------------------

/*
 * Who acts: the role the caller is (its login role or the one SET ROLE
 * chose), not finsec's owner that a SECURITY DEFINER function runs as
 * (GetOuterUserId).  credit_user rows name such roles.
 */
CREATE FUNCTION finsec._credit_actor() RETURNS name
AS 'MODULE_PATHNAME', 'finsec_credit_actor'
LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION finsec._credit_actor() FROM PUBLIC;

/*
 * A refusal of section 6: a durable ledger row (survives the rollback
 * the error causes), then the error.  detail and hint may be NULL.
 */
CREATE FUNCTION finsec._credit_refuse(event_type text, object text, code text, message text,
									  detail text DEFAULT NULL, hint text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM finsec._audit_refusal(event_type, object, 'refuse', message,
								  jsonb_build_object('sqlstate', code));
	IF detail IS NOT NULL AND hint IS NOT NULL THEN
		RAISE EXCEPTION USING MESSAGE = message, ERRCODE = code, DETAIL = detail, HINT = hint;
	ELSIF detail IS NOT NULL THEN
		RAISE EXCEPTION USING MESSAGE = message, ERRCODE = code, DETAIL = detail;
	ELSIF hint IS NOT NULL THEN
		RAISE EXCEPTION USING MESSAGE = message, ERRCODE = code, HINT = hint;
	ELSE
		RAISE EXCEPTION USING MESSAGE = message, ERRCODE = code;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_refuse(text, text, text, text, text, text) FROM PUBLIC;

-- ---- 6a. The institution registry (004 9.1, 9.2) ---------------------------

/*
 * A new institution applies: status 'applied', no access yet.  Codes are
 * unique and never reused (a deregistered institution keeps its row).
 */
CREATE FUNCTION finsec.credit_institution_apply(code text, name text, kind text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF code IS NULL OR name IS NULL OR kind IS NULL THEN
		RAISE EXCEPTION 'code, name and kind of an institution must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF code !~ '^[0-9A-Z]{4,32}$' THEN
		RAISE EXCEPTION 'institution code is not valid'
			USING ERRCODE = 'S9D70',
				  DETAIL = 'A code is 4 to 32 characters, digits and capital letters A-Z only.',
				  HINT = 'Use the institution''s registered code (e.g. its financial institution code or USCC).';
	END IF;
	IF length(name) NOT BETWEEN 1 AND 200 OR name ~ '[[:cntrl:]]' THEN
		RAISE EXCEPTION 'institution name is not valid'
			USING ERRCODE = 'S9D70',
				  DETAIL = 'A name is 1 to 200 characters without control characters.';
	END IF;
	IF kind NOT IN ('provider', 'user', 'provider_user') THEN
		RAISE EXCEPTION 'institution kind "%" is not valid', kind
			USING ERRCODE = 'S9D70',
				  HINT = 'The kinds are provider, user and provider_user.';
	END IF;
	IF EXISTS (SELECT 1 FROM finsec.credit_institution ci WHERE ci.code = credit_institution_apply.code) THEN
		RAISE EXCEPTION 'institution % is already registered', code
			USING ERRCODE = 'S9D71',
				  HINT = 'An institution''s code is registered once and never reused, even after deregistration; finsec.credit_institution shows its status.';
	END IF;
	INSERT INTO finsec.credit_institution (code, name, kind, status, status_reason, status_by)
	VALUES (code, name, kind, 'applied', 'application', session_user);
	PERFORM finsec.audit_event('credit.institution_status', 'institution:' || code, 'apply', true,
							   'credit institution applied for access',
							   jsonb_build_object('code', code, 'kind', kind, 'from', NULL, 'to', 'applied'),
							   session_user);
	RETURN 'applied';
END
$$;
COMMENT ON FUNCTION finsec.credit_institution_apply(text, text, text) IS
	'register an institution''s application for access (status applied); activation is two-person (credit_institution_activate)';
REVOKE ALL ON FUNCTION finsec.credit_institution_apply(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_institution_apply(text, text, text) TO finsec_admin;

/*
 * Activation (004 9.1 c/d): after the institution's security assessment
 * and its connection test, recorded in the request; a different
 * finsec_admin approves.  Also reactivates a suspended institution.
 */
CREATE FUNCTION finsec.credit_institution_activate(code text, assessment text, test_result text,
												   reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF nullif(btrim(assessment), '') IS NULL OR nullif(btrim(test_result), '') IS NULL THEN
		RAISE EXCEPTION 'activating an institution needs its assessment and its test result'
			USING ERRCODE = 'S9D79',
				  DETAIL = 'Access is granted only after the institution''s security assessment and its connection test (004 9.1 c, d).',
				  HINT = 'Pass the assessment''s reference and conclusion as assessment, the test''s as test_result.';
	END IF;
	RETURN finsec.request_change('credit.institution_activate', code,
								 jsonb_build_object('assessment', assessment, 'test_result', test_result),
								 reason);
END
$$;
COMMENT ON FUNCTION finsec.credit_institution_activate(text, text, text, text) IS
	'request that an applied or suspended institution be activated, with its assessment and test result; another finsec_admin approves';
REVOKE ALL ON FUNCTION finsec.credit_institution_activate(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_institution_activate(text, text, text, text) TO finsec_admin;

CREATE FUNCTION finsec._credit_institution_activate_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	st text;
BEGIN
	SELECT ci.status INTO st FROM finsec.credit_institution ci WHERE ci.code = target;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'institution % is not registered', target
			USING ERRCODE = 'undefined_object', HINT = 'Register it first with finsec.credit_institution_apply().';
	END IF;
	IF st NOT IN ('applied', 'suspended') THEN
		RAISE EXCEPTION 'institution % is %: it cannot be activated', target, st
			USING ERRCODE = 'S9D72',
				  DETAIL = 'Only an applied or a suspended institution can be activated; a deregistered one never again.';
	END IF;
	IF nullif(btrim(payload ->> 'assessment'), '') IS NULL OR nullif(btrim(payload ->> 'test_result'), '') IS NULL THEN
		RAISE EXCEPTION 'activating an institution needs its assessment and its test result'
			USING ERRCODE = 'S9D79';
	END IF;
	RETURN jsonb_build_object('assessment', payload ->> 'assessment', 'test_result', payload ->> 'test_result',
							  'from', st);
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_institution_activate_prepare(text, text, jsonb) FROM PUBLIC;

/* Change an institution's status (apply functions, suspend); ledger row. */
CREATE FUNCTION finsec._credit_institution_set_status(code text, allowed text[], new_status text,
													  reason text, request_id bigint, detail jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	st text;
BEGIN
	SELECT ci.status INTO st FROM finsec.credit_institution ci
	 WHERE ci.code = _credit_institution_set_status.code FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'institution % is not registered', code USING ERRCODE = 'undefined_object';
	END IF;
	IF st <> ALL (allowed) THEN
		RAISE EXCEPTION 'institution % is %: it cannot become %', code, st, new_status
			USING ERRCODE = 'S9D72',
				  DETAIL = format('Only an institution that is %s can become %s.', array_to_string(allowed, ' or '), new_status);
	END IF;
	UPDATE finsec.credit_institution ci
	   SET status = new_status, status_at = now(), status_reason = reason, status_by = session_user,
		   request_id = _credit_institution_set_status.request_id
	 WHERE ci.code = _credit_institution_set_status.code;
	PERFORM finsec.audit_event('credit.institution_status', 'institution:' || code, new_status, true, reason,
							   coalesce(detail, '{}') || jsonb_build_object('code', code, 'from', st, 'to', new_status,
																			 'request_id', request_id),
							   session_user);
	RETURN jsonb_build_object('code', code, 'from', st, 'to', new_status);
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_institution_set_status(text, text[], text, text, bigint, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._credit_institution_activate_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec._credit_institution_set_status(target, ARRAY['applied', 'suspended'], 'active',
		(SELECT cr.reason FROM finsec.change_request cr WHERE cr.request_id = _credit_institution_activate_apply.request_id),
		request_id, jsonb_build_object('assessment', payload ->> 'assessment', 'test_result', payload ->> 'test_result'))
$$;
REVOKE ALL ON FUNCTION finsec._credit_institution_activate_apply(bigint, text, text, jsonb) FROM PUBLIC;

/* Suspension: immediate (a finsec_admin stops an institution's access at once), audited. */
CREATE FUNCTION finsec.credit_institution_suspend(code text, reason text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF code IS NULL THEN
		RAISE EXCEPTION 'institution code must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF nullif(btrim(reason), '') IS NULL THEN
		RAISE EXCEPTION 'suspending an institution needs a reason'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Say why its access is suspended; the reason is kept with its status and in the ledger.';
	END IF;
	RETURN finsec._credit_institution_set_status(code, ARRAY['active'], 'suspended', reason, NULL, NULL);
END
$$;
COMMENT ON FUNCTION finsec.credit_institution_suspend(text, text) IS
	'suspend an active institution''s access at once (audited); reactivation is two-person (credit_institution_activate)';
REVOKE ALL ON FUNCTION finsec.credit_institution_suspend(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_institution_suspend(text, text) TO finsec_admin;

/*
 * The open disputes that keep an institution from leaving (004 9.2 b):
 * those it handles (its handler's institution), and those of its records
 * (the dispute's institution: the provider of the disputed record).
 */
CREATE FUNCTION finsec._credit_institution_open_disputes(code text)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT count(*) FROM finsec.credit_dispute d
	 WHERE d.status IN ('open', 'checking')
	   AND (d.institution = code
			OR EXISTS (SELECT 1 FROM finsec.credit_user u WHERE u.role_name = d.handler AND u.institution = code))
$$;
REVOKE ALL ON FUNCTION finsec._credit_institution_open_disputes(text) FROM PUBLIC;

CREATE FUNCTION finsec.credit_institution_deregister(code text, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('credit.institution_deregister', code, '{}', reason)
$$;
COMMENT ON FUNCTION finsec.credit_institution_deregister(text, text) IS
	'request that an institution be deregistered (never deleted); refused while it has open disputes; another finsec_admin approves';
REVOKE ALL ON FUNCTION finsec.credit_institution_deregister(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_institution_deregister(text, text) TO finsec_admin;

CREATE FUNCTION finsec._credit_institution_deregister_check(code text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	st text;
	n bigint;
BEGIN
	SELECT ci.status INTO st FROM finsec.credit_institution ci WHERE ci.code = _credit_institution_deregister_check.code;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'institution % is not registered', code USING ERRCODE = 'undefined_object';
	END IF;
	IF st = 'deregistered' THEN
		RAISE EXCEPTION 'institution % is already deregistered', code USING ERRCODE = 'S9D72';
	END IF;
	n := finsec._credit_institution_open_disputes(code);
	IF n > 0 THEN
		PERFORM finsec._credit_refuse('credit.institution_status', 'institution:' || code, 'S9D73',
			format('institution %s cannot be deregistered while %s of its disputes are open', code, n),
			'Disputes it handles or that concern its records must be resolved first (004 9.2 b).',
			'finsec.credit_disputes_overdue() and finsec.credit_dispute list them; resolve them, then request again.');
	END IF;
	RETURN st;
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_institution_deregister_check(text) FROM PUBLIC;

CREATE FUNCTION finsec._credit_institution_deregister_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_build_object('from', finsec._credit_institution_deregister_check(target))
$$;
REVOKE ALL ON FUNCTION finsec._credit_institution_deregister_prepare(text, text, jsonb) FROM PUBLIC;

-- Checked again on approval: a dispute may have been opened meanwhile.
CREATE FUNCTION finsec._credit_institution_deregister_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the row lock first: a dispute opened from now on waits for this transaction
	PERFORM 1 FROM finsec.credit_institution ci WHERE ci.code = target FOR UPDATE;
	PERFORM finsec._credit_institution_deregister_check(target);
	RETURN finsec._credit_institution_set_status(target, ARRAY['applied', 'active', 'suspended'], 'deregistered',
		(SELECT cr.reason FROM finsec.change_request cr WHERE cr.request_id = _credit_institution_deregister_apply.request_id),
		request_id, NULL);
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_institution_deregister_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('credit.institution_activate', 'finsec._credit_institution_activate_prepare(text, text, jsonb)',
	 'finsec._credit_institution_activate_apply(bigint, text, text, jsonb)', NULL,
	 'grant a credit institution access after its assessment and test (finsec.credit_institution_activate)'),
	('credit.institution_deregister', 'finsec._credit_institution_deregister_prepare(text, text, jsonb)',
	 'finsec._credit_institution_deregister_apply(bigint, text, text, jsonb)', NULL,
	 'deregister a credit institution with no open disputes (finsec.credit_institution_deregister)');

/*
 * Who may record an institution's files and exchanges: finsec_admin and
 * finsec_operator members, or a credit user of that institution with the
 * duty 'submit'.
 */
CREATE FUNCTION finsec._credit_require_submitter(institution text, what text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	actor name := finsec._credit_actor();
BEGIN
	IF pg_has_role(actor, 'finsec_admin', 'MEMBER') OR pg_has_role(actor, 'finsec_operator', 'MEMBER') THEN
		RETURN;
	END IF;
	IF institution IS NOT NULL AND EXISTS (
		SELECT 1 FROM finsec.credit_user u
		 WHERE u.role_name = actor AND u.institution = _credit_require_submitter.institution
		   AND 'submit' = ANY (u.duties)) THEN
		RETURN;
	END IF;
	PERFORM finsec._credit_refuse('credit.exchange', coalesce('institution:' || institution, 'credit'), '42501',
		format('permission denied to %s', what),
		format('Role %I is neither a finsec_admin or finsec_operator member nor a credit user of the institution with the duty submit.', actor),
		'finsec.credit_user_set() gives a role the duty submit for its institution.');
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_require_submitter(text, text) FROM PUBLIC;

/* The institution must be an active provider (files come from providers). */
CREATE FUNCTION finsec._credit_require_active(institution text, provider boolean, what text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ci finsec.credit_institution;
BEGIN
	SELECT * INTO ci FROM finsec.credit_institution c WHERE c.code = institution;
	IF NOT FOUND THEN
		PERFORM finsec._credit_refuse('credit.exchange', 'institution:' || institution, 'S9D74',
			format('institution %s is not registered', institution), NULL,
			'finsec.credit_institution lists the registered institutions.');
	END IF;
	IF ci.status <> 'active' THEN
		PERFORM finsec._credit_refuse('credit.exchange', 'institution:' || institution, 'S9D74',
			format('institution %s is %s: %s refused', institution, ci.status, what),
			'Only an active institution exchanges data.', NULL);
	END IF;
	IF provider AND ci.kind NOT IN ('provider', 'provider_user') THEN
		PERFORM finsec._credit_refuse('credit.exchange', 'institution:' || institution, 'S9D74',
			format('institution %s is not an information provider: %s refused', institution, what),
			format('Its kind is %s; data files come from providers (kind provider or provider_user).', ci.kind), NULL);
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_require_active(text, boolean, text) FROM PUBLIC;

-- ---- 6b. Data files and the exchange log (004 9.4.1 b-d, 9.6 a) -------------

/*
 * Both registers are append-only and hash-chained (protect_table): a
 * file's load result and its feedback are rows of their own
 * (credit_data_file_event); finsec.credit_data_files shows each file with
 * them.
 */
CREATE TABLE finsec.credit_data_file (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	institution text NOT NULL REFERENCES finsec.credit_institution,
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 255 AND name !~ '[[:cntrl:]]'),
	sha256		text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	bytes		bigint CHECK (bytes >= 0),
	records		integer CHECK (records >= 0),
	received_at timestamptz NOT NULL DEFAULT now(),
	registered_by name NOT NULL DEFAULT session_user,
	UNIQUE (institution, sha256)
);
COMMENT ON TABLE finsec.credit_data_file IS
	'register of incoming credit data files: institution, name, SHA-256, declared records (004 9.4.1 b); append-only';
REVOKE ALL ON TABLE finsec.credit_data_file FROM PUBLIC;
GRANT SELECT ON TABLE finsec.credit_data_file TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.credit_data_file', '');

CREATE TABLE finsec.credit_data_file_event (
	file_id		bigint NOT NULL REFERENCES finsec.credit_data_file,
	event		text NOT NULL CHECK (event IN ('result', 'feedback')),
	loaded		integer CHECK (loaded >= 0),
	rejected	integer CHECK (rejected >= 0),
	rejections	jsonb,
	at			timestamptz NOT NULL DEFAULT now(),
	by_role		name NOT NULL DEFAULT session_user,
	PRIMARY KEY (file_id, event),
	CHECK ((event = 'result') = (loaded IS NOT NULL AND rejected IS NOT NULL AND rejections IS NOT NULL))
);
COMMENT ON TABLE finsec.credit_data_file_event IS
	'a data file''s load result (loaded, rejected, rejections: record index -> reason) and the feedback sent (004 9.4.1 c, d); append-only';
REVOKE ALL ON TABLE finsec.credit_data_file_event FROM PUBLIC;
GRANT SELECT ON TABLE finsec.credit_data_file_event TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.credit_data_file_event', '');

CREATE VIEW finsec.credit_data_files AS
SELECT f.id, f.institution, f.name, f.sha256, f.bytes, f.received_at, f.records,
	   r.loaded, r.rejected, r.rejections, r.at AS result_at, fb.at AS feedback_sent_at, f.registered_by
  FROM finsec.credit_data_file f
  LEFT JOIN finsec.credit_data_file_event r ON r.file_id = f.id AND r.event = 'result'
  LEFT JOIN finsec.credit_data_file_event fb ON fb.file_id = f.id AND fb.event = 'feedback';
COMMENT ON VIEW finsec.credit_data_files IS
	'each registered data file with its load result and when the feedback was sent';
REVOKE ALL ON finsec.credit_data_files FROM PUBLIC;
GRANT SELECT ON finsec.credit_data_files TO finsec_admin, finsec_auditor, finsec_operator;

CREATE TABLE finsec.credit_exchange (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at			timestamptz NOT NULL DEFAULT now(),
	counterparty text NOT NULL CHECK (length(counterparty) BETWEEN 1 AND 200 AND counterparty !~ '[[:cntrl:]]'),
	institution text REFERENCES finsec.credit_institution,
	direction	text NOT NULL CHECK (direction IN ('in', 'out')),
	kind		text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,62}$'),
	file_id		bigint REFERENCES finsec.credit_data_file,
	success		boolean NOT NULL,
	detail		text CHECK (length(detail) <= 1000),
	by_role		name NOT NULL,
	session_role name NOT NULL DEFAULT session_user
);
COMMENT ON TABLE finsec.credit_exchange IS
	'log of every credit data exchange: time, counterparty system, institution, direction, kind, file, success (004 9.6 a); append-only';
REVOKE ALL ON TABLE finsec.credit_exchange FROM PUBLIC;
GRANT SELECT ON TABLE finsec.credit_exchange TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.credit_exchange', '');

/*
 * Append-only as the ledger's own tables are (0.2: ledger_chain,
 * ledger_block): finsec's immutability trigger, which cannot be dropped,
 * disabled or renamed while finsec is preloaded (protect_table() is for
 * application tables).  Each row is also in a ledger event of the same
 * transaction (credit.file, credit.exchange), which is hash-chained.
 */
DO $immutable$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['credit_data_file', 'credit_data_file_event', 'credit_exchange'] LOOP
		EXECUTE format('CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE OR DELETE ON finsec.%I '
					   'FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable()', t);
		EXECUTE format('CREATE TRIGGER finsec_ledger_no_truncate BEFORE TRUNCATE ON finsec.%I '
					   'FOR EACH STATEMENT EXECUTE FUNCTION finsec.ledger_immutable()', t);
		EXECUTE format('ALTER TABLE finsec.%I ENABLE ALWAYS TRIGGER finsec_ledger_immutable, '
					   'ENABLE ALWAYS TRIGGER finsec_ledger_no_truncate', t);
	END LOOP;
END
$immutable$;

/* Record one exchange (the file functions record theirs themselves). */
CREATE FUNCTION finsec._credit_exchange_write(counterparty text, direction text, kind text, success boolean,
											  institution text, file_id bigint, detail text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
BEGIN
	INSERT INTO finsec.credit_exchange (counterparty, institution, direction, kind, file_id, success, detail, by_role)
	VALUES (counterparty, institution, direction, kind, file_id, success, detail, finsec._credit_actor())
	RETURNING credit_exchange.id INTO id;
	PERFORM finsec.audit_event('credit.exchange', coalesce('institution:' || institution, 'system:' || counterparty),
							   direction, success, NULL,
							   jsonb_build_object('exchange_id', id, 'counterparty', counterparty, 'kind', kind,
												  'file_id', file_id),
							   session_user);
	RETURN id;
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_exchange_write(text, text, text, boolean, text, bigint, text) FROM PUBLIC;

CREATE FUNCTION finsec.credit_exchange_log(counterparty text, direction text, kind text, success boolean,
										   institution text DEFAULT NULL, file_id bigint DEFAULT NULL,
										   detail text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF counterparty IS NULL OR direction IS NULL OR kind IS NULL OR success IS NULL THEN
		RAISE EXCEPTION 'counterparty, direction, kind and success of an exchange must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM finsec._credit_require_submitter(institution, 'record a credit data exchange');
	IF direction NOT IN ('in', 'out') THEN
		RAISE EXCEPTION 'exchange direction "%" is not valid', direction
			USING ERRCODE = 'S9D76', HINT = 'The direction is in (received) or out (sent).';
	END IF;
	IF kind !~ '^[a-z][a-z0-9_]{0,62}$' THEN
		RAISE EXCEPTION 'exchange kind is not valid'
			USING ERRCODE = 'S9D76', HINT = 'A kind is a lower-case word such as data_file, feedback, query, dispute.';
	END IF;
	IF length(counterparty) NOT BETWEEN 1 AND 200 OR counterparty ~ '[[:cntrl:]]' OR length(detail) > 1000 THEN
		RAISE EXCEPTION 'exchange counterparty or detail is not valid'
			USING ERRCODE = 'S9D76',
				  DETAIL = 'The counterparty is 1 to 200 characters without control characters; the detail at most 1000.';
	END IF;
	IF institution IS NOT NULL AND NOT EXISTS (SELECT 1 FROM finsec.credit_institution ci WHERE ci.code = institution) THEN
		RAISE EXCEPTION 'institution % is not registered', institution USING ERRCODE = 'S9D74';
	END IF;
	IF file_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM finsec.credit_data_file f
		 WHERE f.id = file_id AND f.institution IS NOT DISTINCT FROM coalesce(credit_exchange_log.institution, f.institution)) THEN
		RAISE EXCEPTION 'data file % is not registered for this institution', file_id USING ERRCODE = 'S9D76';
	END IF;
	RETURN finsec._credit_exchange_write(counterparty, direction, kind, success, institution, file_id, detail);
END
$$;
COMMENT ON FUNCTION finsec.credit_exchange_log(text, text, text, boolean, text, bigint, text) IS
	'record a credit data exchange with a counterparty system (004 9.6 a); the detail must not hold personal data';
REVOKE ALL ON FUNCTION finsec.credit_exchange_log(text, text, text, boolean, text, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_exchange_log(text, text, text, boolean, text, bigint, text)
	TO finsec_admin, finsec_operator, finsec_app;

/*
 * Register an incoming file: its content (hashed here, not kept) or its
 * SHA-256, never both; the same file twice from one institution is
 * refused (a resubmission would be loaded twice).  Logged as an 'in'
 * exchange of kind data_file.
 */
CREATE FUNCTION finsec.credit_file_register(institution text, name text, content bytea DEFAULT NULL,
											sha256 text DEFAULT NULL, records integer DEFAULT NULL,
											counterparty text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	h text;
	id bigint;
BEGIN
	IF institution IS NULL OR name IS NULL THEN
		RAISE EXCEPTION 'institution and name of a data file must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM finsec._credit_require_submitter(institution, 'register a credit data file');
	PERFORM finsec._credit_require_active(institution, true, 'registering a data file');
	IF (content IS NULL) = (sha256 IS NULL) THEN
		RAISE EXCEPTION 'a data file is registered with its content or its SHA-256, not both and not neither'
			USING ERRCODE = 'S9D76';
	END IF;
	h := coalesce(encode(pg_catalog.sha256(content), 'hex'), lower(sha256));
	IF h !~ '^[0-9a-f]{64}$' THEN
		RAISE EXCEPTION 'sha256 is not a SHA-256 digest'
			USING ERRCODE = 'S9D76', HINT = 'Pass 64 hexadecimal digits.';
	END IF;
	IF length(name) NOT BETWEEN 1 AND 255 OR name ~ '[[:cntrl:]]' THEN
		RAISE EXCEPTION 'data file name is not valid'
			USING ERRCODE = 'S9D76', DETAIL = 'A name is 1 to 255 characters without control characters.';
	END IF;
	IF records < 0 THEN
		RAISE EXCEPTION 'records must not be negative' USING ERRCODE = 'S9D76';
	END IF;
	SELECT f.id INTO id FROM finsec.credit_data_file f WHERE f.institution = credit_file_register.institution AND f.sha256 = h;
	IF FOUND THEN
		PERFORM finsec._credit_refuse('credit.file', 'institution:' || institution, 'S9D75',
			format('this file of institution %s is already registered (data file %s)', institution, id),
			'A file with the same SHA-256 was received before; loading it again would load its records twice.',
			'If it is a deliberate resubmission, the provider sends a new file.');
	END IF;
	INSERT INTO finsec.credit_data_file (institution, name, sha256, bytes, records)
	VALUES (institution, name, h, octet_length(content), records)
	RETURNING credit_data_file.id INTO id;
	PERFORM finsec.audit_event('credit.file', 'institution:' || institution, 'register', true, NULL,
							   jsonb_build_object('file_id', id, 'sha256', h, 'records', records), session_user);
	PERFORM finsec._credit_exchange_write(coalesce(counterparty, institution), 'in', 'data_file', true,
										  institution, id, NULL);
	RETURN id;
END
$$;
COMMENT ON FUNCTION finsec.credit_file_register(text, text, bytea, text, integer, text) IS
	'register an incoming credit data file by its content or SHA-256 (004 9.4.1 b); returns its id';
REVOKE ALL ON FUNCTION finsec.credit_file_register(text, text, bytea, text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_file_register(text, text, bytea, text, integer, text)
	TO finsec_admin, finsec_operator, finsec_app;

/*
 * The load result: loaded + rejected = the declared records (when
 * declared), one reason per rejected record, keyed by its index (0-based,
 * below the record count).  Once per file.
 */
CREATE FUNCTION finsec.credit_file_result(file_id bigint, loaded integer, rejected integer,
										  rejections jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f finsec.credit_data_file;
	bad text;
	nrej bigint;
BEGIN
	IF file_id IS NULL OR loaded IS NULL OR rejected IS NULL OR rejections IS NULL THEN
		RAISE EXCEPTION 'file_id, loaded, rejected and rejections must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO f FROM finsec.credit_data_file d WHERE d.id = file_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'data file % is not registered', file_id USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM finsec._credit_require_submitter(f.institution, 'record a data file''s load result');
	-- one result per file, also under concurrency (the primary key decides)
	PERFORM pg_advisory_xact_lock(hashtextextended('finsec.credit_file:' || file_id, 0));
	IF EXISTS (SELECT 1 FROM finsec.credit_data_file_event e WHERE e.file_id = credit_file_result.file_id AND e.event = 'result') THEN
		RAISE EXCEPTION 'data file % already has its load result', file_id
			USING ERRCODE = 'S9D77', DETAIL = 'A file''s result is recorded once; the register is append-only.';
	END IF;
	IF loaded < 0 OR rejected < 0 THEN
		RAISE EXCEPTION 'loaded and rejected must not be negative' USING ERRCODE = 'S9D76';
	END IF;
	IF f.records IS NOT NULL AND loaded::bigint + rejected <> f.records THEN
		RAISE EXCEPTION 'loaded (%) and rejected (%) do not add up to the file''s % records', loaded, rejected, f.records
			USING ERRCODE = 'S9D76', HINT = 'Every record of a file is either loaded or rejected.';
	END IF;
	IF jsonb_typeof(rejections) <> 'object' THEN
		RAISE EXCEPTION 'rejections must be a JSON object of record index -> reason' USING ERRCODE = 'S9D76';
	END IF;
	SELECT count(*) INTO nrej FROM jsonb_each(rejections);
	IF nrej <> rejected THEN
		RAISE EXCEPTION 'rejections give % reasons for % rejected records', nrej, rejected
			USING ERRCODE = 'S9D76', HINT = 'Give one reason per rejected record, keyed by its index in the file.';
	END IF;
	SELECT r.key INTO bad FROM jsonb_each(rejections) r
	 WHERE CASE WHEN r.key !~ '^(0|[1-9][0-9]{0,8})$' THEN true
				WHEN r.key::bigint >= coalesce(f.records, loaded::bigint + rejected) THEN true
				WHEN jsonb_typeof(r.value) <> 'string' THEN true
				ELSE length(r.value #>> '{}') NOT BETWEEN 1 AND 500 END
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'rejection "%" is not valid', left(bad, 20)
			USING ERRCODE = 'S9D76',
				  DETAIL = 'Each key is a record index (0-based, below the record count), each value a reason of 1 to 500 characters.';
	END IF;
	INSERT INTO finsec.credit_data_file_event (file_id, event, loaded, rejected, rejections)
	VALUES (file_id, 'result', loaded, rejected, rejections);
	PERFORM finsec.audit_event('credit.file', 'institution:' || f.institution, 'result', true, NULL,
							   jsonb_build_object('file_id', file_id, 'loaded', loaded, 'rejected', rejected,
												  'rejections_sha256', encode(pg_catalog.sha256(convert_to(rejections::text, 'UTF8')), 'hex')),
							   session_user);
	RETURN jsonb_build_object('file_id', file_id, 'loaded', loaded, 'rejected', rejected);
END
$$;
COMMENT ON FUNCTION finsec.credit_file_result(bigint, integer, integer, jsonb) IS
	'record a data file''s load result: records loaded, rejected, and each rejection''s reason (004 9.4.1 c)';
REVOKE ALL ON FUNCTION finsec.credit_file_result(bigint, integer, integer, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_file_result(bigint, integer, integer, jsonb)
	TO finsec_admin, finsec_operator, finsec_app;

/* The error feedback to the provider was sent (004 9.4.1 d): an 'out' exchange. */
CREATE FUNCTION finsec.credit_file_feedback(file_id bigint, success boolean DEFAULT true,
											counterparty text DEFAULT NULL)
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f finsec.credit_data_file;
BEGIN
	IF file_id IS NULL OR success IS NULL THEN
		RAISE EXCEPTION 'file_id and success must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO f FROM finsec.credit_data_file d WHERE d.id = file_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'data file % is not registered', file_id USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM finsec._credit_require_submitter(f.institution, 'record a data file''s feedback');
	PERFORM pg_advisory_xact_lock(hashtextextended('finsec.credit_file:' || file_id, 0));
	IF NOT EXISTS (SELECT 1 FROM finsec.credit_data_file_event e WHERE e.file_id = credit_file_feedback.file_id AND e.event = 'result') THEN
		RAISE EXCEPTION 'data file % has no load result yet', file_id
			USING ERRCODE = 'S9D77', HINT = 'Record it with finsec.credit_file_result() first: the feedback reports it.';
	END IF;
	IF EXISTS (SELECT 1 FROM finsec.credit_data_file_event e WHERE e.file_id = credit_file_feedback.file_id AND e.event = 'feedback') THEN
		RAISE EXCEPTION 'the feedback of data file % was already sent', file_id USING ERRCODE = 'S9D77';
	END IF;
	PERFORM finsec._credit_exchange_write(coalesce(counterparty, f.institution), 'out', 'feedback', success,
										  f.institution, file_id, NULL);
	IF success THEN
		INSERT INTO finsec.credit_data_file_event (file_id, event) VALUES (file_id, 'feedback');
	END IF;
	RETURN CASE WHEN success THEN now() END;
END
$$;
COMMENT ON FUNCTION finsec.credit_file_feedback(bigint, boolean, text) IS
	'record that a data file''s load result was sent back to its provider (004 9.4.1 d); a failed sending is logged and may be retried';
REVOKE ALL ON FUNCTION finsec.credit_file_feedback(bigint, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_file_feedback(bigint, boolean, text)
	TO finsec_admin, finsec_operator, finsec_app;

-- ---- 6c. Disputes (004 9.8, 9.4.2 c; 征信业管理条例 art. 25) ---------------

CREATE FUNCTION finsec._credit_record(tbl regclass, record_key text, subject text,
									  OUT behaviour_end date, OUT institution text,
									  OUT subject_readable boolean, OUT subject_matches boolean,
									  OUT subject_pseudonym text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'finsec_credit_record'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION finsec._credit_record(regclass, text, text) FROM PUBLIC;

CREATE FUNCTION finsec._credit_seal_for_record(tbl regclass, behaviour_end date, value text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'finsec_credit_seal_for_record'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION finsec._credit_seal_for_record(regclass, date, text) FROM PUBLIC;

-- The policy and period a sealed dispute text is under (for checks and tests; no grant).
CREATE FUNCTION finsec._credit_sealed_info(sealed bytea, OUT policy_id integer, OUT period integer,
										   OUT readable boolean)
AS 'MODULE_PATHNAME', 'finsec_credit_sealed_info'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION finsec._credit_sealed_info(bytea) FROM PUBLIC;

-- The statements of a record as credit_query shows them (finsec_credit_statements; no grant).
CREATE FUNCTION finsec._credit_statements(tbl regclass, record_key text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'finsec_credit_statements_sql'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION finsec._credit_statements(regclass, text) FROM PUBLIC;

CREATE FUNCTION finsec._credit_correction_seal(tbl regclass, "row" jsonb, pseudonym text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'finsec_credit_correction_seal'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION finsec._credit_correction_seal(regclass, jsonb, text) FROM PUBLIC;

CREATE FUNCTION finsec._credit_correction_insert(tbl regclass, payload jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'finsec_credit_correction_insert'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION finsec._credit_correction_insert(regclass, jsonb) FROM PUBLIC;

/*
 * A dispute's record as it is now: found, its retention not ended, its
 * period's keys not shredded (S9D60 otherwise).  "Today" is the date in
 * finsec.deid_timezone, as for the de-identification batch.
 */
CREATE FUNCTION finsec._credit_dispute_record(tbl regclass, record_key text, subject text, event text)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r record;
	ret interval;
	today date := (now() AT TIME ZONE coalesce(nullif(current_setting('finsec.deid_timezone', true), ''),
											  'Asia/Shanghai'))::date;
BEGIN
	SELECT ct.retention INTO ret FROM finsec.credit_table ct WHERE ct.relid = tbl;
	IF NOT FOUND THEN
		PERFORM finsec._credit_refuse(event, 'table:' || tbl::text, 'S9D68',
			format('%s is not a registered credit table', tbl), NULL,
			'Disputes concern the records of tables registered with finsec.register_credit_table().');
	END IF;
	SELECT * INTO r FROM finsec._credit_record(tbl, record_key, subject) x;
	IF NOT FOUND OR NOT r.subject_readable OR (r.behaviour_end + ret)::date < today THEN
		PERFORM finsec._credit_refuse(event, 'table:' || tbl::text, 'S9D60',
			format('%s has no current record with this key', tbl),
			'There is no such record, or its retention has ended (its personal data is gone or going).',
			'Check the record key; a record past its retention can no longer be disputed.');
	END IF;
	IF subject IS NOT NULL AND NOT r.subject_matches THEN
		PERFORM finsec._credit_refuse(event, 'table:' || tbl::text, 'S9D61',
			'the subject named is not the subject of the record', NULL,
			'A dispute is raised by, or for, the record''s own subject.');
	END IF;
	RETURN r;
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_dispute_record(regclass, text, text, text) FROM PUBLIC;

/* Checks of a dispute (004 9.8 a): where each was checked, what was found. */
CREATE TABLE finsec.credit_dispute_check (
	dispute_id	bigint NOT NULL REFERENCES finsec.credit_dispute,
	check_no	integer NOT NULL CHECK (check_no > 0),
	source		text NOT NULL CHECK (length(source) BETWEEN 1 AND 200),
	finding		bytea NOT NULL,
	confirms	boolean NOT NULL,
	checked_at	timestamptz NOT NULL DEFAULT now(),
	checked_by	name NOT NULL,
	PRIMARY KEY (dispute_id, check_no)
);
COMMENT ON TABLE finsec.credit_dispute_check IS
	'checks of a credit dispute: source, finding (sealed with the record''s period), whether it confirms the record; append-only';

/*
 * The subject's personal statement on a record it disputed without
 * success (unconfirmed): sealed under the key of the record's period, so
 * that it is shredded with the record; credit_query shows it with the
 * record.  A sealed text is kept as bytea: the bytes of a
 * finsec.protected_text value of the table's policy (a protected column
 * would need one policy for every table); C opens it with
 * finsec_protect_open() on the bytea's varlena as it is.
 */
CREATE TABLE finsec.credit_statement (
	dispute_id	bigint PRIMARY KEY REFERENCES finsec.credit_dispute,
	relid		regclass NOT NULL REFERENCES finsec.credit_table,
	record_key	text NOT NULL,
	statement	bytea NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT now(),
	recorded_by name NOT NULL
);
CREATE INDEX credit_statement_record ON finsec.credit_statement (relid, record_key);
COMMENT ON TABLE finsec.credit_statement IS
	'personal statements of subjects on disputed records (sealed with the record''s period, shredded with it); append-only';

/* Corrections (004 9.4.2 c): the new row's key; the original stays. */
CREATE TABLE finsec.credit_correction (
	dispute_id	bigint PRIMARY KEY REFERENCES finsec.credit_dispute,
	relid		regclass NOT NULL REFERENCES finsec.credit_table,
	record_key	text NOT NULL,
	correction_key text NOT NULL,
	request_id	bigint NOT NULL,
	requested_by name NOT NULL,
	approved_by name NOT NULL,
	applied_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_correction_record ON finsec.credit_correction (relid, record_key);
COMMENT ON TABLE finsec.credit_correction IS
	'corrections of disputed records: the original record''s key and its correcting record''s key (two-person credit.correction); append-only';

DO $immutable$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['credit_dispute_check', 'credit_statement', 'credit_correction'] LOOP
		EXECUTE format('REVOKE ALL ON TABLE finsec.%I FROM PUBLIC', t);
		EXECUTE format('GRANT SELECT ON TABLE finsec.%I TO finsec_admin, finsec_auditor, finsec_operator', t);
		EXECUTE format('SELECT pg_catalog.pg_extension_config_dump(%L, %L)', 'finsec.' || t, '');
		EXECUTE format('CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE OR DELETE ON finsec.%I '
					   'FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable()', t);
		EXECUTE format('CREATE TRIGGER finsec_ledger_no_truncate BEFORE TRUNCATE ON finsec.%I '
					   'FOR EACH STATEMENT EXECUTE FUNCTION finsec.ledger_immutable()', t);
		EXECUTE format('ALTER TABLE finsec.%I ENABLE ALWAYS TRIGGER finsec_ledger_immutable, '
					   'ENABLE ALWAYS TRIGGER finsec_ledger_no_truncate', t);
	END LOOP;
END
$immutable$;

/* Handlers: credit users with the duty dispute of an active institution. */
CREATE FUNCTION finsec._credit_require_handler(handler name, event text, object text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	inst text;
BEGIN
	SELECT u.institution INTO inst
	  FROM finsec.credit_user u JOIN finsec.credit_institution ci ON ci.code = u.institution
	 WHERE u.role_name = handler AND 'dispute' = ANY (u.duties) AND ci.status = 'active'
	   FOR SHARE OF ci;
	IF NOT FOUND THEN
		PERFORM finsec._credit_refuse(event, object, 'S9D62',
			format('role %s cannot handle disputes', handler),
			'A handler is a credit user with the duty dispute whose institution is active.',
			'finsec.credit_user_set() gives a role the duty dispute.');
	END IF;
	RETURN inst;
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_require_handler(name, text, text) FROM PUBLIC;

/* The dispute, locked, open or checking (S9D63), and the caller its handler or an admin. */
CREATE FUNCTION finsec._credit_dispute_for_update(id bigint, event text)
RETURNS finsec.credit_dispute
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d finsec.credit_dispute;
	actor name := finsec._credit_actor();
BEGIN
	IF id IS NULL THEN
		RAISE EXCEPTION 'dispute id must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO d FROM finsec.credit_dispute cd WHERE cd.id = _credit_dispute_for_update.id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'dispute % does not exist', id USING ERRCODE = 'undefined_object';
	END IF;
	IF actor <> d.handler AND NOT pg_has_role(actor, 'finsec_admin', 'MEMBER') THEN
		PERFORM finsec._credit_refuse(event, 'dispute:' || id, '42501',
			format('permission denied to act on dispute %s', id),
			format('Role %I is neither the dispute''s handler nor a finsec_admin member.', actor), NULL);
	END IF;
	IF d.status NOT IN ('open', 'checking') THEN
		RAISE EXCEPTION 'dispute % is %, not open', id, d.status
			USING ERRCODE = 'S9D63', DETAIL = 'A closed dispute is kept as it was closed.';
	END IF;
	RETURN d;
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_dispute_for_update(bigint, text) FROM PUBLIC;

/*
 * Open a dispute (004 9.8): on a current record of a registered table,
 * by or for its subject (compared with the record's by keyed pseudonym;
 * kept only as the pseudonym), assigned to a handler; due
 * finsec.credit_dispute_days after it was received.  institution: the
 * provider of the record (the record's own when the table has an
 * institution column).  By a finsec_admin or a credit user with the duty
 * dispute.
 */
CREATE FUNCTION finsec.credit_dispute_open(tbl regclass, record_key text, subject text, institution text,
										   handler name, received_at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	actor name := finsec._credit_actor();
	r record;
	inst text := institution;
	id bigint;
	due timestamptz;
BEGIN
	IF tbl IS NULL OR record_key IS NULL OR subject IS NULL OR handler IS NULL OR received_at IS NULL THEN
		RAISE EXCEPTION 'table, record key, subject, handler and received_at of a dispute must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT pg_has_role(actor, 'finsec_admin', 'MEMBER') AND NOT EXISTS (
		SELECT 1 FROM finsec.credit_user u JOIN finsec.credit_institution ci ON ci.code = u.institution
		 WHERE u.role_name = actor AND 'dispute' = ANY (u.duties) AND ci.status = 'active') THEN
		PERFORM finsec._credit_refuse('credit.dispute_open', 'table:' || tbl::text, '42501',
			'permission denied to open a credit dispute',
			format('Role %I is neither a finsec_admin member nor a credit user with the duty dispute.', actor), NULL);
	END IF;
	IF received_at > now() THEN
		RAISE EXCEPTION 'a dispute cannot be received in the future'
			USING ERRCODE = 'S9D67', HINT = 'received_at is when the objection reached the institution.';
	END IF;
	PERFORM finsec._credit_require_handler(handler, 'credit.dispute_open', 'table:' || tbl::text);
	r := finsec._credit_dispute_record(tbl, record_key, subject, 'credit.dispute_open');
	IF r.institution IS NOT NULL THEN
		IF inst IS NOT NULL AND inst <> r.institution THEN
			PERFORM finsec._credit_refuse('credit.dispute_open', 'table:' || tbl::text, 'S9D60',
				format('the record is not institution %s''s', inst), NULL,
				'Pass NULL as institution: the record''s own provider is taken.');
		END IF;
		inst := r.institution;
	END IF;
	IF inst IS NOT NULL THEN
		-- the institution stays registered while this dispute opens (deregistration locks it)
		PERFORM 1 FROM finsec.credit_institution ci WHERE ci.code = inst AND ci.status <> 'deregistered' FOR SHARE;
		IF NOT FOUND THEN
			PERFORM finsec._credit_refuse('credit.dispute_open', 'institution:' || inst, 'S9D74',
				format('institution %s is not registered', inst), NULL, NULL);
		END IF;
	END IF;
	-- one open dispute per record, also when two are opened at once
	PERFORM pg_advisory_xact_lock(hashtextextended('finsec.credit_dispute:' || tbl::oid || ':' || record_key, 0));
	IF EXISTS (SELECT 1 FROM finsec.credit_dispute cd
				WHERE cd.relid = tbl AND cd.record_key = credit_dispute_open.record_key
				  AND cd.status IN ('open', 'checking')) THEN
		RAISE EXCEPTION 'the record already has an open dispute'
			USING ERRCODE = 'S9D63', HINT = 'Add checks to the open dispute (finsec.credit_dispute_check).';
	END IF;
	due := received_at + make_interval(days => current_setting('finsec.credit_dispute_days')::integer);
	INSERT INTO finsec.credit_dispute (relid, record_key, subject_pseudonym, institution, handler, received_at,
									   due_at, opened_by)
	VALUES (tbl, record_key, r.subject_pseudonym, inst, handler, received_at, due, actor)
	RETURNING credit_dispute.id INTO id;
	PERFORM finsec.audit_event('credit.dispute_open', 'dispute:' || id, 'open', true, NULL,
							   jsonb_build_object('dispute_id', id, 'table', tbl::text, 'record_key', record_key,
												  'subject_pseudonym', r.subject_pseudonym, 'institution', inst,
												  'handler', handler, 'received_at', received_at, 'due_at', due),
							   session_user);
	RETURN id;
END
$$;
COMMENT ON FUNCTION finsec.credit_dispute_open(regclass, text, text, text, name, timestamptz) IS
	'open a dispute of a credit record by or for its subject (kept as its pseudonym), with a handler and the statutory deadline';
REVOKE ALL ON FUNCTION finsec.credit_dispute_open(regclass, text, text, text, name, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_dispute_open(regclass, text, text, text, name, timestamptz)
	TO finsec_admin, finsec_app;

/* A check: where it was checked and what was found (sealed with the record). */
CREATE FUNCTION finsec.credit_dispute_check(id bigint, source text, finding text, confirms boolean)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d finsec.credit_dispute;
	r record;
	n integer;
BEGIN
	d := finsec._credit_dispute_for_update(id, 'credit.dispute_check');
	IF source IS NULL OR finding IS NULL OR confirms IS NULL THEN
		RAISE EXCEPTION 'source, finding and confirms of a check must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF length(source) NOT BETWEEN 1 AND 200 OR source ~ '[[:cntrl:]]' OR length(finding) NOT BETWEEN 1 AND 4000 THEN
		RAISE EXCEPTION 'source or finding of a check is not valid'
			USING ERRCODE = 'S9D67',
				  DETAIL = 'The source is 1 to 200 characters without control characters (no personal data); the finding 1 to 4000.';
	END IF;
	r := finsec._credit_dispute_record(d.relid, d.record_key, NULL, 'credit.dispute_check');
	SELECT coalesce(max(c.check_no), 0) + 1 INTO n FROM finsec.credit_dispute_check c WHERE c.dispute_id = id;
	INSERT INTO finsec.credit_dispute_check (dispute_id, check_no, source, finding, confirms, checked_by)
	VALUES (id, n, source, finsec._credit_seal_for_record(d.relid, r.behaviour_end, finding), confirms,
			finsec._credit_actor());
	UPDATE finsec.credit_dispute cd SET status = 'checking' WHERE cd.id = d.id;
	PERFORM finsec.audit_event('credit.dispute_check', 'dispute:' || id, 'check', true, NULL,
							   jsonb_build_object('dispute_id', id, 'check_no', n, 'source', source,
												  'confirms', confirms),
							   session_user);
	RETURN n;
END
$$;
COMMENT ON FUNCTION finsec.credit_dispute_check(bigint, text, text, boolean) IS
	'record a check of a dispute: its source, its finding (sealed with the record''s period) and whether it confirms the record';
REVOKE ALL ON FUNCTION finsec.credit_dispute_check(bigint, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_dispute_check(bigint, text, text, boolean) TO finsec_admin, finsec_app;

/*
 * Close a dispute: verified (a check confirmed the record: the record can
 * no longer be corrected, 004 9.8 c), unconfirmed (checked, not
 * confirmed, not corrected: the subject's personal statement, if any, is
 * attached to the record), withdrawn (by the subject).  'corrected' only
 * through the two-person finsec.credit_correction.
 */
CREATE FUNCTION finsec.credit_dispute_resolve(id bigint, outcome text, statement text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d finsec.credit_dispute;
	r record;
BEGIN
	d := finsec._credit_dispute_for_update(id, 'credit.dispute_resolve');
	IF outcome = 'corrected' THEN
		RAISE EXCEPTION 'a dispute is corrected only by an approved correction'
			USING ERRCODE = 'S9D69',
				  HINT = 'Request the correcting record with finsec.credit_correction(); its approval closes the dispute as corrected.';
	END IF;
	IF outcome IS NULL OR outcome NOT IN ('verified', 'unconfirmed', 'withdrawn') THEN
		RAISE EXCEPTION 'dispute outcome "%" is not valid', outcome
			USING ERRCODE = 'S9D67', HINT = 'The outcomes are verified, unconfirmed and withdrawn (corrected: finsec.credit_correction).';
	END IF;
	IF statement IS NOT NULL AND outcome <> 'unconfirmed' THEN
		RAISE EXCEPTION 'a personal statement belongs to an unconfirmed dispute only'
			USING ERRCODE = 'S9D67';
	END IF;
	IF length(statement) NOT BETWEEN 1 AND 2000 THEN
		RAISE EXCEPTION 'a personal statement is 1 to 2000 characters' USING ERRCODE = 'S9D67';
	END IF;
	IF outcome = 'verified' AND NOT EXISTS (
		SELECT 1 FROM finsec.credit_dispute_check c WHERE c.dispute_id = id AND c.confirms) THEN
		RAISE EXCEPTION 'dispute % has no check that confirms the record', id
			USING ERRCODE = 'S9D64', HINT = 'Record the check with finsec.credit_dispute_check(..., confirms => true) first.';
	END IF;
	IF outcome = 'unconfirmed' AND NOT EXISTS (SELECT 1 FROM finsec.credit_dispute_check c WHERE c.dispute_id = id) THEN
		RAISE EXCEPTION 'dispute % has not been checked', id
			USING ERRCODE = 'S9D64', HINT = 'Record the checks with finsec.credit_dispute_check() first.';
	END IF;
	IF statement IS NOT NULL THEN
		r := finsec._credit_dispute_record(d.relid, d.record_key, NULL, 'credit.dispute_resolve');
		INSERT INTO finsec.credit_statement (dispute_id, relid, record_key, statement, recorded_by)
		VALUES (id, d.relid, d.record_key, finsec._credit_seal_for_record(d.relid, r.behaviour_end, statement),
				finsec._credit_actor());
	END IF;
	UPDATE finsec.credit_dispute cd SET status = outcome, closed_at = now() WHERE cd.id = d.id;
	PERFORM finsec.audit_event('credit.dispute_resolve', 'dispute:' || id, outcome, true, NULL,
							   jsonb_build_object('dispute_id', id, 'outcome', outcome,
												  'statement', statement IS NOT NULL,
												  'overdue', now() > d.due_at),
							   session_user);
	RETURN outcome;
END
$$;
COMMENT ON FUNCTION finsec.credit_dispute_resolve(bigint, text, text) IS
	'close a dispute as verified, unconfirmed (with the subject''s personal statement) or withdrawn';
REVOKE ALL ON FUNCTION finsec.credit_dispute_resolve(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_dispute_resolve(bigint, text, text) TO finsec_admin, finsec_app;

/*
 * A correction (004 9.4.2 c): a new record, the original kept, requested
 * by a finsec_admin and approved by another (kind credit.correction).
 * The request keeps the row with its personal values already sealed
 * under the key of the new record's period: no clear value in
 * finsec.change_request or the ledger.
 */
CREATE FUNCTION finsec.credit_correction(id bigint, "row" jsonb, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('credit.correction', id::text, jsonb_build_object('row', "row"), reason)
$$;
COMMENT ON FUNCTION finsec.credit_correction(bigint, jsonb, text) IS
	'request the correcting record of a dispute (column -> value; a new key, the same subject); another finsec_admin approves; the original stays';
REVOKE ALL ON FUNCTION finsec.credit_correction(bigint, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_correction(bigint, jsonb, text) TO finsec_admin;

CREATE FUNCTION finsec._credit_correction_check(d finsec.credit_dispute)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF d.status NOT IN ('open', 'checking') THEN
		RAISE EXCEPTION 'dispute % is %, not open', d.id, d.status USING ERRCODE = 'S9D63';
	END IF;
	IF EXISTS (SELECT 1 FROM finsec.credit_dispute v
				WHERE v.relid = d.relid AND v.record_key = d.record_key AND v.status = 'verified') THEN
		PERFORM finsec._credit_refuse('credit.correction', 'dispute:' || d.id, 'S9D65',
			'the record was verified by an earlier dispute: it cannot be corrected',
			'Data verified in a dispute cannot change (004 9.8 c).', NULL);
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_correction_check(finsec.credit_dispute) FROM PUBLIC;

CREATE FUNCTION finsec._credit_correction_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d finsec.credit_dispute;
	sealed jsonb;
BEGIN
	IF target !~ '^[1-9][0-9]{0,18}$' THEN
		RAISE EXCEPTION 'dispute id "%" is not valid', target USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO d FROM finsec.credit_dispute cd WHERE cd.id = target::bigint FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'dispute % does not exist', target USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM finsec._credit_correction_check(d);
	IF EXISTS (SELECT 1 FROM finsec.change_request cr
				WHERE cr.kind = 'credit.correction' AND cr.target = _credit_correction_prepare.target
				  AND cr.state = 'pending') THEN
		RAISE EXCEPTION 'dispute % already has a pending correction', target
			USING ERRCODE = 'S9D63', HINT = 'Approve or reject it (finsec.approve, finsec.reject) first.';
	END IF;
	IF payload -> 'row' IS NULL OR jsonb_typeof(payload -> 'row') <> 'object' THEN
		RAISE EXCEPTION 'a correction row must be a JSON object of column -> value' USING ERRCODE = 'S9D66';
	END IF;
	-- the disputed record must still be current (retention not ended)
	PERFORM finsec._credit_dispute_record(d.relid, d.record_key, NULL, 'credit.correction');
	sealed := finsec._credit_correction_seal(d.relid, payload -> 'row', d.subject_pseudonym);
	IF NOT (sealed ->> 'subject_matches')::boolean THEN
		PERFORM finsec._credit_refuse('credit.correction', 'dispute:' || d.id, 'S9D61',
			'the correction''s subject is not the disputed record''s subject', NULL,
			'A correction replaces the record of the same subject.');
	END IF;
	IF sealed ->> 'key' = d.record_key OR EXISTS (SELECT 1 FROM finsec._credit_record(d.relid, sealed ->> 'key', NULL)) THEN
		RAISE EXCEPTION 'the correction needs a record key of its own'
			USING ERRCODE = 'S9D66',
				  DETAIL = 'Registered rows are never changed (C6): the correction is a new record; the original stays.';
	END IF;
	RETURN jsonb_build_object('dispute_id', d.id, 'table', d.relid::text, 'relid', d.relid::oid,
							  'record_key', d.record_key, 'key', sealed ->> 'key',
							  'behaviour_end', sealed ->> 'behaviour_end', 'columns', sealed -> 'columns');
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_correction_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._credit_correction_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d finsec.credit_dispute;
	requester name;
BEGIN
	SELECT * INTO d FROM finsec.credit_dispute cd WHERE cd.id = (payload ->> 'dispute_id')::bigint FOR UPDATE;
	IF NOT FOUND OR d.relid::oid <> (payload ->> 'relid')::oid THEN
		RAISE EXCEPTION 'dispute % does not exist', target USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM finsec._credit_correction_check(d);
	PERFORM finsec._credit_dispute_record(d.relid, d.record_key, NULL, 'credit.correction');
	PERFORM finsec._credit_correction_insert(d.relid, payload);
	SELECT cr.requested_by INTO requester FROM finsec.change_request cr
	 WHERE cr.request_id = _credit_correction_apply.request_id;
	INSERT INTO finsec.credit_correction (dispute_id, relid, record_key, correction_key, request_id,
										  requested_by, approved_by)
	VALUES (d.id, d.relid, d.record_key, payload ->> 'key', request_id, requester, session_user);
	UPDATE finsec.credit_dispute cd SET status = 'corrected', closed_at = now() WHERE cd.id = d.id;
	PERFORM finsec.audit_event('credit.correction', 'dispute:' || d.id, 'correct', true, NULL,
							   jsonb_build_object('dispute_id', d.id, 'table', d.relid::text,
												  'record_key', d.record_key, 'correction_key', payload ->> 'key',
												  'request_id', request_id, 'overdue', now() > d.due_at),
							   session_user);
	RETURN jsonb_build_object('dispute_id', d.id, 'record_key', d.record_key, 'correction_key', payload ->> 'key',
							  'status', 'corrected');
END
$$;
REVOKE ALL ON FUNCTION finsec._credit_correction_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('credit.correction', 'finsec._credit_correction_prepare(text, text, jsonb)',
	 'finsec._credit_correction_apply(bigint, text, text, jsonb)', NULL,
	 'insert the correcting record of a dispute into its registered table, the original kept (finsec.credit_correction)');

/*
 * Open disputes past their statutory deadline, and those due within
 * `within` (default 3 days): for the daily report (004 9.8; art. 25).
 */
CREATE FUNCTION finsec.credit_disputes_overdue(within interval DEFAULT '3 days')
RETURNS TABLE (id bigint, relid regclass, record_key text, institution text, handler name, status text,
			   received_at timestamptz, due_at timestamptz, overdue boolean, time_left interval)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT d.id, d.relid, d.record_key, d.institution, d.handler, d.status, d.received_at, d.due_at,
		   d.due_at < now(), d.due_at - now()
	  FROM finsec.credit_dispute d
	 WHERE d.status IN ('open', 'checking') AND d.due_at < now() + coalesce(within, interval '0')
	 ORDER BY d.due_at, d.id
$$;
COMMENT ON FUNCTION finsec.credit_disputes_overdue(interval) IS
	'open disputes past their statutory deadline (overdue) or due within the given interval';
REVOKE ALL ON FUNCTION finsec.credit_disputes_overdue(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.credit_disputes_overdue(interval) TO finsec_admin, finsec_auditor, finsec_operator;

-- (section 6 ends here)


-- ---------------------------------------------------------------------
-- 7. Outbound links (src/credit/outbound.c): outbound_links() and its
--    allow-list (two-person).
-- ---------------------------------------------------------------------

/*
 * The allow-list of outbound targets (C7): host names, domain suffixes
 * and address ranges that links may reach, each with its region (ISO 3166
 * alpha-2, e.g. CN).  Changed only by two-person requests (kind
 * credit.outbound_allow: finsec.outbound_allow_add / outbound_allow_remove).
 *   host    db1.example.cn    that name exactly
 *   suffix  .example.cn       any name ending with it (two labels at least)
 *   cidr    10.20.0.0/16      any address in it (a /8 or narrower for IPv4,
 *                             /16 for IPv6)
 * A name is judged as written, never resolved: a name's pattern says where
 * the administrators know that name to be.
 */
CREATE TABLE finsec.outbound_allow (
	pattern		text PRIMARY KEY,
	pattern_kind text NOT NULL CHECK (pattern_kind IN ('host', 'suffix', 'cidr')),
	region		text NOT NULL CHECK (region ~ '^[A-Z]{2}$'),
	note		text CHECK (octet_length(note) <= 200),
	requested_by name NOT NULL,
	approved_by	name NOT NULL,
	request_id	bigint NOT NULL,
	added_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE finsec.outbound_allow IS
	'outbound targets links may reach (host, domain suffix, address range) and their region; changed by two-person requests (credit.outbound_allow)';
REVOKE ALL ON TABLE finsec.outbound_allow FROM PUBLIC;
GRANT SELECT ON TABLE finsec.outbound_allow TO finsec_admin, finsec_auditor;
SELECT pg_catalog.pg_extension_config_dump('finsec.outbound_allow', '');

-- A pattern checked and normalised (lower case, no trailing dot, a cidr
-- in its canonical text): S9D80 not a pattern, S9D81 too broad.
CREATE FUNCTION finsec._outbound_pattern(pattern text, OUT pattern_norm text, OUT pattern_kind text)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p text := rtrim(lower(btrim(pattern)), '.');
	c cidr;
	widest integer;
	label_re constant text := '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
BEGIN
	IF p IS NULL OR p = '' OR octet_length(p) > 253 THEN
		RAISE EXCEPTION 'an outbound allow-list pattern must be a host name, a domain suffix or an address range'
			USING ERRCODE = 'S9D80',
				  HINT = 'For example db1.example.cn, .example.cn or 10.20.0.0/16.';
	END IF;
	IF p ~ '^[0-9a-f:.]+(/[0-9]{1,3})?$' AND (p ~ ':' OR p ~ '^[0-9.]+(/[0-9]{1,3})?$') THEN
		BEGIN
			c := p::cidr;
		EXCEPTION WHEN invalid_text_representation OR invalid_parameter_value THEN
			RAISE EXCEPTION 'outbound allow-list pattern "%" is not an address or address range', p
				USING ERRCODE = 'S9D80',
					  HINT = 'Write a range by its network address, e.g. 10.20.0.0/16 (no bits set right of the mask).';
		END;
		widest := CASE family(c) WHEN 4 THEN 8 ELSE 16 END;
		IF masklen(c) < widest THEN
			RAISE EXCEPTION 'outbound allow-list range "%" is too broad', c
				USING ERRCODE = 'S9D81',
					  DETAIL = 'A range wider than /8 (IPv4) or /16 (IPv6) is not a list of known targets.',
					  HINT = 'Allow the narrower ranges the links actually reach.';
		END IF;
		pattern_norm := CASE WHEN masklen(c) = CASE family(c) WHEN 4 THEN 32 ELSE 128 END
							 THEN host(c) ELSE text(c) END;
		pattern_kind := 'cidr';
		RETURN;
	END IF;
	IF left(p, 1) = '.' THEN
		IF substr(p, 2) !~ ('^(' || label_re || '\.)+' || label_re || '$') THEN
			RAISE EXCEPTION 'outbound allow-list suffix "%" is too broad or not a domain', p
				USING ERRCODE = CASE WHEN substr(p, 2) ~ ('^' || label_re || '$') THEN 'S9D81' ELSE 'S9D80' END,
					  DETAIL = 'A suffix names a domain of two labels at least: a whole top-level domain is anyone''s to register.',
					  HINT = 'For example .example.cn.';
		END IF;
		pattern_norm := p;
		pattern_kind := 'suffix';
		RETURN;
	END IF;
	IF p !~ ('^(' || label_re || '\.)*' || label_re || '$') THEN
		RAISE EXCEPTION 'outbound allow-list pattern "%" is not a host name', p
			USING ERRCODE = 'S9D80',
				  HINT = 'Letters, digits and hyphens in dot-separated labels (no wildcards); a suffix starts with a dot.';
	END IF;
	pattern_norm := p;
	pattern_kind := 'host';
END
$$;
REVOKE ALL ON FUNCTION finsec._outbound_pattern(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._outbound_pattern(text) TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec._outbound_conninfo_targets(conninfo text,
	OUT pos integer, OUT host text, OUT hostaddr text, OUT port text, OUT service text, OUT valid boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'finsec_outbound_conninfo_targets'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION finsec._outbound_conninfo_targets(text) IS
	'the hosts a libpq connection string names (libpq''s PQconninfoParse; never connects, never resolves)';
REVOKE ALL ON FUNCTION finsec._outbound_conninfo_targets(text) FROM PUBLIC;

-- One target judged against the allow-list: the address a connection
-- reaches is hostaddr when given (host then only names it), else host.
CREATE FUNCTION finsec._outbound_judge(host text, hostaddr text DEFAULT NULL, service text DEFAULT NULL,
	OUT target text, OUT region text, OUT verdict text, OUT detail text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	h text := nullif(rtrim(lower(btrim(host)), '.'), '');
	a text := nullif(lower(btrim(hostaddr)), '');
	ip inet;
	m record;
BEGIN
	target := coalesce(a, h);
	IF target IS NULL THEN
		verdict := 'unknown';
		detail := CASE WHEN nullif(service, '') IS NOT NULL
					   THEN 'a pg_service.conf service: the host it names is not visible to finsec'
					   ELSE 'no host: libpq''s default (the server''s PGHOST environment, else the local socket)' END;
		RETURN;
	END IF;
	IF left(target, 1) IN ('/', '@') THEN
		region := 'local';
		verdict := 'allowed';
		detail := 'a local socket';
		RETURN;
	END IF;
	IF target ~ '^[0-9a-f:.]+$' AND (target ~ ':' OR target ~ '^[0-9.]+$') THEN
		BEGIN
			ip := target::inet;
		EXCEPTION WHEN invalid_text_representation THEN
			ip := NULL;
		END;
	END IF;
	IF ip IS NOT NULL THEN
		target := host(ip);
		IF ip <<= '127.0.0.0/8'::inet OR ip = '::1'::inet THEN
			region := 'local';
			verdict := 'allowed';
			detail := 'loopback';
			RETURN;
		END IF;
		SELECT oa.pattern, oa.region INTO m FROM finsec.outbound_allow oa
		 WHERE oa.pattern_kind = 'cidr' AND family(oa.pattern::cidr) = family(ip) AND ip <<= oa.pattern::cidr
		 ORDER BY masklen(oa.pattern::cidr) DESC LIMIT 1;
	ELSIF target = 'localhost' THEN
		region := 'local';
		verdict := 'allowed';
		detail := 'localhost';
		RETURN;
	ELSE
		SELECT oa.pattern, oa.region INTO m FROM finsec.outbound_allow oa
		 WHERE (oa.pattern_kind = 'host' AND oa.pattern = target)
			OR (oa.pattern_kind = 'suffix' AND right(target, length(oa.pattern)) = oa.pattern)
		 ORDER BY (oa.pattern_kind = 'host') DESC, length(oa.pattern) DESC LIMIT 1;
	END IF;
	IF m.pattern IS NULL THEN
		verdict := 'not_allowed';
		detail := 'not in finsec.outbound_allow';
	ELSE
		region := m.region;
		verdict := 'allowed';
		detail := format('finsec.outbound_allow %s', m.pattern);
	END IF;
	IF a IS NOT NULL AND h IS NOT NULL AND a <> h THEN
		detail := detail || format('; connects to hostaddr %s (host %s only names it)', target, h);
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._outbound_judge(text, text, text) FROM PUBLIC;

-- The worst of verdicts: not_allowed, then unknown, then allowed.
CREATE FUNCTION finsec._outbound_worst(a text, b text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a
				WHEN 'not_allowed' IN (a, b) THEN 'not_allowed'
				WHEN 'unknown' IN (a, b) THEN 'unknown' ELSE 'allowed' END
$$;
REVOKE ALL ON FUNCTION finsec._outbound_worst(text, text) FROM PUBLIC;

-- The hosts a shell command (archive_command, restore_command) names:
-- URLs (scheme://[user@]host), user@host and scp/rsync host:path.  A
-- heuristic: a command can reach hosts it does not name.
CREATE FUNCTION finsec._outbound_command_hosts(command text)
RETURNS SETOF text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT DISTINCT h FROM (
		SELECT lower(trim(BOTH '[]' FROM m[1])) AS h
		  FROM regexp_matches(command, '[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/\s''"]*@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)', 'g') m
		UNION ALL
		SELECT lower(m[1])
		  FROM regexp_matches(command, '[A-Za-z0-9._-]+@(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)', 'g') m
		UNION ALL
		SELECT lower(m[1])
		  FROM regexp_matches(command, '(?:^|[\s''"])([A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)+):(?!//)', 'g') m
	) s WHERE h <> '' ORDER BY 1
$$;
REVOKE ALL ON FUNCTION finsec._outbound_command_hosts(text) FROM PUBLIC;

/*
 * finsec.outbound_links(): every way data can leave this server that
 * finsec can see, each judged against finsec.outbound_allow.  Verdicts:
 * allowed (every target it reaches is allowed or local), not_allowed (a
 * target outside the list, or a capability every role has), unknown
 * (finsec cannot tell where it leads: programs, shell commands,
 * publications, capabilities of named roles, no host).  Runs as the
 * extension's owner to read subscription connection strings, settings
 * and replication client addresses; returns no password, command text or
 * whole connection string.  Each call is a ledger row with the counts
 * (not on a standby, which cannot write one).
 */
CREATE FUNCTION finsec._outbound_links()
RETURNS TABLE (kind text, object text, host text, port text, region text, verdict text, detail text)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r record;
	t record;
	j record;
	ci text;
	v text;
	hosts text[];
	ports text[];
	regions text[];
	details text[];
	servers jsonb := '{}';
	names text;
	n bigint;
	counts jsonb := '{}';
	cmd text;
	acc jsonb := '[]';
	libpq_handlers constant text[] := ARRAY['postgres_fdw_handler', 'postgres_fdw_validator', 'dblink_fdw_validator'];
BEGIN
	-- Foreign servers.  An FDW is a libpq one by its handler or validator
	-- (postgres_fdw, dblink_fdw), whatever its name.
	FOR r IN
		SELECT s.oid, s.srvname, w.fdwname, s.srvoptions,
			   (coalesce(ph.proname::text, '') = ANY (libpq_handlers) OR coalesce(pv.proname::text, '') = ANY (libpq_handlers)) AS libpq,
			   coalesce(ph.proname::text, '') = 'file_fdw_handler' AS file_fdw
		  FROM pg_foreign_server s
		  JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
		  LEFT JOIN pg_proc ph ON ph.oid = w.fdwhandler
		  LEFT JOIN pg_proc pv ON pv.oid = w.fdwvalidator
		 ORDER BY s.srvname
	LOOP
		CONTINUE WHEN r.file_fdw;
		hosts := '{}'; ports := '{}'; regions := '{}'; details := '{}'; v := NULL;
		IF r.libpq THEN
			SELECT string_agg(format('%s=''%s''', o.option_name,
									 replace(replace(o.option_value, '\', '\\'), '''', '\''')), ' ')
			  INTO ci
			  FROM pg_options_to_table(r.srvoptions) o
			 WHERE o.option_name IN ('host', 'hostaddr', 'port', 'service');
			FOR t IN SELECT * FROM finsec._outbound_conninfo_targets(coalesce(ci, '')) ORDER BY pos LOOP
				j := finsec._outbound_judge(t.host, t.hostaddr, t.service);
				IF NOT t.valid THEN
					j.verdict := 'unknown';
					j.detail := 'options libpq would refuse (host, hostaddr and port lists do not match)';
				END IF;
				acc := acc || jsonb_build_array(jsonb_build_array('foreign_server', format('%s (%s)', r.srvname, r.fdwname), j.target, t.port, j.region,
						j.verdict, j.detail));
				hosts := hosts || coalesce(j.target, '?'); ports := ports || coalesce(t.port, '');
				IF j.region IS NOT NULL AND NOT j.region = ANY (regions) THEN regions := regions || j.region; END IF;
				v := finsec._outbound_worst(v, j.verdict);
			END LOOP;
		ELSE
			-- Another FDW: the options that name a host, else unknown.
			FOR t IN
				SELECT o.option_name, o.option_value,
					   (SELECT p.option_value FROM pg_options_to_table(r.srvoptions) p
						 WHERE lower(p.option_name) = 'port' LIMIT 1) AS port
				  FROM pg_options_to_table(r.srvoptions) o
				 WHERE lower(o.option_name) IN ('host', 'hostname', 'hostaddr', 'address', 'server', 'servername')
				 ORDER BY o.option_name
			LOOP
				j := finsec._outbound_judge(t.option_value);
				acc := acc || jsonb_build_array(jsonb_build_array('foreign_server', format('%s (%s)', r.srvname, r.fdwname), j.target, t.port, j.region,
						j.verdict, format('option %s: %s', t.option_name, j.detail)));
				hosts := hosts || coalesce(j.target, '?'); ports := ports || coalesce(t.port, '');
				IF j.region IS NOT NULL AND NOT j.region = ANY (regions) THEN regions := regions || j.region; END IF;
				v := finsec._outbound_worst(v, j.verdict);
			END LOOP;
			IF v IS NULL THEN
				acc := acc || jsonb_build_array(jsonb_build_array('foreign_server', format('%s (%s)', r.srvname, r.fdwname), NULL, NULL, NULL, 'unknown',
						format('foreign-data wrapper %s: no option finsec reads as a host', r.fdwname)));
				v := 'unknown';
			END IF;
		END IF;
		servers := servers || jsonb_build_object(r.oid::text, jsonb_build_object(
			'hosts', array_to_string(hosts, ','), 'ports', nullif(array_to_string(ports, ','), ''),
			'regions', array_to_string(regions, ','), 'verdict', v));
	END LOOP;

	-- User mappings: who can use each server (the mapped role and every
	-- role that can act as it; PUBLIC: every role).
	FOR r IN
		SELECT um.umuser, s.oid AS srvid, s.srvname, w.fdwname,
			   EXISTS (SELECT 1 FROM pg_options_to_table(um.umoptions) o WHERE o.option_name = 'password') AS has_password
		  FROM pg_user_mapping um
		  JOIN pg_foreign_server s ON s.oid = um.umserver
		  JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
		 WHERE servers ? s.oid::text
		 ORDER BY s.srvname, um.umuser
	LOOP
		IF r.umuser = 0 THEN
			names := 'every role (PUBLIC)';
		ELSE
			SELECT count(*), string_agg(a.rolname, ', ' ORDER BY a.rolname) FILTER (WHERE a.rn <= 20)
			  INTO n, names
			  FROM (SELECT ro.rolname, row_number() OVER (ORDER BY ro.rolname) AS rn
					  FROM pg_roles ro
					 WHERE NOT ro.rolsuper AND pg_has_role(ro.oid, r.umuser, 'MEMBER')) a;
			names := coalesce(names, 'no role')
				|| CASE WHEN n > 20 THEN format(' and %s more', n - 20) ELSE '' END || ' (and superusers)';
		END IF;
		acc := acc || jsonb_build_array(jsonb_build_array('user_mapping',
				format('%s (%s) for %s', r.srvname, r.fdwname,
					   CASE WHEN r.umuser = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r.umuser)::text END),
				nullif(servers -> r.srvid::text ->> 'hosts', ''), servers -> r.srvid::text ->> 'ports',
				nullif(servers -> r.srvid::text ->> 'regions', ''), servers -> r.srvid::text ->> 'verdict',
				'usable by ' || names || CASE WHEN r.has_password THEN '; stores a password' ELSE '' END));
	END LOOP;

	-- file_fdw tables that read a program's output.
	FOR r IN
		SELECT ft.ftrelid::regclass::text AS tbl
		  FROM pg_foreign_table ft
		 WHERE EXISTS (SELECT 1 FROM pg_options_to_table(ft.ftoptions) o WHERE o.option_name = 'program')
		 ORDER BY 1
	LOOP
		acc := acc || jsonb_build_array(jsonb_build_array('program', r.tbl, NULL, NULL, NULL, 'unknown',
				'a foreign table that runs a server program: where it connects is not visible to finsec'));
	END LOOP;

	-- Subscriptions (every database's: pg_subscription is shared).
	FOR r IN
		SELECT su.subname, d.datname, su.subconninfo, su.subenabled
		  FROM pg_subscription su LEFT JOIN pg_database d ON d.oid = su.subdbid
		 ORDER BY d.datname, su.subname
	LOOP
		FOR t IN SELECT * FROM finsec._outbound_conninfo_targets(r.subconninfo) ORDER BY pos LOOP
			j := finsec._outbound_judge(t.host, t.hostaddr, t.service);
			IF NOT t.valid THEN
				j.verdict := 'unknown';
				j.detail := 'a connection string libpq refuses';
			END IF;
			acc := acc || jsonb_build_array(jsonb_build_array('subscription', format('%s (database %s)', r.subname, r.datname), j.target, t.port,
					j.region, j.verdict,
					j.detail || CASE WHEN r.subenabled THEN '' ELSE '; disabled' END));
		END LOOP;
	END LOOP;

	-- Publications of this database: their subscribers are replication
	-- connections (below); a publication of a registered credit table is
	-- named.
	FOR r IN
		SELECT p.pubname, p.puballtables,
			   (SELECT count(*) FROM pg_publication_tables pt WHERE pt.pubname = p.pubname) AS ntables,
			   (SELECT string_agg(ct.relid::regclass::text, ', ' ORDER BY ct.relid::regclass::text)
				  FROM finsec.credit_table ct
				  JOIN pg_class c ON c.oid = ct.relid
				  JOIN pg_namespace nsp ON nsp.oid = c.relnamespace
				  JOIN pg_publication_tables pt ON pt.pubname = p.pubname
											   AND pt.schemaname = nsp.nspname AND pt.tablename = c.relname) AS credit
		  FROM pg_publication p
		 ORDER BY p.pubname
	LOOP
		acc := acc || jsonb_build_array(jsonb_build_array('publication', r.pubname, NULL, NULL, NULL, 'unknown',
				CASE WHEN r.puballtables THEN 'all tables' WHEN r.ntables = 1 THEN '1 table' ELSE format('%s tables', r.ntables) END
				|| coalesce('; publishes registered credit tables: ' || r.credit, '')
				|| '; its subscribers are the replication connections'));
	END LOOP;

	-- Replication connections (walsenders) and slots.
	FOR r IN
		SELECT sr.pid, sr.usename, sr.application_name, sr.client_addr, sr.client_port
		  FROM pg_stat_replication sr
		 ORDER BY sr.application_name, sr.pid
	LOOP
		IF r.client_addr IS NULL THEN
			j := finsec._outbound_judge('/');
		ELSE
			j := finsec._outbound_judge(host(r.client_addr));
		END IF;
		acc := acc || jsonb_build_array(jsonb_build_array('replication_connection', format('%s (%s)', r.application_name, r.usename), j.target,
				nullif(r.client_port, -1)::text, j.region, j.verdict, j.detail));
	END LOOP;
	FOR r IN
		SELECT rs.slot_name, rs.slot_type, rs.database, rs.active, sr.client_addr, sr.client_port
		  FROM pg_replication_slots rs
		  LEFT JOIN pg_stat_replication sr ON sr.pid = rs.active_pid
		 ORDER BY rs.slot_name
	LOOP
		IF r.active THEN
			j := finsec._outbound_judge(coalesce(host(r.client_addr), '/'));
		ELSE
			SELECT NULL::text AS target, NULL::text AS region, 'unknown'::text AS verdict,
				   'inactive: it keeps changes for whoever connects with it next'::text AS detail INTO j;
		END IF;
		acc := acc || jsonb_build_array(jsonb_build_array('replication_slot', format('%s (%s%s)', r.slot_name, r.slot_type, coalesce(', database ' || r.database, '')),
				j.target, CASE WHEN r.active THEN nullif(r.client_port, -1)::text END, j.region, j.verdict, j.detail));
	END LOOP;

	-- This server as a standby: its WAL receiver and primary_conninfo.
	FOR r IN SELECT wr.sender_host, wr.sender_port FROM pg_stat_wal_receiver wr LOOP
		j := finsec._outbound_judge(r.sender_host);
		acc := acc || jsonb_build_array(jsonb_build_array('wal_receiver', 'primary', j.target, r.sender_port::text, j.region, j.verdict, j.detail));
	END LOOP;
	ci := nullif(current_setting('primary_conninfo', true), '');
	IF ci IS NOT NULL THEN
		FOR t IN SELECT * FROM finsec._outbound_conninfo_targets(ci) ORDER BY pos LOOP
			j := finsec._outbound_judge(t.host, t.hostaddr, t.service);
			IF NOT t.valid THEN
				j.verdict := 'unknown';
				j.detail := 'a connection string libpq refuses';
			END IF;
			acc := acc || jsonb_build_array(jsonb_build_array('setting', 'primary_conninfo', j.target, t.port, j.region, j.verdict, j.detail));
		END LOOP;
	END IF;

	-- WAL archiving and restoring: shell commands (hosts they name) and
	-- archive modules.
	FOR r IN SELECT s.name, s.setting FROM pg_settings s
			  WHERE s.name IN ('archive_command', 'restore_command', 'archive_library')
				AND coalesce(s.setting, '') NOT IN ('', '(disabled)')
			  ORDER BY s.name
	LOOP
		cmd := r.setting;
		IF r.name = 'archive_library' THEN
			acc := acc || jsonb_build_array(jsonb_build_array('setting', r.name, NULL, NULL, NULL, 'unknown',
					format('archive module %s: where it sends WAL is not visible to finsec', cmd)));
			CONTINUE;
		END IF;
		n := 0;
		FOR t IN SELECT h FROM finsec._outbound_command_hosts(cmd) h LOOP
			n := n + 1;
			j := finsec._outbound_judge(t.h);
			acc := acc || jsonb_build_array(jsonb_build_array('setting', r.name, j.target, NULL, j.region, j.verdict,
					'named in the command: ' || j.detail
					|| CASE WHEN r.name = 'archive_command' AND current_setting('archive_mode') = 'off'
							THEN '; archive_mode is off' ELSE '' END));
		END LOOP;
		IF n = 0 THEN
			acc := acc || jsonb_build_array(jsonb_build_array('setting', r.name, NULL, NULL, NULL, 'unknown',
					'a shell command naming no host: where it copies WAL (a mounted network file system?) is not visible to finsec'
					|| CASE WHEN r.name = 'archive_command' AND current_setting('archive_mode') = 'off'
							THEN '; archive_mode is off' ELSE '' END));
		END IF;
	END LOOP;
	cmd := NULL;

	-- COPY ... PROGRAM: superusers and members of pg_execute_server_program.
	FOR r IN
		SELECT ro.rolname, ro.rolsuper, ro.rolcanlogin
		  FROM pg_roles ro
		 WHERE ro.rolname !~ '^pg_'
		   AND (ro.rolsuper OR pg_has_role(ro.oid, 'pg_execute_server_program', 'MEMBER'))
		 ORDER BY ro.rolname
	LOOP
		acc := acc || jsonb_build_array(jsonb_build_array('copy_program', r.rolname, NULL, NULL, NULL, 'unknown',
				CASE WHEN r.rolsuper THEN 'superuser' ELSE 'member of pg_execute_server_program' END
				|| CASE WHEN r.rolcanlogin THEN '' ELSE ' (cannot log in)' END
				|| ': COPY ... PROGRAM runs any server program, which can connect anywhere'));
	END LOOP;

	-- Extensions that open connections to hosts named at call time, and
	-- untrusted languages.
	FOR r IN
		SELECT e.extname,
			   bool_or(p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a
												  WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')) AS public_exec,
			   (SELECT string_agg(DISTINCT pg_get_userbyid(a.grantee)::text, ', ')
				  FROM pg_proc p2 JOIN pg_depend d2 ON d2.classid = 'pg_proc'::regclass AND d2.objid = p2.oid
											   AND d2.refclassid = 'pg_extension'::regclass AND d2.refobjid = e.oid
											   AND d2.deptype = 'e',
					   aclexplode(p2.proacl) a
				 WHERE p2.proname IN ('dblink_connect', 'dblink', 'dblink_exec', 'dblink_send_query')
				   AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0
				   AND NOT EXISTS (SELECT 1 FROM pg_roles su WHERE su.oid = a.grantee AND su.rolsuper)) AS grantees
		  FROM pg_extension e
		  JOIN pg_depend d ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
						  AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
		  JOIN pg_proc p ON p.oid = d.objid
		 WHERE e.extname = 'dblink'
		   AND p.proname IN ('dblink_connect', 'dblink', 'dblink_exec', 'dblink_send_query')
		 GROUP BY e.oid, e.extname
	LOOP
		acc := acc || jsonb_build_array(jsonb_build_array('extension', r.extname, NULL, NULL, NULL,
				CASE WHEN r.public_exec THEN 'not_allowed' ELSE 'unknown' END,
				CASE WHEN r.public_exec
					 THEN 'every role may call dblink_connect/dblink with a connection string to any host'
					 ELSE 'roles that may call dblink_connect/dblink with a connection string to any host: superusers'
						  || coalesce(' and ' || r.grantees, ' only') END));
	END LOOP;
	FOR r IN
		SELECT w.fdwname,
			   (w.fdwacl IS NOT NULL AND EXISTS (SELECT 1 FROM aclexplode(w.fdwacl) a
												  WHERE a.grantee = 0 AND a.privilege_type = 'USAGE')) AS public_usage,
			   (SELECT string_agg(DISTINCT pg_get_userbyid(a.grantee)::text, ', ')
				  FROM aclexplode(w.fdwacl) a WHERE a.privilege_type = 'USAGE' AND a.grantee <> 0
				   AND NOT EXISTS (SELECT 1 FROM pg_roles su WHERE su.oid = a.grantee AND su.rolsuper)) AS grantees
		  FROM pg_foreign_data_wrapper w
		 ORDER BY w.fdwname
	LOOP
		acc := acc || jsonb_build_array(jsonb_build_array('foreign_data_wrapper', r.fdwname, NULL, NULL, NULL,
				CASE WHEN r.public_usage THEN 'not_allowed' ELSE 'unknown' END,
				CASE WHEN r.public_usage THEN 'every role may create foreign servers to any host'
					 ELSE 'roles that may create foreign servers: superusers' || coalesce(' and ' || r.grantees, ' only') END));
	END LOOP;
	FOR r IN
		SELECT l.lanname FROM pg_language l
		 WHERE NOT l.lanpltrusted AND l.lanname NOT IN ('c', 'internal')
		 ORDER BY l.lanname
	LOOP
		acc := acc || jsonb_build_array(jsonb_build_array('language', r.lanname, NULL, NULL, NULL, 'unknown',
				'an untrusted language: its functions (created by superusers) can open any connection'));
	END LOOP;

	RETURN QUERY SELECT e ->> 0, e ->> 1, e ->> 2, e ->> 3, e ->> 4, e ->> 5, e ->> 6
				   FROM jsonb_array_elements(acc) WITH ORDINALITY AS x(e, ord) ORDER BY x.ord;
END
$$;
REVOKE ALL ON FUNCTION finsec._outbound_links() FROM PUBLIC;

/*
 * finsec.outbound_links(): the list, and a ledger row with its counts per
 * verdict (not on a standby, which cannot write the ledger).
 * finsec.status_credit() reads finsec._outbound_links() and writes none.
 */
CREATE FUNCTION finsec.outbound_links()
RETURNS TABLE (kind text, object text, host text, port text, region text, verdict text, detail text)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	links jsonb;
	counts jsonb;
BEGIN
	SELECT coalesce(jsonb_agg(jsonb_build_array(o.kind, o.object, o.host, o.port, o.region, o.verdict, o.detail)
							  ORDER BY o.n), '[]')
	  INTO links FROM finsec._outbound_links() WITH ORDINALITY AS o(kind, object, host, port, region, verdict, detail, n);
	SELECT coalesce(jsonb_object_agg(c.v, c.cnt), '{}') INTO counts
	  FROM (SELECT e ->> 5 AS v, count(*) AS cnt FROM jsonb_array_elements(links) e GROUP BY e ->> 5) c;
	-- A standby lists its links too (its WAL receiver, primary_conninfo)
	-- but cannot write the ledger: the call is then not recorded.
	IF NOT pg_is_in_recovery() THEN
		PERFORM finsec.audit_event('credit.outbound_links', 'outbound_links', 'list', true, NULL,
								   jsonb_build_object('verdicts', counts));
	END IF;
	RETURN QUERY SELECT e ->> 0, e ->> 1, e ->> 2, e ->> 3, e ->> 4, e ->> 5, e ->> 6
				   FROM jsonb_array_elements(links) WITH ORDINALITY AS x(e, n) ORDER BY x.n;
END
$$;
COMMENT ON FUNCTION finsec.outbound_links() IS
	'every outbound link finsec can see (foreign servers, user mappings, subscriptions, publications, replication, WAL commands, COPY PROGRAM, dblink), judged against finsec.outbound_allow';
REVOKE ALL ON FUNCTION finsec.outbound_links() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.outbound_links() TO finsec_admin, finsec_auditor;

-- Two-person changes of the allow-list (kind credit.outbound_allow):
-- payload {"op": "add"|"remove", "pattern", "pattern_kind", "region", "note"}.
CREATE FUNCTION finsec._outbound_allow_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p record;
	op text := payload ->> 'op';
	reg text := upper(btrim(payload ->> 'region'));
	note text := payload ->> 'note';
BEGIN
	IF op IS NULL OR op NOT IN ('add', 'remove') THEN
		RAISE EXCEPTION 'a credit.outbound_allow request is filed by finsec.outbound_allow_add or outbound_allow_remove'
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use finsec.outbound_allow_add or finsec.outbound_allow_remove.';
	END IF;
	p := finsec._outbound_pattern(target);
	IF p.pattern_norm IS DISTINCT FROM target THEN
		RAISE EXCEPTION 'a credit.outbound_allow request targets the normalised pattern "%"', p.pattern_norm
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use finsec.outbound_allow_add or finsec.outbound_allow_remove.';
	END IF;
	IF op = 'add' THEN
		IF reg IS NULL OR reg !~ '^[A-Z]{2}$' THEN
			RAISE EXCEPTION 'the region of an outbound allow-list entry is an ISO 3166 two-letter code'
				USING ERRCODE = 'S9D84', HINT = 'For example CN.';
		END IF;
		IF octet_length(note) > 200 THEN
			RAISE EXCEPTION 'the note of an outbound allow-list entry is at most 200 bytes'
				USING ERRCODE = 'string_data_right_truncation';
		END IF;
		IF EXISTS (SELECT 1 FROM finsec.outbound_allow oa WHERE oa.pattern = p.pattern_norm) THEN
			RAISE EXCEPTION 'outbound allow-list pattern "%" is already allowed', p.pattern_norm
				USING ERRCODE = 'S9D82', HINT = 'Remove it first to change its region.';
		END IF;
	ELSIF NOT EXISTS (SELECT 1 FROM finsec.outbound_allow oa WHERE oa.pattern = p.pattern_norm) THEN
		RAISE EXCEPTION 'outbound allow-list pattern "%" is not in the list', p.pattern_norm
			USING ERRCODE = 'S9D83', HINT = 'finsec.outbound_allow lists the patterns.';
	END IF;
	RETURN jsonb_strip_nulls(jsonb_build_object('op', op, 'pattern', p.pattern_norm, 'pattern_kind', p.pattern_kind,
												'region', CASE WHEN op = 'add' THEN reg END,
												'note', CASE WHEN op = 'add' THEN note END));
END
$$;
REVOKE ALL ON FUNCTION finsec._outbound_allow_prepare(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec._outbound_allow_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p jsonb;
	requester name;
BEGIN
	-- The list as it is now (an entry may have come or gone since).
	p := finsec._outbound_allow_prepare(kind, target, payload);
	SELECT cr.requested_by INTO requester FROM finsec.change_request cr
	 WHERE cr.request_id = _outbound_allow_apply.request_id;
	IF p ->> 'op' = 'add' THEN
		INSERT INTO finsec.outbound_allow (pattern, pattern_kind, region, note, requested_by, approved_by, request_id)
		VALUES (p ->> 'pattern', p ->> 'pattern_kind', p ->> 'region', p ->> 'note', requester, session_user,
				_outbound_allow_apply.request_id);
	ELSE
		DELETE FROM finsec.outbound_allow oa WHERE oa.pattern = p ->> 'pattern';
	END IF;
	PERFORM finsec.audit_event('credit.outbound_allow', 'outbound_allow:' || (p ->> 'pattern'), p ->> 'op', true, NULL,
							   jsonb_build_object('request_id', _outbound_allow_apply.request_id,
												  'requested_by', requester, 'pattern', p ->> 'pattern',
												  'region', p ->> 'region'),
							   session_user);
	RETURN p;
END
$$;
REVOKE ALL ON FUNCTION finsec._outbound_allow_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('credit.outbound_allow', 'finsec._outbound_allow_prepare(text, text, jsonb)',
	 'finsec._outbound_allow_apply(bigint, text, text, jsonb)', NULL,
	 'add a pattern to, or remove one from, the outbound allow-list (target: the normalised pattern)');

CREATE FUNCTION finsec.outbound_allow_add(pattern text, region text, reason text, note text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p record;
BEGIN
	IF nullif(btrim(reason), '') IS NULL THEN
		RAISE EXCEPTION 'a change of the outbound allow-list needs a reason'
			USING ERRCODE = 'null_value_not_allowed', HINT = 'Say why the link is needed (or no longer).';
	END IF;
	p := finsec._outbound_pattern(pattern);
	RETURN finsec.request_change('credit.outbound_allow', p.pattern_norm,
								 jsonb_build_object('op', 'add', 'region', region, 'note', note), reason);
END
$$;
COMMENT ON FUNCTION finsec.outbound_allow_add(text, text, text, text) IS
	'request that a host, domain suffix or address range be allowed for outbound links (region: ISO 3166 code); another finsec_admin approves';
REVOKE ALL ON FUNCTION finsec.outbound_allow_add(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.outbound_allow_add(text, text, text, text) TO finsec_admin;

CREATE FUNCTION finsec.outbound_allow_remove(pattern text, reason text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p record;
BEGIN
	IF nullif(btrim(reason), '') IS NULL THEN
		RAISE EXCEPTION 'a change of the outbound allow-list needs a reason'
			USING ERRCODE = 'null_value_not_allowed', HINT = 'Say why the link is needed (or no longer).';
	END IF;
	p := finsec._outbound_pattern(pattern);
	RETURN finsec.request_change('credit.outbound_allow', p.pattern_norm, jsonb_build_object('op', 'remove'), reason);
END
$$;
COMMENT ON FUNCTION finsec.outbound_allow_remove(text, text) IS
	'request that a pattern be removed from the outbound allow-list; another finsec_admin approves';
REVOKE ALL ON FUNCTION finsec.outbound_allow_remove(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.outbound_allow_remove(text, text) TO finsec_admin;

-- (section 7 ends here)


-- ---------------------------------------------------------------------
-- 8. Status: finsec.status_credit().
-- ---------------------------------------------------------------------

/*
 * finsec.status() rows of credit data (finsec.status() calls every
 * status_<capability>()): the pseudonym key, each registered table's due
 * and refused periods, overdue disputes, suspended query rights, outbound
 * links outside the allow-list.
 */
CREATE FUNCTION finsec.status_credit(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n_tables integer;
	r record;
	n integer;
	m integer;
BEGIN
	SELECT count(*) INTO n_tables FROM finsec.credit_table;
	IF n_tables = 0 THEN
		component := 'credit'; ok := true; detail := 'no credit table is registered';
		RETURN NEXT;
	ELSE
		component := 'credit_pseudonym_key';
		ok := EXISTS (SELECT FROM finsec.key k JOIN finsec.key_version v ON v.key_id = k.key_id
					   WHERE k.label = 'credit.pseudonym' AND k.purpose = 'pseudonym' AND v.state = 'active');
		detail := CASE WHEN ok THEN 'key credit.pseudonym is active'
					   ELSE format('%s credit table(s) registered, but key credit.pseudonym (purpose pseudonym) has no active version: credit_query and disputes refuse; see docs/credit.md#query-log', n_tables) END;
		RETURN NEXT;
		FOR r IN
			SELECT ct.relid, ct.action,
				   (SELECT count(*) FROM finsec.deid_due d WHERE d.table_name = ct.relid) AS due,
				   (SELECT max(d.days_overdue) FROM finsec.deid_due d WHERE d.table_name = ct.relid) AS worst,
				   (SELECT count(*) FROM finsec.deid_due d WHERE d.table_name = ct.relid AND d.refused_batch IS NOT NULL) AS refused,
				   (SELECT count(*) FROM finsec.deid_batch b WHERE b.relid = ct.relid AND b.kind = 'retention' AND b.state = 'published') AS published
			  FROM finsec.credit_table ct ORDER BY ct.relid::text COLLATE "C"
		LOOP
			component := 'credit_deid:' || r.relid::text;
			ok := r.refused = 0 AND coalesce(r.worst, 0) <= 1;
			detail := CASE
				WHEN r.due = 0 THEN format('no period past retention is waiting; %s period(s) processed', r.published)
				WHEN ok THEN format('%s period(s) past retention, processed at the worker''s next run (finsec.deid_due)', r.due)
				WHEN r.refused > 0 THEN format('%s period(s) past retention, %s refused (k or l not reachable: see finsec.deid_due and docs/credit.md#refused-batches); the oldest %s day(s) overdue', r.due, r.refused, r.worst)
				ELSE format('%s period(s) past retention and not processed, the oldest %s day(s) overdue: is the worker running (finsec.worker_tasks(), task credit.deid)?', r.due, r.worst) END;
			RETURN NEXT;
		END LOOP;
	END IF;

	SELECT count(*) FILTER (WHERE d.due_at < now()), count(*) INTO n, m
	  FROM finsec.credit_dispute d WHERE d.status IN ('open', 'checking');
	component := 'credit_disputes'; ok := n = 0;
	detail := CASE WHEN m = 0 THEN 'no open dispute'
				   WHEN n = 0 THEN format('%s open dispute(s), none past its statutory deadline', m)
				   ELSE format('%s of %s open dispute(s) past the statutory deadline: finsec.credit_disputes_overdue()', n, m) END;
	RETURN NEXT;

	SELECT count(*) INTO n FROM finsec.credit_user u WHERE u.query_status = 'suspended';
	component := 'credit_users'; ok := n = 0;
	detail := CASE WHEN n = 0 THEN 'no credit user''s query right is suspended'
				   ELSE format('%s credit user(s) with the query right suspended after abnormal querying: investigate, then finsec.credit_user_restore() (two administrators)', n) END;
	RETURN NEXT;

	SELECT count(*) FILTER (WHERE o.verdict = 'not_allowed'), count(*) FILTER (WHERE o.verdict = 'unknown')
	  INTO n, m FROM finsec._outbound_links() o;
	component := 'credit_outbound'; ok := n = 0;
	detail := CASE WHEN n = 0 THEN format('no outbound link outside the allow-list (%s not judged: finsec.outbound_links())', m)
				   ELSE format('%s outbound link(s) outside the allow-list: finsec.outbound_links()', n) END;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION finsec.status_credit() IS
	'finsec.status() rows of credit data: pseudonym key, due and refused de-identification, overdue disputes, suspended users, outbound links';
REVOKE ALL ON FUNCTION finsec.status_credit() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_credit() TO finsec_admin, finsec_auditor, finsec_operator;

-- (section 8 ends here)
