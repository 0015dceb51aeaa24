/* cli_args.c - the table-driven flag parser of the converge CLI. */
#include "cli_args.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

bool cli_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p++;
		int more;
		unsigned min, cp;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1; min = 0x80; cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2; min = 0x800; cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3; min = 0x10000; cp = c & 0x07;
		} else
			return false;
		while (more--) {
			if ((*p & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (*p++ & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	return true;
}

/* A value quoted for an error line: control bytes replaced so the
 * message stays one line, long values cut. */
static const char *quoted(const char *v, char *buf, size_t size)
{
	size_t i, n = 0;

	for (i = 0; v[i] && n + 4 < size; i++)
		buf[n++] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
	if (v[i] && n >= 3)
		memcpy(buf + n - 3, "...", 3);
	buf[n] = '\0';
	return buf;
}

static void fail(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

static bool looks_negative(const char *s)
{
	char *end;

	if (s[0] != '-' || s[1] == '\0')
		return false;
	errno = 0;
	(void)strtod(s, &end);
	return *end == '\0';
}

/* The flag named by the text before '=' (len chars): an exact name, else
 * a unique prefix. -1 unknown, -2 ambiguous. */
static int lookup(const struct cli_flag *flags, size_t n, const char *name,
    size_t len)
{
	int hit = -1;

	for (size_t i = 0; i < n; i++) {
		if (strlen(flags[i].name) == len &&
		    strncmp(flags[i].name, name, len) == 0)
			return (int)i;
		if (len > 0 && strncmp(flags[i].name, name, len) == 0)
			hit = hit == -1 ? (int)i : -2;
	}
	return hit;
}

static bool parse_int(const char *v, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(v, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	return end != v && *end == '\0' && errno == 0 && *v != '\0';
}

static bool parse_num(const char *v, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(v, &end);
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	return end != v && *end == '\0' && *v != '\0' && isfinite(*out);
}

static bool in_choices(const char *const *choices, const char *v)
{
	for (size_t i = 0; choices && choices[i]; i++)
		if (strcmp(choices[i], v) == 0)
			return true;
	return false;
}

static void choices_text(const char *const *choices, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; choices && choices[i] && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s'%s'", i ? ", " : "",
		    choices[i]);
}

/* Checks and stores one value. */
static bool store_value(const struct cli_flag *f, struct cli_args *out,
    size_t i, const char *v, char *err, size_t size)
{
	char q[96], list[256];
	json_t *doc;

	if (!cli_utf8_valid(v)) {
		fail(err, size, "argument --%s: value is not valid UTF-8", f->name);
		return false;
	}
	switch (f->kind) {
	case CLI_INT:
		if (!parse_int(v, &out->ival[i]) || out->ival[i] < INT_MIN ||
		    out->ival[i] > INT_MAX) {
			fail(err, size, "argument --%s: invalid int value: '%s'",
			    f->name, quoted(v, q, sizeof q));
			return false;
		}
		if (f->min < f->max && (out->ival[i] < f->min ||
		    out->ival[i] > f->max)) {
			fail(err, size, "argument --%s: value %lld out of range "
			    "%lld..%lld", f->name, out->ival[i], f->min, f->max);
			return false;
		}
		break;
	case CLI_NUM:
		if (!parse_num(v, &out->nval[i])) {
			fail(err, size, "argument --%s: invalid float value: '%s'",
			    f->name, quoted(v, q, sizeof q));
			return false;
		}
		break;
	case CLI_CHOICE:
		if (!in_choices(f->choices, v)) {
			choices_text(f->choices, list, sizeof list);
			fail(err, size, "argument --%s: invalid choice: '%s' "
			    "(choose from %s)", f->name, quoted(v, q, sizeof q),
			    list);
			return false;
		}
		break;
	case CLI_JSONOBJ:
		doc = json_loads(v, JSON_DECODE_ANY, NULL);
		if (!json_is_object(doc)) {
			json_decref(doc);
			fail(err, size, "argument --%s: expected a JSON object",
			    f->name);
			return false;
		}
		json_decref(doc);
		break;
	default:
		break;
	}
	out->val[i] = v;
	out->set[i] = true;
	return true;
}

static bool check_required(const struct cli_flag *flags, size_t n,
    const struct cli_args *out, char *err, size_t size)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		if (flags[i].required && !out->set[i] && len < size)
			len += (size_t)snprintf(err + len, size - len, "%s--%s",
			    len ? ", " : "the following arguments are required: ",
			    flags[i].name);
	return len == 0;
}

/* One "--name[=value]" at argv[*k]; advances *k past what it used. */
static enum cli_parse one_flag(const struct cli_flag *flags, size_t n,
    int argc, char **argv, int *k, struct cli_args *out, char *err,
    size_t size)
{
	const char *arg = argv[*k] + 2, *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	char q[96];
	int i;

	if (len == 4 && strncmp(arg, "help", 4) == 0 && !eq)
		return CLI_PARSE_HELP;
	if ((i = lookup(flags, n, arg, len)) < 0) {
		fail(err, size, i == -2 ? "ambiguous option: %s" :
		    "unrecognized arguments: %s", quoted(argv[*k], q, sizeof q));
		return CLI_PARSE_ERROR;
	}
	const struct cli_flag *f = &flags[i];
	if (f->kind == CLI_SWITCH) {
		if (eq) {
			fail(err, size, "argument --%s: ignored explicit "
			    "argument '%s'", f->name, quoted(eq + 1, q, sizeof q));
			return CLI_PARSE_ERROR;
		}
		out->set[i] = true;
		out->val[i] = "";
		(*k)++;
		return CLI_PARSE_OK;
	}
	if (eq) {
		(*k)++;
		return store_value(f, out, (size_t)i, eq + 1, err, size) ?
		    CLI_PARSE_OK : CLI_PARSE_ERROR;
	}
	if (*k + 1 >= argc || (argv[*k + 1][0] == '-' && argv[*k + 1][1] &&
	    !looks_negative(argv[*k + 1]))) {
		fail(err, size, "argument --%s: expected one argument", f->name);
		return CLI_PARSE_ERROR;
	}
	*k += 2;
	return store_value(f, out, (size_t)i, argv[*k - 1], err, size) ?
	    CLI_PARSE_OK : CLI_PARSE_ERROR;
}

enum cli_parse cli_args_parse(const struct cli_flag *flags, size_t n,
    int argc, char **argv, int first, bool stop_at_word,
    struct cli_args *out, char *err, size_t errsize)
{
	char q[96];
	int k = first;

	memset(out, 0, sizeof *out);
	out->flags = flags;
	out->n = n < CLI_MAX_FLAGS ? n : CLI_MAX_FLAGS;
	n = out->n;
	err[0] = '\0';
	while (k < argc) {
		const char *a = argv[k];
		enum cli_parse r;

		if (strcmp(a, "-h") == 0)
			return CLI_PARSE_HELP;
		if (a[0] != '-' || a[1] == '\0' || strcmp(a, "--") == 0 ||
		    (a[1] != '-' && !looks_negative(a))) {
			if (stop_at_word && a[0] != '-')
				break;
			fail(err, errsize, "unrecognized arguments: %s",
			    quoted(a, q, sizeof q));
			return CLI_PARSE_ERROR;
		}
		if (a[1] != '-') {
			fail(err, errsize, "unrecognized arguments: %s",
			    quoted(a, q, sizeof q));
			return CLI_PARSE_ERROR;
		}
		if ((r = one_flag(flags, n, argc, argv, &k, out, err, errsize)) !=
		    CLI_PARSE_OK)
			return r;
	}
	out->next = k;
	return check_required(flags, n, out, err, errsize) ? CLI_PARSE_OK :
	    CLI_PARSE_ERROR;
}

static int index_of(const struct cli_args *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->flags[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *cli_str(const struct cli_args *a, const char *name)
{
	int i = index_of(a, name);

	return i >= 0 && a->set[i] ? a->val[i] : NULL;
}

const char *cli_str_nonempty(const struct cli_args *a, const char *name)
{
	const char *v = cli_str(a, name);

	return v && *v ? v : NULL;
}

bool cli_given(const struct cli_args *a, const char *name)
{
	int i = index_of(a, name);

	return i >= 0 && a->set[i];
}

long long cli_int(const struct cli_args *a, const char *name, long long def)
{
	int i = index_of(a, name);

	return i >= 0 && a->set[i] ? a->ival[i] : def;
}

double cli_num(const struct cli_args *a, const char *name, double def)
{
	int i = index_of(a, name);

	return i >= 0 && a->set[i] ? a->nval[i] : def;
}
