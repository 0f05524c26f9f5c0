/*-------------------------------------------------------------------------
 *
 * filter_parse.c
 *	  Tokenizer and recursive-descent parser of Amazon Personalize filter
 *	  expressions.
 *
 *     expression := (INCLUDE|EXCLUDE) ItemID WHERE or [IF and] ['|' expression]
 *                 | (INCLUDE|EXCLUDE) UserID WHERE or ['|' expression]
 *                 | (INCLUDE|EXCLUDE) WHERE <SQL predicate: the rest of the text>
 *     or         := and (OR and)*
 *     and        := term (AND term)*
 *     term       := '(' or ')' | condition
 *     condition  := Dataset.FIELD ([NOT] IN '(' value (',' value)* ')' | op value)
 *     value      := "text" | 'text' | number | $PLACEHOLDER | CurrentItem.FIELD
 *
 * An item attribute predicate (item-attribute-affinity segments, Personalize's
 * itemAttributes) is an or over Items fields alone, compared with "text" and
 * numbers: ITEMS.GENRE = "Comedy" AND ITEMS.PRICE < 20.
 *
 * Keywords are case-insensitive.  ItemID expressions filter items on Items
 * and Interactions fields, CurrentUser (only, and only there) in the IF
 * part; UserID expressions filter users (segments) on Users fields.  Whether a dataset is registered, a field a column and a number a
 * number is for filter.c to say, which knows the relations.
 *
 * Plain C, no PostgreSQL API: it builds standalone for fuzzing.  A syntax
 * error unwinds the recursion with longjmp; nothing but the caller's
 * allocator is used, so there is nothing to clean up on the way.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/filter_parse.c
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <setjmp.h>
#include <string.h>

#include "filter_parse.h"

typedef enum TokenKind
{
	TOK_END,
	TOK_WORD,
	TOK_STRING,
	TOK_NUMBER,
	TOK_PLACEHOLDER,
	TOK_OPERATOR,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_COMMA,
	TOK_PIPE
} TokenKind;

typedef struct Token
{
	TokenKind	kind;
	char	   *text;
	int			position;		/* 1-based character offset */
} Token;

typedef struct Parser
{
	const char *text;
	const FilterAllocator *allocator;
	Token		token;			/* the current token */
	int			offset;			/* where the next token starts */
	int			depth;			/* of parentheses */
	bool		in_if;			/* parsing the IF part */
	bool		users;			/* parsing a UserID expression */
	bool		attributes;		/* parsing an item attribute predicate */
	FilterSyntaxError *error;
	jmp_buf		on_error;
} Parser;

static void *
parse_alloc(Parser *p, size_t size)
{
	return p->allocator->alloc(p->allocator->context, size);
}

static char *
parse_strndup(Parser *p, const char *s, size_t n)
{
	char	   *copy = parse_alloc(p, n + 1);

	memcpy(copy, s, n);
	copy[n] = '\0';
	return copy;
}

/* Report a syntax error at the current token and unwind. */
static void
parse_error(Parser *p, const char *detail)
{
	p->error->position = p->token.position;
	p->error->near = p->token.kind == TOK_END ? "end of expression" : p->token.text;
	p->error->detail = detail;
	longjmp(p->on_error, 1);
}

/* Compare the first n characters of a and b, ignoring ASCII case. */
static int
strncasecmp_ascii(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		int			ca = tolower((unsigned char) a[i]);
		int			cb = tolower((unsigned char) b[i]);

		if (ca != cb || ca == '\0')
			return ca - cb;
	}
	return 0;
}

static int
ascii_strcasecmp(const char *a, const char *b)
{
	for (;; a++, b++)
	{
		int			ca = tolower((unsigned char) *a);
		int			cb = tolower((unsigned char) *b);

		if (ca != cb || ca == '\0')
			return ca - cb;
	}
}

