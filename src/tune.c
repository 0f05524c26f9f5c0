/*-------------------------------------------------------------------------
 *
 * tune.c
 *	  Hyperparameter optimisation (perform_hpo) and AutoML (perform_automl):
 *	  choose hyperparameters or a recipe on a validation split.
 *
 * Both searches score candidates the same way.  The users are first split
 * exactly as evaluate.c splits them for the version's metrics (same seed):
 * the evaluation users are never seen here, so the metrics reported
 * afterwards stay honest.  From the remaining training users, a fifth
 * (those with two or more items, drawn with a seed derived from the
 * version's) become validation users; each candidate is trained on the
 * other training users and scored on the validation users with the
 * evaluation protocol (oldest 90% of their items as input, newest 10% as
 * relevant).  The objective is one of the metric names evaluate.c reports;
 * higher is better, and ties keep the earlier candidate.
 *
 * HPO: trial 1 is the solution's own hyperparameters (the recipe's
 * defaults unless set), clamped to the ranges, so the search never
 * validates worse than not searching; the other trials are a Latin
 * hypercube over the ranges (uniform, or uniform in log space for
 * penalties and sizes), drawn with the seed.  The plan (ranges, trials,
 * objective) is resolved and validated in SQL by _resolve_hpo_config.
 *
 * AutoML: the candidates of _automl_candidates (user-personalization,
 * ease, popularity-count) are trained in turn; ease is skipped with a
 * NOTICE when the catalogue is over personalize.ease_max_items.
 *
 * Each trial's model lives in its own memory context, reset after it is
 * scored.  Everything here is pure computation (no SPI) but for
 * TuneReadPlan.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/tune.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "evaluate.h"
#include "personalize.h"
#include "tune.h"

/* Validation users are 1 in this many training users. */
#define TUNE_VALIDATION_DIVISOR 5

/* Mixed into the version's seed for the validation draw and the trials. */
#define TUNE_SEED_SALT UINT64CONST(0x9E3779B97F4A7C15)

/* Forwards a trial's training progress as a share of the whole search. */
typedef struct TuneProgress
{
	ProgressCallback progress;
	void	   *arg;
	int			trial;			/* 0-based */
	int			n_trials;
	const char *what;			/* "trial" or a recipe name */
	char		label[128];
} TuneProgress;

/* The split every candidate is scored on. */
typedef struct TuneSplit
{
	InteractionMatrix *train;	/* training users minus validation users */
	int32	   *validation;
	int32		n_validation;
} TuneSplit;

/*
 * Report a trial's progress: fraction of the trial, placed within the search.
 */
static void
tune_progress(void *arg, double fraction, const char *step)
{
	TuneProgress *tp = arg;

	if (strcmp(tp->what, "trial") == 0)
		snprintf(tp->label, sizeof(tp->label), "trial %d of %d: %s",
				 tp->trial + 1, tp->n_trials, step);
	else
		snprintf(tp->label, sizeof(tp->label), "candidate %s: %s", tp->what, step);
	tp->progress(tp->arg, (tp->trial + Min(fraction, 0.999)) / tp->n_trials, tp->label);
}

/*
 * Read the solution's HPO or AutoML plan; plan->hpo and plan->automl stay
 * false for a solution without either.  Allocates in context.
 */
