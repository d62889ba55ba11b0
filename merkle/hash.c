/* hash.c: the RFC 6962 section 2.1 hash functions over one reused SHA-256
 * context.
 *
 * OpenSSL 3's one-shot SHA256()/EVP_Digest() look the algorithm up in the
 * provider on every call, which costs more than hashing a 65-byte node. */
#include <stdlib.h>
#include <string.h>

/* OpenSSL's SHA256_Init/Update/Final on a caller's SHA256_CTX: deprecated in
 * OpenSSL 3 in favour of EVP, but still there; they cannot fail and never
 * allocate. EVP_DigestInit_ex2 on a reused context allocates a new algorithm
 * context on every call in OpenSSL 3.0 (found by the allocation-failure test:
 * an out-of-memory there could only abort), and the EVP layer costs time on
 * 65-byte nodes. Only this file uses them. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "merkle/merkle.h"

struct merkle_hasher {
	SHA256_CTX ctx; /* scratch; a hasher is used by one thread at a time */
};

struct merkle_hasher *merkle_hasher_new(void)
{
	return calloc(1, sizeof(struct merkle_hasher));
}

void merkle_hasher_free(struct merkle_hasher *h)
{
	free(h);
}

static void hash_parts(struct merkle_hasher *h, uint8_t out[MERKLE_HASH_LEN],
		       const uint8_t *p1, size_t len1, const uint8_t *p2,
		       size_t len2)
{
	SHA256_Init(&h->ctx);
	if (len1 != 0)
		SHA256_Update(&h->ctx, p1, len1);
	if (len2 != 0)
		SHA256_Update(&h->ctx, p2, len2);
	SHA256_Final(out, &h->ctx);
}

void merkle_sha256(struct merkle_hasher *h, uint8_t out[MERKLE_HASH_LEN],
		   const uint8_t *data, size_t len)
{
	hash_parts(h, out, data, len, NULL, 0);
}

/* RFC 6962 section 2.1: MTH({d(0)}) = SHA-256(0x00 || d(0)). */
void merkle_leaf_hash(struct merkle_hasher *h, uint8_t out[MERKLE_HASH_LEN],
		      const uint8_t *data, size_t len)
{
	static const uint8_t prefix = 0x00;
	uint8_t buf[1 + 2 * MERKLE_HASH_LEN];

	/* Short inputs (leaf hashes given as data, small test leaves) go in as
	 * one update, which is measurably faster than two; bench_merkle shows
	 * the difference. */
	if (len < sizeof(buf)) {
		buf[0] = prefix;
		if (len != 0)
			memcpy(buf + 1, data, len);
		hash_parts(h, out, buf, len + 1, NULL, 0);
		return;
	}
	hash_parts(h, out, &prefix, 1, data, len);
}

/* RFC 6962 section 2.1: MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) ||
 * MTH(D[k:n])). The 65 bytes go in as one update: two extra EVP_DigestUpdate
 * calls cost more than copying 64 bytes. */
void merkle_node_hash(struct merkle_hasher *h, uint8_t out[MERKLE_HASH_LEN],
		      const uint8_t left[MERKLE_HASH_LEN],
		      const uint8_t right[MERKLE_HASH_LEN])
{
	uint8_t buf[1 + 2 * MERKLE_HASH_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, left, MERKLE_HASH_LEN);
	memcpy(buf + 1 + MERKLE_HASH_LEN, right, MERKLE_HASH_LEN);
	hash_parts(h, out, buf, sizeof(buf), NULL, 0);
}

void merkle_empty_root(uint8_t out[MERKLE_HASH_LEN])
{
	/* SHA-256 of the empty string (FIPS 180-4 / NIST CAVP). */
	static const uint8_t empty[MERKLE_HASH_LEN] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
		0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
		0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
		0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
	};

	memcpy(out, empty, MERKLE_HASH_LEN);
}
