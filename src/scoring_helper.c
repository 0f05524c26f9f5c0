/*-------------------------------------------------------------------------
 *
 * scoring_helper.c
 *	  A background worker that scores half of a large catalogue while the
 *	  backend asking for recommendations scores the other half
 *	  (personalize.scoring_helper).
 *
 * recommend() computes a compact logit for every item (compact.c): over a
 * million items, 64 MB of int8 codes per request, which one core reads in
 * 4-6 ms, bounded by memory bandwidth (on the bench machine one core
 * streams about 16 GB/s, two together about 20).  A backend cannot start
 * threads, so a second core comes
 * from a process: one helper, started by the postmaster when personalize
 * is preloaded, sleeps on its latch until a backend hands it a request:
 * the model's shared segment (model_shared.c: the helper can read only
 * shared memory), the user's coded vector, the range of items to score,
 * and where their logits go: the backend's score buffer, which for such a
 * catalogue is a segment of its own (ModelScoresBuffer), attached by the
 * helper once and kept.  The backend scores its own half meanwhile.  The
 * integer dot products are exact, so the answer is the same to the bit as
 * when one process scores everything.  When every item is young, the
 * helper also adds exploration's bonus to its half (HELPER_BONUS), a pass
 * over the scores that reads 8 MB and writes 4 over a million items.
 *
 * One backend at a time holds the helper; a backend that finds it busy, or
 * not running, or a catalogue under personalize.scoring_helper_min_items,
 * scores the whole catalogue itself, as before.  If the helper fails or
 * exits during a request the backend scores the rest itself.  A backend
 * that errors out while the helper works on its request waits for it
 * (a few milliseconds) before its buffer can be used again; one that
 * exits leaves a mark the helper sees, and the helper frees itself when
 * done.
 *
 * The state machine, in ScoringHelperShared.state, under its spinlock:
 *   IDLE -> CLAIMED (a backend, client_pid) -> REQUESTED (request filled)
 *   -> WORKING (the helper copied it) -> DONE or FAILED -> IDLE (the
 *   client read the result).  A client gone while REQUESTED or WORKING
 *   sets abandoned, and the helper goes to IDLE itself.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/scoring_helper.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compact.h"
#include "kernel.h"
#include "personalize.h"
#include "scoring_helper.h"

typedef enum HelperState
{
	HELPER_IDLE,
	HELPER_CLAIMED,
	HELPER_REQUESTED,
	HELPER_WORKING,
	HELPER_DONE,
	HELPER_FAILED
} HelperState;

/* What the helper is asked to do. */
typedef enum HelperTask
{
	HELPER_SCORE,				/* compact logits of a range (CompactScoreItems) */
	HELPER_BONUS				/* exploration's bonus over a range (KernelAddScaledBlocks) */
} HelperTask;

/* A task and everything it reads: offsets are into the two segments. */
typedef struct ScoringRequest
{
	HelperTask	task;
	dsm_handle	model_handle;	/* the model's shared segment */
	Size		compact_offset; /* where its compact blob starts in it */
	int32		n_items;
	int32		k;
	int32		from;			/* items from..to-1 */
	int32		to;
	float		x_step;
	int			kernel;			/* personalize.compact_kernel of the client */
	dsm_handle	buffer_handle;	/* the client's score buffer */
	Size		scores_offset;	/* where item from's score goes in it */
	Size		raw_offset;		/* its raw logit */
	Size		span_offset;	/* its span's bound */
	Size		span_sum_offset;	/* its span's sum */
	int16		x_codes[COMPACT_MAX_FACTORS];
	/* HELPER_BONUS: scores_offset, and */
	Size		weights_offset; /* item from's damping, in the model's segment */
	Size		block_sums_offset;	/* from's block's sum, in the buffer */
	double		scale;
	float		ceiling;
} ScoringRequest;

typedef struct ScoringHelperShared
{
	slock_t		mutex;
	HelperState state;
	bool		abandoned;		/* the client left: nobody reads the result */
	pid_t		helper_pid;		/* 0: not running */
	Latch	   *helper_latch;
	pid_t		client_pid;
	Latch	   *client_latch;
	ScoringRequest request;
} ScoringHelperShared;

/* personalize.scoring_helper (defined only when preloading) */
static bool scoring_helper_enabled = true;

