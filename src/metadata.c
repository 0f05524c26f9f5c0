/*-------------------------------------------------------------------------
 *
 * metadata.c
 *	  Item and user metadata as binary features.
 *
 * The metadata columns registered with an items or users dataset become
 * binary features, whatever their type: a categorical column gives one
 * feature per value (a text value may hold several, separated by `|`, as
 * in Personalize's CSVs; a text[] holds several too), a numeric or time
 * column gives one feature per quantile bucket of its values.  Rare values
 * (fewer than min_count rows) carry no information a model can share and
 * are dropped; so are all but the max_features most frequent features.
 *
 * Rows are read with the caller's privileges, as the interactions are.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/metadata.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "dataset.h"
#include "metadata.h"
#include "personalize.h"

#define METADATA_FETCH_ROWS 10000
/* Quantile buckets per numeric column. */
#define METADATA_BUCKETS 5
/* Separates the column number from the value in raw feature keys. */
#define METADATA_KEY_SEPARATOR '\x1f'

/* A registered items or users relation and its metadata columns. */
typedef struct MetadataSource
{
	const char *dataset_group;
	const char *dataset_type;
	Oid			relid;
	char	   *relname;		/* quoted, schema-qualified */
	char	   *id_column;
	Oid			id_type;
	int			n_columns;
	char	  **columns;
	Oid		   *types;
	char	   *time_column;	/* items: creation time, or NULL */
	char	   *time_kind;
} MetadataSource;

/*
 * Return the type of column of the source relation, or raise an error when
 * it was dropped or renamed after registration.
 */
static Oid
source_column_type(const MetadataSource *src, const char *column)
{
	AttrNumber	attnum = get_attnum(src->relid, column);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of the %s relation of dataset group \"%s\" no longer exists",
						column, src->dataset_type, src->dataset_group),
				 errhint("Register the relation again with personalize.drop_dataset and personalize.create_dataset.")));
	return get_atttype(src->relid, attnum);
}

/*
 * Read the registration of dataset_type ('items' or 'users') of the
 * dataset group into src and check the caller may read it.  Returns false
 * when there is no such dataset.
 */
static bool
metadata_source(const char *dataset_group, const char *dataset_type, MetadataSource *src)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(dataset_group), CStringGetTextDatum(dataset_type)};
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	Datum		columns;
	char	   *relname;

	if (CatalogExecute("SELECT relation::oid, CASE WHEN dataset_type = 'items' THEN item_column ELSE user_column END, "
					   "metadata_columns::text[], time_column, time_kind "
					   "FROM personalize.dataset WHERE dataset_group = $1 AND dataset_type = $2",
					   2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read dataset registration");
	if (SPI_processed == 0)
		return false;
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	src->dataset_group = dataset_group;
	src->dataset_type = dataset_type;
	src->relid = DatumGetObjectId(SPI_getbinval(tuple, desc, 1, &isnull));
	src->id_column = SPI_getvalue(tuple, desc, 2);
	columns = SPI_getbinval(tuple, desc, 3, &isnull);
	src->time_column = SPI_getvalue(tuple, desc, 4);
	src->time_kind = SPI_getvalue(tuple, desc, 5);
	{
		Datum	   *elems;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(columns), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, NULL, &n);
		src->n_columns = n;
		src->columns = palloc(sizeof(char *) * Max(n, 1));
		src->types = palloc(sizeof(Oid) * Max(n, 1));
		for (int j = 0; j < n; j++)
			src->columns[j] = TextDatumGetCString(elems[j]);
	}

	relname = get_rel_name(src->relid);
	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the %s relation of dataset group \"%s\" no longer exists",
						dataset_type, dataset_group),
				 errhint("Register the new relation with personalize.drop_dataset and personalize.create_dataset.")));
	src->relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(src->relid)), relname);
	if (pg_class_aclcheck(src->relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for relation %s", src->relname),
				 errdetail("It is the %s dataset of dataset group \"%s\".", dataset_type, dataset_group),
				 errhint("Grant SELECT on %s to role \"%s\".", src->relname,
						 GetUserNameFromId(GetUserId(), false))));
	src->id_type = source_column_type(src, src->id_column);
	for (int j = 0; j < src->n_columns; j++)
		src->types[j] = source_column_type(src, src->columns[j]);
	if (src->time_column != NULL)
		(void) source_column_type(src, src->time_column);
	return true;
}

