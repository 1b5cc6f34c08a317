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

-- Records of actions whose effect escapes the transaction (reveals, code
-- verifications, key uses) are kept in shared memory while the transaction
-- is open; those of rolled-back transactions are written by the sealer or by
-- this function (src/audit/pending.c, docs/audit.md#rollback).
CREATE FUNCTION finsec.flush_audit_events()
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_flush_audit_events';
COMMENT ON FUNCTION finsec.flush_audit_events() IS
	'write this database''s audit records of rolled-back transactions from the shared-memory buffer to finsec.audit (the sealer does it every round); returns the rows written';
REVOKE ALL ON FUNCTION finsec.flush_audit_events() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.flush_audit_events() TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.audit_event_buffer(
	OUT capacity integer,
	OUT waiting integer,
	OUT waiting_here integer,
	OUT flushing integer,
	OUT dropped bigint,
	OUT dropped_unreported bigint)
RETURNS record
LANGUAGE C VOLATILE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'finsec_audit_event_buffer';
COMMENT ON FUNCTION finsec.audit_event_buffer() IS
	'the audit event buffer: size, records of rolled-back transactions waiting (all databases, this one), being flushed, dropped because it was full since the server started, dropped here and not yet reported';
REVOKE ALL ON FUNCTION finsec.audit_event_buffer() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.audit_event_buffer() TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.status_audit_events(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT s.*
	  FROM finsec.audit_event_buffer() b,
		   finsec._status_event_buffer('audit_events', b.capacity, b.waiting, b.waiting_here, b.dropped,
			   'audit record(s) of rolled-back transactions', 'written', 'writes them to finsec.audit',
			   'finsec.audit_event_buffer', 'finsec.flush_audit_events()',
			   'reveals and verifications are not available without finsec in shared_preload_libraries') s
$$;
COMMENT ON FUNCTION finsec.status_audit_events() IS
	'the audit event buffer: records of rolled-back transactions waiting, drops, who flushes';
REVOKE ALL ON FUNCTION finsec.status_audit_events() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_audit_events() TO finsec_admin, finsec_auditor, finsec_operator;

-- A refused approval rolls back with its error: its record survives
-- (finsec._audit_refusal, for finsec's own functions; no grant).
CREATE FUNCTION finsec._audit_refusal(event_type text, object text, action text,
									  description text, detail jsonb)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_audit_refusal_sql';
COMMENT ON FUNCTION finsec._audit_refusal(text, text, text, text, jsonb) IS
	'internal: record a refusal by a finsec function so that the record survives the rollback the refusal causes';
REVOKE ALL ON FUNCTION finsec._audit_refusal(text, text, text, text, jsonb) FROM PUBLIC;

-- approve() and reject() as in 0.4, each refusal recorded first; the
-- record is added on the line of its test, so that the line numbers in
-- error contexts stay those of 0.4.
CREATE OR REPLACE FUNCTION finsec.approve(request_id bigint, note text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r finsec.change_request;
	k finsec.change_kind;
	res jsonb; what text;
BEGIN
	PERFORM finsec._require_admin('approve');
	PERFORM finsec.expire_requests();
	SELECT * INTO r FROM finsec.change_request cr WHERE cr.request_id = approve.request_id FOR UPDATE; what := coalesce(r.kind || ':' || r.target, 'change_request:' || request_id);
	IF r.request_id IS NULL THEN PERFORM finsec._audit_refusal('change.refused', what, 'approve', 'no such change request', jsonb_build_object('request_id', request_id, 'sqlstate', '42704'));
		RAISE EXCEPTION 'change request % does not exist', request_id
			USING ERRCODE = 'undefined_object';
	END IF;
	IF r.state = 'expired' OR (r.state = 'pending' AND r.expires_at <= now()) THEN PERFORM finsec._audit_refusal('change.refused', what, 'approve', 'the change request has expired', jsonb_build_object('request_id', request_id, 'requested_by', r.requested_by, 'sqlstate', 'S9R02'));
		RAISE EXCEPTION 'change request % has expired', request_id
			USING ERRCODE = 'S9R02',
				  DETAIL = 'It was not approved within finsec.approval_timeout of being requested.',
				  HINT = 'File the request again.';
	END IF;
	IF r.state <> 'pending' THEN PERFORM finsec._audit_refusal('change.refused', what, 'approve', 'the change request is ' || r.state, jsonb_build_object('request_id', request_id, 'requested_by', r.requested_by, 'sqlstate', 'S9R03'));
		RAISE EXCEPTION 'change request % is %, not pending', request_id, r.state
			USING ERRCODE = 'S9R03';
	END IF;
	IF r.requested_by = session_user THEN PERFORM finsec._audit_refusal('change.refused', what, 'approve', 'approval by the requester refused', jsonb_build_object('request_id', request_id, 'requested_by', r.requested_by, 'sqlstate', 'S9R01'));
		RAISE EXCEPTION 'change request % cannot be approved by the role that requested it', request_id
			USING ERRCODE = 'S9R01',
				  HINT = 'Two-person control: another member of finsec_admin must approve.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.requested_by)
	   OR pg_has_role(session_user, r.requested_by, 'MEMBER')
	   OR pg_has_role(r.requested_by, session_user, 'MEMBER') THEN PERFORM finsec._audit_refusal('change.refused', what, 'approve', 'approval by a role that can act as the requester refused', jsonb_build_object('request_id', request_id, 'requested_by', r.requested_by, 'sqlstate', 'S9R01'));
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

CREATE OR REPLACE FUNCTION finsec.reject(request_id bigint, note text DEFAULT NULL)
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
	IF r.state <> 'pending' THEN PERFORM finsec._audit_refusal('change.refused', r.kind || ':' || r.target, 'reject', 'the change request is ' || r.state, jsonb_build_object('request_id', request_id, 'requested_by', r.requested_by, 'sqlstate', 'S9R03'));
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

-- (end of section "also")
