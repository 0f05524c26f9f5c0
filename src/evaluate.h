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

extern void EvaluateRecipe(const InteractionMatrix *m, const Recipe *recipe,
						   Jsonb *hyperparameters, uint64 seed,
						   ProgressCallback progress, void *arg,
						   StringInfo metrics);

#endif							/* PERSONALIZE_EVALUATE_H */
