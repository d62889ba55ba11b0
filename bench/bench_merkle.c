/* bench_merkle.c: compact-range append rate against the raw SHA-256 ceiling
 * measured in the same run.
 *
 * The figure: N leaves, each one merkle_leaf_hash of 32 bytes of entry data
 * (a 33-byte SHA-256 input) and one merkle_range_append without a callback.
 * N appends do N - 1 node merges in total, i.e. one 65-byte node hash per
 * leaf on average. The ceiling is exactly that hashing and nothing else: one
 * 33-byte and one 65-byte SHA-256 per leaf through a fetched EVP_MD and one
 * reused EVP_MD_CTX in a tight loop, and the same with OpenSSL's low-level
 * SHA256_Init/Update/Final on a stack context (what merkle_hasher uses since it
 * stopped using EVP: no allocation, no failure, less overhead); the ceiling is
 * the faster of the two, so the ratio is what the range bookkeeping (and
 * merkle_hasher's indirection) costs.
 *
 * A second row compares OpenSSL's one-shot SHA256() on 65 bytes with the
 * fetched-and-reused context on the same input (why merkle_hasher exists).
 *
 * Each figure is the best of 3 runs. Rows go to stdout in bench/run.sh's
 * markdown table format; progress goes to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/bytes.h"
#include "merkle/merkle.h"

#define N 2000000
#define RUNS 3

static volatile uint8_t sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* leaves/s of leaf hash + append */
static double run_append(struct merkle_hasher *h)
{
	struct merkle_range r;
	uint8_t data[32] = {0}, leaf[MERKLE_HASH_LEN], root[MERKLE_HASH_LEN];
	double t0, t1;

	merkle_range_init(&r);
	t0 = now();
	for (uint64_t i = 0; i < N; i++) {
		mn_put_be64(data, i);
		merkle_leaf_hash(h, leaf, data, sizeof(data));
		if (merkle_range_append(&r, h, leaf, NULL, NULL) != 0) {
			fprintf(stderr, "bench_merkle: append failed\n");
			exit(1);
		}
	}
	t1 = now();
	merkle_range_root(&r, h, root);
	sink ^= root[0];
	return N / (t1 - t0);
}

static void evp_hash(EVP_MD_CTX *ctx, const EVP_MD *md, uint8_t *out,
		     const uint8_t *in, size_t len)
{
	if (!EVP_DigestInit_ex2(ctx, md, NULL) ||
	    !EVP_DigestUpdate(ctx, in, len) ||
	    !EVP_DigestFinal_ex(ctx, out, NULL)) {
		fprintf(stderr, "bench_merkle: SHA-256 failed\n");
		exit(1);
	}
}

/* leaves/s of one 33-byte plus one 65-byte SHA-256, fetched md, reused ctx */
static double run_ceiling(EVP_MD_CTX *ctx, const EVP_MD *md)
{
	uint8_t leafin[33] = {0}, nodein[65] = {1}, out[MERKLE_HASH_LEN];
	double t0, t1;

	t0 = now();
	for (uint64_t i = 0; i < N; i++) {
		mn_put_be64(leafin + 1, i);
		evp_hash(ctx, md, out, leafin, sizeof(leafin));
		memcpy(nodein + 1 + MERKLE_HASH_LEN, out, MERKLE_HASH_LEN);
		evp_hash(ctx, md, out, nodein, sizeof(nodein));
		memcpy(nodein + 1, out, MERKLE_HASH_LEN);
	}
	t1 = now();
	sink ^= out[0];
	return N / (t1 - t0);
}

static void ll_hash(uint8_t *out, const uint8_t *in, size_t len)
{
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, in, len);
	SHA256_Final(out, &c);
}

/* the same work with the low-level SHA-256 functions */
static double run_ceiling_ll(void)
{
	uint8_t leafin[33] = {0}, nodein[65] = {1}, out[MERKLE_HASH_LEN];
	double t0, t1;

	t0 = now();
	for (uint64_t i = 0; i < N; i++) {
		mn_put_be64(leafin + 1, i);
		ll_hash(out, leafin, sizeof(leafin));
		memcpy(nodein + 1 + MERKLE_HASH_LEN, out, MERKLE_HASH_LEN);
		ll_hash(out, nodein, sizeof(nodein));
		memcpy(nodein + 1, out, MERKLE_HASH_LEN);
	}
	t1 = now();
	sink ^= out[0];
	return N / (t1 - t0);
}

/* hashes/s of 65-byte inputs: one-shot SHA256() or the reused context */
static double run_65(EVP_MD_CTX *ctx, const EVP_MD *md)
{
	uint8_t in[65] = {1}, out[MERKLE_HASH_LEN];
	double t0, t1;

	t0 = now();
	for (uint64_t i = 0; i < N; i++) {
		mn_put_be64(in + 1, i);
		if (ctx != NULL)
			evp_hash(ctx, md, out, in, sizeof(in));
		else
			SHA256(in, sizeof(in), out);
		in[64] ^= out[0];
	}
	t1 = now();
	sink ^= out[0];
	return N / (t1 - t0);
}

static double best(double a, double b)
{
	return a > b ? a : b;
}

int main(void)
{
	struct merkle_hasher *h = merkle_hasher_new();
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	double append = 0, ceiling = 0, ceiling_ll = 0, oneshot = 0, reused = 0;

	if (h == NULL || md == NULL || ctx == NULL) {
		fprintf(stderr, "bench_merkle: OpenSSL setup failed\n");
		return 1;
	}
	/* Interleave the runs so that machine noise hits all figures alike. */
	for (int run = 0; run < RUNS; run++) {
		append = best(append, run_append(h));
		ceiling = best(ceiling, run_ceiling(ctx, md));
		ceiling_ll = best(ceiling_ll, run_ceiling_ll());
		oneshot = best(oneshot, run_65(NULL, NULL));
		reused = best(reused, run_65(ctx, md));
		fprintf(stderr, "bench_merkle: run %d: append %.0f ceiling %.0f "
			"one-shot %.0f reused %.0f\n", run + 1, append, ceiling,
			oneshot, reused);
	}
	printf("| merkle append | %.0f leaves/s | sha256 ceiling %.0f /s (low-level "
	       "%.0f, EVP reused ctx %.0f) | ratio %.2f |\n", append,
	       best(ceiling, ceiling_ll), ceiling_ll, ceiling,
	       append / best(ceiling, ceiling_ll));
	printf("| SHA256() one-shot, 65 B | %.0f hashes/s | "
	       "fetched EVP_MD, reused ctx %.0f /s | ratio %.2f |\n",
	       oneshot, reused, oneshot / reused);
	EVP_MD_CTX_free(ctx);
	EVP_MD_free(md);
	merkle_hasher_free(h);
	return 0;
}
