/* promcheck.h: run `promtool check metrics` (Debian package prometheus) on a
 * Prometheus text exposition, as an independent check of /metrics. */
#ifndef MN_TESTS_PROMCHECK_H
#define MN_TESTS_PROMCHECK_H

#include <stddef.h>

/* promcheck pipes |len| bytes of |text| to `promtool check metrics`; returns
 * 0 if it exits 0 and prints nothing (no parse error, no lint complaint),
 * else -1 after printing what promtool said. promcheck_q with |quiet| set
 * prints nothing (for texts expected to fail). */
int promcheck(const char *text, size_t len);
int promcheck_q(const char *text, size_t len, int quiet);

#endif
