/* bench_validate: add-chain validation throughput on one core, naive OpenSSL
 * path against x509_validate, next to the signature-math ceiling.
 *
 * Setup: an RSA-2048 root and intermediate (as real CAs use) and 2,000 unique
 * leaves with ECDSA P-256 keys signed by the intermediate (P-256 leaf keys keep
 * setup fast; decoding a P-256 or an RSA-2048 key costs OpenSSL 3.0 about the
 * same). Each submission is the base64 chain (leaf, intermediate), as add-chain
 * receives it.
 *
 *   naive:  base64-decode, d2i_X509 every certificate, X509_verify_cert against
 *           an X509_STORE holding the root, SHA-256 of the leaf, ECDSA P-256
 *           signature over an SCT-sized message;
 *   ours:   base64-decode, x509_validate (warm intermediate cache), the same
 *           signature;
 *   slow:   the same with struct x509_limits.slow (OpenSSL's whole path: every
 *           certificate through d2i_X509, no cache; what test_pkits and
 *           fuzz_x509_diff compare the fast path with), the same signature;
 *   ceiling: two RSA-2048 verifications (leaf and intermediate) and one P-256
 *           signature: the cryptography no path can avoid.
 * Each figure is the best of 3 passes over the 2,000 submissions. Prints
 * markdown rows for bench/RESULTS.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "common/b64.h"
#include "common/clock.h"
#include "common/err.h"
#include "entry/x509.h"

/* The test PKI generator is a test helper, not part of a library layer the
 * benchmarks link; compile it in. */
#include "tests/lib/pki.c"

#define NUM_LEAVES 2000
#define PASSES 3
#define SCT_OVERHEAD 17 /* version, type, timestamp, entry_type, length, ext */

struct sub {
	char *b64[2];
	size_t b64_len[2];
};

static EVP_PKEY *log_key;

static void die(const char *what)
{
	fprintf(stderr, "bench_validate: %s\n", what);
	exit(1);
}

static void sign_sct(const uint8_t *msg, size_t len)
{
	uint8_t sig[80];
	size_t sig_len = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, log_key) != 1 ||
	    EVP_DigestSign(ctx, sig, &sig_len, msg, len) != 1)
		die("signing failed");
	EVP_MD_CTX_free(ctx);
}

/* sct_message builds a stand-in for the section 3.2 signed struct. */
static uint8_t *sct_message(const uint8_t *leaf, size_t leaf_len, size_t *out_len)
{
	uint8_t *m = malloc(leaf_len + SCT_OVERHEAD);
	if (m == NULL)
		die("out of memory");
	memset(m, 0, SCT_OVERHEAD);
	memcpy(m + SCT_OVERHEAD, leaf, leaf_len);
	*out_len = leaf_len + SCT_OVERHEAD;
	return m;
}

static void decode(const struct sub *s, uint8_t *der[2], size_t len[2])
{
	for (int i = 0; i < 2; i++)
		if (mn_b64_decode(&der[i], &len[i], s->b64[i], s->b64_len[i], 1 << 20) != 0)
			die("base64 decode failed");
}

static void naive_one(X509_STORE *store, const struct sub *s)
{
	uint8_t *der[2], h[32];
	size_t len[2], msg_len;
	X509 *x[2];
	decode(s, der, len);
	for (int i = 0; i < 2; i++) {
		const unsigned char *p = der[i];
		x[i] = d2i_X509(NULL, &p, (long)len[i]);
		if (x[i] == NULL || p != der[i] + len[i])
			die("naive: d2i failed");
	}
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (untrusted == NULL || ctx == NULL || !sk_X509_push(untrusted, x[1]) ||
	    !X509_STORE_CTX_init(ctx, store, x[0], untrusted) || X509_verify_cert(ctx) != 1)
		die("naive: chain does not verify");
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	SHA256(der[0], len[0], h);
	uint8_t *msg = sct_message(der[0], len[0], &msg_len);
	sign_sct(msg, msg_len);
	free(msg);
	for (int i = 0; i < 2; i++) {
		X509_free(x[i]);
		free(der[i]);
	}
}

static void ours_one(const struct x509_validator *v, const struct sub *s, uint64_t now)
{
	uint8_t *der[2];
	size_t len[2], msg_len;
	struct x509_result r;
	const char *reason;
	decode(s, der, len);
	const uint8_t *certs[2] = {der[0], der[1]};
	if (x509_validate(v, certs, len, 2, 0, now, &r, &reason) != 0)
		die(reason);
	uint8_t *msg = sct_message(r.body, r.body_len, &msg_len);
	sign_sct(msg, msg_len);
	free(msg);
	x509_result_cleanup(&r);
	free(der[0]);
	free(der[1]);
}

static double rate(uint64_t ns, size_t n)
{
	return (double)n * 1e9 / (double)ns;
}

