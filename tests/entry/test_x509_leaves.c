/* test_x509_leaves.c: leaves beyond the common shapes, assembled as DER here
 * independently of entry/x509.c: every leaf signature algorithm, and malformed
 * leaves judged against OpenSSL's own parser. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/bytes.h"
#include "common/err.h"
#include "entry/x509.h"
#include "tests/lib/pki.h"
#include "tests/lib/x509fix.h"

#define DAY X509FIX_DAY

/* Hand-made certificates: DER assembled here, independently of entry/x509.c. */
struct der {
	uint8_t b[16384];
	size_t len;
};

static void der_put(struct der *d, const void *p, size_t n)
{
	assert_true(n <= sizeof(d->b) - d->len);
	if (n == 0)
		return;
	memcpy(d->b + d->len, p, n);
	d->len += n;
}

/* der_tlv appends tag, DER length, then |n| bytes of |p|. */
static void der_tlv(struct der *d, uint8_t tag, const void *p, size_t n)
{
	uint8_t h[4] = {tag};
	size_t hl = 2;
	if (n < 0x80) {
		h[1] = (uint8_t)n;
	} else if (n < 0x100) {
		h[1] = 0x81, h[2] = (uint8_t)n, hl = 3;
	} else {
		assert_true(n < 0x10000);
		h[1] = 0x82, h[2] = (uint8_t)(n >> 8), h[3] = (uint8_t)n, hl = 4;
	}
	der_put(d, h, hl);
	der_put(d, p, n);
}

static const uint8_t kEcdsaSha256Alg[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
					  0xce, 0x3d, 0x04, 0x03, 0x02};

/* tbs_fields splits x509fix.leaf's TBSCertificate into its top-level elements
 * (version, serial, signature, issuer, validity, subject, spki, extensions). */
static size_t tbs_fields(struct cbs *el, size_t max)
{
	struct cbs in, cert, tbs;
	size_t n = 0;
	cbs_init(&in, x509fix.leaf->der, x509fix.leaf->der_len);
	assert_true(cbs_get_asn1(&in, &cert, CBS_ASN1_SEQUENCE));
	assert_true(cbs_get_asn1(&cert, &tbs, CBS_ASN1_SEQUENCE));
	while (cbs_len(&tbs) > 0) {
		assert_true(n < max);
		assert_true(cbs_get_any_asn1_element(&tbs, &el[n++], NULL, NULL));
	}
	return n;
}

/* sign_tbs makes a Certificate of the TBSCertificate contents |tbs| signed by
 * x509fix.ca's key with ECDSA-SHA256 (the algorithm x509fix.leaf's TBS names), with
 * |unused| in the signature's unused-bits byte and |trailer| after it. */
static void sign_tbs(struct der *out, const struct der *tbs, uint8_t unused,
		     const void *trailer, size_t trailer_len)
{
	struct der t = {.len = 0}, body = {.len = 0};
	uint8_t sig[1 + 80];
	size_t sig_len = sizeof(sig) - 1;
	der_tlv(&t, 0x30, tbs->b, tbs->len);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, x509fix.ca->key), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig + 1, &sig_len, t.b, t.len), 1);
	EVP_MD_CTX_free(ctx);
	sig[0] = unused;
	der_put(&body, t.b, t.len);
	der_put(&body, kEcdsaSha256Alg, sizeof(kEcdsaSha256Alg));
	der_tlv(&body, 0x03, sig, sig_len + 1);
	der_put(&body, trailer, trailer_len);
	out->len = 0;
	der_tlv(out, 0x30, body.b, body.len);
}

/* leaf_with rebuilds x509fix.leaf's TBS with field |k| replaced by |rep| (NULL:
 * kept), then |extra| appended inside the TBS, and signs it (sign_tbs). */
static void leaf_with(struct der *out, size_t k, const void *rep, size_t rep_len,
		      const void *extra, size_t extra_len)
{
	struct cbs el[12];
	struct der tbs = {.len = 0};
	size_t n = tbs_fields(el, 12);
	for (size_t i = 0; i < n; i++) {
		if (i == k && rep != NULL)
			der_put(&tbs, rep, rep_len);
		else
			der_put(&tbs, cbs_data(&el[i]), cbs_len(&el[i]));
	}
	der_put(&tbs, extra, extra_len);
	sign_tbs(out, &tbs, 0, NULL, 0);
}

