/*
 * test_risk.c - risk scoring (domain.md 4) against the vectors of 10.1 and
 * 10.2. JSON in the tables is written with single quotes for legibility;
 * q() turns them into double quotes before parsing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cv.h"
#include "depgraph.h"
#include "risk.h"

#define TS "2026-01-01T00:00:00.000000+00:00"

#define FILES_0_9 "'f0.py','f1.py','f2.py','f3.py','f4.py','f5.py'," \
	"'f6.py','f7.py','f8.py','f9.py'"
#define FILES_10_14 ",'f10.py','f11.py','f12.py','f13.py','f14.py'"
#define FILES_15_19 ",'f15.py','f16.py','f17.py','f18.py','f19.py'"
#define FILES_20_24 ",'f20.py','f21.py','f22.py','f23.py','f24.py'"

#define CORE_TARGET "{'code':'semantic.core_target'}"
#define SPIRAL(n) "{'type':'spiral','severity':'medium','message':'" #n \
	" circular dependency cycle(s) detected'}"

/* Parses single-quoted JSON text; fails the test if it does not parse. */
static json_t *q(const char *text)
{
	char *s = strdup(text);
	json_error_t err;
	json_t *v;

	assert_non_null(s);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	v = json_loads(s, JSON_DECODE_ANY, &err);
	if (v == NULL)
		fail_msg("bad table JSON: %s: %s", err.text, s);
	free(s);
	return v;
}

/* expected is a subset of actual: objects by the keys expected lists,
 * arrays element by element with equal length, scalars equal. */
static int subset(const json_t *expected, const json_t *actual)
{
	const char *key;
	json_t *ev;
	size_t i;

	if (json_is_object(expected)) {
		if (!json_is_object(actual))
			return 0;
		json_object_foreach((json_t *)expected, key, ev)
			if (!subset(ev, json_object_get(actual, key)))
				return 0;
		return 1;
	}
	if (json_is_array(expected)) {
		if (!json_is_array(actual) ||
		    json_array_size(actual) != json_array_size(expected))
			return 0;
		json_array_foreach(expected, i, ev)
			if (!subset(ev, json_array_get(actual, i)))
				return 0;
		return 1;
	}
	return json_equal((json_t *)expected, (json_t *)actual);
}

static void assert_subset(const char *name, const json_t *expected,
    const json_t *actual)
{
	if (!subset(expected, actual)) {
		char *e = json_dumps(expected, JSON_REAL_PRECISION(15));
		char *a = json_dumps(actual, JSON_REAL_PRECISION(15));

		print_error("%s:\n expected %s\n actual   %s\n", name, e, a);
		free(e);
		free(a);
		fail();
	}
}

/* ---- 10.1 risk evaluation --------------------------------------------- */

struct risk_row {
	const char	*name;
	const char	*intent;	/* merged over the default intent */
	const char	*sim;		/* merged over the default simulation */
	const char	*coupling;	/* array, or NULL for none */
	long		 n, e, comp;
	double		 dens;
	double		 ce, vc, dc, pd;
	double		 risk, dmg, prop, cont;
	const char	*expect;	/* subset of the RiskEval */
	size_t		 nimpact;	/* 0: not checked */
};

