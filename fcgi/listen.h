/*
 * listen.h - which socket a responder serves FastCGI on.
 *
 * A responder accepts on fd 0.  It gets there, first match wins, from:
 *   1. --socket PATH: a unix socket the responder binds itself;
 *   2. systemd socket activation: LISTEN_PID is this process and
 *      LISTEN_FDS >= 1, the socket is fd 3 (sd_listen_fds(3)); extra
 *      descriptors are closed;
 *   3. fd 0 when it is a listening socket, as spawn-fcgi or mod_fcgid
 *      hand it over;
 *   4. CONVERGE_FCGI_LISTEN_<FAMILY> (e.g. _INTENTS), else
 *      CONVERGE_FCGI_LISTEN: "host:port" or ":port" (TCP, for farms on
 *      other hosts than the web server) or an absolute unix socket path.
 * Without any of them the responder refuses to start.
 * The LISTEN_* variables are removed once read, so programs the responder
 * runs (git, checks) do not take the socket for theirs.
 */
#ifndef CV_LISTEN_H
#define CV_LISTEN_H

#include <stddef.h>

/* Accept-queue length of the sockets a responder binds itself. */
#define CV_LISTEN_BACKLOG 1024

/*
 * Puts the family's listening socket on fd 0 (see above).  On success
 * returns 0 and describes the source in what ("systemd fd 3", "tcp
 * 127.0.0.1:9001", ...).  On failure returns -1 with the reason in err.
 */
int cv_listen_take(const char *family, const char *socket_option,
    char *what, size_t what_size, char *err, size_t err_size);

/*
 * The listen address configured for family by the environment
 * (CONVERGE_FCGI_LISTEN_<FAMILY>, else CONVERGE_FCGI_LISTEN), or NULL.
 * Borrowed from the environment.
 */
const char *cv_listen_configured(const char *family);

/*
 * Checks a CONVERGE_FCGI_LISTEN value: 1 for TCP ("host:port" or ":port",
 * port 1..65535), 2 for an absolute unix socket path, 0 when invalid.
 */
int cv_listen_kind(const char *spec);

#endif
