/*-------------------------------------------------------------------------
 *
 * outbound.c
 *	  The outbound-link check (C7, docs/credit.md "Outbound links"): the
 *	  part of finsec.outbound_links() that reads connection strings.
 *
 * finsec._outbound_conninfo_targets(conninfo) parses a libpq connection
 * string (keyword/value or URI) with libpq's own PQconninfoParse -- the
 * parser a subscription, postgres_fdw, dblink and a standby use, so that
 * finsec reads the string exactly as they do -- and returns the hosts it
 * names, one row per host of a multi-host string, with the hostaddr and
 * port libpq pairs with each.  It never connects and never resolves a
 * name.  Nothing of the string but the host, hostaddr, port and service
 * values leaves this function: a password in it is zeroed with the
 * parse, and a string libpq refuses gives one row with valid false and no
 * text of libpq's message (which may quote the string).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "libpq-fe.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "credit.h"

PG_FUNCTION_INFO_V1(finsec_outbound_conninfo_targets);

#define TARGET_COLUMNS	6

/* The comma-separated items of a libpq list (host, hostaddr, port). */
static List *
split_list(const char *s)
{
	List	   *out = NIL;
	const char *p = s;

	if (s == NULL || s[0] == '\0')
		return NIL;
	for (;;)
	{
		const char *e = strchr(p, ',');
		size_t		n = e ? (size_t) (e - p) : strlen(p);

		out = lappend(out, pnstrdup(p, n));
		if (e == NULL)
			break;
		p = e + 1;
	}
	return out;
}

static void
put_text(Datum *values, bool *nulls, int i, const char *s)
{
	if (s == NULL || s[0] == '\0')
		nulls[i] = true;
	else
		values[i] = CStringGetTextDatum(s);
}

/*
 * finsec._outbound_conninfo_targets(conninfo text)
 *	  RETURNS TABLE(pos int, host text, hostaddr text, port text,
 *					service text, valid boolean)
 */
Datum
finsec_outbound_conninfo_targets(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *conninfo;
	char	   *err = NULL;
	PQconninfoOption *opts;
	const char *host = NULL;
	const char *hostaddr = NULL;
	const char *port = NULL;
	const char *service = NULL;
	List	   *hosts;
	List	   *addrs;
	List	   *ports;
	int			n;
	bool		valid = true;
	Datum		values[TARGET_COLUMNS];
	bool		nulls[TARGET_COLUMNS];

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	InitMaterializedSRF(fcinfo, 0);
	conninfo = text_to_cstring(PG_GETARG_TEXT_PP(0));
	opts = PQconninfoParse(conninfo, &err);
	explicit_bzero(conninfo, strlen(conninfo));
	pfree(conninfo);
	if (err != NULL)
	{
		explicit_bzero(err, strlen(err));
		PQfreemem(err);
	}
	if (opts == NULL)
	{
		memset(nulls, true, sizeof(nulls));
		values[0] = Int32GetDatum(1);
		nulls[0] = false;
		values[5] = BoolGetDatum(false);
		nulls[5] = false;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		return (Datum) 0;
	}

	/* Copy out what is reported, then zero every value (passwords). */
	for (int i = 0; opts[i].keyword != NULL; i++)
	{
		const char *kw = opts[i].keyword;
		char	   *val = opts[i].val;

		if (val == NULL)
			continue;
		if (strcmp(kw, "host") == 0)
			host = pstrdup(val);
		else if (strcmp(kw, "hostaddr") == 0)
			hostaddr = pstrdup(val);
		else if (strcmp(kw, "port") == 0)
			port = pstrdup(val);
		else if (strcmp(kw, "service") == 0)
			service = pstrdup(val);
		explicit_bzero(val, strlen(val));
	}
	PQconninfoFree(opts);

	hosts = split_list(host);
	addrs = split_list(hostaddr);
	ports = split_list(port);
	n = Max(list_length(hosts), list_length(addrs));

	/*
	 * libpq refuses to connect when host and hostaddr lists differ in length,
	 * or when there are several ports but not one per host: such a string is
	 * reported as not valid (it connects nowhere), with its hosts.
	 */
	if (hosts != NIL && addrs != NIL && list_length(hosts) != list_length(addrs))
		valid = false;
	if (list_length(ports) > 1 && list_length(ports) != Max(n, 1))
		valid = false;

	for (int i = 0; i < Max(n, 1); i++)
	{
		memset(nulls, false, sizeof(nulls));
		values[0] = Int32GetDatum(i + 1);
		put_text(values, nulls, 1, i < list_length(hosts) ? list_nth(hosts, i) : NULL);
		put_text(values, nulls, 2, i < list_length(addrs) ? list_nth(addrs, i) : NULL);
		if (list_length(ports) == 1)
			put_text(values, nulls, 3, linitial(ports));
		else
			put_text(values, nulls, 3, i < list_length(ports) ? list_nth(ports, i) : NULL);
		put_text(values, nulls, 4, service);
		values[5] = BoolGetDatum(valid);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
