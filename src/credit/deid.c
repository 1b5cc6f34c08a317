/*-------------------------------------------------------------------------
 *
 * deid.c
 *	  De-identification of expired credit records (docs/credit.md):
 *	  the retention batch, finsec.deidentify_now(), the worker task
 *	  credit.deid and finsec.deidentified_copy().
 *
 * A period P of a registered table is due when its last day + the table's
 * retention is before today in finsec.deid_timezone (finsec._deid_periods).
 * One batch processes one due period in one transaction:
 *
 *	1. lock the table's finsec.credit_table row (worker against
 *	   deidentify_now), and find P again under a fresh snapshot;
 *	2. wait for the transactions writing the table that started before
 *	   (WaitForLockers, as CREATE INDEX CONCURRENTLY does): a row of P
 *	   cannot arrive afterwards (the insert guard refuses expired rows, the
 *	   period trigger refuses a shredded period);
 *	3. read P's rows as the table's owner (restricted) within
 *	   finsec_credit_read_begin/end, open their protected values
 *	   (finsec_protect_open), check that each is sealed under P's keys,
 *	   replace subject and identifiers by HMAC-SHA256 under a per-batch key
 *	   made in memory (RAND_bytes), keep the QIs and sensitives in clear
 *	   in an arena zeroized on every path;
 *	4. solve the anonymity problem (anon.c); refuse the batch when k/l
 *	   cannot be reached within max_suppression: a refused deid_batch row,
 *	   a durable ledger event, no archive row, no key destroyed;
 *	5. otherwise append the published rows, generalised, in random order,
 *	   to the archive table; hash them (finsec._deid_rows_hash); destroy
 *	   P's keys (finsec._deid_shred: the keyring's key.retire/key.destroy,
 *	   a finsec.protect_shredded row); the proof row and its ledger event.
 *
 * An error anywhere rolls back all of it: no archive row without its
 * destroyed keys and proof, and the reverse.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/evp.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "commands/extension.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_audit.h"
#include "finsec_errcodes.h"
#include "finsec_owner.h"
#include "finsec_protect.h"
#include "finsec_trusted.h"
#include "finsec_worker.h"
#include "credit.h"

/* ---- settings ------------------------------------------------------------- */

int			finsec_deid_interval_ms = 3600 * 1000;
char	   *finsec_deid_timezone = NULL;
int			finsec_deid_batch_delay_ms = 0;
int			finsec_deid_test_days_ahead = 0;

#define DEID_KEY_LEN 32
#define DEID_INSERT_CHUNK 10000
#define DEID_FETCH_CHUNK 10000

/* ---- plaintext arena: every clear value of a batch, zeroized at its end ---- */

typedef struct ArenaBlock
{
	struct ArenaBlock *next;
	size_t		size;
	size_t		used;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} ArenaBlock;

typedef struct Arena
{
	MemoryContext cxt;
	ArenaBlock *head;
} Arena;

