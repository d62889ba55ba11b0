/* tilecheck.h: checking what a log's static read path serves (docs/tiles.md),
 * with no I/O, for every reader that follows a log through its tiles (mnctl
 * monitor --tiles, logd --mirror):
 *
 *   - the checkpoint's RFC6962NoteSignature as the STH it is (entry/note.h);
 *   - tile paths (c2sp.org/tlog-tiles: "/tile/<L>/x001/234[.p/<W>]");
 *   - the gzip encoding of data tiles, inflated with a hard cap;
 *   - a data tile against the level-0 hash tile of the same width: each
 *     TileLeaf's MerkleTreeLeaf must hash to its slot. The caller proves the
 *     hashes (by its own root computation or the hash tiles above);
 *   - the RFC 6962 extra_data of a TileLeaf rebuilt from its issuers
 *     (issuer/<hex>, checked against their fingerprints).
 *
 * Everything is pure computation. */
#ifndef MN_ENTRY_TILECHECK_H
#define MN_ENTRY_TILECHECK_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "entry/ct.h"
#include "entry/note.h"
#include "entry/tileleaf.h"
#include "merkle/merkle.h"

#define TILECHECK_WIDTH 256
/* The largest MerkleTreeLeaf a TileLeaf can describe: 2 + 8 + 2 + 32 + 3 +
 * 2^24 - 1 + 2 + 2^16 - 1. */
#define TILECHECK_MAX_LEAF (2 + 8 + 2 + 32 + 3 + 0xffffff + 2 + 0xffff)

/* tilecheck_checkpoint returns 1 iff |cp| carries a RFC6962NoteSignature by
 * |v| under its origin that verifies over its size and root (as
 * note_verify_rfc6962); *out_ts and *out_sig get the STH's timestamp and
 * signature, so that the checkpoint can be kept and served as a get-sth. */
int tilecheck_checkpoint(const struct note_checkpoint *cp, const struct ct_verifier *v,
			 uint64_t *out_ts, struct ct_sig *out_sig);

/* tilecheck_path writes "/tile/<level>/<N>[.p/<W>]" (|level| "0".."7" or
 * "data"; |width| 1..256, 256 = a full tile) NUL-terminated into |out|. */
void tilecheck_path(char *out, size_t cap, const char *level, uint64_t n, unsigned width);

/* tilecheck_gunzip inflates the gzip body |in| into a new buffer (*out,
 * free()); a body that is not gzip is copied as is. 0, MN_EMALFORMED (bad
 * gzip), MN_ETOOBIG (more than |max| bytes), MN_ENOMEM. */
int tilecheck_gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **out,
		     size_t *out_len);

/* tilecheck_leaf_fn sees one entry of a data tile that hashed to its slot:
 * its index in the log, the parsed TileLeaf, its MerkleTreeLeaf (|leaf|, all
 * borrowed for the call) and leaf hash. 0 to go on, or an MN_E* to stop. */
typedef int (*tilecheck_leaf_fn)(void *ctx, uint64_t index, const struct tileleaf *tl,
				 const uint8_t *leaf, size_t leaf_len,
				 const uint8_t hash[MERKLE_HASH_LEN]);

/* tilecheck_data checks the inflated data tile |data| of tile index |n| and
 * width |width| against |hashes| (width * 32 bytes: the level-0 hash tile of
 * the same width): exactly |width| TileLeafs, nothing after them, each
 * hashing to its slot; |fn| is called for each, in order, once it is
 * checked. |leaf_buf| is scratch of TILECHECK_MAX_LEAF bytes or more. 0,
 * MN_EMALFORMED (a TileLeaf does not parse, or trailing bytes), MN_EBADSIG
 * (an entry does not hash to its slot; *out_bad gets its index), or what |fn|
 * returned. */
int tilecheck_data(struct merkle_hasher *h, uint64_t n, unsigned width,
		   const uint8_t *hashes, const uint8_t *data, size_t data_len,
		   uint8_t *leaf_buf, tilecheck_leaf_fn fn, void *ctx, uint64_t *out_bad);

/* tilecheck_issuer_fn finds the issuer certificate of SHA-256 |fp| (the
 * caller fetches issuer/<hex> and checks the hash: tilecheck_issuer_ok):
 * 0 with *der (borrowed until the extra_data is built) or an MN_E*. */
typedef int (*tilecheck_issuer_fn)(void *ctx, const uint8_t fp[TILELEAF_FP_LEN],
				   const uint8_t **der, size_t *der_len);

/* tilecheck_issuer_ok returns 1 iff SHA-256(|der|) == |fp|. */
int tilecheck_issuer_ok(const uint8_t *der, size_t der_len, const uint8_t fp[TILELEAF_FP_LEN]);

/* tilecheck_extra appends the RFC 6962 extra_data of |tl| (get-entries' form:
 * the chain for x509_entry; pre_certificate and chain for precert_entry; the
 * metanotary types carry it verbatim) to |out|, issuers found through |fn|.
 * 0, MN_EMALFORMED (a chain too long), MN_ENOMEM, or what |fn| returned. */
int tilecheck_extra(struct cbb *out, const struct tileleaf *tl, tilecheck_issuer_fn fn,
		    void *ctx);

#endif
