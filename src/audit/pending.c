/*-------------------------------------------------------------------------
 *
 * pending.c
 *	  Audit records that survive the caller's rollback.
 *
 * Some actions have an effect that escapes the transaction: a revealed card
 * number has been shown, a verified code or MAC has told its caller the
 * answer, a key has been used.  Their ledger row is written in the caller's
 * transaction (so that a committed action has its row at once, durably),
 * and a ROLLBACK, or a ROLLBACK TO SAVEPOINT, would take it away.  So the
 * record is also kept in a buffer of shared memory (src/common/eventring.c):
 *
 *	 - finsec_audit_event_durable() writes the row and holds a copy in the
 *	   buffer for the (sub)transaction.  Its commit frees the copy; its
 *	   abort makes the copy wait for a flush.  A full buffer refuses the
 *	   action (no record, no reveal).
 *	 - finsec_audit_hold_otp_attempt() holds an attempt at a one-time code
 *	   (whose count the caller's transaction updates): rolled back, the
 *	   attempt still counts (finsec_audit_otp_pending_attempts()) until a
 *	   flush adds it to finsec.otp.
 *	 - finsec_audit_put_aborted() puts the record of a transaction already
 *	   aborting (key uses, counted until commit): a full buffer counts it as
 *	   dropped, and the server log has it.
 *
 * finsec.flush_audit_events() and the audit sealer of the database write
 * the waiting records to finsec.audit, with the original role, session and
 * time, and detail.rolled_back = true; each exactly once (claims of the
 * flushing transaction).  A crash loses the records not yet flushed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/socket.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/ip.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "libpq/libpq-be.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_errcodes.h"
#include "finsec_eventring.h"
#include "finsec_owner.h"
#include "ledger_internal.h"

int			finsec_audit_event_slots = FINSEC_AUDIT_EVENT_BUFFER_DEFAULT;
int			finsec_audit_event_slots_per_session = FINSEC_AUDIT_EVENT_BUFFER_PER_SESSION_DEFAULT;

typedef enum PendingKind
{
	PENDING_LEDGER = 0,			/* a ledger row */
	PENDING_OTP_ATTEMPT,		/* an attempt at a one-time code, and its row */
	PENDING_KEY_USE				/* key uses of committed transactions, summed */
} PendingKind;

/*
 * A PENDING_KEY_USE record keeps its sums in fields the other kinds use
 * otherwise: "at" is the commit of the first transaction, tag holds the
 * count of uses (int64) and the commit of the last transaction
 * (TimestampTz), rolled_back_seq the number of transactions; detail is
 * {"key_id": ..., "version": ...}.
 */
#define KEY_USE_COUNT_OFF	0
#define KEY_USE_LAST_OFF	8

#define PENDING_OTP_TAG_LEN 16

/* One record, as the buffer and the file saved at shutdown hold it. */
typedef struct PendingEvent
{
	TimestampTz at;
	Oid			dbid;
	int32		kind;			/* PendingKind */
	int32		backend_pid;
	bool		success;
	bool		has_subject;
	bool		has_object;
	bool		has_action;
	bool		has_description;
	bool		has_detail;
	bool		cut;			/* a field was shortened to fit */
	bool		detail_lost;	/* detail too long to keep */
	int64		rolled_back_seq;	/* finsec_seq of the row rolled back, or 0 */
	uint64		xid;			/* the transaction that rolled back, or 0 */
	Oid			db_user_oid;	/* when db_user is "": looked up at the flush */
	Oid			session_oid;
	unsigned char tag[PENDING_OTP_TAG_LEN]; /* one-time code: its salt */
	char		client_addr[64];
	char		application_name[NAMEDATALEN];
	char		event_type[64];
	char		subject[128];
	char		object[256];
	char		action[64];
	char		description[512];
	char		detail[1024];
} PendingEvent;

static bool pending_restorable(void *payload);

