/*-------------------------------------------------------------------------
 *
 * als_parallel.c
 *	  ALS sweeps shared between the training process and helper
 *	  background workers.
 *
 * Each half sweep updates every row of one side (all users, then all
 * items) against the other side's fixed factors, and each row is
 * independent of the others: the rows are handed out in chunks from an
 * atomic counter to whichever process asks next, the training process
 * (the leader) included.  Since every row is solved by the same code from
 * the same inputs, the factors are bitwise the same whatever the number
 * of helpers (personalize.max_training_workers, 0 = the leader alone).
 *
 * The helpers are dynamic background workers with shared memory access
 * and no database connection: they attach one dynamic shared memory
 * segment holding both sides' sparse rows, both sides' factors and the
 * Gram matrix, and do nothing but AlsSolveRows.  They start once per fit
 * (not per sweep) and wait on a condition variable for the next half
 * sweep.  No thread is involved: OpenBLAS is pinned to one thread in every
 * process (blas.c).
 *
 * Protocol, under shared->mutex: the leader writes the Gram matrix, resets
 * the row counter, bumps generation and sets open; a helper that sees a
 * new open generation joins it (busy++), takes chunks until none is left,
 * and leaves (busy--).  When the leader has run out of chunks it waits
 * until busy is 0 and closes the generation, so a late helper cannot join
 * a half sweep that is over.  At the end (or on any error, through the
 * segment's detach callback) the leader sets stop and the helpers exit.
 * A helper that exits in the middle of a half sweep (terminated) marks the
 * generation failed and the leader raises an error.
 *
 * A side's factors of 4 MB or more (the users', and the items' of large
 * catalogues) are also kept in half precision where the CPU's kernel can
 * read them so (AlsHalfRowsSupported): each process rounds the rows it has
 * just solved, and the other side's half sweep that follows reads those.
 * The leader alone does the same, so the factors stay the same with or
 * without helpers.
 *
 * The Gram matrix a half sweep needs is the other side's, which the half
 * sweep before it has just solved.  It is summed from blocks of
 * ALS_GRAM_BLOCK_ROWS rows: whichever process completes a block's rows
 * computes that block's Gram matrix during the half sweep, and the leader
 * adds the blocks in order once it ends, so the sums are the same whoever
 * computed which block (and the leader alone sums the same blocks).  The
 * leader had computed it alone before each half sweep while the helpers
 * waited: 20M set, 0.54 s of a training.
 *
 * Small fits (fewer than personalize.min_parallel_training_interactions)
 * run in the leader alone: starting helpers and copying the rows costs
 * more than it saves there.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/als_parallel.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <sys/mman.h>

#include "portability/instr_time.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/condition_variable.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/shm_toc.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "als.h"
#include "blas.h"
#include "matrix.h"
#include "personalize.h"
#include "training_helpers.h"

#define ALS_SHM_MAGIC		0x50414c53
#define ALS_MAX_WORKERS		64
/* Rows taken at a time: small enough to balance heavy users, large enough to be cheap. */
#define ALS_CHUNK_ROWS		32
/*
 * Rows per block of the Gram matrix (see the file header), or a multiple
 * of it on sides so large that the blocks' matrices in the segment would
 * take more than ALS_GRAM_BLOCKS_BYTES (256 blocks at k = 64).
 */
#define ALS_GRAM_BLOCK_ROWS	4096
#define ALS_GRAM_BLOCKS_BYTES (4 * 1024 * 1024)
/* How often a waiting process looks whether its partner is still there. */
#define ALS_WAIT_MS			1000

/* Keys of the shared segment's table of contents. */
enum
{
	ALS_KEY_SHARED,
	ALS_KEY_USER_PTR,
	ALS_KEY_USER_IDX,
	ALS_KEY_USER_WEIGHT,
	ALS_KEY_ITEM_PTR,
	ALS_KEY_ITEM_IDX,
	ALS_KEY_ITEM_WEIGHT,
	ALS_KEY_USER_FACTORS,
	ALS_KEY_ITEM_FACTORS,
	ALS_KEY_GRAM,
	ALS_KEY_USER_HALF,
	ALS_KEY_ITEM_HALF,
	ALS_KEY_BLOCK_DONE,
	ALS_KEY_BLOCK_GRAMS,
	ALS_N_KEYS
};

