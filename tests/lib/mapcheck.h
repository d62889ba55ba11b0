/* mapcheck.h: verify the "map" section of a /mn/v1/lookup answer
 * (api/mapproof.c) the way a client must: the map-root leaf is the last leaf
 * of the answer's STH and its audit path verifies; the key's MapProof leads
 * to the root the leaf commits; the items shown and the range proof rebuild
 * the list root, and (count, list root) is the value the proof proved. */
#ifndef MN_TESTS_MAPCHECK_H
#define MN_TESTS_MAPCHECK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* mapcheck_lookup checks the answer |answer| for the key string |key|
 * ("dns:www.example.com", entry/mapkeys.h). Sets *out_count to the key's list
 * length and copies the leaf indexes of the items shown (at most |cap|) to
 * |out_items|, their number to *out_num. Returns 0, or -1 after printing on
 * stderr what did not verify. The STH's signature is not checked here. */
int mapcheck_lookup(const json_t *answer, const char *key, uint64_t *out_count,
		    uint64_t *out_items, size_t cap, size_t *out_num);

#endif
