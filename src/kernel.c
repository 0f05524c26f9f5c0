/*-------------------------------------------------------------------------
 *
 * kernel.c
 *	  Vectorised loops of the request path: the maximum and the softmax
 *	  denominator (with the mean logit) of a score array, exploration's
 *	  passes over a catalogue of young items, top-K's skip of items below
 *	  its worst, and the Cholesky solve that folds a user into an ALS
 *	  model.
 *
 * Every recommend() of a user-personalization campaign takes a softmax over
 * the whole catalogue, so besides the matrix-vector product (OpenBLAS) it
 * makes two passes over n_items scores.  Calling libm's exp() per item cost
 * as much as the product itself; these loops are written so that gcc
 * vectorises them (this file is built with -O3, see the Makefile), and
 * each is compiled four times, for AVX-512 (x86-64-v4), AVX2 with FMA
 * (x86-64-v3), AVX2 alone and the baseline instruction set, the CPU
 * choosing at load time (target_clones), so the extension needs no -march
 * flag.  Without the x86-64-v3 copy an AVX2 CPU ran the one without FMA:
 * the fold-in's Cholesky solve at k = 64 took 24.8 us on a Zen 3, 17.8 us
 * with it (the same result to the bit).
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
#define KERNEL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "avx2", "default")))
#else
#define KERNEL_CLONES
#endif

/*
 * Independent accumulators per loop: a multiple of any vector width.  The
 * loops index a lane's block through a pointer (v[j], not scores[i + j]):
 * with -fwrapv int arithmetic may wrap, so gcc cannot prove scores[i + j]
 * contiguous and loads the lanes one by one (4x slower).
 */
#define KERNEL_LANES 16

/*
 * Four doubles as one value (GCC and clang vector extension: one AVX
 * register, two SSE2 ones on the baseline), for loops gcc does not
 * vectorise reliably on its own; and the Cholesky panel width that uses
 * them (a multiple of 4).
 */
typedef double kernel_v4d __attribute__((vector_size(32)));
#define KERNEL_CHOL_PANEL 4

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

/*
 * Is s finite?  One comparison (NaN fails it), not two joined by &&: gcc
 * vectorises a loop over it only then (short-circuit evaluation is a branch).
 */
static inline bool
kernel_finite(float s)
{
	return fabsf(s) <= FLT_MAX;
}

/* exp(s - max_score) for a finite s, else 0. */
static inline float
kernel_softmax_term(float s, float max_score)
{
	float		e = kernel_exp_nonpositive(s - max_score);

	return kernel_finite(s) ? e : 0.0f;
}

/*
 * A finite float as an int32 in the same order (the sign-magnitude bits
 * turned into two's complement), anything else as the key of -Infinity.
 * gcc vectorises an int32 maximum but not a float one (that needs
 * -ffinite-math-only, which would also fold away the tests for infinity).
 */
static inline int32
kernel_order_key(float s)
{
	int32		bits;

	memcpy(&bits, &s, sizeof(bits));
	bits ^= (bits >> 31) & 0x7FFFFFFF;
	return kernel_finite(s) ? bits : (int32) 0x807FFFFF;	/* -Infinity's key */
}

/* The largest of best and the lanes' order keys, as a float again. */
static inline float
kernel_lanes_max(const int32 *lane, int32 best)
{
	float		result;

	for (int j = 0; j < KERNEL_LANES; j++)
		best = lane[j] > best ? lane[j] : best;
	/* back from the key to the float (the transformation is its own inverse) */
	best ^= (best >> 31) & 0x7FFFFFFF;
	memcpy(&result, &best, sizeof(result));
	return result;
}

/*
 * The largest finite score of n, or -Infinity when there is none.
 */
