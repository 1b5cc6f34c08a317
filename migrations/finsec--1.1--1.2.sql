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

-- (section 2 ends here)


-- ---------------------------------------------------------------------
-- 3. Query log (src/credit/query.c): reason codes, pseudonyms,
--    credit_query, credit_batch_query, credit_query_log, abnormal
--    querying and the suspension of a user's query right.
-- ---------------------------------------------------------------------

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
