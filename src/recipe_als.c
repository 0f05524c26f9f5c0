/*-------------------------------------------------------------------------
 *
 * recipe_als.c
 *	  user-personalization: implicit-feedback matrix factorization.
 *
 * The model is Hu, Koren and Volinsky, "Collaborative Filtering for
 * Implicit Feedback Datasets" (ICDM 2008): every user-item pair has a
 * preference p (1 when the user interacted, else 0) and a confidence
 * c = 1 + alpha * count, and the factors minimise
 *     sum c (p - x_u . y_i)^2 + regularization (|x_u|^2 + |y_i|^2).
 * Alternating least squares updates all users, then all items; each
 * k x k system (Y^T Y + lambda I + Y^T (C_u - I) Y) x = Y^T C_u p is solved
 * approximately with a few conjugate gradient steps warm-started from the
 * previous sweep (Takacs, Pilaszy and Tikk, "Applications of the conjugate
 * gradient method for implicit feedback collaborative filtering", RecSys
 * 2011), so a sweep costs O(nnz k + rows k^2) instead of O(rows k^3).
 *
 * Only item factors are stored.  A user is folded in at request time by
 * solving the same system exactly (Cholesky) from the user's current
 * history, so new events count without retraining.
 *
 * The per-row kernel is als_kernel.c; the sweeps over all rows, in this
 * process or shared with helper processes, are als_parallel.c.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/recipe_als.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/pg_prng.h"
#include "miscadmin.h"

#include "als.h"
#include "blas.h"
#include "kernel.h"
#include "metadata.h"
#include "personalize.h"
#include "recipe.h"

/*
 * The user side with one pseudo-user per item feature appended (rows
 * n_users.. of users), and the item side with those pseudo-users among each
 * item's users, every such interaction weighing feature_weight.  An item
 * without interactions is then still tied to the items that share its
 * features, so it gets factors (Personalize's cold items).
 */
static void
als_add_item_features(const InteractionMatrix *m, const EntityMetadata *md,
					  float feature_weight, AlsSide *users, AlsSide *items)
{
	int32		nf = md->space.n_features;
	int32		nu = m->n_users;
	int64		extra = md->ptr[Min(md->n_rows, m->n_items)];
	int64	   *uptr = palloc_extended(sizeof(int64) * ((Size) nu + nf + 1), MCXT_ALLOC_HUGE);
	int32	   *uidx = palloc_extended(sizeof(int32) * Max(m->nnz + extra, 1), MCXT_ALLOC_HUGE);
	float	   *uw = palloc_extended(sizeof(float) * Max(m->nnz + extra, 1), MCXT_ALLOC_HUGE);
	int64	   *iptr = palloc_extended(sizeof(int64) * ((Size) m->n_items + 1), MCXT_ALLOC_HUGE);
	int32	   *iidx = palloc_extended(sizeof(int32) * Max(m->nnz + extra, 1), MCXT_ALLOC_HUGE);
	float	   *iw = palloc_extended(sizeof(float) * Max(m->nnz + extra, 1), MCXT_ALLOC_HUGE);
	int64		e = 0;

	/* users: the real rows, then each feature's items (a transpose of md) */
	memcpy(uptr, m->user_ptr, sizeof(int64) * ((Size) nu + 1));
	memcpy(uidx, m->user_items, sizeof(int32) * m->nnz);
	memcpy(uw, m->user_weights, sizeof(float) * m->nnz);
	memset(uptr + nu + 1, 0, sizeof(int64) * nf);
	for (int32 i = 0; i < Min(md->n_rows, m->n_items); i++)
		for (int64 f = md->ptr[i]; f < md->ptr[i + 1]; f++)
			uptr[nu + 1 + md->features[f]]++;
	for (int32 f = 0; f < nf; f++)
		uptr[nu + 1 + f] += uptr[nu + f];
	{
		int64	   *fill = palloc(sizeof(int64) * Max(nf, 1));

		memcpy(fill, uptr + nu, sizeof(int64) * nf);
		for (int32 i = 0; i < Min(md->n_rows, m->n_items); i++)
			for (int64 f = md->ptr[i]; f < md->ptr[i + 1]; f++)
			{
				int64		at = fill[md->features[f]]++;

				uidx[at] = i;
				uw[at] = feature_weight;
			}
		pfree(fill);
	}

	/* items: their real users, then their features as pseudo-users */
	for (int32 i = 0; i < m->n_items; i++)
	{
		iptr[i] = e;
		memcpy(iidx + e, m->item_users + m->item_ptr[i], sizeof(int32) * (m->item_ptr[i + 1] - m->item_ptr[i]));
		memcpy(iw + e, m->item_weights + m->item_ptr[i], sizeof(float) * (m->item_ptr[i + 1] - m->item_ptr[i]));
		e += m->item_ptr[i + 1] - m->item_ptr[i];
		if (i < md->n_rows)
			for (int64 f = md->ptr[i]; f < md->ptr[i + 1]; f++)
			{
				iidx[e] = nu + md->features[f];
				iw[e++] = feature_weight;
			}
	}
	iptr[m->n_items] = e;

	users->n_rows = nu + nf;
	users->ptr = uptr;
	users->idx = uidx;
	users->weight = uw;
	items->n_rows = m->n_items;
	items->ptr = iptr;
	items->idx = iidx;
	items->weight = iw;
}

