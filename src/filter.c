/*-------------------------------------------------------------------------
 *
 * filter.c
 *	  Recommendation filters, compiled to SQL.
 *
 * A filter is either Amazon Personalize filter syntax
 *
 *     INCLUDE|EXCLUDE ItemID WHERE Items.GENRE IN ($GENRES) AND Items.PRICE < 20
 *         | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")
 *           IF CurrentUser.AGE < 18
 *
 * or an SQL predicate, INCLUDE|EXCLUDE WHERE <boolean SQL expression> over
 * the aliases items (the candidate's row of the items dataset), users (the
 * requesting user's row) and interactions (the user's latest interaction
 * with the candidate).  Either way it becomes one query over the candidate
 * ids ($1 text[], in rank order) for the requesting user ($2) with the
 * filter values ($3 jsonb), keeping the candidates that pass: the union of
 * the INCLUDE expressions (everything when there is none) minus the union
 * of the EXCLUDE expressions.  An expression with an IF condition on the
 * requesting user's row counts only when the condition holds.  Values are never spliced into the query:
 * literals of the expression are quoted, $PLACEHOLDERS read $3, and
 * identifiers are resolved against the registered relations and quoted.
 * A missing placeholder is an error in an INCLUDE expression and disables
 * an EXCLUDE expression, as in Personalize.
 *
 * filter_parse.c parses the Personalize syntax into a tree (plain C, fuzzed
 * standalone); here the tree's fields are resolved against the registered
 * relations and turned into SQL.
 *
 * The same compiler turns an item attribute predicate (item-attribute-
 * affinity segments: ITEMS.GENRE = "Comedy" AND ITEMS.PRICE < 20) into a
 * query over the items relation, its literals passed as parameters
 * (FilterMatchItems).
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/filter.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/relation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "parser/parser.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "dataset.h"
#include "filter.h"
#include "filter_parse.h"
#include "personalize.h"
#include "snapshot_stamp.h"

/* A registered relation the filter may read. */
typedef struct FilterRelation
{
	Oid			relid;			/* InvalidOid when not registered */
	char	   *name;			/* quoted, schema-qualified */
	char	   *user_column;
	char	   *item_column;
	char	   *time_column;
	char	   *event_type_column;
	char	   *event_value_column;
} FilterRelation;

/* State of one compilation: the relations and the SQL built so far. */
typedef struct FilterCompiler
{
	const char *name;
	const char *expression;
	FilterRelation items;
	FilterRelation users;
	FilterRelation interactions;
	Jsonb	   *values;
	bool		check_values;
	bool		uses_items;
	List	   *placeholders;	/* of the current expression */
	StringInfoData includes;	/* OR-ed INCLUDE conditions */
	StringInfoData excludes;	/* OR-ed EXCLUDE conditions */
	StringInfoData active;		/* OR-ed conditions under which some INCLUDE applies */
	bool		sql_form;
	bool		uses_current_item;	/* compares with CurrentItem fields ($4) */
	bool		for_users;		/* UserID expressions: the candidates are users */
	/* an item attribute predicate: its literals become $1[n], in order */
	bool		attributes;
	List	   *literals;
	/* for item masks (filter_mask.c): */
	bool		beyond_items;	/* reads more than the candidate's items row */
	bool		unstable_text;	/* compares a type whose text form follows settings */
} FilterCompiler;

/* FilterAllocator over palloc (zeroed), for the parser. */
static void *
filter_palloc0(void *context, size_t size)
{
	return palloc0(size);
}

/*
 * Return SQL comparing column (of alias) with the text expression id, in a
 * form an index on the column can serve: integer ids are compared as
 * integers (id_int, when the caller has the id as an int8 already, else a
 * guarded cast: an id that cannot be one matches nothing), text ids
 * directly, other types through their text form.
 */
static char *
filter_id_match(const FilterRelation *rel, const char *alias, const char *column, const char *id,
				const char *id_int)
{
	Oid			type = get_atttype(rel->relid, get_attnum(rel->relid, column));
	const char *col = quote_identifier(column);

	if (DatasetTypeIsInteger(type) && id_int != NULL)
		return psprintf("%s.%s = %s", alias, col, id_int);
	/*
	 * The ids DatasetIdAsInt64 takes: an optional sign, digits, in range.
	 * At most 19 digits after leading zeros reach the numeric cast, which
	 * a longer id (over 131,072 digits) would make fail.
	 */
	if (DatasetTypeIsInteger(type))
		return psprintf("%s.%s = (CASE WHEN %s ~ '^[-+]?0*[0-9]{1,19}$' AND %s::numeric "
						"BETWEEN -9223372036854775808 AND 9223372036854775807 THEN %s::int8 END)",
						alias, col, id, id, id);
	if (type == TEXTOID || type == VARCHAROID)
		return psprintf("%s.%s = %s", alias, col, id);
	return psprintf("%s.%s::text = %s", alias, col, id);
}

/*
 * Find the column of rel called name, case-insensitively; NULL if none.
 */
static char *
filter_column(const FilterRelation *rel, const char *name, Oid *type)
{
	char	   *found = NULL;
	Relation	r;
	TupleDesc	desc;

	if (!OidIsValid(rel->relid))
		return NULL;
	r = relation_open(rel->relid, AccessShareLock);
	desc = RelationGetDescr(r);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || pg_strcasecmp(NameStr(att->attname), name) != 0)
			continue;
		found = pstrdup(NameStr(att->attname));
		*type = att->atttypid;
		if (strcmp(found, name) == 0)
			break;
	}
	relation_close(r, AccessShareLock);
	return found;
}

/* Kinds of column types, for choosing how to compare. */
typedef enum ValueKind
{
	VALUE_TEXT,
	VALUE_ARRAY,
	VALUE_NUMBER,
	VALUE_TIME
} ValueKind;

