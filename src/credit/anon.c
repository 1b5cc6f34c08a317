/*-------------------------------------------------------------------------
 *
 * anon.c
 *	  The anonymity engine: full-domain generalisation of quasi-identifiers
 *	  along their ladders, the exact least-loss generalisation that makes
 *	  every published class k-anonymous and distinct-l-diverse withholding
 *	  at most max_suppression of the records, and its proof (risks,
 *	  class-size histogram).  docs/credit.md.
 *
 * Method.  Every value of a quasi-identifier is generalised once per level
 * of its ladder and the results are encoded as small integers (one code
 * table per column and level, indexed by the value's id), so that a
 * generalisation (one level per column: a node of the lattice) is
 * evaluated by hashing integer tuples.  Records with the same values
 * everywhere are counted once with a weight.  At a node, the records of a
 * class smaller than k, or with fewer than l distinct values of some
 * sensitive attribute, are suppressed; the node is feasible when at most
 * floor(max_suppression * n) records are.
 *
 * Information loss of a node: the sum over quasi-identifiers of
 * level / (levels - 1) (0: every value kept, 1: every value withheld);
 * ties broken by fewer suppressed records, then by the smaller levels in
 * column order.  Because ladders nest (each level is a function of the
 * one below, ladder_parse.c), coarsening only merges classes: feasibility
 * is monotone along the lattice.  The search therefore walks, for each
 * combination of the other columns, a staircase over the two columns with
 * the most levels (the least feasible level of the last column can only
 * fall as the second-last rises), and skips what cannot beat the best
 * node found: the optimum over the whole lattice, evaluating a few dozen
 * nodes for three or four columns.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/resource.h>

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "credit.h"

/* Largest lattice (product of the levels) the engine searches. */
#define ANON_MAX_LATTICE	(INT64CONST(1) << 40)
/* Most nodes evaluated before the search gives up (refusal, not error). */
#define ANON_MAX_EVALUATIONS	200000
#define ANON_EPS			1e-9
/* l * sensitives up to this: distinct values tracked while classing */
#define ANON_CHEAP_L		16
#define ANON_USE_CHEAP_L(e)	((int64) (e)->ns * (e)->p->l <= ANON_CHEAP_L)

/* ---- string interning --------------------------------------------------- */

typedef struct Interner
{
	int32	   *slots;			/* id + 1, 0 empty */
	uint32		mask;
	int32		n;
	int32		cap;
	const char **strs;
	uint32	   *hashes;
	bool		copy;			/* keep copies (values that do not outlive us) */
} Interner;

static void
interner_init(Interner *in, int expected, bool copy)
{
	uint32		size = 16;

	while (size < (uint32) expected * 2 && size < (UINT32_C(1) << 30))
		size <<= 1;
	in->slots = palloc0(sizeof(int32) * size);
	in->mask = size - 1;
	in->n = 0;
	in->cap = Max(expected, 8);
	in->strs = palloc(sizeof(char *) * in->cap);
	in->hashes = palloc(sizeof(uint32) * in->cap);
	in->copy = copy;
}

static void
interner_grow(Interner *in)
{
	uint32		size = (in->mask + 1) * 2;

	pfree(in->slots);
	in->slots = palloc0(sizeof(int32) * size);
	in->mask = size - 1;
	for (int32 i = 0; i < in->n; i++)
	{
		uint32		h = in->hashes[i] & in->mask;

		while (in->slots[h] != 0)
			h = (h + 1) & in->mask;
		in->slots[h] = i + 1;
	}
}

/* The id (0-based) of s, added if new. */
static int32
interner_add(Interner *in, const char *s)
{
	size_t		len = strlen(s);
	uint32		hash = hash_bytes((const unsigned char *) s, (int) len);
	uint32		h = hash & in->mask;

	for (;;)
	{
		int32		slot = in->slots[h];

		if (slot == 0)
			break;
		if (in->hashes[slot - 1] == hash && strcmp(in->strs[slot - 1], s) == 0)
			return slot - 1;
		h = (h + 1) & in->mask;
	}
	if (in->n >= in->cap)
	{
		in->cap *= 2;
		in->strs = repalloc_huge(in->strs, sizeof(char *) * in->cap);
		in->hashes = repalloc_huge(in->hashes, sizeof(uint32) * in->cap);
	}
	in->strs[in->n] = in->copy ? pstrdup(s) : s;
	in->hashes[in->n] = hash;
	in->slots[h] = in->n + 1;
	in->n++;
	if ((uint32) in->n * 2 > in->mask)
		interner_grow(in);
	return in->n - 1;
}

/* ---- the engine's working state ----------------------------------------- */

/* A slot of the class table keyed by one integer: empty unless gen matches. */
typedef struct ClassSlot
{
	uint64		key;
	int32		class;
	uint32		gen;
} ClassSlot;