static const struct risk_row risk_rows[] = {
	{ "V1", "{}", "{'files_changed':['a.py','b.py']}", NULL,
	  4, 3, 2, 0.25, 9.0, 64.4, 17.5, 5.0, 23.6, 35.9, 20.8, 0.82,
	  "{'bombs':[],'findings':[" CORE_TARGET "],"
	  "'graph_metrics':{'pagerank_max':0.4119,'pagerank_top':["
	  "{'node':'a.py','rank':0.4119},{'node':'b.py','rank':0.4119},"
	  "{'node':'main','rank':0.1143},{'node':'test-001','rank':0.0618}],"
	  "'critical_files':[{'file':'a.py','pagerank':0.4119},"
	  "{'file':'b.py','pagerank':0.4119}]},"
	  "'impact_edges':["
	  "{'source':'feature/x','target':'main','type':'merge_target',"
	  "'weight':1.0},"
	  "{'source':'test-001','target':'a.py','type':'modifies_file',"
	  "'weight':0.3},"
	  "{'source':'test-001','target':'b.py','type':'modifies_file',"
	  "'weight':0.3}]}", 3 },
	{ "V2", "{'id':'eng-001'}", "{'files_changed':['a.py']}", NULL,
	  3, 1, 2, 0.1667, 7.0, 38.4, 10.0, 2.0, 14.2, 21.7, 7.9, 0.87,
	  "{'bombs':[],'findings':[" CORE_TARGET "]}", 0 },
	{ "V3", "{}", "{'files_changed':['src/auth/login.py',"
	  "'src/auth/logout.py','src/db/conn.py']}", NULL,
	  7, 6, 3, 0.1429, 22.0, 60.0, 14.3, 17.0, 28.7, 40.0, 30.4, 0.74,
	  "{'bombs':[],'findings':[" CORE_TARGET "]}", 0 },
	{ "V4", "{'dependencies':['dep-1','dep-2']}",
	  "{'files_changed':['a.py','b.py']}", NULL,
	  6, 5, 2, 0.1667, 21.0, 75.0, 15.0, 21.0, 33.3, 48.0, 29.6, 0.72,
	  "{'bombs':[],'findings':[" CORE_TARGET "]}", 0 },
	{ "V5", "{'technical':{'scope_hint':['auth']}}",
	  "{'files_changed':['a.py','b.py']}", NULL,
	  5, 5, 2, 0.25, 9.0, 75.0, 25.0, 5.0, 27.7, 41.2, 24.3, 0.77,
	  "{'bombs':[],'findings':[" CORE_TARGET "]}", 0 },
	{ "V6", "{'technical':{'scope_hint':['auth','db','api']}}",
	  "{'files_changed':['a.py','b.py']}", NULL,
	  7, 9, 2, 0.2143, 9.0, 75.0, 36.4, 5.0, 30.0, 41.2, 31.3, 0.67,
	  "{'bombs':[],'findings':[" CORE_TARGET "]}", 0 },
	{ "V7", "{'risk_level':'critical','dependencies':['a','b','c','d','e'],"
	  "'technical':{'scope_hint':['core','db','api']}}",
	  "{'mergeable':false,'conflicts':['x.py'],'files_changed':["
	  FILES_0_9 FILES_10_14 FILES_15_19 FILES_20_24 "]}", NULL,
	  35, 681, 2, 0.5723, 100.0, 79.7, 67.9, 100.0,
	  88.5, 89.8, 100.0, 0.0,
	  "{'bombs':[" SPIRAL(10) ",{'type':'thermal_death',"
	  "'severity':'critical','indicators':4,'message':'4/5 entropy "
	  "indicators elevated: files=25, conflicts=1, deps=5, components=2, "
	  "edge_density=681/35'}],'findings':["
	  "{'code':'semantic.large_change','severity':'high',"
	  "'message':'Change touches 25 files'},"
	  "{'code':'semantic.dependency_spread','severity':'medium',"
	  "'message':'Depends on 5 other intents'},"
	  "{'code':'semantic.core_target','severity':'high',"
	  "'message':'Targets core branch: main'},"
	  "{'code':'semantic.merge_conflict','severity':'critical',"
	  "'message':'1 merge conflict(s) detected'}]}", 29 },
	{ "V8", "{'dependencies':['a','b','c','d']}",
	  "{'conflicts':['x.py'],'files_changed':[" FILES_0_9 FILES_10_14 "]}",
	  NULL, 21, 215, 2, 0.5119, 74.0, 54.3, 50.5, 100.0,
	  70.9, 69.3, 100.0, 0.0,
	  "{'bombs':[" SPIRAL(10) ",{'type':'thermal_death','message':'4/5 "
	  "entropy indicators elevated: files=15, conflicts=1, deps=4, "
	  "components=2, edge_density=215/21'}],'findings':["
	  "{'code':'semantic.dependency_spread'}," CORE_TARGET ","
	  "{'code':'semantic.merge_conflict'}]}", 0 },
	{ "V9", "{}", "{'files_changed':['a.py','b.py']}",
	  "[{'file_a':'a.py','file_b':'external.py','co_changes':10}]",
	  5, 5, 2, 0.25, 9.0, 54.7, 20.0, 10.0, 22.9, 32.0, 24.1, 0.82,
	  "{'bombs':[" SPIRAL(2) "],'findings':[" CORE_TARGET "]}", 0 },
	{ "V10", "{'target':'dev'}", "{'files_changed':['a.py','b.py']}",
	  NULL, 4, 3, 2, 0.25, 9.0, 54.4, 17.5, 5.0, 21.1, 30.9, 20.8, 0.82,
	  "{'bombs':[],'findings':[]}", 0 },
	{ "V11", "{}", "{'files_changed':['src/core.py','src/lib.py']}", NULL,
	  5, 5, 2, 0.25, 12.0, 62.0, 20.0, 13.0, 26.4, 37.2, 30.8, 0.82,
	  "{'bombs':[],'findings':[" CORE_TARGET "]}", 0 },
	{ "V12", "{}", "{'files_changed':['docs/readme.md','docs/guide.md']}",
	  NULL, 5, 5, 2, 0.25, 12.0, 42.0, 20.0, 5.0, 19.4, 25.6, 30.8, 0.82,
	  "{'bombs':[],'findings':[" CORE_TARGET "]}", 0 },
	{ "V13", "{}", "{'files_changed':[]}", NULL,
	  2, 1, 1, 0.5, 0.0, 15.0, 25.0, 2.0, 9.2, 7.9, 5.0, 0.95,
	  "{'bombs':[],'findings':[" CORE_TARGET "],"
	  "'graph_metrics':{'critical_files':[]}}", 1 },
	{ "V14", "{'dependencies':['dep-001'],"
	  "'technical':{'scope_hint':['auth','api']}}",
	  "{'files_changed':['src/auth/login.py','src/api/routes.py']}", NULL,
	  9, 8, 2, 0.1111, 21.0, 69.0, 23.3, 18.0, 32.7, 44.4, 32.2, 0.67,
	  "{'bombs':[],'findings':[" CORE_TARGET "]}", 0 },
	{ "V15", "{}", "{'files_changed':['pkg/a.c','pkg/b.c','pkg/c.c',"
	  "'pkg/d.c']}", NULL,
	  7, 17, 2, 0.4048, 16.0, 65.9, 40.5, 100.0, 54.4, 57.8, 56.6, 0.72,
	  "{'bombs':[" SPIRAL(10) "],'findings':[" CORE_TARGET "]}", 0 },
	{ "V16", "{'risk_level':'low','target':'feature/base'}",
	  "{'files_changed':['README.md']}", NULL,
	  3, 1, 2, 0.1667, 7.0, 23.4, 10.0, 2.0, 10.4, 14.2, 7.9, 0.87,
	  "{'bombs':[],'findings':[]}", 0 },
	{ "V17", "{}", "{'files_changed':[" FILES_0_9 FILES_10_14 FILES_15_19
	  "]}", NULL,
	  22, 381, 2, 0.8247, 45.0, 47.3, 63.0, 100.0, 62.9, 57.1, 100.0, 0.0,
	  "{'bombs':[" SPIRAL(10) "],'findings':["
	  "{'code':'semantic.large_change','message':'Change touches 20 "
	  "files'}," CORE_TARGET "]}", 0 },
	{ "V18", "{}", "{'files_changed':['src/a.py','lib/b.py']}",
	  "[{'file_a':'src/a.py','file_b':'lib/b.py','co_changes':3},"
	  "{'file_a':'x.py','file_b':'y.py','co_changes':9}]",
	  6, 5, 2, 0.1667, 15.0, 66.9, 21.0, 13.0, 28.7, 40.6, 30.8, 0.82,
	  "{'bombs':[],'findings':[" CORE_TARGET "]}", 0 },
	{ "V19", "{}", "{'files_changed':['d/a.py','d/b.py','d/c.py']}",
	  "[{'file_a':'d/a.py','file_b':'x0.py','co_changes':5},"
	  "{'file_a':'d/a.py','file_b':'x1.py','co_changes':5},"
	  "{'file_a':'d/a.py','file_b':'x2.py','co_changes':5},"
	  "{'file_a':'d/a.py','file_b':'x3.py','co_changes':5}]",
	  10, 18, 2, 0.2, 14.0, 62.6, 50.0, 45.0, 41.1, 44.5, 38.0, 0.77,
	  "{'bombs':[{'type':'cascade','severity':'high','message':'Change "
	  "touches 1 high-centrality node(s) with potential cascade to 7 "
	  "nodes','trigger_nodes':['d/a.py'],'blast_radius':7}," SPIRAL(9)
	  "],'findings':[" CORE_TARGET "]}", 0 },
	{ "V20", "{}", "{'files_changed':['d/a.py','d/b.py','d/c.py']}", NULL,
	  6, 10, 2, 0.3333, 14.0, 44.6, 30.0, 25.0, 27.6, 31.5, 43.7, 0.77,
	  "{'bombs':[" SPIRAL(5) "],'findings':[" CORE_TARGET "]}", 0 },
	{ "V21", "{'technical':{'scope_hint':['src']}}",
	  "{'files_changed':['src/new_feature.py']}", NULL,
	  4, 3, 2, 0.25, 10.0, 84.4, 22.5, 9.0, 30.9, 47.0, 21.4, 0.82,
	  "{'bombs':[],'findings':[" CORE_TARGET "]}", 0 },
	{ "V22", "{'dependencies':['dep-1'],'technical':{'scope_hint':['api']}}",
	  "{'files_changed':['api/x/h.py']}", NULL,
	  6, 4, 2, 0.1333, 16.0, 50.9, 17.0, 10.0, 23.4, 32.2, 25.8, 0.77,
	  "{'bombs':[],'findings':[" CORE_TARGET "],"
	  "'graph_metrics':{'pagerank_top':["
	  "{'node':'api/x','rank':0.2774},{'node':'api/x/h.py','rank':0.1995},"
	  "{'node':'main','rank':0.1588},{'node':'dep-1','rank':0.1486},"
	  "{'node':'api','rank':0.1078}]}}", 0 },
	{ "V23", "{'id':'v-1','risk_level':'high'}",
	  "{'files_changed':['a.py']}", NULL,
	  3, 1, 2, 0.1667, 7.0, 48.4, 10.0, 2.0, 16.7, 26.7, 7.9, 0.87,
	  "{'bombs':[],'findings':[" CORE_TARGET "]}", 0 },
	/* Not a spec vector: the tenant is echoed, the timestamp stamped. */
	{ "tenant", "{'tenant_id':'team-a'}", "{'files_changed':['a.py']}",
	  NULL, 3, 1, 2, 0.1667, 7.0, 38.4, 10.0, 2.0, 14.2, 21.7, 7.9, 0.87,
	  "{'tenant_id':'team-a','timestamp':'" TS "'}", 0 },
};

