/*-------------------------------------------------------------------------
 *
 * recommend.c
 *	  The SQL-callable runtime functions recommend() and
 *	  personalized_rank().
 *
 * Both check their arguments, resolve the campaign, score the user
 * (runtime.c) and return rows in materialize mode.  User-personalization
 * scores are a softmax over the candidate items (they sum to 1, as in
 * Personalize); recipes whose scores are already normalised return them
 * as they are.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/recommend.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"

#include "personalize.h"
#include "runtime.h"
#include "topk.h"

#define RECOMMEND_COLUMNS 2
#define MAX_RANK_ITEMS 500

/*
 * Raise an error for a NULL argument that the request needs.
 */
static void
require_argument(bool isnull, const char *argument, const char *hint)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s cannot be null", argument),
				 hint ? errhint("%s", hint) : 0));
}

/*
 * Reject arguments that belong to features not implemented yet, rather
 * than ignore them and answer as if they were honoured.
 */
static void
reject_filter(FunctionCallInfo fcinfo, int filter_arg, int values_arg)
{
	if (!PG_ARGISNULL(filter_arg) || !PG_ARGISNULL(values_arg))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("filters are not supported yet"),
				 errhint("Filter the result in SQL, e.g. SELECT ... FROM personalize.recommend(...) r WHERE ...; "
						 "ask for more results to leave enough after filtering.")));
}

/*
 * Append one result row.
 */
static void
put_row(ReturnSetInfo *rsinfo, const char *item_id, bool has_score, double score)
{
	Datum		values[RECOMMEND_COLUMNS];
	bool		nulls[RECOMMEND_COLUMNS] = {false, false};

	Assert(rsinfo->setDesc->natts == RECOMMEND_COLUMNS);
	values[0] = CStringGetTextDatum(item_id);
	values[1] = Float8GetDatum(score);
	nulls[1] = !has_score;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * Return the num_results items related to item_id, best first: the model's
 * neighbour list, then popular items (score 0) when it is shorter.  An
 * item unknown to the model gets popular items scored by their share of
 * users.
 */
static void
put_related(ReturnSetInfo *rsinfo, const CampaignTarget *target,
			const char *item_id, int num_results)
{
	LoadedModel *lm = ModelGet(target->version, target->version_created);
	const RecipeModel *model = &lm->model;
	int32		item = IdMapLookup(&lm->items, item_id);
	float	   *fill = palloc(sizeof(float) * Max(model->n_items, 1));
	int32	   *top = palloc(sizeof(int32) * num_results);
	int			emitted = 0;
	int			n_fill;

	RecipeScorePopularity(model, fill);
	if (item >= 0)
	{
		fill[item] = -INFINITY;
		if (model->neighbor_ptr != NULL)
			for (int32 e = model->neighbor_ptr[item];
				 e < model->neighbor_ptr[item + 1] && emitted < num_results; e++)
			{
				put_row(rsinfo, lm->items.ids[model->neighbors[e]], true, model->neighbor_scores[e]);
				fill[model->neighbors[e]] = -INFINITY;
				emitted++;
			}
	}
	n_fill = TopK(fill, model->n_items, num_results - emitted, top);
	for (int r = 0; r < n_fill; r++)
		put_row(rsinfo, lm->items.ids[top[r]], true, item >= 0 ? 0.0 : fill[top[r]]);
}

/* A live trending item: its id and trend. */
typedef struct TrendingItem
{
	char	   *id;
	float		score;
} TrendingItem;

static int
trending_item_cmp(const void *a, const void *b)
{
	const TrendingItem *x = a;
	const TrendingItem *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(x->id, y->id);
}

/*
 * Return the num_results items of a POPULAR_ITEMS campaign: the items
 * growing fastest in the live interactions (latest window against the one
 * before, up to now), then the model's trend snapshot and popularity.
 * With user_id, items in the user's history are left out.
 */
static void
put_trending(ReturnSetInfo *rsinfo, const CampaignTarget *target,
			 const char *user_id, int num_results)
{
	LoadedModel *lm = ModelGet(target->version, target->version_created);
	const RecipeModel *model = &lm->model;
	IdMap		used;
	char	  **ids = NULL;
	double	   *recent = NULL;
	double	   *earlier = NULL;
	int			n_live = 0;
	TrendingItem *live;
	float	   *fill;
	int32	   *top = palloc(sizeof(int32) * num_results);
	int			emitted = 0;
	int			n_fill;

	IdMapInit(&used, 64);
	if (user_id != NULL && target->has_dataset)
	{
		char	  **history;
		int			n = DatasetReadHistory(&target->dataset, user_id, 0, &history);

		for (int h = 0; h < n; h++)
			IdMapIntern(&used, history[h]);
	}
	if (target->has_dataset)
		n_live = DatasetReadTrends(&target->dataset, model->trend_window, &ids, &recent, &earlier);
	live = palloc(sizeof(TrendingItem) * Max(n_live, 1));
	for (int i = 0; i < n_live; i++)
	{
		live[i].id = ids[i];
		live[i].score = TrendScore(recent[i], earlier[i]);
	}
	qsort(live, n_live, sizeof(TrendingItem), trending_item_cmp);
	for (int i = 0; i < n_live && emitted < num_results && live[i].score > 0; i++)
	{
		if (IdMapLookup(&used, live[i].id) >= 0)
			continue;
		IdMapIntern(&used, live[i].id);
		put_row(rsinfo, live[i].id, true, live[i].score);
		emitted++;
	}

	fill = palloc(sizeof(float) * Max(model->n_items, 1));
	lm->recipe->score(model, 0, NULL, NULL, fill);
	for (int32 i = 0; i < model->n_items; i++)
		if (IdMapLookup(&used, lm->items.ids[i]) >= 0)
			fill[i] = -INFINITY;
	n_fill = TopK(fill, model->n_items, num_results - emitted, top);
	for (int r = 0; r < n_fill; r++)
		put_row(rsinfo, lm->items.ids[top[r]], true, Max(model->factors ? model->factors[top[r]] : 0.0f, 0.0f));
}

/*
 * Check num_results against 1..personalize.max_results.
 */
static void
check_num_results(int32 num_results, const char *campaign)
{
	if (num_results < 1 || num_results > personalize_max_results)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("num_results %d is out of range for campaign \"%s\"", num_results, campaign),
				 errhint("Valid values are 1 to %d; personalize.max_results raises the limit.",
						 personalize_max_results)));
}

