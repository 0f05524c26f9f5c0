/*-------------------------------------------------------------------------
 *
 * scoring_helper.c
 *	  A background worker that scores part of a large catalogue while the
 *	  backend asking for recommendations scores the rest
 *	  (personalize.scoring_helper).
 *
 * recommend() computes a compact logit for every item (compact.c): over a
 * million items, 64 MB of int8 codes per request, which one core reads in
 * 4-6 ms, bounded by memory bandwidth (on the bench machine one core
 * streams about 16 GB/s, two together about 20).  A backend cannot start
 * threads, so a second core comes
 * from a process: one helper, started by the postmaster when personalize
 * is preloaded, sleeps on its latch (after polling a while for the next
 * request, helper_linger) until a backend hands it a request:
 * the model's shared segment (model_shared.c: the helper can read only
 * shared memory), the user's coded vector, and where the logits go: the
 * backend's score buffer, which for such a catalogue is a segment of its
 * own (ModelScoresBuffer), attached by the helper once and kept.  The
 * catalogue is cut in chunks of HELPER_CHUNK_ITEMS; the backend takes them
 * from the front, the helper from the back (the last one is the helper's
 * from the start), until they meet, so that whichever runs faster or
 * starts sooner does more.  The integer dot products are exact, so the
 * answer is the same to the bit as when one process scores everything.
 * When every item is young, the helper also adds exploration's bonus to
 * its chunks (HELPER_BONUS), a pass over the scores that reads 8 MB and
 * writes 4 over a million items.
 *
 * One backend at a time holds the helper; a backend that finds it busy, or
 * not running, or a catalogue under personalize.scoring_helper_min_items,
 * or as many backends serving requests (itself included) as its CPU budget
 * allows (cpu_budget.c: the helper would take a core from another request:
 * 8 clients over 26,744 items on 2 cores lost up to a quarter of their
 * throughput),
 * scores the whole catalogue itself, as before.  If the helper fails or
 * exits during a request the backend scores its chunks itself.  A backend
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
#include "portability/instr_time.h"
#include "postmaster/interrupt.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/pmsignal.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compact.h"
#include "cpu_budget.h"
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
	int32		chunk_items;	/* the catalogue in chunks of so many items */
	int32		n_chunks;		/* the last one longer, up to n_items */
	float		x_step;
	int			kernel;			/* personalize.compact_kernel of the client */
	dsm_handle	buffer_handle;	/* the client's score buffer */
	Size		scores_offset;	/* where item 0's score goes in it */
	Size		span_offset;	/* its span's bound */
	Size		span_sum_offset;	/* its span's sum */
	int16		x_codes[COMPACT_MAX_FACTORS];
	/* HELPER_BONUS: scores_offset, and */
	Size		weights_offset; /* item 0's damping, in the model's segment */
	Size		block_sums_offset;	/* item 0's block's sum, in the buffer */
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

	/*
	 * The chunks taken so far: from the front by the client (low 32 bits),
	 * from the back by the helper (high 32 bits, starting at 1: the last
	 * chunk is the helper's from the start).  A take is good when the two
	 * counts before it add up to less than n_chunks (see chunk_take); a
	 * client that errors out adds n_chunks to its count, which stops the helper.
	 */
	pg_atomic_uint64 chunks_taken;

	/*
	 * Backends running a serving function now (ScoringHelperServing).  A
	 * backend asks the helper only while it, the helper and the others fit
	 * in the CPU budget (helper_core_free): beyond that the helper
	 * takes a core from another request, and its hand-offs cost more than
	 * the second core gives.
	 */
	pg_atomic_uint32 serving_backends;
} ScoringHelperShared;

/* personalize.scoring_helper (defined only when preloading) */
static bool scoring_helper_enabled = true;

/* personalize.scoring_helper_linger_us (defined only when preloading) */
static int	scoring_helper_linger_us = 500;

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