static const char *const riskeval_keys[] = {
	"intent_id", "risk_score", "damage_score", "entropy_score",
	"propagation_score", "containment_score", "signals", "findings",
	"impact_edges", "graph_metrics", "bombs", "timestamp", "tenant_id"
};

static json_t *risk_run(const struct risk_row *r)
{
	json_t *intent = q("{'id':'test-001','source':'feature/x',"
	    "'target':'main','risk_level':'medium','dependencies':[],"
	    "'technical':{'scope_hint':[]},'tenant_id':null}");
	json_t *sim = q("{'mergeable':true,'conflicts':[],"
	    "'files_changed':[]}");
	json_t *over_i = q(r->intent), *over_s = q(r->sim);
	json_t *coupling = r->coupling ? q(r->coupling) : NULL;
	json_t *out;

	json_object_update(intent, over_i);
	json_object_update(sim, over_s);
	out = cv_risk_evaluate(intent, sim, coupling, TS);
	json_decref(intent);
	json_decref(sim);
	json_decref(over_i);
	json_decref(over_s);
	json_decref(coupling);
	return out;
}

static void check_num(const char *row, const char *what, double want,
    double got)
{
	if (want != got) {
		print_error("%s: %s expected %.17g, got %.17g\n", row, what,
		    want, got);
		fail();
	}
}

