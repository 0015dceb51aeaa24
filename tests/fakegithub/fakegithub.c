/*
 * fakegithub - a loopback stand-in for the GitHub REST API, for tests.
 *
 *   fakegithub --port 0 --public-key PEM [--state-file FILE] [--app-id ID]
 *
 * Prints the port it listens on (127.0.0.1) and serves until killed.
 * One process, poll(2) over plain sockets, one request per connection
 * (answers carry "Connection: close").
 *
 * GitHub routes:
 *   POST  /app/installations/{id}/access_tokens  App JWT checked (RS256
 *         with the public key, typ JWT, iss a string [= --app-id],
 *         exp - iat <= 720, exp in the future) -> {"token","expires_at"}
 *   POST  /repos/{o}/{r}/check-runs        needs "token <issued>"
 *   PATCH /repos/{o}/{r}/check-runs/{id}   needs "token <issued>"
 *   POST  /repos/{o}/{r}/statuses/{sha}    needs "token <issued>"
 * Control routes:
 *   POST /_fake/mode {"mode":"ok"|"hang"|"<status>","count":N,
 *        "retry_after":S}   the next N GitHub requests (0/absent: all)
 *        fail that way; "hang" never answers
 *   GET  /_fake/requests    every GitHub request seen, as a JSON array
 *   POST /_fake/reset       forget requests, tokens and the mode
 * Every GitHub request is also appended to the state file as a JSON line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <jwt.h>

#define MAX_CONN 64
#define MAX_REQ (1024 * 1024)
#define MAX_TOKENS 256

struct conn {
	int fd;
	char *buf;
	size_t len;
	bool hanging;              /* read, never answered */
};

static struct {
	char *pubkey;
	size_t pubkey_len;
	const char *app_id;
	FILE *state;
	json_t *requests;
	char *tokens[MAX_TOKENS];
	int ntokens;
	char mode[16];
	long count;                /* 0 = until changed */
	long retry_after;
	long next_id;
} fake;

struct request {
	char method[16];
	char path[1024];
	const char *auth, *ua, *accept, *api_version;
	const char *body;
	size_t body_len;
};

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = malloc(65537);

	if (!fp || !buf) {
		fprintf(stderr, "fakegithub: cannot read %s\n", path);
		exit(1);
	}
	*len = fread(buf, 1, 65536, fp);
	buf[*len] = '\0';
	fclose(fp);
	return buf;
}

static void answer(int fd, int status, json_t *body_take, long retry_after)
{
	char *body = body_take ? json_dumps(body_take, JSON_COMPACT) : NULL;
	char head[256], ra[48] = "";
	size_t blen = body ? strlen(body) : 0;

	if (retry_after >= 0)
		snprintf(ra, sizeof ra, "Retry-After: %ld\r\n", retry_after);
	int n = snprintf(head, sizeof head, "HTTP/1.1 %d Fake\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "%sConnection: close\r\n\r\n", status, blen, ra);
	/* Loopback and small bodies: a blocking write is fine here. */
	if (write(fd, head, (size_t)n) < 0 ||
	    (blen && write(fd, body, blen) < 0))
		perror("fakegithub: write");
	free(body);
	json_decref(body_take);
}

static json_t *message(const char *text)
{
	return json_pack("{s:s}", "message", text);
}

static void record(const struct request *r, int status, const char *note)
{
	json_t *body = r->body_len ? json_loadb(r->body, r->body_len, 0, NULL)
	    : NULL;
	const char *kind = !r->auth ? "" :
	    strncmp(r->auth, "Bearer ", 7) == 0 ? "bearer" :
	    strncmp(r->auth, "token ", 6) == 0 ? "token" : "other";
	json_t *rec = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:o}",
	    "method", r->method, "path", r->path, "status", status,
	    "note", note, "auth", kind, "user_agent", r->ua ? r->ua : "",
	    "accept", r->accept ? r->accept : "",
	    "api_version", r->api_version ? r->api_version : "",
	    "body", body ? body : json_null());

	if (fake.state) {
		char *line = json_dumps(rec, JSON_COMPACT);
		fprintf(fake.state, "%s\n", line);
		fflush(fake.state);
		free(line);
	}
	json_array_append_new(fake.requests, rec);
}

