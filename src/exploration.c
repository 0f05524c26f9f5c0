/*-------------------------------------------------------------------------
 *
 * exploration.c
 *	  Exploration of young items in recommend(), as Personalize's
 *	  user-personalization does it: campaign config exploration_weight w
 *	  (0..1, default 0.3) and exploration_item_age_cut_off (days, default
 *	  30).  An item is young when its age at training (model_item.age_days:
 *	  from its creation time, else its first interaction, to the newest
 *	  interaction) is at most the cut-off.
 *
 * A young candidate's logit gets an optimistic bonus, as an upper
 * confidence bound would: the less the model has seen of it, the more
 * uncertain its score, so
 *
 *		s'(i) = s(i) + w * gap / sqrt(1 + users(i))
 *
 * where gap is the user's best candidate logit minus the mean of the
 * candidates' logits.  Measured in the user's own spread, the bonus lifts
 * a young item that was nearly good enough into the list without letting
 * an irrelevant one in: at weight 1 a young item nobody has interacted
 * with moves from the user's average to the user's best, one with 99
 * users a tenth of that way.  On MovieLens-100K (42 of 1,644 items young,
 * each rated by a few users) the young items' share of the top 10 is 0 at
 * weight 0.3, 0.3% at 0.6, 6.9% at 0.8 and 34% at 1, with precision@10 on
 * each user's newest tenth of ratings 0.102, 0.102, 0.096 and 0.073.
 * The scores stay a softmax (they sum to 1), the order of the other items
 * is unchanged, w = 0 is relevance only, and the same request always gets
 * the same answer.
 *
 * Cost per request: the mean comes from the softmax pass itself
 * (KernelSoftmaxMoments), and the young items are listed once per model
 * and cut-off (in the model's cache entry), so only they are visited;
 * before, two extra passes over the catalogue took 8% of a recommend()
 * over 27k items.  A model with no young item for the cut-off explores
 * nothing, and costs nothing for it (ExplorationApplies): the plain
 * denominator, and no exact best logit beforehand under compact scoring.
 *
 * (A first version mixed probabilities, (1 - w) p + w q with q over the
 * young items; with a flat p, as for users known only by their metadata,
 * the young items took every slot: on MovieLens-100K precision@10 of such
 * users fell from 0.54 to 0.02.)
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/exploration.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "compact.h"
#include "exploration.h"
#include "kernel.h"
#include "scoring_helper.h"
#include "topk.h"

/*
 * List in lm the model indexes of the young items for age_cut_off, in
 * index order (the order the denominator is updated in), unless listed
 * already: the ages are fixed with the model, the cut-off is the campaign's.
 */
static void
exploration_list_young(LoadedModel *lm, double age_cut_off)
{
	const RecipeModel *model = &lm->model;
	int32		n = 0;

	if (lm->young != NULL && lm->young_cut_off == age_cut_off)
		return;
	if (lm->young != NULL)
	{
		pfree(lm->young);
		pfree(lm->young_damping);
		if (lm->young_span_damping != NULL)
			pfree(lm->young_span_damping);
		lm->young_span_damping = NULL;
	}
	for (int32 i = 0; i < model->n_items; i++)
		if (ExplorationIsYoung(model->item_age_days[i], age_cut_off))
			n++;
	lm->young = MemoryContextAllocHuge(lm->context, sizeof(int32) * Max(n, 1));
	lm->young_damping = MemoryContextAllocHuge(lm->context, sizeof(float) * Max(n, 1));
	lm->n_young = 0;
	lm->young_damping_max = 0.0;
	for (int32 i = 0; i < model->n_items; i++)
		if (ExplorationIsYoung(model->item_age_days[i], age_cut_off))
		{
			lm->young_damping[lm->n_young] = ExplorationDamping(model->popularity[i]);
			lm->young_damping_max = Max(lm->young_damping_max, lm->young_damping[lm->n_young]);
			lm->young[lm->n_young++] = i;
		}
	if (lm->n_young == model->n_items)
	{
		/* every item young: the largest bonus factor of each span (topk.c) */
		int32		n_spans = (n + KERNEL_SKIP_BLOCK - 1) / KERNEL_SKIP_BLOCK;

		lm->young_span_damping = MemoryContextAllocHuge(lm->context, sizeof(float) * Max(n_spans, 1));
		for (int32 span = 0; span < n_spans; span++)
		{
			lm->young_span_damping[span] = 0.0f;
			for (int32 i = span * KERNEL_SKIP_BLOCK; i < Min(n, (span + 1) * KERNEL_SKIP_BLOCK); i++)
				lm->young_span_damping[span] = Max(lm->young_span_damping[span], lm->young_damping[i]);
		}
	}
	lm->young_cut_off = age_cut_off;
}

