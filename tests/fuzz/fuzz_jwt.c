/*
 * fuzz_jwt.c - bearer tokens: the header read before verification and the
 * claims checks after it.
 *
 * Input: first byte 'r' → the rest is the token as presented; otherwise
 * "HEADER_JSON\nCLAIMS_JSON" is encoded and signed (HS256 with the
 * harness's secret, so the claims checks are reached), then verified.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "fuzz.h"

#define SECRET "fuzz-jwt-secret"

static struct cv_auth *a;

static struct cv_auth *auth(void)
{
	static struct cv_config cfg;
	char err[256];

	if (!a) {
		cfg.auth_required = true;
		cfg.auth_mode = CV_AUTH_HYBRID;
		cfg.jwt_secret = SECRET;
		cfg.jwt_issuer = "converge-fuzz";
		cfg.jwt_audience = "converge";
		cfg.jwt_leeway = 30;
		a = cv_auth_new(&cfg, err, sizeof err);
		if (!a)
			abort();
	}
	return a;
}

static void free_auth(void) __attribute__((destructor));
static void free_auth(void)
{
	cv_auth_free(a);
	a = NULL;
}

static size_t b64url(const unsigned char *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_";
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = t[v >> 6 & 63];
		out[o++] = t[v & 63];
	}
	if (n - i == 1) {
		out[o++] = t[in[i] >> 2];
		out[o++] = t[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		unsigned v = (unsigned)in[i] << 8 | in[i + 1];
		out[o++] = t[v >> 10 & 63];
		out[o++] = t[v >> 4 & 63];
		out[o++] = t[(v & 15) << 2];
	}
	out[o] = '\0';
	return o;
}

/* header.claims.signature, signed with the harness's secret. */
static char *signed_token(const char *header, const char *claims)
{
	size_t hn = strlen(header), cn = strlen(claims);
	char *tok = malloc(2 * (hn + cn) + 128);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t o;

	if (!tok)
		return NULL;
	o = b64url((const unsigned char *)header, hn, tok);
	tok[o++] = '.';
	o += b64url((const unsigned char *)claims, cn, tok + o);
	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
	    (const unsigned char *)tok, o, mac, &maclen);
	tok[o++] = '.';
	b64url(mac, maclen, tok + o);
	return tok;
}

int fuzz_jwt(const uint8_t *data, size_t n)
{
	char *f[2], *buf, *token = NULL;
	const char *reason = NULL;
	json_t *principal = NULL;

	if (n == 0)
		return 0;
	if (data[0] == 'r') {
		token = malloc(n);
		if (!token)
			return 0;
		memcpy(token, data + 1, n - 1);
		token[n - 1] = '\0';
	} else if (fuzz_split(data + 1, n - 1, '\n', f, 2, &buf, NULL) == 2) {
		token = signed_token(f[0], f[1]);
		free(buf);
	} else {
		free(buf);
		return 0;
	}
	if (token) {
		cv_auth_verify_token(auth(), token, 1800000000, &principal,
		    &reason);
		if (!principal && !reason)
			abort();   /* a refusal always says why */
		json_decref(principal);
	}
	free(token);
	return 0;
}

CV_FUZZ_TARGET(jwt)
