/*-------------------------------------------------------------------------
 *
 * compact.h
 *	  Compact (int8) item factors for scoring a catalogue fast, with exact
 *	  re-scoring of every item that could enter the list (compact.c).
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/compact.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_COMPACT_H
#define PERSONALIZE_COMPACT_H

/*
 * Smaller catalogues are scored from the float factors: they stay in the
 * CPU caches, and compact scoring would gain little.
 */
#define COMPACT_MIN_ITEMS 2048

/*
 * Items are stored in blocks of 16, interleaved by groups of 4 factors:
 * a block's group g is 64 bytes, item j's 4 codes of factors 4g..4g+3 at
 * 4j.  One VNNI instruction then adds a group's 4 products to each of the
 * 16 items' sums at once, with no sum across a vector per item.
 */
#define COMPACT_BLOCK 16

/*
 * The scores of a compact query are also bounded per span of 64 items
 * (KERNEL_SKIP_BLOCK, topk.c's spans): the passes after scoring visit the
 * spans that can hold a candidate, not every score (CompactQuery.span_max).
 */
#define COMPACT_SPAN 64

/* Models with more factors are scored from their float factors. */
#define COMPACT_MAX_FACTORS 512

/* Codes per item are padded to whole 64-byte vectors (zeros score 0); arrays aligned so. */
#define COMPACT_ALIGN 64

/* A model's item factors, each row y_i stored as scale_i * codes_i. */
typedef struct CompactFactors
{
	int32		n_items;
	int32		k;
	int32		stride;			/* bytes of codes per item: k rounded up to 64 */
	int8	   *codes;			/* n_items x stride, zero padded */
	float	   *scale;			/* per item: max |y_if| / 127 */
	int32	   *code_sum;		/* per item: sum of its codes */
	float	   *l1;				/* per item: sum of |y_if| */
	float		max_scale;
	float		max_l1;
	char	   *blob;			/* where the arrays are (CompactBytes of them) */
	void	   *allocation;		/* the palloc'd chunk holding the blob, or NULL */
} CompactFactors;

/* One request's user vector against compact factors. */
typedef struct CompactQuery
{
	const CompactFactors *cf;
	const float *factors;		/* the exact item factors, n_items x k */
	float	   *x;				/* the user's factors, k */
	int16	   *x_codes;		/* x's 16-bit codes, stride of them (CompactBegin) */
	float		x_step;			/* x_f is about x_step x_codes[f] */
	float		bound_l1;		/* |exact - compact| <= bound_l1 l1_i + bound_scale scale_i */
	float		bound_scale;
	uint64	   *exact_bits;		/* per item: a bit set once its score is exact */
	int32	   *exact_items;	/* those items */
	float	   *span_max;		/* per span of COMPACT_SPAN items: at least its scores */
	double	   *span_sum;		/* per span: the sum of its compact logits */
	double	   *block_sums;		/* per KERNEL_BLOCK items: exploration's softmax terms */
	int32		n_spans;
	double		logit_sum;		/* of the finite scores (CompactFinishScoring); NaN once a bonus is added */
	int32		n_logits;		/* how many */
	bool		max_known;		/* is max_score the largest score?  (set by CompactTopK, until the scores change) */
	float		max_score;
	int32		n_exact;
	int32		exact_capacity;

	/*
	 * Exploration's bonus once added to the scores, which an item made
	 * exact later gets again (compact.c, compact_added): bonus_scale times
	 * the item's damping, 1 / sqrt(1 + popularity), to every item
	 * (bonus_ages NULL; added in float) or to the items whose age is at
	 * most bonus_cut_off (added in double).  From the model's own arrays,
	 * which last as long as the model: a filter's query may run another
	 * request meanwhile, which may list another cut-off's young items.
	 */
	const float *bonus_popularity;	/* NULL: no bonus added */
	const float *bonus_ages;
	double		bonus_cut_off;
	double		bonus_scale;
} CompactQuery;

extern Size CompactBytes(int32 n_items, int32 k);
extern void CompactBuildInto(const float *factors, int32 n_items, int32 k, char *blob);
extern CompactFactors *CompactFromBlob(char *blob, int32 n_items, int32 k);
extern CompactFactors *CompactBuild(const float *factors, int32 n_items, int32 k);
extern Size CompactScratchBytes(int32 n_items);
extern CompactQuery *CompactBegin(const CompactFactors *cf, const float *factors,
								  const float *x, void *scratch);
extern void CompactScoreItems(const CompactQuery *q, int32 from, int32 to, float *scores,
							  float *span_max, double *span_sum);
extern void CompactFinishScoring(CompactQuery *q);
extern void CompactExclude(CompactQuery *q, float *scores, int n, const int32 *items);
extern int	CompactTopK(CompactQuery *q, float *scores, int depth, int32 *top,
						float max_score, double *denominator);

#endif							/* PERSONALIZE_COMPACT_H */
