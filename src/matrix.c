/*-------------------------------------------------------------------------
 *
 * matrix.c
 *	  Id maps, the interaction log and the sparse interaction matrix.
 *
 * The matrix is built with counting sorts (O(events + users + items)), not
 * an SQL ORDER BY nor a comparison sort: events are ordered by item, then
 * stably bucketed by user, so each user's events arrive ordered by item and
 * repeats are merged as they are copied; the item-major copy is a further
 * counting sort over the merged entries.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/matrix.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/mman.h>

#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "matrix.h"
#include "personalize.h"

/*
 * The 8 bytes of head hold the whole id, its terminating zero included,
 * when the last one is zero: then equal heads are equal ids.
 */
static inline bool
id_key_equal(IdKey a, IdKey b)
{
	return a.head == b.head &&
		(((const unsigned char *) &a.head)[sizeof(a.head) - 1] == 0 || strcmp(a.str, b.str) == 0);
}

/* id as a key (not copied) */
static inline IdKey
id_key(const char *id)
{
	IdKey		key = {0, id};
	size_t		len = strnlen(id, sizeof(key.head));

	memcpy(&key.head, id, len);
	return key;
}

#define SH_PREFIX idhash
#define SH_ELEMENT_TYPE IdEntry
#define SH_KEY_TYPE IdKey
#define SH_KEY key
#define SH_HASH_KEY(tb, k) hash_bytes((const unsigned char *) (k).str, strlen((k).str))
#define SH_EQUAL(tb, a, b) id_key_equal(a, b)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE extern
#define SH_DEFINE
#include "lib/simplehash.h"

/* Transparent huge pages are 2 MB on x86-64 and aarch64 with 4 kB pages. */
#define MATRIX_HUGE_PAGE ((uintptr_t) 2 * 1024 * 1024)

/*
 * Ask Linux to back the large array at p with transparent huge pages when
 * the system leaves that to the program (transparent_hugepage=madvise, a
 * common default): filling a fresh 320 MB array otherwise takes 80,000
 * page faults, and they were a third of the matrix build at 20M events.
 * Only advice: nothing changes where it is not supported.
 */
static void
matrix_advise_huge(void *p, Size size)
{
#ifdef MADV_HUGEPAGE
	uintptr_t	lo = TYPEALIGN(MATRIX_HUGE_PAGE, (uintptr_t) p);
	uintptr_t	hi = TYPEALIGN_DOWN(MATRIX_HUGE_PAGE, (uintptr_t) p + size);

	if (size >= 8 * MATRIX_HUGE_PAGE && hi > lo)
		(void) madvise((void *) lo, hi - lo, MADV_HUGEPAGE);
#endif
}

/*
 * palloc a large array (MCXT_ALLOC_HUGE), backed by huge pages where the
 * system allows (matrix_advise_huge).
 */
void *
MatrixAllocHuge(Size size)
{
	void	   *p = palloc_extended(Max(size, 1), MCXT_ALLOC_HUGE);

	matrix_advise_huge(p, size);
	return p;
}

/* repalloc_huge, with the same advice */
static void *
matrix_realloc_huge(void *p, Size size)
{
	p = repalloc_huge(p, size);
	matrix_advise_huge(p, size);
	return p;
}

/*
 * Start an empty id map in the current memory context, which keeps
 * owning it whatever context is current when ids are added.
 */
void
IdMapInit(IdMap *map, int32 expected)
{
	map->context = CurrentMemoryContext;
	map->n = 0;
	map->capacity = Max(expected, 16);
	map->ids = palloc(sizeof(char *) * map->capacity);
	map->hash = idhash_create(map->context, map->capacity, NULL);
}

/* Return the index of id, whose hash is hash, adding it (copied) when new. */
static int32
id_map_intern_hash(IdMap *map, const char *id, uint32 hash)
{
	bool		found;
	IdEntry    *entry = idhash_insert_hash(map->hash, id_key(id), hash, &found);

	if (!found)
	{
		if (map->n == map->capacity)
		{
			if (map->capacity >= (int32) (MaxAllocSize / sizeof(char *) / 2))
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("too many distinct ids in dataset")));
			map->capacity *= 2;
			map->ids = repalloc(map->ids, sizeof(char *) * map->capacity);
		}
		map->ids[map->n] = MemoryContextStrdup(map->context, id);
		entry->key.str = map->ids[map->n];
		entry->index = map->n++;
	}
	return entry->index;
}

/*
 * Return the index of id, adding it (copied) when new.
 */
