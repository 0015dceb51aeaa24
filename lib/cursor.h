/*
 * cursor.h - opaque page cursors for keyset pagination (`after=`): the
 * sort key of a page's last row, its fields joined by newlines and
 * encoded base64url without padding, so that it travels in a query
 * string as is. A client never builds one; it copies it from the
 * `Link: <...>; rel="next"` header of the page before.
 */
#ifndef CV_CURSOR_H
#define CV_CURSOR_H

#include <stdbool.h>
#include <stddef.h>

/* The cursor of n fields (none may contain a newline). New string, NULL
 * when out of memory. */
char *cv_cursor_encode(const char *const *fields, size_t n);

/* Splits cursor into exactly n fields: fields[i] point into *buf_out,
 * which the caller frees (also on failure; then it may be NULL). False
 * when the text is not a cursor of n fields. */
bool cv_cursor_decode(const char *cursor, char **buf_out,
    const char **fields, size_t n);

/* rel="next" Link header value for path?query: the request's own query
 * parameters named in keep (NULL-terminated) and present in values
 * (same order; NULL = absent), then limit and after. New string. */
char *cv_cursor_link(const char *path, const char *const *keep,
    const char *const *values, long long limit, const char *after);

#endif
