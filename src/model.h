/*-------------------------------------------------------------------------
 *
 * model.h
 *	  The model store: trained models as rows of personalize.model_item,
 *	  and a per-backend cache of loaded models keyed by version id.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/model.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_MODEL_H
#define PERSONALIZE_MODEL_H

#include "datatype/timestamp.h"

#include "recipe.h"

/* A model loaded for serving. */
typedef struct LoadedModel
{
	int64		version;
	TimestampTz created;		/* of the version: ids restart if the extension is recreated */
	const Recipe *recipe;
	RecipeModel model;
	IdMap		items;			/* item id <-> model index */
	char	  **user_ids;		/* of model.user_factors rows, when kept */
	MemoryContext context;		/* owns everything above */
	uint64		last_used;
	int			pin_depth;		/* outermost running model scope using it; 0: none */
	float	   *scores_buffer;	/* n_items scores reused across requests, or NULL */
	int			scores_buffer_scope;	/* model scope using it; 0: free */
	struct dsm_segment *scores_segment;	/* holding scores_buffer, or NULL */
	struct dsm_segment *shared_segment;	/* holding model.factors, or NULL */
	float	   *shared_damping;	/* in it: per item 1 / sqrt(1 + popularity) (exploration), or NULL */
	int32	   *young;			/* young items for young_cut_off, or NULL (exploration.c) */
	float	   *young_damping;	/* per young item: 1 / sqrt(1 + popularity) */
	double		young_damping_max;
	float	   *young_span_damping;	/* all young: per span of KERNEL_SKIP_BLOCK items, the largest damping */
	int32		n_young;
	double		young_cut_off;
	struct CompactFactors *compact; /* int8 item factors, built on first use, or NULL (compact.c) */
	int32	   *item_by_int;	/* model index + 1 by integer item id, or NULL (runtime.c) */
	int64		item_by_int_size;
	bool		item_by_int_built;	/* item_by_int was tried: NULL then means not possible */
	float	   *recency_weights;	/* RecipeRecencyWeight of 0, 1, ... newer events (runtime.c) */
	int			n_recency_weights;
} LoadedModel;

extern void ModelStore(int64 version, const RecipeModel *model, const IdMap *items,
					   const IdMap *users);
extern LoadedModel *ModelGet(int64 version, TimestampTz created);
extern float *ModelScoresBuffer(LoadedModel *lm);
extern void *ModelScoresScratch(LoadedModel *lm, float *scores);
extern struct dsm_segment *ModelScoresSegment(LoadedModel *lm, float *scores);
extern int	ModelScopeBegin(void);

/* Item factors shared by all backends when preloaded (model_shared.c). */
extern bool ModelSharedInit(void);
extern void ModelShareFactors(LoadedModel *lm);
extern int32 ModelSharedFactorCount(int64 version, TimestampTz created);
extern bool ModelAttachSharedFactors(LoadedModel *lm);
extern void ModelSharedRelease(LoadedModel *lm);
extern void ModelScopeEnd(int scope);

#endif							/* PERSONALIZE_MODEL_H */
