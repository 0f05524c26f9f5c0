/*-------------------------------------------------------------------------
 *
 * context.c
 *	  Contextual recommendations: the context argument of recommend(),
 *	  get_recommendations() and personalized_rank().
 *
 * As in Amazon Personalize, the context columns of a dataset group are the
 * metadata columns of its interactions dataset (create_dataset(...,
 * 'interactions', ..., metadata => ARRAY['device'])): each event records
 * the context it happened in, and a request names the context it is made
 * in, context => '{"device": "mobile"}'.
 *
 * Training (ContextStore, for the recipes that use context) learns, for
 * each context column and value v, every item's smoothed lift
 *
 *     lift(i, v) = P(i | v) / P(i),
 *     P(i | v) = (n(i, v) + m P(i)) / (n(v) + m),   P(i) = n(i) / n
 *
 * over the events of the interactions relation (n counts events; m =
 * CONTEXT_PRIOR_EVENTS pulls rare values towards no effect), and keeps its
 * logarithm in personalize.model_context, one row per column and value:
 * the items seen in that context with their log-lifts, and the log-lift
 * of every other item, log(m / (n(v) + m)).
 *
 * A request (ContextApply) multiplies each item's probability by
 * lift^personalize.context_weight: for recipes scoring logits (softmax
 * follows) it adds weight * log-lift to each logit, for recipes scoring
 * probabilities (the popularity of a user the model cannot place) it
 * multiplies each by exp(weight * log-lift).  So "what this user likes"
 * is re-weighted by "what is interacted with in this context", the way a
 * naive-Bayes combination of the two would.  Several context keys add
 * their terms.  A key that is not a context column is an error naming it;
 * a value never seen in training has no row and no effect, as has context
 * on a version trained without context rows (other recipes, or columns
 * registered after training).
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/context.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "context.h"
#include "personalize.h"

/* Pseudo-events of the prior: a value seen in fewer events moves little. */
#define CONTEXT_PRIOR_EVENTS 10.0

double		personalize_context_weight = 1.0;

/* The recipes whose versions learn and use context. */
static const char *const context_recipes[] = {
	"user-personalization", "user-personalization-metadata", "personalized-ranking", NULL
};

/*
 * Define personalize.context_weight.
 */
void
ContextGucInit(void)
{
	DefineCustomRealVariable("personalize.context_weight",
							 "Weight of the request's context in recommendations",
							 "Each item's probability is multiplied by its lift in the context raised to this power; 0 ignores context.",
							 &personalize_context_weight,
							 1.0, 0.0, 100.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * The context columns of dataset_group (the interactions dataset's
 * metadata columns), with the relation's OID and item column; returns
 * the number of columns (0 when there is no interactions dataset).
 */
static int
context_columns(const char *dataset_group, char ***columns, Oid *relid, char **item_column)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(dataset_group)};
	bool		isnull;
	Datum	   *elems;
	int			n;

	if (CatalogExecute("SELECT relation::oid, item_column, metadata_columns::text[] FROM personalize.dataset "
					   "WHERE dataset_group = $1 AND dataset_type = 'interactions'",
					   1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read dataset registration");
	if (SPI_processed == 0)
		return 0;
	*relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*item_column = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)),
					  TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &n);
	*columns = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		(*columns)[i] = TextDatumGetCString(elems[i]);
	return n;
}

/*
 * Learn the log-lifts of every context column of dataset_group into
 * personalize.model_context for version, if recipe uses context.  The
 * interactions are read with the caller's privileges, the rows written as
 * the extension owner.  Needs SPI and a transaction.
 */
void
ContextStore(int64 version, const char *dataset_group, const Recipe *recipe)
{
	char	  **columns;
	Oid			relid = InvalidOid;
	char	   *item_column = NULL;
	char	   *relation;
	int			n_columns;
	bool		uses_context = false;

	for (int r = 0; context_recipes[r] != NULL; r++)
		uses_context |= strcmp(recipe->name, context_recipes[r]) == 0;
	if (!uses_context)
		return;
	n_columns = context_columns(dataset_group, &columns, &relid, &item_column);
	if (n_columns == 0)
		return;
	relation = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));

	for (int c = 0; c < n_columns; c++)
	{
		StringInfoData sql;
		Oid			argtypes[1] = {FLOAT8OID};
		Datum		values[1] = {Float8GetDatum(CONTEXT_PRIOR_EVENTS)};
		SPITupleTable *lifts;
		uint64		n_values;

		CHECK_FOR_INTERRUPTS();
		initStringInfo(&sql);
		appendStringInfo(&sql,
						 "WITH e AS (SELECT %s::text AS item, %s::text AS value FROM %s "
						 "           WHERE %s IS NOT NULL AND %s IS NOT NULL), "
						 "total AS (SELECT count(*)::float8 AS n FROM e), "
						 "pi AS (SELECT item, count(*)::float8 / total.n AS p FROM e, total GROUP BY item, total.n), "
						 "pv AS (SELECT value, count(*)::float8 AS n FROM e GROUP BY value), "
						 "piv AS (SELECT value, item, count(*)::float8 AS n FROM e GROUP BY value, item) "
						 "SELECT pv.value, array_agg(piv.item ORDER BY piv.item), "
						 "       array_agg(ln((piv.n + $1 * pi.p) / (pv.n + $1) / pi.p)::real ORDER BY piv.item), "
						 "       ln($1 / (pv.n + $1))::real "
						 "  FROM pv JOIN piv USING (value) JOIN pi USING (item) GROUP BY pv.value, pv.n",
						 quote_identifier(item_column), quote_identifier(columns[c]), relation,
						 quote_identifier(item_column), quote_identifier(columns[c]));
		if (SPI_execute_with_args(sql.data, 1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the context column \"%s\"", columns[c]);
		lifts = SPI_tuptable;
		n_values = SPI_processed;

		for (uint64 v = 0; v < n_values; v++)
		{
			Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, TEXTARRAYOID, FLOAT4ARRAYOID, FLOAT4OID};
			Datum		row[6];
			bool		isnull;

			CHECK_FOR_INTERRUPTS();
			row[0] = Int64GetDatum(version);
			row[1] = CStringGetTextDatum(columns[c]);
			for (int k = 1; k <= 4; k++)
				row[k + 1] = SPI_getbinval(lifts->vals[v], lifts->tupdesc, k, &isnull);
			if (CatalogExecute("INSERT INTO personalize.model_context (solution_version, context_column, "
							   "context_value, item_ids, log_lifts, unseen_log_lift) VALUES ($1, $2, $3, $4, $5, $6)",
							   6, types, row, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not store the context model");
		}
	}
}

/*
 * The text of a context value: strings as they are, numbers and booleans
 * in their JSON form; NULL for null.
 */
static char *
context_value_text(const JsonbValue *v, const char *key)
{
	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("context key \"%s\" must have a string, number or boolean value", key),
					 errhint("Pass for example context => '{\"%s\": \"mobile\"}'.", key)));
	}
	return NULL;
}

