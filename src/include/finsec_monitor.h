/*-------------------------------------------------------------------------
 *
 * finsec_monitor.h
 *	  Transaction monitoring (src/monitor/, docs/monitor.md): the stamp
 *	  trigger of registered payments tables, their registration, and the
 *	  worker task monitor.round that processes every committed payment
 *	  exactly once.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_MONITOR_H
#define FINSEC_MONITOR_H

/* The stamp column and trigger enable_monitoring adds to a payments table. */
#define FINSEC_MONITOR_STAMP_COLUMN "finsec_mon_txid"
#define FINSEC_MONITOR_TRIGGER "finsec_monitor_stamp"

/* finsec.monitor_timezone: local day and time of the rules. */
extern char *finsec_monitor_timezone;
#define FINSEC_MONITOR_TIMEZONE_DEFAULT "Asia/Shanghai"
/* finsec.monitor_batch_rows: payments per batch (one transaction). */
extern int	finsec_monitor_batch_rows;
#define FINSEC_MONITOR_BATCH_ROWS_DEFAULT 10000
/* finsec.monitor_interval: milliseconds between the worker's rounds. */
extern int	finsec_monitor_interval_ms;
#define FINSEC_MONITOR_INTERVAL_DEFAULT 1000
/* finsec.monitor_max_batches: batches per table in one round. */
extern int	finsec_monitor_max_batches;
#define FINSEC_MONITOR_MAX_BATCHES_DEFAULT 20
/* finsec.monitor_event_retention: minutes of event history kept (0: all). */
extern int	finsec_monitor_event_retention;
#define FINSEC_MONITOR_EVENT_RETENTION_DEFAULT (400 * 24 * 60)	/* 400 days */
/* finsec.monitor_index_build_limit: rows above which enable_monitoring does not build the stamp index itself. */
extern int	finsec_monitor_index_build_limit;
#define FINSEC_MONITOR_INDEX_BUILD_LIMIT_DEFAULT 1000000

/* S9M70-S9M79: DDL protection of monitored tables (src/monitor/ddl.c) */
#define ERRCODE_FINSEC_MONITORED_TABLE_DDL		MAKE_SQLSTATE('S','9','M','7','0')
#define ERRCODE_FINSEC_MONITOR_TRIGGER_ORDER	MAKE_SQLSTATE('S','9','M','7','1')
#define ERRCODE_FINSEC_MONITORED_TABLE_DROP		MAKE_SQLSTATE('S','9','M','7','2')

extern void finsec_monitor_define_settings(void);

/* Hooks of the DDL protection (ddl.c), called from _PG_init. */
extern void finsec_monitor_init_hooks(void);

/* Refuse a BEFORE INSERT/UPDATE row trigger of relid (with tree: and below) that fires after the stamp trigger. */
extern void finsec_monitor_check_trigger_order(Oid relid, bool tree);
extern void finsec_monitor_register_tasks(void);

#endif							/* FINSEC_MONITOR_H */
