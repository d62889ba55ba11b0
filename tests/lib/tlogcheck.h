/* tlogcheck.h: run build/tests/tilecheck (tests/tilecheck/main.go, over Go's
 * sumdb/tlog and sumdb/note: an implementation we did not write, unlike
 * entry/tilecheck.h) against a running logd, and read what it verified. Used
 * by test_tiles, test_tiles_big and test_publish. */
#ifndef MN_TESTS_TLOGCHECK_H
#define MN_TESTS_TLOGCHECK_H

#include <stddef.h>
#include <stdint.h>

/* What tilecheck printed on success: "ok SIZE ROOT tiles=N issuers=M". */
struct tlogcheck_result {
	unsigned long size;    /* the checkpoint's tree size it verified */
	char root[64];         /* its root, base64 as in the checkpoint */
	unsigned long tiles;   /* distinct hash tiles proved (each at its widest) */
	unsigned long issuers; /* issuer certificates checked */
};

/* tlogcheck_run runs $MN_BUILD/tests/tilecheck (default build) against
 * http://127.0.0.1:|port|/, copies its output to stderr and fills |out|.
 * Returns 0, or -1 if it failed (exit status not 0, or no "ok" line). */
int tlogcheck_run(uint16_t port, struct tlogcheck_result *out);
/* tlogcheck_run_prefix is tlogcheck_run against the log logd --config serves
 * under |prefix| ("/NAME", no trailing '/'): http://127.0.0.1:|port|PREFIX/. */
int tlogcheck_run_prefix(uint16_t port, const char *prefix, struct tlogcheck_result *out);

#endif