static char *
arena_copy(Arena *a, const char *s, size_t len)
{
	ArenaBlock *b = a->head;
	char	   *r;

	if (b == NULL || b->size - b->used < len + 1)
	{
		size_t		size = Max(len + 1, (size_t) 256 * 1024);

		b = MemoryContextAlloc(a->cxt, offsetof(ArenaBlock, data) + size);
		b->size = size;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	r = b->data + b->used;
	memcpy(r, s, len);
	r[len] = '\0';
	b->used += len + 1;
	return r;
}

static void
arena_zeroize(Arena *a)
{
	ArenaBlock *b = a->head;

	while (b != NULL)
	{
		ArenaBlock *next = b->next;

		explicit_bzero(b->data, b->size);
		pfree(b);
		b = next;
	}
	a->head = NULL;
}

/* ---- one batch ------------------------------------------------------------ */

typedef enum DeidKind
{
	DEID_RETENTION,
	DEID_COPY
} DeidKind;

/* A registered column that goes to the archive. */
typedef struct DeidCol
{
	const FinsecCreditColumn *col;
	int			sel;			/* position in the SELECT (0-based) */
	int			qi;				/* index among QIs, or -1 */
	int			sens;			/* index among sensitives, or -1 */
	bool		pseudonym;		/* subject, identifier */
	bool		plain;			/* public, institution: own type */
	Oid			typid;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	/* per record */
	char	  **text;			/* pseudonyms (nrecords) */
	Datum	   *datum;			/* plain columns */
	bool	   *isnull;
} DeidCol;

typedef struct DeidBatch
{
	DeidKind	kind;
	Oid			relid;
	char	   *relname;		/* qualified, quoted */
	FinsecCreditTable reg;		/* a copy: the cache may be invalidated */
	FinsecCreditColumn *columns;
	const FinsecProtectPolicy *policy;
	int32		period;			/* retention: the period */
	DateADT		first_day;
	DateADT		last_day;
	int			k;
	int			l;
	double		max_suppression;
	int64		batch_id;
	TimestampTz started_at;

	/* columns */
	int			ncols;
	DeidCol    *cols;
	int			nqi;
	int			nsens;
	const FinsecCreditLadder **ladders;
	const char **qi_names;
	const char **sens_names;
	int			be_sel;			/* position of behaviour_end in the SELECT */
	int			nselect;

	/* records */
	int			nrecords;
	int			capacity;
	const char **qi;			/* nrecords * nqi */
	const char **sens;			/* nrecords * nsens */
	int32	   *periods;

	/* secrets */
	unsigned char key[DEID_KEY_LEN];
	Arena		arena;

	/* refusal found while reading (a whole sentence), or NULL */
	char	   *refusal;
	int64		not_in_period;
	int64		unopenable;
} DeidBatch;

static void
deid_zeroize(DeidBatch *b)
{
	explicit_bzero(b->key, sizeof(b->key));
	arena_zeroize(&b->arena);
}

/*
 * Hex HMAC-SHA256 under the batch's key of "FSDEID1" || column || NUL ||
 * value: the same value of the same column has one pseudonym within a
 * batch, none across batches.
 */
static char *
pseudonym(DeidBatch *b, const char *column, const char *value, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	StringInfoData msg;
	char	   *hex;
	int			i;

	initStringInfo(&msg);
	appendBinaryStringInfo(&msg, "FSDEID1", 7);
	appendBinaryStringInfo(&msg, column, strlen(column) + 1);
	appendBinaryStringInfo(&msg, value, (int) len);
	if (HMAC(EVP_sha256(), b->key, DEID_KEY_LEN, (const unsigned char *) msg.data, msg.len,
			 mac, &maclen) == NULL)
	{
		explicit_bzero(msg.data, msg.len);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a pseudonym")));
	}
	explicit_bzero(msg.data, msg.len);
	pfree(msg.data);
	hex = palloc(maclen * 2 + 1);
	for (i = 0; i < (int) maclen; i++)
		sprintf(hex + i * 2, "%02x", mac[i]);
	explicit_bzero(mac, sizeof(mac));
	return hex;
}

/* Lay out the columns of a registration (attnum order, without key and behaviour_end). */
static void
deid_layout(DeidBatch *b)
{
	int			i;
	int			n = 0;

	b->cols = palloc0(sizeof(DeidCol) * b->reg.ncolumns);
	b->ladders = palloc0(sizeof(FinsecCreditLadder *) * b->reg.ncolumns);
	b->qi_names = palloc0(sizeof(char *) * b->reg.ncolumns);
	b->sens_names = palloc0(sizeof(char *) * b->reg.ncolumns);
	b->be_sel = 0;
	b->nselect = 1;
	for (i = 0; i < b->reg.ncolumns; i++)
	{
		const FinsecCreditColumn *c = &b->columns[i];
		DeidCol    *d;

		if (c->role == FINSEC_CREDIT_KEY || c->role == FINSEC_CREDIT_BEHAVIOUR_END)
			continue;
		d = &b->cols[n++];
		d->col = c;
		d->sel = b->nselect++;
		d->qi = -1;
		d->sens = -1;
		d->typid = c->typid;
		get_typlenbyvalalign(c->typid, &d->typlen, &d->typbyval, &d->typalign);
		switch (c->role)
		{
			case FINSEC_CREDIT_SUBJECT:
			case FINSEC_CREDIT_IDENTIFIER:
				d->pseudonym = true;
				break;
			case FINSEC_CREDIT_QUASI_IDENTIFIER:
				d->qi = b->nqi;
				b->ladders[b->nqi] = finsec_credit_ladder_parse(c->ladder, c->name, c->typid);
				b->qi_names[b->nqi] = c->name;
				b->nqi++;
				break;
			case FINSEC_CREDIT_SENSITIVE:
				d->sens = b->nsens;
				b->sens_names[b->nsens] = c->name;
				b->nsens++;
				break;
			default:
				d->plain = true;
				break;
		}
	}
	b->ncols = n;
}

static void
deid_grow(DeidBatch *b)
{
	int			i;
	int			newcap = b->capacity == 0 ? 1024 : b->capacity * 2;

	if (newcap > (int) (MaxAllocSize / sizeof(char *) / Max(1, Max(b->nqi, b->nsens))))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a de-identification batch holds at most %d records", b->capacity)));
#define GROW(ptr, type, per) \
	ptr = (ptr) == NULL ? palloc0(sizeof(type) * (per) * newcap + 1) : \
		repalloc(ptr, sizeof(type) * (per) * newcap + 1)
	GROW(b->qi, const char *, b->nqi);
	GROW(b->sens, const char *, b->nsens);
	GROW(b->periods, int32, 1);
	for (i = 0; i < b->ncols; i++)
	{
		DeidCol    *d = &b->cols[i];

		if (d->pseudonym)
			GROW(d->text, char *, 1);
		if (d->plain)
		{
			GROW(d->datum, Datum, 1);
			GROW(d->isnull, bool, 1);
		}
	}
#undef GROW
	b->capacity = newcap;
}

/*
 * Open a protected value into the arena (or a pseudonym): NULL when it
 * cannot be opened or is not under the expected period (counted; the
 * batch is then refused).
 */
static const char *
open_value(DeidBatch *b, DeidCol *d, Datum value, int32 period, bool want_plain)
{
	struct varlena *v = (struct varlena *) PG_DETOAST_DATUM(value);
	char	   *plain = NULL;
	size_t		len = 0;
	FinsecProtectOpenStatus st;
	const char *result;

	if (b->kind == DEID_RETENTION &&
		(finsec_protect_value_policy(v) != b->reg.policy_id ||
		 finsec_protect_value_period(v) != period))
	{
		b->not_in_period++;
		return NULL;
	}
	if (!want_plain)
		return "";
	st = finsec_protect_open(v, &plain, &len);
	if (st != FINSEC_PROTECT_OPEN_OK)
	{
		if (plain)
		{
			explicit_bzero(plain, len);
			pfree(plain);
		}
		b->unopenable++;
		return NULL;
	}
	if (d->pseudonym)
		result = pseudonym(b, d->col->name, plain, len);
	else
		result = arena_copy(&b->arena, plain, len);
	explicit_bzero(plain, len);
	pfree(plain);
	if ((Pointer) v != DatumGetPointer(value))
	{
		/* the detoasted copy holds ciphertext only, but do not keep it */
		pfree(v);
	}
	return result;
}

/*
 * Read the rows of the batch: retention, the rows of the period; copy,
 * every row not past its retention and not in a shredded period.  As the
 * table's owner in a restricted operation, within
 * finsec_credit_read_begin/end.  SPI is connected.
 */
static void
deid_collect(DeidBatch *b, DateADT today, int32 *shredded, int nshredded)
{
	StringInfoData q;
	FinsecTableOwnerContext octx;
	Portal		portal;
	Oid			types[2];
	Datum		values[2];
	int			i;
	bool		want_plain = !(b->kind == DEID_RETENTION && b->reg.delete_only);
	const char *be_name = NULL;

	for (i = 0; i < b->reg.ncolumns; i++)
		if (b->columns[i].role == FINSEC_CREDIT_BEHAVIOUR_END)
			be_name = b->columns[i].name;
	if (be_name == NULL)
		elog(ERROR, "registered table %u has no behaviour_end column", b->relid);

	initStringInfo(&q);
	appendStringInfo(&q, "SELECT t.%s", quote_identifier(be_name));
	for (i = 0; i < b->ncols; i++)
		appendStringInfo(&q, ", t.%s", quote_identifier(b->cols[i].col->name));
	appendStringInfo(&q, " FROM ONLY %s t WHERE ", b->relname);
	if (b->kind == DEID_RETENTION)
	{
		appendStringInfo(&q, "t.%s OPERATOR(pg_catalog.>=) $1 AND t.%s OPERATOR(pg_catalog.<=) $2",
						 quote_identifier(be_name), quote_identifier(be_name));
		types[0] = DATEOID;
		types[1] = DATEOID;
		values[0] = DateADTGetDatum(b->first_day);
		values[1] = DateADTGetDatum(b->last_day);
	}
	else
	{
		appendStringInfo(&q, "(t.%s OPERATOR(pg_catalog.+) $1)::pg_catalog.date OPERATOR(pg_catalog.>=) $2",
						 quote_identifier(be_name));
		types[0] = INTERVALOID;
		types[1] = DATEOID;
		values[0] = IntervalPGetDatum(&b->reg.retention);
		values[1] = DateADTGetDatum(today);
	}

	finsec_credit_read_begin();
	finsec_begin_table_owner(b->relid, &octx);
	portal = SPI_cursor_open_with_args(NULL, q.data, 2, types, values, NULL, true, 0);
	for (;;)
	{
		uint64		r;

		SPI_cursor_fetch(portal, true, DEID_FETCH_CHUNK);
		if (SPI_processed == 0)
			break;
		for (r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		be;
			int32		period;
			int			n;
			int			s;

			be = SPI_getbinval(tup, desc, b->be_sel + 1, &isnull);
			if (isnull)
				continue;		/* NOT NULL by registration */
			period = finsec_protect_period_of(b->reg.period_unit, DatumGetDateADT(be));
			for (s = 0; s < nshredded; s++)
				if (shredded[s] == period)
					break;
			if (s < nshredded)
				continue;		/* copy: already unreadable */
			if (b->nrecords >= b->capacity)
				deid_grow(b);
			n = b->nrecords;
			b->periods[n] = period;
			for (i = 0; i < b->ncols; i++)
			{
				DeidCol    *d = &b->cols[i];
				Datum		v = SPI_getbinval(tup, desc, d->sel + 1, &isnull);
				const char *o = NULL;

				if (d->plain)
				{
					d->isnull[n] = isnull;
					d->datum[n] = isnull ? (Datum) 0 :
						datumCopy(v, d->typbyval, d->typlen);
					continue;
				}
				if (!isnull)
					o = open_value(b, d, v, period, want_plain);
				if (d->pseudonym)
					d->text[n] = (char *) o;
				else if (d->qi >= 0)
					b->qi[(size_t) n * b->nqi + d->qi] = o;
				else
					b->sens[(size_t) n * b->nsens + d->sens] = o;
			}
			b->nrecords++;
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	finsec_end_table_owner(&octx);
	finsec_credit_read_end();

	if (b->not_in_period > 0)
		b->refusal = psprintf("%lld protected values of the period are not sealed under its keys: destroying the keys would not remove them.",
							  (long long) b->not_in_period);
	else if (b->unopenable > 0)
		b->refusal = psprintf("%lld protected values of the period cannot be opened (no key, or failed authentication).",
							  (long long) b->unopenable);
}

/* The random order of publication of the records not suppressed. */
static int *
publication_order(DeidBatch *b, const bool *suppressed, int *npub)
{
	int		   *order = palloc(sizeof(int) * (b->nrecords + 1));
	int			n = 0;
	int			i;
	uint64		seed[2];
	pg_prng_state prng;

	for (i = 0; i < b->nrecords; i++)
		if (suppressed == NULL || !suppressed[i])
			order[n++] = i;
	if (RAND_bytes((unsigned char *) seed, sizeof(seed)) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random numbers")));
	pg_prng_seed(&prng, seed[0] ^ (seed[1] << 1));
	explicit_bzero(seed, sizeof(seed));
	for (i = n - 1; i > 0; i--)
	{
		int			j = (int) pg_prng_uint64_range(&prng, 0, (uint64) i);
		int			t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	*npub = n;
	return order;
}

/*
 * Append the published records to target (the archive, as finsec's owner;
 * a copy, as the caller): batch_id, period, then the columns, generalised.
 * Chunks of DEID_INSERT_CHUNK rows through unnest of arrays.  SPI is
 * connected, with the right identity.
 */
static void
deid_insert(DeidBatch *b, const char *target, const int *order, int npub, const int *levels)
{
	StringInfoData q;
	int			nargs = 2 + b->ncols;
	Oid		   *types = palloc(sizeof(Oid) * nargs);
	Datum	   *values = palloc(sizeof(Datum) * nargs);
	SPIPlanPtr	plan;
	int			i;
	int			start;
	MemoryContext chunk_cxt;
	MemoryContext old;

	initStringInfo(&q);
	appendStringInfo(&q, "INSERT INTO %s (batch_id, period", target);
	for (i = 0; i < b->ncols; i++)
		appendStringInfo(&q, ", %s", quote_identifier(b->cols[i].col->name));
	appendStringInfoString(&q, ") SELECT $1, u.* FROM ROWS FROM (pg_catalog.unnest($2)");
	for (i = 0; i < b->ncols; i++)
		appendStringInfo(&q, ", pg_catalog.unnest($%d)", i + 3);
	appendStringInfoString(&q, ") AS u");
	types[0] = INT8OID;
	types[1] = INT4ARRAYOID;
	for (i = 0; i < b->ncols; i++)
	{
		DeidCol    *d = &b->cols[i];

		if (d->plain)
		{
			types[i + 2] = get_array_type(d->typid);
			if (!OidIsValid(types[i + 2]))
				elog(ERROR, "type %u has no array type", d->typid);
		}
		else
			types[i + 2] = TEXTARRAYOID;
	}
	plan = SPI_prepare(q.data, nargs, types);
	if (plan == NULL)
		elog(ERROR, "de-identification: could not prepare the archive insert: %s",
			 SPI_result_code_string(SPI_result));

	chunk_cxt = AllocSetContextCreate(CurrentMemoryContext, "deid insert chunk",
									  ALLOCSET_DEFAULT_SIZES);
	/* the archive's guard lets finsec's own writes through (register_guard.c) */
	finsec_credit_read_begin();
	for (start = 0; start < npub; start += DEID_INSERT_CHUNK)
	{
		int			n = Min(DEID_INSERT_CHUNK, npub - start);
		int			dims[1];
		int			lbs[1] = {1};
		Datum	   *elems;
		bool	   *nulls;
		int			ret;
		int			r;

		/* generalised clear values of the chunk, zeroized after the insert */
		List	   *clear = NIL;
		ListCell   *lc;

		old = MemoryContextSwitchTo(chunk_cxt);
		dims[0] = n;
		values[0] = Int64GetDatum(b->batch_id);
		elems = palloc(sizeof(Datum) * n);
		nulls = palloc(sizeof(bool) * n);
		for (r = 0; r < n; r++)
		{
			elems[r] = Int32GetDatum(b->periods[order[start + r]]);
			nulls[r] = false;
		}
		values[1] = PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, INT4OID, 4, true, TYPALIGN_INT));
		for (i = 0; i < b->ncols; i++)
		{
			DeidCol    *d = &b->cols[i];

			elems = palloc(sizeof(Datum) * n);
			nulls = palloc(sizeof(bool) * n);
			for (r = 0; r < n; r++)
			{
				int			rec = order[start + r];
				const char *s = NULL;
				char	   *gen = NULL;

				if (d->plain)
				{
					nulls[r] = d->isnull[rec];
					elems[r] = d->datum[rec];
					continue;
				}
				if (d->pseudonym)
					s = d->text[rec];
				else if (d->qi >= 0)
				{
					const char *v = b->qi[(size_t) rec * b->nqi + d->qi];

					gen = finsec_credit_ladder_apply(b->ladders[d->qi], levels[d->qi], v);
					s = gen;
				}
				else
					s = b->sens[(size_t) rec * b->nsens + d->sens];
				nulls[r] = (s == NULL);
				elems[r] = s == NULL ? (Datum) 0 : PointerGetDatum(cstring_to_text(s));
				if (s != NULL && !d->pseudonym)
					clear = lappend(clear, DatumGetPointer(elems[r]));
				if (gen != NULL)
				{
					explicit_bzero(gen, strlen(gen));
					pfree(gen);
				}
			}
			if (d->plain)
				values[i + 2] = PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, d->typid,
																   d->typlen, d->typbyval, d->typalign));
			else
			{
				ArrayType  *a = construct_md_array(elems, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT);

				clear = lappend(clear, a);
				values[i + 2] = PointerGetDatum(a);
			}
		}
		MemoryContextSwitchTo(old);
		ret = SPI_execute_plan(plan, values, NULL, false, 0);
		old = MemoryContextSwitchTo(chunk_cxt);
		foreach(lc, clear)
		{
			struct varlena *v = (struct varlena *) lfirst(lc);

			explicit_bzero(v, VARSIZE(v));
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(chunk_cxt);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "de-identification: archive insert failed: %s", SPI_result_code_string(ret));
		CHECK_FOR_INTERRUPTS();
	}
	finsec_credit_read_end();
	MemoryContextDelete(chunk_cxt);
	SPI_freeplan(plan);
}

/* The first column of the first row of an SPI result as text, or NULL. */
static char *
spi_text(void)
{
	if (SPI_processed == 0)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

static void
deid_sleep(int ms)
{
	while (ms > 0)
	{
		int			step = Min(ms, 100);

		CHECK_FOR_INTERRUPTS();
		pg_usleep(step * 1000L);
		ms -= step;
	}
}

/*
 * Record a batch (published or refused) in finsec.deid_batch, as finsec's
 * owner (SPI connected, owner identity); returns the proof.
 */
static Jsonb *
deid_record(DeidBatch *b, bool published, const char *reason, int npub, int nsupp,
			Jsonb *engine, const char *rows_hash, const char *target, Jsonb *keys)
{
	Oid			types[20];
	Datum		values[20];
	char		nulls[20];
	int			n = 0;
	bool		isnull;
	Datum		d;
	const char *archive = b->kind == DEID_RETENTION && !b->reg.delete_only && OidIsValid(b->reg.archive_relid) ?
	finsec_quoted_relname(b->reg.archive_relid) : NULL;

#define ARG(t, v, isn) do { types[n] = (t); values[n] = (v); nulls[n] = (isn) ? 'n' : ' '; n++; } while (0)
	ARG(INT8OID, Int64GetDatum(b->batch_id), false);
	ARG(OIDOID, ObjectIdGetDatum(b->relid), false);
	ARG(TEXTOID, CStringGetTextDatum(b->kind == DEID_RETENTION ? "retention" : "copy"), false);
	ARG(INT4OID, Int32GetDatum(b->period), b->kind != DEID_RETENTION);
	ARG(DATEOID, DateADTGetDatum(b->first_day), b->kind != DEID_RETENTION);
	ARG(DATEOID, DateADTGetDatum(b->last_day), b->kind != DEID_RETENTION);
	ARG(TEXTOID, CStringGetTextDatum(published ? "published" : "refused"), false);
	ARG(TEXTOID, reason ? CStringGetTextDatum(reason) : (Datum) 0, reason == NULL);
	ARG(TEXTOID, CStringGetTextDatum(b->reg.delete_only && b->kind == DEID_RETENTION ? "delete" : "deidentify"), false);
	ARG(INT4OID, Int32GetDatum(b->nrecords), false);
	ARG(INT4OID, Int32GetDatum(npub), false);
	ARG(INT4OID, Int32GetDatum(nsupp), false);
	ARG(TEXTOID, target ? CStringGetTextDatum(target) : (Datum) 0, target == NULL);
	ARG(JSONBOID, engine ? JsonbPGetDatum(engine) : (Datum) 0, engine == NULL);
	ARG(TEXTOID, rows_hash ? CStringGetTextDatum(rows_hash) : (Datum) 0, rows_hash == NULL);
	ARG(TEXTOID, archive ? CStringGetTextDatum(archive) : (Datum) 0, archive == NULL);
	ARG(JSONBOID, keys ? JsonbPGetDatum(keys) : (Datum) 0, keys == NULL);
	ARG(TIMESTAMPTZOID, TimestampTzGetDatum(b->started_at), false);
	ARG(INT4OID, Int32GetDatum(b->k), false);
	ARG(INT4OID, Int32GetDatum(b->l), false);
#undef ARG
	finsec_spi_execute("INSERT INTO finsec.deid_batch (id, relid, kind, period, period_start, period_end, state, reason,"
					   " action, records, published, suppressed, target, proof, keys_destroyed, started_at)"
					   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
					   " jsonb_build_object('batch_id', $1, 'table', $2::regclass::text, 'kind', $3,"
					   "  'period', $4, 'period_start', $5, 'period_end', $6, 'state', $7, 'reason', $8,"
					   "  'action', $9, 'records', $10, 'published', $11, 'suppressed', $12, 'target', $13,"
					   "  'parameters', jsonb_build_object('k', $19, 'l', $20),"
					   "  'engine', $14, 'rows_hash', $15, 'archive_table', $16,"
					   "  'rows_hash_method', 'sha256 of the sorted sha256 of each row''s to_jsonb text without batch_id, finsec_txid, finsec_seq (finsec._deid_rows_hash)',"
					   "  'pseudonyms', 'HMAC-SHA256 under a random per-batch key made in memory, zeroized after the batch, never stored',"
					   "  'row_order', 'random', 'keys_destroyed', $17,"
					   "  'today', finsec._deid_today(),"
					   "  'test_days_ahead', coalesce(nullif(pg_catalog.current_setting('finsec.deid_test_days_ahead', true), '')::integer, 0)),"
					   " $17, $18) RETURNING proof",
					   20, types, values, nulls, false, 0, SPI_OK_INSERT_RETURNING,
					   "could not record the de-identification batch");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return DatumGetJsonbPCopy(d);
}

/* The problem of a batch for the engine. */
static void
deid_problem(DeidBatch *b, FinsecDeidProblem *p)
{
	memset(p, 0, sizeof(*p));
	p->nrecords = b->nrecords;
	p->nqi = b->nqi;
	p->nsensitive = b->nsens;
	p->qi = b->qi;
	p->sensitive = b->sens;
	p->ladders = b->ladders;
	p->qi_names = b->qi_names;
	p->sensitive_names = b->sens_names;
	p->k = b->k;
	p->l = b->l;
	p->max_suppression = b->max_suppression;
}

/* The hash of the rows of batch in target (finsec._deid_rows_hash, as the current identity). */
static char *
deid_rows_hash(DeidBatch *b, Oid target)
{
	Oid			types[2] = {REGCLASSOID, INT8OID};
	Datum		values[2];

	values[0] = ObjectIdGetDatum(target);
	values[1] = Int64GetDatum(b->batch_id);
	finsec_spi_execute("SELECT finsec._deid_rows_hash($1, $2)", 2, types, values, NULL,
					   false, 0, SPI_OK_SELECT, "could not hash the published rows");
	return spi_text();
}

/*
 * A retention batch after its rows were read: solve (not for 'delete'),
 * then publish or refuse.  Returns the batch id.  SPI connected, finsec's
 * owner's identity current.
 */
static int64
deid_finish(DeidBatch *b)
{
	FinsecDeidProblem p;
	FinsecDeidSolution sol;
	Jsonb	   *engine = NULL;
	Jsonb	   *proof;
	Jsonb	   *keys;
	char	   *rows_hash = NULL;
	const char *reason = b->refusal;
	int			npub = 0;
	int			nsupp = 0;
	Oid			types[3] = {REGCLASSOID, INT4OID, INT8OID};
	Datum		values[3];
	bool		isnull;

	memset(&sol, 0, sizeof(sol));
	if (reason == NULL && !b->reg.delete_only)
	{
		deid_problem(b, &p);
		finsec_credit_deid_solve(&p, &sol);
		engine = finsec_credit_deid_solution_jsonb(&p, &sol);
		if (!sol.ok)
			reason = sol.refusal ? sol.refusal : "The anonymity requirements cannot be met.";
		nsupp = sol.nsuppressed;
	}
	if (reason != NULL)
	{
		proof = deid_record(b, false, reason, 0, nsupp, engine, NULL, NULL, NULL);
		finsec_audit_event_durable("credit.deid_batch", b->relname, "refuse", false, reason, proof);
		return b->batch_id;
	}

	if (!b->reg.delete_only)
	{
		int		   *order = publication_order(b, sol.suppressed, &npub);

		if (!OidIsValid(b->reg.archive_relid))
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_DEID_NOT_REGISTERED),
					 errmsg("registered table %s has no archive table", b->relname)));
		deid_insert(b, finsec_quoted_relname(b->reg.archive_relid), order, npub, sol.levels);
		rows_hash = deid_rows_hash(b, b->reg.archive_relid);
	}

	if (finsec_deid_batch_delay_ms > 0)
		deid_sleep(finsec_deid_batch_delay_ms);
	values[0] = ObjectIdGetDatum(b->relid);
	values[1] = Int32GetDatum(b->period);
	values[2] = Int64GetDatum(b->batch_id);
	finsec_spi_execute("SELECT finsec._deid_shred($1, $2, $3)", 3, types, values, NULL,
					   false, 0, SPI_OK_SELECT, "could not destroy the period's keys");
	keys = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	proof = deid_record(b, true, NULL, npub, nsupp, engine, rows_hash, NULL, keys);
	finsec_audit_event("credit.deid_batch", b->relname, "publish", true, NULL, proof);
	return b->batch_id;
}

