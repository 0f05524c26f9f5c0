/*-------------------------------------------------------------------------
 *
 * model.c
 *	  Writing trained models to personalize.model_item and loading them
 *	  back into a per-backend cache.
 *
 * A model is one row per item: dense index, id, popularity and factors
 * (real[]).  It is written in one INSERT ... SELECT over arrays passed as
 * parameters, inside the training transaction, so a failed or cancelled
 * training leaves no rows.
 *
 * A solution version never changes once ACTIVE, so a cached model is never
 * stale: the cache is keyed by version id and creation time (ids start
 * again if the extension is dropped and created anew) and only the
 * campaign -> version pointer is read per request (runtime.c).  The cache holds at most
 * MODEL_CACHE_SIZE models and evicts the least recently used.
 *
 * A runtime function can run another one before it is done with its model
 * (a filter predicate may call recommend() on another campaign), so each
 * runtime call opens a model scope and the models it uses stay pinned until
 * the scope ends: only unpinned models are evicted.  Should every slot be
 * pinned, the extra model lives until the end of the transaction instead
 * of in the cache.  A cached model's item factors may live in shared
 * memory instead (model_shared.c).  A model also lends its score buffer to one scope at
 * a time (ModelScoresBuffer).
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/model.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "compact.h"
#include "metadata.h"
#include "model.h"
#include "personalize.h"
#include "scoring_helper.h"
#include "shm_segment.h"

#define MODEL_CACHE_SIZE 8
#define STORE_CHUNK_VALUES (1024 * 1024)	/* array elements per INSERT parameter */

static LoadedModel *model_cache[MODEL_CACHE_SIZE];
static uint64 model_clock = 0;
static int	model_scope_depth = 0;	/* runtime calls running, outermost 1 */

/*
 * Return a float4[] holding n values.
 */
static ArrayType *
float_array(const float *values, Size n)
{
	Datum	   *d = palloc_extended(sizeof(Datum) * Max(n, 1), MCXT_ALLOC_HUGE);
	ArrayType  *a;

	for (Size i = 0; i < n; i++)
		d[i] = Float4GetDatum(values[i]);
	a = construct_array(d, (int) n, FLOAT4OID, 4, true, TYPALIGN_INT);
	pfree(d);
	return a;
}

/*
 * Return an int4[] holding n values.
 */
static ArrayType *
int_array(const int32 *values, Size n)
{
	Datum	   *d = palloc_extended(sizeof(Datum) * Max(n, 1), MCXT_ALLOC_HUGE);
	ArrayType  *a;

	for (Size i = 0; i < n; i++)
		d[i] = Int32GetDatum(values[i]);
	a = construct_array(d, (int) n, INT4OID, 4, true, TYPALIGN_INT);
	pfree(d);
	return a;
}

/*
 * Rows to write per INSERT: each array parameter stays far below the
 * 134,217,727-element limit of a PostgreSQL array (and 1 GB), whatever the
 * catalogue size and factor count.
 */
static int32
model_chunk_rows(int32 values_per_row)
{
	return (int32) Max(1, STORE_CHUNK_VALUES / Max(values_per_row, 1));
}

/*
 * Write the user factors of model (users in index order) as rows of
 * personalize.model_user, a chunk of users per INSERT.
 */
static void
model_store_users(int64 version, const RecipeModel *model, const IdMap *users)
{
	int32		n = model->n_users;
	int32		chunk = model_chunk_rows(model->k);
	Oid			argtypes[5] = {INT8OID, TEXTARRAYOID, FLOAT4ARRAYOID, INT4OID, INT4OID};

	for (int32 first = 0; first < n; first += chunk)
	{
		int32		rows = Min(chunk, n - first);
		Datum	   *ids = palloc(sizeof(Datum) * rows);
		Datum		values[5];

		CHECK_FOR_INTERRUPTS();
		for (int32 u = 0; u < rows; u++)
			ids[u] = CStringGetTextDatum(users->ids[first + u]);
		values[0] = Int64GetDatum(version);
		values[1] = PointerGetDatum(construct_array(ids, rows, TEXTOID, -1, false, TYPALIGN_INT));
		values[2] = PointerGetDatum(float_array(model->user_factors + (Size) first * model->k,
												(Size) rows * model->k));
		values[3] = Int32GetDatum(model->k);
		values[4] = Int32GetDatum(first);
		if (CatalogExecute("INSERT INTO personalize.model_user (solution_version, user_index, user_id, factors) "
						   "SELECT $1, $5 + (u.o - 1)::int4, u.id, $3[(u.o - 1) * $4 + 1 : u.o * $4] "
						   "FROM unnest($2) WITH ORDINALITY AS u(id, o)",
						   5, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not store user factors");
		SPI_freetuptable(SPI_tuptable);
		pfree(DatumGetPointer(values[1]));
		pfree(DatumGetPointer(values[2]));
		pfree(ids);
	}
}

/* The hint of an error about a model row that is not as training wrote it. */
#define MODEL_RETRAIN_HINT "Train a new version with personalize.create_solution_version and deploy it."

/* A model read back with other than the rows training wrote (rows deleted or added since). */
static void
model_check_row_count(int64 version, uint64 rows, int32 expected)
{
	if ((int64) rows != expected)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("solution version " INT64_FORMAT " has " UINT64_FORMAT " model rows, expected %d",
						version, rows, expected),
				 errhint(MODEL_RETRAIN_HINT)));
}

