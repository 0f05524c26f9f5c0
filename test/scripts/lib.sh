# shellcheck shell=bash
# lib.sh: helpers shared by demo.sh, check.sh and bench.sh (sourced, not run,
# by scripts that have set -euo pipefail).
#
# PostgreSQL refuses to run as root, so when we are root every initdb, server
# and test driver runs as Debian's unprivileged `postgres` user, in a
# temporary directory that user owns.  Clusters listen on a Unix socket in
# that directory only (no TCP), on a private port.
#
#   as_pg CMD...          run CMD as postgres (directly when not root)
#   build_and_install     make && make install (as root; otherwise says what to do)
#   make_workdir          WORKDIR=fresh temporary directory owned by postgres
#   give_to_pg PATH...    chown PATH... to postgres when we are root
#   start_cluster         initdb + start in $WORKDIR/data; exports PGHOST PGPORT PGUSER
#                         (CLUSTER_OPTS: more server options, e.g. "-c name=value")
#   restart_cluster       stop it and start it again with CLUSTER_OPTS
#   stop_cluster          stop it (a no-op when not started)
#   cleanup               EXIT trap: stop the cluster (printing its log when the
#                         script failed), remove $WORKDIR (kept if KEEP_WORKDIR=1)
#
# Usage:  source test/scripts/lib.sh; make_workdir; trap cleanup EXIT; start_cluster

PG_MAJOR=15
# The PostgreSQL that pg_config (first in PATH) names; pg_config is only there
# once deps.sh has run, so fall back to Debian's paths.
PG_BINDIR=$(pg_config --bindir 2>/dev/null || echo "/usr/lib/postgresql/$PG_MAJOR/bin")
PG_PKGLIBDIR=$(pg_config --pkglibdir 2>/dev/null || echo "/usr/lib/postgresql/$PG_MAJOR/lib")
# shellcheck disable=SC2034  # used by the scripts that source this file
PG_REGRESS="$PG_PKGLIBDIR/pgxs/src/test/regress/pg_regress"
# shellcheck disable=SC2034
PG_PERL="$PG_PKGLIBDIR/pgxs/src/test/perl"

is_root() { [[ $(id -u) -eq 0 ]]; }

# Run a command as the unprivileged user when we are root, with the server
# binaries first in PATH.  The environment (PGHOST, PGPORT...) is kept.
as_pg() {
	if is_root; then
		runuser -u postgres -- env PATH="$PG_BINDIR:$PATH" "$@"
	else
		env PATH="$PG_BINDIR:$PATH" "$@"
	fi
}

# chown files to postgres when we are root (when not, they are ours already).
give_to_pg() {
	if is_root; then chown -R postgres: "$@"; fi
}

# Run make quietly, showing what it prints except the expected warnings about
# our `check` target overriding PGXS's.
quiet_make() {
	local log rc=0
	log=$(mktemp)
	make -s "$@" >"$log" 2>&1 || rc=$?
	grep -v 'overriding recipe\|ignoring old recipe' "$log" >&2 || true
	rm -f "$log"
	return $rc
}

# Build and install the extension into the PostgreSQL pg_config names.
build_and_install() {
	quiet_make || { echo "build failed (make)" >&2; exit 1; }
	if ! is_root && ! [[ -w "$(pg_config --pkglibdir)" && -w "$(pg_config --sharedir)/extension" ]]; then
		if installed_is_current; then
			echo "not root: using the installed build, which matches this one"
			return 0
		fi
		echo "make install needs to write $(pg_config --pkglibdir) and $(pg_config --sharedir)/extension," >&2
		echo "which $(id -un) cannot: run this as root, or run 'sudo make install' first" >&2
		exit 1
	fi
	quiet_make install || { echo "make install failed" >&2; exit 1; }
}

# Are the installed library, control file and install scripts this build's?
installed_is_current() {
	local f
	cmp -s personalize.so "$(pg_config --pkglibdir)/personalize.so" || return 1
	for f in personalize.control sql/personalize--*.sql; do
		cmp -s "$f" "$(pg_config --sharedir)/extension/$(basename "$f")" || return 1
	done
}

