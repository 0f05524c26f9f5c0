/*-------------------------------------------------------------------------
 *
 * context.h
 *	  Contextual recommendations: the context columns of the interactions
 *	  dataset, learnt per value at training time, applied per request.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/context.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_CONTEXT_H
#define PERSONALIZE_CONTEXT_H

#include "utils/jsonb.h"

#include "model.h"
#include "recipe.h"

extern double personalize_context_weight;

extern void ContextGucInit(void);
extern void ContextStore(int64 version, const char *dataset_group, const Recipe *recipe);
extern void ContextApply(int64 version, const char *dataset_group, Jsonb *context,
						 const LoadedModel *lm, float *scores, bool logits);

#endif							/* PERSONALIZE_CONTEXT_H */
