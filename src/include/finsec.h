/*-------------------------------------------------------------------------
 *
 * finsec.h
 *	  Declarations shared by every finsec capability.
 *
 * Each capability keeps its public C API in its own header beside this one;
 * this file only holds what all of them need: the library version, whether
 * the library was preloaded, and finsec's SQLSTATE class.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_H
#define FINSEC_H


#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"

#include "compat.h"
#include "finsec_errcodes.h"
#include "utils/inval.h"

/* Version of the shared library; the SQL schema version lives in pg_extension. */
#define FINSEC_LIBRARY_VERSION "1.4"

/*
 * True when the library was loaded through shared_preload_libraries, i.e.
 * _PG_init ran in the postmaster.  Hooks, shared memory and background
 * workers exist only then.
 */
extern bool finsec_preloaded;

/*
 * Raise an ERROR unless finsec was preloaded.  "feature" names what the
 * caller wanted (e.g. "finsec.protect_table"), for the message.
 */
extern void finsec_require_preload(const char *feature);

/* Settings of the foundation (src/common/settings.c). */
typedef enum FinsecHashAlgorithm
{
	FINSEC_HASH_SHA256 = 0,
	FINSEC_HASH_SM3 = 1
} FinsecHashAlgorithm;

extern int	finsec_hash_algorithm;
#define FINSEC_HASH_ALGORITHM_DEFAULT FINSEC_HASH_SHA256
extern void finsec_common_define_settings(void);

/*
 * Relcache invalidation callbacks (src/common/relcache.c): every capability
 * registers through this one, so that finsec takes one of PostgreSQL's ten
 * slots per backend, not one per cache.
 */
extern void finsec_register_relcache_callback(RelcacheCallbackFunction fn, Datum arg);

/* src/common/crypto.c */
struct evp_md_st;
extern const struct evp_md_st *finsec_hash_md(FinsecHashAlgorithm alg);
extern const char *finsec_hash_name(FinsecHashAlgorithm alg);
extern bool finsec_hash_available(FinsecHashAlgorithm alg);
extern bytea *finsec_bytea(const void *data, size_t len);

/* Secret bytes zeroed on every path (crypto.c); finsec_secret_free, not pfree. */
extern void *finsec_secret_alloc(size_t len);
extern void finsec_secret_free(void *p);

/* src/common/format.c */
extern char *finsec_vformat(const char *fmt, va_list args) pg_attribute_printf(1, 0);

/* src/common/args.c */
extern void finsec_require_arg(FunctionCallInfo fcinfo, int n, const char *what);
extern char *finsec_text_arg(FunctionCallInfo fcinfo, int n, const char *what);
extern char *finsec_text_arg_opt(FunctionCallInfo fcinfo, int n);
extern char *finsec_name_arg(FunctionCallInfo fcinfo, int n, const char *what, bool required);
extern List *finsec_names_arg(FunctionCallInfo fcinfo, int n, const char *what);

/* src/common/apptable.c: the layer for application tables */
extern void finsec_check_relation_exists(Oid relid);
extern Relation finsec_table_open_arg(Oid relid, int lockmode);
extern void finsec_relcache_trigger(FunctionCallInfo fcinfo, const char *name);
extern bool finsec_in_list(const char *value, char *const *list, int n);
extern void finsec_require_switch_authority(const char *public_name);

/* A heap scan of a finsec table (src/common/args.c). */
typedef struct FinsecHeapScan
{
	Relation	rel;
	struct TupleTableSlot *slot;
	struct TableScanDescData *scan;
} FinsecHeapScan;
extern void finsec_heap_scan_begin(FinsecHeapScan *s, Oid relid);
extern bool finsec_heap_scan_next(FinsecHeapScan *s);
extern void finsec_heap_scan_end(FinsecHeapScan *s);
extern struct HTAB *finsec_blob_hash_create(const char *name, long nelem, Size keysize,
											Size entrysize, MemoryContext cxt);

#endif							/* FINSEC_H */
