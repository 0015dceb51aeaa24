/* depgraph.c - dependency graph and its algorithms (domain.md 4.2, 4.3). */
#include "depgraph.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PR_ALPHA	0.85
#define PR_TOL		1e-6
#define PR_MAX_ITER	100

void cv_graph_init(struct cv_graph *g)
{
	memset(g, 0, sizeof *g);
}

void cv_graph_free(struct cv_graph *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->nodes[i].out);
	free(g->nodes);
	free(g->hash);
	free(g->ehash);
	cv_graph_init(g);
}

static size_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

/* Slot of name in the hash: the one holding it, or the empty one where it
 * would go. hcap is a power of two and never more than half full. */
static size_t hash_slot(const struct cv_graph *g, const char *name)
{
	size_t i = name_hash(name) & (g->hcap - 1);

	while (g->hash[i] != 0 &&
	    strcmp(g->nodes[g->hash[i] - 1].name, name) != 0)
		i = (i + 1) & (g->hcap - 1);
	return i;
}

static int hash_grow(struct cv_graph *g)
{
	size_t ncap = g->hcap ? g->hcap * 2 : 64;
	size_t *nh = calloc(ncap, sizeof *nh);

	if (nh == NULL)
		return -1;
	free(g->hash);
	g->hash = nh;
	g->hcap = ncap;
	for (size_t i = 0; i < g->n; i++)
		g->hash[hash_slot(g, g->nodes[i].name)] = i + 1;
	return 0;
}

long cv_graph_find(const struct cv_graph *g, const char *name)
{
	size_t slot;

	if (g->hcap == 0)
		return -1;
	slot = hash_slot(g, name);
	return g->hash[slot] ? (long)(g->hash[slot] - 1) : -1;
}

int cv_graph_add_node(struct cv_graph *g, const char *name,
    const char *kind, size_t *idx)
{
	long found = cv_graph_find(g, name);
	struct cv_node *nd;

	if (found >= 0) {
		if (kind != NULL)
			g->nodes[found].kind = kind;
		*idx = (size_t)found;
		return 0;
	}
	if ((g->n + 1) * 2 > g->hcap && hash_grow(g) == -1)
		return -1;
	if (g->n == g->cap) {
		size_t ncap = g->cap ? g->cap * 2 : 16;
		struct cv_node *nn = realloc(g->nodes, ncap * sizeof *nn);

		if (nn == NULL)
			return -1;
		g->nodes = nn;
		g->cap = ncap;
	}
	nd = &g->nodes[g->n];
	memset(nd, 0, sizeof *nd);
	nd->name = name;
	nd->kind = kind;
	g->hash[hash_slot(g, name)] = g->n + 1;
	*idx = g->n++;
	return 0;
}

static size_t edge_hash(size_t from, size_t to)
{
	uint64_t h = ((uint64_t)from * 0x9e3779b97f4a7c15ULL) ^
	    ((uint64_t)to + 0x632be59bd9b4e019ULL);

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return (size_t)(h ^ (h >> 32));
}

/* Slot of edge from -> to: the one holding it, or the empty one where it
 * would go. ehcap is a power of two and never more than half full. */
static size_t edge_slot(const struct cv_graph *g, size_t from, size_t to)
{
	size_t i = edge_hash(from, to) & (g->ehcap - 1);

	while (g->ehash[i].from1 != 0 && (g->ehash[i].from1 != from + 1 ||
	    g->nodes[from].out[g->ehash[i].idx].to != to))
		i = (i + 1) & (g->ehcap - 1);
	return i;
}

static int edge_hash_grow(struct cv_graph *g)
{
	size_t ncap = g->ehcap ? g->ehcap * 2 : 64;
	struct cv_edge_slot *nh = calloc(ncap, sizeof *nh);

	if (nh == NULL)
		return -1;
	free(g->ehash);
	g->ehash = nh;
	g->ehcap = ncap;
	for (size_t u = 0; u < g->n; u++)
		for (size_t i = 0; i < g->nodes[u].nout; i++)
			g->ehash[edge_slot(g, u, g->nodes[u].out[i].to)] =
			    (struct cv_edge_slot){ u + 1, i };
	return 0;
}

static struct cv_edge *edge_find(const struct cv_graph *g, size_t from,
    size_t to)
{
	size_t slot;

	if (g->ehcap == 0)
		return NULL;
	slot = edge_slot(g, from, to);
	return g->ehash[slot].from1 ? &g->nodes[from].out[g->ehash[slot].idx] :
	    NULL;
}

