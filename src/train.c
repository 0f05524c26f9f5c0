/*-------------------------------------------------------------------------
 *
 * train.c
 *	  create_solution_version(): train a solution into a new version.
 *
 * A job has three phases: TrainingRead (read the interactions with the
 * requesting role's privileges, check memory and minimum data, build the
 * matrix), TrainingCompute (for perform_hpo / perform_automl the search of
 * tune.c first, then the evaluation split and its metrics, then training
 * on all data; pure computation) and TrainingStore (write the
 * model rows, and the context lifts of context.c), followed by
 * TrainingFinish (status ACTIVE or CREATE
 * FAILED).
 *
 * With wait => true the version row is inserted (CREATE IN_PROGRESS) in
 * the caller's transaction and the three phases run in a subtransaction.
 * If they fail, the subtransaction is rolled back, so no model rows
 * remain, and the row is marked CREATE FAILED with the reason, which the
 * caller also sees as a WARNING.  A cancel, a shutdown or a privilege
 * error is not swallowed: it aborts the caller's transaction and nothing
 * remains.  With wait => false the row is inserted CREATE PENDING and a
 * background worker runs the same phases (worker.c).
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/train.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "common/pg_prng.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "context.h"
#include "dataset.h"
#include "evaluate.h"
#include "metadata.h"
#include "model.h"
#include "personalize.h"
#include "recipe.h"
#include "train.h"
#include "training_helpers.h"

/*
 * Report progress of the current phase as a NOTICE, at most every 5%.
 */
static void
training_progress(void *arg, double fraction, const char *step)
{
	TrainingJob *job = arg;
	instr_time	now;
	int			percent = (int) ((job->phase_start + fraction * job->phase_share) * 100.0);

	if (job->in_worker)
	{
		if (percent > job->last_percent)
		{
			job->last_percent = percent;
			TrainingWorkerProgress(job);
		}
		return;
	}
	if (percent < job->last_percent + 5 && fraction < 1.0)
		return;
	job->last_percent = percent;
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, job->started);
	ereport(NOTICE,
			(errmsg("solution version " INT64_FORMAT " of \"%s\": %s, %s, %d%% done, %.1f s elapsed",
					job->version, job->solution, job->phase, step,
					percent, INSTR_TIME_GET_DOUBLE(now))));
}

/*
 * Start a new phase covering share of the whole job; a worker logs it.
 */
static void
training_phase(TrainingJob *job, const char *phase, double share)
{
	job->phase_start += job->phase_share;
	job->phase = phase;
	job->phase_share = share;
	if (job->in_worker)
		ereport(LOG,
				(errmsg("solution version " INT64_FORMAT " of \"%s\": %s",
						job->version, job->solution, phase)));
}

/*
 * Read the solution and insert its new version row with status; fill job.
 */
