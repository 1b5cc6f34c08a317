/*-------------------------------------------------------------------------
 *
 * log.c
 *	  The risk decision log: every decision but a plain allow (and every
 *	  allow on which a shadow rule fired; every decision with
 *	  finsec.risk_log_decisions = all), kept even when the scoring
 *	  transaction rolls back.
 *
 * An application typically rolls back a payment its risk decision
 * blocked, so the record of the decision cannot be written in that
 * transaction.  finsec.risk_score() instead puts it into a buffer in
 * shared memory (finsec.risk_decision_buffer slots, one RiskLogEvent
 * each; src/common/eventring.c).  finsec.flush_risk_decisions(), and the
 * worker of the database every finsec.risk_log_flush_interval, claim this
 * database's waiting decisions for their transaction and copy them into
 * finsec.risk_decision_log; the slots are freed when that transaction
 * commits, and wait for the next flush if it aborts.  A claimed decision
 * is copied by no other flush, so while the server runs each decision
 * becomes exactly one row; its decision_id (a sequence value taken when
 * it was scored) is also the table's key, with decided_at.
 *
 * At a clean shutdown the waiting decisions are saved to
 * $PGDATA/finsec_risk_decisions and restored at the next start.  A crash
 * loses the decisions not yet flushed (at most a flush interval's worth).
 * A full buffer makes the scoring call wait for room, up to
 * finsec.risk_log_wait_ms, then refuse the call or drop the decision
 * (finsec.risk_log_when_full; docs/risk-log.md, "Back-pressure").  Drops
 * are counted per database, shown by finsec.risk_decision_buffer() and reported in the
 * ledger (risk.decisions_dropped) by the next flush.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_eventring.h"
#include "finsec_risk.h"
#include "finsec_owner.h"
#include "finsec_worker.h"
#include "risk_internal.h"

const char *const finsec_risk_decision_names[RISK_DECISION_KINDS] = {
	"allow", "challenge", "review", "block"
};

const char *const finsec_risk_entity_names[RISK_LOG_ENTITIES] = {
	"customer", "account", "counterparty", "device", "ip", "phone", "merchant", "card", "region", "reference"
};

/*
 * finsec.risk_decision_buffer, and finsec.risk_log_retention in minutes
 * (GUC_UNIT_MIN, like every retention setting; a number of days before
 * 0.9): 0 or a whole number of days, which finsec.risk_log_maintain() reads.
 */
#define FINSEC_RISK_DECISION_BUFFER_DEFAULT 4096
#define FINSEC_RISK_LOG_RETENTION_DEFAULT (180 * 24 * 60)
#define RISK_LOG_RETENTION_DAY (24 * 60)
int			finsec_risk_decision_slots = FINSEC_RISK_DECISION_BUFFER_DEFAULT;
int			finsec_risk_log_retention_minutes = FINSEC_RISK_LOG_RETENTION_DEFAULT;

/*
 * Back-pressure (issue 20): which decisions are logged, how long a scoring
 * call waits for room in a full buffer, what it does when none comes in
 * time, and how often the worker flushes.
 */
#define RISK_LOG_NONE		(-1)	/* to measure the log's cost only */
#define RISK_LOG_FLAGGED	0	/* all but a plain allow (before 1.4) */
#define RISK_LOG_ALL		1
#define RISK_LOG_FULL_DROP	0
#define RISK_LOG_FULL_REFUSE 1
#define FINSEC_RISK_LOG_DECISIONS_DEFAULT RISK_LOG_FLAGGED
#define FINSEC_RISK_LOG_WAIT_MS_DEFAULT 100
#define FINSEC_RISK_LOG_WHEN_FULL_DEFAULT RISK_LOG_FULL_DROP
#define FINSEC_RISK_LOG_FLUSH_INTERVAL_DEFAULT 100
static int	risk_log_decisions = FINSEC_RISK_LOG_DECISIONS_DEFAULT;
static int	risk_log_wait_ms = FINSEC_RISK_LOG_WAIT_MS_DEFAULT;
static int	risk_log_when_full = FINSEC_RISK_LOG_WHEN_FULL_DEFAULT;
static int	risk_log_flush_interval_ms = FINSEC_RISK_LOG_FLUSH_INTERVAL_DEFAULT;