/*
 * A model with factors has them on every row: a row without them (set to
 * NULL since training) would leave its factors unset.
 */
static void
model_check_factor_rows(int64 version, int32 rows_with_factors, int32 n)
{
	if (rows_with_factors != 0 && rows_with_factors != n)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("solution version " INT64_FORMAT " has factors on %d of its %d model rows",
						version, rows_with_factors, n),
				 errhint(MODEL_RETRAIN_HINT)));
}

/*
 * Free arr, detoasted from datum, if detoasting copied it (a short or
 * compressed array): the copy would stay in the model's memory.
 */
static void
model_free_copy(ArrayType *arr, Datum datum)
{
	if ((Pointer) arr != DatumGetPointer(datum))
		pfree(arr);
}

/*
 * Load the user factors of version into lm (USER_SEGMENTATION recipes).
 */
static void
model_load_users(LoadedModel *lm, int64 version)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(version)};
	SPITupleTable *tt;
	MemoryContext old;
	int32		n;
	int			k = lm->model.k;

	if (CatalogExecute("SELECT user_id, factors FROM personalize.model_user "
					   "WHERE solution_version = $1 ORDER BY user_index",
					   1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read user factors");
	tt = SPI_tuptable;
	n = (int32) SPI_processed;
	old = MemoryContextSwitchTo(lm->context);
	lm->user_ids = palloc(sizeof(char *) * Max(n, 1));
	lm->model.user_factors = palloc_extended(sizeof(float) * Max((Size) n * k, 1), MCXT_ALLOC_HUGE);
	for (int32 u = 0; u < n; u++)
	{
		bool		isnull;
		ArrayType  *arr;
		Datum		factors;

		if ((u & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		lm->user_ids[u] = TextDatumGetCString(SPI_getbinval(tt->vals[u], tt->tupdesc, 1, &isnull));
		factors = SPI_getbinval(tt->vals[u], tt->tupdesc, 2, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("user row %d of solution version " INT64_FORMAT " has no factors", u, version),
					 errhint(MODEL_RETRAIN_HINT)));
		arr = DatumGetArrayTypeP(factors);
		if (ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) != k || ARR_HASNULL(arr))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("user row %d of solution version " INT64_FORMAT " has malformed factors", u, version),
					 errhint(MODEL_RETRAIN_HINT)));
		memcpy(lm->model.user_factors + (Size) u * k, ARR_DATA_PTR(arr), sizeof(float) * k);
		model_free_copy(arr, factors);
	}
	lm->model.n_users = n;
	MemoryContextSwitchTo(old);
}

/*
 * Write the user-feature map of model (user-personalization-metadata) as
 * rows of personalize.model_feature: one per feature, then the bias (no
 * column), each with its k weights.
 */
