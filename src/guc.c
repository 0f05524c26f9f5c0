/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  Settings of the personalize extension (personalize.*).
 *
 * The settings are USERSET (they bound what one session's training or
 * request may do, and tests lower the data minimums on small data) except
 * training_memory, which guards the server's memory: SUSET.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/guc.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "context.h"
#include "personalize.h"

int			personalize_min_interactions = 1000;
int			personalize_min_users = 25;
int			personalize_max_history = 100;
int			personalize_filter_interactions = 100;
int			personalize_max_results = 500;
int			personalize_training_memory_kb = 2 * 1024 * 1024;
int			personalize_ease_max_items = 10000;
int			personalize_max_training_workers = 2;
int			personalize_min_parallel_training_interactions = 100000;
int			personalize_als_half_rows_min_kb = 4096;
bool		personalize_compact_scoring = true;
int			personalize_compact_kernel = COMPACT_KERNEL_AUTO;
bool		personalize_direct_history = true;
int			personalize_scoring_helper_min_items = 20000;

static const struct config_enum_entry compact_kernel_options[] = {
	{"auto", COMPACT_KERNEL_AUTO, false},
	{"avx2", COMPACT_KERNEL_AVX2, false},
	{"portable", COMPACT_KERNEL_PORTABLE, false},
	{NULL, 0, false}
};

/*
 * Define the personalize.* settings.
 */
void
GucInit(void)
{
	DefineCustomIntVariable("personalize.min_interactions",
							"Minimum number of interactions needed to train a solution version",
							"Personalize requires 1000; lower it for small test data.",
							&personalize_min_interactions,
							1000, 1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("personalize.min_users",
							"Minimum number of users with at least two interactions needed to train",
							"Personalize requires 25; lower it for small test data.",
							&personalize_min_users,
							25, 1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("personalize.max_history",
							"Most recent interactions of a user read at request time",
							"recommend() folds the user's latest interactions, up to this many, into the model.",
							&personalize_max_history,
							100, 1, 10000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("personalize.compact_scoring",
							 "Scores catalogues of 2048 items or more from int8 item factors, re-scoring exactly the items that could be recommended",
							 "The ranking and each returned item's logit stay exact; the softmax denominator sums compact logits for the items not re-scored.",
							 &personalize_compact_scoring,
							 true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("personalize.scoring_helper_min_items",
							"Catalogues of at least this many items are scored partly by the scoring helper, when it is free",
							"Needs personalize in shared_preload_libraries (personalize.scoring_helper); 0 turns it off.  Under about 10,000 items the helper saves nothing.",
							&personalize_scoring_helper_min_items,
							20000, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("personalize.compact_kernel",
							 "Which loop compact scoring uses: auto (AVX-512 VNNI or AVX2, as the CPU has them), avx2, portable",
							 "Every loop gives the same scores: for tests comparing them on one machine.",
							 &personalize_compact_kernel,
							 COMPACT_KERNEL_AUTO, compact_kernel_options,
							 PGC_USERSET, GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL, NULL, NULL, NULL);
	DefineCustomIntVariable("personalize.als_half_rows_min_kb",
							"Factors of an ALS side at least this large are also kept in half precision for the other side to gather",
							"Only where the CPU's kernel is the AVX2 one, k = 64; -1: never.  For tests of that path on small data.",
							&personalize_als_half_rows_min_kb,
							4096, -1, INT_MAX,
							PGC_USERSET, GUC_UNIT_KB | GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL, NULL, NULL, NULL);
	DefineCustomBoolVariable("personalize.direct_history",
							 "Reads a user's history straight from the interactions' index when that gives what the query would",
							 "Off reads every history through SPI (same rows): for tests comparing the two.",
							 &personalize_direct_history,
							 true,
							 PGC_USERSET, GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL, NULL, NULL, NULL);
	DefineCustomIntVariable("personalize.filter_interactions",
							"Most recent interactions per event type a filter's Interactions conditions look at",
							"As in Amazon Personalize, a filter considers each user's latest interactions of each event type, up to this many.",
							&personalize_filter_interactions,
							100, 1, 100000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("personalize.max_results",
							"Largest num_results a runtime function accepts",
							NULL,
							&personalize_max_results,
							500, 1, 100000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("personalize.training_memory",
							"Memory a training job may use for its matrices and factors",
							"Training fails before allocating when its estimate exceeds this.",
							&personalize_training_memory_kb,
							2 * 1024 * 1024, 1024, INT_MAX,
							/* a guard for the server: raised by superusers (or ALTER ROLE ... SET) */
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);

	DefineCustomIntVariable("personalize.ease_max_items",
							"Largest catalogue the ease recipe accepts",
							"EASE holds an items x items matrix: 10000 items take 400 MB while training and in the model table.",
							&personalize_ease_max_items,
							10000, 1, 20000,
							PGC_USERSET, 0, NULL, NULL, NULL);

	ContextGucInit();

	/* parallel ALS training and evaluation (als_parallel.c, evaluate_parallel.c) */
	DefineCustomIntVariable("personalize.max_training_workers",
							"Helper processes an ALS training may start besides the training process",
							"0 trains in the training process alone; the result is the same either way.  "
							"Helpers are background workers, bounded by max_worker_processes; they also "
							"score the held-out users of the offline metrics.",
							&personalize_max_training_workers,
							2, 0, 64,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("personalize.min_parallel_training_interactions",
							"Interactions below which ALS training uses no helper processes",
							"Starting helpers and sharing the matrix costs more than it saves on small data.",
							&personalize_min_parallel_training_interactions,
							100000, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);

	MarkGUCPrefixReserved("personalize");
}
