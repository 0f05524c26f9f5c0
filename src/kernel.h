/*-------------------------------------------------------------------------
 *
 * kernel.h
 *	  Vectorised loops of the request path over a catalogue's scores.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/kernel.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_KERNEL_H
#define PERSONALIZE_KERNEL_H

/* One pass over a score array for its softmax and its mean logit. */
typedef struct SoftmaxMoments
{
	double		denominator;	/* sum of exp(score - max) over finite scores */
	double		centred_sum;	/* sum of (score - max) over finite scores */
	int32		n_finite;		/* how many scores are finite */
} SoftmaxMoments;

extern float KernelMax(const float *scores, int32 n);
extern float KernelDot(const float *a, const float *b, int32 n);
extern double KernelSoftmaxDenominator(const float *scores, int32 n, float max_score);
extern void KernelSoftmaxMoments(const float *scores, int32 n, float max_score,
								 SoftmaxMoments *out);
/* Scores KernelSkipBelow tests at a time: gcc vectorises a loop of 64 (16 it unrolls instead). */
#define KERNEL_SKIP_BLOCK 64

/* Scores summed in float per block of this many, blocks in double: accurate and vectorised. */
#define KERNEL_BLOCK 2048

extern float KernelMaxSum(const float *scores, int32 n, double *sum, int32 *count);
extern void KernelAddScaledBlocks(float *scores, const float *weights, int32 n, double scale,
								  float ceiling, double *block_sums);
extern double KernelBlockSumsTotal(const double *block_sums, int32 n);
extern int32 KernelSkipBelow(const float *scores, int32 from, int32 n, float bound);
extern uint64 KernelAtLeastMask(const float *v, int32 n, float bound);
/* work: n * n + n doubles */
extern bool KernelCholeskySolve(const float *a, int n, float *b, double *work);

/*
 * Ask for the bytes at p, a 64-byte cache line at a time, before they are
 * read: for rows scattered over a catalogue (history rows, re-scored items),
 * which the hardware prefetcher cannot guess.
 */
static inline void
KernelPrefetch(const void *p, Size bytes)
{
	for (Size offset = 0; offset < bytes; offset += 64)
		__builtin_prefetch((const char *) p + offset);
}

#endif							/* PERSONALIZE_KERNEL_H */
