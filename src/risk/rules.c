/*-------------------------------------------------------------------------
 *
 * rules.c
 *	  Compiling risk rules: parameters checked and turned into typed
 *	  structs once per ruleset version and backend, not per payment.
 *
 * The active ruleset is read as finsec's owner when a backend first
 * scores and again after a change to finsec.risk_ruleset, risk_rule or
 * risk_table (their statement triggers send a relcache invalidation of
 * the table changed; risk_cache_callback drops the compiled program).
 * finsec._risk_check_rule() runs the same compiler on one rule, so that a
 * rule that would not compile cannot be stored.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_owner.h"
#include "risk_engine.h"

const char *const finsec_risk_attr_names[RA_COUNT] = {
	"customer", "account", "counterparty", "currency", "channel", "mcc", "device", "ip",
	"phone", "geo", "region", "merchant", "auth_tier", "card", "reference", "amount", "at"
};

const char *const finsec_risk_rule_entity_names[RE_COUNT] = {
	"customer", "account", "device", "ip", "phone", "card", "merchant", "pair"
};

const RiskAttr finsec_risk_entity_attr[RE_COUNT] = {
	RA_CUSTOMER, RA_ACCOUNT, RA_DEVICE, RA_IP, RA_PHONE, RA_CARD, RA_MERCHANT, RA_CUSTOMER
};

const char *const finsec_risk_list_type_names[RL_COUNT] = {
	"customer", "account", "card", "device", "ip", "phone", "merchant"
};

static const char *const decision_force_names[RISK_DECISION_KINDS] = {
	"allow", "challenge", "review", "block"
};

/* ---- reading parameters -------------------------------------------------- */

typedef struct RuleCx
{
	const char *name;			/* rule name, NULL when checking one rule */
	const char *kind;
	MemoryContext cxt;			/* where compiled values live */
	const char *const *rule_names;	/* the ruleset's rules, for a model; NULL
									 * when checking one rule */
	int			nrules;
} RuleCx;

static void param_error(const RuleCx *cx, const char *fmt,...) pg_attribute_printf(2, 3) pg_attribute_noreturn();

static void
param_error(const RuleCx *cx, const char *fmt,...)
{
	char	   *msg;
	va_list		args;

	va_start(args, fmt);
	msg = finsec_vformat(fmt, args);
	va_end(args);
	if (cx->name)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("risk rule \"%s\" (%s): %s", cx->name, cx->kind, msg),
				 errhint("docs/risk.md lists the parameters of every rule kind.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s risk rule: %s", cx->kind, msg),
			 errhint("docs/risk.md lists the parameters of every rule kind.")));
}

static JsonbValue *
jb_get(Jsonb *j, const char *key)
{
	if (j == NULL)
		return NULL;
	return getKeyJsonValueFromContainer(&j->root, key, strlen(key), NULL);
}

/* Refuse keys the kind does not know: a misspelt parameter must not be ignored. */
static void
check_keys(const RuleCx *cx, Jsonb *j, const char *const *allowed)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (!JB_ROOT_IS_OBJECT(j) || JB_ROOT_IS_SCALAR(j))
		param_error(cx, "parameters must be a JSON object");
	it = JsonbIteratorInit(&j->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			char	   *k = pnstrdup(v.val.string.val, v.val.string.len);
			bool		ok = false;
			int			i;

			for (i = 0; allowed[i]; i++)
				if (strcmp(k, allowed[i]) == 0)
					ok = true;
			if (!ok)
				param_error(cx, "unknown parameter \"%s\"", k);
		}
	}
}

/*
 * Parameter "key" when it is present and not null, NULL otherwise (an
 * error when required); one of another JSON type than "type" is refused.
 */
static JsonbValue *
p_scalar(const RuleCx *cx, Jsonb *j, const char *key, bool required, enum jbvType type)
{
	JsonbValue *v = jb_get(j, key);

	if (v == NULL || v->type == jbvNull)
	{
		if (required)
			param_error(cx, "parameter \"%s\" is required", key);
		return NULL;
	}
	if (v->type != type)
	{
		if (type == jbvString)
			param_error(cx, "parameter \"%s\" must be a string", key);
		param_error(cx, "parameter \"%s\" must be a number", key);
	}
	return v;
}

static char *
p_string(const RuleCx *cx, Jsonb *j, const char *key, bool required)
{
	JsonbValue *v = p_scalar(cx, j, key, required, jbvString);

	if (v == NULL)
		return NULL;
	return MemoryContextStrdup(cx->cxt, pnstrdup(v->val.string.val, v->val.string.len));
}

static Numeric
p_numeric(const RuleCx *cx, Jsonb *j, const char *key, bool required)
{
	JsonbValue *v = p_scalar(cx, j, key, required, jbvNumeric);
	Numeric		n;

	if (v == NULL)
		return NULL;
	n = MemoryContextAlloc(cx->cxt, VARSIZE(v->val.numeric));
	memcpy(n, v->val.numeric, VARSIZE(v->val.numeric));
	return n;
}

