/*-------------------------------------------------------------------------
 *
 * probe.c
 *	  The card probe budget: no role guesses the hidden digits of a card or
 *	  account number by constructing candidates and comparing them.
 *
 * A value's fingerprint is deterministic, so a role that can construct a
 * value from clear digits can test a guess: build the candidate, compare it
 * with a stored value (=, a join, finsec.risk_card_key(), or the
 * fingerprint inside the sealed text form, outside the database).  What a
 * guesser cannot avoid is the construction: each guess is a new number
 * with the same visible parts as its target -- length, the leading digits
 * and the last four a mask shows.  Comparisons cannot be counted usefully
 * (the fingerprint can be compared anywhere once the value exists), and
 * the sealed and binary forms only carry a fingerprint made before, so the
 * budget counts this one thing:
 *
 *	 numbers constructed from clear digits, per session user (SET ROLE and
 *	 new sessions do not reset it), per visible class (kind, length, the
 *	 leading digits a mask may show, the last four), distinct numbers only
 *	 (the last four of a class counted are remembered, so looking the same
 *	 card up again is free), as a leaky bucket of finsec.card_probe_budget
 *	 numbers a minute.
 *
 * An application inserting payments or loading a file constructs numbers
 * of many classes, few of each; a guesser constructs many of one class.
 * The number past the budget is refused (S9C01) -- during the session
 * user's bulk work of many patterns, let through with an alert up to a
 * higher threshold (finsec_card_probe_count) -- and an event goes into a
 * buffer in shared memory that outlives the refusing transaction's
 * rollback (src/common/eventring.c); the audit sealer, or
 * finsec.flush_card_probes(), writes it to the ledger as
 * card.probe_refused or account.probe_refused (card.probe_alert,
 * account.probe_alert for alerts; one event per class and minute, with the
 * numbers it stands for).
 *
 * The counters are a fixed table of finsec.card_probe_slots cells in shared
 * memory, addressed by a hash keyed with a random seed drawn at server
 * start; a class lives in one of 8 neighbouring cells, and a new class
 * takes the empty or least filled of them.  So heavy classes stay while
 * a bulk load's classes of one or two numbers come and go; pushing a class
 * out takes filling its whole neighbourhood above its level, that is, many
 * thousands of constructions per guess, and each such push is counted
 * (evicted_busy in finsec.card_probe_stats()).  Superusers are not counted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_authid.h"
#include "mb/pg_wchar.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "finsec.h"
#include "finsec_audit.h"
#include "finsec_card.h"
#include "finsec_errcodes.h"
#include "finsec_eventring.h"
#include "finsec_hooks.h"
#include "finsec_protect.h"
#include "card_parse.h"
#include "card_probe.h"

int			finsec_card_probe_budget = FINSEC_CARD_PROBE_BUDGET_DEFAULT;
int			finsec_card_probe_slots = FINSEC_CARD_PROBE_SLOTS_DEFAULT;
int			finsec_card_probe_buffer_slots = FINSEC_CARD_PROBE_BUFFER_DEFAULT;

#define PROBE_NEIGHBOURS 8
#define PROBE_TAGS 4
#define PROBE_EVENT_INTERVAL_US (60 * USECS_PER_SEC)

typedef struct ProbeCell
{
	uint64		key;			/* keyed hash of (session user, class); 0:
								 * empty */
	Oid			user;			/* the session user */
	uint32		refused;		/* refusals not yet put as an event */
	uint32		alerted;		/* alerts not yet put as an event */
	bool		alerted_only;	/* the last event put was an alert */
	double		level;			/* distinct numbers counted, leaking */
	TimestampTz last;			/* when level was last brought up to date */
	TimestampTz last_event;		/* when an event was last put */
	uint32		tags[PROBE_TAGS];	/* fingerprints (first 4 bytes) last
									 * counted */
	uint32		next_tag;
} ProbeCell;

