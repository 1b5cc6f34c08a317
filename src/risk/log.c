/*-------------------------------------------------------------------------
 *
 * log.c
 *	  The risk decision log: every decision but a plain allow, kept even
 *	  when the scoring transaction rolls back.
 *
 * An application typically rolls back a payment its risk decision
 * blocked, so the record of the decision cannot be written in that
 * transaction.  finsec.risk_score() instead puts it into a fixed-size
 * buffer in shared memory (finsec.risk_decision_buffer slots, one
 * RiskLogEvent each).  finsec.flush_risk_decisions(), and the audit sealer
 * of the database every round, copy this database's waiting decisions
 * into finsec.risk_decision_log and free their slots when that
 * transaction commits; if it aborts they stay for the next flush.
 *
 * Each decision carries a unique decision_id (a sequence value taken when
 * it was scored) and the table's primary key is (decision_id,
 * decided_at), so the copy is idempotent: two flushes racing, or a flush
 * whose commit the server crashed right after, insert each decision once
 * (ON CONFLICT DO NOTHING).  At a clean shutdown the waiting decisions
 * are saved to a file in the data directory and restored at the next
 * start; a crash loses the decisions not yet flushed (the sealer flushes
 * every round, so at most a round's worth), and a full buffer drops new
 * ones: both are counted, reported in finsec.risk_decision_buffer() and
 * in the ledger by the next flush.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_risk.h"
#include "../audit/ledger_internal.h"
#include "risk_internal.h"

const char *const finsec_risk_decision_names[RISK_DECISION_KINDS] = {
	"allow", "challenge", "review", "block"
};

const char *const finsec_risk_entity_names[RISK_LOG_ENTITIES] = {
	"customer", "account", "counterparty", "device", "ip", "phone", "merchant", "card", "region", "reference"
};

int			finsec_risk_decision_slots = 4096;
int			finsec_risk_log_retention = 180;

typedef struct LogSlot
{
	uint64		seq;			/* 0: free */
	RiskLogEvent ev;
} LogSlot;

typedef struct LogBuffer
{
	slock_t		mutex;
	int			capacity;
	int			nfree;
	uint64		next_seq;
	uint64		dropped;		/* since the server started */
	uint64		dropped_reported;
	/* then int free_stack[capacity]; then LogSlot slots[capacity] */
} LogBuffer;

static LogBuffer *buf = NULL;
static int *buf_free = NULL;
static LogSlot *buf_slots = NULL;

#define LOG_FILE		"finsec_risk_decisions"
#define LOG_FILE_TMP	"finsec_risk_decisions.tmp"
#define LOG_FILE_MAGIC	0x46535244	/* "FSRD" */

typedef struct LogFileHeader
{
	uint32		magic;
	uint32		event_size;
	int32		nevents;
	uint64		dropped;
} LogFileHeader;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
buffer_size(int capacity)
{
	return add_size(MAXALIGN(sizeof(LogBuffer)),
					add_size(MAXALIGN(mul_size(sizeof(int), capacity)),
							 mul_size(sizeof(LogSlot), capacity)));
}

static void
buffer_attach(void)
{
	buf_free = (int *) ((char *) buf + MAXALIGN(sizeof(LogBuffer)));
	buf_slots = (LogSlot *) ((char *) buf_free + MAXALIGN(sizeof(int) * buf->capacity));
}

/* Caller holds the mutex (or is alone). */
static bool
store_locked(const RiskLogEvent *ev)
{
	int			idx;

	if (buf->nfree == 0)
	{
		buf->dropped++;
		return false;
	}
	idx = buf_free[--buf->nfree];
	buf_slots[idx].seq = ++buf->next_seq;
	buf_slots[idx].ev = *ev;
	return true;
}

