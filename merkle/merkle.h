/* merkle.h: RFC 6962 section 2.1 Merkle Tree Hash, compact range, inclusion and
 * consistency proofs, and their verification (RFC 9162 sections 2.1.3.2, 2.1.4.2).
 *
 * No I/O: proof generation reads the hashes of complete ("perfect") subtrees
 * through a caller-supplied merkle_get_fn. A perfect subtree at (level, index)
 * covers leaves [index << level, (index + 1) << level); level 0 is a leaf hash.
 * Generating a proof reads O(log n) such hashes for any tree size. */
#ifndef MN_MERKLE_H
#define MN_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

#define MERKLE_HASH_LEN 32
/* An inclusion proof has at most 64 nodes and a consistency proof at most 65
 * for any uint64_t tree size. */
#define MERKLE_MAX_PROOF 66

/* A merkle_hasher is a reusable SHA-256 context (OpenSSL 3's one-shot calls
 * fetch the algorithm per call and are ~3x slower on 65-byte nodes); hashing
 * with it never allocates and cannot fail. Not thread-safe: one per thread. */
struct merkle_hasher;
/* merkle_hasher_new returns a hasher or NULL on allocation failure. */
struct merkle_hasher *merkle_hasher_new(void);
/* merkle_hasher_free frees |h|; NULL is a no-op. */
void merkle_hasher_free(struct merkle_hasher *h);
/* merkle_sha256 writes SHA-256(data) to |out|. */
void merkle_sha256(struct merkle_hasher *h, uint8_t out[MERKLE_HASH_LEN],
		   const uint8_t *data, size_t len);
/* merkle_leaf_hash: SHA-256(0x00 || data). */
void merkle_leaf_hash(struct merkle_hasher *h, uint8_t out[MERKLE_HASH_LEN],
		      const uint8_t *data, size_t len);
/* merkle_node_hash: SHA-256(0x01 || left || right). |out| may alias an input. */
void merkle_node_hash(struct merkle_hasher *h, uint8_t out[MERKLE_HASH_LEN],
		      const uint8_t left[MERKLE_HASH_LEN],
		      const uint8_t right[MERKLE_HASH_LEN]);
/* merkle_empty_root: MTH({}) = SHA-256() = e3b0c442...b855. */
void merkle_empty_root(uint8_t out[MERKLE_HASH_LEN]);

/* A compact range is the right edge of a tree of |size| leaves: the roots of its
 * perfect subtrees, one per set bit of |size|, largest (leftmost) first. It is
 * enough to append and to compute the root, without reading old data. */
struct merkle_range {
	uint64_t size;
	uint8_t hashes[64][MERKLE_HASH_LEN];
};

/* merkle_node_fn is told of every node a merkle_range_append completes,
 * bottom-up, starting with the leaf itself at level 0. */
typedef void (*merkle_node_fn)(void *ctx, unsigned level, uint64_t index,
			       const uint8_t hash[MERKLE_HASH_LEN]);

/* merkle_range_init makes |r| the empty range. */
void merkle_range_init(struct merkle_range *r);
/* merkle_range_append appends one leaf hash; |fn| may be NULL. Returns 0, or
 * MN_ERANGE if the tree already has 2^64-1 leaves (then |r| is unchanged). */
int merkle_range_append(struct merkle_range *r, struct merkle_hasher *h,
			const uint8_t leaf_hash[MERKLE_HASH_LEN], merkle_node_fn fn,
			void *ctx);
/* merkle_range_root writes MTH of the whole range (the empty root if size 0). */
void merkle_range_root(const struct merkle_range *r, struct merkle_hasher *h,
		       uint8_t out[MERKLE_HASH_LEN]);
/* merkle_range_num_hashes: popcount(size). */
unsigned merkle_range_num_hashes(const struct merkle_range *r);
/* Serialized form: uint64 size (big-endian) || popcount(size) hashes.
 * merkle_range_encode returns 1 or 0 (cbb error). merkle_range_decode returns 1
 * iff |in| holds exactly one well-formed range (consumes it all). */
int merkle_range_encode(const struct merkle_range *r, struct cbb *out) MN_WUR;
int merkle_range_decode(struct merkle_range *r, struct cbs *in) MN_WUR;

/* merkle_get_fn reads the hash of the perfect subtree at (level, index) into
 * |out|. Returns 0, or a negative MN_E* code that the caller passes through. */
typedef int (*merkle_get_fn)(void *ctx, unsigned level, uint64_t index,
			     uint8_t out[MERKLE_HASH_LEN]);

/* merkle_subtree_root computes MTH(D[lo:hi]) where [lo, hi) is a subtree range
 * that occurs in a tree (lo a multiple of the largest power of two <= hi - lo ...
 * in practice: lo == 0, or [lo, hi) the right part of a split). Any nonempty
 * range with lo aligned to 2^k where 2^k >= hi - lo works. Returns 0, MN_EINVAL
 * for an empty or unaligned range, or the get function's error. */