KERNEL_CLONES
float
KernelMax(const float *scores, int32 n)
{
	int32		lane[KERNEL_LANES];
	int32		best = (int32) 0x807FFFFF;
	int32		i = 0;

	for (int j = 0; j < KERNEL_LANES; j++)
		lane[j] = best;
	/* independent lanes: an integer reduction gcc vectorises as written */
	for (; i + KERNEL_LANES <= n; i += KERNEL_LANES)
	{
		const float *v = scores + i;	/* see KERNEL_LANES */

		for (int j = 0; j < KERNEL_LANES; j++)
		{
			int32		key = kernel_order_key(v[j]);

			lane[j] = key > lane[j] ? key : lane[j];
		}
	}
	for (; i < n; i++)
	{
		int32		key = kernel_order_key(scores[i]);

		best = key > best ? key : best;
	}
	return kernel_lanes_max(lane, best);
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
		{
			const float *v = scores + i;

			for (int j = 0; j < KERNEL_LANES; j++)
				lane[j] += kernel_softmax_term(v[j], max_score);
		}
		for (; i < end; i++)
			sum += kernel_softmax_term(scores[i], max_score);
		for (int j = 0; j < KERNEL_LANES; j++)
			sum += lane[j];
	}
	return sum;
}

/*
 * In the same single pass as KernelSoftmaxDenominator, also the sum of
 * (score - max_score) over the finite scores and their number: the mean
 * logit exploration needs (exploration.c), which took a pass of its own.
 */
KERNEL_CLONES
void
KernelSoftmaxMoments(const float *scores, int32 n, float max_score, SoftmaxMoments *out)
{
	double		sum = 0.0;
	double		centred = 0.0;
	int32		count = 0;
	int32		i = 0;

	while (i < n)
	{
		int32		end = Min(n, i + KERNEL_BLOCK);
		float		lane[KERNEL_LANES] = {0};
		float		lane_centred[KERNEL_LANES] = {0};
		float		lane_count[KERNEL_LANES] = {0};	/* exact: at most KERNEL_BLOCK */

		for (; i + KERNEL_LANES <= end; i += KERNEL_LANES)
		{
			const float *v = scores + i;

			for (int j = 0; j < KERNEL_LANES; j++)
			{
				float		s = v[j];

				lane[j] += kernel_softmax_term(s, max_score);
				lane_centred[j] += kernel_finite(s) ? s - max_score : 0.0f;
				lane_count[j] += kernel_finite(s) ? 1.0f : 0.0f;
			}
		}
		for (; i < end; i++)
			if (kernel_finite(scores[i]))
			{
				sum += kernel_softmax_term(scores[i], max_score);
				centred += (double) scores[i] - max_score;
				count++;
			}
		for (int j = 0; j < KERNEL_LANES; j++)
		{
			sum += lane[j];
			centred += lane_centred[j];
			count += (int32) lane_count[j];
		}
	}
	out->denominator = sum;
	out->centred_sum = centred;
	out->n_finite = count;
}

/*
 * The dot product of a and b (n floats), summed in lanes (so in another
 * order than a plain loop: the same to float rounding).
 */
KERNEL_CLONES
float
KernelDot(const float *a, const float *b, int32 n)
{
	float		lane[KERNEL_LANES] = {0};
	float		sum = 0.0f;
	int32		i = 0;

	for (; i + KERNEL_LANES <= n; i += KERNEL_LANES)
	{
		const float *va = a + i;
		const float *vb = b + i;

		for (int j = 0; j < KERNEL_LANES; j++)
			lane[j] += va[j] * vb[j];
	}
	for (; i < n; i++)
		sum += a[i] * b[i];
	for (int j = 0; j < KERNEL_LANES; j++)
		sum += lane[j];
	return sum;
}

/*
 * The largest finite score (or -Infinity), and in the same pass the sum of
 * the finite scores and their number: what exploration needs of a
 * catalogue whose items are all young (exploration.c).
 */
