/* test_pkits.c: NIST's Public Key Interoperability Test Suite (PKITS, section
 * 4 of its document) against logd's chain validation, in Debian's
 * python3-cryptography-vectors (x509/PKITS_data/certs).
 *
 * PKITS gives certificates, not paths: the file of an end entity names its
 * test (ValidpathLenConstraintTest7EE.crt: test 4.6.7, expected valid), and
 * the CA certificates are shared between tests. So every path from each end
 * entity to the trust anchor is built here, by name and by key identifier
 * (authorityKeyIdentifier to subjectKeyIdentifier, which is what tells apart
 * the self-issued certificates of the key rollover tests), and each is
 * submitted. logd's answer for a test is whether any of its paths is
 * accepted, which is what a submitter trying them all would get; it must be
 * PKITS's answer for a rule logd enforces, and "accepted" for a rule the
 * policy ignores (docs/validation.md; the table below names the rule of every
 * test).
 *
 * Every path is also given, with and without its root and to add-chain and
 * add-pre-chain, to the policy as OpenSSL's X509_verify_cert runs it
 * (tests/lib/x509ref.h): the answers must be the same for every one. The clock
 * is 2020-01-01, inside every PKITS certificate's validity except the expired
 * ones the tests are about. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>

#include "common/err.h"
#include "entry/x509.h"
#include "tests/lib/vectors.h"
#include "tests/lib/x509ref.h"

#define NOW_S 1577836800LL /* 2020-01-01T00:00:00Z */
#define MAX_CERTS 512
#define MAX_DEPTH 9
#define MAX_PATHS 64

enum rule { ENFORCED, IGNORED, DEVIATION };

/* The rule each test exercises, by a piece of its end entity's file name,
 * first match wins. ENFORCED: logd gives PKITS's answer. IGNORED: logd
 * accepts, whatever PKITS says. DEVIATION: logd refuses a path PKITS calls
 * valid (docs/validation.md says why). */
static const struct {
	const char *name;
	const char *section;
	enum rule rule;
	const char *why;
} kRules[] = {
	/* 4.5: revoked end entities under key rollover (revocation ignored) */
	{"InvalidBasicSelfIssuedOldWithNewTest2", "4.5.2", IGNORED, "revocation"},
	{"InvalidBasicSelfIssuedNewWithOldTest5", "4.5.5", IGNORED, "revocation"},
	{"InvalidBasicSelfIssuedCRLSigningKeyTest7", "4.5.7", IGNORED, "revocation"},
	{"BasicSelfIssued", "4.5", ENFORCED, "self-issued certificates"},
	/* 4.4, 4.14, 4.15: CRLs (before 4.1: "BadCRLSignatureTest") */
	{"CRL", "4.4", IGNORED, "revocation"},
	{"issuingDistributionPoint", "4.4.10", IGNORED, "revocation"},
	/* 4.1 */
	{"DSAParameterInheritance", "4.1.5", DEVIATION, "DSA parameter inheritance"},
	{"SignatureTest", "4.1", ENFORCED, "signatures"},
	{"SignaturesTest", "4.1", ENFORCED, "signatures"},
	{"ValidCertificatePathTest1", "4.1.1", ENFORCED, "signatures"},
	/* 4.2 */
	{"CAnotBeforeDate", "4.2.1", IGNORED, "validity of issuers"},
	{"CAnotAfterDate", "4.2.5", IGNORED, "validity of issuers"},
	{"EEnotBeforeDate", "4.2.2", IGNORED, "leaf notBefore (RFC 6962 section 3.1)"},
	{"notBeforeDate", "4.2", ENFORCED, "leaf dates"},
	{"notAfterDate", "4.2", ENFORCED, "leaf notAfter"},
	/* 4.3 */
	{"NameChaining", "4.3", ENFORCED, "name chaining"},
	{"NameUIDs", "4.3.6", ENFORCED, "name chaining"},
	{"AttributeTypes", "4.3", ENFORCED, "name chaining"},
	{"UTF8String", "4.3", ENFORCED, "name chaining"},
	{"Rollover", "4.3.10", ENFORCED, "name chaining"},
	/* 4.6, 4.7 */
	{"basicConstraints", "4.6", ENFORCED, "basicConstraints"},
	{"cAFalse", "4.6", ENFORCED, "basicConstraints cA"},
	{"pathLenConstraint", "4.6", ENFORCED, "pathLenConstraint"},
	{"keyCertSignFalse", "4.7", ENFORCED, "keyUsage keyCertSign"},
	{"cRLSignFalse", "4.7", IGNORED, "revocation (CRL signing key usage)"},
	{"keyUsageNotCritical", "4.7.3", ENFORCED, "keyUsage keyCertSign"},
	{"Revoked", "4.4", IGNORED, "revocation"},
	{"SerialNumber", "4.4", IGNORED, "revocation"},
	{"distributionPoint", "4.14", IGNORED, "revocation"},
	{"onlyContains", "4.14", IGNORED, "revocation"},
	{"onlySomeReasons", "4.14", IGNORED, "revocation"},
	{"IDPwithindirectCRL", "4.14", IGNORED, "revocation"},
	{"cRLIssuer", "4.14", IGNORED, "revocation"},
	/* 4.8 - 4.12 */
	{"Polic", "4.8-4.10", IGNORED, "certificate policies"},
	{"Mapping", "4.10", IGNORED, "policy mappings"},
	{"requireExplicitPolicy", "4.9", IGNORED, "policy constraints"},
	{"inhibitPolicyMapping", "4.11", IGNORED, "policy constraints"},
	{"inhibitAnyPolicy", "4.12", IGNORED, "inhibitAnyPolicy"},
	{"AnyPolicy", "4.8", IGNORED, "certificate policies"},
	{"UserNoticeQualifier", "4.8", IGNORED, "certificate policies"},
	{"CPSPointerQualifier", "4.8", IGNORED, "certificate policies"},
	/* 4.13 */
	{"nameConstraints", "4.13", IGNORED, "name constraints"},
	/* 4.16 */
	{"UnknownCriticalCertificateExtension", "4.16.2", IGNORED,
	 "unknown critical extensions"},
	{"UnknownNotCriticalCertificateExtension", "4.16.1", ENFORCED, "extensions"},
};

