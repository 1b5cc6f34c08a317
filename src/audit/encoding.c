/*-------------------------------------------------------------------------
 *
 * encoding.c
 *	  The canonical row encoding (version 1) and the row hash.
 *
 * A row hash must be the same in every session, on every server that holds
 * the row (primary, standby, a restored copy), for as long as the row
 * exists.  So the encoding never depends on DateStyle, TimeZone,
 * extra_float_digits, lc_* or client_encoding, and never on physical
 * identity (ctid, OIDs, attnum gaps left by dropped columns):
 *
 *	 row_hash = H( "finsec-row-v1" || field* )
 *	 field	  = u16be ordinal || u32be length || value bytes
 *
 * one field per non-NULL column, in column order, where ordinal counts live
 * (not dropped) columns from 1.  NULL columns contribute nothing, so adding
 * a nullable column without a default leaves the hashes of existing rows
 * unchanged.  Value bytes are the type's binary send format, produced with
 * client_encoding equal to the database encoding so that text inside values
 * (text, json, enum labels, arrays of text ...) is the stored bytes.  For
 * the commonest types the same bytes are produced directly, without the
 * send function's allocation; encoding_test in sql/010_audit.sql checks the
 * two paths agree.  A type without a send function cannot be hashed, and
 * protect_table() refuses such a table.
 *
 * H is SHA-256 or SM3, through OpenSSL's EVP interface only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "port/pg_bswap.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "finsec.h"
#include "finsec_audit.h"

#define ROW_PREFIX "finsec-row-v1"

typedef enum ColumnPath
{
	PATH_DROPPED,
	PATH_INT2,
	PATH_INT4,
	PATH_INT8,					/* also timestamp, timestamptz, xid8 */
	PATH_BOOL,
	PATH_FLOAT8,
	PATH_DATE,
	PATH_RAW_VARLENA,			/* text, varchar, bytea: send is the bytes */
	PATH_SEND
} ColumnPath;

typedef struct ColumnCodec
{
	ColumnPath	path;
	FmgrInfo	send;
} ColumnCodec;

struct FinsecRowHasher
{
	int			natts;
	const EVP_MD *md;
	EVP_MD_CTX *ctx;
	MemoryContext tmpcxt;		/* reset after every row */
	ColumnCodec *cols;
};

static const EVP_MD *
md_by_name(const char *algorithm)
{
	const EVP_MD *md = NULL;

	if (strcmp(algorithm, "sha256") == 0)
		md = finsec_hash_md(FINSEC_HASH_SHA256);
	else if (strcmp(algorithm, "sm3") == 0)
		md = finsec_hash_md(FINSEC_HASH_SM3);
	if (md == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hash algorithm \"%s\" is not available", algorithm),
				 errhint("finsec supports sha256 and sm3.")));
	return md;
}

/*
 * Build a row hasher for a table's descriptor: a digest context and, per column,
 * how its values are encoded for the chain hash (dropped columns skipped).
 */
FinsecRowHasher *
finsec_row_hasher_create(TupleDesc desc, const char *algorithm)
{
	FinsecRowHasher *h = palloc0(sizeof(FinsecRowHasher));
	int			i;

	h->natts = desc->natts;
	h->md = md_by_name(algorithm);
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("could not allocate a digest context")));
	h->tmpcxt = AllocSetContextCreate(CurrentMemoryContext,
									  "finsec row hash", ALLOCSET_SMALL_SIZES);
	h->cols = palloc0(sizeof(ColumnCodec) * desc->natts);

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		ColumnCodec *c = &h->cols[i];

		if (att->attisdropped)
		{
			c->path = PATH_DROPPED;
			continue;
		}
		switch (att->atttypid)
		{
			case INT2OID:
				c->path = PATH_INT2;
				break;
			case INT4OID:
				c->path = PATH_INT4;
				break;
			case INT8OID:
			case TIMESTAMPOID:
			case TIMESTAMPTZOID:
			case XID8OID:
				c->path = PATH_INT8;
				break;
			case BOOLOID:
				c->path = PATH_BOOL;
				break;
			case FLOAT8OID:
				c->path = PATH_FLOAT8;
				break;
			case DATEOID:
				c->path = PATH_DATE;
				break;
			case TEXTOID:
			case VARCHAROID:
			case BYTEAOID:
				c->path = PATH_RAW_VARLENA;
				break;
			default:
				{
					Oid			sendfn;
					bool		isvarlena;

					getTypeBinaryOutputInfo(att->atttypid, &sendfn, &isvarlena);
					fmgr_info_cxt(sendfn, &c->send, CurrentMemoryContext);
					c->path = PATH_SEND;
				}
		}
	}
	return h;
}

