/*-------------------------------------------------------------------------
 *
 * evaluate.c
 *	  Offline metrics computed the way Amazon Personalize computes them.
 *
 * Protocol: 10% of the users (drawn with the version's seed among users
 * with at least two distinct items) are held out and the recipe is trained
 * on the other 90%.  For each held-out user, the oldest 90% of their
 * distinct items (by latest interaction time) are the input and the newest
 * 10%, at least one, are the relevant items.  The user is scored from the
 * input alone and the input items are excluded from the ranked list.
 *
 * Metrics over the top 25 (averaged over held-out users):
 *   precision_at_K  = hits in top K / K
 *   recall_at_K     = hits in top K / relevant
 *   normalized_discounted_cumulative_gain_at_K
 *                   = sum over hits of 1/log2(1 + position), divided by the
 *                     same sum for an ideal list
 *   mean_reciprocal_rank_at_25 = 1 / position of the first hit (0 if none)
 *   coverage        = distinct items recommended to any held-out user /
 *                     items in the catalogue
 * The popularity-count recipe is trained on the same split and its metrics
 * are reported with a baseline_ prefix, so the lift is visible.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/evaluate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/pg_prng.h"
#include "miscadmin.h"

#include "blas.h"
#include "evaluate.h"
#include "personalize.h"
#include "topk.h"

#define EVAL_TOP 25
/* held-out users scored at once by a factor model */
#define EVAL_BATCH 64

static const int eval_cutoffs[] = {5, 10, 25};

static void evaluate_metrics(const TimedItem *items, int n_input, int n_relevant,
							 const int32 *top, int n_top, EvaluationMetrics *sums,
							 bool *recommended);

static inline int
timed_item_cmp(const TimedItem *x, const TimedItem *y)
{
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return (x->item > y->item) - (x->item < y->item);
}

/*
 * timed_item_sort: qsort's algorithm with the comparison inlined (sorting
 * the held-out users' histories took a third of scoring them through
 * qsort).  Items are distinct within a user, so the order is total and the
 * result the same.
 */
#define ST_SORT timed_item_sort
#define ST_ELEMENT_TYPE TimedItem
#define ST_COMPARE(a, b) timed_item_cmp(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * The input of a held-out user: its oldest n_input items, with their event
 * counts weighted by recency.
 */
static void
evaluate_input(const RecipeModel *model, const TimedItem *items, int n_input,
			   int32 *input, float *counts)
{
	/* items are oldest first: item j has n_input - 1 - j newer ones */
	for (int j = 0; j < n_input; j++)
	{
		input[j] = items[j].item;
		counts[j] = items[j].count * RecipeRecencyWeight(model, n_input - 1 - j);
	}
}

/*
 * Rank the items by the user's scores (the input items left out) and add
 * the user's metrics to sums.
 */
static void
evaluate_rank(const RecipeModel *model, const TimedItem *items, int n_input,
			  int n_relevant, float *scores, int32 *top,
			  EvaluationMetrics *sums, bool *recommended)
{
	int			n_top;

	for (int j = 0; j < n_input; j++)
		scores[items[j].item] = -INFINITY;
	n_top = TopK(scores, model->n_items, EVAL_TOP, top);
	evaluate_metrics(items, n_input, n_relevant, top, n_top, sums, recommended);
}

/*
 * Add the metrics of a user's top n_top items (best first) to sums.
 */
static void
evaluate_metrics(const TimedItem *items, int n_input, int n_relevant,
				 const int32 *top, int n_top, EvaluationMetrics *sums,
				 bool *recommended)
{
	double		dcg = 0.0;
	int			hits = 0;
	int			c = 0;
	bool		first_hit = true;

	for (int pos = 0; pos < EVAL_TOP; pos++)
	{
		bool		hit = false;

		if (pos < n_top)
		{
			recommended[top[pos]] = true;
			for (int j = 0; j < n_relevant; j++)
				if (items[n_input + j].item == top[pos])
					hit = true;
		}
		if (hit)
		{
			hits++;
			dcg += 1.0 / log2(2.0 + pos);
			if (first_hit)
			{
				sums->mrr += 1.0 / (pos + 1);
				first_hit = false;
			}
		}
		if (pos + 1 == eval_cutoffs[c])
		{
			double		idcg = 0.0;

			for (int j = 0; j < Min(n_relevant, eval_cutoffs[c]); j++)
				idcg += 1.0 / log2(2.0 + j);
			sums->precision[c] += (double) hits / eval_cutoffs[c];
			sums->recall[c] += (double) hits / n_relevant;
			sums->ndcg[c] += dcg / idcg;
			c++;
		}
	}
}