/* Initialise a batch of a registered table (SPI connected, finsec's owner). */
static void
deid_init(DeidBatch *b, DeidKind kind, Oid relid)
{
	const FinsecCreditTable *reg = finsec_credit_table(relid);
	int			i;

	if (reg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_DEID_NOT_REGISTERED),
				 errmsg("table \"%s\" is not a registered credit table", get_rel_name(relid) ? get_rel_name(relid) : "?"),
				 errhint("Register it with finsec.register_credit_table().")));
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->relid = relid;
	b->relname = finsec_quoted_relname(relid);
	b->reg = *reg;
	b->columns = palloc(sizeof(FinsecCreditColumn) * reg->ncolumns);
	for (i = 0; i < reg->ncolumns; i++)
	{
		b->columns[i] = reg->columns[i];
		if (reg->columns[i].ladder)
			b->columns[i].ladder = (Jsonb *) pg_detoast_datum_copy((struct varlena *) reg->columns[i].ladder);
	}
	b->reg.columns = b->columns;
	b->policy = finsec_protect_policy(b->reg.policy_id);
	b->k = reg->k;
	b->l = reg->l;
	b->max_suppression = reg->max_suppression;
	b->started_at = GetCurrentTimestamp();
	b->arena.cxt = CurrentMemoryContext;
	deid_layout(b);
	if (RAND_bytes(b->key, DEID_KEY_LEN) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate the batch's pseudonym key")));
}

