/* test_x509.c: chain validation (entry/x509.c) against a generated PKI, with the
 * openssl command line as an independent check of the PKI itself. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/bytes.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/x509.h"
#include "tests/lib/pki.h"

#define DAY 86400

/* One PKI for the whole file: generating keys is the slow part. */
static struct {
	struct pki_cert *root, *other_root, *ca, *other_ca, *leaf, *leaf2, *not_ca,
		*leaf_of_not_ca, *expired, *backwards, *precert, *final, *psc,
		*psc_precert, *psc_final_cert, *noncrit, *root_leaf;
	EVP_PKEY *leaf_key;
	struct x509_roots *roots;
	int64_t now;
} P;

static uint64_t now_ms(void)
{
	return (uint64_t)P.now * 1000;
}

static void free_pki(void)
{
	struct pki_cert **all[] = {
		&P.root, &P.other_root, &P.ca, &P.other_ca, &P.leaf, &P.leaf2, &P.not_ca,
		&P.leaf_of_not_ca, &P.expired, &P.backwards, &P.precert, &P.final, &P.psc,
		&P.psc_precert, &P.psc_final_cert, &P.noncrit, &P.root_leaf,
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		pki_free(*all[i]);
		*all[i] = NULL;
	}
	EVP_PKEY_free(P.leaf_key);
	x509_roots_free(P.roots);
}

static int make_pki(void)
{
	static const char *const dns[] = {"example.com", "www.example.com"};
	int64_t now = P.now = pki_now();
	int64_t nb = now - DAY, na = now + 90 * DAY;
	P.root = pki_root("Test Root", 0);
	P.other_root = pki_root("Test Root", 0); /* same name, other key */
	P.ca = pki_issue(P.root, "Test CA", NULL, 0, PKI_CA, nb, now + 365 * DAY);
	P.other_ca = pki_issue(P.other_root, "Test CA", NULL, 0, PKI_CA, nb, na);
	P.leaf = pki_issue(P.ca, "example.com", dns, 2, 0, nb, na);
	P.leaf2 = pki_issue(P.ca, "www.example.com", dns + 1, 1, 0, nb, na);
	P.not_ca = pki_issue(P.root, "Not A CA", NULL, 0, 0, nb, na);
	P.leaf_of_not_ca = pki_issue(P.not_ca, "victim.example", NULL, 0, 0, nb, na);
	P.expired = pki_issue(P.ca, "old.example", NULL, 0, 0, now - 30 * DAY, now - DAY);
	P.backwards = pki_issue(P.ca, "odd.example", NULL, 0, 0, now + DAY, now - DAY);
	P.root_leaf = pki_issue(P.root, "direct.example", NULL, 0, 0, nb, na);
	P.noncrit = pki_issue(P.ca, "pre.example", dns, 1, PKI_POISON_NONCRIT, nb, na);
	P.psc = pki_issue(P.ca, "Test CA Precertificate Signing", NULL, 0, PKI_PSC, nb, na);
	if (!P.root || !P.other_root || !P.ca || !P.other_ca || !P.leaf || !P.leaf2 ||
	    !P.not_ca || !P.leaf_of_not_ca || !P.expired || !P.backwards || !P.root_leaf ||
	    !P.noncrit || !P.psc)
		return -1;

	/* A precertificate and the final certificate it announces: same serial,
	 * key, names, dates and extension order; only the poison differs. The
	 * PSC-issued precertificate describes the same final certificate. */
	P.leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct pki_opts o = {
		.cn = "shop.example",
		.dns = dns,
		.num_dns = 2,
		.not_before = nb,
		.not_after = na,
		.serial = 0x1234567890abcdefULL,
		.key = P.leaf_key,
	};
	P.final = pki_issue_opts(P.ca, &o);
	o.flags = PKI_POISON;
	P.precert = pki_issue_opts(P.ca, &o);
	P.psc_precert = pki_issue_opts(P.psc, &o);
	o.flags = 0;
	P.psc_final_cert = pki_issue_opts(P.psc, &o); /* a final cert signed by a PSC */
	if (!P.final || !P.precert || !P.psc_precert || !P.psc_final_cert)
		return -1;

	size_t pem_len;
	const struct pki_cert *bundle[] = {P.root};
	char *pem = pki_pem(bundle, 1, &pem_len);
	if (pem == NULL)
		return -1;
	int rc = x509_roots_load_pem(&P.roots, NULL, (const uint8_t *)pem, pem_len);
	free(pem);
	return rc;
}

/* validate runs x509_validate on |num| certificates under |v|. */
static int validate(struct x509_validator *v, const struct pki_cert *const *chain,
		    size_t num, int precert, struct x509_result *out)
{
	const uint8_t *der[16];
	size_t len[16];
	const char *reason = NULL;
	for (size_t i = 0; i < num; i++) {
		der[i] = chain[i]->der;
		len[i] = chain[i]->der_len;
	}
	int rc = x509_validate(v, der, len, num, precert, now_ms(), out, &reason);
	assert_non_null(reason);
	if (rc != 0) {
		assert_true(strlen(reason) > 0);
		assert_null(out->body);
		assert_null(out->extra);
	}
	return rc;
}

static struct x509_validator *new_validator(void)
{
	struct x509_validator *v = x509_validator_new(P.roots, NULL);
	assert_non_null(v);
	return v;
}

/* check_chain parses extra_data back (RFC 6962 section 4.6) and compares it to
 * |want|; for precerts the pre_certificate first. */
static void check_extra(const struct x509_result *r, const struct pki_cert *precert,
			const struct pki_cert *const *want, size_t num_want)
{
	struct cbs in, list, c;
	cbs_init(&in, r->extra, r->extra_len);
	if (precert != NULL) {
		assert_true(cbs_get_u24_length_prefixed(&in, &c));
		assert_true(cbs_mem_equal(&c, precert->der, precert->der_len));
	}
	assert_true(cbs_get_u24_length_prefixed(&in, &list));
	assert_int_equal(cbs_len(&in), 0);
	for (size_t i = 0; i < num_want; i++) {
		assert_true(cbs_get_u24_length_prefixed(&list, &c));
		assert_true(cbs_mem_equal(&c, want[i]->der, want[i]->der_len));
	}
	assert_int_equal(cbs_len(&list), 0);
}

static void expect_dedup(const struct x509_result *r, const char *tag, size_t tag_len,
			 const struct pki_cert *leaf, const uint8_t *ikh)
{
	uint8_t want[32];
	size_t n = tag_len + leaf->der_len + (ikh ? 32 : 0);
	uint8_t *buf = malloc(n);
	assert_non_null(buf);
	memcpy(buf, tag, tag_len);
	memcpy(buf + tag_len, leaf->der, leaf->der_len);
	if (ikh)
		memcpy(buf + tag_len + leaf->der_len, ikh, 32);
	SHA256(buf, n, want);
	free(buf);
	assert_memory_equal(r->dedup_key, want, 32);
}

