/*-------------------------------------------------------------------------
 *
 * recipe_trending.c
 *	  trending-now (POPULAR_ITEMS): items whose interaction rate grows
 *	  fastest, as Amazon Personalize's Trending-Now recipe.
 *
 * With c1 the interactions of an item in the latest window of
 * trend_discovery_frequency hours and c0 those in the window before, an
 * item's trend is
 *     (c1 - c0) / sqrt(c0 + c1 + 1)
 * the growth measured in standard deviations of a Poisson count, so a
 * jump from 100 to 150 outranks one from 1 to 3 and mere popularity does
 * not trend.
 *
 * Requests compute trends from the live interactions relation relative to
 * now (runtime.c), so new events count at once.  Training keeps the
 * trend of the training data relative to its latest event as a snapshot
 * (one factor per item), served when the live windows are empty (for
 * example historical data) and used by the offline metrics; with no trend
 * at all, items fall back to popularity.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/recipe_trending.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "recipe.h"

/* Weight of the popularity prior that orders items without a trend. */
#define TRENDING_POPULARITY_PRIOR 1e-6f

/*
 * Trend of an item with c1 recent and c0 earlier interactions.
 */
float
TrendScore(double c1, double c0)
{
	return (float) ((c1 - c0) / sqrt(c0 + c1 + 1.0));
}

/*
 * Count popularity and keep the trend of the training data, relative to
 * its latest interaction, as a one-factor-per-item snapshot.
 */
static void
trending_train(const InteractionMatrix *m, Jsonb *hyperparameters,
			   RecipeModel *model, ProgressCallback progress, void *arg)
{
	double		window = HyperparamNumber(hyperparameters, "trend_discovery_frequency", 24) * 3600.0;
	double		latest = -INFINITY;
	double	   *recent = palloc0(sizeof(double) * Max(m->n_items, 1));
	double	   *earlier = palloc0(sizeof(double) * Max(m->n_items, 1));

	/* a split carries the times only for recipes with trains_on_times */
	Assert(m->user_times != NULL);
	RecipeCountPopularity(m, model);
	for (int64 e = 0; e < m->nnz; e++)
		latest = Max(latest, m->user_times[e]);
	for (int32 u = 0; u < m->n_users; u++)
	{
		if ((u & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int64 e = m->user_ptr[u]; e < m->user_ptr[u + 1]; e++)
		{
			double		age = latest - m->user_times[e];

			if (age < window)
				recent[m->user_items[e]] += 1.0;
			else if (age < 2 * window)
				earlier[m->user_items[e]] += 1.0;
		}
	}
	model->k = 1;
	model->factors = palloc(sizeof(float) * Max(m->n_items, 1));
	for (int32 i = 0; i < m->n_items; i++)
		model->factors[i] = TrendScore(recent[i], earlier[i]);
	pfree(recent);
	pfree(earlier);
	progress(arg, 1.0, "trends");
}

/*
 * Score items by the trend snapshot, popularity breaking ties.
 */
static bool
trending_score(const RecipeModel *model, int n, const int32 *history,
			   const float *weights, float *scores)
{
	float		users = Max(model->n_users, 1);

	for (int32 i = 0; i < model->n_items; i++)
		scores[i] = TRENDING_POPULARITY_PRIOR * model->popularity[i] / users +
			(model->factors != NULL ? model->factors[i] : 0.0f);
	return false;
}

const Recipe TrendingNowRecipe = {
	.name = "trending-now",
	.trains_on_times = true,
	.train = trending_train,
	.score = trending_score,
};