static double
num_to_double(Numeric n)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(n)));
}

static double
p_double(const RuleCx *cx, Jsonb *j, const char *key, bool required, double dflt)
{
	Numeric		n = p_numeric(cx, j, key, required);

	return n ? num_to_double(n) : dflt;
}

/* An array of strings (or one string) into a palloc'd vector. */
static int
p_strings(const RuleCx *cx, Jsonb *j, const char *key, char ***out)
{
	JsonbValue *v = jb_get(j, key);
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	int			n = 0;
	char	  **vals;

	*out = NULL;
	if (v == NULL || v->type == jbvNull)
		return 0;
	if (v->type == jbvString)
	{
		vals = MemoryContextAlloc(cx->cxt, sizeof(char *));
		vals[0] = MemoryContextStrdup(cx->cxt, pnstrdup(v->val.string.val, v->val.string.len));
		*out = vals;
		return 1;
	}
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		param_error(cx, "parameter \"%s\" must be an array of strings", key);
	vals = MemoryContextAllocZero(cx->cxt, sizeof(char *) * (JsonContainerSize(v->val.binary.data) + 1));
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (e.type != jbvString)
			param_error(cx, "parameter \"%s\" must be an array of strings", key);
		vals[n++] = MemoryContextStrdup(cx->cxt, pnstrdup(e.val.string.val, e.val.string.len));
	}
	if (n == 0)
		param_error(cx, "parameter \"%s\" must not be empty", key);
	*out = vals;
	return n;
}

static int
p_choice(const RuleCx *cx, Jsonb *j, const char *key, const char *const *names, int nnames,
		 bool required, int dflt)
{
	char	   *s = p_string(cx, j, key, required);
	StringInfoData all;
	int			i;

	if (s == NULL)
		return dflt;
	for (i = 0; i < nnames; i++)
		if (names[i] && strcmp(s, names[i]) == 0)
			return i;
	initStringInfo(&all);
	for (i = 0; i < nnames; i++)
		if (names[i])
			appendStringInfo(&all, "%s%s", all.len ? ", " : "", names[i]);
	param_error(cx, "parameter \"%s\" must be one of %s", key, all.data);
	return -1;					/* keep compiler quiet */
}

/* An interval of whole seconds to days, as microseconds; months are refused. */
/* An interval from text, NULL when it is not one (never raises). */
static Interval *
interval_parse(const char *s)
{
	char		workbuf[256];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	struct pg_itm_in itm;
	Interval   *iv;

	if (strlen(s) >= sizeof(workbuf) / 2)
		return NULL;
	if (ParseDateTime(s, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf) != 0)
		return NULL;
	if (DecodeInterval(field, ftype, nf, INTERVAL_FULL_RANGE, &dtype, &itm) != 0 &&
		DecodeISO8601Interval(unconstify(char *, s), &dtype, &itm) != 0)
		return NULL;
	if (dtype != DTK_DELTA)
		return NULL;
	iv = palloc(sizeof(Interval));
	if (itmin2interval(&itm, iv) != 0)
		return NULL;
	return iv;
}

static int64
p_interval(const RuleCx *cx, Jsonb *j, const char *key, bool required)
{
	char	   *s = p_string(cx, j, key, required);
	Interval   *iv;
	int64		us;

	if (s == NULL)
		return 0;
	iv = interval_parse(s);
	if (iv == NULL)
		param_error(cx, "parameter \"%s\" is not an interval: \"%s\"", key, s);
	if (iv->month != 0)
		param_error(cx, "parameter \"%s\" must be given in days, hours, minutes or seconds, not months or years", key);
	us = iv->time + (int64) iv->day * USECS_PER_DAY;
	if (us <= 0 || us > (int64) 400 * USECS_PER_DAY)
		param_error(cx, "parameter \"%s\" must be between 1 microsecond and 400 days", key);
	return us;
}

static int
p_clock(const RuleCx *cx, Jsonb *j, const char *key)
{
	char	   *s = p_string(cx, j, key, true);
	int			h,
				m;
	char		extra;

	if (sscanf(s, "%2d:%2d%c", &h, &m, &extra) != 2 || strlen(s) != 5 ||
		h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0))
		param_error(cx, "parameter \"%s\" must be a time of day \"HH:MM\" (00:00 to 24:00)", key);
	return h * 60 + m;
}

static int64
numeric_e4(const RuleCx *cx, Numeric n, const char *what)
{
	Datum		scaled;
	double		d = num_to_double(n);

	if (!(d > -1e9 && d < 1e9))
		param_error(cx, "%s must be between -1000000000 and 1000000000", what);
	scaled = DirectFunctionCall2(numeric_mul, NumericGetDatum(n),
								 DirectFunctionCall1(int8_numeric, Int64GetDatum(10000)));
	scaled = DirectFunctionCall2(numeric_round, scaled, Int32GetDatum(0));
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, scaled));
}

