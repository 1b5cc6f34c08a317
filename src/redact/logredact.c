/*-------------------------------------------------------------------------
 *
 * logredact.c
 *	  Keeping key material, card numbers and identity numbers out of the
 *	  server log (docs/keyring.md#importing, docs/identifiers.md#logs).
 *
 * PostgreSQL logs statement text (log_statement, log_min_duration_statement,
 * log_min_error_statement, auto_explain), the parameters of extended-protocol
 * statements, and row values in the detail of constraint violations
 * ("Key (id)=(...)", "Failing row contains (...)").  An emit_log callback
 * (FINSEC_EMIT_LOG_REDACT in finsec_hooks.h) rewrites what would reach the
 * server log:
 *
 *	 - Key material.  A statement during which finsec.key_import() ran (it
 *	   says so before it reads its arguments) is hidden entirely from every
 *	   line logged after that: the statement, duration and auto_explain
 *	   lines, the STATEMENT of an error, details (parameters).  A line logged
 *	   before the function ran (log_statement) cannot know; it is hidden
 *	   when the statement text names key_import, and otherwise key_import
 *	   refuses to run while log_statement is not 'none', so that a key that
 *	   may have been logged is never imported (finsec_log_key_import()).
 *	 - Identifiers.  Card numbers (13 to 19 digits, single spaces or hyphens
 *	   between them, passing the Luhn check), resident identity numbers (17
 *	   digits and a digit or X), unified social credit codes (18 characters
 *	   with a valid check character) and mobile numbers (11 digits from 13 to
 *	   19) are masked in statement lines and in the detail written to the
 *	   server log (the client still gets the detail it may see), and an
 *	   error's STATEMENT is left out when its text holds one.
 *
 * The hook never throws; it allocates only in ErrorContext.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "access/xact.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/elog.h"
#include "utils/timestamp.h"

#include "cnid_parse.h"
#include "finsec.h"
#include "finsec_card.h"
#include "finsec_errcodes.h"
#include "finsec_hooks.h"
#include "finsec_redact.h"

/* The statement during which key_import last ran: its start time. */
static bool key_statement = false;
static TimestampTz key_statement_at = 0;

/* Does this text name finsec.key_import (case-insensitively)? */
bool
finsec_names_key_import(const char *sql)
{
	const char *p;

	if (sql == NULL)
		return false;
	for (p = sql; *p; p++)
		if (pg_strncasecmp(p, "key_import", 10) == 0)
			return true;
	return false;
}

static bool
in_key_statement(void)
{
	return key_statement && key_statement_at == GetCurrentStatementStartTimestamp();
}

/*
 * May the server have logged this statement's bind parameters before it ran?
 * The end of an extended-protocol Bind logs its duration with the
 * parameters when log_min_duration_statement, log_min_duration_sample or
 * log_transaction_sample_rate select it (and log_parameter_max_length is
 * not 0) - before key_import() ran, so the hook cannot know yet.
 */
static bool
bind_parameters_logged(void)
{
	bool		duration_logged;

	if (log_parameter_max_length == 0)
		return false;
	duration_logged = log_min_duration_statement >= 0 ||
		(log_min_duration_sample >= 0 && log_statement_sample_rate > 0) ||
		log_xact_sample_rate > 0 || xact_is_sampled;
	if (!duration_logged)
		return false;

	/*
	 * a protocol portal: SQL-level EXECUTE runs one named "<unnamed portal
	 * N>"
	 */
	return ActivePortal != NULL && ActivePortal->portalParams != NULL &&
		ActivePortal->portalParams->numParams > 0 &&
		strncmp(ActivePortal->name, "<unnamed portal ", 16) != 0;
}

void
finsec_log_key_import(void)
{
	key_statement = true;
	key_statement_at = GetCurrentStatementStartTimestamp();

	if (log_statement != LOGSTMT_NONE && !finsec_names_key_import(debug_query_string))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_KEY_IMPORT_LOGGED),
				 errmsg("key material cannot be imported by this statement while log_statement is enabled"),
				 errdetail("The server may have logged the statement before finsec.key_import() ran, with the key in its text or its parameters; the key was not imported and should be treated as disclosed."),
				 errhint("Call finsec.key_import() directly with the key bound as a parameter, or import with log_statement = 'none' (docs/keyring.md#importing).")));
	if (bind_parameters_logged() && !finsec_names_key_import(debug_query_string))
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_KEY_IMPORT_LOGGED),
				 errmsg("key material cannot be imported by this statement while log_min_duration_statement or statement sampling is enabled"),
				 errdetail("The server may have logged the statement's bind parameters, with the key, before finsec.key_import() ran; the key was not imported and should be treated as disclosed."),
				 errhint("Call finsec.key_import() directly (the statement's text naming it), set log_parameter_max_length = 0, or import with log_min_duration_statement = -1 and no sampling (docs/keyring.md#importing).")));
}