static void
model_store_features(int64 version, const RecipeModel *model)
{
	const FeatureSpace *space = model->user_space;
	int32		n = space->n_features + 1;
	Datum	   *columns = palloc(sizeof(Datum) * n);
	bool	   *column_nulls = palloc(sizeof(bool) * n);
	Datum	   *values = palloc(sizeof(Datum) * n);
	bool	   *value_nulls = palloc(sizeof(bool) * n);
	Datum	   *lows = palloc(sizeof(Datum) * n);
	Datum	   *highs = palloc(sizeof(Datum) * n);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	Oid			argtypes[7] = {INT8OID, TEXTARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID,
	FLOAT8ARRAYOID, FLOAT4ARRAYOID, INT4OID};
	Datum		args[7];

	for (int32 f = 0; f < n; f++)
	{
		const Feature *feature = f < space->n_features ? &space->features[f] : NULL;

		column_nulls[f] = feature == NULL;
		columns[f] = feature ? CStringGetTextDatum(space->columns[feature->column]) : (Datum) 0;
		value_nulls[f] = feature == NULL || feature->value == NULL;
		values[f] = value_nulls[f] ? (Datum) 0 : CStringGetTextDatum(feature->value);
		lows[f] = Float8GetDatum(feature && feature->value == NULL ? feature->low : 0);
		highs[f] = Float8GetDatum(feature && feature->value == NULL ? feature->high : 0);
	}
	args[0] = Int64GetDatum(version);
	args[1] = PointerGetDatum(construct_md_array(columns, column_nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_md_array(values, value_nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_array(lows, n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[4] = PointerGetDatum(construct_array(highs, n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[5] = PointerGetDatum(float_array(model->user_feature_weights, (Size) n * model->k));
	args[6] = Int32GetDatum(model->k);
	if (CatalogExecute("INSERT INTO personalize.model_feature "
					   "(solution_version, feature_index, feature_column, feature_value, low, high, weights) "
					   "SELECT $1, (u.o - 1)::int4, u.col, u.val, "
					   "       CASE WHEN u.col IS NULL OR u.val IS NOT NULL THEN NULL ELSE u.low END, "
					   "       CASE WHEN u.col IS NULL OR u.val IS NOT NULL THEN NULL ELSE u.high END, "
					   "       $6[(u.o - 1) * $7 + 1 : u.o * $7] "
					   "FROM unnest($2, $3, $4, $5) WITH ORDINALITY AS u(col, val, low, high, o)",
					   7, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store user feature weights");
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Load the user-feature map of version into lm, when it has one.
 */
static void
model_load_features(LoadedModel *lm, int64 version)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(version)};
	SPITupleTable *tt;
	MemoryContext old;
	FeatureSpace *space;
	int32		n;
	int			k = lm->model.k;

	if (CatalogExecute("SELECT feature_column, feature_value, low, high, weights "
					   "FROM personalize.model_feature WHERE solution_version = $1 ORDER BY feature_index",
					   1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read user feature weights");
	tt = SPI_tuptable;
	n = (int32) SPI_processed;
	if (n == 0 || lm->model.factors == NULL)
		return;
	old = MemoryContextSwitchTo(lm->context);
	space = palloc0(sizeof(FeatureSpace));
	space->columns = palloc(sizeof(char *) * n);
	space->features = palloc0(sizeof(Feature) * n);
	space->n_features = n - 1;	/* the last row is the bias */
	lm->model.user_feature_weights = palloc(sizeof(float) * (Size) n * k);
	for (int32 f = 0; f < n; f++)
	{
		HeapTuple	tuple = tt->vals[f];
		char	   *column = SPI_getvalue(tuple, tt->tupdesc, 1);
		bool		isnull;
		Datum		weights = SPI_getbinval(tuple, tt->tupdesc, 5, &isnull);
		/* NULL only where the column's NOT NULL was dropped */
		ArrayType  *arr = isnull ? NULL : DatumGetArrayTypeP(weights);

		if (arr == NULL || ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) != k || ARR_HASNULL(arr) ||
			(column == NULL) != (f == n - 1))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("feature row %d of solution version " INT64_FORMAT " is malformed", f, version),
					 errhint(MODEL_RETRAIN_HINT)));
		memcpy(lm->model.user_feature_weights + (Size) f * k, ARR_DATA_PTR(arr), sizeof(float) * k);
		/* a detoasted copy would otherwise stay in the model's memory */
		if ((Pointer) arr != DatumGetPointer(weights))
			pfree(arr);
		if (column == NULL)
			continue;
		{
			Feature    *feature = &space->features[f];
			int			c;

			for (c = 0; c < space->n_columns; c++)
				if (strcmp(space->columns[c], column) == 0)
					break;
			if (c == space->n_columns)
				space->columns[space->n_columns++] = column;
			feature->column = c;
			feature->value = SPI_getvalue(tuple, tt->tupdesc, 2);
			if (feature->value == NULL)
			{
				feature->low = DatumGetFloat8(SPI_getbinval(tuple, tt->tupdesc, 3, &isnull));
				feature->high = DatumGetFloat8(SPI_getbinval(tuple, tt->tupdesc, 4, &isnull));
			}
		}
	}
	lm->model.user_space = space;
	MemoryContextSwitchTo(old);
}

/*
 * Does personalize.model_item have the age_days column?  Not until
 * ALTER EXTENSION personalize UPDATE has run: this library may serve and
 * train for a schema of version 0.1.0 meanwhile.
 */
static bool
model_item_has_ages(void)
{
	Oid			relid = get_relname_relid("model_item", get_namespace_oid("personalize", false));

	return OidIsValid(relid) &&
		SearchSysCacheExists2(ATTNAME, ObjectIdGetDatum(relid), CStringGetDatum("age_days"));
}

/*
 * Write model (items in index order, ids from items) as rows of version,
 * a chunk of items per INSERT.  The caller is connected to SPI.
 */
void
ModelStore(int64 version, const RecipeModel *model, const IdMap *items, const IdMap *users)
{
	static const char *insert_with_ages =
		"INSERT INTO personalize.model_item "
		"(solution_version, item_index, item_id, popularity, factors, "
		" neighbors, neighbor_scores, age_days) "
		"SELECT $1, $9 + (u.o - 1)::int4, u.id, u.pop, "
		"       $4[(u.o - 1) * $5 + 1 : u.o * $5], "
		"       $6[$8[u.o] + 1 : $8[u.o + 1]], $7[$8[u.o] + 1 : $8[u.o + 1]], "
		"       nullif(u.age, 'NaN') "
		"FROM unnest($2, $3, $10) WITH ORDINALITY AS u(id, pop, age, o)";
	/* the same without the ages, for a schema not yet updated */
	static const char *insert_without_ages =
		"INSERT INTO personalize.model_item "
		"(solution_version, item_index, item_id, popularity, factors, "
		" neighbors, neighbor_scores) "
		"SELECT $1, $9 + (u.o - 1)::int4, u.id, u.pop, "
		"       $4[(u.o - 1) * $5 + 1 : u.o * $5], "
		"       $6[$8[u.o] + 1 : $8[u.o + 1]], $7[$8[u.o] + 1 : $8[u.o + 1]] "
		"FROM unnest($2, $3, $10) WITH ORDINALITY AS u(id, pop, age, o)";
	bool		has_ages;
	int32		n = model->n_items;
	int32		widest = model->k;
	int32		chunk;
	Oid			argtypes[10] = {INT8OID, TEXTARRAYOID, FLOAT8ARRAYOID, FLOAT4ARRAYOID, INT4OID,
	INT4ARRAYOID, FLOAT4ARRAYOID, INT4ARRAYOID, INT4OID, FLOAT4ARRAYOID};

	/* size chunks by the longest row: factors or a neighbour list */
	if (model->neighbor_ptr != NULL)
		for (int32 i = 0; i < n; i++)
			widest = Max(widest, model->neighbor_ptr[i + 1] - model->neighbor_ptr[i]);
	chunk = model_chunk_rows(widest);
	has_ages = model_item_has_ages();

	for (int32 first = 0; first < n; first += chunk)
	{
		int32		rows = Min(chunk, n - first);
		Datum	   *ids = palloc(sizeof(Datum) * rows);
		Datum	   *pops = palloc(sizeof(Datum) * rows);
		Datum		values[10];
		char		nulls[10] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
		int			rc;

		CHECK_FOR_INTERRUPTS();
		for (int32 i = 0; i < rows; i++)
		{
			ids[i] = CStringGetTextDatum(items->ids[first + i]);
			pops[i] = Float8GetDatum(model->popularity[first + i]);
		}
		values[0] = Int64GetDatum(version);
		values[1] = PointerGetDatum(construct_array(ids, rows, TEXTOID, -1, false, TYPALIGN_INT));
		values[2] = PointerGetDatum(construct_array(pops, rows, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		if (model->factors != NULL)
			values[3] = PointerGetDatum(float_array(model->factors + (Size) first * model->k,
													(Size) rows * model->k));
		else
			nulls[3] = 'n';
		values[4] = Int32GetDatum(model->k);
		if (model->neighbor_ptr != NULL)
		{
			/* this chunk's slice of the CSR lists, its offsets rebased to 0 */
			int32		base = model->neighbor_ptr[first];
			int32		total = model->neighbor_ptr[first + rows] - base;
			int32	   *ptr = palloc(sizeof(int32) * (rows + 1));

			for (int32 i = 0; i <= rows; i++)
				ptr[i] = model->neighbor_ptr[first + i] - base;
			values[5] = PointerGetDatum(int_array(model->neighbors + base, total));
			values[6] = PointerGetDatum(float_array(model->neighbor_scores + base, total));
			values[7] = PointerGetDatum(int_array(ptr, rows + 1));
			pfree(ptr);
		}
		else
			nulls[5] = nulls[6] = nulls[7] = 'n';
		values[8] = Int32GetDatum(first);
		if (model->item_age_days != NULL)
			values[9] = PointerGetDatum(float_array(model->item_age_days + first, rows));
		else
			nulls[9] = 'n';

		rc = CatalogExecute(has_ages ? insert_with_ages : insert_without_ages,
							10, argtypes, values, nulls, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "could not store model rows: %s", SPI_result_code_string(rc));
		SPI_freetuptable(SPI_tuptable);
		for (int a = 1; a <= 9; a++)
			if (nulls[a] != 'n' && a != 4 && a != 8)
				pfree(DatumGetPointer(values[a]));
		pfree(ids);
		pfree(pops);
	}
	if (model->user_factors != NULL)
		model_store_users(version, model, users);
	if (model->user_space != NULL)
		model_store_features(version, model);
}

/*
 * Set item i's age in model->item_age_days (allocated, all unknown, at the
 * first known age: models of versions trained before ages were recorded
 * have none).
 */
static void
model_load_age(RecipeModel *model, int32 i, Datum age, bool isnull)
{
	if (isnull)
		return;
	if (model->item_age_days == NULL)
	{
		model->item_age_days = palloc_extended(sizeof(float) * Max(model->n_items, 1), MCXT_ALLOC_HUGE);
		for (int32 j = 0; j < model->n_items; j++)
			model->item_age_days[j] = NAN;
	}
	model->item_age_days[i] = DatumGetFloat4(age);
}

/*
 * Load the neighbour lists (columns 4 and 5 of every row of tt, in item
 * order) into model's CSR arrays: one pass to size them, one to fill.
 */
static void
model_load_neighbors(RecipeModel *model, int64 version, SPITupleTable *tt)
{
	int32		n = model->n_items;
	int64		total = 0;
	bool		isnull;

	for (int32 i = 0; i < n; i++)
	{
		Datum		ids = SPI_getbinval(tt->vals[i], tt->tupdesc, 4, &isnull);

		if (!isnull)
		{
			ArrayType  *a = DatumGetArrayTypeP(ids);

			total += ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
			model_free_copy(a, ids);
		}
	}
	if (total == 0)
		return;
	if (total > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("solution version " INT64_FORMAT " has " INT64_FORMAT " neighbours in all, more than %d",
						version, total, PG_INT32_MAX),
				 errhint("Train it with fewer neighbours per item.")));

	model->neighbor_ptr = palloc(sizeof(int32) * ((Size) n + 1));
	model->neighbors = palloc_extended(sizeof(int32) * total, MCXT_ALLOC_HUGE);
	model->neighbor_scores = palloc_extended(sizeof(float) * total, MCXT_ALLOC_HUGE);
	model->neighbor_ptr[0] = 0;
	for (int32 i = 0; i < n; i++)
	{
		Datum		ids = SPI_getbinval(tt->vals[i], tt->tupdesc, 4, &isnull);
		int32		start = model->neighbor_ptr[i];
		int			count = 0;

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!isnull)
		{
			ArrayType  *ida = DatumGetArrayTypeP(ids);
			Datum		scores = SPI_getbinval(tt->vals[i], tt->tupdesc, 5, &isnull);
			ArrayType  *sca;

			if (isnull)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("model row %d of solution version " INT64_FORMAT " has neighbours without scores", i, version),
						 errhint(MODEL_RETRAIN_HINT)));
			sca = DatumGetArrayTypeP(scores);
			count = ArrayGetNItems(ARR_NDIM(ida), ARR_DIMS(ida));
			if (ARR_HASNULL(ida) || ARR_HASNULL(sca) ||
				ArrayGetNItems(ARR_NDIM(sca), ARR_DIMS(sca)) != count)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("model row %d of solution version " INT64_FORMAT " has malformed neighbour lists", i, version),
						 errhint(MODEL_RETRAIN_HINT)));
			memcpy(model->neighbors + start, ARR_DATA_PTR(ida), sizeof(int32) * count);
			memcpy(model->neighbor_scores + start, ARR_DATA_PTR(sca), sizeof(float) * count);
			for (int c = 0; c < count; c++)
				if (model->neighbors[start + c] < 0 || model->neighbors[start + c] >= n)
					ereport(ERROR,
							(errcode(ERRCODE_DATA_CORRUPTED),
							 errmsg("model row %d of solution version " INT64_FORMAT " has a neighbour out of range", i, version),
							 errhint(MODEL_RETRAIN_HINT)));
			model_free_copy(ida, ids);
			model_free_copy(sca, scores);
		}
		model->neighbor_ptr[i + 1] = start + count;
	}
}

/*
 * Copy item i's factors (an array of model_item.factors) into lm's own
 * n x k factors, allocated on the first row.
 */
static void
model_copy_factors(LoadedModel *lm, int32 i, int32 n, Datum factors)
{
	ArrayType  *arr = DatumGetArrayTypeP(factors);
	int			k = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));

	if (lm->model.factors == NULL)
	{
		lm->model.k = k;
		lm->model.factors = palloc_extended(sizeof(float) * Max((Size) n * k, 1), MCXT_ALLOC_HUGE);
	}
	if (k != lm->model.k || ARR_HASNULL(arr))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model row %d of solution version " INT64_FORMAT " has malformed factors", i, lm->version),
				 errhint(MODEL_RETRAIN_HINT)));
	memcpy(lm->model.factors + (Size) i * k, ARR_DATA_PTR(arr), sizeof(float) * k);
	model_free_copy(arr, factors);
}

