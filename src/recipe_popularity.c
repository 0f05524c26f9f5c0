/*-------------------------------------------------------------------------
 *
 * recipe_popularity.c
 *	  popularity-count: items ranked by how many distinct users interacted
 *	  with them.  The baseline every other recipe is compared with.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/recipe_popularity.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "recipe.h"

/*
 * Count distinct users per item.
 */
static void
popularity_train(const InteractionMatrix *m, Jsonb *hyperparameters,
				 RecipeModel *model, ProgressCallback progress, void *arg)
{
	RecipeCountPopularity(m, model);
	progress(arg, 1.0, "counted");
}

/*
 * Every user gets the same scores; history only excludes items (runtime).
 */
static bool
popularity_score(const RecipeModel *model, int n, const int32 *history,
				 const float *counts, float *scores)
{
	RecipeScorePopularity(model, scores);
	return false;
}

const Recipe PopularityCountRecipe = {
	.name = "popularity-count",
	.train = popularity_train,
	.score = popularity_score,
};