static FinsecEventRing ring = {
	.shmem_name = "finsec audit event buffer",
	.setting = "finsec.audit_event_buffer",
	.slots = &finsec_audit_event_slots,
	.payload_size = sizeof(PendingEvent),
	.dbid_offset = offsetof(PendingEvent, dbid),
	.file = "finsec_audit_events",
	.file_magic = 0x46534145,	/* "FSAE" */
	.restorable = pending_restorable,
	.msg = {
		.save_failed_one = "finsec: could not save %d audit event of a rolled-back transaction not yet written to the ledger to \"%s\": %m",
		.save_failed_many = "finsec: could not save %d audit events of rolled-back transactions not yet written to the ledger to \"%s\": %m",
		.save_lost = "They are lost.",
		.read_failed = "finsec: could not read saved audit events of rolled-back transactions \"%s\": %m",
		.unknown_format = "finsec: ignoring saved audit events of rolled-back transactions \"%s\" of an unknown format",
		.truncated = "finsec: saved audit events of rolled-back transactions \"%s\" are truncated; restored %d",
		.restored_one = "finsec: restored %d audit event of a rolled-back transaction not yet written to the ledger at shutdown",
		.restored_many = "finsec: restored %d audit events of rolled-back transactions not yet written to the ledger at shutdown",
		.prepare_held = "cannot prepare a transaction that has audit events of rolled-back transactions that must survive its rollback",
		.prepare_claimed = "cannot prepare a transaction that has flushed audit events of rolled-back transactions",
		.prepare_claimed_detail = "The events it took from the shared buffer belong to this session until the transaction ends.",
		.prepare_claimed_hint = "Call finsec.flush_audit_events() in a transaction of its own.",
		.unavailable = "the audit event buffer is not available",
		.dropped_one = "%llu audit event of a rolled-back transaction of this database was not written to the ledger because the audit event buffer was full",
		.dropped_many = "%llu audit events of rolled-back transactions of this database were not written to the ledger because the audit event buffer was full",
		.dropped_unattributed = "%llu audit events of rolled-back transactions of this database, and %llu of databases the buffer could not tell apart, were not written to the ledger because the audit event buffer was full",
		.dropped_hint = "Raise %s (now %d), or flush audit events more often.",
		.flush_failed = "finsec: audit events of rolled-back transactions not written to finsec.audit: %s",
	},
	.write_drop_event = finsec_audit_event_internal,
	.drop_event = "audit.events_dropped",
	.drop_object = "finsec.audit",
};

static bool
pending_restorable(void *payload)
{
	PendingEvent *ev = (PendingEvent *) payload;

	ev->client_addr[sizeof(ev->client_addr) - 1] = '\0';
	ev->application_name[sizeof(ev->application_name) - 1] = '\0';
	ev->event_type[sizeof(ev->event_type) - 1] = '\0';
	ev->subject[sizeof(ev->subject) - 1] = '\0';
	ev->object[sizeof(ev->object) - 1] = '\0';
	ev->action[sizeof(ev->action) - 1] = '\0';
	ev->description[sizeof(ev->description) - 1] = '\0';
	ev->detail[sizeof(ev->detail) - 1] = '\0';
	return ev->kind == PENDING_LEDGER || ev->kind == PENDING_OTP_ATTEMPT ||
		ev->kind == PENDING_KEY_USE;
}

static int64 flush_pending(Oid actor);

void
finsec_audit_ring_shmem_init(void)
{
	finsec_eventring_register(&ring);
	/* records of rolled-back transactions: written by the finsec worker */
	finsec_eventring_register_task(&ring, "audit.event_flush", flush_pending);
}

