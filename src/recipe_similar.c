/*-------------------------------------------------------------------------
 *
 * recipe_similar.c
 *	  similar-items: related items from co-occurrence blended with item
 *	  metadata similarity.
 *
 * Each item's co-occurrence neighbours are found as in sims (SimsTrain),
 * their scores scaled so the item's best neighbour has 1.  Metadata
 * similarity is the cosine of the items' feature vectors, each feature
 * weighted by its inverse document frequency (a genre most items share
 * says little).  The two are blended,
 *     score = (1 - metadata_weight) * co-occurrence + metadata_weight * cosine,
 * and the best `neighbors` kept.  An item with few or no interactions so
 * still has related items, and appears among its look-alikes' related
 * items.
 *
 * Cosines of item i are accumulated by walking the items sharing each of
 * its features, so the cost is the sum over features of their item counts
 * squared; features shared by more than SIMILAR_MAX_POSTING items are
 * skipped (they are nearly worthless and would make it quadratic in the
 * catalogue).
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/recipe_similar.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "metadata.h"
#include "recipe.h"
#include "topk.h"

#define SIMILAR_MAX_POSTING 20000

static void
similar_train(const InteractionMatrix *m, Jsonb *hyperparameters,
			  RecipeModel *model, ProgressCallback progress, void *arg)
{
	const EntityMetadata *md = m->item_metadata;
	double		weight = HyperparamNumber(hyperparameters, "metadata_weight", 0.3);
	int			keep = (int) HyperparamNumber(hyperparameters, "neighbors", 100);
	int32		n = m->n_items;
	int32		nf;
	float	   *idf;
	float	   *norm;
	int64	   *post_ptr;
	int32	   *post_items;
	float	   *blend;
	bool	   *listed;			/* item is in touched */
	int32	   *touched;
	float	   *candidate;
	int32	   *best;
	int32	   *cooc_ptr;
	int32	   *cooc_items;
	float	   *cooc_scores;
	NeighborLists lists;

	SimsTrain(m, hyperparameters, model, progress, arg);
	if (md == NULL || md->space.n_features == 0 || weight <= 0.0)
		return;

	/* inverse document frequencies, item norms and feature -> items postings */
	nf = md->space.n_features;
	idf = palloc0(sizeof(float) * nf);
	norm = palloc0(sizeof(float) * Max(n, 1));
	post_ptr = palloc0(sizeof(int64) * ((Size) nf + 1));
	for (int32 i = 0; i < Min(n, md->n_rows); i++)
		for (int64 e = md->ptr[i]; e < md->ptr[i + 1]; e++)
			post_ptr[md->features[e] + 1]++;
	for (int32 f = 0; f < nf; f++)
	{
		idf[f] = (float) log((double) n / Max(post_ptr[f + 1], 1));
		post_ptr[f + 1] += post_ptr[f];
	}
	post_items = palloc_extended(sizeof(int32) * Max(post_ptr[nf], 1), MCXT_ALLOC_HUGE);
	{
		int64	   *fill = palloc(sizeof(int64) * nf);

		memcpy(fill, post_ptr, sizeof(int64) * nf);
		for (int32 i = 0; i < Min(n, md->n_rows); i++)
			for (int64 e = md->ptr[i]; e < md->ptr[i + 1]; e++)
			{
				post_items[fill[md->features[e]]++] = i;
				norm[i] += idf[md->features[e]] * idf[md->features[e]];
			}
		pfree(fill);
	}
	for (int32 i = 0; i < n; i++)
		norm[i] = sqrtf(norm[i]);

	/* blend each item's co-occurrence list with its metadata cosines */
	cooc_ptr = model->neighbor_ptr;
	cooc_items = model->neighbors;
	cooc_scores = model->neighbor_scores;
	NeighborListsBegin(&lists, model, "similar-items", n, Max((Size) cooc_ptr[n], 1024));
	blend = palloc0(sizeof(float) * Max(n, 1));
	listed = palloc0(sizeof(bool) * Max(n, 1));
	touched = palloc(sizeof(int32) * Max(n, 1));
	candidate = palloc(sizeof(float) * Max(n, 1));
	best = palloc(sizeof(int32) * Max(keep, 1));
	for (int32 i = 0; i < n; i++)
	{
		int			n_touched = 0;
		int			n_best;
		float		top = 0.0f;

		CHECK_FOR_INTERRUPTS();
		for (int32 e = cooc_ptr[i]; e < cooc_ptr[i + 1]; e++)
			top = Max(top, cooc_scores[e]);
		for (int32 e = cooc_ptr[i]; e < cooc_ptr[i + 1]; e++)
		{
			int32		j = cooc_items[e];

			if (!listed[j])
				touched[n_touched++] = j;
			listed[j] = true;
			blend[j] += (float) (1.0 - weight) * (top > 0 ? cooc_scores[e] / top : 0.0f);
		}
		if (i < md->n_rows && norm[i] > 0)
			for (int64 e = md->ptr[i]; e < md->ptr[i + 1]; e++)
			{
				int32		f = md->features[e];

				if (post_ptr[f + 1] - post_ptr[f] > SIMILAR_MAX_POSTING)
					continue;
				for (int64 p = post_ptr[f]; p < post_ptr[f + 1]; p++)
				{
					int32		j = post_items[p];

					if (j == i || norm[j] == 0)
						continue;
					if (!listed[j])
						touched[n_touched++] = j;
					listed[j] = true;
					blend[j] += (float) weight * idf[f] * idf[f] / (norm[i] * norm[j]);
				}
			}
		for (int t = 0; t < n_touched; t++)
		{
			candidate[t] = blend[touched[t]];
			blend[touched[t]] = 0.0f;
			listed[touched[t]] = false;
		}
		n_best = TopK(candidate, n_touched, keep, best);
		NeighborListsAppend(&lists, i, touched, candidate, best, n_best, progress, arg,
							"blending metadata");
	}
	NeighborListsEnd(&lists);
	pfree(cooc_ptr);
	pfree(cooc_items);
	pfree(cooc_scores);
	pfree(idf);
	pfree(norm);
	pfree(post_ptr);
	pfree(post_items);
	pfree(blend);
	pfree(listed);
	pfree(touched);
	pfree(candidate);
	pfree(best);
}

const Recipe SimilarItemsRecipe = {
	.name = "similar-items",
	.uses_item_metadata = true,
	.requires_item_metadata = true,
	.train = similar_train,
	.score = SimsScore,
};