static void
training_begin(TrainingJob *job, const char *status)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, JSONBOID, TEXTOID};
	Datum		values[4];
	SPITupleTable *tt;
	bool		isnull;
	Oid			owner;
	char	   *recipe_name;
	int			rc;

	values[0] = CStringGetTextDatum(job->solution);
	rc = CatalogExecute("SELECT s.dataset_group, s.recipe, s.owner::oid, s.event_type, "
							   "s.event_value_threshold, "
							   "personalize._resolve_hyperparameters(s.recipe, s.hyperparameters) "
							   "FROM personalize.solution s WHERE s.name = $1",
							   1, argtypes, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read solution: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("solution \"%s\" does not exist", job->solution),
				 errhint("Create it with personalize.create_solution, or see personalize.solutions.")));
	tt = SPI_tuptable;
	MemoryContextSwitchTo(job->context);
	job->dataset_group = SPI_getvalue(tt->vals[0], tt->tupdesc, 1);
	recipe_name = SPI_getvalue(tt->vals[0], tt->tupdesc, 2);
	owner = DatumGetObjectId(SPI_getbinval(tt->vals[0], tt->tupdesc, 3, &isnull));
	job->event_type = SPI_getvalue(tt->vals[0], tt->tupdesc, 4);
	job->event_value_threshold = DatumGetFloat8(SPI_getbinval(tt->vals[0], tt->tupdesc, 5, &isnull));
	job->has_threshold = !isnull;
	job->hyperparameters = DatumGetJsonbPCopy(SPI_getbinval(tt->vals[0], tt->tupdesc, 6, &isnull));

	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of solution \"%s\"", job->solution),
				 errhint("The solution is owned by role \"%s\".", GetUserNameFromId(owner, false))));
	job->recipe = RecipeLookup(recipe_name);
	if (job->recipe == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("recipe \"%s\" of solution \"%s\" cannot be trained by this version of personalize",
						recipe_name, job->solution)));
	if (job->update && !job->recipe->incremental)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training_mode UPDATE does not apply to recipe \"%s\" of solution \"%s\"",
						recipe_name, job->solution),
				 errhint("UPDATE refreshes user-personalization and personalized-ranking versions; use training_mode => 'FULL'.")));
	TuneReadPlan(job->solution, job->context, &job->tune);

	/*
	 * Versions of this solution left pending or in progress by workers that
	 * a server restart killed would otherwise stay so until someone waits
	 * for them.
	 */
	rc = CatalogExecute("UPDATE personalize.solution_version SET status = 'CREATE FAILED', "
						"failure_reason = 'the server restarted before training finished', "
						"finished = clock_timestamp() "
						"WHERE solution = $1 AND status IN ('CREATE PENDING', 'CREATE IN_PROGRESS') "
						"AND created < pg_postmaster_start_time()",
						1, argtypes, values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update solution versions: %s", SPI_result_code_string(rc));

	values[1] = CStringGetTextDatum(job->training_mode);
	values[2] = JsonbPGetDatum(job->hyperparameters);
	values[3] = CStringGetTextDatum(status);
	rc = CatalogExecute("INSERT INTO personalize.solution_version "
							   "(solution, status, training_mode, hyperparameters) "
							   "VALUES ($1, $4, $2, $3) RETURNING id",
							   4, argtypes, values, NULL, false, 1);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not insert solution version: %s", SPI_result_code_string(rc));
	job->version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Load the pending version job->version for a background worker and mark
 * it CREATE IN_PROGRESS.  Returns false when there is no such pending
 * version (the requesting transaction rolled back, or it was stopped).
 */
bool
TrainingClaimVersion(TrainingJob *job)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job->version)};
	SPITupleTable *tt;
	bool		isnull;
	char	   *recipe_name;
	int			rc;

	rc = CatalogExecute("UPDATE personalize.solution_version v SET status = 'CREATE IN_PROGRESS' "
							   "FROM personalize.solution s "
							   "WHERE v.id = $1 AND v.status = 'CREATE PENDING' AND s.name = v.solution "
							   "RETURNING s.name, s.dataset_group, s.recipe, s.event_type, "
							   "s.event_value_threshold, v.hyperparameters, v.training_mode",
							   1, argtypes, values, NULL, false, 1);
	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not claim solution version: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	tt = SPI_tuptable;
	MemoryContextSwitchTo(job->context);
	job->solution = SPI_getvalue(tt->vals[0], tt->tupdesc, 1);
	job->dataset_group = SPI_getvalue(tt->vals[0], tt->tupdesc, 2);
	recipe_name = SPI_getvalue(tt->vals[0], tt->tupdesc, 3);
	job->event_type = SPI_getvalue(tt->vals[0], tt->tupdesc, 4);
	job->event_value_threshold = DatumGetFloat8(SPI_getbinval(tt->vals[0], tt->tupdesc, 5, &isnull));
	job->has_threshold = !isnull;
	job->hyperparameters = DatumGetJsonbPCopy(SPI_getbinval(tt->vals[0], tt->tupdesc, 6, &isnull));
	job->training_mode = SPI_getvalue(tt->vals[0], tt->tupdesc, 7);
	job->update = strcmp(job->training_mode, "UPDATE") == 0;
	job->recipe = RecipeLookup(recipe_name);
	if (job->recipe == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("recipe \"%s\" of solution \"%s\" cannot be trained by this version of personalize",
						recipe_name, job->solution)));
	TuneReadPlan(job->solution, job->context, &job->tune);
	return true;
}

