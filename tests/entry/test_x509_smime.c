/* test_x509_smime.c: the S/MIME class of entry/x509.c: leaves under an S/MIME
 * root set, roots in both sets, the names a leaf yields and their bounds, and
 * the openssl command line's view of the same certificates. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "entry/ct.h"
#include "entry/x509.h"
#include "tests/lib/pki.h"
#include "tests/lib/x509fix.h"

#define DAY X509FIX_DAY

/* A second PKI for S/MIME: its own root and CA; a root in both sets; and two
 * roots with the same name and key but different DER, one per set. */
static struct {
	struct pki_cert *root, *ca, *both_root, *both_ca, *twin_a, *twin_b, *twin_ca;
	struct x509_roots *smime, *tls2; /* smime: root, both_root, twin_b;
					  * tls2: x509fix.root, both_root, twin_a */
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
	int64_t nb = x509fix.now - DAY, na = x509fix.now + 365 * DAY;
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
	const struct pki_cert *tl[] = {x509fix.root, S.both_root, S.twin_a};
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
	o->not_before = x509fix.now - DAY;
	o->not_after = x509fix.now + 90 * DAY;
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
	int rc = x509_validate(v, der, len, num, precert, x509fix_now_ms(), &r, &reason);
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
	struct x509_validator *v = x509_validator_new2(x509fix.roots, S.smime, NULL);
	assert_non_null(v);
	struct x509_result r;
	static const char *const alice[] = {"Alice.Smith@Example.COM"};
	static const char *const www[] = {"WWW.Example.com"};

