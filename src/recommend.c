/*-------------------------------------------------------------------------
 *
 * recommend.c
 *	  The SQL-callable runtime functions: recommend(), related_items(),
 *	  personalized_rank(), user_segment() and their _version forms (batch
 *	  jobs).
 *
 * Each checks its arguments, resolves the campaign (or version), loads
 * its filter, scores (runtime.c) and returns rows in materialize mode.
 * Recipe types are dispatched in recommend_target: USER_PERSONALIZATION
 * ranks the catalogue for the user, RELATED_ITEMS lists an item's
 * neighbours, POPULAR_ITEMS lists trending items; popular items fill
 * short lists.  Rows leave through an Emitter, which with a filter sends
 * the candidates through it in rank order, in growing batches, until
 * enough pass.  User-personalization scores are a softmax over the
 * candidate items (they sum to 1 before filtering, as in Personalize);
 * recipes whose scores are already normalised return them as they are.
 * get_recommendations() runs recommend()'s code and also returns each
 * row's promotion and reason ("Popular item" for popular stand-ins,
 * "Promoted item"); a promotion (promotion.c) takes a second pass of the
 * same code under the promotion filter, both lists kept and merged.
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
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"

#include "blas.h"
#include "compact.h"
#include "context.h"
#include "exploration.h"
#include "filter.h"
#include "filter_mask.h"
#include "personalize.h"
#include "promotion.h"
#include "runtime.h"
#include "scoring_helper.h"
#include "topk.h"

#define RECOMMEND_COLUMNS 2
#define GET_RECOMMENDATIONS_COLUMNS 4	/* + promotion_name, reason */
#define REASON_POPULAR "Popular item"
#define REASON_PROMOTED "Promoted item"
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

/* The filter of a request, if any, with its values. */
typedef struct RequestFilter
{
	CompiledFilter *filter;		/* NULL: no filter */
	Jsonb	   *values;
} RequestFilter;

/*
 * Load the filter named name for target with its values, checking that it
 * filters what the function returns (users for user_segment, else items).
 * label names the argument in messages.
 */
static CompiledFilter *
request_filter(const char *name, const CampaignTarget *target, Jsonb *values, bool for_users,
			   const char *label)
{
	CompiledFilter *filter = FilterLoad(name, target->dataset_group, values);

	if (filter->for_users != for_users)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" filters %s, not %s", label, filter->name,
						filter->for_users ? "users" : "items", for_users ? "users" : "items"),
				 errhint(filter->for_users
						 ? "Filters of UserID expressions apply to personalize.user_segment."
						 : "user_segment takes filters of INCLUDE|EXCLUDE UserID expressions.")));
	return filter;
}

/*
 * Read the filter and filter_values arguments (positions filter_arg and
 * filter_arg + 1) and compile the filter for target.  Callers connect to SPI.
 */
static void
load_request_filter(FunctionCallInfo fcinfo, int filter_arg, const CampaignTarget *target,
					RequestFilter *rf, bool for_users)
{
	rf->filter = NULL;
	rf->values = PG_ARGISNULL(filter_arg + 1) ? NULL : PG_GETARG_JSONB_P(filter_arg + 1);
	if (rf->values != NULL && !JB_ROOT_IS_OBJECT(rf->values))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("filter_values must be a JSON object"),
				 errhint("Pass for example '{\"GENRES\": [\"Comedy\", \"Drama\"]}'.")));
	if (PG_ARGISNULL(filter_arg))
	{
		if (rf->values != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("filter_values given without a filter"),
					 errhint("Pass filter => 'name' too, or omit filter_values.")));
		return;
	}
	rf->filter = request_filter(text_to_cstring(PG_GETARG_TEXT_PP(filter_arg)), target, rf->values,
								for_users, "filter");
}

/*
 * Append one result row: (item_id, score), and for get_recommendations()
 * (four columns) the promotion's name and the reason, NULL when the item
 * is simply the model's choice.
 */
