/* risk.c - risk scoring and diagnostics (domain.md 4.1-4.10, 4.12). */
#include "risk.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cv.h"
#include "depgraph.h"
#include "jsonx.h"
#include "num.h"

/* cycles(20) feeds path_dependence, cycles(10) the spiral bomb (4.5, 4.9):
 * one enumeration capped at 20 answers both. */
#define PD_CYCLE_CAP	20
#define SPIRAL_CAP	10
#define IMPACT_FILES	20
#define TOP_NODES	5
#define TOP_CANDIDATES	10

static const char *const core_paths[] = {
	"src/", "lib/", "core/", "pkg/", "internal/", "app/"
};
static const char *const core_targets[] = {
	"main", "master", "release", "production", "prod"
};

/* What evaluate reads from its inputs; strings borrow from the JSON. */
struct risk_input {
	const char	 *id, *source, *target, *level;
	const json_t	 *tenant;
	const char	**files, **deps, **scopes;
	size_t		  nfiles, ndeps, nscopes, nconflicts;
	size_t		  ngraph;	/* files that enter the graph */
	const json_t	 *coupling;
};

/* Everything derived while scoring, freed by ctx_free. */
struct risk_ctx {
	struct risk_input	 in;
	struct cv_graph		 g;
	size_t			*file_node;	/* node of files[i] */
	char			**file_parent;	/* parent(files[i]) or NULL */
	double			*pr;
	size_t			*rank_order;	/* nodes by pr, descending */
	long			 comp;
	int			 dag;
	double			 longest;
	struct cv_cycles	 cyc;
	size_t			 dirs, core_touches;
	double			 ce, vc, dc, pd;
};

static bool in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

static bool is_core_path(const char *path)
{
	for (size_t i = 0; i < CV_ARRAY_LEN(core_paths); i++)
		if (strncmp(path, core_paths[i], strlen(core_paths[i])) == 0)
			return true;
	return false;
}

static double risk_bonus(const char *level)
{
	if (strcmp(level, "low") == 0)
		return 0.0;
	if (strcmp(level, "high") == 0)
		return 15.0;
	if (strcmp(level, "critical") == 0)
		return 30.0;
	return 5.0;	/* medium and anything unknown */
}

/*
 * parent(p) of 4.1, POSIX pure-path style: empty and "." segments vanish,
 * a leading "/" counts as the root segment. *out is a new string, or NULL
 * when p has no parent. Returns -1 on allocation failure.
 */
static int parent_dup(const char *p, char **out)
{
	size_t len = strlen(p), blen = 0, before_last = 0, nseg = 0;
	bool rooted = p[0] == '/';
	char *buf = malloc(len + 2);
	const char *s = p;

	*out = NULL;
	if (buf == NULL)
		return -1;
	if (rooted)
		buf[blen++] = '/';
	while (*s != '\0') {
		size_t seg = strcspn(s, "/");

		if (seg > 0 && !(seg == 1 && s[0] == '.')) {
			before_last = blen;
			if (nseg > 0)
				buf[blen++] = '/';
			memcpy(buf + blen, s, seg);
			blen += seg;
			nseg++;
		}
		s += seg;
		if (*s == '/')
			s++;
	}
	if (nseg + (rooted ? 1 : 0) < 2) {
		free(buf);
		return 0;
	}
	buf[before_last] = '\0';
	*out = buf;
	return 0;
}

static bool same_parent_or_dot(const char *a, const char *b)
{
	return strcmp(a ? a : ".", b ? b : ".") == 0;
}

/* The string entries of arr (others are out of contract and skipped). */
static const char **string_list(const json_t *arr, size_t *n)
{
	size_t i, cnt = json_is_array(arr) ? json_array_size(arr) : 0;
	const char **v = calloc(cnt ? cnt : 1, sizeof *v);
	json_t *e;

	*n = 0;
	if (v == NULL || cnt == 0)
		return v;
	json_array_foreach(arr, i, e)
		if (json_is_string(e))
			v[(*n)++] = json_string_value(e);
	return v;
}

static int input_read(struct risk_input *in, const json_t *intent,
    const json_t *sim, const json_t *coupling)
{
	json_t *tech = cv_json_obj(intent, "technical");
	json_t *conflicts = cv_json_arr(sim, "conflicts");

	in->id = cv_json_str(intent, "id", "");
	in->source = cv_json_str(intent, "source", "");
	in->target = cv_json_str(intent, "target", "main");
	in->level = cv_json_str(intent, "risk_level", "medium");
	in->tenant = json_object_get(intent, "tenant_id");
	in->files = string_list(cv_json_arr(sim, "files_changed"), &in->nfiles);
	/* A directory's files are pairwise co_located edges: the graph grows
	 * with the square of a change's size, and a branch is written by
	 * whoever proposes it. Past the cap the extra files still count (F
	 * below) but add no nodes. */
	in->ngraph = in->nfiles < CV_RISK_GRAPH_FILES_MAX ? in->nfiles :
	    CV_RISK_GRAPH_FILES_MAX;
	in->deps = string_list(cv_json_arr(intent, "dependencies"),
	    &in->ndeps);
	in->scopes = string_list(cv_json_arr(tech, "scope_hint"),
	    &in->nscopes);
	in->nconflicts = conflicts ? json_array_size(conflicts) : 0;
	in->coupling = json_is_array(coupling) ? coupling : NULL;
	if (!in->files || !in->deps || !in->scopes)
		return -1;
	return 0;
}

