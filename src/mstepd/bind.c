/*
 * bind.c - CPU binding from an hwloc topology (see bind.h for the policy).
 *
 * A plan works on "units": the cores of the topology (its PUs when it has
 * no Core objects), each reduced to its allowed PUs, in logical order, and
 * grouped in domains (NUMA nodes, or packages, or the machine) for
 * spreading.  Units are what ranks get, so two ranks never share half a
 * core.
 */
#include "config.h" /* _GNU_SOURCE, for the CPU_*_S macros */

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bind.h"
#include "hwgpu.h"
#include "util.h"

struct bind_gpu {
	char *busid;
	hwloc_bitmap_t cpuset; /* local PUs */
	char *cpus;	       /* the same as a list */
};

struct bind_topo {
	hwloc_topology_t ht;
	hwloc_bitmap_t allowed; /* PUs the topology allows */
	struct bind_gpu *gpus;
	size_t ngpus;
	hwloc_obj_t *units; /* cores (or PUs), logical order */
	unsigned nunits;
	unsigned *unit_dom; /* domain of each unit */
	unsigned ndoms;
};

static const char *const mode_names[] = {
	[BIND_NONE] = "none",
	[BIND_CORES] = "cores",
	[BIND_GPU_LOCAL] = "gpu-local",
};

int bind_mode_parse(const char *s, enum bind_mode *mode, struct mer_error *err)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (s && !strcmp(s, mode_names[i])) {
			*mode = (enum bind_mode)i;
			return 0;
		}
	errno = EINVAL;
	return mer_error_set(err,
			     "--cpu-bind=%.40s: expected none, cores or "
			     "gpu-local",
			     s ? s : "");
}

const char *bind_mode_name(enum bind_mode mode)
{
	if ((size_t)mode < sizeof(mode_names) / sizeof(mode_names[0]))
		return mode_names[mode];
	return "?";
}

/* hwloc's list form in a string of ours (hwloc allocates with its own
 * malloc; callers here free() alike either way, but keep to xstrdup). */
static char *bitmap_list(hwloc_const_bitmap_t set)
{
	char *s = NULL, *copy;

	if (!set || hwloc_bitmap_list_asprintf(&s, set) < 0 || !s)
		return xstrdup("");
	copy = xstrdup(s);
	free(s);
	return copy;
}

/* ---- GPUs, numbered as mnoded numbers them ---- */

static void gpus_discover(struct bind_topo *t)
{
	struct hwgpu *found;
	size_t n = hwgpu_list(t->ht, &found);

	t->gpus = xcalloc(n ? n : 1, sizeof(*t->gpus));
	for (size_t i = 0; i < n; i++) {
		struct bind_gpu *g = &t->gpus[i];
		hwloc_obj_t anc =
			hwloc_get_non_io_ancestor_obj(t->ht, found[i].key);
		if (found[i].pci) {
			const struct hwloc_pcidev_attr_s *p =
				&found[i].pci->attr->pcidev;
			g->busid =
				xasprintf("%04x:%02x:%02x.%01x",
					  (unsigned)p->domain, (unsigned)p->bus,
					  (unsigned)p->dev, (unsigned)p->func);
		} else {
			g->busid = xstrdup("");
		}
		/* no locality known: the whole machine */
		g->cpuset = hwloc_bitmap_dup(anc && anc->cpuset ? anc->cpuset
								: t->allowed);
		if (!g->cpuset)
			abort(); /* allocation, as xmalloc */
		hwloc_bitmap_and(g->cpuset, g->cpuset, t->allowed);
		g->cpus = bitmap_list(g->cpuset);
	}
	t->ngpus = n;
	free(found);
}

/* ---- units and domains ---- */