static void
save_buffer(int code, Datum arg)
{
	LogFileHeader h;
	FILE	   *f;
	int			i;

	if (code != 0 || buf == NULL)
		return;
	memset(&h, 0, sizeof(h));
	h.magic = LOG_FILE_MAGIC;
	h.event_size = sizeof(RiskLogEvent);
	h.dropped = buf->dropped - buf->dropped_reported;
	for (i = 0; i < buf->capacity; i++)
		if (buf_slots[i].seq != 0)
			h.nevents++;
	if (h.nevents == 0 && h.dropped == 0)
		return;
	f = AllocateFile(LOG_FILE_TMP, PG_BINARY_W);
	if (f == NULL || fwrite(&h, sizeof(h), 1, f) != 1)
		goto fail;
	for (i = 0; i < buf->capacity; i++)
		if (buf_slots[i].seq != 0 && fwrite(&buf_slots[i].ev, sizeof(RiskLogEvent), 1, f) != 1)
			goto fail;
	if (FreeFile(f) != 0)
	{
		f = NULL;
		goto fail;
	}
	f = NULL;
	if (durable_rename(LOG_FILE_TMP, LOG_FILE, LOG) != 0)
		goto fail;
	return;

fail:
	if (f)
		FreeFile(f);
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("finsec: could not save %d risk decision(s) not yet logged to \"%s\": %m",
					h.nevents, LOG_FILE)));
	unlink(LOG_FILE_TMP);
}

static void
load_buffer(void)
{
	LogFileHeader h;
	FILE	   *f;
	int			i;
	int			restored = 0;

	f = AllocateFile(LOG_FILE, PG_BINARY_R);
	if (f == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("finsec: could not read saved risk decisions \"%s\": %m", LOG_FILE)));
		return;
	}
	if (fread(&h, sizeof(h), 1, f) != 1 || h.magic != LOG_FILE_MAGIC ||
		h.event_size != sizeof(RiskLogEvent) || h.nevents < 0)
	{
		ereport(LOG,
				(errmsg("finsec: ignoring saved risk decisions \"%s\" of an unknown format", LOG_FILE)));
		goto done;
	}
	buf->dropped += h.dropped;
	for (i = 0; i < h.nevents; i++)
	{
		RiskLogEvent ev;
		int			e;

		if (fread(&ev, sizeof(ev), 1, f) != 1)
		{
			ereport(LOG,
					(errmsg("finsec: saved risk decisions \"%s\" are truncated; restored %d", LOG_FILE, restored)));
			goto done;
		}
		if (ev.decision < 0 || ev.decision >= RISK_DECISION_KINDS || ev.nrules < 0 ||
			ev.nrules > RISK_LOG_MAX_RULES)
			continue;
		for (e = 0; e < RISK_LOG_ENTITIES; e++)
			ev.entity[e][RISK_LOG_VALUE_LEN - 1] = '\0';
		if (store_locked(&ev))
			restored++;
	}
	if (restored > 0)
		ereport(LOG,
				(errmsg("finsec: restored %d risk decision(s) not yet logged at shutdown", restored)));
done:
	FreeFile(f);
	unlink(LOG_FILE);
}

static void
log_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(buffer_size(finsec_risk_decision_slots));
}

static void
log_shmem_startup(void)
{
	bool		found;
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	buf = ShmemInitStruct("finsec risk decision buffer", buffer_size(finsec_risk_decision_slots), &found);
	if (!found)
	{
		memset(buf, 0, buffer_size(finsec_risk_decision_slots));
		SpinLockInit(&buf->mutex);
		buf->capacity = finsec_risk_decision_slots;
		buffer_attach();
		for (i = 0; i < buf->capacity; i++)
			buf_free[i] = buf->capacity - 1 - i;
		buf->nfree = buf->capacity;
	}
	else
		buffer_attach();
	LWLockRelease(AddinShmemInitLock);
	if (!IsUnderPostmaster)
	{
		if (!found)
			load_buffer();
		on_shmem_exit(save_buffer, (Datum) 0);
	}
}

void
finsec_risk_log_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = log_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = log_shmem_startup;
}

