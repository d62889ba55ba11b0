/* api_fixture.h: the log contents fuzz_api serves, shared with gen_corpus.c so
 * that the committed seeds name real leaf hashes and resubmit stored chains.
 *
 * |pem| (fuzz_stored_pem of fuzz/fixed_pki.h) holds leafA, preA, leafC, then
 * their CA. The tree has FIXTURE_NUM_LEAVES entries, validated at |now_ms|
 * (FUZZ_PKI_NOW_MS):
 *   0: add-chain [leafA, CA]   1: add-pre-chain [preA, CA]   2: add-chain [leafC, CA]
 * with timestamps now_ms + index. Test code: aborts on failure. */
#ifndef MN_FUZZ_API_FIXTURE_H
#define MN_FUZZ_API_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/bytes.h"
#include "entry/ct.h"
#include "entry/x509.h"
#include "fuzz/fuzz.h"
#include "merkle/merkle.h"

#define FIXTURE_NUM_LEAVES 3
#define FIXTURE_NUM_CERTS 4

struct fixture_leaf {
	uint8_t *leaf_input; /* MerkleTreeLeaf, malloc'd */
	size_t leaf_input_len;
	struct x509_result res; /* body, extra, dedup_key */
	uint8_t leaf_hash[MERKLE_HASH_LEN];
	struct ct_entry entry; /* borrows res.body */
};

/* fixture_certs decodes |pem| into DER (OPENSSL_free each). */
static inline void fixture_certs(uint8_t *der[FIXTURE_NUM_CERTS],
				 size_t lens[FIXTURE_NUM_CERTS], const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)strlen(pem));

	FUZZ_CHECK(bio != NULL);
	for (size_t i = 0; i < FIXTURE_NUM_CERTS; i++) {
		X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		int n;
		FUZZ_CHECK(x != NULL);
		der[i] = NULL;
		n = i2d_X509(x, &der[i]);
		FUZZ_CHECK(n > 0);
		lens[i] = (size_t)n;
		X509_free(x);
	}
	BIO_free(bio);
}

/* fixture_leaves validates the three chains and builds their leaves. */
static inline void fixture_leaves(struct fixture_leaf out[FIXTURE_NUM_LEAVES],
				  const struct x509_validator *v, const char *pem,
				  uint64_t now_ms)
{
	static const int which[FIXTURE_NUM_LEAVES] = {0, 1, 2};
	uint8_t *der[FIXTURE_NUM_CERTS];
	size_t lens[FIXTURE_NUM_CERTS];
	struct merkle_hasher *h = merkle_hasher_new();

	FUZZ_CHECK(h != NULL);
	fixture_certs(der, lens, pem);
	for (size_t i = 0; i < FIXTURE_NUM_LEAVES; i++) {
		const uint8_t *chain[2] = {der[which[i]], der[3]};
		size_t chain_lens[2] = {lens[which[i]], lens[3]};
		struct fixture_leaf *f = &out[i];
		const char *why = NULL;
		struct cbb b;

		memset(f, 0, sizeof(*f));
		if (x509_validate(v, chain, chain_lens, 2, i == 1, now_ms, &f->res,
				  &why) != 0) {
			fprintf(stderr, "fixture: chain %zu does not validate: %s\n", i, why);
			abort();
		}
		f->entry.timestamp = now_ms + i;
		f->entry.entry_type = f->res.entry_type;
		memcpy(f->entry.issuer_key_hash, f->res.issuer_key_hash, 32);
		f->entry.body = f->res.body;
		f->entry.body_len = f->res.body_len;
		FUZZ_CHECK(cbb_init(&b, 2048, 1 << 24));
		FUZZ_CHECK(ct_write_leaf(&b, &f->entry));
		FUZZ_CHECK(cbb_finish(&b, &f->leaf_input, &f->leaf_input_len));
		merkle_leaf_hash(h, f->leaf_hash, f->leaf_input, f->leaf_input_len);
	}
	for (size_t i = 0; i < FIXTURE_NUM_CERTS; i++)
		OPENSSL_free(der[i]);
	merkle_hasher_free(h);
}

static inline void fixture_free(struct fixture_leaf out[FIXTURE_NUM_LEAVES])
{
	for (size_t i = 0; i < FIXTURE_NUM_LEAVES; i++) {
		free(out[i].leaf_input);
		x509_result_cleanup(&out[i].res);
	}
}

#endif