static void ctx_free(struct risk_ctx *c)
{
	free(c->in.files);
	free(c->in.deps);
	free(c->in.scopes);
	cv_graph_free(&c->g);
	free(c->file_node);
	if (c->file_parent != NULL)
		for (size_t i = 0; i < c->in.ngraph; i++)
			free(c->file_parent[i]);
	free(c->file_parent);
	free(c->pr);
	free(c->rank_order);
}

/* Steps 1 and 2 of 4.2: file nodes, then their parent directories. */
static int build_files(struct risk_ctx *c)
{
	const struct risk_input *in = &c->in;

	for (size_t i = 0; i < in->ngraph; i++)
		if (cv_graph_add_node(&c->g, in->files[i], "file",
		    &c->file_node[i]) == -1)
			return -1;
	struct cv_graph seen;	/* parents met in this step, as a set */
	int rc = 0;

	cv_graph_init(&seen);
	for (size_t i = 0; i < in->ngraph && rc == 0; i++) {
		const char *kind = "directory";
		size_t dir, n_before = seen.n;

		if (parent_dup(in->files[i], &c->file_parent[i]) == -1) {
			rc = -1;
			break;
		}
		if (c->file_parent[i] == NULL)
			continue;
		/* A parent met again in this step keeps whatever kind it
		 * has; dirs counts each distinct parent once. */
		if (cv_graph_add_node(&seen, c->file_parent[i], NULL,
		    &dir) == -1) {
			rc = -1;
			break;
		}
		if (seen.n == n_before)
			kind = NULL;
		if (kind != NULL)
			c->dirs++;
		if (cv_graph_add_node(&c->g, c->file_parent[i], kind,
		    &dir) == -1 ||
		    cv_graph_set_edge(&c->g, c->file_node[i], dir,
		    "contained_in", 0.3) == -1)
			rc = -1;
	}
	cv_graph_free(&seen);
	return rc;
}

/* Step 3: both-way co_located edges inside each parent_or_dot group,
 * groups in first-seen order. */
static int build_colocated(struct risk_ctx *c)
{
	size_t n = c->in.ngraph, *group, *members, *start, *fill;
	struct cv_graph groups;	/* parent_or_dot -> group, first-seen order */
	int rc = -1;

	cv_graph_init(&groups);
	group = malloc((n ? n : 1) * sizeof *group);
	members = malloc((n ? n : 1) * sizeof *members);
	start = calloc(n + 2, sizeof *start);
	fill = calloc(n + 1, sizeof *fill);
	if (!group || !members || !start || !fill)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *key = c->file_parent[i] ? c->file_parent[i] : ".";

		if (cv_graph_add_node(&groups, key, NULL, &group[i]) == -1)
			goto out;
		start[group[i] + 1]++;
	}
	/* members of each group in file order, groups in first-seen order */
	for (size_t k = 1; k <= groups.n; k++)
		start[k] += start[k - 1];
	for (size_t i = 0; i < n; i++)
		members[start[group[i]] + fill[group[i]]++] = i;
	for (size_t k = 0; k < groups.n; k++)
		for (size_t i = start[k]; i < start[k + 1]; i++)
			for (size_t j = i + 1; j < start[k + 1]; j++) {
				size_t a = c->file_node[members[i]];
				size_t b = c->file_node[members[j]];

				if (cv_graph_add_edge_once(&c->g, a, b,
				    "co_located", 0.2) == -1 ||
				    cv_graph_add_edge_once(&c->g, b, a,
				    "co_located", 0.2) == -1)
					goto out;
			}
	rc = 0;
out:
	cv_graph_free(&groups);
	free(group);
	free(members);
	free(start);
	free(fill);
	return rc;
}

