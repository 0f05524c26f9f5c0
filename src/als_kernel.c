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
 * On a CPU with AVX-512, k = 64 has a third copy written with intrinsics
 * (als_solve_rows_avx512): the row's vectors stay in registers for the
 * whole row (gcc stored the accumulators back to memory after every entry,
 * not knowing they could not alias the matrix), and entries go four at a
 * time, their four dot products summed across lanes together.  On a
 * 20M-interaction set of MovieLens-20M's shape, one core: 0.41 -> 0.31 s
 * per user half sweep, 0.68 -> 0.49 s per item half sweep (minimum of
 * alternating runs).  Its sums run in another order than the loops', so
 * the factors differ from theirs in the last bits.
 *
 * A CPU with AVX2 and FMA but not AVX-512 (AMD Zen 3) runs a fourth copy
 * for k = 64 (als_solve_rows_avx2): entries four at a time as above, the
 * vectors in an aligned buffer rather than in registers (sixteen 8-float
 * registers hold no row's four vectors).  Zen 3, one core, a power-law set
 * of 20M entries: 1.11-1.21 -> 0.90-0.99 s per user half sweep; the item
 * half sweep, whose gathers of user rows wait on memory, is unchanged.
 *
 * The AVX2 copy also reads the other side's rows in half precision
 * (AlsSolveRowsHalf; F16C converts 8 at a time): als_parallel.c gives
 * each side a half-precision copy of the other's factors when they are
 * large, as gathers of them wait on memory (20M set, 138k users, 35 MB of
 * float factors: item half sweep 0.74 -> 0.47 s in the server; NDCG@10
 * 0.22206 -> 0.22205; its 27k items, 6.8 MB: user half sweep median
 * 0.35-0.40 -> 0.31-0.33 s, and one core outside the server 0.93 -> 0.74 s).
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
#define ALS_X86 1
#include <immintrin.h>
#else
#define ALS_TARGET_CLONES
#endif

/* How many entries ahead to prefetch the other side's factors. */
#define ALS_PREFETCH_AHEAD 16

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

#ifdef ALS_X86
#pragma GCC push_options
#pragma GCC target("avx512f")
/*
 * k = 64 with AVX-512: a row's vectors live in four registers each, and
 * the entries go four at a time, their four dot products summed across
 * lanes together (a transposed reduction: 11 shuffles and additions for
 * four entries, where one dot product alone takes 8).
 */

/* the sum of each of t0..t3's 16 lanes, as 4 floats */
static inline __m128
als_sum4_512(__m512 t0, __m512 t1, __m512 t2, __m512 t3)
{
	__m512		a = _mm512_add_ps(_mm512_unpacklo_ps(t0, t1), _mm512_unpackhi_ps(t0, t1));
	__m512		b = _mm512_add_ps(_mm512_unpacklo_ps(t2, t3), _mm512_unpackhi_ps(t2, t3));
	__m512		c = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))),
								  _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))));
	__m256		d = _mm256_add_ps(_mm512_castps512_ps256(c),
								  _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(c), 1)));

	return _mm_add_ps(_mm256_castps256_ps128(d), _mm256_extractf128_ps(d, 1));
}

/* y . v, v in four registers, as a vector whose lanes sum to it */
static inline __m512
als_dot_lanes(const float *y, const __m512 v[4])
{
	__m512		a = _mm512_mul_ps(_mm512_loadu_ps(y), v[0]);
	__m512		b = _mm512_mul_ps(_mm512_loadu_ps(y + 16), v[1]);

	a = _mm512_fmadd_ps(_mm512_loadu_ps(y + 32), v[2], a);
	b = _mm512_fmadd_ps(_mm512_loadu_ps(y + 48), v[3], b);
	return _mm512_add_ps(a, b);
}

