/*-------------------------------------------------------------------------
 *
 * evaluate_parallel.c
 *	  Scoring the held-out users of a factor model in helper processes
 *	  (the offline metrics of evaluate.c).
 *
 * After the evaluation fit, the training process scored the held-out users
 * alone while its ALS helpers had exited: at 20M interactions, 14k users
 * and 2-2.8 s on one core of a 2-core machine.  Here the training process
 * copies the model and the held-out users' histories into a dynamic shared
 * memory segment, starts up to personalize.max_training_workers helpers
 * (background workers, as for ALS: src/training_helpers.c), and it and the
 * helpers take batches of users in turn until none is left.  Each process
 * scores a batch exactly as the training process alone would
 * (EvaluationScoreBatch, batches of the same users), writes each user's
 * metric sums to the user's slot and marks the items it recommended; the
 * training process then adds the slots up in the order of the held-out
 * list, so the metrics are the same to the bit with or without helpers.
 *
 * A helper terminated (SIGTERM) finishes the batch it holds and leaves;
 * the others, and the training process, score the rest.  A helper that
 * dies holding a batch (a crash, an error) leaves it unscored: the training
 * process notices once every helper has stopped with batches missing, and
 * raises an error.  An error in the training process tells the helpers to
 * stop after their current batch.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/evaluate_parallel.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/condition_variable.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/shm_toc.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "blas.h"
#include "evaluate.h"
#include "personalize.h"
#include "training_helpers.h"

#define EVAL_SHM_MAGIC		0x50455641
#define EVAL_MAX_WORKERS	64
/* How often the training process looks whether its helpers are still there. */
#define EVAL_WAIT_MS		1000

/* Keys of the shared segment's table of contents. */
enum
{
	EVAL_KEY_SHARED,
	EVAL_KEY_FACTORS,
	EVAL_KEY_GRAM,
	EVAL_KEY_POPULARITY,
	EVAL_KEY_OFFSETS,
	EVAL_KEY_ITEMS,
	EVAL_KEY_USER_METRICS,
	EVAL_KEY_RECOMMENDED,
	EVAL_N_KEYS
};

/* The coordination state and the model's scalars, in the segment. */
typedef struct EvalShared
{
	ConditionVariable done_cv;	/* signalled as each batch is done */
	pg_atomic_uint32 next_batch;	/* the next batch to take */
	pg_atomic_uint32 batches_done;
	pg_atomic_uint32 helper_batches;	/* of them, done by helpers (for the log) */
	pg_atomic_uint32 stop;		/* the training process has gone: stop */
	pg_atomic_uint32 attached;	/* helpers ready to take batches */
	int32		n_users;		/* held-out users */
	int32		batch;			/* users per batch */
	int32		n_batches;
	int32		max_len;		/* longest history */
	/* the model */
	int32		n_items;
	int32		model_users;
	int			k;
	double		alpha;
	double		regularization;
	double		recency_half_life;
} EvalShared;

/* What each process sees of the segment. */
typedef struct EvalView
{
	EvalShared *shared;
	RecipeModel model;			/* its arrays in the segment */
	int64	   *offsets;		/* user j's history: items[offsets[j]..offsets[j + 1]) */
	TimedItem  *items;			/* in the matrix's order until a process sorts them */
	EvaluationMetrics *user_metrics;	/* one slot per user */
	bool	   *recommended;	/* n_items */
} EvalView;

PGDLLEXPORT void personalize_evaluation_worker_main(Datum main_arg);

/*
 * Take batches until none is left (or the training process has gone),
 * score them, and count each one done.
 */
