/*-------------------------------------------------------------------------
 *
 * training_helpers.c
 *	  Helper background workers of a parallel training step: the shared
 *	  segment they work from, starting them, and attaching in a helper.
 *
 * The ALS sweeps (als_parallel.c) and the scoring of the held-out users
 * (evaluate_parallel.c) share their work with helpers the same way: the
 * training process puts what the helpers need in a dynamic shared memory
 * segment, registers helpers (background workers without a database
 * connection) that attach it, and does its share of the work itself, so
 * that it finishes alone when no helper could be had: no worker slot free,
 * or no room for the segment.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/training_helpers.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/shm_toc.h"
#include "tcop/tcopprot.h"

#include "shm_segment.h"
#include "training_helpers.h"

/*
 * The smallest segment that had no room in this training (0: none).  A
 * tuned training fits many times: trying each of them again would log the
 * same failure each time, and fill /dev/shm for a moment each time, which
 * can fail other backends' parallel queries.
 */
static Size training_refused_bytes = 0;

/* A training starts: segments may have room again. */
void
TrainingHelpersBegin(void)
{
	training_refused_bytes = 0;
}

/*
 * The segment of bytes for the helpers of a training step (kind: "ALS",
 * "evaluation"), or NULL when it cannot be had (too many segments, or no
 * room for it: logged, and not tried again in this training at that size
 * or above): the training process then works alone.  In a transaction it
 * is released with the current resource owner at the latest; outside one
 * the caller detaches it.
 */
dsm_segment *
TrainingCreateSegment(Size bytes, const char *kind)
{
	dsm_segment *seg;
	bool		no_room;

	if (training_refused_bytes > 0 && bytes >= training_refused_bytes)
		return NULL;
	seg = ShmSegmentTryCreate(bytes, false, psprintf("the %s helpers of a training", kind),
							  "The training goes on in its own process alone; a larger /dev/shm "
							  "(docker run --shm-size, say) lets helpers share the work.",
							  &no_room);
	/* (too many segments is tried again: others may be released meanwhile) */
	if (no_room)
		training_refused_bytes = bytes;
	return seg;
}

/*
 * Register up to n helper background workers (no database connection) that
 * run function of this library with seg's handle as argument, named
 * "personalize <kind> helper for PID <this process>" (tests find them by
 * that title); returns how many were registered into handles (fewer when
 * max_worker_processes has no free slot: this process does the rest).
 */
int
TrainingStartHelpers(dsm_segment *seg, const char *function, const char *kind, int n,
					 BackgroundWorkerHandle **handles)
{
	BackgroundWorker worker = {0};
	int			started = 0;

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "personalize");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker.bgw_name, BGW_MAXLEN, "personalize %s helper for PID %d", kind, MyProcPid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "personalize %s helper", kind);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;
	while (started < n && RegisterDynamicBackgroundWorker(&worker, &handles[started]))
		started++;
	return started;
}

/* How many of the n helpers in handles have stopped (or never started). */
int
TrainingHelpersStopped(BackgroundWorkerHandle **handles, int n)
{
	int			stopped = 0;

	for (int i = 0; i < n; i++)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED)
			stopped++;
	}
	return stopped;
}

/*
 * Count a chunk of n bytes that TrainingShmCopy will allocate in the
 * segment that e estimates (also used for the few small chunks allocated
 * with shm_toc_allocate itself, which it overestimates by a cache line).
 */
void
TrainingShmEstimateChunk(shm_toc_estimator *e, Size n)
{
	shm_toc_estimate_chunk(e, add_size(Max(n, 1), PG_CACHE_LINE_SIZE));
}

/*
 * Copy n bytes of src (or zeros, when src is NULL) into a new chunk of the
 * segment of toc, under key; returns the chunk.  The chunk starts on a
 * cache line (shm_toc aligns on 32 bytes only): the ALS kernel reads rows
 * of 128 or 256 bytes at random, and a row that straddles one line more
 * costs one memory access more.  The 20M set's rows were all 32 bytes off;
 * aligned, the median half sweep of three alternating trainings went from
 * 0.41-0.47 to 0.36-0.40 s (items) and 0.36-0.41 to 0.34-0.38 s (users).
 * Estimate the chunk with TrainingShmEstimateChunk.
 */
void *
TrainingShmCopy(shm_toc *toc, uint64 key, const void *src, Size n)
{
	void	   *dst = (void *) CACHELINEALIGN(shm_toc_allocate(toc, add_size(Max(n, 1), PG_CACHE_LINE_SIZE)));

	if (src != NULL)
		memcpy(dst, src, n);
	else
		memset(dst, 0, Max(n, 1));
	shm_toc_insert(toc, key, dst);
	return dst;
}

/*
 * In a helper TrainingStartHelpers started: take SIGTERM, attach the
 * segment main_arg names and return its table of contents (magic, a
 * segment of this kind), setting *seg.  Exits when the segment has gone
 * already (the work ended before this helper started).
 *
 * SIGTERM sets a flag that CHECK_FOR_INTERRUPTS acts on.  The default
 * handler of a background worker exits from inside the signal handler, and
 * a detach callback would then wait forever for a spinlock (or malloc's
 * lock) that the interrupted code held: a helper terminated as it started
 * hung a training so.
 */
shm_toc *
TrainingHelperAttach(Datum main_arg, uint64 magic, const char *kind, dsm_segment **seg)
{
	shm_toc    *toc;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	*seg = dsm_attach(DatumGetUInt32(main_arg));
	if (*seg == NULL)
		proc_exit(0);
	toc = shm_toc_attach(magic, dsm_segment_address(*seg));
	if (toc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("bad magic number in personalize %s shared memory segment", kind)));
	return toc;
}