static ValueKind
filter_value_kind(Oid type)
{
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
		case FLOAT4OID:
		case FLOAT8OID:
			return VALUE_NUMBER;
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
		case DATEOID:
			return VALUE_TIME;
		default:
			return type_is_array(type) ? VALUE_ARRAY : VALUE_TEXT;
	}
}

/*
 * Note a placeholder of the current expression.
 */
static void
filter_placeholder(FilterCompiler *fc, const char *name)
{
	fc->placeholders = lappend(fc->placeholders, pstrdup(name));
}

/*
 * Return SQL for a CurrentItem field: the value of that column in the
 * items dataset's row of the current item ($4, the item whose related
 * items are asked for), a time as epoch seconds; *type is the column's.
 */
static char *
filter_current_item_sql(FilterCompiler *fc, const FilterValue *v, Oid *type)
{
	FilterRelation *rel = &fc->items;
	char	   *column;
	char	   *value;

	if (!OidIsValid(rel->relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("filter \"%s\" uses CurrentItem but its dataset group has no items dataset", fc->name),
				 errhint("Register one with personalize.create_dataset.")));
	column = filter_column(rel, v->text, type);
	if (column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("field \"CurrentItem.%s\" at position %d of filter \"%s\" is not a column of %s",
						v->text, v->position, fc->name, rel->name),
				 errhint("Compare with a column of the registered items relation.")));
	fc->uses_current_item = true;
	value = psprintf("(SELECT ci.%s FROM %s ci WHERE %s)", quote_identifier(column), rel->name,
					 filter_id_match(rel, "ci", rel->item_column, "$4", NULL));
	return filter_value_kind(*type) == VALUE_TIME ? psprintf("extract(epoch FROM %s)", value) : value;
}

/*
 * Return SQL for a literal: quoted into a filter's query (which is kept as
 * the filter's compiled text), or a parameter of an attribute predicate.
 */
static char *
filter_literal_sql(FilterCompiler *fc, const char *text)
{
	if (!fc->attributes)
		return quote_literal_cstr(text);
	fc->literals = lappend(fc->literals, pstrdup(text));
	return psprintf("$1[%d]", list_length(fc->literals));
}

/*
 * Return SQL for the value of a comparison: a quoted literal (a number is
 * checked as one), a read of the filter values or a CurrentItem field.
 */
static char *
filter_scalar_sql(FilterCompiler *fc, const FilterValue *v)
{
	if (v->kind == FILTER_VALUE_CURRENT_ITEM)
	{
		Oid			type;

		return filter_current_item_sql(fc, v, &type);
	}
	if (v->kind == FILTER_VALUE_PLACEHOLDER)
	{
		filter_placeholder(fc, v->text);
		return psprintf("($3 ->> %s)", quote_literal_cstr(v->text));
	}
	if (v->kind == FILTER_VALUE_NUMBER)
		(void) DirectFunctionCall3(numeric_in, CStringGetDatum(v->text),
								   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	return filter_literal_sql(fc, v->text);
}

/*
 * Return SQL for the text[] of an IN list: its literals, then each
 * placeholder's values (a scalar subquery: evaluated once per execution,
 * not per row).
 */
static char *
filter_list_sql(FilterCompiler *fc, const FilterValue *values)
{
	StringInfoData literals;
	StringInfoData sql;

	initStringInfo(&literals);
	initStringInfo(&sql);
	for (const FilterValue *v = values; v != NULL; v = v->next)
	{
		if (v->kind == FILTER_VALUE_PLACEHOLDER)
		{
			filter_placeholder(fc, v->text);
			appendStringInfo(&sql, " || (SELECT personalize._filter_values($3, %s))", quote_literal_cstr(v->text));
		}
		else if (v->kind == FILTER_VALUE_CURRENT_ITEM)
		{
			Oid			type;
			char	   *value = filter_current_item_sql(fc, v, &type);

			/* the current item's values: an array's elements, or a |-separated text's */
			if (filter_value_kind(type) == VALUE_ARRAY)
				appendStringInfo(&sql, " || %s::text[]", value);
			else
				appendStringInfo(&sql, " || string_to_array(%s::text, '|')", value);
		}
		else
			appendStringInfo(&literals, "%s%s", literals.len ? ", " : "", filter_literal_sql(fc, v->text));
	}
	return psprintf("(ARRAY[%s]::text[]%s)", literals.data, sql.data);
}

/* The SQL spelling of a comparison operator. */
static const char *
filter_op_sql(FilterOp op)
{
	switch (op)
	{
		case FILTER_OP_EQ:
			return "=";
		case FILTER_OP_NE:
			return "<>";
		case FILTER_OP_LT:
			return "<";
		case FILTER_OP_LE:
			return "<=";
		case FILTER_OP_GT:
			return ">";
		case FILTER_OP_GE:
			return ">=";
		default:
			elog(ERROR, "unexpected filter operator %d", (int) op);
	}
	return NULL;				/* keep compiler quiet */
}

/*
 * Reject a field filters cannot compare, as Personalize does: boolean
 * fields (store the flag as text "True"/"False" or an integer 0/1, as
 * Personalize advises, or write an SQL predicate) and textual fields,
 * here the types whose values are documents rather than categories.
 */
static void
filter_check_comparable(FilterCompiler *fc, const FilterNode *node, const FilterRelation *rel,
						const char *column, Oid type)
{
	const char *kind = NULL;

	switch (type)
	{
		case BOOLOID:
			kind = "boolean";
			break;
		case JSONOID:
		case JSONBOID:
		case XMLOID:
		case BYTEAOID:
		case TSVECTOROID:
			kind = "textual";
			break;
		default:
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("field \"%s\" at position %d of %s \"%s\" is a %s column (%s of %s), which filters cannot compare",
					node->field_text, node->position, fc->attributes ? "the attribute predicate for campaign" : "filter",
					fc->name, kind, quote_identifier(column), rel->name),
			 strcmp(kind, "boolean") == 0
			 ? errhint("As in Amazon Personalize, store the flag as text (\"True\", \"False\") or an integer (0, 1), "
					   "or write an SQL predicate filter such as INCLUDE WHERE items.%s.", quote_identifier(column))
			 : errhint("Filter on categorical, numeric or time columns; an SQL predicate filter (INCLUDE WHERE ...) can test any expression.")));
}

