/*-------------------------------------------------------------------------
 *
 * tune.h
 *	  Hyperparameter optimisation (perform_hpo) and recipe selection
 *	  (perform_automl) on a validation split of the training users.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/tune.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_TUNE_H
#define PERSONALIZE_TUNE_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "matrix.h"
#include "recipe.h"

/* One hyperparameter searched by HPO, as resolved by _resolve_hpo_config. */
typedef struct TuneRange
{
	char	   *name;
	bool		integer;
	bool		log_scale;		/* sample uniformly in log space */
	double		min;
	double		max;
} TuneRange;

/* One recipe AutoML tries, with its resolved hyperparameters. */
typedef struct TuneCandidate
{
	char	   *recipe_name;
	Jsonb	   *hyperparameters;
} TuneCandidate;

/* What a solution asks for: nothing, HPO or AutoML. */
typedef struct TunePlan
{
	bool		hpo;
	bool		automl;
	int			max_trials;
	char	   *objective;		/* a metric name of evaluate.c */
	int			n_ranges;
	TuneRange  *ranges;
	int			n_candidates;
	TuneCandidate *candidates;
} TunePlan;

/* Read the solution's plan into plan, allocating in context; needs SPI. */
extern void TuneReadPlan(const char *solution, MemoryContext context, TunePlan *plan);

/*
 * Run the plan on m: replace *recipe and *hyperparameters by the best found
 * and append the search's record ("hpo": {...} or "automl": {...}) to
 * record.  Pure computation.
 */
extern void TuneRun(const TunePlan *plan, const InteractionMatrix *m, uint64 seed,
					const Recipe **recipe, Jsonb **hyperparameters,
					ProgressCallback progress, void *arg, StringInfo record);

#endif							/* PERSONALIZE_TUNE_H */
