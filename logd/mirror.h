/* mirror.h: a verifying mirror of another log (logd --mirror URL; DESIGN.md
 * section 9). A follower thread polls the origin's static read path over HTTP
 * (libcurl; ours, or any static-ct-api log: docs/tiles.md) and copies it into
 * the mirror's own store, which logd serves read-only with the origin's
 * signed tree heads.
 *
 * What it promises. Each round:
 *   1. the checkpoint must parse, carry the pinned origin, and have a
 *      RFC6962NoteSignature by the origin's log key (entry/tilecheck.h);
 *   2. it must be consistent with the copy: for a size the copy has, the
 *      copy's root at that size must be the checkpoint's root;
 *   3. for a larger size, every level-0 hash tile and data tile covering the
 *      new entries is fetched; each data tile entry must hash to its slot in
 *      the hash tile, each issuer must hash to its fingerprint, and the root
 *      of the copy's compact range extended by the new leaf hashes must be
 *      the checkpoint's root (so the hash tiles, the data tiles and the
 *      checkpoint all agree with everything stored before);
 *   4. only then the new leaves (MerkleTreeLeaf, the rebuilt RFC 6962
 *      extra_data, and the certificate index keys the origin files them
 *      under: x5t#S256 and each chain certificate's, which issuer/<hex>
 *      serves by) and the checkpoint's STH (the origin's timestamp and
 *      signature, not re-signed) are stored, in one store_append_batch; a
 *      newer checkpoint of the same size replaces the stored STH.
 *   5. with |map|, the lookup map of the stored leaves is computed from them
 *      (logd/mapcatch.h; the map is a pure function of the leaf inputs) and,
 *      when the checkpoint's last leaf is a map-root leaf (an origin with
 *      the map), its root, leaf count and key count must be the ones that
 *      leaf commits to. A mismatch means the origin signed a map root that
 *      is not the map of its own leaves: the follower stops as for 1-3 (the
 *      leaves, verified by 3, stay stored, and a restart on the copy stops
 *      again; api/mapproof.c would refuse to prove from a map that
 *      disagrees with the map-root leaf anyway). A deleted or discarded map
 *      is rebuilt the same way at the next round.
 * Nothing unverified is ever stored, so nothing unverified is served. A
 * checkpoint or tile that fails 1-3 stops the follower for good: the copy is
 * left as it was and |failed| is called once with the reason. Network errors
 * and HTTP failures are only logged; the next round retries.
 *
 * Limits: one round holds the new entries of one checkpoint in memory
 * (stored as one batch, since only the checkpoint's size has a signature);
 * a log whose entries repeat a leaf hash cannot be mirrored (the store
 * refuses it: MN_EEXISTS, logged, retried). */
#ifndef MN_LOGD_MIRROR_H
#define MN_LOGD_MIRROR_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct prom;

/* mirror_key_load reads the origin's log public key from |arg|: a file (PEM
 * "PUBLIC KEY", or DER SubjectPublicKeyInfo) or, if no such file exists, the
 * base64 of the DER SPKI (as in a log list). *out (free()) gets the DER.
 * 0, MN_EMALFORMED (not a P-256 SPKI), MN_EIO, MN_ENOMEM; printed to stderr
 * with |where|. */
int mirror_key_load(const char *where, const char *arg, uint8_t **out, size_t *out_len);

struct mirror_options {
	const char *url;          /* the origin log's base URL (prefix), e.g.
				   * "http://127.0.0.1:6962/" or ".../2027h1/" */
	const uint8_t *spki;      /* the origin's log key, DER (copied) */
	size_t spki_len;
	const char *origin;       /* the checkpoint origin to require; NULL: the
				   * origin of the first checkpoint (mirror_new
				   * fetches it) */
	struct store *st;         /* the copy: opened read-write (with .map if
				   * |map|); borrowed, written only by the follower */
	int map;                  /* recompute the origin's lookup map and check
				   * it (below, 5.) */
	unsigned poll_ms;         /* between rounds; 0 = 1000 */
	size_t max_tile_bytes;    /* a tile or issuer response; 0 = 64 MiB */
	/* failed(ctx, why) is called once, from the follower thread, when a
	 * verification fails; the follower has stopped (|why| borrowed). */
	void (*failed)(void *ctx, const char *why);
	void *ctx;
};

struct mirror;
/* mirror_new checks the options and sets up the follower (not started). When
 * opt->origin is NULL it fetches and verifies the origin's checkpoint once to
 * learn its origin. 0, MN_EINVAL (bad key), MN_EIO (origin unreachable
 * without opt->origin), MN_EBADSIG (the checkpoint does not verify), MN_ENOMEM;
 * printed to stderr. */
int mirror_new(struct mirror **out, const struct mirror_options *opt);
/* mirror_origin: the checkpoint origin (NUL-terminated; lives with |m|). */
const char *mirror_origin(const struct mirror *m);
/* mirror_log_id: SHA-256 of the origin's SPKI; mirror_spki its DER. */
const uint8_t *mirror_log_id(const struct mirror *m);
const uint8_t *mirror_spki(const struct mirror *m, size_t *out_len);
/* mirror_url: the origin's URL as given. */
const char *mirror_url(const struct mirror *m);

/* mirror_sync runs one round now, on the calling thread (the follower must
 * not be running). 0 (copy up to date with the checkpoint fetched), MN_EIO
 * (network, HTTP: retry), MN_EBADSIG (verification failed: *why says how;
 * nothing stored), or a store error. |why| may be NULL. */
int mirror_sync(struct mirror *m, char *why, size_t why_len);

/* mirror_start starts the follower thread. 0 or MN_ENOMEM. */
int mirror_start(struct mirror *m);
/* mirror_stopped: 1 once a verification failure stopped the follower. */
int mirror_stopped(const struct mirror *m);
/* mirror_metrics adds the follower's families to |w| (common/prom.h). */
void mirror_metrics(struct mirror *m, struct prom *w, const char *labels);
/* mirror_free stops the follower (waiting for its round to end; transfers are
 * aborted) and frees |m|. NULL is a no-op. */
void mirror_free(struct mirror *m);

#endif
