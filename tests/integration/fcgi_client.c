/* fcgi_client.c - one FastCGI request over a fresh connection.  See
 * fcgi_client.h. */
#include "fcgi_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { BEGIN_REQUEST = 1, END_REQUEST = 3, PARAMS = 4, STDIN = 5, STDOUT = 6 };

static int connect_to(const char *addr)
{
	int fd = -1;

	if (addr[0] == '/') {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (strlen(addr) >= sizeof sa.sun_path)
			return -1;
		strcpy(sa.sun_path, addr);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0 &&
		    connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			return fd;
	} else {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		char host[64];
		const char *colon = strrchr(addr, ':');

		if (colon == NULL || (size_t)(colon - addr) >= sizeof host)
			return -1;
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		sa.sin_port = htons((unsigned short)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
			return -1;
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0 &&
		    connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			return fd;
	}
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Appends one record of type with len bytes of content to buf. */
static size_t record(unsigned char *buf, int type, const void *content,
    size_t len)
{
	buf[0] = 1;
	buf[1] = (unsigned char)type;
	buf[2] = 0;
	buf[3] = 1;	/* request id 1 */
	buf[4] = (unsigned char)(len >> 8);
	buf[5] = (unsigned char)len;
	buf[6] = 0;
	buf[7] = 0;
	if (len)
		memcpy(buf + 8, content, len);
	return 8 + len;
}

/* Appends a name-value pair (both under 128 bytes) to params. */
static size_t pair(unsigned char *p, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);

	p[0] = (unsigned char)n;
	p[1] = (unsigned char)v;
	memcpy(p + 2, name, n);
	memcpy(p + 2 + n, value, v);
	return 2 + n + v;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, unsigned char *p, size_t n, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (n > 0) {
		ssize_t r;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Sends the request on fd and reads the answer into *out (see
 * fcgi_request); the connection stays open. */
static int exchange(int fd, const char *method, const char *uri,
    int timeout_ms, char **out)
{
	static const unsigned char begin[8] = { 0, 1 };	/* RESPONDER, no keep-conn */
	unsigned char req[4096], params[2048], hdr[8], content[65536 + 256];
	size_t n = 0, p = 0, got = 0;
	char *buf = NULL;
	int rc = -1;

	*out = NULL;
	p += pair(params + p, "REQUEST_METHOD", method);
	p += pair(params + p, "REQUEST_URI", uri);
	p += pair(params + p, "SCRIPT_NAME", uri);
	p += pair(params + p, "QUERY_STRING", "");
	p += pair(params + p, "SERVER_PROTOCOL", "HTTP/1.1");
	p += pair(params + p, "REMOTE_ADDR", "127.0.0.1");
	p += pair(params + p, "CONTENT_LENGTH", "0");
	n += record(req + n, BEGIN_REQUEST, begin, sizeof begin);
	n += record(req + n, PARAMS, params, p);
	n += record(req + n, PARAMS, NULL, 0);
	n += record(req + n, STDIN, NULL, 0);
	if (write_all(fd, req, n) != 0)
		goto done;
	for (;;) {
		size_t len, pad;

		if (read_all(fd, hdr, 8, timeout_ms) != 0)
			goto done;
		len = (size_t)hdr[4] << 8 | hdr[5];
		pad = hdr[6];
		if (read_all(fd, content, len + pad, timeout_ms) != 0)
			goto done;
		if (hdr[1] == END_REQUEST)
			break;
		if (hdr[1] == STDOUT && len > 0) {
			char *nb = realloc(buf, got + len + 1);

			if (nb == NULL)
				goto done;
			buf = nb;
			memcpy(buf + got, content, len);
			got += len;
		}
	}
	if (buf == NULL && (buf = calloc(1, 1)) == NULL)
		goto done;
	buf[got] = '\0';
	*out = buf;
	buf = NULL;
	rc = 0;
done:
	free(buf);
	return rc;
}

int fcgi_request(const char *addr, const char *method, const char *uri,
    int timeout_ms, char **out)
{
	int fd = connect_to(addr), rc;

	*out = NULL;
	if (fd < 0)
		return -1;
	rc = exchange(fd, method, uri, timeout_ms, out);
	close(fd);
	return rc;
}

int fcgi_closed_after(const char *addr, const char *uri, int timeout_ms)
{
	struct pollfd pfd = { .events = POLLIN };
	char *out = NULL, c;
	int rc = -1;

	if ((pfd.fd = connect_to(addr)) < 0)
		return -1;
	if (exchange(pfd.fd, "GET", uri, timeout_ms, &out) == 0 &&
	    poll(&pfd, 1, timeout_ms) == 1 && read(pfd.fd, &c, 1) == 0) {
		/* At the end of the stream: a write reaches a reading end,
		 * or fails on a closed one. */
		ssize_t w = send(pfd.fd, "x", 1, MSG_NOSIGNAL);
		rc = w == 1 ? 0 : (errno == EPIPE || errno == ECONNRESET) ? 1 :
		    -1;
	}
	free(out);
	close(pfd.fd);
	return rc;
}

int fcgi_status(const char *out)
{
	const char *s = out ? strstr(out, "Status: ") : NULL;

	return s ? atoi(s + 8) : 0;
}

const char *fcgi_body(const char *out)
{
	const char *b = out ? strstr(out, "\r\n\r\n") : NULL;

	return b ? b + 4 : NULL;
}