/* Steps 4 to 6: scopes, dependencies, the intent and its target. */
static int build_intent(struct risk_ctx *c)
{
	const struct risk_input *in = &c->in;
	size_t node, me, target;

	for (size_t s = 0; s < in->nscopes; s++) {
		if (cv_graph_add_node(&c->g, in->scopes[s], "scope",
		    &node) == -1)
			return -1;
		for (size_t i = 0; i < in->ngraph; i++) {
			bool inside = strcasestr(in->files[i],
			    in->scopes[s]) != NULL;

			if (cv_graph_set_edge(&c->g, node, c->file_node[i],
			    inside ? "scope_contains" : "scope_touches",
			    inside ? 0.5 : 0.2) == -1)
				return -1;
		}
	}
	for (size_t d = 0; d < in->ndeps; d++)
		if (cv_graph_add_node(&c->g, in->deps[d], "dependency",
		    &node) == -1 ||
		    cv_graph_set_edge_named(&c->g, in->id, in->deps[d],
		    "depends_on", 0.8) == -1)
			return -1;
	if (cv_graph_add_node(&c->g, in->id, "intent", &me) == -1 ||
	    cv_graph_add_node(&c->g, in->target, NULL, &target) == -1)
		return -1;
	return cv_graph_set_edge(&c->g, me, target, "merge_target", 1.0);
}

/* Step 7: coupling records touching the change, as both-way edges. */
static int build_coupling(struct risk_ctx *c)
{
	const struct risk_input *in = &c->in;
	struct cv_graph files;	/* files_changed as a set */
	size_t i, na, nb;
	json_t *rec;
	int rc = 0;

	if (in->coupling == NULL)
		return 0;
	cv_graph_init(&files);
	for (i = 0; i < in->ngraph; i++)
		if (cv_graph_add_node(&files, in->files[i], NULL, &na) == -1) {
			cv_graph_free(&files);
			return -1;
		}
	json_array_foreach(in->coupling, i, rec) {
		const char *a = cv_json_str(rec, "file_a", "");
		const char *b = cv_json_str(rec, "file_b", "");
		double k = cv_json_num(rec, "co_changes", 1.0);
		double w;

		if (k == 0.0)
			k = 1.0;
		w = fmin(1.0, k * 0.1);
		if (cv_graph_find(&files, a) < 0 && cv_graph_find(&files, b) < 0)
			continue;
		if ((cv_graph_find(&c->g, a) < 0 &&
		    cv_graph_add_node(&c->g, a, "file", &na) == -1) ||
		    (cv_graph_find(&c->g, b) < 0 &&
		    cv_graph_add_node(&c->g, b, "file", &nb) == -1) ||
		    cv_graph_set_edge_named(&c->g, a, b, "co_change", w) == -1 ||
		    cv_graph_set_edge_named(&c->g, b, a, "co_change", w) == -1) {
			rc = -1;
			break;
		}
	}
	cv_graph_free(&files);
	return rc;
}

static int build_graph(struct risk_ctx *c)
{
	size_t n = c->in.ngraph ? c->in.ngraph : 1;

	c->file_node = calloc(n, sizeof *c->file_node);
	c->file_parent = calloc(n, sizeof *c->file_parent);
	if (c->file_node == NULL || c->file_parent == NULL)
		return -1;
	if (build_files(c) == -1 || build_colocated(c) == -1 ||
	    build_intent(c) == -1 || build_coupling(c) == -1)
		return -1;
	return 0;
}

static const double *rank_pr;	/* qsort has no context argument */

