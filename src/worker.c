/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  Background training: create_solution_version(..., wait => false)
 *	  and wait_for_solution_version().
 *
 * One dynamic background worker per job (no shared_preload_libraries
 * needed), running as the role that asked (worker_connect), so training
 * reads the interactions with that role's privileges.  The job's
 * parameters travel in bgw_extra.  The worker first waits for the
 * requesting transaction to end (the CREATE PENDING row is invisible
 * until then; if that transaction rolled back there is nothing to do),
 * then claims the version (CREATE IN_PROGRESS) and runs the same phases
 * as synchronous training:
 *
 *   transaction 1   TrainingRead      read the data, build the matrix
 *   no transaction  TrainingCompute   metrics and training; after each
 *                                     step a short transaction records
 *                                     progress and notices a stop request
 *   transaction 2   TrainingStore + TrainingFinish  model rows and ACTIVE
 *
 * so a stopped or failed job never leaves model rows.  An error marks the
 * version CREATE FAILED with the message.  A worker that dies without a
 * chance to do so (killed, server crash) is noticed by
 * wait_for_solution_version, which marks the version CREATE FAILED.
 *
 * A batch inference job uses the same launch and wait: its worker runs
 * personalize._run_batch_job as the requesting role in one transaction,
 * so a failed job leaves no output table, and records the failure.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "personalize.h"
#include "train.h"

/*
 * Parameters of one job, passed in bgw_extra, with the requesting
 * session's training settings so the worker applies the same limits.
 */
typedef enum WorkerKind
{
	WORKER_TRAINING,
	WORKER_BATCH_JOB
} WorkerKind;

typedef struct TrainingWorkerArgs
{
	WorkerKind	kind;
	int64		version;		/* or the batch job id */
	Oid			database;
	Oid			role;			/* the requester's current role: the job runs as it */
	Oid			login_role;		/* the requester's login role: the worker connects as it */
	TransactionId requester_xid;
	int			min_interactions;
	int			min_users;
	int			training_memory_kb;
	int			ease_max_items;
	int			max_results;
	int			max_training_workers;
	int			min_parallel_training_interactions;
	int			als_half_rows_min_kb;
} TrainingWorkerArgs;

StaticAssertDecl(sizeof(TrainingWorkerArgs) <= BGW_EXTRALEN,
				 "training worker arguments must fit in bgw_extra");

/* How often wait_for_solution_version looks at the version row. */
#define WAIT_POLL_MS 100

PGDLLEXPORT void personalize_training_worker_main(Datum main_arg);

static int	worker_launch(WorkerKind kind, int64 version);
static void batch_job_run(int64 id);

/* Context current before worker_begin, restored by worker_end. */
static MemoryContext worker_saved_context = NULL;

/*
 * Start a transaction with a snapshot and SPI, keeping the current memory
 * context for allocations.
 */
static void
worker_begin(void)
{
	worker_saved_context = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	MemoryContextSwitchTo(worker_saved_context);
}

/*
 * Close what worker_begin opened and commit.
 */
static void
worker_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(worker_saved_context);
}

/*
 * Start a background worker for the CREATE PENDING version and record its
 * pid on the version row.  Called by create_solution_version in the
 * requesting transaction, connected to SPI.
 */
int
TrainingWorkerLaunch(int64 version)
{
	return worker_launch(WORKER_TRAINING, version);
}

/*
 * Start a background worker of kind for the object id and record its pid
 * on the object's row.  Called in the requesting transaction, connected to
 * SPI.
 */
