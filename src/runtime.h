/*-------------------------------------------------------------------------
 *
 * runtime.h
 *	  The request path shared by recommend() and personalized_rank():
 *	  resolve a campaign, load its model, read the user's history and
 *	  score the catalogue.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/runtime.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_RUNTIME_H
#define PERSONALIZE_RUNTIME_H

#include "datatype/timestamp.h"

#include "dataset.h"
#include "model.h"

/* What a campaign name resolves to for one request. */
typedef struct CampaignTarget
{
	char	   *campaign;		/* name used in messages */
	int64		version;
	TimestampTz version_created;	/* with version, identifies the model */
	char	   *recipe_type;
	char	   *dataset_group;
	bool		has_dataset;
	InteractionsDataset dataset;
	/* campaign config (exploration.c); weight 0 when serving a version */
	double		exploration_weight;
	double		exploration_age_cut_off;	/* days */
} CampaignTarget;

/* One user's scores over the model's catalogue. */
typedef struct UserScores
{
	LoadedModel *model;
	float	   *scores;			/* n_items */
	bool		logits;			/* softmax applies (else already normalised) */
	int			n_history;		/* distinct known items folded in */
	int32	   *history;		/* their model indexes */
	int			n_seen;			/* known items of the whole history */
	int32	   *seen;			/* their model indexes (with repeats) */
	struct CompactQuery *approximate;	/* scores are compact logits, or NULL (compact.c) */
} UserScores;

extern void RuntimeResolveCampaign(const char *campaign, CampaignTarget *target);
extern void RuntimeResolveVersion(int64 version, CampaignTarget *target);
extern void RuntimeRequireRecipeType(const CampaignTarget *target, const char *function,...);
extern void RuntimeScoreUser(const CampaignTarget *target, const char *user_id,
							 bool compact_ok, UserScores *out);
extern void RuntimeScoreUserItems(const CampaignTarget *target, const char *user_id,
								  int n, const int32 *items, UserScores *out);

#endif							/* PERSONALIZE_RUNTIME_H */