/*
 * Raise an error unless the data meet the minimums Personalize requires.
 */
static void
training_check_minimums(const TrainingJob *job, const InteractionLog *log,
						const InteractionMatrix *m)
{
	int32		users = MatrixUsersWithAtLeast(m, 2);

	if (log->n < personalize_min_interactions)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("too little data to train solution \"%s\": " INT64_FORMAT " interactions, at least %d needed",
						job->solution, log->n, personalize_min_interactions),
				 errhint("Add interactions to dataset group \"%s\", or lower personalize.min_interactions.",
						 job->dataset_group)));
	if (users < personalize_min_users)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("too little data to train solution \"%s\": %d users with two or more interactions, at least %d needed",
						job->solution, users, personalize_min_users),
				 errhint("Add interactions to dataset group \"%s\", or lower personalize.min_users.",
						 job->dataset_group)));
}

/* Bytes per interaction read: user and item index and time, array doubling. */
#define LOG_BYTES_PER_INTERACTION (2 * (2 * sizeof(int32) + sizeof(double)))

/*
 * Raise program_limit_exceeded when need bytes exceed
 * personalize.training_memory.
 */
static void
training_require_memory(const TrainingJob *job, Size need, const char *what)
{
	if (need / 1024 > (Size) personalize_training_memory_kb)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("training solution \"%s\" needs about %.1f MB for %s, more than personalize.training_memory (%.1f MB)",
						job->solution, need / (1024.0 * 1024.0), what, personalize_training_memory_kb / 1024.0),
				 errhint("A superuser can raise personalize.training_memory (ALTER ROLE ... SET for a trainer), or use fewer factors.")));
}

/*
 * Before reading: the planner's row estimate of the relation (when it has
 * one) tells whether even the interactions alone would exceed the budget.
 */
static void
training_check_memory_before_reading(const TrainingJob *job, Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	float4		reltuples;

	if (!HeapTupleIsValid(tuple))
		return;					/* dropped: reading reports it */
	reltuples = ((Form_pg_class) GETSTRUCT(tuple))->reltuples;
	ReleaseSysCache(tuple);
	if (reltuples > 0)
		training_require_memory(job, (Size) (reltuples * LOG_BYTES_PER_INTERACTION), "reading its interactions");
}

/*
 * After reading, before building anything: the interactions read, the
 * matrices in both orientations for the evaluation split and the full
 * data, three sets of factors (the evaluation model's, the full fit's, and
 * the copy AlsSweeperEnd hands over before it releases the fit's), a
 * half-precision copy of both sides' and the id maps.
 */
static void
training_check_memory(const TrainingJob *job, const InteractionLog *log)
{
	int			k = (int) HyperparamNumber(job->hyperparameters, "factors", 0);
	Size		rows = (Size) log->users.n + log->items.n;
	Size		need = mul_size(log->n, LOG_BYTES_PER_INTERACTION);
	int			matrices = 2;

	/* HPO and AutoML add the validation split's matrix and may try more factors */
	if (job->tune.hpo || job->tune.automl)
		matrices = 3;
	for (int r = 0; r < job->tune.n_ranges; r++)
		if (strcmp(job->tune.ranges[r].name, "factors") == 0)
			k = Max(k, (int) job->tune.ranges[r].max);

	need = add_size(need, mul_size(log->n, matrices * 2 * (sizeof(int32) + sizeof(float))));
	need = add_size(need, mul_size(rows, matrices * 2 * sizeof(int64)));
	need = add_size(need, mul_size(mul_size(rows, Max(k, 0)), 3 * sizeof(float)));
	/* and ALS's half-precision copies of the factors (als_parallel.c) */
	need = add_size(need, mul_size(mul_size(rows, Max(k, 0)), sizeof(uint16)));
	need = add_size(need, mul_size(rows, 64));	/* ids and their hash entries */
	training_require_memory(job, need, "its matrices and factors");
}

/*
 * For training_mode UPDATE: start from the item factors of the solution's
 * latest ACTIVE version (new items start small and random), and carry its
 * metrics, since an update computes none.  Needs SPI.
 */
