/*
 * fuzz_signature.c - the X-Hub-Signature-256 check.
 *
 * Input: "SECRET\nHEADER\nBODY". Besides not crashing, the check must
 * accept the signature it computes itself and refuse the header when it
 * differs from that signature.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "webhook_sig.h"

int fuzz_signature(const uint8_t *data, size_t n)
{
	char *f[3], *buf, good[CV_WEBHOOK_SIG_LEN + 1];
	size_t body_len = 0, nf;

	nf = fuzz_split(data, n, '\n', f, 3, &buf, &body_len);
	if (nf == 3) {
		bool ok = cv_github_signature_valid(f[0], f[2], body_len, f[1]);
		if (cv_github_signature(f[0], f[2], body_len, good) == 0) {
			if (ok != (strcmp(good, f[1]) == 0 && *f[0]))
				abort();
			if (*f[0] && !cv_github_signature_valid(f[0], f[2],
			    body_len, good))
				abort();
		}
		(void)cv_github_signature_valid(f[0], f[2], body_len, NULL);
	}
	free(buf);
	return 0;
}

CV_FUZZ_TARGET(signature)