static void test_good_chain(void **state)
{
	(void)state;
	struct x509_validator *v = new_validator();
	struct x509_result a, b;
	const struct pki_cert *c2[] = {P.leaf, P.ca};
	const struct pki_cert *c3[] = {P.leaf, P.ca, P.root};
	assert_int_equal(validate(v, c2, 2, 0, &a), 0);
	assert_int_equal(validate(v, c3, 3, 0, &b), 0);

	assert_int_equal(a.entry_type, CT_X509_ENTRY);
	assert_int_equal(a.body_len, P.leaf->der_len);
	assert_memory_equal(a.body, P.leaf->der, P.leaf->der_len);
	const struct pki_cert *want[] = {P.ca, P.root};
	check_extra(&a, NULL, want, 2);
	expect_dedup(&a, "mn-dedup-x509", sizeof("mn-dedup-x509"), P.leaf, NULL);
	assert_int_equal(a.not_after_ms, (uint64_t)(P.now + 90 * DAY) * 1000);

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
	const struct pki_cert *c1[] = {P.root_leaf};
	assert_int_equal(validate(v, c1, 1, 0, &a), 0);
	const struct pki_cert *want1[] = {P.root};
	check_extra(&a, NULL, want1, 1);
	x509_result_cleanup(&a);

	/* Another root with the same name does not get in the way. */
	struct x509_roots *two;
	const struct pki_cert *bundle[] = {P.other_root, P.root};
	size_t pem_len, skipped = 99;
	char *pem = pki_pem(bundle, 2, &pem_len);
	assert_non_null(pem);
	assert_int_equal(x509_roots_load_pem(&two, &skipped, (uint8_t *)pem, pem_len), 0);
	free(pem);
	assert_int_equal(skipped, 0);
	struct x509_validator *v2 = x509_validator_new(two, NULL);
	assert_non_null(v2);
	assert_int_equal(validate(v2, c2, 2, 0, &a), 0);
	check_extra(&a, NULL, want, 2);
	x509_result_cleanup(&a);
	struct x509_result r;
	const uint8_t *d[] = {P.leaf->der, P.other_ca->der};
	size_t l[] = {P.leaf->der_len, P.other_ca->der_len};
	/* leaf under the wrong CA of the same name: signature fails. */
	assert_int_equal(x509_validate(v2, d, l, 2, 0, now_ms(), &r, NULL), MN_EBADCHAIN);
	x509_validator_free(v2);
	x509_roots_free(two);
	x509_validator_free(v);
}

/* run_cmd runs |cmd| through the shell, captures its output into |out| and
 * returns its exit status. */
static int run_cmd(const char *cmd, char *out, size_t out_len)
{
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, out_len - 1, f);
	out[n] = '\0';
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_openssl_cross_check(void **state)
{
	(void)state;
	char dir[] = "/tmp/mn-x509-XXXXXX", path[256], cmd[1024], out[4096];
	assert_non_null(mkdtemp(dir));
	const struct pki_cert *root[] = {P.root}, *ca[] = {P.ca}, *leaf[] = {P.leaf},
			      *other[] = {P.other_root};
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
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "leaf.pem: OK"));
	/* And openssl agrees that the same-named other root is not the anchor. */
	snprintf(cmd, sizeof(cmd),
		 "openssl verify -CAfile %s/other.pem -untrusted %s/int.pem %s/leaf.pem 2>&1",
		 dir, dir, dir);
	assert_int_not_equal(run_cmd(cmd, out, sizeof(out)), 0);

	/* Our loader reads the same file openssl used. */
	struct x509_roots *r;
	size_t skipped = 99, len;
	snprintf(path, sizeof(path), "%s/root.pem", dir);
	assert_int_equal(x509_roots_load_file(&r, &skipped, path), 0);
	assert_int_equal(skipped, 0);
	assert_int_equal(x509_roots_count(r), 1);
	const uint8_t *der = x509_roots_der(r, 0, &len);
	assert_int_equal(len, P.root->der_len);
	assert_memory_equal(der, P.root->der, len);
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
	const struct pki_cert *first[] = {P.other_root}, *second[] = {P.root};
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
	assert_int_equal(len, P.other_root->der_len);
	assert_memory_equal(der, P.other_root->der, len);
	der = x509_roots_der(r, 1, &len);
	assert_int_equal(len, P.root->der_len);
	assert_memory_equal(der, P.root->der, len);
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

/* expect_reject validates raw DER buffers and checks the error code. */
static void expect_reject_raw(struct x509_validator *v, const uint8_t *const *der,
			      const size_t *len, size_t num, int precert, int want)
{
	struct x509_result r;
	const char *reason = NULL;
	memset(&r, 0xa5, sizeof(r));
	int rc = x509_validate(v, der, len, num, precert, now_ms(), &r, &reason);
	if (rc != want)
		print_error("got %s (%s), want %s\n", mn_err_name(rc), reason ? reason : "-",
			    mn_err_name(want));
	assert_int_equal(rc, want);
	assert_non_null(reason);
	assert_null(r.body);
	assert_null(r.extra);
}

static void expect_reject(struct x509_validator *v, const struct pki_cert *const *chain,
			  size_t num, int precert, int want)
{
	const uint8_t *der[16];
	size_t len[16];
	for (size_t i = 0; i < num; i++) {
		der[i] = chain[i]->der;
		len[i] = chain[i]->der_len;
	}
	expect_reject_raw(v, der, len, num, precert, want);
}