static void
training_warm_start(TrainingJob *job)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(job->solution)};
	int			k = (int) HyperparamNumber(job->hyperparameters, "factors", 64);
	int64		previous;
	TimestampTz created;
	bool		isnull;
	char	   *metrics;
	LoadedModel *lm;
	float	   *warm;
	pg_prng_state rng;

	if (CatalogExecute("SELECT id, created, (metrics || jsonb_build_object('metrics_from_version', id))::text, "
					   "hyperparameters, to_jsonb(v) ->> 'recipe' "
					   "FROM personalize.solution_version v WHERE solution = $1 AND status = 'ACTIVE' "
					   "ORDER BY id DESC LIMIT 1", 1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the previous solution version");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("solution \"%s\" has no ACTIVE version to update", job->solution),
				 errhint("Train one with training_mode => 'FULL' first.")));
	previous = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	created = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	MemoryContextSwitchTo(job->context);
	metrics = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (job->tune.hpo || job->tune.automl)
	{
		/* an update does not search again: it keeps what the search chose */
		char	   *recipe_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);

		job->hyperparameters = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
		if (recipe_name != NULL && RecipeLookup(recipe_name) != NULL)
			job->recipe = RecipeLookup(recipe_name);
		if (!job->recipe->incremental)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("training_mode UPDATE does not apply to recipe \"%s\", which AutoML chose for solution \"%s\"",
							job->recipe->name, job->solution),
					 errhint("Use training_mode => 'FULL'.")));
		k = (int) HyperparamNumber(job->hyperparameters, "factors", 64);
	}
	lm = ModelGet(previous, created);
	MemoryContextSwitchTo(job->context);
	if (lm->model.factors == NULL || lm->model.k != k)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("solution version " INT64_FORMAT " cannot be updated with %d factors", previous, k),
				 errhint("Use training_mode => 'FULL'.")));

	warm = palloc_extended(sizeof(float) * Max((Size) job->matrix->n_items * k, 1), MCXT_ALLOC_HUGE);
	pg_prng_seed(&rng, (uint64) HyperparamNumber(job->hyperparameters, "seed", 42));
	for (int32 i = 0; i < job->matrix->n_items; i++)
	{
		int32		j = IdMapLookup(&lm->items, job->log.items.ids[i]);

		if (j >= 0)
			memcpy(warm + (Size) i * k, lm->model.factors + (Size) j * k, sizeof(float) * k);
		else
			for (int f = 0; f < k; f++)
				warm[(Size) i * k + f] = (float) (pg_prng_double(&rng) * 0.01);
	}
	job->model.warm_factors = warm;
	job->metrics = metrics;
}

/* Features kept per dataset: enough for any real schema, small enough to solve. */
#define TRAINING_MAX_ITEM_FEATURES 20000
#define TRAINING_MAX_USER_FEATURES 1000

/*
 * Read the item and user metadata the recipe uses.  Items of the items
 * dataset without interactions join the catalogue (they have no
 * interactions, only features), so call this before building the matrix.
 */
static void
training_read_metadata(TrainingJob *job)
{
	const Recipe *recipe = job->recipe;

	if (recipe->uses_item_metadata)
	{
		job->item_metadata = palloc0(sizeof(EntityMetadata));
		if (!MetadataRead(job->dataset_group, "items", &job->log.items, true, 1,
						  TRAINING_MAX_ITEM_FEATURES, job->item_metadata))
			job->item_metadata = NULL;
		MemoryContextSwitchTo(job->context);
	}
	if (recipe->uses_user_metadata)
	{
		job->user_metadata = palloc0(sizeof(EntityMetadata));
		if (!MetadataRead(job->dataset_group, "users", &job->log.users, false, 2,
						  TRAINING_MAX_USER_FEATURES, job->user_metadata))
			job->user_metadata = NULL;
		MemoryContextSwitchTo(job->context);
	}
	if (recipe->requires_item_metadata &&
		(job->item_metadata == NULL || job->item_metadata->space.n_features == 0))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("recipe \"%s\" of solution \"%s\" needs item metadata, and dataset group \"%s\" has none",
						recipe->name, job->solution, job->dataset_group),
				 errhint("Register an items dataset with metadata columns: personalize.create_dataset('%s', 'items', 'table', metadata => ARRAY['genre', ...]).",
						 job->dataset_group)));
	if (recipe->uses_item_metadata && recipe->uses_user_metadata &&
		(job->item_metadata == NULL || job->item_metadata->space.n_features == 0) &&
		(job->user_metadata == NULL || job->user_metadata->space.n_features == 0))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("recipe \"%s\" of solution \"%s\" needs item or user metadata, and dataset group \"%s\" has none",
						recipe->name, job->solution, job->dataset_group),
				 errhint("Register an items or users dataset with metadata columns (create_dataset(..., metadata => ARRAY[...])), or use recipe \"user-personalization\".")));
}

