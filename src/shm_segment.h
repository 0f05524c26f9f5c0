/*-------------------------------------------------------------------------
 *
 * shm_segment.h
 *	  Dynamic shared memory segments that work can go on without.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/shm_segment.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_SHM_SEGMENT_H
#define PERSONALIZE_SHM_SEGMENT_H

#include "postgres.h"

#include "storage/dsm.h"

extern dsm_segment *ShmSegmentTryCreate(Size bytes, bool for_session, const char *purpose,
										const char *hint, bool *no_room);

#endif							/* PERSONALIZE_SHM_SEGMENT_H */
