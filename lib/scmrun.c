/* scmrun.c - a queue run's cache of what git said (see scmrun.h). */
#include "scmrun.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "proc.h"
#include "scm.h"

#define SHA_MAX 65      /* SHA-256 in hex and the NUL */
#define BATCH_MAX 64    /* refs, or source/target pairs, per git child */

struct ref_ent {
	char *name;
	char sha[SHA_MAX];              /* "" until resolved */
	size_t pending;                 /* expected pairs naming it that were
	                                 * not simulated yet */
};

struct pair_ent {
	char *source, *target;
	size_t left;                    /* expected simulations not done yet;
	                                 * at 0 its answers are not asked for
	                                 * in the batches any more */
};

/* A target sha a merge of this run made. */
struct made_ent {
	char sha[SHA_MAX];
};

struct diff_ent {
	char t[SHA_MAX], s[SHA_MAX];
	json_t *files;
};

struct merge_ent {
	char t[SHA_MAX], s[SHA_MAX];
	bool clean;                     /* false: asked in a batch, no clean
	                                 * answer: ask alone */
};

struct cv_scm_run {
	char *repo_dir;
	char *top, *git_dir;            /* NULL until git was asked */
	struct ref_ent *refs;           /* every ref seen: the expected first */
	size_t nrefs, refs_cap;
	struct pair_ent *pairs;         /* expected simulations, in order */
	size_t npairs, pairs_cap;
	struct diff_ent *diffs;         /* files_changed by (target, source) */
	size_t ndiffs, diffs_cap;
	struct merge_ent *merges;       /* merge-tree --stdin answers */
	size_t nmerges;
	struct made_ent *made;          /* target tips made by the run's merges */
	size_t nmade, made_cap;
};

/* p (of *cap elements of size sz, n used) with room for one more: p
 * itself or its reallocation; NULL on failure (p is left as it was). */
static void *grow(void *p, size_t *cap, size_t n, size_t sz)
{
	size_t want = *cap ? *cap * 2 : 16;

	if (n < *cap)
		return p;
	if ((p = realloc(p, want * sz)) != NULL)
		*cap = want;
	return p;
}

