/*-------------------------------------------------------------------------
 *
 * dataset.c
 *	  Reading the registered interactions relation.
 *
 * Registration itself (column roles, type checks) is SQL in
 * sql/personalize.sql.  Here the registration is read back and the user's
 * relation is queried through SPI with the caller's privileges: training
 * reads every interaction into an InteractionLog with a cursor (or, from
 * a plain table, straight from its heap: dataset_scan.c), and a
 * request reads one user's most recent events through a prepared plan kept
 * for the life of the backend.  Identifiers pass through
 * quote_identifier; values are always query parameters.
 *
 * Callers must be connected to SPI.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/dataset.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "dataset.h"
#include "personalize.h"

#define DATASET_FETCH_ROWS 10000

/* A prepared history query, kept per relation and column set. */
typedef struct HistoryPlan
{
	struct HistoryPlan *next;
	char	   *key;
	Oid			user_type;
	SPIPlanPtr	plan;
} HistoryPlan;

static HistoryPlan *history_plans = NULL;

static double extract_epoch_now(void);

/*
 * Return column i (1-based) of tuple as a palloc'd string, or NULL.
 */
static char *
tuple_string(HeapTuple tuple, TupleDesc desc, int i)
{
	return SPI_getvalue(tuple, desc, i);
}

/*
 * Fill ds from seven columns of tuple starting at first_column: relation
 * oid, user, item, time columns, time kind, event type and value columns.
 * Returns false when the relation column is NULL (no such dataset).
 */
bool
DatasetFromTuple(HeapTuple tuple, TupleDesc desc, int first_column,
				 const char *dataset_group, InteractionsDataset *ds)
{
	bool		isnull;
	Datum		relid = SPI_getbinval(tuple, desc, first_column, &isnull);

	if (isnull)
		return false;
	ds->dataset_group = pstrdup(dataset_group);
	ds->relid = DatumGetObjectId(relid);
	ds->user_column = tuple_string(tuple, desc, first_column + 1);
	ds->item_column = tuple_string(tuple, desc, first_column + 2);
	ds->time_column = tuple_string(tuple, desc, first_column + 3);
	ds->time_kind = tuple_string(tuple, desc, first_column + 4);
	ds->event_type_column = tuple_string(tuple, desc, first_column + 5);
	ds->event_value_column = tuple_string(tuple, desc, first_column + 6);
	return true;
}

/*
 * Read the interactions registration of dataset_group, or raise an error
 * saying how to register one.
 */
void
DatasetLookupInteractions(const char *dataset_group, InteractionsDataset *ds)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(dataset_group)};
	int			rc;

	rc = CatalogExecute("SELECT relation::oid, user_column, item_column, time_column, "
							   "time_kind, event_type_column, event_value_column "
							   "FROM personalize.dataset "
							   "WHERE dataset_group = $1 AND dataset_type = 'interactions'",
							   1, argtypes, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read dataset registration: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0 ||
		!DatasetFromTuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, dataset_group, ds))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("dataset group \"%s\" has no interactions dataset", dataset_group),
				 errhint("Register one with personalize.create_dataset('%s', 'interactions', 'table').",
						 dataset_group)));
}

/*
 * Return the schema-qualified, quoted name of the registered relation, or
 * raise an error when it was dropped after registration.
 */
static char *
dataset_relation_name(const InteractionsDataset *ds)
{
	char	   *relname = get_rel_name(ds->relid);

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the interactions relation of dataset group \"%s\" no longer exists",
						ds->dataset_group),
				 errhint("Register the new relation with personalize.drop_dataset and personalize.create_dataset.")));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(ds->relid)), relname);
}

/*
 * Return the type of column of the registered relation, or raise an error
 * when it was dropped or renamed after registration.
 */
static Oid
dataset_column_type(const InteractionsDataset *ds, const char *column)
{
	AttrNumber	attnum = get_attnum(ds->relid, column);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of the interactions relation of dataset group \"%s\" no longer exists",
						column, ds->dataset_group),
				 errhint("Register the relation again with personalize.drop_dataset and personalize.create_dataset.")));
	return get_atttype(ds->relid, attnum);
}

/*
 * Raise an error unless the current user may SELECT the relation.
 */
static void
dataset_check_select(const InteractionsDataset *ds, const char *relname)
{
	if (pg_class_aclcheck(ds->relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for relation %s", relname),
				 errdetail("It is the interactions dataset of dataset group \"%s\".", ds->dataset_group),
				 errhint("Grant SELECT on %s to role \"%s\".", relname,
						 GetUserNameFromId(GetUserId(), false))));
}

/*
 * Raise an error unless the current user may SELECT the interactions
 * relation.  Models are derived from its rows, so whoever is served from a
 * model of the dataset group must be able to read them (runtime.c).
 */
