/* fuzz_util.c - input splitting shared by the harnesses. */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

size_t fuzz_split(const uint8_t *data, size_t n, char sep, char **fields,
    size_t max, char **buf, size_t *last_len)
{
	char *b = malloc(n + 1);
	size_t nf = 0, start = 0;

	*buf = b;
	if (!b || max == 0)
		return 0;
	memcpy(b, data, n);
	b[n] = '\0';
	for (size_t i = 0; i < n && nf + 1 < max; i++)
		if (b[i] == sep) {
			b[i] = '\0';
			fields[nf++] = b + start;
			start = i + 1;
		}
	fields[nf++] = b + start;
	if (last_len)
		*last_len = n - start;
	return nf;
}
