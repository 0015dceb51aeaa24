/* test_mapread.c - page reads copied from a mapping (sqlite_mapread.c):
 * they see every write to the file at once, stop at its end, follow it
 * when it grows past the mapping, and are off for a descriptor that is
 * not the named file's. The "SQLite file" here is the head the module
 * reads: three pointers, then the descriptor. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlite_mapread.h"

struct fixture {
	char path[64];
	int fd;
	struct cv_mapread_head file;
	struct cv_mapread map;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	snprintf(f->path, sizeof f->path, "/tmp/cv-mapread-XXXXXX");
	if ((f->fd = mkstemp(f->path)) < 0)
		return -1;
	f->file.fd = f->fd;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cv_mapread_close(&f->map);
	close(f->fd);
	unlink(f->path);
	free(f);
	return 0;
}

static void put(int fd, char c, size_t n, off_t off)
{
	char buf[4096];

	assert_true(n <= sizeof buf);
	memset(buf, c, n);
	assert_int_equal(pwrite(fd, buf, n, off), (ssize_t)n);
}

static void open_map(struct fixture *f)
{
	cv_mapread_open(&f->map, (const sqlite3_file *)&f->file, f->path);
}

static void test_reads_follow_writes(void **state)
{
	struct fixture *f = *state;
	int writer = open(f->path, O_WRONLY);
	unsigned long long before = cv_mapread_served();
	char page[4096];

	assert_true(writer >= 0);
	put(writer, 'a', 4096, 0);
	open_map(f);
	assert_true(cv_mapread_copy(&f->map, page, 4096, 0));
	assert_int_equal(page[0], 'a');
	assert_int_equal(page[4095], 'a');
	/* beyond the end: the caller's short read, never a fault */
	assert_false(cv_mapread_copy(&f->map, page, 4096, 4096));
	assert_false(cv_mapread_copy(&f->map, page, 100, 4000));
	/* another descriptor's writes, in place and past the old end */
	put(writer, 'b', 4096, 0);
	put(writer, 'c', 4096, 4096);
	assert_true(cv_mapread_copy(&f->map, page, 4096, 0));
	assert_int_equal(page[17], 'b');
	assert_true(cv_mapread_copy(&f->map, page, 4096, 4096));
	assert_int_equal(page[4095], 'c');
	assert_int_equal(cv_mapread_served() - before, 3);
	close(writer);
}

/* A file grown far past the first mapping (sparse: no disk used) is
 * mapped again, and its far pages read right. */
static void test_growth_past_the_mapping(void **state)
{
	struct fixture *f = *state;
	const off_t far = 300LL << 20;
	char page[4096];

	put(f->fd, 'x', 4096, 0);
	open_map(f);
	assert_true(cv_mapread_copy(&f->map, page, 4096, 0));
	put(f->fd, 'y', 4096, far);
	assert_true(cv_mapread_copy(&f->map, page, 4096, far));
	assert_int_equal(page[0], 'y');
	assert_true(cv_mapread_copy(&f->map, page, 4096, 0));
	assert_int_equal(page[0], 'x');
}

/* Cut through the connection: nothing past the cut is copied; what is
 * written again is. */
static void test_truncated(void **state)
{
	struct fixture *f = *state;
	char page[4096];

	put(f->fd, 'p', 4096, 0);
	put(f->fd, 'q', 4096, 4096);
	open_map(f);
	assert_true(cv_mapread_copy(&f->map, page, 4096, 4096));
	assert_int_equal(ftruncate(f->fd, 0), 0);
	cv_mapread_truncated(&f->map, 0);
	assert_false(cv_mapread_copy(&f->map, page, 4096, 0));
	put(f->fd, 'r', 4096, 0);
	assert_true(cv_mapread_copy(&f->map, page, 4096, 0));
	assert_int_equal(page[0], 'r');
}

/* A descriptor open on some other file, a closed one, or no path: off,
 * every read is the caller's. */
static void test_off_unless_proven(void **state)
{
	struct fixture *f = *state;
	char other[] = "/tmp/cv-mapread-other-XXXXXX", page[16];
	int ofd = mkstemp(other);

	assert_true(ofd >= 0);
	put(f->fd, 'z', 4096, 0);
	f->file.fd = ofd;
	open_map(f);
	assert_false(cv_mapread_copy(&f->map, page, sizeof page, 0));
	f->file.fd = -1;
	open_map(f);
	assert_false(cv_mapread_copy(&f->map, page, sizeof page, 0));
	f->file.fd = f->fd;
	cv_mapread_open(&f->map, (const sqlite3_file *)&f->file, NULL);
	assert_false(cv_mapread_copy(&f->map, page, sizeof page, 0));
	open_map(f);
	assert_true(cv_mapread_copy(&f->map, page, sizeof page, 0));
	close(ofd);
	unlink(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reads_follow_writes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_growth_past_the_mapping, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off_unless_proven, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