static double get(const json_t *o, const char *path)
{
	const char *dot = strchr(path, '.');

	if (dot != NULL) {
		char head[64];

		snprintf(head, sizeof head, "%.*s", (int)(dot - path), path);
		return get(json_object_get(o, head), dot + 1);
	}
	assert_true(json_is_number(json_object_get(o, path)));
	return json_number_value(json_object_get(o, path));
}

static void check_row(const struct risk_row *r, const json_t *out)
{
	const json_t *gm = json_object_get(out, "graph_metrics");
	json_t *expect = q(r->expect);
	const char *key;
	json_t *v;
	size_t k = 0;

	assert_true(json_is_integer(json_object_get(gm, "nodes")));
	check_num(r->name, "nodes", (double)r->n, get(gm, "nodes"));
	check_num(r->name, "edges", (double)r->e, get(gm, "edges"));
	check_num(r->name, "components", (double)r->comp,
	    get(gm, "components"));
	check_num(r->name, "density", r->dens, get(gm, "density"));
	check_num(r->name, "ce", r->ce, get(out, "signals.entropic_load"));
	check_num(r->name, "vc", r->vc, get(out, "signals.contextual_value"));
	check_num(r->name, "dc", r->dc, get(out, "signals.complexity_delta"));
	check_num(r->name, "pd", r->pd, get(out, "signals.path_dependence"));
	check_num(r->name, "entropy", r->ce, get(out, "entropy_score"));
	check_num(r->name, "risk", r->risk, get(out, "risk_score"));
	check_num(r->name, "damage", r->dmg, get(out, "damage_score"));
	check_num(r->name, "propagation", r->prop,
	    get(out, "propagation_score"));
	check_num(r->name, "containment", r->cont,
	    get(out, "containment_score"));
	if (r->nimpact != 0)
		assert_int_equal(r->nimpact,
		    json_array_size(json_object_get(out, "impact_edges")));
	assert_subset(r->name, expect, out);
	json_object_foreach((json_t *)out, key, v) {
		assert_true(k < CV_ARRAY_LEN(riskeval_keys));
		assert_string_equal(riskeval_keys[k++], key);
	}
	assert_int_equal(k, CV_ARRAY_LEN(riskeval_keys));
	json_decref(expect);
}