static void units_discover(struct bind_topo *t)
{
	hwloc_obj_type_t type = HWLOC_OBJ_CORE;
	int n = hwloc_get_nbobjs_by_type(t->ht, type);
	int ndom = hwloc_get_nbobjs_by_type(t->ht, HWLOC_OBJ_NUMANODE);
	hwloc_obj_type_t dtype = HWLOC_OBJ_NUMANODE;

	if (n <= 0) {
		type = HWLOC_OBJ_PU;
		n = hwloc_get_nbobjs_by_type(t->ht, type);
	}
	if (ndom <= 1) {
		dtype = HWLOC_OBJ_PACKAGE;
		ndom = hwloc_get_nbobjs_by_type(t->ht, dtype);
	}
	t->units = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*t->units));
	t->unit_dom = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*t->unit_dom));
	for (int i = 0; i < n; i++) {
		hwloc_obj_t u = hwloc_get_obj_by_type(t->ht, type, (unsigned)i);
		if (!u || !u->cpuset ||
		    !hwloc_bitmap_intersects(u->cpuset, t->allowed))
			continue;
		t->units[t->nunits] = u;
		t->unit_dom[t->nunits] = 0;
		/* the first domain holding the unit's first PU */
		for (int d = 0; ndom > 1 && d < ndom; d++) {
			hwloc_obj_t o = hwloc_get_obj_by_type(t->ht, dtype,
							      (unsigned)d);
			if (o && o->cpuset &&
			    hwloc_bitmap_isset(
				    o->cpuset,
				    (unsigned)hwloc_bitmap_first(u->cpuset))) {
				t->unit_dom[t->nunits] = (unsigned)d;
				break;
			}
		}
		t->nunits++;
	}
	t->ndoms = ndom > 1 ? (unsigned)ndom : 1;
}

struct bind_topo *bind_topo_load(const char *xml_file, struct mer_error *err)
{
	struct bind_topo *t = xcalloc(1, sizeof(*t));
	int e;

	/* the loader mnoded reports the node with, so both see one
	 * topology */
	if (!(t->ht = hwgpu_topology_load(xml_file, err))) {
		e = errno;
		free(t);
		errno = e;
		return NULL;
	}
	t->allowed = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(t->ht));
	if (!t->allowed)
		abort();
	gpus_discover(t);
	units_discover(t);
	if (!t->nunits) {
		e = EINVAL;
		if (xml_file && *xml_file)
			mer_error_set(err, "TopologyFile=%s: no CPU in it",
				      xml_file);
		else
			mer_error_set(err,
				      "this machine's topology has no CPU");
		bind_topo_destroy(t);
		errno = e;
		return NULL;
	}
	return t;
}

void bind_topo_destroy(struct bind_topo *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ngpus; i++) {
		free(t->gpus[i].busid);
		free(t->gpus[i].cpus);
		hwloc_bitmap_free(t->gpus[i].cpuset);
	}
	free(t->gpus);
	free(t->units);
	free(t->unit_dom);
	hwloc_bitmap_free(t->allowed);
	hwloc_topology_destroy(t->ht);
	free(t);
}

size_t bind_topo_ngpus(const struct bind_topo *t)
{
	return t->ngpus;
}

const char *bind_topo_gpu_busid(const struct bind_topo *t, size_t i)
{
	return i < t->ngpus ? t->gpus[i].busid : NULL;
}

const char *bind_topo_gpu_cpus(const struct bind_topo *t, size_t i)
{
	return i < t->ngpus ? t->gpus[i].cpus : NULL;
}

unsigned bind_topo_cores(const struct bind_topo *t)
{
	return t->nunits;
}

unsigned bind_topo_pus(const struct bind_topo *t)
{
	int n = hwloc_bitmap_weight(t->allowed);

	return n > 0 ? (unsigned)n : 0;
}

/* ---- planning ---- */

/* One plan in the making. */
struct plan {
	const struct bind_topo *t;
	hwloc_bitmap_t allowed;
	unsigned *pus; /* allowed PUs of each unit (0: unusable) */
	bool *used;    /* given to a rank already */
	struct bind_set *sets;
};