# Create a temporary work directory the test user owns; sets WORKDIR.
make_workdir() {
	WORKDIR=$(mktemp -d /tmp/personalize.XXXXXX)	# not $TMPDIR: postgres must reach it
	chmod 755 "$WORKDIR"
	give_to_pg "$WORKDIR"
}

# Is something already using this port (TCP on localhost, or a socket in a
# usual socket directory)?
port_in_use() {
	local p=$1 dir
	for dir in /tmp /var/run/postgresql "${WORKDIR:-/tmp}"; do
		[[ -e "$dir/.s.PGSQL.$p" ]] && return 0
	done
	(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
}

# Pick a free private port in 5400-5999; sets and exports PGPORT.
pick_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((5400 + RANDOM % 600))
		if ! port_in_use "$p"; then
			PGPORT=$p
			export PGPORT
			return 0
		fi
	done
	echo "no free port found in 5400-5999" >&2
	return 1
}

# Start a throwaway cluster in $WORKDIR/data listening on a Unix socket in
# $WORKDIR only.
start_cluster() {
	pick_port || return 1
	if ! as_pg initdb -D "$WORKDIR/data" -A trust -U postgres --no-locale -E UTF8 \
		>"$WORKDIR/initdb.log" 2>&1; then
		cat "$WORKDIR/initdb.log" >&2
		return 1
	fi
	CLUSTER_STARTED=1
	if ! as_pg pg_ctl -D "$WORKDIR/data" -l "$WORKDIR/server.log" -w -t 60 \
		-o "-p $PGPORT -k $WORKDIR -c listen_addresses='' ${CLUSTER_OPTS:-}" start >/dev/null; then
		echo "the server did not start; its log:" >&2
		cat "$WORKDIR/server.log" >&2
		return 1
	fi
	export PGHOST="$WORKDIR" PGUSER=postgres PGDATABASE=postgres
}

# Restart the cluster started by start_cluster with the server options in
# CLUSTER_OPTS (its data kept).
restart_cluster() {
	as_pg pg_ctl -D "$WORKDIR/data" -m fast -w -t 60 stop >/dev/null
	if ! as_pg pg_ctl -D "$WORKDIR/data" -l "$WORKDIR/server.log" -w -t 60 \
		-o "-p $PGPORT -k $WORKDIR -c listen_addresses='' ${CLUSTER_OPTS:-}" start >/dev/null; then
		echo "the server did not start again; its log:" >&2
		tail -n 40 "$WORKDIR/server.log" >&2
		return 1
	fi
}

# Stop the cluster started by start_cluster, if any.
stop_cluster() {
	[[ -n "${CLUSTER_STARTED:-}" ]] || return 0
	as_pg pg_ctl -D "$WORKDIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
		|| as_pg pg_ctl -D "$WORKDIR/data" -m immediate -w stop >/dev/null 2>&1 || true
	CLUSTER_STARTED=
}

# EXIT trap: stop the cluster, show the end of its log when the script
# failed while it ran, remove the work directory.
cleanup() {
	local rc=$?
	if [[ $rc -ne 0 && -n "${CLUSTER_STARTED:-}" && -s "$WORKDIR/server.log" ]]; then
		echo "--- last lines of the server log ($WORKDIR/server.log)" >&2
		tail -n 40 "$WORKDIR/server.log" >&2
	fi
	stop_cluster
	if [[ -n "${WORKDIR:-}" && -d "$WORKDIR" ]]; then
		if [[ -n "${KEEP_WORKDIR:-}" ]]; then
			echo "work directory kept: $WORKDIR" >&2
		else
			rm -rf "$WORKDIR"
		fi
	fi
	return $rc
}

# Make INT and TERM exit through the EXIT trap too.
trap 'exit 130' INT
trap 'exit 143' TERM
