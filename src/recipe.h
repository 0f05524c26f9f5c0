/*-------------------------------------------------------------------------
 *
 * recipe.h
 *	  The interface every recipe implements, and the trained model they
 *	  share.
 *
 * A recipe trains a RecipeModel from an InteractionMatrix and scores the
 * whole catalogue for a user given that user's history.  Recipes know
 * nothing of catalogs, SPI or requests: train.c feeds them data and
 * model.c stores what they produce; runtime.c and evaluate.c call score.
 * Adding a recipe means one new recipe_<name>.c and one line in recipe.c.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/recipe.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_RECIPE_H
#define PERSONALIZE_RECIPE_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "matrix.h"

/*
 * A trained model.  Popularity is the number of distinct training users
 * who interacted with each item; factors are n_items x k, row-major, or
 * NULL for recipes without factors (EASE stores its n_items x n_items
 * weight matrix there, k = n_items).  gram caches factors^T factors +
 * regularization * I for ALS fold-in (read only: like factors, it may lie
 * in a shared model's segment, model_shared.c).  RELATED_ITEMS recipes keep each
 * item's best neighbours.
 */
typedef struct RecipeModel
{
	int32		n_items;
	int32		n_users;		/* users the model was trained on */
	int			k;
	double		alpha;
	double		regularization;
	double		recency_half_life;	/* events; 0 = no decay */
	double		trend_window;	/* seconds, for POPULAR_ITEMS recipes */
	float	   *popularity;
	float	   *factors;
	float	   *gram;
	/* user factors (n_users x k), kept by USER_SEGMENTATION recipes, or NULL */
	float	   *user_factors;
	/*
	 * user-personalization-metadata: the features of the users' metadata
	 * and the map from them to a user factor, (n_features + 1) x k, the last
	 * row a bias, for users with metadata but no history; or NULL.
	 */
	struct FeatureSpace *user_space;
	float	   *user_feature_weights;
	/* item factors to start from (training_mode UPDATE), or NULL */
	float	   *warm_factors;
	/*
	 * Days from each item's creation time (else its first interaction) to
	 * the newest interaction of the training data, NaN when unknown
	 * (n_items), or NULL; exploration (exploration.c) reads it.
	 */
	float	   *item_age_days;
	/* related items (CSR): neighbours of item i, best first, with scores */
	int32	   *neighbor_ptr;	/* n_items + 1, or NULL */
	int32	   *neighbors;
	float	   *neighbor_scores;
} RecipeModel;

/* Called by long training loops: fraction done in [0, 1] and a phase label. */
typedef void (*ProgressCallback) (void *arg, double fraction, const char *phase);

typedef struct Recipe
{
	const char *name;

	/* Can a version be refreshed from the previous one (training_mode UPDATE)? */
	bool		incremental;

	/* Does the model keep user factors (USER_SEGMENTATION)? */
	bool		keeps_users;

	/* Are its segments asked for by item attribute predicate, not item id? */
	bool		segments_by_attributes;

	/*
	 * Which metadata training reads (into InteractionMatrix.item_metadata
	 * and user_metadata), and which it cannot do without.
	 */
	bool		uses_item_metadata;
	bool		uses_user_metadata;
	bool		requires_item_metadata;

	/* Does training read the events' times (InteractionMatrix.user_times)? */
	bool		trains_on_times;

	/*
	 * Does recommend() explore young items with it (campaign config
	 * exploration_weight and exploration_item_age_cut_off)?
	 */
	bool		explores;

	/*
	 * Train from m with resolved hyperparameters into model (zeroed, but for
	 * warm_factors when an incremental recipe refreshes a version).
	 */
	void		(*train) (const InteractionMatrix *m, Jsonb *hyperparameters,
						  RecipeModel *model, ProgressCallback progress, void *arg);

	/* Derive what scoring needs from a trained or loaded model (or NULL). */
	void		(*prepare) (RecipeModel *model);

	/*
	 * Write a raw score for every item into scores (n_items).  history holds
	 * n item indexes with their weights (event counts, decayed by recency
	 * with RecipeRecencyWeight); n may be 0 (cold user).
	 * Returns true when the scores are logits to be turned into a softmax,
	 * false when they are already normalised (e.g. popularity shares).
	 */
	bool		(*score) (const RecipeModel *model, int n, const int32 *history,
						  const float *counts, float *scores);

	/*
	 * Optional, for recipes whose logits are a product with the item
	 * factors: write the user's k-vector into x (item i's logit being
	 * factors[i] . x) and return true, or return false when score gives
	 * no logits for this history (cold user).  The request path then
	 * scores only the items it needs (runtime.c).
	 */
	bool		(*fold_in) (const RecipeModel *model, int n, const int32 *history,
							const float *counts, float *x);
} Recipe;

