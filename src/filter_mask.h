/*-------------------------------------------------------------------------
 *
 * filter_mask.h
 *	  Which of a model's items pass an item-attribute filter, computed
 *	  once and reused while provably fresh.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/filter_mask.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_FILTER_MASK_H
#define PERSONALIZE_FILTER_MASK_H

#include "postgres.h"

#include "filter.h"
#include "model.h"

extern const bool *FilterMaskGet(const CompiledFilter *filter, Jsonb *values, const LoadedModel *lm);

#endif							/* PERSONALIZE_FILTER_MASK_H */
