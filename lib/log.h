/*
 * log.h - JSON lines on stderr (http-api.md 9.1).
 *
 * Envelope: {"timestamp","level","logger","message", extra fields...}.
 * Never pass secrets (keys, tokens, signatures, DSN passwords) to these
 * functions: a log line is readable by every operator.
 */
#ifndef CV_LOG_H
#define CV_LOG_H

#include <stdbool.h>

#include <jansson.h>

enum cv_log_level { CV_DEBUG, CV_INFO, CV_WARNING, CV_ERROR };

/* Minimum level written (default INFO; CONVERGE_LOG_LEVEL sets it). */
void cv_log_set_level(enum cv_log_level lvl);

/* Whether a line at lvl would be written: lets a caller skip building
 * the fields of a line that would be dropped (the access line). */
bool cv_log_enabled(enum cv_log_level lvl);

/* The level `name` spells (DEBUG, INFO, WARNING or ERROR, any case);
 * dflt for NULL or anything else. */
enum cv_log_level cv_log_level_parse(const char *name, enum cv_log_level dflt);

/* printf-style message under `logger` (e.g. "converge.api"). */
void cv_log(enum cv_log_level lvl, const char *logger, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like cv_log, with extra fields merged into the envelope; extra_take is
 * stolen (may be NULL). */
void cv_log_fields(enum cv_log_level lvl, const char *logger,
    json_t *extra_take, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