/* Called by finsec_audit_define_settings(); a postmaster setting needs the preload. */
void
finsec_audit_define_ring_settings(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("finsec.audit_event_buffer",
							"Number of audit records of rolled-back transactions shared memory holds until they are written.",
							"Reveals, code verifications and key uses keep their record here while their "
							"transaction is open; a record whose transaction rolls back waits here until "
							"finsec.flush_audit_events(), or the audit sealer, writes it to finsec.audit. "
							"When every slot is taken, reveals and code verifications are refused. About 2.3 kB each.",
							&finsec_audit_event_slots,
							FINSEC_AUDIT_EVENT_BUFFER_DEFAULT, 16, 65536,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.audit_event_buffer_per_session",
							"Number of slots of the audit event buffer one session's open transaction may hold.",
							"Past it the session's further reveals and code verifications are refused until "
							"its transaction ends, so that one session cannot take every slot. "
							"0 (the default) means an eighth of finsec.audit_event_buffer.",
							&finsec_audit_event_slots_per_session,
							FINSEC_AUDIT_EVENT_BUFFER_PER_SESSION_DEFAULT, 0, 65536,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
}

/* ---- building a record --------------------------------------------------- */

/* The client's address, computed outside abort callbacks. */
static bool cached_addr_done = false;
static char cached_client_addr[64];

void
finsec_audit_note_session(void)
{
	if (!cached_addr_done)
	{
		cached_client_addr[0] = '\0';
		if (MyProcPort && (MyProcPort->raddr.addr.ss_family == AF_INET ||
						   MyProcPort->raddr.addr.ss_family == AF_INET6))
		{
			char		host[NI_MAXHOST];

			if (pg_getnameinfo_all(&MyProcPort->raddr.addr, MyProcPort->raddr.salen,
								   host, sizeof(host), NULL, 0,
								   NI_NUMERICHOST | NI_NUMERICSERV) == 0)
			{
				clean_ipv6_addr(MyProcPort->raddr.addr.ss_family, host);
				strlcpy(cached_client_addr, host, sizeof(cached_client_addr));
			}
		}
		cached_addr_done = true;
	}
}

/* Copy src into dst, cut at a character boundary; never allocates. */
static void
copy_clipped(char *dst, int size, const char *src, bool *present, bool *cut)
{
	int			len;

	if (present)
		*present = src != NULL;
	if (src == NULL)
	{
		dst[0] = '\0';
		return;
	}
	len = (int) strnlen(src, size);
	if (len >= size)
	{
		len = pg_mbcliplen(src, len, size - 1);
		*cut = true;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* The fields of a record every kind has.  Never allocates. */
static void
fill_event(PendingEvent *ev, int kind, Oid db_user, const char *event_type,
		   const char *subject, const char *object, const char *action, bool success,
		   const char *description, const char *detail)
{
	FullTransactionId fxid = GetTopFullTransactionIdIfAny();

	memset(ev, 0, sizeof(*ev));
	ev->at = GetCurrentTimestamp();
	ev->dbid = MyDatabaseId;
	ev->kind = kind;
	ev->backend_pid = MyProcPid;
	ev->success = success;
	ev->xid = FullTransactionIdIsValid(fxid) ? U64FromFullTransactionId(fxid) : 0;
	ev->db_user_oid = db_user;
	ev->session_oid = GetSessionUserId();
	strlcpy(ev->client_addr, cached_client_addr, sizeof(ev->client_addr));
	strlcpy(ev->application_name, application_name ? application_name : "",
			sizeof(ev->application_name));
	strlcpy(ev->event_type, event_type, sizeof(ev->event_type));
	copy_clipped(ev->subject, sizeof(ev->subject), subject, &ev->has_subject, &ev->cut);
	copy_clipped(ev->object, sizeof(ev->object), object, &ev->has_object, &ev->cut);
	copy_clipped(ev->action, sizeof(ev->action), action, &ev->has_action, &ev->cut);
	copy_clipped(ev->description, sizeof(ev->description), description,
				 &ev->has_description, &ev->cut);
	if (detail != NULL && strlen(detail) < sizeof(ev->detail))
	{
		strlcpy(ev->detail, detail, sizeof(ev->detail));
		ev->has_detail = true;
	}
	else if (detail != NULL)
		ev->detail_lost = true;
}

static void
refuse_full(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_AUDIT_BUFFER_FULL),
			 errmsg("%s refused: the finsec audit event buffer is full", what),
			 errdetail("The record of this action must survive a rollback of the transaction, and no slot of finsec.audit_event_buffer is free to keep it."),
			 errhint("Run finsec.flush_audit_events(), check that the audit sealer runs for this database, or raise finsec.audit_event_buffer.")));
}

/* The number of slots one session may hold (finsec.audit_event_buffer_per_session). */
static int
session_cap(void)
{
	if (finsec_audit_event_slots_per_session > 0)
		return finsec_audit_event_slots_per_session;
	return Max(finsec_audit_event_slots / 8, 1);
}