void
finsec_risk_define_log_settings(void)
{
	DefineCustomIntVariable("finsec.risk_log_retention",
							"Days of risk decisions kept in finsec.risk_decision_log (0: forever).",
							"Older daily partitions are dropped, and the drop audited, by finsec.risk_log_maintain().",
							&finsec_risk_log_retention,
							180, 0, 36500,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	/* the buffer exists only in shared memory, so only when preloaded */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("finsec.risk_decision_buffer",
							"Risk decisions shared memory holds until they are logged in finsec.risk_decision_log.",
							NULL,
							&finsec_risk_decision_slots,
							4096, 16, 1048576,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);
}

/* ---- writing ------------------------------------------------------------- */

void
finsec_risk_log_value(char *dst, const char *src, int len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int			i;

	if (len < RISK_LOG_VALUE_LEN)
	{
		memcpy(dst, src, len);
		dst[len] = '\0';
		return;
	}
	if (EVP_Digest(src, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("OpenSSL could not compute SHA-256")));
	strcpy(dst, "sha256:");
	for (i = 0; i < 28; i++)
		snprintf(dst + 7 + 2 * i, 3, "%02x", md[i]);
}

static TimestampTz last_drop_warning = 0;

void
finsec_risk_log_decision(const RiskLogEvent *ev)
{
	bool		stored;

	finsec_require_preload("the risk decision log");
	SpinLockAcquire(&buf->mutex);
	stored = store_locked(ev);
	SpinLockRelease(&buf->mutex);
	/*
	 * Every drop is counted, shown by finsec.risk_decision_buffer() and
	 * reported to the ledger by the next flush; the session is warned at
	 * most once a minute, not at every call.
	 */
	if (!stored && TimestampDifferenceExceeds(last_drop_warning, GetCurrentTimestamp(), 60 * 1000))
	{
		last_drop_warning = GetCurrentTimestamp();
		ereport(WARNING,
				(errmsg("finsec: risk decision %lld not logged: the decision buffer is full",
						(long long) ev->decision_id),
				 errhint("Raise finsec.risk_decision_buffer, or flush decisions more often (finsec.flush_risk_decisions()).")));
	}
}

/* ---- flushing ------------------------------------------------------------ */

/* Slots copied by this transaction, freed when it commits. */
typedef struct Copied
{
	int			idx;
	uint64		seq;
	SubTransactionId subid;
} Copied;

static Copied *copied = NULL;
static int	ncopied = 0;
static int	copied_cap = 0;
static bool callbacks_registered = false;

static void
log_xact_callback(XactEvent event, void *arg)
{
	int			i;

	if (ncopied == 0)
		return;
	if (event == XACT_EVENT_COMMIT && buf != NULL)
	{
		SpinLockAcquire(&buf->mutex);
		for (i = 0; i < ncopied; i++)
		{
			LogSlot    *s = &buf_slots[copied[i].idx];

			if (s->seq == copied[i].seq)
			{
				s->seq = 0;
				buf_free[buf->nfree++] = copied[i].idx;
			}
		}
		SpinLockRelease(&buf->mutex);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		ncopied = 0;
}

static void
log_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	int			i;
	int			n = 0;

	for (i = 0; i < ncopied; i++)
	{
		if (copied[i].subid != mySubid)
		{
			copied[n++] = copied[i];
			continue;
		}
		if (event == SUBXACT_EVENT_COMMIT_SUB)
		{
			copied[i].subid = parentSubid;
			copied[n++] = copied[i];
		}
		/* SUBXACT_EVENT_ABORT_SUB: the copy was undone; the slot stays */
	}
	if (event == SUBXACT_EVENT_COMMIT_SUB || event == SUBXACT_EVENT_ABORT_SUB)
		ncopied = n;
}

static Datum
rules_array(const RiskLogEvent *ev, bool shadow)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(ev->nrules, 1));
	int			n = 0;
	int			i;

	for (i = 0; i < ev->nrules; i++)
		if (((ev->shadow_mask >> i) & 1) == (shadow ? 1 : 0))
			d[n++] = Int64GetDatum(ev->rules[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

#define LOG_COLS 24

/*
 * Copy this database's waiting decisions into finsec.risk_decision_log in
 * the current transaction (SPI connected, as finsec's owner).
 */
static int64
flush_decisions(Oid actor)
{
	static const char *const sql =
		"INSERT INTO finsec.risk_decision_log (decision_id, decided_at, payment_at, decision, score, "
		"ruleset_version, degraded, rules, shadow_rules, rules_truncated, relid, relation, customer, account, "
		"counterparty, device, ip, phone, merchant, card_key, region, reference, db_user, session_user_name) "
		"VALUES ($1, $2, $3, $4, pg_catalog.trim_scale($5::numeric / 10000), $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, "
		"$18, $19, $20, $21, $22, $23, $24) ON CONFLICT DO NOTHING";
	static const Oid types[LOG_COLS] = {
		INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, INT8OID, INT8OID, BOOLOID, INT8ARRAYOID,
		INT8ARRAYOID, BOOLOID, OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, NAMEOID, NAMEOID
	};
	LogSlot    *local;
	int		   *idx;
	int			n = 0;
	int			i;
	uint64		dropped;
	SPIPlanPtr	plan;

	if (buf == NULL)
		return 0;
	if (!callbacks_registered)
	{
		RegisterXactCallback(log_xact_callback, NULL);
		RegisterSubXactCallback(log_subxact_callback, NULL);
		callbacks_registered = true;
	}
	if (SPI_execute("SELECT finsec.risk_log_maintain()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "finsec.risk_log_maintain() failed");

	local = palloc(sizeof(LogSlot) * buf->capacity);
	idx = palloc(sizeof(int) * buf->capacity);
	SpinLockAcquire(&buf->mutex);
	for (i = 0; i < buf->capacity; i++)
		if (buf_slots[i].seq != 0 && buf_slots[i].ev.dbid == MyDatabaseId)
		{
			idx[n] = i;
			local[n++] = buf_slots[i];
		}
	dropped = buf->dropped - buf->dropped_reported;
	buf->dropped_reported = buf->dropped;
	SpinLockRelease(&buf->mutex);

	if (n > 0)
	{
		plan = SPI_prepare(sql, LOG_COLS, (Oid *) types);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		for (i = 0; i < n; i++)
		{
			const RiskLogEvent *ev = &local[i].ev;
			Datum		values[LOG_COLS];
			char		nulls[LOG_COLS];
			int			e;
			char	   *rel = NULL;

			memset(nulls, ' ', sizeof(nulls));
			values[0] = Int64GetDatum(ev->decision_id);
			values[1] = TimestampTzGetDatum(ev->decided_at);
			values[2] = TimestampTzGetDatum(ev->payment_at);
			values[3] = CStringGetTextDatum(finsec_risk_decision_names[ev->decision]);
			values[4] = Int64GetDatum(ev->score_e4);
			values[5] = Int64GetDatum(ev->ruleset_version);
			values[6] = BoolGetDatum(ev->degraded);
			values[7] = rules_array(ev, false);
			values[8] = rules_array(ev, true);
			values[9] = BoolGetDatum(ev->rules_truncated);
			values[10] = ObjectIdGetDatum(ev->relid);
			if (!OidIsValid(ev->relid))
				nulls[10] = 'n';
			if (OidIsValid(ev->relid) && get_rel_name(ev->relid) != NULL)
				rel = finsec_quoted_relname(ev->relid);
			values[11] = rel ? CStringGetTextDatum(rel) : (Datum) 0;
			if (rel == NULL)
				nulls[11] = 'n';
			for (e = 0; e < RISK_LOG_ENTITIES; e++)
			{
				values[12 + e] = CStringGetTextDatum(ev->entity[e]);
				if (ev->entity[e][0] == '\0')
					nulls[12 + e] = 'n';
			}
			{
				char	   *u = GetUserNameFromId(ev->userid, true);
				char	   *s = GetUserNameFromId(ev->sessionid, true);

				values[22] = u ? DirectFunctionCall1(namein, CStringGetDatum(u)) : (Datum) 0;
				nulls[22] = u ? ' ' : 'n';
				values[23] = s ? DirectFunctionCall1(namein, CStringGetDatum(s)) : (Datum) 0;
				nulls[23] = s ? ' ' : 'n';
			}
			if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not log a risk decision in finsec.risk_decision_log");
		}
		SPI_freeplan(plan);

		if (ncopied + n > copied_cap)
		{
			copied_cap = Max(ncopied + n, 64);
			copied = copied ? repalloc(copied, sizeof(Copied) * copied_cap)
				: MemoryContextAlloc(TopMemoryContext, sizeof(Copied) * copied_cap);
		}
		for (i = 0; i < n; i++)
		{
			copied[ncopied].idx = idx[i];
			copied[ncopied].seq = local[i].seq;
			copied[ncopied].subid = GetCurrentSubTransactionId();
			ncopied++;
		}
	}
	if (dropped > 0)
	{
		char	   *desc = psprintf("%llu risk decision(s) were not logged because the decision buffer was full",
									(unsigned long long) dropped);

		(void) finsec_audit_event_internal(actor, "risk.decisions_dropped", NULL, "finsec.risk_decision_log",
										   "flush", false, desc, NULL);
		ereport(LOG,
				(errmsg("finsec: %s", desc),
				 errhint("Raise finsec.risk_decision_buffer (now %d), or flush decisions more often.",
						 buf->capacity)));
	}
	pfree(local);
	pfree(idx);
	return n;
}

PG_FUNCTION_INFO_V1(finsec_flush_risk_decisions);

/* finsec.flush_risk_decisions() returns bigint */
Datum
finsec_flush_risk_decisions(PG_FUNCTION_ARGS)
{
	FinsecOwnerContext ctx;
	int64		n;

	finsec_require_preload("finsec.flush_risk_decisions()");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	finsec_begin_owner(&ctx);
	n = flush_decisions(ctx.caller);
	finsec_end_owner(&ctx);
	SPI_finish();
	PG_RETURN_INT64(n);
}

/*
 * The audit sealer's share, in its round's transaction (SPI connected):
 * log this database's decisions in a subtransaction, so that a failure
 * leaves them in the buffer for the next round and sealing goes on.
 */
void
finsec_risk_sealer_flush(void)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			nsp;
	static TimestampTz last_warning = 0;
	static TimestampTz last_maintain = 0;
	bool		waiting = false;
	int			i;

	if (buf == NULL)
		return;
	SpinLockAcquire(&buf->mutex);
	for (i = 0; i < buf->capacity && !waiting; i++)
		waiting = buf_slots[i].seq != 0 && buf_slots[i].ev.dbid == MyDatabaseId;
	SpinLockRelease(&buf->mutex);
	/* Partitions are made ahead and old ones dropped at least every 10 minutes. */
	if (!waiting && !TimestampDifferenceExceeds(last_maintain, GetCurrentTimestamp(), 600 * 1000))
		return;
	nsp = get_namespace_oid("finsec", true);
	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("risk_decision_log", nsp)))
		return;

	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		FinsecOwnerContext ctx;

		finsec_begin_owner(&ctx);
		(void) flush_decisions(ctx.caller);
		last_maintain = GetCurrentTimestamp();
		finsec_end_owner(&ctx);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		TimestampTz now = GetCurrentTimestamp();

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		if (TimestampDifferenceExceeds(last_warning, now, 60 * 1000))
		{
			last_warning = now;
			ereport(WARNING,
					(errmsg("finsec: risk decisions not logged in finsec.risk_decision_log: %s", edata->message),
					 errdetail("They stay in the shared buffer for the next round; sealing continues.")));
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
}

PG_FUNCTION_INFO_V1(finsec_risk_decision_buffer);

/* finsec.risk_decision_buffer(OUT capacity, OUT waiting, OUT waiting_here, OUT dropped, OUT dropped_unreported) */
Datum
finsec_risk_decision_buffer(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	int			waiting = 0,
				here = 0;
	uint64		dropped,
				unreported;
	int			i;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (buf == NULL)
	{
		for (i = 0; i < 5; i++)
			nulls[i] = true;
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
	}
	SpinLockAcquire(&buf->mutex);
	for (i = 0; i < buf->capacity; i++)
		if (buf_slots[i].seq != 0)
		{
			waiting++;
			if (buf_slots[i].ev.dbid == MyDatabaseId)
				here++;
		}
	dropped = buf->dropped;
	unreported = buf->dropped - buf->dropped_reported;
	SpinLockRelease(&buf->mutex);
	values[0] = Int32GetDatum(buf->capacity);
	values[1] = Int32GetDatum(waiting);
	values[2] = Int32GetDatum(here);
	values[3] = Int64GetDatum((int64) dropped);
	values[4] = Int64GetDatum((int64) unreported);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
