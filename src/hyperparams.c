/*-------------------------------------------------------------------------
 *
 * hyperparams.c
 *	  Read numeric hyperparameters from a version's resolved jsonb, and
 *	  set one (hyperparameter optimisation builds its trials so).
 *
 * Names, types and ranges are validated in SQL when the solution is
 * created (personalize._resolve_hyperparameters), so here a missing or
 * non-numeric key is a can't-happen case answered with the fallback.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/hyperparams.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "recipe.h"

/*
 * Return hyperparameter name as a double, or fallback when absent.
 */
double
HyperparamNumber(Jsonb *hyperparameters, const char *name, double fallback)
{
	JsonbValue	key;
	JsonbValue *value;

	if (hyperparameters == NULL || !JB_ROOT_IS_OBJECT(hyperparameters))
		return fallback;
	key.type = jbvString;
	key.val.string.val = (char *) name;
	key.val.string.len = strlen(name);
	value = findJsonbValueFromContainer(&hyperparameters->root, JB_FOBJECT, &key);
	if (value == NULL || value->type != jbvNumeric)
		return fallback;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											  NumericGetDatum(value->val.numeric)));
}

/*
 * Return hyperparameter name as a Jsonb of its own when it is a non-empty
 * object (event_weights), else NULL.
 */
Jsonb *
HyperparamObject(Jsonb *hyperparameters, const char *name)
{
	JsonbValue	key;
	JsonbValue *value;

	if (hyperparameters == NULL || !JB_ROOT_IS_OBJECT(hyperparameters))
		return NULL;
	key.type = jbvString;
	key.val.string.val = (char *) name;
	key.val.string.len = strlen(name);
	value = findJsonbValueFromContainer(&hyperparameters->root, JB_FOBJECT, &key);
	if (value == NULL || value->type != jbvBinary ||
		!JsonContainerIsObject(value->val.binary.data) ||
		JsonContainerSize(value->val.binary.data) == 0)
		return NULL;
	return JsonbValueToJsonb(value);
}

/*
 * Return a copy of hyperparameters with the top-level key name set to
 * value (an integer when integer is true).  Other members, nested objects
 * such as event_weights included, are copied as they are.
 */
Jsonb *
HyperparamsWith(Jsonb *hyperparameters, const char *name, double value, bool integer)
{
	JsonbParseState *state = NULL;
	JsonbIterator *it = JsonbIteratorInit(&hyperparameters->root);
	JsonbIteratorToken token;
	JsonbValue	v;
	JsonbValue *result = NULL;
	int			level = 0;
	bool		replace = false;
	size_t		name_len = strlen(name);

	while ((token = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (token == WJB_BEGIN_OBJECT || token == WJB_BEGIN_ARRAY)
			level++;
		else if (token == WJB_END_OBJECT || token == WJB_END_ARRAY)
			level--;
		if (token == WJB_KEY)
			replace = level == 1 && v.val.string.len == name_len &&
				memcmp(v.val.string.val, name, name_len) == 0;
		else if (token == WJB_VALUE && replace)
		{
			v.type = jbvNumeric;
			if (integer)
				v.val.numeric = int64_to_numeric((int64) value);
			else
				v.val.numeric = DatumGetNumeric(DirectFunctionCall1(float8_numeric,
																	Float8GetDatum(value)));
			replace = false;
		}
		result = pushJsonbValue(&state, token, token < WJB_BEGIN_ARRAY ? &v : NULL);
	}
	return JsonbValueToJsonb(result);
}