void
DatasetCheckReadable(const InteractionsDataset *ds)
{
	dataset_check_select(ds, dataset_relation_name(ds));
}

/*
 * Return the SQL expression giving the event time of a row in epoch seconds.
 */
static char *
dataset_time_expression(const InteractionsDataset *ds)
{
	const char *col = quote_identifier(ds->time_column);

	if (strcmp(ds->time_kind, "epoch") == 0)
		return psprintf("%s::float8", col);
	return psprintf("extract(epoch FROM %s)::float8", col);
}

/*
 * Read every interaction of the dataset (optionally only one event type
 * and events at or above a value threshold) into log.
 */
void
DatasetReadInteractions(const InteractionsDataset *ds, const char *event_type,
						const double *event_value_threshold, InteractionLog *log,
						Jsonb *event_weights)
{
	char	   *relname = dataset_relation_name(ds);
	StringInfoData sql;
	Oid			argtypes[3];
	Datum		values[3];
	int			nargs = 0;
	Portal		portal;
	instr_time	lap;
	bool		weighted = event_weights != NULL && JB_ROOT_IS_OBJECT(event_weights) &&
		JB_ROOT_COUNT(event_weights) > 0;

	dataset_check_select(ds, relname);
	(void) dataset_column_type(ds, ds->user_column);
	(void) dataset_column_type(ds, ds->item_column);
	(void) dataset_column_type(ds, ds->time_column);

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s::text, %s::text, %s",
					 quote_identifier(ds->user_column), quote_identifier(ds->item_column),
					 dataset_time_expression(ds));
	if (weighted)
	{
		/*
		 * event_weights keys were lower-cased when validated: event types
		 * match case-insensitively, unlisted types weigh 1, and weight 0
		 * drops the event.
		 */
		if (ds->event_type_column == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the interactions dataset of dataset group \"%s\" has no event type column to apply event_weights to",
							ds->dataset_group),
					 errhint("Register it with event_type => 'column', or remove event_weights from the solution's hyperparameters.")));
		(void) dataset_column_type(ds, ds->event_type_column);
		nargs++;
		argtypes[nargs - 1] = JSONBOID;
		values[nargs - 1] = JsonbPGetDatum(event_weights);
		appendStringInfo(&sql, ", coalesce(($%d ->> lower(%s::text))::float4, 1)",
						 nargs, quote_identifier(ds->event_type_column));
	}
	appendStringInfo(&sql, " FROM %s WHERE %s IS NOT NULL AND %s IS NOT NULL AND %s IS NOT NULL",
					 relname,
					 quote_identifier(ds->user_column), quote_identifier(ds->item_column),
					 quote_identifier(ds->time_column));
	if (weighted)
		appendStringInfo(&sql, " AND coalesce(($%d ->> lower(%s::text))::float4, 1) > 0",
						 nargs, quote_identifier(ds->event_type_column));
	if (event_type != NULL)
	{
		if (ds->event_type_column == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the interactions dataset of dataset group \"%s\" has no event type column",
							ds->dataset_group),
					 errhint("Register it with event_type => 'column', or create the solution without event_type.")));
		(void) dataset_column_type(ds, ds->event_type_column);
		nargs++;
		argtypes[nargs - 1] = TEXTOID;
		values[nargs - 1] = CStringGetTextDatum(event_type);
		appendStringInfo(&sql, " AND lower(%s::text) = lower($%d)",
						 quote_identifier(ds->event_type_column), nargs);
	}
	if (event_value_threshold != NULL)
	{
		if (ds->event_value_column == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the interactions dataset of dataset group \"%s\" has no event value column",
							ds->dataset_group),
					 errhint("Register it with event_value => 'column', or create the solution without event_value_threshold.")));
		(void) dataset_column_type(ds, ds->event_value_column);
		nargs++;
		argtypes[nargs - 1] = FLOAT8OID;
		values[nargs - 1] = Float8GetDatum(*event_value_threshold);
		appendStringInfo(&sql, " AND %s::float8 >= $%d",
						 quote_identifier(ds->event_value_column), nargs);
	}

	INSTR_TIME_SET_CURRENT(lap);
	/* the plain case of a plain table: straight from the heap (dataset_scan.c) */
	if (!weighted && event_type == NULL && event_value_threshold == NULL &&
		DatasetScanInteractions(ds, log))
	{
		PersonalizeDebugLap("interactions read from the heap", &lap);
		return;
	}
	portal = SPI_cursor_open_with_args(NULL, sql.data, nargs, argtypes, values,
									   NULL, true, CURSOR_OPT_NO_SCROLL);
	for (;;)
	{
		SPITupleTable *tt;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, DATASET_FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		tt = SPI_tuptable;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tuple = tt->vals[r];
			bool		isnull;
			char	   *user = TextDatumGetCString(SPI_getbinval(tuple, tt->tupdesc, 1, &isnull));
			char	   *item = TextDatumGetCString(SPI_getbinval(tuple, tt->tupdesc, 2, &isnull));
			double		time = DatumGetFloat8(SPI_getbinval(tuple, tt->tupdesc, 3, &isnull));
			float		weight = 1.0f;

			if (weighted)
				weight = DatumGetFloat4(SPI_getbinval(tuple, tt->tupdesc, 4, &isnull));
			InteractionLogAddWeighted(log, user, item, time, weight);
			pfree(user);
			pfree(item);
		}
		SPI_freetuptable(tt);
	}
	SPI_cursor_close(portal);
	PersonalizeDebugLap("interactions read", &lap);
}