/* Refuse the action when this session already holds its share of the buffer. */
static void
check_session_cap(const char *what)
{
	int			cap = session_cap();

	if (finsec_eventring_held_here(&ring) >= cap)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_AUDIT_BUFFER_FULL),
				 errmsg("%s refused: this session holds %d slots of the finsec audit event buffer, its share (finsec.audit_event_buffer_per_session)",
						what, cap),
				 errdetail("The record of this action must survive a rollback of the transaction; one session's open transaction may keep at most %d such records.",
						   cap),
				 errhint("End the transaction (commit or roll back) and continue in a new one.")));
}

/* The row, and its copy held for the (sub)transaction; actor InvalidOid: the caller. */
static void
durable_event(Oid actor, const char *event_type, const char *subject, const char *object,
			  const char *action, bool success, const char *description, Jsonb *detail)
{
	FinsecOwnerContext ctx;
	PendingEvent ev;
	char	   *detail_text = NULL;
	int64		seq;

	finsec_require_preload("the finsec audit ledger");
	check_session_cap(event_type);
	finsec_audit_note_session();
	finsec_spi_begin_as_owner(&ctx);
	if (!OidIsValid(actor))
		actor = ctx.caller;
	seq = finsec_audit_event_internal(actor, event_type, subject, object, action,
									  success, description, detail);
	finsec_spi_end(&ctx);

	if (detail)
		detail_text = JsonbToCString(NULL, &detail->root, VARSIZE(detail));
	fill_event(&ev, PENDING_LEDGER, actor, event_type, subject, object, action, success,
			   description, detail_text);
	ev.rolled_back_seq = seq;
	/* No slot: the row goes with the error, and so does the action. */
	if (!finsec_eventring_hold(&ring, &ev))
		refuse_full(event_type);
}

void
finsec_audit_event_durable(const char *event_type, const char *object,
						   const char *action, bool success,
						   const char *description, Jsonb *detail)
{
	durable_event(InvalidOid, event_type, NULL, object, action, success, description, detail);
}

PG_FUNCTION_INFO_V1(finsec_audit_refusal_sql);

/*
 * finsec._audit_refusal(event_type, object, action, description, detail):
 * for finsec's own SQL functions (no grant), right before they refuse an
 * action: an unsuccessful event, subject the session user, recorded for
 * the role that called finsec's SECURITY DEFINER function (the outer
 * role), that survives the rollback the refusal causes.
 */
Datum
finsec_audit_refusal_sql(PG_FUNCTION_ARGS)
{
	char	   *session = GetUserNameFromId(GetSessionUserId(), false);

	finsec_require_arg(fcinfo, 0, "audit event type");
	durable_event(GetOuterUserId(), text_to_cstring(PG_GETARG_TEXT_PP(0)), session,
				  finsec_text_arg_opt(fcinfo, 1), finsec_text_arg_opt(fcinfo, 2), false,
				  finsec_text_arg_opt(fcinfo, 3),
				  PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4));
	PG_RETURN_VOID();
}

void
finsec_audit_hold_otp_attempt(Oid actor, const unsigned char *salt, const char *subject,
							  const char *purpose, bool ok)
{
	PendingEvent ev;

	finsec_require_preload("one-time codes");
	check_session_cap("one-time code verification");
	finsec_audit_note_session();
	fill_event(&ev, PENDING_OTP_ATTEMPT, actor,
			   "otp.attempt", subject, purpose, "verify", ok,
			   "one-time code attempt in a transaction that was rolled back; counted against the code",
			   NULL);
	memcpy(ev.tag, salt, PENDING_OTP_TAG_LEN);
	if (!finsec_eventring_hold(&ring, &ev))
		refuse_full("one-time code verification");
}

int
finsec_audit_otp_pending_attempts(const unsigned char *salt)
{
	return finsec_eventring_count_matching(&ring, offsetof(PendingEvent, tag), salt,
										   PENDING_OTP_TAG_LEN);
}

/* Do records of rolled-back transactions of this database wait for a flush? */
bool
finsec_audit_events_waiting(void)
{
	return finsec_eventring_work_here(&ring);
}

bool
finsec_audit_put_aborted(Oid db_user, const char *event_type, const char *object,
						 const char *action, bool success, const char *description,
						 const char *detail_json)
{
	PendingEvent ev;

	if (!finsec_eventring_available(&ring))
		return false;
	fill_event(&ev, PENDING_LEDGER, db_user, event_type, NULL, object, action, success,
			   description, detail_json);
	return finsec_eventring_put(&ring, &ev);
}