static int edge_append(struct cv_graph *g, size_t from, size_t to,
    const char *rel, double weight)
{
	struct cv_node *nd = &g->nodes[from];

	if ((g->nedges + 1) * 2 > g->ehcap && edge_hash_grow(g) == -1)
		return -1;
	if (nd->nout == nd->capout) {
		size_t ncap = nd->capout ? nd->capout * 2 : 4;
		struct cv_edge *ne = realloc(nd->out, ncap * sizeof *ne);

		if (ne == NULL)
			return -1;
		nd->out = ne;
		nd->capout = ncap;
	}
	nd->out[nd->nout] = (struct cv_edge){ to, rel, weight };
	g->ehash[edge_slot(g, from, to)] = (struct cv_edge_slot){ from + 1,
	    nd->nout };
	nd->nout++;
	g->nedges++;
	return 0;
}

int cv_graph_set_edge(struct cv_graph *g, size_t from, size_t to,
    const char *rel, double weight)
{
	struct cv_edge *e = edge_find(g, from, to);

	if (e == NULL)
		return edge_append(g, from, to, rel, weight);
	e->rel = rel;
	e->weight = weight;
	return 0;
}

int cv_graph_add_edge_once(struct cv_graph *g, size_t from, size_t to,
    const char *rel, double weight)
{
	if (edge_find(g, from, to) != NULL)
		return 0;
	return edge_append(g, from, to, rel, weight);
}

int cv_graph_set_edge_named(struct cv_graph *g, const char *from,
    const char *to, const char *rel, double weight)
{
	size_t a, b;

	if (cv_graph_add_node(g, from, NULL, &a) == -1 ||
	    cv_graph_add_node(g, to, NULL, &b) == -1)
		return -1;
	return cv_graph_set_edge(g, a, b, rel, weight);
}

/* One power-iteration step of 4.3 from x into nx; returns sum |nx - x|. */
static double pagerank_step(const struct cv_graph *g, const double *wsum,
    const double *x, double *nx)
{
	double n = (double)g->n, dangle = 0.0, err = 0.0;

	for (size_t u = 0; u < g->n; u++) {
		nx[u] = 0.0;
		if (g->nodes[u].nout == 0)
			dangle += x[u];
	}
	dangle = PR_ALPHA * dangle;
	for (size_t u = 0; u < g->n; u++) {
		const struct cv_node *nd = &g->nodes[u];

		for (size_t i = 0; i < nd->nout; i++)
			nx[nd->out[i].to] += PR_ALPHA * x[u] *
			    (nd->out[i].weight / wsum[u]);
	}
	for (size_t v = 0; v < g->n; v++) {
		nx[v] += dangle / n + (1.0 - PR_ALPHA) / n;
		err += fabs(nx[v] - x[v]);
	}
	return err;
}

int cv_graph_pagerank(const struct cv_graph *g, double *pr)
{
	double *wsum, *x;

	if (g->n == 0)
		return 0;
	wsum = calloc(g->n, sizeof *wsum);
	x = calloc(g->n, sizeof *x);
	if (wsum == NULL || x == NULL) {
		free(wsum);
		free(x);
		return -1;
	}
	for (size_t u = 0; u < g->n; u++) {
		x[u] = 1.0 / (double)g->n;
		for (size_t i = 0; i < g->nodes[u].nout; i++)
			wsum[u] += g->nodes[u].out[i].weight;
	}
	/* B9: when 100 iterations do not converge, keep the last iterate. */
	for (int it = 0; it < PR_MAX_ITER; it++) {
		double err = pagerank_step(g, wsum, x, pr);

		if (err < (double)g->n * PR_TOL)
			break;
		memcpy(x, pr, g->n * sizeof *x);
	}
	free(wsum);
	free(x);
	return 0;
}

static size_t uf_root(size_t *up, size_t v)
{
	while (up[v] != v) {
		up[v] = up[up[v]];
		v = up[v];
	}
	return v;
}