typedef struct ProbeShared
{
	slock_t		mutex;
	uint64		seed;
	int			ncells;
	pg_atomic_uint64 refused;
	pg_atomic_uint64 alerted;
	pg_atomic_uint64 evicted_busy;
	TimestampTz since;
	ProbeCell	cells[FLEXIBLE_ARRAY_MEMBER];
} ProbeShared;

static ProbeShared *probe = NULL;

/* One refusal event, as the buffer and its shutdown file hold it. */
typedef struct ProbeEvent
{
	TimestampTz at;
	Oid			dbid;
	Oid			sessionid;		/* session_user: whose budget */
	Oid			userid;			/* current role of the statement */
	int32		account;		/* PROBE_KIND_*: 1 for a bank account number */
	int32		ndigits;		/* for PROBE_KIND_PROTECT: the policy id */
	int32		refused;		/* refusals this event stands for */
	int32		alerted;		/* numbers let through over the budget */
	int32		budget;
	char		visible[FS_ACCOUNT_MAX_DIGITS + 8]; /* the class, masked */
} ProbeEvent;

/* What a class counts (ProbeEvent.account) */
#define PROBE_KIND_CARD 0
#define PROBE_KIND_ACCOUNT 1
#define PROBE_KIND_PROTECT 2	/* a protected value (src/protect) */

static bool probe_event_restorable(void *payload);

static FinsecEventRing ring = {
	.shmem_name = "finsec card probe buffer",
	.setting = "finsec.card_probe_buffer",
	.slots = &finsec_card_probe_buffer_slots,
	.payload_size = sizeof(ProbeEvent),
	.dbid_offset = offsetof(ProbeEvent, dbid),
	.file = "finsec_card_probes",
	.file_magic = 0x46534350,	/* "FSCP" */
	.restorable = probe_event_restorable,
	.msg = {
		.save_failed_one = "finsec: could not save %d card probe refusal not yet recorded to \"%s\": %m",
		.save_failed_many = "finsec: could not save %d card probe refusals not yet recorded to \"%s\": %m",
		.save_lost = "They are lost; the server log has each refusal.",
		.read_failed = "finsec: could not read saved card probe refusals \"%s\": %m",
		.unknown_format = "finsec: ignoring saved card probe refusals \"%s\" of an unknown format",
		.truncated = "finsec: saved card probe refusals \"%s\" are truncated; restored %d",
		.restored_one = "finsec: restored %d card probe refusal not yet recorded at shutdown",
		.restored_many = "finsec: restored %d card probe refusals not yet recorded at shutdown",
		.prepare_held = "cannot prepare a transaction that has card probe refusals that must survive its rollback",
		.prepare_claimed = "cannot prepare a transaction that has flushed card probe refusals",
		.prepare_claimed_detail = "The refusals it took from the shared buffer belong to this session until the transaction ends.",
		.prepare_claimed_hint = "Call finsec.flush_card_probes() in a transaction of its own.",
		.unavailable = "the card probe buffer is not available",
		.dropped_one = "%llu card probe refusal of this database was not recorded because the card probe buffer was full",
		.dropped_many = "%llu card probe refusals of this database were not recorded because the card probe buffer was full",
		.dropped_unattributed = "%llu card probe refusals of this database, and %llu of databases the buffer could not tell apart, were not recorded because the card probe buffer was full",
		.dropped_hint = "Raise %s (now %d), or record card probe refusals more often.",
		.flush_failed = "finsec: card probe refusals not written to the audit ledger: %s",
	},
	.write_drop_event = finsec_audit_event_internal,
	.drop_event = "card.probes_dropped",
	.drop_object = "finsec.audit",
};

static bool
probe_event_restorable(void *payload)
{
	ProbeEvent *ev = (ProbeEvent *) payload;

	ev->visible[sizeof(ev->visible) - 1] = '\0';
	if (ev->account == PROBE_KIND_PROTECT)
		return true;
	return ev->ndigits >= FS_CARD_MIN_DIGITS - 5 && ev->ndigits <= FS_ACCOUNT_MAX_DIGITS;
}