/*
 * Apply the request's context (a JSON object of context column -> value)
 * to scores over lm's items for version: logits get weight * log-lift
 * added, probabilities are multiplied by lift^weight.  A key that is not a
 * context column of dataset_group is an error naming it.  With lm NULL
 * the context is only checked (campaigns whose recipes ignore context).
 * Needs SPI.
 */
void
ContextApply(int64 version, const char *dataset_group, Jsonb *context,
			 const LoadedModel *lm, float *scores, bool logits)
{
	char	  **columns = NULL;
	int			n_columns;
	Oid			relid;
	char	   *item_column;
	JsonbIterator *it;
	JsonbIteratorToken token;
	JsonbValue	key;
	JsonbValue	value;
	int32		n_items = lm ? lm->model.n_items : 0;
	float	   *log_lifts = NULL;

	if (context == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(context))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("context must be a JSON object"),
				 errhint("Pass for example context => '{\"device\": \"mobile\"}'.")));
	if (JB_ROOT_COUNT(context) == 0)
		return;

	n_columns = context_columns(dataset_group, &columns, &relid, &item_column);
	it = JsonbIteratorInit(&context->root);
	while ((token = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		char	   *k;
		char	   *column = NULL;
		char	   *value_text;
		Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};
		Datum		args[3];
		bool		isnull;
		Datum	   *ids;
		Datum	   *lifts;
		int			n;
		int			n_lifts;
		float		unseen;

		if (token != WJB_KEY)
			continue;
		k = pnstrdup(key.val.string.val, key.val.string.len);
		JsonbIteratorNext(&it, &value, true);
		for (int c = 0; c < n_columns && column == NULL; c++)
			if (pg_strcasecmp(columns[c], k) == 0)
				column = columns[c];
		if (column == NULL)
		{
			StringInfoData list;

			initStringInfo(&list);
			for (int c = 0; c < n_columns; c++)
				appendStringInfo(&list, "%s%s", c ? ", " : "", columns[c]);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("context key \"%s\" is not a context column of dataset group \"%s\"", k, dataset_group),
					 n_columns > 0
					 ? errhint("Context columns are the metadata columns of the interactions dataset: %s.", list.data)
					 : errhint("Register context columns as metadata of the interactions dataset: personalize.create_dataset(..., 'interactions', ..., metadata => ARRAY['%s']).", k)));
		}
		value_text = context_value_text(&value, k);
		if (value_text == NULL || lm == NULL)
			continue;			/* null: no context; no model: only checked */

		args[0] = Int64GetDatum(version);
		args[1] = CStringGetTextDatum(column);
		args[2] = CStringGetTextDatum(value_text);
		if (CatalogExecute("SELECT item_ids, log_lifts, unseen_log_lift FROM personalize.model_context "
						   "WHERE solution_version = $1 AND context_column = $2 AND context_value = $3",
						   3, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the context model");
		if (SPI_processed == 0)
			continue;			/* a value not seen in training, or no context model */
		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
						  TEXTOID, -1, false, TYPALIGN_INT, &ids, NULL, &n);
		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)),
						  FLOAT4OID, sizeof(float4), true, TYPALIGN_INT, &lifts, NULL, &n_lifts);
		unseen = DatumGetFloat4(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
		if (n_lifts != n)
			elog(ERROR, "corrupt context model of solution version " INT64_FORMAT, version);

		if (log_lifts == NULL)
			log_lifts = palloc0(sizeof(float) * Max(n_items, 1));
		for (int32 i = 0; i < n_items; i++)
			log_lifts[i] += unseen;
		for (int j = 0; j < n; j++)
		{
			char	   *id = TextDatumGetCString(ids[j]);
			int32		index = IdMapLookup(&lm->items, id);

			CHECK_FOR_INTERRUPTS();
			if (index >= 0)
				log_lifts[index] += DatumGetFloat4(lifts[j]) - unseen;
			pfree(id);
		}
	}
	if (log_lifts == NULL || personalize_context_weight == 0.0)
		return;
	for (int32 i = 0; i < n_items; i++)
	{
		float		term = (float) personalize_context_weight * log_lifts[i];

		if (logits)
			scores[i] += term;
		else
			scores[i] *= expf(term);
	}
}