static int64
next_batch_id(void)
{
	bool		isnull;

	finsec_spi_execute("SELECT pg_catalog.nextval('finsec.deid_batch_id_seq')", 0, NULL, NULL, NULL,
					   false, 0, SPI_OK_SELECT, "could not number the batch");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * One retention batch: the oldest due period of relid after after_period.
 * Returns the batch id, 0 when nothing is due, -1 when the worker skipped
 * a refusal it had recorded already (same period, same reason); *period_out
 * the period tried.  In a transaction; connects SPI itself.
 */
static int64
deid_retention_batch(Oid relid, int32 after_period, int32 *period_out, bool worker)
{
	FinsecOwnerContext ctx;
	DeidBatch	b;
	Oid			types[2] = {REGCLASSOID, INT4OID};
	Datum		values[2];
	bool		isnull;
	int64		id = 0;
	int32		period;
	DateADT		first_day;
	DateADT		last_day;
	LOCKTAG		tag;

	*period_out = 0;
	memset(&b, 0, sizeof(b));
	finsec_spi_begin_as_owner(&ctx);

	/* one batch at a time per table: the worker and deidentify_now */
	values[0] = ObjectIdGetDatum(relid);
	if (finsec_spi_execute("SELECT 1 FROM finsec.credit_table WHERE relid OPERATOR(pg_catalog.=) $1 FOR UPDATE",
						   1, types, values, NULL, false, 0, SPI_OK_SELECT,
						   "could not lock the registration") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_DEID_NOT_REGISTERED),
				 errmsg("table \"%s\" is not a registered credit table", get_rel_name(relid) ? get_rel_name(relid) : "?"),
				 errhint("Register it with finsec.register_credit_table().")));
	values[1] = Int32GetDatum(after_period);
	if (finsec_spi_execute("SELECT period, first_day, last_day FROM finsec._deid_periods($1)"
						   " WHERE due AND period OPERATOR(pg_catalog.>) $2 ORDER BY period LIMIT 1",
						   2, types, values, NULL, false, 0, SPI_OK_SELECT,
						   "could not find the due periods") == 0)
	{
		finsec_spi_end(&ctx);
		return 0;
	}
	period = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	first_day = DatumGetDateADT(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	last_day = DatumGetDateADT(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	*period_out = period;

	/*
	 * The transactions writing the table now started before the period was
	 * found due and may still add rows to it: wait for them, as CREATE INDEX
	 * CONCURRENTLY does.  Later ones cannot (the insert guard refuses a row
	 * past its retention; the period trigger a shredded period).
	 */
	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
	WaitForLockers(tag, ShareLock, false);

	PG_TRY();
	{
		bool		skip = false;

		deid_init(&b, DEID_RETENTION, relid);
		b.period = period;
		b.first_day = first_day;
		b.last_day = last_day;

		/* a policy whose period keys seal another table's values too */
		types[1] = TEXTOID;
		values[1] = CStringGetTextDatum(b.reg.policy_name);
		if (finsec_spi_execute("SELECT relid::pg_catalog.text FROM finsec.protect_period_column"
							   " WHERE policy_name OPERATOR(pg_catalog.=) $2 AND relid OPERATOR(pg_catalog.<>) $1 LIMIT 1",
							   2, types, values, NULL, false, 0, SPI_OK_SELECT,
							   "could not check the policy's tables") > 0)
			b.refusal = psprintf("Protect policy \"%s\" also seals columns of table %s under its period keys: destroying them would shred that table's values before their retention.",
								 b.reg.policy_name, spi_text());
		b.batch_id = next_batch_id();
		if (b.refusal == NULL)
			deid_collect(&b, 0, NULL, 0);

		/* the worker does not record the same refusal every round */
		if (worker && b.refusal != NULL)
		{
			types[1] = INT4OID;
			values[1] = Int32GetDatum(period);
			if (finsec_spi_execute("SELECT reason FROM finsec.deid_batch WHERE relid OPERATOR(pg_catalog.=) $1"
								   " AND period OPERATOR(pg_catalog.=) $2 AND kind OPERATOR(pg_catalog.=) 'retention'"
								   " ORDER BY id DESC LIMIT 1",
								   2, types, values, NULL, false, 0, SPI_OK_SELECT,
								   "could not read the last batch") > 0 &&
				spi_text() != NULL && strcmp(spi_text(), b.refusal) == 0)
				skip = true;
		}
		id = skip ? -1 : deid_finish(&b);
	}
	PG_FINALLY();
	{
		deid_zeroize(&b);
	}
	PG_END_TRY();
	finsec_spi_end(&ctx);
	return id;
}

/* ---- SQL: deidentify_now, deidentified_copy ------------------------------- */

static void
require_admin(const char *fn)
{
	Oid			admin = get_role_oid("finsec_admin", true);

	if (!OidIsValid(admin) || !has_privs_of_role(GetUserId(), admin))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", fn),
				 errdetail("Only members of finsec_admin de-identify credit data.")));
}

