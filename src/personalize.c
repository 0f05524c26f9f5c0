/*-------------------------------------------------------------------------
 *
 * personalize.c
 *	  Module entry point of the personalize extension.
 *
 * _PG_init only dispatches to the modules that own settings; nothing here
 * needs shared_preload_libraries.  BLAS is initialised lazily by the first
 * backend that scores or trains (blas.c), never in the postmaster.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/personalize.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "utils/syscache.h"
#include "access/table.h"
#include "access/genam.h"
#include "catalog/indexing.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "model.h"
#include "personalize.h"
#include "scoring_helper.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

/*
 * Register the extension's settings.
 */
void
_PG_init(void)
{
	/* before GucInit, which reserves the personalize.* prefix */
	ScoringHelperInit(ModelSharedInit());
	GucInit();
}

/*
 * Return the role that owns the extension.
 *
 * Catalog tables are private to that role; runtime functions read them as
 * it so that an application role needs only EXECUTE on recommend().  The
 * owner cannot change without ALTER EXTENSION, so look it up every time
 * (an index probe) rather than cache a stale answer.
 */
Oid
PersonalizeExtensionOwner(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			owner = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("personalize"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		owner = ((Form_pg_extension) GETSTRUCT(tuple))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"personalize\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION personalize.")));
	return owner;
}

/*
 * Switch to the extension owner for reads and writes of the catalog
 * tables.
 *
 * The owner is usually a superuser, so the caller's search_path must not
 * follow us: a caller could otherwise put a schema of their own first and
 * capture the "=" of a catalog query with an operator that runs as the
 * owner.  Like a SECURITY DEFINER function with SET search_path, pin it to
 * pg_catalog (and pg_temp last) until RestoreUser.  An error before
 * RestoreUser is fine: (sub)transaction abort resets both the user id and
 * the setting.
 */
void
BecomeExtensionOwner(OwnerSwitch *sw)
{
	Oid			owner = PersonalizeExtensionOwner();

	GetUserIdAndSecContext(&sw->saved_user, &sw->saved_context);
	sw->guc_nest_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	SetUserIdAndSecContext(owner, sw->saved_context | SECURITY_LOCAL_USERID_CHANGE);
}

/*
 * Switch back to the user and search_path saved by BecomeExtensionOwner.
 */
void
RestoreUser(const OwnerSwitch *sw)
{
	SetUserIdAndSecContext(sw->saved_user, sw->saved_context);
	AtEOXact_GUC(true, sw->guc_nest_level);
}

/*
 * SPI_execute_with_args as the extension owner: for the extension's own
 * catalog tables, which are private to it.  The caller is connected to SPI.
 */
int
CatalogExecute(const char *sql, int nargs, Oid *argtypes, Datum *values,
			   const char *nulls, bool read_only, long count)
{
	OwnerSwitch sw;
	int			rc;

	BecomeExtensionOwner(&sw);
	rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, read_only, count);
	RestoreUser(&sw);
	return rc;
}