static int rank_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (rank_pr[x] != rank_pr[y])
		return rank_pr[x] > rank_pr[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Nodes by descending PageRank, ties in node order. */
static void sort_by_rank(const double *pr, size_t *order, size_t n)
{
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	rank_pr = pr;
	qsort(order, n, sizeof *order, rank_cmp);
	rank_pr = NULL;
}

/* The graph algorithms of 4.3 that the signals and bombs read. */
static int analyse_graph(struct risk_ctx *c)
{
	size_t n = c->g.n ? c->g.n : 1;

	c->pr = calloc(n, sizeof *c->pr);
	c->rank_order = calloc(n, sizeof *c->rank_order);
	if (c->pr == NULL || c->rank_order == NULL ||
	    cv_graph_pagerank(&c->g, c->pr) == -1)
		return -1;
	sort_by_rank(c->pr, c->rank_order, c->g.n);
	if ((c->comp = cv_graph_components(&c->g)) < 0 ||
	    (c->dag = cv_graph_is_dag(&c->g)) < 0)
		return -1;
	c->longest = 0.0;
	if (c->dag && (c->longest = cv_graph_longest(&c->g)) < 0)
		return -1;
	if (!c->dag && cv_graph_cycles(&c->g, PD_CYCLE_CAP, &c->cyc) == -1)
		return -1;
	return 0;
}

static double signal(double raw)
{
	return fmin(100.0, cv_round(raw, 1));
}

static bool is_file_node(const struct risk_ctx *c, size_t v)
{
	const char *kind = c->g.nodes[v].kind;

	return kind != NULL && strcmp(kind, "file") == 0;
}

/* Edges between file nodes in different parent_or_dot directories. */
static int cross_dir_edges(const struct risk_ctx *c, size_t *count)
{
	const struct cv_graph *g = &c->g;
	char **dir = calloc(g->n ? g->n : 1, sizeof *dir);
	int rc = 0;

	*count = 0;
	if (dir == NULL)
		return -1;
	for (size_t v = 0; v < g->n && rc == 0; v++)
		if (is_file_node(c, v))
			rc = parent_dup(g->nodes[v].name, &dir[v]);
	for (size_t u = 0; u < g->n && rc == 0; u++) {
		if (!is_file_node(c, u))
			continue;
		for (size_t i = 0; i < g->nodes[u].nout; i++) {
			size_t v = g->nodes[u].out[i].to;

			if (is_file_node(c, v) &&
			    !same_parent_or_dot(dir[u], dir[v]))
				(*count)++;
		}
	}
	for (size_t v = 0; v < g->n; v++)
		free(dir[v]);
	free(dir);
	return rc;
}

/* The four signals of 4.5, each min(100, round1(raw)). */
static int compute_signals(struct risk_ctx *c)
{
	const struct risk_input *in = &c->in;
	double n = (double)c->g.n, e = (double)c->g.nedges;
	double fdiv = (double)(in->nfiles ? in->nfiles : 1);
	double comp = c->g.n ? (double)c->comp : 1.0;
	double cyc = c->dag ? 0.0 : (double)c->cyc.count;
	size_t cross;

	for (size_t i = 0; i < in->nfiles; i++)
		if (is_core_path(in->files[i]))
			c->core_touches++;
	c->ce = signal((double)in->nfiles * 2.0 + (double)in->nconflicts * 15.0
	    + (double)in->ndeps * 6.0 + (double)c->dirs * 3.0
	    + (comp - 1.0) * 5.0);
	c->vc = c->dc = 0.0;
	if (c->g.n > 0) {
		double sum = 0.0, ratio, bonus;

		for (size_t i = 0; i < in->ngraph; i++)
			sum += c->pr[c->file_node[i]];
		ratio = sum / ((1.0 / n) * (double)(in->ngraph ? in->ngraph :
		    1));
		bonus = in_list(core_targets, CV_ARRAY_LEN(core_targets),
		    in->target) ? 10.0 : 0.0;
		c->vc = signal(fmin(ratio * 30.0, 60.0)
		    + (double)c->core_touches / fdiv * 20.0 + bonus
		    + risk_bonus(in->level));
		if (cross_dir_edges(c, &cross) == -1)
			return -1;
		c->dc = signal(cv_graph_density(&c->g) * 40.0
		    + fmin((e / n) * 10.0, 30.0) + (double)cross * 3.0
		    + (double)in->nscopes * 5.0);
	}
	c->pd = signal((double)in->nconflicts * 20.0
	    + (double)c->core_touches * 4.0 + (double)in->ndeps * 8.0
	    + cyc * 5.0 + c->longest * 2.0);
	return 0;
}

static json_t *rank_entry(const char *key_name, const char *key_rank,
    const char *name, double pr)
{
	return json_pack("{s:s, s:f}", key_name, name, key_rank,
	    cv_round(pr, 4));
}

/* graph_metrics of 4.4. */
static json_t *metrics_build(const struct risk_ctx *c)
{
	const struct cv_graph *g = &c->g;
	json_t *top = json_array(), *crit = json_array();
	size_t ntop = g->n < TOP_CANDIDATES ? g->n : TOP_CANDIDATES;

	if (top == NULL || crit == NULL)
		goto fail;
	for (size_t k = 0; k < ntop; k++) {
		size_t v = c->rank_order[k];

		if (k < TOP_NODES && json_array_append_new(top,
		    rank_entry("node", "rank", g->nodes[v].name,
		    c->pr[v])) == -1)
			goto fail;
		if (is_file_node(c, v) && json_array_size(crit) < TOP_NODES &&
		    json_array_append_new(crit, rank_entry("file", "pagerank",
		    g->nodes[v].name, c->pr[v])) == -1)
			goto fail;
	}
	return json_pack("{s:I, s:I, s:f, s:o, s:o, s:I, s:f}",
	    "nodes", (json_int_t)g->n, "edges", (json_int_t)g->nedges,
	    "pagerank_max", g->n ? cv_round(c->pr[c->rank_order[0]], 4) : 0.0,
	    "pagerank_top", top, "critical_files", crit,
	    "components", (json_int_t)c->comp,
	    "density", cv_round(cv_graph_density(g), 4));
fail:
	json_decref(top);
	json_decref(crit);
	return NULL;
}

static int append_finding(json_t *arr, const char *code, const char *sev,
    const char *msg)
{
	return json_array_append_new(arr, json_pack("{s:s, s:s, s:s}",
	    "code", code, "severity", sev, "message", msg));
}

/* Findings of 4.8, in the spec's order. */
static json_t *findings_build(const struct risk_ctx *c)
{
	const struct risk_input *in = &c->in;
	json_t *arr = json_array();
	char msg[512];
	int rc = 0;

	if (arr == NULL)
		return NULL;
	if (in->nfiles > 15) {
		snprintf(msg, sizeof msg, "Change touches %zu files",
		    in->nfiles);
		rc |= append_finding(arr, "semantic.large_change", "high", msg);
	}
	if (in->ndeps > 3) {
		snprintf(msg, sizeof msg, "Depends on %zu other intents",
		    in->ndeps);
		rc |= append_finding(arr, "semantic.dependency_spread",
		    "medium", msg);
	}
	if (in_list(core_targets, CV_ARRAY_LEN(core_targets), in->target)) {
		snprintf(msg, sizeof msg, "Targets core branch: %s",
		    in->target);
		rc |= append_finding(arr, "semantic.core_target", "high", msg);
	}
	if (in->nconflicts > 0) {
		snprintf(msg, sizeof msg, "%zu merge conflict(s) detected",
		    in->nconflicts);
		rc |= append_finding(arr, "semantic.merge_conflict",
		    "critical", msg);
	}
	if (rc != 0) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

static int append_impact(json_t *arr, const char *src, const char *dst,
    const char *type, double weight)
{
	return json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:f}",
	    "source", src, "target", dst, "type", type, "weight", weight));
}