static void test_rejections(void **state)
{
	(void)state;
	struct x509_validator *v = new_validator();

	expect_reject_raw(v, NULL, NULL, 0, 0, MN_EMALFORMED);
	static const uint8_t garbage[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	const uint8_t *g[] = {garbage, P.ca->der};
	size_t gl[] = {sizeof(garbage), P.ca->der_len};
	expect_reject_raw(v, g, gl, 2, 0, MN_EMALFORMED);
	static const uint8_t text[] = "hello";
	const uint8_t *t[] = {text};
	size_t tl[] = {5};
	expect_reject_raw(v, t, tl, 1, 0, MN_EMALFORMED);
	/* garbage as the intermediate */
	const uint8_t *g2[] = {P.leaf->der, garbage};
	size_t gl2[] = {P.leaf->der_len, sizeof(garbage)};
	expect_reject_raw(v, g2, gl2, 2, 0, MN_EMALFORMED);

	/* One trailing byte after the leaf, and after the intermediate. */
	uint8_t *tr = malloc(P.leaf->der_len + 1);
	assert_non_null(tr);
	memcpy(tr, P.leaf->der, P.leaf->der_len);
	tr[P.leaf->der_len] = 0;
	const uint8_t *d[] = {tr, P.ca->der};
	size_t l[] = {P.leaf->der_len + 1, P.ca->der_len};
	expect_reject_raw(v, d, l, 2, 0, MN_EMALFORMED);
	free(tr);
	tr = malloc(P.ca->der_len + 1);
	assert_non_null(tr);
	memcpy(tr, P.ca->der, P.ca->der_len);
	tr[P.ca->der_len] = 0;
	d[0] = P.leaf->der;
	d[1] = tr;
	l[0] = P.leaf->der_len;
	l[1] = P.ca->der_len + 1;
	expect_reject_raw(v, d, l, 2, 0, MN_EMALFORMED);
	free(tr);

	/* Truncated leaf. */
	d[0] = P.leaf->der;
	d[1] = P.ca->der;
	l[0] = P.leaf->der_len - 1;
	l[1] = P.ca->der_len;
	expect_reject_raw(v, d, l, 2, 0, MN_EMALFORMED);

	/* Unknown root: a chain under another root with the same names. */
	const struct pki_cert *unknown[] = {P.other_ca};
	expect_reject(v, unknown, 1, 0, MN_EUNKNOWNANCHOR);
	const struct pki_cert *unknown2[] = {P.other_ca, P.other_root};
	expect_reject(v, unknown2, 2, 0, MN_EUNKNOWNANCHOR);
	/* Good chain ending in a root that is not configured. */
	const struct pki_cert *unknown3[] = {P.leaf, P.ca, P.other_root};
	expect_reject(v, unknown3, 3, 0, MN_EBADCHAIN);
	/* An intermediate alone is not an anchor. */
	const struct pki_cert *ca_only[] = {P.leaf};
	expect_reject(v, ca_only, 1, 0, MN_EUNKNOWNANCHOR);

	/* Broken signature: flip a byte at the end of the leaf's signature. */
	uint8_t *bad = malloc(P.leaf->der_len);
	assert_non_null(bad);
	memcpy(bad, P.leaf->der, P.leaf->der_len);
	bad[P.leaf->der_len - 1] ^= 0x01;
	d[0] = bad;
	d[1] = P.ca->der;
	l[0] = P.leaf->der_len;
	l[1] = P.ca->der_len;
	expect_reject_raw(v, d, l, 2, 0, MN_EBADCHAIN);
	/* ... or in its TBS (a name byte: still parses). */
	memcpy(bad, P.leaf->der, P.leaf->der_len);
	uint8_t *cn = memmem(bad, P.leaf->der_len, "example.com", 11);
	assert_non_null(cn);
	cn[0] = 'E';
	expect_reject_raw(v, d, l, 2, 0, MN_EBADCHAIN);
	free(bad);

	/* Wrong order. */
	const struct pki_cert *order[] = {P.ca, P.leaf};
	expect_reject(v, order, 2, 0, MN_EBADCHAIN);
	const struct pki_cert *order2[] = {P.leaf, P.root, P.ca};
	expect_reject(v, order2, 3, 0, MN_EBADCHAIN);

	/* An intermediate that is not a CA (basicConstraints cA FALSE). */
	const struct pki_cert *nca[] = {P.leaf_of_not_ca, P.not_ca};
	expect_reject(v, nca, 2, 0, MN_EBADCHAIN);
	const struct pki_cert *nca3[] = {P.leaf_of_not_ca, P.not_ca, P.root};
	expect_reject(v, nca3, 3, 0, MN_EBADCHAIN);

	/* Leaf dates. */
	const struct pki_cert *exp[] = {P.expired, P.ca};
	expect_reject(v, exp, 2, 0, MN_EBADCERT);
	const struct pki_cert *back[] = {P.backwards, P.ca};
	expect_reject(v, back, 2, 0, MN_EBADCERT);

	/* Precertificate to add-chain, final certificate to add-pre-chain,
	 * non-critical poison. */
	const struct pki_cert *pre[] = {P.precert, P.ca};
	expect_reject(v, pre, 2, 0, MN_EBADCERT);
	const struct pki_cert *fin[] = {P.final, P.ca};
	expect_reject(v, fin, 2, 1, MN_EBADCERT);
	const struct pki_cert *nc[] = {P.noncrit, P.ca};
	expect_reject(v, nc, 2, 1, MN_EBADCERT);
	expect_reject(v, nc, 2, 0, MN_EBADCERT);

	/* A PSC in an add-chain submission; a precertificate as intermediate. */
	const struct pki_cert *pscx[] = {P.psc_final_cert, P.psc, P.ca};
	expect_reject(v, pscx, 3, 0, MN_EBADCHAIN);
	const struct pki_cert *prein[] = {P.leaf, P.precert, P.ca};
	expect_reject(v, prein, 3, 0, MN_EBADCHAIN);

	/* Limits: 11 certificates, and an oversized one. */
	const struct pki_cert *longc[11];
	longc[0] = P.leaf;
	for (int i = 1; i < 11; i++)
		longc[i] = P.ca;
	expect_reject(v, longc, 11, 0, MN_ETOOBIG);
	/* ... while 10 is fine by length (it fails later, as a bad chain) */
	expect_reject(v, longc, 10, 0, MN_EBADCHAIN);
	size_t big_len = 64 * 1024 + 1;
	uint8_t *big = calloc(1, big_len);
	assert_non_null(big);
	d[0] = P.leaf->der;
	d[1] = big;
	l[0] = P.leaf->der_len;
	l[1] = big_len;
	expect_reject_raw(v, d, l, 2, 0, MN_ETOOBIG);
	free(big);
	x509_validator_free(v);

	struct x509_limits lim = {.max_chain_len = 2, .max_cert_len = P.leaf->der_len - 1};
	v = x509_validator_new(P.roots, &lim);
	assert_non_null(v);
	const struct pki_cert *c2[] = {P.leaf, P.ca}, *c3[] = {P.leaf, P.ca, P.root};
	expect_reject(v, c2, 2, 0, MN_ETOOBIG);
	expect_reject(v, c3, 3, 0, MN_ETOOBIG);
	x509_validator_free(v);
}

static void test_precert(void **state)
{
	(void)state;
	struct x509_validator *v = new_validator();
	struct x509_result r;
	uint8_t ca_spki[32], root_spki[32];
	size_t tbs_len;
	uint8_t *tbs = pki_tbs(P.final, &tbs_len);
	assert_non_null(tbs);
	assert_int_equal(pki_spki_sha256(P.ca, ca_spki), 0);
	assert_int_equal(pki_spki_sha256(P.root, root_spki), 0);

	/* Issued directly by the CA: the TBS is the final certificate's. */
	const struct pki_cert *c[] = {P.precert, P.ca};
	assert_int_equal(validate(v, c, 2, 1, &r), 0);
	assert_int_equal(r.entry_type, CT_PRECERT_ENTRY);
	assert_int_equal(r.body_len, tbs_len);
	assert_memory_equal(r.body, tbs, tbs_len);
	assert_memory_equal(r.issuer_key_hash, ca_spki, 32);
	const struct pki_cert *want[] = {P.ca, P.root};
	check_extra(&r, P.precert, want, 2);
	expect_dedup(&r, "mn-dedup-precert", sizeof("mn-dedup-precert"), P.precert, ca_spki);
	x509_result_cleanup(&r);

	/* With the root included: the same result. */
	const struct pki_cert *c3[] = {P.precert, P.ca, P.root};
	assert_int_equal(validate(v, c3, 3, 1, &r), 0);
	assert_memory_equal(r.body, tbs, tbs_len);
	check_extra(&r, P.precert, want, 2);
	x509_result_cleanup(&r);

	/* Through a Precertificate Signing Certificate: issuer and AKI come
	 * from the PSC, the issuer key hash is the CA's. */
	const struct pki_cert *p[] = {P.psc_precert, P.psc, P.ca};
	assert_int_equal(validate(v, p, 3, 1, &r), 0);
	assert_int_equal(r.entry_type, CT_PRECERT_ENTRY);
	assert_int_equal(r.body_len, tbs_len);
	assert_memory_equal(r.body, tbs, tbs_len);
	assert_memory_equal(r.issuer_key_hash, ca_spki, 32);
	const struct pki_cert *pwant[] = {P.psc, P.ca, P.root};
	check_extra(&r, P.psc_precert, pwant, 3);
	x509_result_cleanup(&r);
	const struct pki_cert *p4[] = {P.psc_precert, P.psc, P.ca, P.root};
	assert_int_equal(validate(v, p4, 4, 1, &r), 0);
	assert_memory_equal(r.body, tbs, tbs_len);
	assert_memory_equal(r.issuer_key_hash, ca_spki, 32);
	check_extra(&r, P.psc_precert, pwant, 3);
	x509_result_cleanup(&r);

	/* The PSC must be followed by the CA that issues the final cert. */
	const struct pki_cert *p2[] = {P.psc_precert, P.psc};
	expect_reject(v, p2, 2, 1, MN_EUNKNOWNANCHOR);
	/* A PSC further up is rejected. */
	const struct pki_cert *p5[] = {P.precert, P.ca, P.psc};
	expect_reject(v, p5, 3, 1, MN_EBADCHAIN);

	/* A precertificate issued by the root: issuer key hash of the implied
	 * root; and of the submitted root. */
	struct pki_cert *rp = pki_issue(P.root, "rootpre.example", NULL, 0, PKI_POISON,
					P.now - DAY, P.now + DAY);
	assert_non_null(rp);
	const struct pki_cert *r1[] = {rp}, *r2[] = {rp, P.root};
	assert_int_equal(validate(v, r1, 1, 1, &r), 0);
	assert_memory_equal(r.issuer_key_hash, root_spki, 32);
	const struct pki_cert *rwant[] = {P.root};
	check_extra(&r, rp, rwant, 1);
	x509_result_cleanup(&r);
	assert_int_equal(validate(v, r2, 2, 1, &r), 0);
	assert_memory_equal(r.issuer_key_hash, root_spki, 32);
	check_extra(&r, rp, rwant, 1);
	x509_result_cleanup(&r);
	pki_free(rp);

	OPENSSL_free(tbs);
	x509_validator_free(v);
}

static void test_cache(void **state)
{
	(void)state;
	struct x509_validator *v = new_validator();
	struct x509_stats st;
	struct x509_result r;

	/* A failing chain leaves nothing behind. */
	const struct pki_cert *bad[] = {P.expired, P.ca};
	expect_reject(v, bad, 2, 0, MN_EBADCERT);
	const struct pki_cert *badsig[] = {P.leaf_of_not_ca, P.ca};
	expect_reject(v, badsig, 2, 0, MN_EBADCHAIN);
	x509_validator_stats(v, &st);
	assert_int_equal(st.cache_entries, 0);
	assert_int_equal(st.cert_decodes, 1);

	const struct pki_cert *a[] = {P.leaf, P.ca}, *b[] = {P.leaf2, P.ca};
	assert_int_equal(validate(v, a, 2, 0, &r), 0);
	x509_result_cleanup(&r);
	x509_validator_stats(v, &st);
	assert_int_equal(st.cert_decodes, 2);
	assert_int_equal(st.cache_hits, 0);
	assert_int_equal(st.cache_entries, 1);
	uint64_t verifies = st.sig_verifies;

	/* The second chain with the same CA: no decode, one signature check. */
	assert_int_equal(validate(v, b, 2, 0, &r), 0);
	const struct pki_cert *want[] = {P.ca, P.root};
	check_extra(&r, NULL, want, 2);
	x509_result_cleanup(&r);
	x509_validator_stats(v, &st);
	assert_int_equal(st.cert_decodes, 2);
	assert_int_equal(st.cache_hits, 1);
	assert_int_equal(st.sig_verifies, verifies + 1);
	/* A broken leaf under a cached CA still fails. */
	uint8_t *bl = malloc(P.leaf2->der_len);
	assert_non_null(bl);
	memcpy(bl, P.leaf2->der, P.leaf2->der_len);
	bl[P.leaf2->der_len - 1] ^= 0x80;
	const uint8_t *d[] = {bl, P.ca->der};
	size_t l[] = {P.leaf2->der_len, P.ca->der_len};
	expect_reject_raw(v, d, l, 2, 0, MN_EBADCHAIN);
	free(bl);
	/* A PSC learned from a precert chain is still refused in add-chain. */
	const struct pki_cert *p[] = {P.psc_precert, P.psc, P.ca};
	assert_int_equal(validate(v, p, 3, 1, &r), 0);
	x509_result_cleanup(&r);
	const struct pki_cert *px[] = {P.psc_final_cert, P.psc, P.ca};
	expect_reject(v, px, 3, 0, MN_EBADCHAIN);
	x509_validator_free(v);

	/* A tiny cache evicts but stays correct. */
	struct x509_limits lim = {.cache_cap = 1};
	v = x509_validator_new(P.roots, &lim);
	assert_non_null(v);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(validate(v, a, 2, 0, &r), 0);
		x509_result_cleanup(&r);
		assert_int_equal(validate(v, p, 3, 1, &r), 0);
		x509_result_cleanup(&r);
	}
	x509_validator_stats(v, &st);
	assert_true(st.cache_entries <= 4);
	x509_validator_free(v);
}

