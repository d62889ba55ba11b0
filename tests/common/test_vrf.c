/* test_vrf.c: ECVRF-P256-SHA256-TAI against the RFC 9381 Appendix B.1 vectors
 * (SK, PK, alpha, H, k, pi, beta of examples 10 to 12), and the rejections:
 * every single-bit flip of a proof, wrong alpha, wrong key, invalid point
 * encodings, s >= q; vrf_hash against vrf_proof_to_hash(vrf_prove(...)).
 * Includes vrf.c to check the intermediate values (H, k) too. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/vrf.c"

struct vector {
	const char *sk, *pk, *alpha, *h, *k, *pi, *beta;
};

/* RFC 9381 Appendix B.1, examples 10, 11 and 12. */
static const struct vector vectors[] = {
	{
		"c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
		"0360fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6",
		"sample",
		"0272a877532e9ac193aff4401234266f59900a4a9e3fc3cfc6a4b7e467a15d06d4",
		"0d90591273453d2dc67312d39914e3a93e194ab47a58cd598886897076986f77",
		"035b5c726e8c0e2c488a107c600578ee75cb702343c153cb1eb8dec77f4b5071b4a53f0a46f018"
		"bc2c56e58d383f2305e0975972c26feea0eb122fe7893c15af376b33edf7de17c6ea056d4d82de6bc02f",
		"a3ad7b0ef73d8fc6655053ea22f9bede8c743f08bbed3d38821f0e16474b505e",
	},
	{
		"c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
		"0360fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6",
		"test",
		"02173119b4fff5e6f8afed4868a29fe8920f1b54c2cf89cc7b301d0d473de6b974",
		"5852353a868bdce26938cde1826723e58bf8cb06dd2fed475213ea6f3b12e961",
		"034dac60aba508ba0c01aa9be80377ebd7562c4a52d74722e0abae7dc3080ddb56c19e067b15a8"
		"a8174905b13617804534214f935b94c2287f797e393eb0816969d864f37625b443f30f1a5a33f2b3c854",
		"a284f94ceec2ff4b3794629da7cbafa49121972671b466cab4ce170aa365f26d",
	},
	{
		"2ca1411a41b17b24cc8c3b089cfd033f1920202a6c0de8abb97df1498d50d2c8",
		"03596375e6ce57e0f20294fc46bdfcfd19a39f8161b58695b3ec5b3d16427c274d",
		"Example using ECDSA key from Appendix L.4.2 of ANSI.X9-62-2005",
		"0258055c26c4b01d01c00fb57567955f7d39cd6f6e85fd37c58f696cc6b7aa761d",
		"5689e2e08e1110b4dda293ac21667eac6db5de4a46a519c73d533f69be2f4da3",
		"03d03398bf53aa23831d7d1b2937e005fb0062cbefa06796579f2a1fc7e7b8c667d091c00b0f5c"
		"3619d10ecea44363b5a599cadc5b2957e223fec62e81f7b4825fc799a771a3d7334b9186bdbee87316b1",
		"90871e06da5caa39a3c61578ebb844de8635e27ac0b13e829997d0d95dd98c19",
	},
};
#define NUM_VECTORS (sizeof(vectors) / sizeof(vectors[0]))