static ScoringHelperShared *helper = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* In a backend: a buffer the helper may still write into, not to be reused. */
static dsm_handle client_unsafe_buffer = 0;
static bool client_exit_registered = false;

/* Idle this long, the helper detaches the segments it attached. */
#define HELPER_IDLE_DETACH_MS 10000

/* The segments (models, clients' buffers) the helper keeps attached. */
#define HELPER_SEGMENTS 64

/* How long a client that errors out waits for the helper to finish. */
#define CLIENT_ERROR_WAIT_US 1000000

/* How long a client waits on its latch before checking the helper lives. */
#define CLIENT_WAIT_MS 100

static void
helper_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(ScoringHelperShared));
}

static void
helper_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	helper = ShmemInitStruct("personalize scoring helper", sizeof(ScoringHelperShared), &found);
	if (!found)
	{
		memset(helper, 0, sizeof(ScoringHelperShared));
		SpinLockInit(&helper->mutex);
		helper->state = HELPER_IDLE;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Define personalize.scoring_helper, reserve the shared state and register
 * the helper; called from _PG_init, and does anything only while
 * preloading with shared models (the helper reads only shared segments).
 */
void
ScoringHelperInit(bool models_shared)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomBoolVariable("personalize.scoring_helper",
							 "Starts a background worker that scores half of a large catalogue for recommend()",
							 "Catalogues of personalize.scoring_helper_min_items or more are scored by two processes; needs personalize.shared_models > 0.",
							 &scoring_helper_enabled,
							 true,
							 PGC_POSTMASTER, 0, NULL, NULL, NULL);
	if (!scoring_helper_enabled || !models_shared)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = helper_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = helper_shmem_startup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "personalize");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "personalize_scoring_helper_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "personalize scoring helper");
	snprintf(worker.bgw_type, BGW_MAXLEN, "personalize scoring helper");
	RegisterBackgroundWorker(&worker);
}

/*
 * In a client: give up its claim on the helper, its result read, or on an
 * error, or as the backend exits: a request the helper has not finished
 * is left to it.
 */
static void
client_release(void)
{
	if (helper == NULL)
		return;
	SpinLockAcquire(&helper->mutex);
	if (helper->client_pid == MyProcPid && helper->state != HELPER_IDLE)
	{
		if (helper->state == HELPER_REQUESTED || helper->state == HELPER_WORKING)
			helper->abandoned = true;
		else
		{
			helper->state = HELPER_IDLE;
			helper->client_pid = 0;
		}
	}
	SpinLockRelease(&helper->mutex);
}

static void
client_exit(int code, Datum arg)
{
	client_release();
}

/*
 * Claim the helper for a request over n_items: true when it runs, is free
 * and the catalogue is large enough.
 */
static bool
client_claim(int32 n_items)
{
	bool		claimed = false;

	if (helper == NULL || personalize_scoring_helper_min_items <= 0 ||
		n_items < personalize_scoring_helper_min_items)
		return false;
	if (!client_exit_registered)
	{
		before_shmem_exit(client_exit, 0);
		client_exit_registered = true;
	}
	SpinLockAcquire(&helper->mutex);
	if (helper->state == HELPER_IDLE && helper->helper_pid != 0)
	{
		helper->state = HELPER_CLAIMED;
		helper->abandoned = false;
		helper->client_pid = MyProcPid;
		helper->client_latch = MyLatch;
		claimed = true;
	}
	SpinLockRelease(&helper->mutex);
	return claimed;
}

/*
 * Wait until the helper has done the request (true) or failed or exited
 * (false).
 */
