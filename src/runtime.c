/*-------------------------------------------------------------------------
 *
 * runtime.c
 *	  The request path: campaign -> version -> cached model, the user's
 *	  current history folded in, scores over the whole catalogue.
 *
 * Per request this runs one query on the campaign catalog (a kept plan,
 * executed as the extension owner so that an application role needs only
 * EXECUTE on the runtime functions) and one on the user's interactions
 * (a kept plan, executed as the caller).  The model itself comes from the
 * per-backend cache (model.c).  Nothing here writes, so it runs on hot
 * standbys.  Callers must be connected to SPI.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/runtime.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "personalize.h"
#include "runtime.h"

static SPIPlanPtr campaign_plan = NULL;

/*
 * Resolve a campaign name to its serving version, recipe type and
 * interactions dataset, or raise undefined_object.
 */
void
RuntimeResolveCampaign(const char *campaign, CampaignTarget *target)
{
	Datum		values[1];
	OwnerSwitch sw;
	int			rc;
	bool		isnull;
	SPITupleTable *tt;
	char	   *dataset_group;

	BecomeExtensionOwner(&sw);
	if (campaign_plan == NULL)
	{
		Oid			argtypes[1] = {TEXTOID};
		SPIPlanPtr	plan;

		plan = SPI_prepare("SELECT c.solution_version, r.recipe_type, s.dataset_group, "
						   "d.relation::oid, d.user_column, d.item_column, d.time_column, "
						   "d.time_kind, d.event_type_column, d.event_value_column, v.created "
						   "FROM personalize.campaign c "
						   "JOIN personalize.solution_version v ON v.id = c.solution_version "
						   "JOIN personalize.solution s ON s.name = v.solution "
						   "JOIN personalize.recipe r ON r.name = s.recipe "
						   "LEFT JOIN personalize.dataset d ON d.dataset_group = s.dataset_group "
						   "AND d.dataset_type = 'interactions' "
						   "WHERE c.name = $1", 1, argtypes);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare campaign query: %s", SPI_result_code_string(SPI_result));
		campaign_plan = plan;
	}
	values[0] = CStringGetTextDatum(campaign);
	rc = SPI_execute_plan(campaign_plan, values, NULL, true, 1);
	RestoreUser(&sw);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read campaign: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("campaign \"%s\" does not exist", campaign),
				 errhint("See personalize.campaigns for the existing ones, or create one with personalize.create_campaign.")));
	tt = SPI_tuptable;
	target->campaign = pstrdup(campaign);
	target->version = DatumGetInt64(SPI_getbinval(tt->vals[0], tt->tupdesc, 1, &isnull));
	target->recipe_type = SPI_getvalue(tt->vals[0], tt->tupdesc, 2);
	dataset_group = SPI_getvalue(tt->vals[0], tt->tupdesc, 3);
	target->has_dataset = DatasetFromTuple(tt->vals[0], tt->tupdesc, 4, dataset_group,
										   &target->dataset);
	target->version_created = DatumGetTimestampTz(SPI_getbinval(tt->vals[0], tt->tupdesc, 11, &isnull));
}

/*
 * Raise an error unless the campaign's recipe type is one of the NULL-
 * terminated types that function serves; the hint names the function that
 * serves the campaign.
 */
void
RuntimeRequireRecipeType(const CampaignTarget *target, const char *function, ...)
{
	va_list		types;
	const char *type;
	const char *hint;
	const char *c = target->campaign;

	va_start(types, function);
	while ((type = va_arg(types, const char *)) != NULL)
		if (strcmp(target->recipe_type, type) == 0)
		{
			va_end(types);
			return;
		}
	va_end(types);

	if (strcmp(target->recipe_type, "RELATED_ITEMS") == 0)
		hint = psprintf("Call personalize.related_items('%s', item_id) or personalize.recommend('%s', item_id => ...).", c, c);
	else if (strcmp(target->recipe_type, "USER_PERSONALIZATION") == 0)
		hint = psprintf("Call personalize.recommend('%s', user_id) or personalize.personalized_rank('%s', user_id, items).", c, c);
	else if (strcmp(target->recipe_type, "PERSONALIZED_RANKING") == 0)
		hint = psprintf("Call personalize.personalized_rank('%s', user_id, items).", c);
	else if (strcmp(target->recipe_type, "POPULAR_ITEMS") == 0)
		hint = psprintf("Call personalize.recommend('%s'), with user_id => ... to leave out what the user has seen.", c);
	else
		hint = psprintf("Campaign \"%s\" cannot be served by this version of personalize.", c);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("campaign \"%s\" serves a %s recipe, which %s does not accept",
					c, target->recipe_type, function),
			 errhint("%s", hint)));
}

/*
 * Score the whole catalogue for user_id.  The user's most recent
 * personalize.max_history events are folded into the model, each weighted
 * by its recency (the recipe's half-life, in events); every item of
 * the whole history is listed in out->seen for exclusion.  Items unknown
 * to the model are ignored; a user with no known history gets the
 * recipe's cold-start (popularity) scores.
 */
void
RuntimeScoreUser(const CampaignTarget *target, const char *user_id, UserScores *out)
{
	LoadedModel *lm = ModelGet(target->version, target->version_created);
	char	  **events = NULL;
	int			n_events = 0;
	float	   *counts;

	out->model = lm;
	out->n_history = 0;
	out->n_seen = 0;
	if (target->has_dataset)
		n_events = DatasetReadHistory(&target->dataset, user_id, 0, &events);
	out->history = palloc(sizeof(int32) * Max(n_events, 1));
	out->seen = palloc(sizeof(int32) * Max(n_events, 1));
	counts = palloc(sizeof(float) * Max(n_events, 1));
	for (int e = 0; e < n_events; e++)
	{
		int32		index = IdMapLookup(&lm->items, events[e]);
		int			h;

		if (index < 0)
			continue;
		out->seen[out->n_seen++] = index;
		if (e >= personalize_max_history)
			continue;
		for (h = 0; h < out->n_history; h++)
			if (out->history[h] == index)
				break;
		if (h == out->n_history)
		{
			out->history[out->n_history] = index;
			counts[out->n_history++] = 0.0f;
		}
		counts[h] += RecipeRecencyWeight(&lm->model, e);
	}

	out->scores = palloc(sizeof(float) * Max(lm->model.n_items, 1));
	out->logits = lm->recipe->score(&lm->model, out->n_history, out->history,
									counts, out->scores);
}