/*
 * Score one held-out user with model and add the user's metrics to sums.
 */
static void
evaluate_user(const Recipe *recipe, const RecipeModel *model,
			  const TimedItem *items, int n_input, int n_relevant,
			  int32 *input, float *counts, float *scores, int32 *top,
			  EvaluationMetrics *sums, bool *recommended)
{
	evaluate_input(model, items, n_input, input, counts);
	recipe->score(model, n_input, input, counts, scores);
	evaluate_rank(model, items, n_input, n_relevant, scores, top, sums, recommended);
}

/*
 * What evaluate_user does for each of n users of popularity-count, whose
 * scores are the same for every user: the items are ranked once, and each
 * user's top items are the first of that ranking that are not among the
 * user's input (TopK orders equal scores by item index, so this is the
 * ranking TopK would make of the user's scores, to the item).
 */
static void
evaluate_users_popularity(const InteractionMatrix *m, const RecipeModel *model,
						  const int32 *users, int32 n, int32 max_len,
						  EvaluationMetrics *sums, bool *recommended)
{
	int32		n_items = Max(model->n_items, 1);
	float	   *scores = palloc(sizeof(float) * n_items);
	int32	   *ranked = palloc(sizeof(int32) * Min(n_items, EVAL_TOP + max_len));
	bool	   *input = palloc0(sizeof(bool) * n_items);
	TimedItem  *items = palloc(sizeof(TimedItem) * max_len);
	int32	   *top = palloc(sizeof(int32) * EVAL_TOP);
	int			n_ranked;

	RecipeScorePopularity(model, scores);
	n_ranked = TopK(scores, model->n_items, Min(n_items, EVAL_TOP + max_len), ranked);
	for (int32 j = 0; j < n; j++)
	{
		int32		len = EvaluationUserItems(m, users[j], items);
		int			n_relevant = EVALUATION_RELEVANT(len);
		int			n_input = len - n_relevant;
		int			n_top = 0;

		if ((j & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int e = 0; e < n_input; e++)
			input[items[e].item] = true;
		for (int r = 0; r < n_ranked && n_top < EVAL_TOP; r++)
			if (!input[ranked[r]])
				top[n_top++] = ranked[r];
		for (int e = 0; e < n_input; e++)
			input[items[e].item] = false;
		evaluate_metrics(items, n_input, n_relevant, top, n_top, sums, recommended);
	}
	pfree(scores);
	pfree(ranked);
	pfree(input);
	pfree(items);
	pfree(top);
}

/*
 * Users scored at once by a factor model: at most EVAL_BATCH, and about
 * 8 MB of scores.  The same in every process of a parallel evaluation, and
 * independent of how many users there are: a row of a matrix product can
 * differ in its last bits with the number of rows multiplied at once.
 */
int
EvaluationBatchSize(const RecipeModel *model)
{
	return Max(1, Min(EVAL_BATCH, (2 * 1024 * 1024) / Max(model->n_items, 1)));
}

/* Buffers for scoring batches of up to batch users, histories of up to max_len items. */
EvaluationBatchWork *
EvaluationBatchWorkAlloc(const RecipeModel *model, int batch, int32 max_len)
{
	EvaluationBatchWork *w = palloc(sizeof(EvaluationBatchWork));

	w->solved = palloc(sizeof(bool) * batch);
	w->input = palloc(sizeof(int32) * max_len);
	w->counts = palloc(sizeof(float) * max_len);
	w->x = palloc(sizeof(float) * Max(model->k, 1) * batch);
	w->scores = palloc_extended(sizeof(float) * (Size) batch * Max(model->n_items, 1),
								MCXT_ALLOC_HUGE);
	w->top = palloc(sizeof(int32) * EVAL_TOP);
	return w;
}

/* Free what EvaluationBatchWorkAlloc allocated. */
void
EvaluationBatchWorkFree(EvaluationBatchWork *w)
{
	pfree(w->solved);
	pfree(w->input);
	pfree(w->counts);
	pfree(w->x);
	pfree(w->scores);
	pfree(w->top);
	pfree(w);
}

/*
 * What evaluate_user does for nb users (at most the batch of w) of a
 * factor model scored by AlsScore, whose histories are items[b] (oldest
 * first, len[b] long): each is folded in, then the whole batch is scored
 * by one matrix product, which reads the item factors once per batch
 * instead of once per user (at 20M interactions, 14k held-out users: 2.3 s
 * -> 0.4 s).  A user AlsFoldIn cannot solve gets popularity
 * scores, as from AlsScore.  Sets one[b] to user b's own metric sums.
 */
void
EvaluationScoreBatch(const RecipeModel *model, EvaluationBatchWork *w,
					 TimedItem *const *items, const int32 *len, int nb,
					 EvaluationMetrics *one, bool *recommended)
{
	int			k = model->k;

	for (int b = 0; b < nb; b++)
	{
		int			n_input = len[b] - EVALUATION_RELEVANT(len[b]);

		evaluate_input(model, items[b], n_input, w->input, w->counts);
		w->solved[b] = AlsFoldIn(model, n_input, w->input, w->counts, w->x + (Size) b * k);
		if (!w->solved[b])
			memset(w->x + (Size) b * k, 0, sizeof(float) * k);
	}
	BlasGemmNT(w->x, nb, k, model->factors, model->n_items, w->scores);
	for (int b = 0; b < nb; b++)
	{
		float	   *row = w->scores + (Size) b * model->n_items;
		int			n_relevant = EVALUATION_RELEVANT(len[b]);

		if (!w->solved[b])
			RecipeScorePopularity(model, row);
		memset(&one[b], 0, sizeof(EvaluationMetrics));
		evaluate_rank(model, items[b], len[b] - n_relevant, n_relevant, row, w->top,
					  &one[b], recommended);
	}
}

/*
 * Add one user's metric sums to sums.  Users are added in the order of the
 * held-out list whichever process scored them, so the sums are the same
 * to the bit (a user's sums are each a single term, added once).
 */
void
EvaluationAddUser(EvaluationMetrics *sums, const EvaluationMetrics *one)
{
	sums->mrr += one->mrr;
	for (int c = 0; c < lengthof(eval_cutoffs); c++)
	{
		sums->precision[c] += one->precision[c];
		sums->recall[c] += one->recall[c];
		sums->ndcg[c] += one->ndcg[c];
	}
}

/*
 * The n users of a factor model, a batch at a time, in this process.
 */
static void
evaluate_users_batched(const InteractionMatrix *m, const RecipeModel *model,
					   const int32 *users, int32 n, int32 max_len,
					   EvaluationMetrics *sums, bool *recommended)
{
	int			batch = EvaluationBatchSize(model);
	EvaluationBatchWork *w = EvaluationBatchWorkAlloc(model, batch, max_len);
	TimedItem  *buffer = palloc(sizeof(TimedItem) * max_len * batch);
	TimedItem **items = palloc(sizeof(TimedItem *) * batch);
	int32	   *len = palloc(sizeof(int32) * batch);
	EvaluationMetrics *one = palloc(sizeof(EvaluationMetrics) * batch);

	for (int32 j0 = 0; j0 < n; j0 += batch)
	{
		int			nb = Min(batch, n - j0);

		CHECK_FOR_INTERRUPTS();
		for (int b = 0; b < nb; b++)
		{
			items[b] = buffer + (Size) b * max_len;
			len[b] = EvaluationUserItems(m, users[j0 + b], items[b]);
		}
		EvaluationScoreBatch(model, w, items, len, nb, one, recommended);
		for (int b = 0; b < nb; b++)
			EvaluationAddUser(sums, &one[b]);
	}
	EvaluationBatchWorkFree(w);
	pfree(buffer);
	pfree(items);
	pfree(len);
	pfree(one);
}

/*
 * Append the metrics as JSON members "<prefix><name>": value to out.
 */
void
EvaluationAppendJson(StringInfo out, const char *prefix, const EvaluationMetrics *metrics)
{
	appendStringInfo(out, "\"%scoverage\": %.6f", prefix, metrics->coverage);
	appendStringInfo(out, ", \"%smean_reciprocal_rank_at_25\": %.6f", prefix, metrics->mrr);
	for (int c = 0; c < lengthof(eval_cutoffs); c++)
	{
		appendStringInfo(out, ", \"%snormalized_discounted_cumulative_gain_at_%d\": %.6f",
						 prefix, eval_cutoffs[c], metrics->ndcg[c]);
		appendStringInfo(out, ", \"%sprecision_at_%d\": %.6f",
						 prefix, eval_cutoffs[c], metrics->precision[c]);
		if (eval_cutoffs[c] >= 10)
			appendStringInfo(out, ", \"%srecall_at_%d\": %.6f",
							 prefix, eval_cutoffs[c], metrics->recall[c]);
	}
}

/*
 * Set *value to the metric called name (a name EvaluationAppendJson writes)
 * and return true, or return false for an unknown name.
 */
bool
EvaluationMetricValue(const EvaluationMetrics *metrics, const char *name, double *value)
{
	char		buf[64];

	if (strcmp(name, "coverage") == 0)
	{
		*value = metrics->coverage;
		return true;
	}
	if (strcmp(name, "mean_reciprocal_rank_at_25") == 0)
	{
		*value = metrics->mrr;
		return true;
	}
	for (int c = 0; c < lengthof(eval_cutoffs); c++)
	{
		snprintf(buf, sizeof(buf), "normalized_discounted_cumulative_gain_at_%d", eval_cutoffs[c]);
		if (strcmp(name, buf) == 0)
		{
			*value = metrics->ndcg[c];
			return true;
		}
		snprintf(buf, sizeof(buf), "precision_at_%d", eval_cutoffs[c]);
		if (strcmp(name, buf) == 0)
		{
			*value = metrics->precision[c];
			return true;
		}
		snprintf(buf, sizeof(buf), "recall_at_%d", eval_cutoffs[c]);
		if (eval_cutoffs[c] >= 10 && strcmp(name, buf) == 0)
		{
			*value = metrics->recall[c];
			return true;
		}
	}
	return false;
}

/*
 * Hold out users of m: among the users whose eligible[] is true (all users
 * when eligible is NULL) and who have two or more items, draw
 * max(pool / divisor, 1) with seed, where pool counts the eligible users.
 * Sets keep[u] = false for each (the caller initialises keep) and writes
 * them to heldout (n_users entries); returns how many.
 */
int32
EvaluateHoldOut(const InteractionMatrix *m, const bool *eligible, int divisor,
				uint64 seed, bool *keep, int32 *heldout)
{
	pg_prng_state rng;
	int32		n_candidates = 0;
	int32		pool = 0;
	int32		n_holdout;

	for (int32 u = 0; u < m->n_users; u++)
	{
		if (eligible != NULL && !eligible[u])
			continue;
		pool++;
		if (m->user_ptr[u + 1] - m->user_ptr[u] >= 2)
			heldout[n_candidates++] = u;
	}
	n_holdout = Min(Max(pool / divisor, 1), n_candidates);
	pg_prng_seed(&rng, seed);
	for (int32 j = 0; j < n_holdout; j++)
	{
		int32		pick = j + (int32) pg_prng_uint64_range(&rng, 0, n_candidates - 1 - j);
		int32		t = heldout[j];

		heldout[j] = heldout[pick];
		heldout[pick] = t;
		keep[heldout[j]] = false;
	}
	return n_holdout;
}

/*
 * Write user u's history to items (room for its length) ordered from oldest
 * to newest, and return its length: the last EVALUATION_RELEVANT(len) are
 * what the evaluation holds out, the rest is the input.
 */
int32
EvaluationUserItems(const InteractionMatrix *m, int32 u, TimedItem *items)
{
	int32		len = (int32) (m->user_ptr[u + 1] - m->user_ptr[u]);

	for (int32 e = 0; e < len; e++)
	{
		int64		pos = m->user_ptr[u] + e;

		items[e].item = m->user_items[pos];
		items[e].count = m->user_weights[pos];
		items[e].time = m->user_times[pos];
	}
	EvaluationSortItems(items, len);
	return len;
}

/* Order one user's history (len items) from oldest to newest. */
void
EvaluationSortItems(TimedItem *items, int32 len)
{
	timed_item_sort(items, len);
}

/*
 * Score the n held-out users of m with model (trained without them) and
 * set metrics to their averages.
 */
void
EvaluateUsers(const InteractionMatrix *m, const Recipe *recipe, const RecipeModel *model,
			  const int32 *users, int32 n, EvaluationMetrics *metrics)
{
	int32		max_len = 1;
	TimedItem  *items;
	int32	   *input;
	float	   *counts;
	float	   *scores = palloc(sizeof(float) * Max(m->n_items, 1));
	int32	   *top = palloc(sizeof(int32) * EVAL_TOP);
	bool	   *recommended = palloc0(sizeof(bool) * Max(m->n_items, 1));
	EvaluationMetrics sums = {0};
	int32		covered = 0;

	for (int32 j = 0; j < n; j++)
		max_len = Max(max_len, (int32) (m->user_ptr[users[j] + 1] - m->user_ptr[users[j]]));
	items = palloc(sizeof(TimedItem) * max_len);
	input = palloc(sizeof(int32) * max_len);
	counts = palloc(sizeof(float) * max_len);

	if (recipe->score == AlsScore && model->factors != NULL && model->k > 0)
	{
		if (!EvaluateFactorUsersInParallel(m, model, users, n, max_len, &sums, recommended))
			evaluate_users_batched(m, model, users, n, max_len, &sums, recommended);
	}
	else if (recipe == &PopularityCountRecipe)
		evaluate_users_popularity(m, model, users, n, max_len, &sums, recommended);
	else
	{
		for (int32 j = 0; j < n; j++)
		{
			int32		u = users[j];
			int32		len;
			int			n_relevant;

			CHECK_FOR_INTERRUPTS();
			len = EvaluationUserItems(m, u, items);
			n_relevant = EVALUATION_RELEVANT(len);
			evaluate_user(recipe, model, items, len - n_relevant, n_relevant,
						  input, counts, scores, top, &sums, recommended);
		}
	}

	for (int32 i = 0; i < m->n_items; i++)
		if (recommended[i])
			covered++;
	memset(metrics, 0, sizeof(EvaluationMetrics));
	metrics->users = n;
	if (n == 0)
		return;
	metrics->coverage = m->n_items > 0 ? (double) covered / m->n_items : 0.0;
	metrics->mrr = sums.mrr / n;
	for (int c = 0; c < lengthof(eval_cutoffs); c++)
	{
		metrics->precision[c] = sums.precision[c] / n;
		metrics->recall[c] = sums.recall[c] / n;
		metrics->ndcg[c] = sums.ndcg[c] / n;
	}
	pfree(items);
	pfree(input);
	pfree(counts);
	pfree(scores);
	pfree(top);
	pfree(recommended);
}

/*
 * Hold out users of m, train recipe and popularity-count on the rest, and
 * append the metrics of both as a JSON object to metrics.
 */
void
EvaluateRecipe(const InteractionMatrix *m, const Recipe *recipe,
			   Jsonb *hyperparameters, uint64 seed,
			   ProgressCallback progress, void *arg, StringInfo metrics)
{
	bool	   *keep = palloc(sizeof(bool) * Max(m->n_users, 1));
	int32	   *heldout = palloc(sizeof(int32) * Max(m->n_users, 1));
	int32		n_holdout;
	InteractionMatrix *train;
	RecipeModel model = {0};
	RecipeModel baseline = {0};
	EvaluationMetrics result;
	EvaluationMetrics base_result;
	instr_time	lap;

	INSTR_TIME_SET_CURRENT(lap);
	for (int32 u = 0; u < m->n_users; u++)
		keep[u] = true;
	n_holdout = EvaluateHoldOut(m, NULL, 10, seed, keep, heldout);

	train = MatrixSelectUsers(m, keep, recipe->trains_on_times);
	PersonalizeDebugLap("evaluation split drawn", &lap);
	recipe->train(train, hyperparameters, &model, progress, arg);
	PersonalizeDebugLap("evaluation model trained", &lap);
	RecipeFinishModel(recipe, &model);
	RecipeCountPopularity(train, &baseline);
	/* the fit on all data comes next: its memory, not the split's */
	MatrixFreeSelection(train);

	EvaluateUsers(m, recipe, &model, heldout, n_holdout, &result);
	PersonalizeDebugLap("held-out users scored", &lap);
	EvaluateUsers(m, &PopularityCountRecipe, &baseline, heldout, n_holdout, &base_result);
	PersonalizeDebugLap("held-out users scored by popularity", &lap);

	appendStringInfoChar(metrics, '{');
	if (n_holdout > 0)
	{
		EvaluationAppendJson(metrics, "", &result);
		appendStringInfoString(metrics, ", ");
		EvaluationAppendJson(metrics, "baseline_", &base_result);
		appendStringInfoString(metrics, ", ");
	}
	appendStringInfo(metrics, "\"evaluated_users\": %d}", n_holdout);
}