void
TuneReadPlan(const char *solution, MemoryContext context, TunePlan *plan)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(solution)};
	SPITupleTable *tt;
	MemoryContext old;
	bool		isnull;

	memset(plan, 0, sizeof(TunePlan));

	/*
	 * Look at the flags first: under the schema of 0.1.0 (before ALTER
	 * EXTENSION UPDATE) they are always false and hpo_config does not exist.
	 */
	if (CatalogExecute("SELECT 1 FROM personalize.solution s "
					   "WHERE s.name = $1 AND (s.perform_hpo OR s.perform_automl)",
					   1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read solution \"%s\"", solution);
	if (SPI_processed == 0)
		return;
	if (CatalogExecute("SELECT s.perform_hpo, s.perform_automl, (c->>'max_trials')::int, c->>'objective', "
					   "r.key, r.value->>'type' = 'integer', r.value->>'scale' = 'log', "
					   "(r.value->>'min')::float8, (r.value->>'max')::float8 "
					   "FROM personalize.solution s "
					   "CROSS JOIN LATERAL personalize._resolve_hpo_config(s.recipe, s.hyperparameters, "
					   "s.hpo_config, s.perform_automl) c "
					   "LEFT JOIN LATERAL jsonb_each(c->'ranges') r ON true "
					   "WHERE s.name = $1 AND (s.perform_hpo OR s.perform_automl) ORDER BY r.key",
					   1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the tuning plan of solution \"%s\"", solution);
	if (SPI_processed == 0)
		return;
	tt = SPI_tuptable;
	old = MemoryContextSwitchTo(context);
	plan->hpo = DatumGetBool(SPI_getbinval(tt->vals[0], tt->tupdesc, 1, &isnull));
	plan->automl = DatumGetBool(SPI_getbinval(tt->vals[0], tt->tupdesc, 2, &isnull));
	plan->max_trials = DatumGetInt32(SPI_getbinval(tt->vals[0], tt->tupdesc, 3, &isnull));
	if (isnull)
		plan->max_trials = 1;
	plan->objective = SPI_getvalue(tt->vals[0], tt->tupdesc, 4);
	plan->ranges = palloc0(sizeof(TuneRange) * SPI_processed);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		TuneRange  *range = &plan->ranges[plan->n_ranges];

		range->name = SPI_getvalue(tt->vals[r], tt->tupdesc, 5);
		if (range->name == NULL)
			continue;			/* no ranges (AutoML) */
		range->integer = DatumGetBool(SPI_getbinval(tt->vals[r], tt->tupdesc, 6, &isnull));
		range->log_scale = DatumGetBool(SPI_getbinval(tt->vals[r], tt->tupdesc, 7, &isnull));
		range->min = DatumGetFloat8(SPI_getbinval(tt->vals[r], tt->tupdesc, 8, &isnull));
		range->max = DatumGetFloat8(SPI_getbinval(tt->vals[r], tt->tupdesc, 9, &isnull));
		plan->n_ranges++;
	}
	MemoryContextSwitchTo(old);

	if (!plan->automl)
		return;
	if (CatalogExecute("SELECT c.recipe, c.hyperparameters FROM personalize.solution s "
					   "CROSS JOIN LATERAL personalize._automl_candidates(s.hyperparameters) c "
					   "WHERE s.name = $1",
					   1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the AutoML candidates of solution \"%s\"", solution);
	tt = SPI_tuptable;
	old = MemoryContextSwitchTo(context);
	plan->n_candidates = (int) SPI_processed;
	plan->candidates = palloc0(sizeof(TuneCandidate) * Max(SPI_processed, 1));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		plan->candidates[r].recipe_name = SPI_getvalue(tt->vals[r], tt->tupdesc, 1);
		plan->candidates[r].hyperparameters =
			DatumGetJsonbPCopy(SPI_getbinval(tt->vals[r], tt->tupdesc, 2, &isnull));
	}
	MemoryContextSwitchTo(old);
}

/*
 * Carve the validation users out of m's training users (those evaluate.c
 * does not hold out with seed) and build the matrix the candidates train on.
 */
static void
tune_split(const InteractionMatrix *m, uint64 seed, TuneSplit *split)
{
	bool	   *keep = palloc(sizeof(bool) * Max(m->n_users, 1));
	bool	   *training = palloc(sizeof(bool) * Max(m->n_users, 1));
	int32	   *heldout = palloc(sizeof(int32) * Max(m->n_users, 1));

	for (int32 u = 0; u < m->n_users; u++)
		keep[u] = true;
	(void) EvaluateHoldOut(m, NULL, 10, seed, keep, heldout);
	memcpy(training, keep, sizeof(bool) * m->n_users);
	split->validation = palloc(sizeof(int32) * Max(m->n_users, 1));
	split->n_validation = EvaluateHoldOut(m, training, TUNE_VALIDATION_DIVISOR,
										  seed ^ TUNE_SEED_SALT, keep, split->validation);
	/* with times: AutoML's candidates may include a recipe that reads them */
	split->train = MatrixSelectUsers(m, keep, true);
	pfree(keep);
	pfree(training);
	pfree(heldout);
}

/*
 * Train recipe with hyperparameters on the split and score the validation
 * users; everything the model needs lives in a context reset afterwards.
 */