static bool token_issued(const char *auth)
{
	if (!auth || strncmp(auth, "token ", 6) != 0)
		return false;
	for (int i = 0; i < fake.ntokens; i++)
		if (strcmp(fake.tokens[i], auth + 6) == 0)
			return true;
	return false;
}

/* Why the App JWT is refused, or NULL when it is good. */
static const char *jwt_refusal(const char *auth)
{
	jwt_t *jwt = NULL;
	const char *why = NULL;

	if (!auth || strncmp(auth, "Bearer ", 7) != 0)
		return "no bearer token";
	if (jwt_decode(&jwt, auth + 7, (unsigned char *)fake.pubkey,
	    (int)fake.pubkey_len) != 0)
		return "bad signature";
	const char *typ = jwt_get_header(jwt, "typ");
	const char *iss = jwt_get_grant(jwt, "iss");
	long iat = jwt_get_grant_int(jwt, "iat");
	long exp = jwt_get_grant_int(jwt, "exp");
	if (jwt_get_alg(jwt) != JWT_ALG_RS256)
		why = "alg is not RS256";
	else if (!typ || strcmp(typ, "JWT") != 0)
		why = "typ is not JWT";
	else if (!iss || !*iss)
		why = "iss is not a string";
	else if (fake.app_id && strcmp(iss, fake.app_id) != 0)
		why = "wrong iss";
	else if (iat <= 0 || exp <= iat || exp - iat > 720)
		why = "bad iat/exp";
	else if (exp <= (long)time(NULL))
		why = "expired";
	jwt_free(jwt);
	return why;
}

static void access_token(int fd, const struct request *r, long long inst)
{
	const char *why = jwt_refusal(r->auth);
	char tok[64];

	if (why || fake.ntokens == MAX_TOKENS) {
		record(r, 401, why ? why : "token table full");
		answer(fd, 401, message("A JSON web token could not be decoded"),
		    -1);
		return;
	}
	snprintf(tok, sizeof tok, "ghs_fake_%lld_%d", inst, fake.ntokens + 1);
	fake.tokens[fake.ntokens++] = strdup(tok);
	record(r, 201, "token issued");
	answer(fd, 201, json_pack("{s:s, s:s}", "token", tok, "expires_at",
	    "2099-01-01T00:00:00Z"), -1);
}

static void repos(int fd, const struct request *r)
{
	char owner[256], repo[256], rest[512];
	long long id = 0;
	int n = 0;

	if (!token_issued(r->auth)) {
		record(r, 401, "bad credentials");
		answer(fd, 401, message("Bad credentials"), -1);
		return;
	}
	if (sscanf(r->path, "/repos/%255[^/]/%255[^/]/%511s%n", owner, repo,
	    rest, &n) != 3) {
		record(r, 404, "not found");
		answer(fd, 404, message("Not Found"), -1);
		return;
	}
	if (strcmp(r->method, "POST") == 0 && strcmp(rest, "check-runs") == 0) {
		record(r, 201, "check run created");
		answer(fd, 201, json_pack("{s:I, s:s}", "id",
		    (json_int_t)++fake.next_id, "name", "Converge Risk Gate"),
		    -1);
	} else if (strcmp(r->method, "PATCH") == 0 &&
	    sscanf(rest, "check-runs/%lld", &id) == 1) {
		record(r, 200, "check run updated");
		answer(fd, 200, json_pack("{s:I}", "id", (json_int_t)id), -1);
	} else if (strcmp(r->method, "POST") == 0 &&
	    strncmp(rest, "statuses/", 9) == 0) {
		record(r, 201, "status created");
		answer(fd, 201, json_pack("{s:I, s:s}", "id",
		    (json_int_t)++fake.next_id, "context", "converge/risk-gate"),
		    -1);
	} else {
		record(r, 404, "not found");
		answer(fd, 404, message("Not Found"), -1);
	}
}

