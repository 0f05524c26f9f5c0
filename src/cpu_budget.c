/*-------------------------------------------------------------------------
 *
 * cpu_budget.c
 *	  How many CPUs this process may use: its affinity mask, capped by a
 *	  cgroup CPU quota.
 *
 * The scoring helper (scoring_helper.c) is asked, and lingers after a
 * request, only while a CPU is free beside the backends serving requests.
 * A container's CPU limit (docker --cpus, a Kubernetes pod's limits.cpu)
 * is not a smaller affinity mask but a quota: its processes may run on
 * every CPU of the host, for quota/period of CPU time in all.  Counting
 * the host's CPUs there, the helper would spend the quota polling and the
 * backends would be throttled.  So the budget is the smaller of the
 * affinity mask's CPUs and the quota's whole CPUs (rounded down, at least
 * one): cgroup v2's cpu.max ("max 100000" or "150000 100000"), else
 * cgroup v1's cpu.cfs_quota_us over cpu.cfs_period_us, the tightest along
 * the cgroup's path up to the hierarchy's root (a parent's limit binds its
 * children).  The hierarchies are looked for where systemd and container
 * runtimes mount them (/sys/fs/cgroup, v1's cpu controller at cpu or
 * cpu,cpuacct under it); mounted elsewhere, a quota is not seen.
 *
 * Read once per process: a backend or the helper started after a quota
 * changed sees the new one.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/cpu_budget.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#endif

#include "storage/fd.h"

#include "cpu_budget.h"

/* Where the hierarchies are mounted (v1: one per controller). */
#define CGROUP_ROOT "/sys/fs/cgroup"

static CpuBudget budget;
static bool budget_known = false;

/*
 * The first line of file, at most size - 1 bytes, into line: false when
 * it cannot be read.
 */
static bool
read_first_line(const char *file, char *line, int size)
{
	FILE	   *f = AllocateFile(file, "r");
	bool		ok;

	if (f == NULL)
		return false;
	ok = fgets(line, size, f) != NULL;
	FreeFile(f);
	return ok;
}

/*
 * Whole CPUs allowed by quota microseconds per period, or 0 for no limit.
 * Rounded down (at least one): under 1.5 CPUs of quota, a backend and a
 * busy helper would take two and be throttled.
 */
static long
quota_cpus(double quota, double period)
{
	if (!(quota > 0) || !(period > 0))
		return 0;
	return Max((long) floor(quota / period), 1);
}

/* cgroup v2: cpu.max of dir ("max PERIOD" or "QUOTA PERIOD"), 0 for no limit. */
static long
v2_limit(const char *dir)
{
	char		file[MAXPGPATH];
	char		line[128];
	char		quota[64];
	double		period;

	snprintf(file, sizeof(file), "%s/cpu.max", dir);
	if (!read_first_line(file, line, sizeof(line)) ||
		sscanf(line, "%63s %lf", quota, &period) != 2 || strcmp(quota, "max") == 0)
		return 0;
	return quota_cpus(strtod(quota, NULL), period);
}

/* cgroup v1: cpu.cfs_quota_us (-1: none) over cpu.cfs_period_us of dir, 0 for no limit. */
static long
v1_limit(const char *dir)
{
	char		file[MAXPGPATH];
	char		line[64];
	double		quota;
	double		period;

	snprintf(file, sizeof(file), "%s/cpu.cfs_quota_us", dir);
	if (!read_first_line(file, line, sizeof(line)))
		return 0;
	quota = strtod(line, NULL);
	snprintf(file, sizeof(file), "%s/cpu.cfs_period_us", dir);
	if (!read_first_line(file, line, sizeof(line)))
		return 0;
	period = strtod(line, NULL);
	return quota_cpus(quota, period);
}

/*
 * The tightest limit from mount + path up to mount (path as
 * /proc/self/cgroup gives it; inside a container without its own cgroup
 * namespace that path is the host's, absent under the container's mount,
 * whose root is then its own cgroup), 0 for none.
 */
static long
tightest_limit(const char *mount, const char *path, long (*limit) (const char *))
{
	char		dir[MAXPGPATH];
	size_t		root = strlen(mount);
	long		tightest = 0;

	snprintf(dir, sizeof(dir), "%s%s", mount, strcmp(path, "/") == 0 ? "" : path);
	for (;;)
	{
		long		cpus = limit(dir);
		char	   *slash;

		if (cpus > 0 && (tightest == 0 || cpus < tightest))
			tightest = cpus;
		if (strlen(dir) <= root)
			break;
		slash = strrchr(dir, '/');
		if (slash == NULL || (size_t) (slash - dir) < root)
			break;
		*slash = '\0';
	}
	return tightest;
}

/*
 * The CPU quota of this process's cgroups (v2's, else v1's cpu
 * controller's), in whole CPUs (quota_cpus); 0 for none or where there is
 * no cgroup file system to read.
 */
static long
cgroup_limit(void)
{
	FILE	   *f = AllocateFile("/proc/self/cgroup", "r");
	char		line[MAXPGPATH];
	char		v2_path[MAXPGPATH] = "";
	char		v1_path[MAXPGPATH] = "";
	long		cpus = 0;

	if (f == NULL)
		return 0;
	/* lines "hierarchy-id:controllers:path"; v2's is "0::path" */
	while (fgets(line, sizeof(line), f) != NULL)
	{
		char	   *controllers = strchr(line, ':');
		char	   *path = controllers != NULL ? strchr(controllers + 1, ':') : NULL;

		if (path == NULL)
			continue;
		*path++ = '\0';
		path[strcspn(path, "\n")] = '\0';
		if (strncmp(line, "0:", 2) == 0 && controllers[1] == '\0')
			strlcpy(v2_path, path, sizeof(v2_path));
		else
		{
			char	   *saveptr;

			for (char *c = strtok_r(controllers + 1, ",", &saveptr); c != NULL;
				 c = strtok_r(NULL, ",", &saveptr))
			{
				if (strcmp(c, "cpu") == 0)
					strlcpy(v1_path, path, sizeof(v1_path));
			}
		}
	}
	FreeFile(f);
	if (v2_path[0] == '/')
		cpus = tightest_limit(CGROUP_ROOT, v2_path, v2_limit);
	if (cpus == 0 && v1_path[0] == '/')
	{
		/* cpu, or where it is not (not even a link to it), cpu,cpuacct */
		if (access(CGROUP_ROOT "/cpu", F_OK) == 0)
			cpus = tightest_limit(CGROUP_ROOT "/cpu", v1_path, v1_limit);
		else
			cpus = tightest_limit(CGROUP_ROOT "/cpu,cpuacct", v1_path, v1_limit);
	}
	return cpus;
}

/*
 * This process's CPU budget (read on first use): the CPUs of its affinity
 * mask (else those online), capped by its cgroup's CPU quota.
 */
const CpuBudget *
CpuBudgetGet(void)
{
	if (!budget_known)
	{
		budget.affinity = 0;
#ifdef __linux__
		{
			cpu_set_t	set;

			if (sched_getaffinity(0, sizeof(set), &set) == 0)
				budget.affinity = CPU_COUNT(&set);
		}
#endif
		if (budget.affinity <= 0)
			budget.affinity = Max(sysconf(_SC_NPROCESSORS_ONLN), 1);
		budget.quota = cgroup_limit();
		budget.cpus = budget.quota > 0 ? Min(budget.affinity, budget.quota) : budget.affinity;
		budget_known = true;
	}
	return &budget;
}