static void unhex(uint8_t *out, size_t len, const char *hex)
{
	assert_int_equal(strlen(hex), 2 * len);
	for (size_t i = 0; i < len; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* A SEC1 ECPrivateKey PEM for the raw scalar |sk_hex| (no public key: OpenSSL
 * derives it), so the vectors go through vrf_key_from_pem. */
static struct vrf_key *key_from_hex(const char *sk_hex)
{
	static const uint8_t head[] = { 0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20 };
	static const uint8_t tail[] = { 0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86,
					0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	uint8_t der[sizeof(head) + 32 + sizeof(tail)];
	char b64[128], pem[256];
	struct vrf_key *k = NULL;
	int n;

	memcpy(der, head, sizeof(head));
	unhex(der + sizeof(head), 32, sk_hex);
	memcpy(der + sizeof(head) + 32, tail, sizeof(tail));
	mn_b64_encode(b64, der, sizeof(der));
	n = snprintf(pem, sizeof(pem),
		     "-----BEGIN EC PRIVATE KEY-----\n%s\n-----END EC PRIVATE KEY-----\n", b64);
	assert_true(n > 0 && (size_t)n < sizeof(pem));
	assert_int_equal(vrf_key_from_pem(&k, (const uint8_t *)pem, (size_t)n), 0);
	assert_non_null(k);
	return k;
}

static void test_rfc9381_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < NUM_VECTORS; i++) {
		const struct vector *t = &vectors[i];
		const uint8_t *alpha = (const uint8_t *)t->alpha;
		size_t alpha_len = strlen(t->alpha);
		uint8_t pk[VRF_PUBLIC_LEN], pi[VRF_PROOF_LEN], beta[VRF_OUTPUT_LEN];
		uint8_t want_pk[VRF_PUBLIC_LEN], want_pi[VRF_PROOF_LEN], want_beta[VRF_OUTPUT_LEN];
		uint8_t want_h[PT_LEN], h_str[PT_LEN], want_k[32], kb[32];
		struct vrf_key *k = key_from_hex(t->sk);
		BN_CTX *ctx = BN_CTX_new();
		EC_POINT *h = EC_POINT_new(k->group);
		BIGNUM *kn = BN_new();

		unhex(want_pk, sizeof(want_pk), t->pk);
		unhex(want_pi, sizeof(want_pi), t->pi);
		unhex(want_beta, sizeof(want_beta), t->beta);
		unhex(want_h, sizeof(want_h), t->h);
		unhex(want_k, sizeof(want_k), t->k);

		vrf_public(k, pk);
		assert_memory_equal(pk, want_pk, sizeof(pk));

		/* intermediate values: H (section 5.4.1.1), k (section 5.4.2.1) */
		assert_non_null(ctx);
		BN_CTX_start(ctx);
		assert_int_equal(encode_to_curve(k->group, h, h_str, pk, alpha, alpha_len, ctx), 0);
		assert_memory_equal(h_str, want_h, sizeof(h_str));
		assert_int_equal(nonce(k->group, kn, k->x, h_str, ctx), 0);
		assert_int_equal(BN_bn2binpad(kn, kb, 32), 32);
		assert_memory_equal(kb, want_k, 32);
		BN_CTX_end(ctx);

		assert_int_equal(vrf_prove(k, pi, alpha, alpha_len), 0);
		assert_memory_equal(pi, want_pi, sizeof(pi));
		assert_int_equal(vrf_proof_to_hash(beta, pi), 0);
		assert_memory_equal(beta, want_beta, sizeof(beta));
		memset(beta, 0, sizeof(beta));
		assert_int_equal(vrf_hash(k, beta, alpha, alpha_len), 0);
		assert_memory_equal(beta, want_beta, sizeof(beta));
		memset(beta, 0, sizeof(beta));
		assert_int_equal(vrf_verify(beta, want_pk, want_pi, alpha, alpha_len), 1);
		assert_memory_equal(beta, want_beta, sizeof(beta));

		BN_free(kn);
		EC_POINT_free(h);
		BN_CTX_free(ctx);
		vrf_key_free(k);
	}
}

static void test_bit_flips_rejected(void **state)
{
	(void)state;
	for (size_t i = 0; i < NUM_VECTORS; i++) {
		const struct vector *t = &vectors[i];
		uint8_t pk[VRF_PUBLIC_LEN], pi[VRF_PROOF_LEN], beta[VRF_OUTPUT_LEN];

		unhex(pk, sizeof(pk), t->pk);
		unhex(pi, sizeof(pi), t->pi);
		for (size_t bit = 0; bit < 8 * VRF_PROOF_LEN; bit++) {
			pi[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			memset(beta, 0x5a, sizeof(beta));
			assert_int_equal(vrf_verify(beta, pk, pi, (const uint8_t *)t->alpha,
						    strlen(t->alpha)), 0);
			assert_int_equal(beta[0], 0x5a); /* untouched */
			pi[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		/* and of the public key */
		for (size_t bit = 0; bit < 8 * VRF_PUBLIC_LEN; bit++) {
			pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(vrf_verify(beta, pk, pi, (const uint8_t *)t->alpha,
						    strlen(t->alpha)), 0);
			pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		assert_int_equal(
			vrf_verify(beta, pk, pi, (const uint8_t *)t->alpha, strlen(t->alpha)), 1);
	}
}

static void test_wrong_alpha_and_key(void **state)
{
	uint8_t pk0[VRF_PUBLIC_LEN], pk2[VRF_PUBLIC_LEN], pi[VRF_PROOF_LEN], beta[32];

	(void)state;
	unhex(pk0, sizeof(pk0), vectors[0].pk);
	unhex(pk2, sizeof(pk2), vectors[2].pk);
	unhex(pi, sizeof(pi), vectors[0].pi);
	assert_int_equal(vrf_verify(beta, pk0, pi, (const uint8_t *)"notsample", 9), 0);
	assert_int_equal(vrf_verify(beta, pk0, pi, (const uint8_t *)"sample\0", 7), 0);
	assert_int_equal(vrf_verify(beta, pk0, pi, (const uint8_t *)"sampl", 5), 0);
	assert_int_equal(vrf_verify(beta, pk0, pi, NULL, 0), 0);
	/* example 11's proof for example 10's input */
	unhex(pi, sizeof(pi), vectors[1].pi);
	assert_int_equal(vrf_verify(beta, pk0, pi, (const uint8_t *)"sample", 6), 0);
	/* the right proof under another key */
	unhex(pi, sizeof(pi), vectors[0].pi);
	assert_int_equal(vrf_verify(beta, pk2, pi, (const uint8_t *)"sample", 6), 0);
}

/* p, the P-256 field prime, and q, the group order */
static const char p_hex[] = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
static const char q_hex[] = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

static void test_invalid_encodings(void **state)
{
	uint8_t pk[VRF_PUBLIC_LEN], pi[VRF_PROOF_LEN], bad[VRF_PUBLIC_LEN], beta[32];
	const uint8_t *alpha = (const uint8_t *)"sample";
	static const uint8_t prefixes[] = { 0x00, 0x01, 0x04, 0x05, 0x06, 0x07, 0xff };

	(void)state;
	unhex(pk, sizeof(pk), vectors[0].pk);
	unhex(pi, sizeof(pi), vectors[0].pi);
	/* other SEC1 prefixes: uncompressed, hybrid, identity, junk */
	for (size_t i = 0; i < sizeof(prefixes); i++) {
		memcpy(bad, pk, sizeof(bad));
		bad[0] = prefixes[i];
		assert_int_equal(vrf_verify(beta, bad, pi, alpha, 6), 0);
		memcpy(bad, pi, sizeof(bad));
		bad[0] = prefixes[i];
		memcpy(pi, bad, sizeof(bad));
		assert_int_equal(vrf_verify(beta, pk, pi, alpha, 6), 0);
		assert_int_equal(vrf_proof_to_hash(beta, pi), MN_EMALFORMED);
		unhex(pi, sizeof(pi), vectors[0].pi);
	}
	/* x = p and x = all ones: not field elements */
	bad[0] = 0x02;
	unhex(bad + 1, 32, p_hex);
	assert_int_equal(vrf_verify(beta, bad, pi, alpha, 6), 0);
	memset(bad + 1, 0xff, 32);
	assert_int_equal(vrf_verify(beta, bad, pi, alpha, 6), 0);
	memcpy(pi, bad, sizeof(bad));
	assert_int_equal(vrf_proof_to_hash(beta, pi), MN_EMALFORMED);
	unhex(pi, sizeof(pi), vectors[0].pi);
	/* x with no point on the curve: search for one (about half are) */
	{
		EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
		EC_POINT *pt = EC_POINT_new(g);
		int found = 0;

		for (uint8_t x = 1; x != 0 && !found; x++) {
			memset(bad, 0, sizeof(bad));
			bad[0] = 0x02;
			bad[32] = x;
			if (EC_POINT_oct2point(g, pt, bad, sizeof(bad), NULL) != 1) {
				ERR_clear_error();
				found = 1;
			}
		}
		assert_true(found);
		assert_int_equal(vrf_verify(beta, bad, pi, alpha, 6), 0);
		memcpy(pi, bad, sizeof(bad));
		assert_int_equal(vrf_verify(beta, pk, pi, alpha, 6), 0);
		assert_int_equal(vrf_proof_to_hash(beta, pi), MN_EMALFORMED);
		unhex(pi, sizeof(pi), vectors[0].pi);
		EC_POINT_free(pt);
		EC_GROUP_free(g);
	}
}

/* s + q is the same scalar mod q: a proof with it would verify if s were not
 * range-checked (section 5.4.4). */
static void test_s_not_below_q(void **state)
{
	uint8_t pk[VRF_PUBLIC_LEN], pi[VRF_PROOF_LEN], beta[32], qb[32];
	BIGNUM *s = BN_new(), *q = BN_new();

	(void)state;
	unhex(pk, sizeof(pk), vectors[0].pk);
	unhex(pi, sizeof(pi), vectors[0].pi);
	unhex(qb, 32, q_hex);
	assert_non_null(BN_bin2bn(pi + 49, 32, s));
	assert_non_null(BN_bin2bn(qb, 32, q));
	assert_true(BN_add(s, s, q));
	if (BN_num_bytes(s) <= 32) { /* s + q fits in 32 bytes for this vector */
		assert_int_equal(BN_bn2binpad(s, pi + 49, 32), 32);
		assert_int_equal(vrf_verify(beta, pk, pi, (const uint8_t *)"sample", 6), 0);
		assert_int_equal(vrf_proof_to_hash(beta, pi), MN_EMALFORMED);
	}
	/* s = q and s = 2^256 - 1 */
	memcpy(pi + 49, qb, 32);
	assert_int_equal(vrf_verify(beta, pk, pi, (const uint8_t *)"sample", 6), 0);
	assert_int_equal(vrf_proof_to_hash(beta, pi), MN_EMALFORMED);
	memset(pi + 49, 0xff, 32);
	assert_int_equal(vrf_verify(beta, pk, pi, (const uint8_t *)"sample", 6), 0);
	assert_int_equal(vrf_proof_to_hash(beta, pi), MN_EMALFORMED);
	BN_free(s);
	BN_free(q);
}

/* A generated key: PEM round trip, prove/verify/hash agree for many inputs;
 * the proof is deterministic. */
static void test_generated_key(void **state)
{
	uint8_t *pem = NULL, pk[VRF_PUBLIC_LEN], pi[VRF_PROOF_LEN], pi2[VRF_PROOF_LEN];
	uint8_t b1[32], b2[32], b3[32], alpha[64];
	size_t pem_len = 0;
	struct vrf_key *k = NULL, *k2 = NULL;

	(void)state;
	assert_int_equal(vrf_key_generate_pem(&pem, &pem_len), 0);
	assert_true(pem_len > 0 && memcmp(pem, "-----BEGIN PRIVATE KEY-----", 27) == 0);
	assert_int_equal(vrf_key_from_pem(&k, pem, pem_len), 0);
	assert_int_equal(vrf_key_from_pem(&k2, pem, pem_len), 0);
	vrf_public(k, pk);
	vrf_public(k2, pi);
	assert_memory_equal(pk, pi, sizeof(pk));
	for (size_t n = 0; n < sizeof(alpha); n++) {
		alpha[n] = (uint8_t)(n * 37 + 1);
		assert_int_equal(vrf_prove(k, pi, alpha, n), 0);
		assert_int_equal(vrf_prove(k2, pi2, alpha, n), 0);
		assert_memory_equal(pi, pi2, sizeof(pi));
		assert_int_equal(vrf_proof_to_hash(b1, pi), 0);
		assert_int_equal(vrf_hash(k, b2, alpha, n), 0);
		assert_memory_equal(b1, b2, 32);
		assert_int_equal(vrf_verify(b3, pk, pi, alpha, n), 1);
		assert_memory_equal(b1, b3, 32);
	}
	free(pem);
	vrf_key_free(k);
	vrf_key_free(k2);
	vrf_key_free(NULL);
}

static void test_key_rejects(void **state)
{
	static const char rsa_hdr[] = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";
	struct vrf_key *k = (struct vrf_key *)1;
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;

	(void)state;
	assert_int_equal(vrf_key_from_pem(&k, (const uint8_t *)"", 0), MN_EMALFORMED);
	assert_null(k);
	assert_int_equal(vrf_key_from_pem(&k, (const uint8_t *)rsa_hdr, strlen(rsa_hdr)),
			 MN_EMALFORMED);
	/* an EC key on another curve */
	assert_non_null(p384);
	assert_true(PEM_write_bio_PrivateKey(bio, p384, NULL, NULL, 0, NULL, NULL));
	n = BIO_get_mem_data(bio, &data);
	assert_int_equal(vrf_key_from_pem(&k, (const uint8_t *)data, (size_t)n), MN_EMALFORMED);
	assert_null(k);
	BIO_free(bio);
	EVP_PKEY_free(p384);
}

/* One key, several threads proving at once: every proof is the expected one. */
struct thread_arg {
	const struct vrf_key *k;
	int bad;
};

static void *prove_thread(void *p)
{
	struct thread_arg *a = p;
	uint8_t want[VRF_PROOF_LEN], pi[VRF_PROOF_LEN], beta[32], want_beta[32];

	unhex(want, sizeof(want), vectors[0].pi);
	unhex(want_beta, sizeof(want_beta), vectors[0].beta);
	for (int i = 0; i < 50; i++) {
		if (vrf_prove(a->k, pi, (const uint8_t *)"sample", 6) != 0 ||
		    memcmp(pi, want, sizeof(pi)) != 0 ||
		    vrf_hash(a->k, beta, (const uint8_t *)"sample", 6) != 0 ||
		    memcmp(beta, want_beta, sizeof(beta)) != 0)
			a->bad++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct vrf_key *k = key_from_hex(vectors[0].sk);
	struct thread_arg args[4];
	pthread_t th[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		args[i].k = k;
		args[i].bad = 0;
		assert_int_equal(pthread_create(&th[i], NULL, prove_thread, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].bad, 0);
	}
	vrf_key_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc9381_vectors),
		cmocka_unit_test(test_bit_flips_rejected),
		cmocka_unit_test(test_wrong_alpha_and_key),
		cmocka_unit_test(test_invalid_encodings),
		cmocka_unit_test(test_s_not_below_q),
		cmocka_unit_test(test_generated_key),
		cmocka_unit_test(test_key_rejects),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
