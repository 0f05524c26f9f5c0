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

#include "evaluate.h"
#include "topk.h"

#define EVAL_TOP 25

static const int eval_cutoffs[] = {5, 10, 25};

/* Running sums of the metrics of one model. */
typedef struct MetricSums
{
	double		precision[3];
	double		recall[3];
	double		ndcg[3];
	double		mrr;
	bool	   *recommended;	/* n_items: recommended to someone */
} MetricSums;

static int
timed_item_cmp(const void *a, const void *b)
{
	const TimedItem *x = a;
	const TimedItem *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return (x->item > y->item) - (x->item < y->item);
}

/*
 * Draw the held-out users of m with seed: n_users / 10 (at least one) among
 * the users with two or more items.  Writes them to held_out[0..n) (room
 * for m->n_users), sets keep[u] false for them and true for every other
 * user, and returns n.  The split SQL function (evaluate_split.c) calls
 * this too, so reference implementations see exactly our split.
 */
int32
EvaluationHoldout(const InteractionMatrix *m, uint64 seed, int32 *held_out, bool *keep)
{
	pg_prng_state rng;
	int32		n_candidates = 0;
	int32		n_holdout;

	for (int32 u = 0; u < m->n_users; u++)
	{
		keep[u] = true;
		if (m->user_ptr[u + 1] - m->user_ptr[u] >= 2)
			held_out[n_candidates++] = u;
	}
	n_holdout = Min(Max(m->n_users / 10, 1), n_candidates);
	pg_prng_seed(&rng, seed);
	for (int32 j = 0; j < n_holdout; j++)
	{
		int32		pick = j + (int32) pg_prng_uint64_range(&rng, 0, n_candidates - 1 - j);
		int32		t = held_out[j];

		held_out[j] = held_out[pick];
		held_out[pick] = t;
		keep[held_out[j]] = false;
	}
	return n_holdout;
}

/*
 * Copy user u's distinct items into items (room for the row's length),
 * oldest first (ties by item index), and return how many there are.  The
 * first len - EVALUATION_RELEVANT(len) are the input, the rest relevant.
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
	qsort(items, len, sizeof(TimedItem), timed_item_cmp);
	return len;
}

/*
 * Score one held-out user with model and add the user's metrics to sums.
 */
static void
evaluate_user(const Recipe *recipe, const RecipeModel *model,
			  const TimedItem *items, int n_input, int n_relevant,
			  int32 *input, float *counts, float *scores, int32 *top,
			  MetricSums *sums)
{
	int			n_top;
	double		dcg = 0.0;
	int			hits = 0;
	int			c = 0;
	bool		first_hit = true;

	/* items are oldest first: item j has n_input - 1 - j newer ones */
	for (int j = 0; j < n_input; j++)
	{
		input[j] = items[j].item;
		counts[j] = items[j].count * RecipeRecencyWeight(model, n_input - 1 - j);
	}
	recipe->score(model, n_input, input, counts, scores);
	for (int j = 0; j < n_input; j++)
		scores[input[j]] = -INFINITY;
	n_top = TopK(scores, model->n_items, EVAL_TOP, top);

	for (int pos = 0; pos < EVAL_TOP; pos++)
	{
		bool		hit = false;

		if (pos < n_top)
		{
			sums->recommended[top[pos]] = true;
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
 * Append the averaged metrics of sums to out as JSON members.
 */
static void
append_metrics(StringInfo out, const char *prefix, const MetricSums *sums,
			   int users, int32 n_items)
{
	int32		covered = 0;

	for (int32 i = 0; i < n_items; i++)
		if (sums->recommended[i])
			covered++;
	appendStringInfo(out, "\"%scoverage\": %.6f", prefix, n_items > 0 ? (double) covered / n_items : 0.0);
	appendStringInfo(out, ", \"%smean_reciprocal_rank_at_25\": %.6f", prefix, sums->mrr / users);
	for (int c = 0; c < lengthof(eval_cutoffs); c++)
	{
		appendStringInfo(out, ", \"%snormalized_discounted_cumulative_gain_at_%d\": %.6f",
						 prefix, eval_cutoffs[c], sums->ndcg[c] / users);
		appendStringInfo(out, ", \"%sprecision_at_%d\": %.6f",
						 prefix, eval_cutoffs[c], sums->precision[c] / users);
		if (eval_cutoffs[c] >= 10)
			appendStringInfo(out, ", \"%srecall_at_%d\": %.6f",
							 prefix, eval_cutoffs[c], sums->recall[c] / users);
	}
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
	int32	   *candidates = palloc(sizeof(int32) * Max(m->n_users, 1));
	int32		n_holdout;
	bool	   *keep = palloc(sizeof(bool) * Max(m->n_users, 1));
	InteractionMatrix *train;
	RecipeModel model = {0};
	RecipeModel baseline = {0};
	MetricSums	sums = {0};
	MetricSums	base_sums = {0};
	int32		max_len = 0;
	TimedItem  *items;
	int32	   *input;
	float	   *counts;
	float	   *scores;
	int32	   *top;
	int			evaluated = 0;

	n_holdout = EvaluationHoldout(m, seed, candidates, keep);
	for (int32 u = 0; u < m->n_users; u++)
		max_len = Max(max_len, (int32) (m->user_ptr[u + 1] - m->user_ptr[u]));

	train = MatrixSelectUsers(m, keep);
	recipe->train(train, hyperparameters, &model, progress, arg);
	RecipeFinishModel(recipe, &model);
	RecipeCountPopularity(train, &baseline);

	items = palloc(sizeof(TimedItem) * Max(max_len, 1));
	input = palloc(sizeof(int32) * Max(max_len, 1));
	counts = palloc(sizeof(float) * Max(max_len, 1));
	scores = palloc(sizeof(float) * Max(m->n_items, 1));
	top = palloc(sizeof(int32) * EVAL_TOP);
	sums.recommended = palloc0(sizeof(bool) * Max(m->n_items, 1));
	base_sums.recommended = palloc0(sizeof(bool) * Max(m->n_items, 1));

	for (int32 j = 0; j < n_holdout; j++)
	{
		int32		u = candidates[j];
		int32		len = EvaluationUserItems(m, u, items);
		int			n_relevant = EVALUATION_RELEVANT(len);

		CHECK_FOR_INTERRUPTS();
		evaluate_user(recipe, &model, items, len - n_relevant, n_relevant,
					  input, counts, scores, top, &sums);
		evaluate_user(&PopularityCountRecipe, &baseline, items, len - n_relevant,
					  n_relevant, input, counts, scores, top, &base_sums);
		evaluated++;
	}

	appendStringInfoChar(metrics, '{');
	if (evaluated > 0)
	{
		append_metrics(metrics, "", &sums, evaluated, m->n_items);
		appendStringInfoString(metrics, ", ");
		append_metrics(metrics, "baseline_", &base_sums, evaluated, m->n_items);
		appendStringInfoString(metrics, ", ");
	}
	appendStringInfo(metrics, "\"evaluated_users\": %d}", evaluated);
}
