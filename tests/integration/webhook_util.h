/*
 * webhook_util.h - signed GitHub deliveries for the integration tests:
 * the X-Hub-Signature-256 value of a body, and a batch of deliveries sent
 * all at once, one connection each.  Everything is static inline (each
 * test includes it once, after cmocka.h, and uses a part of it); the
 * including program links libcrypto and libcurl.
 *
 * Ownership: a struct shot's body is set by the caller (malloc'd);
 * shots_fire() fills status and reply; shots_free() frees bodies, replies
 * and the array.
 */
#ifndef CV_WEBHOOK_UTIL_H
#define CV_WEBHOOK_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* "sha256=" + lowercase hex HMAC-SHA256(secret, body[0..len)) into out. */
static inline void webhook_sign(const char *secret, const char *body,
    size_t len, char out[72])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)body, len, mac, &maclen);
	strcpy(out, "sha256=");
	for (unsigned int i = 0; i < maclen; i++)
		sprintf(out + 7 + 2 * i, "%02x", mac[i]);
}

/* One delivery of a batch. */
struct shot {
	char *body;		/* JSON, NUL-terminated; freed by shots_free() */
	char delivery[64];	/* X-GitHub-Delivery */
	long status;		/* the answer's status, 0 if none came */
	char *reply;		/* the answer's body, NUL-terminated, or NULL */
	size_t reply_len;
};

static inline size_t shot_sink(char *d, size_t sz, size_t n, void *arg)
{
	struct shot *s = arg;
	char *p = realloc(s->reply, s->reply_len + sz * n + 1);

	if (p == NULL)
		return 0;
	memcpy(p + s->reply_len, d, sz * n);
	s->reply_len += sz * n;
	p[s->reply_len] = '\0';
	s->reply = p;
	return sz * n;
}

/*
 * POSTs every shot to url as X-GitHub-Event `event`, signed with secret,
 * all at once (a fresh connection each), and waits for all answers.
 */
static inline void shots_fire(struct shot *shots, size_t n, const char *url,
    const char *event, const char *secret)
{
	CURLM *m = curl_multi_init();
	CURL **easy = calloc(n, sizeof *easy);
	struct curl_slist **hdrs = calloc(n, sizeof *hdrs);
	int running = 1;

	assert_non_null(m);
	assert_non_null(easy);
	assert_non_null(hdrs);
	for (size_t i = 0; i < n; i++) {
		struct shot *s = &shots[i];
		char line[160], mac[72];

		webhook_sign(secret, s->body, strlen(s->body), mac);
		hdrs[i] = curl_slist_append(NULL, "Expect:");
		hdrs[i] = curl_slist_append(hdrs[i], "Content-Type: application/json");
		snprintf(line, sizeof line, "X-GitHub-Event: %s", event);
		hdrs[i] = curl_slist_append(hdrs[i], line);
		snprintf(line, sizeof line, "X-GitHub-Delivery: %s", s->delivery);
		hdrs[i] = curl_slist_append(hdrs[i], line);
		snprintf(line, sizeof line, "X-Hub-Signature-256: %s", mac);
		hdrs[i] = curl_slist_append(hdrs[i], line);
		assert_non_null(hdrs[i]);
		assert_non_null(easy[i] = curl_easy_init());
		curl_easy_setopt(easy[i], CURLOPT_URL, url);
		curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, hdrs[i]);
		curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS, s->body);
		curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, shot_sink);
		curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, s);
		curl_easy_setopt(easy[i], CURLOPT_TIMEOUT, 120L);
		curl_easy_setopt(easy[i], CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(easy[i], CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(easy[i], CURLOPT_NOSIGNAL, 1L);
		curl_multi_add_handle(m, easy[i]);
	}
	while (running) {
		curl_multi_perform(m, &running);
		if (running)
			curl_multi_poll(m, NULL, 0, 200, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		curl_easy_getinfo(easy[i], CURLINFO_RESPONSE_CODE, &shots[i].status);
		curl_multi_remove_handle(m, easy[i]);
		curl_easy_cleanup(easy[i]);
		curl_slist_free_all(hdrs[i]);
	}
	free(hdrs);
	free(easy);
	curl_multi_cleanup(m);
}

static inline void shots_free(struct shot *shots, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(shots[i].body);
		free(shots[i].reply);
	}
	free(shots);
}

#endif