static Size
probe_shmem_size(void)
{
	return add_size(offsetof(ProbeShared, cells),
					mul_size(sizeof(ProbeCell), finsec_card_probe_slots));
}

static void
probe_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(probe_shmem_size()));
}

static void
probe_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	probe = ShmemInitStruct("finsec card probe budget", probe_shmem_size(), &found);
	if (!found)
	{
		memset(probe, 0, probe_shmem_size());
		SpinLockInit(&probe->mutex);
		probe->ncells = finsec_card_probe_slots;
		if (!pg_strong_random(&probe->seed, sizeof(probe->seed)))
			elog(FATAL, "could not generate a random seed for the card probe budget");
		pg_atomic_init_u64(&probe->refused, 0);
		pg_atomic_init_u64(&probe->alerted, 0);
		pg_atomic_init_u64(&probe->evicted_busy, 0);
		probe->since = GetCurrentTimestamp();
	}
	LWLockRelease(AddinShmemInitLock);
}

static int64 flush_probes(Oid actor);

void
finsec_card_probe_shmem_init(void)
{
	finsec_hooks_register_shmem(FINSEC_SHMEM_CARD_PROBE, probe_shmem_request,
								probe_shmem_startup);
	finsec_eventring_register(&ring);
	finsec_eventring_register_task(&ring, "card.probe_flush", flush_probes);
}

