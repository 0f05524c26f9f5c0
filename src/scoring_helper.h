/*-------------------------------------------------------------------------
 *
 * scoring_helper.h
 *	  A background worker scoring part of a large catalogue for recommend()
 *	  (scoring_helper.c).
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/scoring_helper.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_SCORING_HELPER_H
#define PERSONALIZE_SCORING_HELPER_H

#include "postgres.h"

#include "storage/dsm.h"

#include "compact.h"

extern void ScoringHelperInit(bool models_shared);
extern bool ScoringHelperWanted(int32 n_items);
extern bool ScoringHelperBufferReusable(dsm_segment *segment);
extern void ScoringHelperServing(bool serving);
extern void ScoringHelperScore(CompactQuery *q, dsm_segment *model_segment, float *scores,
							   dsm_segment *buffer_segment);
extern void ScoringHelperAddBonus(float *scores, const float *weights, int32 n, double scale,
								  float ceiling, double *block_sums, dsm_segment *model_segment,
								  dsm_segment *buffer_segment);

#endif							/* PERSONALIZE_SCORING_HELPER_H */