/* openssl_verdict: what the documented rules say of a leaf under x509fix.ca, judged
 * by OpenSSL directly: MN_EMALFORMED unless d2i_X509 takes all of it with
 * valid extensions and readable dates, else 0 if X509_verify accepts x509fix.ca's signature, else
 * MN_EBADCHAIN. */
static int openssl_verdict(const struct der *d)
{
	const unsigned char *p = d->b;
	X509 *x = d2i_X509(NULL, &p, (long)d->len);
	int want = MN_EMALFORMED;
	struct tm tm;
	if (x != NULL && p == d->b + d->len &&
	    !(X509_get_extension_flags(x) & EXFLAG_INVALID) &&
	    ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) &&
	    ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
		want = X509_verify(x, X509_get0_pubkey(x509fix.ca->x)) == 1 ? 0 : MN_EBADCHAIN;
	X509_free(x);
	return want;
}

/* expect_leaf validates [|d|, x509fix.ca] and checks the outcome is |want| with
 * reason |why| (NULL: any). */
static void expect_leaf(struct x509_validator *v, const struct der *d, int want,
			const char *why)
{
	const uint8_t *der[] = {d->b, x509fix.ca->der};
	size_t len[] = {d->len, x509fix.ca->der_len};
	struct x509_result r;
	const char *reason = NULL;
	int rc = x509_validate(v, der, len, 2, 0, x509fix_now_ms(), &r, &reason);
	if (rc != want)
		print_error("got %s (%s), want %s\n", mn_err_name(rc), reason ? reason : "-",
			    mn_err_name(want));
	assert_int_equal(rc, want);
	assert_int_equal(openssl_verdict(d), want);
	if (why != NULL)
		assert_string_equal(reason, why);
	if (rc == 0) {
		assert_int_equal(r.body_len, d->len);
		assert_memory_equal(r.body, d->b, d->len);
		x509_result_cleanup(&r);
	}
}

/* A leaf re-issued by |ca| and signed with |md| (NULL for Ed25519) and, if
 * |pss|, RSASSA-PSS (RFC 4055) padding. */
static struct pki_cert *resign_leaf(const struct pki_cert *ca, EVP_PKEY *key,
				    const EVP_MD *md, int pss)
{
	struct pki_cert *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->x = X509_dup(x509fix.leaf->x);
	assert_non_null(c->x);
	assert_int_equal(X509_set_issuer_name(c->x, X509_get_subject_name(ca->x)), 1);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, &pctx, md, NULL, key), 1);
	if (pss) {
		assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0);
		assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0);
	}
	assert_true(X509_sign_ctx(c->x, ctx) > 0);
	EVP_MD_CTX_free(ctx);
	int len = i2d_X509(c->x, &c->der);
	assert_true(len > 0);
	c->der_len = (size_t)len;
	return c;
}

/* expect_signed checks a leaf signed by |ca| with |md|/|pss|: accepted under
 * |ca| (and X509_verify agrees), and rejected when signed by |wrong| instead. */
static void expect_signed(struct x509_validator *v, const struct pki_cert *ca,
			  EVP_PKEY *wrong, const EVP_MD *md, int pss)
{
	struct pki_cert *good = resign_leaf(ca, ca->key, md, pss);
	struct pki_cert *bad = resign_leaf(ca, wrong, md, pss);
	assert_int_equal(X509_verify(good->x, X509_get0_pubkey(ca->x)), 1);
	assert_int_not_equal(X509_verify(bad->x, X509_get0_pubkey(ca->x)), 1);
	const struct pki_cert *cg[] = {good, ca}, *cb[] = {bad, ca};
	struct x509_result r;
	assert_int_equal(x509fix_validate(v, cg, 2, 0, &r), 0);
	assert_int_equal(r.body_len, good->der_len);
	assert_memory_equal(r.body, good->der, good->der_len);
	x509_result_cleanup(&r);
	x509fix_expect_reject(v, cb, 2, 0, MN_EBADCHAIN);
	pki_free(good);
	pki_free(bad);
}

