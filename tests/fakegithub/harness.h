/*
 * harness.h - starts tests/fakegithub for a unit test: makes a throwaway
 * RSA key pair (PKCS#1 and PKCS#8 private PEMs, the public PEM) in a
 * temporary directory, runs the server on a free loopback port and talks
 * to its control routes.
 *
 * The server binary is $FAKEGITHUB, else tests/fakegithub/fakegithub
 * relative to the working directory (the build tree under make check).
 */
#ifndef CV_TEST_HARNESS_H
#define CV_TEST_HARNESS_H

#include <jansson.h>
#include <sys/types.h>

#define FAKE_APP_ID "12345"

struct fake_github {
	pid_t pid;
	int port;
	char dir[64];
	char key_pkcs1[128];
	char key_pkcs8[128];
	char pub[128];
	char state[128];
	char url[64];              /* http://127.0.0.1:<port> */
	char *pem_pkcs1;           /* the PKCS#1 PEM text */
};

/* Keys and server; 0 on success, -1 (with a message on stderr). */
int fake_github_start(struct fake_github *f);

/* Stops the server, removes the directory. */
void fake_github_stop(struct fake_github *f);

/* POST /_fake/mode; retry_after < 0 = none. 0 on success. */
int fake_github_mode(struct fake_github *f, const char *mode, long count,
    long retry_after);

/* POST /_fake/reset. 0 on success. */
int fake_github_reset(struct fake_github *f);

/* GET /_fake/requests: a new array (NULL on failure). */
json_t *fake_github_requests(struct fake_github *f);

/* Number of recorded requests with method whose path ends with suffix
 * (NULL = any) and, when status >= 0, that status. */
size_t fake_github_count(const json_t *reqs, const char *method,
    const char *suffix, int status);

#endif