/*
 * Fit user and item factors by alternating least squares.  With item_md,
 * item features enter as pseudo-users (als_add_item_features).  When
 * user_factors_out is not NULL it receives the n_users x k user factors.
 */
void
AlsFit(const InteractionMatrix *m, Jsonb *hyperparameters, RecipeModel *model,
	   ProgressCallback progress, void *arg, const EntityMetadata *item_md,
	   double feature_weight, float **user_factors_out)
{
	int			k = (int) HyperparamNumber(hyperparameters, "factors", 64);
	int			iterations = (int) HyperparamNumber(hyperparameters, "iterations", 15);
	int			cg_steps = (int) HyperparamNumber(hyperparameters, "cg_steps", 3);
	uint64		seed = (uint64) HyperparamNumber(hyperparameters, "seed", 42);
	double		alpha = HyperparamNumber(hyperparameters, "alpha", 1.0);
	double		regularization = HyperparamNumber(hyperparameters, "regularization", 1.0);
	double		recency_half_life = HyperparamNumber(hyperparameters, "recency_half_life", 20);
	float	   *item_factors;
	pg_prng_state rng;
	char		step[64];
	AlsProblem	problem;
	AlsSweeper *sweeper;
	instr_time	lap;

	INSTR_TIME_SET_CURRENT(lap);
	problem.users = (AlsSide) {m->n_users, m->user_ptr, m->user_items, m->user_weights};
	problem.items = (AlsSide) {m->n_items, m->item_ptr, m->item_users, m->item_weights};
	problem.k = k;
	problem.cg_steps = cg_steps;
	problem.alpha = (float) alpha;
	problem.regularization = (float) regularization;

	RecipeCountPopularity(m, model);
	model->k = k;
	model->alpha = alpha;
	model->regularization = regularization;
	model->recency_half_life = recency_half_life;
	if (item_md != NULL && item_md->space.n_features > 0 && feature_weight > 0)
		als_add_item_features(m, item_md, (float) feature_weight, &problem.users, &problem.items);

	/* user factors start at zero; CG warm-starts each sweep from the last */
	sweeper = AlsSweeperBegin(&problem);
	item_factors = AlsSweeperItemFactors(sweeper);
	if (model->warm_factors != NULL)
	{
		/* UPDATE: start from the previous version; a third of the sweeps */
		memcpy(item_factors, model->warm_factors, sizeof(float) * (Size) m->n_items * k);
		iterations = Max(1, (iterations + 2) / 3);
	}
	else
	{
		/* Small positive random item factors, reproducible from the seed. */
		pg_prng_seed(&rng, seed);
		for (Size i = 0; i < (Size) m->n_items * k; i++)
			item_factors[i] = (float) (pg_prng_double(&rng) * 0.01);
	}

	PersonalizeDebugLap("ALS set up", &lap);
	for (int it = 0; it < iterations; it++)
	{
		AlsSweeperUpdate(sweeper, true);
		AlsSweeperUpdate(sweeper, false);
		snprintf(step, sizeof(step), "iteration %d of %d", it + 1, iterations);
		progress(arg, (double) (it + 1) / iterations, step);
	}
	PersonalizeDebugLap("ALS sweeps", &lap);
	AlsSweeperEnd(sweeper, user_factors_out, &model->factors);
	PersonalizeDebugLap("ALS finished", &lap);
}

/*
 * Train item factors by alternating least squares (user-personalization).
 */
static void
als_train(const InteractionMatrix *m, Jsonb *hyperparameters,
		  RecipeModel *model, ProgressCallback progress, void *arg)
{
	AlsFit(m, hyperparameters, model, progress, arg, NULL, 0, NULL);
}

/*
 * Train as user-personalization, keeping the user factors: the users most
 * likely to interact with an item are those whose factors score it highest.
 */
