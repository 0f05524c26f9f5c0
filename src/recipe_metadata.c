/*-------------------------------------------------------------------------
 *
 * recipe_metadata.c
 *	  user-personalization-metadata: implicit-feedback matrix factorization
 *	  that also learns from item and user metadata.
 *
 * Item metadata enters training: every item feature (a genre, a price
 * bucket...) is a pseudo-user who interacted with the items having it
 * (AlsFit in recipe_als.c).  The items' factors are then pulled towards
 * those of items sharing their features, and an item with metadata but no
 * interactions gets factors from its features alone, so it can be
 * recommended.
 *
 * User metadata serves users without history: after training, a ridge
 * regression maps a user's features (plus a bias) to the user factors
 * ALS learned for the training users; a new user with metadata is scored
 * with the factor their features predict instead of global popularity
 * (in the spirit of Gantner et al., "Learning attribute-to-feature
 * mappings for cold-start recommendations", ICDM 2010).  Users with
 * history are folded in from it, as in user-personalization.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/recipe_metadata.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "blas.h"
#include "metadata.h"
#include "recipe.h"

/*
 * Ridge penalty of the user-feature map: a feature seen in this many users
 * is trusted half-way between its own users' mean factor and the bias.
 */
#define USER_MAP_RIDGE 10.0f

/*
 * Return the (n_features + 1) x k weights, the last row a bias, of the
 * ridge regression from the features of rows (those with use[row], or all
 * when use is NULL) to their factors.
 */
static float *
fit_feature_map(const EntityMetadata *md, const float *factors,
				int32 n_rows, int k, const bool *use)
{
	int			n = md->space.n_features + 1;
	int			bias = n - 1;
	float	   *a = palloc0(sizeof(float) * n * n);
	float	   *b = palloc0(sizeof(float) * n * k);
	float	   *w = palloc0(sizeof(float) * n * k);
	int32	   *f = palloc(sizeof(int32) * n);

	for (int32 u = 0; u < Min(n_rows, md->n_rows); u++)
	{
		const float *x = factors + (Size) u * k;
		int			nf = 0;

		if ((u & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (use != NULL && !use[u])
			continue;
		for (int64 e = md->ptr[u]; e < md->ptr[u + 1]; e++)
			f[nf++] = md->features[e];
		f[nf++] = bias;
		for (int p = 0; p < nf; p++)
		{
			for (int q = 0; q < nf; q++)
				a[(Size) f[p] * n + f[q]] += 1.0f;
			BlasAxpy(1.0f, x, b + (Size) f[p] * k, k);
		}
	}
	for (int p = 0; p < n; p++)
		a[(Size) p * n + p] += p == bias ? 1e-3f : USER_MAP_RIDGE;
	if (!BlasSymmetricInverse(a, n))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not fit the metadata of recipe \"user-personalization-metadata\"")));
	for (int p = 0; p < n; p++)
	{
		CHECK_FOR_INTERRUPTS();
		for (int q = 0; q < n; q++)
			BlasAxpy(a[(Size) p * n + q], b + (Size) q * k, w + (Size) p * k, k);
	}
	pfree(a);
	pfree(b);
	pfree(f);
	return w;
}

/*
 * Give the items without interactions the factors their features predict
 * from those of the items with interactions.  (ALS alone would push them
 * towards scoring 0 for every user, since every user counts as not having
 * interacted with them.)
 */
static void
predict_cold_items(const InteractionMatrix *m, const EntityMetadata *md, RecipeModel *model)
{
	int			k = model->k;
	bool	   *warm = palloc(sizeof(bool) * Max(m->n_items, 1));
	float	   *w;

	for (int32 i = 0; i < m->n_items; i++)
		warm[i] = m->item_ptr[i + 1] > m->item_ptr[i];
	w = fit_feature_map(md, model->factors, m->n_items, k, warm);
	for (int32 i = 0; i < Min(m->n_items, md->n_rows); i++)
	{
		float	   *y = model->factors + (Size) i * k;

		if (warm[i])
			continue;
		memcpy(y, w + (Size) md->space.n_features * k, sizeof(float) * k);
		for (int64 e = md->ptr[i]; e < md->ptr[i + 1]; e++)
			BlasAxpy(1.0f, w + (Size) md->features[e] * k, y, k);
	}
	pfree(warm);
	pfree(w);
}

static void
metadata_train(const InteractionMatrix *m, Jsonb *hyperparameters,
			   RecipeModel *model, ProgressCallback progress, void *arg)
{
	double		weight = HyperparamNumber(hyperparameters, "item_metadata_weight", 1.0);
	float	   *user_factors;

	AlsFit(m, hyperparameters, model, progress, arg, m->item_metadata, weight, &user_factors);
	if (m->item_metadata != NULL && m->item_metadata->space.n_features > 0)
		predict_cold_items(m, m->item_metadata, model);
	if (m->user_metadata != NULL && m->user_metadata->space.n_features > 0)
	{
		model->user_space = (FeatureSpace *) &m->user_metadata->space;
		model->user_feature_weights = fit_feature_map(m->user_metadata, user_factors,
													  m->n_users, model->k, NULL);
	}
	pfree(user_factors);
}

/*
 * Score every item for a user without history from the user's metadata
 * features (indexes into model->user_space): logits x . y_i with x the
 * factor the features predict.
 */
void
MetadataScoreUser(const RecipeModel *model, int n, const int32 *features, float *scores)
{
	int			k = model->k;
	int			bias = model->user_space->n_features;
	float	   *x = palloc(sizeof(float) * k);

	memcpy(x, model->user_feature_weights + (Size) bias * k, sizeof(float) * k);
	for (int i = 0; i < n; i++)
		BlasAxpy(1.0f, model->user_feature_weights + (Size) features[i] * k, x, k);
	BlasGemv(model->factors, model->n_items, k, x, scores);
	pfree(x);
}

const Recipe UserPersonalizationMetadataRecipe = {
	.name = "user-personalization-metadata",
	.uses_item_metadata = true,
	.uses_user_metadata = true,
	.explores = true,
	.train = metadata_train,
	.prepare = AlsPrepare,
	.score = AlsScore,
	.fold_in = AlsFoldIn,
};
