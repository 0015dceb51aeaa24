/* mirror.c - bare mirrors, candidate commits, check worktrees and the
 * fast-forward push (decisions.md D-9), all through the git program. */
#include "mirror.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "clock.h"
#include "files.h"
#include "proc.h"
#include "scm.h"

#define MSG_MAX 500
#define TIMEOUT_DEFAULT_MS (600 * 1000)

static int fits(char *buf, size_t size, const char *fmt, const char *a,
    const char *b)
{
	int n = snprintf(buf, size, fmt, a, b);

	return n >= 0 && (size_t)n < size;
}

enum cv_err cv_mirror_init(struct cv_mirror *m, const char *var_dir,
    const char *name, const char *url, const char *token)
{
	const char *env = getenv("CONVERGE_VAR_DIR");

	memset(m, 0, sizeof *m);
	if (!var_dir)
		var_dir = env && *env ? env : "./var";
	m->url = url;
	m->token = token && *token ? token : NULL;
	if (!fits(m->dir, sizeof m->dir, "%s/repos/%s.git", var_dir, name) ||
	    !fits(m->lock, sizeof m->lock, "%s/repos/%s.lock", var_dir, name) ||
	    !fits(m->wt_root, sizeof m->wt_root, "%s/repos/%s.wt", var_dir,
	    name))
		return CV_EINVAL;
	return CV_OK;
}

void cv_mirror_token_env(const char *token, const char *env[4], char *buf,
    size_t size)
{
	static const char count[] = "GIT_CONFIG_COUNT=1";
	static const char key[] = "GIT_CONFIG_KEY_0=http.extraHeader";
	static const char prefix[] = "GIT_CONFIG_VALUE_0=Authorization: Basic ";
	char *cred = NULL;
	size_t clen, need;

	env[0] = NULL;
	if (!token || asprintf(&cred, "x-access-token:%s", token) < 0)
		return;
	clen = strlen(cred);
	need = sizeof prefix + 4 * ((clen + 2) / 3) + 1;
	if (need <= size) {
		memcpy(buf, prefix, sizeof prefix - 1);
		EVP_EncodeBlock((unsigned char *)buf + sizeof prefix - 1,
		    (const unsigned char *)cred, (int)clen);
		env[0] = count;
		env[1] = key;
		env[2] = buf;
		env[3] = NULL;
	}
	explicit_bzero(cred, clen);
	free(cred);
}

/* Runs git with the mirror's environment: untranslated messages, no
 * prompt, an identity for commit-tree when the host has none, and the
 * token header when there is a token. */
static enum cv_err git(struct cv_mirror *m, const char *cwd,
    const char *const argv[], struct cv_proc_result *r, char **errmsg)
{
	const char *env[16] = { "LC_ALL=C", "GIT_TERMINAL_PROMPT=0",
	    "GIT_ASKPASS=true", "SSH_ASKPASS=true" };
	size_t n = 4;
	char buf[8192];
	struct cv_proc_opts o = { .cwd = cwd, .timeout_ms = m->timeout_ms >
	    0 ? m->timeout_ms : TIMEOUT_DEFAULT_MS, .env = env };
	enum cv_err e;

	if (!getenv("GIT_COMMITTER_NAME")) {
		env[n++] = "GIT_COMMITTER_NAME=Converge";
		env[n++] = "GIT_COMMITTER_EMAIL=converge@localhost";
	}
	if (!getenv("GIT_AUTHOR_NAME")) {
		env[n++] = "GIT_AUTHOR_NAME=Converge";
		env[n++] = "GIT_AUTHOR_EMAIL=converge@localhost";
	}
	if (m->token)
		cv_mirror_token_env(m->token, env + n, buf, sizeof buf);
	else
		env[n] = NULL;
	e = cv_proc_run(argv, &o, r);
	explicit_bzero(buf, sizeof buf);
	if (e == CV_ETIMEOUT) {
		if (asprintf(errmsg, "git %s timed out", argv[1]) < 0)
			*errmsg = NULL;
	} else if (e == CV_EEXEC)
		*errmsg = strdup(r->error ? r->error : "cannot run git");
	return e;
}