static void give(struct plan *p, size_t task, unsigned unit)
{
	struct bind_set *s = &p->sets[task];
	hwloc_bitmap_t part = hwloc_bitmap_alloc();

	if (!part)
		abort();
	hwloc_bitmap_and(part, p->t->units[unit]->cpuset, p->allowed);
	hwloc_bitmap_or(s->cpuset, s->cpuset, part);
	hwloc_bitmap_free(part);
	p->used[unit] = true;
}

/* Spread the tasks in idx[0..m) over the units in pool (true: may be
 * used), as bind.h says for `cores`. */
static void spread(struct plan *p, const struct bind_task *tasks,
		   const size_t *idx, size_t m, const bool *pool)
{
	const struct bind_topo *t = p->t;
	unsigned nd = t->ndoms;
	unsigned **dom = xcalloc(nd, sizeof(*dom)); /* units per domain */
	unsigned *ndom = xcalloc(nd, sizeof(*ndom));
	unsigned *pos = xcalloc(nd, sizeof(*pos));   /* next free in each */
	unsigned *live = xcalloc(nd, sizeof(*live)); /* non-empty domains */
	unsigned nlive = 0;

	for (unsigned d = 0; d < nd; d++)
		dom[d] = xcalloc(t->nunits, sizeof(**dom));
	for (unsigned u = 0; u < t->nunits; u++)
		if (pool[u] && p->pus[u]) {
			unsigned d = t->unit_dom[u];
			dom[d][ndom[d]++] = u;
		}
	for (unsigned d = 0; d < nd; d++)
		if (ndom[d])
			live[nlive++] = d;

	for (size_t j = 0; j < m && nlive; j++) {
		unsigned need = tasks[idx[j]].cpus ? tasks[idx[j]].cpus : 1;
		unsigned got = 0, first = (unsigned)(j % nlive);
		bool done = false;

		/* one domain with room: a block of its next free units */
		for (unsigned k = 0; k < nlive && !done; k++) {
			unsigned d = live[(first + k) % nlive], room = 0;
			for (unsigned i = pos[d]; i < ndom[d]; i++)
				room += p->pus[dom[d][i]];
			if (room < need)
				continue;
			while (got < need) {
				unsigned u = dom[d][pos[d]++];
				give(p, idx[j], u);
				got += p->pus[u];
			}
			done = true;
		}
		if (done)
			continue;
		/* else what is left, domain after domain; when that is not
		 * enough, start over from the first units (ranks overlap:
		 * the node has too few cores) */
		for (int round = 0; round < 2 && got < need; round++) {
			if (round == 1)
				for (unsigned d = 0; d < nd; d++)
					pos[d] = 0;
			for (unsigned k = 0; k < nlive && got < need; k++) {
				unsigned d = live[(first + k) % nlive];
				while (pos[d] < ndom[d] && got < need) {
					unsigned u = dom[d][pos[d]++];
					if (hwloc_bitmap_intersects(
						    t->units[u]->cpuset,
						    p->sets[idx[j]].cpuset))
						continue; /* had it already */
					give(p, idx[j], u);
					got += p->pus[u];
				}
			}
		}
	}
	for (unsigned d = 0; d < nd; d++)
		free(dom[d]);
	free(dom);
	free(ndom);
	free(pos);
	free(live);
}

