/*-------------------------------------------------------------------------
 *
 * filter_mask.c
 *	  Which of a model's items pass an item-attribute filter, computed
 *	  once and reused while provably fresh.
 *
 * A filter whose conditions all compare the candidate's row of the items
 * relation with literals or filter values (INCLUDE ItemID WHERE
 * Items.CATEGORY IN ($C)) lets an item through or not whoever asks:
 * its answer depends on the item, the values and the items relation's
 * rows only.  recommend() would otherwise send a few hundred candidates
 * through the filter's query on every request; instead the filter runs
 * once over all of the model's items (one query planned for them) and
 * the answer, a mask over the model's item indices, is kept in this
 * backend.  The ranking then skips the masked items and needs no query.
 *
 * A mask is reused only while it is exactly what the filter's query
 * would answer now:
 *  - the key holds the model version (its items), the compiled query
 *    (the filter's definition and which placeholders were given, the
 *    relation's name), the filter values and the user whose privileges
 *    the query ran with;
 *  - the rows read are the same: snapshot_stamp.c proves that the
 *    active snapshot sees the same committed rows as the one the mask
 *    was computed under (and that neither transaction wrote anything);
 *  - the reads are deterministic: the items relation is a plain table
 *    without row-level security (a view could call now(), a policy read
 *    a setting), and the compared columns' types have a text form that
 *    follows no setting (filter.c's items_only).
 * Anything else, and the request takes the usual path.
 *
 * When a mask goes stale before it was reused even once (a write load
 * moves the snapshots on every request), rebuilding it would cost more
 * than it saves, so the next requests take the usual path and only every
 * MASK_RETRY_AFTER-th tries a new mask.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/filter_mask.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "filter_mask.h"
#include "snapshot_stamp.h"

/* Masks kept per backend (least recently used dropped first). */
#define MASK_SLOTS 8
/* Requests that take the usual path after a mask went stale unused. */
#define MASK_RETRY_AFTER 64
/* Catalogues above this take the usual path: a mask costs a query over all items. */
#define MASK_MAX_ITEMS 250000

typedef struct FilterMask
{
	/* key */
	int64		version;
	TimestampTz created;
	Oid			userid;
	char	   *sql;
	char	   *values;			/* the filter values' text, "" for none */
	/* value */
	SnapshotStamp stamp;		/* the rows the mask was computed from */
	bool	   *pass;			/* per model item index */
	int32		n_items;
	int			hits;			/* requests served since it was computed */
	int			declined;		/* requests sent the usual way since it went stale */
	uint64		last_used;
} FilterMask;

static MemoryContext mask_context = NULL;
static FilterMask *masks[MASK_SLOTS];
static uint64 mask_clock = 0;

/*
 * Can the items relation's rows be read into a reusable mask: a plain
 * table without row-level security?
 */
static bool
mask_relation_ok(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	bool		ok;
	Form_pg_class form;

	if (!HeapTupleIsValid(tuple))
		return false;
	form = (Form_pg_class) GETSTRUCT(tuple);
	ok = form->relkind == RELKIND_RELATION && !form->relrowsecurity;
	ReleaseSysCache(tuple);
	return ok;
}

static void
mask_free(FilterMask *m)
{
	SnapshotStampFree(&m->stamp);
	pfree(m->sql);
	pfree(m->values);
	pfree(m->pass);
	pfree(m);
}

/*
 * The mask of filter (with values, whose text FilterLoad left in the
 * filter) over lm's items, or NULL when the request should send its
 * candidates through the filter's query.  The caller is connected to SPI.
 */
const bool *
FilterMaskGet(const CompiledFilter *filter, Jsonb *values, const LoadedModel *lm)
{
	const char *values_text = filter->values_text;
	FilterMask *m = NULL;
	int			slot = -1;
	Oid			userid = GetUserId();

	if (!filter->items_only || values_text == NULL || lm->model.n_items == 0 ||
		lm->model.n_items > MASK_MAX_ITEMS || !mask_relation_ok(filter->items_relid))
		return NULL;

	for (int i = 0; i < MASK_SLOTS; i++)
	{
		FilterMask *c = masks[i];

		if (c != NULL && c->version == lm->version && c->created == lm->created &&
			c->userid == userid && c->n_items == lm->model.n_items &&
			strcmp(c->sql, filter->sql) == 0 && strcmp(c->values, values_text) == 0)
		{
			m = c;
			slot = i;
			break;
		}
	}
	if (m != NULL)
	{
		m->last_used = ++mask_clock;
		if (SnapshotStampStillValid(&m->stamp))
		{
			m->hits++;
			elog(DEBUG2, "filter \"%s\": item mask reused", filter->name);
			return m->pass;
		}
		if (m->hits == 0 && ++m->declined < MASK_RETRY_AFTER)
			return NULL;
	}

	if (mask_context == NULL)
		mask_context = AllocSetContextCreate(TopMemoryContext, "personalize filter masks",
											 ALLOCSET_DEFAULT_SIZES);
	if (m == NULL)
	{
		/* a free slot, else the least recently used */
		slot = 0;
		for (int i = 0; i < MASK_SLOTS; i++)
		{
			if (masks[i] == NULL)
			{
				slot = i;
				break;
			}
			if (masks[i]->last_used < masks[slot]->last_used)
				slot = i;
		}
		if (masks[slot] != NULL)
			mask_free(masks[slot]);
		masks[slot] = NULL;
		m = MemoryContextAllocZero(mask_context, sizeof(FilterMask));
		m->version = lm->version;
		m->created = lm->created;
		m->userid = userid;
		m->n_items = lm->model.n_items;
		m->sql = MemoryContextStrdup(mask_context, filter->sql);
		m->values = MemoryContextStrdup(mask_context, values_text);
		m->pass = MemoryContextAlloc(mask_context, sizeof(bool) * m->n_items);
		m->last_used = ++mask_clock;
		masks[slot] = m;
	}

	/* compute it under the active snapshot, stamped first */
	SnapshotStampFree(&m->stamp);
	SnapshotStampTake(&m->stamp, mask_context);
	if (!m->stamp.valid)
		return NULL;			/* it could never be reused */
	PG_TRY();
	{
		FilterApplyAll(filter, values, lm->items.ids, m->n_items, m->pass);
	}
	PG_CATCH();
	{
		/* leave no half-written mask behind */
		masks[slot] = NULL;
		mask_free(m);
		PG_RE_THROW();
	}
	PG_END_TRY();
	m->hits = 0;
	m->declined = 0;
	elog(DEBUG1, "filter \"%s\": item mask computed over %d items", filter->name, m->n_items);
	return m->pass;
}
