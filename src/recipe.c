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

/*
 * Start model's neighbour lists for n_items items, with room for capacity
 * entries (more are made as needed).
 */
void
NeighborListsBegin(NeighborLists *lists, RecipeModel *model, const char *recipe,
				   int32 n_items, Size capacity)
{
	lists->model = model;
	lists->recipe = recipe;
	lists->n_items = n_items;
	lists->capacity = Max(capacity, 1);
	lists->total = 0;
	lists->last_tenth = 0;
	model->neighbor_ptr = palloc(sizeof(int32) * ((Size) n_items + 1));
	model->neighbors = palloc_extended(sizeof(int32) * lists->capacity, MCXT_ALLOC_HUGE);
	model->neighbor_scores = palloc_extended(sizeof(float) * lists->capacity, MCXT_ALLOC_HUGE);
}

/*
 * Append the list of item (the next in index order): the items ids[best[r]]
 * with scores scores[best[r]], r < n_best, best first; and report each
 * tenth of the items done as progress (step names the phase).
 */
void
NeighborListsAppend(NeighborLists *lists, int32 item, const int32 *ids, const float *scores,
					const int32 *best, int n_best, ProgressCallback progress, void *arg,
					const char *step)
{
	RecipeModel *model = lists->model;
	int32		n = lists->n_items;

	model->neighbor_ptr[item] = (int32) lists->total;
	if ((Size) lists->total + n_best > lists->capacity)
	{
		lists->capacity = Max(lists->capacity * 2, (Size) lists->total + n_best);
		if (lists->capacity > (Size) PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("recipe \"%s\" keeps too many neighbours", lists->recipe),
					 errhint("Lower the neighbors hyperparameter.")));
		model->neighbors = repalloc_huge(model->neighbors, sizeof(int32) * lists->capacity);
		model->neighbor_scores = repalloc_huge(model->neighbor_scores, sizeof(float) * lists->capacity);
	}
	for (int r = 0; r < n_best; r++)
	{
		model->neighbors[lists->total] = ids[best[r]];
		model->neighbor_scores[lists->total] = scores[best[r]];
		lists->total++;
	}
	/* in 64 bits: (item + 1) * 10 overflows int32 past 214M items */
	if (n > 0 && ((int64) item + 1) * 10 / n > lists->last_tenth)
	{
		lists->last_tenth = (int) (((int64) item + 1) * 10 / n);
		progress(arg, (double) (item + 1) / n, step);
	}
}

/* Close the lists once every item has its own. */
void
NeighborListsEnd(NeighborLists *lists)
{
	lists->model->neighbor_ptr[lists->n_items] = (int32) lists->total;
}
