/* harness.c - fakegithub for unit tests (see harness.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "harness.h"

static int write_keys(struct fake_github *f)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	OSSL_ENCODER_CTX *enc = NULL;
	FILE *a = NULL, *b = NULL, *c = NULL;
	int rc = -1;

	if (!k)
		return -1;
	a = fopen(f->key_pkcs8, "w");
	b = fopen(f->key_pkcs1, "w");
	c = fopen(f->pub, "w");
	/* "type-specific" is the traditional RSA PRIVATE KEY (PKCS#1). */
	enc = OSSL_ENCODER_CTX_new_for_pkey(k, OSSL_KEYMGMT_SELECT_KEYPAIR,
	    "PEM", "type-specific", NULL);
	if (a && b && c && enc &&
	    PEM_write_PrivateKey(a, k, NULL, NULL, 0, NULL, NULL) &&
	    OSSL_ENCODER_to_fp(enc, b) && PEM_write_PUBKEY(c, k))
		rc = 0;
	OSSL_ENCODER_CTX_free(enc);
	if (a)
		fclose(a);
	if (b)
		fclose(b);
	if (c)
		fclose(c);
	EVP_PKEY_free(k);
	return rc;
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = calloc(1, 65536);

	if (fp && buf)
		fread(buf, 1, 65535, fp);
	if (fp)
		fclose(fp);
	return buf;
}

#ifndef CV_BUILDDIR
#define CV_BUILDDIR "."
#endif

static pid_t spawn(struct fake_github *f, int *port)
{
	const char *bin = getenv("FAKEGITHUB");
	char line[32] = "";
	int p[2];
	pid_t pid;

	if (!bin)
		bin = CV_BUILDDIR "/tests/fakegithub/fakegithub";
	if (pipe(p) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		char *argv[] = { (char *)bin, "--port", "0", "--public-key",
		    f->pub, "--state-file", f->state, "--app-id",
		    FAKE_APP_ID, NULL };
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(bin, argv);
		_exit(127);
	}
	close(p[1]);
	FILE *fp = fdopen(p[0], "r");
	if (!fp || !fgets(line, sizeof line, fp) || (*port = atoi(line)) <= 0) {
		fprintf(stderr, "fakegithub (%s) did not start\n", bin);
		if (pid > 0)
			kill(pid, SIGTERM);
		pid = -1;
	}
	if (fp)
		fclose(fp);
	return pid;
}

int fake_github_start(struct fake_github *f)
{
	memset(f, 0, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/cv-fakegh-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->key_pkcs1, sizeof f->key_pkcs1, "%s/app-pkcs1.pem", f->dir);
	snprintf(f->key_pkcs8, sizeof f->key_pkcs8, "%s/app-pkcs8.pem", f->dir);
	snprintf(f->pub, sizeof f->pub, "%s/app-pub.pem", f->dir);
	snprintf(f->state, sizeof f->state, "%s/state.jsonl", f->dir);
	if (write_keys(f) != 0 || !(f->pem_pkcs1 = slurp(f->key_pkcs1)) ||
	    (f->pid = spawn(f, &f->port)) < 0)
		return -1;
	snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", f->port);
	return 0;
}

void fake_github_stop(struct fake_github *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
	}
	unlink(f->key_pkcs1);
	unlink(f->key_pkcs8);
	unlink(f->pub);
	unlink(f->state);
	rmdir(f->dir);
	free(f->pem_pkcs1);
	f->pem_pkcs1 = NULL;
}

struct buf {
	char *p;
	size_t n;
};

static size_t sink(char *d, size_t sz, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t len = sz * n;
	char *p = realloc(b->p, b->n + len + 1);

	if (!p)
		return 0;
	memcpy(p + b->n, d, len);
	b->n += len;
	p[b->n] = '\0';
	b->p = p;
	return len;
}

static json_t *control(struct fake_github *f, const char *method,
    const char *path, const json_t *body)
{
	char url[128], *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct buf raw = { NULL, 0 };
	json_t *out = NULL;
	CURL *c = curl_easy_init();
	long status = 0;

	snprintf(url, sizeof url, "%s%s", f->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (text)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &raw);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200 && raw.p)
		out = json_loadb(raw.p, raw.n, 0, NULL);
	free(raw.p);
	curl_easy_cleanup(c);
	free(text);
	return out;
}

int fake_github_mode(struct fake_github *f, const char *mode, long count,
    long retry_after)
{
	json_t *b = json_pack("{s:s, s:i}", "mode", mode, "count", (int)count);
	json_t *r;

	if (retry_after >= 0)
		json_object_set_new(b, "retry_after", json_integer(retry_after));
	r = control(f, "POST", "/_fake/mode", b);
	json_decref(b);
	json_decref(r);
	return r ? 0 : -1;
}

int fake_github_reset(struct fake_github *f)
{
	json_t *r = control(f, "POST", "/_fake/reset", NULL);

	json_decref(r);
	return r ? 0 : -1;
}

json_t *fake_github_requests(struct fake_github *f)
{
	return control(f, "GET", "/_fake/requests", NULL);
}

size_t fake_github_count(const json_t *reqs, const char *method,
    const char *suffix, int status)
{
	size_t i, n = 0;
	json_t *r;

	json_array_foreach(reqs, i, r) {
		const char *m = json_string_value(json_object_get(r, "method"));
		const char *p = json_string_value(json_object_get(r, "path"));
		size_t pl = p ? strlen(p) : 0, sl = suffix ? strlen(suffix) : 0;

		if (method && (!m || strcmp(m, method) != 0))
			continue;
		if (suffix && (pl < sl || strcmp(p + pl - sl, suffix) != 0))
			continue;
		if (status >= 0 && json_integer_value(json_object_get(r,
		    "status")) != status)
			continue;
		n++;
	}
	return n;
}