void
finsec_card_probe_define_settings(void)
{
	DefineCustomIntVariable("finsec.card_probe_budget",
							"Distinct card or account numbers of one visible pattern a session user may construct per minute.",
							"Numbers built from clear digits (input, casts, COPY) that share kind, length, "
							"the leading digits a mask shows and the last four, per session user; past it, "
							"construction is refused and audited. Superusers are not counted. 0: no limit. "
							"Set per role with ALTER ROLE ... SET by a superuser.",
							&finsec_card_probe_budget,
							FINSEC_CARD_PROBE_BUDGET_DEFAULT, 0, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("finsec.card_probe_slots",
							"Cells of the card probe budget's table in shared memory.",
							"One per (session user, visible pattern) counted in the last minute or so; "
							"about 64 bytes each.",
							&finsec_card_probe_slots,
							FINSEC_CARD_PROBE_SLOTS_DEFAULT, 1024, 16777216,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("finsec.card_probe_buffer",
							"Card probe refusals shared memory holds until they are written to the audit ledger.",
							"About 80 bytes each; when every slot is taken, further events are counted "
							"as dropped (card.probes_dropped).",
							&finsec_card_probe_buffer_slots,
							FINSEC_CARD_PROBE_BUFFER_DEFAULT, 16, 262144,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
}

/*
 * The cell of key in its neighbourhood, or a new one in place of the empty
 * or least filled cell there.  Caller holds the mutex.
 */
static ProbeCell *
probe_cell(uint64 key, Oid user, TimestampTz now, double rate)
{
	ProbeCell  *victim = NULL;
	double		victim_level = 0;
	int			i;

	for (i = 0; i < PROBE_NEIGHBOURS; i++)
	{
		ProbeCell  *c = &probe->cells[(key + i) % probe->ncells];
		double		lvl;

		if (c->key == key && c->user == user)
			return c;
		lvl = c->key == 0 ? -1.0 : c->level - (double) (now - c->last) * rate;
		if (victim == NULL || lvl < victim_level)
		{
			victim = c;
			victim_level = lvl;
		}
	}
	if (victim_level >= 2.0)
		pg_atomic_fetch_add_u64(&probe->evicted_busy, 1);
	memset(victim, 0, sizeof(ProbeCell));
	victim->key = key;
	victim->user = user;
	victim->last = now;
	return victim;
}

/*
 * Count the construction of value h from clear digits against the session
 * user's budget: refuse it (S9C01) or let it pass with an alert, both
 * audited.  The caller has already zeroized the digits: only the value's
 * clear parts and fingerprint are used.
 *
 * A bulk load of distinct numbers puts a few in each pattern, more the
 * bigger the load: a million cards of 8 BINs put up to about 20 in some of
 * their 160,000 patterns.  So the session user's numbers of all patterns
 * in the last minute or so (T, decaying) raise the refusal threshold of
 * each pattern above the budget B by 3 T / 10,000 (last fours are spread
 * over 10,000 values), up to 5 B; between B and that threshold a number
 * passes with an alert (card.probe_alert).  A guesser without such
 * traffic is refused at B + 1; one who makes it up (4,400 constructions a
 * second for the whole 5 B) gets 5 B a minute, with an alert every minute.
 */
static void probe_count_class(int kind, const unsigned char *pattern, size_t plen, uint32 tag,
							  int32 size_or_policy, const char *visible);

void
finsec_card_probe_count(const FsNumberHeader *h)
{
	bool		account = (h->flags & FS_FLAG_ACCOUNT) != 0;
	unsigned char buf[32];
	int			nprefix;
	uint32		tag;
	char		visible[2 * FS_ACCOUNT_MAX_DIGITS + 1];

	/* The class: what a display shows of the number, and its length. */
	nprefix = Min(h->nprefix, finsec_card_clear_prefix_len(account, h->ndigits));
	memset(buf, 0, sizeof(buf));
	buf[0] = h->ndigits;
	memcpy(buf + 1, h->prefix, nprefix);
	memcpy(buf + 9, h->last4, 4);
	memcpy(&tag, h->fp, sizeof(tag));
	finsec_card_mask(h, 6, 4, false, visible);
	probe_count_class(account ? PROBE_KIND_ACCOUNT : PROBE_KIND_CARD, buf, 13, tag,
					  h->ndigits, visible);
}

/* Whether constructions by this session user are counted at all. */
bool
finsec_protect_probe_wanted(void)
{
	return finsec_card_probe_budget > 0 && !superuser_arg(GetSessionUserId());
}

/*
 * A protected value of kind (FinsecProtectKind) under policy_id, built
 * from clear text: its class is kind, policy and the masked form.
 */
void
finsec_protect_probe_count(int kind, int32 policy_id, const char *masked, const uint8 *fp)
{
	unsigned char buf[6 + 64];
	size_t		mlen = strlen(masked);
	uint32		tag;
	char		visible[FS_ACCOUNT_MAX_DIGITS + 8];

	memset(buf, 0, sizeof(buf));
	buf[0] = (unsigned char) kind;
	memcpy(buf + 1, &policy_id, sizeof(policy_id));
	mlen = Min(mlen, sizeof(buf) - 5);
	memcpy(buf + 5, masked, mlen);
	memcpy(&tag, fp, sizeof(tag));
	{
		/* never cut a multibyte character in two */
		int			cl = pg_mbcliplen(masked, (int) strlen(masked), (int) sizeof(visible) - 1);

		memcpy(visible, masked, cl);
		visible[cl] = '\0';
	}
	probe_count_class(PROBE_KIND_PROTECT, buf, 5 + mlen, tag, policy_id, visible);
}

/*
 * Count one construction of a class (pattern, plen bytes; tag: the first
 * bytes of its fingerprint, so the same value again is free) against the
 * session user's budget: pass, pass with an alert, or refuse (audited).
 */
static void
probe_count_class(int kind, const unsigned char *pattern, size_t plen, uint32 tag,
				  int32 size_or_policy, const char *visible)
{
	Oid			user;
	bool		account = kind == PROBE_KIND_ACCOUNT;
	int			budget = finsec_card_probe_budget;
	unsigned char buf[8 + 72];
	uint64		key;
	uint64		total_key;
	TimestampTz now;
	double		rate;
	double		threshold;
	ProbeCell  *cell;
	ProbeCell  *total;
	bool		refused = false;
	bool		alerted = false;
	int32		nrefused = 0;
	int32		nalerted = 0;
	int			i;

	if (budget <= 0)
		return;
	user = GetSessionUserId();
	if (superuser_arg(user))
		return;
	if (probe == NULL)
		finsec_require_preload("finsec.card_probe_budget (constructing a card or account number from its digits)");

	/* The class: the session user, the kind and the pattern. */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &user, sizeof(Oid));
	buf[4] = kind == PROBE_KIND_ACCOUNT ? 'A' : kind == PROBE_KIND_PROTECT ? 'P' : 'C';
	plen = Min(plen, sizeof(buf) - 5);
	memcpy(buf + 5, pattern, plen);
	key = hash_bytes_extended(buf, 5 + plen, probe->seed);
	if (key == 0)
		key = 1;
	/* The session user's numbers of every pattern: kind 'T' */
	buf[4] = 'T';
	total_key = hash_bytes_extended(buf, 5, probe->seed);
	if (total_key == 0 || total_key == key)
		total_key = key + 1;
	now = GetCurrentTimestamp();
	rate = (double) budget / (60.0 * USECS_PER_SEC);

	SpinLockAcquire(&probe->mutex);
	/* T: counts of the last minute or so, decaying exponentially. */
	total = probe_cell(total_key, user, now, rate);
	total->level *= exp(-(double) (now - total->last) / (60.0 * USECS_PER_SEC));
	total->last = now;
	threshold = Min((double) budget + 3.0 * total->level / 10000.0, 5.0 * budget);

	cell = probe_cell(key, user, now, rate);
	if (cell == total)
		total = NULL;			/* the pattern took T's cell: T starts again */
	cell->level -= (double) (now - cell->last) * rate;
	if (cell->level < 0)
		cell->level = 0;
	cell->last = now;
	for (i = 0; i < PROBE_TAGS; i++)
		if (cell->tags[i] == tag && tag != 0)
			break;
	if (i < PROBE_TAGS)
		;						/* the same number again: free */
	else if (cell->level + 1.0 > threshold)
		refused = true;
	else
	{
		alerted = cell->level + 1.0 > (double) budget;
		cell->level += 1.0;
		cell->tags[cell->next_tag++ % PROBE_TAGS] = tag;
		if (total)
			total->level += 1.0;
	}
	if (refused || alerted)
	{
		if (refused)
			cell->refused++;
		else
			cell->alerted++;
		if (cell->last_event == 0 || now - cell->last_event >= PROBE_EVENT_INTERVAL_US ||
			(refused && cell->refused == 1 && cell->alerted_only))
		{
			nrefused = (int32) cell->refused;
			nalerted = (int32) cell->alerted;
			cell->refused = 0;
			cell->alerted = 0;
			cell->last_event = now;
			cell->alerted_only = !refused;
		}
	}
	SpinLockRelease(&probe->mutex);

	if (!refused && !alerted)
		return;
	pg_atomic_fetch_add_u64(refused ? &probe->refused : &probe->alerted, 1);
	if ((nrefused > 0 || nalerted > 0) && finsec_eventring_available(&ring))
	{
		ProbeEvent	ev;

		memset(&ev, 0, sizeof(ev));
		ev.at = now;
		ev.dbid = MyDatabaseId;
		ev.sessionid = user;
		ev.userid = GetOuterUserId();
		ev.account = kind;
		ev.ndigits = size_or_policy;
		ev.refused = nrefused;
		ev.alerted = nalerted;
		ev.budget = budget;
		strlcpy(ev.visible, visible, sizeof(ev.visible));
		(void) finsec_eventring_put(&ring, &ev);
	}
	if (!refused)
		return;
	/* The statement holds the number: keep it out of the server log. */
	if (kind == PROBE_KIND_PROTECT)
		ereport(ERROR,
				(errcode(ERRCODE_FINSEC_PROTECT_PROBE_BUDGET),
				 errmsg("too many protected values of one visible pattern constructed"),
				 errdetail("Session user \"%s\" may construct %d distinct values a minute that share their kind, policy and mask (finsec.card_probe_budget); this refusal is audited.",
						   GetUserNameFromId(user, false), budget),
				 errhint("Constructing many values that differ only in their hidden characters is how an identifier or phone number is guessed. A role that loads clear values in bulk needs a budget set by a superuser (ALTER ROLE ... SET finsec.card_probe_budget)."),
				 errhidestmt(true)));
	ereport(ERROR,
			(errcode(ERRCODE_FINSEC_CARD_PROBE_BUDGET),
			 account ? errmsg("too many bank account numbers of one visible pattern constructed") :
			 errmsg("too many bank card numbers of one visible pattern constructed"),
			 errdetail("Session user \"%s\" may construct %d distinct numbers a minute that share their length, leading digits and last four (finsec.card_probe_budget); this refusal is audited.",
					   GetUserNameFromId(user, false), budget),
			 errhint("Constructing many numbers that differ only in their hidden digits is how a card number is guessed. A role that loads clear numbers in bulk needs a budget set by a superuser (ALTER ROLE ... SET finsec.card_probe_budget)."),
			 errhidestmt(true)));
}

/*
 * The ledger description of a probe event, a whole format string (no
 * sentence assembled from words): it receives the count, the masked class
 * and the budget.
 */
static const char *
probe_description(bool refused, int kind, int n)
{
	bool		account = kind == PROBE_KIND_ACCOUNT;

	if (kind == PROBE_KIND_PROTECT)
	{
		if (refused)
			return n == 1
				? "%d construction of protected values like %s refused: over finsec.card_probe_budget (%d a minute)"
				: "%d constructions of protected values like %s refused: over finsec.card_probe_budget (%d a minute)";
		return n == 1
			? "%d construction of protected values like %s over finsec.card_probe_budget (%d a minute), let through during the session user's bulk work"
			: "%d constructions of protected values like %s over finsec.card_probe_budget (%d a minute), let through during the session user's bulk work";
	}
	if (refused)
	{
		if (account)
			return n == 1
				? "%d construction of account numbers like %s refused: over finsec.card_probe_budget (%d a minute)"
				: "%d constructions of account numbers like %s refused: over finsec.card_probe_budget (%d a minute)";
		return n == 1
			? "%d construction of card numbers like %s refused: over finsec.card_probe_budget (%d a minute)"
			: "%d constructions of card numbers like %s refused: over finsec.card_probe_budget (%d a minute)";
	}
	if (account)
		return n == 1
			? "%d construction of account numbers like %s over finsec.card_probe_budget (%d a minute), let through during the session user's bulk work"
			: "%d constructions of account numbers like %s over finsec.card_probe_budget (%d a minute), let through during the session user's bulk work";
	return n == 1
		? "%d construction of card numbers like %s over finsec.card_probe_budget (%d a minute), let through during the session user's bulk work"
		: "%d constructions of card numbers like %s over finsec.card_probe_budget (%d a minute), let through during the session user's bulk work";
}

/* ---- writing refusals to the ledger --------------------------------------- */

static int64
flush_probes(Oid actor)
{
	ProbeEvent *events;
	uint64		dropped_here;
	uint64		dropped_unattributed;
	int			capacity = *ring.slots;
	int			cursor = 0;
	int			n;
	int			i;

	events = palloc(sizeof(ProbeEvent) * capacity);
	n = finsec_eventring_claim(&ring, events, capacity, &cursor);
	finsec_eventring_claim_drops(&ring, &dropped_here, &dropped_unattributed);
	for (i = 0; i < n; i++)
	{
		ProbeEvent *e = &events[i];
		char	   *session_name = GetUserNameFromId(e->sessionid, true);
		char	   *current_name = GetUserNameFromId(e->userid, true);
		StringInfoData detail;
		char	   *desc;

		initStringInfo(&detail);
		if (e->account == PROBE_KIND_PROTECT)
		{
			appendStringInfo(&detail, "{\"kind\": \"protect\", \"policy_id\": %d, \"visible\": ",
							 e->ndigits);
			escape_json(&detail, e->visible);
			appendStringInfo(&detail, ", \"refused\": %d, \"alerted\": %d, \"budget\": %d, \"session_user\": ",
							 e->refused, e->alerted, e->budget);
		}
		else
			appendStringInfo(&detail, "{\"kind\": \"%s\", \"digits\": %d, \"visible\": \"%s\", "
							 "\"refused\": %d, \"alerted\": %d, \"budget\": %d, \"session_user\": ",
							 e->account ? "account" : "card", e->ndigits, e->visible,
							 e->refused, e->alerted, e->budget);
		if (session_name)
			escape_json(&detail, session_name);
		else
			appendStringInfo(&detail, "\"%u\"", e->sessionid);
		appendStringInfoString(&detail, ", \"current_user\": ");
		if (current_name)
			escape_json(&detail, current_name);
		else
			appendStringInfo(&detail, "\"%u\"", e->userid);
		appendStringInfoChar(&detail, '}');
		{
			int			n = e->refused > 0 ? e->refused : e->alerted;

			desc = psprintf(probe_description(e->refused > 0, e->account, n),
							n, e->visible, e->budget);
		}
		(void) finsec_audit_event_at(session_name ? e->sessionid : actor,
									 e->account == PROBE_KIND_PROTECT ?
									 (e->refused > 0 ? "protect.probe_refused" : "protect.probe_alert") :
									 e->refused > 0 ?
									 (e->account ? "account.probe_refused" : "card.probe_refused") :
									 (e->account ? "account.probe_alert" : "card.probe_alert"),
									 NULL,
									 e->account == PROBE_KIND_PROTECT ? "finsec.protected" :
									 e->account ? "finsec.bank_account" : "finsec.bank_card",
									 "construct", false, desc,
									 DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(detail.data))),
									 e->at);
	}
	finsec_eventring_report_drops(&ring, actor, dropped_here, dropped_unattributed);
	pfree(events);
	return n;
}

