/*-------------------------------------------------------------------------
 *
 * score.c
 *	  finsec.risk_score(): one payment against the active ruleset.
 *
 * Order of work: the caller's rate limit; the compiled ruleset (rules.c);
 * list rules (one index probe per list type and side); thresholds and
 * time of day from the payment alone; velocity, structuring, first-seen
 * and travel from the payment history (history.c); model rules last,
 * since their features may be other rules' findings.
 *
 * Score = sum of the weights of enforced rules that fired (a model rule
 * adds weight x probability).  Decision from the ruleset's thresholds
 * (challenge_at <= review_at <= block_at), then raised to the "force" of
 * any enforced rule that fired; an enforced allow-list rule that fired
 * makes it allow unless a rule forcing block fired too.  Shadow rules are
 * evaluated, reported to operators and logged, and change nothing.
 *
 * Callers that are not members of finsec_operator get the decision and
 * the reason codes of enforced rules only (JR/T 0199 8.4 f): no score, no
 * observed values, thresholds, weights or shadow rules.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/geo_decls.h"
#include "utils/inet.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "finsec.h"
#include "finsec_apptable.h"
#include "finsec_card.h"
#include "finsec_trusted.h"
#include "risk_engine.h"

static const char *const kind_names[] = {
	"list", "threshold", "velocity", "first_seen", "structuring", "time_of_day", "travel", "model"
};

/* ---- payment attributes -------------------------------------------------- */

static void
set_text(RiskInput *in, RiskAttr a, char *s)
{
	if (s == NULL)
		return;
	in->present[a] = true;
	in->text[a] = s;
}

static void
set_amount(RiskInput *in, Numeric n)
{
	if (numeric_is_nan(n) || numeric_is_inf(n))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a payment's amount must be a finite number")));
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(n),
										  DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a payment's amount must not be negative")));
	in->present[RA_AMOUNT] = true;
	in->amount = n;
	in->amount_d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(n)));
}

static void
set_ip(RiskInput *in, Datum ip)
{
	in->present[RA_IP] = true;
	in->ip = ip;
	in->text[RA_IP] = DatumGetCString(DirectFunctionCall1(inet_out, ip));
}

static void
set_geo(RiskInput *in, Point *p)
{
	if (isnan(p->x) || isnan(p->y) || p->y < -90 || p->y > 90 || p->x < -180 || p->x > 180)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a payment's location must be point(longitude, latitude) within (-180..180, -90..90)")));
	in->present[RA_GEO] = true;
	in->lon = p->x;
	in->lat = p->y;
}

static void
set_tier(RiskInput *in, int32 tier)
{
	in->present[RA_TIER] = true;
	in->tier = tier;
	in->text[RA_TIER] = psprintf("%d", tier);
}

static void
set_card(RiskInput *in, Datum card)
{
	in->present[RA_CARD] = true;
	in->card = card;
	in->card_key = finsec_card_key((struct varlena *) PG_DETOAST_DATUM_PACKED(card));
	in->text[RA_CARD] = in->card_key;
}

/*
 * Phone numbers are compared as digits, without China's country code, so
 * that "+86 138-0013-8000" and "13800138000" are one number.
 */
static char *
normalise_phone(const char *s)
{
	char	   *out = palloc(strlen(s) + 1);
	char	   *o = out;

	for (; *s; s++)
		if (*s >= '0' && *s <= '9')
			*o++ = *s;
	*o = '\0';
	if (strncmp(out, "0086", 4) == 0 && strlen(out) > 4 + 6)
		return out + 4;
	if (strncmp(out, "86", 2) == 0 && strlen(out) == 13)
		return out + 2;
	return out;
}

/* ---- rules evaluated from the payment alone ------------------------------ */

static bool
cmp_ok(RiskOp op, int c)
{
	switch (op)
	{
		case ROP_GT:
			return c > 0;
		case ROP_GE:
			return c >= 0;
		case ROP_LT:
			return c < 0;
		case ROP_LE:
			return c <= 0;
		case ROP_EQ:
			return c == 0;
		case ROP_NE:
			return c != 0;
		default:
			return false;
	}
}

