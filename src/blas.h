/*-------------------------------------------------------------------------
 *
 * blas.h
 *	  The few dense linear-algebra kernels personalize needs, behind one
 *	  wrapper so no BLAS type leaks into the rest of the code.
 *
 * All matrices are float32, row-major.  These functions call no
 * PostgreSQL API but BlasInit (which is idempotent) and palloc for the
 * workspace of BlasCholeskySolve.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/blas.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_BLAS_H
#define PERSONALIZE_BLAS_H

extern void BlasInit(void);
extern void BlasGram(const float *a, int rows, int cols, float *gram);
extern void BlasGramAdd(const float *a, int rows, int cols, float *gram);
extern void BlasGemv(const float *a, int rows, int cols, const float *x, float *y);
extern void BlasGemmNT(const float *a, int m, int k, const float *b, int n, float *c);
extern void BlasSymv(const float *a, int n, const float *x, float *y);
extern float BlasDot(const float *x, const float *y, int n);
extern void BlasAxpy(float alpha, const float *x, float *y, int n);
extern bool BlasCholeskySolve(float *a, int n, float *b);
extern bool BlasSymmetricInverse(float *a, int n);

#endif							/* PERSONALIZE_BLAS_H */