static void test_risk_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(risk_rows); i++) {
		json_t *out = risk_run(&risk_rows[i]);

		assert_non_null(out);
		check_row(&risk_rows[i], out);
		json_decref(out);
	}
}

/* ---- 10.2 diagnostics ------------------------------------------------- */

struct diag_row {
	const char	*name;
	const char	*risk;		/* RiskEval JSON */
	const char	*sim;
	const char	*expect;	/* the whole array, subset per element */
};

#define ZERO_RISK(r) "{'intent_id':'i','risk_score':" #r ",'damage_score':0.0," \
	"'entropy_score':0.0,'propagation_score':0.0,'containment_score':0.0,"\
	"'signals':{'entropic_load':0.0,'contextual_value':0.0," \
	"'complexity_delta':0.0,'path_dependence':0.0},"

static const struct diag_row diag_rows[] = {
	{ "V24", "{'risk_score':85.0,'damage_score':70.0,'entropy_score':45.0,"
	  "'propagation_score':50.0,'containment_score':0.3,"
	  "'signals':{'entropic_load':60.0,'contextual_value':70.0,"
	  "'complexity_delta':30.0,'path_dependence':50.0},"
	  "'findings':[],'bombs':[]}",
	  "{'mergeable':false,'conflicts':['a.py','b.py']}",
	  "[{'severity':'critical','code':'diag.high_risk','explanation':"
	  "'Combined risk score 85 exceeds safe threshold','recommendation':"
	  "'Split this change into smaller, independent intents'},"
	  "{'severity':'critical','code':'diag.merge_conflict','explanation':"
	  "'Merge has 2 conflict(s): a.py, b.py','recommendation':"
	  "'Resolve conflicts in source branch before retrying'},"
	  "{'severity':'high','code':'diag.high_entropy','explanation':"
	  "'Entropy score 45 indicates high disorder','recommendation':"
	  "'Reduce file count or dependencies before merging'},"
	  "{'severity':'high','code':'diag.high_propagation','explanation':"
	  "'Change propagation score 50 indicates wide blast radius',"
	  "'recommendation':'Review impact graph and consider narrowing "
	  "scope'},"
	  "{'severity':'high','code':'diag.high_entropic_load','explanation':"
	  "'Entropic load 60 indicates high disorder introduction',"
	  "'recommendation':'Reduce the number of files, directories, or "
	  "dependencies touched'},"
	  "{'severity':'high','code':'diag.high_contextual_value',"
	  "'explanation':'Change touches critical files (contextual value: "
	  "70)','recommendation':'Ensure thorough review \u2014 these files "
	  "have high centrality in the codebase'},"
	  "{'severity':'medium','code':'diag.low_containment','explanation':"
	  "'Containment 0.30 is below acceptable levels','recommendation':"
	  "'Add scope hints or reduce cross-boundary dependencies'},"
	  "{'severity':'medium','code':'diag.path_dependent','explanation':"
	  "'Path dependence 50: merge order matters','recommendation':"
	  "'Coordinate merge timing with related intents'}]" },
	{ "V25", ZERO_RISK(50.0) "'findings':[{'code':'semantic.core_target',"
	  "'severity':'high','message':'Targets core branch: main'}],"
	  "'bombs':[{'type':'thermal_death','severity':'critical',"
	  "'message':'System overheating'}]}",
	  "{'mergeable':true,'conflicts':[]}",
	  "[{'severity':'critical','code':'diag.bomb.thermal_death',"
	  "'explanation':'System overheating','recommendation':'System is "
	  "under stress \u2014 reduce change scope immediately'},"
	  "{'severity':'high','code':'semantic.core_target','explanation':"
	  "'Targets core branch: main','recommendation':''},"
	  "{'severity':'medium','code':'diag.low_containment','explanation':"
	  "'Containment 0.00 is below acceptable levels'}]" },
	/* V84: a calm risk payload gives no diagnostics. */
	{ "V84", "{'risk_score':10.0,'damage_score':5.0,'entropy_score':3.0,"
	  "'propagation_score':2.0,'containment_score':0.9,"
	  "'signals':{'entropic_load':3.0,'contextual_value':4.0,"
	  "'complexity_delta':1.0,'path_dependence':2.0}}",
	  "{'mergeable':true}", "[]" },
	/* B14: a payload without containment or mergeable is not alarming. */
	{ "B14", "{'risk_score':50.0}", "{}", "[]" },
	{ "boundaries", "{'risk_score':60.0,'entropy_score':20.5,"
	  "'propagation_score':40.0,'containment_score':0.4,"
	  "'signals':{'entropic_load':50.0,'contextual_value':60.0,"
	  "'path_dependence':40.0}}", "{'mergeable':true}",
	  "[{'severity':'medium','code':'diag.high_entropy','explanation':"
	  "'Entropy score 20 indicates high disorder'}]" },
	{ "high_risk_high", "{'risk_score':80.0}", "{}",
	  "[{'severity':'high','code':'diag.high_risk'}]" },
	{ "conflicts_first_5", "{}", "{'mergeable':false,'conflicts':"
	  "['a','b','c','d','e','f']}",
	  "[{'code':'diag.merge_conflict','explanation':'Merge has 6 "
	  "conflict(s): a, b, c, d, e'}]" },
	{ "defaults_and_order", "{'findings':[{'severity':'low',"
	  "'code':'x.low','message':'l'},{'message':'f'}],"
	  "'bombs':[{'type':'other','message':'m'},"
	  "{'type':'cascade','severity':'odd','message':'c'},"
	  "{'type':'spiral','severity':'medium','message':'s'}]}", "{}",
	  "[{'severity':'high','code':'diag.bomb.other','explanation':'m',"
	  "'recommendation':'Review and reduce change scope'},"
	  "{'severity':'medium','code':'diag.bomb.spiral','recommendation':"
	  "'Break circular dependencies before merging'},"
	  "{'severity':'medium','code':'diag.finding','explanation':'f',"
	  "'recommendation':''},"
	  "{'severity':'odd','code':'diag.bomb.cascade','recommendation':"
	  "'Split change to avoid touching high-centrality files "
	  "simultaneously'},"
	  "{'severity':'low','code':'x.low'}]" },
};