static inline void
als_acc_row(__m512 acc[4], float c, const float *y)
{
	__m512		cv = _mm512_set1_ps(c);

	for (int q = 0; q < 4; q++)
		acc[q] = _mm512_fmadd_ps(cv, _mm512_loadu_ps(y + 16 * q), acc[q]);
}

/*
 * acc += sum over the entries of coef_e y_e, coef_e = alpha w_e (y_e . v)
 * (residual false) or 1 + alpha w_e - alpha w_e (y_e . v) (residual true).
 */
static inline void
als_pass64(const float *restrict other, const int32 *restrict idx, const float *restrict weight,
		   int64 first, int64 last, const __m512 v[4], float alpha, bool residual, __m512 acc[4])
{
	__m128		alpha4 = _mm_set1_ps(alpha);
	__m128		one4 = _mm_set1_ps(1.0f);
	int64		e = first;

	for (; e + 4 <= last; e += 4)
	{
		const float *y0 = other + (Size) idx[e] * 64;
		const float *y1 = other + (Size) idx[e + 1] * 64;
		const float *y2 = other + (Size) idx[e + 2] * 64;
		const float *y3 = other + (Size) idx[e + 3] * 64;
		__m128		d,
					cm1,
					c;
		float		cs[4];

		for (int64 a = e + ALS_PREFETCH_AHEAD; a < Min(e + ALS_PREFETCH_AHEAD + 4, last); a++)
		{
			const char *y = (const char *) (other + (Size) idx[a] * 64);

			_mm_prefetch(y, _MM_HINT_T0);
			_mm_prefetch(y + 64, _MM_HINT_T0);
			_mm_prefetch(y + 128, _MM_HINT_T0);
			_mm_prefetch(y + 192, _MM_HINT_T0);
		}
		d = als_sum4_512(als_dot_lanes(y0, v), als_dot_lanes(y1, v),
						 als_dot_lanes(y2, v), als_dot_lanes(y3, v));
		cm1 = _mm_mul_ps(alpha4, _mm_loadu_ps(weight + e));
		c = residual ? _mm_add_ps(_mm_sub_ps(one4, _mm_mul_ps(cm1, d)), cm1) : _mm_mul_ps(cm1, d);
		_mm_storeu_ps(cs, c);
		als_acc_row(acc, cs[0], y0);
		als_acc_row(acc, cs[1], y1);
		als_acc_row(acc, cs[2], y2);
		als_acc_row(acc, cs[3], y3);
	}
	for (; e < last; e++)
	{
		const float *y = other + (Size) idx[e] * 64;
		__m512		t = als_dot_lanes(y, v);
		float		d = _mm512_reduce_add_ps(t);
		float		cm1 = alpha * weight[e];

		als_acc_row(acc, residual ? 1.0f - cm1 * d + cm1 : cm1 * d, y);
	}
}

/* out = gram v, gram 64 x 64 symmetric */
static inline void
als_symv64(const float *restrict gram, const __m512 v[4], __m512 out[4])
{
	float		vs[64];

	for (int q = 0; q < 4; q++)
	{
		_mm512_storeu_ps(vs + 16 * q, v[q]);
		out[q] = _mm512_setzero_ps();
	}
	for (int g = 0; g < 64; g++)
		als_acc_row(out, vs[g], gram + (Size) g * 64);
}

static inline float
als_dot64(const __m512 a[4], const __m512 b[4])
{
	__m512		s = _mm512_mul_ps(a[0], b[0]);

	for (int q = 1; q < 4; q++)
		s = _mm512_fmadd_ps(a[q], b[q], s);
	return _mm512_reduce_add_ps(s);
}