int32
IdMapIntern(IdMap *map, const char *id)
{
	return id_map_intern_hash(map, id, hash_bytes((const unsigned char *) id, strlen(id)));
}

/*
 * Return the index of id, or -1 when it is unknown.
 */
int32
IdMapLookup(const IdMap *map, const char *id)
{
	IdEntry    *entry = idhash_lookup(map->hash, id_key(id));

	return entry ? entry->index : -1;
}

/* Buckets ahead that IdMapLookupMany and IdMapInternMany prefetch. */
#define ID_PREFETCH_AHEAD 16

/* Prefetch the bucket of hash in map's table. */
static inline void
id_map_prefetch(const IdMap *map, uint32 hash)
{
#if defined(__GNUC__)
	__builtin_prefetch(&map->hash->data[hash & map->hash->sizemask]);
#endif
}

/*
 * The hashes of the n ids (palloc'd), the buckets of the first few asked
 * for: the loops of IdMapLookupMany and IdMapInternMany then ask for each
 * bucket ID_PREFETCH_AHEAD ids ahead.
 */
static uint32 *
id_map_hashes(const IdMap *map, int n, char *const *ids)
{
	uint32	   *hashes = palloc(sizeof(uint32) * Max(n, 1));

	for (int i = 0; i < n; i++)
	{
		hashes[i] = hash_bytes((const unsigned char *) ids[i], strlen(ids[i]));
		if (i < ID_PREFETCH_AHEAD)
			id_map_prefetch(map, hashes[i]);
	}
	return hashes;
}

/*
 * IdMapLookup of the n ids into indexes (-1: unknown), the buckets
 * prefetched ahead so that the cache misses of a long history overlap
 * instead of following one another.
 */
void
IdMapLookupMany(const IdMap *map, int n, char *const *ids, int32 *indexes)
{
	uint32	   *hashes = id_map_hashes(map, n, ids);

	for (int i = 0; i < n; i++)
	{
		IdEntry    *entry;

		if (i + ID_PREFETCH_AHEAD < n)
			id_map_prefetch(map, hashes[i + ID_PREFETCH_AHEAD]);
		entry = idhash_lookup_hash(map->hash, id_key(ids[i]), hashes[i]);
		indexes[i] = entry ? entry->index : -1;
	}
	pfree(hashes);
}

/*
 * IdMapIntern of the n ids, in order, their indexes into indexes (NULL:
 * not wanted), the buckets prefetched ahead as IdMapLookupMany does: a
 * model of a million items interned its ids one cache miss after another
 * (290 ns an id), the table being 64 MB.  Sized by IdMapInit for the
 * expected count, the map normally does not grow meanwhile (a growth
 * only wastes the prefetches).
 */
void
IdMapInternMany(IdMap *map, int n, char *const *ids, int32 *indexes)
{
	uint32	   *hashes = id_map_hashes(map, n, ids);

	for (int i = 0; i < n; i++)
	{
		int32		index;

		if (i + ID_PREFETCH_AHEAD < n)
			id_map_prefetch(map, hashes[i + ID_PREFETCH_AHEAD]);
		index = id_map_intern_hash(map, ids[i], hashes[i]);
		if (indexes != NULL)
			indexes[i] = index;
	}
	pfree(hashes);
}

/*
 * Start an empty interaction log in the current memory context (growth
 * stays there: repalloc keeps a chunk's context).
 */
void
InteractionLogInit(InteractionLog *log)
{
	log->context = CurrentMemoryContext;
	log->n = 0;
	log->capacity = 1024;
	log->events = palloc(sizeof(InteractionEvent) * log->capacity);
	log->weight = NULL;
	IdMapInit(&log->users, 1024);
	IdMapInit(&log->items, 1024);
}

/*
 * Append one event of the given weight.  The weight array exists only once
 * some event weighs other than 1, so unweighted logs cost nothing more.
 */
void
InteractionLogAddWeighted(InteractionLog *log, const char *user, const char *item,
						  double time, float weight)
{
	InteractionLogAppend(log, IdMapIntern(&log->users, user), IdMapIntern(&log->items, item),
						 time, weight);
}

/*
 * Make room for n events in all (a reader that knows about how many events
 * are coming saves the copies of growing one doubling at a time).
 */
void
InteractionLogReserve(InteractionLog *log, int64 n)
{
	if (n <= log->capacity)
		return;
	log->capacity = n;
	log->events = matrix_realloc_huge(log->events, sizeof(InteractionEvent) * log->capacity);
	if (log->weight != NULL)
		log->weight = matrix_realloc_huge(log->weight, sizeof(float) * log->capacity);
}

