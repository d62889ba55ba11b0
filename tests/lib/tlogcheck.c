/* tlogcheck.c: see tlogcheck.h. */
#include "tests/lib/tlogcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tlogcheck_run(uint16_t port, struct tlogcheck_result *out)
{
	return tlogcheck_run_prefix(port, "", out);
}

int tlogcheck_run_prefix(uint16_t port, const char *prefix, struct tlogcheck_result *out)
{
	const char *build = getenv("MN_BUILD");
	char cmd[512], first[512] = "";
	FILE *p;
	int n;

	memset(out, 0, sizeof(*out));
	if (strlen(prefix) > 200 || strchr(prefix, '\'') != NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/tests/tilecheck 'http://127.0.0.1:%u%s/' 2>&1",
		 build != NULL ? build : "build", port, prefix);
	p = popen(cmd, "r");
	if (p == NULL) {
		fprintf(stderr, "tilecheck: cannot run %s\n", cmd);
		return -1;
	}
	if (fgets(first, sizeof(first), p) == NULL)
		first[0] = '\0';
	fprintf(stderr, "tilecheck: %s", first);
	while (fgets(cmd, sizeof(cmd), p) != NULL)
		fprintf(stderr, "tilecheck: %s", cmd);
	if (pclose(p) != 0)
		return -1;
	n = sscanf(first, "ok %lu %63s tiles=%lu issuers=%lu", &out->size, out->root,
		   &out->tiles, &out->issuers);
	return n == 4 ? 0 : -1;
}
