/*-------------------------------------------------------------------------
 *
 * worker_internal.h
 *	  Private to src/worker/: the task registry and the shared status.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_WORKER_INTERNAL_H
#define FINSEC_WORKER_INTERNAL_H

#include "datatype/timestamp.h"
#include "finsec_worker.h"

/* The registry, in run order (worker.c); identical in every process. */
extern FinsecWorkerTask finsec_worker_tasks_registered[FINSEC_WORKER_MAX_TASKS];
extern int	finsec_worker_ntasks;

/* A task's interval now, in milliseconds (at least 1). */
extern int	finsec_worker_task_interval(const FinsecWorkerTask *task);

/* ---- status.c: shared memory ---- */
extern void finsec_worker_status_install(void);
extern bool finsec_worker_status_available(void);

/* the worker of database slot db started (pid) or ended (0) */
extern void finsec_worker_status_attach(int db, int pid);
extern void finsec_worker_status_begin(int db, int task);

/* edata NULL: success with rows; else the failure */
extern void finsec_worker_status_end(int db, int task, int64 rows, ErrorData *edata);

/* the worker exits while task runs: record it as failed with message */
extern void finsec_worker_status_abandon(int db, int task, const char *message);

#endif							/* FINSEC_WORKER_INTERNAL_H */