static const struct config_enum_entry risk_log_decisions_options[] = {
	{"flagged", RISK_LOG_FLAGGED, false},
	{"all", RISK_LOG_ALL, false},
	{"none", RISK_LOG_NONE, false},
	{NULL, 0, false}
};

static const struct config_enum_entry risk_log_when_full_options[] = {
	{"drop", RISK_LOG_FULL_DROP, false},
	{"refuse", RISK_LOG_FULL_REFUSE, false},
	{NULL, 0, false}
};

/*
 * Is this decision logged?  "flagged" is every decision but a plain allow;
 * "all" adds plain allows; "none" logs nothing (a benchmark's baseline).
 */
bool
finsec_risk_log_wanted(bool flagged)
{
	return risk_log_decisions == RISK_LOG_ALL ||
		(risk_log_decisions == RISK_LOG_FLAGGED && flagged);
}

static bool decision_restorable(void *payload);

static FinsecEventRing ring = {
	.shmem_name = "finsec risk decision buffer",
	.setting = "finsec.risk_decision_buffer",
	.slots = &finsec_risk_decision_slots,
	.payload_size = sizeof(RiskLogEvent),
	.dbid_offset = offsetof(RiskLogEvent, dbid),
	.file = "finsec_risk_decisions",
	.file_magic = 0x4653524c,	/* "FSRL" */
	.restorable = decision_restorable,
	.msg = {
		.save_failed_one = "finsec: could not save %d risk decision not yet logged to \"%s\": %m",
		.save_failed_many = "finsec: could not save %d risk decisions not yet logged to \"%s\": %m",
		.save_lost = NULL,
		.read_failed = "finsec: could not read saved risk decisions \"%s\": %m",
		.unknown_format = "finsec: ignoring saved risk decisions \"%s\" of an unknown format",
		.truncated = "finsec: saved risk decisions \"%s\" are truncated; restored %d",
		.restored_one = "finsec: restored %d risk decision not yet logged at shutdown",
		.restored_many = "finsec: restored %d risk decisions not yet logged at shutdown",
		.prepare_held = "cannot prepare a transaction that has risk decisions that must survive its rollback",
		.prepare_claimed = "cannot prepare a transaction that has flushed risk decisions",
		.prepare_claimed_detail = "The decisions it took from the shared buffer belong to this session until the transaction ends.",
		.prepare_claimed_hint = "Call finsec.flush_risk_decisions() in a transaction of its own.",
		.unavailable = "the decision buffer is not available",
		.dropped_one = "%llu risk decision of this database was not logged because the decision buffer was full",
		.dropped_many = "%llu risk decisions of this database were not logged because the decision buffer was full",
		.dropped_unattributed = "%llu risk decisions of this database, and %llu of databases the buffer could not tell apart, were not logged because the decision buffer was full",
		.dropped_hint = "Raise %s (now %d), or flush decisions more often.",
		.flush_failed = "finsec: risk decisions not logged in finsec.risk_decision_log: %s",
	},
	.write_drop_event = finsec_audit_event_internal,
	.drop_event = "risk.decisions_dropped",
	.drop_object = "finsec.risk_decision_log",
};

/* A decision saved at shutdown, checked before it is restored. */
static bool
decision_restorable(void *payload)
{
	RiskLogEvent *ev = (RiskLogEvent *) payload;
	int			e;

	for (e = 0; e < RISK_LOG_ENTITIES; e++)
		ev->entity[e][RISK_LOG_VALUE_LEN - 1] = '\0';
	return ev->decision >= 0 && ev->decision < RISK_DECISION_KINDS &&
		ev->nrules >= 0 && ev->nrules <= RISK_LOG_MAX_RULES;
}