static void
eval_threshold(const RiskRule *r, const RiskInput *in, RiskHit *h)
{
	if (!in->present[r->attr])
		return;
	h->evaluated = true;
	if (r->attr == RA_AMOUNT || r->attr == RA_TIER)
	{
		Numeric		v = r->attr == RA_AMOUNT ? in->amount
		: DatumGetNumeric(DirectFunctionCall1(int4_numeric, Int32GetDatum(in->tier)));
		int			c = DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(v),
														  NumericGetDatum(r->num_value)));

		h->fired = cmp_ok(r->op, c);
		h->observed = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v)));
		h->observed_text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v)));
	}
	else
	{
		bool		member = false;
		int			i;

		for (i = 0; i < r->nvalues && !member; i++)
			member = strcmp(r->values[i], in->text[r->attr]) == 0;
		h->fired = (r->op == ROP_EQ || r->op == ROP_IN) ? member : !member;
		h->observed = member ? 1 : 0;
		h->observed_text = in->text[r->attr];
	}
}

static void
eval_time_of_day(const RiskRule *r, const RiskInput *in, RiskHit *h)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;
	pg_tz	   *tz = r->tz ? r->tz : pg_tzset(finsec_risk_timezone);
	int			minute;

	if (tz == NULL || timestamp2tm(in->at, &tzoff, &tm, &fsec, NULL, tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("the payment's time is out of range")));
	minute = tm.tm_hour * 60 + tm.tm_min;
	h->evaluated = true;
	if (r->from_min < r->to_min)
		h->fired = minute >= r->from_min && minute < r->to_min;
	else
		h->fired = minute >= r->from_min || minute < r->to_min;
	h->observed = minute;
	h->observed_text = psprintf("%02d:%02d", tm.tm_hour, tm.tm_min);
}

static double
local_hour(const RiskInput *in)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;
	pg_tz	   *tz = pg_tzset(finsec_risk_timezone);

	if (tz == NULL || timestamp2tm(in->at, &tzoff, &tm, &fsec, NULL, tz) != 0)
		return 0;
	return tm.tm_hour + tm.tm_min / 60.0;
}

/* Logistic regression over named features; explained feature by feature. */
static void
eval_model(const RiskRuleset *rs, const RiskRule *r, const RiskInput *in, RiskHit *hits, RiskHit *h)
{
	double		z = r->intercept;
	int			i;

	h->contributions = palloc0(sizeof(double) * r->nfeatures);
	for (i = 0; i < r->nfeatures; i++)
	{
		const RiskFeature *f = &r->features[i];
		double		x = 0;

		switch (f->source)
		{
			case RF_AMOUNT:
				x = in->present[RA_AMOUNT] ? in->amount_d : 0;
				break;
			case RF_LOG_AMOUNT:
				x = in->present[RA_AMOUNT] ? log1p(in->amount_d) : 0;
				break;
			case RF_HOUR:
				x = local_hour(in);
				break;
			case RF_TIER:
				x = in->present[RA_TIER] ? in->tier : 0;
				break;
			case RF_RULE:
				x = hits[f->rule].evaluated && isfinite(hits[f->rule].observed) ? hits[f->rule].observed : 0;
				break;
			case RF_FIRED:
				x = hits[f->rule].fired ? 1 : 0;
				break;
		}
		h->contributions[i] = f->weight * x;
		z += h->contributions[i];
	}
	h->evaluated = true;
	h->probability = 1.0 / (1.0 + exp(-z));
	h->observed = h->probability;
	h->observed_text = psprintf("%.4f", h->probability);
	h->fired = h->probability >= r->min_probability;
	(void) rs;
}

/* ---- output -------------------------------------------------------------- */

static char *
e4_text(int64 v)
{
	int64		a = v < 0 ? -v : v;
	char	   *s = psprintf("%s%lld.%04lld", v < 0 ? "-" : "", (long long) (a / 10000), (long long) (a % 10000));
	char	   *e = s + strlen(s) - 1;

	while (*e == '0')
		*e-- = '\0';
	if (*e == '.')
		*e = '\0';
	return s;
}