static bool
numeric_is_negative(Numeric n)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(n),
											 DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) < 0;
}

static char *
numeric_text(Numeric n)
{
	return numeric_normalize(n);
}

/* ---- compiling ----------------------------------------------------------- */

static const char *const when_keys[] = {
	"channel", "currency", "mcc", "region", "merchant", "min_amount", "max_amount", "max_auth_tier", NULL
};

static void
compile_when(const RuleCx *cx, RiskRule *r, JsonbValue *v)
{
	Jsonb	   *w;
	RuleCx		wcx = *cx;
	static const RiskAttr text_attrs[] = {RA_CHANNEL, RA_CURRENCY, RA_MCC, RA_REGION, RA_MERCHANT};
	int			i;

	if (v == NULL || v->type == jbvNull)
		return;
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		param_error(cx, "parameter \"when\" must be an object");
	w = JsonbValueToJsonb(v);
	check_keys(&wcx, w, when_keys);
	r->has_when = true;
	for (i = 0; i < lengthof(text_attrs); i++)
		r->when.ntexts[text_attrs[i]] = p_strings(cx, w, finsec_risk_attr_names[text_attrs[i]],
												  &r->when.texts[text_attrs[i]]);
	r->when.min_amount = p_numeric(cx, w, "min_amount", false);
	r->when.max_amount = p_numeric(cx, w, "max_amount", false);
	if (jb_get(w, "max_auth_tier"))
	{
		double		t = p_double(cx, w, "max_auth_tier", true, 0);

		if (t != floor(t) || t < 0 || t > 100)
			param_error(cx, "\"when\": max_auth_tier must be an integer from 0 to 100");
		r->when.has_max_tier = true;
		r->when.max_tier = (int32) t;
	}
}

static const char *const ops_names[] = {">", ">=", "<", "<=", "=", "<>", "in", "not in"};
static const char *const color_names[] = {"black", "grey", "white"};
static const char *const side_names[] = {"payer", "payee"};
static const char *const measure_names[] = {"count", "sum", "distinct"};

/* Attributes a threshold rule may test, and which of them compare as numbers. */
static bool
attr_is_numeric(RiskAttr a)
{
	return a == RA_AMOUNT || a == RA_TIER;
}

static bool
attr_is_text(RiskAttr a)
{
	return a != RA_AMOUNT && a != RA_TIER && a != RA_GEO && a != RA_AT && a != RA_CARD && a != RA_REFERENCE;
}

/*
 * One compile function per rule kind: it reads the kind's parameters
 * (check_keys has refused unknown ones) into the rule and writes the
 * threshold text shown with every hit.  "when" and "force" are read after
 * it, for every kind alike.
 */
typedef void (*RuleCompileFn) (const RuleCx *cx, RiskRule *r, Jsonb *params, StringInfo th);

static void
compile_list(const RuleCx *cx, RiskRule *r, Jsonb *params, StringInfo th)
{
	JsonbValue *ab;

	r->color = p_choice(cx, params, "color", color_names, 3, true, 0);
	r->list_type = p_choice(cx, params, "entity", finsec_risk_list_type_names, RL_COUNT, true, 0);
	r->payee_side = p_choice(cx, params, "side", side_names, 2, false, 0) == 1;
	if (r->payee_side && r->list_type != RL_ACCOUNT && r->list_type != RL_MERCHANT)
		param_error(cx, "on the payee side only \"account\" (the counterparty) and \"merchant\" can be listed");
	if (!r->payee_side && r->list_type == RL_MERCHANT)
		param_error(cx, "a merchant is on the payee side: add \"side\": \"payee\"");
	ab = jb_get(params, "absent");
	if (ab && ab->type != jbvBool)
		param_error(cx, "parameter \"absent\" must be true or false");
	r->absent = ab && ab->val.boolean;
	appendStringInfo(th, "%s%s list (%s, %s)", r->absent ? "not on the " : "", color_names[r->color],
					 finsec_risk_list_type_names[r->list_type], side_names[r->payee_side ? 1 : 0]);
}

/* A threshold on a number (amount, auth_tier): one comparison with "value". */
static void
compile_threshold_numeric(const RuleCx *cx, RiskRule *r, Jsonb *params, StringInfo th)
{
	if (r->op == ROP_IN || r->op == ROP_NOT_IN)
	{
		r->nvalues = p_strings(cx, params, "values", &r->values);
		param_error(cx, "attribute \"%s\" takes a comparison (>, >=, <, <=, =, <>) with \"value\"",
					finsec_risk_attr_names[r->attr]);
	}
	if (jb_get(params, "values"))
		param_error(cx, "use \"value\" with op \"%s\"", ops_names[r->op]);
	r->num_value = p_numeric(cx, params, "value", true);
	appendStringInfo(th, "%s %s", ops_names[r->op], numeric_text(r->num_value));
}