/*
 * Read the factors of lm's n items (lm read without them, expecting to
 * attach them from shared memory, which has gone since).  Connected to SPI.
 */
static void
model_load_factors(LoadedModel *lm, int32 n)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(lm->version)};
	MemoryContext old;
	SPITupleTable *tt;
	int			rc;
	int32		rows_with_factors = 0;

	rc = CatalogExecute("SELECT factors FROM personalize.model_item WHERE solution_version = $1 ORDER BY item_index",
						1, argtypes, values, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read model rows: %s", SPI_result_code_string(rc));
	model_check_row_count(lm->version, SPI_processed, n);
	tt = SPI_tuptable;
	old = MemoryContextSwitchTo(lm->context);
	lm->model.factors = NULL;
	for (int32 i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		factors = SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull);

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!isnull)
		{
			model_copy_factors(lm, i, n, factors);
			rows_with_factors++;
		}
	}
	model_check_factor_rows(lm->version, rows_with_factors, n);
	MemoryContextSwitchTo(old);
	SPI_freetuptable(tt);
}

/*
 * The model's memory goes (evicted, or a load failed, or a model only the
 * running call held): detach what it has attached.
 */
static void
model_context_gone(void *arg)
{
	ModelSharedRelease((LoadedModel *) arg);
}