PG_FUNCTION_INFO_V1(finsec_flush_card_probes);

/* finsec.flush_card_probes() returns bigint */
Datum
finsec_flush_card_probes(PG_FUNCTION_ARGS)
{
	finsec_require_preload("finsec.flush_card_probes()");
	PG_RETURN_INT64(finsec_eventring_flush_as_owner(&ring, flush_probes));
}

PG_FUNCTION_INFO_V1(finsec_card_probe_stats);

/*
 * finsec.card_probe_stats(OUT budget integer, OUT refused bigint,
 *	 OUT alerted bigint, OUT evicted_busy bigint, OUT since timestamptz):
 *	 counters since start.
 */
Datum
finsec_card_probe_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	finsec_require_preload("finsec.card_probe_stats()");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = Int32GetDatum(finsec_card_probe_budget);
	values[1] = Int64GetDatum(probe ? (int64) pg_atomic_read_u64(&probe->refused) : 0);
	values[2] = Int64GetDatum(probe ? (int64) pg_atomic_read_u64(&probe->alerted) : 0);
	values[3] = Int64GetDatum(probe ? (int64) pg_atomic_read_u64(&probe->evicted_busy) : 0);
	if (probe)
		values[4] = TimestampTzGetDatum(probe->since);
	else
		nulls[4] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

PG_FUNCTION_INFO_V1(finsec_card_probe_buffer);

/*
 * finsec.card_probe_buffer(OUT capacity integer, OUT waiting integer,
 *	 OUT waiting_here integer, OUT flushing integer, OUT dropped bigint,
 *	 OUT dropped_unreported bigint); all NULL without the preload.
 */
Datum
finsec_card_probe_buffer(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(finsec_eventring_status(&ring, fcinfo));
}