/* Numbers and times are cut into buckets; everything else is categorical. */
static bool
type_is_numeric(Oid type)
{
	char		category = TypeCategory(type);

	return category == TYPCATEGORY_NUMERIC || category == TYPCATEGORY_DATETIME;
}

/*
 * The SQL expression reading column: float8 for numbers and times (epoch
 * seconds), text for the rest, arrays joined with `|` like multi-valued
 * text.
 */
static char *
column_expression(const char *column, Oid type)
{
	const char *col = quote_identifier(column);

	if (TypeCategory(type) == TYPCATEGORY_NUMERIC)
		return psprintf("%s::float8", col);
	if (TypeCategory(type) == TYPCATEGORY_DATETIME)
		return psprintf("extract(epoch FROM %s)::float8", col);
	if (type_is_array(type))
		return psprintf("array_to_string(%s, '|')", col);
	return psprintf("%s::text", col);
}

/* The select list of the metadata columns, after the id (and nothing else). */
static char *
select_list(const MetadataSource *src)
{
	StringInfoData sql;

	initStringInfo(&sql);
	for (int j = 0; j < src->n_columns; j++)
		appendStringInfo(&sql, ", %s", column_expression(src->columns[j], src->types[j]));
	return sql.data;
}

/* Growable (row, raw feature) pairs, and counts per raw feature. */
typedef struct RawFeatures
{
	IdMap		keys;			/* "column<US>value" -> raw index */
	int32	   *count;
	int32		count_capacity;
	int64		n_pairs;
	int64		pair_capacity;
	int32	   *pair_row;
	int32	   *pair_feature;
} RawFeatures;

static int32
raw_feature(RawFeatures *raw, int column, const char *value)
{
	char	   *key = psprintf("%d%c%s", column, METADATA_KEY_SEPARATOR, value);
	int32		index = IdMapIntern(&raw->keys, key);

	pfree(key);
	if (index >= raw->count_capacity)
	{
		int32		grown = Max(raw->count_capacity * 2, 64);

		if (raw->count == NULL)
			raw->count = palloc0(sizeof(int32) * grown);
		else
		{
			raw->count = repalloc(raw->count, sizeof(int32) * grown);
			memset(raw->count + raw->count_capacity, 0, sizeof(int32) * (grown - raw->count_capacity));
		}
		raw->count_capacity = grown;
	}
	return index;
}

static void
raw_pair(RawFeatures *raw, int32 row, int32 feature)
{
	if (raw->n_pairs == raw->pair_capacity)
	{
		raw->pair_capacity = Max(raw->pair_capacity * 2, 1024);
		raw->pair_row = raw->pair_row
			? repalloc_huge(raw->pair_row, sizeof(int32) * raw->pair_capacity)
			: palloc_extended(sizeof(int32) * raw->pair_capacity, MCXT_ALLOC_HUGE);
		raw->pair_feature = raw->pair_feature
			? repalloc_huge(raw->pair_feature, sizeof(int32) * raw->pair_capacity)
			: palloc_extended(sizeof(int32) * raw->pair_capacity, MCXT_ALLOC_HUGE);
	}
	raw->pair_row[raw->n_pairs] = row;
	raw->pair_feature[raw->n_pairs] = feature;
	raw->n_pairs++;
	raw->count[feature]++;
}

/*
 * Call add(value) for each of the `|`-separated values of text, trimmed of
 * surrounding blanks; empty values are skipped.
 */
static void
split_values(const char *joined, void (*add) (void *arg, const char *value), void *arg)
{
	const char *start = joined;

	for (;;)
	{
		const char *end = strchr(start, '|');
		const char *stop = end ? end : start + strlen(start);
		const char *a = start;
		const char *b = stop;

		while (a < b && isspace((unsigned char) *a))
			a++;
		while (b > a && isspace((unsigned char) b[-1]))
			b--;
		if (b > a)
		{
			char	   *value = pnstrdup(a, b - a);

			add(arg, value);
			pfree(value);
		}
		if (end == NULL)
			break;
		start = end + 1;
	}
}