/* als_solve_rows for k = 64 with the vectors in registers */
static void
als_solve_rows_avx512(const AlsSide *side, const float *other, const float *gram,
					  float alpha, int cg_steps, float *out, int32 lo, int32 hi)
{
	const int64 *restrict ptr = side->ptr;
	const int32 *restrict idx = side->idx;
	const float *restrict weight = side->weight;

	for (int32 u = lo; u < hi; u++)
	{
		float	   *x = out + (Size) u * 64;
		int64		first = ptr[u],
					last = ptr[u + 1];
		__m512		xv[4],
					r[4],
					p[4],
					ap[4];
		float		rsold;

		if (first == last)
		{
			memset(x, 0, sizeof(float) * 64);
			continue;
		}
		for (int q = 0; q < 4; q++)
			xv[q] = _mm512_loadu_ps(x + 16 * q);

		/* r = b - A x = sum (c - (c - 1) y . x) y - G x */
		als_symv64(gram, xv, r);
		for (int q = 0; q < 4; q++)
			r[q] = _mm512_sub_ps(_mm512_setzero_ps(), r[q]);
		als_pass64(other, idx, weight, first, last, xv, alpha, true, r);
		for (int q = 0; q < 4; q++)
			p[q] = r[q];
		rsold = als_dot64(r, r);

		for (int step = 0; step < cg_steps && rsold > 1e-20f; step++)
		{
			float		pap,
						a,
						rsnew;
			__m512		av,
						bv;

			/* ap = A p */
			als_symv64(gram, p, ap);
			als_pass64(other, idx, weight, first, last, p, alpha, false, ap);
			pap = als_dot64(p, ap);
			if (!(pap > 0.0f))
				break;
			a = rsold / pap;
			av = _mm512_set1_ps(a);
			for (int q = 0; q < 4; q++)
			{
				xv[q] = _mm512_fmadd_ps(av, p[q], xv[q]);
				r[q] = _mm512_fnmadd_ps(av, ap[q], r[q]);
			}
			rsnew = als_dot64(r, r);
			bv = _mm512_set1_ps(rsnew / rsold);
			for (int q = 0; q < 4; q++)
				p[q] = _mm512_fmadd_ps(bv, p[q], r[q]);
			rsold = rsnew;
		}
		for (int q = 0; q < 4; q++)
			_mm512_storeu_ps(x + 16 * q, xv[q]);
	}
}
#pragma GCC pop_options
#endif

#ifdef ALS_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
/*
 * k = 64 with AVX2 and FMA (AMD Zen 3, say): sixteen 8-float registers
 * cannot hold a row's vectors as AVX-512's thirty-two do, so the entries
 * go four at a time with the vector they are multiplied by read once per
 * four (from L1), their dot products summed across lanes together, and
 * the four rows added to the accumulator in one pass over it.
 */

/* the sum of each of t0..t3's 8 lanes, as 4 floats */
static inline __m128
als_sum4_256(__m256 t0, __m256 t1, __m256 t2, __m256 t3)
{
	__m256		h = _mm256_hadd_ps(_mm256_hadd_ps(t0, t1), _mm256_hadd_ps(t2, t3));

	return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* row i of the other side's factors: 64 floats, or 64 halves (half true) */
static inline const char *
als_row_avx2(const void *other, bool half, int32 i)
{
	return (const char *) other + (Size) i * (half ? 64 * sizeof(uint16) : 64 * sizeof(float));
}

/* factors 8q..8q+7 of a row, as floats */
static inline __m256
als_load8_avx2(const char *row, bool half, int q)
{
	if (half)
		return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (row + 16 * q)));
	return _mm256_loadu_ps((const float *) (row + 32 * q));
}

/*
 * acc += sum over the entries of coef_e y_e, coef_e = alpha w_e (y_e . v)
 * (residual false) or 1 + alpha w_e - alpha w_e (y_e . v) (residual true);
 * v and acc 64 floats, 32-byte aligned; the rows y_e in half precision
 * when half is true.
 */
