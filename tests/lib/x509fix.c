/* x509fix.c: see x509fix.h. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/bytes.h"
#include "common/err.h"
#include "entry/x509.h"
#include "tests/lib/pki.h"
#include "tests/lib/x509fix.h"

#define DAY X509FIX_DAY

struct x509fix_pki x509fix;

uint64_t x509fix_now_ms(void)
{
	return (uint64_t)x509fix.now * 1000;
}

void x509fix_free(void)
{
	struct x509fix_pki *p = &x509fix;
	struct pki_cert **all[] = {
		&p->root, &p->other_root, &p->ca, &p->other_ca, &p->leaf, &p->leaf2, &p->not_ca,
		&p->leaf_of_not_ca, &p->expired, &p->backwards, &p->precert, &p->final, &p->psc,
		&p->psc_precert, &p->psc_final_cert, &p->noncrit, &p->root_leaf,
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		pki_free(*all[i]);
		*all[i] = NULL;
	}
	EVP_PKEY_free(p->leaf_key);
	x509_roots_free(p->roots);
}

int x509fix_make(void)
{
	struct x509fix_pki *p = &x509fix;
	static const char *const dns[] = {"example.com", "www.example.com"};
	int64_t now = p->now = pki_now();
	int64_t nb = now - DAY, na = now + 90 * DAY;
	p->root = pki_root("Test Root", 0);
	p->other_root = pki_root("Test Root", 0); /* same name, other key */
	p->ca = pki_issue(p->root, "Test CA", NULL, 0, PKI_CA, nb, now + 365 * DAY);
	p->other_ca = pki_issue(p->other_root, "Test CA", NULL, 0, PKI_CA, nb, na);
	p->leaf = pki_issue(p->ca, "example.com", dns, 2, 0, nb, na);
	p->leaf2 = pki_issue(p->ca, "www.example.com", dns + 1, 1, 0, nb, na);
	p->not_ca = pki_issue(p->root, "Not A CA", NULL, 0, 0, nb, na);
	p->leaf_of_not_ca = pki_issue(p->not_ca, "victim.example", NULL, 0, 0, nb, na);
	p->expired = pki_issue(p->ca, "old.example", NULL, 0, 0, now - 30 * DAY, now - DAY);
	p->backwards = pki_issue(p->ca, "odd.example", NULL, 0, 0, now + DAY, now - DAY);
	p->root_leaf = pki_issue(p->root, "direct.example", NULL, 0, 0, nb, na);
	p->noncrit = pki_issue(p->ca, "pre.example", dns, 1, PKI_POISON_NONCRIT, nb, na);
	p->psc = pki_issue(p->ca, "Test CA Precertificate Signing", NULL, 0, PKI_PSC, nb, na);
	if (!p->root || !p->other_root || !p->ca || !p->other_ca || !p->leaf || !p->leaf2 ||
	    !p->not_ca || !p->leaf_of_not_ca || !p->expired || !p->backwards || !p->root_leaf ||
	    !p->noncrit || !p->psc)
		return -1;

	/* A precertificate and the final certificate it announces: same serial,
	 * key, names, dates and extension order; only the poison differs. The
	 * PSC-issued precertificate describes the same final certificate. */
	p->leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct pki_opts o = {
		.cn = "shop.example",
		.dns = dns,
		.num_dns = 2,
		.not_before = nb,
		.not_after = na,
		.serial = 0x1234567890abcdefULL,
		.key = p->leaf_key,
	};
	p->final = pki_issue_opts(p->ca, &o);
	o.flags = PKI_POISON;
	p->precert = pki_issue_opts(p->ca, &o);
	p->psc_precert = pki_issue_opts(p->psc, &o);
	o.flags = 0;
	p->psc_final_cert = pki_issue_opts(p->psc, &o); /* a final cert signed by a PSC */
	if (!p->final || !p->precert || !p->psc_precert || !p->psc_final_cert)
		return -1;

	size_t pem_len;
	const struct pki_cert *bundle[] = {p->root};
	char *pem = pki_pem(bundle, 1, &pem_len);
	if (pem == NULL)
		return -1;
	int rc = x509_roots_load_pem(&p->roots, NULL, (const uint8_t *)pem, pem_len);
	free(pem);
	return rc;
}

int x509fix_validate(struct x509_validator *v, const struct pki_cert *const *chain,
		     size_t num, int precert, struct x509_result *out)
{
	const uint8_t *der[16];
	size_t len[16];
	const char *reason = NULL;
	for (size_t i = 0; i < num; i++) {
		der[i] = chain[i]->der;
		len[i] = chain[i]->der_len;
	}
	int rc = x509_validate(v, der, len, num, precert, x509fix_now_ms(), out, &reason);
	assert_non_null(reason);
	if (rc != 0) {
		assert_true(strlen(reason) > 0);
		assert_null(out->body);
		assert_null(out->extra);
	}
	return rc;
}

struct x509_validator *x509fix_new_validator(void)
{
	struct x509_validator *v = x509_validator_new(x509fix.roots, NULL);
	assert_non_null(v);
	return v;
}

void x509fix_check_extra(const struct x509_result *r, const struct pki_cert *precert,
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

void x509fix_expect_dedup(const struct x509_result *r, const char *tag, size_t tag_len,
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

int x509fix_run_cmd(const char *cmd, char *out, size_t out_len)
{
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, out_len - 1, f);
	out[n] = '\0';
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void x509fix_expect_reject_raw(struct x509_validator *v, const uint8_t *const *der,
			       const size_t *len, size_t num, int precert, int want)
{
	struct x509_result r;
	const char *reason = NULL;
	memset(&r, 0xa5, sizeof(r));
	int rc = x509_validate(v, der, len, num, precert, x509fix_now_ms(), &r, &reason);
	if (rc != want)
		print_error("got %s (%s), want %s\n", mn_err_name(rc), reason ? reason : "-",
			    mn_err_name(want));
	assert_int_equal(rc, want);
	assert_non_null(reason);
	assert_null(r.body);
	assert_null(r.extra);
}

void x509fix_expect_reject(struct x509_validator *v, const struct pki_cert *const *chain,
			   size_t num, int precert, int want)
{
	const uint8_t *der[16];
	size_t len[16];
	for (size_t i = 0; i < num; i++) {
		der[i] = chain[i]->der;
		len[i] = chain[i]->der_len;
	}
	x509fix_expect_reject_raw(v, der, len, num, precert, want);
}
