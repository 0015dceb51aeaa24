/* test_archaeology.c - domain.md 9.1 / 4.11 (V83) on tables of entries, and
 * once end to end on a real temporary git repository. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "archaeology.h"
#include "jsonx.h"
#include "gitrepo.h"

#define TS "2026-01-02T03:04:05.000000+00:00"

static json_t *J(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &err);

	if (v == NULL)
		fail_msg("bad test JSON: %s: %s", text, err.text);
	return v;
}

static void assert_json(json_t *got_take, const char *want_text)
{
	json_t *want = J(want_text);

	if (!json_equal(got_take, want)) {
		char *g = json_dumps(got_take, JSON_COMPACT);

		print_error("got:  %s\nwant: %s\n", g, want_text);
		free(g);
		fail();
	}
	json_decref(want);
	json_decref(got_take);
}

/* V83's four entries. */
#define V83 "[{\"sha\":\"1\",\"author\":\"ann\",\"files\":[\"a.py\",\"b.py\",\"c.py\"]}," \
	"{\"sha\":\"2\",\"author\":\"bob\",\"files\":[\"a.py\",\"b.py\"]}," \
	"{\"sha\":\"3\",\"author\":\"ann\",\"files\":[\"a.py\"]}," \
	"{\"sha\":\"4\",\"author\":\"cy\",\"files\":[\"c.py\",\"b.py\"]}]"

struct parse_row {
	const char *text;
	const char *want;
};

static const struct parse_row parse_rows[] = {
	{ "", "[]" },
	{ "---CONVERGE_ENTRY---\nabc\nann\n2026-01-01T00:00:00+00:00\nfix it\n\n"
	  "src/a.py\nsrc/b.py\n---CONVERGE_ENTRY---\ndef\nbob\n2026-01-02T00:00:00+00:00\n"
	  "empty\n",
	  "[{\"sha\":\"abc\",\"author\":\"ann\",\"date\":\"2026-01-01T00:00:00+00:00\","
	  "\"subject\":\"fix it\",\"files\":[\"src/a.py\",\"src/b.py\"]},"
	  "{\"sha\":\"def\",\"author\":\"bob\",\"date\":\"2026-01-02T00:00:00+00:00\","
	  "\"subject\":\"empty\",\"files\":[]}]" },
	/* Short blocks are skipped; lines are trimmed; "Merge..." lines dropped. */
	{ "---CONVERGE_ENTRY---\nabc\nann\ndate\n---CONVERGE_ENTRY---\n"
	  "  s1  \n\n  Ann B \nd\nsubj\n\n  x.py \nMergefile.py\n  \n",
	  "[{\"sha\":\"s1\",\"author\":\"Ann B\",\"date\":\"d\",\"subject\":\"subj\","
	  "\"files\":[\"x.py\"]}]" },
	{ "noise before\n---CONVERGE_ENTRY---\ns\na\nd\nsub\nf\r\n",
	  "[{\"sha\":\"s\",\"author\":\"a\",\"date\":\"d\",\"subject\":\"sub\","
	  "\"files\":[\"f\"]}]" },
};

static void test_parse_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < CV_ARRAY_LEN(parse_rows); i++) {
		print_message("row %zu\n", i);
		assert_json(cv_arch_log_parse_build(parse_rows[i].text), parse_rows[i].want);
	}
}

struct report_row {
	const char *name;
	const char *entries;
	int top;
	const char *want;
};