/*
 * Set job->item_age_days: per item, the days from its creation time (the
 * items dataset's, else its first interaction) to the newest interaction,
 * which is "now" for the exploration of young items, as in Personalize.
 * Needs SPI when the items dataset registers creation times.
 */
static void
training_item_ages(TrainingJob *job)
{
	const InteractionLog *log = &job->log;
	int32		n = log->items.n;
	double	   *created = NULL;
	double	   *first;
	double		newest = -INFINITY;

	if (job->item_metadata != NULL && job->item_metadata->created != NULL)
		created = job->item_metadata->created;
	else
	{
		(void) MetadataReadCreated(job->dataset_group, &log->items, &created);
		MemoryContextSwitchTo(job->context);
	}
	first = palloc_extended(sizeof(double) * Max(n, 1), MCXT_ALLOC_HUGE);
	for (int32 i = 0; i < n; i++)
		first[i] = INFINITY;
	for (int64 e = 0; e < log->n; e++)
	{
		double		t = log->events[e].time;
		int32		item = log->events[e].item;

		if ((e & 0xFFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (t < first[item])
			first[item] = t;
		if (t > newest)
			newest = t;
	}
	job->item_age_days = NULL;
	if (isfinite(newest))
	{
		job->item_age_days = palloc_extended(sizeof(float) * Max(n, 1), MCXT_ALLOC_HUGE);
		for (int32 i = 0; i < n; i++)
		{
			double		born = created != NULL && !isnan(created[i]) ? created[i] : first[i];

			job->item_age_days[i] = isfinite(born) ? (float) ((newest - born) / SECS_PER_DAY) : NAN;
		}
	}
	pfree(first);
}

/*
 * Read the interactions into job->log and job->matrix, checking memory and
 * minimum data on the way.  Needs SPI and a transaction.
 */
void
TrainingRead(TrainingJob *job)
{
	InteractionsDataset ds;

	DatasetLookupInteractions(job->dataset_group, &ds);
	training_check_memory_before_reading(job, ds.relid);
	training_phase(job, "reading interactions", 0.05);
	/* SPI calls leave SPI's own context current: allocate in the job's */
	MemoryContextSwitchTo(job->context);
	InteractionLogInit(&job->log);
	job->event_weights = HyperparamObject(job->hyperparameters, "event_weights");
	DatasetReadInteractions(&ds, job->event_type,
							job->has_threshold ? &job->event_value_threshold : NULL, &job->log,
							job->event_weights);
	MemoryContextSwitchTo(job->context);
	training_progress(job, 1.0, "read");
	training_check_memory(job, &job->log);
	training_read_metadata(job);
	training_item_ages(job);
	/* the matrix takes over the events' array (0.3 GB at 20M) */
	job->matrix = MatrixBuildFromLog(&job->log);
	job->matrix->item_metadata = job->item_metadata;
	job->matrix->user_metadata = job->user_metadata;
	training_check_minimums(job, &job->log, job->matrix);
	if (job->update)
		training_warm_start(job);
}

/*
 * Compute the offline metrics on the evaluation split, then train the
 * model on all data.  Pure computation: no SPI, no transaction needed.
 */
void
TrainingCompute(TrainingJob *job)
{
	StringInfoData metrics;
	uint64		seed = (uint64) HyperparamNumber(job->hyperparameters, "seed", 42);
	bool		tuning = !job->update && (job->tune.hpo || job->tune.automl);

	MemoryContextSwitchTo(job->context);
	TrainingHelpersBegin();
	if (tuning)
	{
		StringInfoData record;

		/* choose hyperparameters or recipe on training users only (tune.c) */
		training_phase(job, job->tune.automl ? "choosing a recipe" : "tuning hyperparameters", 0.5);
		initStringInfo(&record);
		TuneRun(&job->tune, job->matrix, seed, &job->recipe, &job->hyperparameters,
				training_progress, job, &record);
		job->tune_record = record.data;
	}
	if (!job->update)			/* an update keeps the previous metrics */
	{
		training_phase(job, "evaluation split", tuning ? 0.2 : 0.45);
		initStringInfo(&metrics);
		EvaluateRecipe(job->matrix, job->recipe, job->hyperparameters, seed,
					   training_progress, job, &metrics);
		if (job->tune_record != NULL)
		{
			/* {..., "evaluated_users": n} -> {..., "evaluated_users": n, <record>} */
			metrics.data[--metrics.len] = '\0';
			appendStringInfo(&metrics, ", %s}", job->tune_record);
		}
		job->metrics = metrics.data;
	}

	training_phase(job, "training on all data", job->update ? 0.9 : tuning ? 0.2 : 0.45);
	job->recipe->train(job->matrix, job->hyperparameters, &job->model, training_progress, job);
	job->model.item_age_days = job->item_age_days;
}

/*
 * Write the model rows.  Needs SPI and a transaction.
 */
void
TrainingStore(TrainingJob *job)
{
	training_phase(job, "writing model", 0.05);
	ModelStore(job->version, &job->model, &job->log.items, &job->log.users);
	ContextStore(job->version, job->dataset_group, job->recipe);
	training_progress(job, 1.0, "written");
}

/*
 * Move the campaigns that follow the solution to the new ACTIVE version
 * (in the same transaction, so they switch exactly when it appears).
 */
static void
training_sync_campaigns(const TrainingJob *job)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job->version)};
	int			rc;

	rc = CatalogExecute("SELECT personalize._sync_campaigns($1)", 1, argtypes, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not synchronise campaigns: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
		ereport(job->in_worker ? LOG : NOTICE,
				(errmsg("campaign \"%s\" now serves solution version " INT64_FORMAT,
						SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1), job->version)));
}

