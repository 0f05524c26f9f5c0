/*-------------------------------------------------------------------------
 *
 * matrix.h
 *	  Training data in memory: id maps (external text ids <-> dense int32
 *	  indexes), the raw interaction log as read from a dataset, and the
 *	  sparse user x item matrix built from it.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/matrix.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_MATRIX_H
#define PERSONALIZE_MATRIX_H

#include "postgres.h"

/*
 * An id string as a hash key: its first 8 bytes (zero padded) kept beside
 * the pointer, so that comparing ids of up to 7 bytes (most ids) reads no
 * string: a lookup then touches the table's entry alone.
 */
typedef struct IdKey
{
	uint64		head;			/* the first 8 bytes of str, zero padded */
	const char *str;
} IdKey;

/* Hash table entry mapping an id string to its dense index. */
typedef struct IdEntry
{
	IdKey		key;
	int32		index;
	uint32		hash;
	char		status;
} IdEntry;

#define SH_PREFIX idhash
#define SH_ELEMENT_TYPE IdEntry
#define SH_KEY_TYPE IdKey
#define SH_SCOPE extern
#define SH_DECLARE
#include "lib/simplehash.h"

/* External ids and their dense indexes 0..n-1. */
typedef struct IdMap
{
	MemoryContext context;		/* where ids are copied (SPI calls switch contexts) */
	int32		n;
	int32		capacity;
	char	  **ids;
	idhash_hash *hash;
} IdMap;

extern void *MatrixAllocHuge(Size size);

extern void IdMapInit(IdMap *map, int32 expected);
extern int32 IdMapIntern(IdMap *map, const char *id);
extern void IdMapInternMany(IdMap *map, int n, char *const *ids, int32 *indexes);
extern int32 IdMapLookup(const IdMap *map, const char *id);
extern void IdMapLookupMany(const IdMap *map, int n, char *const *ids, int32 *indexes);

/* One event as read: its user's and item's dense indexes and its time. */
typedef struct InteractionEvent
{
	int32		user;
	int32		item;
	double		time;			/* epoch seconds */
} InteractionEvent;

/*
 * Interactions as read: one entry per event, ids already interned.  The
 * events are one array of 16-byte entries so that the matrix build can
 * reuse its memory (MatrixBuildFromLog).
 */
typedef struct InteractionLog
{
	MemoryContext context;		/* owns the arrays and id maps */
	int64		n;
	int64		capacity;
	InteractionEvent *events;
	float	   *weight;			/* event weights (event_weights), or NULL: all 1 */
	IdMap		users;
	IdMap		items;
} InteractionLog;

extern void InteractionLogInit(InteractionLog *log);
extern void InteractionLogAddWeighted(InteractionLog *log, const char *user, const char *item,
									  double time, float weight);
extern void InteractionLogReserve(InteractionLog *log, int64 n);
extern void InteractionLogAppend(InteractionLog *log, int32 user, int32 item, double time,
								 float weight);

/*
 * Sparse user x item matrix in both orientations.  Repeated (user, item)
 * events are merged: weight sums their weights (counts them when events are
 * unweighted), time keeps the latest.  Within a user row, entries are
 * ordered by item index.  A side's arrays may share one allocation
 * (MatrixBuildFromLog): they go with their memory context, never one by one.
 */
typedef struct InteractionMatrix
{
	int32		n_users;
	int32		n_items;
	int64		nnz;
	int64	   *user_ptr;		/* n_users + 1 */
	int32	   *user_items;		/* nnz */
	float	   *user_weights;	/* nnz */
	double	   *user_times;		/* nnz (NULL in a split without times) */
	int64	   *item_ptr;		/* n_items + 1 */
	int32	   *item_users;		/* nnz */
	float	   *item_weights;	/* nnz */
	/* metadata by item index and by user index, for recipes that use it, or NULL */
	const struct EntityMetadata *item_metadata;
	const struct EntityMetadata *user_metadata;
} InteractionMatrix;

extern InteractionMatrix *MatrixBuildFromLog(InteractionLog *log);
extern InteractionMatrix *MatrixSelectUsers(const InteractionMatrix *m, const bool *keep,
											 bool with_times);
extern void MatrixFreeSelection(InteractionMatrix *r);
extern int32 MatrixUsersWithAtLeast(const InteractionMatrix *m, int min_items);

#endif							/* PERSONALIZE_MATRIX_H */
