/*
 * depgraph.h - the dependency graph of risk scoring (domain.md 4.2, 4.3).
 *
 * A directed graph without parallel edges. Nodes are kept in first
 * insertion order because every tie-break of the spec depends on it.
 * Node names and kinds are borrowed: the strings must outlive the graph
 * (risk.c keeps them in the intent / simulation JSON it was given).
 */
#ifndef CV_DEPGRAPH_H
#define CV_DEPGRAPH_H

#include <stdbool.h>
#include <stddef.h>

struct cv_edge {
	size_t		 to;
	const char	*rel;
	double		 weight;
};

struct cv_node {
	const char	*name;
	const char	*kind;		/* NULL when never given one */
	struct cv_edge	*out;		/* in insertion order */
	size_t		 nout;
	size_t		 capout;
};

/* Where an edge lives: nodes[from].out[idx]; from + 1, 0 = empty. */
struct cv_edge_slot {
	size_t		 from1;
	size_t		 idx;
};

struct cv_graph {
	struct cv_node	*nodes;
	size_t		 n;
	size_t		 cap;
	size_t		 nedges;
	size_t		*hash;		/* open addressing, node index + 1 */
	size_t		 hcap;
	/* edges by (from, to), open addressing: finding an edge costs the
	 * same for a node with one edge and one with thousands */
	struct cv_edge_slot *ehash;
	size_t		 ehcap;
};

/* Longest cycle prefix kept for the spiral bomb (4.9). */
#define CV_CYCLE_KEEP_NODES 5
#define CV_CYCLE_KEEP 3

/* Result of counting elementary cycles up to a cap. */
struct cv_cycles {
	size_t	count;				/* min(total, cap) */
	size_t	nkept;				/* cycles recorded, <= 3 */
	size_t	len[CV_CYCLE_KEEP];		/* nodes recorded, <= 5 */
	size_t	node[CV_CYCLE_KEEP][CV_CYCLE_KEEP_NODES];
};

/* Initialises an empty graph (no allocation). */
void cv_graph_init(struct cv_graph *g);

/* Releases everything the graph allocated; the graph is empty after. */
void cv_graph_free(struct cv_graph *g);

/* Index of the node named name, or -1. */
long cv_graph_find(const struct cv_graph *g, const char *name);

/* Adds node name (or finds it); a non-NULL kind overwrites the old one.
 * Writes its index to *idx. Returns 0, or -1 on allocation failure. */
int cv_graph_add_node(struct cv_graph *g, const char *name,
    const char *kind, size_t *idx);

/* Adds edge from -> to, or overwrites rel and weight of the existing one.
 * Returns 0, or -1 on allocation failure. */
int cv_graph_set_edge(struct cv_graph *g, size_t from, size_t to,
    const char *rel, double weight);

/* Adds edge from -> to only when there is none; never overwrites. */
int cv_graph_add_edge_once(struct cv_graph *g, size_t from, size_t to,
    const char *rel, double weight);

/* Same as the above, endpoints by name (missing nodes are created
 * without kind). */
int cv_graph_set_edge_named(struct cv_graph *g, const char *from,
    const char *to, const char *rel, double weight);

/* PageRank of 4.3 into pr[n] (caller-allocated). Returns 0, or -1 on
 * allocation failure. */
int cv_graph_pagerank(const struct cv_graph *g, double *pr);

/* Number of weakly connected components; -1 on allocation failure. */
long cv_graph_components(const struct cv_graph *g);

/* E / (N*(N-1)) for N >= 2, else 0. */
double cv_graph_density(const struct cv_graph *g);

/* 1 if the graph has no directed cycle (self-loops count), 0 if it has,
 * -1 on allocation failure. */
int cv_graph_is_dag(const struct cv_graph *g);

/* Counts elementary cycles of length >= 2 up to cap (Johnson's
 * algorithm, so the work is bounded by the cycles found, never by all
 * paths), and records the first three. Returns 0, or -1 on allocation
 * failure. */
int cv_graph_cycles(const struct cv_graph *g, size_t cap,
    struct cv_cycles *out);

/* Longest weighted path; the caller knows the graph is a DAG. Returns 0
 * for a graph without edges, -1.0 on allocation failure. */
double cv_graph_longest(const struct cv_graph *g);

/* Marks in reach[n] (caller-allocated, not cleared) every node reachable
 * from v by at least one edge. Returns 0, or -1 on allocation failure. */
int cv_graph_descendants(const struct cv_graph *g, size_t v, bool *reach);

/* The union of cv_graph_descendants over the nsrc nodes of src, marked in
 * reach[n] (caller-allocated, not cleared), in O(nodes + edges) however
 * many sources: a source is marked only when another source reaches it
 * (each is excluded from its own descendants). Returns 0, or -1 on
 * allocation failure. */
int cv_graph_descendants_union(const struct cv_graph *g, const size_t *src,
    size_t nsrc, bool *reach);

#endif
