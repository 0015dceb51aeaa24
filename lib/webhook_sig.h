/*
 * webhook_sig.h - the X-Hub-Signature-256 check of GitHub webhooks
 * (http-api.md 7.1, 7.2 step 2).
 */
#ifndef CV_WEBHOOK_SIG_H
#define CV_WEBHOOK_SIG_H

#include <stdbool.h>
#include <stddef.h>

/* Length of "sha256=" and 64 lowercase hex digits, without the NUL. */
#define CV_WEBHOOK_SIG_LEN 71

/* Writes "sha256=" + lowercase hex HMAC-SHA256(key = secret bytes,
 * msg = body) into out (NUL-terminated). Returns 0, or -1 when the
 * secret is NULL or OpenSSL fails. */
int cv_github_signature(const char *secret, const void *body, size_t len,
    char out[CV_WEBHOOK_SIG_LEN + 1]);

/* True when header equals the expected signature of body under secret.
 * The comparison runs in constant time over the full string; only the
 * header's length (public anyway) can end it early. A NULL or empty
 * secret, a NULL body with len > 0, or a missing/malformed header give
 * false: deciding what an unset secret means is the caller's job. */
bool cv_github_signature_valid(const char *secret, const void *body,
    size_t len, const char *header);

#endif