static void
put_row_full(ReturnSetInfo *rsinfo, const char *item_id, bool has_score, double score,
			 const char *promotion_name, const char *reason)
{
	Datum		values[GET_RECOMMENDATIONS_COLUMNS];
	bool		nulls[GET_RECOMMENDATIONS_COLUMNS] = {false, false, true, true};

	Assert(rsinfo->setDesc->natts == RECOMMEND_COLUMNS ||
		   rsinfo->setDesc->natts == GET_RECOMMENDATIONS_COLUMNS);
	values[0] = CStringGetTextDatum(item_id);
	values[1] = Float8GetDatum(score);
	nulls[1] = !has_score;
	if (rsinfo->setDesc->natts == GET_RECOMMENDATIONS_COLUMNS)
	{
		if (promotion_name != NULL)
		{
			values[2] = CStringGetTextDatum(promotion_name);
			nulls[2] = false;
		}
		if (reason != NULL)
		{
			Datum		element = CStringGetTextDatum(reason);

			values[3] = PointerGetDatum(construct_array(&element, 1, TEXTOID, -1, false, TYPALIGN_INT));
			nulls[3] = false;
		}
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * Append one (item_id, score) row.
 */
static void
put_row(ReturnSetInfo *rsinfo, const char *item_id, bool has_score, double score)
{
	put_row_full(rsinfo, item_id, has_score, score, NULL, NULL);
}

/* A row kept for later (the two lists of a promotion). */
typedef struct KeptRow
{
	const char *id;
	double		score;
	const char *reason;
} KeptRow;

/*
 * Rows on their way out: without a filter they go straight to the result;
 * with one, candidates are buffered in rank order and each batch goes
 * through the filter in one query, keeping the rank order.
 */
typedef struct Emitter
{
	ReturnSetInfo *rsinfo;
	const RequestFilter *rf;
	const char *user_id;
	const char *current_item;	/* of a related-items request, or NULL */
	int			wanted;
	int			emitted;
	int			passed;			/* candidates the filter let through */
	int			n;				/* buffered candidates */
	int			capacity;
	char	  **ids;
	double	   *scores;
	char	  **passing;
	const char *reason;			/* of the candidates offered now, or NULL */
	const char **reasons;		/* of the buffered candidates */
	const IdMap *skip;			/* ids never to emit, or NULL */
	KeptRow    *kept;			/* rows kept rather than returned, or NULL */
	bool		masked;			/* the filter is applied already (filter_mask.c) */
	/* compact scores, made exact as they are ranked (compact.c), or NULL */
	struct CompactQuery *approximate;
	float		softmax_max;	/* and the softmax to correct meanwhile */
	double	   *softmax_denominator;
} Emitter;

static void
emitter_init(Emitter *e, ReturnSetInfo *rsinfo, const RequestFilter *rf,
			 const char *user_id, int wanted)
{
	e->rsinfo = rsinfo;
	e->rf = rf;
	e->user_id = user_id;
	e->current_item = NULL;
	e->wanted = wanted;
	e->emitted = 0;
	e->passed = 0;
	e->n = 0;
	e->capacity = 0;
	e->reason = NULL;
	e->skip = NULL;
	e->kept = NULL;
	e->masked = false;
	e->approximate = NULL;
}

/* Must candidates go through the filter's query? */
static bool
emitter_filtering(const Emitter *e)
{
	return e->rf->filter != NULL && !e->masked;
}

/*
 * Emit one row that passed: into the result, or kept for a promotion.
 */
static void
emitter_put(Emitter *e, const char *id, double score, const char *reason)
{
	if (e->kept != NULL)
	{
		e->kept[e->emitted].id = id;
		e->kept[e->emitted].score = score;
		e->kept[e->emitted].reason = reason;
	}
	else
		put_row_full(e->rsinfo, id, true, score, NULL, reason);
	e->emitted++;
}

/* Has the request all the rows it wants? */
static bool
emitter_full(const Emitter *e)
{
	return e->emitted >= e->wanted;
}

/*
 * Send the buffered candidates through the filter and emit those that pass.
 */
static void
emitter_flush(Emitter *e)
{
	int			n_pass;
	int			p = 0;

	if (e->n == 0)
		return;
	n_pass = FilterApply(e->rf->filter, e->user_id, e->current_item, e->rf->values, e->ids, e->n, e->passing);
	e->passed += n_pass;
	for (int j = 0; j < e->n && p < n_pass && !emitter_full(e); j++)
	{
		if (strcmp(e->ids[j], e->passing[p]) != 0)
			continue;
		emitter_put(e, e->ids[j], e->scores[j], e->reasons[j]);
		p++;
	}
	e->n = 0;
}

/*
 * Offer one candidate (best first).
 */
static void
emitter_add(Emitter *e, const char *id, double score)
{
	if (emitter_full(e))
		return;
	if (e->skip != NULL && IdMapLookup(e->skip, id) >= 0)
		return;
	if (!emitter_filtering(e))
	{
		emitter_put(e, id, score, e->reason);
		return;
	}
	if (e->n == e->capacity)
	{
		e->capacity = Max(e->capacity * 2, 64);
		e->ids = e->n ? repalloc(e->ids, sizeof(char *) * e->capacity) : palloc(sizeof(char *) * e->capacity);
		e->scores = e->n ? repalloc(e->scores, sizeof(double) * e->capacity) : palloc(sizeof(double) * e->capacity);
		e->passing = e->n ? repalloc(e->passing, sizeof(char *) * e->capacity) : palloc(sizeof(char *) * e->capacity);
		e->reasons = e->n ? repalloc(e->reasons, sizeof(char *) * e->capacity) : palloc(sizeof(char *) * e->capacity);
	}
	e->ids[e->n] = (char *) id;
	e->scores[e->n] = score;
	e->reasons[e->n] = e->reason;
	e->n++;
}

/* Output score of a catalogue item given its raw score. */
typedef double (*ScoreMap) (float raw, int32 item, const void *arg);

/*
 * The share of candidates that recent requests in this backend saw pass
 * each filter, to size a request's first batch so that one filter query
 * usually suffices.  Only a size hint: a wrong guess costs one more batch,
 * never a wrong answer, so it may be stale.  A few filters are kept, the
 * slot of a new one taken round-robin.
 */
#define PASS_RATE_SLOTS 16
static struct
{
	char		name[NAMEDATALEN];
	double		rate;
}			pass_rates[PASS_RATE_SLOTS];
static int	pass_rate_next = 0;

/* The remembered pass rate of filter, or 0 when none. */
static double
pass_rate_get(const CompiledFilter *filter)
{
	for (int i = 0; i < PASS_RATE_SLOTS; i++)
		if (strncmp(pass_rates[i].name, filter->name, NAMEDATALEN - 1) == 0)
			return pass_rates[i].rate;
	return 0.0;
}

/* Remember the pass rate a request saw for filter. */
static void
pass_rate_put(const CompiledFilter *filter, double rate)
{
	int			slot = -1;

	for (int i = 0; i < PASS_RATE_SLOTS && slot < 0; i++)
		if (strncmp(pass_rates[i].name, filter->name, NAMEDATALEN - 1) == 0)
			slot = i;
	if (slot < 0)
	{
		slot = pass_rate_next;
		pass_rate_next = (pass_rate_next + 1) % PASS_RATE_SLOTS;
		strlcpy(pass_rates[slot].name, filter->name, NAMEDATALEN);
	}
	pass_rates[slot].rate = rate;
}

/*
 * Offer the n ids in decreasing order of scores (ids at -Infinity are
 * skipped), in batches sized to what a filter lets through, until the
 * request is full or the ids exhausted.  Consumes scores.  With a filter,
 * the first batch is sized from the pass rate the filter last had in this
 * backend, else 4 times what is wanted.
 */
static void
emit_ranked_ids(Emitter *e, float *scores, int32 n_items, char **ids, ScoreMap map, const void *arg)
{
	double		known_rate = emitter_filtering(e) ? pass_rate_get(e->rf->filter) : 0.0;
	int			batch = !emitter_filtering(e) ? e->wanted
		: known_rate > 0 ? (int) Min(1.5 * e->wanted / known_rate + 16, (double) Max(n_items, 1))
		: Max(e->wanted * 4, 64);
	int			offered = 0;
	int32	   *top = palloc(sizeof(int32) * Max(Min(batch, n_items), 1));

	while (!emitter_full(e))
	{
		int			n_top;
		double		pass_rate;

		CHECK_FOR_INTERRUPTS();
		batch = Min(batch, Max(n_items, 1));
		top = repalloc(top, sizeof(int32) * batch);
		if (e->approximate != NULL)
			n_top = CompactTopK(e->approximate, scores, batch, top,
								e->softmax_max, e->softmax_denominator);
		else
			n_top = TopK(scores, n_items, batch, top);
		if (n_top == 0)
			break;
		/* the ids are scattered: ask for all of them before reading each */
		for (int r = 0; r < n_top; r++)
			__builtin_prefetch(ids[top[r]]);
		for (int r = 0; r < n_top; r++)
			emitter_add(e, ids[top[r]], map(scores[top[r]], top[r], arg));
		for (int r = 0; r < n_top; r++)
			scores[top[r]] = -INFINITY;
		if (e->approximate != NULL)
			e->approximate->max_known = false;	/* the best are out now */
		offered += n_top;
		if (!emitter_filtering(e))
			continue;
		emitter_flush(e);

		/*
		 * Size the next batch from the pass rate seen so far, with a margin,
		 * so that one more query usually finishes the request; a filter that
		 * passed nothing yet gets 8 times the batch.
		 */
		pass_rate = (double) e->emitted / offered;
		if (pass_rate > 0)
			batch = (int) Min((double) batch * 8, 1.5 * (e->wanted - e->emitted) / pass_rate + 16);
		else
			batch *= 8;
	}
	if (emitter_filtering(e) && offered > 0 && e->passed > 0)
		pass_rate_put(e->rf->filter, (double) e->passed / offered);
}

/*
 * emit_ranked_ids over the model's items.  A filter on item attributes
 * alone is applied through its mask over the model's items when one is
 * available (filter_mask.c): the items it excludes leave the ranking, and
 * the rest need no query.
 */
static void
emit_ranked(Emitter *e, float *scores, const LoadedModel *lm, ScoreMap map, const void *arg)
{
	const bool *mask = e->rf->filter ? FilterMaskGet(e->rf->filter, e->rf->values, lm) : NULL;

	if (mask != NULL)
	{
		for (int32 i = 0; i < lm->model.n_items; i++)
			if (!mask[i])
				scores[i] = -INFINITY;
		e->masked = true;
	}
	emit_ranked_ids(e, scores, lm->model.n_items, lm->items.ids, map, arg);
	e->masked = false;
}

/* ScoreMap: a constant score (popular fill of related items). */
static double
map_zero(float raw, int32 item, const void *arg)
{
	return 0.0;
}

/* ScoreMap: the raw score itself (popularity shares). */
static double
map_raw(float raw, int32 item, const void *arg)
{
	return raw;
}

/* ScoreMap: the trend snapshot, floored at 0 (trending fill). */
static double
map_snapshot(float raw, int32 item, const void *arg)
{
	const RecipeModel *model = arg;

	return model->factors ? Max(model->factors[item], 0.0f) : 0.0;
}

/* Softmax parameters for map_softmax. */
typedef struct Softmax
{
	float		max;
	double		denominator;
	bool		logits;
} Softmax;

/* ScoreMap: softmax of logits, or the raw score when not logits. */
static double
map_softmax(float raw, int32 item, const void *arg)
{
	const Softmax *sm = arg;

	return sm->logits ? exp((double) raw - sm->max) / sm->denominator : (double) raw;
}

/*
 * Return the num_results items related to item_id, best first: the model's
 * neighbour list, then popular items (score 0) when it is shorter.  An
 * item unknown to the model gets popular items scored by their share of
 * users.
 */
static void
put_related(Emitter *e, const CampaignTarget *target, const char *item_id)
{
	LoadedModel *lm = ModelGet(target->version, target->version_created);
	const RecipeModel *model = &lm->model;
	int32		item = IdMapLookup(&lm->items, item_id);
	float	   *fill = palloc(sizeof(float) * Max(model->n_items, 1));

	e->current_item = item_id;	/* for filters comparing with CurrentItem fields */
	RecipeScorePopularity(model, fill);
	if (item >= 0)
	{
		fill[item] = -INFINITY;
		if (model->neighbor_ptr != NULL)
			for (int32 r = model->neighbor_ptr[item]; r < model->neighbor_ptr[item + 1]; r++)
			{
				emitter_add(e, lm->items.ids[model->neighbors[r]], model->neighbor_scores[r]);
				fill[model->neighbors[r]] = -INFINITY;
			}
		if (e->rf->filter)
			emitter_flush(e);
	}
	e->reason = REASON_POPULAR;
	emit_ranked(e, fill, lm, item >= 0 ? map_zero : map_raw, NULL);
	e->reason = NULL;
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
put_trending(Emitter *e, const CampaignTarget *target, const char *user_id)
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

	IdMapInit(&used, 64);
	if (user_id != NULL && target->has_dataset)
	{
		char	  **history;
		int			n = DatasetReadHistory(&target->dataset, user_id, 0, &history, NULL);

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
	for (int i = 0; i < n_live && live[i].score > 0; i++)
	{
		if (IdMapLookup(&used, live[i].id) >= 0)
			continue;
		IdMapIntern(&used, live[i].id);
		emitter_add(e, live[i].id, live[i].score);
	}
	if (e->rf->filter)
		emitter_flush(e);

	fill = palloc(sizeof(float) * Max(model->n_items, 1));
	lm->recipe->score(model, 0, NULL, NULL, fill);
	for (int32 i = 0; i < model->n_items; i++)
		if (IdMapLookup(&used, lm->items.ids[i]) >= 0)
			fill[i] = -INFINITY;
	emit_ranked(e, fill, lm, map_snapshot, model);
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
 * Emit the recommendations of target for its recipe type through e:
 * related items of item_id, trending items (user_id optional), or the
 * user's best items (user_id required).  A user the model cannot place
 * (no known history, no metadata) gets popular items, marked as such
 * unless the recipe ranks by popularity anyway.  Callers connect to SPI.
 */
static void
recommend_target(Emitter *e, const CampaignTarget *target, const char *user_id, const char *item_id,
				 Jsonb *context)
{
	const char *campaign = target->campaign;
	UserScores	us;
	Softmax		sm = {0.0f, 1.0, false};
	double		explore;

	if (strcmp(target->recipe_type, "RELATED_ITEMS") == 0)
	{
		require_argument(item_id == NULL, "item_id",
						 psprintf("Campaign \"%s\" recommends items related to an item: pass item_id => 'id'.", campaign));
		ContextApply(target->version, target->dataset_group, context, NULL, NULL, false);
		put_related(e, target, item_id);
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
		ContextApply(target->version, target->dataset_group, context, NULL, NULL, false);
		put_trending(e, target, user_id);
		return;
	}
	RuntimeRequireRecipeType(target, "recommend", "USER_PERSONALIZATION", NULL);
	require_argument(user_id == NULL, "user_id",
					 psprintf("Campaign \"%s\" recommends for a user: pass user_id => 'id'.", campaign));

	/* compact scores only without context: its lifts are not plain additions */
	RuntimeScoreUser(target, user_id, context == NULL, &us);
	ContextApply(target->version, target->dataset_group, context, us.model, us.scores, us.logits);
	if (us.approximate != NULL)
		CompactExclude(us.approximate, us.scores, us.n_seen, us.seen);
	else
		for (int h = 0; h < us.n_seen; h++)
			us.scores[us.seen[h]] = -INFINITY;
	sm.logits = us.logits;
	explore = us.model->recipe->explores ? target->exploration_weight : 0.0;
	if (us.approximate != NULL &&
		ExplorationApplies(us.model, explore, target->exploration_age_cut_off))
	{
		/* the best logit exact: exploration's bonus grows with it */
		int32		best;
		double		unused = 0.0;

		(void) CompactTopK(us.approximate, us.scores, 1, &best, 0.0f, &unused);
	}
	if (us.logits)
		sm.denominator = ExplorationSoftmax(us.model, us.scores, explore,
											target->exploration_age_cut_off, &sm.max, us.approximate);
	if (us.n_history == 0 && !us.logits && strcmp(us.model->recipe->name, "popularity-count") != 0)
		e->reason = REASON_POPULAR;
	e->approximate = us.approximate;
	e->softmax_max = sm.max;
	e->softmax_denominator = &sm.denominator;
	emit_ranked(e, us.scores, us.model, map_softmax, &sm);
	e->approximate = NULL;
	e->reason = NULL;
}

/*
 * Keep the rows e emits rather than return them: at most e->wanted.
 */
static void
emitter_keep(Emitter *e)
{
	e->kept = palloc(sizeof(KeptRow) * Max(e->wanted, 1));
}

/*
 * Return the num_results recommendations of target, with a promotion if
 * given (promotion.c): the regular list under the request filter, the
 * promoted list under the promotion filter (items of the regular list's
 * guaranteed part left out), then the two merged, the promoted items at
 * positions drawn from the request, in their own order.  Each list costs
 * one pass of recommend_target.  Callers connect to SPI.
 */
static void
recommend_request(ReturnSetInfo *rsinfo, const CampaignTarget *target, const RequestFilter *rf,
				  const Promotion *promotion, const char *user_id, const char *item_id,
				  int num_results, Jsonb *context)
{
	Emitter		regular;
	Emitter		promoted;
	RequestFilter prf;
	IdMap		taken;
	int			slots;
	int			n_regular;
	int			n_total;
	bool	   *at;
	int			r = 0;
	int			p = 0;

	emitter_init(&regular, rsinfo, rf, user_id, num_results);
	if (promotion == NULL)
	{
		recommend_target(&regular, target, user_id, item_id, context);
		return;
	}

	prf.values = promotion->filter_values;
	prf.filter = request_filter(promotion->filter, target, promotion->filter_values, false, "promotion filter");
	slots = Min(PromotionSlots(promotion, num_results), num_results);

	emitter_keep(&regular);
	recommend_target(&regular, target, user_id, item_id, context);

	/* the promoted items: not among the regular items sure to be returned */
	IdMapInit(&taken, num_results);
	for (int i = 0; i < Min(regular.emitted, num_results - slots); i++)
		IdMapIntern(&taken, regular.kept[i].id);
	emitter_init(&promoted, rsinfo, &prf, user_id, slots);
	emitter_keep(&promoted);
	promoted.skip = &taken;
	recommend_target(&promoted, target, user_id, item_id, context);

	/* the regular items fill the rest, leaving out the promoted ones */
	for (int i = 0; i < promoted.emitted; i++)
		IdMapIntern(&taken, promoted.kept[i].id);
	n_regular = 0;
	for (int i = 0; i < regular.emitted && n_regular < num_results - promoted.emitted; i++)
		if (i < num_results - slots || IdMapLookup(&taken, regular.kept[i].id) < 0)
			regular.kept[n_regular++] = regular.kept[i];
	n_total = n_regular + promoted.emitted;

	at = palloc(sizeof(bool) * Max(n_total, 1));
	PromotionPositions(psprintf("%s/%s/%s/%s", target->campaign, user_id ? user_id : "",
								item_id ? item_id : "", promotion->name),
					   n_total, promoted.emitted, at);
	for (int pos = 0; pos < n_total; pos++)
	{
		if (at[pos])
		{
			put_row_full(rsinfo, promoted.kept[p].id, true, promoted.kept[p].score,
						 promotion->name, REASON_PROMOTED);
			p++;
		}
		else
		{
			put_row_full(rsinfo, regular.kept[r].id, true, regular.kept[r].score,
						 NULL, regular.kept[r].reason);
			r++;
		}
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
 * Run a runtime function's body in a model scope (model.c): the models it
 * uses stay cached while it runs, even if it runs another runtime function
 * through a filter predicate; the scope closes on error too.  The
 * outermost call counts the backend as serving (the scoring helper is
 * asked only when a core is free for it).
 */
static Datum
in_model_scope(PGFunction body, FunctionCallInfo fcinfo)
{
	int			scope = ModelScopeBegin();
	volatile Datum result = (Datum) 0;

	PG_TRY();
	{
		if (scope == 1)
			ScoringHelperServing(true);
		result = body(fcinfo);
	}
	PG_FINALLY();
	{
		if (scope == 1)
			ScoringHelperServing(false);
		ModelScopeEnd(scope);
	}
	PG_END_TRY();
	return result;
}

/*
 * recommend(campaign text, user_id text DEFAULT NULL, num_results int DEFAULT 25,
 *           item_id text DEFAULT NULL, filter text DEFAULT NULL,
 *           filter_values jsonb DEFAULT NULL, context jsonb DEFAULT NULL,
 *           promotion jsonb DEFAULT NULL)
 *   RETURNS TABLE(item_id text, score float8)
 *
 * The num_results best items for the user, best first, excluding items in
 * the user's current history; with a promotion, its share of the rows are
 * the best items passing the promotion filter, placed among the others.
 * An unknown user gets popular items.  For a RELATED_ITEMS campaign, the
 * items related to item_id (as related_items); for a POPULAR_ITEMS
 * campaign, the trending items (user_id optional).  context re-weights
 * items by their lift in it (context.c).
 */
static Datum
recommend_call(PG_FUNCTION_ARGS)
{
	char	   *campaign;
	int32		num_results;
	CampaignTarget target;
	RequestFilter rf;
	Promotion	promotion_arg;
	Promotion  *promotion = NULL;

	require_argument(PG_ARGISNULL(0), "campaign", NULL);
	require_argument(PG_ARGISNULL(2), "num_results", "Pass a number of results from 1 to personalize.max_results (500 by default).");
	campaign = text_to_cstring(PG_GETARG_TEXT_PP(0));
	num_results = PG_GETARG_INT32(2);
	check_num_results(num_results, campaign);

	/* promotion: absent in the 0.1.0 declaration */
	if (PG_NARGS() >= 8 && !PG_ARGISNULL(7))
	{
		PromotionRead(PG_GETARG_JSONB_P(7), &promotion_arg);
		promotion = &promotion_arg;
	}

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	RuntimeResolveCampaign(campaign, &target);
	load_request_filter(fcinfo, 4, &target, &rf, false);
	recommend_request((ReturnSetInfo *) fcinfo->resultinfo, &target, &rf, promotion,
					  text_argument_or_null(fcinfo, 1), text_argument_or_null(fcinfo, 3), num_results,
					  PG_ARGISNULL(6) ? NULL : PG_GETARG_JSONB_P(6));
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(personalize_recommend_version);

/*
 * _recommend_version(solution_version bigint, user_id text, item_id text,
 *                    num_results int) RETURNS TABLE(item_id text, score float8)
 *
 * recommend() for an ACTIVE solution version rather than a campaign; used
 * by batch inference jobs, with the job's filter (arguments 5 and 6, absent
 * in the 0.1.0 declaration of the function).
 */
static Datum
recommend_version_call(PG_FUNCTION_ARGS)
{
	int64		version;
	int32		num_results;
	CampaignTarget target;
	RequestFilter rf = {NULL, NULL};

	require_argument(PG_ARGISNULL(0), "solution_version", NULL);
	require_argument(PG_ARGISNULL(3), "num_results", NULL);
	version = PG_GETARG_INT64(0);
	num_results = PG_GETARG_INT32(3);

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	RuntimeResolveVersion(version, &target);
	check_num_results(num_results, target.campaign);
	if (PG_NARGS() >= 6)
		load_request_filter(fcinfo, 4, &target, &rf, false);
	recommend_request((ReturnSetInfo *) fcinfo->resultinfo, &target, &rf, NULL,
					  text_argument_or_null(fcinfo, 1), text_argument_or_null(fcinfo, 2), num_results, NULL);
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
static Datum
related_items_call(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *campaign;
	int32		num_results;
	CampaignTarget target;
	RequestFilter rf;
	Emitter		e;

	require_argument(PG_ARGISNULL(0), "campaign", NULL);
	campaign = text_to_cstring(PG_GETARG_TEXT_PP(0));
	require_argument(PG_ARGISNULL(1), "item_id",
					 psprintf("Pass the item whose related items campaign \"%s\" should return.", campaign));
	require_argument(PG_ARGISNULL(2), "num_results", "Pass a number of results from 1 to personalize.max_results (500 by default).");
	num_results = PG_GETARG_INT32(2);
	check_num_results(num_results, campaign);

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	RuntimeResolveCampaign(campaign, &target);
	RuntimeRequireRecipeType(&target, "related_items", "RELATED_ITEMS", NULL);
	load_request_filter(fcinfo, 3, &target, &rf, false);
	emitter_init(&e, rsinfo, &rf, NULL, num_results);
	put_related(&e, &target, text_to_cstring(PG_GETARG_TEXT_PP(1)));
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

/* Known items first, by score (best first); then by position in the request. */
static inline int
rank_item_cmp(const RankItem *x, const RankItem *y)
{
	if ((x->index < 0) != (y->index < 0))
		return x->index < 0 ? 1 : -1;
	if (x->index >= 0 && x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->position - y->position;
}

/*
 * rank_item_sort: qsort's algorithm with rank_item_cmp inlined (through
 * qsort, sorting 100 items took 6% of a personalized_rank call's server
 * time).  Positions are distinct, so the order is total: the same result.
 */
#define ST_SORT rank_item_sort
#define ST_ELEMENT_TYPE RankItem
#define ST_COMPARE(a, b) rank_item_cmp(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * Whether model index was listed already; marks it listed.  slots is an
 * open-addressing set: mask + 1 (a power of two, more than twice the
 * listed items) entries, -1 when free.
 */
static bool
index_listed_before(int32 *slots, uint32 mask, int32 index)
{
	uint32		h = murmurhash32((uint32) index) & mask;

	while (slots[h] >= 0)
	{
		if (slots[h] == index)
			return true;
		h = (h + 1) & mask;
	}
	slots[h] = index;
	return false;
}

/*
 * The text[] of items to rank, checked: one-dimensional, 1 to
 * MAX_RANK_ITEMS ids.  label names the campaign or version in messages.
 */
static void
rank_items_argument(ArrayType *array, const char *label, Datum **elems, bool **nulls, int *n)
{
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("items must be a one-dimensional array")));
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, elems, nulls, n);
	if (*n == 0 || *n > MAX_RANK_ITEMS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("items holds %d ids for %s", *n, label),
				 errhint("Pass 1 to %d item ids.", MAX_RANK_ITEMS)));
}

/*
 * Rank the given items (duplicates once, at their first position) for
 * user_id: the items that pass the filter, by a softmax over the list's
 * known items (shares of their total for recipes without logits); items
 * unknown to the model come last with a NULL score.
 */
static void
put_ranked(ReturnSetInfo *rsinfo, const CampaignTarget *target, const RequestFilter *rf,
		   const char *user_id, Datum *elems, bool *elem_nulls, int n_elems, Jsonb *context)
{
	RankItem   *items;
	int			n_items = 0;
	UserScores	us;
	double		max_score = -INFINITY;
	double		total = 0.0;
	LoadedModel *lm = ModelGet(target->version, target->version_created);
	int32	   *known = palloc(sizeof(int32) * n_elems);
	int			n_known = 0;
	/* repeated ids: known ones by their model index, unknown ones by text */
	uint32		mask = pg_nextpower2_32(2 * n_elems + 1) - 1;
	int32	   *known_listed = palloc(sizeof(int32) * (mask + 1));
	IdMap		unknown_listed = {0};	/* set up at the first unknown id */

	memset(known_listed, -1, sizeof(int32) * (mask + 1));
	items = palloc(sizeof(RankItem) * n_elems);
	for (int e = 0; e < n_elems; e++)
	{
		char	   *id;
		int32		index;

		if (elem_nulls[e])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("items cannot contain null (element %d)", e + 1),
					 errhint("Remove the nulls, e.g. with array_remove(items, NULL).")));
		id = TextDatumGetCString(elems[e]);
		index = IdMapLookup(&lm->items, id);
		/* a repeated id is ranked at its first position */
		if (index >= 0 && index_listed_before(known_listed, mask, index))
			continue;
		if (index < 0)
		{
			if (unknown_listed.hash == NULL)
				IdMapInit(&unknown_listed, 16);
			else if (IdMapLookup(&unknown_listed, id) >= 0)
				continue;
			IdMapIntern(&unknown_listed, id);
		}
		items[n_items].id = id;
		items[n_items].index = index;
		items[n_items].position = e;
		if (index >= 0)
			known[n_known++] = index;
		n_items++;
	}

	/* score only the listed items */
	RuntimeScoreUserItems(target, user_id, n_known, known, &us);
	/* adds to every entry; only the listed ones are read */
	ContextApply(target->version, target->dataset_group, context, us.model, us.scores, us.logits);
	for (int j = 0; j < n_items; j++)
	{
		items[j].score = items[j].index >= 0 ? us.scores[items[j].index] : 0.0;
		if (items[j].index >= 0)
			max_score = Max(max_score, items[j].score);
	}

	/* Keep the items that pass the filter, in order. */
	if (rf->filter != NULL)
	{
		char	  **ids = palloc(sizeof(char *) * Max(n_items, 1));
		char	  **passing = palloc(sizeof(char *) * Max(n_items, 1));
		int			n_pass;
		int			kept = 0;
		int			p = 0;

		for (int j = 0; j < n_items; j++)
			ids[j] = items[j].id;
		n_pass = FilterApply(rf->filter, user_id, NULL, rf->values, ids, n_items, passing);
		for (int j = 0; j < n_items && p < n_pass; j++)
			if (strcmp(items[j].id, passing[p]) == 0)
			{
				items[kept++] = items[j];
				p++;
			}
		n_items = kept;
		max_score = -INFINITY;
		for (int j = 0; j < n_items; j++)
			if (items[j].index >= 0)
				max_score = Max(max_score, items[j].score);
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
	rank_item_sort(items, n_items);
	for (int j = 0; j < n_items; j++)
		put_row(rsinfo, items[j].id, items[j].index >= 0, items[j].score);
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
static Datum
personalized_rank_call(PG_FUNCTION_ARGS)
{
	char	   *campaign;
	char	   *user_id;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n_elems;
	CampaignTarget target;
	RequestFilter rf;

	require_argument(PG_ARGISNULL(0), "campaign", NULL);
	campaign = text_to_cstring(PG_GETARG_TEXT_PP(0));
	require_argument(PG_ARGISNULL(1), "user_id",
					 psprintf("Campaign \"%s\" ranks items for a user: pass user_id => 'id'.", campaign));
	require_argument(PG_ARGISNULL(2), "items", "Pass the item ids to rank as a text[] of 1 to 500 ids.");
	user_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	rank_items_argument(PG_GETARG_ARRAYTYPE_P(2), psprintf("campaign \"%s\"", campaign),
						&elems, &elem_nulls, &n_elems);
	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	RuntimeResolveCampaign(campaign, &target);
	load_request_filter(fcinfo, 3, &target, &rf, false);
	RuntimeRequireRecipeType(&target, "personalized_rank", "USER_PERSONALIZATION",
							 "PERSONALIZED_RANKING", NULL);
	put_ranked((ReturnSetInfo *) fcinfo->resultinfo, &target, &rf, user_id, elems, elem_nulls, n_elems,
			   PG_ARGISNULL(5) ? NULL : PG_GETARG_JSONB_P(5));
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(personalize_rank_version);

/*
 * _rank_version(solution_version bigint, user_id text, items text[],
 *               filter text DEFAULT NULL, filter_values jsonb DEFAULT NULL)
 *   RETURNS TABLE(item_id text, score float8)
 *
 * personalized_rank() for an ACTIVE solution version rather than a
 * campaign; used by batch inference jobs of PERSONALIZED_RANKING versions.
 */
static Datum
rank_version_call(PG_FUNCTION_ARGS)
{
	int64		version;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n_elems;
	CampaignTarget target;
	RequestFilter rf;

	require_argument(PG_ARGISNULL(0), "solution_version", NULL);
	require_argument(PG_ARGISNULL(1), "user_id", NULL);
	require_argument(PG_ARGISNULL(2), "items", "Pass the item ids to rank as a text[] of 1 to 500 ids.");
	version = PG_GETARG_INT64(0);
	rank_items_argument(PG_GETARG_ARRAYTYPE_P(2), psprintf("solution version " INT64_FORMAT, version),
						&elems, &elem_nulls, &n_elems);
	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	RuntimeResolveVersion(version, &target);
	load_request_filter(fcinfo, 3, &target, &rf, false);
	RuntimeRequireRecipeType(&target, "_rank_version", "USER_PERSONALIZATION",
							 "PERSONALIZED_RANKING", NULL);
	put_ranked((ReturnSetInfo *) fcinfo->resultinfo, &target, &rf,
			   text_to_cstring(PG_GETARG_TEXT_PP(1)), elems, elem_nulls, n_elems, NULL);
	SPI_finish();
	return (Datum) 0;
}

/* Largest segment user_segment returns (create_batch_segment_job checks it too). */
#define MAX_SEGMENT_USERS 100000

/*
 * Check num_users against 1..MAX_SEGMENT_USERS.
 */
static void
check_num_users(int32 num_users, const char *campaign)
{
	if (num_users < 1 || num_users > MAX_SEGMENT_USERS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("num_users %d is out of range for campaign \"%s\"", num_users, campaign),
				 errhint("Valid values are 1 to %d.", MAX_SEGMENT_USERS)));
}

/*
 * Emit the model's users best first by their factors' dot product with
 * the k-vector direction.
 */
static void
emit_users_by(Emitter *e, const LoadedModel *lm, const float *direction)
{
	int32		n = lm->model.n_users;
	float	   *scores = palloc(sizeof(float) * Max(n, 1));

	BlasGemv(lm->model.user_factors, n, lm->model.k, direction, scores);
	emit_ranked_ids(e, scores, n, lm->user_ids, map_raw, NULL);
}

/*
 * The segment of an item-affinity campaign: the users whose factors score
 * item_id highest, the score being that predicted preference.  An item
 * unknown to the model has no segment; an attribute predicate is the other
 * recipe's argument.
 */
static void
put_item_segment(Emitter *e, const CampaignTarget *target, const LoadedModel *lm, const char *item_id)
{
	int32		item = IdMapLookup(&lm->items, item_id);

	if (item < 0 && FilterIsAttributePredicate(item_id))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("campaign \"%s\" serves an item-affinity recipe, which takes an item id, not an attribute predicate",
						target->campaign),
				 errhint("Pass an item id; campaigns of item-attribute-affinity solutions take attribute predicates.")));
	if (item >= 0)
		emit_users_by(e, lm, lm->model.factors + (Size) item * lm->model.k);
}

/*
 * The segment of an item-attribute-affinity campaign for a predicate on
 * the items dataset.  A user's score is the probability that their next
 * interaction is with a matching item: the share of the matching items in
 * the softmax of the user's predicted preferences over the whole
 * catalogue, as recommend() scores items.  It lies in [0, 1] whatever the
 * number of matches (a predicate matching every item scores 1 for every
 * user), so scores compare across users, predicates and campaigns; and,
 * being a share of the user's own preferences, it ranks users by their
 * taste for the matching items rather than by how much they interact (raw
 * dot products against the items' mean factors favoured heavy users of
 * every genre: on MovieLens their later ratings were no richer in the
 * genre than anyone's).  The items a user already interacted with stay in
 * the softmax: the user's factors were fit to them, and leaving them out
 * (as recommend() does) gave segments whose later ratings were less rich
 * in the genre, besides a read of every interaction per request.  Each
 * user costs one pass over the catalogue (users x items x factors).  No
 * item matching (or none known to the model) gives an empty segment, as an
 * unknown item does for item-affinity: a batch job over many predicates
 * keeps going.
 */
static void
put_attribute_segment(Emitter *e, const CampaignTarget *target, const LoadedModel *lm, const char *predicate)
{
	const RecipeModel *model = &lm->model;
	int32		n_items = model->n_items;
	int32		n_users = model->n_users;
	char	  **ids;
	int			n_match;
	int32	   *matches;
	int			n_known = 0;
	float	   *item_scores;
	float	   *scores;

	if (IdMapLookup(&lm->items, predicate) >= 0 && !FilterIsAttributePredicate(predicate))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("campaign \"%s\" serves an item-attribute-affinity recipe, which takes an attribute predicate, not an item id",
						target->campaign),
				 errhint("Pass a predicate such as ITEMS.GENRE = \"Comedy\", or ask a campaign of an item-affinity solution for the users of item \"%s\".",
						 predicate)));
	n_match = FilterMatchItems(target->campaign, target->dataset_group, predicate, &ids);
	matches = palloc(sizeof(int32) * Max(n_match, 1));
	for (int i = 0; i < n_match; i++)
	{
		int32		item = IdMapLookup(&lm->items, ids[i]);

		if (item >= 0)
			matches[n_known++] = item;
	}
	if (n_known == 0)
		return;

	item_scores = palloc(sizeof(float) * n_items);
	scores = palloc(sizeof(float) * Max(n_users, 1));
	for (int32 u = 0; u < n_users; u++)
	{
		double		total = 0.0;
		double		matching = 0.0;
		float		max = -INFINITY;

		CHECK_FOR_INTERRUPTS();
		BlasGemv(model->factors, n_items, model->k, model->user_factors + (Size) u * model->k, item_scores);
		for (int32 i = 0; i < n_items; i++)
			max = Max(max, item_scores[i]);
		for (int32 i = 0; i < n_items; i++)
			total += exp((double) item_scores[i] - max);
		for (int m = 0; m < n_known; m++)
			matching += exp((double) item_scores[matches[m]] - max);
		scores[u] = (float) (matching / total);
	}
	emit_ranked_ids(e, scores, n_users, lm->user_ids, map_raw, NULL);
}

/*
 * Return the num_users users of a USER_SEGMENTATION target most likely to
 * interact with item_or_predicate (an item id or an attribute predicate,
 * as the recipe asks), best first, passing the filter if any.  Callers
 * connect to SPI.
 */
static void
segment_target(ReturnSetInfo *rsinfo, const CampaignTarget *target, const RequestFilter *rf,
			   const char *item_or_predicate, int num_users)
{
	Emitter		e;
	LoadedModel *lm;

	emitter_init(&e, rsinfo, rf, NULL, num_users);
	lm = ModelGet(target->version, target->version_created);
	if (lm->model.user_factors == NULL || lm->model.n_users == 0)
		return;
	if (lm->recipe->segments_by_attributes)
		put_attribute_segment(&e, target, lm, item_or_predicate);
	else
		put_item_segment(&e, target, lm, item_or_predicate);
}

PG_FUNCTION_INFO_V1(personalize_user_segment);

/*
 * user_segment(campaign text, item_id text, num_users int DEFAULT 25,
 *              filter text DEFAULT NULL, filter_values jsonb DEFAULT NULL)
 *   RETURNS TABLE(user_id text, score float8)
 *
 * The num_users training users of a USER_SEGMENTATION campaign most likely
 * to interact with item_id (item-affinity) or with the items matching the
 * attribute predicate passed as item_id (item-attribute-affinity), best
 * first, with that affinity as score; with a filter (INCLUDE|EXCLUDE
 * UserID expressions), the best users that pass it.  An item unknown to
 * the model, or a predicate no known item matches, has no segment (no rows).
 */
static Datum
user_segment_call(PG_FUNCTION_ARGS)
{
	char	   *campaign;
	int32		num_users;
	CampaignTarget target;
	RequestFilter rf = {NULL, NULL};

	require_argument(PG_ARGISNULL(0), "campaign", NULL);
	campaign = text_to_cstring(PG_GETARG_TEXT_PP(0));
	require_argument(PG_ARGISNULL(1), "item_id",
					 psprintf("Pass the item (or, for item-attribute-affinity, the attribute predicate) whose likely users campaign \"%s\" should return.", campaign));
	require_argument(PG_ARGISNULL(2), "num_users", NULL);
	num_users = PG_GETARG_INT32(2);
	check_num_users(num_users, campaign);

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	RuntimeResolveCampaign(campaign, &target);
	RuntimeRequireRecipeType(&target, "user_segment", "USER_SEGMENTATION", NULL);
	/* filter and filter_values: absent in the 0.1.0 declaration */
	if (PG_NARGS() >= 5)
		load_request_filter(fcinfo, 3, &target, &rf, true);
	segment_target((ReturnSetInfo *) fcinfo->resultinfo, &target, &rf,
				   text_to_cstring(PG_GETARG_TEXT_PP(1)), num_users);
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(personalize_segment_version);

/*
 * _segment_version(solution_version bigint, item text, num_users int,
 *                  filter text DEFAULT NULL, filter_values jsonb DEFAULT NULL)
 *   RETURNS TABLE(user_id text, score float8)
 *
 * user_segment() for an ACTIVE solution version rather than a campaign;
 * used by batch segment jobs.
 */
static Datum
segment_version_call(PG_FUNCTION_ARGS)
{
	int64		version;
	int32		num_users;
	CampaignTarget target;
	RequestFilter rf;

	require_argument(PG_ARGISNULL(0), "solution_version", NULL);
	require_argument(PG_ARGISNULL(1), "item", "Pass an item id, or an attribute predicate for item-attribute-affinity.");
	require_argument(PG_ARGISNULL(2), "num_users", NULL);
	version = PG_GETARG_INT64(0);
	num_users = PG_GETARG_INT32(2);

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	RuntimeResolveVersion(version, &target);
	check_num_users(num_users, target.campaign);
	RuntimeRequireRecipeType(&target, "_segment_version", "USER_SEGMENTATION", NULL);
	load_request_filter(fcinfo, 3, &target, &rf, true);
	segment_target((ReturnSetInfo *) fcinfo->resultinfo, &target, &rf,
				   text_to_cstring(PG_GETARG_TEXT_PP(1)), num_users);
	SPI_finish();
	return (Datum) 0;
}

/* The SQL-callable entry points: each body in its model scope. */
Datum
personalize_recommend(PG_FUNCTION_ARGS)
{
	return in_model_scope(recommend_call, fcinfo);
}

PG_FUNCTION_INFO_V1(personalize_get_recommendations);

/*
 * get_recommendations(campaign text, user_id text DEFAULT NULL,
 *                     num_results int DEFAULT 25, item_id text DEFAULT NULL,
 *                     filter text DEFAULT NULL, filter_values jsonb DEFAULT NULL,
 *                     context jsonb DEFAULT NULL, promotion jsonb DEFAULT NULL)
 *   RETURNS TABLE(item_id text, score float8, promotion_name text, reason text[])
 *
 * recommend() with Personalize's GetRecommendations item list: the same
 * rows (recommend_call, the same code), plus the promotion that placed an
 * item and the reason an item is there when the model did not choose it
 * itself: {"Promoted item"}, or {"Popular item"} for popular items that
 * stand in for the model (filler after an item's related items, an item
 * or a user the model does not know).
 */
Datum
personalize_get_recommendations(PG_FUNCTION_ARGS)
{
	return in_model_scope(recommend_call, fcinfo);
}

Datum
personalize_recommend_version(PG_FUNCTION_ARGS)
{
	return in_model_scope(recommend_version_call, fcinfo);
}

Datum
personalize_related_items(PG_FUNCTION_ARGS)
{
	return in_model_scope(related_items_call, fcinfo);
}

Datum
personalize_personalized_rank(PG_FUNCTION_ARGS)
{
	return in_model_scope(personalized_rank_call, fcinfo);
}

Datum
personalize_user_segment(PG_FUNCTION_ARGS)
{
	return in_model_scope(user_segment_call, fcinfo);
}

Datum
personalize_rank_version(PG_FUNCTION_ARGS)
{
	return in_model_scope(rank_version_call, fcinfo);
}

Datum
personalize_segment_version(PG_FUNCTION_ARGS)
{
	return in_model_scope(segment_version_call, fcinfo);
}