/* git's message for a call that ran and failed (stderr, else stdout). */
static char *failure_dup(const char *what, const struct cv_proc_result *r)
{
	const char *msg = r->err_len ? r->err : r->out;
	size_t len = r->err_len ? r->err_len : r->out_len;
	char *t = cv_proc_text_trim_dup(msg, len, MSG_MAX), *s = NULL;

	if (t && asprintf(&s, "%s: %s", what, *t ? t : "failed") < 0)
		s = NULL;
	free(t);
	return s;
}

/* Runs git and wants exit 0; else *errmsg says what failed. */
static enum cv_err git_ok(struct cv_mirror *m, const char *cwd,
    const char *const argv[], struct cv_proc_result *r, const char *what,
    char **errmsg)
{
	enum cv_err e = git(m, cwd, argv, r, errmsg);

	if (e == CV_OK && r->exit_code != 0) {
		*errmsg = failure_dup(what, r);
		e = CV_EEXEC;
	}
	return e;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool mirror_usable(struct cv_mirror *m)
{
	const char *argv[] = { "git", "rev-parse", "--is-bare-repository",
	    NULL };
	struct cv_proc_result r;
	char path[2100], *msg = NULL;
	bool ok;

	snprintf(path, sizeof path, "%s/HEAD", m->dir);
	if (access(path, F_OK) != 0)
		return false;
	ok = git(m, m->dir, argv, &r, &msg) == CV_OK && r.exit_code == 0 &&
	    strncmp(r.out, "true", 4) == 0;
	cv_proc_result_free(&r);
	free(msg);
	return ok;
}

static enum cv_err mirror_create(struct cv_mirror *m, char **errmsg)
{
	const char *argv[] = { "git", "init", "--quiet", "--bare", m->dir,
	    NULL };
	struct cv_proc_result r;
	enum cv_err e;

	rm_tree(m->dir);
	if (cv_mkdir_parents(m->dir) != 0) {
		if (asprintf(errmsg, "cannot create the mirror directory: %s",
		    strerror(errno)) < 0)
			*errmsg = NULL;
		return CV_EEXEC;
	}
	e = git_ok(m, NULL, argv, &r, "git init", errmsg);
	cv_proc_result_free(&r);
	return e;
}

static int lock_open(struct cv_mirror *m, char **errmsg)
{
	int fd;

	if (cv_mkdir_parents(m->lock) != 0 ||
	    (fd = open(m->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		if (asprintf(errmsg, "cannot open the mirror lock: %s",
		    strerror(errno)) < 0)
			*errmsg = NULL;
		return -1;
	}
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR) {
			close(fd);
			if (asprintf(errmsg, "cannot lock the mirror: %s",
			    strerror(errno)) < 0)
				*errmsg = NULL;
			return -1;
		}
	return fd;
}

enum cv_err cv_mirror_sync(struct cv_mirror *m, char **errmsg)
{
	const char *argv[] = { "git", "fetch", "--quiet", "--prune",
	    "--no-tags", "--no-write-fetch-head", "--", m->url,
	    "+refs/heads/*:refs/heads/*", "+refs/pull/*/head:refs/pull/*/head",
	    NULL };
	struct cv_proc_result r = { 0 };
	enum cv_err e = CV_OK;
	int fd;

	*errmsg = NULL;
	if ((fd = lock_open(m, errmsg)) < 0)
		return CV_EEXEC;
	if (!mirror_usable(m))
		e = mirror_create(m, errmsg);
	if (e == CV_OK)
		e = git_ok(m, m->dir, argv, &r, "git fetch", errmsg);
	cv_proc_result_free(&r);
	close(fd);      /* releases the flock */
	return e;
}

static bool hex_sha(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n == 40 && (s[n] == '\0' || s[n] == '\n');
}

enum cv_err cv_mirror_resolve(struct cv_mirror *m, const char *ref,
    char sha[CV_SHA_LEN], char **errmsg)
{
	char spec[1100];
	const char *argv[] = { "git", "rev-parse", "--verify", "--quiet",
	    spec, NULL };
	struct cv_proc_result r;
	enum cv_err e;

	*errmsg = NULL;
	sha[0] = '\0';
	if (!cv_scm_ref_ok(ref) || strlen(ref) > 1000)
		return CV_EINVAL;
	snprintf(spec, sizeof spec, "%s^{commit}", ref);
	if ((e = git(m, m->dir, argv, &r, errmsg)) == CV_OK) {
		if (r.exit_code == 0 && hex_sha(r.out))
			snprintf(sha, CV_SHA_LEN, "%.40s", r.out);
		else
			e = CV_ENOTFOUND;
	}
	cv_proc_result_free(&r);
	return e;
}

enum cv_err cv_mirror_resolve_many(struct cv_mirror *m,
    const char *const refs[], size_t n, char (*shas)[CV_SHA_LEN],
    char **errmsg)
{
	const char **argv = calloc(n + 3, sizeof(*argv));
	char **specs = calloc(n + 1, sizeof(*specs));
	size_t *which = calloc(n + 1, sizeof(*which)), k = 0;
	struct cv_proc_result r = { 0 };
	enum cv_err e = CV_OK;

	*errmsg = NULL;
	for (size_t i = 0; i < n; i++)
		shas[i][0] = '\0';
	if (!argv || !specs || !which) {
		e = CV_ENOMEM;
		goto done;
	}
	argv[0] = "git";
	argv[1] = "rev-parse";
	for (size_t i = 0; i < n; i++) {
		if (!cv_scm_ref_plain(refs[i]))
			continue;
		if (asprintf(&specs[k], "%s^{commit}", refs[i]) < 0) {
			specs[k] = NULL;
			e = CV_ENOMEM;
			goto done;
		}
		which[k] = i;
		argv[2 + k] = specs[k];
		k++;
	}
	if (k == 0 || (e = git(m, m->dir, argv, &r, errmsg)) != CV_OK)
		goto done;
	/* One line per argument, up to the first git could not resolve
	 * (printed back as given, not a sha). */
	for (size_t j = 0, off = 0; j < k && off < r.out_len &&
	    hex_sha(r.out + off); j++, off += 41)
		snprintf(shas[which[j]], CV_SHA_LEN, "%.40s", r.out + off);
done:
	cv_proc_result_free(&r);
	for (size_t j = 0; specs && j < k; j++)
		free(specs[j]);
	free(specs);
	free(which);
	free(argv);
	return e;
}

/* Non-empty lines as a JSON array of strings. */
static json_t *lines(const char *text)
{
	json_t *out = json_array();
	const char *p = text;

	while (p && *p) {
		size_t n = strcspn(p, "\n");
		if (n) {
			char *t = cv_proc_text_dup(p, n, (size_t)-1);
			json_array_append_new(out, json_string(t ? t : ""));
			free(t);
		}
		p += n + (p[n] == '\n');
	}
	return out;
}

static enum cv_err files_changed(struct cv_mirror *m, const char *a,
    const char *b, json_t **out, char **errmsg)
{
	const char *argv[] = { "git", "diff", "--name-only", "--no-renames",
	    a, b, "--", NULL };
	struct cv_proc_result r;
	enum cv_err e = git_ok(m, m->dir, argv, &r, "git diff", errmsg);

	*out = e == CV_OK ? lines(r.out) : NULL;
	cv_proc_result_free(&r);
	return e;
}

enum cv_err cv_mirror_candidate(struct cv_mirror *m, const char *target_sha,
    const char *source_sha, const char *message, json_t **out,
    char **errmsg)
{
	const char *mt[] = { "git", "merge-tree", "--write-tree", target_sha,
	    source_sha, NULL };
	char tree[CV_SHA_LEN];
	const char *ct[] = { "git", "commit-tree", tree, "-p", target_sha,
	    "-p", source_sha, "-m", message, NULL };
	struct cv_proc_result r = { 0 }, c = { 0 };
	json_t *files = NULL;
	enum cv_err e;

	*out = NULL;
	*errmsg = NULL;
	if (!hex_sha(target_sha) || !hex_sha(source_sha))
		return CV_EINVAL;
	if ((e = git(m, m->dir, mt, &r, errmsg)) != CV_OK)
		goto done;
	if (r.exit_code == 1) {
		/* Conflicts: stdout holds the tree, the conflicted entries and
		 * git's CONFLICT messages naming the paths. */
		json_t *conf = cv_scm_conflicts_build(r.out, r.out);
		*out = json_pack("{s:b,s:o,s:[],s:s,s:s,s:n}", "mergeable", 0,
		    "conflicts", conf ? conf : json_array(), "files_changed",
		    "target_sha", target_sha, "source_sha", source_sha,
		    "candidate_sha");
		goto done;
	}
	if (r.exit_code != 0 || !hex_sha(r.out)) {
		*errmsg = failure_dup("git merge-tree", &r);
		e = CV_EEXEC;
		goto done;
	}
	snprintf(tree, sizeof tree, "%.40s", r.out);
	if ((e = git_ok(m, m->dir, ct, &c, "git commit-tree", errmsg)) !=
	    CV_OK)
		goto done;
	c.out[strcspn(c.out, "\n")] = '\0';
	if ((e = files_changed(m, target_sha, c.out, &files, errmsg)) != CV_OK)
		goto done;
	*out = json_pack("{s:b,s:[],s:o,s:s,s:s,s:s}", "mergeable", 1,
	    "conflicts", "files_changed", files, "target_sha", target_sha,
	    "source_sha", source_sha, "candidate_sha", c.out);
done:
	if (e == CV_OK && !*out)
		e = CV_ENOMEM;
	cv_proc_result_free(&r);
	cv_proc_result_free(&c);
	return e;
}

enum cv_err cv_mirror_worktree_add(struct cv_mirror *m, const char *sha,
    char **path_out, char **errmsg)
{
	char id[CV_ID12_LEN], *path = NULL;
	struct cv_proc_result r;
	enum cv_err e;

	*path_out = NULL;
	*errmsg = NULL;
	if (!hex_sha(sha))
		return CV_EINVAL;
	cv_id12(id);
	if (asprintf(&path, "%s/%ld-%s", m->wt_root, (long)getpid(), id) < 0)
		return CV_ENOMEM;
	const char *argv[] = { "git", "worktree", "add", "--quiet", "--detach",
	    path, sha, NULL };
	if (cv_mkdir_parents(path) != 0) {
		free(path);
		*errmsg = strdup("cannot create the worktree directory");
		return CV_EEXEC;
	}
	e = git_ok(m, m->dir, argv, &r, "git worktree add", errmsg);
	cv_proc_result_free(&r);
	if (e != CV_OK) {
		rm_tree(path);
		free(path);
		return e;
	}
	*path_out = path;
	return CV_OK;
}

enum cv_err cv_mirror_worktree_reset(struct cv_mirror *m, const char *path,
    const char *sha, char **errmsg)
{
	const char *co[] = { "git", "checkout", "--quiet", "--force",
	    "--detach", sha, NULL };
	const char *clean[] = { "git", "clean", "-q", "-ffdx", NULL };
	struct cv_proc_result r;
	enum cv_err e;

	*errmsg = NULL;
	if (!hex_sha(sha))
		return CV_EINVAL;
	e = git_ok(m, path, co, &r, "git checkout", errmsg);
	cv_proc_result_free(&r);
	if (e == CV_OK) {
		e = git_ok(m, path, clean, &r, "git clean", errmsg);
		cv_proc_result_free(&r);
	}
	return e;
}

static void prune(struct cv_mirror *m)
{
	const char *argv[] = { "git", "worktree", "prune", NULL };
	struct cv_proc_result r;
	char *msg = NULL;

	if (access(m->dir, F_OK) == 0)
		git(m, m->dir, argv, &r, &msg);
	else
		memset(&r, 0, sizeof r);
	cv_proc_result_free(&r);
	free(msg);
}

void cv_mirror_worktree_remove(struct cv_mirror *m, const char *path)
{
	if (!path)
		return;
	/* The directory goes first and whatever happens: checks may have
	 * left files git does not know; prune then drops the registration. */
	rm_tree(path);
	prune(m);
}

void cv_mirror_sweep(struct cv_mirror *m)
{
	DIR *d = opendir(m->wt_root);
	struct dirent *de;
	char path[4200];

	if (!d)
		return;
	while ((de = readdir(d))) {
		long pid = strtol(de->d_name, NULL, 10);
		if (de->d_name[0] == '.' || pid <= 0)
			continue;
		if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		snprintf(path, sizeof path, "%s/%s", m->wt_root, de->d_name);
		rm_tree(path);
	}
	closedir(d);
	prune(m);
}

enum cv_err cv_mirror_is_ancestor(struct cv_mirror *m, const char *a,
    const char *b, bool *yes, char **errmsg)
{
	const char *argv[] = { "git", "merge-base", "--is-ancestor", a, b,
	    NULL };
	struct cv_proc_result r;
	enum cv_err e;

	*yes = false;
	*errmsg = NULL;
	if (!hex_sha(a) || !hex_sha(b))
		return CV_EINVAL;
	if ((e = git(m, m->dir, argv, &r, errmsg)) == CV_OK) {
		if (r.exit_code == 0)
			*yes = true;
		else if (r.exit_code != 1) {
			*errmsg = failure_dup("git merge-base", &r);
			e = CV_EEXEC;
		}
	}
	cv_proc_result_free(&r);
	return e;
}

/*
 * The commit-graph of what the mirror's refs reach, after a push made
 * the candidates part of it. Every next candidate's merge-tree walks
 * from the target's tip down to the merge base: through every candidate
 * landed since the last fetch, read as loose objects (open, inflate)
 * without the graph, from one mmap'd file with it. A cache: a failure
 * is ignored, and git falls back to the objects.
 */
static void graph_write(struct cv_mirror *m)
{
	const char *argv[] = { "git", "commit-graph", "write", "--reachable",
	    NULL };
	struct cv_proc_result r;
	char *ignored = NULL;

	git(m, m->dir, argv, &r, &ignored);
	cv_proc_result_free(&r);
	free(ignored);
}

enum cv_err cv_mirror_push(struct cv_mirror *m, const char *sha,
    const char *branch, bool *refused, char **errmsg)
{
	char spec[1200];
	const char *argv[] = { "git", "push", "--porcelain", "--quiet", "--",
	    m->url, spec, NULL };
	struct cv_proc_result r;
	enum cv_err e;

	*refused = false;
	*errmsg = NULL;
	if (!hex_sha(sha) || !cv_scm_ref_ok(branch) || strlen(branch) > 1000)
		return CV_EINVAL;
	/* No '+': the remote refuses anything but a fast-forward. */
	snprintf(spec, sizeof spec, "%s:refs/heads/%s", sha, branch);
	if ((e = git(m, m->dir, argv, &r, errmsg)) != CV_OK)
		goto done;
	if (r.exit_code != 0) {
		/* --porcelain marks a refused ref with '!' (rejected,
		 * non-fast-forward or fetch first). */
		if (strstr(r.out, "\n!") || r.out[0] == '!' ||
		    strstr(r.err, "[rejected]") || strstr(r.err,
		    "non-fast-forward") || strstr(r.err, "fetch first"))
			*refused = true;
		else {
			*errmsg = failure_dup("git push", &r);
			e = CV_EEXEC;
		}
	} else {
		/* The remote's branch is sha now: so is the mirror's, and the
		 * next candidate of this cycle builds on it without a fetch.
		 * Under the mirror's lock: a fetch by another process (a
		 * validation over HTTP) moving the same ref at the same time
		 * would fail with "cannot lock ref". Without the lock the
		 * next fetch brings the ref anyway. */
		const char *up[] = { "git", "update-ref", spec + strlen(sha) + 1,
		    sha, NULL };
		struct cv_proc_result u = { 0 };
		char *ignored = NULL;
		int fd = lock_open(m, &ignored);
		if (fd >= 0) {
			git(m, m->dir, up, &u, &ignored);
			graph_write(m);
			close(fd);
		}
		cv_proc_result_free(&u);
		free(ignored);
	}
done:
	cv_proc_result_free(&r);
	return e;
}