/*
 * Does the text form of values of type (compared as text by a filter)
 * depend only on the value, not on settings such as DateStyle or
 * lc_monetary?  Item masks (filter_mask.c) are reused across requests
 * only for filters comparing such types.
 */
static bool
filter_text_is_stable(Oid type)
{
	switch (type)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
		case UUIDOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
		case FLOAT4OID:
		case FLOAT8OID:
		case TIMESTAMPTZOID:	/* compared as epoch seconds (IN: see the caller) */
		case TIMESTAMPOID:
		case DATEOID:
		case TEXTARRAYOID:
		case VARCHARARRAYOID:
			return true;
		default:
			return type_is_enum(type);
	}
}

/*
 * Return SQL for one condition: resolve its field against the registered
 * relations and compare as the column's type asks.
 */
static char *
filter_condition_sql(FilterCompiler *fc, const FilterNode *node)
{
	const char *dataset = node->dataset;
	FilterRelation *rel;
	char	   *column;
	char	   *target;
	Oid			type = InvalidOid;
	ValueKind	kind;
	bool		event_type = false;
	char	   *condition;
	const char *candidate;
	FilterOp	op = node->op;

	if (pg_strcasecmp(dataset, "Items") == 0)
		rel = &fc->items;
	else if (pg_strcasecmp(dataset, "Interactions") == 0)
		rel = &fc->interactions;
	else if (pg_strcasecmp(dataset, "CurrentUser") == 0 ||
			 (fc->for_users && pg_strcasecmp(dataset, "Users") == 0))
		rel = &fc->users;		/* the parser allows these only in IF, or UserID expressions */
	else if (pg_strcasecmp(dataset, "Users") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("Users fields at position %d of filter \"%s\" filter users, not items", node->position, fc->name),
				 errhint("Write INCLUDE|EXCLUDE UserID WHERE Users.FIELD ... for user_segment, IF CurrentUser.FIELD ... for the requesting user, or an SQL predicate over the users alias.")));
	else
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s fields at position %d of filter \"%s\" are not supported yet", dataset, node->position, fc->name),
				 errhint("Use Items, Interactions and (in IF) CurrentUser fields, or an SQL predicate filter (INCLUDE|EXCLUDE WHERE ...) over the users alias.")));

	if (!OidIsValid(rel->relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("filter \"%s\" uses %s but its dataset group has no %s dataset", fc->name, dataset,
						rel == &fc->items ? "items" : rel == &fc->users ? "users" : "interactions"),
				 errhint("Register one with personalize.create_dataset.")));
	if (rel == &fc->interactions && pg_strcasecmp(node->field, "EVENT_TYPE") == 0 && rel->event_type_column)
	{
		column = rel->event_type_column;
		type = TEXTOID;
		event_type = true;
	}
	else if (rel == &fc->interactions && pg_strcasecmp(node->field, "EVENT_VALUE") == 0 && rel->event_value_column)
	{
		column = rel->event_value_column;
		type = FLOAT8OID;
	}
	else
		column = filter_column(rel, node->field, &type);
	if (column == NULL && fc->attributes)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("field \"%s\" at position %d of the attribute predicate for campaign \"%s\" is not a column of %s",
						node->field_text, node->position, fc->name, rel->name),
				 errhint("Compare a column of the registered items relation.")));
	if (column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("field \"%s\" at position %d of filter \"%s\" is not a column of %s",
						node->field_text, node->position, fc->name, rel->name),
				 errhint("Filter on a column of the registered %s relation.",
						 rel == &fc->items ? "items" : rel == &fc->users ? "users" : "interactions")));
	filter_check_comparable(fc, node, rel, column, type);
	if (rel != &fc->items)
		fc->beyond_items = true;
	else if (!filter_text_is_stable(type))
		fc->unstable_text = true;
	target = psprintf("%s.%s", rel == &fc->items ? "items" : rel != &fc->users ? "i" : fc->for_users ? "users" : "cu",
					  quote_identifier(column));
	kind = filter_value_kind(type);

	/*
	 * In an attribute predicate, = on a categorical field means "is one of
	 * its values" (ITEMS.GENRES = "Comedy" matches Comedy|Drama), as in
	 * Personalize's itemAttributes; so it compiles as IN.
	 */
	if (fc->attributes && (kind == VALUE_TEXT || kind == VALUE_ARRAY) &&
		(node->op == FILTER_OP_EQ || node->op == FILTER_OP_NE))
		op = node->op == FILTER_OP_EQ ? FILTER_OP_IN : FILTER_OP_NOT_IN;

	/* IN on a time compares its text form, which follows DateStyle */
	if (rel == &fc->items && kind == VALUE_TIME && (op == FILTER_OP_IN || op == FILTER_OP_NOT_IN))
		fc->unstable_text = true;

	if (op == FILTER_OP_IN || op == FILTER_OP_NOT_IN)
	{
		char	   *list = filter_list_sql(fc, node->values);

		if (event_type)
			condition = psprintf("lower(%s::text) = ANY (ARRAY(SELECT lower(v) FROM unnest(%s) v))", target, list);
		else if (kind == VALUE_ARRAY)
			condition = psprintf("(%s::text[] && %s)", target, list);
		else if (kind == VALUE_NUMBER)
			condition = psprintf("(%s::numeric = ANY (%s::numeric[]))", target, list);
		else
		{
			/* a |-separated value matches when any part is listed; split only those */
			condition = psprintf("(%s::text = ANY (%s) OR (strpos(%s::text, '|') > 0 AND string_to_array(%s::text, '|') && %s))",
								 target, list, target, target, list);
		}
		if (op == FILTER_OP_NOT_IN)
			condition = psprintf("NOT coalesce(%s, false)", condition);
	}
	else
	{
		const char *op_sql = filter_op_sql(op);
		char	   *value = filter_scalar_sql(fc, node->values);

		if (kind == VALUE_NUMBER)
			condition = psprintf("(%s::numeric %s (%s)::numeric)", target, op_sql, value);
		else if (kind == VALUE_TIME)
			condition = psprintf("(extract(epoch FROM %s) %s (%s)::numeric)", target, op_sql, value);
		else if (event_type)
			condition = psprintf("(lower(%s::text) %s lower(%s))", target, op_sql, value);
		else
			condition = psprintf("(%s::text %s (%s)::text)", target, op_sql, value);
	}

	if (rel == &fc->items)
	{
		fc->uses_items = true;
		return condition;
	}
	/* a Users condition of a UserID expression is on the candidate user's row */
	if (rel == &fc->users && fc->for_users)
		return condition;
	/* a CurrentUser condition holds when the requesting user's row meets it */
	if (rel == &fc->users)
		return psprintf("EXISTS (SELECT 1 FROM %s cu WHERE %s AND %s)",
						rel->name, filter_id_match(rel, "cu", rel->user_column, "$2", NULL), condition);
	/*
	 * An interactions condition holds when one of the user's latest events
	 * of its type (personalize.filter_interactions per event type, as in
	 * Personalize) is with the item and meets it.  Uncorrelated with the
	 * candidate, the subquery runs once per batch as a hashed subplan.
	 * Without event types the latest events are the first rows of a walk
	 * of the (user, time) index: a LIMIT, not a window over the whole
	 * history (a quarter of the filtered request's time on the 20M set).
	 * Integer item ids are matched as integers, as filter_id_match does:
	 * hashing the user's items as text cost about a tenth of such a request.
	 */
	if (DatasetTypeIsInteger(get_atttype(rel->relid, get_attnum(rel->relid, rel->item_column))))
		candidate = psprintf("c.id_int IN (SELECT i.%s::int8", quote_identifier(rel->item_column));
	else
		candidate = psprintf("c.id IN (SELECT i.%s::text", quote_identifier(rel->item_column));
	if (rel->event_type_column == NULL)
		return psprintf("(%s FROM (SELECT r.* FROM %s r WHERE %s ORDER BY r.%s DESC "
						"LIMIT %d) i WHERE %s))",
						candidate, rel->name,
						filter_id_match(rel, "r", rel->user_column, "$2", NULL),
						quote_identifier(rel->time_column), personalize_filter_interactions, condition);
	return psprintf("(%s FROM (SELECT r.*, row_number() OVER (%s ORDER BY r.%s DESC) "
					"AS personalize_recent FROM %s r WHERE %s) i WHERE i.personalize_recent <= %d AND %s))",
					candidate,
					rel->event_type_column
					? psprintf("PARTITION BY lower(r.%s::text)", quote_identifier(rel->event_type_column)) : "",
					quote_identifier(rel->time_column), rel->name,
					filter_id_match(rel, "r", rel->user_column, "$2", NULL),
					personalize_filter_interactions, condition);
}

