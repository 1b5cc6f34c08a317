/*-------------------------------------------------------------------------
 *
 * password.c
 *	  Password rules at CREATE/ALTER ROLE, expiry, pre-hashed passwords, and
 *	  keeping passwords out of the server log (requirements A1, A1b, A1c, A2).
 *
 * check_password_hook sees the password of CREATE ROLE / ALTER ROLE ...
 * PASSWORD.  Each rule that rejects a password names itself and never the
 * password.  The statement itself carries the password in clear text, so
 * a rejection hides it from the log (errhidestmt), and an emit_log callback
 * redacts password-bearing role statements from any log line (an error of
 * another kind, log_statement, log_min_duration_statement).
 *
 * Expiry (A2): a password must come with VALID UNTIL no later than
 * finsec.password_max_age from now.  A later date is refused; a missing
 * one is set after the statement (or refused, by setting).  ALTER ROLE ...
 * VALID UNTIL without a password, which check_password_hook does not see,
 * is held to the same maximum by auth's ProcessUtility wrapper.  The
 * callbacks are registered with the hook registry (finsec_hooks.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_authid.h"
#include "commands/user.h"
#include "executor/spi.h"
#include "libpq/crypt.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_auth.h"
#include "finsec_hooks.h"
#include "finsec_redact.h"

int			finsec_password_min_length = FINSEC_PASSWORD_MIN_LENGTH_DEFAULT;
int			finsec_password_min_classes = FINSEC_PASSWORD_MIN_CLASSES_DEFAULT;
bool		finsec_password_check_username = FINSEC_PASSWORD_CHECK_USERNAME_DEFAULT;
bool		finsec_password_reject_common = FINSEC_PASSWORD_REJECT_COMMON_DEFAULT;
int			finsec_password_max_age_minutes = FINSEC_PASSWORD_MAX_AGE_DEFAULT;
int			finsec_password_valid_until_mode = FINSEC_PASSWORD_VALID_UNTIL_DEFAULT;
bool		finsec_password_allow_prehashed = FINSEC_PASSWORD_ALLOW_PREHASHED_DEFAULT;

/* Set while a role statement carrying a password is being executed. */
static bool in_password_statement = false;

/* A role whose new password came without VALID UNTIL, to be given one. */
static char *pending_valid_until_role = NULL;

/*
 * Passwords too common to allow, lower case, compared after stripping a
 * trailing run of digits and punctuation ("password123!" is "password").
 * International favourites, and the pinyin and numeric ones common in
 * China (woaini "I love you", 5201314 "I love you for life", ...).
 */
static const char *const common_passwords[] = {
	"password", "passw0rd", "p@ssw0rd", "p@ssword", "admin", "administrator",
	"root", "toor", "welcome", "letmein", "qwerty", "qwertyuiop", "asdfgh",
	"asdfghjkl", "zxcvbn", "zxcvbnm", "1qaz2wsx", "1q2w3e4r", "1q2w3e",
	"qazwsx", "iloveyou", "monkey", "dragon", "master", "sunshine", "princess",
	"football", "baseball", "superman", "batman", "trustno1", "abc", "abcd",
	"abcdef", "abc123", "changeme", "default", "guest", "test", "postgres",
	"postgresql", "oracle", "mysql", "database", "secret", "login",
	"woaini", "woaini1314", "aini", "aini1314", "5201314", "1314520",
	"woaiwojia", "zhangwei", "wangwei", "wangfang", "liwei", "lina",
	"zhangmin", "liuyang", "wangjing", "liqiang", "zhongguo", "china",
	"beijing", "shanghai", "shenzhen", "guangzhou", "yinhang", "mima",
	"wodemima", "qq", "qq123", "qwe", "asd", "zxc", "888888", "666666",
	"168168", "518518", "147258", "147258369", "159357", "741852963",
	"123qwe", "qwe123", "a123456", "aa123456", "abc123456", "woshishui",
	"nihao", "xiaoming", "huawei", "alibaba", "tencent", "baidu",
	/* JR/T 0199 5.1b names 111111 and 123456; these count anywhere. */
	"123456", "1234567", "12345678", "123456789", "1234567890", "111111",
	"000000", "654321", "123123", "123321", "112233", "121212", "520520",
	"iloveu", "qwerty123", "abc123abc",
	NULL
};

