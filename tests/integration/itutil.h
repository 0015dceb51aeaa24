/*
 * itutil.h - small process-environment helpers shared by the integration
 * tests, with or without a farm from harness.h: a free loopback port, a
 * program looked up in PATH, a scratch tree removed.  Needs libc only, so
 * tests that speak FastCGI directly (fcgi_client.h) link it too.
 */
#ifndef CV_ITUTIL_H
#define CV_ITUTIL_H

#include <stddef.h>

/* A TCP port the kernel just handed out on 127.0.0.1, or -1.  Another
 * process could take it before the caller binds it: callers that can,
 * retry. */
int it_free_port(void);

/* True when prog is executable in PATH or in /usr/sbin, /sbin, /usr/bin,
 * /bin (in that order); its path is copied into out (size bytes) when out
 * is not NULL. */
int it_find_prog(const char *prog, char *out, size_t size);

/* Removes dir and everything below it (symlinks not followed); best
 * effort, a no-op for NULL or "". */
void it_remove_tree(const char *dir);

#endif