static const struct report_row report_rows[] = {
	{ "V83", V83, 3,
	  "{\"commits_analyzed\":4,"
	  "\"hotspots\":[{\"file\":\"a.py\",\"changes\":3},{\"file\":\"b.py\",\"changes\":3},"
	  "{\"file\":\"c.py\",\"changes\":2}],"
	  "\"coupling\":[{\"file_a\":\"a.py\",\"file_b\":\"b.py\",\"co_changes\":2},"
	  "{\"file_a\":\"b.py\",\"file_b\":\"c.py\",\"co_changes\":2},"
	  "{\"file_a\":\"a.py\",\"file_b\":\"c.py\",\"co_changes\":1}],"
	  "\"authors\":[{\"author\":\"ann\",\"commits\":2,\"files_touched\":3},"
	  "{\"author\":\"bob\",\"commits\":1,\"files_touched\":2},"
	  "{\"author\":\"cy\",\"commits\":1,\"files_touched\":2}],"
	  "\"bus_factor\":3,\"timestamp\":\"" TS "\"}" },
	{ "V83 top 1", V83, 1,
	  "{\"commits_analyzed\":4,\"hotspots\":[{\"file\":\"a.py\",\"changes\":3}],"
	  "\"coupling\":[{\"file_a\":\"a.py\",\"file_b\":\"b.py\",\"co_changes\":2}],"
	  "\"authors\":[{\"author\":\"ann\",\"commits\":2,\"files_touched\":3}],"
	  "\"bus_factor\":3,\"timestamp\":\"" TS "\"}" },
	{ "no entries", "[]", 20,
	  "{\"error\":\"No git history available\",\"commits_analyzed\":0}" },
	/* Ties keep first-seen order (listing order inside an entry); a file
	 * listed twice in one entry counts once; pairs are ordered a < b. */
	{ "ties and duplicates",
	  "[{\"author\":\"x\",\"files\":[\"z.py\",\"a.py\",\"z.py\"]}]", 20,
	  "{\"commits_analyzed\":1,\"hotspots\":[{\"file\":\"z.py\",\"changes\":1},"
	  "{\"file\":\"a.py\",\"changes\":1}],"
	  "\"coupling\":[{\"file_a\":\"a.py\",\"file_b\":\"z.py\",\"co_changes\":1}],"
	  "\"authors\":[{\"author\":\"x\",\"commits\":1,\"files_touched\":2}],"
	  "\"bus_factor\":1,\"timestamp\":\"" TS "\"}" },
	{ "top 0", V83, 0,
	  "{\"commits_analyzed\":4,\"hotspots\":[],\"coupling\":[],\"authors\":[],"
	  "\"bus_factor\":3,\"timestamp\":\"" TS "\"}" },
};

static void test_report_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < CV_ARRAY_LEN(report_rows); i++) {
		json_t *entries = J(report_rows[i].entries);

		print_message("row %zu: %s\n", i, report_rows[i].name);
		assert_json(cv_arch_report_build(entries, report_rows[i].top, TS),
		    report_rows[i].want);
		json_decref(entries);
	}
}

/* bus_factor: authors with >= 5% of all commits; at least 1. */
static void test_bus_factor(void **state)
{
	struct { int ann, bob, want; } rows[] = {
		{ 39, 1, 1 },   /* 1 <  40*0.05 = 2.0 */
		{ 19, 1, 2 },   /* 1 >= 20*0.05 = 1.0 */
		{ 20, 1, 1 },   /* 1 <  21*0.05 = 1.05 */
	};
	size_t r;

	(void)state;
	for (r = 0; r < CV_ARRAY_LEN(rows); r++) {
		json_t *entries = json_array(), *rep;
		int i;

		for (i = 0; i < rows[r].ann + rows[r].bob; i++)
			json_array_append_new(entries, json_pack("{s:s,s:[]}", "author",
			    i < rows[r].ann ? "ann" : "bob", "files"));
		rep = cv_arch_report_build(entries, 20, TS);
		assert_int_equal(json_integer_value(json_object_get(rep, "bus_factor")),
		    rows[r].want);
		json_decref(rep);
		json_decref(entries);
	}
}

struct coupling_row {
	const char *entries;
	int top;
	long long min_co;
	const char *want;
};

static const struct coupling_row coupling_rows[] = {
	/* V83: coupling for risk. */
	{ V83, CV_ARCH_RISK_TOP, CV_ARCH_RISK_MIN_CO,
	  "[{\"file_a\":\"a.py\",\"file_b\":\"b.py\",\"co_changes\":2},"
	  "{\"file_a\":\"b.py\",\"file_b\":\"c.py\",\"co_changes\":2}]" },
	/* top is applied before the co_changes filter. */
	{ V83, 1, 2, "[{\"file_a\":\"a.py\",\"file_b\":\"b.py\",\"co_changes\":2}]" },
	{ V83, 50, 3, "[]" },
	{ "[]", 50, 2, "[]" },
	{ "[{\"files\":[\"only.py\"]}]", 50, 0, "[]" },
};

static void test_coupling_table(void **state)
{
	size_t i;
	json_t *entries;

	(void)state;
	for (i = 0; i < CV_ARRAY_LEN(coupling_rows); i++) {
		entries = J(coupling_rows[i].entries);
		print_message("row %zu\n", i);
		assert_json(cv_arch_coupling_build(entries, coupling_rows[i].top,
		    coupling_rows[i].min_co), coupling_rows[i].want);
		json_decref(entries);
	}
	entries = J(V83);
	assert_json(cv_arch_risk_coupling_build(entries), coupling_rows[0].want);
	json_decref(entries);
}

static void commit_as(const char *dir, const char *author, const char *const files[])
{
	size_t i;

	setenv("GIT_AUTHOR_NAME", author, 1);
	for (i = 0; files[i] != NULL; i++)
		repo_write(dir, files[i], author);
	repo_commit(dir, "change");
	repo_env();
}

