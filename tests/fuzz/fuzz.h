/*
 * fuzz.h - what the harnesses of tests/fuzz share.
 *
 * Each harness NAME defines `int fuzz_NAME(const uint8_t *data, size_t n)`
 * and declares itself with CV_FUZZ_TARGET(NAME): built with
 * CV_FUZZ_MAIN (./configure --enable-fuzzers) that becomes libFuzzer's
 * LLVMFuzzerTestOneInput; without it the harness is a plain function the
 * replay test (tests/unit/test_fuzz_regress) calls on every saved input,
 * so that a crash once found stays fixed in builds without clang.
 *
 * A harness must never crash, leak, hang or write outside its own
 * temporary directory, whatever the input.
 */
#ifndef CV_FUZZ_H
#define CV_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#ifdef CV_FUZZ_MAIN
#define CV_FUZZ_TARGET(name) \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n); \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) \
	{ \
		return fuzz_##name(data, n); \
	}
#else
#define CV_FUZZ_TARGET(name)
#endif

int fuzz_http(const uint8_t *data, size_t n);
int fuzz_request(const uint8_t *data, size_t n);
int fuzz_signature(const uint8_t *data, size_t n);
int fuzz_jwt(const uint8_t *data, size_t n);
int fuzz_config(const uint8_t *data, size_t n);
int fuzz_cli_args(const uint8_t *data, size_t n);
int fuzz_ghevents(const uint8_t *data, size_t n);
int fuzz_intent_check(const uint8_t *data, size_t n);
int fuzz_html(const uint8_t *data, size_t n);

/* Splits a copy of data into at most max NUL-terminated fields at each
 * `sep` byte (the last field takes the rest). Returns the number of
 * fields; *buf is the caller's to free. Fields may contain NULs only in
 * the last one (its length is *last_len). */
size_t fuzz_split(const uint8_t *data, size_t n, char sep, char **fields,
    size_t max, char **buf, size_t *last_len);

#endif