static void test_diagnostics_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(diag_rows); i++) {
		const struct diag_row *r = &diag_rows[i];
		json_t *risk = q(r->risk), *sim = q(r->sim);
		json_t *expect = q(r->expect);
		json_t *out = cv_risk_diagnostics_build(risk, sim);

		assert_non_null(out);
		assert_subset(r->name, expect, out);
		json_decref(out);
		json_decref(expect);
		json_decref(risk);
		json_decref(sim);
	}
}

/* ---- 4.12 levels and the severity rank --------------------------------- */

struct level_row {
	double		 score;
	const char	*blast, *colour, *learning;
};

static const struct level_row level_rows[] = {
	{ 0.0,   "low",      "red",    "fragile" },
	{ 29.9,  "low",      "red",    "fragile" },
	{ 30.0,  "medium",   "red",    "fragile" },
	{ 39.9,  "medium",   "red",    "fragile" },
	{ 40.0,  "medium",   "yellow", "acceptable" },
	{ 49.9,  "medium",   "yellow", "acceptable" },
	{ 50.0,  "high",     "yellow", "acceptable" },
	{ 69.9,  "high",     "yellow", "acceptable" },
	{ 70.0,  "high",     "green",  "strong" },
	{ 74.9,  "high",     "green",  "strong" },
	{ 75.0,  "critical", "green",  "strong" },
	{ 100.0, "critical", "green",  "strong" },
};

struct rank_row {
	const char	*sev;
	int		 rank;
};

static const struct rank_row rank_rows[] = {
	{ "critical", 0 }, { "high", 1 }, { "medium", 2 }, { "low", 3 },
	{ "HIGH", 3 }, { "", 3 }, { NULL, 3 },
};

static void test_levels(void **state)
{
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(level_rows); i++) {
		const struct level_row *r = &level_rows[i];

		assert_string_equal(r->blast, cv_blast_severity(r->score));
		assert_string_equal(r->colour, cv_health_colour(r->score));
		assert_string_equal(r->learning, cv_learning_level(r->score));
	}
	for (size_t i = 0; i < CV_ARRAY_LEN(rank_rows); i++)
		assert_int_equal(rank_rows[i].rank,
		    cv_severity_rank(rank_rows[i].sev));
}

/* ---- 4.3 cycle counting below and at the cap --------------------------- */

