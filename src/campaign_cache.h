/*-------------------------------------------------------------------------
 *
 * campaign_cache.h
 *	  Resolved campaigns kept across statements while provably fresh.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/campaign_cache.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_CAMPAIGN_CACHE_H
#define PERSONALIZE_CAMPAIGN_CACHE_H

#include "runtime.h"

extern bool CampaignCacheLookup(const char *campaign, CampaignTarget *target);
extern void CampaignCacheStore(const CampaignTarget *target);

#endif							/* PERSONALIZE_CAMPAIGN_CACHE_H */