long cv_graph_components(const struct cv_graph *g)
{
	size_t *up = malloc((g->n ? g->n : 1) * sizeof *up);
	long count = (long)g->n;

	if (up == NULL)
		return -1;
	for (size_t v = 0; v < g->n; v++)
		up[v] = v;
	for (size_t u = 0; u < g->n; u++) {
		for (size_t i = 0; i < g->nodes[u].nout; i++) {
			size_t a = uf_root(up, u);
			size_t b = uf_root(up, g->nodes[u].out[i].to);

			if (a != b) {
				up[a] = b;
				count--;
			}
		}
	}
	free(up);
	return count;
}

double cv_graph_density(const struct cv_graph *g)
{
	double n = (double)g->n;

	if (g->n < 2)
		return 0.0;
	return (double)g->nedges / (n * (n - 1.0));
}

/* Kahn's topological order into order[]; returns how many nodes it could
 * order (< n means a cycle), or -1 on allocation failure. */
static long topo_order(const struct cv_graph *g, size_t *order)
{
	size_t *indeg = calloc(g->n ? g->n : 1, sizeof *indeg);
	size_t head = 0, tail = 0;

	if (indeg == NULL)
		return -1;
	for (size_t u = 0; u < g->n; u++)
		for (size_t i = 0; i < g->nodes[u].nout; i++)
			indeg[g->nodes[u].out[i].to]++;
	for (size_t v = 0; v < g->n; v++)
		if (indeg[v] == 0)
			order[tail++] = v;
	while (head < tail) {
		const struct cv_node *nd = &g->nodes[order[head++]];

		for (size_t i = 0; i < nd->nout; i++)
			if (--indeg[nd->out[i].to] == 0)
				order[tail++] = nd->out[i].to;
	}
	free(indeg);
	return (long)tail;
}

int cv_graph_is_dag(const struct cv_graph *g)
{
	size_t *order = malloc((g->n ? g->n : 1) * sizeof *order);
	long done;

	if (order == NULL)
		return -1;
	done = topo_order(g, order);
	free(order);
	if (done < 0)
		return -1;
	return (size_t)done == g->n;
}

double cv_graph_longest(const struct cv_graph *g)
{
	size_t *order = malloc((g->n ? g->n : 1) * sizeof *order);
	double *dist = calloc(g->n ? g->n : 1, sizeof *dist);
	double best = 0.0;
	long done;

	if (order == NULL || dist == NULL) {
		free(order);
		free(dist);
		return -1.0;
	}
	done = topo_order(g, order);
	for (long k = 0; k < done; k++) {
		const struct cv_node *nd = &g->nodes[order[k]];
		double d = dist[order[k]];

		if (d > best)
			best = d;
		for (size_t i = 0; i < nd->nout; i++)
			if (d + nd->out[i].weight > dist[nd->out[i].to])
				dist[nd->out[i].to] = d + nd->out[i].weight;
	}
	free(order);
	free(dist);
	return done < 0 ? -1.0 : best;
}

int cv_graph_descendants(const struct cv_graph *g, size_t v, bool *reach)
{
	size_t *stack = malloc((g->n ? g->n : 1) * sizeof *stack);
	bool *seen = calloc(g->n ? g->n : 1, sizeof *seen);
	size_t top = 0;

	if (stack == NULL || seen == NULL) {
		free(stack);
		free(seen);
		return -1;
	}
	stack[top++] = v;
	while (top > 0) {
		const struct cv_node *nd = &g->nodes[stack[--top]];

		for (size_t i = 0; i < nd->nout; i++) {
			size_t w = nd->out[i].to;

			if (!seen[w]) {
				seen[w] = true;
				/* v reaches itself only through a cycle; 4.3
				 * excludes it from its own descendants. */
				if (w != v)
					reach[w] = true;
				stack[top++] = w;
			}
		}
	}
	free(stack);
	free(seen);
	return 0;
}

/* A label (the source it came from) joins node y's set unless present or
 * the set already holds two: two distinct labels are all the union needs
 * to know whether someone other than y itself reaches y. */
static bool label_add(size_t *lab, size_t y, size_t l)
{
	size_t *set = &lab[2 * y];

	if (set[0] == l || set[1] == l || set[1] != SIZE_MAX)
		return false;
	set[set[0] == SIZE_MAX ? 0 : 1] = l;
	return true;
}