/*
 * Explore young items: add the bonus to the logits of the young candidates
 * in scores (n_items; -Infinity for excluded items) and return the softmax
 * denominator of the result relative to max_score, given the one before
 * and the candidates' moments (m).  Nothing changes with weight 0, without
 * ages or without a young candidate.  With q (compact scores), the span
 * bounds follow the scores, and q records the bonus for the items it makes
 * exact later.
 */
static double
exploration_apply(LoadedModel *lm, float *scores, float max_score,
				  const SoftmaxMoments *m, double weight, double age_cut_off, CompactQuery *q)
{
	float	   *span_max = q != NULL ? q->span_max : NULL;
	const RecipeModel *model = &lm->model;
	double		denominator = m->denominator;
	double		gap;			/* best candidate's logit minus the mean */
	float	   *values;
	int32		n = 0;
	float		top = max_score;
	double		before;
	double		after;

	if (weight <= 0.0 || model->item_age_days == NULL)
		return denominator;

	/* the spread of the candidates' logits */
	if (m->n_finite < 2)
		return denominator;
	gap = -m->centred_sum / m->n_finite;
	if (!(gap > 0.0))
		return denominator;

	exploration_list_young(lm, age_cut_off);

	/*
	 * The young candidates' terms of the denominator before and after the
	 * bonus, each summed by the vectorised kernel over a gathered copy of
	 * their scores (a million young items took 12 ms of libm exp() calls).
	 */
	values = palloc_extended(sizeof(float) * Max(lm->n_young, 1), MCXT_ALLOC_HUGE);
	for (int32 y = 0; y < lm->n_young; y++)
		if (isfinite(scores[lm->young[y]]))
			values[n++] = scores[lm->young[y]];
	before = KernelSoftmaxDenominator(values, n, max_score);
	n = 0;
	for (int32 y = 0; y < lm->n_young; y++)
	{
		int32		i = lm->young[y];

		if (!isfinite(scores[i]))
			continue;
		scores[i] = ExplorationAddBonus(scores[i], weight * gap, lm->young_damping[y]);
		/* a raised score raises its span's bound (topk.c) */
		if (span_max != NULL && !(span_max[i / KERNEL_SKIP_BLOCK] >= scores[i]))
			span_max[i / KERNEL_SKIP_BLOCK] = scores[i];
		values[n++] = scores[i];
		top = Max(top, scores[i]);
	}
	if (q != NULL)
	{
		q->logit_sum = NAN;		/* no longer the scores' sum */
		q->bonus_popularity = model->popularity;
		q->bonus_ages = model->item_age_days;
		q->bonus_cut_off = age_cut_off;
		q->bonus_scale = weight * gap;
	}
	/* a bonus may lift a score above max_score: sum relative to the top */
	after = exp((double) top - max_score) * KernelSoftmaxDenominator(values, n, top);
	pfree(values);
	return denominator + after - before;
}

/*
 * At least s + scale * damping as KernelAddScaledBlocks computes it
 * in float for any s <= score and damping <= largest_damping (scale > 0):
 * the bound in double, its bonus a millionth larger, then the next float
 * up, cover the roundings of the float product and sum.
 */
static float
exploration_bound(float score, float scale, float largest_damping)
{
	double		bound = (double) score + (double) scale * largest_damping * (1.0 + 1e-6);

	return nextafterf((float) bound, INFINITY);
}

/*
 * ExplorationSoftmax when every item is young (a catalogue of new items):
 * the maximum with the mean logit (a vectorised pass, or from compact
 * scoring's query q, which has them already), then the bonus with the
 * denominator (a pass, halved with the scoring helper).  The denominator
 * is summed relative to a ceiling no score can pass (no bonus exceeds
 * weight * gap times the largest damping), then made relative to the
 * maximum.
 */