/* the worker tasks, below */
static bool maintain_has_work(void *arg);
static int64 maintain_run(void *arg);
static bool flush_has_work(void *arg);
static int64 flush_run(void *arg);
static void maintained_after_commit(void *arg, int64 rows);

void
finsec_risk_log_shmem_init(void)
{
	FinsecWorkerTask maintain = {
		.name = "risk.log_maintain",
		.has_work = maintain_has_work,
		.run = maintain_run,
		.after_commit = maintained_after_commit,
	};
	FinsecWorkerTask flush = {
		.name = "risk.decision_flush",
		.has_work = flush_has_work,
		.run = flush_run,
		.after_commit = maintained_after_commit,
		.interval_ms_setting = &risk_log_flush_interval_ms,
		.failure_message = ring.msg.flush_failed,
		.failure_detail = "They stay in the shared buffer for the next round; sealing continues.",
	};

	finsec_eventring_register(&ring);
	finsec_worker_register_task(&maintain);
	finsec_worker_register_task(&flush);
}

/*
 * The log is kept in daily partitions: a retention is 0 (forever) or whole
 * days.  Refusing less than a day also refuses a unitless value of before
 * 0.9, when the setting counted days, rather than reading it as minutes.
 */
static bool
check_risk_log_retention(int *newval, void **extra, GucSource source)
{
	if (*newval == 0 ||
		(*newval >= RISK_LOG_RETENTION_DAY && *newval % RISK_LOG_RETENTION_DAY == 0))
		return true;
	GUC_check_errdetail("finsec.risk_log_retention is 0 (kept forever) or a whole number of days; a value without a unit is in minutes.");
	if (*newval <= 36500)		/* the range of before 0.9, in days */
		GUC_check_errhint("Write the unit, as in '180d'. Before finsec 0.9 a value without a unit counted days: if %d meant days, write '%dd'.",
						  *newval, *newval);
	return false;
}

