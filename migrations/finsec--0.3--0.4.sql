/* finsec 0.3 -> 0.4 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '0.4'" to load this file. \quit

/* Keyring with two-person control, and message
 * security: MACs, signatures, replay and duplicate-payment guards, one-time
 * codes.
 *
 * Requirements D5, D7, A7, M1-M4, M6, M7 (docs/keyring.md, docs/mac.md,
 * docs/signatures.md, docs/guards.md).
 */

-- =====================================================================
-- Keyring and two-person approvals (src/keyring)
-- =====================================================================

/*
 * ---- Two-person approval of changes (A7) ----------------------------------
 *
 * A general facility: a capability registers a kind of change with the
 * functions that check a request (prepare), carry it out (apply) and clean
 * up after a request that will never be carried out (discard).  One
 * finsec_admin requests; a different one approves; only then does apply
 * run, in the approver's transaction.  Identities are login identities
 * (session_user): SET ROLE cannot turn one person into two, and two roles
 * of which one can act as the other (membership either way, which includes
 * superusers) are one person for this purpose.
 */
CREATE TABLE finsec.change_kind (
	kind		text PRIMARY KEY CHECK (kind ~ '^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$'),
	prepare		regprocedure,
	apply		regprocedure NOT NULL,
	discard		regprocedure,
	description	text NOT NULL
);
COMMENT ON TABLE finsec.change_kind IS
	'finsec: kinds of change that need two-person approval, and the functions that check, apply and discard them';
REVOKE ALL ON TABLE finsec.change_kind FROM PUBLIC;
GRANT SELECT ON TABLE finsec.change_kind TO finsec_admin, finsec_auditor;

CREATE SEQUENCE finsec.change_request_id_seq AS bigint;
CREATE TABLE finsec.change_request (
	request_id		bigint NOT NULL DEFAULT nextval('finsec.change_request_id_seq') PRIMARY KEY,
	kind			text NOT NULL REFERENCES finsec.change_kind,
	target			text NOT NULL,
	payload			jsonb NOT NULL DEFAULT '{}',
	reason			text,
	state			text NOT NULL DEFAULT 'pending'
					CHECK (state IN ('pending', 'applied', 'rejected', 'cancelled', 'expired')),
	requested_by	name NOT NULL,
	requested_at	timestamptz NOT NULL DEFAULT now(),
	expires_at		timestamptz NOT NULL,
	decided_by		name,
	decided_at		timestamptz,
	note			text,
	result			jsonb,
	CHECK ((state = 'pending') = (decided_at IS NULL))
);
ALTER SEQUENCE finsec.change_request_id_seq OWNED BY finsec.change_request.request_id;
CREATE INDEX change_request_pending_idx ON finsec.change_request (expires_at) WHERE state = 'pending';
COMMENT ON TABLE finsec.change_request IS
	'finsec: requested critical changes and their two-person decisions (docs/keyring.md)';