static void test_leaf_signatures(void **state)
{
	(void)state;
	int64_t nb = x509fix.now - DAY, na = x509fix.now + 90 * DAY;
	struct x509_validator *v = x509fix_new_validator();
	struct pki_cert *rsa_ca = pki_issue(x509fix.root, "Test CA", NULL, 0, PKI_CA | PKI_RSA,
					    nb, na);
	EVP_PKEY *rsa_other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *ec_other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *ed_other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(rsa_ca);
	assert_true(rsa_other && ec_other && ed && ed_other);
	struct pki_opts o = {
		.cn = "Test CA", .flags = PKI_CA, .not_before = nb, .not_after = na, .key = ed,
	};
	struct pki_cert *ed_ca = pki_issue_opts(x509fix.root, &o);
	assert_non_null(ed_ca);
	EVP_PKEY_free(ed_ca->key); /* pki_issue_opts up-ref'd it */
	ed_ca->key = ed;
	ed = NULL;

	/* ECDSA under the P-256 CA, common and less common digests. */
	expect_signed(v, x509fix.ca, ec_other, EVP_sha256(), 0);
	expect_signed(v, x509fix.ca, ec_other, EVP_sha384(), 0);
	expect_signed(v, x509fix.ca, ec_other, EVP_sha512(), 0);
	expect_signed(v, x509fix.ca, ec_other, EVP_sha224(), 0);
	/* PKCS #1 v1.5 and RSASSA-PSS under an RSA CA. */
	expect_signed(v, rsa_ca, rsa_other, EVP_sha256(), 0);
	expect_signed(v, rsa_ca, rsa_other, EVP_sha384(), 0);
	expect_signed(v, rsa_ca, rsa_other, EVP_sha512(), 0);
	expect_signed(v, rsa_ca, rsa_other, EVP_sha256(), 1);
	expect_signed(v, rsa_ca, rsa_other, EVP_sha384(), 1);
	/* Ed25519 (RFC 8410). */
	expect_signed(v, ed_ca, ed_other, NULL, 0);

	/* A key of the wrong type for the algorithm: an ECDSA-signed leaf
	 * naming the RSA CA is not signed by it. */
	struct pki_cert *mixed = resign_leaf(rsa_ca, x509fix.ca->key, EVP_sha256(), 0);
	const struct pki_cert *cm[] = {mixed, rsa_ca};
	x509fix_expect_reject(v, cm, 2, 0, MN_EBADCHAIN);
	pki_free(mixed);

	pki_free(rsa_ca);
	pki_free(ed_ca);
	EVP_PKEY_free(rsa_other);
	EVP_PKEY_free(ec_other);
	EVP_PKEY_free(ed_other);
	x509_validator_free(v);
}