KERNEL_CLONES
float
KernelMaxSum(const float *scores, int32 n, double *sum, int32 *count)
{
	int32		lane[KERNEL_LANES];
	int32		best = (int32) 0x807FFFFF;
	int32		i = 0;

	*sum = 0.0;
	*count = 0;
	for (int j = 0; j < KERNEL_LANES; j++)
		lane[j] = best;
	while (i < n)
	{
		int32		end = Min(n, i + KERNEL_BLOCK);
		float		lane_sum[KERNEL_LANES] = {0};
		float		lane_count[KERNEL_LANES] = {0};	/* exact: at most KERNEL_BLOCK */

		for (; i + KERNEL_LANES <= end; i += KERNEL_LANES)
		{
			const float *v = scores + i;	/* see KERNEL_LANES */

			for (int j = 0; j < KERNEL_LANES; j++)
			{
				int32		key = kernel_order_key(v[j]);

				lane[j] = key > lane[j] ? key : lane[j];
				lane_sum[j] += kernel_finite(v[j]) ? v[j] : 0.0f;
				lane_count[j] += kernel_finite(v[j]) ? 1.0f : 0.0f;
			}
		}
		for (; i < end; i++)
		{
			int32		key = kernel_order_key(scores[i]);

			best = key > best ? key : best;
			if (kernel_finite(scores[i]))
			{
				*sum += scores[i];
				(*count)++;
			}
		}
		for (int j = 0; j < KERNEL_LANES; j++)
		{
			*sum += lane_sum[j];
			*count += (int32) lane_count[j];
		}
	}
	return kernel_lanes_max(lane, best);
}

/*
 * scores[i] += (float) scale * weights[i] (exploration's bonus when every
 * item is young; -Infinity stays -Infinity), and in the same pass the sum
 * of exp(score - ceiling) over the finite scores after, one sum per block
 * of KERNEL_BLOCK scores into block_sums: ceiling must be at least every
 * score after.  A block's sum does not depend on the blocks before it, so
 * that the scoring helper can do half the blocks (KernelBlockSumsTotal
 * adds them in order).  In float: in double, the conversions made the
 * pass 1.6 times as long (1.0 against 0.6 ms over a million scores).
 */
KERNEL_CLONES
void
KernelAddScaledBlocks(float *scores, const float *weights, int32 n, double scale,
					  float ceiling, double *block_sums)
{
	float		fscale = (float) scale;
	int32		i = 0;

	while (i < n)
	{
		int32		end = Min(n, i + KERNEL_BLOCK);
		float		lane[KERNEL_LANES] = {0};
		double		sum = 0.0;

		for (; i + KERNEL_LANES <= end; i += KERNEL_LANES)
		{
			float	   *v = scores + i; /* see KERNEL_LANES */
			const float *w = weights + i;

			for (int j = 0; j < KERNEL_LANES; j++)
			{
				v[j] += fscale * w[j];
				lane[j] += kernel_softmax_term(v[j], ceiling);
			}
		}
		for (; i < end; i++)
		{
			scores[i] += fscale * weights[i];
			sum += kernel_softmax_term(scores[i], ceiling);
		}
		for (int j = 0; j < KERNEL_LANES; j++)
			sum += lane[j];
		*block_sums++ = sum;
	}
}

/* The blocks of n scores (KernelAddScaledBlocks): their sums added in order. */
double
KernelBlockSumsTotal(const double *block_sums, int32 n)
{
	double		sum = 0.0;

	for (int32 b = 0; b < (n + KERNEL_BLOCK - 1) / KERNEL_BLOCK; b++)
		sum += block_sums[b];
	return sum;
}

/*
 * Top-K's skip (topk.c): from from (n - from being a multiple of
 * KERNEL_SKIP_BLOCK or not), the start of the first block of
 * KERNEL_SKIP_BLOCK scores holding one at least bound, or the start of
 * the incomplete block at the end (or n) when none does.  Once top-K's
 * heap is full nearly every item is below its worst: one vectorised
 * comparison per item instead of a branch.
 */
KERNEL_CLONES
int32
KernelSkipBelow(const float *scores, int32 from, int32 n, float bound)
{
	int32		i = from;

	for (; i + KERNEL_SKIP_BLOCK <= n; i += KERNEL_SKIP_BLOCK)
	{
		const float *v = scores + i;
		int32		hits = 0;

		for (int j = 0; j < KERNEL_SKIP_BLOCK; j++)
			hits |= v[j] >= bound;
		if (hits)
			break;
	}
	return i;
}