/*
 * Keyboard rows of a US keyboard, for runs like "qwerty" or "asdfgh" (and
 * reversed); shifted symbols are first mapped to their key (shift_key), so
 * "!@#$%^" is the run "123456".  The last row is the "1qaz2wsx" column walk.
 */
static const char *const keyboard_rows[] = {
	"`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./",
	"1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p", NULL
};

/* A run of this many consecutive characters anywhere is refused (5.1b). */
#define FINSEC_MIN_SEQUENCE_RUN 6

/* The unshifted key of a (lower-cased) character on a US keyboard. */
static char
shift_key(char c)
{
	static const char shifted[] = "~!@#$%^&*()_+{}|:\"<>?";
	static const char plain[] = "`1234567890-=[]\\;',./";
	const char *p = strchr(shifted, c);

	return (c != '\0' && p != NULL) ? plain[p - shifted] : c;
}

/* Are a and b neighbours in the alphabet or among digits, in direction k? */
static bool
alnum_step(char a, char b, int k)
{
	bool		digits = (a >= '0' && a <= '9') && (b >= '0' && b <= '9');
	bool		letters = (a >= 'a' && a <= 'z') && (b >= 'a' && b <= 'z');

	return (digits || letters) && b - a == k;
}

/* Is b the key after a (k = 1) or before it (k = -1) along a keyboard row? */
static bool
keyboard_step(char a, char b, int k)
{
	int			r;

	for (r = 0; keyboard_rows[r]; r++)
	{
		const char *row = keyboard_rows[r];
		const char *p;

		for (p = strchr(row, a); p != NULL; p = strchr(p + 1, a))
		{
			if (k > 0 && p[1] == b)
				return true;
			if (k < 0 && p > row && p[-1] == b)
				return true;
		}
	}
	return false;
}

static void
reject(const char *rule, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_PASSWORD_POLICY),
			 errmsg("password rejected by finsec policy: %s", rule),
			 detail ? errdetail("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0,
			 errhidestmt(true)));
}

static int
character_classes(const char *pw)
{
	bool		upper = false,
				lower = false,
				digit = false,
				special = false;
	const unsigned char *p;

	for (p = (const unsigned char *) pw; *p; p++)
	{
		if (*p >= 'A' && *p <= 'Z')
			upper = true;
		else if (*p >= 'a' && *p <= 'z')
			lower = true;
		else if (*p >= '0' && *p <= '9')
			digit = true;
		else
			special = true;		/* punctuation, space, non-ASCII */
	}
	return upper + lower + digit + special;
}

/* Does pw contain any 3 consecutive characters of name, ignoring case? */
static bool
shares_run_with(const char *pw, const char *name)
{
	size_t		n = strlen(name);
	size_t		i;

	if (n < 3)
		return false;
	for (i = 0; i + 3 <= n; i++)
	{
		const char *p;

		for (p = pw; p[0] && p[1] && p[2]; p++)
			if (pg_strncasecmp(p, name + i, 3) == 0)
				return true;
	}
	return false;
}

/* Four or more identical characters in a row, e.g. "aaaa" or "Pass1111". */
static bool
long_run(const char *pw)
{
	const char *p;
	int			run = 1;

	for (p = pw + 1; *p; p++)
	{
		run = (*p == p[-1]) ? run + 1 : 1;
		if (run >= 4)
			return true;
	}
	return false;
}

/* A string made of one short unit repeated: "abcabcabc", "12121212". */
static bool
repeated_unit(const char *pw)
{
	size_t		len = strlen(pw);
	size_t		unit;

	for (unit = 1; unit <= len / 2; unit++)
	{
		size_t		i;

		if (len % unit != 0)
			continue;
		for (i = unit; i < len; i++)
			if (pw[i] != pw[i - unit])
				break;
		if (i == len)
			return true;
	}
	return false;
}

