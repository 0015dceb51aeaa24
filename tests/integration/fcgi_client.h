/*
 * fcgi_client.h - a minimal FastCGI client for tests that speak to a
 * responder directly, without a web server in front (socket activation,
 * TCP listening).  One request per connection, role RESPONDER, no body.
 */
#ifndef CV_FCGI_CLIENT_H
#define CV_FCGI_CLIENT_H

#include <stddef.h>

/*
 * Connects to addr ("host:port" or an absolute unix socket path), sends
 * METHOD URI with the CGI parameters a web server would, and returns the
 * responder's whole output ("Status: ..." headers, blank line, body) in
 * *out (NUL-terminated, caller frees).  Gives up after timeout_ms.
 * Returns 0, or -1 on a connection or protocol failure.
 */
int fcgi_request(const char *addr, const char *method, const char *uri,
    int timeout_ms, char **out);

/*
 * One GET of uri as fcgi_request, then how the responder left the
 * connection once its answer was out (read here to the end of the
 * stream): 1 when it had closed it entirely (a write here fails), 0 when
 * its end still reads, waiting for this end to close first (libfcgi's
 * lingering close), -1 on a failure.
 */
int fcgi_closed_after(const char *addr, const char *uri, int timeout_ms);

/* The status of a responder output ("Status: 200 OK" -> 200), 0 if none. */
int fcgi_status(const char *out);

/* The body of a responder output (after the blank line), or NULL. */
const char *fcgi_body(const char *out);

#endif
