/* fuzz_x509_diff.c: x509_validate (entry/x509.h, the fast path: leaf walked
 * with cursors, issuers' keys cached) against the same policy run by OpenSSL's
 * X509_verify_cert (tests/lib/x509ref.h), on the same chains. Any
 * disagreement about accept or reject aborts.
 *
 * Input: one byte choosing the roots and the clock, then certificates as u16
 * length || DER, repeated (as fuzz_x509; at most 12):
 *   0  the fixed roots of fuzz/fixed_pki.h at FUZZ_PKI_NOW_MS (the fuzz_x509
 *      corpus, mutated);
 *   1  the PKITS trust anchor at 2020-01-01 (PKITS paths, as test_pkits.c
 *      builds them);
 *   2  the issuers of python3-cryptography-vectors' real chains (RapidSSL
 *      SHA256 CA - G3, Let's Encrypt Authority X3) at 2018-10-01, when those
 *      chains were valid.
 * The vectors come from the installed package (scripts/deps.sh); without them
 * initialization fails. Each chain goes to add-chain and add-pre-chain, with a
 * cold and then a warm intermediate cache, and to x509_validate on OpenSSL's
 * whole path (struct x509_limits.slow: d2i_X509 of every certificate, no
 * cache), which must give the same answer, reason and result bytes
 * (x509ref_same_outcome); an accepted precertificate's logged TBSCertificate
 * must be byte for byte what OpenSSL's edit of it gives (x509ref_precert_tbs). */
#include <string.h>

#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/bytes.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/x509.h"
#include "fuzz/fixed_pki.h"
#include "fuzz/fuzz.h"
#include "tests/lib/vectors.h"
#include "tests/lib/x509ref.h"

const char fuzz_target_name[] = "x509_diff";

#define MAX_CERTS 12
#define NUM_SETS 3

static struct {
	struct x509_roots *roots;
	struct x509ref *ref;
	int64_t now;
} S[NUM_SETS];

static void load_set(int i, const uint8_t *const *der, const size_t *lens, size_t num,
		     int64_t now)
{
	struct cbb pem;
	uint8_t *buf;
	size_t len;
	FUZZ_CHECK(cbb_init(&pem, 8192, 1 << 20));
	for (size_t k = 0; k < num; k++) {
		BIO *b = BIO_new(BIO_s_mem());
		const unsigned char *p = der[k];
		X509 *x = d2i_X509(NULL, &p, (long)lens[k]);
		char *data;
		FUZZ_CHECK(b != NULL && x != NULL && PEM_write_bio_X509(b, x));
		long n = BIO_get_mem_data(b, &data);
		FUZZ_CHECK(cbb_add_bytes(&pem, (const uint8_t *)data, (size_t)n));
		BIO_free(b);
		X509_free(x);
	}
	FUZZ_CHECK(cbb_finish(&pem, &buf, &len));
	FUZZ_CHECK(x509_roots_load_pem(&S[i].roots, NULL, buf, len) == 0);
	FUZZ_CHECK(x509_roots_count(S[i].roots) == num);
	free(buf);
	S[i].ref = x509ref_new(der, lens, num);
	FUZZ_CHECK(S[i].ref != NULL);
	S[i].now = now;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct x509_roots *fixed = NULL;
	const uint8_t *der[2];
	size_t lens[2];
	uint8_t *own[2];

	(void)argc;
	(void)argv;
	FUZZ_CHECK(x509_roots_load_pem(&fixed, NULL, (const uint8_t *)fuzz_roots_pem,
				       strlen(fuzz_roots_pem)) == 0);
	for (size_t i = 0; i < FUZZ_NUM_ROOTS; i++)
		der[i] = x509_roots_der(fixed, i, &lens[i]);
	load_set(0, der, lens, FUZZ_NUM_ROOTS, (int64_t)(FUZZ_PKI_NOW_MS / 1000));
	x509_roots_free(fixed);

	if (vectors_dir() == NULL) {
		fprintf(stderr, "fuzz_x509_diff: python3-cryptography-vectors is missing\n");
		abort();
	}
	own[0] = vectors_read("x509/PKITS_data/certs/TrustAnchorRootCertificate.crt", &lens[0]);
	FUZZ_CHECK(own[0] != NULL);
	der[0] = own[0];
	load_set(1, der, lens, 1, 1577836800);
	free(own[0]);

	FUZZ_CHECK(vectors_pem_certs("x509/rapidssl_sha256_ca_g3.pem", &own[0], &lens[0], 1) == 1);
	FUZZ_CHECK(vectors_pem_certs("x509/letsencryptx3.pem", &own[1], &lens[1], 1) == 1);
	der[0] = own[0];
	der[1] = own[1];
	load_set(2, der, lens, 2, 1538352000);
	free(own[0]);
	free(own[1]);
	return 0;
}