struct cycle_row {
	const char	*name;
	size_t		 n;		/* nodes 0..n-1 */
	const char	*edges;		/* "ab ba ..." over nodes a, b, ... */
	size_t		 cap;
	size_t		 count;
	int		 dag;
};

static const struct cycle_row cycle_rows[] = {
	{ "empty", 3, "", 20, 0, 1 },
	{ "self-loop only", 2, "aa ab", 20, 0, 0 },
	{ "two-cycle", 2, "ab ba", 20, 1, 0 },
	{ "K3", 3, "ab ba ac ca bc cb", 20, 5, 0 },
	{ "K4", 4, "ab ba ac ca ad da bc cb bd db cd dc", 100, 20, 0 },
	{ "K4 capped", 4, "ab ba ac ca ad da bc cb bd db cd dc", 10, 10, 0 },
	{ "ring of 5", 5, "ab bc cd de ea", 20, 1, 0 },
	{ "two rings sharing a", 5, "ab ba ac cd da ee", 20, 2, 0 },
	{ "diamond DAG", 4, "ab ac bd cd", 20, 0, 1 },
	{ "star through hub", 5, "ab ba ac ca ad da ae ea", 20, 4, 0 },
};

static const char *const node_names[] = { "a", "b", "c", "d", "e", "f" };

static void test_cycles(void **state)
{
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(cycle_rows); i++) {
		const struct cycle_row *r = &cycle_rows[i];
		struct cv_graph g;
		struct cv_cycles cyc;
		size_t idx;

		cv_graph_init(&g);
		for (size_t v = 0; v < r->n; v++)
			assert_int_equal(0, cv_graph_add_node(&g,
			    node_names[v], NULL, &idx));
		for (const char *p = r->edges; p[0] && p[1];
		    p += p[2] ? 3 : 2)
			assert_int_equal(0, cv_graph_set_edge(&g,
			    (size_t)(p[0] - 'a'), (size_t)(p[1] - 'a'),
			    "t", 1.0));
		assert_int_equal(0, cv_graph_cycles(&g, r->cap, &cyc));
		if (cyc.count != r->count)
			fail_msg("%s: %zu cycles, expected %zu", r->name,
			    cyc.count, r->count);
		assert_int_equal(r->dag, cv_graph_is_dag(&g));
		assert_true(cyc.nkept <= CV_CYCLE_KEEP);
		cv_graph_free(&g);
	}
}

/* A dense change of 120 files must stop at the cycle cap, not enumerate. */
static void test_large_change(void **state)
{
	json_t *intent = q("{'id':'big','source':'s','target':'main',"
	    "'dependencies':['d1','d2','d3','d4'],'technical':{'scope_hint':['src']}}");
	json_t *sim = json_pack("{s:b, s:[], s:[]}", "mergeable", 1,
	    "conflicts", "files_changed");
	json_t *files = json_object_get(sim, "files_changed"), *out;
	json_t *expect = q("[" SPIRAL(10) ",{'type':'thermal_death',"
	    "'indicators':3}]");
	char name[64];

	(void)state;
	for (int i = 0; i < 120; i++) {
		snprintf(name, sizeof name, "src/m%d/f%d.c", i % 3, i);
		json_array_append_new(files, json_string(name));
	}
	out = cv_risk_evaluate(intent, sim, NULL, NULL);
	assert_non_null(out);
	assert_subset("large", expect, json_object_get(out, "bombs"));
	/* merge target, 4 dependencies, 1 scope, then only 20 files */
	assert_int_equal(26, json_array_size(json_object_get(out,
	    "impact_edges")));
	json_decref(expect);
	json_decref(out);
	json_decref(intent);
	json_decref(sim);
}

/* The union of descendants over many sources in one walk equals the
 * union of one walk per source (a source is marked only when another
 * source reaches it). */
static const struct { const char *name; size_t n; const char *edges,
    *src; } union_rows[] = {
	{ "chain", 5, "ab bc cd de", "a" },
	{ "chain, two sources", 5, "ab bc cd de", "ac" },
	{ "source on a cycle", 3, "ab ba bc", "a" },
	{ "two sources on one cycle", 3, "ab ba bc", "ab" },
	{ "self loop", 2, "aa ab", "a" },
	{ "disjoint", 6, "ab cd ef", "ace" },
	{ "diamond", 4, "ab ac bd cd", "abc" },
	{ "clique", 4, "ab ac ad ba bc bd ca cb cd da db dc", "abcd" },
	{ "none", 3, "ab", "" },
};

