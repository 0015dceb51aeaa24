/* cursor.c - base64url page cursors and the rel="next" Link header. */
#include "cursor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

char *cv_cursor_encode(const char *const *fields, size_t n)
{
	size_t len = 0, i, o = 0;
	char *raw, *out;
	int w;

	for (i = 0; i < n; i++)
		len += strlen(fields[i]) + 1;
	if ((raw = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		size_t k = strlen(fields[i]);

		memcpy(raw + o, fields[i], k);
		o += k;
		raw[o++] = '\n';
	}
	len = o ? o - 1 : 0;   /* no newline after the last field */
	if ((out = malloc(4 * ((len + 2) / 3) + 1)) == NULL) {
		free(raw);
		return NULL;
	}
	w = EVP_EncodeBlock((unsigned char *)out, (unsigned char *)raw,
	    (int)len);
	free(raw);
	while (w > 0 && out[w - 1] == '=')
		w--;
	out[w] = '\0';
	for (char *p = out; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	return out;
}

bool cv_cursor_decode(const char *cursor, char **buf_out,
    const char **fields, size_t n)
{
	size_t len = strlen(cursor), padded = (len + 3) / 4 * 4, i, k = 0;
	char *b64, *raw, *p;
	int got;

	*buf_out = NULL;
	if (len == 0 || len > 4096 || len % 4 == 1)
		return false;
	if ((b64 = malloc(padded + 1)) == NULL)
		return false;
	for (i = 0; i < len; i++) {
		char c = cursor[i];

		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9'))) {
			free(b64);
			return false;
		}
		b64[i] = c;
	}
	for (; i < padded; i++)
		b64[i] = '=';
	b64[padded] = '\0';
	if ((raw = malloc(padded / 4 * 3 + 1)) == NULL) {
		free(b64);
		return false;
	}
	got = EVP_DecodeBlock((unsigned char *)raw, (unsigned char *)b64,
	    (int)padded);
	free(b64);
	*buf_out = raw;
	if (got < 0)
		return false;
	/* EVP_DecodeBlock counts the padding as zero bytes: drop them */
	got -= (int)(padded - len);
	raw[got] = '\0';
	if (memchr(raw, '\0', (size_t)got) != NULL)
		return false;
	for (p = raw; k < n; k++) {
		fields[k] = p;
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	return k + 1 == n && p == NULL;
}

/* Appends s percent-encoded (unreserved characters kept) at o. */
static size_t put_encoded(char *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~') {
			o[n++] = (char)c;
		} else {
			o[n++] = '%';
			o[n++] = hex[c >> 4];
			o[n++] = hex[c & 15];
		}
	}
	return n;
}

char *cv_cursor_link(const char *path, const char *const *keep,
    const char *const *values, long long limit, const char *after)
{
	size_t len = strlen(path) + strlen(after) * 3 + 64, i, o = 0;
	char *out, num[32];

	for (i = 0; keep[i]; i++)
		if (values[i])
			len += strlen(keep[i]) + 3 * strlen(values[i]) + 2;
	if ((out = malloc(len)) == NULL)
		return NULL;
	out[o++] = '<';
	o += (size_t)snprintf(out + o, len - o, "%s?", path);
	for (i = 0; keep[i]; i++) {
		if (!values[i])
			continue;
		o += put_encoded(out + o, keep[i]);
		out[o++] = '=';
		o += put_encoded(out + o, values[i]);
		out[o++] = '&';
	}
	snprintf(num, sizeof num, "%lld", limit);
	o += (size_t)snprintf(out + o, len - o, "limit=%s&after=", num);
	o += put_encoded(out + o, after);
	snprintf(out + o, len - o, ">; rel=\"next\"");
	return out;
}
