/*-------------------------------------------------------------------------
 *
 * snapshot_stamp.c
 *	  When may a value computed from the database under one statement's
 *	  snapshot be reused by a later statement without reading it again?
 *
 * An MVCC snapshot decides the visibility of a row's transaction X from
 * xmin, xmax and the transactions running when it was taken (xip, and the
 * subtransactions subxip unless that list overflowed): X >= xmax is
 * invisible, X listed as running is invisible, any other X had ended
 * before the snapshot was taken and is visible if it committed.  A
 * transaction's outcome never changes once it has ended, so two snapshots
 * with the same xmin, xmax and running lists see exactly the same
 * committed rows, whenever they were taken.  A value computed by
 * deterministic reads under one of them is still exact under the other,
 * provided neither transaction wrote anything itself (its own uncommitted
 * rows would be visible to it alone): a transaction that has written has a
 * transaction id.
 *
 * A stamp records those fields of the active snapshot (the one the
 * queries of a STABLE function run under), or is invalid (never reused)
 * when the snapshot is not a plain MVCC snapshot, was taken during
 * recovery, or the transaction has a transaction id.  Under a write load
 * xmax moves with every transaction that gets an id, so a reused value is
 * lost as soon as anything is written: this trades hit rate for a proof
 * that is short.
 *
 * The caller keeps what else the value depends on in its cache key (the
 * user whose privileges the reads ran with, the arguments) and reads only
 * plain tables with deterministic expressions (a view could call now()).
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/snapshot_stamp.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/snapshot.h"

#include "snapshot_stamp.h"

/* The active snapshot, if values read under it may be reused; else NULL. */
static Snapshot
reusable_snapshot(void)
{
	Snapshot	snapshot;

	if (!ActiveSnapshotSet())
		return NULL;
	snapshot = GetActiveSnapshot();
	if (snapshot->snapshot_type != SNAPSHOT_MVCC || snapshot->takenDuringRecovery)
		return NULL;
	if (TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return NULL;
	return snapshot;
}

static int
xid_cmp(const void *a, const void *b)
{
	TransactionId x = *(const TransactionId *) a;
	TransactionId y = *(const TransactionId *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * Copy the running lists of snapshot into xids (xcnt + subxcnt entries,
 * subxids left out when they overflowed), each part sorted.
 */
static void
sorted_xids(Snapshot snapshot, TransactionId *xids)
{
	int			subxcnt = snapshot->suboverflowed ? 0 : snapshot->subxcnt;

	if (snapshot->xcnt > 0)
	{
		memcpy(xids, snapshot->xip, sizeof(TransactionId) * snapshot->xcnt);
		qsort(xids, snapshot->xcnt, sizeof(TransactionId), xid_cmp);
	}
	if (subxcnt > 0)
	{
		memcpy(xids + snapshot->xcnt, snapshot->subxip, sizeof(TransactionId) * subxcnt);
		qsort(xids + snapshot->xcnt, subxcnt, sizeof(TransactionId), xid_cmp);
	}
}

/*
 * Stamp values about to be read under the active snapshot; the stamp's
 * list is allocated in context.
 */
void
SnapshotStampTake(SnapshotStamp *stamp, MemoryContext context)
{
	Snapshot	snapshot = reusable_snapshot();

	memset(stamp, 0, sizeof(SnapshotStamp));
	if (snapshot == NULL)
		return;
	stamp->xmin = snapshot->xmin;
	stamp->xmax = snapshot->xmax;
	stamp->suboverflowed = snapshot->suboverflowed;
	stamp->xcnt = snapshot->xcnt;
	stamp->subxcnt = snapshot->suboverflowed ? 0 : snapshot->subxcnt;
	stamp->xids = MemoryContextAlloc(context, sizeof(TransactionId) * Max(stamp->xcnt + stamp->subxcnt, 1));
	sorted_xids(snapshot, stamp->xids);
	stamp->valid = true;
}

/*
 * May a value read under stamp be reused under the active snapshot: do
 * both see the same committed rows?
 */
bool
SnapshotStampStillValid(const SnapshotStamp *stamp)
{
	Snapshot	snapshot;
	TransactionId *xids;
	bool		same;

	if (!stamp->valid)
		return false;
	snapshot = reusable_snapshot();
	if (snapshot == NULL ||
		snapshot->xmin != stamp->xmin || snapshot->xmax != stamp->xmax ||
		snapshot->suboverflowed != stamp->suboverflowed || snapshot->xcnt != stamp->xcnt ||
		(snapshot->suboverflowed ? 0 : snapshot->subxcnt) != stamp->subxcnt)
		return false;
	if (stamp->xcnt + stamp->subxcnt == 0)
		return true;
	xids = palloc(sizeof(TransactionId) * (stamp->xcnt + stamp->subxcnt));
	sorted_xids(snapshot, xids);
	same = memcmp(xids, stamp->xids, sizeof(TransactionId) * (stamp->xcnt + stamp->subxcnt)) == 0;
	pfree(xids);
	return same;
}

/* Release the stamp's list; the stamp becomes invalid. */
void
SnapshotStampFree(SnapshotStamp *stamp)
{
	if (stamp->xids != NULL)
		pfree(stamp->xids);
	memset(stamp, 0, sizeof(SnapshotStamp));
}
