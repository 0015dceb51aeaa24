/*
 * metrics.c - instance-wide Prometheus counters in a shared mapping.
 *
 * Layout: a header, then a fixed open-addressing table of slots. A slot
 * is a (family, label tuple) with its counters. A slot goes from EMPTY to
 * READY exactly once, under the insert lock, after its key is written;
 * readers and adders never lock: they look for a READY slot with the same
 * key and add to it atomically. The insert lock is a spinlock holding
 * the owner's pid, so a process killed while holding it (the lock is
 * held for a few stores only) is detected and the lock taken over.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cv.h"
#include "metrics.h"

#define MAGIC 0x43564d31u          /* "CVM1" */
#define NSLOTS 4096
#define KEY_MAX 224

enum family { F_REQUESTS, F_DURATION, F_ERRORS, F_THROTTLED, F_COUNT };
enum { EMPTY = 0, READY = 2 };

struct slot {
	uint32_t state;
	uint16_t family;
	uint16_t keylen;
	uint64_t hash;
	uint64_t count;
	uint64_t sum_ns;
	char key[KEY_MAX];         /* label values joined by NUL */
};

struct shm {
	uint32_t magic;
	uint32_t nslots;
	int32_t lock;              /* 0 free, else the holder's pid */
	uint32_t pad;
	uint64_t throttled_global;
	uint64_t dropped;          /* samples not recorded: table full */
	struct slot slots[NSLOTS];
};

struct cv_metrics {
	struct shm *shm;
};

/* ---- opening ------------------------------------------------------------- */

/* Allocates every block now: a sparse file on a full file system would
 * kill the first process that touches a new page with SIGBUS. */
static int reserve(int fd, size_t size)
{
	int rc = posix_fallocate(fd, 0, (off_t)size);

	if (rc == EINVAL || rc == EOPNOTSUPP)   /* no fallocate here */
		return ftruncate(fd, (off_t)size);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}

struct cv_metrics *cv_metrics_open(const char *path)
{
	struct cv_metrics *m;
	struct stat st;
	void *map;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return NULL;
	/* the first process sizes the file; the others wait for it */
	if (flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0 ||
	    ((size_t)st.st_size < sizeof(struct shm) &&
	    reserve(fd, sizeof(struct shm)) != 0)) {
		close(fd);
		return NULL;
	}
	map = mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (map != MAP_FAILED && ((struct shm *)map)->magic != MAGIC) {
		((struct shm *)map)->nslots = NSLOTS;
		__atomic_store_n(&((struct shm *)map)->magic, MAGIC,
		    __ATOMIC_RELEASE);
	}
	flock(fd, LOCK_UN);
	close(fd);
	if (map == MAP_FAILED)
		return NULL;
	if (!(m = calloc(1, sizeof *m))) {
		munmap(map, sizeof(struct shm));
		return NULL;
	}
	m->shm = map;
	return m;
}

void cv_metrics_close(struct cv_metrics *m)
{
	if (!m)
		return;
	munmap(m->shm, sizeof(struct shm));
	free(m);
}

/* ---- the insert lock ----------------------------------------------------- */

