/*
 * bare_webhook.c - the floor under the webhook for scripts/bench/limits:
 * read the body, check X-Hub-Signature-256 (HMAC-SHA256, constant-time
 * compare), parse it with jansson, insert one row (delivery id, event,
 * body) into SQLite in WAL mode with synchronous=NORMAL, answer 200.
 * Writers serialise on an exclusive flock of a side file around BEGIN
 * IMMEDIATE, as the farm's store does. Nothing else: no auth, no events,
 * no intent.
 *
 * Usage (under spawn-fcgi): bare_webhook DB SECRET
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sqlite3.h>

static sqlite3 *db;
static sqlite3_stmt *ins;
static int lock_fd;

static int reply(FCGX_Request *r, int status, const char *body)
{
	FCGX_FPrintF(r->out, "Status: %d\r\nContent-Type: application/json"
	    "\r\n\r\n%s", status, body);
	return status;
}

static char *read_body(FCGX_Request *r, size_t *len)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", r->envp);
	size_t n = cl ? strtoul(cl, NULL, 10) : 0;
	char *b = malloc(n + 1);

	if (!b || (n && FCGX_GetStr(b, (int)n, r->in) != (int)n)) {
		free(b);
		return NULL;
	}
	b[n] = '\0';
	*len = n;
	return b;
}

static int signed_ok(const char *secret, const char *body, size_t len,
    const char *header)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 8];

	if (!header || strncmp(header, "sha256=", 7) != 0 ||
	    !HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)body, len, mac, &maclen))
		return 0;
	for (unsigned int i = 0; i < maclen; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	return strlen(header + 7) == 2 * maclen &&
	    CRYPTO_memcmp(hex, header + 7, 2 * maclen) == 0;
}

static int store(const char *id, const char *event, const char *body,
    size_t len)
{
	int rc;

	while (flock(lock_fd, LOCK_EX) != 0)
		;
	sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	sqlite3_bind_text(ins, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 2, event, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 3, body, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(ins);
	sqlite3_reset(ins);
	sqlite3_exec(db, rc == SQLITE_DONE ? "COMMIT" : "ROLLBACK", NULL, NULL,
	    NULL);
	flock(lock_fd, LOCK_UN);
	return rc == SQLITE_DONE;
}

static void serve(FCGX_Request *r, const char *secret)
{
	size_t len = 0;
	char *body = read_body(r, &len);
	const char *id = FCGX_GetParam("HTTP_X_GITHUB_DELIVERY", r->envp);
	const char *event = FCGX_GetParam("HTTP_X_GITHUB_EVENT", r->envp);
	json_t *doc;

	if (!body || !id || !event)
		reply(r, 400, "{\"error\":\"bad request\"}");
	else if (!signed_ok(secret, body, len, FCGX_GetParam(
	    "HTTP_X_HUB_SIGNATURE_256", r->envp)))
		reply(r, 401, "{\"error\":\"Invalid signature\"}");
	else if (!(doc = json_loadb(body, len, 0, NULL)))
		reply(r, 400, "{\"error\":\"Invalid JSON\"}");
	else {
		if (store(id, event, body, len))
			reply(r, 200, "{\"ok\":true}");
		else
			reply(r, 500, "{\"error\":\"store\"}");
		json_decref(doc);
	}
	free(body);
}

int main(int argc, char **argv)
{
	FCGX_Request r;
	char lock_path[4096];

	if (argc != 3 || sqlite3_open(argv[1], &db) != SQLITE_OK)
		return 2;
	snprintf(lock_path, sizeof lock_path, "%s.lock", argv[1]);
	if ((lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return 2;
	sqlite3_busy_timeout(db, 5000);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS deliveries (id TEXT "
	    "PRIMARY KEY, event TEXT NOT NULL, body TEXT NOT NULL)", NULL,
	    NULL, NULL);
	if (sqlite3_prepare_v2(db, "INSERT INTO deliveries (id, event, body) "
	    "VALUES (?, ?, ?)", -1, &ins, NULL) != SQLITE_OK)
		return 2;
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		serve(&r, argv[2]);
		FCGX_Finish_r(&r);
	}
	return 0;
}
