/*-------------------------------------------------------------------------
 *
 * filter_values.c
 *	  The values a request binds to a filter placeholder.
 *
 * personalize._filter_values(filter_values jsonb, name text) returns the
 * text[] a $NAME placeholder stands for, read the way Personalize reads
 * filterValues: a JSON array gives its elements; a string holding quoted
 * values ("\"Comedy\",\"Drama\"", Personalize's own form, split by
 * FilterQuotedValues in filter_parse.c, which is fuzzed standalone) gives
 * each quoted value; any other string or scalar is one value.  A missing name
 * gives {NULL}, which matches nothing.
 *
 * Compiled filters call it once per execution (a scalar subquery), so it is
 * C: a SQL function with its pinned search_path cost more than the rest of
 * a filter batch.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/filter_values.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "filter_parse.h"


/*
 * The text of a JSON scalar or container, as ->> gives it; NULL for null.
 */
static text *
filter_value_text(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			return cstring_to_text_with_len(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return cstring_to_text(DatumGetCString(DirectFunctionCall1(numeric_out,
																	   NumericGetDatum(v->val.numeric))));
		case jbvBool:
			return cstring_to_text(v->val.boolean ? "true" : "false");
		case jbvBinary:
			return cstring_to_text(JsonbToCString(NULL, v->val.binary.data, v->val.binary.len));
		default:
			elog(ERROR, "unexpected JSON value type %d", (int) v->type);
	}
	return NULL;				/* keep compiler quiet */
}

/* The text[] being built. */
typedef struct ValueList
{
	Datum	   *values;
	bool	   *nulls;
	int			n;
	int			capacity;
} ValueList;

/* Append one value (or NULL) to the list. */
static void
filter_values_add(ValueList *list, text *value)
{
	if (list->n == list->capacity)
	{
		list->capacity *= 2;
		list->values = repalloc(list->values, sizeof(Datum) * list->capacity);
		list->nulls = repalloc(list->nulls, sizeof(bool) * list->capacity);
	}
	list->values[list->n] = PointerGetDatum(value);
	list->nulls[list->n] = (value == NULL);
	list->n++;
}

/* FilterQuotedValues callback: append one quoted value. */
static void
filter_values_emit(void *arg, const char *value, int len)
{
	filter_values_add((ValueList *) arg, cstring_to_text_with_len(value, len));
}

PG_FUNCTION_INFO_V1(personalize_filter_values);

/*
 * _filter_values(filter_values jsonb, name text) RETURNS text[]
 */
Datum
personalize_filter_values(PG_FUNCTION_ARGS)
{
	Jsonb	   *values_json = PG_GETARG_JSONB_P(0);
	text	   *name = PG_GETARG_TEXT_PP(1);
	JsonbValue	key;
	JsonbValue *v = NULL;
	ValueList	list;
	int			dims[1];
	int			lbs[1] = {1};

	list.capacity = 8;
	list.n = 0;
	list.values = palloc(sizeof(Datum) * list.capacity);
	list.nulls = palloc(sizeof(bool) * list.capacity);
	if (JB_ROOT_IS_OBJECT(values_json))
	{
		key.type = jbvString;
		key.val.string.val = VARDATA_ANY(name);
		key.val.string.len = VARSIZE_ANY_EXHDR(name);
		v = findJsonbValueFromContainer(&values_json->root, JB_FOBJECT, &key);
	}

	if (v == NULL)
		filter_values_add(&list, NULL);
	else if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	elem;
		JsonbIteratorToken token;

		while ((token = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
			if (token == WJB_ELEM)
				filter_values_add(&list, filter_value_text(&elem));
	}
	else if (v->type != jbvString ||
			 !FilterQuotedValues(v->val.string.val, v->val.string.len, filter_values_emit, &list))
		filter_values_add(&list, filter_value_text(v));

	if (list.n == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	dims[0] = list.n;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(list.values, list.nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}