static void lock(struct shm *s)
{
	int32_t me = (int32_t)getpid(), cur;
	struct timespec nap = { 0, 50000 };

	for (unsigned spins = 0;; spins++) {
		cur = 0;
		if (__atomic_compare_exchange_n(&s->lock, &cur, me, false,
		    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		/* the holder died: take the lock over from it */
		if (spins > 1000 && kill(cur, 0) != 0 && errno == ESRCH &&
		    __atomic_compare_exchange_n(&s->lock, &cur, me, false,
		    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		if (spins > 100)
			nanosleep(&nap, NULL);
	}
}

static void unlock(struct shm *s)
{
	__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

/* ---- slots --------------------------------------------------------------- */

static uint64_t fnv1a(int family, const char *key, size_t n)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)family;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static bool same(const struct slot *sl, int family, uint64_t h,
    const char *key, size_t n)
{
	return sl->hash == h && sl->family == family && sl->keylen == n &&
	    memcmp(sl->key, key, n) == 0;
}

/* Walks the probe sequence of (family, key): the READY slot holding it,
 * else (insert, under the lock) the first EMPTY slot claimed for it, else
 * NULL (not there, or the table is full). */
static struct slot *probe(struct shm *s, int family, uint64_t h,
    const char *key, size_t n, bool insert)
{
	for (uint32_t i = 0; i < NSLOTS; i++) {
		struct slot *sl = &s->slots[(h + i) % NSLOTS];
		if (__atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) == READY) {
			if (same(sl, family, h, key, n))
				return sl;
			continue;
		}
		if (!insert)
			return NULL;
		sl->family = (uint16_t)family;
		sl->keylen = (uint16_t)n;
		sl->hash = h;
		memcpy(sl->key, key, n);
		__atomic_store_n(&sl->state, READY, __ATOMIC_RELEASE);
		return sl;
	}
	return NULL;
}

/* The slot of (family, key), inserted when new; NULL when full. Slots
 * never move or empty, so a lock-free hit is final. */
static struct slot *find(struct shm *s, int family, const char *key,
    size_t n)
{
	uint64_t h = fnv1a(family, key, n);
	struct slot *sl = probe(s, family, h, key, n, false);

	if (sl)
		return sl;
	lock(s);
	sl = probe(s, family, h, key, n, true);
	unlock(s);
	return sl;
}

/* Joins label values with NUL separators; 0 when they do not fit. */
static size_t make_key(char *out, const char *const *values, int nvalues)
{
	size_t n = 0;

	for (int i = 0; i < nvalues; i++) {
		size_t len = strlen(values[i] ? values[i] : "");
		if (n + len + 1 > KEY_MAX)
			return 0;
		memcpy(out + n, values[i] ? values[i] : "", len);
		n += len;
		out[n++] = '\0';
	}
	return n;
}

static void add(struct shm *s, int family, const char *const *values,
    int nvalues, uint64_t ns)
{
	char key[KEY_MAX];
	size_t n = make_key(key, values, nvalues);
	struct slot *sl = n ? find(s, family, key, n) : NULL;

	if (!sl) {
		__atomic_fetch_add(&s->dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_fetch_add(&sl->count, 1, __ATOMIC_RELAXED);
	if (ns)
		__atomic_fetch_add(&sl->sum_ns, ns, __ATOMIC_RELAXED);
}

const char *cv_metrics_method_label(const char *method)
{
	static const char *const known[] = { "GET", "HEAD", "POST", "PUT",
	    "PATCH", "DELETE", "OPTIONS" };

	for (size_t i = 0; method && i < sizeof known / sizeof known[0]; i++)
		if (strcmp(method, known[i]) == 0)
			return known[i];
	return "other";
}

void cv_metrics_observe(struct cv_metrics *m, const char *method,
    const char *path_label, int status, double seconds)
{
	char code[16];
	uint64_t ns = seconds > 0 ? (uint64_t)(seconds * 1e9 + 0.5) : 0;

	if (!m)
		return;
	/* Label values from closed sets: a caller must not be able to mint
	 * series (the status is a 3-digit number, the path a pattern). */
	snprintf(code, sizeof code, "%d", status >= 100 && status <= 599 ?
	    status : 0);
	const char *req[] = { cv_metrics_method_label(method), path_label,
	    code };
	add(m->shm, F_REQUESTS, req, 3, 0);
	add(m->shm, F_DURATION, req, 2, ns);
	if (status >= 500)
		add(m->shm, F_ERRORS, req, 2, 0);
}

void cv_metrics_throttled(struct cv_metrics *m, const char *tenant_label)
{
	const char *v[] = { tenant_label };

	if (!m)
		return;
	add(m->shm, F_THROTTLED, v, 1, 0);
	__atomic_fetch_add(&m->shm->throttled_global, 1, __ATOMIC_RELAXED);
}

/* ---- exposition ---------------------------------------------------------- */

static const struct {
	const char *name, *help, *type;
	const char *labels[3];
	int nlabels;
} families[F_COUNT] = {
	{ "converge_http_requests_total",
	    "Total HTTP requests by method, path, status.", "counter",
	    { "method", "path", "status" }, 3 },
	{ "converge_http_request_duration_seconds",
	    "Total request duration by method and path.", "summary",
	    { "method", "path" }, 2 },
	{ "converge_http_errors_total", "Total 5xx errors.", "counter",
	    { "method", "path" }, 2 },
	{ "converge_rate_limit_throttled_total",
	    "Total throttled requests by tenant.", "counter",
	    { "tenant" }, 1 },
};

/* Label tuples order element by element; NUL separators make that the
 * byte order of the joined keys. */
static int by_key(const void *pa, const void *pb)
{
	const struct slot *a = *(const struct slot *const *)pa;
	const struct slot *b = *(const struct slot *const *)pb;
	size_t n = a->keylen < b->keylen ? a->keylen : b->keylen;
	int c = memcmp(a->key, b->key, n);

	return c ? c : (a->keylen > b->keylen) - (a->keylen < b->keylen);
}

static void put_escaped(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void put_labels(FILE *f, int family, const struct slot *sl)
{
	const char *v = sl->key;

	fputc('{', f);
	for (int i = 0; i < families[family].nlabels; i++) {
		fprintf(f, "%s%s=\"", i ? "," : "", families[family].labels[i]);
		put_escaped(f, v);
		fputc('"', f);
		v += strlen(v) + 1;
	}
	fputc('}', f);
}

static void put_family(FILE *f, int family, struct slot **all, size_t n)
{
	const char *name = families[family].name;

	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, families[family].help,
	    name, families[family].type);
	for (size_t i = 0; i < n; i++) {
		const struct slot *sl = all[i];
		uint64_t count = __atomic_load_n(&sl->count, __ATOMIC_RELAXED);
		if (sl->family != family)
			continue;
		if (family != F_DURATION) {
			fputs(name, f);
			put_labels(f, family, sl);
			fprintf(f, " %llu\n", (unsigned long long)count);
			continue;
		}
		fprintf(f, "%s_sum", name);
		put_labels(f, family, sl);
		fprintf(f, " %.6f\n", (double)__atomic_load_n(&sl->sum_ns,
		    __ATOMIC_RELAXED) / 1e9);
		fprintf(f, "%s_count", name);
		put_labels(f, family, sl);
		fprintf(f, " %llu\n", (unsigned long long)count);
	}
}

char *cv_metrics_render(struct cv_metrics *m)
{
	struct slot **all = calloc(NSLOTS, sizeof *all);
	char *text = NULL;
	size_t len = 0, n = 0;
	FILE *f;

	if (!all || !(f = open_memstream(&text, &len))) {
		free(all);
		return NULL;
	}
	for (uint32_t i = 0; m && i < NSLOTS; i++)
		if (__atomic_load_n(&m->shm->slots[i].state, __ATOMIC_ACQUIRE) ==
		    READY)
			all[n++] = &m->shm->slots[i];
	qsort(all, n, sizeof *all, by_key);
	for (int fam = 0; fam < F_COUNT; fam++)
		put_family(f, fam, all, n);
	fprintf(f, "converge_rate_limit_throttled_global %llu\n",
	    (unsigned long long)(m ? __atomic_load_n(
	    &m->shm->throttled_global, __ATOMIC_RELAXED) : 0));
	fprintf(f, "# HELP converge_metrics_series_dropped_total Samples not "
	    "recorded because the series table was full.\n"
	    "# TYPE converge_metrics_series_dropped_total counter\n"
	    "converge_metrics_series_dropped_total %llu\n",
	    (unsigned long long)(m ? __atomic_load_n(&m->shm->dropped,
	    __ATOMIC_RELAXED) : 0));
	free(all);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