/*
 * Add the key-use record "payload" into the waiting record "slot" when both
 * count the same key version, operation, roles, backend and application.
 * Runs under the ring's spinlock: compare and add only.
 */
static bool
merge_key_use(void *slot, const void *payload)
{
	PendingEvent *a = (PendingEvent *) slot;
	const PendingEvent *b = (const PendingEvent *) payload;
	int64		count;
	int64		more;

	if (a->kind != PENDING_KEY_USE || a->dbid != b->dbid ||
		a->db_user_oid != b->db_user_oid || a->session_oid != b->session_oid ||
		a->backend_pid != b->backend_pid ||
		strcmp(a->object, b->object) != 0 || strcmp(a->action, b->action) != 0 ||
		strcmp(a->detail, b->detail) != 0 ||
		strcmp(a->application_name, b->application_name) != 0 ||
		strcmp(a->client_addr, b->client_addr) != 0)
		return false;
	memcpy(&count, a->tag + KEY_USE_COUNT_OFF, sizeof(count));
	memcpy(&more, b->tag + KEY_USE_COUNT_OFF, sizeof(more));
	count += more;
	memcpy(a->tag + KEY_USE_COUNT_OFF, &count, sizeof(count));
	memcpy(a->tag + KEY_USE_LAST_OFF, b->tag + KEY_USE_LAST_OFF, sizeof(TimestampTz));
	a->rolled_back_seq += b->rolled_back_seq;
	return true;
}

/* Where this backend's waiting key-use records are (hints; merge_key_use checks). */
#define KEY_USE_HINTS 8

typedef struct KeyUseHint
{
	int64		key_id;
	int32		version;
	Oid			db_user;
	char		operation[32];
	int			idx;
	uint64		seq;
} KeyUseHint;

static KeyUseHint key_use_hints[KEY_USE_HINTS];
static int	key_use_hints_used = 0;
static int	key_use_hint_next = 0;

/* A committed transaction's uses of a key version: added into this backend's waiting sum, or a new one. */
bool
finsec_audit_put_key_use(Oid db_user, const char *label, const char *operation,
						 int64 key_id, int32 version, int64 count)
{
	PendingEvent ev;
	KeyUseHint *h = NULL;
	char		detail[96];
	TimestampTz now;

	if (!finsec_eventring_available(&ring))
		return false;
	snprintf(detail, sizeof(detail), "{\"key_id\": " INT64_FORMAT ", \"version\": %d}",
			 key_id, version);
	fill_event(&ev, PENDING_KEY_USE, db_user, "key.use", NULL, label, operation, true,
			   NULL, detail);
	ev.xid = 0;
	now = ev.at;
	memcpy(ev.tag + KEY_USE_COUNT_OFF, &count, sizeof(count));
	memcpy(ev.tag + KEY_USE_LAST_OFF, &now, sizeof(now));
	ev.rolled_back_seq = 1;

	for (int i = 0; i < key_use_hints_used; i++)
	{
		KeyUseHint *c = &key_use_hints[i];

		if (c->key_id == key_id && c->version == version && c->db_user == db_user &&
			strncmp(c->operation, operation, sizeof(c->operation)) == 0)
		{
			h = c;
			break;
		}
	}
	if (h == NULL)
	{
		if (key_use_hints_used < KEY_USE_HINTS)
			h = &key_use_hints[key_use_hints_used++];
		else
		{
			h = &key_use_hints[key_use_hint_next];
			key_use_hint_next = (key_use_hint_next + 1) % KEY_USE_HINTS;
		}
		h->key_id = key_id;
		h->version = version;
		h->db_user = db_user;
		strlcpy(h->operation, operation, sizeof(h->operation));
		h->idx = -1;
		h->seq = 0;
	}
	return finsec_eventring_put_merge(&ring, &ev, merge_key_use, &h->idx, &h->seq);
}

bool
finsec_audit_key_use_room(void)
{
	return finsec_eventring_available(&ring) &&
		finsec_eventring_free_slots(&ring) > finsec_audit_event_slots / 4;
}

/* ---- writing the records ------------------------------------------------- */

#define FLUSH_BATCH 64