/*
 * Mark the version ACTIVE (reason NULL, metrics and sizes from job) or
 * CREATE FAILED with reason.  Only a version still being trained changes:
 * returns false when it was not (e.g. stopped meanwhile).  Needs SPI and a
 * transaction.
 */
bool
TrainingFinish(TrainingJob *job, const char *reason)
{
	Oid			argtypes[9] = {INT8OID, TEXTOID, JSONBOID, TEXTOID, INT4OID, INT4OID, INT8OID, FLOAT8OID,
	JSONBOID};
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	instr_time	elapsed;
	int			rc;

	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, job->started);
	values[0] = Int64GetDatum(job->version);
	values[1] = CStringGetTextDatum(reason == NULL ? "ACTIVE" : "CREATE FAILED");
	if (reason == NULL)
		values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(job->metrics));
	else
		nulls[2] = 'n';
	if (reason != NULL)
		values[3] = CStringGetTextDatum(reason);
	else
		nulls[3] = 'n';
	if (reason == NULL)
	{
		values[4] = Int32GetDatum(job->matrix->n_users);
		values[5] = Int32GetDatum(job->matrix->n_items);
		values[6] = Int64GetDatum(job->log.n);
	}
	else
		nulls[4] = nulls[5] = nulls[6] = 'n';
	values[7] = Float8GetDatum(INSTR_TIME_GET_DOUBLE(elapsed));
	/* hyperparameters as tuned (HPO) or of the recipe chosen (AutoML) */
	if (reason == NULL)
		values[8] = JsonbPGetDatum(job->hyperparameters);
	else
		nulls[8] = 'n';

	rc = CatalogExecute("UPDATE personalize.solution_version SET status = $2, metrics = $3, "
							   "failure_reason = $4, users = $5, items = $6, interactions = $7, "
							   "training_seconds = $8, progress = CASE WHEN $3 IS NULL THEN progress ELSE 1 END, "
							   "finished = clock_timestamp(), "
							   "hyperparameters = coalesce($9, hyperparameters) "
							   "WHERE id = $1 AND status IN ('CREATE PENDING', 'CREATE IN_PROGRESS')",
							   9, argtypes, values, nulls, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update solution version: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1)
		return false;
	if (reason == NULL && job->tune.automl)
	{
		/* the version serves the recipe AutoML chose (NULL: the solution's) */
		values[1] = CStringGetTextDatum(job->recipe->name);
		rc = CatalogExecute("UPDATE personalize.solution_version SET recipe = $2 WHERE id = $1",
							2, argtypes, values, NULL, false, 0);
		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "could not update solution version: %s", SPI_result_code_string(rc));
	}
	if (reason == NULL)
		training_sync_campaigns(job);
	return true;
}

