/*-------------------------------------------------------------------------
 *
 * cpu_budget.h
 *	  How many CPUs this process may use (cpu_budget.c).
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/cpu_budget.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_CPU_BUDGET_H
#define PERSONALIZE_CPU_BUDGET_H

typedef struct CpuBudget
{
	long		cpus;			/* what to plan for: the smaller of the two */
	long		affinity;		/* CPUs of the affinity mask (else online) */
	long		quota;			/* a cgroup CPU quota's whole CPUs (at least 1); 0: none */
} CpuBudget;

extern const CpuBudget *CpuBudgetGet(void);

#endif							/* PERSONALIZE_CPU_BUDGET_H */