/* The coordination state in the shared segment. */
typedef struct AlsShared
{
	slock_t		mutex;
	ConditionVariable work_cv;	/* helpers wait here for a half sweep */
	ConditionVariable done_cv;	/* the leader waits here for the helpers */
	uint32		generation;		/* bumped for each half sweep */
	bool		open;			/* helpers may join the current generation */
	bool		users;			/* the current generation updates the users */
	bool		stop;			/* the fit is over (or failed): exit */
	bool		failed;			/* a helper left in the middle of a half sweep */
	int			busy;			/* helpers inside the current generation */
	int			attached;		/* helpers ready to take rows */
	pid_t		leader_pid;
	pg_atomic_uint32 next_row;	/* first row of the next chunk to take */
	uint32		chunk;			/* rows per chunk in the current generation */
	bool		user_half_rows; /* the user factors are also kept in half precision */
	bool		item_half_rows; /* the item factors are also kept in half precision */
	bool		read_half;		/* the current generation reads the other side's copy */
	pg_atomic_uint64 helper_rows;	/* rows the helpers solved, for the log */
	uint64		total_rows;		/* rows all processes solved (leader only) */
	/* the problem */
	int			k;
	int			cg_steps;
	float		alpha;
	int32		n_users;
	int32		n_items;
} AlsShared;

struct AlsSweeper
{
	AlsProblem	p;				/* sides point into the segment when shared */
	float	   *user_factors;
	float	   *item_factors;
	float	   *gram;
	float	   *next_gram;		/* the Gram matrix of the side next_gram_of */
	int			next_gram_of;	/* ALS_USERS, ALS_ITEMS or 0: not computed */
	float	   *gram_scratch;	/* one block's Gram matrix (als_gram) */
	pg_atomic_uint32 *block_done;	/* rows solved per block, when shared */
	float	   *block_grams;	/* each block's Gram matrix, when shared */
	float	   *work;
	uint16	   *user_half;		/* the user factors in half precision, or NULL */
	uint16	   *item_half;		/* the item factors in half precision, or NULL */
	char	   *local_block;	/* the leader alone: the allocation that holds
								 * both sides' factors and half copies */
	bool		user_half_filled;	/* by a user half sweep */
	bool		item_half_filled;	/* by an item half sweep */
	dsm_segment *seg;			/* NULL: the leader alone */
	AlsShared  *shared;
	int			nworkers;
	BackgroundWorkerHandle *handles[ALS_MAX_WORKERS];
};

#define ALS_USERS 1
#define ALS_ITEMS 2

PGDLLEXPORT void personalize_als_worker_main(Datum main_arg);
static void als_release_segment(AlsSweeper *sw);

/* Is this helper inside a generation?  (for its detach callback) */
static bool als_helper_busy = false;

/*
 * Solve rows lo..hi of side against other (or, when other_half is not
 * NULL, against the same factors in half precision), and when out_half is
 * not NULL keep a half-precision copy of the rows solved.
 */
static void
als_solve_chunk(const AlsSide *side, const float *other, const uint16 *other_half,
				const float *gram, int k, float alpha, int cg_steps, float *out,
				uint16 *out_half, int32 lo, int32 hi, float *work)
{
	if (other_half != NULL)
		AlsSolveRowsHalf(side, other_half, gram, alpha, cg_steps, out, lo, hi);
	else
		AlsSolveRows(side, other, gram, k, alpha, cg_steps, out, lo, hi, work);
	/* the rows are still in cache */
	if (out_half != NULL)
		AlsToHalf(out + (Size) lo * k, out_half + (Size) lo * k, (Size) (hi - lo) * k);
}

/* Rows per Gram block of a side of n_rows rows of k factors. */
static inline int32
als_gram_block_rows(int32 n_rows, int k)
{
	int64		max_blocks = Max(1, ALS_GRAM_BLOCKS_BYTES / ((int64) k * k * sizeof(float)));
	int64		most = ALS_GRAM_BLOCK_ROWS * max_blocks;

	return ALS_GRAM_BLOCK_ROWS * (int32) Max(1, (n_rows + most - 1) / most);
}

/* Gram blocks (the last one shorter) of a side of n_rows rows of k factors. */
static inline int32
als_gram_blocks(int32 n_rows, int k)
{
	int32		block_rows = als_gram_block_rows(n_rows, k);

	return (int32) (((int64) n_rows + block_rows - 1) / block_rows);
}

/* out = the Gram matrix of block b of factors (n_rows x k) */
static void
als_block_gram(const float *factors, int32 n_rows, int k, int32 b, float *out)
{
	int32		block_rows = als_gram_block_rows(n_rows, k);
	int64		first = (int64) b * block_rows;

	BlasGram(factors + (Size) first * k, (int) Min(n_rows - first, block_rows), k, out);
}

/* gram += block, k x k: the one sum of both ways below */
static inline void
als_add_gram(const float *block, int k, float *gram)
{
	for (int f = 0; f < k * k; f++)
		gram[f] += block[f];
}

/* gram = the sum of the n_blocks Gram matrices of blocks, in block order */
static void
als_sum_block_grams(const float *blocks, int32 n_blocks, int k, float *gram)
{
	memset(gram, 0, sizeof(float) * k * k);
	for (int32 b = 0; b < n_blocks; b++)
		als_add_gram(blocks + (Size) b * k * k, k, gram);
}