/* A threshold on a text attribute: equality with "value" or membership of "values". */
static void
compile_threshold_text(const RuleCx *cx, RiskRule *r, Jsonb *params, StringInfo th)
{
	if (!attr_is_text(r->attr))
		param_error(cx, "attribute \"%s\" cannot be compared", finsec_risk_attr_names[r->attr]);
	if (r->op != ROP_EQ && r->op != ROP_NE && r->op != ROP_IN && r->op != ROP_NOT_IN)
		param_error(cx, "attribute \"%s\" takes op =, <>, in or not in", finsec_risk_attr_names[r->attr]);
	if (r->op == ROP_IN || r->op == ROP_NOT_IN)
	{
		if (jb_get(params, "value"))
			param_error(cx, "use \"values\" with op \"%s\"", ops_names[r->op]);
		r->nvalues = p_strings(cx, params, "values", &r->values);
		if (r->nvalues == 0)
			param_error(cx, "parameter \"values\" is required");
	}
	else
	{
		if (jb_get(params, "values"))
			param_error(cx, "use \"value\" with op \"%s\"", ops_names[r->op]);
		r->values = MemoryContextAlloc(cx->cxt, sizeof(char *));
		r->values[0] = p_string(cx, params, "value", true);
		r->nvalues = 1;
	}
	appendStringInfo(th, "%s", ops_names[r->op]);
	for (int i = 0; i < r->nvalues; i++)
		appendStringInfo(th, "%s%s", i ? ", " : " ", r->values[i]);
}

static void
compile_threshold(const RuleCx *cx, RiskRule *r, Jsonb *params, StringInfo th)
{
	r->attr = p_choice(cx, params, "attribute", finsec_risk_attr_names, RA_COUNT, true, 0);
	if (r->attr == RA_GEO || r->attr == RA_AT || r->attr == RA_CARD || r->attr == RA_REFERENCE)
		param_error(cx, "attribute \"%s\" cannot be compared; use a time_of_day, travel or list rule",
					finsec_risk_attr_names[r->attr]);
	r->op = p_choice(cx, params, "op", ops_names, lengthof(ops_names), true, 0);
	if (attr_is_numeric(r->attr))
		compile_threshold_numeric(cx, r, params, th);
	else
		compile_threshold_text(cx, r, params, th);
}

static void
compile_velocity(const RuleCx *cx, RiskRule *r, Jsonb *params, StringInfo th)
{
	r->entity = p_choice(cx, params, "entity", finsec_risk_rule_entity_names, RE_COUNT, true, 0);
	r->window_us = p_interval(cx, params, "window", true);
	r->measure = p_choice(cx, params, "measure", measure_names, 3, false, RM_COUNT);
	if (r->measure == RM_DISTINCT)
	{
		r->measure_attr = p_choice(cx, params, "of", finsec_risk_attr_names, RA_COUNT, true, 0);
		if (r->measure_attr == RA_AMOUNT || r->measure_attr == RA_AT || r->measure_attr == RA_GEO ||
			r->measure_attr == RA_TIER || r->measure_attr == RA_REFERENCE)
			param_error(cx, "distinct values of \"%s\" are not counted", finsec_risk_attr_names[r->measure_attr]);
	}
	else if (jb_get(params, "of"))
		param_error(cx, "parameter \"of\" goes with measure \"distinct\"");
	r->max = p_numeric(cx, params, "max", true);
	if (numeric_is_negative(r->max))
		param_error(cx, "parameter \"max\" must not be negative");
	appendStringInfo(th, "%s%s%s per %s over %s > %s", measure_names[r->measure],
					 r->measure == RM_DISTINCT ? " " : "",
					 r->measure == RM_DISTINCT ? finsec_risk_attr_names[r->measure_attr] : "",
					 finsec_risk_rule_entity_names[r->entity], p_string(cx, params, "window", true),
					 numeric_text(r->max));
}

static void
compile_first_seen(const RuleCx *cx, RiskRule *r, Jsonb *params, StringInfo th)
{
	r->entity = p_choice(cx, params, "entity", finsec_risk_rule_entity_names, RE_COUNT, false, RE_CUSTOMER);
	if (r->entity == RE_PAIR)
		param_error(cx, "first_seen takes an entity, not a pair; use \"of\": \"counterparty\"");
	r->measure_attr = p_choice(cx, params, "of", finsec_risk_attr_names, RA_COUNT, true, 0);
	if (r->measure_attr == RA_AMOUNT || r->measure_attr == RA_AT || r->measure_attr == RA_GEO ||
		r->measure_attr == RA_TIER || r->measure_attr == RA_REFERENCE ||
		r->measure_attr == finsec_risk_entity_attr[r->entity])
		param_error(cx, "\"of\" must name another identifying attribute (device, counterparty, region, ip, ...)");
	r->window_us = jb_get(params, "lookback") ? p_interval(cx, params, "lookback", true) : 0;
	appendStringInfo(th, "no earlier payment of this %s with this %s", finsec_risk_rule_entity_names[r->entity],
					 finsec_risk_attr_names[r->measure_attr]);
}