/*
 * Append one event whose ids the caller has interned already (indexes of
 * log->users and log->items).
 */
void
InteractionLogAppend(InteractionLog *log, int32 user, int32 item, double time, float weight)
{
	if (weight != 1.0f && log->weight == NULL)
	{
		log->weight = MemoryContextAllocHuge(log->context, sizeof(float) * log->capacity);
		matrix_advise_huge(log->weight, sizeof(float) * log->capacity);
		for (int64 e = 0; e < log->n; e++)
			log->weight[e] = 1.0f;
	}
	if (log->n == log->capacity)
	{
		log->capacity *= 2;
		log->events = matrix_realloc_huge(log->events, sizeof(InteractionEvent) * log->capacity);
		if (log->weight != NULL)
			log->weight = matrix_realloc_huge(log->weight, sizeof(float) * log->capacity);
	}
	log->events[log->n].user = user;
	log->events[log->n].item = item;
	log->events[log->n].time = time;
	if (log->weight != NULL)
		log->weight[log->n] = weight;
	log->n++;
}

/*
 * One event while bucketing: by item, the user in "item"; by user, the
 * item.  As large as an InteractionEvent, so that the users' buckets can
 * take the log's own array.
 */
typedef struct RowEntry
{
	int32		item;
	float		weight;
	double		time;
} RowEntry;

StaticAssertDecl(sizeof(RowEntry) == sizeof(InteractionEvent),
				 "the users' buckets reuse the events' array");

/*
 * Fill the item-major copy of m (item_ptr allocated here, item_users and
 * item_weights by the caller) from its user-major entries.
 */
static void
matrix_fill_item_major(InteractionMatrix *m)
{
	int64	   *next;

	m->item_ptr = palloc0(sizeof(int64) * ((Size) m->n_items + 1));
	for (int64 e = 0; e < m->nnz; e++)
		m->item_ptr[m->user_items[e] + 1]++;
	for (int32 i = 0; i < m->n_items; i++)
		m->item_ptr[i + 1] += m->item_ptr[i];
	next = palloc(sizeof(int64) * ((Size) m->n_items + 1));
	memcpy(next, m->item_ptr, sizeof(int64) * ((Size) m->n_items + 1));
	for (int32 u = 0; u < m->n_users; u++)
	{
		CHECK_FOR_INTERRUPTS();
		for (int64 e = m->user_ptr[u]; e < m->user_ptr[u + 1]; e++)
		{
			int64		pos = next[m->user_items[e]]++;

			m->item_users[pos] = u;
			m->item_weights[pos] = m->user_weights[e];
		}
	}
	pfree(next);
}

/* Point m's user rows (times, items, weights of m->nnz entries) into rows. */
static void
matrix_place_user_rows(InteractionMatrix *m, char *rows)
{
	m->user_times = (double *) rows;
	m->user_items = (int32 *) (rows + sizeof(double) * m->nnz);
	m->user_weights = (float *) (rows + (sizeof(double) + sizeof(int32)) * m->nnz);
}

/* Point m's item rows (users, weights of m->nnz entries) into rows. */
static void
matrix_place_item_rows(InteractionMatrix *m, char *rows)
{
	m->item_users = (int32 *) rows;
	m->item_weights = (float *) (rows + sizeof(int32) * m->nnz);
}

/*
 * Build the matrix from the events of log (dense indexes), whose array
 * the matrix takes over (its item rows stay in log->context; the rest of
 * the matrix goes to the current context); log keeps its id maps and its
 * count, and no events.
 *
 * Fresh memory is dear: the kernel zeroes every page a process touches
 * for the first time, and on the virtual machines this is measured on
 * that ran at 0.7-1.5 GB/s, a third of the build at 20M events.  So the
 * build allocates one new array only (the events ordered by item); the
 * users' buckets then take the log's array, the users' rows the events
 * ordered by item's, and the items' rows the log's array again, each
 * shrunk to what it holds.
 */