struct cert {
	char name[128];
	uint8_t *der;
	size_t len;
	X509 *x;
	int ee;
};

static struct {
	struct cert c[MAX_CERTS];
	size_t num;
	const struct cert *anchor;
	struct x509_roots *roots;
	struct x509ref *ref;
	struct x509_validator *v, *vslow, *vsmime;
	size_t num_paths, num_checks, num_smime_refused;
} T;

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct cert *)a)->name, ((const struct cert *)b)->name);
}

static int setup(void **state)
{
	char dir[512], rel[512];
	(void)state;
	if (vectors_dir() == NULL) {
		fprintf(stderr, "python3-cryptography-vectors is missing (scripts/deps.sh)\n");
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/x509/PKITS_data/certs", vectors_dir());
	DIR *d = opendir(dir);
	struct dirent *e;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL && T.num < MAX_CERTS) {
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".crt") != 0 || n >= sizeof(T.c[0].name))
			continue;
		struct cert *c = &T.c[T.num];
		snprintf(c->name, sizeof(c->name), "%.*s", (int)(n - 4), e->d_name);
		snprintf(rel, sizeof(rel), "x509/PKITS_data/certs/%s", e->d_name);
		if ((c->der = vectors_read(rel, &c->len)) == NULL)
			return -1;
		const unsigned char *p = c->der;
		if ((c->x = d2i_X509(NULL, &p, (long)c->len)) == NULL)
			return -1;
		c->ee = n > 6 && strcmp(e->d_name + n - 6, "EE.crt") == 0;
		T.num++;
	}
	closedir(d);
	qsort(T.c, T.num, sizeof(T.c[0]), cmp_name);
	for (size_t i = 0; i < T.num; i++)
		if (strcmp(T.c[i].name, "TrustAnchorRootCertificate") == 0)
			T.anchor = &T.c[i];
	if (T.num < 400 || T.anchor == NULL)
		return -1;
	/* the trust anchor as logd's one TLS root */
	BIO *b = BIO_new(BIO_s_mem());
	char *pem;
	if (b == NULL || !PEM_write_bio_X509(b, T.anchor->x))
		return -1;
	long pem_len = BIO_get_mem_data(b, &pem);
	int rc = x509_roots_load_pem(&T.roots, NULL, (const uint8_t *)pem, (size_t)pem_len);
	BIO_free(b);
	const uint8_t *rd = T.anchor->der;
	T.ref = x509ref_new(&rd, &T.anchor->len, 1);
	T.v = x509_validator_new(T.roots, NULL);
	const struct x509_limits slow = {.slow = 1};
	T.vslow = x509_validator_new(T.roots, &slow);
	/* the same anchor as the one S/MIME root instead */
	T.vsmime = x509_validator_new2(NULL, T.roots, NULL);
	return rc == 0 && T.ref != NULL && T.v != NULL && T.vslow != NULL && T.vsmime != NULL
		       ? 0
		       : -1;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < T.num; i++) {
		free(T.c[i].der);
		X509_free(T.c[i].x);
	}
	x509_validator_free(T.v);
	x509_validator_free(T.vslow);
	x509_validator_free(T.vsmime);
	x509_roots_free(T.roots);
	x509ref_free(T.ref);
	return 0;
}

