/*-------------------------------------------------------------------------
 *
 * recipe_ease.c
 *	  ease: Embarrassingly Shallow Autoencoder (Steck, "Embarrassingly
 *	  Shallow Autoencoders for Sparse Data", WWW 2019).
 *
 * EASE learns an items x items weight matrix B with a zero diagonal that
 * best reconstructs each user's interactions from their other ones.  It
 * has a closed form: with G = X^T X + lambda I (X the binary user x item
 * matrix) and P = G^-1, B_ij = -P_ij / P_jj for i != j.  A user with
 * history weights w scores item j as sum_i w_i B_ij, so users are folded
 * in at request time like user-personalization, recency weighting
 * included.
 *
 * The matrix is dense, so the catalogue is capped by
 * personalize.ease_max_items; B is stored as one row of n_items weights
 * per item in the model's factors column.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/recipe_ease.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "blas.h"
#include "personalize.h"
#include "recipe.h"

/*
 * Raise an error before allocating when the catalogue is too large.
 */
static void
ease_check_size(int32 n_items)
{
	Size		bytes = mul_size(mul_size((Size) n_items, (Size) n_items), sizeof(float));

	if (n_items > personalize_ease_max_items)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("catalogue of %d items is too large for recipe \"ease\"", n_items),
				 errdetail("EASE needs an items x items matrix of %zu MB.", bytes / (1024 * 1024)),
				 errhint("Raise personalize.ease_max_items (now %d), or use recipe \"user-personalization\".",
						 personalize_ease_max_items)));
	if (bytes / 1024 > (Size) personalize_training_memory_kb)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("recipe \"ease\" needs %zu MB for %d items, more than personalize.training_memory (%d MB)",
						bytes / (1024 * 1024), n_items, personalize_training_memory_kb / 1024),
				 errhint("Raise personalize.training_memory.")));
}

/*
 * Compute B in closed form.
 */
static void
ease_train(const InteractionMatrix *m, Jsonb *hyperparameters,
		   RecipeModel *model, ProgressCallback progress, void *arg)
{
	double		lambda = HyperparamNumber(hyperparameters, "lambda", 500.0);
	int32		n = m->n_items;
	float	   *g;
	float	   *diagonal;

	ease_check_size(n);
	RecipeCountPopularity(m, model);
	model->recency_half_life = HyperparamNumber(hyperparameters, "recency_half_life", 20);

	/* Upper triangle of G = X^T X from each user's co-occurring items. */
	g = palloc_extended(sizeof(float) * Max((Size) n * n, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (int32 u = 0; u < m->n_users; u++)
	{
		int64		lo = m->user_ptr[u],
					hi = m->user_ptr[u + 1];

		if ((u & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		/* user rows are sorted by item, so a <= b */
		for (int64 e = lo; e < hi; e++)
		{
			float	   *row = g + (Size) m->user_items[e] * n;

			for (int64 f = e; f < hi; f++)
				row[m->user_items[f]] += 1.0f;
		}
	}
	for (int32 i = 0; i < n; i++)
		g[(Size) i * n + i] += (float) lambda;
	progress(arg, 0.3, "Gram matrix built");

	CHECK_FOR_INTERRUPTS();
	if (!BlasSymmetricInverse(g, n))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("recipe \"ease\" could not invert its Gram matrix"),
				 errhint("Use a larger lambda.")));
	progress(arg, 0.9, "inverted");

	/* B_ij = -P_ij / P_jj, zero diagonal (the diagonal is saved first). */
	diagonal = palloc(sizeof(float) * Max(n, 1));
	for (int32 j = 0; j < n; j++)
		diagonal[j] = g[(Size) j * n + j];
	for (int32 i = 0; i < n; i++)
	{
		float	   *row = g + (Size) i * n;

		CHECK_FOR_INTERRUPTS();
		for (int32 j = 0; j < n; j++)
			row[j] = (i == j) ? 0.0f : -row[j] / diagonal[j];
	}
	pfree(diagonal);
	model->factors = g;
	model->k = n;
	progress(arg, 1.0, "weights");
}

/*
 * Score items as the weighted sum of the rows of B of the history items.
 */
static bool
ease_score(const RecipeModel *model, int n, const int32 *history,
		   const float *weights, float *scores)
{
	if (n == 0 || model->factors == NULL)
	{
		RecipeScorePopularity(model, scores);
		return false;
	}
	memset(scores, 0, sizeof(float) * model->n_items);
	for (int h = 0; h < n; h++)
		BlasAxpy(weights[h], model->factors + (Size) history[h] * model->k, scores, model->n_items);
	return true;
}

const Recipe EaseRecipe = {
	.name = "ease",
	.train = ease_train,
	.score = ease_score,
};
