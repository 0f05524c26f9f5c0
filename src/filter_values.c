/*-------------------------------------------------------------------------
 *
 * filter_values.c
 *	  The values a request binds to a filter placeholder.
 *
 * personalize._filter_values(filter_values jsonb, name text) returns the
 * text[] a $NAME placeholder stands for, read the way Personalize reads
 * filterValues: a JSON array gives its elements; a string holding quoted
 * values ("\"Comedy\",\"Drama\"", Personalize's own form) gives each
 * quoted value; any other string or scalar is one value.  A missing name
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

#include <ctype.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"


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

/* Append one value (or NULL) to the growing result. */
static void
filter_values_add(Datum **values, bool **nulls, int *n, int *capacity, text *value)
{
	if (*n == *capacity)
	{
		*capacity *= 2;
		*values = repalloc(*values, sizeof(Datum) * *capacity);
		*nulls = repalloc(*nulls, sizeof(bool) * *capacity);
	}
	(*values)[*n] = PointerGetDatum(value);
	(*nulls)[*n] = (value == NULL);
	(*n)++;
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
	int			capacity = 8;
	int			n = 0;
	Datum	   *values = palloc(sizeof(Datum) * capacity);
	bool	   *nulls = palloc(sizeof(bool) * capacity);
	int			dims[1];
	int			lbs[1] = {1};

	if (JB_ROOT_IS_OBJECT(values_json))
	{
		key.type = jbvString;
		key.val.string.val = VARDATA_ANY(name);
		key.val.string.len = VARSIZE_ANY_EXHDR(name);
		v = findJsonbValueFromContainer(&values_json->root, JB_FOBJECT, &key);
	}

	if (v == NULL)
		filter_values_add(&values, &nulls, &n, &capacity, NULL);
	else if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	elem;
		JsonbIteratorToken token;

		while ((token = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
			if (token == WJB_ELEM)
				filter_values_add(&values, &nulls, &n, &capacity, filter_value_text(&elem));
	}
	else if (v->type == jbvString)
	{
		const char *s = v->val.string.val;
		int			len = v->val.string.len;
		int			i = 0;

		while (i < len && isspace((unsigned char) s[i]))
			i++;
		if (i < len && s[i] == '"')
		{
			/* "a","b": each quoted run; an unclosed quote ends the list */
			for (;;)
			{
				int			open = i;
				int			close;

				while (open < len && s[open] != '"')
					open++;
				close = open + 1;
				while (close < len && s[close] != '"')
					close++;
				if (close >= len)
					break;
				filter_values_add(&values, &nulls, &n, &capacity,
								  cstring_to_text_with_len(s + open + 1, close - open - 1));
				i = close + 1;
			}
		}
		else
			filter_values_add(&values, &nulls, &n, &capacity, filter_value_text(v));
	}
	else
		filter_values_add(&values, &nulls, &n, &capacity, filter_value_text(v));

	if (n == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	dims[0] = n;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(values, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}