REVOKE ALL ON TABLE finsec.change_request FROM PUBLIC;
REVOKE ALL ON SEQUENCE finsec.change_request_id_seq FROM PUBLIC;
GRANT SELECT ON TABLE finsec.change_request TO finsec_admin, finsec_auditor;
SELECT pg_catalog.pg_extension_config_dump('finsec.change_request', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.change_request_id_seq', '');

-- Who may act: a login role that is a member of finsec_admin.
CREATE FUNCTION finsec._require_admin(action text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT pg_has_role(session_user, 'finsec_admin', 'MEMBER') THEN
		RAISE EXCEPTION 'permission denied to % a change', action
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = format('Role %I is not a member of finsec_admin.', session_user),
				  HINT = 'Two-person control: requests and approvals come from administrators logged in as themselves.';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._require_admin(text) FROM PUBLIC;

-- Mark pending requests whose time has passed as expired, and discard them.
CREATE FUNCTION finsec.expire_requests()
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r record;
	n integer := 0;
BEGIN
	FOR r IN
		UPDATE finsec.change_request cr
		   SET state = 'expired', decided_at = now(), note = 'not approved in time'
		 WHERE cr.state = 'pending' AND cr.expires_at <= now()
		RETURNING cr.*
	LOOP
		PERFORM finsec._discard_request(r.request_id, r.kind, r.target, r.payload);
		PERFORM finsec.audit_event('change.expire', r.kind || ':' || r.target, 'expire', true,
								   'change request expired without approval',
								   jsonb_build_object('request_id', r.request_id,
													  'requested_by', r.requested_by),
								   r.requested_by);
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION finsec.expire_requests() IS
	'expire pending change requests past their time (also done by every request, approval and rejection)';
REVOKE ALL ON FUNCTION finsec.expire_requests() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.expire_requests() TO finsec_admin, finsec_operator;

CREATE FUNCTION finsec._discard_request(request_id bigint, kind text, target text, payload jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	fn regprocedure;
BEGIN
	SELECT ck.discard INTO fn FROM finsec.change_kind ck WHERE ck.kind = _discard_request.kind;
	IF fn IS NOT NULL THEN
		EXECUTE format('SELECT %s($1, $2, $3, $4)', fn::regproc)
			USING request_id, kind, target, payload;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._discard_request(bigint, text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION finsec.request_change(
	kind text,
	target text,
	payload jsonb DEFAULT '{}',
	reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k finsec.change_kind;
	id bigint;
	p jsonb := coalesce(payload, '{}');
BEGIN
	PERFORM finsec._require_admin('request');
	IF kind IS NULL OR target IS NULL THEN
		RAISE EXCEPTION 'kind and target of a change request must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO k FROM finsec.change_kind ck WHERE ck.kind = request_change.kind;
	IF NOT FOUND THEN
		RAISE EXCEPTION '"%" is not a kind of change finsec knows', kind
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'finsec.change_kind lists them.';
	END IF;
	PERFORM finsec.expire_requests();
	IF k.prepare IS NOT NULL THEN
		EXECUTE format('SELECT %s($1, $2, $3)', k.prepare::regproc)
			INTO p USING kind, target, p;
	END IF;
	INSERT INTO finsec.change_request (kind, target, payload, reason, requested_by, expires_at)
	VALUES (kind, target, p, reason, session_user,
			now() + current_setting('finsec.approval_timeout')::interval)
	RETURNING request_id INTO id;
	PERFORM finsec.audit_event('change.request', kind || ':' || target, 'request', true, reason,
							   jsonb_build_object('request_id', id, 'payload', p), session_user);
	RETURN id;
END
$$;
COMMENT ON FUNCTION finsec.request_change(text, text, jsonb, text) IS
	'request a critical change; it takes effect when a different finsec_admin approves it (finsec.approve)';
REVOKE ALL ON FUNCTION finsec.request_change(text, text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.request_change(text, text, jsonb, text) TO finsec_admin;

CREATE FUNCTION finsec.approve(request_id bigint, note text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r finsec.change_request;
	k finsec.change_kind;
	res jsonb;
BEGIN
	PERFORM finsec._require_admin('approve');
	PERFORM finsec.expire_requests();
	SELECT * INTO r FROM finsec.change_request cr WHERE cr.request_id = approve.request_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'change request % does not exist', request_id
			USING ERRCODE = 'undefined_object';
	END IF;
	IF r.state = 'expired' OR (r.state = 'pending' AND r.expires_at <= now()) THEN
		RAISE EXCEPTION 'change request % has expired', request_id
			USING ERRCODE = 'S9R02',
				  DETAIL = 'It was not approved within finsec.approval_timeout of being requested.',
				  HINT = 'File the request again.';
	END IF;
	IF r.state <> 'pending' THEN
		RAISE EXCEPTION 'change request % is %, not pending', request_id, r.state
			USING ERRCODE = 'S9R03';
	END IF;
	IF r.requested_by = session_user THEN
		RAISE EXCEPTION 'change request % cannot be approved by the role that requested it', request_id
			USING ERRCODE = 'S9R01',
				  HINT = 'Two-person control: another member of finsec_admin must approve.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.requested_by)
	   OR pg_has_role(session_user, r.requested_by, 'MEMBER')
	   OR pg_has_role(r.requested_by, session_user, 'MEMBER') THEN
		RAISE EXCEPTION 'change request % cannot be approved by role %', request_id, session_user
			USING ERRCODE = 'S9R01',
				  DETAIL = 'The approver and the requester can act as each other (role membership or superuser), or the requester no longer exists.',
				  HINT = 'Two-person control needs two administrators who are separate, non-superuser login roles.';
	END IF;
	SELECT * INTO k FROM finsec.change_kind ck WHERE ck.kind = r.kind;
	UPDATE finsec.change_request cr
	   SET state = 'applied', decided_by = session_user, decided_at = now(), note = approve.note
	 WHERE cr.request_id = r.request_id;
	EXECUTE format('SELECT %s($1, $2, $3, $4)', k.apply::regproc)
		INTO res USING r.request_id, r.kind, r.target, r.payload;
	UPDATE finsec.change_request cr SET result = res WHERE cr.request_id = r.request_id;
	PERFORM finsec.audit_event('change.approve', r.kind || ':' || r.target, 'approve', true, note,
							   jsonb_build_object('request_id', r.request_id, 'requested_by', r.requested_by,
												  'result', res),
							   session_user);
	RETURN res;
END
$$;
COMMENT ON FUNCTION finsec.approve(bigint, text) IS
	'approve and carry out a change requested by a different finsec_admin';
REVOKE ALL ON FUNCTION finsec.approve(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.approve(bigint, text) TO finsec_admin;

CREATE FUNCTION finsec.reject(request_id bigint, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r finsec.change_request;
	verdict text;
BEGIN
	PERFORM finsec._require_admin('reject');
	PERFORM finsec.expire_requests();
	SELECT * INTO r FROM finsec.change_request cr WHERE cr.request_id = reject.request_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'change request % does not exist', request_id
			USING ERRCODE = 'undefined_object';
	END IF;
	IF r.state <> 'pending' THEN
		RAISE EXCEPTION 'change request % is %, not pending', request_id, r.state
			USING ERRCODE = 'S9R03';
	END IF;
	-- The requester withdrawing the request is a cancellation.
	verdict := CASE WHEN r.requested_by = session_user THEN 'cancelled' ELSE 'rejected' END;
	UPDATE finsec.change_request cr
	   SET state = verdict, decided_by = session_user, decided_at = now(), note = reject.note
	 WHERE cr.request_id = r.request_id;
	PERFORM finsec._discard_request(r.request_id, r.kind, r.target, r.payload);
	PERFORM finsec.audit_event('change.' || CASE verdict WHEN 'cancelled' THEN 'cancel' ELSE 'reject' END,
							   r.kind || ':' || r.target, verdict, true, note,
							   jsonb_build_object('request_id', r.request_id, 'requested_by', r.requested_by),
							   session_user);
END
$$;
COMMENT ON FUNCTION finsec.reject(bigint, text) IS
	'reject a pending change request (the requester rejecting it cancels it)';
REVOKE ALL ON FUNCTION finsec.reject(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.reject(bigint, text) TO finsec_admin;

/*
 * ---- Keyring (D5, D7) -----------------------------------------------------
 *
 * Keys are kept only wrapped (AES-256-GCM under a key derived from the
 * master key, which never enters a table).  No SQL function returns key
 * material.  Versions: pending (awaiting approval) -> active -> retired
 * (verify/decrypt only) -> destroyed (material erased from the row).
 */
CREATE SEQUENCE finsec.key_id_seq AS bigint;
CREATE TABLE finsec.key (
	key_id		bigint NOT NULL DEFAULT nextval('finsec.key_id_seq') PRIMARY KEY,
	label		text NOT NULL UNIQUE CHECK (label ~ '^[a-z][a-z0-9_.-]{0,62}$'),
	purpose		text NOT NULL CHECK (purpose IN ('mac', 'encryption', 'fingerprint', 'pseudonym', 'signing')),
	algorithm	text NOT NULL,
	description	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	name NOT NULL
);
ALTER SEQUENCE finsec.key_id_seq OWNED BY finsec.key.key_id;
COMMENT ON TABLE finsec.key IS
	'finsec keyring: one row per key label, with its single purpose and algorithm (docs/keyring.md)';

CREATE TABLE finsec.key_version (
	key_id			bigint NOT NULL REFERENCES finsec.key,
	version			integer NOT NULL CHECK (version > 0),
	state			text NOT NULL CHECK (state IN ('pending', 'active', 'retired', 'destroyed')),
	origin			text NOT NULL CHECK (origin IN ('generated', 'imported')),
	kcv				text NOT NULL,
	public_key		bytea,
	wrapped			bytea,
	master_kcv		text NOT NULL,
	request_id		bigint,
	created_at		timestamptz NOT NULL DEFAULT now(),
	created_by		name NOT NULL,
	activated_at	timestamptz,
	activated_by	name,
	retired_at		timestamptz,
	retired_by		name,
	destroyed_at	timestamptz,
	destroyed_by	name,
	PRIMARY KEY (key_id, version),
	CHECK ((state = 'destroyed') = (wrapped IS NULL))
);
CREATE UNIQUE INDEX key_version_one_active ON finsec.key_version (key_id) WHERE state = 'active';
COMMENT ON TABLE finsec.key_version IS
	'finsec keyring: key versions, wrapped under the master key; material never leaves C code';

CREATE FUNCTION finsec._keyring_invalidate()
RETURNS trigger
AS 'MODULE_PATHNAME', 'finsec_keyring_invalidate'
LANGUAGE C;
REVOKE ALL ON FUNCTION finsec._keyring_invalidate() FROM PUBLIC;
CREATE TRIGGER finsec_keyring_invalidate
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON finsec.key_version
	FOR EACH STATEMENT EXECUTE FUNCTION finsec._keyring_invalidate();

REVOKE ALL ON TABLE finsec.key, finsec.key_version FROM PUBLIC;
REVOKE ALL ON SEQUENCE finsec.key_id_seq FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('finsec.key', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.key_version', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.key_id_seq', '');

-- What administrators and auditors see: everything but the wrapped bytes.
CREATE VIEW finsec.key_inventory AS
SELECT k.label, k.purpose, k.algorithm, v.version, v.state, v.origin, v.kcv,
	   v.public_key IS NOT NULL AS has_public_key, v.master_kcv, v.request_id,
	   v.created_at, v.created_by, v.activated_at, v.activated_by,
	   v.retired_at, v.retired_by, v.destroyed_at, v.destroyed_by, k.description
  FROM finsec.key k JOIN finsec.key_version v ON v.key_id = k.key_id;
COMMENT ON VIEW finsec.key_inventory IS
	'finsec keyring: every key version with its state, check value and history; never key material';
REVOKE ALL ON TABLE finsec.key_inventory FROM PUBLIC;
GRANT SELECT ON TABLE finsec.key_inventory TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec.keyring_master(
	OUT loaded boolean,
	OUT check_value text,
	OUT previous_check_value text,
	OUT problem text)
RETURNS record
AS 'MODULE_PATHNAME', 'finsec_keyring_master'
LANGUAGE C STABLE;
COMMENT ON FUNCTION finsec.keyring_master() IS
	'whether the server loaded a keyring master key, and its check value (never the key)';
REVOKE ALL ON FUNCTION finsec.keyring_master() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.keyring_master() TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.key_generate(
	label text,
	purpose text,
	algorithm text,
	reason text DEFAULT NULL,
	description text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'finsec_key_generate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.key_generate(text, text, text, text, text) IS
	'generate a new key (pending); returns the change request another finsec_admin must approve';

CREATE FUNCTION finsec.key_import(
	label text,
	purpose text,
	algorithm text,
	key bytea,
	kcv text DEFAULT NULL,
	reason text DEFAULT NULL,
	description text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'finsec_key_import'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.key_import(text, text, text, bytea, text, text, text) IS
	'import key material (new key, or new version of one); returns the change request to approve. '
	'Pass the key as a bound parameter, never a literal: statements can be logged (docs/keyring.md)';

CREATE FUNCTION finsec.key_rotate(label text, reason text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'finsec_key_rotate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.key_rotate(text, text) IS
	'generate a new version of a key; on approval it becomes active and the current one retired';

REVOKE ALL ON FUNCTION finsec.key_generate(text, text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec.key_import(text, text, text, bytea, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec.key_rotate(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.key_generate(text, text, text, text, text) TO finsec_admin;
GRANT EXECUTE ON FUNCTION finsec.key_import(text, text, text, bytea, text, text, text) TO finsec_admin;
GRANT EXECUTE ON FUNCTION finsec.key_rotate(text, text) TO finsec_admin;

-- Requests that change a version's state: activate (a retired version),
-- retire, destroy.  The change is checked now and applied on approval.
CREATE FUNCTION finsec.key_activate(label text, version integer, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('key.activate', label, jsonb_build_object('version', version), reason)
$$;
CREATE FUNCTION finsec.key_retire(label text, version integer DEFAULT NULL, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('key.retire', label, jsonb_build_object('version', version), reason)
$$;
CREATE FUNCTION finsec.key_destroy(label text, version integer, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT finsec.request_change('key.destroy', label, jsonb_build_object('version', version), reason)
$$;
COMMENT ON FUNCTION finsec.key_activate(text, integer, text) IS
	'request that a retired key version become active again (the active one is retired)';
COMMENT ON FUNCTION finsec.key_retire(text, integer, text) IS
	'request that a key version (default: the active one) be retired: verify and decrypt only';
COMMENT ON FUNCTION finsec.key_destroy(text, integer, text) IS
	'request that a retired or pending key version be destroyed (its wrapped material erased)';
REVOKE ALL ON FUNCTION finsec.key_activate(text, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec.key_retire(text, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec.key_destroy(text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.key_activate(text, integer, text) TO finsec_admin;
GRANT EXECUTE ON FUNCTION finsec.key_retire(text, integer, text) TO finsec_admin;
GRANT EXECUTE ON FUNCTION finsec.key_destroy(text, integer, text) TO finsec_admin;

-- prepare: check the request against the keyring now, and pin the version.
CREATE FUNCTION finsec._key_prepare(kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k finsec.key;
	v finsec.key_version;
	ver integer := (payload->>'version')::integer;
BEGIN
	SELECT * INTO k FROM finsec.key WHERE label = target;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'finsec key "%" does not exist', target USING ERRCODE = 'undefined_object';
	END IF;
	IF kind IN ('key.generate', 'key.import', 'key.rotate') THEN
		-- Filed by key_generate/key_import/key_rotate, which wrote the version.
		SELECT * INTO v FROM finsec.key_version kv
		 WHERE kv.key_id = k.key_id AND kv.version = ver AND kv.state = 'pending'
		   AND kv.request_id IS NULL AND kv.created_by = session_user
		 FOR UPDATE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'no unclaimed pending version % of key "%" created by %', ver, target, session_user
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Use finsec.key_generate, finsec.key_import or finsec.key_rotate.';
		END IF;
		RETURN payload;
	END IF;

	IF ver IS NULL AND kind = 'key.retire' THEN
		SELECT kv.version INTO ver FROM finsec.key_version kv WHERE kv.key_id = k.key_id AND kv.state = 'active';
	END IF;
	SELECT * INTO v FROM finsec.key_version kv WHERE kv.key_id = k.key_id AND kv.version = ver;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'finsec key "%" has no version %', target, coalesce(ver::text, '(active)')
			USING ERRCODE = 'undefined_object';
	END IF;
	IF (kind = 'key.activate' AND v.state <> 'retired')
	   OR (kind = 'key.retire' AND v.state <> 'active')
	   OR (kind = 'key.destroy' AND v.state NOT IN ('retired', 'pending')) THEN
		RAISE EXCEPTION 'version % of finsec key "%" is %', ver, target, v.state
			USING ERRCODE = 'S9K04',
				  HINT = CASE kind WHEN 'key.activate' THEN 'Only a retired version can be activated again.'
								   WHEN 'key.retire' THEN 'Only the active version can be retired.'
								   ELSE 'Retire a version before destroying it.' END;
	END IF;
	RETURN jsonb_build_object('key_id', k.key_id, 'version', ver, 'kcv', v.kcv);
END
$$;
REVOKE ALL ON FUNCTION finsec._key_prepare(text, text, jsonb) FROM PUBLIC;

-- apply: on approval, in the approver's transaction.
CREATE FUNCTION finsec._key_apply(request_id bigint, kind text, target text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	kid bigint := (payload->>'key_id')::bigint;
	ver integer := (payload->>'version')::integer;
	v finsec.key_version;
	prev_version integer;
BEGIN
	SELECT * INTO v FROM finsec.key_version kv WHERE kv.key_id = kid AND kv.version = ver FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'finsec key "%" has no version %', target, ver USING ERRCODE = 'undefined_object';
	END IF;
	IF kind IN ('key.generate', 'key.import', 'key.rotate', 'key.activate') THEN
		IF v.state <> (CASE kind WHEN 'key.activate' THEN 'retired' ELSE 'pending' END) THEN
			RAISE EXCEPTION 'version % of finsec key "%" is %', ver, target, v.state USING ERRCODE = 'S9K04';
		END IF;
		UPDATE finsec.key_version kv
		   SET state = 'retired', retired_at = now(), retired_by = session_user
		 WHERE kv.key_id = kid AND kv.state = 'active'
		RETURNING kv.version INTO prev_version;
		UPDATE finsec.key_version kv
		   SET state = 'active', activated_at = now(), activated_by = session_user
		 WHERE kv.key_id = kid AND kv.version = ver;
	ELSIF kind = 'key.retire' THEN
		IF v.state <> 'active' THEN
			RAISE EXCEPTION 'version % of finsec key "%" is %', ver, target, v.state USING ERRCODE = 'S9K04';
		END IF;
		UPDATE finsec.key_version kv
		   SET state = 'retired', retired_at = now(), retired_by = session_user
		 WHERE kv.key_id = kid AND kv.version = ver;
	ELSIF kind = 'key.destroy' THEN
		IF v.state NOT IN ('retired', 'pending') THEN
			RAISE EXCEPTION 'version % of finsec key "%" is %', ver, target, v.state USING ERRCODE = 'S9K04';
		END IF;
		UPDATE finsec.key_version kv
		   SET state = 'destroyed', wrapped = NULL, destroyed_at = now(), destroyed_by = session_user
		 WHERE kv.key_id = kid AND kv.version = ver;
	END IF;
	PERFORM finsec.audit_event('key.' || split_part(kind, '.', 2), target, split_part(kind, '.', 2), true, NULL,
							   jsonb_build_object('request_id', request_id, 'version', ver, 'kcv', v.kcv,
												  'retired_version', prev_version),
							   session_user);
	RETURN jsonb_build_object('label', target, 'version', ver, 'kcv', v.kcv,
							  'state', (SELECT kv.state FROM finsec.key_version kv WHERE kv.key_id = kid AND kv.version = ver))
		   || CASE WHEN prev_version IS NOT NULL THEN jsonb_build_object('retired_version', prev_version) ELSE '{}' END;
END
$$;
REVOKE ALL ON FUNCTION finsec._key_apply(bigint, text, text, jsonb) FROM PUBLIC;

-- discard: a rejected, cancelled or expired creation leaves no usable material.
CREATE FUNCTION finsec._key_discard(request_id bigint, kind text, target text, payload jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF kind IN ('key.generate', 'key.import', 'key.rotate') THEN
		UPDATE finsec.key_version kv
		   SET state = 'destroyed', wrapped = NULL, destroyed_at = now(), destroyed_by = session_user
		 WHERE kv.key_id = (payload->>'key_id')::bigint AND kv.version = (payload->>'version')::integer
		   AND kv.state = 'pending';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION finsec._key_discard(bigint, text, text, jsonb) FROM PUBLIC;

INSERT INTO finsec.change_kind (kind, prepare, apply, discard, description) VALUES
	('key.generate', 'finsec._key_prepare(text, text, jsonb)', 'finsec._key_apply(bigint, text, text, jsonb)',
	 'finsec._key_discard(bigint, text, text, jsonb)', 'activate a newly generated key'),
	('key.import', 'finsec._key_prepare(text, text, jsonb)', 'finsec._key_apply(bigint, text, text, jsonb)',
	 'finsec._key_discard(bigint, text, text, jsonb)', 'activate imported key material'),
	('key.rotate', 'finsec._key_prepare(text, text, jsonb)', 'finsec._key_apply(bigint, text, text, jsonb)',
	 'finsec._key_discard(bigint, text, text, jsonb)', 'activate a new version of a key and retire the current one'),
	('key.activate', 'finsec._key_prepare(text, text, jsonb)', 'finsec._key_apply(bigint, text, text, jsonb)',
	 NULL, 'make a retired key version active again'),
	('key.retire', 'finsec._key_prepare(text, text, jsonb)', 'finsec._key_apply(bigint, text, text, jsonb)',
	 NULL, 'retire a key version: verify and decrypt only'),
	('key.destroy', 'finsec._key_prepare(text, text, jsonb)', 'finsec._key_apply(bigint, text, text, jsonb)',
	 NULL, 'destroy a retired or pending key version');

CREATE FUNCTION finsec.key_verify(
	OUT label text,
	OUT version integer,
	OUT state text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'finsec_key_verify'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.key_verify() IS
	'unwrap every active and retired key version and check it against its check value (D7 periodic verification)';
REVOKE ALL ON FUNCTION finsec.key_verify() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.key_verify() TO finsec_admin, finsec_auditor;

CREATE FUNCTION finsec.rewrap_keys()
RETURNS integer
AS 'MODULE_PATHNAME', 'finsec_rewrap_keys'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.rewrap_keys() IS
	'after a master key change: re-wrap every key wrapped under the previous master key under the current one';
REVOKE ALL ON FUNCTION finsec.rewrap_keys() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.rewrap_keys() TO finsec_admin;

CREATE FUNCTION finsec.status_keyring(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT 'keyring_master_key', m.loaded,
		   CASE WHEN m.loaded THEN 'master key loaded, check value ' || m.check_value
				ELSE 'no master key: key functions fail (' || m.problem || ')' END
	  FROM finsec.keyring_master() m
	UNION ALL
	SELECT 'keyring_keys',
		   NOT EXISTS (SELECT 1 FROM finsec.key_version v
						WHERE v.state IN ('active', 'retired', 'pending')
						  AND v.master_kcv IS DISTINCT FROM (SELECT check_value FROM finsec.keyring_master())),
		   format('%s active, %s retired, %s pending versions; %s wrapped under another master key',
				  count(*) FILTER (WHERE state = 'active'), count(*) FILTER (WHERE state = 'retired'),
				  count(*) FILTER (WHERE state = 'pending'),
				  count(*) FILTER (WHERE state <> 'destroyed'
								   AND master_kcv IS DISTINCT FROM (SELECT check_value FROM finsec.keyring_master())))
	  FROM finsec.key_version
	UNION ALL
	SELECT 'change_requests', true,
		   format('%s pending, %s expired in the last 7 days',
				  count(*) FILTER (WHERE state = 'pending' AND expires_at > now()),
				  count(*) FILTER (WHERE (state = 'expired' OR (state = 'pending' AND expires_at <= now()))
									 AND expires_at > now() - interval '7 days'))
	  FROM finsec.change_request
$$;
REVOKE ALL ON FUNCTION finsec.status_keyring() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_keyring() TO finsec_admin, finsec_auditor, finsec_operator;

-- =====================================================================
-- Message authentication codes and one-time codes (src/mac)
-- =====================================================================

CREATE FUNCTION finsec.mac(
	label text,
	algorithm text,
	data bytea,
	length integer DEFAULT NULL,
	padding integer DEFAULT NULL)
RETURNS bytea
AS 'MODULE_PATHNAME', 'finsec_mac'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION finsec.mac(text, text, bytea, integer, integer) IS
	'MAC of data under the active version of a keyring MAC key (hmac-sha256, hmac-sm3, cmac-aes, cmac-sm4, iso9797-alg3, iso9797-alg1-sm4)';

CREATE FUNCTION finsec.mac_verify(
	label text,
	algorithm text,
	data bytea,
	mac bytea,
	padding integer DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'finsec_mac_verify'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION finsec.mac_verify(text, text, bytea, bytea, integer) IS
	'whether mac (full or truncated) is the MAC of data under the active or a retired version of the key; constant-time';

CREATE FUNCTION finsec.payment_mac_input(
	merchant_code text,
	order_no text,
	order_time timestamptz,
	amount numeric,
	currency text DEFAULT 'CNY',
	extra text[] DEFAULT '{}')
RETURNS bytea
AS 'MODULE_PATHNAME', 'finsec_payment_mac_input'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION finsec.payment_mac_input(text, text, timestamptz, numeric, text, text[]) IS
	'the canonical bytes (encoding v1, docs/mac.md) that finsec.payment_mac authenticates';

CREATE FUNCTION finsec.payment_mac(
	label text,
	algorithm text,
	merchant_code text,
	order_no text,
	order_time timestamptz,
	amount numeric,
	currency text DEFAULT 'CNY',
	extra text[] DEFAULT '{}',
	length integer DEFAULT NULL)
RETURNS bytea
AS 'MODULE_PATHNAME', 'finsec_payment_mac'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION finsec.payment_mac(text, text, text, text, timestamptz, numeric, text, text[], integer) IS
	'MAC over the key elements of a payment message (JR/T 0096.5 4.4.3) in the canonical encoding of docs/mac.md';

CREATE FUNCTION finsec.payment_mac_verify(
	label text,
	algorithm text,
	merchant_code text,
	order_no text,
	order_time timestamptz,
	amount numeric,
	mac bytea,
	currency text DEFAULT 'CNY',
	extra text[] DEFAULT '{}')
RETURNS boolean
AS 'MODULE_PATHNAME', 'finsec_payment_mac_verify'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION finsec.payment_mac_verify(text, text, text, text, timestamptz, numeric, bytea, text, text[]) IS
	'whether mac authenticates these payment key elements (receiver side of JR/T 0096.5 4.4.3)';

REVOKE ALL ON FUNCTION finsec.mac(text, text, bytea, integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec.mac_verify(text, text, bytea, bytea, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec.payment_mac_input(text, text, timestamptz, numeric, text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec.payment_mac(text, text, text, text, timestamptz, numeric, text, text[], integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec.payment_mac_verify(text, text, text, text, timestamptz, numeric, bytea, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.mac(text, text, bytea, integer, integer) TO finsec_app;
GRANT EXECUTE ON FUNCTION finsec.mac_verify(text, text, bytea, bytea, integer) TO finsec_app;
GRANT EXECUTE ON FUNCTION finsec.payment_mac_input(text, text, timestamptz, numeric, text, text[])
	TO finsec_app, finsec_admin, finsec_auditor;
GRANT EXECUTE ON FUNCTION finsec.payment_mac(text, text, text, text, timestamptz, numeric, text, text[], integer) TO finsec_app;
GRANT EXECUTE ON FUNCTION finsec.payment_mac_verify(text, text, text, text, timestamptz, numeric, bytea, text, text[]) TO finsec_app;

/*
 * One-time codes (M7): at most one live code per (subject, purpose), kept
 * only as a salted HMAC under the key named by finsec.otp_key.
 */
CREATE TABLE finsec.otp (
	subject			text NOT NULL,
	purpose			text NOT NULL,
	salt			bytea NOT NULL CHECK (length(salt) = 16),
	code_hash		bytea NOT NULL CHECK (length(code_hash) = 32),
	key_version		integer NOT NULL,
	issued_at		timestamptz NOT NULL,
	expires_at		timestamptz NOT NULL,
	attempts		integer NOT NULL DEFAULT 0,
	max_attempts	integer NOT NULL,
	used_at			timestamptz,
	PRIMARY KEY (subject, purpose)
);
COMMENT ON TABLE finsec.otp IS
	'finsec: live one-time codes, as keyed hashes only (docs/mac.md)';
REVOKE ALL ON TABLE finsec.otp FROM PUBLIC;

CREATE FUNCTION finsec.otp_issue(
	subject text,
	purpose text,
	ttl interval DEFAULT '5 minutes',
	digits integer DEFAULT 6)
RETURNS text
AS 'MODULE_PATHNAME', 'finsec_otp_issue'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.otp_issue(text, text, interval, integer) IS
	'a new random one-time code for (subject, purpose), replacing any previous one; only its keyed hash is kept';

CREATE FUNCTION finsec.otp_verify(subject text, purpose text, code text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'finsec_otp_verify'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.otp_verify(text, text, text) IS
	'true at most once: the current code, before it expires, within finsec.otp_max_attempts attempts';

-- Codes past their time are useless; a scheduler or the DBA may run this.
CREATE FUNCTION finsec.otp_purge(older_than interval DEFAULT '1 day')
RETURNS bigint
LANGUAGE sql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	WITH d AS (DELETE FROM finsec.otp WHERE expires_at < now() - older_than RETURNING 1)
	SELECT count(*) FROM d
$$;
COMMENT ON FUNCTION finsec.otp_purge(interval) IS
	'delete one-time codes that expired more than older_than ago';

REVOKE ALL ON FUNCTION finsec.otp_issue(text, text, interval, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec.otp_verify(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec.otp_purge(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.otp_issue(text, text, interval, integer) TO finsec_app;
GRANT EXECUTE ON FUNCTION finsec.otp_verify(text, text, text) TO finsec_app;
GRANT EXECUTE ON FUNCTION finsec.otp_purge(interval) TO finsec_admin, finsec_operator;

-- =====================================================================
-- Replay and duplicate-payment guards (src/guard)
-- =====================================================================

/*
 * Replay guard (M2; docs/guards.md).  Each accepted nonce, kept until its
 * message timestamp leaves finsec.nonce_window; the primary key makes
 * exactly one of concurrent consumers win.  Written only by the functions
 * below, as the extension owner.  Dumped with the data so that a restored
 * database still refuses replays of recent messages.
 */
CREATE TABLE finsec.nonce (
	scope		text NOT NULL,
	nonce		bytea NOT NULL,
	ts			timestamptz NOT NULL,
	consumed_at	timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	PRIMARY KEY (scope, nonce)
);
CREATE INDEX nonce_ts_idx ON finsec.nonce (ts);
SELECT pg_catalog.pg_extension_config_dump('finsec.nonce', '');
REVOKE ALL ON finsec.nonce FROM PUBLIC;
GRANT SELECT ON finsec.nonce TO finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.consume_nonce(scope text, nonce text, ts timestamptz,
	"window" interval DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_consume_nonce';
COMMENT ON FUNCTION finsec.consume_nonce(text, text, timestamptz, interval) IS
'Accept a message nonce once per scope; raises S9G01 (replay), S9G02 (stale) or S9G03 (future timestamp).';
REVOKE ALL ON FUNCTION finsec.consume_nonce(text, text, timestamptz, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.consume_nonce(text, text, timestamptz, interval) TO finsec_app;

CREATE FUNCTION finsec.consume_nonce(scope text, nonce bytea, ts timestamptz,
	"window" interval DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_consume_nonce';
COMMENT ON FUNCTION finsec.consume_nonce(text, bytea, timestamptz, interval) IS
'Accept a binary message nonce once per scope; raises S9G01, S9G02 or S9G03.';
REVOKE ALL ON FUNCTION finsec.consume_nonce(text, bytea, timestamptz, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.consume_nonce(text, bytea, timestamptz, interval) TO finsec_app;

CREATE FUNCTION finsec.try_consume_nonce(scope text, nonce text, ts timestamptz,
	"window" interval DEFAULT NULL)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_try_consume_nonce';
COMMENT ON FUNCTION finsec.try_consume_nonce(text, text, timestamptz, interval) IS
'consume_nonce() returning false instead of refusing a replayed, stale or future message.';
REVOKE ALL ON FUNCTION finsec.try_consume_nonce(text, text, timestamptz, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.try_consume_nonce(text, text, timestamptz, interval) TO finsec_app;

CREATE FUNCTION finsec.try_consume_nonce(scope text, nonce bytea, ts timestamptz,
	"window" interval DEFAULT NULL)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_try_consume_nonce';
COMMENT ON FUNCTION finsec.try_consume_nonce(text, bytea, timestamptz, interval) IS
'consume_nonce() for a binary nonce, returning false instead of refusing.';
REVOKE ALL ON FUNCTION finsec.try_consume_nonce(text, bytea, timestamptz, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.try_consume_nonce(text, bytea, timestamptz, interval) TO finsec_app;

CREATE FUNCTION finsec.nonce_purge(max_rows bigint DEFAULT 100000)
RETURNS bigint
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_nonce_purge';
COMMENT ON FUNCTION finsec.nonce_purge(bigint) IS
'Delete up to max_rows remembered nonces whose timestamp left finsec.nonce_window; returns how many.';
REVOKE ALL ON FUNCTION finsec.nonce_purge(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.nonce_purge(bigint) TO finsec_admin, finsec_operator;

/*
 * Duplicate-payment, cancellation and refund guards (M3; docs/guards.md).
 * What is guarded, for the DBA to see; the triggers carry the same
 * configuration.  Written only by enable_/disable_*_guard().
 */
CREATE TABLE finsec.order_guard (
	relid					regclass PRIMARY KEY,
	status_column			text NOT NULL,
	paid_amount_column		text,
	refunded_amount_column	text,
	payment_ref_column		text,
	paid_states				text[] NOT NULL,
	cancelled_states		text[] NOT NULL,
	enabled_by				name NOT NULL,
	enabled_at				timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('finsec.order_guard', '');
REVOKE ALL ON finsec.order_guard FROM PUBLIC;
GRANT SELECT ON finsec.order_guard TO finsec_admin, finsec_auditor, finsec_operator;

CREATE TABLE finsec.refund_guard (
	relid				regclass PRIMARY KEY,
	orders				regclass NOT NULL,	-- an order guard; disable_order_guard() refuses while referenced
	order_ref_column	text NOT NULL,
	amount_column		text NOT NULL,
	order_key			text NOT NULL,
	enabled_by			name NOT NULL,
	enabled_at			timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('finsec.refund_guard', '');
REVOKE ALL ON finsec.refund_guard FROM PUBLIC;
GRANT SELECT ON finsec.refund_guard TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.order_guard_trigger()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'finsec_order_guard_trigger';
REVOKE ALL ON FUNCTION finsec.order_guard_trigger() FROM PUBLIC;

CREATE FUNCTION finsec.refund_guard_trigger()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'finsec_refund_guard_trigger';
REVOKE ALL ON FUNCTION finsec.refund_guard_trigger() FROM PUBLIC;

CREATE FUNCTION finsec.enable_order_guard(
	orders regclass,
	status text DEFAULT 'status',
	paid_amount text DEFAULT 'paid_amount',
	refunded_amount text DEFAULT NULL,
	payment_ref text DEFAULT NULL,
	paid_states text[] DEFAULT '{paid,partially_refunded,refunded}',
	cancelled_states text[] DEFAULT '{cancelled,canceled}')
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_enable_order_guard';
COMMENT ON FUNCTION finsec.enable_order_guard(regclass, text, text, text, text, text[], text[]) IS
'Guard an order table: paid once, no cancellation once paid, refunds at most the paid amount (audited).';
REVOKE ALL ON FUNCTION finsec.enable_order_guard(regclass, text, text, text, text, text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.enable_order_guard(regclass, text, text, text, text, text[], text[]) TO finsec_admin;

CREATE FUNCTION finsec.disable_order_guard(orders regclass)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_disable_order_guard';
COMMENT ON FUNCTION finsec.disable_order_guard(regclass) IS
'Remove the order guard of a table (audited).';
REVOKE ALL ON FUNCTION finsec.disable_order_guard(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.disable_order_guard(regclass) TO finsec_admin;

CREATE FUNCTION finsec.enable_refund_guard(
	refunds regclass,
	orders regclass,
	order_ref text DEFAULT 'order_id',
	amount text DEFAULT 'amount',
	order_key text DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_enable_refund_guard';
COMMENT ON FUNCTION finsec.enable_refund_guard(regclass, regclass, text, text, text) IS
'Guard a refund table: the refunds of one order never total more than its paid amount (audited).';
REVOKE ALL ON FUNCTION finsec.enable_refund_guard(regclass, regclass, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.enable_refund_guard(regclass, regclass, text, text, text) TO finsec_admin;

CREATE FUNCTION finsec.disable_refund_guard(refunds regclass)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_disable_refund_guard';
COMMENT ON FUNCTION finsec.disable_refund_guard(regclass) IS
'Remove the refund guard of a table (audited).';
REVOKE ALL ON FUNCTION finsec.disable_refund_guard(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.disable_refund_guard(regclass) TO finsec_admin;

/*
 * Each guard whose trigger is missing or disabled (the table's owner can
 * drop it) is reported, so the DBA sees what is really enforced.
 */
CREATE FUNCTION finsec.status_guard(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT 'nonce_replay', true,
		   format('nonces accepted once within %s, clock skew %s; %s remembered, %s expired awaiting purge',
				  current_setting('finsec.nonce_window'), current_setting('finsec.nonce_max_skew'),
				  (SELECT count(*) FROM finsec.nonce),
				  (SELECT count(*) FROM finsec.nonce
					WHERE ts < clock_timestamp() - current_setting('finsec.nonce_window')::interval))
	UNION ALL
	SELECT g.kind, coalesce(bool_and(g.enforced) FILTER (WHERE g.relid IS NOT NULL), true),
		   CASE WHEN count(g.relid) = 0 THEN 'no table guarded'
				ELSE string_agg(g.relid::text || CASE WHEN g.enforced THEN '' ELSE ' (TRIGGER MISSING OR DISABLED)' END,
								', ' ORDER BY g.relid::text)
		   END
	  FROM (SELECT k.kind, c.relid,
				   EXISTS (SELECT FROM pg_trigger t
							WHERE t.tgrelid = c.relid AND t.tgname = k.trigger AND t.tgenabled <> 'D') AS enforced
			  FROM (VALUES ('order_guards', 'finsec_order_guard'), ('refund_guards', 'finsec_refund_guard')) k (kind, trigger)
			  LEFT JOIN (SELECT 'order_guards' AS kind, relid FROM finsec.order_guard
						 UNION ALL SELECT 'refund_guards', relid FROM finsec.refund_guard) c USING (kind)) g
	 GROUP BY g.kind
$$;
REVOKE ALL ON FUNCTION finsec.status_guard() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_guard()
	TO finsec_admin, finsec_auditor, finsec_operator;

-- =====================================================================
-- Signatures: registered signers, proof of origin and receipt (src/signature)
-- =====================================================================

/*
 * Registered signers (M4, M6): the counterparties' public keys and
 * certificates whose signatures finsec accepts as proof of origin.
 * Registering is the trust decision (no chain building): the DBA compares
 * spki_sha256 with the counterparty out of band.  Written only by
 * finsec.register_signer() and finsec.revoke_signer(), which audit it.
 */
CREATE SEQUENCE finsec.signer_id_seq AS bigint;
CREATE TABLE finsec.signer (
	id				bigint NOT NULL DEFAULT nextval('finsec.signer_id_seq') PRIMARY KEY,
	name			text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
	algorithm		text NOT NULL CHECK (algorithm IN ('rsa', 'ec-p256', 'sm2')),
	key_bits		integer NOT NULL CHECK (key_bits >= 256),
	spki_sha256		text NOT NULL CHECK (spki_sha256 ~ '^[0-9a-f]{64}$'),
	pem				text NOT NULL,
	sm2_id			bytea CHECK (sm2_id IS NULL OR algorithm = 'sm2'),
	cert_subject	text,
	cert_issuer		text,
	cert_serial		text,
	not_before		timestamptz,
	not_after		timestamptz,
	registered_by	name NOT NULL,
	registered_at	timestamptz NOT NULL DEFAULT now(),
	revoked_by		name,
	revoked_at		timestamptz,
	revoke_reason	text,
	CHECK ((revoked_at IS NULL) = (revoked_by IS NULL)),
	CHECK ((cert_subject IS NULL) = (not_after IS NULL))
);
ALTER SEQUENCE finsec.signer_id_seq OWNED BY finsec.signer.id;
CREATE UNIQUE INDEX signer_active_name_idx ON finsec.signer (name) WHERE revoked_at IS NULL;
COMMENT ON TABLE finsec.signer IS
	'finsec: public keys and certificates whose signatures are accepted as proof of origin (docs/signatures.md)';
COMMENT ON COLUMN finsec.signer.spki_sha256 IS
	'SHA-256 of the DER SubjectPublicKeyInfo, to compare with the counterparty out of band';
COMMENT ON COLUMN finsec.signer.sm2_id IS
	'SM2 user id agreed with this signer; NULL: the GM/T 0009 default 1234567812345678';
REVOKE ALL ON TABLE finsec.signer FROM PUBLIC;
REVOKE ALL ON SEQUENCE finsec.signer_id_seq FROM PUBLIC;
GRANT SELECT ON TABLE finsec.signer TO finsec_admin, finsec_auditor;
SELECT pg_catalog.pg_extension_config_dump('finsec.signer', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.signer_id_seq', '');

CREATE FUNCTION finsec.register_signer(name text, pem text, sm2_id bytea DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'finsec_register_signer'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.register_signer(text, text, bytea) IS
	'register a counterparty''s PEM public key or certificate (RSA, P-256, SM2) under a name; audited; returns the SPKI SHA-256 fingerprint';
REVOKE ALL ON FUNCTION finsec.register_signer(text, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.register_signer(text, text, bytea) TO finsec_admin;

CREATE FUNCTION finsec.revoke_signer(name text, reason text)
RETURNS void
AS 'MODULE_PATHNAME', 'finsec_revoke_signer'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.revoke_signer(text, text) IS
	'stop accepting a signer''s signatures; audited with the reason';
REVOKE ALL ON FUNCTION finsec.revoke_signer(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.revoke_signer(text, text) TO finsec_admin;

/* Proof of origin: false for a wrong signature, ERROR for anything else. */
CREATE FUNCTION finsec.verify_signature(
	signer text,
	data bytea,
	signature bytea,
	algorithm text DEFAULT NULL,
	sm2_id bytea DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'finsec_verify_signature'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.verify_signature(text, bytea, bytea, text, bytea) IS
	'whether signature is the registered signer''s signature of data (proof of origin)';
REVOKE ALL ON FUNCTION finsec.verify_signature(text, bytea, bytea, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.verify_signature(text, bytea, bytea, text, bytea)
	TO finsec_app, finsec_auditor;

CREATE FUNCTION finsec.require_signature(
	signer text,
	data bytea,
	signature bytea,
	algorithm text DEFAULT NULL,
	sm2_id bytea DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'finsec_require_signature'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.require_signature(text, bytea, bytea, text, bytea) IS
	'like verify_signature, but a wrong signature raises SQLSTATE S9S04';
REVOKE ALL ON FUNCTION finsec.require_signature(text, bytea, bytea, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.require_signature(text, bytea, bytea, text, bytea) TO finsec_app;

/* Proof of receipt, on the side that receives a receipt. */
CREATE FUNCTION finsec.verify_receipt(signer text, receipt jsonb, data bytea DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'finsec_verify_receipt'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.verify_receipt(text, jsonb, bytea) IS
	'whether a finsec-receipt/1 is signed by the registered signer and (if data is given) acknowledges that message';
REVOKE ALL ON FUNCTION finsec.verify_receipt(text, jsonb, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.verify_receipt(text, jsonb, bytea) TO finsec_app, finsec_auditor;

/*
 * Signing with keyring signing keys (purpose 'signing'): proof of origin
 * for what this database sends, proof of receipt for what it receives.
 * Every use is counted in the ledger by the keyring.
 */
CREATE FUNCTION finsec.sign(
	label text,
	data bytea,
	algorithm text DEFAULT NULL,
	sm2_id bytea DEFAULT NULL)
RETURNS bytea
AS 'MODULE_PATHNAME', 'finsec_sign'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.sign(text, bytea, text, bytea) IS
	'signature of data with the active version of a keyring signing key';
REVOKE ALL ON FUNCTION finsec.sign(text, bytea, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.sign(text, bytea, text, bytea) TO finsec_app;

CREATE FUNCTION finsec.sign_receipt(label text, data bytea, reference text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'finsec_sign_receipt'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.sign_receipt(text, bytea, text) IS
	'signed finsec-receipt/1 for a message received now: its digest, the time, the key label and version (docs/signatures.md)';
REVOKE ALL ON FUNCTION finsec.sign_receipt(text, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.sign_receipt(text, bytea, text) TO finsec_app;

CREATE FUNCTION finsec.public_key(label text, version integer DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'finsec_public_key'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.public_key(text, integer) IS
	'PEM public key of a keyring signing key (active version by default), for counterparties';
REVOKE ALL ON FUNCTION finsec.public_key(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.public_key(text, integer) TO finsec_app, finsec_admin, finsec_auditor;

CREATE FUNCTION finsec.signature_self_test(
	OUT algorithm text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'finsec_signature_self_test'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.signature_self_test() IS
	'generate, import, sign and verify with throw-away keys of every signing algorithm (after an OpenSSL change)';
REVOKE ALL ON FUNCTION finsec.signature_self_test() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.signature_self_test() TO finsec_admin, finsec_operator;

/*
 * Status: the key policy, and registered signers the policy or the
 * calendar no longer accepts (they would fail at verification).
 */
CREATE FUNCTION finsec.status_signature(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT 'signature_policy', current_setting('finsec.signature_min_rsa_bits', true) IS NOT NULL,
		   coalesce(format('RSA keys of at least %s bits, ECDSA P-256, SM2 with SM3 (default user id 1234567812345678)',
						   current_setting('finsec.signature_min_rsa_bits', true)),
					'finsec library not loaded in this session')
	UNION ALL
	SELECT 'signers', count(*) FILTER (WHERE refused) = 0,
		   format('%s active, %s revoked', count(*) FILTER (WHERE revoked_at IS NULL),
				  count(*) FILTER (WHERE revoked_at IS NOT NULL))
		   || CASE WHEN count(*) FILTER (WHERE refused) > 0
				   THEN '; not accepted now (key size or certificate period): '
						|| string_agg(quote_ident(name), ', ' ORDER BY name) FILTER (WHERE refused)
				   ELSE '' END
		   || CASE WHEN count(*) FILTER (WHERE expiring) > 0
				   THEN '; certificates expiring within 30 days: '
						|| string_agg(quote_ident(name), ', ' ORDER BY name) FILTER (WHERE expiring)
				   ELSE '' END
	  FROM (SELECT s.name, s.revoked_at,
				   s.revoked_at IS NULL
				   AND ((s.algorithm = 'rsa'
						 AND s.key_bits < coalesce(current_setting('finsec.signature_min_rsa_bits', true), '2048')::int)
						OR s.not_after < now() OR s.not_before > now()) AS refused,
				   s.revoked_at IS NULL AND s.not_after >= now()
				   AND s.not_after < now() + interval '30 days' AS expiring
			  FROM finsec.signer s) s
$$;
REVOKE ALL ON FUNCTION finsec.status_signature() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_signature()
	TO finsec_admin, finsec_auditor, finsec_operator;

-- =====================================================================
-- end of finsec--0.3--0.4.sql
-- =====================================================================