static bool is_sha(const char *s, size_t n)
{
	if (n != 40 && n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Plain refs are resolved many per child (cv_scm_ref_plain). */
static bool batchable(const char *ref)
{
	return cv_scm_ref_plain(ref);
}

struct cv_scm_run *cv_scm_run_new(const char *repo_dir)
{
	struct cv_scm_run *s = calloc(1, sizeof(*s));

	if (s && !(s->repo_dir = strdup(repo_dir ? repo_dir : "."))) {
		free(s);
		s = NULL;
	}
	return s;
}

void cv_scm_run_free(struct cv_scm_run *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nrefs; i++)
		free(s->refs[i].name);
	for (size_t i = 0; i < s->npairs; i++) {
		free(s->pairs[i].source);
		free(s->pairs[i].target);
	}
	for (size_t i = 0; i < s->ndiffs; i++)
		json_decref(s->diffs[i].files);
	free(s->refs);
	free(s->pairs);
	free(s->diffs);
	free(s->merges);
	free(s->made);
	free(s->top);
	free(s->git_dir);
	free(s->repo_dir);
	free(s);
}

static struct ref_ent *ref_find(struct cv_scm_run *s, const char *name)
{
	for (size_t i = 0; i < s->nrefs; i++)
		if (strcmp(s->refs[i].name, name) == 0)
			return &s->refs[i];
	return NULL;
}

/* The entry of name, added when new; NULL on allocation failure. */
static struct ref_ent *ref_get(struct cv_scm_run *s, const char *name)
{
	struct ref_ent *r = ref_find(s, name);

	if (r)
		return r;
	if (!(r = grow(s->refs, &s->refs_cap, s->nrefs, sizeof(*s->refs))))
		return NULL;
	s->refs = r;
	r = &s->refs[s->nrefs];
	memset(r, 0, sizeof(*r));
	if (!(r->name = strdup(name)))
		return NULL;
	s->nrefs++;
	return r;
}

/* A merge moved its target and HEAD: what refs name is asked again. */
static void refs_forget(struct cv_scm_run *s)
{
	for (size_t i = 0; i < s->nrefs; i++)
		s->refs[i].sha[0] = '\0';
}

void cv_scm_run_expect(struct cv_scm_run *s, const char *source,
    const char *target)
{
	struct pair_ent *p = NULL;

	if (!s || !cv_scm_ref_ok(source) || !cv_scm_ref_ok(target) ||
	    !ref_get(s, source) || !ref_get(s, target))
		return;
	for (size_t i = 0; i < s->npairs && !p; i++)
		if (strcmp(s->pairs[i].source, source) == 0 &&
		    strcmp(s->pairs[i].target, target) == 0)
			p = &s->pairs[i];
	if (!p) {
		if (!(p = grow(s->pairs, &s->pairs_cap, s->npairs,
		    sizeof(*s->pairs))))
			return;
		s->pairs = p;
		p = &s->pairs[s->npairs];
		p->source = strdup(source);
		p->target = strdup(target);
		p->left = 0;
		if (!p->source || !p->target) {
			free(p->source);
			free(p->target);
			return;
		}
		s->npairs++;
	}
	/* One more simulation of the pair to come (two intents may share
	 * it). Looked up again: adding target may have moved source. */
	p->left++;
	ref_find(s, source)->pending++;
	ref_find(s, target)->pending++;
}

/* source into target was simulated: once no simulation of the pair is
 * left, its answers are not asked for in the batches any more, nor its
 * refs after a merge (asked alone if they are wanted again). */
static void pair_simulated(struct cv_scm_run *s, const char *source,
    const char *target)
{
	for (size_t i = 0; i < s->npairs; i++) {
		struct pair_ent *p = &s->pairs[i];
		struct ref_ent *r;

		if (p->left == 0 || strcmp(p->source, source) != 0 ||
		    strcmp(p->target, target) != 0)
			continue;
		p->left--;
		if ((r = ref_find(s, source)) && r->pending)
			r->pending--;
		if ((r = ref_find(s, target)) && r->pending)
			r->pending--;
		return;
	}
}

static bool made_has(const struct cv_scm_run *s, const char *sha)
{
	for (size_t i = 0; i < s->nmade; i++)
		if (strcmp(s->made[i].sha, sha) == 0)
			return true;
	return false;
}

/* The target tip sha (len bytes) is one a merge of this run made. */
static void made_add(struct cv_scm_run *s, const char *sha, size_t len)
{
	struct made_ent *m;

	if (len >= SHA_MAX || (m = grow(s->made, &s->made_cap, s->nmade,
	    sizeof(*s->made))) == NULL)
		return;
	s->made = m;
	memcpy(s->made[s->nmade].sha, sha, len);
	s->made[s->nmade++].sha[len] = '\0';
}

/* The next line of *pos (without its '\n') as [*line, *len); false at
 * the end. */
static bool next_line(const char **pos, const char *end, const char **line,
    size_t *len)
{
	const char *nl;

	if (*pos >= end)
		return false;
	nl = memchr(*pos, '\n', (size_t)(end - *pos));
	*line = *pos;
	*len = nl ? (size_t)(nl - *pos) : (size_t)(end - *pos);
	*pos = nl ? nl + 1 : end;
	return true;
}

/* Top level and git directory, asked once per run (one child instead of
 * a `rev-parse --show-toplevel` per simulation and per merge). */
static enum cv_err run_init(struct cv_scm_run *s, char **errmsg)
{
	const char *argv[] = { "git", "rev-parse", "--show-toplevel",
	    "--absolute-git-dir", NULL };
	struct cv_proc_result r;
	const char *pos, *end, *l1 = NULL, *l2 = NULL;
	size_t n1 = 0, n2 = 0;
	enum cv_err e;

	if (s->top)
		return CV_OK;
	e = cv_scm_git(s->repo_dir, argv, NULL, 0, &r, errmsg);
	if (e == CV_OK && r.exit_code != 0) {
		*errmsg = cv_scm_failure_dup("git rev-parse --show-toplevel", &r);
		e = CV_EEXEC;
	}
	pos = r.out;
	end = r.out + r.out_len;
	if (e == CV_OK && (!next_line(&pos, end, &l1, &n1) ||
	    !next_line(&pos, end, &l2, &n2) || n1 == 0 || n2 == 0)) {
		*errmsg = strdup("git rev-parse --show-toplevel: no answer");
		e = CV_EEXEC;
	}
	if (e == CV_OK && (!(s->top = strndup(l1, n1)) ||
	    !(s->git_dir = strndup(l2, n2)))) {
		free(s->top);
		s->top = NULL;
		e = CV_ENOMEM;
	}
	cv_proc_result_free(&r);
	return e;
}

/*
 * One `git rev-parse n1^{commit} n2^{commit} ...` for first and up to
 * BATCH_MAX - 1 other unresolved plain refs of pairs not simulated yet
 * (the others are not asked for again, as a rule). git prints one sha per
 * argument and stops at the first it cannot resolve (printing that
 * argument back): the answered prefix is kept, the rest stays unknown.
 */
static enum cv_err resolve_batch(struct cv_scm_run *s, struct ref_ent *first,
    char **errmsg)
{
	struct ref_ent *ents[BATCH_MAX];
	const char *argv[BATCH_MAX + 3], *pos, *end, *line;
	char *specs[BATCH_MAX];
	size_t n = 0, len;
	struct cv_proc_result r;
	enum cv_err e = CV_OK;

	ents[n++] = first;
	for (size_t i = 0; i < s->nrefs && n < BATCH_MAX; i++)
		if (&s->refs[i] != first && s->refs[i].sha[0] == '\0' &&
		    s->refs[i].pending && batchable(s->refs[i].name))
			ents[n++] = &s->refs[i];
	argv[0] = "git";
	argv[1] = "rev-parse";
	for (size_t i = 0; i < n; i++) {
		if (asprintf(&specs[i], "%s^{commit}", ents[i]->name) < 0) {
			for (size_t j = 0; j < i; j++)
				free(specs[j]);
			return CV_ENOMEM;
		}
		argv[i + 2] = specs[i];
	}
	argv[n + 2] = NULL;
	e = cv_scm_git(s->top, argv, NULL, 0, &r, errmsg);
	pos = r.out;
	end = r.out + r.out_len;
	for (size_t i = 0; e == CV_OK && i < n &&
	    next_line(&pos, end, &line, &len) && is_sha(line, len); i++) {
		memcpy(ents[i]->sha, line, len);
		ents[i]->sha[len] = '\0';
	}
	cv_proc_result_free(&r);
	for (size_t i = 0; i < n; i++)
		free(specs[i]);
	return e;
}

/* A ref that is not plain, on its own: `rev-parse --verify`. */
static enum cv_err resolve_one(struct cv_scm_run *s, struct ref_ent *ent,
    char **errmsg)
{
	char *spec = NULL, *sha;
	struct cv_proc_result r;
	enum cv_err e;

	if (asprintf(&spec, "%s^{commit}", ent->name) < 0)
		return CV_ENOMEM;
	const char *argv[] = { "git", "rev-parse", "--verify", "--quiet",
	    "--end-of-options", spec, NULL };
	e = cv_scm_git(s->top, argv, NULL, 0, &r, errmsg);
	if (e == CV_OK && r.exit_code == 0) {
		sha = cv_proc_text_trim_dup(r.out, r.out_len, 64);
		if (!sha)
			e = CV_ENOMEM;
		else if (is_sha(sha, strlen(sha)))
			snprintf(ent->sha, sizeof ent->sha, "%s", sha);
		free(sha);
	}
	cv_proc_result_free(&r);
	free(spec);
	return e;
}

/* ref's commit into sha (SHA_MAX bytes). CV_ENOTFOUND when git knows no
 * such commit; *errmsg set when git could not run. */
static enum cv_err resolve(struct cv_scm_run *s, const char *ref, char *sha,
    char **errmsg)
{
	struct ref_ent *ent;
	enum cv_err e;

	if (!cv_scm_ref_ok(ref))
		return CV_EINVAL;
	if ((e = run_init(s, errmsg)) != CV_OK)
		return e;
	if (!(ent = ref_get(s, ref)))
		return CV_ENOMEM;
	if (ent->sha[0] == '\0') {
		e = batchable(ref) ? resolve_batch(s, ent, errmsg) :
		    resolve_one(s, ent, errmsg);
		if (e != CV_OK)
			return e;
	}
	if (ent->sha[0] == '\0')
		return CV_ENOTFOUND;
	snprintf(sha, SHA_MAX, "%s", ent->sha);
	return CV_OK;
}

enum cv_err cv_scm_run_resolve(struct cv_scm_run *s, const char *ref,
    char **sha_out)
{
	char sha[SHA_MAX], *msg = NULL;
	enum cv_err e = resolve(s, ref, sha, &msg);

	free(msg);
	*sha_out = NULL;
	if (e == CV_OK && !(*sha_out = strdup(sha)))
		e = CV_ENOMEM;
	return e;
}

/* ---- files changed ----------------------------------------------------- */

static json_t *diff_find(const struct cv_scm_run *s, const char *t,
    const char *src)
{
	for (size_t i = 0; i < s->ndiffs; i++)
		if (strcmp(s->diffs[i].t, t) == 0 &&
		    strcmp(s->diffs[i].s, src) == 0)
			return s->diffs[i].files;
	return NULL;
}

/* Only the diffs against target sha t are asked for again. */
static void diffs_keep(struct cv_scm_run *s, const char *t)
{
	size_t k = 0;

	for (size_t i = 0; i < s->ndiffs; i++) {
		if (strcmp(s->diffs[i].t, t) == 0)
			s->diffs[k++] = s->diffs[i];
		else
			json_decref(s->diffs[i].files);
	}
	s->ndiffs = k;
}

static void diff_add(struct cv_scm_run *s, const char *t, const char *src,
    json_t *files_take)
{
	struct diff_ent *d;

	if (!files_take || !(d = grow(s->diffs, &s->diffs_cap, s->ndiffs,
	    sizeof(*s->diffs)))) {
		json_decref(files_take);
		return;
	}
	s->diffs = d;
	d = &s->diffs[s->ndiffs++];
	snprintf(d->t, sizeof(d->t), "%s", t);
	snprintf(d->s, sizeof(d->s), "%s", src);
	d->files = files_take;
}

static struct merge_ent *merge_find(struct cv_scm_run *s, const char *t,
    const char *sha);

/* Whether the answer for sha onto target sha t is known already. */
typedef bool (*known_fn)(struct cv_scm_run *s, const char *t,
    const char *sha);

static bool diff_known(struct cv_scm_run *s, const char *t, const char *sha)
{
	return diff_find(s, t, sha) != NULL;
}

static bool merge_known(struct cv_scm_run *s, const char *t, const char *sha)
{
	return merge_find(s, t, sha) != NULL;
}

/*
 * The batch for one git child: src first, then the resolved sources of
 * the run's other intents on target that were not simulated yet and
 * whose answer is not known, once each, at most BATCH_MAX in all.
 * Returns how many (list borrows).
 *
 * A target sha that a merge of this run made (asked is false: nothing
 * was asked on it yet) gets src alone: if src merges too, the answers
 * for the others would be thrown away unused (with 10 merges in a row,
 * 345 of 385 merges and diffs were). Its second question asks for all.
 */
static size_t batch_list(struct cv_scm_run *s, const char *target,
    const char *t, const char *src, const char **list, known_fn known,
    bool asked)
{
	size_t n = 0;

	list[n++] = src;
	if (!asked && made_has(s, t))
		return n;
	for (size_t i = 0; i < s->npairs && n < BATCH_MAX; i++) {
		struct ref_ent *ent = ref_find(s, s->pairs[i].source);
		bool dup = false;

		if (s->pairs[i].left == 0 ||
		    strcmp(s->pairs[i].target, target) != 0 || !ent ||
		    ent->sha[0] == '\0' || known(s, t, ent->sha))
			continue;
		for (size_t j = 0; j < n && !dup; j++)
			dup = strcmp(list[j], ent->sha) == 0;
		if (!dup)
			list[n++] = ent->sha;
	}
	return n;
}

/*
 * The files target sha t differs in from src and from the other expected
 * sources of the same target, in one `git diff-tree --stdin`: each input
 * line "S T" is commit S with T as its parent, the same names as
 * `diff-tree T S`; --always prints S as a header line even when nothing
 * differs, which is where one answer ends and the next begins.
 */
static enum cv_err diff_batch(struct cv_scm_run *s, const char *target,
    const char *t, const char *src, char **errmsg)
{
	const char *argv[] = { "git", "diff-tree", "--stdin", "--always", "-r",
	    "--name-only", NULL };
	const char *list[BATCH_MAX], *pos, *end, *line, *start;
	char in[BATCH_MAX * (2 * SHA_MAX + 2)];
	size_t n = 0, used = 0, len;
	struct cv_proc_result r;
	enum cv_err e;

	bool asked = false;

	for (size_t i = 0; i < s->ndiffs && !asked; i++)
		asked = strcmp(s->diffs[i].t, t) == 0;
	n = batch_list(s, target, t, src, list, diff_known, asked);
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(in + used, sizeof(in) - used, "%s %s\n",
		    list[i], t);
	e = cv_scm_git(s->top, argv, in, used, &r, errmsg);
	if (e != CV_OK || r.exit_code != 0) {
		/* Not cached: the caller asks for its one pair alone. */
		cv_proc_result_free(&r);
		return e;
	}
	diffs_keep(s, t);
	pos = r.out;
	end = r.out + r.out_len;
	for (size_t i = 0; i < n; i++) {
		char hdr[SHA_MAX];

		if (!next_line(&pos, end, &line, &len) || len != strlen(list[i]) ||
		    memcmp(line, list[i], len) != 0)
			break;
		/* list[i] lives in the cache, which diff_add may not move. */
		snprintf(hdr, sizeof(hdr), "%s", list[i]);
		start = pos;
		while (pos < end) {
			const char *save = pos;

			next_line(&pos, end, &line, &len);
			if (i + 1 < n && len == strlen(list[i + 1]) &&
			    memcmp(line, list[i + 1], len) == 0) {
				pos = save;
				break;
			}
		}
		diff_add(s, t, hdr, cv_scm_lines_build(start,
		    (size_t)(pos - start)));
	}
	cv_proc_result_free(&r);
	return CV_OK;
}

/* The files t and src differ in: cached, else a batch, else asked
 * alone; a failing diff lists nothing (as cv_scm_simulate). */
static enum cv_err files_changed(struct cv_scm_run *s, const char *target,
    const char *t, const char *src, json_t **out, char **errmsg)
{
	const char *argv[] = { "git", "diff-tree", "--no-commit-id",
	    "--name-only", "-r", t, src, NULL };
	struct cv_proc_result r;
	json_t *f = diff_find(s, t, src);
	enum cv_err e;

	if (!f) {
		if ((e = diff_batch(s, target, t, src, errmsg)) != CV_OK)
			return e;
		f = diff_find(s, t, src);
	}
	if (f) {
		*out = json_deep_copy(f);
		return *out ? CV_OK : CV_ENOMEM;
	}
	if ((e = cv_scm_git(s->top, argv, NULL, 0, &r, errmsg)) == CV_OK)
		*out = r.exit_code == 0 ? cv_scm_lines_build(r.out, r.out_len) :
		    json_array();
	cv_proc_result_free(&r);
	if (e == CV_OK && !*out)
		e = CV_ENOMEM;
	return e;
}

/* ---- clean merges ------------------------------------------------------- */

static struct merge_ent *merge_find(struct cv_scm_run *s, const char *t,
    const char *src)
{
	for (size_t i = 0; i < s->nmerges; i++)
		if (strcmp(s->merges[i].t, t) == 0 &&
		    strcmp(s->merges[i].s, src) == 0)
			return &s->merges[i];
	return NULL;
}

/* The next NUL-terminated token at *pos; false when there is none. */
static bool next_tok(const char **pos, const char *end, const char **tok,
    size_t *len)
{
	const char *z;

	if (*pos >= end || !(z = memchr(*pos, '\0', (size_t)(end - *pos))))
		return false;
	*tok = *pos;
	*len = (size_t)(z - *pos);
	*pos = z + 1;
	return true;
}

/*
 * Skips one conflicted record of `merge-tree --stdin` (git 2.39: -z
 * output) after its status and tree: the conflicted entries up to an
 * empty token, then messages "<n>, n paths, type, text" up to an empty
 * token. false when the output does not have that shape.
 */
static bool skip_conflicted(const char **pos, const char *end)
{
	const char *tok;
	size_t len;

	do
		if (!next_tok(pos, end, &tok, &len))
			return false;
	while (len > 0);
	for (;;) {
		unsigned long n;
		char *num_end;

		if (!next_tok(pos, end, &tok, &len))
			return false;
		if (len == 0)
			return true;
		n = strtoul(tok, &num_end, 10);
		if (num_end != tok + len || n > 1000)
			return false;
		for (unsigned long i = 0; i < n + 2; i++)
			if (!next_tok(pos, end, &tok, &len))
				return false;
	}
}

/*
 * Which of src and the other expected sources of target merge cleanly
 * into t, in one `git merge-tree --write-tree --stdin` (one merge per
 * input line "T S"; each answer starts with 1 when clean, 0 when not).
 * Only the clean answers are used: a conflicted merge is asked again on
 * its own so that its conflict list is built from the usual output. A
 * git without --stdin answers nothing, and every merge is asked alone.
 */
static enum cv_err merge_batch(struct cv_scm_run *s, const char *target,
    const char *t, const char *src, char **errmsg)
{
	const char *argv[] = { "git", "merge-tree", "--write-tree", "--stdin",
	    NULL };
	const char *list[BATCH_MAX], *pos, *end, *tok;
	char in[BATCH_MAX * (2 * SHA_MAX + 2)];
	size_t n = 0, used = 0, len, k = 0;
	struct cv_proc_result r;
	struct merge_ent *m;
	enum cv_err e;

	bool asked = false;

	for (size_t i = 0; i < s->nmerges && !asked; i++)
		asked = strcmp(s->merges[i].t, t) == 0;
	n = batch_list(s, target, t, src, list, merge_known, asked);
	/* Answers for an older target are not asked for again. */
	for (size_t i = 0; i < s->nmerges; i++)
		if (strcmp(s->merges[i].t, t) == 0)
			s->merges[k++] = s->merges[i];
	s->nmerges = k;
	if (!(m = realloc(s->merges, (s->nmerges + n) * sizeof(*m))))
		return CV_ENOMEM;
	s->merges = m;
	for (size_t i = 0; i < n; i++) {
		used += (size_t)snprintf(in + used, sizeof(in) - used, "%s %s\n",
		    t, list[i]);
		m = &s->merges[s->nmerges++];
		snprintf(m->t, sizeof(m->t), "%s", t);
		snprintf(m->s, sizeof(m->s), "%s", list[i]);
		m->clean = false;
	}
	e = cv_scm_git(s->top, argv, in, used, &r, errmsg);
	pos = r.out;
	end = r.out + r.out_len;
	for (size_t i = 0; e == CV_OK && i < n; i++) {
		bool clean;

		if (!next_tok(&pos, end, &tok, &len) || len != 1 ||
		    (tok[0] != '0' && tok[0] != '1'))
			break;
		clean = tok[0] == '1';
		if (!next_tok(&pos, end, &tok, &len) || !is_sha(tok, len))
			break;
		if (clean && (!next_tok(&pos, end, &tok, &len) || len != 0))
			break;
		if (!clean && !skip_conflicted(&pos, end))
			break;
		merge_find(s, t, list[i])->clean = clean;
	}
	cv_proc_result_free(&r);
	return e;
}

/* ---- simulate and merge ---------------------------------------------------- */

/* Resolves source then target; an unknown one is "Unknown ref: <ref>"
 * with `prefix` before it (D-8). */
static enum cv_err resolve_pair(struct cv_scm_run *s, const char *source,
    const char *target, char *ssha, char *tsha, const char *prefix,
    char **errmsg)
{
	const char *refs[] = { source, target };
	char *shas[] = { ssha, tsha };
	enum cv_err e = CV_OK;

	for (size_t i = 0; i < 2 && e == CV_OK; i++) {
		if (!shas[i])
			continue;
		e = resolve(s, refs[i], shas[i], errmsg);
		if (e == CV_ENOTFOUND && asprintf(errmsg, "%sUnknown ref: %s",
		    prefix, refs[i]) < 0)
			*errmsg = NULL;
	}
	return e;
}

static enum cv_err simulate(struct cv_scm_run *s, const char *source,
    const char *target, const char *now_ts, json_t **sim_out, char **errmsg)
{
	char ssha[SHA_MAX], tsha[SHA_MAX], ts[CV_TS_LEN];
	struct cv_proc_result mr;
	json_t *conflicts = NULL, *files = NULL;
	bool clean;
	enum cv_err e;

	*sim_out = NULL;
	*errmsg = NULL;
	if ((e = cv_scm_refs_check(source, target, errmsg)) != CV_OK ||
	    (e = run_init(s, errmsg)) != CV_OK ||
	    (e = resolve_pair(s, source, target, ssha, tsha, "", errmsg)) !=
	    CV_OK)
		return e;
	const char *argv[] = { "git", "merge-tree", "--write-tree", tsha, ssha,
	    NULL };
	struct merge_ent *known = merge_find(s, tsha, ssha);

	if (!known && (e = merge_batch(s, target, tsha, ssha, errmsg)) != CV_OK)
		return e;
	if ((known = merge_find(s, tsha, ssha)) && known->clean) {
		clean = true;
		conflicts = json_array();
	} else {
		/* A non-zero merge-tree status is the answer (a conflict). */
		if ((e = cv_scm_git(s->top, argv, NULL, 0, &mr, errmsg)) !=
		    CV_OK) {
			cv_proc_result_free(&mr);
			return e;
		}
		clean = mr.exit_code == 0;
		conflicts = clean ? json_array() :
		    cv_scm_conflicts_build(mr.out, mr.err);
		cv_proc_result_free(&mr);
	}
	if ((e = files_changed(s, target, tsha, ssha, &files, errmsg)) !=
	    CV_OK) {
		json_decref(conflicts);
		return e;
	}
	if (now_ts == NULL)
		cv_now_ts(ts);
	else
		snprintf(ts, sizeof(ts), "%s", now_ts);
	*sim_out = cv_scm_simulation_new(clean, conflicts, files, ts, source,
	    target);
	if (!*sim_out)
		return CV_ENOMEM;
	json_object_set_new(*sim_out, "source_sha", json_string(ssha));
	json_object_set_new(*sim_out, "target_sha", json_string(tsha));
	return CV_OK;
}

enum cv_err cv_scm_run_simulate(struct cv_scm_run *s, const char *source,
    const char *target, const char *now_ts, json_t **sim_out, char **errmsg)
{
	enum cv_err e = simulate(s, source, target, now_ts, sim_out, errmsg);

	pair_simulated(s, source, target);
	return e;
}

/* Runs one merge step; CV_EEXEC with "<what> failed: <git's message>"
 * when git exits non-zero. */
static enum cv_err step(struct cv_scm_run *s, const char *what,
    const char *const argv[], struct cv_proc_result *r, char **errmsg)
{
	enum cv_err e = cv_scm_git(s->top, argv, NULL, 0, r, errmsg);
	char *msg;

	if (e != CV_OK || r->exit_code == 0)
		return e;
	if (!(msg = cv_scm_failure_dup(what, r)))
		return CV_ENOMEM;
	if (asprintf(errmsg, "%s failed: %s", what, msg) < 0)
		*errmsg = NULL;
	free(msg);
	return CV_EEXEC;
}

/* True when HEAD is the branch target (`git checkout target` would do
 * nothing): read from the git directory, no child. */
static bool head_on(const struct cv_scm_run *s, const char *target)
{
	char path[4096], line[1024], want[1024];
	FILE *f;
	bool on = false;

	if (snprintf(path, sizeof(path), "%s/HEAD", s->git_dir) >=
	    (int)sizeof(path) || snprintf(want, sizeof(want),
	    "ref: refs/heads/%s\n", target) >= (int)sizeof(want) ||
	    !(f = fopen(path, "re")))
		return false;
	on = fgets(line, sizeof(line), f) && strcmp(line, want) == 0;
	fclose(f);
	return on;
}

/*
 * After the merge, one rev-parse: HEAD (the commit reported), the
 * target's tip and its second parent, then the refs of the pairs not
 * simulated yet (the merge made the run forget them). The target's new
 * tip is one the run made (batch_list). The merge counts when HEAD is the
 * target's tip and its second parent is the source commit merged;
 * *proven says so. git stops at the first argument it cannot resolve
 * (no second parent: nothing was merged), keeping what came before.
 */
static enum cv_err after_merge(struct cv_scm_run *s, const char *target,
    const char *ssha, char **sha_out, bool *proven, char **errmsg)
{
	const char *argv[BATCH_MAX + 6], *pos, *end, *line[3];
	struct ref_ent *ents[BATCH_MAX];
	char *specs[2 + BATCH_MAX];
	size_t n = 0, na = 0, len[3] = { 0, 0, 0 }, l;
	struct cv_proc_result r;
	enum cv_err e;

	*proven = false;
	argv[na++] = "git";
	argv[na++] = "rev-parse";
	argv[na++] = "HEAD";
	if (batchable(target)) {
		if (asprintf(&specs[0], "%s^{commit}", target) < 0)
			return CV_ENOMEM;
		if (asprintf(&specs[1], "%s^2", target) < 0) {
			free(specs[0]);
			return CV_ENOMEM;
		}
		argv[na++] = specs[0];
		argv[na++] = specs[1];
		for (size_t i = 0; i < s->nrefs && n < BATCH_MAX; i++)
			if (s->refs[i].pending && batchable(s->refs[i].name) &&
			    asprintf(&specs[2 + n], "%s^{commit}",
			    s->refs[i].name) >= 0) {
				ents[n] = &s->refs[i];
				argv[na++] = specs[2 + n++];
			}
	}
	argv[na] = NULL;
	e = step(s, "git rev-parse", argv, &r, errmsg);
	if (e == CV_EEXEC && r.exit_code > 0 && na > 3) {
		/* Stopped at an argument after HEAD: not a failure. */
		free(*errmsg);
		*errmsg = NULL;
		e = CV_OK;
	}
	pos = r.out;
	end = r.out + r.out_len;
	for (size_t i = 0; i < 3 && e == CV_OK; i++)
		if (!next_line(&pos, end, &line[i], &len[i]) ||
		    !is_sha(line[i], len[i]))
			len[i] = 0;
	if (e == CV_OK && len[0] == 0) {
		if (asprintf(errmsg, "git rev-parse failed: no HEAD after the "
		    "merge") < 0)
			*errmsg = NULL;
		e = CV_EEXEC;
	}
	if (e == CV_OK && !(*sha_out = strndup(line[0], len[0])))
		e = CV_ENOMEM;
	if (e == CV_OK && na > 3) {
		if (len[1])
			made_add(s, line[1], len[1]);
		*proven = len[1] == len[0] && memcmp(line[1], line[0],
		    len[0]) == 0 && len[2] == strlen(ssha) &&
		    memcmp(line[2], ssha, len[2]) == 0;
		/* The expected refs follow only when all three answered. */
		for (size_t i = 0; len[2] && i < n && next_line(&pos, end,
		    &line[0], &l) && is_sha(line[0], l); i++) {
			memcpy(ents[i]->sha, line[0], l);
			ents[i]->sha[l] = '\0';
		}
	}
	cv_proc_result_free(&r);
	if (na > 3) {
		for (size_t i = 0; i < 2 + n; i++)
			free(specs[i]);
	}
	return e;
}

/* `git merge-base --is-ancestor ssha target`: CV_OK when it says yes. */
static enum cv_err contains(struct cv_scm_run *s, const char *source,
    const char *ssha, const char *target, char **errmsg)
{
	const char *argv[] = { "git", "merge-base", "--is-ancestor", ssha,
	    target, NULL };
	struct cv_proc_result r;
	enum cv_err e = cv_scm_git(s->top, argv, NULL, 0, &r, errmsg);

	if (e == CV_OK && r.exit_code != 0) {
		if (asprintf(errmsg, "%s does not contain %s after the merge",
		    target, source) < 0)
			*errmsg = NULL;
		e = CV_EEXEC;
	}
	cv_proc_result_free(&r);
	return e;
}

enum cv_err cv_scm_run_merge(struct cv_scm_run *s, const char *source,
    const char *target, char **sha_out, char **errmsg)
{
	const char *abort_argv[] = { "git", "merge", "--abort", NULL };
	const char *checkout_argv[] = { "git", "checkout", target, "--", NULL };
	char ssha[SHA_MAX], *msg = NULL;
	struct cv_proc_result r;
	bool proven = false;
	enum cv_err e;

	*sha_out = NULL;
	*errmsg = NULL;
	memset(&r, 0, sizeof(r));
	if ((e = cv_scm_refs_check(source, target, errmsg)) != CV_OK ||
	    (e = run_init(s, errmsg)) != CV_OK ||
	    (e = resolve_pair(s, source, target, ssha, NULL,
	    "git merge failed: ", errmsg)) != CV_OK)
		return e;
	if (asprintf(&msg, "converge: merge %s into %s", source, target) < 0)
		return CV_ENOMEM;
	/* Automatic maintenance would be one more child per merge, run by
	 * git merge itself; the queue has no use for it mid-run. */
	const char *merge_argv[] = { "git", "-c", "maintenance.auto=false", "-c",
	    "gc.auto=0", "merge", "--no-ff", "-m", msg, ssha, NULL };
	if (!head_on(s, target) &&
	    (e = step(s, "git checkout", checkout_argv, &r, errmsg)) != CV_OK)
		goto out;
	cv_proc_result_free(&r);
	refs_forget(s);
	if ((e = step(s, "git merge", merge_argv, &r, errmsg)) != CV_OK) {
		/* Best effort: a conflicted index would make every later
		 * checkout, hence every later merge, fail too. */
		struct cv_proc_result ar;
		char *ignored = NULL;

		cv_scm_git(s->top, abort_argv, NULL, 0, &ar, &ignored);
		cv_proc_result_free(&ar);
		free(ignored);
		goto out;
	}
	cv_proc_result_free(&r);
	if ((e = after_merge(s, target, ssha, sha_out, &proven, errmsg)) !=
	    CV_OK)
		goto out;
	/* D-8: exit 0 is not proof enough. Without the proof of one
	 * rev-parse (the usual merge commit), git is asked. */
	if (!proven && (e = contains(s, source, ssha, target, errmsg)) !=
	    CV_OK) {
		free(*sha_out);
		*sha_out = NULL;
	}
out:
	cv_proc_result_free(&r);
	free(msg);
	return e;
}