static void
compile_structuring(const RuleCx *cx, RiskRule *r, Jsonb *params, StringInfo th)
{
	Datum		pct;
	double		pctd;
	double		mc;
	MemoryContext old;
	Datum		hundred;

	r->entity = p_choice(cx, params, "entity", finsec_risk_rule_entity_names, RE_COUNT, false, RE_CUSTOMER);
	r->window_us = p_interval(cx, params, "window", true);
	r->threshold = p_numeric(cx, params, "threshold", true);
	if (num_to_double(r->threshold) <= 0)
		param_error(cx, "parameter \"threshold\" must be positive");
	pct = NumericGetDatum(p_numeric(cx, params, "below_pct", true));
	pctd = num_to_double(DatumGetNumeric(pct));
	if (!(pctd > 0 && pctd < 100))
		param_error(cx, "parameter \"below_pct\" must be between 0 and 100 (exclusive)");
	/* lower = threshold * (100 - pct) / 100, exactly */
	old = MemoryContextSwitchTo(cx->cxt);
	hundred = DirectFunctionCall1(int4_numeric, Int32GetDatum(100));
	r->lower = DatumGetNumeric(DirectFunctionCall2(numeric_div,
												   DirectFunctionCall2(numeric_mul, NumericGetDatum(r->threshold),
																	   DirectFunctionCall2(numeric_sub, hundred, pct)),
												   hundred));
	MemoryContextSwitchTo(old);
	mc = p_double(cx, params, "min_count", true, 0);
	/* checked as a double first: casting an out-of-range one is undefined */
	if (!(mc >= 2 && mc <= 100000) || mc != floor(mc))
		param_error(cx, "parameter \"min_count\" must be an integer from 2 to 100000");
	r->min_count = (int64) mc;
	appendStringInfo(th, "%lld payments in [%s, %s) per %s within %s",
					 (long long) r->min_count, numeric_text(r->lower), numeric_text(r->threshold),
					 finsec_risk_rule_entity_names[r->entity], p_string(cx, params, "window", true));
}

static void
compile_time_of_day(const RuleCx *cx, RiskRule *r, Jsonb *params, StringInfo th)
{
	r->from_min = p_clock(cx, params, "from");
	r->to_min = p_clock(cx, params, "to");
	if (r->from_min == r->to_min)
		param_error(cx, "\"from\" and \"to\" must differ");
	r->tzname = p_string(cx, params, "timezone", false);
	if (r->tzname)
	{
		r->tz = pg_tzset(r->tzname);
		if (r->tz == NULL)
			param_error(cx, "unknown time zone \"%s\"", r->tzname);
	}
	appendStringInfo(th, "local time in [%s, %s)%s%s", p_string(cx, params, "from", true),
					 p_string(cx, params, "to", true), r->tzname ? " " : "", r->tzname ? r->tzname : "");
}

static void
compile_travel(const RuleCx *cx, RiskRule *r, Jsonb *params, StringInfo th)
{
	r->entity = p_choice(cx, params, "entity", finsec_risk_rule_entity_names, RE_COUNT, false, RE_CUSTOMER);
	if (r->entity == RE_PAIR)
		param_error(cx, "travel follows one entity, not a pair");
	r->max_kmh = p_double(cx, params, "max_kmh", false, -1);
	r->max_km = p_double(cx, params, "max_km", false, -1);
	r->min_km = p_double(cx, params, "min_km", false, 0);
	if ((r->max_kmh < 0) == (r->max_km < 0))
		param_error(cx, "give exactly one of \"max_kmh\" (impossible travel) and \"max_km\" (relocation), positive");
	if (r->max_kmh == 0 || r->max_km == 0 || r->min_km < 0)
		param_error(cx, "distances and speeds must be positive");
	r->window_us = jb_get(params, "within") ? p_interval(cx, params, "within", true) : (int64) 30 * USECS_PER_DAY;
	if (r->max_kmh > 0)
		appendStringInfo(th, "speed since the previous payment of this %s > %g km/h", finsec_risk_rule_entity_names[r->entity], r->max_kmh);
	else
		appendStringInfo(th, "distance from the previous payment of this %s > %g km", finsec_risk_rule_entity_names[r->entity], r->max_km);
}