static bool
client_wait(void)
{
	for (;;)
	{
		HelperState state;
		pid_t		helper_pid;

		SpinLockAcquire(&helper->mutex);
		state = helper->state;
		helper_pid = helper->helper_pid;
		SpinLockRelease(&helper->mutex);
		if (state == HELPER_DONE)
			return true;
		if (state == HELPER_FAILED || helper_pid == 0)
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 CLIENT_WAIT_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* The client's state of the request it holds. */
static HelperState
client_state(void)
{
	HelperState state;

	SpinLockAcquire(&helper->mutex);
	state = helper->state;
	SpinLockRelease(&helper->mutex);
	return state;
}

/*
 * On an error: the helper may be writing into buffer_segment.  Wait for it
 * to finish (it takes milliseconds), and give the helper up; a buffer it
 * still has not finished with after CLIENT_ERROR_WAIT_US is never reused
 * (ScoringHelperBufferReusable).
 */
static void
client_release_on_error(dsm_segment *buffer_segment)
{
	HelperState state = client_state();

	for (int waited = 0; waited < CLIENT_ERROR_WAIT_US &&
		 (state == HELPER_REQUESTED || state == HELPER_WORKING); waited += 100)
	{
		pg_usleep(100);
		state = client_state();
	}
	if (state == HELPER_REQUESTED || state == HELPER_WORKING)
		client_unsafe_buffer = dsm_segment_handle(buffer_segment);
	client_release();
}

/*
 * Would a catalogue of n_items be scored with the helper's help, so that
 * its score buffer should be shared memory (ModelScoresBuffer)?
 */
bool
ScoringHelperWanted(int32 n_items)
{
	return helper != NULL && personalize_scoring_helper_min_items > 0 &&
		n_items >= personalize_scoring_helper_min_items && n_items / 2 >= COMPACT_SPAN;
}

/*
 * May the score buffer in segment be used for another request?  Not if
 * the helper may still write into it (an error left it so).
 */
bool
ScoringHelperBufferReusable(dsm_segment *segment)
{
	return client_unsafe_buffer == 0 || dsm_segment_handle(segment) != client_unsafe_buffer;
}

/* Does [start, start + bytes) lie in segment? */
static bool
in_segment(dsm_segment *segment, const void *start, Size bytes)
{
	const char *base = (const char *) dsm_segment_address(segment);

	return (const char *) start >= base &&
		(Size) ((const char *) start - base) + bytes <= dsm_segment_map_length(segment);
}

/* Where p is in segment (in_segment checked it). */
static Size
offset_in(dsm_segment *segment, const void *p)
{
	return (const char *) p - (const char *) dsm_segment_address(segment);
}

/*
 * Hand the claimed helper request and wake it; false (and the claim given
 * up) if it has exited since the claim.
 */
static bool
client_start(const ScoringRequest *request)
{
	Latch	   *helper_latch;

	SpinLockAcquire(&helper->mutex);
	helper_latch = helper->helper_latch;
	if (helper->helper_pid == 0 || helper_latch == NULL)
	{
		helper->state = HELPER_IDLE;
		helper->client_pid = 0;
		SpinLockRelease(&helper->mutex);
		return false;
	}
	helper->request = *request;
	helper->state = HELPER_REQUESTED;
	SpinLockRelease(&helper->mutex);
	SetLatch(helper_latch);
	return true;
}

/* A backend's share of a task: items from to to. */
typedef void (*ClientWork) (void *arg, int32 from, int32 to);

/*
 * With the helper claimed for request (the items middle to n), do items 0
 * to middle meanwhile and wait for it; whatever it has not done, do here.
 * Returns whether the helper did its part.
 */
static bool
client_share(const ScoringRequest *request, dsm_segment *buffer_segment, ClientWork work,
			 void *arg, int32 middle, int32 n)
{
	bool		done = false;

	if (!client_start(request))
	{
		work(arg, 0, n);
		return false;
	}
	PG_TRY();
	{
		work(arg, 0, middle);
		done = client_wait();
	}
	PG_CATCH();
	{
		client_release_on_error(buffer_segment);
		PG_RE_THROW();
	}
	PG_END_TRY();
	client_release();			/* DONE or FAILED: the helper is free again */
	if (!done)
		work(arg, middle, n);
	return done;
}

/* ClientWork of ScoringHelperScore: compact logits into the query's arrays. */
typedef struct ScoreWork
{
	const CompactQuery *q;
	float	   *scores;
} ScoreWork;

static void
score_work(void *arg, int32 from, int32 to)
{
	ScoreWork  *w = (ScoreWork *) arg;
	const CompactQuery *q = w->q;

	CompactScoreItems(q, from, to, w->scores + from, q->raw + from,
					  q->span_max + from / COMPACT_SPAN, q->span_sum + from / COMPACT_SPAN);
}

/*
 * Set scores (n_items) and q's scratch arrays to the compact logits of
 * every item of q's catalogue and their spans' maxima and sums
 * (CompactScoreItems, then CompactFinishScoring).  With the helper
 * free, the catalogue's codes in model_segment and the three arrays in
 * buffer_segment (this backend's score buffer), the helper scores the
 * second half meanwhile; otherwise this backend scores everything.
 */
void
ScoringHelperScore(CompactQuery *q, dsm_segment *model_segment, float *scores,
				   dsm_segment *buffer_segment)
{
	const CompactFactors *cf = q->cf;
	int32		n = cf->n_items;
	int32		middle = n / 2 / COMPACT_SPAN * COMPACT_SPAN;
	ScoringRequest request;
	ScoreWork	work = {q, scores};
	bool		done;

	if (model_segment == NULL || buffer_segment == NULL || middle == 0 ||
		!in_segment(model_segment, cf->blob, CompactBytes(n, cf->k)) ||
		!in_segment(buffer_segment, scores, sizeof(float) * n) ||
		!in_segment(buffer_segment, q->raw, sizeof(float) * n) ||
		!in_segment(buffer_segment, q->span_max, sizeof(float) * q->n_spans) ||
		!in_segment(buffer_segment, q->span_sum, sizeof(double) * q->n_spans) ||
		!client_claim(n))
	{
		score_work(&work, 0, n);
		CompactFinishScoring(q);
		return;
	}

	memset(&request, 0, sizeof(request));
	request.task = HELPER_SCORE;
	request.model_handle = dsm_segment_handle(model_segment);
	request.compact_offset = cf->blob - (char *) dsm_segment_address(model_segment);
	request.n_items = n;
	request.k = cf->k;
	request.from = middle;
	request.to = n;
	request.x_step = q->x_step;
	request.kernel = personalize_compact_kernel;
	request.buffer_handle = dsm_segment_handle(buffer_segment);
	request.scores_offset = offset_in(buffer_segment, scores + middle);
	request.raw_offset = offset_in(buffer_segment, q->raw + middle);
	request.span_offset = offset_in(buffer_segment, q->span_max + middle / COMPACT_SPAN);
	request.span_sum_offset = offset_in(buffer_segment, q->span_sum + middle / COMPACT_SPAN);
	memcpy(request.x_codes, q->x_codes, sizeof(int16) * cf->stride);
	done = client_share(&request, buffer_segment, score_work, &work, middle, n);
	CompactFinishScoring(q);
	elog(DEBUG2, "personalize: scoring helper %s items %d to %d",
		 done ? "scored" : "failed to score", middle, n - 1);
}

/* ClientWork of ScoringHelperAddBonus. */
typedef struct BonusWork
{
	float	   *scores;
	const float *weights;
	double		scale;
	float		ceiling;
	double	   *block_sums;
} BonusWork;

static void
bonus_work(void *arg, int32 from, int32 to)
{
	BonusWork  *w = (BonusWork *) arg;

	KernelAddScaledBlocks(w->scores + from, w->weights + from, to - from, w->scale, w->ceiling,
						  w->block_sums + from / KERNEL_BLOCK);
}

/*
 * Exploration's bonus when every item is young (KernelAddScaledBlocks over
 * n scores, one sum per KERNEL_BLOCK into block_sums): the helper does the
 * second half of the blocks when it is free, weights lie in the model's
 * shared segment and scores and block_sums in buffer_segment.  Each
 * block's sum is the same whoever computes it.
 */
void
ScoringHelperAddBonus(float *scores, const float *weights, int32 n, double scale, float ceiling,
					  double *block_sums, dsm_segment *model_segment, dsm_segment *buffer_segment)
{
	int32		middle = n / 2 / KERNEL_BLOCK * KERNEL_BLOCK;
	int32		n_blocks = (n + KERNEL_BLOCK - 1) / KERNEL_BLOCK;
	ScoringRequest request;
	BonusWork	work = {scores, weights, scale, ceiling, block_sums};
	bool		done;

	if (model_segment == NULL || buffer_segment == NULL || middle == 0 ||
		!in_segment(model_segment, weights, sizeof(float) * n) ||
		!in_segment(buffer_segment, scores, sizeof(float) * n) ||
		!in_segment(buffer_segment, block_sums, sizeof(double) * n_blocks) ||
		!client_claim(n))
	{
		bonus_work(&work, 0, n);
		return;
	}
	memset(&request, 0, sizeof(request));
	request.task = HELPER_BONUS;
	request.model_handle = dsm_segment_handle(model_segment);
	request.weights_offset = offset_in(model_segment, weights + middle);
	request.n_items = n;
	request.from = middle;
	request.to = n;
	request.buffer_handle = dsm_segment_handle(buffer_segment);
	request.scores_offset = offset_in(buffer_segment, scores + middle);
	request.block_sums_offset = offset_in(buffer_segment, block_sums + middle / KERNEL_BLOCK);
	request.scale = scale;
	request.ceiling = ceiling;
	done = client_share(&request, buffer_segment, bonus_work, &work, middle, n);
	elog(DEBUG2, "personalize: scoring helper %s the bonus of items %d to %d",
		 done ? "added" : "failed to add", middle, n - 1);
}

/* The helper's attached segments, least recently used dropped first. */
typedef struct HelperSegment
{
	dsm_handle	handle;
	dsm_segment *seg;
	TimestampTz last_used;
} HelperSegment;

static HelperSegment helper_segments[HELPER_SEGMENTS];

/*
 * The segment of handle, attached, unless it is used by the other segment
 * of the request (keep): NULL if it has gone.
 */
static dsm_segment *
helper_segment(dsm_handle handle, dsm_segment *keep)
{
	HelperSegment *slot = NULL;

	for (int i = 0; i < HELPER_SEGMENTS; i++)
		if (helper_segments[i].seg != NULL && helper_segments[i].handle == handle)
		{
			helper_segments[i].last_used = GetCurrentTimestamp();
			return helper_segments[i].seg;
		}
	for (int i = 0; i < HELPER_SEGMENTS; i++)
	{
		HelperSegment *s = &helper_segments[i];

		if (s->seg == keep && keep != NULL)
			continue;
		if (slot == NULL || s->seg == NULL || (slot->seg != NULL && s->last_used < slot->last_used))
			slot = s;
	}
	if (slot->seg != NULL)
		dsm_detach(slot->seg);
	slot->seg = NULL;			/* should the attach fail */
	slot->seg = dsm_attach(handle);
	slot->handle = handle;
	slot->last_used = GetCurrentTimestamp();
	return slot->seg;
}

/*
 * Detach the segments not used for HELPER_IDLE_DETACH_MS: a model segment
 * the directory dropped, or the buffer of a backend that has exited, goes
 * away only at its last detach.
 */
static void
helper_detach_idle(void)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < HELPER_SEGMENTS; i++)
		if (helper_segments[i].seg != NULL &&
			TimestampDifferenceExceeds(helper_segments[i].last_used, now, HELPER_IDLE_DETACH_MS))
		{
			dsm_detach(helper_segments[i].seg);
			helper_segments[i].seg = NULL;
		}
}

