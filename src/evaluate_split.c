/*-------------------------------------------------------------------------
 *
 * evaluate_split.c
 *	  _evaluation_split: the offline-evaluation split of a dataset group as
 *	  rows, for reference implementations (make bench compares ease with a
 *	  NumPy EASE on exactly our split).  Internal.
 *
 * The interactions are read and the hold-out drawn by the same code as
 * training (DatasetReadInteractions, MatrixBuildFromLog, EvaluateHoldOut,
 * EvaluationUserItems), so the rows are the split a solution version on
 * the group with that seed is evaluated on, provided the solution selects
 * no event type or value threshold and the data have not changed.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/evaluate_split.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "dataset.h"
#include "evaluate.h"
#include "matrix.h"

/* Append one row (user, item, role, events, newer_events or NULL). */
static void
split_row(ReturnSetInfo *rsinfo, const InteractionLog *log, int32 user,
		  int32 item, const char *role, float events, int newer_events)
{
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, newer_events < 0};

	values[0] = CStringGetTextDatum(log->users.ids[user]);
	values[1] = CStringGetTextDatum(log->items.ids[item]);
	values[2] = CStringGetTextDatum(role);
	values[3] = Float4GetDatum(events);
	values[4] = Int32GetDatum(newer_events);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

PG_FUNCTION_INFO_V1(personalize_evaluation_split);

/*
 * _evaluation_split(dataset_group text, seed integer DEFAULT 42)
 *   RETURNS TABLE(user_id text, item_id text, role text, events real,
 *                 newer_events integer)
 *
 * One row per distinct (user, item) of the group's interactions: role
 * 'train' for the users the recipe is trained on, 'input' for the oldest
 * items of a held-out user (newer_events: how many of that user's input
 * items are newer, which recency weighting uses) and 'relevant' for the
 * newest ones.  events counts the merged events.  Reads the interactions
 * with the caller's privileges.
 */
Datum
personalize_evaluation_split(PG_FUNCTION_ARGS)
{
	char	   *group = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32		seed = PG_GETARG_INT32(1);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext caller_context = CurrentMemoryContext;
	InteractionsDataset ds;
	InteractionLog log;
	InteractionMatrix *m;
	int32	   *held_out;
	bool	   *keep;
	int32		n_holdout;
	TimedItem  *items;

	if (seed < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("seed of the evaluation split of dataset group \"%s\" must not be negative", group),
				 errhint("Pass the seed hyperparameter of the solution (0 to 2147483647, 42 by default).")));

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	DatasetLookupInteractions(group, &ds);
	/* SPI calls leave SPI's own context current: keep the data in ours */
	MemoryContextSwitchTo(caller_context);
	InteractionLogInit(&log);
	DatasetReadInteractions(&ds, NULL, NULL, &log, NULL);
	MemoryContextSwitchTo(caller_context);
	m = MatrixBuildFromLog(&log);

	held_out = palloc(sizeof(int32) * Max(m->n_users, 1));
	keep = palloc(sizeof(bool) * Max(m->n_users, 1));
	for (int32 u = 0; u < m->n_users; u++)
		keep[u] = true;
	n_holdout = EvaluateHoldOut(m, NULL, 10, (uint64) seed, keep, held_out);

	for (int32 u = 0; u < m->n_users; u++)
	{
		if (!keep[u])
			continue;
		if ((u & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int64 e = m->user_ptr[u]; e < m->user_ptr[u + 1]; e++)
			split_row(rsinfo, &log, u, m->user_items[e], "train", m->user_weights[e], -1);
	}

	items = palloc(sizeof(TimedItem) * Max(m->n_items, 1));
	for (int32 j = 0; j < n_holdout; j++)
	{
		int32		u = held_out[j];
		int32		len = EvaluationUserItems(m, u, items);
		int32		n_input = len - EVALUATION_RELEVANT(len);

		CHECK_FOR_INTERRUPTS();
		for (int32 e = 0; e < len; e++)
			split_row(rsinfo, &log, u, items[e].item, e < n_input ? "input" : "relevant",
					  items[e].count, e < n_input ? n_input - 1 - e : -1);
	}
	SPI_finish();
	return (Datum) 0;
}
