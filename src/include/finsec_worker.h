/*-------------------------------------------------------------------------
 *
 * finsec_worker.h
 *	  finsec's background worker framework (src/worker/): one worker per
 *	  database of finsec.audit_seal_databases runs the tasks capabilities
 *	  register.
 *
 * A capability that has work to do in the background (move events out of
 * shared memory, seal, purge, monitor) registers a task from its init
 * function in _PG_init, while the postmaster loads the library:
 *
 *	 static const FinsecWorkerTask refusal_flush = {
 *		 .name = "limits.refusal_flush",
 *		 .has_work = refusals_waiting,
 *		 .run = refusal_flush_run,
 *	 };
 *	 finsec_worker_register_task(&refusal_flush);
 *
 * Each round (every finsec.audit_seal_interval), the worker of a database
 * runs every task that is due, in ascending order (then registration
 * order); a task without an interval of its own is due every round.  A task runs in a transaction
 * of its own, SPI connected, with a snapshot pushed, as the worker's role
 * (the bootstrap superuser): run() raises an ERROR to fail, which rolls its
 * transaction back, is logged with the task's name and recorded in the
 * task's status (finsec.worker_tasks()); the other tasks run as usual and
 * the failed one is tried again at its next interval.  run() returns the
 * number of rows (events, blocks, ...) it did, shown as rows_last and
 * summed in rows_total.
 *
 * Docs: docs/workers.md.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_WORKER_H
#define FINSEC_WORKER_H

#include "utils/guc.h"

/* The task runs on a hot standby too; by default it waits for promotion. */
#define FINSEC_WORKER_ON_STANDBY		0x0001
/*
 * The task checks finsec_worker_should_stop() between batches: a SIGTERM
 * while it runs lets it finish its batch and commit, instead of ending the
 * worker at the next interrupt check.
 */
#define FINSEC_WORKER_STOPPABLE			0x0002
/*
 * The framework starts no transaction: run() starts and commits its own
 * (StartTransactionCommand ... CommitTransactionCommand, one per batch, say).
 * An error still rolls back whatever is open and is recorded.
 */
#define FINSEC_WORKER_OWN_TRANSACTIONS	0x0004
/* The task runs even where the finsec extension is not installed. */
#define FINSEC_WORKER_WITHOUT_EXTENSION 0x0008

/* Orders: writers of audit events (the default) run before the sealer seals them. */
#define FINSEC_WORKER_ORDER_FIRST		(-100)
#define FINSEC_WORKER_ORDER_WRITE		0
#define FINSEC_WORKER_ORDER_SEAL		900

/* Upper bounds (shared memory for status is sized by them). */
#define FINSEC_WORKER_MAX_TASKS			32
#define FINSEC_WORKER_MAX_DATABASES		16
#define FINSEC_WORKER_NAME_LEN			48

typedef struct FinsecWorkerTask
{
	/* "capability.what", at most FINSEC_WORKER_NAME_LEN - 1 bytes, unique */
	const char *name;

	/*
	 * milliseconds between runs: a setting's variable, else a fixed number,
	 * else (both unset) every round of finsec.audit_seal_interval
	 */
	int			interval_ms;
	const int  *interval_ms_setting;
	int			order;			/* FINSEC_WORKER_ORDER_*, default WRITE */
	int			flags;			/* FINSEC_WORKER_* */

	/*
	 * Anything to do?  Called outside any transaction: shared memory only, no
	 * catalog access, no allocation that matters, no error.  NULL: run at
	 * every interval.
	 */
	bool		(*has_work) (void *arg);
	/* The work; returns rows done.  May raise ERROR. */
	int64		(*run) (void *arg);
	/* After run()'s transaction committed (optional; must not fail). */
	void		(*after_commit) (void *arg, int64 rows);
	void	   *arg;

	/*
	 * The failure's WARNING, a whole format string that starts with "finsec:
	 * " and receives the error message (one %s: "finsec: limit refusals not
	 * recorded in finsec.limit_refusal: %s"), and its detail; NULL: "finsec:
	 * worker task "name" failed: ...".  Logged at most once a minute per
	 * task; every failure is recorded in the status.
	 */
	const char *failure_message;
	const char *failure_detail;
} FinsecWorkerTask;

/* In _PG_init (preloading only): copy the task into the registry. */
extern void finsec_worker_register_task(const FinsecWorkerTask *task);

/*
 * In a task: has the worker been asked to stop (SIGTERM, postmaster
 * shutdown)?  A long task checks between batches and returns what it did.
 * Also processes a configuration reload request.  False outside a worker.
 */
extern bool finsec_worker_should_stop(void);

/* In a task: the name of the worker's database ("" outside a worker). */
extern const char *finsec_worker_database(void);

/* Called from _PG_init when preloaded: shared memory and one worker per database. */
extern void finsec_worker_init(void);

/* finsec.audit_seal_databases: the databases that get a worker. */
extern char *finsec_audit_seal_databases;
#define FINSEC_AUDIT_SEAL_DATABASES_DEFAULT ""
/* finsec.audit_seal_interval: the worker's round (the sealer's interval). */
extern int	finsec_audit_seal_interval_ms;
#define FINSEC_AUDIT_SEAL_INTERVAL_DEFAULT 1000 /* ms */
extern void finsec_worker_define_settings(void);
extern bool finsec_check_seal_databases(char **newval, void **extra, GucSource source);

#endif							/* FINSEC_WORKER_H */