/* A role's name, or its number when it has been dropped since. */
static const char *
role_name(Oid role)
{
	char	   *name = GetUserNameFromId(role, true);

	return name ? name : psprintf("%u", role);
}

/* Write one record to the ledger (and count an attempt at a code). */
static void
write_event(Oid actor, PendingEvent *ev)
{
	FinsecAuditReplay r;
	StringInfoData marker;

	if (ev->kind == PENDING_OTP_ATTEMPT)
	{
		Oid			types[1] = {BYTEAOID};
		Datum		args[1];

		args[0] = PointerGetDatum(finsec_bytea(ev->tag, PENDING_OTP_TAG_LEN));
		finsec_spi_execute("UPDATE finsec.otp SET attempts = attempts OPERATOR(pg_catalog.+) 1 "
						   " WHERE salt OPERATOR(pg_catalog.=) $1",
						   1, types, args, NULL, false, 0,
						   SPI_OK_UPDATE, "could not count a one-time code attempt");
	}

	initStringInfo(&marker);
	appendStringInfo(&marker, "{\"rolled_back\": true, \"rolled_back_xid\": " UINT64_FORMAT, ev->xid);
	if (ev->rolled_back_seq != 0)
		appendStringInfo(&marker, ", \"rolled_back_seq\": " INT64_FORMAT, ev->rolled_back_seq);
	if (ev->cut)
		appendStringInfoString(&marker, ", \"shortened\": true");
	if (ev->detail_lost)
		appendStringInfoString(&marker, ", \"detail_lost\": true");
	appendStringInfoChar(&marker, '}');

	memset(&r, 0, sizeof(r));
	r.at = ev->at;
	r.db_user = role_name(ev->db_user_oid);
	r.session_user = role_name(ev->session_oid);
	r.client_addr = ev->client_addr;
	r.application_name = ev->application_name;
	r.backend_pid = ev->backend_pid;
	r.event_type = ev->event_type;
	r.subject = ev->has_subject ? ev->subject : NULL;
	r.object = ev->has_object ? ev->object : NULL;
	r.action = ev->has_action ? ev->action : NULL;
	r.success = ev->success;
	r.description = ev->has_description ? ev->description : NULL;
	r.detail = ev->has_detail
		? DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(ev->detail)))
		: NULL;
	r.marker = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(marker.data)));
	(void) finsec_audit_event_replay(actor, &r);
	pfree(marker.data);
}

/* The key uses of committed transactions one flush writes as one row. */
typedef struct KeyUseSum
{
	PendingEvent ev;			/* the first record: roles, key, operation */
	int64		count;
	int64		transactions;
	TimestampTz first;
	TimestampTz last;
	int			backends;		/* distinct backends (counted up to 64) */
	int32		pids[64];
} KeyUseSum;

/* Add a claimed key-use record to its sum (same roles, key version, operation). */
static void
add_key_use(KeyUseSum **sums, int *nsums, int *maxsums, PendingEvent *ev)
{
	KeyUseSum  *u = NULL;
	int64		count;
	TimestampTz last;
	int			i;

	memcpy(&count, ev->tag + KEY_USE_COUNT_OFF, sizeof(count));
	memcpy(&last, ev->tag + KEY_USE_LAST_OFF, sizeof(last));
	for (i = 0; i < *nsums; i++)
	{
		PendingEvent *g = &(*sums)[i].ev;

		if (g->db_user_oid == ev->db_user_oid && g->session_oid == ev->session_oid &&
			strcmp(g->object, ev->object) == 0 && strcmp(g->action, ev->action) == 0 &&
			strcmp(g->detail, ev->detail) == 0)
		{
			u = &(*sums)[i];
			break;
		}
	}
	if (u == NULL)
	{
		if (*nsums == *maxsums)
		{
			*maxsums = *maxsums == 0 ? 8 : *maxsums * 2;
			*sums = *sums == NULL ? palloc(sizeof(KeyUseSum) * *maxsums)
				: repalloc(*sums, sizeof(KeyUseSum) * *maxsums);
		}
		u = &(*sums)[(*nsums)++];
		memset(u, 0, sizeof(*u));
		u->ev = *ev;
		u->first = ev->at;
		u->last = last;
	}
	u->count += count;
	u->transactions += ev->rolled_back_seq;
	u->first = Min(u->first, ev->at);
	u->last = Max(u->last, last);
	for (i = 0; i < Min(u->backends, lengthof(u->pids)); i++)
		if (u->pids[i] == ev->backend_pid)
			break;
	if (i == Min(u->backends, lengthof(u->pids)))
	{
		if (u->backends < lengthof(u->pids))
			u->pids[u->backends] = ev->backend_pid;
		u->backends++;
	}
}

