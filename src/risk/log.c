/*-------------------------------------------------------------------------
 *
 * log.c
 *	  The risk decision log: every decision but a plain allow (and every
 *	  allow on which a shadow rule fired), kept even when the scoring
 *	  transaction rolls back.
 *
 * An application typically rolls back a payment its risk decision
 * blocked, so the record of the decision cannot be written in that
 * transaction.  finsec.risk_score() instead puts it into a buffer in
 * shared memory (finsec.risk_decision_buffer slots, one RiskLogEvent
 * each; src/common/eventring.c).  finsec.flush_risk_decisions(), and the
 * audit sealer of the database every round, claim this database's waiting
 * decisions for their transaction and copy them into
 * finsec.risk_decision_log; the slots are freed when that transaction
 * commits, and wait for the next flush if it aborts.  A claimed decision
 * is copied by no other flush, so while the server runs each decision
 * becomes exactly one row; its decision_id (a sequence value taken when
 * it was scored) is also the table's key, with decided_at.
 *
 * At a clean shutdown the waiting decisions are saved to
 * $PGDATA/finsec_risk_decisions and restored at the next start.  A crash
 * loses the decisions not yet flushed (the sealer flushes every round, so
 * at most a round's worth).  A full buffer drops new decisions: counted
 * per database, shown by finsec.risk_decision_buffer() and reported in the
 * ledger (risk.decisions_dropped) by the next flush.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

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

void
finsec_risk_log_decision(const RiskLogEvent *ev)
{
	bool		stored;

	finsec_require_preload("the risk decision log");
	stored = finsec_eventring_put(&ring, ev);

	/*
	 * Every drop is counted, shown by finsec.risk_decision_buffer() and
	 * reported to the ledger by the next flush; the session is warned at most
	 * once a minute, not at every call.
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

/* Decisions claimed and copied per batch. */
#define FLUSH_BATCH		256

/*
 * Copy this database's waiting decisions into finsec.risk_decision_log in
 * the current transaction (SPI connected, as finsec's owner; actor is the
 * role it acts for, named in the ledger), after making sure of the daily
 * partitions when "maintain" (finsec.risk_log_maintain()).  A decision of
 * a day without a partition goes to the default partition.
 */
static int64
flush_decisions(Oid actor, bool maintain)
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
	RiskLogEvent *batch;
	SPIPlanPtr	plan = NULL;
	uint64		dropped_here;
	uint64		dropped_unattributed;
	int64		total = 0;
	int			cursor = 0;
	int			n;
	int			i;

	if (maintain && SPI_execute("SELECT finsec.risk_log_maintain()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "finsec.risk_log_maintain() failed");

	batch = palloc(sizeof(RiskLogEvent) * FLUSH_BATCH);
	while ((n = finsec_eventring_claim(&ring, batch, FLUSH_BATCH, &cursor)) > 0)
	{
		if (plan == NULL)
		{
			plan = SPI_prepare(sql, LOG_COLS, (Oid *) types);
			if (plan == NULL)
				elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		}
		for (i = 0; i < n; i++)
		{
			Datum		values[LOG_COLS];
			char		nulls[LOG_COLS];

			decision_row(&batch[i], values, nulls);
			if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not log a risk decision in finsec.risk_decision_log");
		}
		total += n;
	}
	if (plan)
		SPI_freeplan(plan);
	pfree(batch);

	finsec_eventring_claim_drops(&ring, &dropped_here, &dropped_unattributed);
	finsec_eventring_report_drops(&ring, actor, dropped_here, dropped_unattributed);
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
