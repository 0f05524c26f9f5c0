/*-------------------------------------------------------------------------
 *
 * train.c
 *	  create_solution_version(): train a solution into a new version.
 *
 * The version row is inserted first (CREATE IN_PROGRESS) in the caller's
 * transaction.  Everything that can fail for data reasons then runs in a
 * subtransaction: reading the interactions (with the caller's privileges),
 * the minimum-data check, the evaluation split and its metrics, training
 * on all data and writing the model rows.  If that fails, the
 * subtransaction is rolled back, so no model rows remain, and the version
 * row is marked CREATE FAILED with the reason, which the caller also sees
 * as a WARNING.  A cancel, a shutdown or a privilege error is not
 * swallowed: it aborts the caller's transaction and nothing remains.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/train.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
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

#include "dataset.h"
#include "evaluate.h"
#include "model.h"
#include "personalize.h"
#include "recipe.h"

/* What one training job knows about itself. */
typedef struct TrainingJob
{
	char	   *solution;
	char	   *dataset_group;
	const Recipe *recipe;
	char	   *training_mode;
	Jsonb	   *hyperparameters;	/* resolved */
	char	   *event_type;		/* or NULL */
	bool		has_threshold;
	double		event_value_threshold;
	int64		version;
	instr_time	started;
	const char *phase;
	double		phase_start;	/* share of the whole job done before this phase */
	double		phase_share;	/* share of the whole job this phase is */
	int			last_percent;
} TrainingJob;

/*
 * Report progress of the current phase as a NOTICE, at most every 5%.
 */
static void
training_progress(void *arg, double fraction, const char *step)
{
	TrainingJob *job = arg;
	instr_time	now;
	int			percent = (int) ((job->phase_start + fraction * job->phase_share) * 100.0);

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
 * Start a new phase covering share of the whole job.
 */
static void
training_phase(TrainingJob *job, const char *phase, double share)
{
	job->phase_start += job->phase_share;
	job->phase = phase;
	job->phase_share = share;
}

/*
 * Read the solution and insert its new version row; fill job.
 */
static void
training_begin(TrainingJob *job)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, JSONBOID};
	Datum		values[3];
	OwnerSwitch sw;
	SPITupleTable *tt;
	bool		isnull;
	Oid			owner;
	char	   *recipe_name;
	int			rc;

	values[0] = CStringGetTextDatum(job->solution);
	BecomeExtensionOwner(&sw);
	rc = SPI_execute_with_args("SELECT s.dataset_group, s.recipe, s.owner::oid, s.event_type, "
							   "s.event_value_threshold, "
							   "personalize._resolve_hyperparameters(s.recipe, s.hyperparameters) "
							   "FROM personalize.solution s WHERE s.name = $1",
							   1, argtypes, values, NULL, false, 1);
	RestoreUser(&sw);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read solution: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("solution \"%s\" does not exist", job->solution),
				 errhint("Create it with personalize.create_solution, or see personalize.solutions.")));
	tt = SPI_tuptable;
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

	values[1] = CStringGetTextDatum(job->training_mode);
	values[2] = JsonbPGetDatum(job->hyperparameters);
	BecomeExtensionOwner(&sw);
	rc = SPI_execute_with_args("INSERT INTO personalize.solution_version "
							   "(solution, status, training_mode, hyperparameters) "
							   "VALUES ($1, 'CREATE IN_PROGRESS', $2, $3) RETURNING id",
							   3, argtypes, values, NULL, false, 1);
	RestoreUser(&sw);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not insert solution version: %s", SPI_result_code_string(rc));
	job->version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
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

/*
 * Raise an error before allocating when the job would exceed
 * personalize.training_memory.
 */
static void
training_check_memory(const TrainingJob *job, const InteractionLog *log)
{
	int			k = (int) HyperparamNumber(job->hyperparameters, "factors", 0);
	Size		users = log->users.n;
	Size		items = log->items.n;
	/* matrix in both orientations, plus user and item factors and a copy per split */
	Size		need = add_size(mul_size(log->n, 2 * (sizeof(int32) + sizeof(float)) + sizeof(double) + sizeof(int64)),
								mul_size(mul_size(users + items, k), 2 * sizeof(float)));

	if (need / 1024 > (Size) personalize_training_memory_kb)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("training solution \"%s\" needs about %zu MB, more than personalize.training_memory (%d MB)",
						job->solution, need / (1024 * 1024), personalize_training_memory_kb / 1024),
				 errhint("Raise personalize.training_memory, or use fewer factors.")));
}

/*
 * Read, check, evaluate, train and store: the part of the job that runs
 * in a subtransaction.  Returns the metrics as JSON text.
 */