/* psc_of: chain[1] when it is a Precertificate Signing Certificate that is
 * not a root (x509.h), else NULL. */
static const uint8_t *psc_of(int set, const uint8_t *const *certs, const size_t *lens,
			     size_t num, size_t *out_len)
{
	if (num < 2 || x509_roots_contains(S[set].roots, certs[1], lens[1]))
		return NULL;
	const unsigned char *p = certs[1];
	X509 *x = d2i_X509(NULL, &p, (long)lens[1]);
	int psc = 0;
	EXTENDED_KEY_USAGE *eku = x ? X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL) : NULL;
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_ct_precert_signer)
			psc = 1;
	EXTENDED_KEY_USAGE_free(eku);
	X509_free(x);
	*out_len = lens[1];
	return psc ? certs[1] : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *certs[MAX_CERTS];
	size_t lens[MAX_CERTS], num = 0;
	struct cbs in;
	struct x509_limits lim = {.cache_cap = 2}, slow_lim = {.slow = 1};
	uint8_t sel;

	cbs_init(&in, data, size);
	if (!cbs_get_u8(&in, &sel))
		return 0;
	int set = sel % NUM_SETS;
	while (cbs_len(&in) > 0 && num < MAX_CERTS) {
		uint16_t len;
		struct cbs one;
		if (!cbs_get_u16(&in, &len))
			break;
		if (len > cbs_len(&in))
			len = (uint16_t)cbs_len(&in);
		if (!cbs_get_bytes(&in, &one, len))
			break;
		certs[num] = cbs_data(&one);
		lens[num] = cbs_len(&one);
		num++;
	}
	struct x509_validator *v = x509_validator_new(S[set].roots, &lim);
	struct x509_validator *vs = x509_validator_new(S[set].roots, &slow_lim);
	FUZZ_CHECK(v != NULL && vs != NULL);
	for (int precert = 0; precert < 2; precert++) {
		const char *ref_why = NULL, *slow_why = NULL;
		int ref = x509ref_verify(S[set].ref, certs, lens, num, precert, S[set].now, &ref_why);
		struct x509_result rs;
		int slow_rc = x509_validate(vs, certs, lens, num, precert,
					    (uint64_t)S[set].now * 1000, &rs, &slow_why);
		for (int pass = 0; pass < 2; pass++) {
			struct x509_result r;
			const char *why = NULL;
			int rc = x509_validate(v, certs, lens, num, precert,
					       (uint64_t)S[set].now * 1000, &r, &why);
			const char *diff = x509ref_same_outcome(rc, why, &r, slow_rc, slow_why, &rs);
			if (diff != NULL) {
				fprintf(stderr, "fuzz_x509_diff: set %d, %zu certs, precert %d, "
					"pass %d: fast and slow paths differ in %s: %d (%s) vs "
					"%d (%s)\n",
					set, num, precert, pass, diff, rc, why, slow_rc, slow_why);
				FUZZ_CHECK(diff == NULL);
			}
			if ((rc == 0) != ref) {
				fprintf(stderr, "fuzz_x509_diff: set %d, %zu certs, precert %d, "
					"pass %d: logd %d (%s), OpenSSL %d (%s)\n",
					set, num, precert, pass, rc, why, ref,
					ref_why ? ref_why : "ok");
				FUZZ_CHECK((rc == 0) == ref);
			}
			if (rc == 0 && precert) {
				size_t psc_len = 0, tbs_len = 0;
				const uint8_t *psc = psc_of(set, certs, lens, num, &psc_len);
				uint8_t *tbs = x509ref_precert_tbs(certs[0], lens[0], psc, psc_len,
								   &tbs_len);
				FUZZ_CHECK(tbs != NULL);
				FUZZ_CHECK(tbs_len == r.body_len &&
					   memcmp(tbs, r.body, tbs_len) == 0);
				free(tbs);
			}
			x509_result_cleanup(&r);
		}
		x509_result_cleanup(&rs);
	}
	x509_validator_free(v);
	x509_validator_free(vs);
	return 0;
}