static int64
rule_points(const RiskRule *r, const RiskHit *h)
{
	if (r->kind == RK_MODEL)
		return (int64) llround((double) r->weight_e4 * h->probability);
	return r->weight_e4;
}

static void
json_kv_str(StringInfo b, const char *k, const char *v)
{
	appendStringInfo(b, ", \"%s\": ", k);
	escape_json(b, v);
}

/*
 * One reason as JSON text.  Keys are written in jsonb's own order (by
 * length, then bytes), so that jsonb_in finds them sorted.
 */
static void
reason_json(StringInfo b, const RiskRule *r, const RiskHit *h)
{
	int			i;

	appendStringInfoString(b, "{\"code\": ");
	escape_json(b, r->code);
	json_kv_str(b, "kind", kind_names[r->kind]);
	json_kv_str(b, "mode", r->shadow ? "shadow" : "enforce");
	json_kv_str(b, "rule", r->name);
	appendStringInfo(b, ", \"fired\": %s", h->fired ? "true" : "false");
	if (r->force >= 0)
		json_kv_str(b, "force", finsec_risk_decision_names[r->force]);
	if (h->fired)
		appendStringInfo(b, ", \"points\": %s", e4_text(rule_points(r, h)));
	appendStringInfo(b, ", \"weight\": %s", e4_text(r->weight_e4));
	if (h->partial)
		appendStringInfoString(b, ", \"partial\": true");
	json_kv_str(b, "category", r->category);
	if (h->observed_text)
		json_kv_str(b, "observed", h->observed_text);
	json_kv_str(b, "threshold", r->threshold_text);
	if (h->unavailable)
		json_kv_str(b, "unavailable", h->why);
	if (r->kind == RK_MODEL && h->contributions)
	{
		appendStringInfoString(b, ", \"contributions\": {");
		for (i = 0; i < r->nfeatures; i++)
		{
			if (i)
				appendStringInfoString(b, ", ");
			escape_json(b, r->features[i].name);
			appendStringInfo(b, ": %.6g", isfinite(h->contributions[i]) ? h->contributions[i] : 0);
		}
		appendStringInfoChar(b, '}');
	}
	appendStringInfoChar(b, '}');
}

static bool
caller_is_operator(void)
{
	Oid			op = get_role_oid("finsec_operator", true);

	return OidIsValid(op) && has_privs_of_role(GetUserId(), op);
}

static Oid
decision_seq(void)
{
	static FinsecRelid seq_id = FINSEC_RELID_INIT("finsec", "risk_decision_id_seq");
	Oid			seq = finsec_relid(&seq_id);

	if (!OidIsValid(seq))
		elog(ERROR, "finsec.risk_decision_id_seq is missing");
	return seq;
}

/*
 * Put a scoring decision, with its entities and the rules that hit, into the
 * shared decision buffer for the decision log.
 */
static void
log_decision(const RiskInput *in, const RiskRuleset *rs, const RiskHit *hits, int decision,
			 int64 score, bool degraded, int64 decision_id)
{
	RiskLogEvent *ev = palloc0(sizeof(RiskLogEvent));
	static const RiskAttr ent_attr[RISK_LOG_ENTITIES] = {
		RA_CUSTOMER, RA_ACCOUNT, RA_COUNTERPARTY, RA_DEVICE, RA_IP, RA_PHONE, RA_MERCHANT, RA_CARD,
		RA_REGION, RA_REFERENCE
	};
	int			i;

	ev->decision_id = decision_id;
	ev->decided_at = GetCurrentTimestamp();
	ev->payment_at = in->at;
	ev->dbid = MyDatabaseId;
	ev->relid = in->relid;
	ev->userid = GetUserId();
	ev->sessionid = GetSessionUserId();
	ev->ruleset_version = rs ? rs->version : 0;
	ev->score_e4 = score;
	ev->decision = decision;
	ev->degraded = degraded;
	for (i = 0; rs && i < rs->nrules; i++)
	{
		if (!hits[i].fired)
			continue;
		if (ev->nrules == RISK_LOG_MAX_RULES)
		{
			ev->rules_truncated = true;
			break;
		}
		if (rs->rules[i].shadow)
			ev->shadow_mask |= UINT64CONST(1) << ev->nrules;
		ev->rules[ev->nrules++] = rs->rules[i].rule_id;
	}
	for (i = 0; i < RISK_LOG_ENTITIES; i++)
	{
		const char *v = in->present[ent_attr[i]] ? in->text[ent_attr[i]] : NULL;

		if (v)
			finsec_risk_log_value(ev->entity[i], v, strlen(v));
	}
	finsec_risk_log_decision(ev);
	pfree(ev);
}