/* split_values callback while reading training rows */
typedef struct RowContext
{
	RawFeatures *raw;
	int32		row;
	int			column;
} RowContext;

static void
add_training_value(void *arg, const char *value)
{
	RowContext *rc = arg;

	raw_pair(rc->raw, rc->row, raw_feature(rc->raw, rc->column, value));
}

static int
double_cmp(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* qsort has no argument: the counts count_desc_cmp orders by */
static const int32 *sort_counts;

static int
count_desc_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	if (sort_counts[x] != sort_counts[y])
		return sort_counts[x] > sort_counts[y] ? -1 : 1;
	return x < y ? -1 : x > y ? 1 : 0;
}

/* Append ", <creation time as epoch seconds>" to a select list of src. */
static void
append_creation_time(StringInfo sql, const MetadataSource *src)
{
	appendStringInfo(sql, strcmp(src->time_kind, "epoch") == 0 ? ", %s::float8" : ", extract(epoch FROM %s)::float8",
					 quote_identifier(src->time_column));
}

/*
 * Read the metadata of dataset_type ('items' or 'users') of the dataset
 * group into md, rows indexed by ids.  Entities not in ids are added when
 * add_new (items without interactions), skipped otherwise.  Returns false
 * when the dataset group has no such dataset.  Needs SPI; allocates in the
 * current memory context.
 */