	/* rfc822Name + emailProtection: S/MIME; domain lowercased, local kept. */
	struct pki_opts o = {.dns = alice, .num_dns = 1, .flags = PKI_EMAIL};
	struct pki_cert *good = smime_leaf(S.ca, &o);
	const struct pki_cert *c[] = {good, S.ca};
	assert_int_equal(x509fix_validate(v, c, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_SMIME);
	assert_int_equal(r.smime_legacy, 0);
	assert_int_equal(r.names_incomplete, 0);
	static const char *const want_alice[] = {"Alice.Smith@example.com"};
	expect_names(r.emails, r.num_emails, want_alice, 1);
	assert_int_equal(r.num_dns_names, 0);
	assert_null(r.dns_names);
	const struct pki_cert *want_extra[] = {S.ca, S.root};
	x509fix_check_extra(&r, NULL, want_extra, 2);
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
	struct x509_validator *tls_only = x509_validator_new(x509fix.roots, NULL);
	assert_non_null(tls_only);
	x509fix_expect_reject(tls_only, c_tls, 2, 0, MN_EUNKNOWNANCHOR);
	x509fix_expect_reject(tls_only, c, 2, 0, MN_EUNKNOWNANCHOR);
	x509_validator_free(tls_only);

	/* SmtpUTF8Mailbox otherName (RFC 9598): UTF-8 local part kept, domain's
	 * ASCII lowercased (its UTF-8 bytes untouched). */
	static const char *const box[] = {"J\xc3\xbcrgen@B\xc3\xbc" "cher.Example"};
	o = (struct pki_opts){.mailboxes = box, .num_mailboxes = 1, .eku = "emailProtection"};
	struct pki_cert *utf8 = smime_leaf(S.ca, &o);
	const struct pki_cert *c_utf8[] = {utf8, S.ca};
	assert_int_equal(x509fix_validate(v, c_utf8, 2, 0, &r), 0);
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
	assert_int_equal(x509fix_validate(v, c_legacy, 2, 0, &r), 0);
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
	assert_int_equal(x509fix_validate(v, c_both_addr, 2, 0, &r), 0);
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
	assert_int_equal(x509fix_validate(v, c_mixed, 2, 0, &r), 0);
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
	assert_int_equal(x509fix_validate(v, c_pre, 2, 1, &r), 0);
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
	assert_int_equal(x509fix_validate(v, c_dual, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_TLS | X509_CLASS_SMIME);
	expect_names(r.emails, r.num_emails, carol, 1);
	static const char *const want_host[] = {"mail.both.example"};
	expect_names(r.dns_names, r.num_dns_names, want_host, 1);
	const struct pki_cert *want_extra[] = {S.both_ca, S.both_root};
	x509fix_check_extra(&r, NULL, want_extra, 2);
	x509_result_cleanup(&r);
	/* The same with the root included. */
	const struct pki_cert *c_dual3[] = {dual, S.both_ca, S.both_root};
	assert_int_equal(x509fix_validate(v, c_dual3, 3, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_TLS | X509_CLASS_SMIME);
	x509_result_cleanup(&r);

	/* Leaves that do not qualify for S/MIME stay TLS, without an error. */
	o = (struct pki_opts){.dns = host, .num_dns = 1};
	struct pki_cert *server = smime_leaf(S.both_ca, &o);
	const struct pki_cert *c_server[] = {server, S.both_ca};
	assert_int_equal(x509fix_validate(v, c_server, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_TLS);
	assert_int_equal(r.num_emails, 0);
	expect_names(r.dns_names, r.num_dns_names, want_host, 1);
	x509_result_cleanup(&r);
	o = (struct pki_opts){.dns = host, .num_dns = 1, .eku = "emailProtection"};
	struct pki_cert *noaddr = smime_leaf(S.both_ca, &o);
	const struct pki_cert *c_noaddr[] = {noaddr, S.both_ca};
	assert_int_equal(x509fix_validate(v, c_noaddr, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_TLS);
	assert_int_equal(r.smime_legacy, 0);
	x509_result_cleanup(&r);

	/* Two roots, same name and key, different DER: twin_a in TLS, twin_b in
	 * S/MIME; each verifies the CA, so the chain is both (and the TLS root is
	 * the one appended). */
	struct pki_cert *twin_leaf = smime_leaf(S.twin_ca, &(struct pki_opts){
		.emails = carol, .num_emails = 1, .eku = "emailProtection"});
	const struct pki_cert *c_twin[] = {twin_leaf, S.twin_ca};
	assert_int_equal(x509fix_validate(v, c_twin, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_TLS | X509_CLASS_SMIME);
	const struct pki_cert *want_twin[] = {S.twin_ca, S.twin_a};
	x509fix_check_extra(&r, NULL, want_twin, 2);
	x509_result_cleanup(&r);
	/* Explicitly ending at twin_b: the S/MIME root only. */
	const struct pki_cert *c_twin_b[] = {twin_leaf, S.twin_ca, S.twin_b};
	assert_int_equal(x509fix_validate(v, c_twin_b, 3, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_SMIME);
	x509_result_cleanup(&r);

	/* An S/MIME leaf under a TLS-only root is TLS (its addresses not
	 * copied), as before this feature. */
	struct pki_cert *tls_mail = smime_leaf(x509fix.ca, &(struct pki_opts){
		.dns = carol, .num_dns = 1, .flags = PKI_EMAIL});
	const struct pki_cert *c_tls_mail[] = {tls_mail, x509fix.ca};
	assert_int_equal(x509fix_validate(v, c_tls_mail, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_TLS);
	assert_int_equal(r.num_emails, 0);
	assert_null(r.emails);
	x509_result_cleanup(&r);

	/* The TLS path does no S/MIME work: the same signature checks as a
	 * TLS-only validator, and the same result bytes. */
	struct x509_validator *v1 = x509_validator_new(x509fix.roots, NULL);
	struct x509_validator *v2 = x509_validator_new2(x509fix.roots, S.smime, NULL);
	assert_non_null(v1);
	assert_non_null(v2);
	const struct pki_cert *c_tls[] = {x509fix.leaf, x509fix.ca};
	const struct pki_cert *c_direct[] = {x509fix.root_leaf};
	struct x509_result a, b;
	struct x509_stats s1, s2;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(x509fix_validate(v1, i ? c_direct : c_tls, i ? 1 : 2, 0, &a), 0);
		assert_int_equal(x509fix_validate(v2, i ? c_direct : c_tls, i ? 1 : 2, 0, &b), 0);
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
		assert_int_equal(x509fix_validate(v1, c_twin_tls, 2, 0, &a), 0);
		assert_int_equal(x509fix_validate(v2, c_twin_tls, 2, 0, &b), 0);
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
	x509fix_expect_reject(none, c_dual3, 3, 0, MN_EUNKNOWNANCHOR);
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
	struct x509_validator *v = x509_validator_new(x509fix.roots, NULL);
	assert_non_null(v);
	struct x509_result r;
	struct pki_cert *many = smime_leaf(x509fix.ca,
					   &(struct pki_opts){.dns = dns, .num_dns = N});
	const struct pki_cert *c[] = {many, x509fix.ca};
	assert_int_equal(x509fix_validate(v, c, 2, 0, &r), 0);
	assert_int_equal(r.num_dns_names, X509_MAX_NAMES);
	assert_int_equal(r.names_incomplete, 1);
	expect_names(r.dns_names, r.num_dns_names, dns, X509_MAX_NAMES);
	x509_result_cleanup(&r);
	dns[0] = big;
	dns[1] = "ok.example";
	struct pki_cert *longname = smime_leaf(x509fix.ca,
					       &(struct pki_opts){.dns = dns, .num_dns = 2});
	const struct pki_cert *c2[] = {longname, x509fix.ca};
	assert_int_equal(x509fix_validate(v, c2, 2, 0, &r), 0);
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
	assert_int_equal(x509fix_run_cmd(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "SmtpUTF8Mailbox"));
	assert_non_null(strstr(out, "b\xc3\xbc" "cher.example"));
	snprintf(cmd, sizeof(cmd),
		 "openssl verify -purpose smimesign -CAfile %s/root.pem -untrusted %s/ca.pem "
		 "%s/utf8.pem 2>&1", dir, dir, dir);
	assert_int_equal(x509fix_run_cmd(cmd, out, sizeof(out)), 0);
	snprintf(cmd, sizeof(cmd),
		 "openssl verify -purpose smimesign -CAfile %s/root.pem -untrusted %s/ca.pem "
		 "%s/server.pem 2>&1", dir, dir, dir);
	assert_int_not_equal(x509fix_run_cmd(cmd, out, sizeof(out)), 0);

	struct x509_validator *v = x509_validator_new2(NULL, S.smime, NULL);
	assert_non_null(v);
	struct x509_result r;
	const struct pki_cert *c1[] = {utf8, S.ca}, *c2[] = {server, S.ca};
	assert_int_equal(x509fix_validate(v, c1, 2, 0, &r), 0);
	assert_int_equal(r.classes, X509_CLASS_SMIME);
	x509_result_cleanup(&r);
	expect_reason(v, c2, 2, 0, MN_EBADCERT, kNoEku);
	x509_validator_free(v);
	pki_free(utf8);
	pki_free(server);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_smime_leaves, smime_setup, smime_teardown),
		cmocka_unit_test_setup_teardown(test_smime_both, smime_setup, smime_teardown),
		cmocka_unit_test(test_names_bounds),
		cmocka_unit_test_setup_teardown(test_smime_openssl, smime_setup, smime_teardown),
	};
	if (x509fix_make() != 0) {
		fprintf(stderr, "test_x509_smime: cannot build the test PKI\n");
		x509fix_free();
		return 1;
	}
	atexit(x509fix_free);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