static void
eval_take_batches(EvalView *v, bool helper)
{
	EvalShared *shared = v->shared;
	EvaluationBatchWork *w = EvaluationBatchWorkAlloc(&v->model, shared->batch, shared->max_len);
	TimedItem **items = palloc(sizeof(TimedItem *) * shared->batch);
	int32	   *len = palloc(sizeof(int32) * shared->batch);

	for (;;)
	{
		uint32		b = pg_atomic_fetch_add_u32(&shared->next_batch, 1);
		int32		first;
		int			nb;

		if (b >= (uint32) shared->n_batches || pg_atomic_read_u32(&shared->stop) != 0)
			break;
		first = (int32) b * shared->batch;
		nb = Min(shared->batch, shared->n_users - first);
		/*
		 * A helper finishes a batch it took before acting on a SIGTERM (top-K
		 * checks for interrupts), so that a terminated helper leaves no
		 * users unscored; the training process may stop anywhere (an error
		 * then ends the evaluation).
		 */
		if (helper)
			HOLD_INTERRUPTS();
		for (int j = 0; j < nb; j++)
		{
			items[j] = v->items + v->offsets[first + j];
			len[j] = (int32) (v->offsets[first + j + 1] - v->offsets[first + j]);
			EvaluationSortItems(items[j], len[j]);
		}
		EvaluationScoreBatch(&v->model, w, items, len, nb, v->user_metrics + first,
							 v->recommended);
		if (helper)
		{
			RESUME_INTERRUPTS();
			pg_atomic_fetch_add_u32(&shared->helper_batches, 1);
		}
		/* a full barrier: the slots are written before the count says so */
		pg_atomic_fetch_add_u32(&shared->batches_done, 1);
		ConditionVariableBroadcast(&shared->done_cv);
		CHECK_FOR_INTERRUPTS();
	}
	EvaluationBatchWorkFree(w);
	pfree(items);
	pfree(len);
}

/* Point v at the segment's parts (toc: its table of contents). */
static void
eval_view(shm_toc *toc, EvalView *v)
{
	EvalShared *shared = shm_toc_lookup(toc, EVAL_KEY_SHARED, false);

	v->shared = shared;
	memset(&v->model, 0, sizeof(RecipeModel));
	v->model.n_items = shared->n_items;
	v->model.n_users = shared->model_users;
	v->model.k = shared->k;
	v->model.alpha = shared->alpha;
	v->model.regularization = shared->regularization;
	v->model.recency_half_life = shared->recency_half_life;
	v->model.factors = shm_toc_lookup(toc, EVAL_KEY_FACTORS, false);
	v->model.gram = shm_toc_lookup(toc, EVAL_KEY_GRAM, false);
	v->model.popularity = shm_toc_lookup(toc, EVAL_KEY_POPULARITY, false);
	v->offsets = shm_toc_lookup(toc, EVAL_KEY_OFFSETS, false);
	v->items = shm_toc_lookup(toc, EVAL_KEY_ITEMS, false);
	v->user_metrics = shm_toc_lookup(toc, EVAL_KEY_USER_METRICS, false);
	v->recommended = shm_toc_lookup(toc, EVAL_KEY_RECOMMENDED, false);
}

/* Training process: the segment is going away; tell the helpers to stop. */
static void
eval_leader_detach(dsm_segment *seg, Datum arg)
{
	EvalShared *shared = (EvalShared *) DatumGetPointer(arg);

	/* an error may have left this process prepared to sleep on the CV */
	ConditionVariableCancelSleep();
	pg_atomic_write_u32(&shared->stop, 1);
}

/*
 * Create the segment for the n held-out users of m and the model, copy
 * them in, and point v at it; NULL when no segment slot is free.
 */
