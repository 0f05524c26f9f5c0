/*-------------------------------------------------------------------------
 *
 * dataset.h
 *	  Reading registered datasets: the whole interactions relation for
 *	  training, one user's recent history for a request.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/dataset.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_DATASET_H
#define PERSONALIZE_DATASET_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "matrix.h"

/* The registration of an interactions relation. */
typedef struct InteractionsDataset
{
	char	   *dataset_group;
	Oid			relid;
	char	   *user_column;
	char	   *item_column;
	char	   *time_column;
	char	   *time_kind;		/* timestamptz, timestamp or epoch */
	char	   *event_type_column;	/* or NULL */
	char	   *event_value_column; /* or NULL */
} InteractionsDataset;

extern bool DatasetFromTuple(HeapTuple tuple, TupleDesc desc, int first_column,
							 const char *dataset_group, InteractionsDataset *ds);
extern void DatasetCheckReadable(const InteractionsDataset *ds);
extern bool DatasetTypeIsInteger(Oid type);
extern bool DatasetIdFitsType(const char *id, Oid type);
extern bool DatasetIdAsInt64(const char *id, int64 *value);
extern void DatasetLookupInteractions(const char *dataset_group, InteractionsDataset *ds);
extern void DatasetReadInteractions(const InteractionsDataset *ds, const char *event_type,
									const double *event_value_threshold, InteractionLog *log,
									Jsonb *event_weights);
extern bool DatasetScanInteractions(const InteractionsDataset *ds, InteractionLog *log);
extern int	DatasetReadTrends(const InteractionsDataset *ds, double window_seconds,
							  char ***items, double **recent, double **earlier);
extern bool DatasetScanHistory(const InteractionsDataset *ds, Oid user_type, Datum user,
							   int max_events, char ***items, int64 **int_items, int *n);
extern int	DatasetReadHistory(const InteractionsDataset *ds, const char *user_id,
							   int max_events, char ***items, int64 **int_items);

#endif							/* PERSONALIZE_DATASET_H */