typedef struct Engine
{
	const FinsecDeidProblem *p;
	int			nqi;
	int			ns;
	int		   *nlevels;		/* nqi */
	int32	  **codes;			/* [q * maxlevels + lv][value id] -> code */
	int			maxlevels;

	/* items: records with equal values everywhere, counted once */
	int32		nitems;
	int32	   *item_vid;		/* nitems * nqi */
	int32	   *item_sid;		/* nitems * ns */
	int64	   *weight;			/* nitems */
	int32	   *record_item;	/* nrecords */

	/* scratch of one evaluation */
	int32	   *item_class;		/* nitems */
	int32	   *class_rep;		/* class -> an item of it */
	int64	   *class_count;
	int32	   *class_distinct; /* nclasses * ns */
	bool	   *class_bad;
	int32		nclasses;
	int32	   *tclass;			/* class hash table (tuples): class + 1 */
	ClassSlot  *slots;			/* class hash table by key (one integer) */
	uint32		gen;			/* the slots' current generation */
	int32	   *seen;			/* nitems * ns * l: distinct values so far */
	int32	   *ncodes;			/* [q * maxlevels + lv]: distinct codes */
	uint32		table_mask;
	uint64	   *pairs;			/* (class, sensitive id) set, + 1 */
	uint32		pairs_mask;

	int64		allowed;		/* records that may be suppressed */
	int64		evaluations;
} Engine;

static inline int32
code_of(const Engine *e, int q, int lv, int32 item)
{
	return e->codes[q * e->maxlevels + lv][e->item_vid[(int64) item * e->nqi + q]];
}

static uint32
pow2_at_least(int64 n)
{
	uint32		size = 16;

	while ((int64) size < n && size < (UINT32_C(1) << 31))
		size <<= 1;
	return size;
}

