/* listen.c - the responder's listening socket onto fd 0.  See listen.h. */
#include "listen.h"

#include <ctype.h>
#include <errno.h>
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SD_LISTEN_FDS_START 3

int cv_listen_kind(const char *spec)
{
	const char *colon;
	char *end;
	long port;

	if (spec == NULL || *spec == '\0')
		return 0;
	if (spec[0] == '/')
		return 2;
	if ((colon = strrchr(spec, ':')) == NULL || !isdigit((unsigned char)colon[1]))
		return 0;
	for (const char *p = spec; p < colon; p++)
		if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-'))
			return 0;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && errno == 0 && port >= 1 && port <= 65535 ? 1 : 0;
}

const char *cv_listen_configured(const char *family)
{
	char name[96];
	const char *v;
	size_t i, n;

	n = (size_t)snprintf(name, sizeof name, "CONVERGE_FCGI_LISTEN_%s", family);
	for (i = sizeof "CONVERGE_FCGI_LISTEN_" - 1; i < n && i < sizeof name; i++)
		name[i] = (char)toupper((unsigned char)name[i]);
	if ((v = getenv(name)) && *v)
		return v;
	if ((v = getenv("CONVERGE_FCGI_LISTEN")) && *v)
		return v;
	return NULL;
}

/* fd onto 0; closes fd. */
static int onto_fd0(int fd)
{
	if (fd == 0)
		return 0;
	if (dup2(fd, 0) < 0)
		return -1;
	close(fd);
	return 0;
}

/* The number of sockets systemd passed to this very process, 0 if none;
 * the LISTEN_* variables are removed either way. */
static int systemd_fds(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	long n = 0;
	char *end;

	if (pid && fds && strtol(pid, &end, 10) == (long)getpid() && *end == '\0') {
		n = strtol(fds, &end, 10);
		if (*end != '\0' || n < 0 || n > 64)
			n = 0;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (int)n;
}

/* True when fd 0 is a listening socket (spawn-fcgi's, mod_fcgid's). */
static int fd0_listening(void)
{
	struct stat st;
	int on = 0;
	socklen_t len = sizeof on;

	return fstat(0, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

static int bind_spec(const char *spec, int kind)
{
	/* A stale socket file of an earlier run would make bind fail. */
	if (kind == 2)
		unlink(spec);
	return FCGX_OpenSocket(spec, CV_LISTEN_BACKLOG);
}

int cv_listen_take(const char *family, const char *socket_option,
    char *what, size_t what_size, char *err, size_t err_size)
{
	const char *spec = socket_option;
	struct stat st;
	int kind, fd, n;

	if (spec == NULL && (n = systemd_fds()) > 0) {
		for (int extra = SD_LISTEN_FDS_START + 1; extra < SD_LISTEN_FDS_START + n; extra++)
			close(extra);
		if (fstat(SD_LISTEN_FDS_START, &st) != 0 || !S_ISSOCK(st.st_mode)) {
			snprintf(err, err_size, "LISTEN_FDS: fd 3 is not a socket");
			return -1;
		}
		if (onto_fd0(SD_LISTEN_FDS_START) != 0) {
			snprintf(err, err_size, "dup2: %s", strerror(errno));
			return -1;
		}
		snprintf(what, what_size, "systemd fd %d", SD_LISTEN_FDS_START);
		return 0;
	}
	if (spec == NULL && fd0_listening()) {
		snprintf(what, what_size, "fd 0");
		return 0;
	}
	if (spec == NULL)
		spec = cv_listen_configured(family);
	if (spec != NULL) {
		kind = socket_option ? 2 : cv_listen_kind(spec);
		if (kind == 0) {
			snprintf(err, err_size, "CONVERGE_FCGI_LISTEN must be host:port,"
			    " :port or an absolute socket path, not '%s'", spec);
			return -1;
		}
		if ((fd = bind_spec(spec, kind)) < 0 || onto_fd0(fd) != 0) {
			snprintf(err, err_size, "cannot listen on %s: %s", spec,
			    strerror(errno));
			return -1;
		}
		snprintf(what, what_size, "%s %s", kind == 1 ? "tcp" : "unix", spec);
		return 0;
	}
	snprintf(err, err_size, "no FastCGI socket on fd 0; start it with"
	    " spawn-fcgi, systemd, --socket PATH or CONVERGE_FCGI_LISTEN");
	return -1;
}