static int
worker_launch(WorkerKind kind, int64 version)
{
	BackgroundWorker worker = {0};
	BackgroundWorkerHandle *handle;
	TrainingWorkerArgs args;
	pid_t		pid;
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		values[2];

	args.kind = kind;
	args.version = version;
	args.database = MyDatabaseId;
	args.role = GetUserId();
	args.login_role = GetAuthenticatedUserId();
	args.requester_xid = GetTopTransactionId();
	args.min_interactions = personalize_min_interactions;
	args.min_users = personalize_min_users;
	args.training_memory_kb = personalize_training_memory_kb;
	args.ease_max_items = personalize_ease_max_items;
	args.max_results = personalize_max_results;
	args.max_training_workers = personalize_max_training_workers;
	args.min_parallel_training_interactions = personalize_min_parallel_training_interactions;
	args.als_half_rows_min_kb = personalize_als_half_rows_min_kb;

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "personalize");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "personalize_training_worker_main");
	if (kind == WORKER_TRAINING)
		snprintf(worker.bgw_name, BGW_MAXLEN, "personalize training of solution version " INT64_FORMAT, version);
	else
		snprintf(worker.bgw_name, BGW_MAXLEN, "personalize batch job " INT64_FORMAT, version);
	snprintf(worker.bgw_type, BGW_MAXLEN, kind == WORKER_TRAINING ? "personalize training" : "personalize batch job");
	worker.bgw_notify_pid = MyProcPid;
	memcpy(worker.bgw_extra, &args, sizeof(args));

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a background worker for %s " INT64_FORMAT,
						kind == WORKER_TRAINING ? "solution version" : "batch job", version),
				 errhint("All background worker slots are in use: raise max_worker_processes (now %d), or train with wait => true.",
						 max_worker_processes)));
	if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("the background worker for %s " INT64_FORMAT " did not start",
						kind == WORKER_TRAINING ? "solution version" : "batch job", version),
				 errhint("See the server log.")));

	values[0] = Int64GetDatum(version);
	values[1] = Int32GetDatum(pid);
	if (CatalogExecute(kind == WORKER_TRAINING
							  ? "UPDATE personalize.solution_version SET worker_pid = $2 WHERE id = $1"
							  : "UPDATE personalize.batch_job SET worker_pid = $2 WHERE id = $1",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the training worker");
	return pid;
}

/*
 * Record the job's progress in its own short transaction and stop the job
 * when the version is no longer being trained (stop_solution_version).
 * Inside a transaction (the read and store phases) there is nothing to
 * record: the row would not be visible before commit anyway.
 */
void
TrainingWorkerProgress(TrainingJob *job)
{
	Oid			argtypes[2] = {INT8OID, FLOAT4OID};
	Datum		values[2];
	bool		stopped;

	if (IsTransactionState())
		return;
	values[0] = Int64GetDatum(job->version);
	values[1] = Float4GetDatum(job->last_percent / 100.0f);
	worker_begin();
	if (CatalogExecute("UPDATE personalize.solution_version SET progress = $2 "
							  "WHERE id = $1 AND status = 'CREATE IN_PROGRESS'",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record training progress");
	stopped = SPI_processed == 0;
	worker_end();
	if (stopped)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("training of solution version " INT64_FORMAT " was stopped", job->version)));
}

/*
 * Connect as the requester.  PostgreSQL 15 refuses a worker connection as a
 * NOLOGIN role, and the requester's current role often is one (SET ROLE to
 * a group role), so connect as the role that logged in and then become the
 * current role for the rest of the worker's life.  As in a SECURITY
 * DEFINER function, SET ROLE and SET SESSION AUTHORIZATION are refused
 * from then on, so a batch job's input query cannot switch back.
 */
static void
worker_connect(const TrainingWorkerArgs *args)
{
	BackgroundWorkerInitializeConnectionByOid(args->database, args->login_role, 0);
	if (args->role != args->login_role)
		SetUserIdAndSecContext(args->role, SECURITY_LOCAL_USERID_CHANGE);
}

/*
 * Set an integer setting of the worker's session to the requester's value.
 */
static void
worker_apply_setting(const char *name, int value)
{
	char		text[32];

	snprintf(text, sizeof(text), "%d", value);
	/* the requester's session held these values legitimately, SUSET ones too */
	SetConfigOption(name, text, PGC_SUSET, PGC_S_SESSION);
}

/*
 * Is the process pid still running?  (A worker enters the process array
 * only once connected, so the process table is the reliable witness.)
 */
static bool
worker_process_alive(int pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

/*
 * Run one statement with an int8 parameter as the extension owner (catalog
 * bookkeeping of batch jobs) or as the worker's role; returns rows processed.
 */
static uint64
worker_execute(const char *sql, int64 id, bool as_owner)
{
	Oid			argtype = INT8OID;
	Datum		value = Int64GetDatum(id);
	int			rc;

	rc = as_owner
		? CatalogExecute(sql, 1, &argtype, &value, NULL, false, 0)
		: SPI_execute_with_args(sql, 1, &argtype, &value, NULL, false, 0);
	if (rc < 0)
		elog(ERROR, "could not run batch job statement: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * Run batch job id: claim it, run it as the requesting role, and record a
 * failure with its message.
 */
static void
batch_job_run(int64 id)
{
	MemoryContext context = CurrentMemoryContext;
	bool		claimed;

	worker_begin();
	claimed = worker_execute("UPDATE personalize.batch_job SET status = 'CREATE IN_PROGRESS' "
							 "WHERE id = $1 AND status = 'CREATE PENDING'", id, true) == 1;
	worker_end();
	if (!claimed)
		return;
	pgstat_report_activity(STATE_RUNNING, psprintf("batch job " INT64_FORMAT, id));
	PG_TRY();
	{
		worker_begin();
		(void) worker_execute("SELECT personalize._run_batch_job($1)", id, false);
		worker_end();
		ereport(LOG, (errmsg("batch job " INT64_FORMAT " is ACTIVE", id)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		Oid			argtypes[2] = {INT8OID, TEXTOID};
		Datum		values[2];

		MemoryContextSwitchTo(context);
		EmitErrorReport();
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		MemoryContextSwitchTo(context);
		values[0] = Int64GetDatum(id);
		values[1] = CStringGetTextDatum(edata->message);
		worker_begin();
		(void) CatalogExecute("UPDATE personalize.batch_job SET status = 'CREATE FAILED', "
									 "failure_reason = $2, finished = clock_timestamp() WHERE id = $1",
									 2, argtypes, values, NULL, false, 0);
		worker_end();
	}
	PG_END_TRY();
}

PG_FUNCTION_INFO_V1(personalize_launch_batch_worker);

/*
 * _launch_batch_worker(job bigint) RETURNS integer
 *
 * Start the background worker of a CREATE PENDING batch job; returns its pid.
 */
Datum
personalize_launch_batch_worker(PG_FUNCTION_ARGS)
{
	int			pid;

	SPI_connect();
	pid = worker_launch(WORKER_BATCH_JOB, PG_GETARG_INT64(0));
	SPI_finish();
	PG_RETURN_INT32(pid);
}

/*
 * Entry point of a training worker.
 */
void
personalize_training_worker_main(Datum main_arg)
{
	TrainingWorkerArgs args;
	TrainingJob job = {0};
	MemoryContext job_context;
	bool		claimed;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	worker_connect(&args);
	worker_apply_setting("personalize.min_interactions", args.min_interactions);
	worker_apply_setting("personalize.min_users", args.min_users);
	worker_apply_setting("personalize.training_memory", args.training_memory_kb);
	worker_apply_setting("personalize.ease_max_items", args.ease_max_items);
	worker_apply_setting("personalize.max_results", args.max_results);
	worker_apply_setting("personalize.max_training_workers", args.max_training_workers);
	worker_apply_setting("personalize.min_parallel_training_interactions",
						 args.min_parallel_training_interactions);
	worker_apply_setting("personalize.als_half_rows_min_kb", args.als_half_rows_min_kb);

	job_context = AllocSetContextCreate(TopMemoryContext, "personalize training context",
										ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(job_context);
	job.version = args.version;
	job.in_worker = true;
	job.context = job_context;
	INSTR_TIME_SET_CURRENT(job.started);

	/* The CREATE PENDING row becomes visible when the requester commits. */
	StartTransactionCommand();
	XactLockTableWait(args.requester_xid, NULL, NULL, XLTW_None);
	CommitTransactionCommand();
	MemoryContextSwitchTo(job_context);

	if (args.kind == WORKER_BATCH_JOB)
	{
		batch_job_run(args.version);
		proc_exit(0);
	}

	PG_TRY();
	{
		worker_begin();
		claimed = TrainingClaimVersion(&job);
		worker_end();
		if (!claimed)
		{
			ereport(LOG,
					(errmsg("solution version " INT64_FORMAT " is no longer pending; nothing to train",
							args.version)));
			proc_exit(0);
		}
		pgstat_report_activity(STATE_RUNNING, psprintf("training solution version " INT64_FORMAT, job.version));

		worker_begin();
		TrainingRead(&job);
		worker_end();

		TrainingCompute(&job);

		worker_begin();
		TrainingStore(&job);
		if (!TrainingFinish(&job, NULL))
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("training of solution version " INT64_FORMAT " was stopped", job.version)));
		worker_end();
		ereport(LOG,
				(errmsg("solution version " INT64_FORMAT " of \"%s\" is ACTIVE", job.version, job.solution)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(job_context);
		EmitErrorReport();
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		MemoryContextSwitchTo(job_context);
		worker_begin();
		TrainingFinish(&job, edata->message);
		worker_end();
	}
	PG_END_TRY();

	proc_exit(0);
}

/*
 * Mark a version whose worker is gone CREATE FAILED; returns its status.
 */
static char *
wait_fail_dead_worker(int64 version, int pid)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	values[0] = Int64GetDatum(version);
	values[1] = CStringGetTextDatum(pid == 0
									? pstrdup("the server restarted before training finished")
									: psprintf("the training worker (pid %d) exited before finishing", pid));
	if (CatalogExecute("UPDATE personalize.solution_version SET status = 'CREATE FAILED', "
							  "failure_reason = $2, finished = clock_timestamp() "
							  "WHERE id = $1 AND status IN ('CREATE PENDING', 'CREATE IN_PROGRESS')",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update solution version");
	return SPI_processed == 1 ? "CREATE FAILED" : NULL;
}

PG_FUNCTION_INFO_V1(personalize_wait_for_solution_version);

/*
 * wait_for_solution_version(solution_version bigint,
 *                           timeout interval DEFAULT '1 hour') RETURNS text
 *
 * Wait until the version is no longer CREATE PENDING or CREATE IN_PROGRESS
 * and return its status; after timeout, return the status it has then.  A
 * version whose worker has exited without finishing is marked CREATE
 * FAILED.  Each look at the row takes a new snapshot, so call it outside
 * REPEATABLE READ transactions.
 */
Datum
personalize_wait_for_solution_version(PG_FUNCTION_ARGS)
{
	int64		version;
	Interval   *timeout;
	TimestampTz deadline;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	char	   *status = NULL;
	MemoryContext caller_context = CurrentMemoryContext;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("solution_version cannot be null")));
	version = PG_GETARG_INT64(0);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout cannot be null"),
				 errhint("Pass an interval such as '10 minutes'.")));
	timeout = PG_GETARG_INTERVAL_P(1);
	deadline = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													   TimestampTzGetDatum(GetCurrentTimestamp()),
													   IntervalPGetDatum(timeout)));
	values[0] = Int64GetDatum(version);

	SPI_connect();
	for (;;)
	{
		bool		isnull;
		int			pid;

		CHECK_FOR_INTERRUPTS();
		/* a wait can last hours: free each look's rows before the next */
		SPI_freetuptable(SPI_tuptable);
		if (status != NULL)
			pfree(status);
		/* a version created before the server (re)started has no worker left */
		if (CatalogExecute("SELECT status, CASE WHEN created < pg_postmaster_start_time() THEN 0 "
						   "ELSE worker_pid END FROM personalize.solution_version WHERE id = $1",
								  1, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read solution version");
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("solution version " INT64_FORMAT " does not exist", version),
					 errhint("See personalize.solution_versions for the existing ones.")));
		status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		pid = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		if (strcmp(status, "CREATE PENDING") != 0 && strcmp(status, "CREATE IN_PROGRESS") != 0)
			break;
		if (!isnull && (pid == 0 || !worker_process_alive(pid)))
		{
			/* the worker may have committed its last word just now: look again first */
			if (CatalogExecute("SELECT 1 FROM personalize.solution_version WHERE id = $1 "
									  "AND status IN ('CREATE PENDING', 'CREATE IN_PROGRESS')",
									  1, argtypes, values, NULL, false, 1) == SPI_OK_SELECT &&
				SPI_processed == 1)
			{
				char	   *failed = wait_fail_dead_worker(version, pid);

				if (failed != NULL)
				{
					pfree(status);
					status = failed;
					break;
				}
			}
			continue;
		}
		if (GetCurrentTimestamp() >= deadline)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 WAIT_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	status = MemoryContextStrdup(caller_context, status);	/* SPI_finish frees SPI memory */
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(status));
}