bool
MetadataRead(const char *dataset_group, const char *dataset_type,
			 IdMap *ids, bool add_new, int min_count, int max_features,
			 EntityMetadata *md)
{
	MemoryContext context = CurrentMemoryContext;
	MetadataSource src;
	RawFeatures raw;
	StringInfoData sql;
	Portal		portal;
	double	  **numbers;		/* per column: values of numeric columns, per pair */
	int32	  **number_rows;
	double	  **column_bounds;	/* per numeric column: its bucket bounds */
	int64	   *n_numbers;
	int64	   *number_capacity;
	double	   *created = NULL;
	int32		created_capacity = 0;
	int32	   *keep;
	int32	   *final_index;
	int32		n_keep = 0;
	int32	   *mark;

	if (!metadata_source(dataset_group, dataset_type, &src))
		return false;
	MemoryContextSwitchTo(context);

	memset(&raw, 0, sizeof(raw));
	IdMapInit(&raw.keys, 256);
	numbers = palloc0(sizeof(double *) * Max(src.n_columns, 1));
	number_rows = palloc0(sizeof(int32 *) * Max(src.n_columns, 1));
	column_bounds = palloc0(sizeof(double *) * Max(src.n_columns, 1));
	n_numbers = palloc0(sizeof(int64) * Max(src.n_columns, 1));
	number_capacity = palloc0(sizeof(int64) * Max(src.n_columns, 1));

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s::text%s", quote_identifier(src.id_column), select_list(&src));
	if (src.time_column != NULL)
		append_creation_time(&sql, &src);
	appendStringInfo(&sql, " FROM %s WHERE %s IS NOT NULL", src.relname, quote_identifier(src.id_column));

	portal = SPI_cursor_open_with_args(NULL, sql.data, 0, NULL, NULL, NULL, true, CURSOR_OPT_NO_SCROLL);
	for (;;)
	{
		SPITupleTable *tt;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, METADATA_FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		tt = SPI_tuptable;
		MemoryContextSwitchTo(context);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tuple = tt->vals[r];
			bool		isnull;
			char	   *id = TextDatumGetCString(SPI_getbinval(tuple, tt->tupdesc, 1, &isnull));
			int32		row = add_new ? IdMapIntern(ids, id) : IdMapLookup(ids, id);

			pfree(id);
			if (row < 0)
				continue;
			for (int j = 0; j < src.n_columns; j++)
			{
				Datum		d = SPI_getbinval(tuple, tt->tupdesc, j + 2, &isnull);

				if (isnull)
					continue;
				if (type_is_numeric(src.types[j]))
				{
					double		v = DatumGetFloat8(d);

					if (isnan(v) || isinf(v))
						continue;
					if (n_numbers[j] == number_capacity[j])
					{
						number_capacity[j] = Max(number_capacity[j] * 2, 256);
						numbers[j] = numbers[j] ? repalloc_huge(numbers[j], sizeof(double) * number_capacity[j])
							: palloc_extended(sizeof(double) * number_capacity[j], MCXT_ALLOC_HUGE);
						number_rows[j] = number_rows[j] ? repalloc_huge(number_rows[j], sizeof(int32) * number_capacity[j])
							: palloc_extended(sizeof(int32) * number_capacity[j], MCXT_ALLOC_HUGE);
					}
					numbers[j][n_numbers[j]] = v;
					number_rows[j][n_numbers[j]++] = row;
				}
				else
				{
					RowContext	rc = {&raw, row, j};
					char	   *joined = TextDatumGetCString(d);

					split_values(joined, add_training_value, &rc);
					pfree(joined);
				}
			}
			if (src.time_column != NULL)
			{
				Datum		d = SPI_getbinval(tuple, tt->tupdesc, src.n_columns + 2, &isnull);

				if (row >= created_capacity)
				{
					int32		grown = Max(Max(created_capacity * 2, row + 1), 1024);

					created = created ? repalloc_huge(created, sizeof(double) * grown)
						: palloc_extended(sizeof(double) * grown, MCXT_ALLOC_HUGE);
					for (int32 i = created_capacity; i < grown; i++)
						created[i] = NAN;
					created_capacity = grown;
				}
				if (!isnull)
					created[row] = DatumGetFloat8(d);
			}
		}
		SPI_freetuptable(tt);
	}
	SPI_cursor_close(portal);
	MemoryContextSwitchTo(context);

	/* numeric columns: one feature per quantile bucket */
	for (int j = 0; j < src.n_columns; j++)
	{
		double	   *sorted;
		double	   *bounds = palloc(sizeof(double) * METADATA_BUCKETS);
		int			n_bounds = 0;
		int32		first = -1;

		if (n_numbers[j] == 0)
			continue;
		sorted = palloc_extended(sizeof(double) * n_numbers[j], MCXT_ALLOC_HUGE);
		memcpy(sorted, numbers[j], sizeof(double) * n_numbers[j]);
		qsort(sorted, n_numbers[j], sizeof(double), double_cmp);
		/* bucket b is [bounds[b-1], bounds[b]), the first from -inf, the last to +inf */
		for (int b = 1; b < METADATA_BUCKETS; b++)
		{
			double		q = sorted[(int64) ((double) n_numbers[j] * b / METADATA_BUCKETS)];

			if (q > sorted[0] && (n_bounds == 0 || q > bounds[n_bounds - 1]))
				bounds[n_bounds++] = q;
		}
		pfree(sorted);
		for (int b = 0; b <= n_bounds; b++)
		{
			char	   *name = psprintf("#%d", b);
			int32		f = raw_feature(&raw, j, name);

			if (b == 0)
				first = f;
			pfree(name);
		}
		for (int64 e = 0; e < n_numbers[j]; e++)
		{
			int			b = 0;

			while (b < n_bounds && numbers[j][e] >= bounds[b])
				b++;
			raw_pair(&raw, number_rows[j][e], first + b);
		}
		bounds[n_bounds] = INFINITY;	/* the last bucket's upper end */
		column_bounds[j] = bounds;
	}

	/* keep the max_features most frequent features seen in min_count rows */
	keep = palloc(sizeof(int32) * Max(raw.keys.n, 1));
	for (int32 f = 0; f < raw.keys.n; f++)
		if (raw.count[f] >= min_count)
			keep[n_keep++] = f;
	sort_counts = raw.count;
	qsort(keep, n_keep, sizeof(int32), count_desc_cmp);
	n_keep = Min(n_keep, max_features);
	final_index = palloc(sizeof(int32) * Max(raw.keys.n, 1));
	for (int32 f = 0; f < raw.keys.n; f++)
		final_index[f] = -1;

	md->space.n_columns = src.n_columns;
	md->space.columns = src.columns;
	md->space.n_features = n_keep;
	md->space.features = palloc0(sizeof(Feature) * Max(n_keep, 1));
	for (int32 i = 0; i < n_keep; i++)
	{
		const char *key = raw.keys.ids[keep[i]];
		const char *sep = strchr(key, METADATA_KEY_SEPARATOR);
		Feature    *feature = &md->space.features[i];

		final_index[keep[i]] = i;
		feature->column = atoi(key);
		if (type_is_numeric(src.types[feature->column]))
		{
			int			b = atoi(sep + 2);	/* "#b" */
			const double *bounds = column_bounds[feature->column];

			feature->value = NULL;
			feature->low = b == 0 ? -INFINITY : bounds[b - 1];
			feature->high = bounds[b];
		}
		else
			feature->value = pstrdup(sep + 1);
	}

	/* rows: counting sort of the pairs by row, duplicates dropped */
	md->n_rows = ids->n;
	md->ptr = palloc0(sizeof(int64) * ((Size) ids->n + 1));
	for (int64 e = 0; e < raw.n_pairs; e++)
		if (final_index[raw.pair_feature[e]] >= 0)
			md->ptr[raw.pair_row[e] + 1]++;
	for (int32 r = 0; r < ids->n; r++)
		md->ptr[r + 1] += md->ptr[r];
	md->features = palloc_extended(sizeof(int32) * Max(md->ptr[ids->n], 1), MCXT_ALLOC_HUGE);
	{
		int64	   *fill = palloc(sizeof(int64) * Max(ids->n, 1));

		memcpy(fill, md->ptr, sizeof(int64) * ids->n);
		for (int64 e = 0; e < raw.n_pairs; e++)
		{
			int32		f = final_index[raw.pair_feature[e]];

			if (f >= 0)
				md->features[fill[raw.pair_row[e]]++] = f;
		}
		pfree(fill);
	}
	mark = palloc(sizeof(int32) * Max(n_keep, 1));
	for (int32 f = 0; f < n_keep; f++)
		mark[f] = -1;
	{
		int64		out = 0;

		for (int32 r = 0; r < ids->n; r++)
		{
			int64		lo = md->ptr[r],
						hi = md->ptr[r + 1];

			md->ptr[r] = out;
			for (int64 e = lo; e < hi; e++)
				if (mark[md->features[e]] != r)
				{
					mark[md->features[e]] = r;
					md->features[out++] = md->features[e];
				}
		}
		md->ptr[ids->n] = out;
	}
	pfree(mark);

	md->created = NULL;
	if (src.time_column != NULL)
	{
		md->created = palloc_extended(sizeof(double) * Max(ids->n, 1), MCXT_ALLOC_HUGE);
		for (int32 r = 0; r < ids->n; r++)
			md->created[r] = r < created_capacity ? created[r] : NAN;
	}
	return true;
}

