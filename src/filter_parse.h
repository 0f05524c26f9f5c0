/*-------------------------------------------------------------------------
 *
 * filter_parse.h
 *	  Parsing Amazon Personalize filter expressions into a syntax tree.
 *
 * Plain C with no PostgreSQL dependency, so that the parser also builds as
 * a standalone libFuzzer target (test/fuzz).  Memory comes from the
 * caller's allocator; a syntax error comes back as a FilterSyntaxError,
 * never as a jump.  filter.c resolves the fields against the registered
 * relations and turns the tree into SQL.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/filter_parse.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PERSONALIZE_FILTER_PARSE_H
#define PERSONALIZE_FILTER_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* Parentheses nested deeper than this are a syntax error. */
#define FILTER_MAX_DEPTH 1000

/* Where the parser's memory comes from; the caller frees it, never the parser. */
typedef struct FilterAllocator
{
	void	   *(*alloc) (void *context, size_t size);	/* returns zeroed memory */
	void	   *context;
} FilterAllocator;

typedef enum FilterValueKind
{
	FILTER_VALUE_STRING,		/* "text" or 'text' */
	FILTER_VALUE_NUMBER,		/* 12.5, as written (not checked as a number) */
	FILTER_VALUE_PLACEHOLDER,	/* $NAME: text is the name without $ */
	FILTER_VALUE_CURRENT_ITEM	/* CurrentItem.FIELD: text is the field */
} FilterValueKind;

typedef struct FilterValue
{
	FilterValueKind kind;
	char	   *text;
	int			position;		/* 1-based */
	struct FilterValue *next;
} FilterValue;

typedef enum FilterOp
{
	FILTER_OP_IN,
	FILTER_OP_NOT_IN,
	FILTER_OP_EQ,
	FILTER_OP_NE,
	FILTER_OP_LT,
	FILTER_OP_LE,
	FILTER_OP_GT,
	FILTER_OP_GE
} FilterOp;

typedef enum FilterNodeKind
{
	FILTER_NODE_AND,			/* children joined by AND */
	FILTER_NODE_OR,				/* children joined by OR */
	FILTER_NODE_CONDITION
} FilterNodeKind;

/*
 * AND and OR nodes hold two or more children (a chain of conditions is
 * one node, not a deep tree), so walking the tree recurses only as deep as
 * the parentheses nest.
 */
typedef struct FilterNode
{
	FilterNodeKind kind;
	bool		parenthesized;	/* written inside ( ) */
	struct FilterNode *children;	/* AND, OR */
	struct FilterNode *next;	/* sibling */
	/* CONDITION: Dataset.FIELD op value(s) */
	char	   *field_text;		/* "Items.GENRE", as written */
	char	   *dataset;		/* "Items" */
	char	   *field;			/* "GENRE" */
	int			position;		/* of field_text, 1-based */
	FilterOp	op;
	FilterValue *values;		/* IN: one or more; comparisons: one */
} FilterNode;

/* One INCLUDE or EXCLUDE expression of a |-chain. */
typedef struct FilterExpr
{
	bool		include;
	bool		users;			/* INCLUDE|EXCLUDE UserID: filters users (segments) */
	/* the SQL predicate form, INCLUDE|EXCLUDE WHERE <the rest of the text> */
	const char *sql;			/* points into the parsed text; NULL otherwise */
	FilterNode *where;			/* the Personalize syntax form */
	FilterNode *if_condition;	/* IF CurrentUser.FIELD ..., or NULL */
	struct FilterExpr *next;
} FilterExpr;

typedef struct FilterSyntaxError
{
	int			position;		/* 1-based character offset */
	const char *near;			/* the token there, "end of expression" at the end */
	const char *detail;			/* or NULL */
} FilterSyntaxError;

/* Parse text: the chain of expressions, or NULL with *error filled in. */
extern FilterExpr *FilterParse(const char *text, const FilterAllocator *allocator,
							   FilterSyntaxError *error);

/*
 * Parse an item attribute predicate (Items fields compared with literals,
 * AND, OR, parentheses): the tree, or NULL with *error filled in.
 */
extern FilterNode *FilterParseAttributes(const char *text, const FilterAllocator *allocator,
										 FilterSyntaxError *error);

/*
 * Personalize's form of a placeholder's values in one string,
 * "\"Comedy\",\"Drama\"": when s (len bytes, not NUL-terminated) starts
 * with a quote after blanks, call emit for each quoted value and return
 * true; otherwise return false (s is one plain value).
 */
extern bool FilterQuotedValues(const char *s, int len,
							   void (*emit) (void *arg, const char *value, int len), void *arg);

#endif							/* PERSONALIZE_FILTER_PARSE_H */