static pg_attribute_always_inline void
als_pass64_avx2(const void *restrict other, bool half, const int32 *restrict idx,
				const float *restrict weight, int64 first, int64 last, const float *restrict v,
				float alpha, bool residual, float *restrict acc)
{
	__m128		alpha4 = _mm_set1_ps(alpha);
	__m128		one4 = _mm_set1_ps(1.0f);
	int64		e = first;

	for (; e + 4 <= last; e += 4)
	{
		const char *y[4];
		__m256		d[4],
					d_odd[4];
		__m128		dot,
					cm1,
					c;
		__m256		cv[4];

		for (int j = 0; j < 4; j++)
		{
			y[j] = als_row_avx2(other, half, idx[e + j]);
			d[j] = _mm256_setzero_ps();
			d_odd[j] = _mm256_setzero_ps();
		}
		for (int64 a = e + ALS_PREFETCH_AHEAD; a < Min(e + ALS_PREFETCH_AHEAD + 4, last); a++)
		{
			const char *p = als_row_avx2(other, half, idx[a]);

			for (int line = 0; line < (half ? 2 : 4); line++)
				_mm_prefetch(p + 64 * line, _MM_HINT_T0);
		}
		for (int q = 0; q < 8; q += 2)
		{
			__m256		vq = _mm256_load_ps(v + 8 * q);
			__m256		vq_odd = _mm256_load_ps(v + 8 * q + 8);

			for (int j = 0; j < 4; j++)
			{
				d[j] = _mm256_fmadd_ps(vq, als_load8_avx2(y[j], half, q), d[j]);
				d_odd[j] = _mm256_fmadd_ps(vq_odd, als_load8_avx2(y[j], half, q + 1), d_odd[j]);
			}
		}
		dot = als_sum4_256(_mm256_add_ps(d[0], d_odd[0]), _mm256_add_ps(d[1], d_odd[1]),
						   _mm256_add_ps(d[2], d_odd[2]), _mm256_add_ps(d[3], d_odd[3]));
		cm1 = _mm_mul_ps(alpha4, _mm_loadu_ps(weight + e));
		c = residual ? _mm_add_ps(_mm_sub_ps(one4, _mm_mul_ps(cm1, dot)), cm1) : _mm_mul_ps(cm1, dot);
		cv[0] = _mm256_broadcastss_ps(c);
		cv[1] = _mm256_broadcastss_ps(_mm_shuffle_ps(c, c, 0x55));
		cv[2] = _mm256_broadcastss_ps(_mm_shuffle_ps(c, c, 0xAA));
		cv[3] = _mm256_broadcastss_ps(_mm_shuffle_ps(c, c, 0xFF));
		for (int q = 0; q < 8; q++)
		{
			__m256		s = _mm256_load_ps(acc + 8 * q);

			s = _mm256_fmadd_ps(cv[0], als_load8_avx2(y[0], half, q), s);
			s = _mm256_fmadd_ps(cv[1], als_load8_avx2(y[1], half, q), s);
			s = _mm256_fmadd_ps(cv[2], als_load8_avx2(y[2], half, q), s);
			s = _mm256_fmadd_ps(cv[3], als_load8_avx2(y[3], half, q), s);
			_mm256_store_ps(acc + 8 * q, s);
		}
	}
	for (; e < last; e++)
	{
		const char *y = als_row_avx2(other, half, idx[e]);
		__m256		t = _mm256_setzero_ps();
		__m256		cv;
		__m128		h;
		float		d,
					cm1 = alpha * weight[e];

		for (int q = 0; q < 8; q++)
			t = _mm256_fmadd_ps(_mm256_load_ps(v + 8 * q), als_load8_avx2(y, half, q), t);
		h = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
		h = _mm_hadd_ps(h, h);
		d = _mm_cvtss_f32(_mm_hadd_ps(h, h));
		cv = _mm256_set1_ps(residual ? 1.0f - cm1 * d + cm1 : cm1 * d);
		for (int q = 0; q < 8; q++)
			_mm256_store_ps(acc + 8 * q, _mm256_fmadd_ps(cv, als_load8_avx2(y, half, q),
														 _mm256_load_ps(acc + 8 * q)));
	}
}

