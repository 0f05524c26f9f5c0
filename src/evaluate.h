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

/* Averaged metrics of one model over some held-out users (cutoffs 5, 10, 25). */
typedef struct EvaluationMetrics
{
	int32		users;
	double		coverage;
	double		mrr;			/* at 25 */
	double		precision[3];
	double		recall[3];		/* reported at 10 and 25 */
	double		ndcg[3];
} EvaluationMetrics;

/* Buffers for scoring a batch of held-out users of a factor model. */
typedef struct EvaluationBatchWork
{
	bool	   *solved;
	int32	   *input;
	float	   *counts;
	float	   *x;
	float	   *scores;
	int32	   *top;
} EvaluationBatchWork;

extern int32 EvaluateHoldOut(const InteractionMatrix *m, const bool *eligible, int divisor,
							 uint64 seed, bool *keep, int32 *heldout);
extern int32 EvaluationUserItems(const InteractionMatrix *m, int32 u, TimedItem *items);
extern void EvaluationSortItems(TimedItem *items, int32 len);
extern int	EvaluationBatchSize(const RecipeModel *model);
extern EvaluationBatchWork *EvaluationBatchWorkAlloc(const RecipeModel *model, int batch,
													 int32 max_len);
extern void EvaluationBatchWorkFree(EvaluationBatchWork *w);
extern void EvaluationScoreBatch(const RecipeModel *model, EvaluationBatchWork *w,
								 TimedItem *const *items, const int32 *len, int nb,
								 EvaluationMetrics *one, bool *recommended);
extern void EvaluationAddUser(EvaluationMetrics *sums, const EvaluationMetrics *one);

/* evaluate_parallel.c */
extern bool EvaluateFactorUsersInParallel(const InteractionMatrix *m, const RecipeModel *model,
										  const int32 *users, int32 n, int32 max_len,
										  EvaluationMetrics *sums, bool *recommended);
extern void EvaluateUsers(const InteractionMatrix *m, const Recipe *recipe,
						  const RecipeModel *model, const int32 *users, int32 n,
						  EvaluationMetrics *metrics);
extern void EvaluationAppendJson(StringInfo out, const char *prefix,
								 const EvaluationMetrics *metrics);
extern bool EvaluationMetricValue(const EvaluationMetrics *metrics, const char *name,
								  double *value);
extern void EvaluateRecipe(const InteractionMatrix *m, const Recipe *recipe,
						   Jsonb *hyperparameters, uint64 seed,
						   ProgressCallback progress, void *arg,
						   StringInfo metrics);

#endif							/* PERSONALIZE_EVALUATE_H */