/*
 * Read the items with interactions in the last two windows of
 * window_seconds before now, with their counts in the latest window
 * (recent) and the one before (earlier).  Returns how many items.
 */
int
DatasetReadTrends(const InteractionsDataset *ds, double window_seconds,
				  char ***items, double **recent, double **earlier)
{
	char	   *relname = dataset_relation_name(ds);
	char	   *time_expr = dataset_time_expression(ds);
	Oid			argtypes[2] = {FLOAT8OID, FLOAT8OID};
	Datum		values[2];
	char	   *sql;
	int			n;

	dataset_check_select(ds, relname);
	(void) dataset_column_type(ds, ds->item_column);
	(void) dataset_column_type(ds, ds->time_column);
	values[0] = Float8GetDatum(extract_epoch_now());
	values[1] = Float8GetDatum(window_seconds);
	sql = psprintf("SELECT item::text, count(*) FILTER (WHERE t >= $1 - $2), count(*) FILTER (WHERE t < $1 - $2) "
				   "FROM (SELECT %s AS item, %s AS t FROM %s WHERE %s IS NOT NULL) x "
				   "WHERE t >= $1 - 2 * $2 AND t <= $1 GROUP BY 1",
				   quote_identifier(ds->item_column), time_expr, relname,
				   quote_identifier(ds->item_column));
	if (SPI_execute_with_args(sql, 2, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read recent interactions");
	n = (int) SPI_processed;
	*items = palloc(sizeof(char *) * Max(n, 1));
	*recent = palloc(sizeof(double) * Max(n, 1));
	*earlier = palloc(sizeof(double) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		bool		isnull;

		(*items)[i] = TextDatumGetCString(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &isnull));
		(*recent)[i] = (double) DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &isnull));
		(*earlier)[i] = (double) DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 3, &isnull));
	}
	return n;
}

/*
 * Now as epoch seconds.
 */
static double
extract_epoch_now(void)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	return (double) (now - SetEpochTimestamp()) / USECS_PER_SEC;
}

/* Is type int2, int4 or int8: the integer types of ids and epoch times (read as int8)? */
bool
DatasetTypeIsInteger(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

/*
 * Can text be a value of an integer type?  Ids that cannot are unknown
 * users rather than errors.
 */
bool
DatasetIdFitsType(const char *id, Oid type)
{
	const char *p = id;
	bool		negative = false;
	uint64		magnitude = 0;
	uint64		limit;

	if (type == INT2OID)
		limit = PG_INT16_MAX;
	else if (type == INT4OID)
		limit = PG_INT32_MAX;
	else if (type == INT8OID)
		limit = PG_INT64_MAX;
	else
		return true;
	if (*p == '-' || *p == '+')
		negative = (*p++ == '-');
	if (*p == '\0')
		return false;
	for (; *p; p++)
	{
		if (*p < '0' || *p > '9')
			return false;
		/* stop before overflowing: the most negative value is limit + 1 */
		if (magnitude > (limit + 1 - (*p - '0')) / 10)
			return false;
		magnitude = magnitude * 10 + (*p - '0');
	}
	return magnitude <= limit + (negative ? 1 : 0);
}

/*
 * Can id be an int8 value?  If so, set *value.  (Compiled filters pass
 * candidate ids in both forms, so that integer id columns join without a
 * cast per row.)
 */
bool
DatasetIdAsInt64(const char *id, int64 *value)
{
	if (!DatasetIdFitsType(id, INT8OID))
		return false;
	*value = pg_strtoint64(id);
	return true;
}

/*
 * Warn (once per session and relation: history plans are made once) when
 * no index of the interactions relation starts with its user column, since
 * then every request scans the whole relation for the user's history.
 * Views and foreign tables are left alone: their indexes are elsewhere.
 */
static void
dataset_warn_unindexed(const InteractionsDataset *ds)
{
	char		relkind = get_rel_relkind(ds->relid);
	AttrNumber	user_attnum = get_attnum(ds->relid, ds->user_column);
	Relation	rel;
	List	   *indexes;
	ListCell   *lc;
	bool		indexed = false;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_MATVIEW)
		return;
	rel = table_open(ds->relid, AccessShareLock);
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));

		if (!HeapTupleIsValid(tuple))
			continue;
		if (((Form_pg_index) GETSTRUCT(tuple))->indkey.values[0] == user_attnum)
			indexed = true;
		ReleaseSysCache(tuple);
	}
	list_free(indexes);
	table_close(rel, AccessShareLock);
	if (!indexed)
		ereport(WARNING,
				(errmsg("the interactions relation of dataset group \"%s\" has no index on its user column \"%s\"",
						ds->dataset_group, ds->user_column),
				 errdetail("Each request scans the whole relation for the user's recent history."),
				 errhint("CREATE INDEX ON %s (%s, %s) INCLUDE (%s)", dataset_relation_name(ds),
						 quote_identifier(ds->user_column), quote_identifier(ds->time_column),
						 quote_identifier(ds->item_column))));
}

