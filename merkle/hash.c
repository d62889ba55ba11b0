/* hash.c: the RFC 6962 section 2.1 hash functions over one reused SHA-256
 * context.
 *
 * OpenSSL 3's one-shot SHA256()/EVP_Digest() look the algorithm up in the
 * provider on every call, which costs more than hashing a 65-byte node. A
 * merkle_hasher fetches SHA-256 once and re-initialises one EVP_MD_CTX with
 * EVP_DigestInit_ex2, which keeps the provider context allocated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "merkle/merkle.h"

struct merkle_hasher {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
};

struct merkle_hasher *merkle_hasher_new(void)
{
	struct merkle_hasher *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	h->ctx = EVP_MD_CTX_new();
	if (h->md == NULL || h->ctx == NULL)
		goto err;
	return h;
err:
	merkle_hasher_free(h);
	return NULL;
}

void merkle_hasher_free(struct merkle_hasher *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h);
}

/* crypto_failed: with SHA-256 already fetched and the context allocated,
 * init/update/final only run the provider's in-memory SHA-256 code, which has
 * no failure path (no allocation, no I/O, any input length). A failure there
 * means memory corruption or a broken OpenSSL, not bad input, so carrying on
 * would hand out wrong tree hashes: stop the process instead. */
static void crypto_failed(const char *what)
{
	fprintf(stderr, "merkle: SHA-256 %s failed on a fetched digest; aborting\n",
		what);
	abort();
}

/* hash_parts computes SHA-256(p1 || p2) into |out|. The updates consume the
 * inputs before EVP_DigestFinal_ex writes |out|, so |out| may alias them. */
static void hash_parts(struct merkle_hasher *h, uint8_t out[MERKLE_HASH_LEN],
		       const uint8_t *p1, size_t len1, const uint8_t *p2,
		       size_t len2)
{
	unsigned int out_len = 0;

	if (!EVP_DigestInit_ex2(h->ctx, h->md, NULL))
		crypto_failed("init");
	if (len1 != 0 && !EVP_DigestUpdate(h->ctx, p1, len1))
		crypto_failed("update");
	if (len2 != 0 && !EVP_DigestUpdate(h->ctx, p2, len2))
		crypto_failed("update");
	if (!EVP_DigestFinal_ex(h->ctx, out, &out_len) ||
	    out_len != MERKLE_HASH_LEN)
		crypto_failed("final");
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
