/* liar.h: a lying log for tests: an HTTP proxy on 127.0.0.1 (one thread of
 * the test process) between mnctl and a real logd. It passes everything
 * through, but rewrites the 200 answers of /mn/v1/lookup and /mn/v1/resolve
 * (parsed with jansson, mutated, re-serialized) in the way its mode says. The
 * signatures stay the log's own: every lie here is one a log with a valid key
 * could tell, and mnctl must catch each by its completeness checks
 * (client/verify_map.c).
 *
 * Whatever the mode, liar_checkpoint makes it answer GET /checkpoint with a
 * note the test made (a checkpoint with cosignatures, tests/lib/cosigned.h):
 * logd does not collect cosignatures itself here, so only their delivery is
 * faked; the keys and signatures are real.
 *
 *   struct liar *l = liar_start(logd.port);
 *   liar_set(l, LIAR_GAP, "dns:example.com");
 *   ... run mnctl --log http://127.0.0.1:<liar_port(l)> ...
 *   assert(liar_tampered(l) > 0);
 *   liar_stop(l);
 *
 * Functions never abort; liar_start returns NULL on failure. */
#ifndef MN_TESTS_LIAR_H
#define MN_TESTS_LIAR_H

#include <stddef.h>
#include <stdint.h>

enum liar_mode {
	LIAR_PASS,          /* pass through (and record the answers) */
	LIAR_DROP_ENTRY,    /* drop the middle entry of "entries" (resolve: "items") */
	LIAR_DROP_NEWEST,   /* drop the newest item of the key's list from the map
	                     * section (count one less, so the list looks whole) and
	                     * its entry from "entries" / "items" */
	LIAR_CLAIM_ABSENT,  /* the key: count 0, no items, and as its MapProof the
	                     * valid absence proof of another (absent) key; its
	                     * entries dropped */
	LIAR_GAP,           /* drop the middle item of the key's page and its entry,
	                     * adjust nothing else */
	LIAR_REPLAY,        /* answer every lookup and resolve with the answer
	                     * recorded for the target set by liar_replay: an older
	                     * answer, or the answer to another query */
	LIAR_STRIP_MAP,     /* remove the "map" section (a log without a map) */
	LIAR_NO_POLICY,     /* resolve: the policy in force and its advice removed
	                     * ("policy" / "smtp_policy" null, "advice" without it),
	                     * the proven lists left as they are */
	LIAR_NARROW_RIGHT,  /* a lookup page with a next_cursor: the key's items
	                     * end before the next_cursor (the last entry and its
	                     * right neighbour dropped), with a valid range proof
	                     * for what is left (computed from the whole list) */
	LIAR_NARROW_LEFT,   /* a lookup page after a cursor: the key's items start
	                     * after it (the left neighbour and the first entry
	                     * dropped), with a valid range proof */
	LIAR_FLIP_TILE,     /* flip one bit of every level-0 hash tile answer
	                     * (/tile/0/...), bytes 40 on: a tile the log's root does
	                     * not commit to (docs/tiles.md) */
	LIAR_OTHER_VRF,     /* answer /mn/v1/vrf?email=A with the log's own, valid
	                     * VRF proof of another address (a proof that verifies
	                     * under the log's VRF key, but not for A) */
};

struct liar;

/* liar_start listens on 127.0.0.1 (a free port) and forwards to the logd on
 * 127.0.0.1:|upstream|. */
struct liar *liar_start(uint16_t upstream);
/* liar_port: the port mnctl should talk to. */
uint16_t liar_port(const struct liar *l);
/* liar_set switches the mode; the mode acts on the first map key whose key
 * string starts with |key| (NULL or "": the first key of the answer; "pgpaddr:"
 * the address's VRF key). Resets the tamper count. */
void liar_set(struct liar *l, enum liar_mode mode, const char *key);
/* liar_replay switches to LIAR_REPLAY with the answer last recorded (in any
 * other mode) for the request target |target| ("/mn/v1/lookup?domain=x").
 * Returns 0, or -1 if no answer for it was recorded. */
int liar_replay(struct liar *l, const char *target);
/* liar_checkpoint makes the proxy answer GET /checkpoint with a copy of
 * |note| (|len| bytes, text/plain) from now on; NULL passes it through to logd
 * again. Returns 0, or -1 when out of memory (nothing changed). */
int liar_checkpoint(struct liar *l, const char *note, size_t len);
/* liar_checkpoint_hits: how many /checkpoint requests were answered with a
 * liar_checkpoint note so far. */
int liar_checkpoint_hits(const struct liar *l);
/* liar_tampered: how many answers were altered since the last liar_set. */
int liar_tampered(const struct liar *l);
/* liar_stop stops the thread and frees |l| (NULL: no-op). */
void liar_stop(struct liar *l);

#endif
