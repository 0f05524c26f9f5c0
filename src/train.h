/*-------------------------------------------------------------------------
 *
 * train.h
 *	  A training job and its phases, shared by the synchronous path
 *	  (train.c) and the background worker (worker.c).
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/train.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_TRAIN_H
#define PERSONALIZE_TRAIN_H

#include "portability/instr_time.h"
#include "utils/jsonb.h"

#include "matrix.h"
#include "recipe.h"
#include "tune.h"

/* What one training job knows about itself, and what it has made so far. */
typedef struct TrainingJob
{
	int64		version;
	char	   *solution;
	char	   *dataset_group;
	const Recipe *recipe;
	char	   *training_mode;
	Jsonb	   *hyperparameters;	/* resolved, then tuned */
	Jsonb	   *event_weights;	/* hyperparameter event_weights, or NULL */
	TunePlan	tune;			/* perform_hpo / perform_automl */
	char	   *event_type;		/* or NULL */
	bool		has_threshold;
	double		event_value_threshold;
	bool		in_worker;		/* progress goes to the version row, not NOTICEs */
	bool		update;			/* training_mode UPDATE: refresh the latest ACTIVE version */
	MemoryContext context;		/* owns everything the job keeps across phases */
	instr_time	started;
	const char *phase;
	double		phase_start;	/* share of the whole job done before this phase */
	double		phase_share;	/* share of the whole job this phase is */
	int			last_percent;
	/* results of the phases */
	InteractionLog log;
	struct EntityMetadata *item_metadata;	/* or NULL */
	struct EntityMetadata *user_metadata;	/* or NULL */
	float	   *item_age_days;	/* RecipeModel.item_age_days, or NULL */
	InteractionMatrix *matrix;
	RecipeModel model;
	char	   *metrics;		/* JSON text */
	char	   *tune_record;	/* JSON members "hpo" or "automl", or NULL */
} TrainingJob;

/* Phases; the caller provides SPI and transactions where noted. */
extern bool TrainingClaimVersion(TrainingJob *job);	/* SPI, transaction */
extern void TrainingRead(TrainingJob *job);		/* SPI, transaction */
extern void TrainingCompute(TrainingJob *job);	/* no SPI needed */
extern void TrainingStore(TrainingJob *job);	/* SPI, transaction */
extern bool TrainingFinish(TrainingJob *job, const char *reason);	/* SPI, transaction */

/* Background training (worker.c). */
extern int	TrainingWorkerLaunch(int64 version);
extern void TrainingWorkerProgress(TrainingJob *job);

#endif							/* PERSONALIZE_TRAIN_H */