static void test_descendants_union(void **state)
{
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_LEN(union_rows); i++) {
		struct cv_graph g;
		bool want[6] = { false }, got[6] = { false };
		size_t idx, src[6], nsrc = strlen(union_rows[i].src);

		cv_graph_init(&g);
		for (size_t v = 0; v < union_rows[i].n; v++)
			assert_int_equal(0, cv_graph_add_node(&g,
			    node_names[v], NULL, &idx));
		for (const char *p = union_rows[i].edges; p[0] && p[1];
		    p += p[2] ? 3 : 2)
			assert_int_equal(0, cv_graph_set_edge(&g,
			    (size_t)(p[0] - 'a'), (size_t)(p[1] - 'a'), "t",
			    1.0));
		for (size_t k = 0; k < nsrc; k++) {
			src[k] = (size_t)(union_rows[i].src[k] - 'a');
			assert_int_equal(0, cv_graph_descendants(&g, src[k],
			    want));
		}
		assert_int_equal(0, cv_graph_descendants_union(&g, src, nsrc,
		    got));
		for (size_t v = 0; v < union_rows[i].n; v++)
			if (want[v] != got[v])
				fail_msg("%s: node %s %d, expected %d",
				    union_rows[i].name, node_names[v], got[v],
				    want[v]);
		cv_graph_free(&g);
	}
}

/* A node with thousands of edges: set_edge overwrites, add_edge_once
 * never duplicates, every edge is found again. */
static void test_high_degree_edges(void **state)
{
	enum { N = 5000 };
	static char names[N][12];
	struct cv_graph g;
	size_t hub, idx;

	(void)state;
	cv_graph_init(&g);
	assert_int_equal(0, cv_graph_add_node(&g, "hub", NULL, &hub));
	for (size_t v = 0; v < N; v++) {
		snprintf(names[v], sizeof names[v], "n%zu", v);
		assert_int_equal(0, cv_graph_add_node(&g, names[v], NULL, &idx));
		assert_int_equal(0, cv_graph_set_edge(&g, hub, idx, "a", 0.1));
	}
	for (size_t v = 0; v < N; v++) {
		assert_int_equal(0, cv_graph_set_edge(&g, hub, v + 1, "b",
		    0.5));
		assert_int_equal(0, cv_graph_add_edge_once(&g, hub, v + 1, "c",
		    0.9));
	}
	assert_int_equal(N, g.nedges);
	assert_int_equal(N, g.nodes[hub].nout);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(i + 1, g.nodes[hub].out[i].to);
		assert_string_equal("b", g.nodes[hub].out[i].rel);
	}
	cv_graph_free(&g);
}

/* A branch changing thousands of files in one directory (pairwise
 * co_located edges) and an intent at every request cap: the graph keeps
 * CV_RISK_GRAPH_FILES_MAX files, the rest still count. */
static void test_graph_files_capped(void **state)
{
	json_t *deps = json_array(), *scopes = json_array(), *files =
	    json_array(), *intent, *sim, *out, *gm;
	char name[64];

	(void)state;
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "dep-%d", i);
		json_array_append_new(deps, json_string(name));
	}
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof name, "src/f%d", i);
		json_array_append_new(scopes, json_string(name));
	}
	for (int i = 0; i < 600; i++) {
		snprintf(name, sizeof name, "src/f%d.c", i);
		json_array_append_new(files, json_string(name));
	}
	intent = json_pack("{s:s,s:s,s:s,s:o,s:{s:o}}", "id", "wide",
	    "source", "s", "target", "main", "dependencies", deps,
	    "technical", "scope_hint", scopes);
	sim = json_pack("{s:b,s:[],s:o}", "mergeable", 1, "conflicts",
	    "files_changed", files);
	out = cv_risk_evaluate(intent, sim, NULL, NULL);
	assert_non_null(out);
	gm = json_object_get(out, "graph_metrics");
	/* files kept, their one directory, 200 scopes, 100 dependencies,
	 * the intent and its target */
	assert_int_equal(json_integer_value(json_object_get(gm, "nodes")),
	    CV_RISK_GRAPH_FILES_MAX + 1 + 200 + 100 + 2);
	assert_true(json_integer_value(json_object_get(gm, "edges")) <=
	    CV_RISK_GRAPH_FILES_MAX * (CV_RISK_GRAPH_FILES_MAX + 200) + 200);
	json_decref(out);
	json_decref(intent);
	json_decref(sim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descendants_union),
		cmocka_unit_test(test_high_degree_edges),
		cmocka_unit_test(test_graph_files_capped),
		cmocka_unit_test(test_risk_vectors),
		cmocka_unit_test(test_diagnostics_vectors),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_cycles),
		cmocka_unit_test(test_large_change),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