/*
 * Does the (lower-cased) password contain, anywhere, a run of
 * FINSEC_MIN_SEQUENCE_RUN or more consecutive characters: ascending or
 * descending in the alphabet or digits ("123456", "fedcba"), or along a
 * keyboard row, shifted or not ("qwerty", "poiuyt", "!@#$%^")?  Also true
 * when the whole password (of 4 or more) is such a run.
 */
static bool
sequential(const char *lower)
{
	size_t		len = strlen(lower);
	char	   *keys = palloc(len + 1);
	int			k;
	bool		found = false;
	size_t		i;

	for (i = 0; i < len; i++)
		keys[i] = shift_key(lower[i]);
	keys[len] = '\0';

	for (k = -1; k <= 1 && !found; k += 2)
	{
		int			alpha_run = 1,
					key_run = 1;

		for (i = 1; i < len && !found; i++)
		{
			alpha_run = alnum_step(lower[i - 1], lower[i], k) ? alpha_run + 1 : 1;
			key_run = keyboard_step(keys[i - 1], keys[i], k) ? key_run + 1 : 1;
			found = alpha_run >= FINSEC_MIN_SEQUENCE_RUN || key_run >= FINSEC_MIN_SEQUENCE_RUN ||
				(len >= 4 && (alpha_run == (int) len || key_run == (int) len));
		}
	}
	explicit_bzero(keys, len);
	pfree(keys);
	return found;
}

static bool
common(const char *lower)
{
	char	   *stem = pstrdup(lower);
	size_t		len = strlen(stem);
	int			i;
	bool		found = false;

	/* "password123!" counts as "password"; "123456" stays itself. */
	while (len > 0 && !isalpha((unsigned char) stem[len - 1]))
		len--;
	if (len > 0)
		stem[len] = '\0';
	for (i = 0; common_passwords[i] && !found; i++)
	{
		const char *w = common_passwords[i];

		/* Long favourites count anywhere ("x5201314!"), short ones whole. */
		found = strcmp(stem, w) == 0 || strcmp(lower, w) == 0 ||
			(strlen(w) >= 6 && strstr(lower, w) != NULL);
	}
	explicit_bzero(stem, strlen(stem));
	pfree(stem);
	return found;
}

/*
 * Apply the password rules to a plaintext password (length; repeated
 * patterns, sequences and common passwords; kinds of character; part of the
 * role name); the first rule broken is reported by reject().
 */
static void
check_plaintext(const char *username, const char *password)
{
	size_t		len = strlen(password);
	char	   *lower;
	char	   *p;

	if ((int) len < finsec_password_min_length)
		reject("too short",
			   psprintf("A password needs at least %d characters (finsec.password_min_length).",
						finsec_password_min_length),
			   NULL);
	/* Trivial patterns first: they name the weakness most precisely. */
	if (finsec_password_reject_common)
	{
		bool		pattern,
					seq,
					listed;

		lower = pstrdup(password);
		for (p = lower; *p; p++)
			*p = pg_tolower((unsigned char) *p);
		pattern = long_run(lower) || repeated_unit(lower);
		seq = sequential(lower);
		listed = common(lower);
		explicit_bzero(lower, len);
		pfree(lower);

		if (pattern)
			reject("a repeated pattern", "The password repeats a short sequence, or one character 4 or more times in a row.", NULL);
		if (seq)
			reject("a keyboard or alphabet sequence",
				   "The password contains a run of 6 or more consecutive letters, digits or keyboard keys (ascending or descending, in any case), or is such a run.", NULL);
		if (listed)
			reject("a commonly used password",
				   "The password is, or contains, one on finsec's list of common passwords (ignoring case and trailing digits or symbols).",
				   NULL);
	}
	if (character_classes(password) < finsec_password_min_classes)
		reject("too few kinds of character",
			   psprintf("A password needs at least %d of: upper-case letters, lower-case letters, digits, other characters (finsec.password_min_classes).",
						finsec_password_min_classes),
			   NULL);
	if (finsec_password_check_username && shares_run_with(password, username))
		reject("contains part of the role name",
			   "A password may not contain 3 or more consecutive characters of the role name, in any case.",
			   NULL);
}