/* out = gram v, gram 64 x 64 symmetric; sign -1 negates it */
static inline void
als_symv64_avx2(const float *restrict gram, const float *restrict v, float sign, float *restrict out)
{
	__m256		s[8];

	for (int q = 0; q < 8; q++)
		s[q] = _mm256_setzero_ps();
	for (int g = 0; g < 64; g++)
	{
		__m256		vg = _mm256_set1_ps(sign * v[g]);

		for (int q = 0; q < 8; q++)
			s[q] = _mm256_fmadd_ps(vg, _mm256_loadu_ps(gram + (Size) g * 64 + 8 * q), s[q]);
	}
	for (int q = 0; q < 8; q++)
		_mm256_store_ps(out + 8 * q, s[q]);
}

static inline float
als_dot64_avx2(const float *a, const float *b)
{
	__m256		s = _mm256_mul_ps(_mm256_load_ps(a), _mm256_load_ps(b));
	__m128		h;

	for (int q = 1; q < 8; q++)
		s = _mm256_fmadd_ps(_mm256_load_ps(a + 8 * q), _mm256_load_ps(b + 8 * q), s);
	h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
	h = _mm_hadd_ps(h, h);
	return _mm_cvtss_f32(_mm_hadd_ps(h, h));
}

/*
 * als_solve_rows for k = 64 with AVX2: the CG vectors in an aligned buffer,
 * the other side's rows in float or (half true) half precision
 */
static pg_attribute_always_inline void
als_solve_rows_avx2(const AlsSide *side, const void *other, bool half, const float *gram,
					float alpha, int cg_steps, float *out, int32 lo, int32 hi)
{
	const int64 *restrict ptr = side->ptr;
	const int32 *restrict idx = side->idx;
	const float *restrict weight = side->weight;
	float		buffer[4 * 64 + 8];
	float	   *xv = (float *) TYPEALIGN(32, buffer);
	float	   *r = xv + 64;
	float	   *p = xv + 128;
	float	   *ap = xv + 192;

	for (int32 u = lo; u < hi; u++)
	{
		float	   *x = out + (Size) u * 64;
		int64		first = ptr[u],
					last = ptr[u + 1];
		float		rsold;

		if (first == last)
		{
			memset(x, 0, sizeof(float) * 64);
			continue;
		}
		memcpy(xv, x, sizeof(float) * 64);

		/* r = b - A x = sum (c - (c - 1) y . x) y - G x */
		als_symv64_avx2(gram, xv, -1.0f, r);
		als_pass64_avx2(other, half, idx, weight, first, last, xv, alpha, true, r);
		memcpy(p, r, sizeof(float) * 64);
		rsold = als_dot64_avx2(r, r);

		for (int step = 0; step < cg_steps && rsold > 1e-20f; step++)
		{
			float		pap,
						a,
						rsnew;
			__m256		av,
						bv;

			/* ap = A p */
			als_symv64_avx2(gram, p, 1.0f, ap);
			als_pass64_avx2(other, half, idx, weight, first, last, p, alpha, false, ap);
			pap = als_dot64_avx2(p, ap);
			if (!(pap > 0.0f))
				break;
			a = rsold / pap;
			av = _mm256_set1_ps(a);
			for (int q = 0; q < 8; q++)
			{
				_mm256_store_ps(xv + 8 * q, _mm256_fmadd_ps(av, _mm256_load_ps(p + 8 * q), _mm256_load_ps(xv + 8 * q)));
				_mm256_store_ps(r + 8 * q, _mm256_fnmadd_ps(av, _mm256_load_ps(ap + 8 * q), _mm256_load_ps(r + 8 * q)));
			}
			rsnew = als_dot64_avx2(r, r);
			bv = _mm256_set1_ps(rsnew / rsold);
			for (int q = 0; q < 8; q++)
				_mm256_store_ps(p + 8 * q, _mm256_fmadd_ps(bv, _mm256_load_ps(p + 8 * q), _mm256_load_ps(r + 8 * q)));
			rsold = rsnew;
		}
		memcpy(x, xv, sizeof(float) * 64);
	}
}