void
finsec_row_hasher_destroy(FinsecRowHasher *h)
{
	EVP_MD_CTX_free(h->ctx);
	MemoryContextDelete(h->tmpcxt);
	pfree(h->cols);
	pfree(h);
}

static inline void
put_field(EVP_MD_CTX *ctx, uint16 ordinal, const void *data, uint32 len)
{
	uint16		o = pg_hton16(ordinal);
	uint32		l = pg_hton32(len);

	EVP_DigestUpdate(ctx, &o, sizeof(o));
	EVP_DigestUpdate(ctx, &l, sizeof(l));
	if (len > 0)
		EVP_DigestUpdate(ctx, data, len);
}

/*
 * Hash one row (values/isnull as from heap_deform_tuple) into out, which
 * must have room for FINSEC_HASH_LEN bytes.
 */
void
finsec_row_hash(FinsecRowHasher *h, Datum *values, bool *isnull, unsigned char *out)
{
	MemoryContext old = MemoryContextSwitchTo(h->tmpcxt);
	uint16		ordinal = 0;
	unsigned int outlen;
	int			i;

	if (EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1)
		elog(ERROR, "could not initialise digest");
	EVP_DigestUpdate(h->ctx, ROW_PREFIX, strlen(ROW_PREFIX));

	for (i = 0; i < h->natts; i++)
	{
		ColumnCodec *c = &h->cols[i];

		if (c->path == PATH_DROPPED)
			continue;
		ordinal++;
		if (isnull[i])
			continue;

		switch (c->path)
		{
			case PATH_INT2:
				{
					uint16		v = pg_hton16((uint16) DatumGetInt16(values[i]));

					put_field(h->ctx, ordinal, &v, sizeof(v));
					break;
				}
			case PATH_INT4:
			case PATH_DATE:
				{
					uint32		v = pg_hton32((uint32) DatumGetInt32(values[i]));

					put_field(h->ctx, ordinal, &v, sizeof(v));
					break;
				}
			case PATH_INT8:
				{
					uint64		v = pg_hton64((uint64) DatumGetInt64(values[i]));

					put_field(h->ctx, ordinal, &v, sizeof(v));
					break;
				}
			case PATH_FLOAT8:
				{
					union
					{
						float8		f;
						uint64		i;
					}			u;

					u.f = DatumGetFloat8(values[i]);
					u.i = pg_hton64(u.i);
					put_field(h->ctx, ordinal, &u.i, sizeof(u.i));
					break;
				}
			case PATH_BOOL:
				{
					unsigned char v = DatumGetBool(values[i]) ? 1 : 0;

					put_field(h->ctx, ordinal, &v, 1);
					break;
				}
			case PATH_RAW_VARLENA:
				{
					struct varlena *v = PG_DETOAST_DATUM_PACKED(values[i]);

					put_field(h->ctx, ordinal, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
					break;
				}
			case PATH_SEND:
				{
					bytea	   *b = SendFunctionCall(&c->send, values[i]);

					put_field(h->ctx, ordinal, VARDATA(b), VARSIZE(b) - VARHDRSZ);
					break;
				}
			case PATH_DROPPED:
				break;
		}
	}

	if (EVP_DigestFinal_ex(h->ctx, out, &outlen) != 1 || outlen != FINSEC_HASH_LEN)
		elog(ERROR, "could not finalise digest");

	MemoryContextSwitchTo(old);
	MemoryContextReset(h->tmpcxt);
}

/* One-shot digest of a buffer. */
void
finsec_digest_bytes(const char *algorithm, const unsigned char *data, size_t len,
					unsigned char *out)
{
	unsigned int outlen;

	if (EVP_Digest(data, len, out, &outlen, md_by_name(algorithm), NULL) != 1 ||
		outlen != FINSEC_HASH_LEN)
		elog(ERROR, "could not compute digest");
}