/*
 * Bit j set for each of the n <= 64 scores v[j] at or above bound (NaN:
 * not set): a block KernelSkipBelow stopped at is then visited only at its
 * few candidates, not score by score (a branch per score was most of
 * top-K's time).  No loop of plain C gcc turns into a vector compare and
 * mask here, hence the intrinsics, chosen by the CPU on first use.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#define KERNEL_MASK_INTRINSICS 1

__attribute__((target("avx512f")))
static uint64
kernel_at_least_mask_avx512(const float *v, int32 n, float bound)
{
	__m512		b = _mm512_set1_ps(bound);
	uint64		mask = 0;

	for (int32 j = 0; j < n; j += 16)
	{
		__mmask16	lanes = n - j >= 16 ? (__mmask16) 0xFFFF : (__mmask16) ((1u << (n - j)) - 1);
		__m512		x = _mm512_maskz_loadu_ps(lanes, v + j);

		mask |= (uint64) _mm512_mask_cmp_ps_mask(lanes, x, b, _CMP_GE_OQ) << j;
	}
	return mask;
}

__attribute__((target("avx2")))
static uint64
kernel_at_least_mask_avx2(const float *v, int32 n, float bound)
{
	__m256		b = _mm256_set1_ps(bound);
	uint64		mask = 0;
	int32		j = 0;

	for (; j + 8 <= n; j += 8)
		mask |= (uint64) (uint32) _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(v + j), b, _CMP_GE_OQ)) << j;
	for (; j < n; j++)
		mask |= (uint64) (v[j] >= bound) << j;
	return mask;
}
#endif

uint64
KernelAtLeastMask(const float *v, int32 n, float bound)
{
	uint64		mask = 0;

	Assert(n >= 0 && n <= 64);
#ifdef KERNEL_MASK_INTRINSICS
	{
		static int	isa = -1;	/* 2: AVX-512, 1: AVX2, 0: neither */

		if (isa < 0)
			isa = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
		if (isa == 2)
			return kernel_at_least_mask_avx512(v, n, bound);
		if (isa == 1)
			return kernel_at_least_mask_avx2(v, n, bound);
	}
#endif
	for (int32 j = 0; j < n; j++)
		mask |= (uint64) (v[j] >= bound) << j;
	return mask;
}

/*
 * Solve a x = b for symmetric positive definite a (n x n, row-major, upper
 * triangle read), in double: the Cholesky factor L (a = L L^T) goes to
 * work (n x n + n doubles: L's row-major lower triangle, then z), then
 * forward and back substitution; the solution replaces b.  Returns false
 * when a is not positive definite.  This is the per-request fold-in of a
 * user into an ALS model (k x k, k = 64 by default).
 *
 * The factorisation goes by panels of KERNEL_CHOL_PANEL columns: first the
 * panel's entries of every row below minus the dot products of that row
 * with the panel's rows over the columns left of the panel (four dot
 * products share each load of the row; the panels start at multiples of 4,
 * so the dots run 4 doubles at a time with no remainder), then the panel
 * itself, a few columns of plain arithmetic.  Zen 3, k = 64: 15.3 us for
 * the column-at-a-time form (whose rank-one updates ran along short rows),
 * 8.4 us for this one, the same float solution on test matrices.
 */