static void test_leaf_malformed(void **state)
{
	(void)state;
	static const char kParse[] = "leaf certificate does not parse";
	static const char kBadExt[] = "leaf certificate has invalid extensions";
	static const uint8_t kNull[] = {0x05, 0x00};
	struct x509_validator *v = x509fix_new_validator();
	struct der d;
	struct cbs el[12];
	size_t n = tbs_fields(el, 12);
	assert_int_equal(n, 8); /* v3 with extensions */

	/* The hand-made signing is sound: the same TBS signed again passes. */
	leaf_with(&d, 99, NULL, 0, NULL, 0);
	expect_leaf(v, &d, 0, NULL);

	/* Trailing bytes inside the TBSCertificate, and inside the Certificate
	 * after the signature. */
	leaf_with(&d, 99, NULL, 0, kNull, sizeof(kNull));
	expect_leaf(v, &d, MN_EMALFORMED, kParse);
	struct der tbs = {.len = 0};
	for (size_t i = 0; i < n; i++)
		der_put(&tbs, cbs_data(&el[i]), cbs_len(&el[i]));
	sign_tbs(&d, &tbs, 0, kNull, sizeof(kNull));
	expect_leaf(v, &d, MN_EMALFORMED, kParse);
	/* Unused bits in the signature: X509_verify refuses it. */
	sign_tbs(&d, &tbs, 1, NULL, 0);
	expect_leaf(v, &d, MN_EBADCHAIN, "certificate is not signed by the next one");

	/* Malformed fields in a well-framed TBS. */
	static const uint8_t kBadName[] = {0x30, 0x05, 0x31, 0x03, 0x02, 0x01, 0x00};
	leaf_with(&d, 3, kBadName, sizeof(kBadName), NULL, 0); /* issuer */
	expect_leaf(v, &d, MN_EMALFORMED, kParse);
	leaf_with(&d, 5, kBadName, sizeof(kBadName), NULL, 0); /* subject */
	expect_leaf(v, &d, MN_EMALFORMED, kParse);
	static const uint8_t kPaddedSerial[] = {0x02, 0x02, 0x00, 0x01};
	leaf_with(&d, 1, kPaddedSerial, sizeof(kPaddedSerial), NULL, 0);
	expect_leaf(v, &d, MN_EMALFORMED, kParse);
	static const uint8_t kBadTime[] = "\x30\x1e\x17\x0d" "991332000000Z"
					  "\x17\x0d" "491231000000Z";
	leaf_with(&d, 4, kBadTime, sizeof(kBadTime) - 1, NULL, 0);
	expect_leaf(v, &d, MN_EMALFORMED, NULL); /* d2i or ASN1_TIME_to_tm */
	static const uint8_t kOneTime[] = "\x30\x0f\x17\x0d" "491231000000Z";
	leaf_with(&d, 4, kOneTime, sizeof(kOneTime) - 1, NULL, 0);
	expect_leaf(v, &d, MN_EMALFORMED, kParse);
	static const uint8_t kBadSpki[] = {0x30, 0x06, 0x30, 0x00, 0x03, 0x02, 0x00, 0x00};
	leaf_with(&d, 6, kBadSpki, sizeof(kBadSpki), NULL, 0);
	expect_leaf(v, &d, MN_EMALFORMED, kParse);
	/* A public key OpenSSL cannot decode does not stop d2i_X509, so it
	 * does not stop validation either: a log never uses the leaf's key. */
	static const uint8_t kOddKey[] = {0x30, 0x0b, 0x30, 0x05, 0x06, 0x03, 0x2a, 0x03,
					  0x04, 0x03, 0x02, 0x00, 0x01};
	leaf_with(&d, 6, kOddKey, sizeof(kOddKey), NULL, 0);
	expect_leaf(v, &d, 0, NULL);
	/* Version 1 and 2 with extensions, and v3 with unique identifiers:
	 * whatever OpenSSL makes of them (expect_leaf checks). */
	static const uint8_t kV1[] = {0xa0, 0x03, 0x02, 0x01, 0x00};
	static const uint8_t kV2[] = {0xa0, 0x03, 0x02, 0x01, 0x01};
	leaf_with(&d, 0, kV1, sizeof(kV1), NULL, 0);
	expect_leaf(v, &d, openssl_verdict(&d), NULL);
	leaf_with(&d, 0, kV2, sizeof(kV2), NULL, 0);
	expect_leaf(v, &d, openssl_verdict(&d), NULL);
	static const uint8_t kUid[] = {0x81, 0x02, 0x00, 0x01};
	tbs.len = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 7)
			der_put(&tbs, kUid, sizeof(kUid)); /* issuerUniqueID */
		der_put(&tbs, cbs_data(&el[i]), cbs_len(&el[i]));
	}
	sign_tbs(&d, &tbs, 0, NULL, 0);
	expect_leaf(v, &d, openssl_verdict(&d), NULL);

	/* Extensions OpenSSL finds invalid: a second subjectAltName, a
	 * subjectAltName that is not GeneralNames, an empty keyUsage, a
	 * negative pathLenConstraint; and an empty extensions list. */
	struct cbs exts_outer = el[7], exts, ext, san = {0};
	struct der list = {.len = 0}, wrapped = {.len = 0}, e2 = {.len = 0};
	static const uint8_t kSanOid[] = {0x06, 0x03, 0x55, 0x1d, 0x11};
	assert_true(cbs_get_asn1(&exts_outer, &exts, 0xa3));
	assert_true(cbs_get_asn1(&exts, &exts, CBS_ASN1_SEQUENCE));
	while (cbs_len(&exts) > 0) {
		assert_true(cbs_get_asn1_element(&exts, &ext, CBS_ASN1_SEQUENCE));
		der_put(&list, cbs_data(&ext), cbs_len(&ext));
		if (cbs_len(&ext) > 2 + sizeof(kSanOid) &&
		    memcmp(cbs_data(&ext) + 2, kSanOid, sizeof(kSanOid)) == 0)
			san = ext;
	}
	assert_non_null(cbs_data(&san));
	static const uint8_t kNotNames[] = {0x30, 0x09, 0x06, 0x03, 0x55, 0x1d, 0x11,
					    0x04, 0x02, 0x05, 0x00};
	static const uint8_t kEmptyKu[] = {0x30, 0x0c, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x04,
					   0x05, 0x03, 0x03, 0x00, 0x00, 0x00};
	static const uint8_t kNegPath[] = {0x30, 0x0f, 0x06, 0x03, 0x55, 0x1d, 0x13,
					   0x04, 0x08, 0x30, 0x06, 0x01, 0x01, 0xff,
					   0x02, 0x01, 0xff};
	const struct {
		const uint8_t *p;
		size_t len;
	} bad_exts[] = {
		{cbs_data(&san), cbs_len(&san)},
		{kNotNames, sizeof(kNotNames)},
	};
	for (size_t i = 0; i < 2; i++) {
		e2.len = wrapped.len = 0;
		der_put(&e2, list.b, list.len);
		der_put(&e2, bad_exts[i].p, bad_exts[i].len);
		der_tlv(&wrapped, 0x30, e2.b, e2.len);
		struct der outer = {.len = 0};
		der_tlv(&outer, 0xa3, wrapped.b, wrapped.len);
		leaf_with(&d, 7, outer.b, outer.len, NULL, 0);
		expect_leaf(v, &d, MN_EMALFORMED, kBadExt);
	}
	/* keyUsage and basicConstraints in place of x509fix.leaf's own (it has both):
	 * the lists below hold only the odd one and the SAN. */
	const struct {
		const uint8_t *p;
		size_t len;
	} lone[] = {{kEmptyKu, sizeof(kEmptyKu)}, {kNegPath, sizeof(kNegPath)}};
	for (size_t i = 0; i < 2; i++) {
		e2.len = wrapped.len = 0;
		der_put(&e2, lone[i].p, lone[i].len);
		der_put(&e2, cbs_data(&san), cbs_len(&san));
		der_tlv(&wrapped, 0x30, e2.b, e2.len);
		struct der outer = {.len = 0};
		der_tlv(&outer, 0xa3, wrapped.b, wrapped.len);
		leaf_with(&d, 7, outer.b, outer.len, NULL, 0);
		expect_leaf(v, &d, MN_EMALFORMED, kBadExt);
	}
	/* The same lists with valid values pass: the odd value is the cause. */
	static const uint8_t kKu[] = {0x30, 0x0e, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01,
				      0xff, 0x04, 0x04, 0x03, 0x02, 0x07, 0x80};
	e2.len = wrapped.len = 0;
	der_put(&e2, kKu, sizeof(kKu));
	der_put(&e2, cbs_data(&san), cbs_len(&san));
	der_tlv(&wrapped, 0x30, e2.b, e2.len);
	struct der outer = {.len = 0};
	der_tlv(&outer, 0xa3, wrapped.b, wrapped.len);
	leaf_with(&d, 7, outer.b, outer.len, NULL, 0);
	expect_leaf(v, &d, 0, NULL);
	static const uint8_t kNoExts[] = {0xa3, 0x02, 0x30, 0x00};
	leaf_with(&d, 7, kNoExts, sizeof(kNoExts), NULL, 0);
	expect_leaf(v, &d, openssl_verdict(&d), NULL);
	x509_validator_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf_signatures),
		cmocka_unit_test(test_leaf_malformed),
	};
	if (x509fix_make() != 0) {
		fprintf(stderr, "test_x509_leaves: cannot build the test PKI\n");
		x509fix_free();
		return 1;
	}
	atexit(x509fix_free);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