int cv_graph_descendants_union(const struct cv_graph *g, const size_t *src,
    size_t nsrc, bool *reach)
{
	size_t n = g->n ? g->n : 1, head = 0, tail = 0;
	size_t *lab = malloc(2 * n * sizeof *lab);
	size_t *qn = malloc(2 * n * sizeof *qn), *ql = malloc(2 * n *
	    sizeof *ql);

	if (lab == NULL || qn == NULL || ql == NULL) {
		free(lab);
		free(qn);
		free(ql);
		return -1;
	}
	for (size_t i = 0; i < 2 * n; i++)
		lab[i] = SIZE_MAX;
	/* Each node joins the queue at most twice (once per label). */
	for (size_t k = 0; k < nsrc; k++) {
		const struct cv_node *nd = &g->nodes[src[k]];

		for (size_t i = 0; i < nd->nout; i++)
			if (label_add(lab, nd->out[i].to, src[k])) {
				qn[tail] = nd->out[i].to;
				ql[tail++] = src[k];
			}
	}
	while (head < tail) {
		size_t x = qn[head], l = ql[head++];
		const struct cv_node *nd = &g->nodes[x];

		for (size_t i = 0; i < nd->nout; i++)
			if (label_add(lab, nd->out[i].to, l)) {
				qn[tail] = nd->out[i].to;
				ql[tail++] = l;
			}
	}
	/* Marked: reached from a source other than the node itself. */
	for (size_t v = 0; v < g->n; v++)
		if ((lab[2 * v] != SIZE_MAX && lab[2 * v] != v) ||
		    lab[2 * v + 1] != SIZE_MAX)
			reach[v] = true;
	free(lab);
	free(qn);
	free(ql);
	return 0;
}

/*
 * Elementary cycles by Johnson's algorithm. Its blocking lists make the
 * work between two cycles found linear in the graph, so a dense graph
 * reaches the cap fast and a sparse one never explodes over paths.
 */
struct johnson {
	const struct cv_graph	*g;
	size_t			 cap;
	struct cv_cycles	*out;
	bool			 done;
	size_t			 s;		/* least vertex of the component */
	long			*comp;		/* SCC id, -1 outside {>= s} */
	bool			*blocked;
	size_t			**blist;	/* B(v) of the paper */
	size_t			*nb, *capb;
	size_t			*path;
	size_t			 npath;
	/* Tarjan state */
	long			*index, *low;
	bool			*onstack;
	size_t			*tstack;
	size_t			 ntstack;
	long			 counter, ncomp;
	int			 failed;
};

static void tarjan(struct johnson *j, size_t v)
{
	const struct cv_node *nd = &j->g->nodes[v];

	j->index[v] = j->low[v] = j->counter++;
	j->tstack[j->ntstack++] = v;
	j->onstack[v] = true;
	for (size_t i = 0; i < nd->nout; i++) {
		size_t w = nd->out[i].to;

		if (w < j->s)
			continue;
		if (j->index[w] < 0) {
			tarjan(j, w);
			if (j->low[w] < j->low[v])
				j->low[v] = j->low[w];
		} else if (j->onstack[w] && j->index[w] < j->low[v])
			j->low[v] = j->index[w];
	}
	if (j->low[v] == j->index[v]) {
		size_t w;

		do {
			w = j->tstack[--j->ntstack];
			j->onstack[w] = false;
			j->comp[w] = j->ncomp;
		} while (w != v);
		j->ncomp++;
	}
}

/* Least vertex >= from lying in a strongly connected component of the
 * subgraph {>= from} with at least two vertices; n when there is none.
 * Leaves comp[] describing that subgraph's components. */
static size_t least_cyclic_vertex(struct johnson *j, size_t from)
{
	const struct cv_graph *g = j->g;
	size_t *size;
	size_t best = g->n;

	j->s = from;
	j->counter = j->ncomp = 0;
	for (size_t v = 0; v < g->n; v++) {
		j->index[v] = -1;
		j->comp[v] = -1;
	}
	for (size_t v = from; v < g->n; v++)
		if (j->index[v] < 0)
			tarjan(j, v);
	size = calloc((size_t)j->ncomp + 1, sizeof *size);
	if (size == NULL) {
		j->failed = 1;
		return g->n;
	}
	for (size_t v = from; v < g->n; v++)
		size[j->comp[v]]++;
	for (size_t v = from; v < g->n && best == g->n; v++)
		if (size[j->comp[v]] >= 2)
			best = v;
	free(size);
	return best;
}

static void unblock(struct johnson *j, size_t u)
{
	j->blocked[u] = false;
	while (j->nb[u] > 0) {
		size_t w = j->blist[u][--j->nb[u]];

		if (j->blocked[w])
			unblock(j, w);
	}
}

