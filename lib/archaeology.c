/* archaeology.c - hotspots, co-change coupling, authors and bus factor. */
#include "archaeology.h"
#include "files.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "jsonx.h"
#include "proc.h"

/* --- parsing `git log` ---------------------------------------------------- */

/* Trimmed non-blank lines of s[0..n) appended to lines as strings. */
static int block_lines(json_t *lines, const char *s, size_t n)
{
	const char *end = s + n;

	while (s < end) {
		const char *eol = s, *a, *b;

		while (eol < end && *eol != '\n' && *eol != '\r')
			eol++;
		for (a = s; a < eol && isspace((unsigned char)*a); a++)
			;
		for (b = eol; b > a && isspace((unsigned char)b[-1]); b--)
			;
		if (b > a && json_array_append_new(lines,
		    json_stringn(a, (size_t)(b - a))) < 0)
			return -1;
		s = eol + 1;
	}
	return 0;
}

/* An entry from the lines of one block, or json null if the block is short. */
static json_t *entry_build(json_t *lines)
{
	json_t *entry, *files = json_array(), *v;
	size_t i;

	if (json_array_size(lines) < 4)
		return files ? (json_decref(files), json_null()) : NULL;
	json_array_foreach(lines, i, v)
		if (i >= 4 && strncmp(json_string_value(v), "Merge", 5) != 0 &&
		    json_array_append(files, v) < 0) {
			json_decref(files);
			return NULL;
		}
	entry = json_pack("{sOsOsOsOso}", "sha", json_array_get(lines, 0),
	    "author", json_array_get(lines, 1), "date", json_array_get(lines, 2),
	    "subject", json_array_get(lines, 3), "files", files);
	return entry;
}

json_t *cv_arch_log_parse_build(const char *text)
{
	json_t *entries = json_array();
	const char *p = text ? text : "";
	size_t seplen = strlen(CV_ARCH_SEP);

	while (entries != NULL) {
		const char *sep = strstr(p, CV_ARCH_SEP);
		size_t n = sep ? (size_t)(sep - p) : strlen(p);
		json_t *lines = json_array(), *entry = NULL;

		if (lines == NULL || block_lines(lines, p, n) < 0 ||
		    (entry = entry_build(lines)) == NULL ||
		    (!json_is_null(entry) && json_array_append(entries, entry) < 0)) {
			json_decref(entries);
			entries = NULL;
		}
		json_decref(entry);
		json_decref(lines);
		if (sep == NULL)
			break;
		p = sep + seplen;
	}
	return entries;
}

json_t *cv_arch_log_load(const char *repo_dir, int max_commits)
{
	char count[32];
	const char *argv[] = { "git", "log", count,
	    "--format=" CV_ARCH_SEP "%n%H%n%an%n%aI%n%s", "--name-only", NULL };
	struct cv_proc_opts o = { .cwd = repo_dir, .timeout_ms = 120 * 1000 };
	struct cv_proc_result r;
	json_t *entries;
	char *text;

	snprintf(count, sizeof(count), "--max-count=%d", max_commits);
	if (cv_proc_run(argv, &o, &r) != CV_OK || r.exit_code != 0) {
		cv_proc_result_free(&r);
		return json_array();
	}
	/* Author names and paths are bytes to git; JSON needs UTF-8. */
	text = cv_proc_text_dup(r.out, r.out_len, (size_t)-1);
	cv_proc_result_free(&r);
	if (text == NULL)
		return NULL;
	entries = cv_arch_log_parse_build(text);
	free(text);
	return entries;
}

/* --- counting ------------------------------------------------------------- */

/*
 * Counts by key, remembering first-seen order for the "top k" tie rule.
 * Slots are never removed, so a slot's number is its first-seen rank.
 */
struct tally {
	json_t *index;          /* key -> slot number */
	struct slot {
		char *key;
		long long count;
		json_t *set;    /* authors: distinct files touched */
	} *slot;
	size_t n, cap;
};

static void tally_free(struct tally *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->slot[i].key);
		json_decref(t->slot[i].set);
	}
	free(t->slot);
	json_decref(t->index);
}

/* The slot for key, created with count 0 if new; NULL on allocation failure. */
static struct slot *tally_get(struct tally *t, const char *key)
{
	json_t *idx = json_object_get(t->index, key);
	struct slot *s;

	if (idx != NULL)
		return &t->slot[json_integer_value(idx)];
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;

		if ((s = realloc(t->slot, cap * sizeof(*s))) == NULL)
			return NULL;
		t->slot = s;
		t->cap = cap;
	}
	s = &t->slot[t->n];
	memset(s, 0, sizeof(*s));
	if ((s->key = strdup(key)) == NULL ||
	    json_object_set_new(t->index, key, json_integer((json_int_t)t->n)) < 0) {
		free(s->key);
		return NULL;
	}
	t->n++;
	return s;
}

static const struct tally *sort_tally;