static void
require_read_committed(const char *fn)
{
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_DEID_ISOLATION),
				 errmsg("%s must run at isolation level READ COMMITTED", fn),
				 errdetail("A batch reads its period after the writers that started before it ended; a transaction snapshot would miss their rows."),
				 errhint("Call it outside an explicit REPEATABLE READ or SERIALIZABLE transaction.")));
}

PG_FUNCTION_INFO_V1(finsec_deidentify_now);

/*
 * finsec.deidentify_now(tbl regclass) RETURNS SETOF bigint: every due
 * period of tbl, one batch each, in the caller's transaction.
 */
Datum
finsec_deidentify_now(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	int32		after = 0;
	int			guard = 0;

	require_admin("finsec.deidentify_now");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the table must not be null")));
	relid = PG_GETARG_OID(0);
	require_read_committed("finsec.deidentify_now()");
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (;;)
	{
		int32		period;
		int64		id = deid_retention_batch(relid, after, &period, false);
		Datum		v;
		bool		n = false;

		if (id == 0)
			break;
		if (id > 0)
		{
			v = Int64GetDatum(id);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &v, &n);
		}
		after = period;
		if (++guard > 100000)
			break;
		CommandCounterIncrement();
	}
	return (Datum) 0;
}

/* The schemas a copy may not be created in. */
static void
check_copy_namespace(Oid nsp, const char *target)
{
	char	   *name = get_namespace_name(nsp);

	if (name == NULL || strcmp(name, "finsec") == 0 || strcmp(name, "finsec_archive") == 0 ||
		strncmp(name, "pg_", 3) == 0 || strcmp(name, "information_schema") == 0 ||
		isAnyTempNamespace(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_DEID_TARGET),
				 errmsg("a de-identified copy cannot be created as \"%s\"", target),
				 errdetail("Schema \"%s\" is reserved.", name ? name : "?"),
				 errhint("Name a table in an application schema of a test environment.")));
}