/* Impact edges of 4.6, in the spec's order. */
static json_t *impact_build(const struct risk_ctx *c)
{
	const struct risk_input *in = &c->in;
	json_t *arr = json_array();
	int rc;

	if (arr == NULL)
		return NULL;
	rc = append_impact(arr, in->source, in->target, "merge_target", 1.0);
	for (size_t d = 0; d < in->ndeps; d++)
		rc |= append_impact(arr, in->id, in->deps[d], "depends_on",
		    0.8);
	for (size_t s = 0; s < in->nscopes; s++)
		rc |= append_impact(arr, in->id, in->scopes[s],
		    "touches_scope", 0.5);
	for (size_t i = 0; i < in->nfiles && i < IMPACT_FILES; i++)
		rc |= append_impact(arr, in->id, in->files[i],
		    "modifies_file", 0.3);
	if (rc != 0) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

/* Adds s to the set (a list of borrowed strings) unless present. */
static void set_add(const char **set, size_t *n, const char *s)
{
	if (!in_list(set, *n, s))
		set[(*n)++] = s;
}

/* propagation_score of 4.6. */
static double propagation(const struct risk_ctx *c, const json_t *edges)
{
	size_t nedges = json_array_size(edges), nfile = 0, outdeg = 0;
	size_t ntargets = 0, i;
	const char **targets;
	double g = 0.0, wsum = 0.0, e;
	json_t *edge;

	if (c->g.n == 0 && nedges == 0)
		return 0.0;
	for (size_t v = 0; v < c->g.n; v++)
		if (is_file_node(c, v)) {
			nfile++;
			outdeg += c->g.nodes[v].nout;
		}
	if (nfile > 0)
		g = fmin(50.0, (double)outdeg / (double)nfile * 10.0);
	targets = calloc(nedges ? nedges : 1, sizeof *targets);
	if (targets == NULL)
		return -1.0;
	json_array_foreach(edges, i, edge) {
		wsum += cv_json_num(edge, "weight", 0.5);
		set_add(targets, &ntargets, cv_json_str(edge, "target", ""));
	}
	free(targets);
	e = fmin(50.0, wsum * 3.0 + (double)ntargets * 2.0);
	return fmin(100.0, cv_round(g + e, 1));
}

/* containment_score of 4.6. */
static double containment(const struct risk_ctx *c, const json_t *edges)
{
	const struct risk_input *in = &c->in;
	size_t nedges = json_array_size(edges), ntok = 0, i;
	const char **tokens;
	double comp = c->g.n ? (double)c->comp : 1.0, penalty;
	json_t *edge;

	if (c->g.n == 0 && nedges == 0)
		return 1.0;
	tokens = calloc(nedges + in->ndeps + in->nscopes + 1, sizeof *tokens);
	if (tokens == NULL)
		return -1.0;
	json_array_foreach(edges, i, edge)
		set_add(tokens, &ntok, cv_json_str(edge, "target", ""));
	for (i = 0; i < in->ndeps; i++)
		set_add(tokens, &ntok, in->deps[i]);
	for (i = 0; i < in->nscopes; i++)
		set_add(tokens, &ntok, in->scopes[i]);
	free(tokens);
	if (ntok == 0)
		return 1.0;
	penalty = (comp - 1.0) * 0.03;
	return cv_round(fmax(0.0, 1.0 - (double)ntok * 0.05 - penalty), 2);
}

/* The cascade bomb of 4.9, appended to bombs when it goes off. */
static int bomb_cascade(const struct risk_ctx *c, json_t *bombs)
{
	const struct cv_graph *g = &c->g;
	bool *reach = calloc(g->n, sizeof *reach);
	json_t *trig = json_array();
	size_t ncand = 0, affected = 0, *cand = NULL;
	char msg[256];
	int rc = -1;

	if (reach == NULL || trig == NULL)
		goto out;
	if ((cand = malloc((g->n ? g->n : 1) * sizeof *cand)) == NULL)
		goto out;
	for (size_t v = 0; v < g->n; v++) {
		if (!is_file_node(c, v) || !(c->pr[v] > 1.5 / (double)g->n) ||
		    g->nodes[v].nout < 3)
			continue;
		if (ncand < TOP_NODES && json_array_append_new(trig,
		    json_string(g->nodes[v].name)) == -1)
			goto out;
		cand[ncand++] = v;
	}
	/* One walk for all candidates: a walk per candidate would cost
	 * candidates x edges, cubic in a directory's files. */
	if (cv_graph_descendants_union(g, cand, ncand, reach) == -1)
		goto out;
	for (size_t v = 0; v < g->n; v++)
		affected += reach[v];
	rc = 0;
	if (ncand == 0 || !((double)affected > (double)c->in.nfiles * 1.5))
		goto out;
	snprintf(msg, sizeof msg, "Change touches %zu high-centrality "
	    "node(s) with potential cascade to %zu nodes", ncand, affected);
	rc = json_array_append_new(bombs, json_pack(
	    "{s:s, s:s, s:s, s:O, s:I}", "type", "cascade",
	    "severity", "high", "message", msg, "trigger_nodes", trig,
	    "blast_radius", (json_int_t)affected));
out:
	free(reach);
	free(cand);
	json_decref(trig);
	return rc;
}

/* The spiral bomb of 4.9: at least two cycles among the first ten. */
static int bomb_spiral(const struct risk_ctx *c, json_t *bombs)
{
	size_t n = c->cyc.count < SPIRAL_CAP ? c->cyc.count : SPIRAL_CAP;
	json_t *cycles;
	char msg[128];

	if (c->dag || n < 2)
		return 0;
	if ((cycles = json_array()) == NULL)
		return -1;
	for (size_t k = 0; k < c->cyc.nkept; k++) {
		json_t *cyc = json_array();

		if (json_array_append_new(cycles, cyc) == -1)
			goto fail;
		for (size_t i = 0; i < c->cyc.len[k]; i++)
			if (json_array_append_new(cyc, json_string(
			    c->g.nodes[c->cyc.node[k][i]].name)) == -1)
				goto fail;
	}
	snprintf(msg, sizeof msg, "%zu circular dependency cycle(s) detected",
	    n);
	return json_array_append_new(bombs, json_pack("{s:s, s:s, s:s, s:o}",
	    "type", "spiral", "severity", "medium", "message", msg,
	    "cycles", cycles));
fail:
	json_decref(cycles);
	return -1;
}

/* The thermal_death bomb of 4.9: three or more of five indicators. */
static int bomb_thermal(const struct risk_ctx *c, json_t *bombs)
{
	const struct risk_input *in = &c->in;
	size_t n = c->g.n, e = c->g.nedges;
	int k = (in->nfiles > 10) + (in->nconflicts > 0) + (in->ndeps > 3) +
	    (c->comp > 3) + (e > 2 * n);
	char msg[512];

	if (k < 3)
		return 0;
	snprintf(msg, sizeof msg, "%d/5 entropy indicators elevated: "
	    "files=%zu, conflicts=%zu, deps=%zu, components=%ld, "
	    "edge_density=%zu/%zu", k, in->nfiles, in->nconflicts, in->ndeps,
	    c->comp, e, n);
	return json_array_append_new(bombs, json_pack("{s:s, s:s, s:s, s:i}",
	    "type", "thermal_death", "severity", "critical", "message", msg,
	    "indicators", k));
}

static json_t *bombs_build(const struct risk_ctx *c)
{
	json_t *bombs = json_array();

	if (bombs == NULL)
		return NULL;
	if (c->g.n == 0)
		return bombs;
	if (bomb_cascade(c, bombs) == -1 || bomb_spiral(c, bombs) == -1 ||
	    bomb_thermal(c, bombs) == -1) {
		json_decref(bombs);
		return NULL;
	}
	return bombs;
}

/* Assembles the RiskEval JSON of 1.9; steals the four parts. */
static json_t *riskeval_pack(const struct risk_ctx *c, json_t *findings,
    json_t *impact, json_t *metrics, json_t *bombs, double prop,
    double cont, const char *ts)
{
	double ce = c->ce, vc = c->vc, dc = c->dc, pd = c->pd;
	double risk = fmin(100.0, cv_round(ce * 0.30 + vc * 0.25 + dc * 0.20
	    + pd * 0.25, 1));
	double damage = fmin(100.0, cv_round(vc * 0.5 + ce * 0.3 + pd * 0.2,
	    1));
	json_t *tenant = json_is_string(c->in.tenant) ?
	    json_incref((json_t *)c->in.tenant) : json_null();

	return json_pack("{s:s, s:f, s:f, s:f, s:f, s:f,"
	    " s:{s:f, s:f, s:f, s:f}, s:o, s:o, s:o, s:o, s:s, s:o}",
	    "intent_id", c->in.id, "risk_score", risk, "damage_score", damage,
	    "entropy_score", ce, "propagation_score", prop,
	    "containment_score", cont,
	    "signals", "entropic_load", ce, "contextual_value", vc,
	    "complexity_delta", dc, "path_dependence", pd,
	    "findings", findings, "impact_edges", impact,
	    "graph_metrics", metrics, "bombs", bombs, "timestamp", ts,
	    "tenant_id", tenant);
}

json_t *cv_risk_evaluate(const json_t *intent, const json_t *simulation,
    const json_t *coupling, const char *now_ts)
{
	struct risk_ctx c;
	json_t *metrics = NULL, *findings = NULL, *impact = NULL;
	json_t *bombs = NULL, *out = NULL;
	double prop, cont;
	char ts[CV_TS_LEN];

	memset(&c, 0, sizeof c);
	cv_graph_init(&c.g);
	if (now_ts == NULL) {
		cv_now_ts(ts);
		now_ts = ts;
	}
	if (input_read(&c.in, intent, simulation, coupling) == -1 ||
	    build_graph(&c) == -1 || analyse_graph(&c) == -1 ||
	    (metrics = metrics_build(&c)) == NULL ||
	    compute_signals(&c) == -1 ||
	    (findings = findings_build(&c)) == NULL ||
	    (impact = impact_build(&c)) == NULL ||
	    (prop = propagation(&c, impact)) < 0 ||
	    (cont = containment(&c, impact)) < 0 ||
	    (bombs = bombs_build(&c)) == NULL)
		goto fail;
	out = riskeval_pack(&c, findings, impact, metrics, bombs, prop, cont,
	    now_ts);
	ctx_free(&c);
	return out;
fail:
	json_decref(metrics);
	json_decref(findings);
	json_decref(impact);
	json_decref(bombs);
	ctx_free(&c);
	return NULL;
}

/* ---- diagnostics (4.10) ---------------------------------------------- */

static int append_diag(json_t *arr, const char *sev, const char *code,
    const char *explanation, const char *recommendation)
{
	return json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}",
	    "severity", sev, "code", code, "explanation", explanation,
	    "recommendation", recommendation));
}

