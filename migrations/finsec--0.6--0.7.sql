/* finsec 0.6 -> 0.7 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '0.7'" to load this file. \quit

-- =====================================================================
-- Real-time risk scoring (R1-R9, docs/risk.md).
--
-- finsec.risk_score() evaluates the active ruleset (finsec.risk_ruleset,
-- finsec.risk_rule) against one payment: lists (finsec.risk_list_entry),
-- thresholds, velocity and first-seen over a registered payments table
-- (finsec.risk_table), structuring, time of day, travel, and an optional
-- logistic model.  Rules are compiled per backend and recompiled when a
-- ruleset changes; lists and payment history are read through their
-- indexes at scoring time, so they are exact and transaction-consistent.
-- =====================================================================

CREATE TYPE finsec.risk_decision AS (
	decision text,				-- allow, challenge, review, block
	score numeric,
	reasons jsonb,
	ruleset_version bigint,
	degraded boolean,
	decision_id bigint			-- finsec.risk_decision_log; NULL for a plain allow
);
COMMENT ON TYPE finsec.risk_decision IS
	'result of finsec.risk_score(): decision (allow, challenge = step-up authentication, review, block), score, reasons, ruleset version, degraded flag, logged decision id';

/*
 * Payments tables whose history velocity, first-seen and travel rules
 * read.  Columns are mapped once; finsec.risk_score(row) reads the same
 * columns from a row of the table.
 */
CREATE TABLE finsec.risk_table (
	relid regclass PRIMARY KEY,
	customer_column text NOT NULL,
	amount_column text NOT NULL,
	posted_at_column text NOT NULL,
	account_column text,
	counterparty_column text,
	currency_column text,
	channel_column text,
	mcc_column text,
	device_column text,
	ip_column text,
	phone_column text,
	geo_column text,
	region_column text,
	merchant_column text,
	tier_column text,
	card_column text,
	reference_column text,
	enabled_by name NOT NULL,
	enabled_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE finsec.risk_table IS
	'payments tables registered for risk scoring (finsec.enable_risk): the columns velocity, first-seen and travel rules read';
REVOKE ALL ON finsec.risk_table FROM PUBLIC;
GRANT SELECT ON finsec.risk_table TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * Rulesets are the model registry (001 8.3): every version records who
 * created and who deployed it, when, the SHA-256 of its content, and for
 * statistical models the training data's checksum, size, time and medium.
 * A version is edited while 'draft', deployed through two-person approval
 * (change kind risk.deploy), and never changes afterwards.
 */
CREATE TABLE finsec.risk_ruleset (
	version bigint PRIMARY KEY CHECK (version > 0),
	state text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'active', 'retired')),
	challenge_at numeric NOT NULL DEFAULT 40,
	review_at numeric NOT NULL DEFAULT 70,
	block_at numeric NOT NULL DEFAULT 100,
	note text,
	created_by name NOT NULL DEFAULT session_user,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	content_hash bytea,
	deploy_request bigint,
	requested_by name,
	deployed_by name,
	deployed_at timestamptz,
	retired_at timestamptz,
	training_checksum text,
	training_rows bigint CHECK (training_rows >= 0),
	training_data_at timestamptz,
	training_medium text,
	trained_by text,
	training_started_at timestamptz,
	training_ended_at timestamptz,
	training_iterations integer,
	training_script text,
	CHECK (challenge_at <= review_at AND review_at <= block_at)
);
CREATE UNIQUE INDEX risk_ruleset_one_active ON finsec.risk_ruleset ((true)) WHERE state = 'active';
COMMENT ON TABLE finsec.risk_ruleset IS
	'risk ruleset and model versions (model registry, 001 8.3): thresholds, content hash, deployment and training records';
REVOKE ALL ON finsec.risk_ruleset FROM PUBLIC;
GRANT SELECT ON finsec.risk_ruleset TO finsec_admin, finsec_auditor, finsec_operator;
-- drafts are made by finsec.risk_ruleset_create() and risk_ruleset_copy()
GRANT UPDATE (challenge_at, review_at, block_at, note, training_checksum, training_rows, training_data_at,
			  training_medium, trained_by, training_started_at, training_ended_at, training_iterations, training_script),
	  DELETE
	ON finsec.risk_ruleset TO finsec_admin;

/*
 * Categories of 001 5.3.2: fraud (card_not_present, account_takeover,
 * false_application, merchant_collusion, marketing_fraud) and compliance
 * (money_laundering, telecom_fraud, illegal_fundraising,
 * terminal_relocation).
 */
CREATE TABLE finsec.risk_category (
	category text PRIMARY KEY,
	family text NOT NULL CHECK (family IN ('fraud', 'compliance')),
	clause text NOT NULL,
	description text NOT NULL
);
REVOKE ALL ON finsec.risk_category FROM PUBLIC;
GRANT SELECT ON finsec.risk_category TO finsec_admin, finsec_auditor, finsec_operator, finsec_app;
INSERT INTO finsec.risk_category VALUES
	('card_not_present', 'fraud', 'JR/T 0199 5.3.2 a)', '非面欺诈: stolen credentials used through mail, phone, internet or mobile channels'),
	('account_takeover', 'fraud', 'JR/T 0199 5.3.2 a)', '账户盗用: an impostor takes over the account (changed address, false loss report)'),
	('false_application', 'fraud', 'JR/T 0199 5.3.2 a)', '伪冒申请: account opened with a false or stolen identity'),
	('merchant_collusion', 'fraud', 'JR/T 0199 5.3.2 a)', '商户合谋: a merchant takes part in or covers fraudulent transactions'),
	('marketing_fraud', 'fraud', 'JR/T 0199 5.3.2 a)', '营销欺诈: fictitious transactions to collect marketing rewards'),
	('money_laundering', 'compliance', 'JR/T 0199 5.3.2 b)', '洗钱: disguising the origin of illegal proceeds'),
	('telecom_fraud', 'compliance', 'JR/T 0199 5.3.2 b)', '电信诈骗: victims induced by phone, network or SMS to pay'),
	('illegal_fundraising', 'compliance', 'JR/T 0199 5.3.2 b)', '非法集资: raising funds from the public without approval'),
	('terminal_relocation', 'compliance', 'JR/T 0199 5.3.2 b)', '移机切机: a terminal moved or connected against its registration');

/*
 * Rules of a ruleset version.  kind and params (checked by
 * finsec._risk_check_rule, docs/risk.md lists every kind's parameters):
 *   list              {"color", "entity", "side"}
 *   threshold         {"attribute", "op", "value" | "values"}
 *   velocity          {"entity", "window", "measure", "max"}
 *   first_seen        {"entity", "of", "lookback"}
 *   structuring       {"entity", "window", "threshold", "below_pct", "min_count"}
 *   time_of_day       {"from", "to", "timezone"}
 *   travel            {"entity", "max_kmh" | "max_km", "min_km", "within"}
 *   model             {"intercept", "features": [...], "min_probability"}
 * Every kind also takes "when" (conditions on the payment) and "force"
 * (a decision the rule imposes when it fires: block, review, challenge,
 * or allow for allow-lists).
 */
CREATE TABLE finsec.risk_rule (
	rule_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	ruleset_version bigint NOT NULL REFERENCES finsec.risk_ruleset ON DELETE CASCADE,
	name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
	kind text NOT NULL CHECK (kind IN ('list', 'threshold', 'velocity', 'first_seen', 'structuring',
									   'time_of_day', 'travel', 'model')),
	params jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
	weight numeric NOT NULL DEFAULT 0,
	reason_code text NOT NULL CHECK (reason_code ~ '^[A-Z][A-Z0-9_]{0,31}$'),
	category text NOT NULL REFERENCES finsec.risk_category,
	mode text NOT NULL DEFAULT 'enforce' CHECK (mode IN ('enforce', 'shadow', 'off')),
	description text,
	UNIQUE (ruleset_version, name)
);
COMMENT ON TABLE finsec.risk_rule IS
	'rules of a risk ruleset version: kind, parameters, weight, reason code, 5.3.2 category, mode (enforce, shadow, off)';
REVOKE ALL ON finsec.risk_rule FROM PUBLIC;
GRANT SELECT ON finsec.risk_rule TO finsec_admin, finsec_auditor, finsec_operator;
GRANT INSERT (ruleset_version, name, kind, params, weight, reason_code, category, mode, description),
	  UPDATE (name, kind, params, weight, reason_code, category, mode, description),
	  DELETE
	ON finsec.risk_rule TO finsec_admin;

/*
 * Black, grey and white lists (R3, R6).  Exact values are probed through
 * (entity_type, value); IP ranges through a GiST index on net.  Cards are
 * listed by fingerprint (finsec.risk_card_key()), never in clear.  An
 * entry applies to the payer's side, the payee's side or both, until it
 * expires or is removed (entries are never deleted by the functions:
 * removal is recorded).
 */
CREATE TABLE finsec.risk_list_entry (
	entry_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	color text NOT NULL CHECK (color IN ('black', 'grey', 'white')),
	entity_type text NOT NULL CHECK (entity_type IN ('customer', 'account', 'card', 'device', 'ip', 'phone', 'merchant')),
	value text,
	net cidr,
	side text NOT NULL DEFAULT 'any' CHECK (side IN ('payer', 'payee', 'any')),
	expires_at timestamptz,
	reason text,
	case_id bigint,
	added_by name NOT NULL DEFAULT session_user,
	added_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	removed_by name,
	removed_at timestamptz,
	removal_reason text,
	CHECK ((entity_type = 'ip') = (net IS NOT NULL)),
	CHECK ((entity_type = 'ip') = (value IS NULL)),
	CHECK ((removed_at IS NULL) = (removed_by IS NULL))
);
CREATE INDEX risk_list_entry_value_idx ON finsec.risk_list_entry (entity_type, value) WHERE removed_at IS NULL;
CREATE INDEX risk_list_entry_net_idx ON finsec.risk_list_entry USING gist (net inet_ops) WHERE removed_at IS NULL;
CREATE INDEX risk_list_entry_case_idx ON finsec.risk_list_entry (case_id) WHERE case_id IS NOT NULL;
COMMENT ON TABLE finsec.risk_list_entry IS
	'black, grey and white list entries by customer, account, card fingerprint, device, IP or CIDR, phone, merchant; by side; with expiry';