static void reset(void)
{
	json_array_clear(fake.requests);
	for (int i = 0; i < fake.ntokens; i++)
		free(fake.tokens[i]);
	fake.ntokens = 0;
	snprintf(fake.mode, sizeof fake.mode, "ok");
	fake.count = 0;
}

static void control(int fd, const struct request *r)
{
	json_t *b;

	if (strcmp(r->path, "/_fake/requests") == 0) {
		answer(fd, 200, json_incref(fake.requests), -1);
	} else if (strcmp(r->path, "/_fake/reset") == 0) {
		reset();
		answer(fd, 200, json_pack("{s:b}", "ok", 1), -1);
	} else if (strcmp(r->path, "/_fake/mode") == 0 &&
	    (b = json_loadb(r->body, r->body_len, 0, NULL))) {
		json_t *m = json_object_get(b, "mode");
		snprintf(fake.mode, sizeof fake.mode, "%s",
		    json_is_string(m) ? json_string_value(m) : "ok");
		fake.count = (long)json_integer_value(json_object_get(b, "count"));
		fake.retry_after = json_is_integer(json_object_get(b,
		    "retry_after")) ? (long)json_integer_value(
		    json_object_get(b, "retry_after")) : -1;
		json_decref(b);
		answer(fd, 200, json_pack("{s:b}", "ok", 1), -1);
	} else {
		answer(fd, 404, message("Not Found"), -1);
	}
}

/* Applies an injected failure; true when the request was consumed. */
static bool injected(struct conn *c, const struct request *r)
{
	char m[16];
	int status;

	if (strcmp(fake.mode, "ok") == 0)
		return false;
	memcpy(m, fake.mode, sizeof m);
	if (fake.count > 0 && --fake.count == 0)
		snprintf(fake.mode, sizeof fake.mode, "ok");
	if (strcmp(m, "hang") == 0) {
		record(r, 0, "hang");
		c->hanging = true;
		return true;
	}
	status = atoi(m);
	if (status < 100 || status > 599)
		status = 500;
	record(r, status, "injected");
	answer(c->fd, status, message("injected failure"),
	    status == 429 || status == 503 ? fake.retry_after : -1);
	return true;
}

static const char *header(char *head, const char *name)
{
	size_t n = strlen(name);

	for (char *line = strstr(head, "\r\n"); line; line = strstr(line, "\r\n")) {
		line += 2;
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			char *v = line + n + 1;
			while (*v == ' ')
				v++;
			return v;
		}
	}
	return NULL;
}

/* Returns 1 when c->buf holds a whole request (parsed into r; header
 * values are NUL-terminated in place), 0 when more is needed, -1 when
 * it is malformed. */
static int parse(struct conn *c, struct request *r)
{
	char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
	const char *cl;
	size_t blen, hlen;

	if (!end)
		return c->len >= MAX_REQ ? -1 : 0;
	hlen = (size_t)(end - c->buf) + 4;
	*end = '\0';
	cl = header(c->buf, "Content-Length");
	blen = cl ? strtoul(cl, NULL, 10) : 0;
	if (hlen + blen > MAX_REQ)
		return -1;
	if (c->len < hlen + blen) {
		*end = '\r';
		return 0;
	}
	memset(r, 0, sizeof *r);
	if (sscanf(c->buf, "%15s %1023s", r->method, r->path) != 2)
		return -1;
	char *q = strchr(r->path, '?');
	if (q)
		*q = '\0';
	r->auth = header(c->buf, "Authorization");
	r->ua = header(c->buf, "User-Agent");
	r->accept = header(c->buf, "Accept");
	r->api_version = header(c->buf, "X-GitHub-Api-Version");
	/* Cut every header line at its CR so the values above end there. */
	for (char *p = c->buf; (p = strchr(p, '\r')); p++)
		*p = '\0';
	r->body = c->buf + hlen;
	r->body_len = blen;
	return 1;
}