/*
 * Return SQL for a node of the syntax tree.  Recursion follows the
 * parentheses only, which the parser bounds.
 */
static char *
filter_node_sql(FilterCompiler *fc, const FilterNode *node)
{
	char	   *sql;

	if (node->kind == FILTER_NODE_CONDITION)
		sql = filter_condition_sql(fc, node);
	else
	{
		StringInfoData list;

		initStringInfo(&list);
		for (const FilterNode *child = node->children; child != NULL; child = child->next)
		{
			if (child != node->children)
				appendStringInfoString(&list, node->kind == FILTER_NODE_AND ? " AND " : " OR ");
			appendStringInfoString(&list, filter_node_sql(fc, child));
		}
		sql = list.data;
	}
	return node->parenthesized ? psprintf("(%s)", sql) : sql;
}

/*
 * Are all placeholders of the current expression given in the values?
 */
static bool
filter_placeholders_given(FilterCompiler *fc)
{
	ListCell   *lc;

	foreach(lc, fc->placeholders)
	{
		JsonbValue	key;

		key.type = jbvString;
		key.val.string.val = lfirst(lc);
		key.val.string.len = strlen(lfirst(lc));
		if (fc->values == NULL || !JB_ROOT_IS_OBJECT(fc->values) ||
			findJsonbValueFromContainer(&fc->values->root, JB_FOBJECT, &key) == NULL)
			return false;
	}
	return true;
}

/*
 * Add a compiled expression to the INCLUDE or EXCLUDE union, applying the
 * missing-placeholder rule when the values are known.
 */
static void
filter_add(FilterCompiler *fc, bool include, const char *condition, const char *if_condition)
{
	StringInfo	target = include ? &fc->includes : &fc->excludes;

	if (if_condition != NULL)
		fc->beyond_items = true;	/* depends on the requesting user */
	if (fc->check_values && !filter_placeholders_given(fc))
	{
		if (!include)
			return;				/* Personalize: the EXCLUDE expression is disabled */
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("filter \"%s\" needs a value for every placeholder of its INCLUDE expressions", fc->name),
				 errhint("Pass filter_values => '{\"%s\": ...}'.", (char *) linitial(fc->placeholders))));
	}
	if (if_condition == NULL)
		appendStringInfo(target, "%scoalesce(%s, false)", target->len ? " OR " : "", condition);
	else
		appendStringInfo(target, "%s(coalesce(%s, false) AND coalesce(%s, false))", target->len ? " OR " : "",
						 if_condition, condition);
	/* an INCLUDE restricts the results only when its IF condition holds */
	if (include)
		appendStringInfo(&fc->active, "%s%s", fc->active.len ? " OR " : "",
						 if_condition ? psprintf("coalesce(%s, false)", if_condition) : "true");
}

