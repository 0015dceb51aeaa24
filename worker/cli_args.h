/*
 * cli_args.h - the flag parser of the converge CLI (operations.md 7.1).
 *
 * A command describes its flags in a table; cli_args_parse checks argv
 * against it in one pass and keeps no global state (no getopt). Accepted
 * forms: "--flag value", "--flag=value", and any unique prefix of a flag
 * name (as the 0.1.0 CLI accepted). Every value is checked here, so a
 * command reads its flags through the getters without further tests:
 * integers and numbers parse completely, numbers are finite, choices are
 * members of their set, JSON flags hold an object, and every string is
 * valid UTF-8 (so it can go into JSON).
 *
 * Values are borrowed from argv; nothing here allocates.
 */
#ifndef CV_CLI_ARGS_H
#define CV_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_MAX_FLAGS 16

enum cli_kind {
	CLI_STR,        /* any string */
	CLI_INT,        /* integer; min..max when min < max */
	CLI_NUM,        /* finite number */
	CLI_SWITCH,     /* present or not; takes no value */
	CLI_CHOICE,     /* one of `choices` */
	CLI_JSONOBJ     /* a JSON object */
};

struct cli_flag {
	const char *name;               /* without the leading "--" */
	enum cli_kind kind;
	bool required;
	const char *const *choices;     /* CLI_CHOICE: NULL-terminated */
	long long min, max;             /* CLI_INT range when min < max */
	const char *help;               /* one line, default included */
};

struct cli_args {
	const struct cli_flag *flags;
	size_t n;
	const char *val[CLI_MAX_FLAGS];
	bool set[CLI_MAX_FLAGS];
	long long ival[CLI_MAX_FLAGS];
	double nval[CLI_MAX_FLAGS];
	int next;                       /* index of the first unparsed argv */
};

enum cli_parse {
	CLI_PARSE_OK,
	CLI_PARSE_HELP,                 /* -h or --help was given */
	CLI_PARSE_ERROR                 /* err holds the one-line reason */
};

/*
 * Parses argv[first..argc) against flags[0..n). With stop_at_word, the
 * first argument that is not a flag ends the parse (out->next is its
 * index); otherwise such an argument is an error. A flag given twice
 * keeps the last value. Required flags are checked at the end.
 */
enum cli_parse cli_args_parse(const struct cli_flag *flags, size_t n,
    int argc, char **argv, int first, bool stop_at_word,
    struct cli_args *out, char *err, size_t errsize);

/* The value of flag `name`, or NULL when it was not given. */
const char *cli_str(const struct cli_args *a, const char *name);

/* Like cli_str, but an empty string also counts as not given. */
const char *cli_str_nonempty(const struct cli_args *a, const char *name);

/* true when the flag was given. */
bool cli_given(const struct cli_args *a, const char *name);

/* Integer / number value, or def when not given. */
long long cli_int(const struct cli_args *a, const char *name, long long def);
double cli_num(const struct cli_args *a, const char *name, double def);

/* true when valid UTF-8 (exported for the tests of the CLI). */
bool cli_utf8_valid(const char *s);

#endif
