/*-------------------------------------------------------------------------
 *
 * topk.h
 *	  Exact top-K selection over a score array.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/topk.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_TOPK_H
#define PERSONALIZE_TOPK_H

#include "postgres.h"

extern int	TopK(const float *scores, int32 n, int k, int32 *out);
extern int	TopKSpans(const float *scores, int32 n, const float *span_max, int k, int32 *out);
extern float SpanMax(const float *scores, int32 n, float *span_max);
extern void SpansRefresh(const float *scores, int32 from, int32 to, float *span_max);
extern int	TopKOf(const float *scores, const int32 *items, int32 n, int k, int32 *out);
extern double SoftmaxDenominator(const float *scores, int32 n, float max_score);

#endif							/* PERSONALIZE_TOPK_H */