static void
affinity_train(const InteractionMatrix *m, Jsonb *hyperparameters,
			   RecipeModel *model, ProgressCallback progress, void *arg)
{
	AlsFit(m, hyperparameters, model, progress, arg, NULL, 0, &model->user_factors);
}

/*
 * Cache the regularised Gram matrix of the item factors for fold-in.
 */
void
AlsPrepare(RecipeModel *model)
{
	int			k = model->k;

	/* none without factors; one already when attached from shared memory (model_shared.c) */
	if (model->factors == NULL || model->gram != NULL)
		return;
	model->gram = palloc(sizeof(float) * k * k);
	BlasGram(model->factors, model->n_items, k, model->gram);
	for (int f = 0; f < k; f++)
		model->gram[f * k + f] += (float) model->regularization;
}

/*
 * Fold the user in from history by solving the ALS user system exactly:
 * (Y^T Y + reg I + sum_h (c_h - 1) y_h y_h^T) x = sum_h c_h y_h, the
 * history's rank-one terms added in one BLAS update.  Returns false for a
 * cold user or a system that is not positive definite.
 */
bool
AlsFoldIn(const RecipeModel *model, int n, const int32 *history,
		  const float *counts, float *x)
{
	int			k = model->k;
	float	   *a;
	float	   *scaled;
	bool		solved;

	if (n == 0 || model->factors == NULL)
		return false;
	a = palloc(sizeof(float) * k * k);
	scaled = palloc(sizeof(float) * (Size) n * k);
	memcpy(a, model->gram, sizeof(float) * k * k);
	memset(x, 0, sizeof(float) * k);
	/*
	 * The history's factor rows are scattered over the catalogue's: ask for
	 * all of them at once rather than wait on each in turn (that wait was
	 * most of this function's time at 27k items).
	 */
	for (int h = 0; h < n; h++)
		KernelPrefetch(model->factors + (Size) history[h] * k, sizeof(float) * k);
	for (int h = 0; h < n; h++)
	{
		const float *restrict y = model->factors + (Size) history[h] * k;
		float	   *restrict row = scaled + (Size) h * k;
		float	   *restrict sum = x;
		float		c = 1.0f + (float) model->alpha * counts[h];
		float		w = sqrtf(Max(c - 1.0f, 0.0f));	/* alpha >= 0 */

		/* one loop, no BLAS call per event (the calls cost more than the work) */
		for (int f = 0; f < k; f++)
		{
			row[f] = w * y[f];
			sum[f] += c * y[f];
		}
	}
	BlasGramAdd(scaled, n, k, a);
	solved = BlasCholeskySolve(a, k, x);
	pfree(a);
	pfree(scaled);
	return solved;
}

/*
 * Score every item by x . y_i for the folded-in user x.  Cold users get
 * popularity scores.
 */
bool
AlsScore(const RecipeModel *model, int n, const int32 *history,
		  const float *counts, float *scores)
{
	float	   *x = palloc(sizeof(float) * Max(model->k, 1));
	bool		solved = AlsFoldIn(model, n, history, counts, x);

	if (solved)
		BlasGemv(model->factors, model->n_items, model->k, x, scores);
	else
		RecipeScorePopularity(model, scores);
	pfree(x);
	return solved;
}

const Recipe UserPersonalizationRecipe = {
	.name = "user-personalization",
	.incremental = true,
	.explores = true,
	.train = als_train,
	.prepare = AlsPrepare,
	.score = AlsScore,
	.fold_in = AlsFoldIn,
};

/* The same model with user factors, deployed for user_segment (USER_SEGMENTATION). */
const Recipe ItemAffinityRecipe = {
	.name = "item-affinity",
	.keeps_users = true,
	.train = affinity_train,
	.prepare = AlsPrepare,
	.score = AlsScore,
	.fold_in = AlsFoldIn,
};

/*
 * The same model with user factors, whose segments are asked for by item
 * attribute predicate (user_segment, recommend.c, scores the users against
 * the matching items).
 */
const Recipe ItemAttributeAffinityRecipe = {
	.name = "item-attribute-affinity",
	.keeps_users = true,
	.segments_by_attributes = true,
	.train = affinity_train,
	.prepare = AlsPrepare,
	.score = AlsScore,
	.fold_in = AlsFoldIn,
};

/* The same model, deployed for personalized_rank only (PERSONALIZED_RANKING). */
const Recipe PersonalizedRankingRecipe = {
	.name = "personalized-ranking",
	.incremental = true,
	.train = als_train,
	.prepare = AlsPrepare,
	.score = AlsScore,
	.fold_in = AlsFoldIn,
};
