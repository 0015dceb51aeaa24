/* webhook_sig.c - HMAC-SHA256 webhook signatures (http-api.md 7.2). */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "webhook_sig.h"

#define PREFIX "sha256="

int cv_github_signature(const char *secret, const void *body, size_t len,
    char out[CV_WEBHOOK_SIG_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	static const unsigned char empty;

	if (!secret || (!body && len > 0))
		return -1;
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    body ? body : &empty, len, mac, &maclen) || maclen != 32)
		return -1;
	memcpy(out, PREFIX, sizeof PREFIX - 1);
	for (unsigned int i = 0; i < maclen; i++) {
		out[sizeof PREFIX - 1 + 2 * i] = hex[mac[i] >> 4];
		out[sizeof PREFIX - 1 + 2 * i + 1] = hex[mac[i] & 0xf];
	}
	out[CV_WEBHOOK_SIG_LEN] = '\0';
	OPENSSL_cleanse(mac, sizeof mac);
	return 0;
}

bool cv_github_signature_valid(const char *secret, const void *body,
    size_t len, const char *header)
{
	char expected[CV_WEBHOOK_SIG_LEN + 1];
	bool ok;

	if (!secret || !*secret || !header)
		return false;
	/* The length of a well-formed signature is fixed and public, so
	 * refusing other lengths first leaks nothing about the secret. */
	if (strlen(header) != CV_WEBHOOK_SIG_LEN)
		return false;
	if (cv_github_signature(secret, body, len, expected) != 0)
		return false;
	ok = CRYPTO_memcmp(expected, header, CV_WEBHOOK_SIG_LEN) == 0;
	OPENSSL_cleanse(expected, sizeof expected);
	return ok;
}
