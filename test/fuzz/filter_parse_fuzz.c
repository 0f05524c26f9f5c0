/*-------------------------------------------------------------------------
 *
 * filter_parse_fuzz.c
 *	  libFuzzer target: the filter expression parser (src/filter_parse.c).
 *
 * Built standalone with clang -fsanitize=fuzzer,address,undefined by
 * test/scripts/fuzz.sh (make fuzzcheck), seeded from test/fuzz/corpus.
 * Each input is parsed into a tree that is then walked; a crash, a
 * sanitizer report or a broken invariant (a position outside the text, a
 * tree deeper than the nesting limit, an SQL predicate that does not
 * point into the text, an attribute predicate with other than Items
 * fields and literals) aborts.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  test/fuzz/filter_parse_fuzz.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter_parse.h"

/* Every allocation made for one input, freed after it. */
typedef struct Arena
{
	void	  **blocks;
	size_t		n;
	size_t		capacity;
} Arena;

static void *
arena_alloc(void *context, size_t size)
{
	Arena	   *arena = context;
	void	   *block = calloc(1, size ? size : 1);

	if (block == NULL)
		abort();
	if (arena->n == arena->capacity)
	{
		arena->capacity = arena->capacity ? arena->capacity * 2 : 64;
		arena->blocks = realloc(arena->blocks, arena->capacity * sizeof(void *));
		if (arena->blocks == NULL)
			abort();
	}
	arena->blocks[arena->n++] = block;
	return block;
}

static void
check(int condition)
{
	if (!condition)
		abort();
}

static void
check_node(const FilterNode *node, size_t length, int depth)
{
	check(depth <= FILTER_MAX_DEPTH + 2);
	if (node->kind == FILTER_NODE_CONDITION)
	{
		check(node->position >= 1 && (size_t) node->position <= length);
		check(node->dataset != NULL && node->field != NULL && node->field_text != NULL);
		check(node->values != NULL);
		for (const FilterValue *v = node->values; v != NULL; v = v->next)
			check(v->text != NULL);
		return;
	}
	check(node->kind == FILTER_NODE_AND || node->kind == FILTER_NODE_OR);
	check(node->children != NULL && node->children->next != NULL);
	for (const FilterNode *child = node->children; child != NULL; child = child->next)
		check_node(child, length, depth + (child->parenthesized ? 1 : 0));
}

/* A parsed attribute predicate: a tree of Items conditions on literals. */
static void
check_attributes(const FilterNode *node, size_t length, int depth)
{
	check_node(node, length, depth);
	if (node->kind == FILTER_NODE_CONDITION)
	{
		check(strlen(node->dataset) == 5);
		for (const FilterValue *v = node->values; v != NULL; v = v->next)
			check(v->kind == FILTER_VALUE_STRING || v->kind == FILTER_VALUE_NUMBER);
		return;
	}
	for (const FilterNode *child = node->children; child != NULL; child = child->next)
		check_attributes(child, length, depth + (child->parenthesized ? 1 : 0));
}

/* The bounds of the input, for checking what the value splitter emits. */
typedef struct Bounds
{
	const char *start;
	size_t		size;
} Bounds;

static void
check_value(void *arg, const char *value, int len)
{
	const Bounds *b = arg;

	check(len >= 0 && value >= b->start && value + len <= b->start + b->size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);
	Arena		arena = {0};
	FilterAllocator allocator = {arena_alloc, &arena};
	FilterSyntaxError error = {0};
	FilterExpr *exprs;
	size_t		length;

	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	length = strlen(text);		/* SQL text ends at the first NUL */

	exprs = FilterParse(text, &allocator, &error);
	if (exprs == NULL)
		check(error.position >= 1 && (size_t) error.position <= length + 1 && error.near != NULL);
	for (const FilterExpr *e = exprs; e != NULL; e = e->next)
	{
		if (e->sql != NULL)
		{
			check(e->sql >= text && e->sql < text + length && e->where == NULL);
			check(e->next == NULL);		/* a predicate runs to the end */
		}
		else
		{
			check(e->where != NULL);
			check_node(e->where, length, e->where->parenthesized ? 1 : 0);
			if (e->if_condition)
				check_node(e->if_condition, length, 0);
		}
	}

	/* the same text as an item attribute predicate: Items fields and literals only */
	{
		FilterNode *attributes = FilterParseAttributes(text, &allocator, &error);

		if (attributes == NULL)
			check(error.position >= 1 && (size_t) error.position <= length + 1 && error.near != NULL);
		else
			check_attributes(attributes, length, attributes->parenthesized ? 1 : 0);
	}

	/* the same bytes as a placeholder's value string (not NUL-terminated) */
	{
		Bounds		bounds = {(const char *) data, size};

		(void) FilterQuotedValues((const char *) data, (int) size, check_value, &bounds);
	}

	for (size_t i = 0; i < arena.n; i++)
		free(arena.blocks[i]);
	free(arena.blocks);
	free(text);
	return 0;
}
