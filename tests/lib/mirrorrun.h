/* mirrorrun.h: running logd --mirror against an origin logd in tests
 * (tests/logd/test_mirror.c, test_mirror_lookup.c). Functions return 0 or -1
 * (with a line on stderr saying what differed or failed); they never abort:
 * callers assert. */
#ifndef MN_TESTS_MIRRORRUN_H
#define MN_TESTS_MIRRORRUN_H

#include <stdint.h>

#include "tests/lib/proc.h"

/* mirrorrun_same: |a| and |b| give the same 200 answer to GET |target|. */
int mirrorrun_same(uint16_t a, uint16_t b, const char *target);

/* mirrorrun_synced waits (polling every 50 ms, 60 s at most) until the mirror
 * on |mirror| serves at |prefix|/ct/v1/get-sth the origin's get-sth, byte for
 * byte. */
int mirrorrun_synced(uint16_t origin, uint16_t mirror, const char *prefix);

/* mirrorrun_start runs logd --mirror http://127.0.0.1:|upstream|/
 * --mirror-key |keyfile| --data |data| [--origin |origin|] (no --origin when
 * |origin| is NULL: taken from the first checkpoint); its stderr goes to
 * |errfile| when that is not NULL. */
int mirrorrun_start(struct logd_proc *p, uint16_t upstream, const char *data,
		    const char *keyfile, const char *origin, const char *errfile);

/* mirrorrun_write_spki writes the log key |p| printed (DER SPKI) to |path|. */
int mirrorrun_write_spki(const struct logd_proc *p, const char *path);

#endif
