/*-------------------------------------------------------------------------
 *
 * als.h
 *	  Alternating least squares training: the per-row conjugate gradient
 *	  kernel (als_kernel.c) and the sweeps that run it over every row of
 *	  one side, in one process or shared with background workers
 *	  (als_parallel.c).
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/als.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_ALS_H
#define PERSONALIZE_ALS_H

#include "postgres.h"

/* Sparse rows to solve for: CSR over the "other" side's indexes. */
typedef struct AlsSide
{
	int32		n_rows;
	const int64 *ptr;
	const int32 *idx;
	const float *weight;
} AlsSide;

/* The two sides of one fit, as the kernel reads them. */
typedef struct AlsProblem
{
	AlsSide		users;
	AlsSide		items;
	int			k;
	int			cg_steps;
	float		alpha;
	float		regularization;
} AlsProblem;

/*
 * Update rows [lo, hi) of side (factors out) against the fixed factors of
 * the other side and their regularised Gram matrix (k x k, both triangles).
 * work holds 4 k floats.  Pure computation: calls no PostgreSQL API, so
 * any process (leader or helper) may run it on any range of rows and the
 * result does not depend on which did.
 */
extern void AlsSolveRows(const AlsSide *side, const float *other, const float *gram,
						 int k, float alpha, int cg_steps, float *out,
						 int32 lo, int32 hi, float *work);

/*
 * The item side may read the user factors rounded to half precision
 * (als_kernel.c): half the bytes to gather, where those gathers wait on
 * memory.
 */
extern bool AlsHalfRowsSupported(int k);
extern void AlsToHalf(const float *x, uint16 *half, Size n);
extern void AlsSolveRowsHalf(const AlsSide *side, const uint16 *other, const float *gram,
							 float alpha, int cg_steps, float *out, int32 lo, int32 hi);

/* One fit's sweeps (als_parallel.c). */
typedef struct AlsSweeper AlsSweeper;

extern AlsSweeper *AlsSweeperBegin(const AlsProblem *problem);
extern float *AlsSweeperUserFactors(AlsSweeper *sweeper);
extern float *AlsSweeperItemFactors(AlsSweeper *sweeper);
extern void AlsSweeperUpdate(AlsSweeper *sweeper, bool users);
extern int	AlsSweeperWorkers(AlsSweeper *sweeper);
extern void AlsSweeperEnd(AlsSweeper *sweeper, float **user_factors, float **item_factors);

#endif							/* PERSONALIZE_ALS_H */
