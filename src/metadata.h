/*-------------------------------------------------------------------------
 *
 * metadata.h
 *	  Item and user metadata as binary features: reading the registered
 *	  items and users datasets for training, and one user's row at request
 *	  time.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/metadata.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_METADATA_H
#define PERSONALIZE_METADATA_H

#include "postgres.h"

#include "matrix.h"

/*
 * A binary feature: a categorical column holding value (one of the
 * `|`-separated values of a text, an element of a text[], a boolean or an
 * enum label), or a numeric column (numbers, times as epoch seconds) with
 * a value in [low, high): numeric columns are cut at their quantiles.
 */
typedef struct Feature
{
	int			column;			/* index into FeatureSpace.columns */
	char	   *value;			/* categorical value, or NULL for a numeric bucket */
	double		low;
	double		high;
} Feature;

/* The features a model knows, and the metadata columns they come from. */
typedef struct FeatureSpace
{
	int			n_columns;
	char	  **columns;
	int32		n_features;
	Feature    *features;
} FeatureSpace;

/*
 * The metadata of a dataset's entities (items or users, by the dense
 * indexes of an IdMap): each row's features, CSR, and for items the
 * creation time (epoch seconds, NaN when unknown) when the items dataset
 * registers one.
 */
typedef struct EntityMetadata
{
	FeatureSpace space;
	int32		n_rows;
	int64	   *ptr;			/* n_rows + 1 */
	int32	   *features;		/* feature indexes */
	double	   *created;		/* n_rows, or NULL */
} EntityMetadata;

extern bool MetadataRead(const char *dataset_group, const char *dataset_type,
						 IdMap *ids, bool add_new, int min_count, int max_features,
						 EntityMetadata *md);
extern bool MetadataReadCreated(const char *dataset_group, const IdMap *ids, double **created);
extern int	MetadataReadUser(const char *dataset_group, const FeatureSpace *space,
							 const char *user_id, int32 **features);

#endif							/* PERSONALIZE_METADATA_H */