/* may_issue: |parent| is a candidate issuer of |child|: its subject is the
 * child's issuer, or its subjectKeyIdentifier is the child's authority key
 * identifier. */
static int may_issue(const struct cert *parent, const struct cert *child)
{
	if (X509_NAME_cmp(X509_get_subject_name(parent->x), X509_get_issuer_name(child->x)) == 0)
		return 1;
	const ASN1_OCTET_STRING *akid = X509_get0_authority_key_id(child->x);
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(parent->x);
	return akid != NULL && skid != NULL && ASN1_OCTET_STRING_cmp(akid, skid) == 0;
}

struct paths {
	const struct cert *p[MAX_PATHS][MAX_DEPTH];
	size_t len[MAX_PATHS];
	size_t num;
};

/* find_paths extends |cur|[0..depth) (cur[0] the end entity) by every
 * candidate issuer not already on it, recording each path that reaches a
 * certificate the trust anchor may issue. */
static void find_paths(const struct cert **cur, size_t depth, struct paths *out)
{
	const struct cert *top = cur[depth - 1];
	if (may_issue(T.anchor, top) && out->num < MAX_PATHS) {
		memcpy(out->p[out->num], cur, depth * sizeof(*cur));
		out->len[out->num++] = depth;
	}
	if (depth == MAX_DEPTH - 1)
		return;
	for (size_t i = 0; i < T.num; i++) {
		const struct cert *c = &T.c[i];
		int seen = c->ee || c == T.anchor;
		for (size_t k = 0; k < depth && !seen; k++)
			seen = cur[k] == c;
		if (!seen && may_issue(c, top)) {
			cur[depth] = c;
			find_paths(cur, depth + 1, out);
		}
	}
}

/* write_seed: with MN_WRITE_CORPUS=DIR in the environment, the first path of
 * each test becomes a seed of fuzz/corpus/x509_diff (selector 1: the PKITS
 * anchor), named DIR/pkits-<end entity>. */
static void write_seed(const char *ee, const uint8_t *const *der, const size_t *lens,
		       size_t n, int skip)
{
	const char *dir = getenv("MN_WRITE_CORPUS");
	char p[1024];
	FILE *f;
	if (dir == NULL || skip)
		return;
	snprintf(p, sizeof(p), "%s/pkits-%s", dir, ee);
	if ((f = fopen(p, "wbx")) == NULL)
		return; /* not the first path */
	fputc(1, f);
	for (size_t i = 0; i < n; i++) {
		fputc((int)(lens[i] >> 8), f);
		fputc((int)(lens[i] & 0xff), f);
		fwrite(der[i], 1, lens[i], f);
	}
	fclose(f);
}

/* submit gives one path (plus the anchor if |with_root|) to x509_validate on
 * its fast path, to x509_validate on OpenSSL's whole path (x509_limits.slow)
 * and to the reference (X509_verify_cert) and checks that they agree: the
 * two x509_validate answers in every byte, the reference in accept or reject;
 * returns the answer (1: accepted). The chain rules are the same for the
 * S/MIME root set: with the anchor as an S/MIME root, a refused chain is
 * refused for the same reason, and an accepted one is refused only by the
 * S/MIME leaf rules (PKITS leaves have no emailProtection EKU). */