KERNEL_CLONES
bool
KernelCholeskySolve(const float *a, int n, float *b, double *work)
{
	double	   *l = work;
	double	   *z = work + (Size) n * n;

	for (int i = 0; i < n; i++)
		for (int j = 0; j <= i; j++)
			l[(Size) i * n + j] = (double) a[(Size) j * n + i];
	for (int p = 0; p < n; p += KERNEL_CHOL_PANEL)
	{
		int			w = Min(KERNEL_CHOL_PANEL, n - p);
		const double *panel[KERNEL_CHOL_PANEL];
		double		diag_inv[KERNEL_CHOL_PANEL];

		/* a narrow last panel reads its last row again in the missing places */
		for (int c = 0; c < KERNEL_CHOL_PANEL; c++)
			panel[c] = l + (Size) (p + Min(c, w - 1)) * n;
		for (int i = p; i < n && p > 0; i++)
		{
			double	   *li = l + (Size) i * n;
			kernel_v4d	acc[KERNEL_CHOL_PANEL] = {{0}};

			for (int j = 0; j < p; j += 4)
			{
				kernel_v4d	x;

				memcpy(&x, li + j, sizeof(x));
				for (int c = 0; c < KERNEL_CHOL_PANEL; c++)
				{
					kernel_v4d	y;

					memcpy(&y, panel[c] + j, sizeof(y));
					acc[c] += x * y;
				}
			}
			for (int c = 0; c < w && p + c <= i; c++)
				li[p + c] -= (acc[c][0] + acc[c][1]) + (acc[c][2] + acc[c][3]);
		}
		/* the panel's diagonal block */
		for (int c = p; c < p + w; c++)
		{
			double	   *lc = l + (Size) c * n;
			double		d = lc[c];

			for (int j = p; j < c; j++)
				d -= lc[j] * lc[j];
			if (!(d > 0.0))
				return false;
			d = sqrt(d);
			lc[c] = d;
			diag_inv[c - p] = 1.0 / d;
			for (int i = c + 1; i < p + w; i++)
			{
				double	   *li = l + (Size) i * n;
				double		s = li[c];

				for (int j = p; j < c; j++)
					s -= li[j] * lc[j];
				li[c] = s * diag_inv[c - p];
			}
		}
		/* the rows below it: each a triangular solve with that block */
		for (int i = p + w; i < n; i++)
		{
			double	   *li = l + (Size) i * n + p;

			if (w == 4)
			{
				/* unrolled (k = 64: with the loops below alone the solve took 15.6 us, not 8.8) */
				const double *d1 = l + (Size) (p + 1) * n + p;
				const double *d2 = l + (Size) (p + 2) * n + p;
				const double *d3 = l + (Size) (p + 3) * n + p;
				double		s0 = li[0] * diag_inv[0];
				double		s1 = (li[1] - s0 * d1[0]) * diag_inv[1];
				double		s2 = ((li[2] - s0 * d2[0]) - s1 * d2[1]) * diag_inv[2];
				double		s3 = (((li[3] - s0 * d3[0]) - s1 * d3[1]) - s2 * d3[2]) * diag_inv[3];

				li[0] = s0;
				li[1] = s1;
				li[2] = s2;
				li[3] = s3;
				continue;
			}
			for (int c = 0; c < w; c++)
			{
				const double *dc = l + (Size) (p + c) * n + p;
				double		s = li[c];

				for (int j = 0; j < c; j++)
					s -= li[j] * dc[j];
				li[c] = s * diag_inv[c];
			}
		}
	}
	/* forward substitution L z = b */
	for (int i = 0; i < n; i++)
	{
		const double *li = l + (Size) i * n;
		kernel_v4d	acc = {0};
		double		s = (double) b[i];
		int			j = 0;

		for (; j + 4 <= i; j += 4)
		{
			kernel_v4d	x;
			kernel_v4d	y;

			memcpy(&x, li + j, sizeof(x));
			memcpy(&y, z + j, sizeof(y));
			acc += x * y;
		}
		for (; j < i; j++)
			s -= li[j] * z[j];
		z[i] = (s - ((acc[0] + acc[1]) + (acc[2] + acc[3]))) / li[i];
	}
	/* back substitution L^T x = z, a row of L at a time */
	for (int i = n - 1; i >= 0; i--)
	{
		const double *li = l + (Size) i * n;
		double		xi = z[i] / li[i];

		z[i] = xi;
		for (int j = 0; j < i; j++)
			z[j] -= li[j] * xi;
	}
	for (int i = 0; i < n; i++)
		b[i] = (float) z[i];
	return true;
}