/*
 * Return the prepared history query for the dataset, preparing it once.
 */
static HistoryPlan *
history_plan(const InteractionsDataset *ds)
{
	/* the user column's type is the plan's parameter type: part of the key */
	Oid			user_type = dataset_column_type(ds, ds->user_column);
	char	   *key = psprintf("%u|%u|%s|%s|%s|%s", ds->relid, user_type, ds->user_column,
							   ds->item_column, ds->time_column, ds->time_kind);
	HistoryPlan *hp;
	char	   *relname;
	char	   *sql;
	SPIPlanPtr	plan;
	Oid			argtypes[2];

	for (hp = history_plans; hp != NULL; hp = hp->next)
		if (strcmp(hp->key, key) == 0)
			return hp;

	relname = dataset_relation_name(ds);
	(void) dataset_column_type(ds, ds->item_column);
	(void) dataset_column_type(ds, ds->time_column);
	sql = psprintf("SELECT %s::text FROM %s WHERE %s = $1 AND %s IS NOT NULL ORDER BY %s DESC LIMIT $2",
				   quote_identifier(ds->item_column), relname,
				   quote_identifier(ds->user_column), quote_identifier(ds->item_column),
				   quote_identifier(ds->time_column));
	argtypes[0] = user_type;
	argtypes[1] = INT8OID;
	plan = SPI_prepare(sql, 2, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare history query: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep history query plan");

	dataset_warn_unindexed(ds);

	hp = MemoryContextAlloc(TopMemoryContext, sizeof(HistoryPlan));
	hp->key = MemoryContextStrdup(TopMemoryContext, key);
	hp->user_type = user_type;
	hp->plan = plan;
	hp->next = history_plans;
	history_plans = hp;
	return hp;
}

/*
 * Read the user's item ids, newest first, into *items (palloc'd): at most
 * max_events of them, or all when max_events is 0.  Returns how many were
 * read; 0 for an unknown user.  With int_items, the ids of an integer item
 * column read straight from its index come as integers in *int_items
 * instead (*items NULL; else *int_items is NULL).  The caller has checked
 * that the user may read the relation (DatasetCheckReadable).
 */
int
DatasetReadHistory(const InteractionsDataset *ds, const char *user_id,
				   int max_events, char ***items, int64 **int_items)
{
	HistoryPlan *hp = history_plan(ds);
	Datum		values[2];
	Oid			typinput;
	Oid			typioparam;
	int			rc;
	int			n;

	*items = NULL;
	if (int_items != NULL)
		*int_items = NULL;
	if (!DatasetIdFitsType(user_id, hp->user_type))
		return 0;
	/*
	 * The kept plan would fail obscurely if the relation changed under it
	 * (history_plan has looked the user column up already).  Readability
	 * is checked once per request, when the campaign is resolved.
	 */
	(void) dataset_column_type(ds, ds->item_column);
	(void) dataset_column_type(ds, ds->time_column);
	getTypeInputInfo(hp->user_type, &typinput, &typioparam);
	values[0] = OidInputFunctionCall(typinput, (char *) user_id, typioparam, -1);
	if (DatasetScanHistory(ds, hp->user_type, values[0], max_events, items, int_items, &n))
		return n;
	values[1] = Int64GetDatum(max_events);
	rc = SPI_execute_plan(hp->plan, values, max_events > 0 ? NULL : " n", true, max_events);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read user history: %s", SPI_result_code_string(rc));
	n = (int) SPI_processed;
	if (n > 0)
		*items = palloc(sizeof(char *) * n);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		(*items)[i] = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	return n;
}