/*
 * How many times a client whose share is done looks whether the helper has
 * finished, 100 spin-delay instructions apart (2-3 us on a Zen 3; the
 * instruction's length differs between CPUs), before it sleeps on its
 * latch: the helper is then finishing its last chunk, a few tens of
 * microseconds, less than a wake-up through the latch takes on a busy
 * machine.
 */
#define CLIENT_SPINS 50

/*
 * Items per chunk: the client takes chunks from the front and the helper
 * from the back until they meet, so that neither waits long for the
 * other (a fixed half each left the client waiting 0.3 ms, median, over a
 * million items: the helper wakes later and shares the cores).  4096
 * items are 256 kB of codes at k = 64, tens of microseconds to score.
 */
#define HELPER_CHUNK_ITEMS 4096

StaticAssertDecl(HELPER_CHUNK_ITEMS % COMPACT_SPAN == 0 && HELPER_CHUNK_ITEMS % KERNEL_BLOCK == 0,
				 "chunks are whole spans and whole bonus blocks");

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
		pg_atomic_init_u64(&helper->chunks_taken, 0);
		pg_atomic_init_u32(&helper->serving_backends, 0);
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
							 "Starts a background worker that scores part of a large catalogue for recommend()",
							 "Catalogues of personalize.scoring_helper_min_items or more are scored by two processes; needs personalize.shared_models > 0.",
							 &scoring_helper_enabled,
							 true,
							 PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("personalize.scoring_helper_linger_us",
							"Microseconds the scoring helper polls for the next request after serving one, while a CPU is free for it",
							"Waking the helper from its sleep costs a request tens of microseconds; 0: it sleeps at once.",
							&scoring_helper_linger_us,
							500, 0, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
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

/* Is this backend counted in serving_backends? */
static bool client_counted = false;

/* Count this backend in serving_backends (true) or not (false). */
static void
client_count(bool serving)
{
	if (serving && !client_counted)
		pg_atomic_fetch_add_u32(&helper->serving_backends, 1);
	else if (!serving && client_counted)
		pg_atomic_fetch_sub_u32(&helper->serving_backends, 1);
	client_counted = serving;
}

static void
client_exit(int code, Datum arg)
{
	client_release();
	if (helper != NULL)
		client_count(false);	/* a FATAL error skips the PG_FINALLY */
}

/* Make sure client_exit runs when this backend exits. */
static void
client_register_exit(void)
{
	if (!client_exit_registered)
	{
		before_shmem_exit(client_exit, 0);
		client_exit_registered = true;
	}
}

/* Is a CPU free for the helper besides those of so many backends? */
static bool
helper_fits_beside(long backends)
{
	return backends + 1 <= CpuBudgetGet()->cpus;
}

/*
 * Is a core free for the helper, with this backend and the others counted
 * in serving_backends on the others?
 */
static bool
helper_core_free(void)
{
	/* this backend, counted or not (a call outside a serving function) */
	return helper_fits_beside((long) pg_atomic_read_u32(&helper->serving_backends) +
							  (client_counted ? 0 : 1));
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
	client_register_exit();
	if (!helper_core_free())
	{
		elog(DEBUG2, "personalize: no CPU free for the scoring helper (CPU budget %ld)", CpuBudgetGet()->cpus);
		return false;
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
	for (int spins = 0;; spins++)
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
		if (spins < CLIENT_SPINS)
		{
			for (int i = 0; i < 100; i++)
				pg_spin_delay();
			continue;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 CLIENT_WAIT_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * On an error: the helper may be writing into buffer_segment.  A request
 * it has not begun is given up at once (the helper drops it unread);
 * else wait for the helper to finish (it takes milliseconds), and give it
 * up; a buffer it still has not finished with after CLIENT_ERROR_WAIT_US
 * is never reused (ScoringHelperBufferReusable).
 */
static void
client_release_on_error(dsm_segment *buffer_segment)
{
	for (int waited = 0;; waited += 100)
	{
		HelperState state;

		SpinLockAcquire(&helper->mutex);
		state = helper->state;
		if (state == HELPER_REQUESTED && helper->client_pid == MyProcPid)
			helper->abandoned = true;
		SpinLockRelease(&helper->mutex);
		if (state == HELPER_REQUESTED)
			return;
		if (state != HELPER_WORKING)
			break;
		if (waited >= CLIENT_ERROR_WAIT_US)
		{
			client_unsafe_buffer = dsm_segment_handle(buffer_segment);
			break;
		}
		pg_usleep(100);
	}
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

	/* the last chunk is the helper's (see chunks_taken); it is idle till REQUESTED */
	pg_atomic_write_u64(&helper->chunks_taken, UINT64CONST(1) << 32);
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

/*
 * Set request's chunks for n items, in whole units of unit items: of
 * HELPER_CHUNK_ITEMS, or two (the first half rounded down to whole units)
 * when there are not two such chunks; the last chunk takes the items left
 * over.  Fewer than two chunks: no sharing.
 */
static void
chunks_set(ScoringRequest *request, int32 n, int32 unit)
{
	request->n_items = n;
	if (n >= 2 * HELPER_CHUNK_ITEMS)
	{
		request->chunk_items = HELPER_CHUNK_ITEMS;
		request->n_chunks = n / HELPER_CHUNK_ITEMS;
	}
	else
	{
		request->chunk_items = n / 2 / unit * unit;
		request->n_chunks = request->chunk_items > 0 ? 2 : 0;
	}
}

/* The first item of chunk c (c = n_chunks: the end). */
static int32
chunk_start(const ScoringRequest *request, int32 c)
{
	return c >= request->n_chunks ? request->n_items : c * request->chunk_items;
}

/*
 * Take the next chunk from the front (the client) or from the back (the
 * helper): its index, or -1 when every chunk is taken.  One atomic counter
 * holds both counts, so that each chunk goes to exactly one of them.
 */
static int32
chunk_take(const ScoringRequest *request, bool from_back)
{
	uint64		before = pg_atomic_fetch_add_u64(&helper->chunks_taken,
												 from_back ? UINT64CONST(1) << 32 : 1);
	uint64		front = before & 0xFFFFFFFF;
	uint64		back = before >> 32;

	if (front + back >= (uint64) request->n_chunks)
		return -1;
	return from_back ? request->n_chunks - 1 - (int32) back : (int32) front;
}

/* A backend's share of a task: items from to to. */
typedef void (*ClientWork) (void *arg, int32 from, int32 to);

/*
 * With the helper claimed for request, take chunks from the front while
 * it takes them from the back, then wait for it; if it fails, do its
 * chunks here.  Returns the first item the helper did, or -1 if it failed.
 */
static int32
client_share(const ScoringRequest *request, dsm_segment *buffer_segment, ClientWork work,
			 void *arg)
{
	bool		done = false;
	int32		n_front = 0;

	if (!client_start(request))
	{
		work(arg, 0, request->n_items);
		return -1;
	}
	PG_TRY();
	{
		int32		c;

		while ((c = chunk_take(request, false)) >= 0)
		{
			/* a cancel here stops the helper too (below) */
			CHECK_FOR_INTERRUPTS();
			work(arg, chunk_start(request, c), chunk_start(request, c + 1));
			n_front++;
		}
		done = client_wait();
	}
	PG_CATCH();
	{
		/* take every chunk left, so that the helper stops after its current one */
		pg_atomic_fetch_add_u64(&helper->chunks_taken, (uint64) request->n_chunks);
		client_release_on_error(buffer_segment);
		PG_RE_THROW();
	}
	PG_END_TRY();
	client_release();			/* DONE or FAILED: the helper is free again */
	if (!done)
	{
		/* the helper's chunks, after the client's: a failed request wrote nothing */
		work(arg, chunk_start(request, n_front), request->n_items);
		return -1;
	}
	return chunk_start(request, n_front);
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

	CompactScoreItems(q, from, to, w->scores + from,
					  q->span_max + from / COMPACT_SPAN, q->span_sum + from / COMPACT_SPAN);
}

/*
 * Set scores (n_items) and q's scratch arrays to the compact logits of
 * every item of q's catalogue and their spans' maxima and sums
 * (CompactScoreItems, then CompactFinishScoring).  With the helper
 * free and a core for it, the catalogue's codes in model_segment and the three arrays in
 * buffer_segment (this backend's score buffer), the helper scores chunks
 * from the back meanwhile; otherwise this backend scores everything.
 */
void
ScoringHelperScore(CompactQuery *q, dsm_segment *model_segment, float *scores,
				   dsm_segment *buffer_segment)
{
	const CompactFactors *cf = q->cf;
	int32		n = cf->n_items;
	ScoringRequest request;
	ScoreWork	work = {q, scores};
	int32		helped_from;

	memset(&request, 0, sizeof(request));
	chunks_set(&request, n, COMPACT_SPAN);
	if (model_segment == NULL || buffer_segment == NULL || request.n_chunks < 2 ||
		!in_segment(model_segment, cf->blob, CompactBytes(n, cf->k)) ||
		!in_segment(buffer_segment, scores, sizeof(float) * n) ||
		!in_segment(buffer_segment, q->span_max, sizeof(float) * q->n_spans) ||
		!in_segment(buffer_segment, q->span_sum, sizeof(double) * q->n_spans) ||
		!client_claim(n))
	{
		score_work(&work, 0, n);
		CompactFinishScoring(q);
		return;
	}

	request.task = HELPER_SCORE;
	request.model_handle = dsm_segment_handle(model_segment);
	request.compact_offset = cf->blob - (char *) dsm_segment_address(model_segment);
	request.k = cf->k;
	request.x_step = q->x_step;
	request.kernel = personalize_compact_kernel;
	request.buffer_handle = dsm_segment_handle(buffer_segment);
	request.scores_offset = offset_in(buffer_segment, scores);
	request.span_offset = offset_in(buffer_segment, q->span_max);
	request.span_sum_offset = offset_in(buffer_segment, q->span_sum);
	memcpy(request.x_codes, q->x_codes, sizeof(int16) * cf->stride);
	helped_from = client_share(&request, buffer_segment, score_work, &work);
	CompactFinishScoring(q);
	if (helped_from >= 0)
		elog(DEBUG2, "personalize: scoring helper scored items %d to %d", helped_from, n - 1);
	else
		elog(DEBUG2, "personalize: scoring helper failed to score its chunks");
}

/*
 * Count this backend among those running a serving function (serving
 * true: its outermost call begins; false: it ends, or fails), so that a
 * backend asks the helper only when a core is free for it.  Nothing
 * without the helper.
 */
void
ScoringHelperServing(bool serving)
{
	if (helper == NULL)
		return;
	client_register_exit();
	client_count(serving);
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
 * n scores, one sum per KERNEL_BLOCK into block_sums): the helper does
 * chunks from the back when it is free, weights lie in the model's
 * shared segment and scores and block_sums in buffer_segment.  Each
 * block's sum is the same whoever computes it.
 */
void
ScoringHelperAddBonus(float *scores, const float *weights, int32 n, double scale, float ceiling,
					  double *block_sums, dsm_segment *model_segment, dsm_segment *buffer_segment)
{
	int32		n_blocks = (n + KERNEL_BLOCK - 1) / KERNEL_BLOCK;
	ScoringRequest request;
	BonusWork	work = {scores, weights, scale, ceiling, block_sums};
	int32		helped_from;

	memset(&request, 0, sizeof(request));
	chunks_set(&request, n, KERNEL_BLOCK);
	if (model_segment == NULL || buffer_segment == NULL || request.n_chunks < 2 ||
		!in_segment(model_segment, weights, sizeof(float) * n) ||
		!in_segment(buffer_segment, scores, sizeof(float) * n) ||
		!in_segment(buffer_segment, block_sums, sizeof(double) * n_blocks) ||
		!client_claim(n))
	{
		bonus_work(&work, 0, n);
		return;
	}
	request.task = HELPER_BONUS;
	request.model_handle = dsm_segment_handle(model_segment);
	request.weights_offset = offset_in(model_segment, weights);
	request.buffer_handle = dsm_segment_handle(buffer_segment);
	request.scores_offset = offset_in(buffer_segment, scores);
	request.block_sums_offset = offset_in(buffer_segment, block_sums);
	request.scale = scale;
	request.ceiling = ceiling;
	helped_from = client_share(&request, buffer_segment, bonus_work, &work);
	if (helped_from >= 0)
		elog(DEBUG2, "personalize: scoring helper added the bonus of items %d to %d", helped_from, n - 1);
	else
		elog(DEBUG2, "personalize: scoring helper failed to add the bonus of its chunks");
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

/*
 * Exploration's bonus over the chunks the helper takes; false if it cannot
 * be done.
 */
static bool
helper_add_bonus(const ScoringRequest *request, dsm_segment *model, dsm_segment *buffer)
{
	int32		n = request->n_items;
	char	   *out = (char *) dsm_segment_address(buffer);
	float	   *scores = (float *) (out + request->scores_offset);
	const float *weights = (const float *) ((char *) dsm_segment_address(model) + request->weights_offset);
	double	   *block_sums = (double *) (out + request->block_sums_offset);

	if (request->chunk_items % KERNEL_BLOCK != 0 ||
		!fits(model, request->weights_offset, sizeof(float) * n) ||
		!fits(buffer, request->scores_offset, sizeof(float) * n) ||
		!fits(buffer, request->block_sums_offset, sizeof(double) * ((n + KERNEL_BLOCK - 1) / KERNEL_BLOCK)))
		return false;
	for (int32 c = request->n_chunks - 1; c >= 0; c = chunk_take(request, true))
	{
		int32		from = chunk_start(request, c);

		KernelAddScaledBlocks(scores + from, weights + from, chunk_start(request, c + 1) - from,
							  request->scale, request->ceiling, block_sums + from / KERNEL_BLOCK);
	}
	return true;
}

/*
 * The compact logits of the chunks the helper takes; false if it cannot be
 * done.
 */
static bool
helper_score(const ScoringRequest *request, dsm_segment *model, dsm_segment *buffer)
{
	int32		n = request->n_items;
	char	   *out = (char *) dsm_segment_address(buffer);
	CompactFactors *cf;
	CompactQuery q;

	if (request->k < 1 || request->k > COMPACT_MAX_FACTORS || request->chunk_items % COMPACT_SPAN != 0 ||
		!fits(model, request->compact_offset, CompactBytes(request->n_items, request->k)) ||
		!fits(buffer, request->scores_offset, sizeof(float) * n) ||
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
	for (int32 c = request->n_chunks - 1; c >= 0; c = chunk_take(request, true))
	{
		int32		from = chunk_start(request, c);

		CompactScoreItems(&q, from, chunk_start(request, c + 1),
						  (float *) (out + request->scores_offset) + from,
						  (float *) (out + request->span_offset) + from / COMPACT_SPAN,
						  (double *) (out + request->span_sum_offset) + from / COMPACT_SPAN);
	}
	pfree(cf);
	return true;
}

/* Do the request's task into the client's buffer; false if it cannot be done. */
static bool
helper_serve(const ScoringRequest *request)
{
	dsm_segment *model = helper_segment(request->model_handle, NULL);
	dsm_segment *buffer = model != NULL ? helper_segment(request->buffer_handle, model) : NULL;

	/* every chunk within the items, the last one not empty */
	if (model == NULL || buffer == NULL || request->n_chunks < 2 || request->chunk_items < 1 ||
		(int64) request->chunk_items * (request->n_chunks - 1) >= request->n_items)
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
 * After serving a request, poll for the next for scoring_helper_linger_us
 * while a CPU is free for the helper (the backends in serving functions
 * leave one), rather than sleep at once: woken from its latch, the helper
 * started its first chunk tens of microseconds late on the bench's virtual
 * machine, a good part of a request over 26,744 items, whose next request
 * comes a quarter of a millisecond later.  True when a request came.
 */
static bool
helper_linger(void)
{
	instr_time	start;
	instr_time	now;

	INSTR_TIME_SET_CURRENT(start);
	for (uint32 spin = 1;; spin++)
	{
		/* a hint: the loop reads the state under the lock */
		if (*(volatile HelperState *) &helper->state == HELPER_REQUESTED)
			return true;
		pg_spin_delay();
		if (spin % 64 != 0)
			continue;
		INSTR_TIME_SET_CURRENT(now);
		INSTR_TIME_SUBTRACT(now, start);
		if (InterruptPending || ConfigReloadPending || !PostmasterIsAlive() ||
			INSTR_TIME_GET_MICROSEC(now) >= scoring_helper_linger_us ||
			!helper_fits_beside((long) pg_atomic_read_u32(&helper->serving_backends)))
			return false;
	}
}

/*
 * The helper's main loop: sleep until a request (polling first for a while
 * after serving one), score it, wake the client.
 */
void
personalize_scoring_helper_main(Datum main_arg)
{
	MemoryContext request_context;
	bool		lingering = false;	/* just served a request */
	const CpuBudget *budget;

	/* see TrainingHelperAttach: SIGTERM sets a flag CHECK_FOR_INTERRUPTS acts on */
	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	if (helper == NULL)
		proc_exit(0);
	request_context = AllocSetContextCreate(TopMemoryContext, "personalize scoring helper",
											ALLOCSET_DEFAULT_SIZES);
	on_shmem_exit(helper_exit, 0);
	budget = CpuBudgetGet();
	if (budget->quota > 0)
		elog(DEBUG1, "personalize: scoring helper started: CPU budget %ld (affinity mask %ld, cgroup CPU quota %ld)",
			 budget->cpus, budget->affinity, budget->quota);
	else
		elog(DEBUG1, "personalize: scoring helper started: CPU budget %ld (affinity mask %ld, no cgroup CPU quota)",
			 budget->cpus, budget->affinity);
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
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			elog(DEBUG1, "personalize: scoring helper reloaded its configuration (linger %d us)",
				 scoring_helper_linger_us);
		}
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
			/* before lingering too: a helper that never sleeps still detaches */
			helper_detach_idle();
			if (lingering)
			{
				lingering = false;
				if (scoring_helper_linger_us > 0 && helper_linger())
				{
					elog(DEBUG2, "personalize: scoring helper took a request while polling");
					continue;
				}
			}
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 HELPER_IDLE_DETACH_MS, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			continue;
		}

		/*
		 * An error here (a segment that cannot be mapped, say) ends the
		 * helper (a background worker's ERROR is FATAL): helper_exit fails
		 * the request, the postmaster starts a new helper, with nothing
		 * half attached.  Such errors come before the first chunk is
		 * written; interrupts wait for the request's end (a few
		 * milliseconds), so that a failed request has written nothing: the
		 * client redoes every chunk it did not do, and exploration's bonus
		 * must not be added twice.
		 */
		MemoryContextSwitchTo(request_context);
		HOLD_INTERRUPTS();
		served = helper_serve(&request);
		RESUME_INTERRUPTS();
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
		lingering = true;		/* the client's next request may follow soon */
	}
}