static int submit(const struct cert *const *path, size_t len, int with_root, int precert)
{
	const uint8_t *der[MAX_DEPTH + 1];
	size_t lens[MAX_DEPTH + 1], n = 0;
	struct x509_result r, rs;
	const char *why = NULL, *ref_why = NULL, *slow_why = NULL;
	for (size_t i = 0; i < len; i++) {
		der[n] = path[i]->der;
		lens[n++] = path[i]->len;
	}
	if (with_root) {
		der[n] = T.anchor->der;
		lens[n++] = T.anchor->len;
	}
	write_seed(path[0]->name, der, lens, n, with_root || precert);
	int rc = x509_validate(T.v, der, lens, n, precert, (uint64_t)NOW_S * 1000, &r, &why);
	int rs_rc = x509_validate(T.vslow, der, lens, n, precert, (uint64_t)NOW_S * 1000, &rs,
				  &slow_why);
	int ref = x509ref_verify(T.ref, der, lens, n, precert, NOW_S, &ref_why);
	T.num_checks++;
	const char *diff = x509ref_same_outcome(rc, why, &r, rs_rc, slow_why, &rs);
	if (diff != NULL) {
		fprintf(stderr, "FAST/SLOW DIFFER in %s: %s (%zu certs%s, %s): fast %d (%s), "
			"slow %d (%s)\n", diff, path[0]->name, n, with_root ? ", root included" : "",
			precert ? "add-pre-chain" : "add-chain", rc, why, rs_rc, slow_why);
		fail();
	}
	x509_result_cleanup(&rs);
	struct x509_result rm;
	const char *sm_why = NULL;
	int sm = x509_validate(T.vsmime, der, lens, n, precert, (uint64_t)NOW_S * 1000, &rm, &sm_why);
	if (rc != 0 ? sm != rc || strcmp(sm_why, why) != 0
		    : sm != 0 && (sm != MN_EBADCERT || strncmp(sm_why, "S/MIME leaf ", 12) != 0)) {
		fprintf(stderr, "TLS/S/MIME DIFFER: %s (%zu certs%s, %s): TLS %d (%s), S/MIME %d (%s)\n",
			path[0]->name, n, with_root ? ", root included" : "",
			precert ? "add-pre-chain" : "add-chain", rc, why, sm, sm_why);
		fail();
	}
	T.num_smime_refused += rc == 0 && sm != 0;
	x509_result_cleanup(&rm);
	if ((rc == 0) != ref) {
		fprintf(stderr, "DISAGREE %s (%zu certs%s, %s): logd %d (%s), OpenSSL %d (%s); path:",
			path[0]->name, n, with_root ? ", root included" : "",
			precert ? "add-pre-chain" : "add-chain", rc, why, ref,
			ref_why ? ref_why : "ok");
		for (size_t i = 1; i < len; i++)
			fprintf(stderr, " %s", path[i]->name);
		fprintf(stderr, "\n");
		fail();
	}
	x509_result_cleanup(&r);
	return rc == 0;
}