/*
 * Return the num_results recommendations of target for its recipe type:
 * related items of item_id, trending items (user_id optional), or the
 * user's best items (user_id required).  Callers connect to SPI.
 */
static void
recommend_target(ReturnSetInfo *rsinfo, const CampaignTarget *target,
				 const char *user_id, const char *item_id, int num_results)
{
	const char *campaign = target->campaign;
	UserScores	us;
	int32	   *top;
	int			n_top;
	double		denominator = 1.0;
	float		max_score = 0.0f;

	if (strcmp(target->recipe_type, "RELATED_ITEMS") == 0)
	{
		require_argument(item_id == NULL, "item_id",
						 psprintf("Campaign \"%s\" recommends items related to an item: pass item_id => 'id'.", campaign));
		put_related(rsinfo, target, item_id, num_results);
		return;
	}
	if (item_id != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item_id is not used by campaign \"%s\", which serves a %s recipe",
						campaign, target->recipe_type),
				 errhint("Omit item_id; it applies to RELATED_ITEMS campaigns.")));
	if (strcmp(target->recipe_type, "POPULAR_ITEMS") == 0)
	{
		put_trending(rsinfo, target, user_id, num_results);
		return;
	}
	RuntimeRequireRecipeType(target, "recommend", "USER_PERSONALIZATION", NULL);
	require_argument(user_id == NULL, "user_id",
					 psprintf("Campaign \"%s\" recommends for a user: pass user_id => 'id'.", campaign));

	RuntimeScoreUser(target, user_id, &us);
	for (int h = 0; h < us.n_seen; h++)
		us.scores[us.seen[h]] = -INFINITY;
	top = palloc(sizeof(int32) * num_results);
	n_top = TopK(us.scores, us.model->model.n_items, num_results, top);
	if (us.logits && n_top > 0)
	{
		max_score = us.scores[top[0]];
		denominator = SoftmaxDenominator(us.scores, us.model->model.n_items, max_score);
	}
	for (int r = 0; r < n_top; r++)
	{
		float		s = us.scores[top[r]];

		put_row(rsinfo, us.model->items.ids[top[r]], true,
				us.logits ? exp((double) s - max_score) / denominator : (double) s);
	}
}

