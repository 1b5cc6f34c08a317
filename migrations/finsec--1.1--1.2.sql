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
 * each row's jsonb text without batch_id (order-free, recomputable by an
 * auditor with plain SQL).
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
				   ' FROM (SELECT sha256(convert_to((to_jsonb(a) - ''batch_id'')::text, ''UTF8'')) AS d'
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
