/* test_x509_chain.c: chain validation (entry/x509.c, x509_path.c) against the
 * generated PKI of tests/lib/x509fix: good chains and what they yield, the
 * openssl command line as an independent check of the PKI, root bundles, the
 * rejections, precertificates and the issuer rules. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "common/bytes.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/x509.h"
#include "tests/lib/pki.h"
#include "tests/lib/x509fix.h"

#define DAY X509FIX_DAY

static void test_good_chain(void **state)
{
	(void)state;
	struct x509_validator *v = x509fix_new_validator();
	struct x509_result a, b;
	const struct pki_cert *c2[] = {x509fix.leaf, x509fix.ca};
	const struct pki_cert *c3[] = {x509fix.leaf, x509fix.ca, x509fix.root};
	assert_int_equal(x509fix_validate(v, c2, 2, 0, &a), 0);
	assert_int_equal(x509fix_validate(v, c3, 3, 0, &b), 0);

	assert_int_equal(a.entry_type, CT_X509_ENTRY);
	assert_int_equal(a.body_len, x509fix.leaf->der_len);
	assert_memory_equal(a.body, x509fix.leaf->der, x509fix.leaf->der_len);
	const struct pki_cert *want[] = {x509fix.ca, x509fix.root};
	x509fix_check_extra(&a, NULL, want, 2);
	x509fix_expect_dedup(&a, "mn-dedup-x509", sizeof("mn-dedup-x509"), x509fix.leaf, NULL);
	assert_int_equal(a.not_after_ms, (uint64_t)(x509fix.now + 90 * DAY) * 1000);

	/* Including the root changes nothing. */
	assert_int_equal(b.entry_type, a.entry_type);
	assert_int_equal(b.body_len, a.body_len);
	assert_memory_equal(b.body, a.body, a.body_len);
	assert_int_equal(b.extra_len, a.extra_len);
	assert_memory_equal(b.extra, a.extra, a.extra_len);
	assert_memory_equal(b.dedup_key, a.dedup_key, 32);
	assert_int_equal(b.not_after_ms, a.not_after_ms);
	x509_result_cleanup(&a);
	x509_result_cleanup(&b);
	x509_result_cleanup(&b); /* safe twice */

	/* A leaf issued by the root directly, alone. */
	const struct pki_cert *c1[] = {x509fix.root_leaf};
	assert_int_equal(x509fix_validate(v, c1, 1, 0, &a), 0);
	const struct pki_cert *want1[] = {x509fix.root};
	x509fix_check_extra(&a, NULL, want1, 1);
	x509_result_cleanup(&a);

	/* Another root with the same name does not get in the way. */
	struct x509_roots *two;
	const struct pki_cert *bundle[] = {x509fix.other_root, x509fix.root};
	size_t pem_len, skipped = 99;
	char *pem = pki_pem(bundle, 2, &pem_len);
	assert_non_null(pem);
	assert_int_equal(x509_roots_load_pem(&two, &skipped, (uint8_t *)pem, pem_len), 0);
	free(pem);
	assert_int_equal(skipped, 0);
	struct x509_validator *v2 = x509_validator_new(two, NULL);
	assert_non_null(v2);
	assert_int_equal(x509fix_validate(v2, c2, 2, 0, &a), 0);
	x509fix_check_extra(&a, NULL, want, 2);
	x509_result_cleanup(&a);
	struct x509_result r;
	const uint8_t *d[] = {x509fix.leaf->der, x509fix.other_ca->der};
	size_t l[] = {x509fix.leaf->der_len, x509fix.other_ca->der_len};
	/* leaf under the wrong CA of the same name: signature fails. */
	assert_int_equal(x509_validate(v2, d, l, 2, 0, x509fix_now_ms(), &r, NULL), MN_EBADCHAIN);
	x509_validator_free(v2);
	x509_roots_free(two);
	x509_validator_free(v);
}