/* One feature of a model: its source, and for rule:/fired: the rule it names. */
static void
compile_feature(const RuleCx *cx, RiskRule *r, RiskFeature *f, JsonbValue *e)
{
	static const char *const k_feature[] = {"feature", "weight", NULL};
	Jsonb	   *fj;
	char	   *name;

	if (e->type != jbvBinary || !JsonContainerIsObject(e->val.binary.data))
		param_error(cx, "every feature must be an object {\"feature\": ..., \"weight\": ...}");
	fj = JsonbValueToJsonb(e);
	check_keys(cx, fj, k_feature);
	name = p_string(cx, fj, "feature", true);
	f->name = name;
	f->weight = p_double(cx, fj, "weight", true, 0);
	if (strcmp(name, "amount") == 0)
		f->source = RF_AMOUNT;
	else if (strcmp(name, "log_amount") == 0)
		f->source = RF_LOG_AMOUNT;
	else if (strcmp(name, "hour") == 0)
		f->source = RF_HOUR;
	else if (strcmp(name, "auth_tier") == 0)
		f->source = RF_TIER;
	else if (strncmp(name, "rule:", 5) == 0 || strncmp(name, "fired:", 6) == 0)
	{
		const char *ref = strchr(name, ':') + 1;
		int			i;

		f->source = name[0] == 'r' ? RF_RULE : RF_FIRED;
		f->rule = -1;
		if (cx->rule_names)
		{
			for (i = 0; i < cx->nrules; i++)
				if (cx->rule_names[i] && strcmp(cx->rule_names[i], ref) == 0)
					f->rule = i;
			if (f->rule < 0)
				param_error(cx, "feature \"%s\" names no other rule of the ruleset", name);
			if (strcmp(ref, r->name) == 0)
				param_error(cx, "feature \"%s\" names the model itself", name);
		}
	}
	else
		param_error(cx, "unknown feature \"%s\" (amount, log_amount, hour, auth_tier, rule:<name>, fired:<name>)", name);
}

static void
compile_model(const RuleCx *cx, RiskRule *r, Jsonb *params, StringInfo th)
{
	JsonbValue *fv;
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	int			n = 0;

	r->intercept = p_double(cx, params, "intercept", true, 0);
	r->min_probability = p_double(cx, params, "min_probability", false, 0.5);
	if (!(r->min_probability > 0 && r->min_probability < 1))
		param_error(cx, "parameter \"min_probability\" must be between 0 and 1 (exclusive)");
	fv = jb_get(params, "features");
	if (fv == NULL || fv->type != jbvBinary || !JsonContainerIsArray(fv->val.binary.data) ||
		JsonContainerSize(fv->val.binary.data) == 0)
		param_error(cx, "parameter \"features\" must be a non-empty array of {\"feature\": ..., \"weight\": ...}");
	r->features = MemoryContextAllocZero(cx->cxt, sizeof(RiskFeature) * JsonContainerSize(fv->val.binary.data));
	it = JsonbIteratorInit(fv->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
			compile_feature(cx, r, &r->features[n++], &e);
	r->nfeatures = n;
	appendStringInfo(th, "probability >= %g", r->min_probability);
}

/* Every rule kind: its name, the parameters it takes, and its compiler. */
typedef struct RuleKindDef
{
	const char *kind;
	RiskRuleKind code;
	const char *const *params;	/* NULL-terminated */
	RuleCompileFn compile;
} RuleKindDef;

static const char *const k_list[] = {"color", "entity", "side", "absent", "when", "force", NULL};
static const char *const k_threshold[] = {"attribute", "op", "value", "values", "when", "force", NULL};
static const char *const k_velocity[] = {"entity", "window", "measure", "of", "max", "when", "force", NULL};
static const char *const k_first[] = {"entity", "of", "lookback", "when", "force", NULL};
static const char *const k_struct[] = {"entity", "window", "threshold", "below_pct", "min_count", "when", "force", NULL};
static const char *const k_tod[] = {"from", "to", "timezone", "when", "force", NULL};
static const char *const k_travel[] = {"entity", "max_kmh", "max_km", "min_km", "within", "when", "force", NULL};
static const char *const k_model[] = {"intercept", "features", "min_probability", "when", "force", NULL};

static const RuleKindDef rule_kinds[] = {
	{"list", RK_LIST, k_list, compile_list},
	{"threshold", RK_THRESHOLD, k_threshold, compile_threshold},
	{"velocity", RK_VELOCITY, k_velocity, compile_velocity},
	{"first_seen", RK_FIRST_SEEN, k_first, compile_first_seen},
	{"structuring", RK_STRUCTURING, k_struct, compile_structuring},
	{"time_of_day", RK_TIME_OF_DAY, k_tod, compile_time_of_day},
	{"travel", RK_TRAVEL, k_travel, compile_travel},
	{"model", RK_MODEL, k_model, compile_model},
};

/*
 * Compile one rule of kind "kind" into r, its values in cxt.  rule_names
 * (nrules of them) are the ruleset's rules, for a model's references; NULL
 * when one rule is checked alone.  Raises for an unknown kind or a bad
 * parameter.
 */
void
finsec_risk_compile_rule(RiskRule *r, const char *kind, Jsonb *params, MemoryContext cxt,
						 const char *const *rule_names, int nrules)
{
	RuleCx		cx = {r->name, kind, cxt, rule_names, nrules};
	const RuleKindDef *def = NULL;
	StringInfoData th;
	int			i;

	r->force = -1;
	r->max_kmh = r->max_km = -1;
	initStringInfo(&th);

	for (i = 0; i < lengthof(rule_kinds) && def == NULL; i++)
		if (strcmp(kind, rule_kinds[i].kind) == 0)
			def = &rule_kinds[i];
	if (def == NULL)
		param_error(&cx, "unknown rule kind");
	r->kind = def->code;
	check_keys(&cx, params, def->params);
	def->compile(&cx, r, params, &th);

	compile_when(&cx, r, jb_get(params, "when"));
	r->force = p_choice(&cx, params, "force", decision_force_names, RISK_DECISION_KINDS, false, -1);
	if (r->force == RISK_ALLOW && !(r->kind == RK_LIST && r->color == RC_WHITE && !r->absent))
		param_error(&cx, "only a white-list rule can force \"allow\"");
	r->threshold_text = MemoryContextStrdup(cxt, th.data);
}

/* ---- "when" -------------------------------------------------------------- */

bool
finsec_risk_when_matches(const RiskWhen *w, const RiskInput *in)
{
	int			a;

	for (a = 0; a < RA_COUNT; a++)
	{
		int			i;
		bool		ok = false;

		if (w->ntexts[a] == 0)
			continue;
		if (!in->present[a])
			return false;
		for (i = 0; i < w->ntexts[a] && !ok; i++)
			ok = strcmp(w->texts[a][i], in->text[a]) == 0;
		if (!ok)
			return false;
	}
	if (w->min_amount &&
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(in->amount),
										  NumericGetDatum(w->min_amount))) < 0)
		return false;
	if (w->max_amount &&
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(in->amount),
										  NumericGetDatum(w->max_amount))) > 0)
		return false;
	if (w->has_max_tier && in->present[RA_TIER] && in->tier > w->max_tier)
		return false;
	return true;
}