/* the two instances of als_solve_rows_avx2: float and half-precision rows */
static void
als_solve_rows_avx2_float(const AlsSide *side, const float *other, const float *gram,
						  float alpha, int cg_steps, float *out, int32 lo, int32 hi)
{
	als_solve_rows_avx2(side, other, false, gram, alpha, cg_steps, out, lo, hi);
}

static void
als_solve_rows_avx2_half(const AlsSide *side, const uint16 *other, const float *gram,
						 float alpha, int cg_steps, float *out, int32 lo, int32 hi)
{
	als_solve_rows_avx2(side, other, true, gram, alpha, cg_steps, out, lo, hi);
}

/* half[i] = x[i] rounded to half precision, n a multiple of 8 */
static void
als_to_half_f16c(const float *x, uint16 *half, Size n)
{
	for (Size i = 0; i < n; i += 8)
		_mm_storeu_si128((__m128i *) (half + i),
						 _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
}
#pragma GCC pop_options
#endif

ALS_TARGET_CLONES
static void
als_solve_rows_cloned(const AlsSide *side, const float *other, const float *gram,
					  int k, float alpha, int cg_steps, float *out,
					  int32 lo, int32 hi, float *work)
{
	if (k == 64)
		als_solve_rows(side, other, gram, 64, alpha, cg_steps, out, lo, hi, work);
	else
		als_solve_rows(side, other, gram, k, alpha, cg_steps, out, lo, hi, work);
}

/* for k = 64 the AVX-512 or AVX2 copy where the CPU has it, else the loops (als.h) */
void
AlsSolveRows(const AlsSide *side, const float *other, const float *gram,
			 int k, float alpha, int cg_steps, float *out,
			 int32 lo, int32 hi, float *work)
{
#ifdef ALS_X86
	if (k == 64 && __builtin_cpu_supports("avx512f"))
	{
		als_solve_rows_avx512(side, other, gram, alpha, cg_steps, out, lo, hi);
		return;
	}
	if (k == 64 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
	{
		als_solve_rows_avx2_float(side, other, gram, alpha, cg_steps, out, lo, hi);
		return;
	}
#endif
	als_solve_rows_cloned(side, other, gram, k, alpha, cg_steps, out, lo, hi, work);
}

/*
 * Can AlsSolveRowsHalf solve rows of k factors on this CPU?  Only where
 * the AVX2 kernel is the one AlsSolveRows runs (k = 64, AVX2, FMA and F16C,
 * no AVX-512), so that a CPU keeps one kernel for both sides.
 */
bool
AlsHalfRowsSupported(int k)
{
#ifdef ALS_X86
	return k == 64 && !__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
		__builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
	return false;
#endif
}

/* half[i] = x[i] in half precision, n a multiple of 8 (AlsHalfRowsSupported) */
void
AlsToHalf(const float *x, uint16 *half, Size n)
{
#ifdef ALS_X86
	als_to_half_f16c(x, half, n);
#else
	elog(ERROR, "half-precision ALS rows are not supported here");
#endif
}

/*
 * AlsSolveRows with the other side's rows in half precision (k = 64 where
 * AlsHalfRowsSupported).
 */
void
AlsSolveRowsHalf(const AlsSide *side, const uint16 *other, const float *gram,
				 float alpha, int cg_steps, float *out, int32 lo, int32 hi)
{
#ifdef ALS_X86
	als_solve_rows_avx2_half(side, other, gram, alpha, cg_steps, out, lo, hi);
#else
	elog(ERROR, "half-precision ALS rows are not supported here");
#endif
}
