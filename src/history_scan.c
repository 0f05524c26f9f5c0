/*-------------------------------------------------------------------------
 *
 * history_scan.c
 *	  Reading one user's recent history straight from a btree index.
 *
 * Every recommend() reads the user's history, newest first: the query
 *     SELECT item::text FROM rel WHERE user = $1 AND item IS NOT NULL
 *     ORDER BY time DESC LIMIT $2
 * (dataset.c).  Through SPI, starting and ending the executor for a kept
 * plan cost more than the index scan itself (17% of a request at 27k
 * items, of which the index's own work was half).  Here the index the
 * planner would use is scanned directly: the entries of the user, walked
 * from the newest time, read from the index tuple when the index holds the
 * item column and its heap page is all-visible (as an index-only scan
 * does), from the heap otherwise.
 *
 * This is only a faster way to run the same query, so it is taken only
 * when it returns the same rows: a plain table without row level security
 * or inheritance children; a valid, non-partial btree without expressions
 * whose first two key columns are the user and time columns, in an order
 * whose backward or forward walk is ORDER BY time DESC (NULLS FIRST); a
 * user column of its operator class's own type and of the index's
 * collation; an integer or text item
 * column; and not in a serializable transaction (which would need the
 * scan's predicate locks).  Otherwise the caller queries through SPI.
 * The caller has checked that the current user may SELECT the relation;
 * the scan reads with the active snapshot under the AccessShareLocks a
 * query takes, kept to the end of the transaction.
 * personalize.direct_history (hidden, for tests) turns it off.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/history_scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/itup.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "dataset.h"
#include "personalize.h"

/* The index a history is read from, and how. */
typedef struct HistoryIndex
{
	Relation	index;
	ScanDirection direction;	/* the walk that is ORDER BY time DESC */
	AttrNumber	item_in_index;	/* the item's attribute in the index, or 0 */
} HistoryIndex;

/*
 * Is the index relation one whose walk gives the query's rows in its
 * order?  Sets hi when it is.
 */
static bool
history_index_usable(Relation index, Oid user_type, Oid user_collation, AttrNumber item_attnum,
					 HistoryIndex *hi)
{
	Form_pg_index form = index->rd_index;
	int16		time_option = index->rd_indoption[1];

	/* the query's user = $1 compares with the column's collation */
	if (index->rd_rel->relam != BTREE_AM_OID || !form->indisvalid || !form->indisready ||
		!form->indislive || form->indnkeyatts < 2 ||
		!heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL) ||
		!heap_attisnull(index->rd_indextuple, Anum_pg_index_indexprs, NULL) ||
		index->rd_opcintype[0] != user_type || index->rd_indcollation[0] != user_collation)
		return false;
	/* ASC NULLS LAST walked backward, or DESC NULLS FIRST forward */
	if (time_option == 0)
		hi->direction = BackwardScanDirection;
	else if (time_option == (INDOPTION_DESC | INDOPTION_NULLS_FIRST))
		hi->direction = ForwardScanDirection;
	else
		return false;
	hi->index = index;
	hi->item_in_index = 0;
	for (int j = 0; j < form->indnatts; j++)
		if (form->indkey.values[j] == item_attnum)
			hi->item_in_index = j + 1;
	return true;
}

/*
 * Open the best index of rel for reading histories (one that holds the
 * item column, if there is one), or return false.
 */
static bool
history_index_open(Relation rel, AttrNumber user_attnum, AttrNumber time_attnum, Oid user_type,
				   AttrNumber item_attnum, HistoryIndex *chosen)
{
	Oid			user_collation = TupleDescAttr(RelationGetDescr(rel), user_attnum - 1)->attcollation;
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	bool		found = false;

	memset(chosen, 0, sizeof(HistoryIndex));
	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
		bool		leads;
		Relation	index;
		HistoryIndex hi;

		/* the catalog's key columns first: open only the candidates */
		if (!HeapTupleIsValid(tuple))
			continue;
		leads = ((Form_pg_index) GETSTRUCT(tuple))->indnkeyatts >= 2 &&
			((Form_pg_index) GETSTRUCT(tuple))->indkey.values[0] == user_attnum &&
			((Form_pg_index) GETSTRUCT(tuple))->indkey.values[1] == time_attnum;
		ReleaseSysCache(tuple);
		if (!leads)
			continue;
		index = index_open(indexoid, AccessShareLock);
		if (!history_index_usable(index, user_type, user_collation, item_attnum, &hi) ||
			(found && (chosen->item_in_index > 0 || hi.item_in_index == 0)))
		{
			index_close(index, AccessShareLock);
			continue;
		}
		if (found)
			index_close(chosen->index, AccessShareLock);
		*chosen = hi;
		found = true;
	}
	list_free(indexes);
	return found;
}