static dsm_segment *
eval_create_segment(const InteractionMatrix *m, const RecipeModel *model,
					const int32 *users, int32 n, int32 max_len, int batch, EvalView *v)
{
	Size		sizes[EVAL_N_KEYS];
	shm_toc_estimator e;
	shm_toc    *toc;
	dsm_segment *seg;
	EvalShared *shared;
	int64	   *offsets = palloc(sizeof(int64) * ((Size) n + 1));
	TimedItem  *items;

	offsets[0] = 0;
	for (int32 j = 0; j < n; j++)
		offsets[j + 1] = offsets[j] + (m->user_ptr[users[j] + 1] - m->user_ptr[users[j]]);

	sizes[EVAL_KEY_SHARED] = sizeof(EvalShared);
	sizes[EVAL_KEY_FACTORS] = sizeof(float) * (Size) model->n_items * model->k;
	sizes[EVAL_KEY_GRAM] = sizeof(float) * model->k * model->k;
	sizes[EVAL_KEY_POPULARITY] = sizeof(float) * (Size) model->n_items;
	sizes[EVAL_KEY_OFFSETS] = sizeof(int64) * ((Size) n + 1);
	sizes[EVAL_KEY_ITEMS] = sizeof(TimedItem) * (Size) offsets[n];
	sizes[EVAL_KEY_USER_METRICS] = sizeof(EvaluationMetrics) * (Size) n;
	sizes[EVAL_KEY_RECOMMENDED] = sizeof(bool) * (Size) model->n_items;
	shm_toc_initialize_estimator(&e);
	for (int key = 0; key < EVAL_N_KEYS; key++)
		TrainingShmEstimateChunk(&e, sizes[key]);
	shm_toc_estimate_keys(&e, EVAL_N_KEYS);

	seg = TrainingCreateSegment(shm_toc_estimate(&e), "evaluation");
	if (seg == NULL)
	{
		pfree(offsets);
		return NULL;
	}
	toc = shm_toc_create(EVAL_SHM_MAGIC, dsm_segment_address(seg), shm_toc_estimate(&e));

	shared = shm_toc_allocate(toc, sizeof(EvalShared));
	memset(shared, 0, sizeof(EvalShared));
	ConditionVariableInit(&shared->done_cv);
	pg_atomic_init_u32(&shared->next_batch, 0);
	pg_atomic_init_u32(&shared->batches_done, 0);
	pg_atomic_init_u32(&shared->helper_batches, 0);
	pg_atomic_init_u32(&shared->stop, 0);
	pg_atomic_init_u32(&shared->attached, 0);
	shared->n_users = n;
	shared->batch = batch;
	shared->n_batches = (n + batch - 1) / batch;
	shared->max_len = max_len;
	shared->n_items = model->n_items;
	shared->model_users = model->n_users;
	shared->k = model->k;
	shared->alpha = model->alpha;
	shared->regularization = model->regularization;
	shared->recency_half_life = model->recency_half_life;
	shm_toc_insert(toc, EVAL_KEY_SHARED, shared);

	TrainingShmCopy(toc, EVAL_KEY_FACTORS, model->factors, sizes[EVAL_KEY_FACTORS]);
	TrainingShmCopy(toc, EVAL_KEY_GRAM, model->gram, sizes[EVAL_KEY_GRAM]);
	TrainingShmCopy(toc, EVAL_KEY_POPULARITY, model->popularity, sizes[EVAL_KEY_POPULARITY]);
	TrainingShmCopy(toc, EVAL_KEY_OFFSETS, offsets, sizes[EVAL_KEY_OFFSETS]);
	TrainingShmCopy(toc, EVAL_KEY_ITEMS, NULL, sizes[EVAL_KEY_ITEMS]);
	TrainingShmCopy(toc, EVAL_KEY_USER_METRICS, NULL, sizes[EVAL_KEY_USER_METRICS]);
	TrainingShmCopy(toc, EVAL_KEY_RECOMMENDED, NULL, sizes[EVAL_KEY_RECOMMENDED]);
	eval_view(toc, v);

	/* the histories as they are in the matrix: each process sorts its own */
	items = v->items;
	for (int32 j = 0; j < n; j++)
	{
		int64		from = m->user_ptr[users[j]];

		for (int64 e = 0; e < offsets[j + 1] - offsets[j]; e++)
		{
			items[offsets[j] + e].item = m->user_items[from + e];
			items[offsets[j] + e].count = m->user_weights[from + e];
			items[offsets[j] + e].time = m->user_times[from + e];
		}
	}
	pfree(offsets);
	on_dsm_detach(seg, eval_leader_detach, PointerGetDatum(shared));
	return seg;
}

/*
 * Wait until every helper has attached the segment (or stopped), so that
 * all take batches from the first: a few milliseconds, once per evaluation.
 */