/*
 * Replace $NAME placeholders of an SQL predicate with reads of $3,
 * skipping quoted strings and identifiers; return the new text.
 */
static char *
filter_sql_placeholders(FilterCompiler *fc, const char *sql)
{
	StringInfoData out;

	initStringInfo(&out);
	for (int i = 0; sql[i];)
	{
		if (sql[i] == '\'' || sql[i] == '"')
		{
			char		quote = sql[i];

			appendStringInfoChar(&out, sql[i++]);
			while (sql[i] && sql[i] != quote)
				appendStringInfoChar(&out, sql[i++]);
			if (sql[i])
				appendStringInfoChar(&out, sql[i++]);
		}
		else if (sql[i] == '$' && (isalpha((unsigned char) sql[i + 1]) || sql[i + 1] == '_'))
		{
			int			start = ++i;
			char	   *name;

			while (isalnum((unsigned char) sql[i]) || sql[i] == '_')
				i++;
			name = pnstrdup(sql + start, i - start);
			filter_placeholder(fc, name);
			appendStringInfo(&out, "($3 ->> %s)", quote_literal_cstr(name));
		}
		else if (sql[i] == ';')
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("filter \"%s\" must be a single SQL predicate: \";\" at position %d",
							fc->name, (int) (sql - fc->expression) + i + 1),
					 errhint("Remove the semicolon: the predicate is one boolean expression.")));
		else if (sql[i] == '$' && isdigit((unsigned char) sql[i + 1]))
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("numbered parameter at position %d of filter \"%s\"", i + 1, fc->name),
					 errhint("Use named placeholders such as $GENRE, bound from filter_values.")));
		else
			appendStringInfoChar(&out, sql[i++]);
	}
	return out.data;
}

/*
 * Compile an SQL predicate expression (sql: the rest of the text after
 * WHERE).  It must be one expression, not statements.
 */
static void
filter_sql_predicate(FilterCompiler *fc, bool include, const char *predicate)
{
	char	   *sql;
	List	   *parsed;

	sql = filter_sql_placeholders(fc, predicate);
	parsed = raw_parser(psprintf("SELECT (%s)", sql), RAW_PARSE_DEFAULT);
	if (list_length(parsed) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("filter \"%s\" must be a single SQL predicate", fc->name),
				 errhint("Remove the semicolons: the predicate is one boolean expression.")));
	fc->sql_form = true;
	fc->uses_items = true;
	fc->beyond_items = true;	/* any expression: it may read anything */
	filter_add(fc, include, psprintf("(%s)", sql), NULL);
}

/*
 * Read the registrations of the dataset group into fc.
 */
static void
filter_load_relations(FilterCompiler *fc, const char *dataset_group)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(dataset_group)};

	if (CatalogExecute("SELECT dataset_type, relation::oid, user_column, item_column, time_column, "
					   "event_type_column, event_value_column FROM personalize.dataset "
					   "WHERE dataset_group = $1", 1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read datasets");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *type = SPI_getvalue(tuple, desc, 1);
		bool		isnull;
		FilterRelation *rel = strcmp(type, "items") == 0 ? &fc->items
			: strcmp(type, "users") == 0 ? &fc->users : &fc->interactions;
		char	   *relname;

		rel->relid = DatumGetObjectId(SPI_getbinval(tuple, desc, 2, &isnull));
		relname = get_rel_name(rel->relid);
		if (relname == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("the %s relation of dataset group \"%s\" no longer exists", type, dataset_group),
					 errhint("Register the new relation with personalize.drop_dataset and personalize.create_dataset.")));
		rel->name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(rel->relid)), relname);
		rel->user_column = SPI_getvalue(tuple, desc, 3);
		rel->item_column = SPI_getvalue(tuple, desc, 4);
		rel->time_column = SPI_getvalue(tuple, desc, 5);
		rel->event_type_column = SPI_getvalue(tuple, desc, 6);
		rel->event_value_column = SPI_getvalue(tuple, desc, 7);
	}
}

/*
 * Compile expression (of filter name, on dataset_group) into a query.
 * With check_values, apply the missing-placeholder rule to values.  The
 * caller is connected to SPI.
 */