/* Does [offset, offset + bytes) lie in segment? */
static bool
fits(dsm_segment *segment, Size offset, Size bytes)
{
	return offset <= dsm_segment_map_length(segment) &&
		bytes <= dsm_segment_map_length(segment) - offset;
}

/* Exploration's bonus over the request's range; false if it cannot be done. */
static bool
helper_add_bonus(const ScoringRequest *request, dsm_segment *model, dsm_segment *buffer)
{
	int32		n = request->to - request->from;
	char	   *out = (char *) dsm_segment_address(buffer);

	if (request->from % KERNEL_BLOCK != 0 ||
		!fits(model, request->weights_offset, sizeof(float) * n) ||
		!fits(buffer, request->scores_offset, sizeof(float) * n) ||
		!fits(buffer, request->block_sums_offset, sizeof(double) * ((n + KERNEL_BLOCK - 1) / KERNEL_BLOCK)))
		return false;
	KernelAddScaledBlocks((float *) (out + request->scores_offset),
						  (const float *) ((char *) dsm_segment_address(model) + request->weights_offset),
						  n, request->scale, request->ceiling,
						  (double *) (out + request->block_sums_offset));
	return true;
}

/* The compact logits of the request's range; false if it cannot be done. */
static bool
helper_score(const ScoringRequest *request, dsm_segment *model, dsm_segment *buffer)
{
	int32		n = request->to - request->from;
	char	   *out = (char *) dsm_segment_address(buffer);
	CompactFactors *cf;
	CompactQuery q;

	if (request->k < 1 || request->k > COMPACT_MAX_FACTORS || request->from % COMPACT_SPAN != 0 ||
		!fits(model, request->compact_offset, CompactBytes(request->n_items, request->k)) ||
		!fits(buffer, request->scores_offset, sizeof(float) * n) ||
		!fits(buffer, request->raw_offset, sizeof(float) * n) ||
		!fits(buffer, request->span_offset, sizeof(float) * ((n + COMPACT_SPAN - 1) / COMPACT_SPAN)) ||
		!fits(buffer, request->span_sum_offset, sizeof(double) * ((n + COMPACT_SPAN - 1) / COMPACT_SPAN)))
		return false;
	cf = CompactFromBlob((char *) dsm_segment_address(model) + request->compact_offset,
						 request->n_items, request->k);
	memset(&q, 0, sizeof(q));
	q.cf = cf;
	q.x_step = request->x_step;
	q.x_codes = (int16 *) request->x_codes;
	personalize_compact_kernel = request->kernel;
	CompactScoreItems(&q, request->from, request->to, (float *) (out + request->scores_offset),
					  (float *) (out + request->raw_offset), (float *) (out + request->span_offset),
					  (double *) (out + request->span_sum_offset));
	pfree(cf);
	return true;
}

