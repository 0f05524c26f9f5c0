/*-------------------------------------------------------------------------
 *
 * blas.c
 *	  OpenBLAS wrapper: Gram matrices, matrix-vector products and a small
 *	  Cholesky solver for the k x k systems of ALS fold-in.
 *
 * OpenBLAS is pinned to one thread per process before its first use: no
 * thread may run inside a PostgreSQL backend, and parallelism comes from
 * PostgreSQL processes instead.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/blas.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <cblas.h>

#include "blas.h"

/* LAPACK, shipped inside OpenBLAS (Fortran calling convention, column-major). */
extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
extern void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info);

static bool blas_initialised = false;

/*
 * Pin OpenBLAS to one thread; call before the first BLAS call of a process.
 */
void
BlasInit(void)
{
	if (blas_initialised)
		return;
	openblas_set_num_threads(1);
	blas_initialised = true;
}

/*
 * gram = a^T a, for a of rows x cols; gram is cols x cols, both triangles filled.
 */
void
BlasGram(const float *a, int rows, int cols, float *gram)
{
	BlasInit();
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, cols, rows,
				1.0f, a, cols, 0.0f, gram, cols);
	for (int i = 0; i < cols; i++)
		for (int j = 0; j < i; j++)
			gram[i * cols + j] = gram[j * cols + i];
}

/*
 * gram += a^T a, for a of rows x cols; only gram's upper triangle (cols x
 * cols, row-major) is updated, as BlasCholeskySolve reads it.
 */
void
BlasGramAdd(const float *a, int rows, int cols, float *gram)
{
	BlasInit();
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, cols, rows,
				1.0f, a, cols, 1.0f, gram, cols);
}

/*
 * y = a x, for a of rows x cols.
 */
void
BlasGemv(const float *a, int rows, int cols, const float *x, float *y)
{
	BlasInit();
	cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, cols, 1.0f, a, cols,
				x, 1, 0.0f, y, 1);
}

/*
 * y = a x, for a symmetric n x n (upper triangle read).
 */
void
BlasSymv(const float *a, int n, const float *x, float *y)
{
	BlasInit();
	cblas_ssymv(CblasRowMajor, CblasUpper, n, 1.0f, a, n, x, 1, 0.0f, y, 1);
}

/*
 * Dot product of two float vectors.
 */
float
BlasDot(const float *x, const float *y, int n)
{
	return cblas_sdot(n, x, 1, y, 1);
}

/*
 * y += alpha x.
 */
void
BlasAxpy(float alpha, const float *x, float *y, int n)
{
	cblas_saxpy(n, alpha, x, 1, y, 1);
}

/*
 * Solve a x = b in place for symmetric positive definite a (n x n, upper
 * triangle read, destroyed); the solution replaces b.  Returns false when
 * a is not positive definite.
 */
bool
BlasCholeskySolve(float *a, int n, float *b)
{
	/* Factor a = L L^T, L stored in the lower triangle, in double. */
	for (int j = 0; j < n; j++)
	{
		double		d = a[j * n + j];

		for (int p = 0; p < j; p++)
			d -= (double) a[j * n + p] * a[j * n + p];
		if (!(d > 0.0))
			return false;
		d = sqrt(d);
		a[j * n + j] = (float) d;
		for (int i = j + 1; i < n; i++)
		{
			double		s = a[j * n + i];	/* upper triangle holds a(j,i) */

			for (int p = 0; p < j; p++)
				s -= (double) a[i * n + p] * a[j * n + p];
			a[i * n + j] = (float) (s / d);
		}
	}
	/* Forward substitution L z = b, then back substitution L^T x = z. */
	for (int i = 0; i < n; i++)
	{
		double		s = b[i];

		for (int p = 0; p < i; p++)
			s -= (double) a[i * n + p] * b[p];
		b[i] = (float) (s / a[i * n + i]);
	}
	for (int i = n - 1; i >= 0; i--)
	{
		double		s = b[i];

		for (int p = i + 1; p < n; p++)
			s -= (double) a[p * n + i] * b[p];
		b[i] = (float) (s / a[i * n + i]);
	}
	return true;
}

/*
 * Invert symmetric positive definite a (n x n, upper triangle read) in
 * place, both triangles filled.  Returns false when a is not positive
 * definite.  The row-major upper triangle is LAPACK's column-major lower.
 */
bool
BlasSymmetricInverse(float *a, int n)
{
	int			info = 0;

	BlasInit();
	spotrf_("L", &n, a, &n, &info);
	if (info != 0)
		return false;
	spotri_("L", &n, a, &n, &info);
	if (info != 0)
		return false;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < i; j++)
			a[(Size) i * n + j] = a[(Size) j * n + i];
	return true;
}
