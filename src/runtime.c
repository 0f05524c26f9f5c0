/*-------------------------------------------------------------------------
 *
 * runtime.c
 *	  The request path: campaign -> version -> cached model, the user's
 *	  current history folded in, scores over the whole catalogue.
 *
 * Per request this runs one query on the campaign catalog (a kept plan,
 * executed as the extension owner so that an application role needs only
 * EXECUTE on the runtime functions; its answer kept across statements
 * while provably fresh, campaign_cache.c) and one on the user's interactions
 * (a kept plan, executed as the caller).  The model itself comes from the
 * per-backend cache (model.c), with a reusable score buffer; recipes that
 * fold the user into a k-vector (ALS) score only the items a request
 * needs.  Nothing here writes, so it runs on hot
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

#include "blas.h"
#include "campaign_cache.h"
#include "compact.h"
#include "dataset.h"
#include "personalize.h"
#include "exploration.h"
#include "metadata.h"
#include "runtime.h"
#include "scoring_helper.h"


/* Columns both target queries return, in this order. */
#define TARGET_COLUMNS "r.recipe_type, s.dataset_group, d.relation::oid, d.user_column, " \
	"d.item_column, d.time_column, d.time_kind, d.event_type_column, d.event_value_column, " \
	"v.created, v.id "
#define TARGET_JOINS "JOIN personalize.solution s ON s.name = v.solution " \
	"JOIN personalize.recipe r ON r.name = s.recipe " \
	"LEFT JOIN personalize.dataset d ON d.dataset_group = s.dataset_group " \
	"AND d.dataset_type = 'interactions' "

static SPIPlanPtr campaign_plan = NULL;
static SPIPlanPtr version_plan = NULL;

/*
 * Run a kept one-parameter target query as the extension owner, preparing
 * it on first use; returns whether it found a row.
 */
static bool
runtime_target_query(SPIPlanPtr *plan, const char *sql, Oid argtype, Datum arg)
{
	OwnerSwitch sw;
	int			rc;

	BecomeExtensionOwner(&sw);
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, 1, &argtype);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare target query: %s", SPI_result_code_string(SPI_result));
		*plan = p;
	}
	rc = SPI_execute_plan(*plan, &arg, NULL, true, 1);
	RestoreUser(&sw);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read campaign: %s", SPI_result_code_string(rc));
	return SPI_processed == 1;
}

/*
 * Fill target from the row of a target query.
 */
static void
runtime_fill_target(CampaignTarget *target)
{
	SPITupleTable *tt = SPI_tuptable;
	bool		isnull;
	char	   *dataset_group = SPI_getvalue(tt->vals[0], tt->tupdesc, 2);

	target->recipe_type = SPI_getvalue(tt->vals[0], tt->tupdesc, 1);
	target->dataset_group = dataset_group;
	target->has_dataset = DatasetFromTuple(tt->vals[0], tt->tupdesc, 3, dataset_group,
										   &target->dataset);
	target->version_created = DatumGetTimestampTz(SPI_getbinval(tt->vals[0], tt->tupdesc, 10, &isnull));
	target->version = DatumGetInt64(SPI_getbinval(tt->vals[0], tt->tupdesc, 11, &isnull));
}

/*
 * Every answer (neighbours, popularity, segments, not only a user's
 * history) is derived from the interactions: serve only who may read them.
 * Checked on every call, the target read or kept (campaign_cache.c).
 */
static void
runtime_check_readable(const CampaignTarget *target)
{
	if (target->has_dataset)
		DatasetCheckReadable(&target->dataset);
}

/*
 * Resolve a campaign name to its serving version, recipe type and
 * interactions dataset, or raise undefined_object: kept from an earlier
 * statement while provably fresh (campaign_cache.c), else read.
 */
void
RuntimeResolveCampaign(const char *campaign, CampaignTarget *target)
{
	bool		isnull;
	Datum		d;

	if (CampaignCacheLookup(campaign, target))
	{
		runtime_check_readable(target);
		return;
	}
	if (!runtime_target_query(&campaign_plan,
							  "SELECT " TARGET_COLUMNS ", "
							  "(c.config->>'exploration_weight')::float8, "
							  "(c.config->>'exploration_item_age_cut_off')::float8 "
							  "FROM personalize.campaign c "
							  "JOIN personalize.solution_version v ON v.id = c.solution_version "
							  TARGET_JOINS "WHERE c.name = $1",
							  TEXTOID, CStringGetTextDatum(campaign)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("campaign \"%s\" does not exist", campaign),
				 errhint("See personalize.campaigns for the existing ones, or create one with personalize.create_campaign.")));
	target->campaign = pstrdup(campaign);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 12, &isnull);
	target->exploration_weight = isnull ? EXPLORATION_DEFAULT_WEIGHT : DatumGetFloat8(d);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 13, &isnull);
	target->exploration_age_cut_off = isnull ? EXPLORATION_DEFAULT_AGE_CUT_OFF : DatumGetFloat8(d);
	runtime_fill_target(target);
	CampaignCacheStore(target);
	runtime_check_readable(target);
}