#define F(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The V83 history as real commits (oldest last in the list of V83, so
 * committed in reverse), then: log, report, snapshot, coupling provider. */
static void test_real_repository(void **state)
{
	char *repo, *work = repo_tmpdir(), *empty = repo_tmpdir(), *plain = repo_tmpdir();
	char snap[4200], *n;
	json_t *entries, *report, *loaded, *c;

	(void)state;
	repo_env();
	repo = repo_new();
	commit_as(repo, "cy", F("c.py", "b.py"));
	commit_as(repo, "ann", F("a.py"));
	commit_as(repo, "bob", F("a.py", "b.py"));
	commit_as(repo, "ann", F("a.py", "b.py", "c.py"));

	entries = cv_arch_log_load(repo, 400);
	assert_int_equal(json_array_size(entries), 4);
	assert_string_equal(cv_json_str(json_array_get(entries, 0), "author", ""), "ann");
	assert_string_equal(cv_json_str(json_array_get(entries, 0), "subject", ""), "change");
	assert_int_equal(strlen(cv_json_str(json_array_get(entries, 0), "sha", "")), 40);
	assert_json(json_incref(json_object_get(json_array_get(entries, 3), "files")),
	    "[\"b.py\",\"c.py\"]");
	report = cv_arch_report_build(entries, 3, TS);
	assert_json(json_incref(json_object_get(report, "coupling")),
	    "[{\"file_a\":\"a.py\",\"file_b\":\"b.py\",\"co_changes\":2},"
	    "{\"file_a\":\"b.py\",\"file_b\":\"c.py\",\"co_changes\":2},"
	    "{\"file_a\":\"a.py\",\"file_b\":\"c.py\",\"co_changes\":1}]");
	assert_int_equal(json_integer_value(json_object_get(report, "bus_factor")), 3);
	json_decref(entries);

	/* --max-commits limits history. */
	entries = cv_arch_log_load(repo, 2);
	assert_int_equal(json_array_size(entries), 2);
	json_decref(entries);

	/* The command: report plus snapshot file, then the provider reads it. */
	snprintf(snap, sizeof(snap), "%s/" CV_ARCH_SNAPSHOT_PATH, work);
	c = cv_arch_command_build(repo, 400, 3, snap, TS);
	assert_true(json_equal(c, report));
	loaded = json_load_file(snap, 0, NULL);
	assert_true(json_equal(loaded, report));
	json_decref(loaded);
	json_decref(c);
	assert_json(cv_arch_coupling_load(work, repo),
	    "[{\"file_a\":\"a.py\",\"file_b\":\"b.py\",\"co_changes\":2},"
	    "{\"file_a\":\"b.py\",\"file_b\":\"c.py\",\"co_changes\":2},"
	    "{\"file_a\":\"a.py\",\"file_b\":\"c.py\",\"co_changes\":1}]");
	/* No snapshot: computed from history (top 50, co_changes >= 2). */
	assert_json(cv_arch_coupling_load(empty, repo),
	    "[{\"file_a\":\"a.py\",\"file_b\":\"b.py\",\"co_changes\":2},"
	    "{\"file_a\":\"b.py\",\"file_b\":\"c.py\",\"co_changes\":2}]");
	/* Neither: empty. */
	assert_json(cv_arch_coupling_load(empty, plain), "[]");
	/* A snapshot without a coupling array falls through to git. */
	repo_write(empty, CV_ARCH_SNAPSHOT_PATH, "{\"error\":\"x\"}");
	assert_json(cv_arch_coupling_load(empty, plain), "[]");
	json_decref(report);

	/* No history: not a repository, or a repository without commits. */
	assert_json(cv_arch_command_build(plain, 400, 20, NULL, TS),
	    "{\"error\":\"No git history available\",\"commits_analyzed\":0}");
	n = repo_new();
	assert_json(cv_arch_command_build(n, 400, 20, snap, TS),
	    "{\"error\":\"No git history available\",\"commits_analyzed\":0}");
	/* An unwritable snapshot path is an error object. */
	c = cv_arch_command_build(repo, 400, 3, "/proc/cv-nope/snap.json", TS);
	assert_non_null(strstr(cv_json_str(c, "error", ""), "Cannot write snapshot"));
	json_decref(c);

	repo_remove(n);
	repo_remove(repo);
	repo_remove(work);
	repo_remove(empty);
	repo_remove(plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_report_table),
		cmocka_unit_test(test_bus_factor),
		cmocka_unit_test(test_coupling_table),
		cmocka_unit_test(test_real_repository),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