/* ---- scoring ------------------------------------------------------------- */

static Datum
score(FunctionCallInfo fcinfo, RiskInput *in, bool relid_given)
{
	RiskRuleset *rs;
	RiskHit    *hits = NULL;
	bool		degraded = false;
	bool		shadow_fired = false;
	bool		force_block = false,
				force_allow = false;
	int			force_floor = RISK_ALLOW;
	int64		total = 0;
	int			decision;
	bool		full;
	int64		decision_id = 0;
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, true};
	StringInfoData reasons;
	int			i;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "finsec.risk_score() must return finsec.risk_decision");
	tupdesc = BlessTupleDesc(tupdesc);

	rs = finsec_risk_active_ruleset();
	if (rs != NULL)
	{
		hits = palloc0(sizeof(RiskHit) * Max(rs->nrules, 1));
		if (rs->needs_history && !relid_given && !OidIsValid(in->relid))
		{
			bool		ambiguous;

			in->relid = finsec_risk_default_table(&ambiguous);
			if (ambiguous)
				ereport(ERROR,
						(errcode(ERRCODE_AMBIGUOUS_PARAMETER),
						 errmsg("several payments tables are registered for risk scoring"),
						 errhint("Name the one whose history applies: finsec.risk_score(..., payments => 'my_payments').")));
		}
		finsec_risk_probe_lists(rs, in, hits);
		for (i = 0; i < rs->nrules; i++)
		{
			const RiskRule *r = &rs->rules[i];

			if (r->kind != RK_THRESHOLD && r->kind != RK_TIME_OF_DAY)
				continue;
			if (r->has_when && !finsec_risk_when_matches(&r->when, in))
				continue;
			if (r->kind == RK_THRESHOLD)
				eval_threshold(r, in, &hits[i]);
			else
				eval_time_of_day(r, in, &hits[i]);
		}
		if (rs->needs_history)
			finsec_risk_eval_history(rs, in, hits, &degraded);
		for (i = 0; i < rs->nrules; i++)
		{
			const RiskRule *r = &rs->rules[i];

			if (r->kind != RK_MODEL)
				continue;
			if (r->has_when && !finsec_risk_when_matches(&r->when, in))
				continue;
			eval_model(rs, r, in, hits, &hits[i]);
		}

		for (i = 0; i < rs->nrules; i++)
		{
			const RiskRule *r = &rs->rules[i];

			if (!hits[i].fired)
				continue;
			if (r->shadow)
			{
				shadow_fired = true;
				continue;
			}
			total += rule_points(r, &hits[i]);
			if (r->force == RISK_BLOCK)
				force_block = true;
			else if (r->force == RISK_ALLOW)
				force_allow = true;
			else if (r->force > force_floor)
				force_floor = r->force;
		}
		decision = total >= rs->block_e4 ? RISK_BLOCK : total >= rs->review_e4 ? RISK_REVIEW :
			total >= rs->challenge_e4 ? RISK_CHALLENGE : RISK_ALLOW;
		if (force_floor > decision)
			decision = force_floor;
		if (force_allow)
			decision = RISK_ALLOW;
		if (force_block)
			decision = RISK_BLOCK;
	}
	else
	{
		/* No active ruleset: nothing can be judged; say so. */
		degraded = true;
		decision = RISK_ALLOW;
	}

	/*
	 * Every decision but a plain allow is logged (degraded ones are counted);
	 * a plain allow too with finsec.risk_log_decisions = all, none with none.
	 */
	if (rs != NULL && finsec_risk_log_wanted(decision != RISK_ALLOW || shadow_fired))
	{
		decision_id = nextval_internal(decision_seq(), false);
		log_decision(in, rs, hits, decision, total, degraded, decision_id);
		nulls[5] = false;
		values[5] = Int64GetDatum(decision_id);
	}
	finsec_risk_count_decision(decision, degraded);

	full = caller_is_operator();
	initStringInfo(&reasons);
	appendStringInfoChar(&reasons, '[');
	for (i = 0; rs && i < rs->nrules; i++)
	{
		const RiskRule *r = &rs->rules[i];
		const RiskHit *h = &hits[i];

		if (full)
		{
			if (!h->fired && !h->unavailable && !h->partial)
				continue;
			if (reasons.len > 1)
				appendStringInfoString(&reasons, ", ");
			reason_json(&reasons, r, h);
		}
		else if (h->fired && !r->shadow)
		{
			char	   *quoted;
			StringInfoData q;

			initStringInfo(&q);
			escape_json(&q, r->code);
			quoted = q.data;
			/* each code once */
			if (strstr(reasons.data, quoted) != NULL)
				continue;
			if (reasons.len > 1)
				appendStringInfoString(&reasons, ", ");
			appendStringInfoString(&reasons, quoted);
		}
	}
	appendStringInfoChar(&reasons, ']');

	values[0] = CStringGetTextDatum(finsec_risk_decision_names[decision]);
	values[1] = DirectFunctionCall3(numeric_in, CStringGetDatum(e4_text(total)),
									ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	nulls[1] = !full;
	values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(reasons.data));
	values[3] = Int64GetDatum(rs ? rs->version : 0);
	nulls[3] = !full || rs == NULL;
	values[4] = BoolGetDatum(degraded);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