/* Model rows whose ids model_load interns together (IdMapInternMany). */
#define MODEL_LOAD_BATCH 256

/*
 * Read version (created at created)'s model rows into a new LoadedModel.
 * When another backend has shared its factors, the rows are read without
 * them and the factors attached: over a million items, reading them took
 * most of a new connection's first call.  The caller is connected to SPI.
 */
static LoadedModel *
model_load(int64 version, TimestampTz created)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(version)};
	int			rc;
	char	   *recipe_name;
	MemoryContext context;
	MemoryContext old;
	LoadedModel *lm;
	Jsonb	   *hp;
	bool		isnull;
	SPITupleTable *tt;
	int32		n;
	int32		shared_k = ModelSharedFactorCount(version, created);
	MemoryContextCallback *release;
	MemoryContext ids_context;
	char	   *ids[MODEL_LOAD_BATCH];
	int32		indexes[MODEL_LOAD_BATCH];
	int32		rows_with_factors = 0;

	/* v.recipe (AutoML's choice) through to_jsonb: absent before 0.2.0's schema */
	rc = CatalogExecute("SELECT coalesce(to_jsonb(v) ->> 'recipe', s.recipe), v.users, v.hyperparameters, v.items "
							   "FROM personalize.solution_version v "
							   "JOIN personalize.solution s ON s.name = v.solution "
							   "WHERE v.id = $1 AND v.status = 'ACTIVE'",
							   1, argtypes, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read solution version: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("solution version " INT64_FORMAT " is not active", version),
				 errhint("Deploy an ACTIVE version with personalize.update_campaign.")));
	recipe_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	/* Transaction-scoped until complete, so an error frees a half-load. */
	context = AllocSetContextCreate(CurrentMemoryContext, "personalize model cache entry",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(context);
	lm = palloc0(sizeof(LoadedModel));
	lm->context = context;
	lm->version = version;
	lm->created = created;
	/* whatever the model attaches is detached when its memory goes, a failed load's too */
	release = palloc0(sizeof(MemoryContextCallback));
	release->func = model_context_gone;
	release->arg = lm;
	MemoryContextRegisterResetCallback(context, release);
	lm->recipe = RecipeLookup(recipe_name);
	if (lm->recipe == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("solution version " INT64_FORMAT " has unknown recipe \"%s\"", version, recipe_name),
				 errhint("The version was trained by another version of the extension: retrain it.")));
	lm->model.n_users = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	hp = DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	lm->model.alpha = HyperparamNumber(hp, "alpha", 0.0);
	lm->model.regularization = HyperparamNumber(hp, "regularization", 0.0);
	lm->model.recency_half_life = HyperparamNumber(hp, "recency_half_life", 0.0);
	lm->model.trend_window = HyperparamNumber(hp, "trend_discovery_frequency", 24) * 3600.0;
	n = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	MemoryContextSwitchTo(old);

	rc = CatalogExecute(psprintf("SELECT item_id, popularity, %s, neighbors, neighbor_scores, %s "
								 "FROM personalize.model_item WHERE solution_version = $1 ORDER BY item_index",
								 shared_k > 0 ? "NULL::real[]" : "factors",
								 model_item_has_ages() ? "age_days" : "NULL::real"),
						1, argtypes, values, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read model rows: %s", SPI_result_code_string(rc));
	model_check_row_count(version, SPI_processed, n);
	tt = SPI_tuptable;

	/* each batch's ids as C strings, until the map has copied them */
	ids_context = AllocSetContextCreate(CurrentMemoryContext, "personalize model ids",
										ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(context);
	lm->model.n_items = n;
	lm->model.popularity = palloc(sizeof(float) * Max(n, 1));
	IdMapInit(&lm->items, n);
	for (int32 first = 0; first < n; first += MODEL_LOAD_BATCH)
	{
		int32		count = Min(MODEL_LOAD_BATCH, n - first);

		CHECK_FOR_INTERRUPTS();
		MemoryContextSwitchTo(ids_context);
		for (int32 j = 0; j < count; j++)
			ids[j] = TextDatumGetCString(SPI_getbinval(tt->vals[first + j], tt->tupdesc, 1, &isnull));
		MemoryContextSwitchTo(context);
		/* rows in item_index order: row i's id gets index i, unless it repeats an id */
		IdMapInternMany(&lm->items, count, ids, indexes);
		for (int32 j = 0; j < count; j++)
			if (indexes[j] != first + j)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("item \"%s\" has more than one model row in solution version " INT64_FORMAT,
								ids[j], version),
						 errhint(MODEL_RETRAIN_HINT)));
		MemoryContextReset(ids_context);
		for (int32 i = first; i < first + count; i++)
		{
			HeapTuple	tuple = tt->vals[i];
			Datum		factors;

			lm->model.popularity[i] = (float) DatumGetFloat8(SPI_getbinval(tuple, tt->tupdesc, 2, &isnull));
			model_load_age(&lm->model, i, SPI_getbinval(tuple, tt->tupdesc, 6, &isnull), isnull);
			factors = SPI_getbinval(tuple, tt->tupdesc, 3, &isnull);
			if (!isnull)
			{
				model_copy_factors(lm, i, n, factors);
				rows_with_factors++;
			}
		}
	}
	MemoryContextDelete(ids_context);
	model_check_factor_rows(version, rows_with_factors, n);
	model_load_neighbors(&lm->model, version, tt);
	if (shared_k > 0)
	{
		/* the factors from the segment another backend shared, else from the table after all */
		lm->model.k = shared_k;
		if (!ModelAttachSharedFactors(lm))
		{
			model_load_factors(lm, n);
			MemoryContextSwitchTo(context);
		}
	}
	if (lm->recipe->keeps_users)
	{
		model_load_users(lm, version);
		MemoryContextSwitchTo(context);	/* SPI left its own context current */
	}
	if (lm->recipe->uses_user_metadata)
	{
		model_load_features(lm, version);
		MemoryContextSwitchTo(context);
	}
	RecipeFinishModel(lm->recipe, &lm->model);
	MemoryContextSwitchTo(old);
	SPI_freetuptable(tt);
	MemoryContextSetParent(context, TopMemoryContext);
	return lm;
}