/*
 * gram = the Gram matrix of factors (n_rows x k), block by block in this
 * process (scratch: k x k): the same sums as when processes share blocks.
 */
static void
als_gram(const float *factors, int32 n_rows, int k, float *scratch, float *gram)
{
	memset(gram, 0, sizeof(float) * k * k);
	for (int32 b = 0; b < als_gram_blocks(n_rows, k); b++)
	{
		als_block_gram(factors, n_rows, k, b, scratch);
		als_add_gram(scratch, k, gram);
	}
}

/*
 * Rows lo..hi of out (n_rows x k) are solved: count them in their blocks,
 * and compute the Gram matrix of each block they complete.  The atomic
 * adds are full barriers, so the process that completes a block reads the
 * rows the others wrote before counting theirs.
 */
static void
als_count_solved(pg_atomic_uint32 *block_done, float *block_grams, const float *out,
				 int32 n_rows, int k, int32 lo, int32 hi)
{
	int64		block_rows = als_gram_block_rows(n_rows, k);

	for (int64 b = lo / block_rows; b * block_rows < hi; b++)
	{
		int64		first = Max(lo, b * block_rows);
		int64		last = Min(hi, (b + 1) * block_rows);
		int64		size = Min(n_rows - b * block_rows, block_rows);

		if (pg_atomic_add_fetch_u32(&block_done[b], (uint32) (last - first)) == (uint32) size)
			als_block_gram(out, n_rows, k, b, block_grams + (Size) b * k * k);
	}
}

/*
 * Take chunks of rows of the current half sweep until none is left (or the
 * fit stops) and solve them (other_half and out_half: als_solve_chunk),
 * counting them in their Gram blocks.
 */
