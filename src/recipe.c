/*-------------------------------------------------------------------------
 *
 * recipe.c
 *	  The recipe registry and what recipes share: popularity counts and
 *	  popularity scores (the cold-start answer of every recipe).
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/recipe.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "recipe.h"

static const Recipe *const recipes[] = {
	&PopularityCountRecipe,
	&UserPersonalizationRecipe,
	&EaseRecipe,
	&SimsRecipe,
	&PersonalizedRankingRecipe,
	&TrendingNowRecipe,
	&ItemAffinityRecipe,
	&SimilarItemsRecipe,
	&UserPersonalizationMetadataRecipe,
	&ItemAttributeAffinityRecipe,
};

/*
 * Return the recipe called name, or NULL.
 */
const Recipe *
RecipeLookup(const char *name)
{
	for (int i = 0; i < lengthof(recipes); i++)
		if (strcmp(recipes[i]->name, name) == 0)
			return recipes[i];
	return NULL;
}

/*
 * Set model->popularity to the number of distinct users per item.
 */
void
RecipeCountPopularity(const InteractionMatrix *m, RecipeModel *model)
{
	model->n_items = m->n_items;
	model->n_users = m->n_users;
	model->popularity = palloc_extended(sizeof(float) * Max(m->n_items, 1), MCXT_ALLOC_HUGE);
	for (int32 i = 0; i < m->n_items; i++)
		model->popularity[i] = (float) (m->item_ptr[i + 1] - m->item_ptr[i]);
}

/*
 * Score items by the share of training users who interacted with them.
 */
void
RecipeScorePopularity(const RecipeModel *model, float *scores)
{
	float		users = Max(model->n_users, 1);

	for (int32 i = 0; i < model->n_items; i++)
		scores[i] = model->popularity[i] / users;
}

/*
 * Weight of a user's event that has newer_events more recent events of the
 * same user: it halves every recency_half_life events (1 when there is no
 * decay).  Recent behaviour predicts the next interaction best.
 */
float
RecipeRecencyWeight(const RecipeModel *model, int newer_events)
{
	if (model->recency_half_life <= 0)
		return 1.0f;
	return (float) pow(0.5, newer_events / model->recency_half_life);
}

/*
 * Derive what scoring needs from a trained or loaded model.
 */
void
RecipeFinishModel(const Recipe *recipe, RecipeModel *model)
{
	if (recipe->prepare != NULL)
		recipe->prepare(model);
}