/*
 * Pin lm for the running model scope, unless an outer scope holds it.
 */
static void
model_pin(LoadedModel *lm)
{
	if (model_scope_depth > 0 && (lm->pin_depth == 0 || lm->pin_depth > model_scope_depth))
		lm->pin_depth = model_scope_depth;
}

/*
 * Return the model of version (created at created), loading it on first
 * use, pinned for the running model scope.  Outside any scope (training's
 * warm start) it is valid until the next ModelGet.  The caller is connected
 * to SPI.
 */
LoadedModel *
ModelGet(int64 version, TimestampTz created)
{
	int			victim = -1;
	LoadedModel *lm;

	for (int i = 0; i < MODEL_CACHE_SIZE; i++)
	{
		LoadedModel *cached = model_cache[i];

		if (cached != NULL && cached->version == version && cached->created == created)
		{
			cached->last_used = ++model_clock;
			model_pin(cached);
			return cached;
		}
		/* an empty slot, else the least recently used unpinned model */
		if (victim >= 0 && model_cache[victim] == NULL)
			continue;
		if (cached == NULL ||
			(cached->pin_depth == 0 &&
			 (victim < 0 || cached->last_used < model_cache[victim]->last_used)))
			victim = i;
	}
	lm = model_load(version, created);
	lm->last_used = ++model_clock;
	if (victim < 0)
	{
		/* every cached model is in use by a running call */
		MemoryContextSetParent(lm->context, TopTransactionContext);
		return lm;
	}
	if (model_cache[victim] != NULL)
		MemoryContextDelete(model_cache[victim]->context);	/* detaches its segments too */
	model_cache[victim] = lm;
	model_pin(lm);
	/* one copy of the factors for every backend, when preloaded */
	ModelShareFactors(lm);
	return lm;
}