InteractionMatrix *
MatrixBuildFromLog(InteractionLog *log)
{
	InteractionMatrix *m = palloc0(sizeof(InteractionMatrix));
	int32		n_users = log->users.n;
	int32		n_items = log->items.n;
	int64		n = log->n;
	const InteractionEvent *events = log->events;
	const float *weight = log->weight;
	int64	   *start = palloc0(sizeof(int64) * ((Size) n_users + 1));
	int64	   *next = palloc0(sizeof(int64) * ((Size) n_items + 1));
	int64	   *user_next;
	RowEntry   *by_item;
	RowEntry   *by_user;
	int64		nnz = 0;
	int64		out = 0;
	instr_time	lap;

	INSTR_TIME_SET_CURRENT(lap);
	m->n_users = n_users;
	m->n_items = n_items;

	/*
	 * Counting sort of the events by item, then a stable counting sort of
	 * that order by user: each user's events come out ordered by item, with
	 * repeats adjacent, and no comparison sort is needed.  Both passes carry
	 * the events' fields along, so that each reads its input in order and
	 * only its writes are scattered (reading the events through an index
	 * of the item order instead took twice as long at 20M events).
	 */
	for (int64 e = 0; e < n; e++)
	{
		start[events[e].user + 1]++;
		next[events[e].item + 1]++;
	}
	for (int32 u = 0; u < n_users; u++)
		start[u + 1] += start[u];
	for (int32 i = 0; i < n_items; i++)
		next[i + 1] += next[i];

	by_item = MatrixAllocHuge(sizeof(RowEntry) * Max(n, 1));
	for (int64 e = 0; e < n; e++)
	{
		RowEntry   *to = &by_item[next[events[e].item]++];

		if ((e & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		to->item = events[e].user;	/* the user, in this pass */
		to->weight = weight != NULL ? weight[e] : 1.0f;
		to->time = events[e].time;
	}

	/*
	 * The events are in by_item now, and their array becomes the users'
	 * buckets, one entry of 16 bytes an event.  Scattering an event there
	 * touches one cache line; with an array per field it touched three
	 * (and the merge below read three): 20M events, 1.1-1.6 -> 0.65-0.68 s
	 * for these sorts outside PostgreSQL.
	 */
	if (log->weight != NULL)
		pfree(log->weight);
	by_user = (RowEntry *) log->events;
	log->events = NULL;
	log->weight = NULL;
	log->capacity = 0;
	user_next = palloc(sizeof(int64) * ((Size) n_users + 1));
	memcpy(user_next, start, sizeof(int64) * ((Size) n_users + 1));
	{
		int64		j = 0;

		/* an item's events end where next[] stopped */
		for (int32 i = 0; i < n_items; i++)
		{
			CHECK_FOR_INTERRUPTS();
			for (; j < next[i]; j++)
			{
				RowEntry   *to = &by_user[user_next[by_item[j].item]++];

				to->item = i;
				to->weight = by_item[j].weight;
				to->time = by_item[j].time;
			}
		}
	}
	pfree(next);
	pfree(user_next);

	/* distinct (user, item) pairs: repeats are adjacent in a user's bucket */
	for (int32 u = 0; u < n_users; u++)
		for (int64 e = start[u]; e < start[u + 1]; e++)
			if (e == start[u] || by_user[e].item != by_user[e - 1].item)
				nnz++;

	/*
	 * The users' rows, repeated events merged, in by_item's array (times,
	 * items, weights: 16 bytes an entry again).
	 */
	m->nnz = nnz;
	m->user_ptr = palloc(sizeof(int64) * ((Size) n_users + 1));
	matrix_place_user_rows(m, (char *) by_item);
	for (int32 u = 0; u < n_users; u++)
	{
		int64		lo = start[u],
					hi = start[u + 1];

		CHECK_FOR_INTERRUPTS();
		m->user_ptr[u] = out;
		for (int64 e = lo; e < hi; e++)
		{
			const RowEntry *ev = &by_user[e];

			if (out > m->user_ptr[u] && m->user_items[out - 1] == ev->item)
			{
				m->user_weights[out - 1] += ev->weight;
				m->user_times[out - 1] = Max(m->user_times[out - 1], ev->time);
				continue;
			}
			m->user_items[out] = ev->item;
			m->user_weights[out] = ev->weight;
			m->user_times[out] = ev->time;
			out++;
		}
	}
	Assert(out == nnz);
	m->user_ptr[n_users] = nnz;
	pfree(start);
	matrix_place_user_rows(m, repalloc_huge(by_item, Max(sizeof(RowEntry) * nnz, 1)));
	PersonalizeDebugLap("matrix user rows built", &lap);

	/* the items' rows (users, weights) in the buckets' array */
	matrix_place_item_rows(m, (char *) by_user);
	matrix_fill_item_major(m);
	matrix_place_item_rows(m, repalloc_huge(by_user, Max((sizeof(int32) + sizeof(float)) * nnz, 1)));
	PersonalizeDebugLap("matrix item rows built", &lap);
	return m;
}

/*
 * Return the matrix restricted to the users whose keep[] is true, with
 * users renumbered densely and the item space unchanged.  Its user_times
 * only with_times (else NULL): of the recipes trained on such a split,
 * only those that read the events' times need them, and the copy is 8 of
 * the 24 bytes an event takes here (20M set: 144 MB of fresh memory).
 */
InteractionMatrix *
MatrixSelectUsers(const InteractionMatrix *m, const bool *keep, bool with_times)
{
	InteractionMatrix *r = palloc0(sizeof(InteractionMatrix));
	int32	   *renumbered = palloc(sizeof(int32) * Max(m->n_users, 1));
	int32		nu = 0;
	int64		nnz = 0;

	for (int32 u = 0; u < m->n_users; u++)
	{
		renumbered[u] = keep[u] ? nu++ : -1;
		if (keep[u])
			nnz += m->user_ptr[u + 1] - m->user_ptr[u];
	}
	r->n_users = nu;
	r->n_items = m->n_items;
	r->nnz = nnz;
	/* item rows keep their indexes; user rows do not, and no split needs them */
	r->item_metadata = m->item_metadata;
	r->user_ptr = palloc(sizeof(int64) * ((Size) nu + 1));
	r->user_items = MatrixAllocHuge(sizeof(int32) * Max(nnz, 1));
	r->user_weights = MatrixAllocHuge(sizeof(float) * Max(nnz, 1));
	r->user_times = with_times ? MatrixAllocHuge(sizeof(double) * Max(nnz, 1)) : NULL;
	nu = 0;
	nnz = 0;
	for (int32 u = 0; u < m->n_users; u++)
	{
		int64		len = m->user_ptr[u + 1] - m->user_ptr[u];

		if (!keep[u])
			continue;
		r->user_ptr[nu++] = nnz;
		memcpy(r->user_items + nnz, m->user_items + m->user_ptr[u], sizeof(int32) * len);
		memcpy(r->user_weights + nnz, m->user_weights + m->user_ptr[u], sizeof(float) * len);
		if (with_times)
			memcpy(r->user_times + nnz, m->user_times + m->user_ptr[u], sizeof(double) * len);
		nnz += len;
	}
	r->user_ptr[nu] = nnz;

	/*
	 * The item rows: m's, without the users left out.  They list users in
	 * increasing order and the renumbering keeps that order, so this is
	 * what a counting sort of the user rows gives, read in order instead
	 * of scattered (20M events: 0.34 -> 0.23 s outside PostgreSQL).
	 */
	r->item_ptr = palloc(sizeof(int64) * ((Size) r->n_items + 1));
	r->item_users = MatrixAllocHuge(sizeof(int32) * Max(nnz, 1));
	r->item_weights = MatrixAllocHuge(sizeof(float) * Max(nnz, 1));
	nnz = 0;
	for (int32 i = 0; i < m->n_items; i++)
	{
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		r->item_ptr[i] = nnz;
		for (int64 e = m->item_ptr[i]; e < m->item_ptr[i + 1]; e++)
		{
			int32		u = renumbered[m->item_users[e]];

			if (u < 0)
				continue;
			r->item_users[nnz] = u;
			r->item_weights[nnz] = m->item_weights[e];
			nnz++;
		}
	}
	r->item_ptr[r->n_items] = nnz;
	Assert(nnz == r->nnz);
	pfree(renumbered);
	return r;
}

/*
 * Free a matrix MatrixSelectUsers returned (its arrays are allocations of
 * their own; the metadata it shares with the whole matrix stays).
 */
void
MatrixFreeSelection(InteractionMatrix *r)
{
	pfree(r->user_ptr);
	pfree(r->user_items);
	pfree(r->user_weights);
	if (r->user_times != NULL)
		pfree(r->user_times);
	pfree(r->item_ptr);
	pfree(r->item_users);
	pfree(r->item_weights);
	pfree(r);
}

/*
 * Count users with at least min_items distinct items.
 */
int32
MatrixUsersWithAtLeast(const InteractionMatrix *m, int min_items)
{
	int32		count = 0;

	for (int32 u = 0; u < m->n_users; u++)
		if (m->user_ptr[u + 1] - m->user_ptr[u] >= min_items)
			count++;
	return count;
}