static void
eval_wait_for_helpers(EvalShared *shared, BackgroundWorkerHandle **handles, int nworkers)
{
	ConditionVariablePrepareToSleep(&shared->done_cv);
	for (;;)
	{
		int			stopped = TrainingHelpersStopped(handles, nworkers);

		if (pg_atomic_read_u32(&shared->attached) + stopped >= (uint32) nworkers)
			break;
		(void) ConditionVariableTimedSleep(&shared->done_cv, 10, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

/*
 * Wait until every batch is done.  Raises an error when batches are
 * missing and every helper has stopped: one died holding a batch.
 */
static void
eval_wait_for_batches(EvalShared *shared, BackgroundWorkerHandle **handles, int nworkers)
{
	ConditionVariablePrepareToSleep(&shared->done_cv);
	while (pg_atomic_read_u32(&shared->batches_done) < (uint32) shared->n_batches)
	{
		if (!ConditionVariableTimedSleep(&shared->done_cv, EVAL_WAIT_MS, PG_WAIT_EXTENSION))
			continue;
		if (TrainingHelpersStopped(handles, nworkers) == nworkers &&
			pg_atomic_read_u32(&shared->batches_done) < (uint32) shared->n_batches)
			ereport(ERROR,
					(errcode(ERRCODE_OPERATOR_INTERVENTION),
					 errmsg("an evaluation helper process exited before scoring its users"),
					 errhint("Was it terminated?  Training can run without helpers: SET personalize.max_training_workers = 0.")));
	}
	ConditionVariableCancelSleep();
	/* the slots the helpers wrote are read after their counts */
	pg_memory_barrier();
}

/*
 * Score the n held-out users of a factor model (trained without them) with
 * helpers, adding their metric sums to sums and marking recommended items;
 * returns false, having done nothing, when the evaluation is too small to
 * share (as for ALS: personalize.min_parallel_training_interactions of m)
 * or helpers are not allowed; the caller then scores alone.
 */
bool
EvaluateFactorUsersInParallel(const InteractionMatrix *m, const RecipeModel *model,
							  const int32 *users, int32 n, int32 max_len,
							  EvaluationMetrics *sums, bool *recommended)
{
	int			batch = EvaluationBatchSize(model);
	int			planned = Min(personalize_max_training_workers, EVAL_MAX_WORKERS);
	BackgroundWorkerHandle *handles[EVAL_MAX_WORKERS];
	int			nworkers;
	dsm_segment *seg;
	EvalView	v;
	instr_time	lap;

	if (planned <= 0 || m->nnz < personalize_min_parallel_training_interactions ||
		(n + batch - 1) / batch < 2)
		return false;
	INSTR_TIME_SET_CURRENT(lap);
	seg = eval_create_segment(m, model, users, n, max_len, batch, &v);
	if (seg == NULL)
		return false;
	nworkers = TrainingStartHelpers(seg, "personalize_evaluation_worker_main", "evaluation",
									planned, handles);
	eval_wait_for_helpers(v.shared, handles, nworkers);
	PersonalizeDebugLap("evaluation segment filled and helpers started", &lap);

	PG_TRY();
	{
		eval_take_batches(&v, false);
		eval_wait_for_batches(v.shared, handles, nworkers);
	}
	PG_CATCH();
	{
		/*
		 * A background training has no resource owner to detach the segment
		 * at once: stop the helpers after their current batch here.
		 */
		pg_atomic_write_u32(&v.shared->stop, 1);
		PG_RE_THROW();
	}
	PG_END_TRY();
	for (int32 j = 0; j < n; j++)
		EvaluationAddUser(sums, &v.user_metrics[j]);
	for (int32 i = 0; i < model->n_items; i++)
		recommended[i] |= v.recommended[i];
	ereport(LOG,
			(errmsg_plural("personalize: evaluation of %d held-out users used %d helper process, which scored %u of %d batches",
						   "personalize: evaluation of %d held-out users used %d helper processes, which scored %u of %d batches",
						   nworkers,
						   n, nworkers, pg_atomic_read_u32(&v.shared->helper_batches), v.shared->n_batches),
			 errhidestmt(true)));

	dsm_detach(seg);
	for (int i = 0; i < nworkers; i++)
		(void) WaitForBackgroundWorkerShutdown(handles[i]);
	return true;
}

/*
 * Entry point of a helper: attach the segment and score batches until
 * none is left.
 */
void
personalize_evaluation_worker_main(Datum main_arg)
{
	dsm_segment *seg;
	shm_toc    *toc;
	EvalView	v;

	toc = TrainingHelperAttach(main_arg, EVAL_SHM_MAGIC, "evaluation", &seg);
	eval_view(toc, &v);
	BlasInit();
	pg_atomic_fetch_add_u32(&v.shared->attached, 1);
	ConditionVariableBroadcast(&v.shared->done_cv);
	eval_take_batches(&v, true);
	dsm_detach(seg);
	proc_exit(0);
}
