/*-------------------------------------------------------------------------
 *
 * exploration.h
 *	  Exploration of young items in recommend(), as Personalize's
 *	  user-personalization does (campaign config exploration_weight and
 *	  exploration_item_age_cut_off).
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/exploration.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_EXPLORATION_H
#define PERSONALIZE_EXPLORATION_H

#include <math.h>

#include "model.h"

/* Personalize's defaults for a campaign whose config does not set them. */
#define EXPLORATION_DEFAULT_WEIGHT 0.3
#define EXPLORATION_DEFAULT_AGE_CUT_OFF 30.0

/*
 * Is an item of age_days (NaN: unknown) young for age_cut_off?  The one
 * test of exploration.c, and of compact.c, which adds the bonus again.
 */
static inline bool
ExplorationIsYoung(float age_days, double age_cut_off)
{
	return !(isnan(age_days) || age_days > age_cut_off);
}

/*
 * How much of the bonus a young item gets, 1 / sqrt(1 + its users): the
 * one expression of exploration.c, compact.c and the shared segment's
 * copy (model_shared.c), which must agree to the bit.
 */
static inline float
ExplorationDamping(float popularity)
{
	return (float) (1.0 / sqrt(1.0 + popularity));
}

/*
 * A young item's logit raised by scale times its damping, in double
 * (exploration_apply, and compact.c for an item it makes exact later).
 */
static inline float
ExplorationAddBonus(float logit, double scale, float damping)
{
	return (float) ((double) logit + scale * damping);
}

extern bool ExplorationApplies(LoadedModel *lm, double weight, double age_cut_off);
extern double ExplorationSoftmax(LoadedModel *lm, float *scores, double weight,
								double age_cut_off, float *max_score, struct CompactQuery *q);

#endif							/* PERSONALIZE_EXPLORATION_H */