/* The item id d of type as the text the query's item::text gives. */
static char *
history_item_text(Datum d, Oid type)
{
	char		buf[MAXINT8LEN + 1];

	switch (type)
	{
		case INT2OID:
			pg_ltoa(DatumGetInt16(d), buf);
			return pstrdup(buf);
		case INT4OID:
			pg_ltoa(DatumGetInt32(d), buf);
			return pstrdup(buf);
		case INT8OID:
			pg_lltoa(DatumGetInt64(d), buf);
			return pstrdup(buf);
		default:				/* text or varchar */
			return TextDatumGetCString(d);
	}
}

/*
 * Read the items of user (a datum of the user column's type, user_type),
 * newest first, at most max_events of them (all when 0), into *items
 * (palloc'd) and their number into *n; or return false, having read
 * nothing, when this cannot read exactly what the query would (see the
 * file header).  With int_items and an integer item column, the ids go
 * to *int_items instead, as integers (no text to make and hash).
 */
bool
DatasetScanHistory(const InteractionsDataset *ds, Oid user_type, Datum user, int max_events,
				   char ***items, int64 **int_items, int *n)
{
	Relation	rel;
	AttrNumber	user_attnum;
	AttrNumber	time_attnum;
	AttrNumber	item_attnum;
	Oid			item_type;
	HistoryIndex hi;
	Oid			equality;
	ScanKeyData key;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	Buffer		vmbuffer = InvalidBuffer;
	ItemPointer tid;
	int			capacity = 64;
	bool		as_int;

	if (!personalize_direct_history || !ActiveSnapshotSet() || IsolationIsSerializable())
		return false;
	rel = try_table_open(ds->relid, AccessShareLock);
	if (rel == NULL)
		return false;			/* dropped: the query reports it */
	user_attnum = get_attnum(ds->relid, ds->user_column);
	time_attnum = get_attnum(ds->relid, ds->time_column);
	item_attnum = get_attnum(ds->relid, ds->item_column);
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relhassubclass ||
		rel->rd_rel->relrowsecurity || rel->rd_tableam == NULL ||
		user_attnum <= 0 || time_attnum <= 0 || item_attnum <= 0 ||
		TupleDescAttr(RelationGetDescr(rel), user_attnum - 1)->atttypid != user_type)
	{
		table_close(rel, NoLock);
		return false;
	}
	item_type = TupleDescAttr(RelationGetDescr(rel), item_attnum - 1)->atttypid;
	if ((!DatasetTypeIsInteger(item_type) && item_type != TEXTOID && item_type != VARCHAROID) ||
		!history_index_open(rel, user_attnum, time_attnum, user_type, item_attnum, &hi))
	{
		table_close(rel, NoLock);
		return false;
	}
	equality = get_opfamily_member(hi.index->rd_opfamily[0], user_type, user_type,
								   BTEqualStrategyNumber);
	if (!OidIsValid(equality))
	{
		index_close(hi.index, NoLock);
		table_close(rel, NoLock);
		return false;
	}
	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, user_type,
						   hi.index->rd_indcollation[0], get_opcode(equality), user);

	elog(DEBUG1, "reading the user's history from index \"%s\"", RelationGetRelationName(hi.index));
	as_int = int_items != NULL && DatasetTypeIsInteger(item_type);
	if (as_int)
		*int_items = palloc(sizeof(int64) * capacity);
	else
		*items = palloc(sizeof(char *) * capacity);
	*n = 0;
	slot = table_slot_create(rel, NULL);
	scan = index_beginscan(rel, hi.index, GetActiveSnapshot(), 1, 0);
	scan->xs_want_itup = hi.item_in_index > 0;
	index_rescan(scan, &key, 1, NULL, 0);
	while ((max_events <= 0 || *n < max_events) &&
		   (tid = index_getnext_tid(scan, hi.direction)) != NULL)
	{
		Datum		item;
		bool		isnull;

		CHECK_FOR_INTERRUPTS();
		if (hi.item_in_index > 0 &&
			VM_ALL_VISIBLE(rel, ItemPointerGetBlockNumber(tid), &vmbuffer))
			item = index_getattr(scan->xs_itup, hi.item_in_index, scan->xs_itupdesc, &isnull);
		else
		{
			/* the heap says whether this snapshot sees the row */
			if (!index_fetch_heap(scan, slot))
				continue;
			item = slot_getattr(slot, item_attnum, &isnull);
		}
		if (isnull)
			continue;
		if (*n == capacity)
		{
			capacity *= 2;
			if (as_int)
				*int_items = repalloc_huge(*int_items, sizeof(int64) * capacity);
			else
				*items = repalloc_huge(*items, sizeof(char *) * capacity);
		}
		if (as_int)
			(*int_items)[(*n)++] = item_type == INT2OID ? DatumGetInt16(item) :
				item_type == INT4OID ? DatumGetInt32(item) : DatumGetInt64(item);
		else
			(*items)[(*n)++] = history_item_text(item, item_type);
	}
	if (BufferIsValid(vmbuffer))
		ReleaseBuffer(vmbuffer);
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	/* the locks stay until the end of the transaction, as a query's do */
	index_close(hi.index, NoLock);
	table_close(rel, NoLock);
	return true;
}
