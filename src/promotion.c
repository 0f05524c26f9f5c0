/*-------------------------------------------------------------------------
 *
 * promotion.c
 *	  The promotion argument of recommend() and get_recommendations().
 *
 * A promotion is Amazon Personalize's Promotion, as jsonb:
 *
 *     {"name": "in-house", "filter": "in_house", "filter_values": {...},
 *      "percent": 20}
 *
 * ("filterValues" and "percentPromotedItems", Personalize's own spellings,
 * are accepted too).  It reserves ceil(percent * num_results / 100) of the
 * slots for the best items, as the model ranks them, that pass the
 * promotion filter; the request filter applies to the other slots only, as
 * in Personalize.  recommend.c finds both lists; this file reads and checks
 * the argument and says which positions the promoted items take.
 *
 * Personalize places promoted items at random positions among the others,
 * in their own order.  The positions here are drawn from a generator
 * seeded with the request (campaign, user or item, promotion), so that one
 * request always gets the same answer: recommend() is STABLE, and a page
 * that reloads does not reshuffle.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/promotion.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "promotion.h"

#define PROMOTION_KEYS "name, filter, filter_values (or filterValues), percent (or percentPromotedItems)"

/*
 * Raise the error of a malformed promotion argument.
 */
static void
promotion_error(const char *message, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("promotion %s", message),
			 errhint("%s", hint)));
}

/*
 * The text of a JSON string value, or an error naming key.
 */
static char *
promotion_string(JsonbValue *v, const char *key)
{
	if (v->type != jbvString)
		promotion_error(psprintf("key \"%s\" must be a string", key),
						"Pass for example {\"name\": \"in-house\", \"filter\": \"in_house\", \"percent\": 20}.");
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * Read and check a promotion argument (a JSON object) into out.  The
 * filter itself is looked up by the caller, against the campaign's
 * dataset group.
 */
void
PromotionRead(Jsonb *arg, Promotion *out)
{
	JsonbIterator *it;
	JsonbIteratorToken token;
	JsonbValue	key;
	JsonbValue	value;
	bool		has_percent = false;

	memset(out, 0, sizeof(Promotion));
	if (!JB_ROOT_IS_OBJECT(arg))
		promotion_error("must be a JSON object",
						"Pass for example {\"name\": \"in-house\", \"filter\": \"in_house\", \"percent\": 20}.");

	it = JsonbIteratorInit(&arg->root);
	while ((token = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		char	   *k;

		if (token != WJB_KEY)
			continue;
		k = pnstrdup(key.val.string.val, key.val.string.len);
		token = JsonbIteratorNext(&it, &value, true);
		if (value.type == jbvNull)
			continue;			/* an absent key, as Personalize reads null */
		if (strcmp(k, "name") == 0)
			out->name = promotion_string(&value, k);
		else if (strcmp(k, "filter") == 0)
			out->filter = promotion_string(&value, k);
		else if (strcmp(k, "filter_values") == 0 || strcmp(k, "filterValues") == 0)
		{
			if (value.type != jbvBinary || !JsonContainerIsObject(value.val.binary.data))
				promotion_error(psprintf("key \"%s\" must be a JSON object", k),
								"Pass the promotion filter's placeholder values as {\"NAME\": value}.");
			out->filter_values = JsonbValueToJsonb(&value);
		}
		else if (strcmp(k, "percent") == 0 || strcmp(k, "percentPromotedItems") == 0)
		{
			double		percent = 0.0;

			if (value.type == jbvNumeric)
				percent = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
															 NumericGetDatum(value.val.numeric)));
			if (value.type != jbvNumeric || percent != floor(percent) ||
				percent < 1 || percent > 100)
				promotion_error(psprintf("key \"%s\" must be a whole number from 1 to 100", k),
								"Pass the percentage of the results to promote, e.g. \"percent\": 20.");
			out->percent = (int) percent;
			has_percent = true;
		}
		else
			promotion_error(psprintf("has an unknown key \"%s\"", k),
							"Valid keys are " PROMOTION_KEYS ".");
	}
	if (out->filter == NULL)
		promotion_error("needs a filter",
						"Name the filter that promoted items pass, e.g. {\"filter\": \"in_house\", \"percent\": 20}; see personalize.filters.");
	if (!has_percent)
		promotion_error("needs a percent",
						"Pass the percentage of the results to promote, 1 to 100, e.g. \"percent\": 20.");
	if (out->name == NULL)
		out->name = out->filter;
}

/*
 * The number of slots a promotion reserves among num_results: its percent
 * rounded up, so that every promotion gets at least one.
 */
int
PromotionSlots(const Promotion *promotion, int num_results)
{
	return (promotion->percent * num_results + 99) / 100;
}

/*
 * Choose n_promoted of the n_total positions of the result for the
 * promoted items, uniformly, from a generator seeded with seed; set
 * promoted[p] for each.
 */
void
PromotionPositions(const char *seed, int n_total, int n_promoted, bool *promoted)
{
	pg_prng_state prng;
	int		   *order = palloc(sizeof(int) * Max(n_total, 1));

	pg_prng_seed(&prng, hash_bytes_extended((const unsigned char *) seed, strlen(seed), 0));
	for (int p = 0; p < n_total; p++)
	{
		order[p] = p;
		promoted[p] = false;
	}
	/* the first n_promoted draws of a Fisher-Yates shuffle */
	for (int p = 0; p < n_promoted && p < n_total; p++)
	{
		int			j = p + (int) pg_prng_uint64_range(&prng, 0, n_total - p - 1);
		int			swap = order[p];

		order[p] = order[j];
		order[j] = swap;
		promoted[order[p]] = true;
	}
	pfree(order);
}
