/*-------------------------------------------------------------------------
 *
 * campaign_cache.c
 *	  Resolved campaigns kept across statements while provably fresh.
 *
 * Every runtime call resolves its campaign (campaign -> serving version,
 * recipe type, interactions dataset, config) with a query on the catalog
 * tables (runtime.c): about a tenth of a recommend() over 27k items.  A
 * backend keeps the last few answers here and reuses one only while
 * SnapshotStampStillValid (snapshot_stamp.c) proves that the current
 * snapshot sees exactly the committed rows the answer was read under, and
 * the transaction has written nothing itself.  So a campaign moved to
 * another version, reconfigured or dropped, by this session or another,
 * is seen by the next statement as it would be without the cache; a
 * read-only serving load keeps hitting it, and any committed write in the
 * cluster (which moves the snapshot's xmax) empties it in effect.
 *
 * The query reads plain catalog tables with deterministic expressions and
 * runs as the extension owner, so its answer does not depend on the
 * caller; what does, the caller's right to read the interactions, runtime.c
 * checks on every call, hit or not.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/campaign_cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/memutils.h"

#include "campaign_cache.h"
#include "snapshot_stamp.h"

/* Campaigns a backend keeps: a few serve most applications. */
#define CAMPAIGN_CACHE_SIZE 8

typedef struct CampaignCacheEntry
{
	MemoryContext context;		/* owns target and stamp; NULL: empty slot */
	CampaignTarget target;
	SnapshotStamp stamp;
	uint64		last_used;
} CampaignCacheEntry;

static CampaignCacheEntry campaign_cache[CAMPAIGN_CACHE_SIZE];
static uint64 campaign_cache_clock = 0;

static char *
copy_or_null(const char *s)
{
	return s != NULL ? pstrdup(s) : NULL;
}

/* A deep copy of src into dst, in the current memory context. */
static void
campaign_target_copy(const CampaignTarget *src, CampaignTarget *dst)
{
	*dst = *src;
	dst->campaign = copy_or_null(src->campaign);
	dst->recipe_type = copy_or_null(src->recipe_type);
	dst->dataset_group = copy_or_null(src->dataset_group);
	dst->dataset.dataset_group = copy_or_null(src->dataset.dataset_group);
	dst->dataset.user_column = copy_or_null(src->dataset.user_column);
	dst->dataset.item_column = copy_or_null(src->dataset.item_column);
	dst->dataset.time_column = copy_or_null(src->dataset.time_column);
	dst->dataset.time_kind = copy_or_null(src->dataset.time_kind);
	dst->dataset.event_type_column = copy_or_null(src->dataset.event_type_column);
	dst->dataset.event_value_column = copy_or_null(src->dataset.event_value_column);
}

/*
 * Fill target (a copy the caller owns) with campaign's resolution if one
 * read under an equivalent snapshot is kept; returns whether it was.
 */
bool
CampaignCacheLookup(const char *campaign, CampaignTarget *target)
{
	for (int i = 0; i < CAMPAIGN_CACHE_SIZE; i++)
	{
		CampaignCacheEntry *e = &campaign_cache[i];

		if (e->context == NULL || strcmp(e->target.campaign, campaign) != 0)
			continue;
		if (!SnapshotStampStillValid(&e->stamp))
			return false;
		e->last_used = ++campaign_cache_clock;
		campaign_target_copy(&e->target, target);
		elog(DEBUG2, "personalize: campaign \"%s\" resolved from the cache", campaign);
		return true;
	}
	return false;
}

/*
 * Keep target, just read under the active snapshot, in place of the same
 * campaign's entry or the least recently used one.  Nothing is kept when
 * the snapshot cannot be reused (the transaction has written, recovery).
 */
void
CampaignCacheStore(const CampaignTarget *target)
{
	CampaignCacheEntry *slot = NULL;
	MemoryContext context;
	MemoryContext old;

	for (int i = 0; i < CAMPAIGN_CACHE_SIZE && slot == NULL; i++)
		if (campaign_cache[i].context != NULL &&
			strcmp(campaign_cache[i].target.campaign, target->campaign) == 0)
			slot = &campaign_cache[i];
	for (int i = 0; i < CAMPAIGN_CACHE_SIZE && slot == NULL; i++)
		if (campaign_cache[i].context == NULL)
			slot = &campaign_cache[i];
	if (slot == NULL)
	{
		slot = &campaign_cache[0];
		for (int i = 1; i < CAMPAIGN_CACHE_SIZE; i++)
			if (campaign_cache[i].last_used < slot->last_used)
				slot = &campaign_cache[i];
	}
	if (slot->context != NULL)
	{
		MemoryContextDelete(slot->context);
		slot->context = NULL;
	}

	/* built completely before the slot points to it: an error leaves it empty */
	context = AllocSetContextCreate(CacheMemoryContext, "personalize campaign",
									ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(context);
	campaign_target_copy(target, &slot->target);
	MemoryContextSwitchTo(old);
	SnapshotStampTake(&slot->stamp, context);
	if (!slot->stamp.valid)
	{
		MemoryContextDelete(context);
		return;
	}
	slot->last_used = ++campaign_cache_clock;
	slot->context = context;
}