/* ---- the active ruleset, per backend ------------------------------------- */

static MemoryContext ruleset_cxt = NULL;
static RiskRuleset *active = NULL;
static bool active_valid = false;
static bool callback_registered = false;
static FinsecRelid watched[3] = {
	FINSEC_RELID_INIT("finsec", "risk_ruleset"),
	FINSEC_RELID_INIT("finsec", "risk_rule"),
	FINSEC_RELID_INIT("finsec", "risk_table"),
};

static void
risk_cache_callback(Datum arg, Oid relid)
{
	int			i;

	if (!OidIsValid(relid))
	{
		active_valid = false;
		finsec_risk_history_invalidate(InvalidOid);
		return;
	}
	for (i = 0; i < lengthof(watched); i++)
		if (finsec_relid_matches(&watched[i], relid))
			active_valid = false;
	/* a registration changed: forget every table's map */
	finsec_risk_history_invalidate(finsec_relid_matches(&watched[2], relid) ? InvalidOid : relid);
}

static int64
spi_int8(int row, int col, bool *isnull)
{
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull));
}

/* Read and compile the active ruleset (thresholds, rules) into ruleset_cxt; active stays NULL when none. */
static void
load_ruleset(void)
{
	static const Oid argtypes[1] = {INT8OID};
	Datum		args[1];
	bool		isnull;
	uint64		i;
	int			ret;
	MemoryContext old;
	RiskRuleset *rs;
	const char **names;

	ret = SPI_execute("SELECT version, (challenge_at * 10000)::int8, (review_at * 10000)::int8, "
					  "(block_at * 10000)::int8, "
					  "content_hash IS NOT DISTINCT FROM finsec.risk_ruleset_hash(version) "
					  "FROM finsec.risk_ruleset WHERE state = 'active'",
					  true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading finsec.risk_ruleset failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		active = NULL;
		return;
	}

	/*
	 * The rules must be those deployed: a version whose content no longer
	 * hashes to its deployment record (rules loaded by a restore that do not
	 * match, or rows written around the guards) never scores.
	 */
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_RULESET_INTEGRITY),
				 errmsg("active risk ruleset %lld does not match its deployment record",
						(long long) spi_int8(0, 1, &isnull)),
				 errdetail("Its thresholds, training record or rules hash to another value than the content hash recorded when it was deployed."),
				 errhint("Compare finsec.risk_ruleset_hash(version) with content_hash; restore the version's rules from the dump it came from, or deploy a checked copy (finsec.risk_ruleset_copy, two-person deployment).")));
	old = MemoryContextSwitchTo(ruleset_cxt);
	rs = palloc0(sizeof(RiskRuleset));
	rs->version = spi_int8(0, 1, &isnull);
	rs->challenge_e4 = spi_int8(0, 2, &isnull);
	rs->review_e4 = spi_int8(0, 3, &isnull);
	rs->block_e4 = spi_int8(0, 4, &isnull);
	MemoryContextSwitchTo(old);

	args[0] = Int64GetDatum(rs->version);
	finsec_spi_execute("SELECT rule_id, name, kind, params, weight, reason_code, category, mode "
					   "FROM finsec.risk_rule WHERE ruleset_version = $1 AND mode <> 'off' "
					   "ORDER BY kind = 'model', rule_id",
					   1, (Oid *) argtypes, args, NULL, true, 0,
					   SPI_OK_SELECT, "reading finsec.risk_rule failed");
	rs->nrules = (int) SPI_processed;
	rs->rules = MemoryContextAllocZero(ruleset_cxt, sizeof(RiskRule) * Max(rs->nrules, 1));
	names = palloc0(sizeof(char *) * Max(rs->nrules, 1));
	for (i = 0; i < SPI_processed; i++)
		names[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		RiskRule   *r = &rs->rules[i];
		Jsonb	   *params = DatumGetJsonbP(SPI_getbinval(tup, td, 4, &isnull));
		char	   *mode = SPI_getvalue(tup, td, 8);

		r->rule_id = spi_int8(i, 1, &isnull);
		r->name = MemoryContextStrdup(ruleset_cxt, names[i]);
		r->code = MemoryContextStrdup(ruleset_cxt, SPI_getvalue(tup, td, 6));
		r->category = MemoryContextStrdup(ruleset_cxt, SPI_getvalue(tup, td, 7));
		r->shadow = strcmp(mode, "shadow") == 0;
		finsec_risk_compile_rule(r, SPI_getvalue(tup, td, 3), params, ruleset_cxt, names, rs->nrules);
		{
			RuleCx		cx = {r->name, "weight", ruleset_cxt};

			r->weight_e4 = numeric_e4(&cx, DatumGetNumeric(SPI_getbinval(tup, td, 5, &isnull)), "the weight");
		}
		if (r->kind == RK_VELOCITY || r->kind == RK_FIRST_SEEN || r->kind == RK_STRUCTURING ||
			r->kind == RK_TRAVEL)
			rs->needs_history = true;
	}
	active = rs;
}

