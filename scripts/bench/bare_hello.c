/*
 * bare_hello.c - the floor under GET /health for scripts/bench/limits: a
 * libfcgi responder that answers every request with the same small JSON
 * and does nothing else. Started by spawn-fcgi like the farm's responders.
 */
#include <stdio.h>
#include <time.h>

#include <fcgiapp.h>

int main(void)
{
	FCGX_Request r;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		char ts[64];
		struct tm tm;
		time_t now = time(NULL);

		gmtime_r(&now, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S.000000+00:00", &tm);
		FCGX_FPrintF(r.out, "Status: 200 OK\r\n"
		    "Content-Type: application/json\r\n\r\n"
		    "{\"status\": \"ok\", \"timestamp\": \"%s\"}", ts);
		FCGX_Finish_r(&r);
	}
	return 0;
}