/* ---- identifiers ---------------------------------------------------------- */

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alnum(char c)
{
	return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * Does s[0..len) (a run of letters and digits) look like a resident
 * identity number, a credit code or a mobile number?
 */
static bool
identity_token(const char *s, int len)
{
	char		out[CNID_USCC_LEN];
	int			digits = 0;

	for (int i = 0; i < len; i++)
		digits += is_digit(s[i]);
	if (len == CNID_RESIDENT_ID_LEN && digits >= 17 &&
		(is_digit(s[17]) || s[17] == 'X' || s[17] == 'x'))
		return true;
	if (len == CNID_USCC_LEN && finsec_cnid_parse_uscc(s, len, out).status == CNID_OK)
		return true;
	if (len == CNID_MOBILE_LEN && digits == len && s[0] == '1' && s[1] >= '3')
		return true;
	return false;
}

/*
 * Find the next identifier in s from *pos: its start and end; false when
 * there is none.
 */
static bool
next_identifier(const char *s, int n, int *pos, int *start, int *end)
{
	int			i = *pos;

	while (i < n)
	{
		int			j;
		int			k;
		bool		all_digits = true;

		if (!is_alnum(s[i]) || (i > 0 && is_alnum(s[i - 1])))
		{
			i++;
			continue;
		}
		for (j = i; j < n && is_alnum(s[j]); j++)
			all_digits = all_digits && is_digit(s[j]);
		if (identity_token(s + i, j - i))
		{
			*start = i;
			*end = *pos = j;
			return true;
		}
		if (all_digits)
		{
			char		digits[19];
			int			nd = 0;
			int			last = j;

			/* digits, and single separators between groups of digits */
			for (k = i; k < n && nd <= 19; k++)
			{
				if (is_digit(s[k]))
				{
					if (nd < 19)
						digits[nd] = s[k];
					nd++;
					last = k + 1;
				}
				else if ((s[k] == ' ' || s[k] == '-') && k + 1 < n && is_digit(s[k + 1]) &&
						 is_digit(s[k - 1]))
					continue;
				else
					break;
			}
			if (nd >= 13 && nd <= 19 && (last >= n || !is_alnum(s[last])) && finsec_card_luhn_valid(digits, nd))
			{
				*start = i;
				*end = *pos = last;
				return true;
			}
		}
		i = j;
	}
	*pos = n;
	return false;
}

static bool
has_identifier(const char *s)
{
	int			pos = 0,
				start,
				end;

	return s != NULL && next_identifier(s, (int) strlen(s), &pos, &start, &end);
}

/* A copy of s with every identifier's characters but the last four masked; NULL if none. */
static char *
masked_copy(const char *s)
{
	int			n;
	int			pos = 0,
				start,
				end;
	char	   *out = NULL;

	if (s == NULL)
		return NULL;
	n = (int) strlen(s);
	while (next_identifier(s, n, &pos, &start, &end))
	{
		int			keep = 4;

		if (out == NULL)
			out = pstrdup(s);
		for (int i = end - 1; i >= start; i--)
		{
			if (!is_alnum(out[i]))
				continue;
			if (keep > 0)
				keep--;
			else
				out[i] = '*';
		}
	}
	return out;
}

static bool
statement_line(const char *message)
{
	return message != NULL &&
		(strncmp(message, "statement: ", 11) == 0 ||
		 strncmp(message, "duration: ", 10) == 0 ||
		 strncmp(message, "execute ", 8) == 0);
}

/* Rewrite what reaches the server log; see the file's header. */
static void
finsec_redact_emit_log(ErrorData *edata)
{
	if (edata->output_to_server)
	{
		if (in_key_statement() || finsec_names_key_import(debug_query_string))
		{
			edata->hide_stmt = true;
			if (statement_line(edata->message))
				edata->message = pstrdup("statement: <finsec.key_import statement with key material, hidden by finsec>");
			if (edata->detail || edata->detail_log)
				edata->detail_log = pstrdup("(hidden by finsec: the statement imports key material)");
			/* the context quotes the statements of functions and DO blocks */
			if (edata->context)
				edata->context = pstrdup("(hidden by finsec: the statement imports key material)");
		}
		else
		{
			char	   *m;

			if (statement_line(edata->message) && (m = masked_copy(edata->message)) != NULL)
				edata->message = m;
			if ((m = masked_copy(edata->detail_log ? edata->detail_log : edata->detail)) != NULL)
				edata->detail_log = m;
			if (has_identifier(debug_query_string))
				edata->hide_stmt = true;
		}
	}
}

void
finsec_log_redact_init(void)
{
	finsec_hooks_register_emit_log(FINSEC_EMIT_LOG_REDACT, finsec_redact_emit_log);
}