static Oid
card_type_oid(void)
{
	static Oid	typ = InvalidOid;

	if (!OidIsValid(typ))
		typ = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("bank_card"),
							  ObjectIdGetDatum(get_namespace_oid("finsec", false)));
	return typ;
}

static char *
arg_text(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

PG_FUNCTION_INFO_V1(finsec_risk_score);

/*
 * finsec.risk_score(customer, amount, account, counterparty, currency,
 *		channel, mcc, device, ip, phone, geo, region, at, auth_tier,
 *		merchant, card, reference, payments)
 */
Datum
finsec_risk_score(PG_FUNCTION_ARGS)
{
	RiskInput	in;

	finsec_require_preload("finsec.risk_score()");
	finsec_risk_rate_check();
	memset(&in, 0, sizeof(in));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a payment to score needs its customer and amount")));
	set_text(&in, RA_CUSTOMER, arg_text(fcinfo, 0));
	set_amount(&in, PG_GETARG_NUMERIC(1));
	set_text(&in, RA_ACCOUNT, arg_text(fcinfo, 2));
	set_text(&in, RA_COUNTERPARTY, arg_text(fcinfo, 3));
	set_text(&in, RA_CURRENCY, arg_text(fcinfo, 4));
	set_text(&in, RA_CHANNEL, arg_text(fcinfo, 5));
	set_text(&in, RA_MCC, arg_text(fcinfo, 6));
	set_text(&in, RA_DEVICE, arg_text(fcinfo, 7));
	if (!PG_ARGISNULL(8))
		set_ip(&in, PG_GETARG_DATUM(8));
	if (!PG_ARGISNULL(9))
		set_text(&in, RA_PHONE, normalise_phone(arg_text(fcinfo, 9)));
	if (!PG_ARGISNULL(10))
		set_geo(&in, PG_GETARG_POINT_P(10));
	set_text(&in, RA_REGION, arg_text(fcinfo, 11));
	in.at = PG_ARGISNULL(12) ? GetCurrentTimestamp() : PG_GETARG_TIMESTAMPTZ(12);
	if (TIMESTAMP_NOT_FINITE(in.at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a payment's time must be finite")));
	if (!PG_ARGISNULL(13))
		set_tier(&in, PG_GETARG_INT32(13));
	set_text(&in, RA_MERCHANT, arg_text(fcinfo, 14));
	if (!PG_ARGISNULL(15))
		set_card(&in, PG_GETARG_DATUM(15));
	set_text(&in, RA_REFERENCE, arg_text(fcinfo, 16));
	if (!PG_ARGISNULL(17))
	{
		in.relid = PG_GETARG_OID(17);
		finsec_check_relation_exists(in.relid);
		(void) finsec_risk_table_map(in.relid, false);
	}
	return score(fcinfo, &in, !PG_ARGISNULL(17));
}

/* A column of the row as the attribute's value. */
static void
row_attr(RiskInput *in, RiskAttr a, Datum d, Oid typ)
{
	switch (a)
	{
		case RA_AMOUNT:
			/* numeric, integers or finsec.money (its currency dropped) */
			set_amount(in, DatumGetNumeric(finsec_amount_numeric_of(typ, d)));
			return;
		case RA_AT:
			in->at = DatumGetTimestampTz(d);
			return;
		case RA_GEO:
			set_geo(in, DatumGetPointP(d));
			return;
		case RA_TIER:
			set_tier(in, typ == INT2OID ? DatumGetInt16(d) : DatumGetInt32(d));
			return;
		case RA_IP:
			if (typ == INETOID || typ == CIDROID)
				set_ip(in, d);
			else
				set_ip(in, DirectFunctionCall1(inet_in, CStringGetDatum(TextDatumGetCString(d))));
			return;
		case RA_CARD:
			if (typ == card_type_oid())
				set_card(in, d);
			else
			{
				in->card_key = TextDatumGetCString(d);
				set_text(in, RA_CARD, in->card_key);
			}
			return;
		default:
			/* by the (trusted) type's own output function, never a cast */
			set_text(in, a, finsec_trusted_output(typ, d));
			if (a == RA_PHONE)
				in->text[a] = normalise_phone(in->text[a]);
			return;
	}
}

PG_FUNCTION_INFO_V1(finsec_risk_score_row);

/* finsec.risk_score(payment record): a row of a registered payments table. */
Datum
finsec_risk_score_row(PG_FUNCTION_ARGS)
{
	HeapTupleHeader row;
	Oid			typid;
	Oid			relid;
	RiskTableMap *map;
	TupleDesc	desc;
	HeapTupleData tup;
	RiskInput	in;
	int			a;

	finsec_require_preload("finsec.risk_score()");
	finsec_risk_rate_check();
	finsec_require_arg(fcinfo, 0, "the payment to score");
	row = PG_GETARG_HEAPTUPLEHEADER(0);
	typid = HeapTupleHeaderGetTypeId(row);
	relid = typid == RECORDOID ? InvalidOid : get_typ_typrelid(typid);
	map = OidIsValid(relid) ? finsec_risk_table_map(relid, true) : NULL;
	if (map == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the row to score is not a row of a table registered for risk scoring"),
				 errhint("Pass a row of a table registered with finsec.enable_risk(), or call risk_score with named attributes.")));
	desc = lookup_rowtype_tupdesc(typid, HeapTupleHeaderGetTypMod(row));
	tup.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tup.t_self);
	tup.t_tableOid = InvalidOid;
	tup.t_data = row;
	memset(&in, 0, sizeof(in));
	in.at = 0;
	for (a = 0; a < RA_COUNT; a++)
	{
		AttrNumber	att;
		bool		isnull;
		Datum		d;

		if (map->column[a] == NULL)
			continue;
		att = get_attnum(relid, map->column[a]);
		if (att == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of %s is registered for risk scoring but does not exist",
							map->column[a], get_rel_name(relid)),
					 errhint("Register the table again with finsec.enable_risk().")));
		d = heap_getattr(&tup, att, desc, &isnull);
		if (isnull)
		{
			if (a == RA_CUSTOMER || a == RA_AMOUNT)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("a payment to score needs its customer and amount")));
			continue;
		}
		row_attr(&in, a, d, TupleDescAttr(desc, att - 1)->atttypid);
	}
	ReleaseTupleDesc(desc);
	if (in.at == 0)				/* time column NULL */
		in.at = GetCurrentTimestamp();
	if (TIMESTAMP_NOT_FINITE(in.at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a payment's time must be finite")));
	in.relid = relid;
	return score(fcinfo, &in, true);
}