/*
 * The text argument n, or NULL.
 */
static char *
text_argument_or_null(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

PG_FUNCTION_INFO_V1(personalize_recommend);

/*
 * recommend(campaign text, user_id text DEFAULT NULL, num_results int DEFAULT 25,
 *           item_id text DEFAULT NULL, filter text DEFAULT NULL,
 *           filter_values jsonb DEFAULT NULL, context jsonb DEFAULT NULL)
 *   RETURNS TABLE(item_id text, score float8)
 *
 * The num_results best items for the user, best first, excluding items in
 * the user's current history.  An unknown user gets popular items.  For a
 * RELATED_ITEMS campaign, the items related to item_id (as related_items);
 * for a POPULAR_ITEMS campaign, the trending items (user_id optional).
 * context is accepted and has no effect on the recipes available yet.
 */
Datum
personalize_recommend(PG_FUNCTION_ARGS)
{
	char	   *campaign;
	int32		num_results;
	CampaignTarget target;

	require_argument(PG_ARGISNULL(0), "campaign", NULL);
	require_argument(PG_ARGISNULL(2), "num_results", "Pass a number of results from 1 to personalize.max_results (500 by default).");
	campaign = text_to_cstring(PG_GETARG_TEXT_PP(0));
	num_results = PG_GETARG_INT32(2);
	check_num_results(num_results, campaign);
	reject_filter(fcinfo, 4, 5);

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	RuntimeResolveCampaign(campaign, &target);
	recommend_target((ReturnSetInfo *) fcinfo->resultinfo, &target,
					 text_argument_or_null(fcinfo, 1), text_argument_or_null(fcinfo, 3), num_results);
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(personalize_recommend_version);

/*
 * _recommend_version(solution_version bigint, user_id text, item_id text,
 *                    num_results int) RETURNS TABLE(item_id text, score float8)
 *
 * recommend() for an ACTIVE solution version rather than a campaign; used
 * by batch inference jobs.
 */
Datum
personalize_recommend_version(PG_FUNCTION_ARGS)
{
	int64		version;
	int32		num_results;
	CampaignTarget target;

	require_argument(PG_ARGISNULL(0), "solution_version", NULL);
	require_argument(PG_ARGISNULL(3), "num_results", NULL);
	version = PG_GETARG_INT64(0);
	num_results = PG_GETARG_INT32(3);

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	RuntimeResolveVersion(version, &target);
	check_num_results(num_results, target.campaign);
	recommend_target((ReturnSetInfo *) fcinfo->resultinfo, &target,
					 text_argument_or_null(fcinfo, 1), text_argument_or_null(fcinfo, 2), num_results);
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(personalize_related_items);

/*
 * related_items(campaign text, item_id text, num_results int DEFAULT 25,
 *               filter text DEFAULT NULL, filter_values jsonb DEFAULT NULL)
 *   RETURNS TABLE(item_id text, score float8)
 *
 * Items related to item_id from a RELATED_ITEMS campaign, best first,
 * filled with popular items when the model knows fewer; an unknown item
 * gets popular items.
 */
Datum
personalize_related_items(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *campaign;
	int32		num_results;
	CampaignTarget target;

	require_argument(PG_ARGISNULL(0), "campaign", NULL);
	campaign = text_to_cstring(PG_GETARG_TEXT_PP(0));
	require_argument(PG_ARGISNULL(1), "item_id",
					 psprintf("Pass the item whose related items campaign \"%s\" should return.", campaign));
	require_argument(PG_ARGISNULL(2), "num_results", "Pass a number of results from 1 to personalize.max_results (500 by default).");
	num_results = PG_GETARG_INT32(2);
	check_num_results(num_results, campaign);
	reject_filter(fcinfo, 3, 4);

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	RuntimeResolveCampaign(campaign, &target);
	RuntimeRequireRecipeType(&target, "related_items", "RELATED_ITEMS", NULL);
	put_related(rsinfo, &target, text_to_cstring(PG_GETARG_TEXT_PP(1)), num_results);
	SPI_finish();
	return (Datum) 0;
}

/* A requested item of personalized_rank with its model index and score. */
typedef struct RankItem
{
	char	   *id;
	int32		index;			/* -1 when unknown to the model */
	int			position;		/* in the request, for stable ties */
	double		score;
} RankItem;

static int
rank_item_cmp(const void *a, const void *b)
{
	const RankItem *x = a;
	const RankItem *y = b;

	if ((x->index < 0) != (y->index < 0))
		return x->index < 0 ? 1 : -1;
	if (x->index >= 0 && x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->position - y->position;
}

PG_FUNCTION_INFO_V1(personalize_personalized_rank);

/*
 * personalized_rank(campaign text, user_id text, items text[],
 *                   filter text DEFAULT NULL, filter_values jsonb DEFAULT NULL,
 *                   context jsonb DEFAULT NULL)
 *   RETURNS TABLE(item_id text, score float8)
 *
 * The given items ranked for the user, best first; scores are a softmax
 * over the known items of the list.  Items unknown to the model come last
 * with a NULL score, in the order given.  A repeated id is ranked once.
 */
Datum
personalize_personalized_rank(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *campaign;
	char	   *user_id;
	ArrayType  *array;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n_elems;
	RankItem   *items;
	int			n_items = 0;
	CampaignTarget target;
	UserScores	us;
	double		max_score = -INFINITY;
	double		total = 0.0;

	require_argument(PG_ARGISNULL(0), "campaign", NULL);
	campaign = text_to_cstring(PG_GETARG_TEXT_PP(0));
	require_argument(PG_ARGISNULL(1), "user_id",
					 psprintf("Campaign \"%s\" ranks items for a user: pass user_id => 'id'.", campaign));
	require_argument(PG_ARGISNULL(2), "items", "Pass the item ids to rank as a text[] of 1 to 500 ids.");
	user_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	array = PG_GETARG_ARRAYTYPE_P(2);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("items must be a one-dimensional array")));
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &n_elems);
	if (n_elems == 0 || n_elems > MAX_RANK_ITEMS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("items holds %d ids for campaign \"%s\"", n_elems, campaign),
				 errhint("Pass 1 to %d item ids.", MAX_RANK_ITEMS)));
	reject_filter(fcinfo, 3, 4);

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	RuntimeResolveCampaign(campaign, &target);
	RuntimeRequireRecipeType(&target, "personalized_rank", "USER_PERSONALIZATION",
							 "PERSONALIZED_RANKING", NULL);
	RuntimeScoreUser(&target, user_id, &us);

	items = palloc(sizeof(RankItem) * n_elems);
	for (int e = 0; e < n_elems; e++)
	{
		char	   *id;
		bool		seen = false;

		if (elem_nulls[e])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("items cannot contain null (element %d)", e + 1),
					 errhint("Remove the nulls, e.g. with array_remove(items, NULL).")));
		id = TextDatumGetCString(elems[e]);
		for (int j = 0; j < n_items && !seen; j++)
			seen = strcmp(items[j].id, id) == 0;
		if (seen)
			continue;
		items[n_items].id = id;
		items[n_items].index = IdMapLookup(&us.model->items, id);
		items[n_items].position = e;
		items[n_items].score = items[n_items].index >= 0 ? us.scores[items[n_items].index] : 0.0;
		if (items[n_items].index >= 0)
			max_score = Max(max_score, items[n_items].score);
		n_items++;
	}

	/* Softmax over the known items of the list, or shares of their total. */
	for (int j = 0; j < n_items; j++)
		if (items[j].index >= 0)
		{
			if (us.logits)
				items[j].score = exp(items[j].score - max_score);
			total += items[j].score;
		}
	for (int j = 0; j < n_items; j++)
		if (items[j].index >= 0 && total > 0.0)
			items[j].score /= total;
	qsort(items, n_items, sizeof(RankItem), rank_item_cmp);
	for (int j = 0; j < n_items; j++)
		put_row(rsinfo, items[j].id, items[j].index >= 0, items[j].score);
	SPI_finish();
	return (Datum) 0;
}