CompiledFilter *
FilterCompile(const char *name, const char *dataset_group, const char *expression,
			  Jsonb *values, bool check_values)
{
	FilterCompiler fc = {0};
	FilterAllocator allocator = {filter_palloc0, NULL};
	FilterSyntaxError error;
	FilterExpr *exprs;
	StringInfoData sql;
	CompiledFilter *result;

	fc.name = name;
	fc.expression = expression;
	fc.values = values;
	fc.check_values = check_values;
	initStringInfo(&fc.includes);
	initStringInfo(&fc.excludes);
	initStringInfo(&fc.active);

	exprs = FilterParse(expression, &allocator, &error);
	if (exprs == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("syntax error at or near \"%s\" at position %d of filter \"%s\"",
						error.near, error.position, name),
				 error.detail ? errdetail("%s", error.detail) : 0,
				 errhint("Write INCLUDE|EXCLUDE ItemID WHERE Items.FIELD IN (\"value\", $PLACEHOLDER) [AND|OR ...], "
						 "chained with |, or INCLUDE|EXCLUDE WHERE <SQL predicate>.")));
	filter_load_relations(&fc, dataset_group);

	fc.for_users = exprs->users;
	for (FilterExpr *e = exprs; e != NULL; e = e->next)
	{
		if (e->users != fc.for_users || (fc.for_users && e->sql != NULL))
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("filter \"%s\" mixes expressions on users and on items", name),
					 errhint("A filter is either INCLUDE|EXCLUDE UserID expressions (for user_segment) or ItemID and SQL predicate expressions.")));
		fc.placeholders = NIL;
		if (e->sql != NULL)
			filter_sql_predicate(&fc, e->include, e->sql);
		else
		{
			char	   *condition = filter_node_sql(&fc, e->where);

			/* IF CurrentUser...: the expression applies only then */
			filter_add(&fc, e->include, condition,
					   e->if_condition ? filter_node_sql(&fc, e->if_condition) : NULL);
		}
	}

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT c.id, c.ord FROM unnest($1::text[], $5::int8[]) WITH ORDINALITY AS c(id, id_int, ord)");
	if (fc.uses_items && OidIsValid(fc.items.relid))
		appendStringInfo(&sql, " LEFT JOIN %s AS items ON %s",
						 fc.items.name, filter_id_match(&fc.items, "items", fc.items.item_column, "c.id", "c.id_int"));
	if (fc.sql_form && OidIsValid(fc.users.relid))
		appendStringInfo(&sql, " LEFT JOIN %s AS users ON %s",
						 fc.users.name, filter_id_match(&fc.users, "users", fc.users.user_column, "$2", NULL));
	/* a filter on users: the candidates are users, joined to their rows */
	if (fc.for_users)
		appendStringInfo(&sql, " LEFT JOIN %s AS users ON %s",
						 fc.users.name, filter_id_match(&fc.users, "users", fc.users.user_column, "c.id", "c.id_int"));
	if (fc.sql_form && OidIsValid(fc.interactions.relid))
		appendStringInfo(&sql, " LEFT JOIN LATERAL (SELECT * FROM %s x WHERE %s AND %s "
						 "ORDER BY x.%s DESC LIMIT 1) AS interactions ON true",
						 fc.interactions.name,
						 filter_id_match(&fc.interactions, "x", fc.interactions.user_column, "$2", NULL),
						 filter_id_match(&fc.interactions, "x", fc.interactions.item_column, "c.id", "c.id_int"),
						 quote_identifier(fc.interactions.time_column));
	/* the INCLUDE union restricts the results when some INCLUDE applies */
	appendStringInfo(&sql, " WHERE (NOT (%s) OR (%s)) AND NOT (%s) ORDER BY c.ord",
					 fc.active.len ? fc.active.data : "false",
					 fc.includes.len ? fc.includes.data : "true",
					 fc.excludes.len ? fc.excludes.data : "false");

	result = palloc(sizeof(CompiledFilter));
	result->name = pstrdup(name);
	result->sql = sql.data;
	result->uses_current_item = fc.uses_current_item;
	result->for_users = fc.for_users;
	result->items_only = !fc.beyond_items && !fc.unstable_text && !fc.uses_current_item &&
		!fc.for_users && fc.uses_items && OidIsValid(fc.items.relid);
	result->items_relid = fc.items.relid;
	result->values_text = NULL;
	return result;
}

/*
 * Compiled filters kept across requests: compiling reads the filter's row,
 * the group's registrations and the relations' columns, the same for every
 * request while nothing is committed.  An entry is reused only while the
 * snapshot sees the same committed rows as when it was compiled
 * (snapshot_stamp.c), for the same filter, group, values (which
 * placeholders are given shapes the query), user and
 * personalize.filter_interactions (compiled into the query).
 */
typedef struct KeptFilter
{
	char	   *name;
	char	   *dataset_group;
	char	   *values;			/* their text, "" for none */
	Oid			userid;
	int			filter_interactions;	/* the setting compiled in */
	SnapshotStamp stamp;
	CompiledFilter filter;
	uint64		last_used;
} KeptFilter;

#define KEPT_FILTER_SLOTS 8

static MemoryContext kept_filter_context = NULL;
static KeptFilter *kept_filters[KEPT_FILTER_SLOTS];
static uint64 kept_filter_clock = 0;

/* Keep a copy of filter, compiled under the active snapshot, in slot. */
static void
filter_keep(int slot, const char *name, const char *dataset_group, const char *values,
			const CompiledFilter *filter)
{
	KeptFilter *k;
	MemoryContext old;

	if (kept_filter_context == NULL)
		kept_filter_context = AllocSetContextCreate(TopMemoryContext, "personalize kept filters",
													ALLOCSET_SMALL_SIZES);
	if (kept_filters[slot] != NULL)
	{
		k = kept_filters[slot];
		SnapshotStampFree(&k->stamp);
		pfree(k->name);
		pfree(k->dataset_group);
		pfree(k->values);
		pfree(k->filter.name);
		pfree(k->filter.sql);
		pfree(k);
		kept_filters[slot] = NULL;
	}
	old = MemoryContextSwitchTo(kept_filter_context);
	k = palloc0(sizeof(KeptFilter));
	SnapshotStampTake(&k->stamp, kept_filter_context);
	k->name = pstrdup(name);
	k->dataset_group = pstrdup(dataset_group);
	k->values = pstrdup(values);
	k->userid = GetUserId();
	k->filter_interactions = personalize_filter_interactions;
	k->filter = *filter;
	k->filter.name = pstrdup(filter->name);
	k->filter.sql = pstrdup(filter->sql);
	k->filter.values_text = NULL;	/* k->values; set on each hit */
	k->last_used = ++kept_filter_clock;
	MemoryContextSwitchTo(old);
	kept_filters[slot] = k;
}

/*
 * Load filter name (which must belong to dataset_group) and compile it for
 * the given values, or reuse the compilation of an earlier request while
 * provably the same.  The caller is connected to SPI.
 */