/* Threads share one validator whose cache holds fewer intermediates than the
 * chains use, so entries are evicted while other threads hold them. */
#define NUM_CAS 7
struct thread_arg {
	struct x509_validator *v;
	struct pki_cert **cas, **leaves;
	int failures;
};

static void *hammer(void *p)
{
	struct thread_arg *a = p;
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < NUM_CAS; i++) {
			const uint8_t *der[] = {a->leaves[i]->der, a->cas[i]->der};
			size_t len[] = {a->leaves[i]->der_len, a->cas[i]->der_len};
			struct x509_result r;
			if (x509_validate(a->v, der, len, 2, 0, now_ms(), &r, NULL) != 0 ||
			    r.body_len != a->leaves[i]->der_len)
				a->failures++;
			x509_result_cleanup(&r);
			/* and a chain that must fail under the same CA */
			der[0] = a->leaves[(i + 1) % NUM_CAS]->der;
			len[0] = a->leaves[(i + 1) % NUM_CAS]->der_len;
			if (x509_validate(a->v, der, len, 2, 0, now_ms(), &r, NULL) != MN_EBADCHAIN)
				a->failures++;
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct pki_cert *cas[NUM_CAS], *leaves[NUM_CAS];
	for (int i = 0; i < NUM_CAS; i++) {
		char name[32];
		snprintf(name, sizeof(name), "Test CA %d", i);
		cas[i] = pki_issue(P.root, name, NULL, 0, PKI_CA, P.now - DAY, P.now + DAY);
		assert_non_null(cas[i]);
		leaves[i] = pki_issue(cas[i], "t.example", NULL, 0, 0, P.now - DAY, P.now + DAY);
		assert_non_null(leaves[i]);
	}
	struct x509_limits lim = {.cache_cap = 2};
	struct x509_validator *v = x509_validator_new(P.roots, &lim);
	assert_non_null(v);
	pthread_t th[4];
	struct thread_arg args[4];
	for (int t = 0; t < 4; t++) {
		args[t] = (struct thread_arg){.v = v, .cas = cas, .leaves = leaves};
		assert_int_equal(pthread_create(&th[t], NULL, hammer, &args[t]), 0);
	}
	for (int t = 0; t < 4; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(args[t].failures, 0);
	}
	struct x509_stats st;
	x509_validator_stats(v, &st);
	assert_true(st.cache_entries <= 4);
	assert_true(st.cert_decodes > NUM_CAS); /* evictions forced re-decoding */
	x509_validator_free(v);
	for (int i = 0; i < NUM_CAS; i++) {
		pki_free(cas[i]);
		pki_free(leaves[i]);
	}
}

/* --- S/MIME ---------------------------------------------------------------- */

/* A second PKI for S/MIME: its own root and CA; a root in both sets; and two
 * roots with the same name and key but different DER, one per set. */
static struct {
	struct pki_cert *root, *ca, *both_root, *both_ca, *twin_a, *twin_b, *twin_ca;
	struct x509_roots *smime, *tls2; /* smime: root, both_root, twin_b;
					  * tls2: P.root, both_root, twin_a */
} S;

static void free_smime_pki(void)
{
	pki_free(S.root);
	pki_free(S.ca);
	pki_free(S.both_root);
	pki_free(S.both_ca);
	pki_free(S.twin_a);
	pki_free(S.twin_b);
	pki_free(S.twin_ca);
	x509_roots_free(S.smime);
	x509_roots_free(S.tls2);
}

static struct x509_roots *roots_of(const struct pki_cert *const *certs, size_t num)
{
	struct x509_roots *r = NULL;
	size_t len;
	char *pem = pki_pem(certs, num, &len);
	assert_non_null(pem);
	assert_int_equal(x509_roots_load_pem(&r, NULL, (const uint8_t *)pem, len), 0);
	free(pem);
	assert_int_equal(x509_roots_count(r), num);
	return r;
}

static int smime_setup(void **state)
{
	(void)state;
	int64_t nb = P.now - DAY, na = P.now + 365 * DAY;
	S.root = pki_root("S/MIME Root", 0);
	S.both_root = pki_root("Both Root", 0);
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct pki_opts o = {.cn = "Twin Root", .flags = PKI_CA, .not_before = nb,
			     .not_after = na, .serial = 1, .key = k};
	S.twin_a = pki_issue_opts(NULL, &o);
	o.serial = 2;
	S.twin_b = pki_issue_opts(NULL, &o);
	EVP_PKEY_free(k);
	if (!S.root || !S.both_root || !S.twin_a || !S.twin_b)
		return -1;
	S.ca = pki_issue(S.root, "S/MIME CA", NULL, 0, PKI_CA, nb, na);
	S.both_ca = pki_issue(S.both_root, "Both CA", NULL, 0, PKI_CA, nb, na);
	S.twin_ca = pki_issue(S.twin_a, "Twin CA", NULL, 0, PKI_CA, nb, na);
	if (!S.ca || !S.both_ca || !S.twin_ca)
		return -1;
	const struct pki_cert *sm[] = {S.root, S.both_root, S.twin_b};
	const struct pki_cert *tl[] = {P.root, S.both_root, S.twin_a};
	S.smime = roots_of(sm, 3);
	S.tls2 = roots_of(tl, 3);
	return 0;
}

