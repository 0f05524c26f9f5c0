/*-------------------------------------------------------------------------
 *
 * model_shared.c
 *	  One copy of a model's item factors shared by every backend, in a
 *	  dynamic shared memory segment, when personalize is preloaded.
 *
 * Serving streams a campaign's whole n_items x k factor matrix per request
 * (the softmax is over the catalogue).  With a copy per backend, eight
 * backends stream eight copies through the CPU caches; with one shared
 * copy they stream the same memory.  A backend that caches a model
 * (model.c) looks it up here: a segment already made by another backend is
 * attached and the local copy freed; else the backend makes the segment
 * from its own copy and registers it.
 *
 * The segment of a model that compact scoring serves also holds its codes
 * (compact.c) and, when the model explores young items, every item's
 * damping 1 / sqrt(1 + popularity), which the scoring helper reads; the
 * segment of a model that folds users in holds the fold-in's Gram matrix
 * (AlsPrepare), which an attaching backend would otherwise compute.
 *
 * The directory is a small fixed array in the main shared memory (hence
 * shared_preload_libraries): personalize.shared_models slots, each naming
 * a segment by database, solution version and version creation time, the
 * same key as the per-backend cache.  A solution version never changes
 * once ACTIVE, so a registered segment is never stale; a campaign moved to
 * another version looks up another key.  A full directory drops its least
 * recently registered or attached slot: the segment is unpinned and goes
 * away when the last backend using it detaches (on evicting the model from
 * its cache, or exiting).  An attach that races with that drop fails
 * cleanly and the backend keeps its own copy.  Without preloading, or with
 * personalize.shared_models = 0, each backend keeps its own copy, as
 * before.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/model_shared.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "compact.h"
#include "exploration.h"
#include "model.h"
#include "recipe.h"
#include "shm_segment.h"

#define SHARED_MODELS_MAX 1024

/* One shared model: whose factors, in which segment. */
typedef struct SharedModelSlot
{
	Oid			database;		/* InvalidOid: free slot */
	int64		version;
	TimestampTz created;
	Size		bytes;
	int32		k;				/* factors per item */
	dsm_handle	handle;
	uint64		last_used;
} SharedModelSlot;

typedef struct SharedModelDirectory
{
	LWLock	   *lock;
	uint64		clock;
	SharedModelSlot slots[FLEXIBLE_ARRAY_MEMBER];
} SharedModelDirectory;

/* personalize.shared_models: directory slots (defined only when preloading) */
static int	shared_models = 16;

static SharedModelDirectory *directory = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
shared_directory_size(void)
{
	return add_size(offsetof(SharedModelDirectory, slots),
					mul_size(sizeof(SharedModelSlot), shared_models));
}

static void
shared_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_directory_size());
	RequestNamedLWLockTranche("personalize", 1);
}