static void test_openssl_cross_check(void **state)
{
	(void)state;
	char dir[] = "/tmp/mn-x509-XXXXXX", path[256], cmd[1024], out[4096];
	assert_non_null(mkdtemp(dir));
	const struct pki_cert *root[] = {x509fix.root}, *ca[] = {x509fix.ca},
			      *leaf[] = {x509fix.leaf}, *other[] = {x509fix.other_root};
	snprintf(path, sizeof(path), "%s/root.pem", dir);
	assert_int_equal(pki_write_pem(path, root, 1), 0);
	snprintf(path, sizeof(path), "%s/int.pem", dir);
	assert_int_equal(pki_write_pem(path, ca, 1), 0);
	snprintf(path, sizeof(path), "%s/leaf.pem", dir);
	assert_int_equal(pki_write_pem(path, leaf, 1), 0);
	snprintf(path, sizeof(path), "%s/other.pem", dir);
	assert_int_equal(pki_write_pem(path, other, 1), 0);

	snprintf(cmd, sizeof(cmd),
		 "openssl verify -CAfile %s/root.pem -untrusted %s/int.pem %s/leaf.pem 2>&1",
		 dir, dir, dir);
	assert_int_equal(x509fix_run_cmd(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "leaf.pem: OK"));
	/* And openssl agrees that the same-named other root is not the anchor. */
	snprintf(cmd, sizeof(cmd),
		 "openssl verify -CAfile %s/other.pem -untrusted %s/int.pem %s/leaf.pem 2>&1",
		 dir, dir, dir);
	assert_int_not_equal(x509fix_run_cmd(cmd, out, sizeof(out)), 0);

	/* Our loader reads the same file openssl used. */
	struct x509_roots *r;
	size_t skipped = 99, len;
	snprintf(path, sizeof(path), "%s/root.pem", dir);
	assert_int_equal(x509_roots_load_file(&r, &skipped, path), 0);
	assert_int_equal(skipped, 0);
	assert_int_equal(x509_roots_count(r), 1);
	const uint8_t *der = x509_roots_der(r, 0, &len);
	assert_int_equal(len, x509fix.root->der_len);
	assert_memory_equal(der, x509fix.root->der, len);
	assert_null(x509_roots_der(r, 1, &len));
	x509_roots_free(r);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/root.pem", dir);
	assert_int_equal(x509_roots_load_file(&r, NULL, path), MN_EIO);
}

static void test_roots_bundle(void **state)
{
	(void)state;
	size_t a_len, b_len;
	const struct pki_cert *first[] = {x509fix.other_root}, *second[] = {x509fix.root};
	char *a = pki_pem(first, 1, &a_len), *b = pki_pem(second, 1, &b_len);
	assert_non_null(a);
	assert_non_null(b);
	static const char garbage[] =
		"junk before\n-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n"
		"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		"-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";
	size_t n = a_len + sizeof(garbage) - 1 + b_len + a_len;
	char *bundle = malloc(n);
	assert_non_null(bundle);
	memcpy(bundle, a, a_len);
	memcpy(bundle + a_len, garbage, sizeof(garbage) - 1);
	memcpy(bundle + a_len + sizeof(garbage) - 1, b, b_len);
	memcpy(bundle + a_len + sizeof(garbage) - 1 + b_len, a, a_len); /* duplicate */

	struct x509_roots *r;
	size_t skipped = 0, len;
	assert_int_equal(x509_roots_load_pem(&r, &skipped, (uint8_t *)bundle, n), 0);
	assert_int_equal(skipped, 3);
	assert_int_equal(x509_roots_count(r), 2);
	const uint8_t *der = x509_roots_der(r, 0, &len);
	assert_int_equal(len, x509fix.other_root->der_len);
	assert_memory_equal(der, x509fix.other_root->der, len);
	der = x509_roots_der(r, 1, &len);
	assert_int_equal(len, x509fix.root->der_len);
	assert_memory_equal(der, x509fix.root->der, len);
	x509_roots_free(r);

	/* Nothing usable: an error, not an empty set. */
	r = (struct x509_roots *)1;
	assert_int_equal(x509_roots_load_pem(&r, &skipped, (const uint8_t *)garbage,
					     sizeof(garbage) - 1),
			 MN_ENOTFOUND);
	assert_null(r);
	assert_int_equal(skipped, 3);
	assert_int_equal(x509_roots_load_pem(&r, NULL, (const uint8_t *)"", 0), MN_ENOTFOUND);
	free(bundle);
	free(a);
	free(b);
}