static void
als_take_rows(AlsShared *shared, const AlsSide *side, const float *other,
			  const uint16 *other_half, const float *gram, float *out, uint16 *out_half,
			  pg_atomic_uint32 *block_done, float *block_grams, float *work, bool leader)
{
	uint32		chunk = shared->chunk;

	for (;;)
	{
		uint32		lo = pg_atomic_fetch_add_u32(&shared->next_row, chunk);
		uint32		hi;

		if (lo >= (uint32) side->n_rows || shared->stop)
			break;
		hi = Min((uint32) side->n_rows, lo + chunk);
		als_solve_chunk(side, other, other_half, gram, shared->k, shared->alpha,
						shared->cg_steps, out, out_half, (int32) lo, (int32) hi, work);
		als_count_solved(block_done, block_grams, out, side->n_rows, shared->k, (int32) lo, (int32) hi);
		if (!leader)
			pg_atomic_fetch_add_u64(&shared->helper_rows, hi - lo);
		/* a helper terminated here leaves through its detach callback */
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Bytes of the half-precision copy of a side's factors, or 0 when the fit
 * keeps none: where the CPU has the kernel for it, when the side's float
 * factors take personalize.als_half_rows_min_kb (4 MB) or more.  Smaller
 * ones stay in the CPU's caches, where halving them gains nothing.
 */
static Size
als_half_rows_size(const AlsProblem *p, const AlsSide *side)
{
	if (personalize_als_half_rows_min_kb < 0 ||
		sizeof(float) * (Size) side->n_rows * p->k < (Size) personalize_als_half_rows_min_kb * 1024 ||
		!AlsHalfRowsSupported(p->k))
		return 0;
	return sizeof(uint16) * (Size) side->n_rows * p->k;
}

/*
 * How many helpers a fit of nnz interactions gets.
 */
static int
als_planned_workers(int64 nnz)
{
	if (nnz < personalize_min_parallel_training_interactions)
		return 0;
	return Min(personalize_max_training_workers, ALS_MAX_WORKERS);
}

/*
 * Leader: the segment is going away (end of the fit, or an error releasing
 * it): tell the helpers to exit.
 */
static void
als_leader_detach(dsm_segment *seg, Datum arg)
{
	AlsShared  *shared = (AlsShared *) DatumGetPointer(arg);

	/* an error may have left this process prepared to sleep on a CV in here */
	ConditionVariableCancelSleep();
	SpinLockAcquire(&shared->mutex);
	shared->stop = true;
	SpinLockRelease(&shared->mutex);
	ConditionVariableBroadcast(&shared->work_cv);
}

/*
 * Helper: leaving in the middle of a half sweep leaves rows unsolved; say
 * so, so the leader fails instead of waiting.
 */
static void
als_helper_detach(dsm_segment *seg, Datum arg)
{
	AlsShared  *shared = (AlsShared *) DatumGetPointer(arg);

	ConditionVariableCancelSleep();
	if (!als_helper_busy)
		return;
	SpinLockAcquire(&shared->mutex);
	shared->busy--;
	shared->failed = true;
	SpinLockRelease(&shared->mutex);
	als_helper_busy = false;
	ConditionVariableBroadcast(&shared->done_cv);
}

/*
 * Lay out the segment for problem p, copy the sparse rows into it, and
 * point sw's sides and factors at it.
 */
static bool
als_create_segment(AlsSweeper *sw)
{
	const AlsProblem *p = &sw->p;
	int64		unnz = p->users.ptr[p->users.n_rows];
	int64		innz = p->items.ptr[p->items.n_rows];
	Size		sizes[ALS_N_KEYS];
	shm_toc_estimator e;
	shm_toc    *toc;
	AlsShared  *shared;
	Size		total;
	int32		blocks;

	sizes[ALS_KEY_SHARED] = sizeof(AlsShared);
	sizes[ALS_KEY_USER_PTR] = sizeof(int64) * ((Size) p->users.n_rows + 1);
	sizes[ALS_KEY_USER_IDX] = sizeof(int32) * (Size) unnz;
	sizes[ALS_KEY_USER_WEIGHT] = sizeof(float) * (Size) unnz;
	sizes[ALS_KEY_ITEM_PTR] = sizeof(int64) * ((Size) p->items.n_rows + 1);
	sizes[ALS_KEY_ITEM_IDX] = sizeof(int32) * (Size) innz;
	sizes[ALS_KEY_ITEM_WEIGHT] = sizeof(float) * (Size) innz;
	sizes[ALS_KEY_USER_FACTORS] = sizeof(float) * (Size) p->users.n_rows * p->k;
	sizes[ALS_KEY_ITEM_FACTORS] = sizeof(float) * (Size) p->items.n_rows * p->k;
	sizes[ALS_KEY_GRAM] = sizeof(float) * p->k * p->k;
	sizes[ALS_KEY_USER_HALF] = als_half_rows_size(p, &p->users);
	sizes[ALS_KEY_ITEM_HALF] = als_half_rows_size(p, &p->items);
	blocks = Max(als_gram_blocks(p->users.n_rows, p->k), als_gram_blocks(p->items.n_rows, p->k));
	sizes[ALS_KEY_BLOCK_DONE] = sizeof(pg_atomic_uint32) * (Size) blocks;
	sizes[ALS_KEY_BLOCK_GRAMS] = sizeof(float) * p->k * p->k * (Size) blocks;
	shm_toc_initialize_estimator(&e);
	for (int key = 0; key < ALS_N_KEYS; key++)
		TrainingShmEstimateChunk(&e, sizes[key]);
	shm_toc_estimate_keys(&e, ALS_N_KEYS);
	total = shm_toc_estimate(&e);

	sw->seg = TrainingCreateSegment(total, "ALS");
	if (sw->seg == NULL)
		return false;
#ifdef MADV_POPULATE_WRITE

	/*
	 * Map every page of the segment at once (Linux 5.14 and later; only
	 * advice elsewhere) rather than by one page fault per 4 kB page as the
	 * rows are copied in: 0.9 -> 0.3 s for the 350 MB of the 20M set.
	 */
	(void) madvise(dsm_segment_address(sw->seg), total, MADV_POPULATE_WRITE);
#endif
	toc = shm_toc_create(ALS_SHM_MAGIC, dsm_segment_address(sw->seg), total);

	shared = shm_toc_allocate(toc, sizeof(AlsShared));
	memset(shared, 0, sizeof(AlsShared));
	SpinLockInit(&shared->mutex);
	ConditionVariableInit(&shared->work_cv);
	ConditionVariableInit(&shared->done_cv);
	shared->leader_pid = MyProcPid;
	pg_atomic_init_u32(&shared->next_row, 0);
	pg_atomic_init_u64(&shared->helper_rows, 0);
	shared->k = p->k;
	shared->cg_steps = p->cg_steps;
	shared->alpha = p->alpha;
	shared->n_users = p->users.n_rows;
	shared->n_items = p->items.n_rows;
	shared->user_half_rows = sizes[ALS_KEY_USER_HALF] > 0;
	shared->item_half_rows = sizes[ALS_KEY_ITEM_HALF] > 0;
	shm_toc_insert(toc, ALS_KEY_SHARED, shared);
	sw->shared = shared;

	sw->p.users.ptr = TrainingShmCopy(toc, ALS_KEY_USER_PTR, p->users.ptr, sizes[ALS_KEY_USER_PTR]);
	sw->p.users.idx = TrainingShmCopy(toc, ALS_KEY_USER_IDX, p->users.idx, sizes[ALS_KEY_USER_IDX]);
	sw->p.users.weight = TrainingShmCopy(toc, ALS_KEY_USER_WEIGHT, p->users.weight, sizes[ALS_KEY_USER_WEIGHT]);
	sw->p.items.ptr = TrainingShmCopy(toc, ALS_KEY_ITEM_PTR, p->items.ptr, sizes[ALS_KEY_ITEM_PTR]);
	sw->p.items.idx = TrainingShmCopy(toc, ALS_KEY_ITEM_IDX, p->items.idx, sizes[ALS_KEY_ITEM_IDX]);
	sw->p.items.weight = TrainingShmCopy(toc, ALS_KEY_ITEM_WEIGHT, p->items.weight, sizes[ALS_KEY_ITEM_WEIGHT]);
	sw->user_factors = TrainingShmCopy(toc, ALS_KEY_USER_FACTORS, NULL, sizes[ALS_KEY_USER_FACTORS]);
	sw->item_factors = TrainingShmCopy(toc, ALS_KEY_ITEM_FACTORS, NULL, sizes[ALS_KEY_ITEM_FACTORS]);
	sw->gram = TrainingShmCopy(toc, ALS_KEY_GRAM, NULL, sizes[ALS_KEY_GRAM]);
	sw->user_half = TrainingShmCopy(toc, ALS_KEY_USER_HALF, NULL, sizes[ALS_KEY_USER_HALF]);
	if (!shared->user_half_rows)
		sw->user_half = NULL;
	sw->item_half = TrainingShmCopy(toc, ALS_KEY_ITEM_HALF, NULL, sizes[ALS_KEY_ITEM_HALF]);
	if (!shared->item_half_rows)
		sw->item_half = NULL;
	sw->block_done = shm_toc_allocate(toc, Max(sizes[ALS_KEY_BLOCK_DONE], 1));
	for (int32 b = 0; b < blocks; b++)
		pg_atomic_init_u32(&sw->block_done[b], 0);
	shm_toc_insert(toc, ALS_KEY_BLOCK_DONE, sw->block_done);
	sw->block_grams = TrainingShmCopy(toc, ALS_KEY_BLOCK_GRAMS, NULL, sizes[ALS_KEY_BLOCK_GRAMS]);

	on_dsm_detach(sw->seg, als_leader_detach, PointerGetDatum(shared));
	return true;
}

/*
 * Wait until every helper has attached the segment (or stopped), so that
 * all are there for the first sweep: a few milliseconds, once per fit.
 */
static void
als_wait_for_helpers(AlsSweeper *sw)
{
	ConditionVariablePrepareToSleep(&sw->shared->done_cv);
	for (;;)
	{
		int			attached;

		SpinLockAcquire(&sw->shared->mutex);
		attached = sw->shared->attached;
		SpinLockRelease(&sw->shared->mutex);
		if (attached + TrainingHelpersStopped(sw->handles, sw->nworkers) >= sw->nworkers)
			break;
		(void) ConditionVariableTimedSleep(&sw->shared->done_cv, 10, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

/* Start up to n helpers on sw's segment (sw->nworkers: how many) and wait for them. */
static void
als_start_helpers(AlsSweeper *sw, int n)
{
	sw->nworkers = TrainingStartHelpers(sw->seg, "personalize_als_worker_main", "ALS", n, sw->handles);
	als_wait_for_helpers(sw);
}

/*
 * The leader alone: the factors (zero) and their half-precision copies
 * (als_half_rows_size) in one allocation, each array on a cache line as in
 * the segment (TrainingShmCopy says why): palloc's large chunks start 8
 * or 16 bytes past one.  On transparent huge pages where the system allows
 * (MatrixAllocHuge): the half sweeps gather rows all over these arrays
 * (20M set alone, four alternating pairs: median item half sweep
 * 0.86-0.95 -> 0.77-0.84 s).
 */
static void
als_local_arrays(AlsSweeper *sw)
{
	const AlsProblem *p = &sw->p;
	Size		bytes[4];
	Size		total = PG_CACHE_LINE_SIZE;
	char	   *next;

	bytes[0] = sizeof(float) * (Size) p->users.n_rows * p->k;
	bytes[1] = sizeof(float) * (Size) p->items.n_rows * p->k;
	bytes[2] = als_half_rows_size(p, &p->users);
	bytes[3] = als_half_rows_size(p, &p->items);
	for (int a = 0; a < 4; a++)
		total = add_size(total, CACHELINEALIGN(bytes[a]));
	sw->local_block = MatrixAllocHuge(total);
	next = (char *) CACHELINEALIGN(sw->local_block);
	sw->user_factors = (float *) next;
	next += CACHELINEALIGN(bytes[0]);
	sw->item_factors = (float *) next;
	next += CACHELINEALIGN(bytes[1]);
	memset(sw->user_factors, 0, bytes[0]);
	memset(sw->item_factors, 0, bytes[1]);
	sw->user_half = bytes[2] > 0 ? (uint16 *) next : NULL;
	next += CACHELINEALIGN(bytes[2]);
	sw->item_half = bytes[3] > 0 ? (uint16 *) next : NULL;
}

/*
 * Prepare the sweeps of one fit: the factors (zero), the Gram matrix and,
 * when the fit is large enough and personalize.max_training_workers allows,
 * the shared segment and its helpers.  The problem's arrays must stay
 * valid until AlsSweeperEnd.
 */
AlsSweeper *
AlsSweeperBegin(const AlsProblem *problem)
{
	AlsSweeper *sw = palloc0(sizeof(AlsSweeper));
	int64		nnz = problem->users.ptr[problem->users.n_rows];
	int			planned = als_planned_workers(nnz);

	instr_time	lap;

	INSTR_TIME_SET_CURRENT(lap);
	sw->p = *problem;
	sw->work = palloc(sizeof(float) * 4 * problem->k);
	sw->next_gram = palloc(sizeof(float) * problem->k * problem->k);
	sw->gram_scratch = palloc(sizeof(float) * problem->k * problem->k);
	BlasInit();
	if (planned > 0 && als_create_segment(sw))
	{
		PersonalizeDebugLap("ALS shared segment created and filled", &lap);
		als_start_helpers(sw, planned);
		PersonalizeDebugLap("ALS helpers started", &lap);
		return sw;
	}
	als_local_arrays(sw);
	sw->gram = palloc(sizeof(float) * problem->k * problem->k);
	return sw;
}

/* The user factors (n_users x k, zero at first), for the caller to fill before the first sweep. */
float *
AlsSweeperUserFactors(AlsSweeper *sw)
{
	return sw->user_factors;
}

/*
 * The item factors (n_items x k, zero at first), for the caller to fill
 * before the first sweep (later writes would not reach the half-precision
 * copies the sweeps read).
 */
float *
AlsSweeperItemFactors(AlsSweeper *sw)
{
	return sw->item_factors;
}

/* How many helpers were started (0: the leader alone). */
int
AlsSweeperWorkers(AlsSweeper *sw)
{
	return sw->nworkers;
}

/*
 * Raise an error if every helper has stopped while the half sweep still
 * counts some of them busy (a helper that died without its detach
 * callback).
 */
static void
als_check_helpers(AlsSweeper *sw, int busy)
{
	int			running = sw->nworkers - TrainingHelpersStopped(sw->handles, sw->nworkers);

	if (busy > running)
		ereport(ERROR,
				(errcode(ERRCODE_OPERATOR_INTERVENTION),
				 errmsg("an ALS helper process exited before finishing its rows"),
				 errhint("Training can run without helpers: SET personalize.max_training_workers = 0.")));
}

/*
 * DEBUG1: how long a half sweep took, per interaction (the item side reads
 * the user factors, which outgrow the CPU caches on large data sets).
 */
static void
als_debug_half_sweep(bool users, const AlsSide *side, instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	elog(DEBUG1, "ALS half sweep over %d %s (" INT64_FORMAT " interactions): %.3f s, %.1f ns per interaction",
		 side->n_rows, users ? "users" : "items", side->ptr[side->n_rows],
		 INSTR_TIME_GET_DOUBLE(now),
		 INSTR_TIME_GET_DOUBLE(now) * 1e9 / Max(side->ptr[side->n_rows], 1));
}

/*
 * After a half sweep: note that it filled its side's half-precision copy
 * (filled), and log its time.
 */
static void
als_half_sweep_done(AlsSweeper *sw, bool users, bool filled, instr_time start)
{
	if (users)
		sw->user_half_filled |= filled;
	else
		sw->item_half_filled |= filled;
	als_debug_half_sweep(users, users ? &sw->p.users : &sw->p.items, start);
}

/*
 * Update every user (users true) or every item against the other side's
 * current factors.
 */
void
AlsSweeperUpdate(AlsSweeper *sw, bool users)
{
	const AlsSide *side = users ? &sw->p.users : &sw->p.items;
	const AlsSide *other_side = users ? &sw->p.items : &sw->p.users;
	const float *other = users ? sw->item_factors : sw->user_factors;
	float	   *out = users ? sw->user_factors : sw->item_factors;
	/* a half sweep fills its side's half-precision copy, the next one reads it */
	uint16	   *out_half = users ? sw->user_half : sw->item_half;
	const uint16 *other_half = NULL;
	int			k = sw->p.k;
	AlsShared  *shared = sw->shared;
	bool		failed;
	instr_time	start;

	if (users && sw->item_half_filled)
		other_half = sw->item_half;
	else if (!users && sw->user_half_filled)
		other_half = sw->user_half;
	INSTR_TIME_SET_CURRENT(start);
	if (sw->next_gram_of == (users ? ALS_ITEMS : ALS_USERS))
		memcpy(sw->gram, sw->next_gram, sizeof(float) * k * k);
	else
		als_gram(other, other_side->n_rows, k, sw->gram_scratch, sw->gram);
	for (int f = 0; f < k; f++)
		sw->gram[f * k + f] += sw->p.regularization;

	if (sw->seg == NULL)
	{
		for (int32 lo = 0; lo < side->n_rows; lo += ALS_CHUNK_ROWS)
		{
			als_solve_chunk(side, other, other_half, sw->gram, k, sw->p.alpha, sw->p.cg_steps,
							out, out_half, lo, Min(side->n_rows, lo + ALS_CHUNK_ROWS), sw->work);
			CHECK_FOR_INTERRUPTS();
		}
		/* the next half sweep computes this side's Gram matrix (als_gram) */
		als_half_sweep_done(sw, users, out_half != NULL, start);
		return;
	}

	/*
	 * Open the half sweep (the spinlock orders the writes above before it).
	 * Chunks are smaller on small sides, so that every process gets some.
	 */
	pg_atomic_write_u32(&shared->next_row, 0);
	for (int32 b = 0; b < als_gram_blocks(side->n_rows, k); b++)
		pg_atomic_write_u32(&sw->block_done[b], 0);
	shared->chunk = Max(1, Min(ALS_CHUNK_ROWS, side->n_rows / (8 * (sw->nworkers + 1))));
	shared->total_rows += side->n_rows;
	SpinLockAcquire(&shared->mutex);
	shared->users = users;
	shared->read_half = other_half != NULL;
	shared->generation++;
	shared->open = true;
	SpinLockRelease(&shared->mutex);
	ConditionVariableBroadcast(&shared->work_cv);

	als_take_rows(shared, side, other, other_half, sw->gram, out, out_half, sw->block_done,
				  sw->block_grams, sw->work, true);

	/* wait for the helpers still solving rows, then close it */
	ConditionVariablePrepareToSleep(&shared->done_cv);
	for (;;)
	{
		bool		done = false;
		int			busy;

		SpinLockAcquire(&shared->mutex);
		busy = shared->busy;
		if (busy == 0)
		{
			shared->open = false;
			done = true;
		}
		failed = shared->failed;
		SpinLockRelease(&shared->mutex);
		if (done)
			break;
		if (ConditionVariableTimedSleep(&shared->done_cv, ALS_WAIT_MS, PG_WAIT_EXTENSION))
			als_check_helpers(sw, busy);
	}
	ConditionVariableCancelSleep();

	/*
	 * Helpers exit only when the fit ends: one gone already was terminated,
	 * whether or not it held rows at that moment.  Failing in both cases
	 * makes a terminated helper fail the version however the kill falls.
	 */
	if (!failed && TrainingHelpersStopped(sw->handles, sw->nworkers) > 0)
		failed = true;
	if (failed)
		ereport(ERROR,
				(errcode(ERRCODE_OPERATOR_INTERVENTION),
				 errmsg("an ALS helper process exited before finishing its rows"),
				 errhint("Was it terminated?  Training can run without helpers: SET personalize.max_training_workers = 0.")));
	/* every block was counted by the process that completed it, before it left */
	als_sum_block_grams(sw->block_grams, als_gram_blocks(side->n_rows, k), k, sw->next_gram);
	sw->next_gram_of = users ? ALS_USERS : ALS_ITEMS;
	als_half_sweep_done(sw, users, out_half != NULL, start);
}

/*
 * Finish the fit: hand the factors to the caller (palloc'd), stop the
 * helpers and release the segment.  user_factors may be NULL when the
 * caller does not keep them.
 */
void
AlsSweeperEnd(AlsSweeper *sw, float **user_factors, float **item_factors)
{
	Size		ubytes = sizeof(float) * (Size) sw->p.users.n_rows * sw->p.k;
	Size		ibytes = sizeof(float) * (Size) sw->p.items.n_rows * sw->p.k;

	/* copied out of the segment or the leader's block, both released below */
	if (user_factors != NULL)
	{
		*user_factors = palloc_extended(Max(ubytes, 1), MCXT_ALLOC_HUGE);
		memcpy(*user_factors, sw->user_factors, ubytes);
	}
	*item_factors = palloc_extended(Max(ibytes, 1), MCXT_ALLOC_HUGE);
	memcpy(*item_factors, sw->item_factors, ibytes);
	if (sw->seg == NULL)
	{
		pfree(sw->local_block);
		pfree(sw->gram);
	}
	else
		als_release_segment(sw);
	pfree(sw->next_gram);
	pfree(sw->gram_scratch);
	pfree(sw->work);
	pfree(sw);
}

/* Log what the helpers did, stop them and release the segment. */
static void
als_release_segment(AlsSweeper *sw)
{
	ereport(LOG,
			(errmsg_plural("personalize: ALS training used %d helper process, which solved %.0f%% of " UINT64_FORMAT " row updates",
						   "personalize: ALS training used %d helper processes, which solved %.0f%% of " UINT64_FORMAT " row updates",
						   sw->nworkers,
						   sw->nworkers,
						   100.0 * pg_atomic_read_u64(&sw->shared->helper_rows) / Max(sw->shared->total_rows, 1),
						   sw->shared->total_rows),
			 errhidestmt(true)));

	/* the detach callback tells the helpers to stop */
	dsm_detach(sw->seg);
	for (int i = 0; i < sw->nworkers; i++)
		(void) WaitForBackgroundWorkerShutdown(sw->handles[i]);
}

/*
 * Entry point of a helper: attach the segment, then solve rows of each
 * half sweep the leader opens until it says stop.
 */
void
personalize_als_worker_main(Datum main_arg)
{
	dsm_segment *seg;
	shm_toc    *toc;
	AlsShared  *shared;
	AlsSide		users;
	AlsSide		items;
	float	   *user_factors;
	float	   *item_factors;
	float	   *gram;
	uint16	   *user_half;
	uint16	   *item_half;
	pg_atomic_uint32 *block_done;
	float	   *block_grams;
	float	   *work;
	uint32		seen = 0;

	toc = TrainingHelperAttach(main_arg, ALS_SHM_MAGIC, "ALS", &seg);
	shared = shm_toc_lookup(toc, ALS_KEY_SHARED, false);
	users.n_rows = shared->n_users;
	users.ptr = shm_toc_lookup(toc, ALS_KEY_USER_PTR, false);
	users.idx = shm_toc_lookup(toc, ALS_KEY_USER_IDX, false);
	users.weight = shm_toc_lookup(toc, ALS_KEY_USER_WEIGHT, false);
	items.n_rows = shared->n_items;
	items.ptr = shm_toc_lookup(toc, ALS_KEY_ITEM_PTR, false);
	items.idx = shm_toc_lookup(toc, ALS_KEY_ITEM_IDX, false);
	items.weight = shm_toc_lookup(toc, ALS_KEY_ITEM_WEIGHT, false);
	user_factors = shm_toc_lookup(toc, ALS_KEY_USER_FACTORS, false);
	item_factors = shm_toc_lookup(toc, ALS_KEY_ITEM_FACTORS, false);
	gram = shm_toc_lookup(toc, ALS_KEY_GRAM, false);
	user_half = shared->user_half_rows ? shm_toc_lookup(toc, ALS_KEY_USER_HALF, false) : NULL;
	item_half = shared->item_half_rows ? shm_toc_lookup(toc, ALS_KEY_ITEM_HALF, false) : NULL;
	block_done = shm_toc_lookup(toc, ALS_KEY_BLOCK_DONE, false);
	block_grams = shm_toc_lookup(toc, ALS_KEY_BLOCK_GRAMS, false);
	on_dsm_detach(seg, als_helper_detach, PointerGetDatum(shared));
	BlasInit();
	work = MemoryContextAlloc(TopMemoryContext, sizeof(float) * 4 * shared->k);
	SpinLockAcquire(&shared->mutex);
	shared->attached++;
	SpinLockRelease(&shared->mutex);
	ConditionVariableBroadcast(&shared->done_cv);

	for (;;)
	{
		bool		joined = false;
		bool		do_users = false;
		bool		read_half = false;

		/* wait for a half sweep this helper has not done yet, or stop */
		ConditionVariablePrepareToSleep(&shared->work_cv);
		for (;;)
		{
			bool		stop;

			SpinLockAcquire(&shared->mutex);
			stop = shared->stop;
			if (!stop && shared->open && shared->generation != seen)
			{
				seen = shared->generation;
				do_users = shared->users;
				read_half = shared->read_half;
				shared->busy++;
				als_helper_busy = true;
				joined = true;
			}
			SpinLockRelease(&shared->mutex);
			if (stop)
			{
				ConditionVariableCancelSleep();
				proc_exit(0);
			}
			if (joined)
				break;
			if (ConditionVariableTimedSleep(&shared->work_cv, ALS_WAIT_MS, PG_WAIT_EXTENSION) &&
				kill(shared->leader_pid, 0) != 0 && errno == ESRCH)
				proc_exit(0);	/* the leader is gone */
		}
		ConditionVariableCancelSleep();

		if (do_users)
			als_take_rows(shared, &users, item_factors, read_half ? item_half : NULL, gram, user_factors,
						  user_half, block_done, block_grams, work, false);
		else
			als_take_rows(shared, &items, user_factors, read_half ? user_half : NULL, gram, item_factors,
						  item_half, block_done, block_grams, work, false);

		SpinLockAcquire(&shared->mutex);
		shared->busy--;
		als_helper_busy = false;
		SpinLockRelease(&shared->mutex);
		ConditionVariableBroadcast(&shared->done_cv);
	}
}
