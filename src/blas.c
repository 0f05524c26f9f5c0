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

#include <dlfcn.h>
#include <math.h>
#include <cblas.h>

#include "blas.h"
#include "kernel.h"

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
	int			(*shutdown_pool) (void);

	if (blas_initialised)
		return;
	openblas_set_num_threads(1);

	/*
	 * In a process forked from one that had loaded OpenBLAS (every backend,
	 * when the postmaster preloads this library), setting the number of
	 * threads first re-creates OpenBLAS's thread pool, whose thread then
	 * spins for about 0.1 s before it sleeps: as much CPU again as loading
	 * a 27k-item model, in every new connection.  One thread never uses
	 * the pool: shut it down, as OpenBLAS itself does before a fork.  Only
	 * the pthreads build has the function; others have no pool to stop.
	 */
	shutdown_pool = (int (*) (void)) dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
	if (shutdown_pool != NULL)
		shutdown_pool();
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
 * c = a b^T, for a of m x k and b of n x k (c: m x n).  Scoring m users at
 * once reads b once instead of m times.
 */
void
BlasGemmNT(const float *a, int m, int k, const float *b, int n, float *c)
{
	BlasInit();
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k,
				b, k, 0.0f, c, n);
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
 * Solve a x = b for symmetric positive definite a (n x n, upper triangle
 * read); the solution replaces b.  Returns false when a is not positive
 * definite.  In double, with vectorised dot products (kernel.c).
 */
bool
BlasCholeskySolve(float *a, int n, float *b)
{
	double	   *work = palloc(sizeof(double) * ((Size) n * n + n));
	bool		solved = KernelCholeskySolve(a, n, b, work);

	pfree(work);
	return solved;
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