/*
 * The active ruleset, compiled; NULL when none is active.  Compiled at the
 * first call of a backend and after every change, as finsec's owner with a
 * fresh snapshot.
 */
RiskRuleset *
finsec_risk_active_ruleset(void)
{
	FinsecOwnerContext ctx;

	if (active_valid)
		return active;
	if (!callback_registered)
	{
		finsec_register_relcache_callback(risk_cache_callback, (Datum) 0);
		callback_registered = true;
	}
	(void) get_namespace_oid("finsec", false);	/* the extension is installed */
	for (int i = 0; i < lengthof(watched); i++)
		(void) finsec_relid(&watched[i]);
	if (ruleset_cxt == NULL)
		ruleset_cxt = AllocSetContextCreate(CacheMemoryContext, "finsec risk rules", ALLOCSET_SMALL_SIZES);
	MemoryContextReset(ruleset_cxt);
	active = NULL;
	/* Set before reading: an invalidation arriving meanwhile clears it again. */
	active_valid = true;

	finsec_spi_begin_as_owner(&ctx);
	PushActiveSnapshot(GetLatestSnapshot());
	PG_TRY();
	{
		load_ruleset();
	}
	PG_CATCH();
	{
		active_valid = false;
		active = NULL;
		PG_RE_THROW();
	}
	PG_END_TRY();
	PopActiveSnapshot();
	finsec_spi_end(&ctx);
	return active;
}

/* ---- SQL ----------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(finsec_risk_check_rule);

/* finsec._risk_check_rule(kind text, params jsonb) returns jsonb: params, checked */
Datum
finsec_risk_check_rule(PG_FUNCTION_ARGS)
{
	RiskRule	r;
	char	   *kind;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a risk rule needs a kind and parameters")));
	kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	memset(&r, 0, sizeof(r));

	/*
	 * Rule references of a model are checked against the ruleset at
	 * deployment.
	 */
	finsec_risk_compile_rule(&r, kind, PG_GETARG_JSONB_P(1), CurrentMemoryContext, NULL, 0);
	PG_RETURN_DATUM(PG_GETARG_DATUM(1));
}

PG_FUNCTION_INFO_V1(finsec_risk_config_changed);

Datum
finsec_risk_config_changed(PG_FUNCTION_ARGS)
{
	finsec_relcache_trigger(fcinfo, "finsec.risk_config_changed()");
	return PointerGetDatum(NULL);
}