static void test_rejections(void **state)
{
	(void)state;
	struct x509_validator *v = x509fix_new_validator();

	x509fix_expect_reject_raw(v, NULL, NULL, 0, 0, MN_EMALFORMED);
	static const uint8_t garbage[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	const uint8_t *g[] = {garbage, x509fix.ca->der};
	size_t gl[] = {sizeof(garbage), x509fix.ca->der_len};
	x509fix_expect_reject_raw(v, g, gl, 2, 0, MN_EMALFORMED);
	static const uint8_t text[] = "hello";
	const uint8_t *t[] = {text};
	size_t tl[] = {5};
	x509fix_expect_reject_raw(v, t, tl, 1, 0, MN_EMALFORMED);
	/* garbage as the intermediate */
	const uint8_t *g2[] = {x509fix.leaf->der, garbage};
	size_t gl2[] = {x509fix.leaf->der_len, sizeof(garbage)};
	x509fix_expect_reject_raw(v, g2, gl2, 2, 0, MN_EMALFORMED);

	/* One trailing byte after the leaf, and after the intermediate. */
	uint8_t *tr = malloc(x509fix.leaf->der_len + 1);
	assert_non_null(tr);
	memcpy(tr, x509fix.leaf->der, x509fix.leaf->der_len);
	tr[x509fix.leaf->der_len] = 0;
	const uint8_t *d[] = {tr, x509fix.ca->der};
	size_t l[] = {x509fix.leaf->der_len + 1, x509fix.ca->der_len};
	x509fix_expect_reject_raw(v, d, l, 2, 0, MN_EMALFORMED);
	free(tr);
	tr = malloc(x509fix.ca->der_len + 1);
	assert_non_null(tr);
	memcpy(tr, x509fix.ca->der, x509fix.ca->der_len);
	tr[x509fix.ca->der_len] = 0;
	d[0] = x509fix.leaf->der;
	d[1] = tr;
	l[0] = x509fix.leaf->der_len;
	l[1] = x509fix.ca->der_len + 1;
	x509fix_expect_reject_raw(v, d, l, 2, 0, MN_EMALFORMED);
	free(tr);

	/* Truncated leaf. */
	d[0] = x509fix.leaf->der;
	d[1] = x509fix.ca->der;
	l[0] = x509fix.leaf->der_len - 1;
	l[1] = x509fix.ca->der_len;
	x509fix_expect_reject_raw(v, d, l, 2, 0, MN_EMALFORMED);

	/* Unknown root: a chain under another root with the same names. */
	const struct pki_cert *unknown[] = {x509fix.other_ca};
	x509fix_expect_reject(v, unknown, 1, 0, MN_EUNKNOWNANCHOR);
	const struct pki_cert *unknown2[] = {x509fix.other_ca, x509fix.other_root};
	x509fix_expect_reject(v, unknown2, 2, 0, MN_EUNKNOWNANCHOR);
	/* Good chain ending in a root that is not configured. */
	const struct pki_cert *unknown3[] = {x509fix.leaf, x509fix.ca, x509fix.other_root};
	x509fix_expect_reject(v, unknown3, 3, 0, MN_EBADCHAIN);
	/* An intermediate alone is not an anchor. */
	const struct pki_cert *ca_only[] = {x509fix.leaf};
	x509fix_expect_reject(v, ca_only, 1, 0, MN_EUNKNOWNANCHOR);

	/* Broken signature: flip a byte at the end of the leaf's signature. */
	uint8_t *bad = malloc(x509fix.leaf->der_len);
	assert_non_null(bad);
	memcpy(bad, x509fix.leaf->der, x509fix.leaf->der_len);
	bad[x509fix.leaf->der_len - 1] ^= 0x01;
	d[0] = bad;
	d[1] = x509fix.ca->der;
	l[0] = x509fix.leaf->der_len;
	l[1] = x509fix.ca->der_len;
	x509fix_expect_reject_raw(v, d, l, 2, 0, MN_EBADCHAIN);
	/* ... or in its TBS (a name byte: still parses). */
	memcpy(bad, x509fix.leaf->der, x509fix.leaf->der_len);
	uint8_t *cn = memmem(bad, x509fix.leaf->der_len, "example.com", 11);
	assert_non_null(cn);
	cn[0] = 'E';
	x509fix_expect_reject_raw(v, d, l, 2, 0, MN_EBADCHAIN);
	free(bad);

	/* Wrong order. */
	const struct pki_cert *order[] = {x509fix.ca, x509fix.leaf};
	x509fix_expect_reject(v, order, 2, 0, MN_EBADCHAIN);
	const struct pki_cert *order2[] = {x509fix.leaf, x509fix.root, x509fix.ca};
	x509fix_expect_reject(v, order2, 3, 0, MN_EBADCHAIN);

	/* An intermediate that is not a CA (basicConstraints cA FALSE). */
	const struct pki_cert *nca[] = {x509fix.leaf_of_not_ca, x509fix.not_ca};
	x509fix_expect_reject(v, nca, 2, 0, MN_EBADCHAIN);
	const struct pki_cert *nca3[] = {x509fix.leaf_of_not_ca, x509fix.not_ca, x509fix.root};
	x509fix_expect_reject(v, nca3, 3, 0, MN_EBADCHAIN);

	/* Leaf dates. */
	const struct pki_cert *exp[] = {x509fix.expired, x509fix.ca};
	x509fix_expect_reject(v, exp, 2, 0, MN_EBADCERT);
	const struct pki_cert *back[] = {x509fix.backwards, x509fix.ca};
	x509fix_expect_reject(v, back, 2, 0, MN_EBADCERT);

	/* Precertificate to add-chain, final certificate to add-pre-chain,
	 * non-critical poison. */
	const struct pki_cert *pre[] = {x509fix.precert, x509fix.ca};
	x509fix_expect_reject(v, pre, 2, 0, MN_EBADCERT);
	const struct pki_cert *fin[] = {x509fix.final, x509fix.ca};
	x509fix_expect_reject(v, fin, 2, 1, MN_EBADCERT);
	const struct pki_cert *nc[] = {x509fix.noncrit, x509fix.ca};
	x509fix_expect_reject(v, nc, 2, 1, MN_EBADCERT);
	x509fix_expect_reject(v, nc, 2, 0, MN_EBADCERT);

	/* A PSC in an add-chain submission; a precertificate as intermediate. */
	const struct pki_cert *pscx[] = {x509fix.psc_final_cert, x509fix.psc, x509fix.ca};
	x509fix_expect_reject(v, pscx, 3, 0, MN_EBADCHAIN);
	const struct pki_cert *prein[] = {x509fix.leaf, x509fix.precert, x509fix.ca};
	x509fix_expect_reject(v, prein, 3, 0, MN_EBADCHAIN);

	/* Limits: 11 certificates, and an oversized one. */
	const struct pki_cert *longc[11];
	longc[0] = x509fix.leaf;
	for (int i = 1; i < 11; i++)
		longc[i] = x509fix.ca;
	x509fix_expect_reject(v, longc, 11, 0, MN_ETOOBIG);
	/* ... while 10 is fine by length (it fails later, as a bad chain) */
	x509fix_expect_reject(v, longc, 10, 0, MN_EBADCHAIN);
	size_t big_len = 64 * 1024 + 1;
	uint8_t *big = calloc(1, big_len);
	assert_non_null(big);
	d[0] = x509fix.leaf->der;
	d[1] = big;
	l[0] = x509fix.leaf->der_len;
	l[1] = big_len;
	x509fix_expect_reject_raw(v, d, l, 2, 0, MN_ETOOBIG);
	free(big);
	x509_validator_free(v);

	struct x509_limits lim = {.max_chain_len = 2, .max_cert_len = x509fix.leaf->der_len - 1};
	v = x509_validator_new(x509fix.roots, &lim);
	assert_non_null(v);
	const struct pki_cert *c2[] = {x509fix.leaf, x509fix.ca};
	const struct pki_cert *c3[] = {x509fix.leaf, x509fix.ca, x509fix.root};
	x509fix_expect_reject(v, c2, 2, 0, MN_ETOOBIG);
	x509fix_expect_reject(v, c3, 3, 0, MN_ETOOBIG);
	x509_validator_free(v);
}

static void test_precert(void **state)
{
	(void)state;
	struct x509_validator *v = x509fix_new_validator();
	struct x509_result r;
	uint8_t ca_spki[32], root_spki[32];
	size_t tbs_len;
	uint8_t *tbs = pki_tbs(x509fix.final, &tbs_len);
	assert_non_null(tbs);
	assert_int_equal(pki_spki_sha256(x509fix.ca, ca_spki), 0);
	assert_int_equal(pki_spki_sha256(x509fix.root, root_spki), 0);

	/* Issued directly by the CA: the TBS is the final certificate's. */
	const struct pki_cert *c[] = {x509fix.precert, x509fix.ca};
	assert_int_equal(x509fix_validate(v, c, 2, 1, &r), 0);
	assert_int_equal(r.entry_type, CT_PRECERT_ENTRY);
	assert_int_equal(r.body_len, tbs_len);
	assert_memory_equal(r.body, tbs, tbs_len);
	assert_memory_equal(r.issuer_key_hash, ca_spki, 32);
	const struct pki_cert *want[] = {x509fix.ca, x509fix.root};
	x509fix_check_extra(&r, x509fix.precert, want, 2);
	x509fix_expect_dedup(&r, "mn-dedup-precert", sizeof("mn-dedup-precert"), x509fix.precert,
			     ca_spki);
	x509_result_cleanup(&r);

	/* With the root included: the same result. */
	const struct pki_cert *c3[] = {x509fix.precert, x509fix.ca, x509fix.root};
	assert_int_equal(x509fix_validate(v, c3, 3, 1, &r), 0);
	assert_memory_equal(r.body, tbs, tbs_len);
	x509fix_check_extra(&r, x509fix.precert, want, 2);
	x509_result_cleanup(&r);

	/* Through a Precertificate Signing Certificate: issuer and AKI come
	 * from the PSC, the issuer key hash is the CA's. */
	const struct pki_cert *p[] = {x509fix.psc_precert, x509fix.psc, x509fix.ca};
	assert_int_equal(x509fix_validate(v, p, 3, 1, &r), 0);
	assert_int_equal(r.entry_type, CT_PRECERT_ENTRY);
	assert_int_equal(r.body_len, tbs_len);
	assert_memory_equal(r.body, tbs, tbs_len);
	assert_memory_equal(r.issuer_key_hash, ca_spki, 32);
	const struct pki_cert *pwant[] = {x509fix.psc, x509fix.ca, x509fix.root};
	x509fix_check_extra(&r, x509fix.psc_precert, pwant, 3);
	x509_result_cleanup(&r);
	const struct pki_cert *p4[] = {x509fix.psc_precert, x509fix.psc, x509fix.ca, x509fix.root};
	assert_int_equal(x509fix_validate(v, p4, 4, 1, &r), 0);
	assert_memory_equal(r.body, tbs, tbs_len);
	assert_memory_equal(r.issuer_key_hash, ca_spki, 32);
	x509fix_check_extra(&r, x509fix.psc_precert, pwant, 3);
	x509_result_cleanup(&r);

	/* The PSC must be followed by the CA that issues the final cert. */
	const struct pki_cert *p2[] = {x509fix.psc_precert, x509fix.psc};
	x509fix_expect_reject(v, p2, 2, 1, MN_EUNKNOWNANCHOR);
	/* A PSC further up is rejected. */
	const struct pki_cert *p5[] = {x509fix.precert, x509fix.ca, x509fix.psc};
	x509fix_expect_reject(v, p5, 3, 1, MN_EBADCHAIN);

	/* A precertificate issued by the root: issuer key hash of the implied
	 * root; and of the submitted root. */
	struct pki_cert *rp = pki_issue(x509fix.root, "rootpre.example", NULL, 0, PKI_POISON,
					x509fix.now - DAY, x509fix.now + DAY);
	assert_non_null(rp);
	const struct pki_cert *r1[] = {rp}, *r2[] = {rp, x509fix.root};
	assert_int_equal(x509fix_validate(v, r1, 1, 1, &r), 0);
	assert_memory_equal(r.issuer_key_hash, root_spki, 32);
	const struct pki_cert *rwant[] = {x509fix.root};
	x509fix_check_extra(&r, rp, rwant, 1);
	x509_result_cleanup(&r);
	assert_int_equal(x509fix_validate(v, r2, 2, 1, &r), 0);
	assert_memory_equal(r.issuer_key_hash, root_spki, 32);
	x509fix_check_extra(&r, rp, rwant, 1);
	x509_result_cleanup(&r);
	pki_free(rp);

	OPENSSL_free(tbs);
	x509_validator_free(v);
}

/* The issuer rules of x509_path.c on a generated PKI (PKITS covers them on
 * its own certificates, test_pkits.c), and the one PKITS cannot: a
 * Precertificate Signing Certificate does not count against its issuer's
 * pathLenConstraint (docs/validation.md). */
static void test_path_rules(void **state)
{
	(void)state;
	static const char *const dns[] = {"pl.example"};
	int64_t nb = x509fix.now - DAY, na = x509fix.now + 90 * DAY;
	struct x509_validator *v = x509fix_new_validator();
	struct x509_result r;
	struct pki_cert *ca0 = pki_issue(x509fix.root, "CA pathlen 0", NULL, 0,
					 PKI_CA | PKI_PATHLEN0, nb, na);
	struct pki_cert *sub = pki_issue(ca0, "Sub CA", NULL, 0, PKI_CA, nb, na);
	struct pki_cert *leaf_sub = pki_issue(sub, "pl.example", dns, 1, 0, nb, na);
	struct pki_cert *leaf_ca0 = pki_issue(ca0, "pl.example", dns, 1, 0, nb, na);
	struct pki_cert *psc = pki_issue(ca0, "CA pathlen 0 PSC", NULL, 0, PKI_PSC, nb, na);
	struct pki_cert *pre = pki_issue(psc, "pl.example", dns, 1, PKI_POISON, nb, na);
	struct pki_cert *nosign = pki_issue(x509fix.root, "No certSign CA", NULL, 0,
					    PKI_CA | PKI_NO_CERTSIGN, nb, na);
	struct pki_cert *leaf_nosign = pki_issue(nosign, "pl.example", dns, 1, 0, nb, na);
	assert_non_null(ca0);
	assert_non_null(sub);
	assert_non_null(leaf_sub);
	assert_non_null(leaf_ca0);
	assert_non_null(psc);
	assert_non_null(pre);
	assert_non_null(nosign);
	assert_non_null(leaf_nosign);

	/* pathLenConstraint 0: an end entity directly under it is fine, one
	 * under a sub-CA is not, with or without the root in the chain */
	const struct pki_cert *ok[] = {leaf_ca0, ca0};
	assert_int_equal(x509fix_validate(v, ok, 2, 0, &r), 0);
	x509_result_cleanup(&r);
	const struct pki_cert *deep[] = {leaf_sub, sub, ca0, x509fix.root};
	assert_int_equal(x509fix_validate(v, deep, 3, 0, &r), MN_EBADCHAIN);
	assert_int_equal(x509fix_validate(v, deep, 4, 0, &r), MN_EBADCHAIN);
	/* the sub-CA is fine as the end of a chain of its own */
	const struct pki_cert *subchain[] = {sub, ca0};
	assert_int_equal(x509fix_validate(v, subchain, 2, 0, &r), 0);
	x509_result_cleanup(&r);

	/* a PSC under the pathlen-0 CA stands for that CA: accepted */
	const struct pki_cert *pchain[] = {pre, psc, ca0};
	assert_int_equal(x509fix_validate(v, pchain, 3, 1, &r), 0);
	assert_int_equal(r.entry_type, CT_PRECERT_ENTRY);
	uint8_t ikh[32];
	assert_int_equal(pki_spki_sha256(ca0, ikh), 0);
	assert_memory_equal(r.issuer_key_hash, ikh, 32);
	x509_result_cleanup(&r);

	/* keyUsage without keyCertSign: not an issuer */
	const struct pki_cert *ns[] = {leaf_nosign, nosign};
	assert_int_equal(x509fix_validate(v, ns, 2, 0, &r), MN_EBADCHAIN);

	/* a configured root before the end of the chain */
	const struct pki_cert *past[] = {x509fix.leaf, x509fix.ca, x509fix.root, x509fix.root};
	assert_int_equal(x509fix_validate(v, past, 4, 0, &r), MN_EBADCHAIN);

	x509_validator_free(v);
	pki_free(ca0);
	pki_free(sub);
	pki_free(leaf_sub);
	pki_free(leaf_ca0);
	pki_free(psc);
	pki_free(pre);
	pki_free(nosign);
	pki_free(leaf_nosign);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_chain),
		cmocka_unit_test(test_openssl_cross_check),
		cmocka_unit_test(test_roots_bundle),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_precert),
		cmocka_unit_test(test_path_rules),
	};
	if (x509fix_make() != 0) {
		fprintf(stderr, "test_x509_chain: cannot build the test PKI\n");
		x509fix_free();
		return 1;
	}
	atexit(x509fix_free);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
