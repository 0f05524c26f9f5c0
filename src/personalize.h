/*-------------------------------------------------------------------------
 *
 * personalize.h
 *	  Declarations shared by every module of the personalize extension:
 *	  settings (guc.c) and the few helpers that more than one module needs.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/personalize.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_H
#define PERSONALIZE_H

#include "postgres.h"

#include "portability/instr_time.h"

#ifndef PERSONALIZE_VERSION
#define PERSONALIZE_VERSION "0.2.0"
#endif

/* Settings (guc.c) */
extern int	personalize_min_interactions;
extern int	personalize_min_users;
extern int	personalize_max_history;
extern int	personalize_filter_interactions;
extern int	personalize_max_results;
extern int	personalize_training_memory_kb;
extern int	personalize_ease_max_items;
extern int	personalize_max_training_workers;
extern int	personalize_als_half_rows_min_kb;
extern int	personalize_min_parallel_training_interactions;
extern bool personalize_compact_scoring;
/* personalize.compact_kernel: which loop compact scoring may use */
typedef enum CompactKernel
{
	COMPACT_KERNEL_PORTABLE,	/* the loop the compiler vectorises */
	COMPACT_KERNEL_AVX2,		/* AVX2 where the CPU has it */
	COMPACT_KERNEL_AUTO			/* the best the CPU has: AVX-512 VNNI, AVX2 */
} CompactKernel;
extern int	personalize_compact_kernel;
extern bool personalize_direct_history;
extern int	personalize_scoring_helper_min_items;

extern void GucInit(void);

/* Role that owns the extension; catalog reads and writes run as it (personalize.c) */
extern Oid	PersonalizeExtensionOwner(void);

/* Run catalog SPI as the extension owner, then switch back. */
typedef struct OwnerSwitch
{
	Oid			saved_user;
	int			saved_context;
	int			guc_nest_level; /* search_path pinned while switched */
} OwnerSwitch;

extern void BecomeExtensionOwner(OwnerSwitch *sw);
extern void RestoreUser(const OwnerSwitch *sw);
extern int	CatalogExecute(const char *sql, int nargs, Oid *argtypes, Datum *values,
						   const char *nulls, bool read_only, long count);

/*
 * DEBUG1: how long a phase of training took since *lap, which is reset to
 * now (SET client_min_messages = debug1 to see where training time goes).
 */
static inline void
PersonalizeDebugLap(const char *what, instr_time *lap)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	elog(DEBUG1, "personalize: %s: %.3f s", what,
		 INSTR_TIME_GET_DOUBLE(now) - INSTR_TIME_GET_DOUBLE(*lap));
	*lap = now;
}

#endif							/* PERSONALIZE_H */
