/*-------------------------------------------------------------------------
 *
 * topk.c
 *	  Exact top-K selection (a sorted list for a page of results, a
 *	  bounded min-heap beyond), and the softmax denominator over a score
 *	  array.
 *
 * Items excluded from a request carry a score of -Infinity and are never
 * selected.  Once k items are held, blocks of items below the worst of
 * them are skipped by one vectorised test each (KernelSkipBelow, kernel.c),
 * and a block is visited only at its items at or above it
 * (KernelAtLeastMask).  Equal scores are ordered by item index so results
 * are deterministic.
 *
 * Compact scoring (compact.c) also keeps a bound per span of
 * KERNEL_SKIP_BLOCK items, at least every score of the span: TopKSpans
 * and SpanMax then read only the spans that may matter, where TopK and
 * KernelMax read every score (over a million items, 4 MB a pass, from
 * memory: the 64 MB of codes just scanned have pushed them out of cache).
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/topk.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "port/pg_bitutils.h"

#include "kernel.h"
#include "topk.h"

/* Does item a (score sa) rank below item b (score sb)? */
static inline bool
ranks_below(float sa, int32 a, float sb, int32 b)
{
	return sa < sb || (sa == sb && a > b);
}

/* Restore the min-heap property (worst item at the root) below position i. */
static void
sift_down(int32 *heap, int size, const float *scores, int i)
{
	for (;;)
	{
		int			worst = i,
					l = 2 * i + 1,
					r = 2 * i + 2;

		if (l < size && ranks_below(scores[heap[l]], heap[l], scores[heap[worst]], heap[worst]))
			worst = l;
		if (r < size && ranks_below(scores[heap[r]], heap[r], scores[heap[worst]], heap[worst]))
			worst = r;
		if (worst == i)
			return;
		{
			int32		t = heap[i];

			heap[i] = heap[worst];
			heap[worst] = t;
		}
		i = worst;
	}
}

/*
 * Offer item i (finite score, not below *worst) to the heap out of *size
 * items (at most k); *worst is the root's score once the heap is full.
 */
static inline void
topk_consider(int32 *out, int *size, int k, float *worst, const float *scores, int32 i)
{
	if (*size < k)
	{
		/* sift up */
		int			j = (*size)++;

		out[j] = i;
		while (j > 0)
		{
			int			parent = (j - 1) / 2;

			if (!ranks_below(scores[out[j]], out[j], scores[out[parent]], out[parent]))
				break;
			{
				int32		t = out[j];

				out[j] = out[parent];
				out[parent] = t;
			}
			j = parent;
		}
		if (*size == k)
			*worst = scores[out[0]];
	}
	else if (ranks_below(scores[out[0]], out[0], scores[i], i))
	{
		out[0] = i;
		sift_down(out, *size, scores, 0);
		*worst = scores[out[0]];
	}
}

/*
 * A selection in progress.  For small k (a page of results) the best items
 * so far are kept in a list, best first, with their scores beside them: a
 * new item takes a few predictable moves, where a heap took unpredictable
 * branches over scores read through item indexes (sift_down was 4% of a
 * recommend at 27k items).  Beyond, a heap in out.  Either way the order
 * is score, then lower index first.
 */
#define TOPK_LIST_MAX 64

/* SpanMax: how many loose bounds it makes exact before recomputing all. */
#define SPAN_MAX_TRIES 16

typedef struct TopKSelection
{
	int			k;
	int			size;
	float		worst;			/* score of the k-th best once there are k */
	const float *scores;
	int32	   *out;			/* the heap (k > TOPK_LIST_MAX), then the answer */
	float		list_score[TOPK_LIST_MAX];
	int32		list_item[TOPK_LIST_MAX];
} TopKSelection;

static inline void
topk_begin(TopKSelection *sel, const float *scores, int k, int32 *out)
{
	sel->k = k;
	sel->size = 0;
	sel->worst = -INFINITY;
	sel->scores = scores;
	sel->out = out;
}

/* Offer item i, of finite score s at or above sel->worst. */
static inline void
topk_take(TopKSelection *sel, float s, int32 i)
{
	int			k = sel->k;
	int			p;

	if (k > TOPK_LIST_MAX)
	{
		topk_consider(sel->out, &sel->size, k, &sel->worst, sel->scores, i);
		return;
	}
	if (sel->size == k)
	{
		if (!ranks_below(sel->list_score[k - 1], sel->list_item[k - 1], s, i))
			return;
		p = k - 1;
	}
	else
		p = sel->size++;
	for (; p > 0 && ranks_below(sel->list_score[p - 1], sel->list_item[p - 1], s, i); p--)
	{
		sel->list_score[p] = sel->list_score[p - 1];
		sel->list_item[p] = sel->list_item[p - 1];
	}
	sel->list_score[p] = s;
	sel->list_item[p] = i;
	if (sel->size == k)
		sel->worst = sel->list_score[k - 1];
}

/* Heap sort the heap of size items, best first: repeatedly move the worst to the end. */
static void
topk_sort(int32 *heap, int size, const float *scores)
{
	for (int end = size - 1; end > 0; end--)
	{
		int32		t = heap[0];

		heap[0] = heap[end];
		heap[end] = t;
		sift_down(heap, end, scores, 0);
	}
}

/* Write the selection's items into out, best first; returns how many. */
static int
topk_finish(TopKSelection *sel)
{
	if (sel->k > TOPK_LIST_MAX)
		topk_sort(sel->out, sel->size, sel->scores);
	else
		memcpy(sel->out, sel->list_item, sizeof(int32) * sel->size);
	return sel->size;
}