static void blist_add(struct johnson *j, size_t w, size_t v)
{
	for (size_t i = 0; i < j->nb[w]; i++)
		if (j->blist[w][i] == v)
			return;
	if (j->nb[w] == j->capb[w]) {
		size_t ncap = j->capb[w] ? j->capb[w] * 2 : 4;
		size_t *nl = realloc(j->blist[w], ncap * sizeof *nl);

		if (nl == NULL) {
			j->failed = 1;
			return;
		}
		j->blist[w] = nl;
		j->capb[w] = ncap;
	}
	j->blist[w][j->nb[w]++] = v;
}

static void record_cycle(struct johnson *j)
{
	struct cv_cycles *c = j->out;

	if (c->nkept < CV_CYCLE_KEEP) {
		size_t k = c->nkept++;

		c->len[k] = j->npath < CV_CYCLE_KEEP_NODES ?
		    j->npath : CV_CYCLE_KEEP_NODES;
		memcpy(c->node[k], j->path, c->len[k] * sizeof j->path[0]);
	}
	if (++c->count >= j->cap)
		j->done = true;
}

/* Edge v -> w stays inside the current component and is not a loop. */
static bool in_component(const struct johnson *j, size_t v, size_t w)
{
	return w != v && j->comp[w] >= 0 && j->comp[w] == j->comp[j->s];
}

static bool circuit(struct johnson *j, size_t v)
{
	const struct cv_node *nd = &j->g->nodes[v];
	bool found = false;

	j->path[j->npath++] = v;
	j->blocked[v] = true;
	for (size_t i = 0; i < nd->nout && !j->done && !j->failed; i++) {
		size_t w = nd->out[i].to;

		if (!in_component(j, v, w))
			continue;
		if (w == j->s) {
			record_cycle(j);
			found = true;
		} else if (!j->blocked[w] && circuit(j, w))
			found = true;
	}
	if (found)
		unblock(j, v);
	else
		for (size_t i = 0; i < nd->nout; i++)
			if (in_component(j, v, nd->out[i].to))
				blist_add(j, nd->out[i].to, v);
	j->npath--;
	return found;
}

static void johnson_free(struct johnson *j)
{
	if (j->blist != NULL)
		for (size_t v = 0; v < j->g->n; v++)
			free(j->blist[v]);
	free(j->blist);
	free(j->nb);
	free(j->capb);
	free(j->comp);
	free(j->blocked);
	free(j->path);
	free(j->index);
	free(j->low);
	free(j->onstack);
	free(j->tstack);
}

static int johnson_alloc(struct johnson *j)
{
	size_t n = j->g->n ? j->g->n : 1;

	j->blist = calloc(n, sizeof *j->blist);
	j->nb = calloc(n, sizeof *j->nb);
	j->capb = calloc(n, sizeof *j->capb);
	j->comp = calloc(n, sizeof *j->comp);
	j->blocked = calloc(n, sizeof *j->blocked);
	j->path = calloc(n, sizeof *j->path);
	j->index = calloc(n, sizeof *j->index);
	j->low = calloc(n, sizeof *j->low);
	j->onstack = calloc(n, sizeof *j->onstack);
	j->tstack = calloc(n, sizeof *j->tstack);
	if (!j->blist || !j->nb || !j->capb || !j->comp || !j->blocked ||
	    !j->path || !j->index || !j->low || !j->onstack || !j->tstack)
		return -1;
	return 0;
}

int cv_graph_cycles(const struct cv_graph *g, size_t cap,
    struct cv_cycles *out)
{
	struct johnson j = { .g = g, .cap = cap, .out = out };
	size_t s = 0;

	memset(out, 0, sizeof *out);
	if (cap == 0 || g->n == 0)
		return 0;
	if (johnson_alloc(&j) == -1) {
		johnson_free(&j);
		return -1;
	}
	while (!j.done && !j.failed && s < g->n) {
		s = least_cyclic_vertex(&j, s);
		if (s >= g->n)
			break;
		j.s = s;
		for (size_t v = s; v < g->n; v++) {
			j.blocked[v] = false;
			j.nb[v] = 0;
		}
		circuit(&j, s);
		s++;
	}
	johnson_free(&j);
	return j.failed ? -1 : 0;
}
