/*
 * itutil.h - small process-environment helpers shared by the integration
 * tests, with or without a farm from harness.h: a free loopback port, a
 * program looked up in PATH, a scratch tree removed.  Needs libc only, so
 * tests that speak FastCGI directly (fcgi_client.h) link it too.
 */
#ifndef CV_ITUTIL_H
#define CV_ITUTIL_H

#include <stddef.h>

/* The source and build trees (Makefile.am passes both as -D). */
#ifndef CV_SRCDIR
#define CV_SRCDIR "."
#endif
#ifndef CV_BUILDDIR
#define CV_BUILDDIR "."
#endif

/* A TCP port the kernel just handed out on 127.0.0.1, or -1.  Another
 * process could take it before the caller binds it: callers that can,
 * retry. */
int it_free_port(void);

/* True when prog is executable in PATH or in /usr/sbin, /sbin, /usr/bin,
 * /bin (in that order); its path is copied into out (size bytes) when out
 * is not NULL. */
int it_find_prog(const char *prog, char *out, size_t size);

/*
 * Runs argv[0] (a path) with argv, our environment plus env ("NAME=value",
 * NULL-terminated; NULL for none), and waits for it.  Its stdout goes to
 * *out when out is not NULL (NUL-terminated, "" when it wrote nothing;
 * the caller frees).  Returns its exit status, -1 when it could not run
 * or did not exit.
 */
int it_run(char *const argv[], const char *const *env, char **out);

/* scripts/pg-scratch CMD DIR (a throw-away PostgreSQL cluster; the source
 * tree from CV_SRCDIR); with dsn, its first output line (for "start",
 * the DSN) in dsn (size bytes).  Returns 0 when it succeeded, else -1. */
int it_pg_scratch(const char *cmd, const char *dir, char *dsn, size_t size);

/* Removes dir and everything below it (symlinks not followed); best
 * effort, a no-op for NULL or "". */
void it_remove_tree(const char *dir);

#endif