static void
shared_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	directory = ShmemInitStruct("personalize shared models", shared_directory_size(), &found);
	if (!found)
	{
		memset(directory, 0, shared_directory_size());
		directory->lock = &(GetNamedLWLockTranche("personalize"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Define personalize.shared_models and reserve the directory; called from
 * _PG_init, and does anything only while preloading.  Returns whether
 * models will be shared.
 */
bool
ModelSharedInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return false;
	DefineCustomIntVariable("personalize.shared_models",
							"Models whose item factors backends share in dynamic shared memory",
							"One copy of a campaign's factors serves every backend; 0 gives each backend its own copy.",
							&shared_models,
							16, 0, SHARED_MODELS_MAX,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	if (shared_models == 0)
		return false;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shared_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shared_shmem_startup;
	return true;
}

/* The slot of (this database, version, created, bytes), or NULL.  Lock held. */
static SharedModelSlot *
shared_find(int64 version, TimestampTz created, Size bytes)
{
	for (int i = 0; i < shared_models; i++)
	{
		SharedModelSlot *slot = &directory->slots[i];

		if (slot->database == MyDatabaseId && slot->version == version &&
			slot->created == created && slot->bytes == bytes)
			return slot;
	}
	return NULL;
}

/*
 * Attach the segment of handle, mapped for the rest of the session, if it
 * still exists and holds bytes; else NULL.  Also NULL when this backend
 * has it mapped already (dsm_attach would fail): a model loaded for one
 * call only, while every cache slot is in use, holds it until the
 * transaction ends, and another load of it then keeps its own copy.
 */
static dsm_segment *
shared_attach(dsm_handle handle, Size bytes)
{
	dsm_segment *seg;

	if (dsm_find_mapping(handle) != NULL)
		return NULL;
	seg = dsm_attach(handle);

	if (seg == NULL)
		return NULL;			/* dropped from the directory meanwhile */
	if (dsm_segment_map_length(seg) < bytes)
	{
		dsm_detach(seg);
		return NULL;
	}
	dsm_pin_mapping(seg);
	return seg;
}

/*
 * The handle of lm's registered segment of bytes, into *handle, marked
 * used; false when none is registered.
 */
static bool
shared_lookup(const LoadedModel *lm, Size bytes, dsm_handle *handle)
{
	SharedModelSlot *slot;

	LWLockAcquire(directory->lock, LW_EXCLUSIVE);
	slot = shared_find(lm->version, lm->created, bytes);
	if (slot != NULL)
	{
		slot->last_used = ++directory->clock;
		*handle = slot->handle;
	}
	LWLockRelease(directory->lock);
	return slot != NULL;
}

/* What a model's segment holds, and where (shared_layout). */
typedef struct SharedLayout
{
	Size		bytes;			/* the whole segment: n_items x k factors first */
	Size		compact_offset; /* the compact codes, or 0 */
	Size		damping_offset; /* exploration's damping of every item, or 0 */
	Size		gram_offset;	/* the fold-in's Gram matrix (AlsPrepare), or 0 */
} SharedLayout;

/* The layout of lm's segment. */
static SharedLayout
shared_layout(const LoadedModel *lm)
{
	SharedLayout layout = {0};
	int32		k = lm->model.k;

	layout.bytes = mul_size(mul_size(sizeof(float), lm->model.n_items), k);
	/* a model recommend() folds users into also shares its compact factors */
	if (lm->recipe->fold_in != NULL && lm->model.n_items >= COMPACT_MIN_ITEMS &&
		k <= COMPACT_MAX_FACTORS)
	{
		layout.compact_offset = TYPEALIGN(COMPACT_ALIGN, layout.bytes);
		layout.bytes = add_size(layout.compact_offset, CompactBytes(lm->model.n_items, k));
		/* and, if it explores, exploration's damping of every item (scoring_helper.c) */
		if (lm->model.item_age_days != NULL && lm->model.popularity != NULL)
		{
			layout.damping_offset = TYPEALIGN(COMPACT_ALIGN, layout.bytes);
			layout.bytes = add_size(layout.damping_offset, mul_size(sizeof(float), lm->model.n_items));
		}
	}
	/*
	 * The Gram matrix the fold-in starts from: a pass over every factor,
	 * which took a new connection's first call over a million items 0.2 s.
	 */
	if (lm->recipe->prepare == AlsPrepare)
	{
		layout.gram_offset = TYPEALIGN(COMPACT_ALIGN, layout.bytes);
		layout.bytes = add_size(layout.gram_offset, mul_size(sizeof(float), mul_size(k, k)));
	}
	return layout;
}

/*
 * Serve lm from segment seg (laid out by shared_layout): its factors, codes,
 * damping and Gram matrix read from there, its own copies freed.
 */
static void
shared_adopt(LoadedModel *lm, dsm_segment *seg, const SharedLayout *layout)
{
	/* the segment lm's first, so that an error below leaves it to ModelSharedRelease */
	lm->shared_segment = seg;
	if (lm->model.factors != NULL)
		pfree(lm->model.factors);
	lm->model.factors = dsm_segment_address(seg);
	if (layout->compact_offset > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(lm->context);

		if (lm->compact != NULL && lm->compact->allocation != NULL)
		{
			pfree(lm->compact->allocation);
			pfree(lm->compact);
		}
		lm->compact = CompactFromBlob((char *) dsm_segment_address(seg) + layout->compact_offset,
									  lm->model.n_items, lm->model.k);
		MemoryContextSwitchTo(old);
	}
	if (layout->damping_offset > 0)
		lm->shared_damping = (float *) ((char *) dsm_segment_address(seg) + layout->damping_offset);
	if (layout->gram_offset > 0)
	{
		/* AlsPrepare then keeps it (a model read without factors has none yet) */
		if (lm->model.gram != NULL)
			pfree(lm->model.gram);
		lm->model.gram = (float *) ((char *) dsm_segment_address(seg) + layout->gram_offset);
	}
}

/*
 * How many factors per item the model of version (created at created) has
 * in a segment another backend registered, or 0 when none is registered:
 * model.c then reads the model's rows without their factors, and attaches
 * them (ModelAttachSharedFactors).  A hint: the segment may go meanwhile.
 */
int32
ModelSharedFactorCount(int64 version, TimestampTz created)
{
	int32		k = 0;

	if (directory == NULL)
		return 0;
	LWLockAcquire(directory->lock, LW_SHARED);
	for (int i = 0; i < shared_models; i++)
	{
		SharedModelSlot *slot = &directory->slots[i];

		if (slot->database == MyDatabaseId && slot->version == version && slot->created == created)
			k = slot->k;
	}
	LWLockRelease(directory->lock);
	return k;
}

/*
 * Attach the registered segment of lm, read without its factors (k set,
 * factors NULL), and serve lm from it: false when it has gone since
 * ModelSharedFactorCount (the caller then reads the factors).
 */
bool
ModelAttachSharedFactors(LoadedModel *lm)
{
	SharedLayout layout = shared_layout(lm);
	dsm_handle	handle = 0;
	dsm_segment *seg;

	if (directory == NULL || !shared_lookup(lm, layout.bytes, &handle) ||
		(seg = shared_attach(handle, layout.bytes)) == NULL)
		return false;
	shared_adopt(lm, seg, &layout);
	elog(DEBUG1, "personalize: item factors of solution version " INT64_FORMAT " attached from shared memory, not read",
		 lm->version);
	return true;
}

/*
 * Put lm's item factors in shared memory, or attach those another backend
 * put there, and free lm's own copy; do nothing when sharing is off or
 * the segment cannot be had.  lm must be in the per-backend cache (which
 * shares only what it keeps); its memory context calls ModelSharedRelease
 * when lm is freed (model.c).
 */
void
ModelShareFactors(LoadedModel *lm)
{
	Size		factor_bytes;
	SharedLayout layout;
	bool		registered;
	dsm_segment *seg = NULL;
	dsm_handle	handle = 0;

	if (directory == NULL || lm->model.factors == NULL || lm->shared_segment != NULL)
		return;
	factor_bytes = mul_size(mul_size(sizeof(float), lm->model.n_items), lm->model.k);
	layout = shared_layout(lm);
	/* AlsPrepare's Gram comes with the factors (RecipeFinishModel): shared with them */
	if (layout.gram_offset > 0 && lm->model.gram == NULL)
		elog(ERROR, "solution version " INT64_FORMAT " has no Gram matrix to share", lm->version);

	registered = shared_lookup(lm, layout.bytes, &handle);
	if (registered)
		seg = shared_attach(handle, layout.bytes);
	else
	{
		SharedModelSlot *victim = NULL;

		/* copy outside the lock: a large catalogue takes a while */
		seg = ShmSegmentTryCreate(layout.bytes, true, "item factors shared by all backends",
								  "Each backend keeps its own copy; raise the size of /dev/shm or set personalize.shared_models = 0.",
								  NULL);
		if (seg == NULL)
			return;
		memcpy(dsm_segment_address(seg), lm->model.factors, factor_bytes);
		if (layout.compact_offset > 0)
		{
			/* coded in the backend's memory first: an error leaves no half segment */
			MemoryContext old = MemoryContextSwitchTo(lm->context);

			if (lm->compact == NULL)
				lm->compact = CompactBuild(lm->model.factors, lm->model.n_items, lm->model.k);
			MemoryContextSwitchTo(old);
			memcpy((char *) dsm_segment_address(seg) + layout.compact_offset, lm->compact->blob,
				   CompactBytes(lm->model.n_items, lm->model.k));
		}
		if (layout.damping_offset > 0)
		{
			float	   *damping = (float *) ((char *) dsm_segment_address(seg) + layout.damping_offset);

			for (int32 i = 0; i < lm->model.n_items; i++)
				damping[i] = ExplorationDamping(lm->model.popularity[i]);
		}
		if (layout.gram_offset > 0)
		{
			/* prepared with the model (RecipeFinishModel): checked above */
			memcpy((char *) dsm_segment_address(seg) + layout.gram_offset, lm->model.gram,
				   sizeof(float) * lm->model.k * lm->model.k);
		}
		dsm_pin_segment(seg);

		LWLockAcquire(directory->lock, LW_EXCLUSIVE);
		if (shared_find(lm->version, lm->created, layout.bytes) != NULL)
		{
			/* registered meanwhile by another backend: ours stays private */
			LWLockRelease(directory->lock);
			dsm_unpin_segment(dsm_segment_handle(seg));
		}
		else
		{
			for (int i = 0; i < shared_models; i++)
			{
				SharedModelSlot *s = &directory->slots[i];

				if (s->database == InvalidOid)
				{
					victim = s;
					break;
				}
				if (victim == NULL || s->last_used < victim->last_used)
					victim = s;
			}
			if (victim->database != InvalidOid)
				dsm_unpin_segment(victim->handle);	/* gone at its last detach */
			victim->database = MyDatabaseId;
			victim->version = lm->version;
			victim->created = lm->created;
			victim->bytes = layout.bytes;
			victim->k = lm->model.k;
			victim->handle = dsm_segment_handle(seg);
			victim->last_used = ++directory->clock;
			LWLockRelease(directory->lock);
			elog(DEBUG1, "personalize: item factors of solution version " INT64_FORMAT " put in shared memory (%zu bytes)",
				 lm->version, layout.bytes);
		}
	}
	if (seg == NULL)
		return;
	if (registered)
		elog(DEBUG1, "personalize: item factors of solution version " INT64_FORMAT " attached from shared memory",
			 lm->version);
	shared_adopt(lm, seg, &layout);
}

/*
 * Detach lm from its shared factors and its score buffer's segment, if
 * any, before lm is freed.
 */
void
ModelSharedRelease(LoadedModel *lm)
{
	if (lm->scores_segment != NULL)
	{
		/* its score buffer (ModelScoresBuffer) */
		lm->scores_buffer = NULL;
		dsm_detach(lm->scores_segment);
		lm->scores_segment = NULL;
	}
	if (lm->shared_segment == NULL)
		return;
	/* what may point into the segment (the model's memory goes too: nothing is leaked) */
	lm->model.factors = NULL;
	lm->model.gram = NULL;
	lm->compact = NULL;
	lm->shared_damping = NULL;
	dsm_detach(lm->shared_segment);
	lm->shared_segment = NULL;
}