/* The ranks with GPUs, grouped by the CPUs local to their GPUs. */
static void gpu_local(struct plan *p, const struct bind_task *tasks,
		      size_t ntasks, bool *done)
{
	const struct bind_topo *t = p->t;
	hwloc_bitmap_t loc = hwloc_bitmap_alloc(), other = hwloc_bitmap_alloc();
	size_t *group = xcalloc(ntasks, sizeof(*group));
	unsigned *cand = xcalloc(t->nunits, sizeof(*cand));

	if (!loc || !other)
		abort();
	for (size_t i = 0; i < ntasks; i++) {
		size_t m = 0;
		unsigned ncand = 0, nfree = 0, want = 1, per, extra;
		unsigned *units;
		unsigned nunits;

		if (done[i] || !tasks[i].ngpus)
			continue;
		hwloc_bitmap_zero(loc);
		for (size_t k = 0; k < tasks[i].ngpus; k++)
			hwloc_bitmap_or(loc, loc,
					t->gpus[tasks[i].gpus[k]].cpuset);
		hwloc_bitmap_and(loc, loc, p->allowed);
		if (hwloc_bitmap_iszero(loc))
			/* its GPUs' CPUs are not the step's: any CPU */
			hwloc_bitmap_copy(loc, p->allowed);
		/* every rank whose GPUs have the same locality */
		for (size_t j = i; j < ntasks; j++) {
			if (done[j] || !tasks[j].ngpus)
				continue;
			hwloc_bitmap_zero(other);
			for (size_t k = 0; k < tasks[j].ngpus; k++)
				hwloc_bitmap_or(
					other, other,
					t->gpus[tasks[j].gpus[k]].cpuset);
			hwloc_bitmap_and(other, other, p->allowed);
			if (hwloc_bitmap_iszero(other))
				hwloc_bitmap_copy(other, p->allowed);
			if (hwloc_bitmap_isequal(loc, other)) {
				group[m++] = j;
				done[j] = true;
			}
		}
		/* the units there, the free ones first */
		for (unsigned u = 0; u < t->nunits; u++)
			if (p->pus[u] && !p->used[u] &&
			    hwloc_bitmap_intersects(t->units[u]->cpuset, loc))
				cand[ncand++] = u;
		nfree = ncand;
		for (unsigned u = 0; u < t->nunits; u++)
			if (p->pus[u] && p->used[u] &&
			    hwloc_bitmap_intersects(t->units[u]->cpuset, loc))
				cand[ncand++] = u;
		if (!ncand)
			continue; /* cannot happen: loc holds allowed PUs */
		for (size_t g = 0; g < m; g++) {
			unsigned c =
				tasks[group[g]].cpus ? tasks[group[g]].cpus : 1;
			unsigned w =
				(c + p->pus[cand[0]] - 1) / p->pus[cand[0]];
			if (w > want)
				want = w;
		}
		/* divide the free units when they go round, else all of
		 * them, else give want units each, going round */
		units = cand;
		nunits = nfree >= m * want ? nfree : ncand;
		if (nunits >= m * want) {
			unsigned next = 0;
			per = nunits / (unsigned)m;
			extra = nunits % (unsigned)m;
			for (size_t g = 0; g < m; g++)
				for (unsigned k = 0; k < per + (g < extra); k++)
					give(p, group[g], units[next++]);
		} else {
			for (size_t g = 0; g < m; g++)
				for (unsigned k = 0; k < want; k++)
					give(p, group[g],
					     units[(g * want + k) % nunits]);
		}
	}
	free(group);
	free(cand);
	hwloc_bitmap_free(loc);
	hwloc_bitmap_free(other);
}

int bind_plan(const struct bind_topo *t, enum bind_mode mode,
	      const char *allowed, const struct bind_task *tasks, size_t ntasks,
	      struct bind_set **sets, struct mer_error *err)
{
	struct plan p = {.t = t};
	bool *done = NULL, *pool = NULL;
	size_t *idx = NULL, m = 0;
	int rc = -1;