static char *
training_run(TrainingJob *job, InteractionLog *log, InteractionMatrix **matrix)
{
	InteractionsDataset ds;
	InteractionMatrix *m;
	RecipeModel model = {0};
	StringInfoData metrics;
	uint64		seed = (uint64) HyperparamNumber(job->hyperparameters, "seed", 42);

	DatasetLookupInteractions(job->dataset_group, &ds);
	training_phase(job, "reading interactions", 0.05);
	InteractionLogInit(log);
	DatasetReadInteractions(&ds, job->event_type,
							job->has_threshold ? &job->event_value_threshold : NULL, log);
	training_progress(job, 1.0, "read");
	training_check_memory(job, log);
	m = MatrixBuild(log->users.n, log->items.n, log->n, log->user, log->item, log->time);
	*matrix = m;
	training_check_minimums(job, log, m);

	training_phase(job, "evaluation split", 0.45);
	initStringInfo(&metrics);
	EvaluateRecipe(m, job->recipe, job->hyperparameters, seed,
				   training_progress, job, &metrics);

	training_phase(job, "training on all data", 0.45);
	job->recipe->train(m, job->hyperparameters, &model, training_progress, job);

	training_phase(job, "writing model", 0.05);
	ModelStore(job->version, &model, &log->items);
	training_progress(job, 1.0, "written");
	return metrics.data;
}

/*
 * Mark the version ACTIVE (metrics given) or CREATE FAILED (reason given).
 */
static void
training_finish(const TrainingJob *job, const char *metrics, const char *reason,
				const InteractionLog *log, const InteractionMatrix *m)
{
	Oid			argtypes[8] = {INT8OID, TEXTOID, JSONBOID, TEXTOID, INT4OID, INT4OID, INT8OID, FLOAT8OID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	instr_time	elapsed;
	OwnerSwitch sw;
	int			rc;

	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, job->started);
	values[0] = Int64GetDatum(job->version);
	values[1] = CStringGetTextDatum(metrics != NULL ? "ACTIVE" : "CREATE FAILED");
	if (metrics != NULL)
		values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(metrics));
	else
		nulls[2] = 'n';
	if (reason != NULL)
		values[3] = CStringGetTextDatum(reason);
	else
		nulls[3] = 'n';
	if (m != NULL)
	{
		values[4] = Int32GetDatum(m->n_users);
		values[5] = Int32GetDatum(m->n_items);
		values[6] = Int64GetDatum(log->n);
	}
	else
		nulls[4] = nulls[5] = nulls[6] = 'n';
	values[7] = Float8GetDatum(INSTR_TIME_GET_DOUBLE(elapsed));

	BecomeExtensionOwner(&sw);
	rc = SPI_execute_with_args("UPDATE personalize.solution_version SET status = $2, metrics = $3, "
							   "failure_reason = $4, users = $5, items = $6, interactions = $7, "
							   "training_seconds = $8, progress = CASE WHEN $3 IS NULL THEN progress ELSE 1 END, "
							   "finished = clock_timestamp() WHERE id = $1",
							   8, argtypes, values, nulls, false, 0);
	RestoreUser(&sw);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update solution version: %s", SPI_result_code_string(rc));
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

PG_FUNCTION_INFO_V1(personalize_create_solution_version);

/*
 * create_solution_version(solution text, training_mode text DEFAULT 'FULL',
 *                         wait boolean DEFAULT true) RETURNS bigint
 *
 * Train solution synchronously and return the new version's id.  The
 * version is ACTIVE on success; when training fails for data reasons it is
 * CREATE FAILED with failure_reason set and a WARNING repeats the reason.
 */
Datum
personalize_create_solution_version(PG_FUNCTION_ARGS)
{
	TrainingJob job = {0};
	MemoryContext caller_context = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	MemoryContext training_context;
	InteractionLog log = {0};
	InteractionMatrix *matrix = NULL;
	char	   *metrics = NULL;
	ErrorData  *edata = NULL;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("solution cannot be null")));
	job.solution = text_to_cstring(PG_GETARG_TEXT_PP(0));
	job.training_mode = PG_ARGISNULL(1) ? "FULL" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (pg_strcasecmp(job.training_mode, "FULL") == 0)
		job.training_mode = "FULL";
	else if (pg_strcasecmp(job.training_mode, "UPDATE") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("training_mode UPDATE is not supported yet"),
				 errhint("Use training_mode => 'FULL'.")));
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown training_mode \"%s\"", job.training_mode),
				 errhint("Valid training modes are FULL and UPDATE.")));
	if (!PG_ARGISNULL(2) && !PG_GETARG_BOOL(2))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("background training (wait => false) is not supported yet"),
				 errhint("Use wait => true; the call returns when the version is trained.")));

	INSTR_TIME_SET_CURRENT(job.started);
	training_context = AllocSetContextCreate(caller_context, "personalize training context",
											 ALLOCSET_DEFAULT_SIZES);
	SPI_connect();
	training_begin(&job);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(training_context);
	PG_TRY();
	{
		metrics = training_run(&job, &log, &matrix);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(training_context);
		CurrentResourceOwner = caller_owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller_context);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(training_context);
		CurrentResourceOwner = caller_owner;
		if (training_error_is_fatal(edata))
			ReThrowError(edata);
	}
	PG_END_TRY();

	if (edata == NULL)
		training_finish(&job, metrics, NULL, &log, matrix);
	else
	{
		training_finish(&job, NULL, edata->message, &log, NULL);
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("solution version " INT64_FORMAT " of \"%s\" failed: %s",
						job.version, job.solution, edata->message),
				 edata->hint ? errhint("%s", edata->hint) : 0));
	}
	SPI_finish();
	MemoryContextSwitchTo(caller_context);
	MemoryContextDelete(training_context);
	PG_RETURN_INT64(job.version);
}
