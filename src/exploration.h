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

#include "model.h"

/* Personalize's defaults for a campaign whose config does not set them. */
#define EXPLORATION_DEFAULT_WEIGHT 0.3
#define EXPLORATION_DEFAULT_AGE_CUT_OFF 30.0

extern bool ExplorationApplies(LoadedModel *lm, double weight, double age_cut_off);
extern double ExplorationSoftmax(LoadedModel *lm, float *scores, double weight,
								double age_cut_off, float *max_score, struct CompactQuery *q);

#endif							/* PERSONALIZE_EXPLORATION_H */
