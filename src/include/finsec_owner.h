/*-------------------------------------------------------------------------
 *
 * finsec_owner.h
 *	  Running finsec's own SQL as the extension's owner (src/common/owner.c).
 *
 * Part of the bottom layer: every capability may include it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_OWNER_H
#define FINSEC_OWNER_H

typedef struct FinsecOwnerContext
{
	Oid			caller;			/* the role that called finsec */
	Oid			save_userid;
	int			save_sec;
	int			nestlevel;
	int			saved_encoding;
} FinsecOwnerContext;

extern Oid	finsec_owner(void);
extern void finsec_begin_owner(FinsecOwnerContext *ctx);
extern void finsec_end_owner(FinsecOwnerContext *ctx);
extern ErrorData *finsec_try_as_owner(void (*work) (Oid actor, void *arg), void *arg);
extern void finsec_spi_begin_as_owner(FinsecOwnerContext *ctx);
extern void finsec_spi_end(FinsecOwnerContext *ctx);
extern uint64 finsec_spi_execute(const char *sql, int nargs, Oid *argtypes, Datum *values,
								 const char *nulls, bool read_only, long count, int expected,
								 const char *failure);
extern int	finsec_encoding_begin(void);
extern void finsec_encoding_end(int saved);
extern char *finsec_quoted_relname(Oid relid);

#endif							/* FINSEC_OWNER_H */