/* A 64-bit mixer (splitmix64's finaliser). */
static inline uint32
mix64(uint64 x)
{
	x ^= x >> 30;
	x *= UINT64CONST(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64CONST(0x94d049bb133111eb);
	x ^= x >> 31;
	return (uint32) x;
}

/* Track up to l distinct sensitive values of class c (cheap path). */
static inline void
note_sensitive(Engine *e, int32 c, int32 item, int l)
{
	for (int s = 0; s < e->ns; s++)
	{
		int64		cs = (int64) c * e->ns + s;
		int32		d = e->class_distinct[cs];
		int32		sidv = e->item_sid[(int64) item * e->ns + s];
		int32	   *seen = e->seen + cs * l;
		bool		found = false;

		if (d >= l)
			continue;
		for (int j = 0; j < d && !found; j++)
			found = seen[j] == sidv;
		if (!found)
		{
			seen[d] = sidv;
			e->class_distinct[cs] = d + 1;
		}
	}
}

/*
 * Evaluate the node lv (one level per column): classes, their counts and
 * distinct sensitive counts; return the number of records suppressed.
 * need_l: count distinct sensitive values (l > 1); exact_l: count them
 * all (the final report), not only up to l.
 */
static int64
evaluate(Engine *e, const int *lv, bool need_l, bool exact_l)
{
	const FinsecDeidProblem *p = e->p;
	int64		nsupp = 0;
	bool		fits = true;
	uint64		prod = 1;
	uint64	   *mult;
	bool		cheap_l = need_l && e->ns > 0 && !exact_l && ANON_USE_CHEAP_L(e);

	e->evaluations++;
	CHECK_FOR_INTERRUPTS();
	e->nclasses = 0;

	/* a class's codes as one integer (mixed radix) when they fit */
	mult = palloc(sizeof(uint64) * Max(1, e->nqi));
	for (int q = e->nqi - 1; q >= 0; q--)
	{
		uint64		nc = (uint64) e->ncodes[q * e->maxlevels + lv[q]];

		mult[q] = prod;
		if (nc > 0 && prod > PG_UINT64_MAX / nc)
		{
			fits = false;
			break;
		}
		prod *= nc;
	}

	if (fits)
	{
		const int32 **code = palloc(sizeof(int32 *) * Max(1, e->nqi));
		uint64		prev_key = 0;
		int32		prev_c = -1;
		uint32		gen;

		/* a new generation empties the table without clearing it */
		if (++e->gen == 0)
		{
			memset(e->slots, 0, sizeof(ClassSlot) * ((size_t) e->table_mask + 1));
			e->gen = 1;
		}
		gen = e->gen;
		for (int q = 0; q < e->nqi; q++)
			code[q] = e->codes[q * e->maxlevels + lv[q]];
		for (int32 i = 0; i < e->nitems; i++)
		{
			const int32 *vids = e->item_vid + (int64) i * e->nqi;
			uint64		key = 0;
			uint32		h;
			int32		c;

			for (int q = 0; q < e->nqi; q++)
				key += (uint64) code[q][vids[q]] * mult[q];
			if (prev_c >= 0 && key == prev_key)
				c = prev_c;
			else
			{
				h = mix64(key) & e->table_mask;
				for (;;)
				{
					ClassSlot  *slot = &e->slots[h];

					if (slot->gen != gen)
					{
						c = e->nclasses++;
						slot->gen = gen;
						slot->key = key;
						slot->class = c;
						e->class_rep[c] = i;
						e->class_count[c] = 0;
						if (cheap_l)
							memset(e->class_distinct + (int64) c * e->ns, 0, sizeof(int32) * e->ns);
						break;
					}
					if (slot->key == key)
					{
						c = slot->class;
						break;
					}
					h = (h + 1) & e->table_mask;
				}
				prev_key = key;
				prev_c = c;
			}
			e->item_class[i] = c;
			e->class_count[c] += e->weight[i];
			if (cheap_l)
				note_sensitive(e, c, i, p->l);
		}
		pfree(code);
	}
	else
	{
		memset(e->tclass, 0, sizeof(int32) * ((size_t) e->table_mask + 1));
		for (int32 i = 0; i < e->nitems; i++)
		{
			uint32		hash = 0;
			uint32		h;
			int32		c = -1;

			for (int q = 0; q < e->nqi; q++)
				hash = hash_combine(hash, murmurhash32((uint32) code_of(e, q, lv[q], i)));
			h = hash & e->table_mask;
			for (;;)
			{
				int32		slot = e->tclass[h];
				bool		same = true;

				if (slot == 0)
					break;
				for (int q = 0; q < e->nqi && same; q++)
					same = code_of(e, q, lv[q], i) == code_of(e, q, lv[q], e->class_rep[slot - 1]);
				if (same)
				{
					c = slot - 1;
					break;
				}
				h = (h + 1) & e->table_mask;
			}
			if (c < 0)
			{
				c = e->nclasses++;
				e->tclass[h] = c + 1;
				e->class_rep[c] = i;
				e->class_count[c] = 0;
				if (cheap_l)
					memset(e->class_distinct + (int64) c * e->ns, 0, sizeof(int32) * e->ns);
			}
			e->item_class[i] = c;
			e->class_count[c] += e->weight[i];
			if (cheap_l)
				note_sensitive(e, c, i, p->l);
		}
	}
	pfree(mult);

	if (need_l && e->ns > 0 && !cheap_l)
	{
		memset(e->class_distinct, 0, sizeof(int32) * (size_t) e->nclasses * e->ns);
		for (int s = 0; s < e->ns; s++)
		{
			memset(e->pairs, 0, sizeof(uint64) * ((size_t) e->pairs_mask + 1));
			for (int32 i = 0; i < e->nitems; i++)
			{
				uint64		key = ((uint64) (uint32) e->item_class[i] << 32) |
				(uint64) (uint32) e->item_sid[(int64) i * e->ns + s];
				uint32		h = mix64(key) & e->pairs_mask;

				for (;;)
				{
					uint64		slot = e->pairs[h];

					if (slot == 0)
					{
						e->pairs[h] = key + 1;
						e->class_distinct[(int64) e->item_class[i] * e->ns + s]++;
						break;
					}
					if (slot == key + 1)
						break;
					h = (h + 1) & e->pairs_mask;
				}
			}
		}
	}

	for (int32 c = 0; c < e->nclasses; c++)
	{
		bool		bad = e->class_count[c] < p->k;

		if (!bad && need_l && e->ns > 0)
			for (int s = 0; s < e->ns && !bad; s++)
				bad = e->class_distinct[(int64) c * e->ns + s] < p->l;
		e->class_bad[c] = bad;
		if (bad)
			nsupp += e->class_count[c];
	}
	return nsupp;
}

/* ---- the search ---------------------------------------------------------- */

typedef struct Search
{
	Engine	   *e;
	int		   *perm;			/* column order: the two with most levels last */
	int		   *lv;				/* the node being looked at (column order) */
	bool		need_l;
	/* memo of evaluated nodes: node index -> suppressed + 1 (0 unknown) */
	HTAB	   *memo;
	/* the best node so far */
	bool		found;
	double		best_loss;
	int64		best_supp;
	int		   *best_lv;
	bool		gave_up;
} Search;

typedef struct MemoEntry
{
	uint64		node;
	int64		supp;
} MemoEntry;

static double
level_loss(const Engine *e, int q, int lv)
{
	return (double) lv / (double) (e->nlevels[q] - 1);
}

static uint64
node_index(const Search *s)
{
	uint64		idx = 0;

	for (int q = 0; q < s->e->nqi; q++)
		idx = idx * (uint64) s->e->nlevels[q] + (uint64) s->lv[q];
	return idx;
}

/* Suppressed records of the current node (memoised). */
static int64
node_supp(Search *s)
{
	uint64		idx = node_index(s);
	bool		found;
	MemoEntry  *m = hash_search(s->memo, &idx, HASH_ENTER, &found);

	if (!found)
	{
		if (s->e->evaluations >= ANON_MAX_EVALUATIONS)
		{
			s->gave_up = true;
			m->supp = INT64_MAX;
		}
		else
			m->supp = evaluate(s->e, s->lv, s->need_l, false);
	}
	return m->supp;
}

static bool
node_feasible(Search *s)
{
	return node_supp(s) <= s->e->allowed;
}

/* Is the current node (feasible, with loss) better than the best? */
static void
consider(Search *s, double loss, int64 supp)
{
	bool		better;

	if (!s->found)
		better = true;
	else if (loss < s->best_loss - ANON_EPS)
		better = true;
	else if (loss > s->best_loss + ANON_EPS)
		better = false;
	else if (supp != s->best_supp)
		better = supp < s->best_supp;
	else
	{
		better = false;
		for (int q = 0; q < s->e->nqi; q++)
			if (s->lv[q] != s->best_lv[q])
			{
				better = s->lv[q] < s->best_lv[q];
				break;
			}
	}
	if (better)
	{
		s->found = true;
		s->best_loss = loss;
		s->best_supp = supp;
		memcpy(s->best_lv, s->lv, sizeof(int) * s->e->nqi);
	}
}

/*
 * The staircase over columns qa, qb (qa < 0: only qb) for the levels of
 * the other columns already in s->lv, whose loss is base.
 */
static void
staircase(Search *s, int qa, int qb, double base)
{
	Engine	   *e = s->e;
	int			La = qa >= 0 ? e->nlevels[qa] : 1;
	int			Lb = e->nlevels[qb];
	int			bfeas = -1;		/* a level of qb known feasible at this a */

	for (int a = 0; a < La && !s->gave_up; a++)
	{
		double		amin = base + (qa >= 0 ? level_loss(e, qa, a) : 0.0);
		int			bmax = Lb - 1;
		int			hi;

		if (s->found && amin > s->best_loss + ANON_EPS)
			break;
		if (qa >= 0)
			s->lv[qa] = a;
		if (s->found)
		{
			double		room = (s->best_loss + ANON_EPS - amin) * (double) (Lb - 1);

			bmax = Min(Lb - 1, (int) floor(room + ANON_EPS));
		}
		if (bfeas < 0)
		{
			s->lv[qb] = Lb - 1;
			if (!node_feasible(s))
				continue;		/* nothing feasible at this a */
			hi = Lb - 1;
		}
		else
			hi = bfeas;			/* feasible at a - 1, so at a */
		if (hi > bmax)
		{
			s->lv[qb] = bmax;
			if (!node_feasible(s))
			{
				bfeas = hi;
				continue;		/* this a cannot beat the best */
			}
			hi = bmax;
		}
		/* descend to the least feasible level of qb */
		while (hi > 0 && !s->gave_up)
		{
			s->lv[qb] = hi - 1;
			if (!node_feasible(s))
				break;
			hi--;
		}
		s->lv[qb] = hi;
		bfeas = hi;
		/* hi may be known feasible only by monotonicity: check it */
		if (node_feasible(s))
			consider(s, amin + level_loss(e, qb, hi), node_supp(s));
	}
}

/* Enumerate the levels of perm[0 .. depth) and run the staircase below. */
static void
search_prefix(Search *s, int depth, int nprefix, double base)
{
	Engine	   *e = s->e;

	if (s->gave_up)
		return;
	if (depth == nprefix)
	{
		int			qb = s->perm[e->nqi - 1];
		int			qa = e->nqi >= 2 ? s->perm[e->nqi - 2] : -1;

		staircase(s, qa, qb, base);
		if (qa >= 0)
			s->lv[qa] = 0;
		s->lv[qb] = 0;
		return;
	}
	{
		int			q = s->perm[depth];

		for (int v = 0; v < e->nlevels[q] && !s->gave_up; v++)
		{
			double		b = base + level_loss(e, q, v);

			if (s->found && b > s->best_loss + ANON_EPS)
				break;
			s->lv[q] = v;
			search_prefix(s, depth + 1, nprefix, b);
		}
		s->lv[q] = 0;
	}
}

/* ---- building the engine ---------------------------------------------- */

static void
engine_build(Engine *e, const FinsecDeidProblem *p)
{
	int			n = p->nrecords;
	int32	  **vid;			/* per column: record -> value id (0 = NULL) */
	int32	  **sid;
	const char ***vstr;			/* per column: value id -> string */
	int32	   *nvals;
	MemoryContext tmp;
	MemoryContext old;

	e->p = p;
	e->nqi = p->nqi;
	e->ns = p->nsensitive;
	e->nlevels = palloc(sizeof(int) * Max(1, p->nqi));
	e->maxlevels = 1;
	for (int q = 0; q < p->nqi; q++)
	{
		e->nlevels[q] = finsec_credit_ladder_levels(p->ladders[q]);
		e->maxlevels = Max(e->maxlevels, e->nlevels[q]);
	}

	/* value ids: 0 is NULL, the others interned */
	vid = palloc(sizeof(int32 *) * Max(1, p->nqi));
	vstr = palloc(sizeof(char **) * Max(1, p->nqi));
	nvals = palloc(sizeof(int32) * Max(1, p->nqi));
	for (int q = 0; q < p->nqi; q++)
	{
		Interner	in;

		interner_init(&in, Min(n, 1 << 20) + 1, false);
		vid[q] = palloc_extended(sizeof(int32) * Max(1, n), MCXT_ALLOC_HUGE);
		for (int r = 0; r < n; r++)
		{
			const char *v = p->qi[(int64) r * p->nqi + q];

			vid[q][r] = v == NULL ? 0 : interner_add(&in, v) + 1;
		}
		nvals[q] = in.n + 1;
		vstr[q] = palloc_extended(sizeof(char *) * nvals[q], MCXT_ALLOC_HUGE);
		vstr[q][0] = NULL;
		for (int32 i = 0; i < in.n; i++)
			vstr[q][i + 1] = in.strs[i];
		pfree(in.slots);
		pfree(in.hashes);
		pfree(in.strs);
	}
	sid = palloc(sizeof(int32 *) * Max(1, p->nsensitive));
	for (int s = 0; s < p->nsensitive; s++)
	{
		Interner	in;

		interner_init(&in, Min(n, 1 << 20) + 1, false);
		sid[s] = palloc_extended(sizeof(int32) * Max(1, n), MCXT_ALLOC_HUGE);
		for (int r = 0; r < n; r++)
		{
			const char *v = p->sensitive[(int64) r * p->nsensitive + s];

			sid[s][r] = v == NULL ? 0 : interner_add(&in, v) + 1;
		}
		pfree(in.slots);
		pfree(in.hashes);
		pfree(in.strs);
	}

	/* codes per column and level: a function of the value id */
	e->codes = palloc0(sizeof(int32 *) * Max(1, p->nqi) * e->maxlevels);
	e->ncodes = palloc0(sizeof(int32) * Max(1, p->nqi) * e->maxlevels);
	tmp = AllocSetContextCreate(CurrentMemoryContext, "finsec anon ladder values",
								ALLOCSET_DEFAULT_SIZES);
	for (int q = 0; q < p->nqi; q++)
	{
		int			L = e->nlevels[q];

		for (int lv = 0; lv < L; lv++)
		{
			int32	   *code = palloc_extended(sizeof(int32) * nvals[q], MCXT_ALLOC_HUGE);

			e->codes[q * e->maxlevels + lv] = code;
			if (lv == 0)
			{
				for (int32 v = 0; v < nvals[q]; v++)
					code[v] = v;
				e->ncodes[q * e->maxlevels + lv] = nvals[q];
			}
			else if (lv == L - 1)
			{
				memset(code, 0, sizeof(int32) * nvals[q]);
				e->ncodes[q * e->maxlevels + lv] = 1;
			}
			else
			{
				Interner	in;

				old = MemoryContextSwitchTo(tmp);
				interner_init(&in, Min(nvals[q], 1 << 20), true);
				code[0] = 0;	/* NULL stays NULL below the top */
				for (int32 v = 1; v < nvals[q]; v++)
				{
					char	   *g = finsec_credit_ladder_apply(p->ladders[q], lv, vstr[q][v]);

					code[v] = g == NULL ? 0 : interner_add(&in, g) + 1;
					if (g != NULL)
					{
						explicit_bzero(g, strlen(g));
						pfree(g);
					}
					if ((v & 1023) == 0)
						CHECK_FOR_INTERRUPTS();
				}
				e->ncodes[q * e->maxlevels + lv] = in.n + 1;
				for (int32 i = 0; i < in.n; i++)
					explicit_bzero((char *) in.strs[i], strlen(in.strs[i]));
				MemoryContextSwitchTo(old);
				MemoryContextReset(tmp);
			}
		}
	}
	MemoryContextDelete(tmp);

	/* items: records equal in every value id, with their weight */
	{
		int			width = p->nqi + p->nsensitive;
		int32	   *table;
		uint32		mask = pow2_at_least((int64) Max(1, n) * 2) - 1;
		int32		cap = Max(1, n);

		table = palloc_extended(sizeof(int32) * ((size_t) mask + 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		e->item_vid = palloc_extended(sizeof(int32) * (size_t) cap * Max(1, p->nqi), MCXT_ALLOC_HUGE);
		e->item_sid = palloc_extended(sizeof(int32) * (size_t) cap * Max(1, p->nsensitive), MCXT_ALLOC_HUGE);
		e->weight = palloc_extended(sizeof(int64) * cap, MCXT_ALLOC_HUGE);
		e->record_item = palloc_extended(sizeof(int32) * cap, MCXT_ALLOC_HUGE);
		e->nitems = 0;
		for (int r = 0; r < n; r++)
		{
			uint32		hash = 0;
			uint32		h;
			int32		item = -1;

			for (int j = 0; j < width; j++)
			{
				int32		x = j < p->nqi ? vid[j][r] : sid[j - p->nqi][r];

				hash = hash_combine(hash, murmurhash32((uint32) x));
			}
			h = hash & mask;
			for (;;)
			{
				int32		slot = table[h];
				bool		same = true;

				if (slot == 0)
					break;
				for (int q = 0; q < p->nqi && same; q++)
					same = e->item_vid[(int64) (slot - 1) * p->nqi + q] == vid[q][r];
				for (int s = 0; s < p->nsensitive && same; s++)
					same = e->item_sid[(int64) (slot - 1) * p->nsensitive + s] == sid[s][r];
				if (same)
				{
					item = slot - 1;
					break;
				}
				h = (h + 1) & mask;
			}
			if (item < 0)
			{
				item = e->nitems++;
				table[h] = item + 1;
				for (int q = 0; q < p->nqi; q++)
					e->item_vid[(int64) item * p->nqi + q] = vid[q][r];
				for (int s = 0; s < p->nsensitive; s++)
					e->item_sid[(int64) item * p->nsensitive + s] = sid[s][r];
				e->weight[item] = 0;
			}
			e->weight[item]++;
			e->record_item[r] = item;
		}
		pfree(table);
	}
	for (int q = 0; q < p->nqi; q++)
		pfree(vid[q]);
	for (int s = 0; s < p->nsensitive; s++)
		pfree(sid[s]);

	/* scratch */
	{
		int32		m = Max(1, e->nitems);

		e->item_class = palloc_extended(sizeof(int32) * m, MCXT_ALLOC_HUGE);
		e->class_rep = palloc_extended(sizeof(int32) * m, MCXT_ALLOC_HUGE);
		e->class_count = palloc_extended(sizeof(int64) * m, MCXT_ALLOC_HUGE);
		e->class_bad = palloc_extended(sizeof(bool) * m, MCXT_ALLOC_HUGE);
		e->class_distinct = palloc_extended(sizeof(int32) * (size_t) m * Max(1, e->ns), MCXT_ALLOC_HUGE);
		e->table_mask = pow2_at_least((int64) m * 2) - 1;
		e->tclass = palloc_extended(sizeof(int32) * ((size_t) e->table_mask + 1), MCXT_ALLOC_HUGE);
		e->slots = palloc_extended(sizeof(ClassSlot) * ((size_t) e->table_mask + 1),
								   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		e->gen = 0;
		if (e->ns > 0 && ANON_USE_CHEAP_L(e))
			e->seen = palloc_extended(sizeof(int32) * (size_t) m * e->ns * Max(1, p->l), MCXT_ALLOC_HUGE);
		if (e->ns > 0)
		{
			e->pairs_mask = pow2_at_least((int64) m * 2) - 1;
			e->pairs = palloc_extended(sizeof(uint64) * ((size_t) e->pairs_mask + 1), MCXT_ALLOC_HUGE);
		}
	}
	e->allowed = (int64) floor(p->max_suppression * (double) n + ANON_EPS);
	if (e->allowed < 0)
		e->allowed = 0;
	e->evaluations = 0;
}

/* ---- the solution --------------------------------------------------------- */

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Fill sol's figures from the evaluation at lv (the engine's scratch). */
static void
fill_solution(Engine *e, const int *lv, FinsecDeidSolution *sol, MemoryContext out)
{
	const FinsecDeidProblem *p = e->p;
	MemoryContext old = MemoryContextSwitchTo(out);
	int64	   *sizes;
	int			nsizes = 0;
	StringInfoData hist;

	sol->levels = palloc0(sizeof(int) * Max(1, p->nqi));
	memcpy(sol->levels, lv, sizeof(int) * p->nqi);
	sol->suppressed = palloc0(sizeof(bool) * Max(1, p->nrecords));
	sol->min_l = palloc0(sizeof(int) * Max(1, p->nsensitive));
	MemoryContextSwitchTo(old);

	evaluate(e, lv, e->ns > 0, true);
	sol->nsuppressed = 0;
	for (int r = 0; r < p->nrecords; r++)
	{
		bool		bad = e->class_bad[e->item_class[e->record_item[r]]];

		sol->suppressed[r] = bad;
		if (bad)
			sol->nsuppressed++;
	}
	sol->npublished = p->nrecords - sol->nsuppressed;
	sol->nclasses = 0;
	sol->min_class = 0;
	for (int s = 0; s < p->nsensitive; s++)
		sol->min_l[s] = 0;
	sizes = palloc(sizeof(int64) * Max(1, e->nclasses));
	sol->expected_reidentifications = 0.0;
	for (int32 c = 0; c < e->nclasses; c++)
	{
		if (e->class_bad[c])
			continue;
		sizes[nsizes++] = e->class_count[c];
		if (sol->nclasses == 0 || e->class_count[c] < sol->min_class)
			sol->min_class = (int) Min(e->class_count[c], PG_INT32_MAX);
		for (int s = 0; s < p->nsensitive; s++)
		{
			int32		d = e->class_distinct[(int64) c * e->ns + s];

			if (sol->nclasses == 0 || d < sol->min_l[s])
				sol->min_l[s] = d;
		}
		sol->nclasses++;
		/* a class of f records contributes f * (1/f) */
		sol->expected_reidentifications += 1.0;
	}
	sol->max_risk = sol->min_class > 0 ? 1.0 / (double) sol->min_class : 0.0;
	sol->avg_risk = sol->npublished > 0 ?
		sol->expected_reidentifications / (double) sol->npublished : 0.0;

	/* histogram: class size -> number of classes, by size */
	qsort(sizes, nsizes, sizeof(int64), cmp_int64);
	initStringInfo(&hist);
	appendStringInfoChar(&hist, '{');
	for (int i = 0; i < nsizes;)
	{
		int			j = i;

		while (j < nsizes && sizes[j] == sizes[i])
			j++;
		appendStringInfo(&hist, "%s\"" INT64_FORMAT "\": %d", i > 0 ? ", " : "", sizes[i], j - i);
		i = j;
	}
	appendStringInfoChar(&hist, '}');
	old = MemoryContextSwitchTo(out);
	sol->histogram = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(hist.data)));
	MemoryContextSwitchTo(old);
	pfree(hist.data);
	pfree(sizes);
}

/* User + system CPU seconds between two getrusage() readings. */
static double
cpu_seconds(const struct rusage *a, const struct rusage *b)
{
	return (double) (b->ru_utime.tv_sec - a->ru_utime.tv_sec) +
		(double) (b->ru_utime.tv_usec - a->ru_utime.tv_usec) / 1e6 +
		(double) (b->ru_stime.tv_sec - a->ru_stime.tv_sec) +
		(double) (b->ru_stime.tv_usec - a->ru_stime.tv_usec) / 1e6;
}

/*
 * The least-loss generalisation of p (credit.h): encode, check the top of
 * the lattice (nothing feasible if it fails), search, then report the
 * chosen node, or the top node's figures with the reason for a refusal.
 * Never raises for an unreachable problem (only for interrupts and memory).
 */
void
finsec_credit_deid_solve(const FinsecDeidProblem *p, FinsecDeidSolution *sol)
{
	MemoryContext out = CurrentMemoryContext;
	MemoryContext work;
	MemoryContext old;
	Engine		e;
	Search		s;
	int64		lattice = 1;
	int		   *top;
	TimestampTz t0,
				t1;
	struct rusage ru0,
				ru1,
				ru2;

	memset(sol, 0, sizeof(*sol));
	work = AllocSetContextCreate(CurrentMemoryContext, "finsec anon engine",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	memset(&e, 0, sizeof(e));
	for (int q = 0; q < p->nqi; q++)
	{
		int			L = finsec_credit_ladder_levels(p->ladders[q]);

		if (lattice > ANON_MAX_LATTICE / L)
			lattice = ANON_MAX_LATTICE + 1;
		else
			lattice *= L;
	}
	t0 = GetCurrentTimestamp();
	getrusage(RUSAGE_SELF, &ru0);
	engine_build(&e, p);
	t1 = GetCurrentTimestamp();
	getrusage(RUSAGE_SELF, &ru1);

	top = palloc(sizeof(int) * Max(1, p->nqi));
	for (int q = 0; q < p->nqi; q++)
		top[q] = e.nlevels[q] - 1;

	memset(&s, 0, sizeof(s));
	s.e = &e;
	s.need_l = p->l > 1 && p->nsensitive > 0;
	s.lv = palloc0(sizeof(int) * Max(1, p->nqi));
	s.best_lv = palloc0(sizeof(int) * Max(1, p->nqi));
	s.perm = palloc(sizeof(int) * Max(1, p->nqi));
	for (int q = 0; q < p->nqi; q++)
		s.perm[q] = q;
	/* the two columns with most levels last (stable) */
	for (int i = 1; i < p->nqi; i++)
		for (int j = i; j > 0 && e.nlevels[s.perm[j - 1]] > e.nlevels[s.perm[j]]; j--)
		{
			int			t = s.perm[j];

			s.perm[j] = s.perm[j - 1];
			s.perm[j - 1] = t;
		}
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(MemoEntry);
		ctl.hcxt = work;
		s.memo = hash_create("finsec anon lattice", 256, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	if (p->nrecords == 0)
	{
		/* nothing to publish: every value kept, nothing at risk */
		MemoryContextSwitchTo(out);
		sol->ok = true;
		sol->levels = palloc0(sizeof(int) * Max(1, p->nqi));
		sol->suppressed = palloc0(sizeof(bool));
		sol->min_l = palloc0(sizeof(int) * Max(1, p->nsensitive));
		sol->histogram = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
		MemoryContextDelete(work);
		return;
	}

	if (lattice > ANON_MAX_LATTICE)
	{
		s.gave_up = true;
	}
	else
	{
		/* the top node first: if even that fails, nothing does */
		memcpy(s.lv, top, sizeof(int) * p->nqi);
		if (p->nqi == 0 || node_feasible(&s))
		{
			memset(s.lv, 0, sizeof(int) * Max(1, p->nqi));
			if (p->nqi == 0)
			{
				if (node_feasible(&s))
					consider(&s, 0.0, node_supp(&s));
			}
			else
				search_prefix(&s, 0, Max(0, p->nqi - 2), 0.0);
		}
	}

	if (s.found && !s.gave_up)
	{
		fill_solution(&e, s.best_lv, sol, out);
		sol->ok = true;
		/* never publish weaker than asked, whatever the search assumed */
		if (sol->nsuppressed > e.allowed || (sol->npublished > 0 && sol->min_class < p->k))
			elog(ERROR, "finsec anon: the chosen generalisation does not hold");
		for (int i = 0; i < p->nsensitive && sol->npublished > 0; i++)
			if (sol->min_l[i] < p->l)
				elog(ERROR, "finsec anon: the chosen generalisation is not l-diverse");
	}
	else
	{
		int64		topsupp;

		/* report the top node's figures with the reason */
		fill_solution(&e, top, sol, out);
		topsupp = sol->nsuppressed;
		sol->ok = false;
		MemoryContextSwitchTo(out);
		if (s.gave_up)
			sol->refusal = psprintf("The generalisation lattice of the %d quasi-identifiers is too large to search "
									"(%s nodes; the engine evaluates at most %d): use fewer quasi-identifiers or shorter ladders.",
									p->nqi, lattice > ANON_MAX_LATTICE ? "more than 2^40" : psprintf(INT64_FORMAT, lattice),
									ANON_MAX_EVALUATIONS);
		else
			sol->refusal = psprintf("k = %d and l = %d cannot be reached withholding at most " INT64_FORMAT
									" of the %d records (max_suppression %g): even with every quasi-identifier "
									"withheld, " INT64_FORMAT " records would have to be suppressed.",
									p->k, p->l, e.allowed, p->nrecords, p->max_suppression, topsupp);
		MemoryContextSwitchTo(work);
	}
	sol->lattice_nodes = e.evaluations;
	getrusage(RUSAGE_SELF, &ru2);
	elog(DEBUG1, "finsec anon: %d records, %d items, encoding %.3f s (cpu %.3f s), search %.3f s (cpu %.3f s), %lld nodes",
		 p->nrecords, e.nitems, (double) (t1 - t0) / 1e6, cpu_seconds(&ru0, &ru1),
		 (double) (GetCurrentTimestamp() - t1) / 1e6, cpu_seconds(&ru1, &ru2),
		 (long long) e.evaluations);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
}

/* ---- the proof as jsonb ------------------------------------------------- */

static void
append_json_number(StringInfo buf, double v)
{
	if (isnan(v) || isinf(v))
		appendStringInfoString(buf, "null");
	else
	{
		char	   *t = float8out_internal(v);	/* shortest exact form */

		appendStringInfoString(buf, t);
		pfree(t);
	}
}

/*
 * The engine's part of a proof: parameters, the level and step chosen per
 * quasi-identifier, loss, counts, risks, min_l, histogram, lattice size
 * and nodes evaluated, ok and refusal.  Names and figures only, no value.
 */
Jsonb *
finsec_credit_deid_solution_jsonb(const FinsecDeidProblem *p, const FinsecDeidSolution *sol)
{
	StringInfoData b;
	double		loss = 0.0;
	int64		lattice = 1;
	char	   *hist;
	Jsonb	   *result;

	initStringInfo(&b);
	appendStringInfo(&b, "{\"engine\": \"full-domain generalisation, least loss\", \"ok\": %s, ",
					 sol->ok ? "true" : "false");
	appendStringInfoString(&b, "\"refusal\": ");
	if (sol->refusal)
		escape_json(&b, sol->refusal);
	else
		appendStringInfoString(&b, "null");
	appendStringInfo(&b, ", \"k\": %d, \"l\": %d, \"max_suppression\": ", p->k, p->l);
	append_json_number(&b, p->max_suppression);
	appendStringInfo(&b, ", \"records\": %d, \"published\": %d, \"suppressed\": %d, ",
					 p->nrecords, sol->npublished, sol->nsuppressed);
	appendStringInfoString(&b, "\"levels\": {");
	for (int q = 0; q < p->nqi; q++)
	{
		int			L = finsec_credit_ladder_levels(p->ladders[q]);
		int			lv = sol->levels ? sol->levels[q] : 0;

		if (q > 0)
			appendStringInfoString(&b, ", ");
		escape_json(&b, p->qi_names[q]);
		appendStringInfo(&b, ": {\"level\": %d, \"levels\": %d, \"step\": ", lv, L);
		escape_json(&b, finsec_credit_ladder_step_name(p->ladders[q], lv));
		appendStringInfoChar(&b, '}');
		loss += (double) lv / (double) (L - 1);
		if (lattice < ANON_MAX_LATTICE)
			lattice *= L;
	}
	appendStringInfoString(&b, "}, \"loss\": ");
	append_json_number(&b, loss);
	appendStringInfo(&b, ", \"classes\": %d, \"min_class\": %d, \"max_risk\": ",
					 sol->nclasses, sol->min_class);
	append_json_number(&b, sol->max_risk);
	appendStringInfoString(&b, ", \"avg_risk\": ");
	append_json_number(&b, sol->avg_risk);
	appendStringInfoString(&b, ", \"expected_reidentifications\": ");
	append_json_number(&b, sol->expected_reidentifications);
	appendStringInfoString(&b, ", \"min_l\": {");
	for (int s = 0; s < p->nsensitive; s++)
	{
		if (s > 0)
			appendStringInfoString(&b, ", ");
		escape_json(&b, p->sensitive_names[s]);
		appendStringInfo(&b, ": %d", sol->min_l ? sol->min_l[s] : 0);
	}
	hist = sol->histogram ? JsonbToCString(NULL, &sol->histogram->root, VARSIZE(sol->histogram)) : pstrdup("{}");
	appendStringInfo(&b, "}, \"histogram\": %s, \"lattice_size\": " INT64_FORMAT
					 ", \"lattice_nodes_evaluated\": " INT64_FORMAT "}",
					 hist, lattice, sol->lattice_nodes);
	result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(b.data)));
	pfree(b.data);
	pfree(hist);
	return result;
}
