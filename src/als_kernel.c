/*-------------------------------------------------------------------------
 *
 * als_kernel.c
 *	  The inner loop of implicit ALS: conjugate gradient steps on one row's
 *	  k x k system, warm-started from the row's previous factors.
 *
 * A row u (a user, or an item) with entries e (the other side's rows y_e,
 * confidence c_e = 1 + alpha w_e) solves
 *     (G + sum (c_e - 1) y_e y_e^T) x = sum c_e y_e,   G = Y^T Y + lambda I
 * without forming the matrix: each CG step needs A p = G p + sum (c_e - 1)
 * (y_e . p) y_e, one pass over the row's entries (Takacs, Pilaszy and
 * Tikk, RecSys 2011; the implicit library does the same).  A sweep then
 * costs O(nnz k (1 + cg_steps) + rows k^2 cg_steps).
 *
 * The vectors are k floats (k = 64 by default).  Calling BLAS level 1 for
 * each entry spent more time in the calls than in the arithmetic, so the
 * dot products and updates are written out here as loops the compiler
 * vectorises (#pragma omp simd, built with -fopenmp-simd: no OpenMP
 * runtime, no threads).  On x86-64 with GCC an AVX2/FMA clone is chosen at
 * load time when the CPU has it.  k = 64 (the default) has its own copy of
 * the loops with k a constant (als_solve_rows).  Every process runs the
 * same code on whole rows, so the factors do not depend on how the rows
 * were shared between processes.
 *
 * Gathering a row's other-side factors into a contiguous buffer once, so
 * that the CG steps read them from cache, was measured and did not pay:
 * with the loops unrolled the kernel is bound by arithmetic more than by
 * memory (20M set: 0.37 s per user half sweep and 0.52 s per item half
 * sweep on one core, with or without the buffer).
 *
 * Nothing here calls a PostgreSQL API.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/als_kernel.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "als.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define ALS_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ALS_TARGET_CLONES
#endif

/* How many entries ahead to prefetch the other side's factors. */
#define ALS_PREFETCH_AHEAD 4

static inline float
als_dot(const float *restrict a, const float *restrict b, int k)
{
	float		s = 0.0f;

	/* vectorised with a tree of partial sums: -fassociative-math (Makefile) */
	for (int f = 0; f < k; f++)
		s += a[f] * b[f];
	return s;
}

/* y += w x */
static inline void
als_axpy(float w, const float *restrict x, float *restrict y, int k)
{
#pragma omp simd
	for (int f = 0; f < k; f++)
		y[f] += w * x[f];
}

/* y = gram x, gram k x k with both triangles filled */
static inline void
als_symv(const float *restrict gram, const float *restrict x, float *restrict y, int k)
{
	/* gram is symmetric: sum its rows scaled by x, with no horizontal sums */
	memset(y, 0, sizeof(float) * k);
	for (int g = 0; g < k; g++)
		als_axpy(x[g], gram + (Size) g * k, y, k);
}

static inline void
als_prefetch(const float *other, const int32 *idx, int64 e, int64 hi, int k)
{
#if defined(__GNUC__)
	if (e + ALS_PREFETCH_AHEAD < hi)
	{
		const float *y = other + (Size) idx[e + ALS_PREFETCH_AHEAD] * k;

		for (int f = 0; f < k; f += 16)
			__builtin_prefetch(y + f);
	}
#endif
}

/*
 * The loops of AlsSolveRows, inlined into it twice: once with k = 64, the
 * default, a constant the compiler unrolls every loop for (with independent
 * partial sums and no loop counters: twice as fast as the loops over a
 * variable k), and once for any other k.
 */
static pg_attribute_always_inline void
als_solve_rows(const AlsSide *side, const float *other, const float *gram,
			   int k, float alpha, int cg_steps, float *out,
			   int32 lo, int32 hi, float *work)
{
	float	   *r = work;
	float	   *p = work + k;
	float	   *ap = work + 2 * k;

	for (int32 u = lo; u < hi; u++)
	{
		float	   *x = out + (Size) u * k;
		int64		first = side->ptr[u],
					last = side->ptr[u + 1];
		float		rsold;

		if (first == last)
		{
			memset(x, 0, sizeof(float) * k);
			continue;
		}

		/* r = b - A x = sum (c - (c - 1) y . x) y - G x */
		als_symv(gram, x, r, k);
		for (int f = 0; f < k; f++)
			r[f] = -r[f];
		for (int64 e = first; e < last; e++)
		{
			const float *y = other + (Size) side->idx[e] * k;
			float		cm1 = alpha * side->weight[e];

			als_prefetch(other, side->idx, e, last, k);
			als_axpy(1.0f + cm1 - cm1 * als_dot(y, x, k), y, r, k);
		}
		memcpy(p, r, sizeof(float) * k);
		rsold = als_dot(r, r, k);

		for (int step = 0; step < cg_steps && rsold > 1e-20f; step++)
		{
			float		pap,
						a,
						rsnew;

			/* ap = A p */
			als_symv(gram, p, ap, k);
			for (int64 e = first; e < last; e++)
			{
				const float *y = other + (Size) side->idx[e] * k;

				als_prefetch(other, side->idx, e, last, k);
				als_axpy(alpha * side->weight[e] * als_dot(y, p, k), y, ap, k);
			}
			pap = als_dot(p, ap, k);
			if (!(pap > 0.0f))
				break;
			a = rsold / pap;
			als_axpy(a, p, x, k);
			als_axpy(-a, ap, r, k);
			rsnew = als_dot(r, r, k);
			for (int f = 0; f < k; f++)
				p[f] = r[f] + (rsnew / rsold) * p[f];
			rsold = rsnew;
		}
	}
}

ALS_TARGET_CLONES
void
AlsSolveRows(const AlsSide *side, const float *other, const float *gram,
			 int k, float alpha, int cg_steps, float *out,
			 int32 lo, int32 hi, float *work)
{
	if (k == 64)
		als_solve_rows(side, other, gram, 64, alpha, cg_steps, out, lo, hi, work);
	else
		als_solve_rows(side, other, gram, k, alpha, cg_steps, out, lo, hi, work);
}