	*sets = xcalloc(ntasks ? ntasks : 1, sizeof(**sets));
	for (size_t i = 0; i < ntasks; i++)
		for (size_t k = 0; k < tasks[i].ngpus; k++)
			if (tasks[i].gpus[k] >= t->ngpus) {
				errno = EINVAL;
				if (t->ngpus)
					mer_error_set(err,
						      "rank %zu: GPU %u: the "
						      "node has GPUs 0-%zu",
						      i, tasks[i].gpus[k],
						      t->ngpus - 1);
				else
					mer_error_set(err,
						      "rank %zu: GPU %u: the "
						      "node has no GPU",
						      i, tasks[i].gpus[k]);
				goto out;
			}
	if (mode == BIND_NONE) {
		for (size_t i = 0; i < ntasks; i++)
			(*sets)[i].list = xstrdup("");
		rc = 0;
		goto out;
	}
	if (mode != BIND_CORES && mode != BIND_GPU_LOCAL) {
		errno = EINVAL;
		mer_error_set(err,
			      "binding mode %d is none of none, cores, "
			      "gpu-local",
			      (int)mode);
		goto out;
	}

	p.allowed = hwloc_bitmap_dup(t->allowed);
	if (!p.allowed)
		abort();
	if (allowed) {
		hwloc_bitmap_t a = hwloc_bitmap_alloc();
		char *all = bitmap_list(t->allowed);
		if (!a)
			abort();
		if (hwloc_bitmap_list_sscanf(a, allowed) < 0 ||
		    !hwloc_bitmap_intersects(a, t->allowed)) {
			errno = EINVAL;
			mer_error_set(err,
				      "allowed CPUs \"%.40s\": expected a "
				      "list of this node's CPUs (%.40s), "
				      "like 0-3,8",
				      allowed, all);
			hwloc_bitmap_free(a);
			free(all);
			goto out;
		}
		hwloc_bitmap_and(p.allowed, p.allowed, a);
		hwloc_bitmap_free(a);
		free(all);
	}
	p.pus = xcalloc(t->nunits, sizeof(*p.pus));
	p.used = xcalloc(t->nunits, sizeof(*p.used));
	for (unsigned u = 0; u < t->nunits; u++) {
		hwloc_bitmap_t part = hwloc_bitmap_alloc();
		if (!part)
			abort();
		hwloc_bitmap_and(part, t->units[u]->cpuset, p.allowed);
		p.pus[u] = (unsigned)hwloc_bitmap_weight(part);
		hwloc_bitmap_free(part);
	}
	p.sets = *sets;
	for (size_t i = 0; i < ntasks; i++) {
		p.sets[i].cpuset = hwloc_bitmap_alloc();
		if (!p.sets[i].cpuset)
			abort();
	}

	done = xcalloc(ntasks ? ntasks : 1, sizeof(*done));
	if (mode == BIND_GPU_LOCAL)
		gpu_local(&p, tasks, ntasks, done);
	/* the rest: spread over the free units, or over all when none is */
	idx = xcalloc(ntasks ? ntasks : 1, sizeof(*idx));
	for (size_t i = 0; i < ntasks; i++)
		if (!done[i])
			idx[m++] = i;
	pool = xcalloc(t->nunits, sizeof(*pool));
	{
		bool any = false;
		for (unsigned u = 0; u < t->nunits; u++)
			any |= pool[u] = p.pus[u] && !p.used[u];
		if (!any)
			for (unsigned u = 0; u < t->nunits; u++)
				pool[u] = p.pus[u] > 0;
	}
	spread(&p, tasks, idx, m, pool);
	for (size_t i = 0; i < ntasks; i++)
		p.sets[i].list = bitmap_list(p.sets[i].cpuset);
	rc = 0;
out:
	if (rc < 0) {
		bind_sets_free(*sets, ntasks);
		*sets = NULL;
	}
	hwloc_bitmap_free(p.allowed);
	free(p.pus);
	free(p.used);
	free(done);
	free(idx);
	free(pool);
	return rc;
}

void bind_sets_free(struct bind_set *sets, size_t n)
{
	if (!sets)
		return;
	for (size_t i = 0; i < n; i++) {
		hwloc_bitmap_free(sets[i].cpuset);
		free(sets[i].list);
	}
	free(sets);
}

/* ---- applying ---- */