/* Is lm in the backend's cache (not a model only a running call holds)? */
static bool
model_cached(const LoadedModel *lm)
{
	for (int i = 0; i < MODEL_CACHE_SIZE; i++)
		if (model_cache[i] == lm)
			return true;
	return false;
}

/* Where compact scoring's scratch space starts in a scores buffer of lm. */
static Size
model_scratch_offset(const LoadedModel *lm)
{
	return TYPEALIGN(MAXIMUM_ALIGNOF, sizeof(float) * Max(lm->model.n_items, 1));
}

/* lm's n_items scores, then compact scoring's scratch space. */
static Size
model_scores_bytes(const LoadedModel *lm)
{
	return model_scratch_offset(lm) + CompactScratchBytes(lm->model.n_items);
}

/*
 * Return room for lm's n_items scores, followed by compact scoring's
 * scratch space (ModelScoresScratch), for the running model scope: the model's own buffer,
 * reused from request to request (a catalogue of a million items would
 * otherwise map and fault 4 MB per request), unless a scope already uses
 * it (a filter predicate calling recommend()) or no scope runs, when it
 * is a fresh palloc.  A catalogue the scoring helper scores part of has
 * its buffer in a segment of its own, which the helper writes into
 * (scoring_helper.c, ModelScoresSegment).
 */
