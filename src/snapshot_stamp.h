/*-------------------------------------------------------------------------
 *
 * snapshot_stamp.h
 *	  When may a value computed from the database under one statement's
 *	  snapshot be reused by a later statement without reading it again?
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/snapshot_stamp.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_SNAPSHOT_STAMP_H
#define PERSONALIZE_SNAPSHOT_STAMP_H

#include "postgres.h"

/*
 * What decides which rows a snapshot sees; valid is false when a value
 * read under it may not be reused (see snapshot_stamp.c).
 */
typedef struct SnapshotStamp
{
	bool		valid;
	TransactionId xmin;
	TransactionId xmax;
	bool		suboverflowed;
	int			xcnt;
	int			subxcnt;
	TransactionId *xids;		/* xcnt running xids then subxcnt subxids, each part sorted */
} SnapshotStamp;

extern void SnapshotStampTake(SnapshotStamp *stamp, MemoryContext context);
extern bool SnapshotStampStillValid(const SnapshotStamp *stamp);
extern void SnapshotStampFree(SnapshotStamp *stamp);

#endif							/* PERSONALIZE_SNAPSHOT_STAMP_H */