REVOKE ALL ON finsec.risk_list_entry FROM PUBLIC;
GRANT SELECT ON finsec.risk_list_entry TO finsec_admin, finsec_auditor, finsec_operator;

-- Rulesets, rules and lists are kept by pg_dump.
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_table', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_ruleset', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_rule', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_list_entry', '');

/*
 * Changes to rulesets and rules drop every backend's compiled rules (a
 * relcache invalidation of finsec.risk_ruleset, sent at commit).
 */
CREATE FUNCTION finsec.risk_config_changed()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'finsec_risk_config_changed';
REVOKE ALL ON FUNCTION finsec.risk_config_changed() FROM PUBLIC;
CREATE TRIGGER finsec_risk_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON finsec.risk_ruleset FOR EACH STATEMENT EXECUTE FUNCTION finsec.risk_config_changed();
CREATE TRIGGER finsec_risk_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON finsec.risk_rule FOR EACH STATEMENT EXECUTE FUNCTION finsec.risk_config_changed();
CREATE TRIGGER finsec_risk_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON finsec.risk_table FOR EACH STATEMENT EXECUTE FUNCTION finsec.risk_config_changed();

-- ---------------------------------------------------------------------
-- Registration of payments tables
-- ---------------------------------------------------------------------
CREATE FUNCTION finsec.enable_risk(
	payments regclass,
	customer text DEFAULT 'customer_id',
	amount text DEFAULT 'amount',
	posted_at text DEFAULT 'posted_at',
	account text DEFAULT NULL,
	counterparty text DEFAULT NULL,
	currency text DEFAULT NULL,
	channel text DEFAULT NULL,
	mcc text DEFAULT NULL,
	device text DEFAULT NULL,
	ip text DEFAULT NULL,
	phone text DEFAULT NULL,
	geo text DEFAULT NULL,
	region text DEFAULT NULL,
	merchant text DEFAULT NULL,
	auth_tier text DEFAULT NULL,
	card text DEFAULT NULL,
	reference text DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_enable_risk';
COMMENT ON FUNCTION finsec.enable_risk(regclass, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text) IS
	'register a payments table for risk scoring: the columns velocity, first-seen and travel rules read (audited)';
REVOKE ALL ON FUNCTION finsec.enable_risk(regclass, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.enable_risk(regclass, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text, text) TO finsec_admin;

CREATE FUNCTION finsec.disable_risk(payments regclass)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_disable_risk';
COMMENT ON FUNCTION finsec.disable_risk(regclass) IS 'forget a payments table''s risk registration (audited)';
REVOKE ALL ON FUNCTION finsec.disable_risk(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.disable_risk(regclass) TO finsec_admin;

/*
 * The indexes velocity, first-seen and travel rules of the active (or a
 * given) ruleset read on a registered table, whether each exists, and the
 * CREATE INDEX that would provide a missing one.
 */
CREATE FUNCTION finsec.risk_index_advice(payments regclass, ruleset_version bigint DEFAULT NULL,
	OUT entity text, OUT columns text[], OUT present boolean, OUT create_index text)
RETURNS SETOF record
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_risk_index_advice';
REVOKE ALL ON FUNCTION finsec.risk_index_advice(regclass, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_index_advice(regclass, bigint) TO finsec_admin, finsec_operator;

-- ---------------------------------------------------------------------
-- Scoring
-- ---------------------------------------------------------------------
CREATE FUNCTION finsec.risk_score(
	customer text,
	amount numeric,
	account text DEFAULT NULL,
	counterparty text DEFAULT NULL,
	currency text DEFAULT NULL,
	channel text DEFAULT NULL,
	mcc text DEFAULT NULL,
	device text DEFAULT NULL,
	ip inet DEFAULT NULL,
	phone text DEFAULT NULL,
	geo point DEFAULT NULL,
	region text DEFAULT NULL,
	at timestamptz DEFAULT NULL,
	auth_tier integer DEFAULT NULL,
	merchant text DEFAULT NULL,
	card finsec.bank_card DEFAULT NULL,
	reference text DEFAULT NULL,
	payments regclass DEFAULT NULL)
RETURNS finsec.risk_decision
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_risk_score';
COMMENT ON FUNCTION finsec.risk_score(text, numeric, text, text, text, text, text, text, inet, text, point, text, timestamptz, integer, text, finsec.bank_card, text, regclass) IS
	'score one payment against the active risk ruleset: decision, score, reasons, ruleset version, degraded flag';
REVOKE ALL ON FUNCTION finsec.risk_score(text, numeric, text, text, text, text, text, text, inet, text, point, text, timestamptz, integer, text, finsec.bank_card, text, regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_score(text, numeric, text, text, text, text, text, text, inet, text, point, text, timestamptz, integer, text, finsec.bank_card, text, regclass) TO finsec_app, finsec_operator;

-- The row variant: payment is a row of a table registered with finsec.enable_risk().
CREATE FUNCTION finsec.risk_score(payment record)
RETURNS finsec.risk_decision
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_risk_score_row';
COMMENT ON FUNCTION finsec.risk_score(record) IS
	'score a row of a payments table registered with finsec.enable_risk() against the active risk ruleset';
REVOKE ALL ON FUNCTION finsec.risk_score(record) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_score(record) TO finsec_app, finsec_operator;

-- The list key of a card: its fingerprint, never the number.
CREATE FUNCTION finsec.risk_card_key(card finsec.bank_card)
RETURNS text
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_risk_card_key';
COMMENT ON FUNCTION finsec.risk_card_key(finsec.bank_card) IS
	'the value under which a card is listed in finsec.risk_list_entry: its keyed fingerprint (hex), never the number';
REVOKE ALL ON FUNCTION finsec.risk_card_key(finsec.bank_card) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_card_key(finsec.bank_card) TO finsec_admin, finsec_operator, finsec_app;  -- the application records card sightings by key

-- Rule parameters are checked by the same code that compiles them.
CREATE FUNCTION finsec._risk_check_rule(kind text, params jsonb)
RETURNS jsonb
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_risk_check_rule';
REVOKE ALL ON FUNCTION finsec._risk_check_rule(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._risk_check_rule(text, jsonb) TO finsec_admin;

/*
 * Rules change only in drafts.  The draft's row is locked and rewritten
 * (content_hash stays NULL) by every rule change, so that a deployment
 * running at the same time either waits and then sees the change (and
 * refuses: the hash moved) or, in a REPEATABLE READ transaction, fails to
 * serialize; it never activates a version whose rules differ from the
 * hash it records.
 */
CREATE FUNCTION finsec.risk_rule_check()
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
		IF st <> 'draft' THEN
			RAISE EXCEPTION 'rules of risk ruleset % cannot change: it is no longer a draft', v
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Copy it into a new draft with finsec.risk_ruleset_copy(), change that, and deploy it.';
		END IF;
		-- once per transaction is enough (a long list of rules would otherwise lengthen the row's chain)
		CONTINUE WHEN mine;
		UPDATE finsec.risk_ruleset s SET content_hash = NULL WHERE s.version = v;
	END LOOP;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		NEW.params := finsec._risk_check_rule(NEW.kind, NEW.params);
		RETURN NEW;
	END IF;
	RETURN OLD;
END
$$;
REVOKE ALL ON FUNCTION finsec.risk_rule_check() FROM PUBLIC;
CREATE TRIGGER finsec_risk_rule_check BEFORE INSERT OR UPDATE OR DELETE
	ON finsec.risk_rule FOR EACH ROW EXECUTE FUNCTION finsec.risk_rule_check();

-- ---------------------------------------------------------------------
-- Per-caller rate limit (001 8.4 g) and counters
-- ---------------------------------------------------------------------
CREATE FUNCTION finsec.risk_stats(
	OUT decision text, OUT decisions bigint, OUT since timestamptz)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_risk_stats';
COMMENT ON FUNCTION finsec.risk_stats() IS
	'risk decisions since the server started, per decision, plus "degraded" and "rate_limited" counts';
REVOKE ALL ON FUNCTION finsec.risk_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_stats() TO finsec_admin, finsec_auditor, finsec_operator;

-- ---------------------------------------------------------------------
-- The decision log (src/risk/log.c, docs/risk.md "Decision log").
--
-- risk_score() numbers every decision it logs from
-- finsec.risk_decision_id_seq and puts it into a shared-memory buffer
-- (src/common/eventring.c), so that the scoring transaction's rollback
-- does not take it along; finsec.flush_risk_decisions() and the audit
-- sealer move it into finsec.risk_decision_log, one partition per day
-- (finsec.risk_timezone), kept finsec.risk_log_retention days.
--
-- Keys and indexes are the partitions' own, not the parent's: the daily
-- partitions are made after the extension (so are not its members) and
-- pg_dump dumps them, rows included, as the database's tables; attached
-- on restore to a parent that already had an index, each would get that
-- index twice and pg_restore would fail.  (decision_id, decided_at) is
-- unique all the same, decided_at being the partition key.  Never call
-- finsec.risk_log_maintain() from an extension script: partitions made
-- there would become members of the extension, and pg_dump would leave
-- them out.
-- ---------------------------------------------------------------------
CREATE SEQUENCE finsec.risk_decision_id_seq AS bigint;
REVOKE ALL ON SEQUENCE finsec.risk_decision_id_seq FROM PUBLIC;

CREATE TABLE finsec.risk_decision_log (
	decision_id bigint NOT NULL,
	decided_at timestamptz NOT NULL,
	payment_at timestamptz,
	decision text NOT NULL CHECK (decision IN ('allow', 'challenge', 'review', 'block')),
	score numeric NOT NULL,
	ruleset_version bigint,
	degraded boolean NOT NULL,
	rules bigint[] NOT NULL,
	shadow_rules bigint[] NOT NULL,
	rules_truncated boolean NOT NULL,
	relid oid,
	relation text,
	customer text,
	account text,
	counterparty text,
	device text,
	ip text,
	phone text,
	merchant text,
	card_key text,
	region text,
	reference text,
	db_user name,
	session_user_name name,
	recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now()
) PARTITION BY RANGE (decided_at);
CREATE TABLE finsec.risk_decision_log_default PARTITION OF finsec.risk_decision_log (
	PRIMARY KEY (decision_id, decided_at)
) DEFAULT;
CREATE INDEX risk_decision_log_default_customer_idx ON finsec.risk_decision_log_default (customer, decided_at);
COMMENT ON TABLE finsec.risk_decision_log IS
	'risk decisions other than a plain allow (and allows on which a shadow rule fired): version, score, rules, entities; one partition per day, each keyed by (decision_id, decided_at) and indexed by (customer, decided_at)';
COMMENT ON TABLE finsec.risk_decision_log_default IS
	'risk decisions of days without a daily partition (finsec.risk_log_maintain() makes yesterday''s to three days ahead''s)';
COMMENT ON COLUMN finsec.risk_decision_log.rules IS 'rule_id of every enforced rule that fired (finsec.risk_rule)';
COMMENT ON COLUMN finsec.risk_decision_log.card_key IS 'finsec.risk_card_key() of the card: never the number';
REVOKE ALL ON finsec.risk_decision_log FROM PUBLIC;
REVOKE ALL ON finsec.risk_decision_log_default FROM PUBLIC;
GRANT SELECT ON finsec.risk_decision_log TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_decision_log_default', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_decision_id_seq', '');

/*
 * Daily partitions: yesterday to three days ahead are created when
 * missing, each with its key and customer index (unless the default
 * partition already holds rows of that day, which then stay there);
 * partitions whose whole day is older than finsec.risk_log_retention days
 * are dropped, and rows that old deleted from the default partition, each
 * audited.  Run by every finsec.flush_risk_decisions() and by the sealer
 * every 10 minutes; one caller at a time (a second one returns at once,
 * having done nothing).  Returns the number of partitions created and
 * dropped.
 */
CREATE FUNCTION finsec.risk_log_maintain()
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tz text := coalesce(nullif(current_setting('finsec.risk_timezone', true), ''), 'Asia/Shanghai');
	keep integer := coalesce(nullif(current_setting('finsec.risk_log_retention', true), '')::integer, 180);
	today date := (now() AT TIME ZONE tz)::date;
	d date;
	lo timestamptz;
	hi timestamptz;
	part text;
	changed integer := 0;
	gone bigint;
	r record;
BEGIN
	-- one maintainer at a time; others skip (the next flush catches up)
	IF NOT pg_try_advisory_xact_lock(hashtext('finsec.risk_log_maintain')) THEN
		RETURN 0;
	END IF;
	FOR d IN SELECT today + i FROM generate_series(-1, 3) i LOOP
		part := 'risk_decision_log_p' || to_char(d, 'YYYYMMDD');
		CONTINUE WHEN to_regclass('finsec.' || quote_ident(part)) IS NOT NULL;
		lo := d::timestamp AT TIME ZONE tz;
		hi := (d + 1)::timestamp AT TIME ZONE tz;
		CONTINUE WHEN EXISTS (SELECT 1 FROM finsec.risk_decision_log_default
							   WHERE decided_at >= lo AND decided_at < hi);
		EXECUTE format('CREATE TABLE finsec.%I PARTITION OF finsec.risk_decision_log (PRIMARY KEY (decision_id, decided_at)) FOR VALUES FROM (%L) TO (%L)',
					   part, lo, hi);
		EXECUTE format('CREATE INDEX %I ON finsec.%I (customer, decided_at)', part || '_customer_idx', part);
		EXECUTE format('REVOKE ALL ON finsec.%I FROM PUBLIC', part);
		changed := changed + 1;
	END LOOP;
	IF keep > 0 THEN
		FOR r IN SELECT c.relname
				   FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
				  WHERE i.inhparent = 'finsec.risk_decision_log'::regclass
					AND c.relname ~ '^risk_decision_log_p[0-9]{8}$'
					AND to_date(substr(c.relname, 20), 'YYYYMMDD') < today - keep
				  ORDER BY c.relname LOOP
			EXECUTE format('DROP TABLE finsec.%I', r.relname);
			PERFORM finsec.audit_event('risk.log_retention', 'finsec.' || r.relname, 'drop', true,
				format('risk decisions of %s dropped: older than finsec.risk_log_retention (%s days)',
					   to_date(substr(r.relname, 20), 'YYYYMMDD'), keep));
			changed := changed + 1;
		END LOOP;
		DELETE FROM finsec.risk_decision_log_default
		 WHERE decided_at < ((today - keep)::timestamp AT TIME ZONE tz);
		GET DIAGNOSTICS gone = ROW_COUNT;
		IF gone > 0 THEN
			PERFORM finsec.audit_event('risk.log_retention', 'finsec.risk_decision_log_default', 'delete', true,
				format('%s risk decision(s) before %s deleted: older than finsec.risk_log_retention (%s days)',
					   gone, today - keep, keep));
		END IF;
	END IF;
	RETURN changed;
END
$$;
REVOKE ALL ON FUNCTION finsec.risk_log_maintain() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_log_maintain() TO finsec_admin;

CREATE FUNCTION finsec.flush_risk_decisions()
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_flush_risk_decisions';
COMMENT ON FUNCTION finsec.flush_risk_decisions() IS
	'copy this database''s risk decisions from the shared-memory buffer into finsec.risk_decision_log (the sealer does it every round); returns how many';
REVOKE ALL ON FUNCTION finsec.flush_risk_decisions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.flush_risk_decisions() TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.risk_decision_buffer(
	OUT capacity integer,
	OUT waiting integer,
	OUT waiting_here integer,
	OUT flushing integer,
	OUT dropped bigint,
	OUT dropped_unreported bigint)
RETURNS record
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_risk_decision_buffer';
COMMENT ON FUNCTION finsec.risk_decision_buffer() IS
	'the risk decision buffer: size, decisions waiting (all databases, this one), being flushed, dropped because it was full since the server started, dropped here and not yet reported';
REVOKE ALL ON FUNCTION finsec.risk_decision_buffer() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_decision_buffer() TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * The finsec.status() row of a shared-memory event buffer
 * (src/common/eventring.c): ok while nothing was dropped and, in a database
 * without a sealer, nothing waits.  "what" names the events, "done" what a
 * flush does to them, "sealer" what the sealer does.
 */
CREATE FUNCTION finsec._status_event_buffer(
	name text, capacity integer, waiting integer, waiting_here integer, dropped bigint,
	what text, done text, sealer text, setting text, flush text, unpreloaded text,
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT name,
		   capacity IS NOT NULL AND dropped = 0 AND (s.listed OR waiting_here = 0),
		   CASE WHEN capacity IS NULL
				THEN unpreloaded
				ELSE format('%s %s of this database waiting to be %s, %s of all databases in a buffer of %s',
							waiting_here, what, done, waiting, capacity)
					 || CASE WHEN dropped > 0
							 THEN format('; %s dropped since the server started because the buffer was full: raise %s',
										 dropped, setting)
							 ELSE '' END
					 || CASE WHEN s.listed THEN '; the sealer ' || sealer
							 ELSE format('; no sealer for this database: run %s on a schedule', flush) END
		   END
	  FROM (SELECT current_database() = ANY (string_to_array(
					   replace(coalesce(current_setting('finsec.audit_seal_databases', true), ''), ' ', ''), ',')) AS listed) s
$$;
REVOKE ALL ON FUNCTION finsec._status_event_buffer(text, integer, integer, integer, bigint, text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec._status_event_buffer(text, integer, integer, integer, bigint, text, text, text, text, text, text)
	TO finsec_admin, finsec_auditor, finsec_operator;

CREATE OR REPLACE FUNCTION finsec.status_limit_refusals(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT s.*
	  FROM finsec.limit_refusal_buffer() b,
		   finsec._status_event_buffer('limit_refusals', b.capacity, b.waiting, b.waiting_here, b.dropped,
			   'refusal(s)', 'recorded', 'records them in finsec.limit_refusal', 'finsec.limit_refusal_buffer',
			   'finsec.flush_limit_refusals()',
			   'refusals are neither counted nor recorded without finsec in shared_preload_libraries') s
$$;

CREATE FUNCTION finsec.status_risk_decisions(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT s.component, s.ok,
		   s.detail
		   || CASE WHEN b.capacity IS NULL THEN ''
				   ELSE format('; %s daily partition(s)', p.parts)
						|| CASE WHEN p.today THEN ''
								ELSE ', none for today yet (decisions go to the default partition until finsec.risk_log_maintain() runs)' END
			  END
	  FROM finsec.risk_decision_buffer() b,
		   finsec._status_event_buffer('risk_decisions', b.capacity, b.waiting, b.waiting_here, b.dropped,
			   'risk decision(s)', 'logged', 'logs them in finsec.risk_decision_log', 'finsec.risk_decision_buffer',
			   'finsec.flush_risk_decisions()',
			   'risk decisions are neither scored nor logged without finsec in shared_preload_libraries') s,
		   (SELECT count(*) AS parts,
				   bool_or(c.relname = 'risk_decision_log_p' || to_char(now() AT TIME ZONE
						   coalesce(nullif(current_setting('finsec.risk_timezone', true), ''), 'Asia/Shanghai'), 'YYYYMMDD')) IS TRUE AS today
			  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			 WHERE i.inhparent = 'finsec.risk_decision_log'::regclass
			   AND c.relname ~ '^risk_decision_log_p[0-9]{8}$') p
$$;
COMMENT ON FUNCTION finsec.status_risk_decisions() IS
	'the risk decision log: decisions waiting in the shared buffer, drops, who flushes, daily partitions';
REVOKE ALL ON FUNCTION finsec.status_risk_decisions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_risk_decisions() TO finsec_admin, finsec_auditor, finsec_operator;

-- ---------------------------------------------------------------------
-- Rulesets as the model registry (001 8.3): drafts, content hash,
-- two-person deployment (change kinds risk.deploy and risk.retire).
-- ---------------------------------------------------------------------

/*
 * The content of a version, canonical (docs/risk-admin.md "Content hash"):
 * the text of one jsonb object
 *   {"format": 1,
 *    "thresholds": [challenge_at, review_at, block_at],
 *    "training": {"checksum", "rows", "data_at", "medium", "trained_by",
 *                 "started_at", "ended_at", "iterations", "script"},
 *    "rules": [[name, kind, params, weight, reason_code, category, mode], ...]}
 * rules ordered by name (byte order); numbers without trailing zeros
 * (40.0 is 40); times in UTC ("2026-01-01T00:00:00+00:00"), whatever the
 * session's TimeZone; jsonb's own key order and spacing.  The version
 * number is not part of it: a copy has the hash of its source until it is
 * edited.  Rule descriptions and the note are not either (comments).
 */
CREATE FUNCTION finsec.risk_ruleset_content(version bigint)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
	SELECT jsonb_build_object(
		'format', 1,
		'thresholds', jsonb_build_array(trim_scale(s.challenge_at), trim_scale(s.review_at), trim_scale(s.block_at)),
		'training', jsonb_build_object('checksum', s.training_checksum, 'rows', s.training_rows,
			'data_at', s.training_data_at, 'medium', s.training_medium, 'trained_by', s.trained_by,
			'started_at', s.training_started_at, 'ended_at', s.training_ended_at,
			'iterations', s.training_iterations, 'script', s.training_script),
		'rules', coalesce((SELECT jsonb_agg(jsonb_build_array(r.name, r.kind, r.params, trim_scale(r.weight),
																r.reason_code, r.category, r.mode)
											ORDER BY r.name COLLATE "C")
							 FROM finsec.risk_rule r WHERE r.ruleset_version = s.version), '[]'))::text
	  FROM finsec.risk_ruleset s WHERE s.version = $1
$$;
COMMENT ON FUNCTION finsec.risk_ruleset_content(bigint) IS
	'the canonical text of a ruleset version whose SHA-256 is its content hash (thresholds, training record, rules)';
REVOKE ALL ON FUNCTION finsec.risk_ruleset_content(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_ruleset_content(bigint) TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.risk_ruleset_hash(version bigint)
RETURNS bytea
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sha256(convert_to(finsec.risk_ruleset_content($1), 'UTF8')) $$;
COMMENT ON FUNCTION finsec.risk_ruleset_hash(bigint) IS
	'SHA-256 of a ruleset version''s canonical content (finsec.risk_ruleset_content): what deployment records and auditors recompute';
REVOKE ALL ON FUNCTION finsec.risk_ruleset_hash(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_ruleset_hash(bigint) TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * A version that left 'draft' never changes again, except active ->
 * retired; it is never deleted.  A draft becomes active only through
 * deployment (or a superuser's write), which records the content hash.
 */
CREATE FUNCTION finsec.risk_ruleset_guard()
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
			RAISE EXCEPTION 'a new risk ruleset is a draft' USING ERRCODE = 'object_not_in_prerequisite_state';
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
REVOKE ALL ON FUNCTION finsec.risk_ruleset_guard() FROM PUBLIC;
CREATE TRIGGER finsec_risk_ruleset_guard BEFORE INSERT OR UPDATE OR DELETE
	ON finsec.risk_ruleset FOR EACH ROW EXECUTE FUNCTION finsec.risk_ruleset_guard();

/* Thresholds a ruleset can decide with: numbers (not NaN), challenge <= review <= block. */
CREATE FUNCTION finsec._risk_thresholds_check(challenge_at numeric, review_at numeric, block_at numeric)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF challenge_at IS NULL OR review_at IS NULL OR block_at IS NULL
	   OR 'NaN' IN (challenge_at, review_at, block_at) OR challenge_at = '-Infinity' THEN
		RAISE EXCEPTION 'risk thresholds must be numbers'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'NULL, NaN and a challenge threshold of -Infinity are refused; Infinity means "never by score".';
	END IF;
	IF NOT (challenge_at <= review_at AND review_at <= block_at) THEN
		RAISE EXCEPTION 'risk thresholds must be in order: challenge_at (%) <= review_at (%) <= block_at (%)',
			challenge_at, review_at, block_at USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._risk_thresholds_check(numeric, numeric, numeric) FROM PUBLIC;

CREATE FUNCTION finsec.risk_ruleset_create(note text DEFAULT NULL, challenge_at numeric DEFAULT 40,
	review_at numeric DEFAULT 70, block_at numeric DEFAULT 100)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v bigint;
BEGIN
	PERFORM finsec._risk_thresholds_check(challenge_at, review_at, block_at);
	-- versions are numbered after the highest so far (a superuser may have written one by hand)
	LOCK TABLE finsec.risk_ruleset IN SHARE ROW EXCLUSIVE MODE;
	INSERT INTO finsec.risk_ruleset (version, note, challenge_at, review_at, block_at, created_by)
	SELECT coalesce(max(s.version), 0) + 1, $1, $2, $3, $4, session_user FROM finsec.risk_ruleset s
	RETURNING version INTO v;
	PERFORM finsec.audit_event('risk.ruleset_create', 'risk_ruleset:' || v, 'insert', true,
		format('draft risk ruleset %s created', v),
		jsonb_build_object('version', v, 'thresholds', jsonb_build_array($2, $3, $4)));
	RETURN v;
END
$$;
COMMENT ON FUNCTION finsec.risk_ruleset_create(text, numeric, numeric, numeric) IS
	'a new, empty draft ruleset (decision thresholds: challenge, review, block); returns its version';
REVOKE ALL ON FUNCTION finsec.risk_ruleset_create(text, numeric, numeric, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_ruleset_create(text, numeric, numeric, numeric) TO finsec_admin;

CREATE FUNCTION finsec.risk_ruleset_copy(from_version bigint, note text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v bigint;
BEGIN
	LOCK TABLE finsec.risk_ruleset IN SHARE ROW EXCLUSIVE MODE;
	INSERT INTO finsec.risk_ruleset (version, note, challenge_at, review_at, block_at, created_by, training_checksum,
		training_rows, training_data_at, training_medium, trained_by, training_started_at, training_ended_at,
		training_iterations, training_script)
	SELECT (SELECT max(version) + 1 FROM finsec.risk_ruleset), coalesce($2, s.note), s.challenge_at, s.review_at, s.block_at, session_user, s.training_checksum,
		   s.training_rows, s.training_data_at, s.training_medium, s.trained_by, s.training_started_at,
		   s.training_ended_at, s.training_iterations, s.training_script
	  FROM finsec.risk_ruleset s WHERE s.version = from_version
	RETURNING version INTO v;
	IF v IS NULL THEN
		RAISE EXCEPTION 'risk ruleset % does not exist', from_version USING ERRCODE = 'undefined_object';
	END IF;
	INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category, mode, description)
	SELECT v, r.name, r.kind, r.params, r.weight, r.reason_code, r.category, r.mode, r.description
	  FROM finsec.risk_rule r WHERE r.ruleset_version = from_version ORDER BY r.rule_id;
	PERFORM finsec.audit_event('risk.ruleset_create', 'risk_ruleset:' || v, 'insert', true,
		format('draft risk ruleset %s created as a copy of %s', v, from_version),
		jsonb_build_object('version', v, 'copy_of', from_version,
						   'copy_of_hash', encode(finsec.risk_ruleset_hash(from_version), 'hex')));
	RETURN v;
END
$$;
COMMENT ON FUNCTION finsec.risk_ruleset_copy(bigint, text) IS
	'a new draft with the rules, thresholds and training record of a version; returns its version';
REVOKE ALL ON FUNCTION finsec.risk_ruleset_copy(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_ruleset_copy(bigint, text) TO finsec_admin;

-- prepare: check the draft completely and pin its content hash.
CREATE FUNCTION finsec._risk_deploy_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v bigint;
	s finsec.risk_ruleset;
	r finsec.risk_rule;
	f jsonb;
	ref text;
BEGIN
	IF payload IS NULL OR jsonb_typeof(payload) <> 'object' OR (payload - 'note') <> '{}'::jsonb
	   OR jsonb_typeof(coalesce(payload->'note', '""')) <> 'string' THEN
		RAISE EXCEPTION 'the payload of a % request is {} or {"note": "..."}', kind
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF kind = 'risk.retire' THEN
		IF target <> 'active' THEN
			RAISE EXCEPTION 'the target of risk.retire is ''active''' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT * INTO s FROM finsec.risk_ruleset WHERE state = 'active';
		IF NOT FOUND THEN
			RAISE EXCEPTION 'no risk ruleset is active' USING ERRCODE = 'object_not_in_prerequisite_state';
		END IF;
		RETURN jsonb_build_object('version', s.version, 'note', payload->'note');
	END IF;
	IF target !~ '^[0-9]{1,18}$' THEN
		RAISE EXCEPTION 'the target of risk.deploy is a ruleset version number' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v := target::bigint;
	SELECT * INTO s FROM finsec.risk_ruleset WHERE version = v;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'risk ruleset % does not exist', v USING ERRCODE = 'undefined_object';
	END IF;
	IF s.state <> 'draft' THEN
		RAISE EXCEPTION 'risk ruleset % is % and cannot be deployed', v, s.state
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Copy it into a new draft with finsec.risk_ruleset_copy().';
	END IF;
	PERFORM finsec._risk_thresholds_check(s.challenge_at, s.review_at, s.block_at);
	IF NOT EXISTS (SELECT 1 FROM finsec.risk_rule WHERE ruleset_version = v AND mode <> 'off') THEN
		RAISE EXCEPTION 'risk ruleset % has no rule in effect', v USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	FOR r IN SELECT * FROM finsec.risk_rule WHERE ruleset_version = v LOOP
		PERFORM finsec._risk_check_rule(r.kind, r.params);
		IF r.kind = 'model' THEN
			FOR f IN SELECT e.value FROM jsonb_array_elements(r.params->'features') e LOOP
				ref := substring(f->>'feature' FROM '^(?:rule|fired):(.*)$');
				IF ref IS NOT NULL AND (ref = r.name OR NOT EXISTS (
					SELECT 1 FROM finsec.risk_rule o WHERE o.ruleset_version = v AND o.name = ref AND o.mode <> 'off')) THEN
					RAISE EXCEPTION 'model rule "%": feature "%" names no other rule in effect in ruleset %',
						r.name, f->>'feature', v USING ERRCODE = 'invalid_parameter_value';
				END IF;
			END LOOP;
		END IF;
	END LOOP;
	RETURN jsonb_build_object('version', v, 'content_hash', encode(finsec.risk_ruleset_hash(v), 'hex'),
							  'rules', (SELECT count(*) FROM finsec.risk_rule WHERE ruleset_version = v),
							  'note', payload->'note');
END
$$;
REVOKE ALL ON FUNCTION finsec._risk_deploy_prepare(text, text, jsonb) FROM PUBLIC;

-- apply: in the approver's transaction; the draft must be what was requested.
CREATE FUNCTION finsec._risk_deploy_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v bigint := (payload->>'version')::bigint;
	s finsec.risk_ruleset;
	old bigint;
	requester name;
BEGIN
	SELECT requested_by INTO requester FROM finsec.change_request cr WHERE cr.request_id = _risk_deploy_apply.request_id;
	SELECT version INTO old FROM finsec.risk_ruleset WHERE state = 'active' FOR UPDATE;
	IF kind = 'risk.retire' THEN
		IF old IS DISTINCT FROM v THEN
			RAISE EXCEPTION 'risk ruleset % is no longer the active one', v
				USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Reject this request.';
		END IF;
		UPDATE finsec.risk_ruleset SET state = 'retired', retired_at = now() WHERE version = v;
		RETURN jsonb_build_object('retired', v);
	END IF;
	SELECT * INTO s FROM finsec.risk_ruleset WHERE version = v FOR UPDATE;
	IF NOT FOUND OR s.state <> 'draft'
	   OR encode(finsec.risk_ruleset_hash(v), 'hex') IS DISTINCT FROM payload->>'content_hash' THEN
		RAISE EXCEPTION 'risk ruleset % changed after request % was filed', v, request_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Its content hash is no longer the one the request pinned.',
				  HINT = 'Reject this request and file a new one.';
	END IF;
	IF old IS NOT NULL THEN
		UPDATE finsec.risk_ruleset SET state = 'retired', retired_at = now() WHERE version = old;
	END IF;
	UPDATE finsec.risk_ruleset
	   SET state = 'active', deploy_request = request_id, requested_by = requester,
		   deployed_by = session_user, deployed_at = now()
	 WHERE version = v;
	RETURN jsonb_build_object('deployed', v, 'retired', old, 'content_hash', payload->>'content_hash');
END
$$;
REVOKE ALL ON FUNCTION finsec._risk_deploy_apply(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('risk.deploy', 'finsec._risk_deploy_prepare(text, text, jsonb)',
	 'finsec._risk_deploy_apply(bigint, text, text, jsonb)', NULL,
	 'deploy a draft risk ruleset, retiring the active one (target: version; the content hash is pinned at request)'),
	('risk.retire', 'finsec._risk_deploy_prepare(text, text, jsonb)',
	 'finsec._risk_deploy_apply(bigint, text, text, jsonb)', NULL,
	 'retire the active risk ruleset with no successor: decisions become degraded allows (target: ''active'')');

CREATE FUNCTION finsec.request_risk_deploy(version bigint, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT finsec.request_change('risk.deploy', $1::text, '{}', $2) $$;
COMMENT ON FUNCTION finsec.request_risk_deploy(bigint, text) IS
	'request deployment of a draft risk ruleset; another finsec_admin approves (finsec.approve)';
REVOKE ALL ON FUNCTION finsec.request_risk_deploy(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.request_risk_deploy(bigint, text) TO finsec_admin;

CREATE FUNCTION finsec.request_risk_retire(reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT finsec.request_change('risk.retire', 'active', '{}', $1) $$;
REVOKE ALL ON FUNCTION finsec.request_risk_retire(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.request_risk_retire(text) TO finsec_admin;

-- ---------------------------------------------------------------------
-- Lists (R3, R6): operators add and remove entries; every change audited,
-- phone numbers and card keys never written to the ledger.
-- ---------------------------------------------------------------------

/*
 * A phone number as lists, logs and sightings hold it: its digits, without
 * China's country code (+86 or 0086), as finsec.risk_score() compares it
 * (normalise_phone() in src/risk/score.c).
 */
CREATE FUNCTION finsec._risk_phone(phone text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN d LIKE '0086%' AND length(d) > 10 THEN substr(d, 5)
				WHEN d LIKE '86%' AND length(d) = 13 THEN substr(d, 3) ELSE d END
	  FROM regexp_replace($1, '[^0-9]', '', 'g') AS d
$$;
REVOKE ALL ON FUNCTION finsec._risk_phone(text) FROM PUBLIC;

/*
 * An entity value as lists and sightings hold it, checked: trimmed; an IP
 * as its canonical text (an address, or a CIDR range with no host bits);
 * a phone by finsec._risk_phone(); a card as its key.  Errors name the
 * entity type, never the value.
 */
CREATE FUNCTION finsec._risk_entity_value(entity_type text, value text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v text := btrim(value);
	n cidr;
BEGIN
	IF entity_type IS NULL OR entity_type NOT IN ('customer', 'account', 'card', 'device', 'ip', 'phone', 'merchant') THEN
		RAISE EXCEPTION 'entity types are customer, account, card, device, ip, phone or merchant'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v IS NULL OR v = '' THEN
		RAISE EXCEPTION 'a % needs a value', entity_type USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF entity_type = 'ip' THEN
		BEGIN
			n := v::cidr;
		EXCEPTION WHEN invalid_text_representation OR invalid_binary_representation THEN
			RAISE EXCEPTION 'an ip is an address or a CIDR range (with no bits right of the mask)'
				USING ERRCODE = 'invalid_parameter_value';
		END;
		-- a single address as risk_score() writes it, without /32 or /128
		v := CASE WHEN masklen(n) = CASE family(n) WHEN 4 THEN 32 ELSE 128 END THEN host(n) ELSE n::text END;
	ELSIF entity_type = 'phone' THEN
		v := finsec._risk_phone(v);
		IF v !~ '^[0-9]{5,20}$' THEN
			RAISE EXCEPTION 'a phone needs 5 to 20 digits' USING ERRCODE = 'invalid_parameter_value';
		END IF;
	ELSIF entity_type = 'card' AND v !~ '^v[0-9]{1,10}:[0-9a-f]{64}$' THEN
		RAISE EXCEPTION 'a card is named by its key, from finsec.risk_card_key(card)'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Lists take the card itself through finsec.risk_list_add_card().';
	END IF;
	IF length(v) > 200 THEN
		RAISE EXCEPTION 'a % value is at most 200 characters', entity_type USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN v;
END
$$;
REVOKE ALL ON FUNCTION finsec._risk_entity_value(text, text) FROM PUBLIC;

CREATE FUNCTION finsec.risk_list_add(color text, entity_type text, value text, side text DEFAULT 'any',
	expires_at timestamptz DEFAULT NULL, reason text DEFAULT NULL, case_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v text := btrim(value);
	n cidr;
	id bigint;
BEGIN
	IF color IS NULL OR entity_type IS NULL OR v IS NULL OR v = '' OR side IS NULL THEN
		RAISE EXCEPTION 'a list entry needs a color, an entity type, a value and a side' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF color NOT IN ('black', 'grey', 'white') THEN
		RAISE EXCEPTION 'list color must be black, grey or white' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF side NOT IN ('payer', 'payee', 'any') THEN
		RAISE EXCEPTION 'list side must be payer, payee or any' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF expires_at IS NOT NULL AND expires_at <= now() THEN
		RAISE EXCEPTION 'a list entry cannot expire in the past' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF case_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM finsec.risk_case k WHERE k.case_id = risk_list_add.case_id) THEN
		RAISE EXCEPTION 'risk case % does not exist', case_id USING ERRCODE = 'undefined_object';
	END IF;
	v := finsec._risk_entity_value(entity_type, v);
	IF entity_type = 'ip' THEN
		n := v::cidr;
		v := NULL;
	END IF;
	-- one adder of the same entry at a time, so that the duplicate check holds
	PERFORM pg_advisory_xact_lock(hashtext('finsec.risk_list_entry'),
								  hashtext(concat_ws(' ', color, entity_type, side, v, n)));
	SELECT e.entry_id INTO id FROM finsec.risk_list_entry e
	 WHERE e.removed_at IS NULL AND e.color = risk_list_add.color AND e.entity_type = risk_list_add.entity_type
	   AND e.side = risk_list_add.side AND e.value IS NOT DISTINCT FROM v AND e.net IS NOT DISTINCT FROM n
	   AND (e.expires_at IS NULL OR e.expires_at > now());
	IF FOUND THEN
		RAISE EXCEPTION 'the same entry is already listed (entry %)', id
			USING ERRCODE = 'unique_violation', HINT = 'Remove it first to change its expiry or reason.';
	END IF;
	INSERT INTO finsec.risk_list_entry (color, entity_type, value, net, side, expires_at, reason, case_id, added_by)
	VALUES (color, entity_type, v, n, side, expires_at, reason, case_id, session_user)
	RETURNING entry_id INTO id;
	PERFORM finsec.audit_event('risk.list_add', 'finsec.risk_list_entry', 'insert', true,
		format('%s list entry %s added: %s, side %s', color, id, entity_type, side),
		jsonb_build_object('entry_id', id, 'color', color, 'entity_type', entity_type, 'side', side,
						   'expires_at', expires_at, 'case_id', case_id, 'reason', reason,
						   'value', CASE WHEN entity_type IN ('phone', 'card') THEN NULL ELSE coalesce(v, n::text) END));
	RETURN id;
END
$$;
COMMENT ON FUNCTION finsec.risk_list_add(text, text, text, text, timestamptz, text, bigint) IS
	'put a customer, account, card key, device, IP or CIDR range, phone or merchant on the black, grey or white list (audited)';
REVOKE ALL ON FUNCTION finsec.risk_list_add(text, text, text, text, timestamptz, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_list_add(text, text, text, text, timestamptz, text, bigint) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.risk_list_add_card(color text, card finsec.bank_card, side text DEFAULT 'any',
	expires_at timestamptz DEFAULT NULL, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT finsec.risk_list_add($1, 'card', finsec.risk_card_key($2), $3, $4, $5) $$;
REVOKE ALL ON FUNCTION finsec.risk_list_add_card(text, finsec.bank_card, text, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_list_add_card(text, finsec.bank_card, text, timestamptz, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.risk_list_remove(entry_id bigint, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e finsec.risk_list_entry;
BEGIN
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'removing a list entry needs a reason' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	UPDATE finsec.risk_list_entry l SET removed_by = session_user, removed_at = now(),
		   removal_reason = risk_list_remove.reason
	 WHERE l.entry_id = risk_list_remove.entry_id AND l.removed_at IS NULL
	RETURNING * INTO e;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'list entry % does not exist or was already removed', entry_id USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM finsec.audit_event('risk.list_remove', 'finsec.risk_list_entry', 'update', true,
		format('%s list entry %s removed: %s', e.color, e.entry_id, e.entity_type),
		jsonb_build_object('entry_id', e.entry_id, 'reason', reason));
END
$$;
REVOKE ALL ON FUNCTION finsec.risk_list_remove(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_list_remove(bigint, text) TO finsec_admin, finsec_operator;

-- ---------------------------------------------------------------------
-- Cases (R1, R3, R7): review of logged decisions, closed with an outcome
-- that feeds the lists (JR/T 0199 5.3.3 a).
-- ---------------------------------------------------------------------
CREATE TABLE finsec.risk_case (
	case_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	decision_id bigint NOT NULL UNIQUE,
	decided_at timestamptz NOT NULL,
	decision text NOT NULL,
	state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'review', 'closed')),
	opened_by name NOT NULL,
	opened_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	assignee name,
	outcome text CHECK (outcome IN ('confirmed_fraud', 'false_positive', 'inconclusive', 'duplicate')),
	category text REFERENCES finsec.risk_category,
	closed_by name,
	closed_at timestamptz,
	entities jsonb NOT NULL,
	history jsonb NOT NULL DEFAULT '[]',
	CHECK ((state = 'closed') = (outcome IS NOT NULL))
);
COMMENT ON TABLE finsec.risk_case IS
	'investigations of logged risk decisions: open, review, close with an outcome; history of every step';
REVOKE ALL ON finsec.risk_case FROM PUBLIC;
GRANT SELECT ON finsec.risk_case TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_case', '');

CREATE FUNCTION finsec._risk_case_step(c bigint, action text, note text, extra jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE finsec.risk_case SET history = history || jsonb_build_array(
		jsonb_build_object('at', now(), 'by', session_user, 'action', action, 'note', note) || coalesce(extra, '{}'))
	 WHERE case_id = c;
	PERFORM finsec.audit_event('risk.case_' || action, 'risk_case:' || c, action, true, note, extra);
END
$$;
REVOKE ALL ON FUNCTION finsec._risk_case_step(bigint, text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec.risk_case_open(decision_id bigint, note text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d finsec.risk_decision_log;
	c bigint;
	cat text;
BEGIN
	IF decision_id IS NULL THEN
		RAISE EXCEPTION 'a case is opened on a decision id' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM finsec.flush_risk_decisions();
	SELECT * INTO d FROM finsec.risk_decision_log l WHERE l.decision_id = risk_case_open.decision_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'risk decision % is not in the decision log', decision_id USING ERRCODE = 'undefined_object';
	END IF;
	SELECT r.category INTO cat FROM finsec.risk_rule r WHERE r.rule_id = ANY (d.rules)
	 ORDER BY r.weight DESC, r.rule_id LIMIT 1;
	BEGIN
		INSERT INTO finsec.risk_case (decision_id, decided_at, decision, opened_by, category, entities)
		VALUES (d.decision_id, d.decided_at, d.decision, session_user, cat, jsonb_strip_nulls(jsonb_build_object(
			'customer', d.customer, 'account', d.account, 'counterparty', d.counterparty, 'device', d.device,
			'ip', d.ip, 'phone', d.phone, 'merchant', d.merchant, 'card', d.card_key)))
		RETURNING case_id INTO c;
	EXCEPTION WHEN unique_violation THEN
		RAISE EXCEPTION 'risk decision % already has a case', decision_id USING ERRCODE = 'unique_violation';
	END;
	PERFORM finsec._risk_case_step(c, 'open', note, jsonb_build_object('decision_id', decision_id));
	RETURN c;
END
$$;
COMMENT ON FUNCTION finsec.risk_case_open(bigint, text) IS 'open a case on a logged risk decision; returns the case id';
REVOKE ALL ON FUNCTION finsec.risk_case_open(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_case_open(bigint, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec._risk_case_get(c bigint)
RETURNS finsec.risk_case
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k finsec.risk_case;
BEGIN
	SELECT * INTO k FROM finsec.risk_case WHERE case_id = c FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'risk case % does not exist', c USING ERRCODE = 'undefined_object';
	END IF;
	IF k.state = 'closed' THEN
		RAISE EXCEPTION 'risk case % is closed', c USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	RETURN k;
END
$$;
REVOKE ALL ON FUNCTION finsec._risk_case_get(bigint) FROM PUBLIC;

CREATE FUNCTION finsec.risk_case_review(case_id bigint, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM finsec._risk_case_get(case_id);
	UPDATE finsec.risk_case k SET state = 'review', assignee = session_user WHERE k.case_id = risk_case_review.case_id;
	PERFORM finsec._risk_case_step(case_id, 'review', note);
END
$$;
REVOKE ALL ON FUNCTION finsec.risk_case_review(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_case_review(bigint, text) TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec.risk_case_note(case_id bigint, note text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM finsec._risk_case_get(case_id);
	PERFORM finsec._risk_case_step(case_id, 'note', note);
END
$$;
REVOKE ALL ON FUNCTION finsec.risk_case_note(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_case_note(bigint, text) TO finsec_admin, finsec_operator;

/*
 * The active black and grey entries that match an entity value of a
 * logged decision: the same value of the same type (a counterparty is an
 * account), any range holding an IP, and for a value the log recorded
 * only as "sha256:<56 hex>" (longer than the log keeps), the entries whose
 * value hashes to it.
 */
CREATE FUNCTION finsec._risk_matching_entries(entity text, val text)
RETURNS SETOF bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	typ text := CASE entity WHEN 'counterparty' THEN 'account' ELSE entity END;
BEGIN
	IF typ = 'ip' THEN
		RETURN QUERY SELECT l.entry_id FROM finsec.risk_list_entry l
					  WHERE l.removed_at IS NULL AND l.color IN ('black', 'grey') AND l.entity_type = 'ip'
						AND l.net >>= val::inet ORDER BY l.entry_id;
	ELSIF val ~ '^sha256:[0-9a-f]{56}$' THEN
		RETURN QUERY SELECT l.entry_id FROM finsec.risk_list_entry l
					  WHERE l.removed_at IS NULL AND l.color IN ('black', 'grey') AND l.entity_type = typ
						AND octet_length(l.value) >= 63
						AND 'sha256:' || left(encode(sha256(convert_to(l.value, 'UTF8')), 'hex'), 56) = val
					  ORDER BY l.entry_id;
	ELSE
		RETURN QUERY SELECT l.entry_id FROM finsec.risk_list_entry l
					  WHERE l.removed_at IS NULL AND l.color IN ('black', 'grey') AND l.entity_type = typ
						AND l.value = val ORDER BY l.entry_id;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._risk_matching_entries(text, text) FROM PUBLIC;

/*
 * Close a case.  confirmed_fraud puts the decision's entities of the kinds
 * named in list_entities on the black (or grey) list, tagged with the case
 * (negative samples, 5.3.3 a); an entity already on that list is left as
 * it is, one the log kept only as a hash cannot be listed: both are named
 * in the result.  false_positive removes every active black or grey entry
 * matching the decision's entities, restoring the customer's ability to
 * pay, and with list_color 'white' also white-lists the customer.  Every
 * entry added or removed is named in the case history; whoever opened and
 * whoever closed the case are both recorded.
 */
CREATE FUNCTION finsec.risk_case_close(case_id bigint, outcome text, note text DEFAULT NULL,
	list_color text DEFAULT 'black', list_entities text[] DEFAULT '{device,ip,phone,card}',
	list_days integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k finsec.risk_case;
	e text;
	typ text;
	sd text;
	val text;
	id bigint;
	added bigint[] := '{}';
	removed bigint[] := '{}';
	kept bigint[] := '{}';
	unlisted text[] := '{}';
	ent record;
	expires timestamptz := CASE WHEN list_days IS NOT NULL THEN now() + list_days * interval '1 day' END;
	result jsonb;
BEGIN
	k := finsec._risk_case_get(case_id);
	IF outcome IS NULL OR outcome NOT IN ('confirmed_fraud', 'false_positive', 'inconclusive', 'duplicate') THEN
		RAISE EXCEPTION 'case outcome must be confirmed_fraud, false_positive, inconclusive or duplicate'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF list_days IS NOT NULL AND list_days < 1 THEN
		RAISE EXCEPTION 'list_days must be positive' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF outcome = 'confirmed_fraud' THEN
		IF list_color IS NULL OR list_color NOT IN ('black', 'grey') THEN
			RAISE EXCEPTION 'a confirmed fraud lists its entities black or grey' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOREACH e IN ARRAY coalesce(list_entities, '{}') LOOP
			IF e IS NULL OR e NOT IN ('customer', 'account', 'counterparty', 'device', 'ip', 'phone', 'merchant', 'card') THEN
				RAISE EXCEPTION 'unknown entity kind "%" in list_entities', e USING ERRCODE = 'invalid_parameter_value';
			END IF;
			val := k.entities->>e;
			CONTINUE WHEN val IS NULL;
			IF val ~ '^sha256:[0-9a-f]{56}$' THEN
				unlisted := unlisted || e;
				CONTINUE;
			END IF;
			typ := CASE e WHEN 'counterparty' THEN 'account' ELSE e END;
			sd := CASE WHEN e IN ('counterparty', 'merchant') THEN 'payee' ELSE 'any' END;
			SELECT l.entry_id INTO id FROM finsec.risk_list_entry l
			 WHERE l.removed_at IS NULL AND l.color = list_color AND l.entity_type = typ AND l.side = sd
			   AND CASE WHEN typ = 'ip' THEN l.net = val::cidr ELSE l.value = val END
			   AND (l.expires_at IS NULL OR l.expires_at > now())
			 ORDER BY l.entry_id LIMIT 1;
			IF FOUND THEN
				kept := kept || id;
				CONTINUE;
			END IF;
			added := added || finsec.risk_list_add(list_color, typ, val, sd, expires,
												   format('case %s: confirmed fraud', k.case_id), k.case_id);
		END LOOP;
	ELSIF outcome = 'false_positive' THEN
		IF list_color IS NULL OR list_color NOT IN ('black', 'white') THEN
			RAISE EXCEPTION 'a false positive white-lists the customer (list_color ''white'') or lists nothing (''black'', the default)'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOR ent IN SELECT j.key, j.value FROM jsonb_each_text(k.entities) j ORDER BY j.key LOOP
			FOR id IN SELECT m FROM finsec._risk_matching_entries(ent.key, ent.value) m LOOP
				CONTINUE WHEN id = ANY (removed);
				PERFORM finsec.risk_list_remove(id, format('case %s: false positive', k.case_id));
				removed := removed || id;
			END LOOP;
		END LOOP;
		IF list_color = 'white' AND k.entities ? 'customer' THEN
			IF k.entities->>'customer' ~ '^sha256:[0-9a-f]{56}$' THEN
				unlisted := unlisted || 'customer'::text;
			ELSE
				SELECT l.entry_id INTO id FROM finsec.risk_list_entry l
				 WHERE l.removed_at IS NULL AND l.color = 'white' AND l.entity_type = 'customer' AND l.side = 'any'
				   AND l.value = k.entities->>'customer' AND (l.expires_at IS NULL OR l.expires_at > now())
				 ORDER BY l.entry_id LIMIT 1;
				IF FOUND THEN
					kept := kept || id;
				ELSE
					added := added || finsec.risk_list_add('white', 'customer', k.entities->>'customer', 'any', expires,
														   format('case %s: false positive', k.case_id), k.case_id);
				END IF;
			END IF;
		END IF;
	END IF;
	UPDATE finsec.risk_case c SET state = 'closed', outcome = risk_case_close.outcome, closed_by = session_user,
		   closed_at = now()
	 WHERE c.case_id = k.case_id;
	result := jsonb_build_object('outcome', outcome, 'opened_by', k.opened_by, 'entries_added', to_jsonb(added),
								 'entries_removed', to_jsonb(removed), 'entries_already_listed', to_jsonb(kept),
								 'not_listed_hashed', to_jsonb(unlisted));
	PERFORM finsec._risk_case_step(k.case_id, 'close', note, result);
	RETURN jsonb_build_object('case_id', k.case_id) || result;
END
$$;
REVOKE ALL ON FUNCTION finsec.risk_case_close(bigint, text, text, text, text[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_case_close(bigint, text, text, text, text[], integer) TO finsec_admin, finsec_operator;

-- Risk events of a period (JR/T 0122 6.2.4.5): decisions and cases per category.
CREATE FUNCTION finsec.risk_report(from_time timestamptz, to_time timestamptz,
	OUT category text, OUT decision text, OUT decisions bigint, OUT cases bigint,
	OUT confirmed_fraud bigint, OUT false_positive bigint, OUT inconclusive bigint, OUT duplicate bigint,
	OUT open_cases bigint)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	WITH d AS (
		SELECT l.decision_id, l.decision,
			   coalesce((SELECT r.category FROM finsec.risk_rule r WHERE r.rule_id = ANY (l.rules)
						  ORDER BY r.weight DESC, r.rule_id LIMIT 1), '(none)') AS category
		  FROM finsec.risk_decision_log l
		 WHERE l.decided_at >= $1 AND l.decided_at < $2)
	SELECT d.category, d.decision, count(*), count(c.case_id),
		   count(*) FILTER (WHERE c.outcome = 'confirmed_fraud'),
		   count(*) FILTER (WHERE c.outcome = 'false_positive'),
		   count(*) FILTER (WHERE c.outcome = 'inconclusive'),
		   count(*) FILTER (WHERE c.outcome = 'duplicate'),
		   count(*) FILTER (WHERE c.state <> 'closed')
	  FROM d LEFT JOIN finsec.risk_case c ON c.decision_id = d.decision_id
	 GROUP BY 1, 2 ORDER BY 1, 2
$$;
COMMENT ON FUNCTION finsec.risk_report(timestamptz, timestamptz) IS
	'risk events of a period: logged decisions per category (of their weightiest rule) and decision, with their cases and outcomes';
REVOKE ALL ON FUNCTION finsec.risk_report(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.risk_report(timestamptz, timestamptz) TO finsec_admin, finsec_auditor, finsec_operator;

-- ---------------------------------------------------------------------
-- Sightings and link analysis (R4; JR/T 0199 5.3.3 b, 11.3.3 b).
-- ---------------------------------------------------------------------
CREATE TABLE finsec.risk_sighting (
	sighting_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	entity_type text NOT NULL CHECK (entity_type IN ('customer', 'account', 'card', 'device', 'ip', 'phone', 'merchant')),
	value text NOT NULL,
	other_type text NOT NULL CHECK (other_type IN ('customer', 'account', 'card', 'device', 'ip', 'phone', 'merchant')),
	other_value text NOT NULL,
	seen_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX risk_sighting_one ON finsec.risk_sighting (entity_type, value);
CREATE INDEX risk_sighting_other ON finsec.risk_sighting (other_type, other_value);
COMMENT ON TABLE finsec.risk_sighting IS
	'entities seen together outside payments (a login from a device and IP, a phone bound to an account): edges for finsec.linked_entities()';
REVOKE ALL ON finsec.risk_sighting FROM PUBLIC;
GRANT SELECT ON finsec.risk_sighting TO finsec_admin, finsec_auditor, finsec_operator;
SELECT pg_catalog.pg_extension_config_dump('finsec.risk_sighting', '');

CREATE FUNCTION finsec.record_sighting(entity_type text, value text, other_type text, other_value text,
	seen_at timestamptz DEFAULT now())
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF seen_at IS NULL OR NOT isfinite(seen_at) THEN
		RAISE EXCEPTION 'a sighting needs a finite time' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- values as lists hold them (IP text, phone digits, card key), so that they meet payments and lists
	INSERT INTO finsec.risk_sighting (entity_type, value, other_type, other_value, seen_at)
	VALUES (entity_type, finsec._risk_entity_value(entity_type, value),
			other_type, finsec._risk_entity_value(other_type, other_value), seen_at);
END
$$;
COMMENT ON FUNCTION finsec.record_sighting(text, text, text, text, timestamptz) IS
	'record two entities seen together outside a payment (a login: customer with device and IP), for finsec.linked_entities()';
REVOKE ALL ON FUNCTION finsec.record_sighting(text, text, text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.record_sighting(text, text, text, text, timestamptz) TO finsec_app, finsec_operator;

/*
 * Entities connected to one through payments of the registered tables (a
 * payment links its customer with its account, counterparty (an account),
 * device, IP, phone, merchant and card key) and through sightings,
 * breadth first up to depth hops.  links counts the payments or sightings
 * joining the entity to the one it was reached through.  At most
 * max_entities rows; when the cap stops the walk, every row says
 * truncated.  Values are read from each table with its registered
 * columns, identifiers quoted, the value as a parameter; a value that
 * cannot be of a column's type is simply not in that column.
 */
CREATE FUNCTION finsec.linked_entities(start_type text, start_value text, depth integer DEFAULT 2,
	max_entities integer DEFAULT 1000)
RETURNS TABLE (entity_type text, value text, distance integer, via_type text, via_value text,
			   links bigint, truncated boolean)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ft text[];				-- frontier: types, values, and a card value of a bank_card column when known
	fv text[];
	fc finsec.bank_card[];
	nt text[];
	nv text[];
	nc finsec.bank_card[];
	st text[];				-- neighbours of one node: type, value, links, card value
	sv text[];
	sn bigint[];
	sc finsec.bank_card[];
	rt text[] := '{}'; rv text[] := '{}'; rd integer[] := '{}'; rvt text[] := '{}'; rvv text[] := '{}'; rn bigint[] := '{}';
	rk text[] := '{}';		-- type:value of every result row, to add up links found twice
	seen text[];
	cut boolean := false;
	d integer;
	i integer;
	j integer;
	m record;
	c record;
	x record;
	cust_type text;
	col_type regtype;
	key text;
	q text;
	card finsec.bank_card;
BEGIN
	IF depth IS NULL OR depth < 1 OR depth > 6 OR max_entities IS NULL OR max_entities < 1 THEN
		RAISE EXCEPTION 'depth must be 1 to 6 and max_entities positive' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	ft := ARRAY[start_type];
	fv := ARRAY[finsec._risk_entity_value(start_type, start_value)];
	fc := ARRAY[NULL::finsec.bank_card];
	seen := ARRAY[ft[1] || ':' || fv[1]];
	<<walk>>
	FOR d IN 1..depth LOOP
		nt := '{}'; nv := '{}'; nc := '{}';
		FOR i IN 1..coalesce(array_length(ft, 1), 0) LOOP
			-- the neighbours of this node, from sightings in both directions, then payments
			SELECT coalesce(array_agg(u.t), '{}'), coalesce(array_agg(u.v), '{}'), coalesce(array_agg(u.n), '{}'),
				   coalesce(array_agg(NULL::finsec.bank_card), '{}')
			  INTO st, sv, sn, sc
			  FROM (SELECT s.other_type AS t, s.other_value AS v, count(*) AS n FROM finsec.risk_sighting s
					 WHERE s.entity_type = ft[i] AND s.value = fv[i] GROUP BY 1, 2
					UNION ALL
					SELECT s.entity_type, s.value, count(*) FROM finsec.risk_sighting s
					 WHERE s.other_type = ft[i] AND s.other_value = fv[i] GROUP BY 1, 2) u;
			-- payments of every registered table that still exists
			FOR m IN SELECT t.* FROM finsec.risk_table t
					  WHERE EXISTS (SELECT 1 FROM pg_class pc WHERE pc.oid = t.relid) ORDER BY t.relid::oid LOOP
				SELECT a.atttypid::regtype INTO col_type FROM pg_attribute a
				 WHERE a.attrelid = m.relid AND a.attname = m.customer_column AND NOT a.attisdropped;
				cust_type := format_type(col_type, NULL);
				FOR c IN SELECT p.t, p.col, a.atttypid::regtype AS typ
						   FROM (VALUES (1, 'account', m.account_column), (2, 'account', m.counterparty_column),
										(3, 'device', m.device_column), (4, 'ip', m.ip_column), (5, 'phone', m.phone_column),
										(6, 'merchant', m.merchant_column), (7, 'card', m.card_column)) AS p(o, t, col)
						   JOIN pg_attribute a ON a.attrelid = m.relid AND a.attname = p.col AND NOT a.attisdropped
						  ORDER BY p.o LOOP
					IF ft[i] = 'customer' THEN
						-- customer -> the values of column c in the customer's payments
						q := format('SELECT %s AS v, count(*) AS n, %s AS card FROM %s WHERE %I = CAST($1 AS %s) AND %I IS NOT NULL GROUP BY 1',
									CASE WHEN c.typ IN ('inet'::regtype, 'cidr'::regtype)
										 THEN format('CASE WHEN pg_catalog.masklen(%1$I) = CASE pg_catalog.family(%1$I) WHEN 4 THEN 32 ELSE 128 END '
													 'THEN pg_catalog.host(%1$I) ELSE pg_catalog.text(%1$I) END', c.col)
										 WHEN c.t = 'card' AND c.typ = 'finsec.bank_card'::regtype
										 THEN format('finsec.risk_card_key(%I)', c.col)
										 WHEN c.t = 'phone' THEN format('finsec._risk_phone(%I::text)', c.col)
										 ELSE format('%I::text', c.col) END,
									CASE WHEN c.typ = 'finsec.bank_card'::regtype
										 THEN format('(pg_catalog.array_agg(%I))[1]', c.col) ELSE 'NULL::finsec.bank_card' END,
									m.relid, m.customer_column, cust_type, c.col);
						BEGIN
							FOR x IN EXECUTE q USING fv[i] LOOP
								st := st || c.t; sv := sv || x.v; sn := sn || x.n; sc := sc || x.card;
							END LOOP;
						EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range
									   OR invalid_datetime_format OR datetime_field_overflow THEN
							NULL;	-- the value cannot be a customer of this table
						END;
					ELSIF ft[i] = c.t THEN
						-- value -> the customers whose payments carry it in column c
						card := NULL;
						IF c.typ = 'finsec.bank_card'::regtype THEN
							card := fc[i];
							IF card IS NULL THEN
								-- a card key not reached through this table's payments: find one payment with it
								-- (a scan; see docs/risk-admin.md)
								EXECUTE format('SELECT %1$I FROM %2$s WHERE finsec.risk_card_key(%1$I) = $1 LIMIT 1', c.col, m.relid)
									INTO card USING fv[i];
								CONTINUE WHEN card IS NULL;
								fc[i] := card;
							END IF;
							q := format('SELECT %I::text AS v, count(*) AS n FROM %s WHERE %I = $2 GROUP BY 1',
										m.customer_column, m.relid, c.col);
						ELSE
							q := format('SELECT %I::text AS v, count(*) AS n FROM %s WHERE %I = CAST($1 AS %s) GROUP BY 1',
										m.customer_column, m.relid, c.col, format_type(c.typ, NULL));
						END IF;
						BEGIN
							FOR x IN EXECUTE q USING fv[i], card LOOP
								st := st || 'customer'::text; sv := sv || x.v; sn := sn || x.n; sc := sc || NULL::finsec.bank_card;
							END LOOP;
						EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range
									   OR invalid_datetime_format OR datetime_field_overflow THEN
							NULL;	-- the value cannot be in this column
						END;
					END IF;
				END LOOP;
			END LOOP;
			FOR x IN SELECT s.t, s.v, sum(s.n)::bigint AS n, (array_agg(s.card) FILTER (WHERE s.card IS NOT NULL))[1] AS card
					   FROM unnest(st, sv, sn, sc) AS s(t, v, n, card) GROUP BY 1, 2 ORDER BY 1, 2 LOOP
				key := x.t || ':' || x.v;
				IF key = ANY (seen) THEN
					-- found again from the same node at the same distance: more links
					j := array_position(rk, key);
					IF j IS NOT NULL AND rd[j] = d AND rvt[j] = ft[i] AND rvv[j] = fv[i] THEN
						rn[j] := rn[j] + x.n;
					END IF;
					CONTINUE;
				END IF;
				IF coalesce(array_length(rt, 1), 0) >= max_entities THEN
					cut := true;
					EXIT walk;
				END IF;
				seen := seen || key;
				rk := rk || key;
				rt := rt || x.t; rv := rv || x.v; rd := rd || d; rvt := rvt || ft[i]; rvv := rvv || fv[i]; rn := rn || x.n;
				nt := nt || x.t; nv := nv || x.v; nc := nc || x.card;
			END LOOP;
		END LOOP;
		ft := nt; fv := nv; fc := nc;
		EXIT WHEN coalesce(array_length(ft, 1), 0) = 0;
	END LOOP;
	RETURN QUERY SELECT u.t, u.v, u.d, u.vt, u.vv, u.n, cut
				   FROM unnest(rt, rv, rd, rvt, rvv, rn) AS u(t, v, d, vt, vv, n)
				  ORDER BY u.d, u.t, u.v;
END
$$;
COMMENT ON FUNCTION finsec.linked_entities(text, text, integer, integer) IS
	'accounts, devices, IPs, phones, merchants and customers connected to an entity through payments and sightings, up to depth hops';
REVOKE ALL ON FUNCTION finsec.linked_entities(text, text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.linked_entities(text, text, integer, integer) TO finsec_admin, finsec_auditor, finsec_operator;