static void test_pkits(void **state)
{
	size_t num_tests = 0, enforced = 0, ignored = 0, deviations = 0;
	struct paths *ps = malloc(sizeof(*ps));
	int failed = 0;
	(void)state;
	assert_non_null(ps);
	for (size_t i = 0; i < T.num; i++) {
		const struct cert *ee = &T.c[i];
		if (!ee->ee)
			continue;
		size_t k = 0;
		while (k < sizeof(kRules) / sizeof(kRules[0]) && strstr(ee->name, kRules[k].name) == NULL)
			k++;
		if (k == sizeof(kRules) / sizeof(kRules[0])) {
			fprintf(stderr, "no rule for %s\n", ee->name);
			failed = 1;
			continue;
		}
		/* PKITS: "Valid..." and the policy tests without a prefix that
		 * are valid under the default settings (4.8) */
		int pkits_valid = strncmp(ee->name, "Invalid", 7) != 0 &&
				  strncmp(ee->name, "DifferentPolicies", 17) != 0;
		int want = kRules[k].rule == ENFORCED ? pkits_valid : kRules[k].rule == IGNORED;
		const struct cert *cur[MAX_DEPTH];
		cur[0] = ee;
		ps->num = 0;
		find_paths(cur, 1, ps);
		int accepted = 0;
		for (size_t p = 0; p < ps->num; p++) {
			for (int with_root = 0; with_root < 2; with_root++) {
				accepted |= submit(ps->p[p], ps->len[p], with_root, 0);
				assert_int_equal(submit(ps->p[p], ps->len[p], with_root, 1), 0);
			}
			T.num_paths++;
		}
		num_tests++;
		enforced += kRules[k].rule == ENFORCED;
		ignored += kRules[k].rule == IGNORED;
		deviations += kRules[k].rule == DEVIATION;
		if (ps->num == 0 || accepted != want) {
			fprintf(stderr, "%s (%s, %s, %s): PKITS %s, logd %s over %zu paths, want %s\n",
				ee->name, kRules[k].section, kRules[k].why,
				kRules[k].rule == ENFORCED ? "enforced"
				: kRules[k].rule == IGNORED ? "ignored" : "deviation",
				pkits_valid ? "valid" : "invalid", accepted ? "accepts" : "refuses",
				ps->num, want ? "accept" : "refuse");
			failed = 1;
		}
	}
	free(ps);
	struct x509_stats st;
	x509_validator_stats(T.v, &st);
	struct x509_stats slow_st;
	x509_validator_stats(T.vslow, &slow_st);
	fprintf(stderr, "PKITS: %zu tests (%zu enforced, %zu ignored, %zu deviations), %zu paths, "
		"%zu chains checked on both paths and against OpenSSL, %llu leaves on the fast "
		"path\n",
		num_tests, enforced, ignored, deviations, T.num_paths, T.num_checks,
		(unsigned long long)st.fast_leaves);
	assert_false(failed);
	assert_true(num_tests >= 200);
	/* the fast path is what is being compared: most PKITS leaves take it */
	assert_true(st.fast_leaves * 2 > T.num_checks);
	/* and the slow one is OpenSSL's whole path: no cursor walk, no cache */
	assert_int_equal(slow_st.fast_leaves, 0);
	assert_int_equal(slow_st.cache_hits, 0);
	assert_int_equal(slow_st.cache_entries, 0);
	assert_true(st.cache_hits > 0);
	/* the S/MIME leaf rule did refuse what the TLS set accepts */
	assert_true(T.num_smime_refused > 0);
}

/* The two tests of the issue that started this file, by name. */
static void test_pathlen_issue(void **state)
{
	static const char *const names[][3] = {
		{"InvalidpathLenConstraintTest5EE", "pathLenConstraint0subCACert",
		 "pathLenConstraint0CACert"},
		{"InvalidpathLenConstraintTest6EE", "pathLenConstraint0subCACert",
		 "pathLenConstraint0CACert"},
	};
	(void)state;
	for (size_t t = 0; t < 2; t++) {
		const struct cert *path[3] = {0};
		for (size_t k = 0; k < 3; k++)
			for (size_t i = 0; i < T.num; i++)
				if (strcmp(T.c[i].name, names[t][k]) == 0)
					path[k] = &T.c[i];
		assert_non_null(path[0]);
		assert_non_null(path[1]);
		assert_non_null(path[2]);
		const uint8_t *der[3] = {path[0]->der, path[1]->der, path[2]->der};
		size_t lens[3] = {path[0]->len, path[1]->len, path[2]->len};
		struct x509_result r;
		const char *why;
		assert_int_equal(x509_validate(T.v, der, lens, 3, 0, (uint64_t)NOW_S * 1000, &r, &why),
				 MN_EBADCHAIN);
		assert_string_equal(why, "pathLenConstraint exceeded");
		/* the CA under the root alone is fine */
		assert_int_equal(x509_validate(T.v, der + 2, lens + 2, 1, 0,
					       (uint64_t)NOW_S * 1000, &r, &why),
				 0);
		x509_result_cleanup(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkits),
		cmocka_unit_test(test_pathlen_issue),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