/*
 * Read the creation time (epoch seconds) of the items in ids from the
 * items dataset of the dataset group into *created (ids->n entries, NaN
 * where unknown); items not in ids are skipped.  Returns false, leaving
 * *created alone, when the group registers no items dataset or no creation
 * time.  Needs SPI; allocates in the current memory context.
 */
bool
MetadataReadCreated(const char *dataset_group, const IdMap *ids, double **created)
{
	MemoryContext context = CurrentMemoryContext;
	MetadataSource src;
	StringInfoData sql;
	Portal		portal;
	double	   *times;

	if (!metadata_source(dataset_group, "items", &src) || src.time_column == NULL)
	{
		MemoryContextSwitchTo(context);
		return false;
	}
	MemoryContextSwitchTo(context);
	times = palloc_extended(sizeof(double) * Max(ids->n, 1), MCXT_ALLOC_HUGE);
	for (int32 i = 0; i < ids->n; i++)
		times[i] = NAN;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s::text", quote_identifier(src.id_column));
	append_creation_time(&sql, &src);
	appendStringInfo(&sql, " FROM %s WHERE %s IS NOT NULL", src.relname, quote_identifier(src.id_column));
	portal = SPI_cursor_open_with_args(NULL, sql.data, 0, NULL, NULL, NULL, true, CURSOR_OPT_NO_SCROLL);
	for (;;)
	{
		SPITupleTable *tt;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, METADATA_FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		tt = SPI_tuptable;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			char	   *id = TextDatumGetCString(SPI_getbinval(tt->vals[r], tt->tupdesc, 1, &isnull));
			int32		row = IdMapLookup(ids, id);
			Datum		d = SPI_getbinval(tt->vals[r], tt->tupdesc, 2, &isnull);

			pfree(id);
			if (row >= 0 && !isnull)
				times[row] = DatumGetFloat8(d);
		}
		SPI_freetuptable(tt);
	}
	SPI_cursor_close(portal);
	MemoryContextSwitchTo(context);
	*created = times;
	return true;
}