static int by_count_then_seen(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	long long ci = sort_tally->slot[i].count, cj = sort_tally->slot[j].count;

	if (ci != cj)
		return ci > cj ? -1 : 1;
	return i < j ? -1 : (i > j);
}

/* Slot numbers of the top k (count descending, ties first seen); caller
 * frees; *n_out = min(k, n). */
static size_t *tally_top(const struct tally *t, int k, size_t *n_out)
{
	size_t *order = malloc((t->n ? t->n : 1) * sizeof(*order)), i;

	if (order == NULL)
		return NULL;
	for (i = 0; i < t->n; i++)
		order[i] = i;
	sort_tally = t;
	qsort(order, t->n, sizeof(*order), by_count_then_seen);
	*n_out = k < 0 ? 0 : (size_t)k < t->n ? (size_t)k : t->n;
	return order;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The entry's distinct files, sorted (the coupling pair order a < b);
 * caller frees the array, the strings are borrowed from entry. */
static const char **entry_files_sorted(const json_t *entry, size_t *n_out)
{
	json_t *files = json_object_get(entry, "files"), *v;
	size_t n = 0, i, k = 0;
	const char **f = malloc((json_array_size(files) + 1) * sizeof(*f));

	if (f == NULL)
		return NULL;
	json_array_foreach(files, i, v)
		if (json_is_string(v))
			f[n++] = json_string_value(v);
	qsort(f, n, sizeof(*f), cmp_str);
	for (i = 0; i < n; i++)
		if (k == 0 || strcmp(f[i], f[k - 1]) != 0)
			f[k++] = f[i];
	*n_out = k;
	return f;
}

/* --- coupling ------------------------------------------------------------- */

static int count_pairs(struct tally *t, const json_t *entries)
{
	const json_t *e;
	size_t i, a, b, n;

	json_array_foreach(entries, i, e) {
		const char **f = entry_files_sorted(e, &n);

		if (f == NULL)
			return -1;
		for (a = 0; a < n; a++)
			for (b = a + 1; b < n; b++) {
				char *key;
				struct slot *s;

				/* Paths never hold a newline here: lines were split on it. */
				if (asprintf(&key, "%s\n%s", f[a], f[b]) < 0) {
					free(f);
					return -1;
				}
				s = tally_get(t, key);
				free(key);
				if (s == NULL) {
					free(f);
					return -1;
				}
				s->count++;
			}
		free(f);
	}
	return 0;
}

static json_t *pair_build(const struct slot *s)
{
	const char *nl = strchr(s->key, '\n');

	return json_pack("{s:s%,s:s,s:I}", "file_a", s->key, (size_t)(nl - s->key),
	    "file_b", nl + 1, "co_changes", (json_int_t)s->count);
}

json_t *cv_arch_coupling_build(const json_t *entries, int top, long long min_co)
{
	struct tally t = { json_object(), NULL, 0, 0 };
	json_t *out = json_array();
	size_t *order = NULL, n = 0, i;

	if (t.index == NULL || out == NULL || count_pairs(&t, entries) < 0 ||
	    (order = tally_top(&t, top, &n)) == NULL)
		goto fail;
	for (i = 0; i < n; i++)
		if (t.slot[order[i]].count >= min_co &&
		    json_array_append_new(out, pair_build(&t.slot[order[i]])) < 0)
			goto fail;
	free(order);
	tally_free(&t);
	return out;
fail:
	free(order);
	tally_free(&t);
	json_decref(out);
	return NULL;
}

json_t *cv_arch_risk_coupling_build(const json_t *entries)
{
	return cv_arch_coupling_build(entries, CV_ARCH_RISK_TOP, CV_ARCH_RISK_MIN_CO);
}

/* --- hotspots, authors, report -------------------------------------------- */

/*
 * Hotspot and author counts. Files are taken in the order git listed them
 * (that order decides ties), once per entry even if listed twice.
 */
static int count_entry(struct tally *files, struct slot *a, const json_t *e)
{
	json_t *seen = json_object(), *v;
	size_t i;
	int rc = 0;

	json_array_foreach(json_object_get(e, "files"), i, v) {
		const char *f = json_string_value(v);
		struct slot *s;

		if (f == NULL || json_object_get(seen, f) != NULL)
			continue;
		if (json_object_set_new(seen, f, json_true()) < 0 ||
		    (s = tally_get(files, f)) == NULL ||
		    json_object_set_new(a->set, f, json_true()) < 0) {
			rc = -1;
			break;
		}
		s->count++;
	}
	json_decref(seen);
	return seen == NULL ? -1 : rc;
}

static int count_files_and_authors(struct tally *files, struct tally *authors,
    const json_t *entries)
{
	const json_t *e;
	size_t i;

	json_array_foreach(entries, i, e) {
		struct slot *a = tally_get(authors, cv_json_str(e, "author", ""));

		if (a == NULL || (a->set == NULL && (a->set = json_object()) == NULL))
			return -1;
		a->count++;
		if (count_entry(files, a, e) < 0)
			return -1;
	}
	return 0;
}

static json_t *hotspots_build(const struct tally *t, int top)
{
	json_t *out = json_array();
	size_t *order, n, i;

	if (out == NULL || (order = tally_top(t, top, &n)) == NULL) {
		json_decref(out);
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (json_array_append_new(out, json_pack("{s:s,s:I}", "file",
		    t->slot[order[i]].key, "changes",
		    (json_int_t)t->slot[order[i]].count)) < 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	free(order);
	return out;
}

static json_t *authors_build(const struct tally *t, int top)
{
	json_t *out = json_array();
	size_t *order, n, i;

	if (out == NULL || (order = tally_top(t, top, &n)) == NULL) {
		json_decref(out);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		const struct slot *s = &t->slot[order[i]];

		if (json_array_append_new(out, json_pack("{s:s,s:I,s:I}",
		    "author", s->key, "commits", (json_int_t)s->count,
		    "files_touched", (json_int_t)json_object_size(s->set))) < 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
	free(order);
	return out;
}

/* max(1, authors with at least 5% of the commits), over all authors. */
static long long bus_factor(const struct tally *authors, size_t total)
{
	long long n = 0;
	size_t i;

	for (i = 0; i < authors->n; i++)
		if ((double)authors->slot[i].count >= (double)total * 0.05)
			n++;
	return n > 1 ? n : 1;
}

json_t *cv_arch_report_build(const json_t *entries, int top, const char *ts)
{
	struct tally files = { NULL, NULL, 0, 0 }, authors = { NULL, NULL, 0, 0 };
	size_t total = json_array_size(entries);
	json_t *report = NULL;

	if (total == 0)
		return json_pack("{s:s,s:i}", "error", "No git history available",
		    "commits_analyzed", 0);
	files.index = json_object();
	authors.index = json_object();
	if (files.index != NULL && authors.index != NULL &&
	    count_files_and_authors(&files, &authors, entries) == 0)
		report = json_pack("{s:I,s:o,s:o,s:o,s:I,s:s}",
		    "commits_analyzed", (json_int_t)total,
		    "hotspots", hotspots_build(&files, top),
		    "coupling", cv_arch_coupling_build(entries, top, 0),
		    "authors", authors_build(&authors, top),
		    "bus_factor", (json_int_t)bus_factor(&authors, total),
		    "timestamp", ts);
	tally_free(&files);
	tally_free(&authors);
	return report;
}

/* --- coupling provider, snapshot, command ------------------------------- */

json_t *cv_arch_coupling_load(const char *work_dir, const char *repo_dir)
{
	char path[4096];
	json_t *snap, *coupling, *entries;

	snprintf(path, sizeof(path), "%s%s%s", work_dir ? work_dir : "",
	    work_dir ? "/" : "", CV_ARCH_SNAPSHOT_PATH);
	snap = json_load_file(path, 0, NULL);
	if ((coupling = cv_json_arr(snap, "coupling")) != NULL) {
		json_incref(coupling);
		json_decref(snap);
		return coupling;
	}
	json_decref(snap);
	if ((entries = cv_arch_log_load(repo_dir, CV_ARCH_RISK_COMMITS)) == NULL)
		return NULL;
	coupling = cv_arch_risk_coupling_build(entries);
	json_decref(entries);
	return coupling;
}

enum cv_err cv_arch_snapshot_write(const json_t *report, const char *path,
    char **errmsg)
{
	char *tmp = NULL;
	int saved;

	*errmsg = NULL;
	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return CV_ENOMEM;
	/* Readers (the coupling provider) must never see a half-written file. */
	if (cv_mkdir_parents(path) == 0 &&
	    json_dump_file(report, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) == 0 &&
	    rename(tmp, path) == 0) {
		free(tmp);
		return CV_OK;
	}
	saved = errno;
	unlink(tmp);
	free(tmp);
	if (asprintf(errmsg, "Cannot write snapshot %s: %s", path,
	    strerror(saved)) < 0) {
		*errmsg = NULL;
		return CV_ENOMEM;
	}
	return CV_EINVAL;
}

json_t *cv_arch_command_build(const char *repo_dir, int max_commits, int top,
    const char *snapshot_path, const char *ts)
{
	char now[CV_TS_LEN], *err = NULL;
	json_t *entries, *report;

	if (ts == NULL) {
		cv_now_ts(now);
		ts = now;
	}
	if ((entries = cv_arch_log_load(repo_dir, max_commits)) == NULL)
		return NULL;
	report = cv_arch_report_build(entries, top, ts);
	json_decref(entries);
	if (report == NULL || snapshot_path == NULL ||
	    json_object_get(report, "error") != NULL)
		return report;
	if (cv_arch_snapshot_write(report, snapshot_path, &err) != CV_OK) {
		json_decref(report);
		report = err ? json_pack("{s:s}", "error", err) : NULL;
		free(err);
	}
	return report;
}