/*
 * Resolve an ACTIVE solution version directly (batch jobs), or raise an
 * error.  Messages name it "solution version N".
 */
void
RuntimeResolveVersion(int64 version, CampaignTarget *target)
{
	if (!runtime_target_query(&version_plan,
							  "SELECT " TARGET_COLUMNS "FROM personalize.solution_version v "
							  TARGET_JOINS "WHERE v.id = $1 AND v.status = 'ACTIVE'",
							  INT8OID, Int64GetDatum(version)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("solution version " INT64_FORMAT " does not exist or is not active", version),
				 errhint("See personalize.solution_versions.")));
	target->campaign = psprintf("solution version " INT64_FORMAT, version);
	target->exploration_weight = 0.0;	/* batch jobs rank by relevance */
	target->exploration_age_cut_off = EXPLORATION_DEFAULT_AGE_CUT_OFF;
	runtime_fill_target(target);
	runtime_check_readable(target);
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
	else if (strcmp(target->recipe_type, "USER_SEGMENTATION") == 0)
		hint = psprintf("Call personalize.user_segment('%s', item_id), with an attribute predicate as item_id for item-attribute-affinity.", c);
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
 * The compact copy of lm's item factors, built on first use (compact.c).
 */
static const CompactFactors *
runtime_compact_factors(LoadedModel *lm)
{
	if (lm->compact == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(lm->context);

		lm->compact = CompactBuild(lm->model.factors, lm->model.n_items, lm->model.k);
		MemoryContextSwitchTo(old);
		elog(DEBUG1, "personalize: compact item factors of solution version " INT64_FORMAT " built (%d items)",
			 lm->version, lm->model.n_items);
	}
	return lm->compact;
}

/*
 * The model's items by integer id (model index + 1; 0: not in the model),
 * built on first use when every item id is the text of a non-negative
 * integer (as an integer column's ids are) and the largest is not far
 * above the catalogue's size; NULL otherwise.  A history read as integers
 * is then mapped with no text made or hashed (at 27k items that was 6% of
 * a recommend; at a million, with 2,000-event histories, more).
 */
#define RUNTIME_ITEM_BY_INT_SLACK 4		/* ids up to this many times n_items */

static const int32 *
runtime_item_by_int(LoadedModel *lm)
{
	int64		largest = -1;

	if (lm->item_by_int_built)
		return lm->item_by_int;
	lm->item_by_int_built = true;
	for (int32 i = 0; i < lm->items.n; i++)
	{
		int64		value;
		char		canonical[MAXINT8LEN + 1];

		if (!DatasetIdAsInt64(lm->items.ids[i], &value) || value < 0 ||
			value >= (int64) RUNTIME_ITEM_BY_INT_SLACK * lm->items.n + 1024)
			return NULL;
		pg_lltoa(value, canonical);
		if (strcmp(canonical, lm->items.ids[i]) != 0)
			return NULL;		/* "007", "+7": not the text an integer column gives */
		largest = Max(largest, value);
	}
	if (largest < 0)
		return NULL;
	lm->item_by_int_size = largest + 1;
	lm->item_by_int = MemoryContextAllocHuge(lm->context, sizeof(int32) * lm->item_by_int_size);
	memset(lm->item_by_int, 0, sizeof(int32) * lm->item_by_int_size);
	for (int32 i = 0; i < lm->items.n; i++)
		lm->item_by_int[pg_strtoint64(lm->items.ids[i])] = i + 1;
	return lm->item_by_int;
}

/*
 * The recency weights of an event with 0, 1, ... n - 1 newer events, kept
 * with the model: the same values as RecipeRecencyWeight, without a pow()
 * per event of every request.
 */
static const float *
runtime_recency_weights(LoadedModel *lm, int n)
{
	if (lm->n_recency_weights < n)
	{
		float	   *weights = MemoryContextAlloc(lm->context, sizeof(float) * n);

		for (int e = 0; e < n; e++)
			weights[e] = RecipeRecencyWeight(&lm->model, e);
		if (lm->recency_weights != NULL)
			pfree(lm->recency_weights);
		lm->recency_weights = weights;
		lm->n_recency_weights = n;
	}
	return lm->recency_weights;
}

/*
 * Score the catalogue for user_id: every item, or when n_wanted >= 0 at
 * least the n_wanted model indexes of wanted (out->scores of the other
 * items are then undefined).  The user's most recent
 * personalize.max_history events are folded into the model, each weighted
 * by its recency (the recipe's half-life, in events); every item of
 * the whole history (recommend's; a ranking of given items reads only the
 * events it folds in) is listed in out->seen for exclusion.  Items unknown
 * to the model are ignored; a user with no known history gets the
 * recipe's cold-start (popularity) scores.
 */
static void
runtime_score(const CampaignTarget *target, const char *user_id,
			  int n_wanted, const int32 *wanted, bool compact_ok, UserScores *out)
{
	LoadedModel *lm = ModelGet(target->version, target->version_created);
	const RecipeModel *model = &lm->model;
	const int32 *item_by_int = runtime_item_by_int(lm);
	const float *recency;
	char	  **events = NULL;
	int64	   *int_events = NULL;
	int			n_events = 0;
	float	   *counts;
	int32	   *indexes;

	out->model = lm;
	out->approximate = NULL;
	out->n_history = 0;
	out->n_seen = 0;
	/*
	 * recommend() excludes every item of the whole history; a ranking of
	 * given items (n_wanted >= 0) excludes none, so it reads only the
	 * events it folds in.
	 */
	if (target->has_dataset)
		n_events = DatasetReadHistory(&target->dataset, user_id,
									  n_wanted >= 0 ? personalize_max_history : 0, &events,
									  item_by_int != NULL ? &int_events : NULL);
	out->history = palloc(sizeof(int32) * Max(n_events, 1));
	out->seen = palloc(sizeof(int32) * Max(n_events, 1));
	counts = palloc(sizeof(float) * Max(n_events, 1));
	indexes = palloc(sizeof(int32) * Max(n_events, 1));
	if (int_events != NULL)
		for (int e = 0; e < n_events; e++)
			indexes[e] = int_events[e] >= 0 && int_events[e] < lm->item_by_int_size ?
				item_by_int[int_events[e]] - 1 : -1;
	else
		IdMapLookupMany(&lm->items, n_events, events, indexes);
	recency = runtime_recency_weights(lm, Max(Min(n_events, personalize_max_history), 1));
	for (int e = 0; e < n_events; e++)
	{
		int32		index = indexes[e];
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
		counts[h] += recency[e];
	}

	/* the model's reusable buffer: no catalogue-sized allocation per request */
	out->scores = ModelScoresBuffer(lm);
	if (out->n_history == 0 && model->user_space != NULL)
	{
		/* no history the model knows: the user's metadata, when there is some */
		int32	   *features;
		int			n = MetadataReadUser(target->dataset_group, model->user_space,
										 user_id, &features);

		if (n > 0)
		{
			MetadataScoreUser(model, n, features, out->scores);
			out->logits = true;
			return;
		}
	}
	if (lm->recipe->fold_in != NULL && out->n_history > 0)
	{
		/* logits are x . y_i: compute those asked for */
		float	   *x = palloc(sizeof(float) * model->k);

		if (lm->recipe->fold_in(model, out->n_history, out->history, counts, x))
		{
			if (n_wanted < 0 && compact_ok && personalize_compact_scoring &&
				model->n_items >= COMPACT_MIN_ITEMS && model->k <= COMPACT_MAX_FACTORS)
			{
				/* the compact scratch space after the scores (ModelScoresBuffer) */
				out->approximate = CompactBegin(runtime_compact_factors(lm), model->factors, x,
												ModelScoresScratch(lm, out->scores));
				ScoringHelperScore(out->approximate, lm->shared_segment, out->scores,
								   ModelScoresSegment(lm, out->scores));
			}
			else if (n_wanted < 0)
				BlasGemv(model->factors, model->n_items, model->k, x, out->scores);
			else
				for (int w = 0; w < n_wanted; w++)
					out->scores[wanted[w]] =
						BlasDot(model->factors + (Size) wanted[w] * model->k, x, model->k);
			out->logits = true;
			return;
		}
	}
	out->logits = lm->recipe->score(model, out->n_history, out->history,
									counts, out->scores);
}

/*
 * Score the whole catalogue for user_id (see runtime_score).  With
 * compact_ok and personalize.compact_scoring on, a folded-in user's scores
 * are compact logits (out->approximate): the caller ranks them with
 * CompactTopK, after changing them only by setting -Infinity or by
 * exploration's bonus (which the query records: CompactTopK adds it again
 * to the items it makes exact).
 */
void
RuntimeScoreUser(const CampaignTarget *target, const char *user_id, bool compact_ok,
				 UserScores *out)
{
	runtime_score(target, user_id, -1, NULL, compact_ok, out);
}

/*
 * Score for user_id the n model indexes of items (personalized_rank): only
 * their entries of out->scores are set when the recipe folds the user in,
 * so a list of 100 items costs 100 dot products, not a catalogue's.
 */
void
RuntimeScoreUserItems(const CampaignTarget *target, const char *user_id,
					  int n, const int32 *items, UserScores *out)
{
	runtime_score(target, user_id, n, items, false, out);
}
