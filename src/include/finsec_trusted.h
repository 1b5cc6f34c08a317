/*-------------------------------------------------------------------------
 *
 * finsec_trusted.h
 *	  What finsec may run on an application's tables and columns: trusted
 *	  column types, and the table owner's restricted identity for SQL on a
 *	  user table (src/common/trusted.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_TRUSTED_H
#define FINSEC_TRUSTED_H

typedef struct FinsecTableOwnerContext
{
	Oid			save_userid;
	int			save_sec;
	int			nestlevel;
} FinsecTableOwnerContext;

extern bool finsec_type_is_trusted(Oid typid);
extern void finsec_require_trusted_type(Oid typid, const char *param, const char *column,
										const char *relname);
extern char *finsec_trusted_output(Oid typid, Datum value);
extern Datum finsec_trusted_input(Oid typid, const char *value);
extern bool finsec_opclass_is_trusted(Oid opclass);
extern void finsec_check_relation_usage(Oid relid); /* src/common/apptable.c */
extern void finsec_begin_table_owner(Oid relid, FinsecTableOwnerContext *ctx);
extern void finsec_end_table_owner(FinsecTableOwnerContext *ctx);

#endif							/* FINSEC_TRUSTED_H */
