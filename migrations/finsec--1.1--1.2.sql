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

	-- the archive table (layout: docs/credit.md, "Archive")
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

	-- as the caller (the table's owner's rights)
	IF NOT finsec._credit_protected(tbl) THEN
		PERFORM finsec.protect_table(tbl);
	END IF;
	FOR c IN SELECT * FROM jsonb_array_elements(plan->'columns') LOOP
		IF c->>'role' IN ('subject', 'identifier', 'quasi_identifier', 'sensitive') THEN
			PERFORM finsec.protect_period(tbl, (c->>'name')::name, behaviour_end::name);
		END IF;
	END LOOP;
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
	WHERE event_type IN ('credit.query', 'credit.query_refused');

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

-- (section 4 ends here)


-- ---------------------------------------------------------------------
-- 5. De-identification (src/credit/deid.c): deid_batch (the proofs),
--    deidentify_now, deidentified_copy, the worker task, research views.
-- ---------------------------------------------------------------------

-- (section 5 ends here)


-- ---------------------------------------------------------------------
-- 6. Disputes and the registry (src/credit/dispute.c, registry.c):
--    disputes, checks, corrections, personal statements, deadlines;
--    institution status, data files, the exchange log.
-- ---------------------------------------------------------------------

-- (section 6 ends here)


-- ---------------------------------------------------------------------
-- 7. Outbound links (src/credit/outbound.c): outbound_links() and its
--    allow-list (two-person).
-- ---------------------------------------------------------------------

-- (section 7 ends here)


-- ---------------------------------------------------------------------
-- 8. Status: finsec.status_credit().
-- ---------------------------------------------------------------------

-- (section 8 ends here)
