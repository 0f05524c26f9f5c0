/*-------------------------------------------------------------------------
 *
 * hyperparams.c
 *	  Read numeric hyperparameters from a version's resolved jsonb.
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