hwloc_bitmap_t bind_online_cpus(void)
{
	hwloc_bitmap_t set;
	char *data = NULL;
	size_t n;

	if (read_file("/sys/devices/system/cpu/online", &data, &n) < 0)
		return NULL;
	set = hwloc_bitmap_alloc();
	if (!set)
		abort();
	while (n && (data[n - 1] == '\n' || data[n - 1] == ' '))
		data[--n] = '\0';
	if (hwloc_bitmap_list_sscanf(set, data) < 0 ||
	    hwloc_bitmap_iszero(set)) {
		hwloc_bitmap_free(set);
		set = NULL;
	}
	free(data);
	return set;
}

static int set_affinity(pid_t tid, const cpu_set_t *mask, size_t size)
{
	return sched_setaffinity(tid, size, mask);
}

int bind_apply(pid_t pid, const char *list, struct mer_error *err)
{
	hwloc_bitmap_t want = hwloc_bitmap_alloc(), online = bind_online_cpus();
	cpu_set_t *mask = NULL;
	size_t size;
	int last, rc = -1, partial = 0, e = 0, bound = 0;
	char path[64];
	DIR *dir;

	if (!want)
		abort();
	if (!list || hwloc_bitmap_list_sscanf(want, list) < 0 ||
	    hwloc_bitmap_iszero(want) || hwloc_bitmap_weight(want) < 0) {
		errno = EINVAL;
		mer_error_set(err,
			      "CPU list \"%.40s\": expected CPU numbers "
			      "and ranges like 0-3,8",
			      list ? list : "");
		goto out;
	}
	if (online && !hwloc_bitmap_isincluded(want, online)) {
		char *w = bitmap_list(want), *o = bitmap_list(online);
		if (!hwloc_bitmap_intersects(want, online)) {
			errno = EINVAL;
			mer_error_set(err,
				      "CPU list %.40s: none of these CPUs "
				      "exists here (this machine has %.40s)",
				      w, o);
			free(w);
			free(o);
			goto out;
		}
		mer_error_set(err,
			      "CPU list %.40s: only the CPUs of %.40s exist "
			      "here; bound to those",
			      w, o);
		free(w);
		free(o);
		hwloc_bitmap_and(want, want, online);
		partial = 1;
	}
	last = hwloc_bitmap_last(want);
	mask = CPU_ALLOC((size_t)last + 1);
	if (!mask)
		abort();
	size = CPU_ALLOC_SIZE((size_t)last + 1);
	CPU_ZERO_S(size, mask);
	for (int c = hwloc_bitmap_first(want); c >= 0;
	     c = hwloc_bitmap_next(want, c))
		CPU_SET_S((size_t)c, size, mask);

	/* every thread, as HWLOC_CPUBIND_PROCESS does on Linux; a thread
	 * started meanwhile inherits its creator's mask */
	snprintf(path, sizeof(path), "/proc/%d/task",
		 pid ? (int)pid : (int)getpid());
	if ((dir = opendir(path))) {
		struct dirent *de;
		while ((de = readdir(dir))) {
			char *end;
			long tid = strtol(de->d_name, &end, 10);
			if (de->d_name[0] == '.' || *end || tid <= 0)
				continue;
			if (set_affinity((pid_t)tid, mask, size) == 0)
				bound++;
			else if (errno != ESRCH && !e)
				e = errno; /* ESRCH: the thread ended */
		}
		closedir(dir);
	}
	if (!bound && !e) {
		/* no /proc: the main thread at least */
		if (set_affinity(pid, mask, size) == 0)
			bound++;
		else
			e = errno;
	}
	if (e || !bound) {
		errno = e ? e : ESRCH;
		mer_error_set(err, "binding process %d to CPUs %.40s: %s",
			      pid ? (int)pid : (int)getpid(), list,
			      strerror(errno));
		goto out;
	}
	rc = partial;
out:
	e = errno;
	hwloc_bitmap_free(want);
	hwloc_bitmap_free(online);
	if (mask)
		CPU_FREE(mask);
	errno = e;
	return rc;
}
