/*-------------------------------------------------------------------------
 *
 * training_helpers.h
 *	  Helper background workers of a parallel training step.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/training_helpers.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_TRAINING_HELPERS_H
#define PERSONALIZE_TRAINING_HELPERS_H

#include "postgres.h"

#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/shm_toc.h"

extern void TrainingHelpersBegin(void);
extern dsm_segment *TrainingCreateSegment(Size bytes, const char *kind);
extern int	TrainingStartHelpers(dsm_segment *seg, const char *function, const char *kind,
								 int n, BackgroundWorkerHandle **handles);
extern int	TrainingHelpersStopped(BackgroundWorkerHandle **handles, int n);
extern void TrainingShmEstimateChunk(shm_toc_estimator *e, Size n);
extern void *TrainingShmCopy(shm_toc *toc, uint64 key, const void *src, Size n);
extern shm_toc *TrainingHelperAttach(Datum main_arg, uint64 magic, const char *kind,
									 dsm_segment **seg);

#endif							/* PERSONALIZE_TRAINING_HELPERS_H */