int main(void)
{
	int64_t now = pki_now();
	struct pki_cert *root = pki_root("Bench Root", PKI_RSA);
	struct pki_cert *ca = root ? pki_issue(root, "Bench CA", NULL, 0, PKI_CA | PKI_RSA,
					       now - 86400, now + 3650 * 86400LL)
				   : NULL;
	log_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (ca == NULL || log_key == NULL)
		die("cannot create the PKI");
	struct pki_cert **leaves = calloc(NUM_LEAVES, sizeof(*leaves));
	struct sub *subs = calloc(NUM_LEAVES, sizeof(*subs));
	if (leaves == NULL || subs == NULL)
		die("out of memory");
	for (size_t i = 0; i < NUM_LEAVES; i++) {
		char name[64];
		snprintf(name, sizeof(name), "host%zu.example.com", i);
		const char *dns[] = {name};
		leaves[i] = pki_issue(ca, name, dns, 1, 0, now - 86400, now + 90 * 86400);
		if (leaves[i] == NULL)
			die("cannot issue a leaf");
		const struct pki_cert *chain[2] = {leaves[i], ca};
		for (int k = 0; k < 2; k++) {
			subs[i].b64[k] = malloc(mn_b64_encoded_len(chain[k]->der_len) + 1);
			if (subs[i].b64[k] == NULL)
				die("out of memory");
			subs[i].b64_len[k] =
				mn_b64_encode(subs[i].b64[k], chain[k]->der, chain[k]->der_len);
		}
	}

	X509_STORE *store = X509_STORE_new();
	if (store == NULL || !X509_STORE_add_cert(store, root->x))
		die("cannot build the store");
	const struct pki_cert *bundle[] = {root};
	size_t pem_len;
	char *pem = pki_pem(bundle, 1, &pem_len);
	struct x509_roots *roots = NULL;
	if (pem == NULL || x509_roots_load_pem(&roots, NULL, (uint8_t *)pem, pem_len) != 0)
		die("cannot load roots");
	free(pem);
	struct x509_validator *v = x509_validator_new(roots, NULL);
	const struct x509_limits slow_lim = {.slow = 1};
	struct x509_validator *vslow = x509_validator_new(roots, &slow_lim);
	if (v == NULL || vslow == NULL)
		die("cannot create the validator");
	uint64_t now_ms = (uint64_t)now * 1000;

	uint64_t best_naive = UINT64_MAX, best_ours = UINT64_MAX, best_ceil = UINT64_MAX,
		 best_slow = UINT64_MAX;
	EVP_PKEY *ca_pk = X509_get0_pubkey(ca->x), *root_pk = X509_get0_pubkey(root->x);
	for (int pass = 0; pass < PASSES; pass++) {
		uint64_t t = mn_mono_ns();
		for (size_t i = 0; i < NUM_LEAVES; i++)
			naive_one(store, &subs[i]);
		t = mn_mono_ns() - t;
		if (t < best_naive)
			best_naive = t;

		t = mn_mono_ns();
		for (size_t i = 0; i < NUM_LEAVES; i++)
			ours_one(v, &subs[i], now_ms);
		t = mn_mono_ns() - t;
		if (t < best_ours)
			best_ours = t;

		t = mn_mono_ns();
		for (size_t i = 0; i < NUM_LEAVES; i++)
			ours_one(vslow, &subs[i], now_ms);
		t = mn_mono_ns() - t;
		if (t < best_slow)
			best_slow = t;

		t = mn_mono_ns();
		for (size_t i = 0; i < NUM_LEAVES; i++) {
			size_t msg_len;
			if (X509_verify(leaves[i]->x, ca_pk) != 1 || X509_verify(ca->x, root_pk) != 1)
				die("ceiling: verify failed");
			uint8_t *msg = sct_message(leaves[i]->der, leaves[i]->der_len, &msg_len);
			sign_sct(msg, msg_len);
			free(msg);
		}
		t = mn_mono_ns() - t;
		if (t < best_ceil)
			best_ceil = t;
	}
	struct x509_stats st;
	x509_validator_stats(v, &st);
	if (st.cert_decodes != 1)
		die("the intermediate was decoded more than once");

	double naive = rate(best_naive, NUM_LEAVES), ours = rate(best_ours, NUM_LEAVES),
	       ceil = rate(best_ceil, NUM_LEAVES), slow = rate(best_slow, NUM_LEAVES);
	printf("| chain validation, naive: b64 + d2i + X509_verify_cert + P-256 sign, "
	       "RSA-2048 CA, 1 core | %.0f /s | %.0f /s (2 RSA-2048 verify + P-256 sign) "
	       "| %.2f |\n",
	       naive, ceil, naive / ceil);
	printf("| chain validation, x509_validate + P-256 sign, 1 core | %.0f /s | %.0f /s "
	       "| %.2f (%.2fx naive) |\n",
	       ours, ceil, ours / ceil, ours / naive);
	printf("| chain validation, x509_validate slow path (x509_limits.slow) + P-256 sign, "
	       "1 core | %.0f /s | %.0f /s | %.2f (fast path %.2fx this) |\n",
	       slow, ceil, slow / ceil, ours / slow);

	x509_validator_free(v);
	x509_validator_free(vslow);
	x509_roots_free(roots);
	X509_STORE_free(store);
	for (size_t i = 0; i < NUM_LEAVES; i++) {
		pki_free(leaves[i]);
		free(subs[i].b64[0]);
		free(subs[i].b64[1]);
	}
	free(leaves);
	free(subs);
	pki_free(ca);
	pki_free(root);
	EVP_PKEY_free(log_key);
	return 0;
}