float *
ModelScoresBuffer(LoadedModel *lm)
{
	Size		size = model_scores_bytes(lm);

	if (model_scope_depth == 0 || lm->scores_buffer_scope != 0)
		return palloc_extended(size, MCXT_ALLOC_HUGE);
	if (lm->scores_segment != NULL && !ScoringHelperBufferReusable(lm->scores_segment))
	{
		/* the helper may still write into it: take another */
		dsm_detach(lm->scores_segment);
		lm->scores_segment = NULL;
		lm->scores_buffer = NULL;
	}
	if (lm->scores_buffer == NULL && model_cached(lm) && ScoringHelperWanted(lm->model.n_items))
	{
		lm->scores_segment = ShmSegmentTryCreate(size, true, "scores a scoring helper fills",
												 "The backend scores the whole catalogue itself.", NULL);
		if (lm->scores_segment != NULL)
			lm->scores_buffer = dsm_segment_address(lm->scores_segment);
	}
	if (lm->scores_buffer == NULL)
	{
		/* on a cache line, as a segment is: the scan streams into it (compact.c) */
		char	   *allocation = MemoryContextAllocExtended(lm->context, size + PG_CACHE_LINE_SIZE,
															MCXT_ALLOC_HUGE);

		lm->scores_buffer = (float *) TYPEALIGN(PG_CACHE_LINE_SIZE, allocation);
	}
	lm->scores_buffer_scope = model_scope_depth;
	return lm->scores_buffer;
}

/* The compact scratch space of scores, a buffer ModelScoresBuffer returned for lm. */
void *
ModelScoresScratch(LoadedModel *lm, float *scores)
{
	return (char *) scores + model_scratch_offset(lm);
}

/*
 * The segment holding scores, a buffer ModelScoresBuffer returned for lm,
 * or NULL when it is not in one.
 */
dsm_segment *
ModelScoresSegment(LoadedModel *lm, float *scores)
{
	return lm->scores_segment != NULL && scores == lm->scores_buffer ? lm->scores_segment : NULL;
}

/*
 * Open a model scope for a runtime call; pass the result to ModelScopeEnd
 * when the call is done with its models, error or not.
 */
int
ModelScopeBegin(void)
{
	return ++model_scope_depth;
}

/*
 * Close the model scope opened by ModelScopeBegin (and any left open inside
 * it by an error): unpin what only they used.
 */
void
ModelScopeEnd(int scope)
{
	for (int i = 0; i < MODEL_CACHE_SIZE; i++)
	{
		if (model_cache[i] == NULL)
			continue;
		if (model_cache[i]->pin_depth >= scope)
			model_cache[i]->pin_depth = 0;
		if (model_cache[i]->scores_buffer_scope >= scope)
			model_cache[i]->scores_buffer_scope = 0;
	}
	model_scope_depth = scope - 1;
}
