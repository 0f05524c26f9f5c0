/*-------------------------------------------------------------------------
 *
 * promotion.h
 *	  The promotion argument of recommend() and get_recommendations():
 *	  Personalize's Promotion, read and checked, and where its items go.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/promotion.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_PROMOTION_H
#define PERSONALIZE_PROMOTION_H

#include "utils/jsonb.h"

/* A request's promotion. */
typedef struct Promotion
{
	char	   *name;			/* promotion_name of its rows */
	char	   *filter;			/* the promotion filter's name */
	Jsonb	   *filter_values;	/* its values, or NULL */
	int			percent;		/* 1..100 */
} Promotion;

extern void PromotionRead(Jsonb *arg, Promotion *out);
extern int	PromotionSlots(const Promotion *promotion, int num_results);
extern void PromotionPositions(const char *seed, int n_total, int n_promoted, bool *promoted);

#endif							/* PERSONALIZE_PROMOTION_H */
