/*-------------------------------------------------------------------------
 *
 * filter.h
 *	  Recommendation filters: Personalize filter expressions and SQL
 *	  predicates, compiled to one SQL query that keeps the candidate items
 *	  that pass.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/filter.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_FILTER_H
#define PERSONALIZE_FILTER_H

#include "postgres.h"

#include "utils/jsonb.h"

/*
 * A compiled filter: a query with parameters $1 text[] (candidate item ids,
 * in rank order), $2 text (the requesting user, or NULL), $3 jsonb (the
 * filter values), $4 text (the current item of a related-items request,
 * or NULL) and $5 int8[] (the candidates as integers, NULL where one cannot
 * be), returning the candidates that pass, in the same order.
 */
typedef struct CompiledFilter
{
	char	   *name;
	char	   *sql;
	bool		uses_current_item;	/* needs $4 */
	bool		for_users;		/* candidates are user ids (user_segment) */
	/*
	 * Every condition compares a column of the candidate's items row with
	 * literals or filter values, by types whose text form follows no
	 * setting: the result depends on the item, the values and the items
	 * relation's contents only (filter_mask.c).
	 */
	bool		items_only;
	Oid			items_relid;
	char	   *values_text;	/* the values' text, "" for none (FilterLoad) */
} CompiledFilter;

extern CompiledFilter *FilterCompile(const char *name, const char *dataset_group,
									 const char *expression, Jsonb *values,
									 bool check_values);
extern CompiledFilter *FilterLoad(const char *name, const char *dataset_group, Jsonb *values);
extern int	FilterApply(const CompiledFilter *filter, const char *user_id, const char *current_item,
						Jsonb *values, char **candidates, int n, char **passing);
extern void FilterApplyAll(const CompiledFilter *filter, Jsonb *values, char **candidates,
						   int n, bool *pass);

/* Item attribute predicates (item-attribute-affinity segments). */
extern bool FilterIsAttributePredicate(const char *text);
extern int	FilterMatchItems(const char *campaign, const char *dataset_group,
							 const char *predicate, char ***ids);

#endif							/* PERSONALIZE_FILTER_H */