/* Offer the items from to end (at most 64) at or above the worst. */
static inline void
topk_visit(TopKSelection *sel, int32 from, int32 end)
{
	for (uint64 candidates = KernelAtLeastMask(sel->scores + from, end - from, sel->worst);
		 candidates != 0; candidates &= candidates - 1)
	{
		int32		item = from + pg_rightmost_one_pos64(candidates);
		float		s = sel->scores[item];

		if (s >= sel->worst && isfinite(s))
			topk_take(sel, s, item);
	}
}

/*
 * Write the indexes of the k best finite scores into out, best first, and
 * return how many were written (fewer than k when fewer items qualify).
 */
int
TopK(const float *scores, int32 n, int k, int32 *out)
{
	TopKSelection sel;

	if (k <= 0)
		return 0;
	if (k == 1)
	{
		/* the best item: a vectorised maximum, then its first index */
		float		best = KernelMax(scores, n);

		if (!isfinite(best))
			return 0;
		for (int32 i = 0; i < n; i++)
			if (scores[i] == best)
			{
				out[0] = i;
				return 1;
			}
		return 0;				/* not reached */
	}
	topk_begin(&sel, scores, k, out);
	for (int32 i = 0; i < n;)
	{
		int32		end;

		CHECK_FOR_INTERRUPTS();
		/* once there are k, most items are below the worst: skip them */
		if (sel.size == k)
			i = KernelSkipBelow(scores, i, n, sel.worst);
		end = Min(n, i + KERNEL_SKIP_BLOCK);
		topk_visit(&sel, i, end);
		i = end;
	}
	return topk_finish(&sel);
}

/*
 * TopK over scores bounded by span maxima (see SpanMax): the spans whose
 * bound is below the k-th best so far are not read.
 */
int
TopKSpans(const float *scores, int32 n, const float *span_max, int k, int32 *out)
{
	TopKSelection sel;

	if (k <= 0)
		return 0;
	topk_begin(&sel, scores, k, out);
	for (int32 i = 0, span = 0; i < n; i += KERNEL_SKIP_BLOCK, span++)
	{
		if ((span & 0x3FF) == 0)
			CHECK_FOR_INTERRUPTS();
		/* a score equal to the worst may still enter (lower index first) */
		if (sel.size == k && !(span_max[span] >= sel.worst))
			continue;
		topk_visit(&sel, i, Min(n, i + KERNEL_SKIP_BLOCK));
	}
	return topk_finish(&sel);
}

/*
 * The largest finite score of n (-Infinity when there is none), given
 * span maxima: span_max[s] at least every score of the s-th span of
 * KERNEL_SKIP_BLOCK items.  A bound may be loose (the span's best was
 * excluded since, or made exact lower): the span with the highest bound
 * is read, its bound made exact, until the highest bound is exact.  Past
 * a few tries every bound is recomputed.
 */
float
SpanMax(const float *scores, int32 n, float *span_max)
{
	int32		n_spans = (n + KERNEL_SKIP_BLOCK - 1) / KERNEL_SKIP_BLOCK;
	float		best = -INFINITY;

	for (int attempt = 0; attempt < SPAN_MAX_TRIES; attempt++)
	{
		int32		top = 0;
		float		exact;

		for (int32 span = 1; span < n_spans; span++)
			if (span_max[span] > span_max[top])
				top = span;
		if (n_spans == 0 || !(span_max[top] > -INFINITY))
			return -INFINITY;
		exact = KernelMax(scores + (Size) top * KERNEL_SKIP_BLOCK,
						  Min(KERNEL_SKIP_BLOCK, n - top * KERNEL_SKIP_BLOCK));
		if (exact == span_max[top])
			return exact;
		span_max[top] = exact;
	}
	SpansRefresh(scores, 0, n, span_max);
	for (int32 span = 0; span < n_spans; span++)
		best = Max(best, span_max[span]);
	return best;
}

/*
 * Recompute exactly the span maxima of items from (a multiple of
 * KERNEL_SKIP_BLOCK) to to.
 */
void
SpansRefresh(const float *scores, int32 from, int32 to, float *span_max)
{
	Assert(from % KERNEL_SKIP_BLOCK == 0);
	for (int32 i = from; i < to; i += KERNEL_SKIP_BLOCK)
		span_max[i / KERNEL_SKIP_BLOCK] = KernelMax(scores + i, Min(KERNEL_SKIP_BLOCK, to - i));
}

/*
 * TopK among the n items listed in items (any order) instead of all of
 * scores: the same answer, ties by lower index.
 */
int
TopKOf(const float *scores, const int32 *items, int32 n, int k, int32 *out)
{
	TopKSelection sel;

	if (k <= 0)
		return 0;
	topk_begin(&sel, scores, k, out);
	for (int32 j = 0; j < n; j++)
	{
		float		s = scores[items[j]];

		if (s >= sel.worst && isfinite(s))
			topk_take(&sel, s, items[j]);
	}
	return topk_finish(&sel);
}

/*
 * Return sum over finite scores of exp(score - max_score), max_score being
 * the largest of them: a vectorised loop (kernel.c), to a relative 1e-6.
 */
double
SoftmaxDenominator(const float *scores, int32 n, float max_score)
{
	return KernelSoftmaxDenominator(scores, n, max_score);
}