CompiledFilter *
FilterLoad(const char *name, const char *dataset_group, Jsonb *values)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};
	char	   *group;
	char	   *expression;
	char	   *values_text = values ? JsonbToCString(NULL, &values->root, VARSIZE(values)) : "";
	int			slot = 0;
	CompiledFilter *result;

	for (int i = 0; i < KEPT_FILTER_SLOTS; i++)
	{
		KeptFilter *k = kept_filters[i];

		if (k == NULL)
		{
			slot = i;
			break;
		}
		if (strcmp(k->name, name) == 0 && strcmp(k->dataset_group, dataset_group) == 0 &&
			strcmp(k->values, values_text) == 0 && k->userid == GetUserId() &&
			k->filter_interactions == personalize_filter_interactions)
		{
			slot = i;
			if (SnapshotStampStillValid(&k->stamp))
			{
				k->last_used = ++kept_filter_clock;
				/* a copy: a nested request may evict the entry while this one runs */
				result = palloc(sizeof(CompiledFilter));
				*result = k->filter;
				result->name = pstrdup(k->filter.name);
				result->sql = pstrdup(k->filter.sql);
				result->values_text = values_text;
				return result;
			}
			break;
		}
		if (k->last_used < kept_filters[slot]->last_used)
			slot = i;
	}

	if (CatalogExecute("SELECT dataset_group, expression FROM personalize.filter WHERE name = $1",
					   1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read filter");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("filter \"%s\" does not exist", name),
				 errhint("See personalize.filters, or create one with personalize.create_filter.")));
	group = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	expression = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (strcmp(group, dataset_group) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("filter \"%s\" belongs to dataset group \"%s\", not \"%s\"", name, group, dataset_group),
				 errhint("Use a filter of the campaign's dataset group.")));
	result = FilterCompile(name, dataset_group, expression, values, true);
	result->values_text = values_text;
	filter_keep(slot, name, dataset_group, values_text, result);
	return result;
}

/* A prepared filter query, kept for the life of the backend. */
typedef struct FilterPlan
{
	struct FilterPlan *next;
	char	   *sql;
	SPIPlanPtr	plan;
} FilterPlan;

#define FILTER_PLAN_CACHE_SIZE 32

static FilterPlan *filter_plans = NULL;
static int	filter_plan_count = 0;

/*
 * Return the kept plan of a compiled filter query, preparing it on first
 * use (the plan cache replans it when the relations change).  Requests
 * offer candidates in several batches, so planning once matters.
 */
static SPIPlanPtr
filter_plan(const char *sql)
{
	Oid			argtypes[5] = {TEXTARRAYOID, TEXTOID, JSONBOID, TEXTOID, INT8ARRAYOID};
	FilterPlan *fp;
	SPIPlanPtr	plan;

	for (fp = filter_plans; fp != NULL; fp = fp->next)
		if (strcmp(fp->sql, sql) == 0)
			return fp->plan;
	/*
	 * One generic plan, kept: the candidates drive the query (unnest of $1
	 * joined to the relations by key), so the plan does not depend on the
	 * values, and placeholder lists are scalar subqueries evaluated once per
	 * execution.  Planning each batch (custom plans) cost more than running it.
	 */
	plan = SPI_prepare_cursor(sql, 5, argtypes, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "could not prepare filter query: %s", SPI_result_code_string(SPI_result));
	if (filter_plan_count >= FILTER_PLAN_CACHE_SIZE)
		return plan;			/* cache full: use this plan once */
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep filter query plan");
	fp = MemoryContextAlloc(TopMemoryContext, sizeof(FilterPlan));
	fp->sql = MemoryContextStrdup(TopMemoryContext, sql);
	fp->plan = plan;
	fp->next = filter_plans;
	filter_plans = fp;
	filter_plan_count++;
	return plan;
}

/*
 * Fill the five arguments of a compiled filter query: the n candidates as
 * text[] and int8[] (NULL where an id cannot be one, for integer id
 * columns), the requesting user, the filter values and the current item.
 */
static void
filter_arguments(const CompiledFilter *filter, const char *user_id, const char *current_item,
				 Jsonb *values, char **candidates, int n, Datum *args, char *nulls)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *ints = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *int_nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};

	if (filter->uses_current_item && current_item == NULL && n > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("filter \"%s\" compares with CurrentItem fields, which only requests for related items have", filter->name),
				 errhint("Use it with personalize.related_items or a RELATED_ITEMS campaign.")));
	for (int i = 0; i < n; i++)
	{
		int64		value;

		elems[i] = CStringGetTextDatum(candidates[i]);
		int_nulls[i] = !DatasetIdAsInt64(candidates[i], &value);
		ints[i] = Int64GetDatum(int_nulls[i] ? 0 : value);
	}
	memset(nulls, ' ', 5);
	args[0] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[4] = PointerGetDatum(n == 0 ? construct_empty_array(INT8OID)
							  : construct_md_array(ints, int_nulls, 1, dims, lbs, INT8OID, 8,
												   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (user_id != NULL)
		args[1] = CStringGetTextDatum(user_id);
	else
		nulls[1] = 'n';
	if (values != NULL)
		args[2] = JsonbPGetDatum(values);
	else
		nulls[2] = 'n';
	if (current_item != NULL)
		args[3] = CStringGetTextDatum(current_item);
	else
		nulls[3] = 'n';
}

/*
 * The candidate ordinal (1-based) of row i of a filter query's result.
 */
static int64
filter_result_ordinal(const CompiledFilter *filter, uint64 i)
{
	bool		isnull;
	Datum		ord = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);

	if (isnull)
		elog(ERROR, "filter \"%s\" returned no candidate ordinal", filter->name);
	return DatumGetInt64(ord);
}

/*
 * Run the filter over n candidates (in rank order) for user_id (or NULL)
 * and current_item (the item of a related-items request, or NULL); write
 * the passing ones to passing (in order) and return how many.  Runs with
 * the caller's privileges.  The caller is connected to SPI.
 */