/* Do the request's task into the client's buffer; false if it cannot be done. */
static bool
helper_serve(const ScoringRequest *request)
{
	dsm_segment *model = helper_segment(request->model_handle, NULL);
	dsm_segment *buffer = model != NULL ? helper_segment(request->buffer_handle, model) : NULL;

	if (model == NULL || buffer == NULL || request->from < 0 || request->from >= request->to ||
		request->to > request->n_items)
		return false;
	return request->task == HELPER_SCORE ? helper_score(request, model, buffer) :
		helper_add_bonus(request, model, buffer);
}

/* The helper exits: a request it was working on has failed. */
static void
helper_exit(int code, Datum arg)
{
	Latch	   *wake = NULL;

	SpinLockAcquire(&helper->mutex);
	helper->helper_pid = 0;
	helper->helper_latch = NULL;
	if (helper->state == HELPER_REQUESTED || helper->state == HELPER_WORKING)
	{
		if (helper->abandoned)
		{
			helper->state = HELPER_IDLE;
			helper->client_pid = 0;
		}
		else
		{
			helper->state = HELPER_FAILED;
			wake = helper->client_latch;
		}
	}
	SpinLockRelease(&helper->mutex);
	if (wake != NULL)
		SetLatch(wake);
}

PGDLLEXPORT void personalize_scoring_helper_main(Datum main_arg);