static void
tune_score(const InteractionMatrix *m, const TuneSplit *split, const Recipe *recipe,
		   Jsonb *hyperparameters, TuneProgress *tp, EvaluationMetrics *metrics,
		   double *seconds)
{
	MemoryContext trial_context = AllocSetContextCreate(CurrentMemoryContext,
														"personalize tuning trial",
														ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(trial_context);
	RecipeModel model = {0};
	instr_time	start;
	instr_time	now;

	INSTR_TIME_SET_CURRENT(start);
	recipe->train(split->train, hyperparameters, &model, tune_progress, tp);
	RecipeFinishModel(recipe, &model);
	EvaluateUsers(m, recipe, &model, split->validation, split->n_validation, metrics);
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	*seconds = INSTR_TIME_GET_DOUBLE(now);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(trial_context);
}

/*
 * The objective of metrics; the name was validated in SQL.
 */
static double
tune_objective(const TunePlan *plan, const EvaluationMetrics *metrics)
{
	double		value;

	if (!EvaluationMetricValue(metrics, plan->objective, &value))
		elog(ERROR, "unknown tuning objective \"%s\"", plan->objective);
	return value;
}

/*
 * Round a sampled value the way it is stored: integers to the nearest
 * integer, numbers to 4 significant digits; then clamp to the range.
 */
static double
tune_round(const TuneRange *range, double value)
{
	char		buf[32];

	if (range->integer)
		value = rint(value);
	else
	{
		snprintf(buf, sizeof(buf), "%.4g", value);
		value = strtod(buf, NULL);
	}
	return Max(range->min, Min(range->max, value));
}

/*
 * Value of range at u in [0, 1]: uniform, or uniform in log space.
 */
static double
tune_sample(const TuneRange *range, double u)
{
	if (range->log_scale && range->min > 0)
		return tune_round(range, exp(log(range->min) + u * (log(range->max) - log(range->min))));
	return tune_round(range, range->min + u * (range->max - range->min));
}

/*
 * Append the values of the tuned hyperparameters of trial as a JSON object.
 */
static void
tune_append_values(StringInfo out, const TunePlan *plan, const double *values)
{
	appendStringInfoChar(out, '{');
	for (int d = 0; d < plan->n_ranges; d++)
	{
		if (plan->ranges[d].integer)
			appendStringInfo(out, "%s\"%s\": %.0f", d > 0 ? ", " : "", plan->ranges[d].name, values[d]);
		else
			appendStringInfo(out, "%s\"%s\": %.4g", d > 0 ? ", " : "", plan->ranges[d].name, values[d]);
	}
	appendStringInfoChar(out, '}');
}

/*
 * HPO: search plan's ranges around *hyperparameters; keep the best.
 */
static void
tune_hyperparameters(const TunePlan *plan, const InteractionMatrix *m, const TuneSplit *split,
					 uint64 seed, const Recipe *recipe, Jsonb **hyperparameters,
					 TuneProgress *tp, StringInfo record)
{
	int			n = plan->max_trials;
	int			d_count = plan->n_ranges;
	double	   *values = palloc(sizeof(double) * Max(n * d_count, 1));
	int		   *perm = palloc(sizeof(int) * Max(n, 1));
	pg_prng_state rng;
	Jsonb	   *best = *hyperparameters;
	double		best_value = -INFINITY;
	int			best_trial = 0;

	/* trial 0: the given hyperparameters; trials 1..n-1: a Latin hypercube */
	pg_prng_seed(&rng, seed ^ TUNE_SEED_SALT ^ UINT64CONST(0x5851F42D4C957F2D));
	for (int d = 0; d < d_count; d++)
	{
		const TuneRange *range = &plan->ranges[d];

		values[d] = tune_round(range, HyperparamNumber(*hyperparameters, range->name, range->min));
		for (int t = 0; t < n - 1; t++)
			perm[t] = t;
		for (int t = n - 2; t > 0; t--)
		{
			int			j = (int) pg_prng_uint64_range(&rng, 0, t);
			int			x = perm[t];

			perm[t] = perm[j];
			perm[j] = x;
		}
		for (int t = 1; t < n; t++)
			values[t * d_count + d] = tune_sample(range, (perm[t - 1] + pg_prng_double(&rng)) / (n - 1));
	}

	appendStringInfo(record, "\"hpo\": {\"objective\": \"%s\", \"validation_users\": %d, \"trials\": [",
					 plan->objective, split->n_validation);
	tp->what = "trial";
	tp->n_trials = n;
	for (int t = 0; t < n; t++)
	{
		Jsonb	   *trial = *hyperparameters;
		EvaluationMetrics metrics;
		double		seconds;
		double		value;

		CHECK_FOR_INTERRUPTS();
		for (int d = 0; d < d_count; d++)
			trial = HyperparamsWith(trial, plan->ranges[d].name, values[t * d_count + d],
									plan->ranges[d].integer);
		tp->trial = t;
		tune_score(m, split, recipe, trial, tp, &metrics, &seconds);
		value = tune_objective(plan, &metrics);
		if (value > best_value)
		{
			best_value = value;
			best_trial = t;
			best = trial;
		}
		appendStringInfo(record, "%s{\"trial\": %d, \"hyperparameters\": ", t > 0 ? ", " : "", t + 1);
		tune_append_values(record, plan, values + t * d_count);
		appendStringInfo(record, ", \"objective\": %.6f, \"seconds\": %.3f}", value, seconds);
	}
	appendStringInfo(record, "], \"best_trial\": %d, \"best_objective\": %.6f, \"tuned\": ",
					 best_trial + 1, best_value);
	tune_append_values(record, plan, values + best_trial * d_count);
	appendStringInfoChar(record, '}');
	*hyperparameters = best;
}

/*
 * AutoML: train every candidate recipe; keep the best.
 */
static void
tune_recipe(const TunePlan *plan, const InteractionMatrix *m, const TuneSplit *split,
			const Recipe **recipe, Jsonb **hyperparameters, TuneProgress *tp,
			StringInfo record)
{
	double		best_value = -INFINITY;
	const char *chosen = NULL;

	appendStringInfo(record, "\"automl\": {\"objective\": \"%s\", \"validation_users\": %d, \"candidates\": [",
					 plan->objective, split->n_validation);
	tp->n_trials = plan->n_candidates;
	for (int c = 0; c < plan->n_candidates; c++)
	{
		const TuneCandidate *candidate = &plan->candidates[c];
		const Recipe *r = RecipeLookup(candidate->recipe_name);
		EvaluationMetrics metrics;
		double		seconds;
		double		value;

		CHECK_FOR_INTERRUPTS();
		if (r == NULL)
			elog(ERROR, "unknown AutoML candidate recipe \"%s\"", candidate->recipe_name);
		appendStringInfo(record, "%s{\"recipe\": \"%s\"", c > 0 ? ", " : "", r->name);
		if (r == &EaseRecipe && m->n_items > personalize_ease_max_items)
		{
			ereport(NOTICE,
					(errmsg("AutoML skips recipe \"ease\": the catalogue has %d items, more than personalize.ease_max_items (%d)",
							m->n_items, personalize_ease_max_items)));
			appendStringInfo(record, ", \"skipped\": \"the catalogue has %d items, more than personalize.ease_max_items (%d)\"}",
							 m->n_items, personalize_ease_max_items);
			continue;
		}
		tp->trial = c;
		tp->what = r->name;
		tune_score(m, split, r, candidate->hyperparameters, tp, &metrics, &seconds);
		value = tune_objective(plan, &metrics);
		if (value > best_value)
		{
			best_value = value;
			chosen = r->name;
			*recipe = r;
			*hyperparameters = candidate->hyperparameters;
		}
		appendStringInfo(record, ", \"objective\": %.6f, \"seconds\": %.3f, \"metrics\": {", value, seconds);
		EvaluationAppendJson(record, "", &metrics);
		appendStringInfoString(record, "}}");
	}
	if (chosen == NULL)
		elog(ERROR, "AutoML trained no candidate");
	appendStringInfo(record, "], \"chosen\": \"%s\", \"best_objective\": %.6f}", chosen, best_value);
}

void
TuneRun(const TunePlan *plan, const InteractionMatrix *m, uint64 seed,
		const Recipe **recipe, Jsonb **hyperparameters,
		ProgressCallback progress, void *arg, StringInfo record)
{
	TuneSplit	split;
	TuneProgress tp = {progress, arg, 0, 1, "trial"};

	tune_split(m, seed, &split);
	if (plan->automl)
		tune_recipe(plan, m, &split, recipe, hyperparameters, &tp, record);
	else
		tune_hyperparameters(plan, m, &split, seed, *recipe, hyperparameters, &tp, record);
	/* the chosen recipe's evaluation split and full fit come next: their memory, not this */
	MatrixFreeSelection(split.train);
	pfree(split.validation);
	progress(arg, 1.0, plan->automl ? "recipe chosen" : "hyperparameters tuned");
}
