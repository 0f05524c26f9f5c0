/*-------------------------------------------------------------------------
 *
 * shm_segment.c
 *	  Dynamic shared memory segments that work can go on without.
 *
 * The segments this library creates speed things up (helpers of a
 * training, one copy of a model's factors for every backend) but the work
 * can be done without them.  dsm_create returns NULL when the server has
 * too many segments, but raises an error when there is no room for the
 * segment: a /dev/shm smaller than the segment (Docker gives containers
 * 64 MB by default), or a file size limit.  A training of a few million
 * interactions then failed outright where the training process alone
 * would have succeeded.  ShmSegmentTryCreate catches that error, logs it,
 * and returns NULL like the other case.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/shm_segment.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "shm_segment.h"

/*
 * A new segment of bytes, or NULL when none can be had; then a LOG line
 * says why, with what the segment was for (purpose: "the ALS helpers of a
 * training", say) and hint.  for_session: the mapping lasts for the
 * session (dsm_pin_mapping).  Otherwise it is dsm_create's own: in a
 * transaction, the current resource owner detaches it at the latest at
 * the end of the transaction or on an error; outside one, where there is
 * no resource owner, the caller detaches it (or the process's exit does).
 *
 * In a transaction the error is caught in a subtransaction, whose abort
 * releases what dsm_create left.  Outside one (a background training
 * computes between transactions) there can be no subtransaction, and the
 * error is caught as it stands: dsm_create raises it only from creating
 * the operating system's segment, which has closed and removed that
 * segment first, holding no lock; what it leaves is an unmapped
 * descriptor, owned by no resource owner, which the process's exit
 * releases.  In parallel mode (a parallel worker running recommend(), say)
 * neither is possible, and no segment is tried.
 *
 * no_room, when not NULL, is set to whether the segment was refused for
 * lack of room (the error above), not for the other reasons.
 */
dsm_segment *
ShmSegmentTryCreate(Size bytes, bool for_session, const char *purpose, const char *hint,
					bool *no_room)
{
	MemoryContext context = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	bool		subtransaction = IsTransactionState();
	dsm_segment *volatile seg = NULL;

	if (no_room != NULL)
		*no_room = false;
	if (IsInParallelMode())
		return NULL;
	/* the error resets these (errfinish): none may be held here */
	Assert(InterruptHoldoffCount == 0 && QueryCancelHoldoffCount == 0);
	Assert(subtransaction || CurrentResourceOwner == NULL);
	if (subtransaction)
	{
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(context);
	}
	PG_TRY();
	{
		seg = dsm_create(bytes, DSM_CREATE_NULL_IF_MAXSEGMENTS);
		/* out of the subtransaction's resource owner, which its commit releases */
		if (seg != NULL && subtransaction)
			dsm_pin_mapping(seg);
		if (subtransaction)
			ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(context);
		edata = CopyErrorData();
		FlushErrorState();
		if (subtransaction)
			RollbackAndReleaseCurrentSubTransaction();
		ereport(LOG,
				(errmsg("personalize: could not create a shared memory segment of %zu bytes for %s: %s",
						bytes, purpose, edata->message),
				 errhint("%s", hint)));
		FreeErrorData(edata);
		seg = NULL;
		if (no_room != NULL)
			*no_room = true;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(context);
	CurrentResourceOwner = owner;
	if (seg != NULL && for_session)
		dsm_pin_mapping(seg);
	else if (seg != NULL && subtransaction)
		dsm_unpin_mapping(seg); /* back to the caller's resource owner */
	return seg;
}
