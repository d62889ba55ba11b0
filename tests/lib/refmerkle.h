/* refmerkle.h: a naive reference Merkle tree for tests, written straight from
 * the recursive definitions of RFC 6962 section 2.1 (MTH, PATH, PROOF) and
 * independent of merkle/: it hashes with OpenSSL's one-shot EVP_Digest and
 * splits with a plain loop. It memoizes MTH of each range so that sweeping
 * every proof of every small tree stays fast. Aborts on allocation failure
 * (test code only). */
#ifndef MN_TESTS_REFMERKLE_H
#define MN_TESTS_REFMERKLE_H

#include <stddef.h>
#include <stdint.h>

#define REF_HASH_LEN 32
/* Longest PATH or PROOF for size_t tree sizes. */
#define REF_MAX_PROOF 66

struct refmerkle;

/* refmerkle_leaf_hash: SHA-256(0x00 || data). */
void refmerkle_leaf_hash(uint8_t out[REF_HASH_LEN], const uint8_t *data,
			 size_t len);
/* refmerkle_node_hash: SHA-256(0x01 || left || right). */
void refmerkle_node_hash(uint8_t out[REF_HASH_LEN],
			 const uint8_t left[REF_HASH_LEN],
			 const uint8_t right[REF_HASH_LEN]);
/* refmerkle_new copies |num| leaf hashes (the tree D[0:num]); the result is
 * freed with refmerkle_free. Memoization is quadratic in |num|: keep it to a
 * few thousand leaves. */
struct refmerkle *refmerkle_new(const uint8_t (*leaf_hashes)[REF_HASH_LEN],
				size_t num);
void refmerkle_free(struct refmerkle *t);
/* refmerkle_mth writes MTH(D[lo:hi]) (lo <= hi <= num; empty gives
 * SHA-256()). */
void refmerkle_mth(struct refmerkle *t, size_t lo, size_t hi,
		   uint8_t out[REF_HASH_LEN]);
/* refmerkle_path writes PATH(m, D[0:n]) to |out| (room for REF_MAX_PROOF) and
 * returns its length; m < n <= num. */
size_t refmerkle_path(struct refmerkle *t, size_t m, size_t n,
		      uint8_t out[][REF_HASH_LEN]);
/* refmerkle_proof writes PROOF(m, D[0:n]) and returns its length;
 * 0 < m <= n <= num. */
size_t refmerkle_proof(struct refmerkle *t, size_t m, size_t n,
		       uint8_t out[][REF_HASH_LEN]);

#endif