/*
 * Write one key.use row for the summed uses of committed transactions:
 * detail {key_id, version, count, transactions, first_use, last_use,
 * backends}, at the time of the first; the backend, client and application
 * of the first record.
 */
static void
write_key_use(Oid actor, KeyUseSum *u)
{
	FinsecAuditReplay r;
	StringInfoData marker;
	char		first[MAXDATELEN + 1];
	char		last[MAXDATELEN + 1];

	JsonEncodeDateTime(first, TimestampTzGetDatum(u->first), TIMESTAMPTZOID, NULL);
	JsonEncodeDateTime(last, TimestampTzGetDatum(u->last), TIMESTAMPTZOID, NULL);
	initStringInfo(&marker);
	appendStringInfo(&marker,
					 "{\"count\": " INT64_FORMAT ", \"transactions\": " INT64_FORMAT
					 ", \"first_use\": \"%s\", \"last_use\": \"%s\", \"backends\": %d}",
					 u->count, u->transactions, first, last, u->backends);
	memset(&r, 0, sizeof(r));
	r.at = u->first;
	r.db_user = role_name(u->ev.db_user_oid);
	r.session_user = role_name(u->ev.session_oid);
	r.client_addr = u->ev.client_addr;
	r.application_name = u->ev.application_name;
	r.backend_pid = u->ev.backend_pid;
	r.event_type = u->ev.event_type;
	r.object = u->ev.object;
	r.action = u->ev.action;
	r.success = true;
	r.detail = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(u->ev.detail)));
	r.marker = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(marker.data)));
	(void) finsec_audit_event_replay(actor, &r);
	pfree(marker.data);
}

/*
 * Write this database's waiting records, in the current transaction.  The
 * caller has SPI connected and runs as finsec's owner.
 */
static int64
flush_pending(Oid actor)
{
	PendingEvent *events = palloc(sizeof(PendingEvent) * FLUSH_BATCH);
	uint64		dropped_here;
	uint64		dropped_unattributed;
	int			cursor = 0;
	int64		total = 0;
	int			n;

	KeyUseSum  *sums = NULL;
	int			nsums = 0;
	int			maxsums = 0;

	while ((n = finsec_eventring_claim(&ring, events, FLUSH_BATCH, &cursor)) > 0)
	{
		for (int i = 0; i < n; i++)
		{
			if (events[i].kind == PENDING_KEY_USE)
				add_key_use(&sums, &nsums, &maxsums, &events[i]);
			else
				write_event(actor, &events[i]);
		}
		total += n;
	}
	for (int i = 0; i < nsums; i++)
		write_key_use(actor, &sums[i]);
	if (sums)
		pfree(sums);
	finsec_eventring_claim_drops(&ring, &dropped_here, &dropped_unattributed);
	finsec_eventring_report_drops(&ring, actor, dropped_here, dropped_unattributed);
	explicit_bzero(events, sizeof(PendingEvent) * FLUSH_BATCH);
	pfree(events);
	return total;
}

PG_FUNCTION_INFO_V1(finsec_flush_audit_events);

/* finsec.flush_audit_events() returns bigint */
Datum
finsec_flush_audit_events(PG_FUNCTION_ARGS)
{
	finsec_require_preload("finsec.flush_audit_events()");
	PG_RETURN_INT64(finsec_eventring_flush_as_owner(&ring, flush_pending));
}

PG_FUNCTION_INFO_V1(finsec_audit_event_buffer);

/*
 * finsec.audit_event_buffer(OUT capacity integer, OUT waiting integer,
 *	 OUT waiting_here integer, OUT flushing integer, OUT dropped bigint,
 *	 OUT dropped_unreported bigint); all NULL without the preload.
 */
Datum
finsec_audit_event_buffer(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(finsec_eventring_status(&ring, fcinfo));
}
