/* mapcatch.h: building the lookup map of leaves already stored (DESIGN.md
 * section 10), for the sequencer at start (a log that had no map, or whose
 * map was discarded) and for a mirror, which recomputes the origin's map from
 * the leaves it verified (logd/mirror.h).
 *
 * What it promises: mapcatch_run files the map keys (entry/mapkeys.h
 * mapkeys_leaf, a pure function of the leaf input) of every stored leaf the
 * map does not cover yet, so afterwards the map covers the whole tree; and
 * mapcatch_verify says whether that map is the one the log's last leaf, a
 * map-root leaf, commits to. */
#ifndef MN_LOGD_MAPCATCH_H
#define MN_LOGD_MAPCATCH_H

#include <stddef.h>

struct store;
struct merkle_hasher;

/* mapcatch_run files the keys of the leaves the map does not cover yet, a
 * chunk of 65,536 leaves per transaction (a crash part way keeps what was
 * done). The store must be opened with .map. 0, or the store's error
 * (MN_ENOSPACE, MN_EIO, MN_ENOMEM, MN_ECORRUPT). */
int mapcatch_run(struct store *st, struct merkle_hasher *h);

/* mapcatch_verify compares the map (which must cover the whole tree) with the
 * last stored leaf: 0 when that leaf is a map-root leaf whose covered count,
 * key count and root are the map's; MN_ENOTFOUND when the tree is empty or
 * its last leaf is not a map-root leaf (a log without the map: nothing to
 * compare); MN_EBADSIG when they differ (|why| says how); MN_EINVAL if the
 * map lags the tree; a store error. */
int mapcatch_verify(struct store *st, char *why, size_t why_len);

#endif
