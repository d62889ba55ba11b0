/* refmerkle.c: see refmerkle.h. Each function is the RFC 6962 section 2.1
 * recursion written out literally, over D[lo:hi] of the stored leaf hashes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tests/lib/refmerkle.h"

struct refmerkle {
	size_t num;
	uint8_t (*leaves)[REF_HASH_LEN];
	/* memo[lo * (num + 1) + hi] = MTH(D[lo:hi]) once known[] says so */
	uint8_t (*memo)[REF_HASH_LEN];
	uint8_t *known;
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL) {
		fprintf(stderr, "refmerkle: out of memory\n");
		abort();
	}
	return p;
}

static void sha256(uint8_t out[REF_HASH_LEN], const uint8_t *data, size_t len)
{
	if (!EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL)) {
		fprintf(stderr, "refmerkle: EVP_Digest failed\n");
		abort();
	}
}

void refmerkle_leaf_hash(uint8_t out[REF_HASH_LEN], const uint8_t *data,
			 size_t len)
{
	uint8_t *buf = xcalloc(1, len + 1);

	buf[0] = 0x00;
	if (len != 0)
		memcpy(buf + 1, data, len);
	sha256(out, buf, len + 1);
	free(buf);
}

void refmerkle_node_hash(uint8_t out[REF_HASH_LEN],
			 const uint8_t left[REF_HASH_LEN],
			 const uint8_t right[REF_HASH_LEN])
{
	uint8_t buf[1 + 2 * REF_HASH_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, left, REF_HASH_LEN);
	memcpy(buf + 1 + REF_HASH_LEN, right, REF_HASH_LEN);
	sha256(out, buf, sizeof(buf));
}

struct refmerkle *refmerkle_new(const uint8_t (*leaf_hashes)[REF_HASH_LEN],
				size_t num)
{
	struct refmerkle *t = xcalloc(1, sizeof(*t));

	t->num = num;
	t->leaves = xcalloc(num ? num : 1, REF_HASH_LEN);
	if (num != 0)
		memcpy(t->leaves, leaf_hashes, num * (size_t)REF_HASH_LEN);
	t->memo = xcalloc((num + 1) * (num + 1), REF_HASH_LEN);
	t->known = xcalloc((num + 1) * (num + 1), 1);
	return t;
}

void refmerkle_free(struct refmerkle *t)
{
	if (t == NULL)
		return;
	free(t->leaves);
	free(t->memo);
	free(t->known);
	free(t);
}

/* "k is the largest power of two smaller than n (i.e., k < n <= 2k)". */
static size_t largest_pow2_below(size_t n)
{
	size_t k = 1;

	while (2 * k < n)
		k *= 2;
	return k;
}

void refmerkle_mth(struct refmerkle *t, size_t lo, size_t hi,
		   uint8_t out[REF_HASH_LEN])
{
	size_t slot = lo * (t->num + 1) + hi;
	size_t n = hi - lo, k;
	uint8_t left[REF_HASH_LEN], right[REF_HASH_LEN];

	if (lo > hi || hi > t->num) {
		fprintf(stderr, "refmerkle: bad range [%zu, %zu)\n", lo, hi);
		abort();
	}
	if (t->known[slot]) {
		memcpy(out, t->memo[slot], REF_HASH_LEN);
		return;
	}
	if (n == 0) {
		/* MTH({}) = SHA-256() */
		sha256(out, NULL, 0);
	} else if (n == 1) {
		/* MTH({d(0)}) = SHA-256(0x00 || d(0)), stored as given */
		memcpy(out, t->leaves[lo], REF_HASH_LEN);
	} else {
		/* MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])) */
		k = largest_pow2_below(n);
		refmerkle_mth(t, lo, lo + k, left);
		refmerkle_mth(t, lo + k, hi, right);
		refmerkle_node_hash(out, left, right);
	}
	memcpy(t->memo[slot], out, REF_HASH_LEN);
	t->known[slot] = 1;
}

/* PATH(m, D[lo:hi]) appended at out[*num]. */
static void path(struct refmerkle *t, size_t m, size_t lo, size_t hi,
		 uint8_t out[][REF_HASH_LEN], size_t *num)
{
	size_t n = hi - lo, k;

	/* PATH(0, {d(0)}) = {} */
	if (n == 1)
		return;
	k = largest_pow2_below(n);
	if (m < k) {
		/* PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) */
		path(t, m, lo, lo + k, out, num);
		refmerkle_mth(t, lo + k, hi, out[(*num)++]);
	} else {
		/* PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k]) */
		path(t, m - k, lo + k, hi, out, num);
		refmerkle_mth(t, lo, lo + k, out[(*num)++]);
	}
}

size_t refmerkle_path(struct refmerkle *t, size_t m, size_t n,
		      uint8_t out[][REF_HASH_LEN])
{
	size_t num = 0;

	if (m >= n || n > t->num)
		abort();
	path(t, m, 0, n, out, &num);
	return num;
}

/* SUBPROOF(m, D[lo:hi], b) appended at out[*num]. */
static void subproof(struct refmerkle *t, size_t m, size_t lo, size_t hi, int b,
		     uint8_t out[][REF_HASH_LEN], size_t *num)
{
	size_t n = hi - lo, k;

	if (m == n) {
		/* SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) =
		 * {MTH(D[m])} */
		if (!b)
			refmerkle_mth(t, lo, hi, out[(*num)++]);
		return;
	}
	k = largest_pow2_below(n);
	if (m <= k) {
		/* SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) */
		subproof(t, m, lo, lo + k, b, out, num);
		refmerkle_mth(t, lo + k, hi, out[(*num)++]);
	} else {
		/* SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) */
		subproof(t, m - k, lo + k, hi, 0, out, num);
		refmerkle_mth(t, lo, lo + k, out[(*num)++]);
	}
}

size_t refmerkle_proof(struct refmerkle *t, size_t m, size_t n,
		       uint8_t out[][REF_HASH_LEN])
{
	size_t num = 0;

	if (m == 0 || m > n || n > t->num)
		abort();
	/* PROOF(m, D[n]) = SUBPROOF(m, D[n], true) */
	subproof(t, m, 0, n, 1, out, &num);
	return num;
}