static const char *bomb_recommendation(const char *type)
{
	if (strcmp(type, "cascade") == 0)
		return "Split change to avoid touching high-centrality files "
		    "simultaneously";
	if (strcmp(type, "spiral") == 0)
		return "Break circular dependencies before merging";
	if (strcmp(type, "thermal_death") == 0)
		return "System is under stress \xe2\x80\x94 reduce change scope "
		    "immediately";
	return "Review and reduce change scope";
}

/* "Merge has <C> conflict(s): <first 5 joined by ", ">". */
static void conflict_text(char *buf, size_t size, const json_t *conflicts)
{
	size_t n = json_array_size(conflicts), len;

	snprintf(buf, size, "Merge has %zu conflict(s): ", n);
	for (size_t i = 0; i < n && i < 5; i++) {
		len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
		    json_string_value(json_array_get(conflicts, i)) ?
		    json_string_value(json_array_get(conflicts, i)) : "");
	}
}

/* The score-driven diagnostics, in the order of 4.10. */
static int diag_scores(json_t *arr, const json_t *risk, const json_t *sim)
{
	const json_t *sig = cv_json_obj(risk, "signals");
	double r = cv_json_num(risk, "risk_score", 0.0);
	double ent = cv_json_num(risk, "entropy_score", 0.0);
	double prop = cv_json_num(risk, "propagation_score", 0.0);
	double cont = cv_json_num(risk, "containment_score", 1.0);
	double ce = cv_json_num(sig, "entropic_load", 0.0);
	double vc = cv_json_num(sig, "contextual_value", 0.0);
	double pd = cv_json_num(sig, "path_dependence", 0.0);
	/* room for five conflicted paths of PATH_MAX each */
	char num[64], msg[5 * 4096 + 128];
	int rc = 0;

	if (r > 60) {
		cv_fmt(num, sizeof num, r, 0);
		snprintf(msg, sizeof msg, "Combined risk score %s exceeds safe "
		    "threshold", num);
		rc |= append_diag(arr, r > 80 ? "critical" : "high",
		    "diag.high_risk", msg,
		    "Split this change into smaller, independent intents");
	}
	if (ent > 20) {
		cv_fmt(num, sizeof num, ent, 0);
		snprintf(msg, sizeof msg, "Entropy score %s indicates high "
		    "disorder", num);
		rc |= append_diag(arr, ent > 40 ? "high" : "medium",
		    "diag.high_entropy", msg,
		    "Reduce file count or dependencies before merging");
	}
	if (!cv_json_bool(sim, "mergeable", true)) {
		conflict_text(msg, sizeof msg, cv_json_arr(sim, "conflicts"));
		rc |= append_diag(arr, "critical", "diag.merge_conflict", msg,
		    "Resolve conflicts in source branch before retrying");
	}
	if (prop > 40) {
		cv_fmt(num, sizeof num, prop, 0);
		snprintf(msg, sizeof msg, "Change propagation score %s "
		    "indicates wide blast radius", num);
		rc |= append_diag(arr, "high", "diag.high_propagation", msg,
		    "Review impact graph and consider narrowing scope");
	}
	if (cont < 0.4) {
		cv_fmt(num, sizeof num, cont, 2);
		snprintf(msg, sizeof msg, "Containment %s is below acceptable "
		    "levels", num);
		rc |= append_diag(arr, "medium", "diag.low_containment", msg,
		    "Add scope hints or reduce cross-boundary dependencies");
	}
	if (ce > 50) {
		cv_fmt(num, sizeof num, ce, 0);
		snprintf(msg, sizeof msg, "Entropic load %s indicates high "
		    "disorder introduction", num);
		rc |= append_diag(arr, "high", "diag.high_entropic_load", msg,
		    "Reduce the number of files, directories, or dependencies "
		    "touched");
	}
	if (vc > 60) {
		cv_fmt(num, sizeof num, vc, 0);
		snprintf(msg, sizeof msg, "Change touches critical files "
		    "(contextual value: %s)", num);
		rc |= append_diag(arr, "high", "diag.high_contextual_value",
		    msg, "Ensure thorough review \xe2\x80\x94 these files have "
		    "high centrality in the codebase");
	}
	if (pd > 40) {
		cv_fmt(num, sizeof num, pd, 0);
		snprintf(msg, sizeof msg, "Path dependence %s: merge order "
		    "matters", num);
		rc |= append_diag(arr, "medium", "diag.path_dependent", msg,
		    "Coordinate merge timing with related intents");
	}
	return rc;
}