/*
 * Is this error one that must abort the caller's transaction rather than
 * become a CREATE FAILED row?
 */
static bool
training_error_is_fatal(const ErrorData *edata)
{
	return edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
		edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
		edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE ||
		edata->sqlerrcode == ERRCODE_OUT_OF_MEMORY ||
		edata->elevel > ERROR;
}

/*
 * Run the phases of job in a subtransaction of the caller's transaction
 * and finish the version; a data failure becomes CREATE FAILED and a
 * WARNING.
 */
static void
training_run_here(TrainingJob *job)
{
	MemoryContext caller_context = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	ErrorData  *edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller_context);
	PG_TRY();
	{
		TrainingRead(job);
		TrainingCompute(job);
		TrainingStore(job);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_context);
		CurrentResourceOwner = caller_owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller_context);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_context);
		CurrentResourceOwner = caller_owner;
		if (training_error_is_fatal(edata))
			ReThrowError(edata);
	}
	PG_END_TRY();

	if (edata == NULL)
		TrainingFinish(job, NULL);
	else
	{
		TrainingFinish(job, edata->message);
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("solution version " INT64_FORMAT " of \"%s\" failed: %s",
						job->version, job->solution, edata->message),
				 edata->hint ? errhint("%s", edata->hint) : 0));
	}
}

PG_FUNCTION_INFO_V1(personalize_create_solution_version);

/*
 * create_solution_version(solution text, training_mode text DEFAULT 'FULL',
 *                         wait boolean DEFAULT true) RETURNS bigint
 *
 * Train solution and return the new version's id.  With wait => true the
 * version is trained here: ACTIVE on success, CREATE FAILED with
 * failure_reason and a WARNING when training fails for data reasons.  With
 * wait => false it is CREATE PENDING and a background worker, started
 * when this transaction commits, trains it.
 */
Datum
personalize_create_solution_version(PG_FUNCTION_ARGS)
{
	TrainingJob job = {0};
	MemoryContext caller_context = CurrentMemoryContext;
	MemoryContext training_context;
	bool		wait = PG_ARGISNULL(2) ? true : PG_GETARG_BOOL(2);

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("solution cannot be null")));
	job.solution = text_to_cstring(PG_GETARG_TEXT_PP(0));
	job.training_mode = PG_ARGISNULL(1) ? "FULL" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (pg_strcasecmp(job.training_mode, "FULL") == 0)
		job.training_mode = "FULL";
	else if (pg_strcasecmp(job.training_mode, "UPDATE") == 0)
	{
		job.training_mode = "UPDATE";
		job.update = true;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown training_mode \"%s\"", job.training_mode),
				 errhint("Valid training modes are FULL and UPDATE.")));

	INSTR_TIME_SET_CURRENT(job.started);
	training_context = AllocSetContextCreate(caller_context, "personalize training context",
											 ALLOCSET_DEFAULT_SIZES);
	job.context = training_context;
	SPI_connect();
	MemoryContextSwitchTo(training_context);
	if (wait)
	{
		training_begin(&job, "CREATE IN_PROGRESS");
		training_run_here(&job);
	}
	else
	{
		training_begin(&job, "CREATE PENDING");
		TrainingWorkerLaunch(job.version);
	}
	SPI_finish();
	MemoryContextSwitchTo(caller_context);
	MemoryContextDelete(training_context);
	PG_RETURN_INT64(job.version);
}