/* The latest VALID UNTIL allowed now. */
static TimestampTz
max_valid_until(void)
{
	return GetCurrentTransactionStartTimestamp() +
		(TimestampTz) finsec_password_max_age_minutes * USECS_PER_MINUTE;
}

static void
check_valid_until(const char *username, TimestampTz until, bool until_null)
{
	if (finsec_password_max_age_minutes == 0)
		return;
	if (until_null)
	{
		if (finsec_password_valid_until_mode == FINSEC_VALID_UNTIL_REFUSE)
			reject("no expiry",
				   psprintf("A password must expire within %d days (finsec.password_max_age).",
							finsec_password_max_age_minutes / (24 * 60)),
				   "Add VALID UNTIL to the statement.");
		if (finsec_password_valid_until_mode == FINSEC_VALID_UNTIL_SET)
			pending_valid_until_role = MemoryContextStrdup(TopTransactionContext, username);
		return;
	}
	if (until > max_valid_until())
		reject("expires too late",
			   psprintf("A password must expire within %d days (finsec.password_max_age).",
						finsec_password_max_age_minutes / (24 * 60)),
			   "Choose an earlier VALID UNTIL.");
}

static void
finsec_check_password(const char *username, const char *shadow_pass,
					  PasswordType password_type, Datum validuntil_time,
					  bool validuntil_null)
{
	if (password_type == PASSWORD_TYPE_PLAINTEXT)
		check_plaintext(username, shadow_pass);
	else if (!finsec_password_allow_prehashed)
		reject("the password arrived already hashed",
			   "Its strength cannot be checked, so finsec.password_allow_prehashed refuses it.",
			   "Send the password in clear text over an encrypted connection (ALTER ROLE ... PASSWORD 'text' with sslmode=require), or ask the administrator to allow pre-hashed passwords.");

	check_valid_until(username, DatumGetTimestampTz(validuntil_time), validuntil_null);

	/* Last, so that only a password that passes everything is recorded. */
	if (password_type == PASSWORD_TYPE_PLAINTEXT)
		finsec_password_history_check(username, shadow_pass);
}

/* ---- the utility statements around it ---------------------------------- */

static bool
has_option(List *options, const char *name, DefElem **found)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *d = lfirst(lc);

		if (strcmp(d->defname, name) == 0)
		{
			if (found)
				*found = d;
			return true;
		}
	}
	return false;
}

static List *
role_options(Node *parsetree)
{
	if (IsA(parsetree, CreateRoleStmt))
		return ((CreateRoleStmt *) parsetree)->options;
	if (IsA(parsetree, AlterRoleStmt))
		return ((AlterRoleStmt *) parsetree)->options;
	return NIL;
}

static void
auth_utility_cleanup(void)
{
	in_password_statement = false;
	pending_valid_until_role = NULL;
}

static void
auth_before_utility(Node *parsetree)
{
	DefElem    *until;
	List	   *options = role_options(parsetree);

	pending_valid_until_role = NULL;
	in_password_statement = has_option(options, "password", NULL);

	/* ALTER ROLE ... VALID UNTIL alone: check_password_hook is not called. */
	if (IsA(parsetree, AlterRoleStmt) && !in_password_statement &&
		has_option(options, "validUntil", &until) && finsec_password_max_age_minutes > 0)
	{
		TimestampTz t = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																CStringGetDatum(strVal(until->arg)),
																ObjectIdGetDatum(InvalidOid),
																Int32GetDatum(-1)));

		if (t > max_valid_until())
			ereport(ERROR,
					(errcode(ERRCODE_FINSEC_PASSWORD_POLICY),
					 errmsg("password expiry refused by finsec policy: expires too late"),
					 errdetail("A password must expire within %d days (finsec.password_max_age).",
							   finsec_password_max_age_minutes / (24 * 60)),
					 errhint("Choose an earlier VALID UNTIL.")));
	}
}