/* Defines the decision log's settings (the buffer's only when preloaded). */
void
finsec_risk_define_log_settings(void)
{
	DefineCustomIntVariable("finsec.risk_log_retention",
							"How long risk decisions are kept in finsec.risk_decision_log (0: forever).",
							"Older daily partitions are dropped, and the drop audited, by finsec.risk_log_maintain(). "
							"0 or a whole number of days, e.g. '180d'; a value without a unit is in minutes.",
							&finsec_risk_log_retention_minutes,
							FINSEC_RISK_LOG_RETENTION_DEFAULT, 0, 36500 * RISK_LOG_RETENTION_DAY,
							PGC_SIGHUP,
							GUC_UNIT_MIN,
							check_risk_log_retention, NULL, NULL);
	DefineCustomEnumVariable("finsec.risk_log_decisions",
							 "Which risk decisions are logged in finsec.risk_decision_log.",
							 "flagged: every decision but a plain allow (an allow on which a shadow rule fired is logged); "
							 "all: every decision, plain allows included (003 6.2.3.1: a record of every automatic review); "
							 "none: no decision is logged (only to measure the log's cost: never in production).",
							 &risk_log_decisions,
							 FINSEC_RISK_LOG_DECISIONS_DEFAULT,
							 risk_log_decisions_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.risk_log_wait_ms",
							"How long finsec.risk_score() waits for room when the decision buffer is full.",
							"Then finsec.risk_log_when_full decides; 0: no wait.",
							&risk_log_wait_ms,
							FINSEC_RISK_LOG_WAIT_MS_DEFAULT, 0, 60 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomEnumVariable("finsec.risk_log_when_full",
							 "What finsec.risk_score() does when the decision buffer is still full after finsec.risk_log_wait_ms.",
							 "drop: the decision is not logged (counted, reported to the ledger); "
							 "refuse: the call fails, so no decision goes unrecorded.",
							 &risk_log_when_full,
							 FINSEC_RISK_LOG_WHEN_FULL_DEFAULT,
							 risk_log_when_full_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.risk_log_flush_interval",
							"How often finsec's worker moves waiting risk decisions into finsec.risk_decision_log.",
							NULL,
							&risk_log_flush_interval_ms,
							FINSEC_RISK_LOG_FLUSH_INTERVAL_DEFAULT, 10, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	/* the buffer exists only in shared memory, so only when preloaded */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("finsec.risk_decision_buffer",
							"Risk decisions shared memory holds until they are logged in finsec.risk_decision_log.",
							NULL,
							&finsec_risk_decision_slots,
							FINSEC_RISK_DECISION_BUFFER_DEFAULT, 16, 1048576,
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

/*
 * Wait, up to finsec.risk_log_wait_ms, for room in the buffer for ev (the
 * worker frees slots every finsec.risk_log_flush_interval): true when it
 * was stored.  Counted in shared memory (waits, time waited).
 */
static bool
wait_for_room(const RiskLogEvent *ev)
{
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz now = start;
	bool		stored = false;

	if (risk_log_wait_ms <= 0)
		return false;
	finsec_risk_logstat_add(RISK_LOGSTAT_WAITS, 1);
	while (!stored && !TimestampDifferenceExceeds(start, now, risk_log_wait_ms))
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		stored = finsec_eventring_put_if_room(&ring, ev);
		now = GetCurrentTimestamp();
	}
	finsec_risk_logstat_add(RISK_LOGSTAT_WAIT_US, (uint64) Max(now - start, 0));
	return stored;
}

void
finsec_risk_log_decision(const RiskLogEvent *ev)
{
	finsec_require_preload("the risk decision log");
	if (finsec_eventring_put_if_room(&ring, ev) || wait_for_room(ev))
		return;

	/*
	 * No room in time.  A refusal fails the scoring call: the application
	 * gets no decision it could act on without a record of it.
	 */
	if (risk_log_when_full == RISK_LOG_FULL_REFUSE)
	{
		finsec_risk_logstat_add(RISK_LOGSTAT_REFUSED, 1);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("risk decision not made: the decision buffer is full"),
				 errdetail("No decision buffer slot came free within finsec.risk_log_wait_ms (%d ms); finsec.risk_log_when_full is \"refuse\".",
						   risk_log_wait_ms),
				 errhint("Retry; raise finsec.risk_decision_buffer, or make sure finsec's worker runs in this database (finsec.audit_seal_databases).")));
	}

	/*
	 * Every drop is counted, shown by finsec.risk_decision_buffer() and
	 * reported to the ledger by the next flush; the session is warned at most
	 * once a minute, not at every call.
	 */
	finsec_eventring_count_drop(&ring, ev);
	if (TimestampDifferenceExceeds(last_drop_warning, GetCurrentTimestamp(), 60 * 1000))
	{
		last_drop_warning = GetCurrentTimestamp();
		ereport(WARNING,
				(errmsg("finsec: risk decision %lld not logged: the decision buffer is full",
						(long long) ev->decision_id),
				 errhint("Raise finsec.risk_decision_buffer, or flush decisions more often (finsec.flush_risk_decisions()).")));
	}
}

/* ---- flushing ------------------------------------------------------------ */

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

static Datum
name_or_null(Oid roleid, char *isnull)
{
	char	   *s = GetUserNameFromId(roleid, true);

	*isnull = s ? ' ' : 'n';
	return s ? DirectFunctionCall1(namein, CStringGetDatum(s)) : (Datum) 0;
}

/* One decision's row of finsec.risk_decision_log, as the INSERT's parameters. */
#define LOG_COLS 24

static void
decision_row(const RiskLogEvent *ev, Datum *values, char *nulls)
{
	char	   *rel = NULL;
	int			e;

	memset(nulls, ' ', LOG_COLS);
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
	values[22] = name_or_null(ev->userid, &nulls[22]);
	values[23] = name_or_null(ev->sessionid, &nulls[23]);
}

/*
 * Decisions claimed per batch, and rows per multi-row INSERT: 32 at a time,
 * the rest of a batch 8 and then 1 at a time (three prepared statements).
 */
#define FLUSH_BATCH		1024
#define INSERT_ROWS		32
#define INSERT_SIZES	3
static const int insert_sizes[INSERT_SIZES] = {INSERT_ROWS, 8, 1};

/*
 * The INSERT of "rows" decisions: one statement, rows * LOG_COLS
 * parameters (a multi-row VALUES list: one executor start, one partition
 * routing set-up and one ON CONFLICT check per row, not one plan execution
 * per row).
 */
static SPIPlanPtr
prepare_insert(int rows)
{
	static const Oid types[LOG_COLS] = {
		INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, INT8OID, INT8OID, BOOLOID, INT8ARRAYOID,
		INT8ARRAYOID, BOOLOID, OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, NAMEOID, NAMEOID
	};
	StringInfoData sql;
	Oid		   *argtypes = palloc(sizeof(Oid) * LOG_COLS * rows);
	SPIPlanPtr	plan;
	int			r;
	int			c;

	initStringInfo(&sql);
	appendStringInfoString(&sql,
						   "INSERT INTO finsec.risk_decision_log (decision_id, decided_at, payment_at, decision, score, "
						   "ruleset_version, degraded, rules, shadow_rules, rules_truncated, relid, relation, customer, account, "
						   "counterparty, device, ip, phone, merchant, card_key, region, reference, db_user, session_user_name) VALUES ");
	for (r = 0; r < rows; r++)
	{
		int			b = r * LOG_COLS;

		appendStringInfo(&sql, "%s($%d, $%d, $%d, $%d, pg_catalog.trim_scale($%d::numeric / 10000)",
						 r > 0 ? ", " : "", b + 1, b + 2, b + 3, b + 4, b + 5);
		for (c = 5; c < LOG_COLS; c++)
			appendStringInfo(&sql, ", $%d", b + c + 1);
		appendStringInfoChar(&sql, ')');
		memcpy(argtypes + b, types, sizeof(types));
	}
	appendStringInfoString(&sql, " ON CONFLICT DO NOTHING");
	plan = SPI_prepare(sql.data, LOG_COLS * rows, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	pfree(sql.data);
	pfree(argtypes);
	return plan;
}

/*
 * Refusals (finsec.risk_log_when_full = refuse) reported to the ledger by a
 * flush: counted as reported when that flush commits.
 */
static uint64 refusals_reporting = 0;
static bool refusal_callback_registered = false;

static void
refusals_xact_callback(XactEvent event, void *arg)
{
	if (refusals_reporting == 0)
		return;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
		finsec_risk_logstat_add(RISK_LOGSTAT_REFUSED_REPORTED, refusals_reporting);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		refusals_reporting = 0;
}

static void
report_refusals(Oid actor)
{
	uint64		refused = finsec_risk_logstat_read(RISK_LOGSTAT_REFUSED);
	uint64		reported = finsec_risk_logstat_read(RISK_LOGSTAT_REFUSED_REPORTED);
	uint64		n;

	if (refused <= reported + refusals_reporting)
		return;
	n = refused - reported - refusals_reporting;
	if (!refusal_callback_registered)
	{
		RegisterXactCallback(refusals_xact_callback, NULL);
		refusal_callback_registered = true;
	}
	finsec_audit_event_internal(actor, "risk.decisions_refused", NULL, "finsec.risk_decision_log", "score", false,
								psprintf(n == 1 ?
										 "%llu risk scoring call was refused because the decision buffer stayed full" :
										 "%llu risk scoring calls were refused because the decision buffer stayed full",
										 (unsigned long long) n),
								NULL);
	refusals_reporting += n;
	ereport(LOG,
			(errmsg_plural("finsec: %llu risk scoring call was refused because the decision buffer stayed full",
						   "finsec: %llu risk scoring calls were refused because the decision buffer stayed full",
						   n, (unsigned long long) n),
			 errhint("Raise %s (now %d), or flush decisions more often.", ring.setting, *ring.slots)));
}

/*
 * Copy this database's waiting decisions into finsec.risk_decision_log in
 * the current transaction (SPI connected, as finsec's owner; actor is the
 * role it acts for, named in the ledger), after making sure of the daily
 * partitions when "maintain" (finsec.risk_log_maintain()).  A decision of
 * a day without a partition goes to the default partition.  Rows go in
 * INSERT_ROWS at a time (the rest of a batch 8, then 1 at a time).
 */
static int64
flush_decisions(Oid actor, bool maintain)
{
	RiskLogEvent *batch;
	SPIPlanPtr	plans[INSERT_SIZES] = {NULL, NULL, NULL};
	Datum	   *values;
	char	   *nulls;
	uint64		dropped_here;
	uint64		dropped_unattributed;
	int64		total = 0;
	int			cursor = 0;
	int			n;
	int			i;

	if (maintain && SPI_execute("SELECT finsec.risk_log_maintain()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "finsec.risk_log_maintain() failed");

	batch = palloc(sizeof(RiskLogEvent) * FLUSH_BATCH);
	values = palloc(sizeof(Datum) * LOG_COLS * INSERT_ROWS);
	nulls = palloc(LOG_COLS * INSERT_ROWS);
	while ((n = finsec_eventring_claim(&ring, batch, FLUSH_BATCH, &cursor)) > 0)
	{
		i = 0;
		while (i < n)
		{
			int			k = 0;
			int			rows;
			SPIPlanPtr *plan;
			int			r;

			while (n - i < insert_sizes[k])
				k++;
			rows = insert_sizes[k];
			plan = &plans[k];

			if (*plan == NULL)
				*plan = prepare_insert(rows);
			for (r = 0; r < rows; r++)
				decision_row(&batch[i + r], values + r * LOG_COLS, nulls + r * LOG_COLS);
			if (SPI_execute_plan(*plan, values, nulls, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not log a risk decision in finsec.risk_decision_log");
			finsec_risk_logstat_add(RISK_LOGSTAT_FLUSHES, 1);
			i += rows;
		}
		total += n;
	}
	for (i = 0; i < INSERT_SIZES; i++)
		if (plans[i])
			SPI_freeplan(plans[i]);
	pfree(values);
	pfree(nulls);
	pfree(batch);
	finsec_risk_logstat_add(RISK_LOGSTAT_FLUSHED, total);

	finsec_eventring_claim_drops(&ring, &dropped_here, &dropped_unattributed);
	finsec_eventring_report_drops(&ring, actor, dropped_here, dropped_unattributed);
	report_refusals(actor);
	return total;
}

static int64
flush_sql(Oid actor)
{
	return flush_decisions(actor, true);
}

PG_FUNCTION_INFO_V1(finsec_flush_risk_decisions);

/* finsec.flush_risk_decisions() returns bigint */
Datum
finsec_flush_risk_decisions(PG_FUNCTION_ARGS)
{
	finsec_require_preload("finsec.flush_risk_decisions()");
	PG_RETURN_INT64(finsec_eventring_flush_as_owner(&ring, flush_sql));
}

/*
 * Two worker tasks, each in its own transaction (SPI connected), as
 * finsec's owner: risk.log_maintain makes partitions ahead, and drops old
 * ones, every 10 minutes; risk.decision_flush logs this database's
 * decisions, maintaining the partitions first when the log is not the one
 * last maintained (the extension was dropped and created again).  A
 * failure rolls back, leaving the decisions in the buffer for the next
 * round.  Nothing happens in a database whose finsec has no
 * finsec.risk_decision_log (an older version).
 */
#define MAINTAIN_INTERVAL_MS	(600 * 1000)

static TimestampTz last_maintain = 0;
static Oid	maintained_log = InvalidOid;
static Oid	task_log = InvalidOid;	/* the log this run maintained, if any */

static Oid
decision_log(void)
{
	Oid			nsp = get_namespace_oid("finsec", true);

	return OidIsValid(nsp) ? get_relname_relid("risk_decision_log", nsp) : InvalidOid;
}

static bool
maintain_has_work(void *arg)
{
	return finsec_eventring_available(&ring) &&
		(!OidIsValid(maintained_log) ||
		 TimestampDifferenceExceeds(last_maintain, GetCurrentTimestamp(), MAINTAIN_INTERVAL_MS));
}

static int64
maintain_run(void *arg)
{
	FinsecOwnerContext ctx;

	task_log = decision_log();
	if (!OidIsValid(task_log))
		return 0;
	finsec_begin_owner(&ctx);
	if (SPI_execute("SELECT finsec.risk_log_maintain()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "finsec.risk_log_maintain() failed");
	finsec_end_owner(&ctx);
	return 0;
}

static bool
flush_has_work(void *arg)
{
	return finsec_eventring_work_here(&ring);
}

static int64
flush_task(Oid actor)
{
	return flush_decisions(actor, OidIsValid(task_log));
}

static int64
flush_run(void *arg)
{
	Oid			log = decision_log();

	task_log = InvalidOid;
	if (!OidIsValid(log))
		return 0;
	if (log != maintained_log)
		task_log = log;
	return finsec_eventring_flush_as_owner(&ring, flush_task);
}

static void
maintained_after_commit(void *arg, int64 rows)
{
	if (OidIsValid(task_log))
	{
		maintained_log = task_log;
		last_maintain = GetCurrentTimestamp();
	}
}

PG_FUNCTION_INFO_V1(finsec_risk_decision_buffer);

/*
 * finsec.risk_decision_buffer(OUT capacity integer, OUT waiting integer,
 *	 OUT waiting_here integer, OUT flushing integer, OUT dropped bigint,
 *	 OUT dropped_unreported bigint); all NULL without the preload.
 */
Datum
finsec_risk_decision_buffer(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(finsec_eventring_status(&ring, fcinfo));
}

PG_FUNCTION_INFO_V1(finsec_risk_decision_log_pressure);

/*
 * finsec.risk_decision_log_pressure(OUT logging text, OUT when_full text,
 *	 OUT wait_ms integer, OUT waits bigint, OUT waited_ms float8,
 *	 OUT refused bigint, OUT refused_unreported bigint, OUT dropped bigint,
 *	 OUT flushed bigint, OUT flush_statements bigint): the back-pressure of
 * the decision log since the server started, all servers' databases
 * together; the counters NULL without the preload.
 */
Datum
finsec_risk_decision_log_pressure(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[10];
	bool		nulls[10];
	int			i;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	memset(nulls, false, sizeof(nulls));
	values[0] = CStringGetTextDatum(risk_log_decisions == RISK_LOG_ALL ? "all" :
									risk_log_decisions == RISK_LOG_NONE ? "none" : "flagged");
	values[1] = CStringGetTextDatum(risk_log_when_full == RISK_LOG_FULL_REFUSE ? "refuse" : "drop");
	values[2] = Int32GetDatum(risk_log_wait_ms);
	values[3] = Int64GetDatum((int64) finsec_risk_logstat_read(RISK_LOGSTAT_WAITS));
	values[4] = Float8GetDatum((double) finsec_risk_logstat_read(RISK_LOGSTAT_WAIT_US) / 1000.0);
	values[5] = Int64GetDatum((int64) finsec_risk_logstat_read(RISK_LOGSTAT_REFUSED));
	values[6] = Int64GetDatum((int64) (finsec_risk_logstat_read(RISK_LOGSTAT_REFUSED) -
									   finsec_risk_logstat_read(RISK_LOGSTAT_REFUSED_REPORTED)));
	values[7] = Int64GetDatum((int64) finsec_eventring_dropped_total(&ring));
	values[8] = Int64GetDatum((int64) finsec_risk_logstat_read(RISK_LOGSTAT_FLUSHED));
	values[9] = Int64GetDatum((int64) finsec_risk_logstat_read(RISK_LOGSTAT_FLUSHES));
	if (!finsec_eventring_available(&ring))
		for (i = 3; i < 10; i++)
			nulls[i] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