int
FilterApply(const CompiledFilter *filter, const char *user_id, const char *current_item,
			Jsonb *values, char **candidates, int n, char **passing)
{
	Datum		args[5];
	char		nulls[5];
	int			rc;
	int			count = 0;
	int64		last = 0;

	filter_arguments(filter, user_id, current_item, values, candidates, n, args, nulls);
	rc = SPI_execute_plan(filter_plan(filter->sql), args, nulls, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not run filter \"%s\": %s", filter->name, SPI_result_code_string(rc));
	/* an items relation may hold an id twice: each candidate passes once */
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		int64		ord = filter_result_ordinal(filter, i);

		if (ord == last)
			continue;
		last = ord;
		passing[count++] = candidates[ord - 1];
	}
	return count;
}

/*
 * Run an items_only filter over all n candidates at once, planned for
 * them (a hash join over the items relation rather than n index probes),
 * and set pass[i] for each that passes.  The caller is connected to SPI.
 */
void
FilterApplyAll(const CompiledFilter *filter, Jsonb *values, char **candidates, int n, bool *pass)
{
	Oid			argtypes[5] = {TEXTARRAYOID, TEXTOID, JSONBOID, TEXTOID, INT8ARRAYOID};
	Datum		args[5];
	char		nulls[5];
	int			rc;

	Assert(filter->items_only);
	filter_arguments(filter, NULL, NULL, values, candidates, n, args, nulls);
	rc = SPI_execute_with_args(filter->sql, 5, argtypes, args, nulls, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not run filter \"%s\": %s", filter->name, SPI_result_code_string(rc));
	memset(pass, 0, sizeof(bool) * n);
	for (uint64 i = 0; i < SPI_processed; i++)
		pass[filter_result_ordinal(filter, i) - 1] = true;
}

PG_FUNCTION_INFO_V1(personalize_check_filter);

/*
 * _check_filter(dataset_group text, name text, expression text) RETURNS text
 *
 * Compile a filter and plan its query once (on no candidates), raising the
 * error a user would otherwise meet at request time; returns the query.
 */
Datum
personalize_check_filter(PG_FUNCTION_ARGS)
{
	char	   *group = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *expression = text_to_cstring(PG_GETARG_TEXT_PP(2));
	CompiledFilter *filter;
	char	   *none[1];
	MemoryContext caller_context = CurrentMemoryContext;
	char	   *sql;

	SPI_connect();
	filter = FilterCompile(name, group, expression, NULL, false);
	(void) FilterApply(filter, NULL, NULL, NULL, none, 0, none);
	sql = MemoryContextStrdup(caller_context, filter->sql);	/* SPI_finish frees SPI memory */
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(sql));
}

/*
 * Does text parse as an item attribute predicate (ITEMS.GENRE = "Comedy"
 * AND ITEMS.PRICE < 20)?  Tells it from an item id in messages.
 */
bool
FilterIsAttributePredicate(const char *text)
{
	FilterAllocator allocator = {filter_palloc0, NULL};
	FilterSyntaxError error;

	return FilterParseAttributes(text, &allocator, &error) != NULL;
}

/*
 * Return the ids of the items of dataset_group's items dataset that match
 * an item attribute predicate (the segments of campaign, named in
 * messages), in *ids, and how many.  The items relation is read with the
 * caller's privileges; the predicate's literals are parameters, its
 * fields resolved against the relation and quoted.  The caller is
 * connected to SPI.
 */
int
FilterMatchItems(const char *campaign, const char *dataset_group, const char *predicate, char ***ids)
{
	FilterCompiler fc = {0};
	FilterAllocator allocator = {filter_palloc0, NULL};
	FilterSyntaxError error;
	FilterNode *tree;
	char	   *condition;
	Datum	   *literals;
	Datum		args[1];
	Oid			argtypes[1] = {TEXTARRAYOID};
	int			n = 0;
	int			rc;
	ListCell   *lc;

	tree = FilterParseAttributes(predicate, &allocator, &error);
	if (tree == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("syntax error at or near \"%s\" at position %d of the attribute predicate for campaign \"%s\"",
						error.near, error.position, campaign),
				 error.detail ? errdetail("%s", error.detail) : 0,
				 errhint("Pass a predicate on item fields such as ITEMS.GENRE = \"Comedy\" AND ITEMS.PRICE < 20, "
						 "or Items.GENRE IN (\"Comedy\", \"Drama\").")));
	fc.name = campaign;
	fc.expression = predicate;
	fc.attributes = true;
	filter_load_relations(&fc, dataset_group);
	if (!OidIsValid(fc.items.relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("campaign \"%s\" segments users by item attributes but dataset group \"%s\" has no items dataset",
						campaign, dataset_group),
				 errhint("Register the items relation with personalize.create_dataset('%s', 'items', ...).",
						 dataset_group)));
	condition = filter_node_sql(&fc, tree);

	literals = palloc(sizeof(Datum) * Max(list_length(fc.literals), 1));
	foreach(lc, fc.literals)
		literals[n++] = CStringGetTextDatum(lfirst(lc));
	args[0] = PointerGetDatum(n == 0 ? construct_empty_array(TEXTOID)
							  : construct_array(literals, n, TEXTOID, -1, false, TYPALIGN_INT));
	rc = SPI_execute_with_args(psprintf("SELECT DISTINCT items.%s::text FROM %s AS items "
										"WHERE items.%s IS NOT NULL AND coalesce(%s, false)",
										quote_identifier(fc.items.item_column), fc.items.name,
										quote_identifier(fc.items.item_column), condition),
							   1, argtypes, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read the items matching an attribute predicate: %s", SPI_result_code_string(rc));
	n = (int) SPI_processed;
	*ids = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		(*ids)[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
	return n;
}