extern const Recipe *RecipeLookup(const char *name);
extern void RecipeFinishModel(const Recipe *recipe, RecipeModel *model);

/* Hyperparameter access (hyperparams.c); values were validated in SQL. */
extern double HyperparamNumber(Jsonb *hyperparameters, const char *name, double fallback);
extern Jsonb *HyperparamObject(Jsonb *hyperparameters, const char *name);
extern Jsonb *HyperparamsWith(Jsonb *hyperparameters, const char *name, double value, bool integer);

/*
 * A model's neighbour lists built item by item, best first (sims,
 * similar-items): NeighborListsBegin, NeighborListsAppend for each item in
 * index order, NeighborListsEnd.
 */
typedef struct NeighborLists
{
	RecipeModel *model;
	const char *recipe;			/* names the recipe in errors */
	int32		n_items;
	Size		capacity;		/* entries the model's arrays have room for */
	int64		total;			/* entries appended */
	int			last_tenth;		/* tenths of the items done, for progress */
} NeighborLists;

extern void NeighborListsBegin(NeighborLists *lists, RecipeModel *model, const char *recipe,
							   int32 n_items, Size capacity);
extern void NeighborListsAppend(NeighborLists *lists, int32 item, const int32 *ids,
								const float *scores, const int32 *best, int n_best,
								ProgressCallback progress, void *arg, const char *step);
extern void NeighborListsEnd(NeighborLists *lists);

/* Shared by recipes: popularity from a matrix, and popularity scores. */
extern void RecipeCountPopularity(const InteractionMatrix *m, RecipeModel *model);
extern void RecipeScorePopularity(const RecipeModel *model, float *scores);
extern float RecipeRecencyWeight(const RecipeModel *model, int newer_events);

extern const Recipe PopularityCountRecipe;
extern const Recipe UserPersonalizationRecipe;
extern const Recipe EaseRecipe;
extern const Recipe SimsRecipe;
extern const Recipe PersonalizedRankingRecipe;
extern const Recipe TrendingNowRecipe;
extern const Recipe ItemAffinityRecipe;
extern const Recipe ItemAttributeAffinityRecipe;

extern const Recipe SimilarItemsRecipe;
extern const Recipe UserPersonalizationMetadataRecipe;

extern float TrendScore(double recent, double earlier);

/* ALS, shared by the recipes built on it (recipe_als.c). */
struct EntityMetadata;
extern void AlsFit(const InteractionMatrix *m, Jsonb *hyperparameters, RecipeModel *model,
				   ProgressCallback progress, void *arg, const struct EntityMetadata *item_md,
				   double feature_weight, float **user_factors_out);
extern void AlsPrepare(RecipeModel *model);
extern bool AlsScore(const RecipeModel *model, int n, const int32 *history,
					 const float *counts, float *scores);
extern bool AlsFoldIn(const RecipeModel *model, int n, const int32 *history,
					  const float *counts, float *x);

/* Scores for a user known only by metadata features (recipe_metadata.c). */
extern void MetadataScoreUser(const RecipeModel *model, int n, const int32 *features,
							  float *scores);

/* Co-occurrence neighbours, shared by sims and similar-items (recipe_sims.c). */
extern void SimsTrain(const InteractionMatrix *m, Jsonb *hyperparameters,
					  RecipeModel *model, ProgressCallback progress, void *arg);
extern bool SimsScore(const RecipeModel *model, int n, const int32 *history,
					  const float *weights, float *scores);

#endif							/* PERSONALIZE_RECIPE_H */