static int smime_teardown(void **state)
{
	(void)state;
	free_smime_pki();
	memset(&S, 0, sizeof(S));
	return 0;
}

/* smime_leaf issues a leaf under |ca| valid for 90 days. */
static struct pki_cert *smime_leaf(const struct pki_cert *ca, struct pki_opts *o)
{
	o->cn = o->cn ? o->cn : "mail user";
	o->not_before = P.now - DAY;
	o->not_after = P.now + 90 * DAY;
	struct pki_cert *c = pki_issue_opts(ca, o);
	assert_non_null(c);
	return c;
}

/* expect_reason validates |chain| and checks both the code and the reason. */
static void expect_reason(struct x509_validator *v, const struct pki_cert *const *chain,
			  size_t num, int precert, int want, const char *want_reason)
{
	const uint8_t *der[16];
	size_t len[16];
	struct x509_result r;
	const char *reason = NULL;
	for (size_t i = 0; i < num; i++) {
		der[i] = chain[i]->der;
		len[i] = chain[i]->der_len;
	}
	memset(&r, 0xa5, sizeof(r));
	int rc = x509_validate(v, der, len, num, precert, now_ms(), &r, &reason);
	if (rc != want || strcmp(reason, want_reason) != 0)
		print_error("got %s (%s), want %s (%s)\n", mn_err_name(rc), reason,
			    mn_err_name(want), want_reason);
	assert_int_equal(rc, want);
	assert_string_equal(reason, want_reason);
	assert_null(r.body);
	assert_null(r.names_mem);
	assert_int_equal(r.classes, 0);
}

static void expect_names(const struct x509_name *got, size_t num_got,
			 const char *const *want, size_t num_want)
{
	assert_int_equal(num_got, num_want);
	for (size_t i = 0; i < num_want; i++) {
		assert_int_equal(got[i].len, strlen(want[i]));
		assert_memory_equal(got[i].data, want[i], got[i].len);
	}
}

static const char kNoEku[] = "S/MIME leaf lacks emailProtection EKU";
static const char kNoAddr[] = "S/MIME leaf has no email address";

