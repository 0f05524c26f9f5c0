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

extern float KernelMax(const float *scores, int32 n);
extern double KernelSoftmaxDenominator(const float *scores, int32 n, float max_score);
extern bool KernelCholeskySolve(const float *a, int n, float *b, double *work);

#endif							/* PERSONALIZE_KERNEL_H */