static void serve(struct conn *c, const struct request *r)
{
	long long inst;
	int n = 0;

	if (strncmp(r->path, "/_fake/", 7) == 0) {
		control(c->fd, r);
		return;
	}
	if (injected(c, r))
		return;
	if (strcmp(r->method, "POST") == 0 &&
	    sscanf(r->path, "/app/installations/%lld/access_tokens%n",
	    &inst, &n) == 1 && r->path[n] == '\0')
		access_token(c->fd, r, inst);
	else if (strncmp(r->path, "/repos/", 7) == 0)
		repos(c->fd, r);
	else {
		record(r, 404, "not found");
		answer(c->fd, 404, message("Not Found"), -1);
	}
}

static void drop(struct conn *c)
{
	close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

/* Reads what is there; serves the request once it is complete. */
static void readable(struct conn *c)
{
	struct request r;
	char tmp[8192];
	ssize_t n = read(c->fd, tmp, sizeof tmp);
	int st;

	if (n <= 0) {
		drop(c);
		return;
	}
	if (c->hanging)
		return;
	char *p = realloc(c->buf, c->len + (size_t)n + 1);
	if (!p) {
		drop(c);
		return;
	}
	c->buf = p;
	memcpy(c->buf + c->len, tmp, (size_t)n);
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if ((st = parse(c, &r)) == 0)
		return;
	if (st > 0)
		serve(c, &r);
	if (!c->hanging)
		drop(c);
}

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof a;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((unsigned short)port);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof one) < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		perror("fakegithub: listen");
		exit(1);
	}
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	return fd;
}

static void loop(int lfd)
{
	struct conn conns[MAX_CONN];
	struct pollfd pfd[MAX_CONN + 1];

	for (int i = 0; i < MAX_CONN; i++)
		conns[i] = (struct conn){ .fd = -1 };
	for (;;) {
		pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < MAX_CONN; i++)
			pfd[i + 1] = (struct pollfd){ .fd = conns[i].fd,
			    .events = POLLIN };
		if (poll(pfd, MAX_CONN + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("fakegithub: poll");
			exit(1);
		}
		for (int i = 0; i < MAX_CONN; i++)
			if (conns[i].fd >= 0 && pfd[i + 1].revents)
				readable(&conns[i]);
		if (pfd[0].revents & POLLIN) {
			int fd = accept(lfd, NULL, NULL);
			int i = 0;
			while (i < MAX_CONN && conns[i].fd >= 0)
				i++;
			if (fd >= 0 && i == MAX_CONN)
				close(fd);
			else if (fd >= 0)
				conns[i].fd = fd;
		}
	}
}

int main(int argc, char **argv)
{
	const char *keyfile = NULL, *statefile = NULL;
	int port = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--public-key") == 0)
			keyfile = argv[i + 1];
		else if (strcmp(argv[i], "--state-file") == 0)
			statefile = argv[i + 1];
		else if (strcmp(argv[i], "--app-id") == 0)
			fake.app_id = argv[i + 1];
	}
	if (!keyfile) {
		fprintf(stderr, "usage: fakegithub --port N --public-key PEM "
		    "[--state-file FILE] [--app-id ID]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	fake.pubkey = slurp(keyfile, &fake.pubkey_len);
	if (statefile && !(fake.state = fopen(statefile, "a"))) {
		perror(statefile);
		return 1;
	}
	fake.requests = json_array();
	snprintf(fake.mode, sizeof fake.mode, "ok");
	fake.retry_after = -1;
	loop(listen_on(port));
	return 0;
}