static void test_smime_leaves(void **state)
{
	(void)state;
	struct x509_validator *v = x509_validator_new2(P.roots, S.smime, NULL);
	assert_non_null(v);
	struct x509_result r;
	static const char *const alice[] = {"Alice.Smith@Example.COM"};
	static const char *const www[] = {"WWW.Example.com"};

	/* rfc822Name + emailProtection: S/MIME; domain lowercased, local kept. */
	struct pki_opts o = {.dns = alice, .num_dns = 1, .flags = PKI_EMAIL};
	struct pki_cert *good = smime_leaf(S.ca, &o);
	const struct pki_cert *c[] = {good, S.ca};
	assert_int_equal(validate(v, c, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_SMIME);
	assert_int_equal(r.smime_legacy, 0);
	assert_int_equal(r.names_incomplete, 0);
	static const char *const want_alice[] = {"Alice.Smith@example.com"};
	expect_names(r.emails, r.num_emails, want_alice, 1);
	assert_int_equal(r.num_dns_names, 0);
	assert_null(r.dns_names);
	const struct pki_cert *want_extra[] = {S.ca, S.root};
	check_extra(&r, NULL, want_extra, 2);
	x509_result_cleanup(&r);

	/* No EKU extension at all: not S/MIME (stricter than RFC 5280's "any"). */
	o = (struct pki_opts){.dns = alice, .num_dns = 1, .flags = PKI_EMAIL | PKI_NO_EKU};
	struct pki_cert *noeku = smime_leaf(S.ca, &o);
	const struct pki_cert *c_noeku[] = {noeku, S.ca};
	expect_reason(v, c_noeku, 2, 0, MN_EBADCERT, kNoEku);
	/* anyExtendedKeyUsage alone is not enough either. */
	o = (struct pki_opts){.dns = alice, .num_dns = 1, .flags = PKI_EMAIL,
			      .eku = "anyExtendedKeyUsage"};
	struct pki_cert *anyeku = smime_leaf(S.ca, &o);
	const struct pki_cert *c_any[] = {anyeku, S.ca};
	expect_reason(v, c_any, 2, 0, MN_EBADCERT, kNoEku);
	/* serverAuth only, with an email address. */
	o = (struct pki_opts){.dns = alice, .num_dns = 1, .flags = PKI_EMAIL,
			      .eku = "serverAuth"};
	struct pki_cert *server = smime_leaf(S.ca, &o);
	const struct pki_cert *c_server[] = {server, S.ca};
	expect_reason(v, c_server, 2, 0, MN_EBADCERT, kNoEku);
	/* emailProtection but no address anywhere (only a dNSName). */
	o = (struct pki_opts){.dns = www, .num_dns = 1, .eku = "emailProtection"};
	struct pki_cert *noaddr = smime_leaf(S.ca, &o);
	const struct pki_cert *c_noaddr[] = {noaddr, S.ca, S.root};
	expect_reason(v, c_noaddr, 3, 0, MN_EBADCERT, kNoAddr);
	/* ... or with SAN entries that are not addresses. */
	static const char *const junk[] = {"nobody", "@example.com", "carol@"};
	o = (struct pki_opts){.dns = junk, .num_dns = 3, .flags = PKI_EMAIL};
	struct pki_cert *junkaddr = smime_leaf(S.ca, &o);
	const struct pki_cert *c_junk[] = {junkaddr, S.ca};
	expect_reason(v, c_junk, 2, 0, MN_EBADCERT, kNoAddr);
	/* A TLS certificate (serverAuth, dNSName) offered under the S/MIME roots. */
	o = (struct pki_opts){.dns = www, .num_dns = 1};
	struct pki_cert *tls = smime_leaf(S.ca, &o);
	const struct pki_cert *c_tls[] = {tls, S.ca};
	expect_reason(v, c_tls, 2, 0, MN_EBADCERT, kNoEku);
	/* ... and with no S/MIME roots configured it has no anchor at all. */
	struct x509_validator *tls_only = x509_validator_new(P.roots, NULL);
	assert_non_null(tls_only);
	expect_reject(tls_only, c_tls, 2, 0, MN_EUNKNOWNANCHOR);
	expect_reject(tls_only, c, 2, 0, MN_EUNKNOWNANCHOR);
	x509_validator_free(tls_only);

	/* SmtpUTF8Mailbox otherName (RFC 9598): UTF-8 local part kept, domain's
	 * ASCII lowercased (its UTF-8 bytes untouched). */
	static const char *const box[] = {"J\xc3\xbcrgen@B\xc3\xbc" "cher.Example"};
	o = (struct pki_opts){.mailboxes = box, .num_mailboxes = 1, .eku = "emailProtection"};
	struct pki_cert *utf8 = smime_leaf(S.ca, &o);
	const struct pki_cert *c_utf8[] = {utf8, S.ca};
	assert_int_equal(validate(v, c_utf8, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_SMIME);
	static const char *const want_box[] = {"J\xc3\xbcrgen@b\xc3\xbc" "cher.example"};
	expect_names(r.emails, r.num_emails, want_box, 1);
	x509_result_cleanup(&r);
	/* A mailbox that is not UTF-8 is no address. */
	static const char *const badbox[] = {"\xff\xfe@example.org"};
	o = (struct pki_opts){.mailboxes = badbox, .num_mailboxes = 1,
			      .eku = "emailProtection"};
	struct pki_cert *badutf8 = smime_leaf(S.ca, &o);
	const struct pki_cert *c_badutf8[] = {badutf8, S.ca};
	expect_reason(v, c_badutf8, 2, 0, MN_EBADCERT, kNoAddr);

	/* Subject emailAddress only: accepted, flagged legacy. */
	o = (struct pki_opts){.subject_email = "Bob@Legacy.EXAMPLE", .eku = "emailProtection"};
	struct pki_cert *legacy = smime_leaf(S.ca, &o);
	const struct pki_cert *c_legacy[] = {legacy, S.ca};
	assert_int_equal(validate(v, c_legacy, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_SMIME);
	assert_int_equal(r.smime_legacy, 1);
	static const char *const want_bob[] = {"Bob@legacy.example"};
	expect_names(r.emails, r.num_emails, want_bob, 1);
	x509_result_cleanup(&r);
	/* A SAN address wins over the subject's: not legacy, subject ignored. */
	o = (struct pki_opts){.subject_email = "bob@legacy.example", .emails = alice,
			      .num_emails = 1, .eku = "emailProtection"};
	struct pki_cert *both_addr = smime_leaf(S.ca, &o);
	const struct pki_cert *c_both_addr[] = {both_addr, S.ca};
	assert_int_equal(validate(v, c_both_addr, 2, 0, &r), 0);
	assert_int_equal(r.smime_legacy, 0);
	expect_names(r.emails, r.num_emails, want_alice, 1);
	x509_result_cleanup(&r);

	/* Mixed SAN: DNS names lowercased, duplicates (after lowercasing)
	 * dropped, rfc822Name and mailbox both kept, in order. */
	static const char *const dns[] = {"WWW.Example.com", "www.example.COM", "a.example"};
	static const char *const mails[] = {"x@A.example", "x@a.EXAMPLE", "Y@b.example"};
	o = (struct pki_opts){.dns = dns, .num_dns = 3, .emails = mails, .num_emails = 3,
			      .mailboxes = box, .num_mailboxes = 1,
			      .eku = "serverAuth,emailProtection"};
	struct pki_cert *mixed = smime_leaf(S.ca, &o);
	const struct pki_cert *c_mixed[] = {mixed, S.ca};
	assert_int_equal(validate(v, c_mixed, 2, 0, &r), 0);
	static const char *const want_dns[] = {"www.example.com", "a.example"};
	static const char *const want_mails[] = {"x@a.example", "Y@b.example",
						 "J\xc3\xbcrgen@b\xc3\xbc" "cher.example"};
	expect_names(r.dns_names, r.num_dns_names, want_dns, 2);
	expect_names(r.emails, r.num_emails, want_mails, 3);
	assert_int_equal(r.names_incomplete, 0);
	x509_result_cleanup(&r);

	/* An S/MIME precertificate (add-pre-chain) is S/MIME too. */
	o = (struct pki_opts){.dns = alice, .num_dns = 1, .flags = PKI_EMAIL | PKI_POISON};
	struct pki_cert *pre = smime_leaf(S.ca, &o);
	const struct pki_cert *c_pre[] = {pre, S.ca};
	assert_int_equal(validate(v, c_pre, 2, 1, &r), 0);
	assert_int_equal(r.entry_type, CT_PRECERT_ENTRY);
	assert_int_equal(r.classes, X509_CLASS_SMIME);
	expect_names(r.emails, r.num_emails, want_alice, 1);
	x509_result_cleanup(&r);
	o.flags = PKI_POISON | PKI_NO_EKU | PKI_EMAIL;
	struct pki_cert *pre_noeku = smime_leaf(S.ca, &o);
	const struct pki_cert *c_pre_noeku[] = {pre_noeku, S.ca};
	expect_reason(v, c_pre_noeku, 2, 1, MN_EBADCERT, kNoEku);

	struct pki_cert *all[] = {good, noeku, anyeku, server, noaddr, junkaddr, tls, utf8,
				  badutf8, legacy, both_addr, mixed, pre, pre_noeku};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		pki_free(all[i]);
	x509_validator_free(v);
}

/* Chains under both sets, and the TLS path left as it was. */
static void test_smime_both(void **state)
{
	(void)state;
	struct x509_validator *v = x509_validator_new2(S.tls2, S.smime, NULL);
	assert_non_null(v);
	struct x509_result r;
	static const char *const carol[] = {"carol@both.example"};
	static const char *const host[] = {"Mail.Both.Example"};

	/* A leaf that qualifies, under the root in both bundles: both classes. */
	struct pki_opts o = {.dns = host, .num_dns = 1, .emails = carol, .num_emails = 1,
			     .eku = "serverAuth,emailProtection"};
	struct pki_cert *dual = smime_leaf(S.both_ca, &o);
	const struct pki_cert *c_dual[] = {dual, S.both_ca};
	assert_int_equal(validate(v, c_dual, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_TLS | X509_CLASS_SMIME);
	expect_names(r.emails, r.num_emails, carol, 1);
	static const char *const want_host[] = {"mail.both.example"};
	expect_names(r.dns_names, r.num_dns_names, want_host, 1);
	const struct pki_cert *want_extra[] = {S.both_ca, S.both_root};
	check_extra(&r, NULL, want_extra, 2);
	x509_result_cleanup(&r);
	/* The same with the root included. */
	const struct pki_cert *c_dual3[] = {dual, S.both_ca, S.both_root};
	assert_int_equal(validate(v, c_dual3, 3, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_TLS | X509_CLASS_SMIME);
	x509_result_cleanup(&r);

	/* Leaves that do not qualify for S/MIME stay TLS, without an error. */
	o = (struct pki_opts){.dns = host, .num_dns = 1};
	struct pki_cert *server = smime_leaf(S.both_ca, &o);
	const struct pki_cert *c_server[] = {server, S.both_ca};
	assert_int_equal(validate(v, c_server, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_TLS);
	assert_int_equal(r.num_emails, 0);
	expect_names(r.dns_names, r.num_dns_names, want_host, 1);
	x509_result_cleanup(&r);
	o = (struct pki_opts){.dns = host, .num_dns = 1, .eku = "emailProtection"};
	struct pki_cert *noaddr = smime_leaf(S.both_ca, &o);
	const struct pki_cert *c_noaddr[] = {noaddr, S.both_ca};
	assert_int_equal(validate(v, c_noaddr, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_TLS);
	assert_int_equal(r.smime_legacy, 0);
	x509_result_cleanup(&r);

	/* Two roots, same name and key, different DER: twin_a in TLS, twin_b in
	 * S/MIME; each verifies the CA, so the chain is both (and the TLS root is
	 * the one appended). */
	struct pki_cert *twin_leaf = smime_leaf(S.twin_ca, &(struct pki_opts){
		.emails = carol, .num_emails = 1, .eku = "emailProtection"});
	const struct pki_cert *c_twin[] = {twin_leaf, S.twin_ca};
	assert_int_equal(validate(v, c_twin, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_TLS | X509_CLASS_SMIME);
	const struct pki_cert *want_twin[] = {S.twin_ca, S.twin_a};
	check_extra(&r, NULL, want_twin, 2);
	x509_result_cleanup(&r);
	/* Explicitly ending at twin_b: the S/MIME root only. */
	const struct pki_cert *c_twin_b[] = {twin_leaf, S.twin_ca, S.twin_b};
	assert_int_equal(validate(v, c_twin_b, 3, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_SMIME);
	x509_result_cleanup(&r);

	/* An S/MIME leaf under a TLS-only root is TLS (its addresses not
	 * copied), as before this feature. */
	struct pki_cert *tls_mail = smime_leaf(P.ca, &(struct pki_opts){
		.dns = carol, .num_dns = 1, .flags = PKI_EMAIL});
	const struct pki_cert *c_tls_mail[] = {tls_mail, P.ca};
	assert_int_equal(validate(v, c_tls_mail, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_TLS);
	assert_int_equal(r.num_emails, 0);
	assert_null(r.emails);
	x509_result_cleanup(&r);

	/* The TLS path does no S/MIME work: the same signature checks as a
	 * TLS-only validator, and the same result bytes. */
	struct x509_validator *v1 = x509_validator_new(P.roots, NULL);
	struct x509_validator *v2 = x509_validator_new2(P.roots, S.smime, NULL);
	assert_non_null(v1);
	assert_non_null(v2);
	const struct pki_cert *c_tls[] = {P.leaf, P.ca};
	const struct pki_cert *c_direct[] = {P.root_leaf};
	struct x509_result a, b;
	struct x509_stats s1, s2;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(validate(v1, i ? c_direct : c_tls, i ? 1 : 2, 0, &a), 0);
		assert_int_equal(validate(v2, i ? c_direct : c_tls, i ? 1 : 2, 0, &b), 0);
		assert_int_equal(a.classes, X509_CLASS_TLS);
		assert_int_equal(b.classes, X509_CLASS_TLS);
		assert_int_equal(a.extra_len, b.extra_len);
		assert_memory_equal(a.extra, b.extra, a.extra_len);
		assert_memory_equal(a.dedup_key, b.dedup_key, 32);
		x509_result_cleanup(&a);
		x509_result_cleanup(&b);
	}
	x509_validator_stats(v1, &s1);
	x509_validator_stats(v2, &s2);
	assert_int_equal(s1.sig_verifies, s2.sig_verifies);
	assert_int_equal(s1.cert_decodes, s2.cert_decodes);
	x509_validator_free(v1);
	x509_validator_free(v2);
	/* Even where an S/MIME root (twin_b) could also verify the chain, a
	 * serverAuth leaf costs no S/MIME signature check. */
	v1 = x509_validator_new(S.tls2, NULL);
	v2 = x509_validator_new2(S.tls2, S.smime, NULL);
	assert_non_null(v1);
	assert_non_null(v2);
	struct pki_cert *twin_tls = smime_leaf(S.twin_ca, &(struct pki_opts){
		.dns = host, .num_dns = 1});
	const struct pki_cert *c_twin_tls[] = {twin_tls, S.twin_ca};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(validate(v1, c_twin_tls, 2, 0, &a), 0);
		assert_int_equal(validate(v2, c_twin_tls, 2, 0, &b), 0);
		assert_int_equal(b.classes, X509_CLASS_TLS);
		x509_result_cleanup(&a);
		x509_result_cleanup(&b);
	}
	x509_validator_stats(v1, &s1);
	x509_validator_stats(v2, &s2);
	assert_int_equal(s1.sig_verifies, s2.sig_verifies);
	x509_validator_free(v1);
	x509_validator_free(v2);
	pki_free(twin_tls);

	/* No roots at all: nothing validates. */
	struct x509_validator *none = x509_validator_new2(NULL, NULL, NULL);
	assert_non_null(none);
	expect_reject(none, c_dual3, 3, 0, MN_EUNKNOWNANCHOR);
	x509_validator_free(none);
	/* x509_roots_contains */
	assert_true(x509_roots_contains(S.smime, S.twin_b->der, S.twin_b->der_len));
	assert_false(x509_roots_contains(S.smime, S.twin_a->der, S.twin_a->der_len));
	assert_false(x509_roots_contains(NULL, S.twin_a->der, S.twin_a->der_len));

	pki_free(dual);
	pki_free(server);
	pki_free(noaddr);
	pki_free(twin_leaf);
	pki_free(tls_mail);
	x509_validator_free(v);
}

/* Names are bounded: 150 dNSNames give the first 100, flagged incomplete; an
 * overlong one is skipped. */
static void test_names_bounds(void **state)
{
	(void)state;
	enum { N = 150 };
	char buf[N][32], big[300];
	const char *dns[N + 1];
	for (int i = 0; i < N; i++) {
		snprintf(buf[i], sizeof(buf[i]), "h%d.example", i);
		dns[i] = buf[i];
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct x509_validator *v = x509_validator_new(P.roots, NULL);
	assert_non_null(v);
	struct x509_result r;
	struct pki_cert *many = smime_leaf(P.ca, &(struct pki_opts){.dns = dns, .num_dns = N});
	const struct pki_cert *c[] = {many, P.ca};
	assert_int_equal(validate(v, c, 2, 0, &r), 0);
	assert_int_equal(r.num_dns_names, X509_MAX_NAMES);
	assert_int_equal(r.names_incomplete, 1);
	expect_names(r.dns_names, r.num_dns_names, dns, X509_MAX_NAMES);
	x509_result_cleanup(&r);
	dns[0] = big;
	dns[1] = "ok.example";
	struct pki_cert *longname = smime_leaf(P.ca, &(struct pki_opts){.dns = dns, .num_dns = 2});
	const struct pki_cert *c2[] = {longname, P.ca};
	assert_int_equal(validate(v, c2, 2, 0, &r), 0);
	expect_names(r.dns_names, r.num_dns_names, dns + 1, 1);
	assert_int_equal(r.names_incomplete, 1);
	x509_result_cleanup(&r);
	pki_free(many);
	pki_free(longname);
	x509_validator_free(v);
}

/* The openssl command line agrees about the test certificates: the mailbox is
 * an SmtpUTF8Mailbox otherName, and "openssl verify -purpose smimesign" takes
 * the emailProtection leaf and refuses the serverAuth one. */
static void test_smime_openssl(void **state)
{
	(void)state;
	char dir[] = "/tmp/mn-smime-XXXXXX", path[256], cmd[1024], out[4096];
	assert_non_null(mkdtemp(dir));
	static const char *const box[] = {"J\xc3\xbcrgen@b\xc3\xbc" "cher.example"};
	static const char *const alice[] = {"alice@example.com"};
	struct pki_cert *utf8 = smime_leaf(S.ca, &(struct pki_opts){
		.mailboxes = box, .num_mailboxes = 1, .eku = "emailProtection"});
	struct pki_cert *server = smime_leaf(S.ca, &(struct pki_opts){
		.dns = alice, .num_dns = 1, .flags = PKI_EMAIL, .eku = "serverAuth"});
	const struct pki_cert *root[] = {S.root}, *ca[] = {S.ca}, *l1[] = {utf8},
			      *l2[] = {server};
	snprintf(path, sizeof(path), "%s/root.pem", dir);
	assert_int_equal(pki_write_pem(path, root, 1), 0);
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	assert_int_equal(pki_write_pem(path, ca, 1), 0);
	snprintf(path, sizeof(path), "%s/utf8.pem", dir);
	assert_int_equal(pki_write_pem(path, l1, 1), 0);
	snprintf(path, sizeof(path), "%s/server.pem", dir);
	assert_int_equal(pki_write_pem(path, l2, 1), 0);

	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s/utf8.pem -noout -ext subjectAltName 2>&1",
		 dir);
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "SmtpUTF8Mailbox"));
	assert_non_null(strstr(out, "b\xc3\xbc" "cher.example"));
	snprintf(cmd, sizeof(cmd),
		 "openssl verify -purpose smimesign -CAfile %s/root.pem -untrusted %s/ca.pem "
		 "%s/utf8.pem 2>&1", dir, dir, dir);
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 0);
	snprintf(cmd, sizeof(cmd),
		 "openssl verify -purpose smimesign -CAfile %s/root.pem -untrusted %s/ca.pem "
		 "%s/server.pem 2>&1", dir, dir, dir);
	assert_int_not_equal(run_cmd(cmd, out, sizeof(out)), 0);

	struct x509_validator *v = x509_validator_new2(NULL, S.smime, NULL);
	assert_non_null(v);
	struct x509_result r;
	const struct pki_cert *c1[] = {utf8, S.ca}, *c2[] = {server, S.ca};
	assert_int_equal(validate(v, c1, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_SMIME);
	x509_result_cleanup(&r);
	expect_reason(v, c2, 2, 0, MN_EBADCERT, kNoEku);
	x509_validator_free(v);
	pki_free(utf8);
	pki_free(server);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* --- leaves beyond the common shapes ------------------------------------ */

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

/* tbs_fields splits P.leaf's TBSCertificate into its top-level elements
 * (version, serial, signature, issuer, validity, subject, spki, extensions). */
static size_t tbs_fields(struct cbs *el, size_t max)
{
	struct cbs in, cert, tbs;
	size_t n = 0;
	cbs_init(&in, P.leaf->der, P.leaf->der_len);
	assert_true(cbs_get_asn1(&in, &cert, CBS_ASN1_SEQUENCE));
	assert_true(cbs_get_asn1(&cert, &tbs, CBS_ASN1_SEQUENCE));
	while (cbs_len(&tbs) > 0) {
		assert_true(n < max);
		assert_true(cbs_get_any_asn1_element(&tbs, &el[n++], NULL, NULL));
	}
	return n;
}

/* sign_tbs makes a Certificate of the TBSCertificate contents |tbs| signed by
 * P.ca's key with ECDSA-SHA256 (the algorithm P.leaf's TBS names), with
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
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, P.ca->key), 1);
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

/* leaf_with rebuilds P.leaf's TBS with field |k| replaced by |rep| (NULL:
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

/* openssl_verdict: what the documented rules say of a leaf under P.ca, judged
 * by OpenSSL directly: MN_EMALFORMED unless d2i_X509 takes all of it with
 * valid extensions and readable dates, else 0 if X509_verify accepts P.ca's signature, else
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
		want = X509_verify(x, X509_get0_pubkey(P.ca->x)) == 1 ? 0 : MN_EBADCHAIN;
	X509_free(x);
	return want;
}

/* expect_leaf validates [|d|, P.ca] and checks the outcome is |want| with
 * reason |why| (NULL: any). */
static void expect_leaf(struct x509_validator *v, const struct der *d, int want,
			const char *why)
{
	const uint8_t *der[] = {d->b, P.ca->der};
	size_t len[] = {d->len, P.ca->der_len};
	struct x509_result r;
	const char *reason = NULL;
	int rc = x509_validate(v, der, len, 2, 0, now_ms(), &r, &reason);
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
	c->x = X509_dup(P.leaf->x);
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
	assert_int_equal(validate(v, cg, 2, 0, &r), 0);
	assert_int_equal(r.body_len, good->der_len);
	assert_memory_equal(r.body, good->der, good->der_len);
	x509_result_cleanup(&r);
	expect_reject(v, cb, 2, 0, MN_EBADCHAIN);
	pki_free(good);
	pki_free(bad);
}

static void test_leaf_signatures(void **state)
{
	(void)state;
	int64_t nb = P.now - DAY, na = P.now + 90 * DAY;
	struct x509_validator *v = new_validator();
	struct pki_cert *rsa_ca = pki_issue(P.root, "Test CA", NULL, 0, PKI_CA | PKI_RSA, nb, na);
	EVP_PKEY *rsa_other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *ec_other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *ed_other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(rsa_ca);
	assert_true(rsa_other && ec_other && ed && ed_other);
	struct pki_opts o = {
		.cn = "Test CA", .flags = PKI_CA, .not_before = nb, .not_after = na, .key = ed,
	};
	struct pki_cert *ed_ca = pki_issue_opts(P.root, &o);
	assert_non_null(ed_ca);
	EVP_PKEY_free(ed_ca->key); /* pki_issue_opts up-ref'd it */
	ed_ca->key = ed;
	ed = NULL;

	/* ECDSA under the P-256 CA, common and less common digests. */
	expect_signed(v, P.ca, ec_other, EVP_sha256(), 0);
	expect_signed(v, P.ca, ec_other, EVP_sha384(), 0);
	expect_signed(v, P.ca, ec_other, EVP_sha512(), 0);
	expect_signed(v, P.ca, ec_other, EVP_sha224(), 0);
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
	struct pki_cert *mixed = resign_leaf(rsa_ca, P.ca->key, EVP_sha256(), 0);
	const struct pki_cert *cm[] = {mixed, rsa_ca};
	expect_reject(v, cm, 2, 0, MN_EBADCHAIN);
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
	struct x509_validator *v = new_validator();
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
	/* keyUsage and basicConstraints in place of P.leaf's own (it has both):
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

/* The issuer rules of x509_path.c on a generated PKI (PKITS covers them on
 * its own certificates, test_pkits.c), and the one PKITS cannot: a
 * Precertificate Signing Certificate does not count against its issuer's
 * pathLenConstraint (docs/validation.md). */
static void test_path_rules(void **state)
{
	(void)state;
	static const char *const dns[] = {"pl.example"};
	int64_t nb = P.now - DAY, na = P.now + 90 * DAY;
	struct x509_validator *v = new_validator();
	struct x509_result r;
	struct pki_cert *ca0 = pki_issue(P.root, "CA pathlen 0", NULL, 0, PKI_CA | PKI_PATHLEN0,
					 nb, na);
	struct pki_cert *sub = pki_issue(ca0, "Sub CA", NULL, 0, PKI_CA, nb, na);
	struct pki_cert *leaf_sub = pki_issue(sub, "pl.example", dns, 1, 0, nb, na);
	struct pki_cert *leaf_ca0 = pki_issue(ca0, "pl.example", dns, 1, 0, nb, na);
	struct pki_cert *psc = pki_issue(ca0, "CA pathlen 0 PSC", NULL, 0, PKI_PSC, nb, na);
	struct pki_cert *pre = pki_issue(psc, "pl.example", dns, 1, PKI_POISON, nb, na);
	struct pki_cert *nosign = pki_issue(P.root, "No certSign CA", NULL, 0,
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
	assert_int_equal(validate(v, ok, 2, 0, &r), 0);
	x509_result_cleanup(&r);
	const struct pki_cert *deep[] = {leaf_sub, sub, ca0, P.root};
	assert_int_equal(validate(v, deep, 3, 0, &r), MN_EBADCHAIN);
	assert_int_equal(validate(v, deep, 4, 0, &r), MN_EBADCHAIN);
	/* the sub-CA is fine as the end of a chain of its own */
	const struct pki_cert *subchain[] = {sub, ca0};
	assert_int_equal(validate(v, subchain, 2, 0, &r), 0);
	x509_result_cleanup(&r);

	/* a PSC under the pathlen-0 CA stands for that CA: accepted */
	const struct pki_cert *pchain[] = {pre, psc, ca0};
	assert_int_equal(validate(v, pchain, 3, 1, &r), 0);
	assert_int_equal(r.entry_type, CT_PRECERT_ENTRY);
	uint8_t ikh[32];
	assert_int_equal(pki_spki_sha256(ca0, ikh), 0);
	assert_memory_equal(r.issuer_key_hash, ikh, 32);
	x509_result_cleanup(&r);

	/* keyUsage without keyCertSign: not an issuer */
	const struct pki_cert *ns[] = {leaf_nosign, nosign};
	assert_int_equal(validate(v, ns, 2, 0, &r), MN_EBADCHAIN);

	/* a configured root before the end of the chain */
	const struct pki_cert *past[] = {P.leaf, P.ca, P.root, P.root};
	assert_int_equal(validate(v, past, 4, 0, &r), MN_EBADCHAIN);

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
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_threads),
		cmocka_unit_test_setup_teardown(test_smime_leaves, smime_setup, smime_teardown),
		cmocka_unit_test_setup_teardown(test_smime_both, smime_setup, smime_teardown),
		cmocka_unit_test(test_names_bounds),
		cmocka_unit_test_setup_teardown(test_smime_openssl, smime_setup, smime_teardown),
		cmocka_unit_test(test_leaf_signatures),
		cmocka_unit_test(test_leaf_malformed),
		cmocka_unit_test(test_path_rules),
	};
	if (make_pki() != 0) {
		fprintf(stderr, "test_x509: cannot build the test PKI\n");
		free_pki();
		return 1;
	}
	atexit(free_pki);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