static double
exploration_all_young(LoadedModel *lm, float *scores, double weight, float *max_score,
					  CompactQuery *q)
{
	int32		n = lm->model.n_items;
	float	   *span_max = q != NULL ? q->span_max : NULL;
	double		sum;
	int32		count;
	float		best;
	double		gap;
	float		ceiling;
	double		denominator;
	double	   *block_sums;

	if (q != NULL && isfinite(q->logit_sum))
	{
		/* compact scores: their sum came with them, their maximum found already or from their spans */
		best = q->max_known ? q->max_score : SpanMax(scores, n, q->span_max);
		sum = q->logit_sum;
		count = q->n_logits;
	}
	else
		best = KernelMaxSum(scores, n, &sum, &count);
	*max_score = 0.0f;
	if (!isfinite(best))
		return 1.0;
	*max_score = best;
	gap = count >= 2 ? best - sum / count : 0.0;
	if (!(gap > 0.0))
		return KernelSoftmaxDenominator(scores, n, best);
	/*
	 * No score after its bonus (added in float, KernelAddScaledBlocks)
	 * rounds above this: a bound on the bonus, rounded up, and rounding is
	 * monotonic.
	 */
	ceiling = exploration_bound(best, (float) (weight * gap), (float) lm->young_damping_max);
	if (q != NULL)
	{
		/*
		 * Compact scores: with the scoring helper's help over a large
		 * catalogue, the damping read from the model's shared segment (the
		 * same values), the sums kept in the score buffer's scratch space.
		 */
		const float *damping = lm->shared_damping != NULL ? lm->shared_damping : lm->young_damping;

		ScoringHelperAddBonus(scores, damping, n, weight * gap, ceiling, q->block_sums,
							  lm->shared_segment, ModelScoresSegment(lm, scores));
		block_sums = q->block_sums;
		q->max_known = false;	/* the bonus moved the scores */
		/* for the items made exact later: the damping is each item's */
		q->logit_sum = NAN;		/* no longer the scores' sum */
		q->bonus_popularity = lm->model.popularity;
		q->bonus_ages = NULL;
		q->bonus_scale = weight * gap;
	}
	else
	{
		block_sums = palloc(sizeof(double) * ((n + KERNEL_BLOCK - 1) / KERNEL_BLOCK));
		KernelAddScaledBlocks(scores, lm->young_damping, n, weight * gap, ceiling, block_sums);
	}
	denominator = exp((double) ceiling - best) * KernelBlockSumsTotal(block_sums, n);

	/*
	 * Each span's bound grows by at most its largest bonus: a bound again,
	 * without reading the scores.
	 */
	for (int32 span = 0; span_max != NULL && span < (n + KERNEL_SKIP_BLOCK - 1) / KERNEL_SKIP_BLOCK; span++)
		if (isfinite(span_max[span]))
			span_max[span] = exploration_bound(span_max[span], (float) (weight * gap),
											   lm->young_span_damping[span]);
	return denominator;
}

/*
 * Can a request of weight and age_cut_off change any score?  Not when the
 * model has no young item (most catalogues once trained a while): the
 * caller then skips what only exploration needs.
 */
bool
ExplorationApplies(LoadedModel *lm, double weight, double age_cut_off)
{
	if (!(weight > 0.0) || lm->model.item_age_days == NULL)
		return false;
	exploration_list_young(lm, age_cut_off);
	return lm->n_young > 0;
}

/*
 * The softmax of a user's logits in scores (n_items; -Infinity for
 * excluded items), young items explored with weight (0: none): sets
 * *max_score to the largest logit and returns the denominator relative to
 * it.  With no candidate, *max_score is 0 and the denominator 1.  With q
 * (compact scores), its span bounds (topk.c) stay at least the scores
 * they bound as the bonus raises them, and its sum of the logits spares a
 * pass.
 */
double
ExplorationSoftmax(LoadedModel *lm, float *scores, double weight, double age_cut_off,
				   float *max_score, CompactQuery *q)
{
	float	   *span_max = q != NULL ? q->span_max : NULL;
	SoftmaxMoments m;
	float		best;
	bool		explores = ExplorationApplies(lm, weight, age_cut_off);

	if (explores && lm->n_young == lm->model.n_items)
		return exploration_all_young(lm, scores, weight, max_score, q);
	best = q != NULL && q->max_known ? q->max_score :
		span_max != NULL ? SpanMax(scores, lm->model.n_items, span_max) :
		KernelMax(scores, lm->model.n_items);

	*max_score = 0.0f;
	if (!isfinite(best))
		return 1.0;
	*max_score = best;
	if (!explores)
		return KernelSoftmaxDenominator(scores, lm->model.n_items, best);
	KernelSoftmaxMoments(scores, lm->model.n_items, best, &m);
	if (q != NULL)
		q->max_known = false;	/* the bonus will move the scores */
	return exploration_apply(lm, scores, best, &m, weight, age_cut_off, q);
}
