/*-------------------------------------------------------------------------
 *
 * kernel.c
 *	  Vectorised loops of the request path: the maximum and the softmax
 *	  denominator of a score array, and the Cholesky solve that folds a
 *	  user into an ALS model.
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
#define KERNEL_DOUBLE_LANES 8

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

/* sum over p < n of x[p] * y[p], in double lanes gcc vectorises. */
static inline double
kernel_dot_double(const double *x, const double *y, int n)
{
	double		lane[KERNEL_DOUBLE_LANES] = {0};
	double		sum = 0.0;
	int			p = 0;

	for (; p + KERNEL_DOUBLE_LANES <= n; p += KERNEL_DOUBLE_LANES)
		for (int j = 0; j < KERNEL_DOUBLE_LANES; j++)
			lane[j] += x[p + j] * y[p + j];
	for (; p < n; p++)
		sum += x[p] * y[p];
	for (int j = 0; j < KERNEL_DOUBLE_LANES; j++)
		sum += lane[j];
	return sum;
}

/*
 * Solve a x = b for symmetric positive definite a (n x n, row-major, upper
 * triangle read), in double: the Cholesky factor L (a = L L^T) goes to
 * work (n x n + n doubles: L's row-major lower triangle, then z), then forward and back
 * substitution; the solution replaces b.  Returns false when a is not
 * positive definite.  Every inner loop of the factorisation is a dot
 * product of two contiguous rows of L, which vectorises: this is the
 * per-request fold-in of a user into an ALS model (k x k, k = 64 by
 * default).
 */
KERNEL_CLONES
bool
KernelCholeskySolve(const float *a, int n, float *b, double *work)
{
	for (int j = 0; j < n; j++)
	{
		double	   *lj = work + (Size) j * n;
		double		d = (double) a[(Size) j * n + j] - kernel_dot_double(lj, lj, j);

		if (!(d > 0.0))
			return false;
		d = sqrt(d);
		lj[j] = d;
		for (int i = j + 1; i < n; i++)
		{
			double	   *li = work + (Size) i * n;

			/* the upper triangle holds a(j, i) */
			li[j] = ((double) a[(Size) j * n + i] - kernel_dot_double(li, lj, j)) / d;
		}
	}
	/* forward substitution L z = b, z in the n doubles after L */
	{
		double	   *z = work + (Size) n * n;

		for (int i = 0; i < n; i++)
		{
			const double *li = work + (Size) i * n;

			z[i] = ((double) b[i] - kernel_dot_double(li, z, i)) / li[i];
		}
		/* back substitution L^T x = z (column access, n^2 / 2 steps) */
		for (int i = n - 1; i >= 0; i--)
		{
			double		s = z[i];

			for (int p = i + 1; p < n; p++)
				s -= work[(Size) p * n + i] * z[p];
			z[i] = s / work[(Size) i * n + i];
		}
		for (int i = 0; i < n; i++)
			b[i] = (float) z[i];
	}
	return true;
}
