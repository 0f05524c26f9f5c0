/*-------------------------------------------------------------------------
 *
 * recipe_sims.c
 *	  sims: related items from co-occurrence in user histories, as
 *	  Amazon Personalize's SIMS recipe.
 *
 * Two items are related when the same users interacted with both.  With
 * c(i, j) the number of users who interacted with both and p(i) the number
 * who interacted with i, the similarity is
 *     sim(i, j) = c(i, j) / (p(i) p(j))^d
 * where d is popularity_discount_factor: 0 ranks by raw co-occurrence
 * (popular items dominate), 0.5 is cosine similarity, 1 favours items
 * that occur mostly together.  Pairs seen together by fewer than
 * min_cointeraction_count users are ignored, as in Personalize.  The best
 * `neighbors` items of each item are kept, best first.
 *
 * Co-occurrences of item i are counted by walking its users' rows into a
 * dense scratch vector, touching only the items that co-occur, so the cost
 * is the sum over users of their history length squared, never items^2.
 *
 * For the offline metrics a held-out user's items are scored as the
 * weighted sum of their neighbour lists (item-based collaborative
 * filtering), with a tiny popularity prior to order the rest.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/recipe_sims.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "recipe.h"
#include "topk.h"

/* Weight of the popularity prior that orders items without co-occurrence. */
#define SIMS_POPULARITY_PRIOR 1e-6f

/*
 * Keep the best neighbours of every item.
 */
void
SimsTrain(const InteractionMatrix *m, Jsonb *hyperparameters,
		   RecipeModel *model, ProgressCallback progress, void *arg)
{
	double		discount = HyperparamNumber(hyperparameters, "popularity_discount_factor", 0.5);
	int			min_count = (int) HyperparamNumber(hyperparameters, "min_cointeraction_count", 3);
	int			keep = (int) HyperparamNumber(hyperparameters, "neighbors", 100);
	int32		n = m->n_items;
	float	   *cooc = palloc0(sizeof(float) * Max(n, 1));
	int32	   *touched = palloc(sizeof(int32) * Max(n, 1));
	float	   *candidate = palloc(sizeof(float) * Max(n, 1));
	float	   *discounted = palloc(sizeof(float) * Max(n, 1));
	int32	   *best = palloc(sizeof(int32) * Max(keep, 1));
	Size		capacity = 1024;
	int64		total = 0;
	int			last_tenth = 0;

	RecipeCountPopularity(m, model);
	model->recency_half_life = HyperparamNumber(hyperparameters, "recency_half_life", 20);
	for (int32 j = 0; j < n; j++)
		discounted[j] = (float) pow(Max(model->popularity[j], 1.0f), discount);
	model->neighbor_ptr = palloc(sizeof(int32) * ((Size) n + 1));
	model->neighbors = palloc(sizeof(int32) * capacity);
	model->neighbor_scores = palloc(sizeof(float) * capacity);

	for (int32 i = 0; i < n; i++)
	{
		int			n_touched = 0;
		int			n_best;

		CHECK_FOR_INTERRUPTS();
		model->neighbor_ptr[i] = (int32) total;
		for (int64 e = m->item_ptr[i]; e < m->item_ptr[i + 1]; e++)
		{
			int32		u = m->item_users[e];

			for (int64 f = m->user_ptr[u]; f < m->user_ptr[u + 1]; f++)
			{
				int32		j = m->user_items[f];

				if (j == i)
					continue;
				if (cooc[j] == 0.0f)
					touched[n_touched++] = j;
				cooc[j] += 1.0f;
			}
		}
		for (int t = 0; t < n_touched; t++)
		{
			int32		j = touched[t];

			candidate[t] = cooc[j] >= min_count
				? cooc[j] / (discounted[i] * discounted[j])
				: -INFINITY;
			cooc[j] = 0.0f;
		}
		n_best = TopK(candidate, n_touched, keep, best);
		if ((Size) total + n_best > capacity)
		{
			capacity = Max(capacity * 2, (Size) total + n_best);
			if (capacity > (Size) PG_INT32_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("recipe \"sims\" keeps too many neighbours"),
						 errhint("Lower the neighbors hyperparameter.")));
			model->neighbors = repalloc_huge(model->neighbors, sizeof(int32) * capacity);
			model->neighbor_scores = repalloc_huge(model->neighbor_scores, sizeof(float) * capacity);
		}
		for (int r = 0; r < n_best; r++)
		{
			model->neighbors[total] = touched[best[r]];
			model->neighbor_scores[total] = candidate[best[r]];
			total++;
		}
		if (n > 0 && (i + 1) * 10 / n > last_tenth)
		{
			last_tenth = (i + 1) * 10 / n;
			progress(arg, (double) (i + 1) / n, "items");
		}
	}
	model->neighbor_ptr[n] = (int32) total;
	pfree(cooc);
	pfree(touched);
	pfree(candidate);
	pfree(discounted);
	pfree(best);
}

/*
 * Score items as the weighted sum of the history items' neighbour lists.
 */
bool
SimsScore(const RecipeModel *model, int n, const int32 *history,
		   const float *weights, float *scores)
{
	float		users = Max(model->n_users, 1);

	for (int32 j = 0; j < model->n_items; j++)
		scores[j] = SIMS_POPULARITY_PRIOR * model->popularity[j] / users;
	if (model->neighbor_ptr == NULL)
		return false;
	for (int h = 0; h < n; h++)
	{
		int32		i = history[h];

		for (int32 e = model->neighbor_ptr[i]; e < model->neighbor_ptr[i + 1]; e++)
			scores[model->neighbors[e]] += weights[h] * model->neighbor_scores[e];
	}
	return false;
}

const Recipe SimsRecipe = {
	.name = "sims",
	.train = SimsTrain,
	.score = SimsScore,
};