int merkle_subtree_root(merkle_get_fn get, void *ctx, struct merkle_hasher *h,
			uint64_t lo, uint64_t hi, uint8_t out[MERKLE_HASH_LEN]);

/* merkle_inclusion_proof writes PATH(index, D[0:size]) (RFC 6962 section 2.1.1),
 * leaf-side first, to |out| (room for MERKLE_MAX_PROOF) and its length to
 * |out_num|. Returns 0, MN_EINVAL if index >= size, or the get function's error. */
int merkle_inclusion_proof(merkle_get_fn get, void *ctx, struct merkle_hasher *h,
			   uint64_t index, uint64_t size,
			   uint8_t out[][MERKLE_HASH_LEN], size_t *out_num);
/* merkle_consistency_proof writes PROOF(size1, D[0:size2]) (section 2.1.2).
 * size1 == size2 or size1 == 0 gives an empty proof. Returns 0, MN_EINVAL if
 * size1 > size2, or the get function's error. */
int merkle_consistency_proof(merkle_get_fn get, void *ctx, struct merkle_hasher *h,
			     uint64_t size1, uint64_t size2,
			     uint8_t out[][MERKLE_HASH_LEN], size_t *out_num);

/* A merkle_edge caches the right edge of the tree of |size| leaves for proofs
 * at that size: for each set bit j of size, roots[j] is MTH(D[start_j:size])
 * with start_j = size with bits 0..j cleared (so roots[top bit] is the tree's
 * root, and roots[lowest bit] is the smallest perfect subtree of the compact
 * range). Every subtree of an inclusion or consistency proof at |size| that is
 * not perfect is one of these, so with an edge a proof is O(log n) reads and
 * no hashing. roots[j] for a clear bit j is unspecified. A pure function of the
 * tree: one edge serves every proof at that size, for as long as the caller
 * likes (an append-only log never changes D[0:size]). Caller-owned, 2 KiB. */
struct merkle_edge {
	uint64_t size;
	uint8_t roots[64][MERKLE_HASH_LEN];
};

/* merkle_edge_from_range fills |e| for the tree of r->size leaves from its
 * compact range: popcount(size) - 1 node hashes, no reads. */
void merkle_edge_from_range(struct merkle_edge *e, const struct merkle_range *r,
			    struct merkle_hasher *h);
/* merkle_edge_compute fills |e| for the tree of |size| leaves, reading the
 * popcount(size) perfect subtrees of its right edge through |get|. Returns 0,
 * MN_EINVAL if size is 0, or the get function's error (|e| then unspecified). */
int merkle_edge_compute(struct merkle_edge *e, merkle_get_fn get, void *ctx,
			struct merkle_hasher *h, uint64_t size);
/* merkle_inclusion_proof_edge and merkle_consistency_proof_edge are
 * merkle_inclusion_proof and merkle_consistency_proof (same results, same
 * errors) that take the non-perfect subtrees from |edge| when edge->size is the
 * proof's tree size (size, or size2). |edge| may be NULL or of another size:
 * then they compute those subtrees through |get| as the plain functions do. */
int merkle_inclusion_proof_edge(merkle_get_fn get, void *ctx, struct merkle_hasher *h,
				const struct merkle_edge *edge, uint64_t index,
				uint64_t size, uint8_t out[][MERKLE_HASH_LEN],
				size_t *out_num);
int merkle_consistency_proof_edge(merkle_get_fn get, void *ctx,
				  struct merkle_hasher *h,
				  const struct merkle_edge *edge, uint64_t size1,
				  uint64_t size2, uint8_t out[][MERKLE_HASH_LEN],
				  size_t *out_num);

/* merkle_verify_inclusion returns 1 iff |proof| proves that |leaf_hash| is leaf
 * |index| of the tree of |size| leaves with root |root| (RFC 9162 2.1.3.2). */
int merkle_verify_inclusion(struct merkle_hasher *h,
			    const uint8_t leaf_hash[MERKLE_HASH_LEN], uint64_t index,
			    uint64_t size, const uint8_t proof[][MERKLE_HASH_LEN],
			    size_t num, const uint8_t root[MERKLE_HASH_LEN]);
/* merkle_verify_consistency returns 1 iff |proof| proves that the tree of size1
 * leaves with root1 is a prefix of the tree of size2 leaves with root2
 * (RFC 9162 2.1.4.2). size1 == size2 needs an empty proof and equal roots;
 * size1 == 0 needs an empty proof. */
int merkle_verify_consistency(struct merkle_hasher *h, uint64_t size1,
			      uint64_t size2, const uint8_t root1[MERKLE_HASH_LEN],
			      const uint8_t root2[MERKLE_HASH_LEN],
			      const uint8_t proof[][MERKLE_HASH_LEN], size_t num);

#endif