static void
auth_after_utility(void)
{
	char	   *role = pending_valid_until_role;
	char	   *until;
	int			ret;

	auth_utility_cleanup();
	if (role == NULL)
		return;

	/* The new password came without VALID UNTIL: give it the maximum. */
	until = DatumGetCString(DirectFunctionCall1(timestamptz_out,
												TimestampTzGetDatum(max_valid_until())));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute(psprintf("ALTER ROLE %s VALID UNTIL %s",
							   quote_identifier(role), quote_literal_cstr(until)),
					  false, 0);
	if (ret != SPI_OK_UTILITY)
		elog(ERROR, "could not set password expiry: %s", SPI_result_code_string(ret));
	SPI_finish();
	ereport(NOTICE,
			(errmsg("password of role \"%s\" expires at %s (finsec.password_max_age)", role, until)));
}

/*
 * ProcessUtility wrapper (FINSEC_UTILITY_AUTH): password policy state of a
 * role statement lives for the statement only; the password history
 * follows its role.
 */
static void
auth_utility(FinsecUtilityCall *call)
{
	Node	   *parsetree = call->pstmt->utilityStmt;

	if (!IsA(parsetree, CreateRoleStmt) && !IsA(parsetree, AlterRoleStmt))
	{
		finsec_hooks_utility_next(call);
		if (IsA(parsetree, DropRoleStmt) ||
			(IsA(parsetree, RenameStmt) && ((RenameStmt *) parsetree)->renameType == OBJECT_ROLE))
			finsec_password_history_follow(parsetree);
		return;
	}

	auth_before_utility(parsetree);
	PG_TRY();
	{
		finsec_hooks_utility_next(call);
	}
	PG_CATCH();
	{
		auth_utility_cleanup();
		PG_RE_THROW();
	}
	PG_END_TRY();
	auth_after_utility();
}

/* ---- keeping passwords out of the log ---------------------------------- */

/*
 * Is this statement text a CREATE/ALTER ROLE/USER carrying a password?  A
 * conservative textual test (it may also hide a harmless statement that
 * merely mentions a password), used only to decide what the log shows.
 */
static bool
looks_like_password_statement(const char *sql)
{
	const char *p;
	bool		role = false,
				password = false;

	if (sql == NULL)
		return false;
	for (p = sql; *p; p++)
	{
		if (pg_strncasecmp(p, "role", 4) == 0 || pg_strncasecmp(p, "user", 4) == 0)
			role = true;
		if (pg_strncasecmp(p, "password", 8) == 0)
			password = true;
	}
	return role && password;
}

static void
finsec_emit_log(ErrorData *edata)
{
	bool		password = in_password_statement || looks_like_password_statement(debug_query_string);
	bool		key = finsec_names_key_import(debug_query_string);

	if (password || key)
	{
		edata->hide_stmt = true;
		/* log_statement and duration lines carry the statement as the message */
		if (edata->message &&
			(strncmp(edata->message, "statement: ", 11) == 0 ||
			 strncmp(edata->message, "duration: ", 10) == 0 ||
			 strncmp(edata->message, "execute ", 8) == 0))
		{
			if (looks_like_password_statement(edata->message))
				edata->message = pstrdup("statement: <role statement with a password, hidden by finsec>");
			else if (finsec_names_key_import(edata->message))
				edata->message = pstrdup("statement: <finsec.key_import statement with key material, hidden by finsec>");
		}
	}
}

void
finsec_auth_init_hooks(void)
{
	finsec_hooks_register_check_password(FINSEC_CHECK_PASSWORD_AUTH, finsec_check_password);
	finsec_hooks_register_emit_log(FINSEC_EMIT_LOG_AUTH, finsec_emit_log);
	finsec_hooks_register_utility(FINSEC_UTILITY_AUTH, auth_utility);
}