/* split_values callback at request time: look the value up among the features */
typedef struct UserContext
{
	const FeatureSpace *space;
	int			column;			/* index into space->columns */
	int32	   *features;
	int			n;
	int			capacity;
} UserContext;

static void
add_user_feature(UserContext *uc, int32 f)
{
	for (int i = 0; i < uc->n; i++)
		if (uc->features[i] == f)
			return;
	if (uc->n == uc->capacity)
	{
		uc->capacity *= 2;
		uc->features = repalloc(uc->features, sizeof(int32) * uc->capacity);
	}
	uc->features[uc->n++] = f;
}

static void
add_user_value(void *arg, const char *value)
{
	UserContext *uc = arg;

	for (int32 f = 0; f < uc->space->n_features; f++)
	{
		const Feature *feature = &uc->space->features[f];

		if (feature->column == uc->column && feature->value != NULL &&
			strcmp(feature->value, value) == 0)
			add_user_feature(uc, f);
	}
}

/*
 * Read the row of user_id from the dataset group's users dataset and set
 * *features (palloc'd) to its features in space, the feature space of a
 * trained model.  Returns how many; 0 when there is no users dataset or no
 * such user.  The metadata columns are those the model was trained on.
 * Needs SPI.
 */
int
MetadataReadUser(const char *dataset_group, const FeatureSpace *space,
				 const char *user_id, int32 **features)
{
	MemoryContext context = CurrentMemoryContext;
	MetadataSource src;
	StringInfoData sql;
	Oid			argtypes[1];
	Datum		values[1];
	Oid			typinput;
	Oid			typioparam;
	UserContext uc;

	*features = NULL;
	if (!metadata_source(dataset_group, "users", &src))
		return 0;
	MemoryContextSwitchTo(context);
	if (!DatasetIdFitsType(user_id, src.id_type))
		return 0;
	/* the model's columns, with their types now */
	src.n_columns = space->n_columns;
	src.columns = space->columns;
	src.types = palloc(sizeof(Oid) * Max(space->n_columns, 1));
	for (int j = 0; j < space->n_columns; j++)
		src.types[j] = source_column_type(&src, space->columns[j]);

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT true%s FROM %s WHERE %s = $1 LIMIT 1",
					 select_list(&src), src.relname, quote_identifier(src.id_column));
	argtypes[0] = src.id_type;
	getTypeInputInfo(src.id_type, &typinput, &typioparam);
	values[0] = OidInputFunctionCall(typinput, (char *) user_id, typioparam, -1);
	if (SPI_execute_with_args(sql.data, 1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read user metadata");
	MemoryContextSwitchTo(context);
	if (SPI_processed == 0)
		return 0;

	uc.space = space;
	uc.n = 0;
	uc.capacity = 16;
	uc.features = palloc(sizeof(int32) * uc.capacity);
	for (int j = 0; j < src.n_columns; j++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, j + 2, &isnull);

		if (isnull)
			continue;
		uc.column = j;
		if (type_is_numeric(src.types[j]))
		{
			double		v = DatumGetFloat8(d);

			for (int32 f = 0; f < space->n_features; f++)
			{
				const Feature *feature = &space->features[f];

				if (feature->column == j && feature->value == NULL &&
					v >= feature->low && v < feature->high)
					add_user_feature(&uc, f);
			}
		}
		else
		{
			char	   *joined = TextDatumGetCString(d);

			split_values(joined, add_user_value, &uc);
		}
	}
	*features = uc.features;
	return uc.n;
}