PG_FUNCTION_INFO_V1(finsec_deidentified_copy);

/*
 * finsec.deidentified_copy(tbl, target, k, l, max_suppression) RETURNS
 * bigint: target created, owned by the caller, with the de-identified
 * current records of tbl (not past their retention, not shredded) (004
 * 7.4.4 b); the proof is a 'copy' batch; keys untouched.  The rows are
 * read as the table's owner; the target is created, filled and hashed as
 * the caller; the proof is recorded as finsec's owner.
 */
Datum
finsec_deidentified_copy(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *target;
	RangeVar   *rv;
	Oid			nsp;
	Oid			existing = InvalidOid;
	Oid			target_relid;
	DeidBatch	b;
	FinsecOwnerContext octx;
	int32	   *shredded;
	int			nshredded;
	DateADT		today;
	int64		id = 0;
	char	   *qtarget;
	StringInfoData ddl;
	int			i;
	uint64		r;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	int			ret;

	require_admin("finsec.deidentified_copy");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the table and the target must not be null")));
	relid = PG_GETARG_OID(0);
	target = text_to_cstring(PG_GETARG_TEXT_PP(1));
	require_read_committed("finsec.deidentified_copy()");

	rv = makeRangeVarFromNameList(stringToQualifiedNameList(target));
	if (rv->relpersistence == RELPERSISTENCE_TEMP || (rv->schemaname && strncmp(rv->schemaname, "pg_", 3) == 0))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_DEID_TARGET),
				 errmsg("a de-identified copy cannot be created as \"%s\"", target),
				 errhint("Name a table in an application schema of a test environment.")));
	check_copy_namespace(RangeVarGetCreationNamespace(rv), target);
	nsp = RangeVarGetAndCheckCreationNamespace(rv, NoLock, &existing);
	check_copy_namespace(nsp, target);
	if (OidIsValid(existing))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s\" already exists", target),
				 errhint("A de-identified copy is always a new table.")));
	qtarget = psprintf("%s.%s", quote_identifier(get_namespace_name(nsp)), quote_identifier(rv->relname));

	memset(&b, 0, sizeof(b));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		FinsecDeidProblem p;
		FinsecDeidSolution sol;
		Jsonb	   *engine;
		Jsonb	   *proof;
		int		   *order;
		int			npub;
		char	   *rows_hash;
		const char *reason = NULL;

		memset(&sol, 0, sizeof(sol));

		finsec_begin_owner(&octx);
		deid_init(&b, DEID_COPY, relid);
		if (!PG_ARGISNULL(2))
			b.k = PG_GETARG_INT32(2);
		if (!PG_ARGISNULL(3))
			b.l = PG_GETARG_INT32(3);
		if (!PG_ARGISNULL(4))
			b.max_suppression = DatumGetFloat8(DirectFunctionCall1(numeric_float8, PG_GETARG_DATUM(4)));
		if (b.k < 2 || b.l < 1 || b.l > b.k || !(b.max_suppression >= 0 && b.max_suppression <= 0.5))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("k must be at least 2, l between 1 and k, and max_suppression between 0 and 0.5")));
		/* a copy is never weaker than the table's own anonymity rules */
		if (b.k < b.reg.k || b.l < b.reg.l || b.max_suppression > b.reg.max_suppression)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a de-identified copy of %s cannot be weaker than the table's registration",
							finsec_quoted_relname(relid)),
					 errdetail("The table is registered with k = %d, l = %d and max_suppression = %g.",
							   b.reg.k, b.reg.l, b.reg.max_suppression),
					 errhint("Ask for the same or a stronger k and l, and no more suppression.")));
		finsec_spi_execute("SELECT finsec._deid_today()", 0, NULL, NULL, NULL, false, 0, SPI_OK_SELECT,
						   "could not read today");
		today = DatumGetDateADT(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		values[0] = CStringGetTextDatum(b.reg.policy_name);
		finsec_spi_execute("SELECT period FROM finsec.protect_shredded WHERE policy_name OPERATOR(pg_catalog.=) $1",
						   1, types, values, NULL, false, 0, SPI_OK_SELECT, "could not read the shredded periods");
		nshredded = (int) SPI_processed;
		shredded = palloc(sizeof(int32) * (nshredded + 1));
		for (r = 0; r < SPI_processed; r++)
			shredded[r] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		b.batch_id = next_batch_id();
		finsec_end_owner(&octx);

		deid_collect(&b, today, shredded, nshredded);
		sol.ok = false;
		sol.nsuppressed = 0;
		engine = NULL;
		reason = b.refusal;
		if (reason == NULL)
		{
			deid_problem(&b, &p);
			finsec_credit_deid_solve(&p, &sol);
			engine = finsec_credit_deid_solution_jsonb(&p, &sol);
			if (!sol.ok)
				reason = sol.refusal ? sol.refusal : "The anonymity requirements cannot be met.";
		}
		if (reason != NULL)
		{
			finsec_begin_owner(&octx);
			proof = deid_record(&b, false, reason, 0, sol.nsuppressed, engine, NULL, qtarget, NULL);
			finsec_audit_event_durable("credit.deid_copy", b.relname, "refuse", false, reason, proof);
			finsec_end_owner(&octx);
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_DEID_REFUSED),
					 errmsg("the de-identified copy of %s is refused", b.relname),
					 errdetail("%s", reason),
					 errhint("Generalise further (ladders), lower k or l, or allow more suppression.")));
		}

		/* the target, as the caller */
		initStringInfo(&ddl);
		appendStringInfo(&ddl, "CREATE TABLE %s (batch_id pg_catalog.int8 NOT NULL, period pg_catalog.int4 NOT NULL", qtarget);
		for (i = 0; i < b.ncols; i++)
		{
			DeidCol    *d = &b.cols[i];

			appendStringInfo(&ddl, ", %s %s", quote_identifier(d->col->name),
							 d->plain ? format_type_extended(d->typid, -1, FORMAT_TYPE_FORCE_QUALIFY) : "pg_catalog.text");
		}
		appendStringInfoString(&ddl, ")");
		ret = SPI_execute(ddl.data, false, 0);
		if (ret != SPI_OK_UTILITY)
			elog(ERROR, "could not create the copy: %s", SPI_result_code_string(ret));
		CommandCounterIncrement();
		target_relid = RangeVarGetRelid(makeRangeVar(get_namespace_name(nsp), rv->relname, -1), NoLock, false);
		order = publication_order(&b, sol.suppressed, &npub);
		deid_insert(&b, qtarget, order, npub, sol.levels);
		rows_hash = deid_rows_hash(&b, target_relid);

		finsec_begin_owner(&octx);
		proof = deid_record(&b, true, NULL, npub, sol.nsuppressed, engine, rows_hash, qtarget, NULL);
		finsec_audit_event("credit.deid_copy", b.relname, "publish", true, NULL, proof);
		finsec_end_owner(&octx);
		id = b.batch_id;
	}
	PG_FINALLY();
	{
		deid_zeroize(&b);
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* ---- the worker task credit.deid ------------------------------------------ */

/* The registered tables, in a transaction of their own. */
static List *
registered_tables(bool *installed)
{
	List	   *tables = NIL;
	FinsecOwnerContext ctx;
	MemoryContext caller = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	*installed = OidIsValid(get_extension_oid("finsec", true));
	if (*installed)
	{
		uint64		i;

		finsec_spi_begin_as_owner(&ctx);
		finsec_spi_execute("SELECT relid::pg_catalog.oid FROM finsec.credit_table ORDER BY 1",
						   0, NULL, NULL, NULL, true, 0, SPI_OK_SELECT, "could not list the registered tables");
		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
			MemoryContext old = MemoryContextSwitchTo(caller);

			tables = lappend_oid(tables, DatumGetObjectId(d));
			MemoryContextSwitchTo(old);
		}
		finsec_spi_end(&ctx);
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	return tables;
}

static int64
deid_round(void *arg)
{
	bool		installed;
	List	   *tables = registered_tables(&installed);
	ListCell   *lc;
	int64		total = 0;

	if (!installed)
		return 0;
	foreach(lc, tables)
	{
		Oid			relid = lfirst_oid(lc);
		int32		after = 0;

		for (;;)
		{
			int32		period = 0;
			int64		id;
			bool		registered;

			if (finsec_worker_should_stop())
				return total;
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			pgstat_report_activity(STATE_RUNNING, "finsec: de-identification batch");
			registered = finsec_credit_table(relid) != NULL;
			id = registered ? deid_retention_batch(relid, after, &period, true) : 0;
			PopActiveSnapshot();
			HOLD_INTERRUPTS();
			CommitTransactionCommand();
			RESUME_INTERRUPTS();
			pgstat_report_activity(STATE_IDLE, NULL);
			if (id == 0)
				break;
			total++;
			after = period;
		}
	}
	return total;
}

/* ---- registration (settings.c) ------------------------------------------- */

void
finsec_credit_deid_define_settings(void)
{
	DefineCustomIntVariable("finsec.deid_interval",
							"Time between two rounds of the de-identification worker.",
							"Each round processes every due period of every registered credit table, "
							"one batch (transaction) each.",
							&finsec_deid_interval_ms,
							3600 * 1000, 100, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomStringVariable("finsec.deid_timezone",
							   "Time zone of \"today\" for the retention of credit data.",
							   "A period is due when its last day plus the table's retention is before today in this zone.",
							   &finsec_deid_timezone,
							   "Asia/Shanghai",
							   PGC_SIGHUP,
							   0,
							   finsec_check_timezone_setting, NULL, NULL);
	DefineCustomIntVariable("finsec.deid_batch_delay_ms",
							"Tests only: pause between a batch's archive insert and its key destruction.",
							"Lets a test kill the server in the middle of a batch. 0 in production.",
							&finsec_deid_batch_delay_ms,
							0, 0, 600 * 1000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.deid_test_days_ahead",
							"Tests only: days added to today for the retention of credit data.",
							"Lets a test make a period due without waiting for it. 0 in production.",
							&finsec_deid_test_days_ahead,
							0, 0, 100 * 366,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
}

void
finsec_credit_deid_init(void)
{
	FinsecWorkerTask task = {
		.name = "credit.deid",
		.interval_ms_setting = &finsec_deid_interval_ms,
		.order = FINSEC_WORKER_ORDER_WRITE,
		.flags = FINSEC_WORKER_STOPPABLE | FINSEC_WORKER_OWN_TRANSACTIONS,
		.run = deid_round,
		.failure_message = "finsec: de-identification batch failed: %s",
		.failure_detail = "The batch rolled back: no archive row, no key destroyed; the next round tries it again.",
	};

	finsec_worker_register_task(&task);
}