/*
 * The helper's main loop: sleep until a request, score it, wake the client.
 */
void
personalize_scoring_helper_main(Datum main_arg)
{
	MemoryContext request_context;

	/* see TrainingHelperAttach: SIGTERM sets a flag CHECK_FOR_INTERRUPTS acts on */
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	if (helper == NULL)
		proc_exit(0);
	request_context = AllocSetContextCreate(TopMemoryContext, "personalize scoring helper",
											ALLOCSET_DEFAULT_SIZES);
	on_shmem_exit(helper_exit, 0);
	SpinLockAcquire(&helper->mutex);
	helper->helper_pid = MyProcPid;
	helper->helper_latch = MyLatch;
	SpinLockRelease(&helper->mutex);

	for (;;)
	{
		ScoringRequest request;
		bool		requested = false;
		bool		served = false;
		Latch	   *wake = NULL;

		CHECK_FOR_INTERRUPTS();
		SpinLockAcquire(&helper->mutex);
		if (helper->state == HELPER_REQUESTED && helper->abandoned)
		{
			helper->state = HELPER_IDLE;
			helper->client_pid = 0;
		}
		else if (helper->state == HELPER_REQUESTED)
		{
			request = helper->request;
			helper->state = HELPER_WORKING;
			requested = true;
		}
		SpinLockRelease(&helper->mutex);

		if (!requested)
		{
			helper_detach_idle();
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 HELPER_IDLE_DETACH_MS, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			continue;
		}

		/*
		 * An error here (a segment that cannot be mapped, say) ends the
		 * helper (a background worker's ERROR is FATAL): helper_exit fails
		 * the request, the postmaster starts a new helper, with nothing
		 * half attached.
		 */
		MemoryContextSwitchTo(request_context);
		served = helper_serve(&request);
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(request_context);

		SpinLockAcquire(&helper->mutex);
		if (helper->abandoned)
		{
			helper->state = HELPER_IDLE;
			helper->client_pid = 0;
		}
		else
		{
			helper->state = served ? HELPER_DONE : HELPER_FAILED;
			wake = helper->client_latch;
		}
		SpinLockRelease(&helper->mutex);
		if (wake != NULL)
			SetLatch(wake);
	}
}
