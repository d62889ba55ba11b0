/* mirrorrun.h: running logd --mirror against an origin logd in tests
 * (tests/logd/test_mirror.c, test_mirror_lookup.c). Functions return 0 or -1
 * (with a line on stderr saying what differed or failed); they never abort:
 * callers assert. */
#ifndef MN_TESTS_MIRRORRUN_H
#define MN_TESTS_MIRRORRUN_H

#include <stdint.h>

#include "storage/storage.h"
#include "tests/lib/pki.h"
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

/* mirrorrun_add submits |n| fresh leaves issued by |ca| for mirror.example to
 * the logd on |port|, numbered |first|.. (the one whose number is 2 mod 5 a
 * precertificate, through add-pre-chain; the number also sets notBefore, so
 * each leaf differs). 0 when every answer was 200. */
int mirrorrun_add(uint16_t port, const struct pki_cert *ca, int first, int n);

/* mirrorrun_get GETs |target| from |port| into |*r| (the caller frees it);
 * 0 when the answer is 200, else -1 with the answer on stderr. */
int mirrorrun_get(uint16_t port, const char *target, struct http_resp *r);

/* mirrorrun_stored_sth reads the STH stored under |data| (logd stopped),
 * read-only. */
int mirrorrun_stored_sth(const char *data, struct store_sth *out);


#endif
