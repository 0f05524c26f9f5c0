/*-------------------------------------------------------------------------
 *
 * evaluate.h
 *	  Offline metrics with Amazon Personalize's holdout protocol.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/evaluate.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_EVALUATE_H
#define PERSONALIZE_EVALUATE_H

#include "lib/stringinfo.h"

#include "recipe.h"

/* An entry of one user's history while ordering it by time. */
typedef struct TimedItem
{
	int32		item;
	float		count;
	double		time;
} TimedItem;

/* Relevant (newest) items of a held-out user with len distinct items. */
#define EVALUATION_RELEVANT(len) Max((len) / 10, 1)

extern int32 EvaluationHoldout(const InteractionMatrix *m, uint64 seed,
							   int32 *held_out, bool *keep);
extern int32 EvaluationUserItems(const InteractionMatrix *m, int32 u, TimedItem *items);

extern void EvaluateRecipe(const InteractionMatrix *m, const Recipe *recipe,
						   Jsonb *hyperparameters, uint64 seed,
						   ProgressCallback progress, void *arg,
						   StringInfo metrics);

#endif							/* PERSONALIZE_EVALUATE_H */
