/* log.c - JSON log lines on stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "jsonx.h"

static enum cv_log_level min_level = CV_INFO;
static const char *level_names[] = { "DEBUG", "INFO", "WARNING", "ERROR" };

void cv_log_set_level(enum cv_log_level lvl)
{
	min_level = lvl;
}

bool cv_log_enabled(enum cv_log_level lvl)
{
	return lvl >= min_level;
}

enum cv_log_level cv_log_level_parse(const char *name, enum cv_log_level dflt)
{
	for (size_t i = 0; name && i < sizeof level_names / sizeof *level_names;
	    i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (enum cv_log_level)i;
	return dflt;
}

static void emit(enum cv_log_level lvl, const char *logger, json_t *extra,
    const char *fmt, va_list ap)
{
	char msg[2048], ts[CV_TS_LEN];
	json_t *line;
	char *text;

	if (lvl < min_level) {
		json_decref(extra);
		return;
	}
	vsnprintf(msg, sizeof msg, fmt, ap);
	cv_now_ts(ts);
	/* A message quoting a request's bytes is escaped, never dropped. */
	line = json_pack("{s:s,s:s,s:s,s:o}", "timestamp", ts, "level",
	    level_names[lvl], "logger", logger, "message",
	    cv_json_string_escaped(msg));
	if (!line) {
		json_decref(extra);
		return;
	}
	if (extra)
		json_object_update(line, extra);
	json_decref(extra);
	text = cv_json_dump(line);
	json_decref(line);
	if (!text)
		return;
	/* One write per line so lines of concurrent processes never mix. */
	size_t n = strlen(text);
	text[n] = '\n';
	ssize_t w = write(STDERR_FILENO, text, n + 1);
	(void)w;
	free(text);
}

void cv_log(enum cv_log_level lvl, const char *logger, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(lvl, logger, NULL, fmt, ap);
	va_end(ap);
}

void cv_log_fields(enum cv_log_level lvl, const char *logger,
    json_t *extra_take, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(lvl, logger, extra_take, fmt, ap);
	va_end(ap);
}
