/*-------------------------------------------------------------------------
 *
 * kernel.c
 *	  Vectorised loops of the request path: the maximum and the softmax
 *	  denominator of a score array.
 *
 * Every recommend() of a user-personalization campaign takes a softmax over
 * the whole catalogue, so besides the matrix-vector product (OpenBLAS) it
 * makes two passes over n_items scores.  Calling libm's exp() per item cost
 * as much as the product itself; these loops are written so that gcc
 * vectorises them (this file is built with -O3, see the Makefile), and
 * each is compiled twice, for AVX2 and for the baseline instruction set,
 * the CPU choosing at load time (target_clones), so the extension needs no
 * -march flag.
 *
 * These functions call no PostgreSQL API.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/kernel.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "kernel.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define KERNEL_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define KERNEL_CLONES
#endif

/* Scores summed in float per block, blocks in double: accurate and vectorised. */
#define KERNEL_BLOCK 2048
/* Independent accumulators per loop: a multiple of any vector width. */
#define KERNEL_LANES 16

/*
 * exp(x) for x <= 0, to about 2 ulp in float; 0 below -87 (the terms of a
 * softmax denominator that small are far below its float precision, the
 * largest term being 1).  Range reduction x = n ln 2 + r, |r| <= ln 2 / 2,
 * a degree-6 polynomial for e^r, and 2^n put into the exponent bits: all
 * straight-line arithmetic, so a loop over it vectorises.
 */
static inline float
kernel_exp_nonpositive(float x)
{
	float		n;
	float		r;
	float		p;
	int32		bits;
	float		scale;

	x = x < -87.0f ? -87.0f : x;
	/* round to nearest by the 1.5 * 2^23 trick (no libm call) */
	n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	r = x - n * 0.693145751953125f;	/* ln 2 in two parts (Cody and Waite) */
	r = r - n * 1.428606765330187e-06f;
	p = 1.0f / 720.0f;
	p = p * r + 1.0f / 120.0f;
	p = p * r + 1.0f / 24.0f;
	p = p * r + 1.0f / 6.0f;
	p = p * r + 0.5f;
	p = p * r + 1.0f;
	p = p * r + 1.0f;
	bits = ((int32) n + 127) << 23;
	memcpy(&scale, &bits, sizeof(scale));
	return p * scale;
}

/* s when finite, else -Infinity (NaN fails both comparisons). */
static inline float
kernel_finite_or_minus_infinity(float s)
{
	return (s >= -FLT_MAX && s <= FLT_MAX) ? s : -INFINITY;
}

/* exp(s - max_score) for a finite s, else 0. */
static inline float
kernel_softmax_term(float s, float max_score)
{
	float		e = kernel_exp_nonpositive(s - max_score);

	return (s >= -FLT_MAX && s <= FLT_MAX) ? e : 0.0f;
}

/*
 * The largest finite score of n, or -Infinity when there is none.
 */
KERNEL_CLONES
float
KernelMax(const float *scores, int32 n)
{
	float		lane[KERNEL_LANES];
	float		best = -INFINITY;
	int32		i = 0;

	for (int j = 0; j < KERNEL_LANES; j++)
		lane[j] = -INFINITY;
	/* independent lanes: a float reduction gcc may vectorise as written */
	for (; i + KERNEL_LANES <= n; i += KERNEL_LANES)
		for (int j = 0; j < KERNEL_LANES; j++)
		{
			float		s = kernel_finite_or_minus_infinity(scores[i + j]);

			lane[j] = s > lane[j] ? s : lane[j];
		}
	for (; i < n; i++)
	{
		float		s = kernel_finite_or_minus_infinity(scores[i]);

		best = s > best ? s : best;
	}
	for (int j = 0; j < KERNEL_LANES; j++)
		best = lane[j] > best ? lane[j] : best;
	return best;
}

/*
 * Sum over the finite scores of exp(score - max_score), max_score being at
 * least every finite score (KernelMax).  Each block of scores is summed in
 * float lanes, the blocks in double.
 */
KERNEL_CLONES
double
KernelSoftmaxDenominator(const float *scores, int32 n, float max_score)
{
	double		sum = 0.0;
	int32		i = 0;

	while (i < n)
	{
		int32		end = Min(n, i + KERNEL_BLOCK);
		float		lane[KERNEL_LANES] = {0};

		for (; i + KERNEL_LANES <= end; i += KERNEL_LANES)
			for (int j = 0; j < KERNEL_LANES; j++)
				lane[j] += kernel_softmax_term(scores[i + j], max_score);
		for (; i < end; i++)
			sum += kernel_softmax_term(scores[i], max_score);
		for (int j = 0; j < KERNEL_LANES; j++)
			sum += lane[j];
	}
	return sum;
}
