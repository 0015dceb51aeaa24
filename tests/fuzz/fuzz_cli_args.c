/*
 * fuzz_cli_args.c - the admin CLI's argument parser with a flag table of
 * every kind (string, bounded integer, number, switch, choice, JSON
 * object).
 *
 * Input: one argument per line (argv[0] is the program).
 */
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "fuzz.h"

#define MAX_ARGS 24

static const char *const colours[] = { "red", "green", NULL };

static const struct cli_flag flags[] = {
	{ "id", CLI_STR, false, NULL, 0, 0, "an id" },
	{ "priority", CLI_INT, false, NULL, 1, 5, "1..5" },
	{ "limit", CLI_INT, false, NULL, 0, 0, "any integer" },
	{ "score", CLI_NUM, false, NULL, 0, 0, "a number" },
	{ "force", CLI_SWITCH, false, NULL, 0, 0, "a switch" },
	{ "colour", CLI_CHOICE, false, colours, 0, 0, "a choice" },
	{ "technical", CLI_JSONOBJ, false, NULL, 0, 0, "a JSON object" },
	{ "tenant", CLI_STR, false, NULL, 0, 0, "a tenant" },
};

int fuzz_cli_args(const uint8_t *data, size_t n)
{
	char *argv[MAX_ARGS + 2], *buf, err[1024];
	struct cli_args a;
	size_t nf;

	argv[0] = "converge";
	nf = fuzz_split(data, n, '\n', argv + 1, MAX_ARGS, &buf, NULL);
	argv[nf + 1] = NULL;
	for (int word = 0; word < 2; word++) {
		err[0] = '\0';
		switch (cli_args_parse(flags, sizeof flags / sizeof flags[0],
		    (int)nf + 1, argv, 1, word, &a, err, sizeof err)) {
		case CLI_PARSE_OK:
			(void)cli_str(&a, "id");
			(void)cli_int(&a, "priority", 3);
			(void)cli_num(&a, "score", 0.5);
			(void)cli_given(&a, "force");
			if (a.next < 1 || a.next > (int)nf + 1)
				abort();
			break;
		case CLI_PARSE_ERROR:
			if (!err[0])
				abort();   /* an error says what is wrong */
			break;
		case CLI_PARSE_HELP:
			break;
		}
	}
	for (size_t i = 0; i < nf; i++)
		(void)cli_utf8_valid(argv[i + 1]);
	free(buf);
	return 0;
}

CV_FUZZ_TARGET(cli_args)