/* One diagnostic per bomb, then one per finding. */
static int diag_items(json_t *arr, const json_t *risk)
{
	char code[256];
	size_t i;
	json_t *b, *f;
	int rc = 0;

	json_array_foreach(cv_json_arr(risk, "bombs"), i, b) {
		const char *type = cv_json_str(b, "type", "unknown");

		snprintf(code, sizeof code, "diag.bomb.%s", type);
		rc |= append_diag(arr, cv_json_str(b, "severity", "high"), code,
		    cv_json_str(b, "message", ""), bomb_recommendation(type));
	}
	json_array_foreach(cv_json_arr(risk, "findings"), i, f)
		rc |= append_diag(arr, cv_json_str(f, "severity", "medium"),
		    cv_json_str(f, "code", "diag.finding"),
		    cv_json_str(f, "message", ""), "");
	return rc;
}

json_t *cv_risk_diagnostics_build(const json_t *risk,
    const json_t *simulation)
{
	json_t *all = json_array(), *sorted = json_array(), *d;
	size_t i;

	if (all == NULL || sorted == NULL ||
	    diag_scores(all, risk, simulation) != 0 ||
	    diag_items(all, risk) != 0)
		goto fail;
	/* Stable sort by rank: one pass per rank keeps insertion order. */
	for (int rank = 0; rank <= 3; rank++)
		json_array_foreach(all, i, d)
			if (cv_severity_rank(cv_json_str(d, "severity",
			    NULL)) == rank &&
			    json_array_append(sorted, d) == -1)
				goto fail;
	json_decref(all);
	return sorted;
fail:
	json_decref(all);
	json_decref(sorted);
	return NULL;
}

/* ---- levels (4.12) --------------------------------------------------- */

const char *cv_blast_severity(double damage_score)
{
	if (damage_score < 30)
		return "low";
	if (damage_score < 50)
		return "medium";
	if (damage_score < 75)
		return "high";
	return "critical";
}

int cv_severity_rank(const char *sev)
{
	static const char *const order[] = {
		"critical", "high", "medium", "low"
	};

	for (int i = 0; sev != NULL && i < 3; i++)
		if (strcmp(sev, order[i]) == 0)
			return i;
	return 3;
}

const char *cv_health_colour(double score)
{
	if (score >= 70)
		return "green";
	return score >= 40 ? "yellow" : "red";
}

const char *cv_learning_level(double score)
{
	if (score >= 70)
		return "strong";
	return score >= 40 ? "acceptable" : "fragile";
}