/* Read the next token into p->token. */
static void
parse_next(Parser *p)
{
	const char *s = p->text;
	int			i = p->offset;
	int			start;

	while (s[i] && isspace((unsigned char) s[i]))
		i++;
	start = i;
	p->token.position = start + 1;
	if (s[i] == '\0')
	{
		p->token.kind = TOK_END;
		p->token.text = "";
		p->offset = i;
		return;
	}
	if (s[i] == '"' || s[i] == '\'')
	{
		char		quote = s[i++];
		int			from = i;

		while (s[i] && s[i] != quote)
			i++;
		p->token.kind = TOK_STRING;
		if (s[i] != quote)
		{
			p->token.text = parse_strndup(p, s + start, i - start);
			parse_error(p, "The string is not closed.");
		}
		p->token.text = parse_strndup(p, s + from, i - from);
		i++;
	}
	else if (s[i] == '$')
	{
		i++;
		while (isalnum((unsigned char) s[i]) || s[i] == '_')
			i++;
		p->token.kind = TOK_PLACEHOLDER;
		p->token.text = parse_strndup(p, s + start + 1, i - start - 1);
		if (i == start + 1 || isdigit((unsigned char) p->token.text[0]))
			parse_error(p, "Placeholders are $ followed by a name.");
	}
	else if (isdigit((unsigned char) s[i]) || (s[i] == '-' && isdigit((unsigned char) s[i + 1])) || s[i] == '.')
	{
		i++;
		while (isdigit((unsigned char) s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E')
			i++;
		p->token.kind = TOK_NUMBER;
		p->token.text = parse_strndup(p, s + start, i - start);
	}
	else if (isalpha((unsigned char) s[i]) || s[i] == '_')
	{
		while (isalnum((unsigned char) s[i]) || s[i] == '_' || s[i] == '.')
			i++;
		p->token.kind = TOK_WORD;
		p->token.text = parse_strndup(p, s + start, i - start);
	}
	else if (strchr("=!<>", s[i]))
	{
		i++;
		if (s[i] == '=' || (s[start] == '<' && s[i] == '>'))
			i++;
		p->token.kind = TOK_OPERATOR;
		p->token.text = parse_strndup(p, s + start, i - start);
		if (strcmp(p->token.text, "!") == 0)
			parse_error(p, NULL);
	}
	else
	{
		i++;
		p->token.text = parse_strndup(p, s + start, 1);
		switch (s[start])
		{
			case '(':
				p->token.kind = TOK_LPAREN;
				break;
			case ')':
				p->token.kind = TOK_RPAREN;
				break;
			case ',':
				p->token.kind = TOK_COMMA;
				break;
			case '|':
				p->token.kind = TOK_PIPE;
				break;
			default:
				p->token.kind = TOK_WORD;
				parse_error(p, NULL);
		}
	}
	p->offset = i;
}

/* Is the current token the keyword word? */
static bool
parse_is(Parser *p, const char *word)
{
	return p->token.kind == TOK_WORD && ascii_strcasecmp(p->token.text, word) == 0;
}

/* Consume the keyword word, or raise a syntax error. */
static void
parse_expect(Parser *p, const char *word, const char *detail)
{
	if (!parse_is(p, word))
		parse_error(p, detail);
	parse_next(p);
}

/* A value of a comparison or IN list, consumed. */
static FilterValue *
parse_value(Parser *p)
{
	FilterValue *v = parse_alloc(p, sizeof(FilterValue));
	const char *dot;

	v->text = p->token.text;
	v->position = p->token.position;
	if (p->token.kind == TOK_STRING)
		v->kind = FILTER_VALUE_STRING;
	else if (p->token.kind == TOK_NUMBER)
		v->kind = FILTER_VALUE_NUMBER;
	else if (p->attributes)
		parse_error(p, "Attribute predicates compare with \"text\" or a number.");
	else if (p->token.kind == TOK_PLACEHOLDER)
		v->kind = FILTER_VALUE_PLACEHOLDER;
	else if (p->token.kind == TOK_WORD && (dot = strchr(p->token.text, '.')) != NULL &&
			 dot - p->token.text == 11 && strncasecmp_ascii(p->token.text, "CurrentItem", 11) == 0)
	{
		v->kind = FILTER_VALUE_CURRENT_ITEM;
		v->text = (char *) dot + 1;
	}
	else
		parse_error(p, "Expected a value: \"text\", a number, a $PLACEHOLDER or CurrentItem.FIELD.");
	parse_next(p);
	return v;
}

/* "(value, value, ...)", consumed. */
static FilterValue *
parse_value_list(Parser *p)
{
	FilterValue *first = NULL;
	FilterValue **tail = &first;

	if (p->token.kind != TOK_LPAREN)
		parse_error(p, "Expected ( after IN.");
	parse_next(p);
	for (;;)
	{
		*tail = parse_value(p);
		tail = &(*tail)->next;
		if (p->token.kind == TOK_RPAREN)
			break;
		if (p->token.kind != TOK_COMMA)
			parse_error(p, "Expected , or ).");
		parse_next(p);
	}
	parse_next(p);
	return first;
}

/* condition := Dataset.FIELD ([NOT] IN list | op value) */
static FilterNode *
parse_condition(Parser *p)
{
	FilterNode *node = parse_alloc(p, sizeof(FilterNode));
	char	   *dot;

	node->kind = FILTER_NODE_CONDITION;
	if (p->token.kind != TOK_WORD || (dot = strchr(p->token.text, '.')) == NULL)
		parse_error(p, p->attributes ? "Expected a field such as Items.GENRE."
					: "Expected a field such as Items.GENRE or Interactions.EVENT_TYPE.");
	node->field_text = p->token.text;
	node->position = p->token.position;
	node->dataset = parse_strndup(p, p->token.text, dot - p->token.text);
	node->field = dot + 1;
	if (p->attributes)
	{
		if (ascii_strcasecmp(node->dataset, "Items") != 0)
			parse_error(p, "Attribute predicates are on Items fields, e.g. ITEMS.GENRE = \"Comedy\".");
	}
	else if (p->users)
	{
		if (ascii_strcasecmp(node->dataset, "Users") != 0)
			parse_error(p, "UserID expressions filter on Users fields, e.g. Users.AGE > 18.");
	}
	else if (p->in_if)
	{
		if (ascii_strcasecmp(node->dataset, "CurrentUser") != 0)
			parse_error(p, "IF conditions are on CurrentUser fields, e.g. IF CurrentUser.AGE > 18.");
	}
	else if (ascii_strcasecmp(node->dataset, "CurrentUser") == 0)
		parse_error(p, "CurrentUser fields go in an IF condition at the end of the expression.");
	else if (ascii_strcasecmp(node->dataset, "Items") != 0 &&
			 ascii_strcasecmp(node->dataset, "Interactions") != 0 &&
			 ascii_strcasecmp(node->dataset, "Users") != 0 &&
			 ascii_strcasecmp(node->dataset, "CurrentItem") != 0)
		parse_error(p, "Fields start with Items., Interactions., Users., CurrentItem. or CurrentUser.");
	parse_next(p);

	if (parse_is(p, "NOT"))
	{
		parse_next(p);
		if (!parse_is(p, "IN"))
			parse_error(p, "Expected IN after NOT.");
		parse_next(p);
		node->op = FILTER_OP_NOT_IN;
		node->values = parse_value_list(p);
	}
	else if (parse_is(p, "IN"))
	{
		parse_next(p);
		node->op = FILTER_OP_IN;
		node->values = parse_value_list(p);
	}
	else if (p->token.kind == TOK_OPERATOR)
	{
		const char *op = p->token.text;

		if (strcmp(op, "=") == 0)
			node->op = FILTER_OP_EQ;
		else if (strcmp(op, "!=") == 0 || strcmp(op, "<>") == 0)
			node->op = FILTER_OP_NE;
		else if (strcmp(op, "<") == 0)
			node->op = FILTER_OP_LT;
		else if (strcmp(op, "<=") == 0)
			node->op = FILTER_OP_LE;
		else if (strcmp(op, ">") == 0)
			node->op = FILTER_OP_GT;
		else if (strcmp(op, ">=") == 0)
			node->op = FILTER_OP_GE;
		else
			parse_error(p, "Operators are = != < <= > >=.");
		parse_next(p);
		node->values = parse_value(p);
	}
	else
		parse_error(p, "Expected IN, NOT IN or a comparison.");
	return node;
}

static FilterNode *parse_or(Parser *p);

/* term := '(' or ')' | condition */
static FilterNode *
parse_term(Parser *p)
{
	FilterNode *inner;

	if (p->token.kind != TOK_LPAREN)
		return parse_condition(p);
	if (p->depth >= FILTER_MAX_DEPTH)
		parse_error(p, "Parentheses nest too deep.");
	p->depth++;
	parse_next(p);
	inner = parse_or(p);
	if (p->token.kind != TOK_RPAREN)
		parse_error(p, "Expected ).");
	parse_next(p);
	p->depth--;
	inner->parenthesized = true;
	return inner;
}

/* A list of terms joined by AND, or of those joined by OR: one node each. */
static FilterNode *
parse_list(Parser *p, FilterNodeKind kind, const char *keyword, FilterNode *(*element) (Parser *))
{
	FilterNode *first = element(p);
	FilterNode *list;
	FilterNode **tail;

	if (!parse_is(p, keyword))
		return first;
	list = parse_alloc(p, sizeof(FilterNode));
	list->kind = kind;
	list->children = first;
	tail = &first->next;
	while (parse_is(p, keyword))
	{
		parse_next(p);
		*tail = element(p);
		tail = &(*tail)->next;
	}
	return list;
}

/* and := term (AND term)* */
static FilterNode *
parse_and(Parser *p)
{
	return parse_list(p, FILTER_NODE_AND, "AND", parse_term);
}

/* or := and (OR and)* */
static FilterNode *
parse_or(Parser *p)
{
	return parse_list(p, FILTER_NODE_OR, "OR", parse_and);
}

FilterExpr *
FilterParse(const char *text, const FilterAllocator *allocator, FilterSyntaxError *error)
{
	Parser		p;
	FilterExpr *first = NULL;
	FilterExpr **tail = &first;

	memset(&p, 0, sizeof(p));
	p.text = text;
	p.allocator = allocator;
	p.error = error;
	if (setjmp(p.on_error) != 0)
		return NULL;

	parse_next(&p);
	for (;;)
	{
		FilterExpr *e = parse_alloc(&p, sizeof(FilterExpr));

		*tail = e;
		tail = &e->next;
		if (parse_is(&p, "INCLUDE"))
			e->include = true;
		else if (!parse_is(&p, "EXCLUDE"))
			parse_error(&p, "Expressions start with INCLUDE or EXCLUDE.");
		parse_next(&p);
		if (parse_is(&p, "WHERE"))
		{
			/* an SQL predicate: the rest of the text, from its first token on */
			parse_next(&p);
			if (p.token.kind == TOK_END)
				parse_error(&p, "Expected an SQL predicate after WHERE.");
			e->sql = text + p.token.position - 1;
			break;
		}
		if (parse_is(&p, "UserID"))
			e->users = true;
		else if (!parse_is(&p, "ItemID"))
			parse_error(&p, "Expected ItemID (or WHERE for an SQL predicate).");
		parse_next(&p);
		parse_expect(&p, "WHERE", "Expected WHERE.");
		p.users = e->users;
		e->where = parse_or(&p);
		p.users = false;
		if (!e->users && parse_is(&p, "IF"))
		{
			parse_next(&p);
			p.in_if = true;
			e->if_condition = parse_and(&p);
			p.in_if = false;
		}
		if (p.token.kind == TOK_END)
			break;
		if (p.token.kind != TOK_PIPE)
			parse_error(&p, "Expected AND, OR, | or the end of the expression.");
		parse_next(&p);
	}
	return first;
}

FilterNode *
FilterParseAttributes(const char *text, const FilterAllocator *allocator, FilterSyntaxError *error)
{
	Parser		p;
	FilterNode *node;

	memset(&p, 0, sizeof(p));
	p.text = text;
	p.allocator = allocator;
	p.error = error;
	p.attributes = true;
	if (setjmp(p.on_error) != 0)
		return NULL;

	parse_next(&p);
	node = parse_or(&p);
	if (p.token.kind != TOK_END)
		parse_error(&p, "Expected AND, OR or the end of the predicate.");
	return node;
}

bool
FilterQuotedValues(const char *s, int len, void (*emit) (void *arg, const char *value, int len), void *arg)
{
	int			i = 0;

	while (i < len && isspace((unsigned char) s[i]))
		i++;
	if (i >= len || s[i] != '"')
		return false;
	/* each quoted run, in order; an unclosed quote ends the list */
	for (;;)
	{
		int			open = i;
		int			close;

		while (open < len && s[open] != '"')
			open++;
		close = open + 1;
		while (close < len && s[close] != '"')
			close++;
		if (close >= len)
			break;
		emit(arg, s + open + 1, close - open - 1);
		i = close + 1;
	}
	return true;
}
