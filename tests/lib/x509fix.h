/* x509fix.h: the generated PKI and the checks that the chain validation tests
 * (tests/entry/test_x509_*.c) share. One PKI per test program: generating keys
 * is the slow part, so main() builds it once before the cmocka group.
 *
 *   if (x509fix_make() != 0) ...             fills |x509fix| (now: pki_now())
 *   atexit(x509fix_free);
 *   v = x509fix_new_validator();             TLS roots: x509fix.root only
 *   x509fix_validate(v, chain, n, precert, &r);
 *
 * Unlike the other helpers here, the validate, check and expect functions
 * assert with cmocka: they are parts of test cases, and a failure inside one
 * fails the case that called it. */
#ifndef MN_TESTS_X509FIX_H
#define MN_TESTS_X509FIX_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "entry/x509.h"
#include "tests/lib/pki.h"

#define X509FIX_DAY 86400

struct x509fix_pki {
	struct pki_cert *root, *other_root, *ca, *other_ca, *leaf, *leaf2, *not_ca,
		*leaf_of_not_ca, *expired, *backwards, *precert, *final, *psc,
		*psc_precert, *psc_final_cert, *noncrit, *root_leaf;
	EVP_PKEY *leaf_key; /* the key of precert, final, psc_precert, psc_final_cert */
	struct x509_roots *roots; /* root alone */
	int64_t now;
};
extern struct x509fix_pki x509fix;

/* x509fix_make builds |x509fix|; 0 or -1 (free what was made with
 * x509fix_free). */
int x509fix_make(void);
void x509fix_free(void);

/* x509fix_now_ms is x509fix.now in milliseconds, the time every validation
 * here runs at. */
uint64_t x509fix_now_ms(void);

/* x509fix_validate runs x509_validate on |num| (at most 16) certificates under
 * |v|; on failure it asserts a reason and no body or extra data. */
int x509fix_validate(struct x509_validator *v, const struct pki_cert *const *chain,
		     size_t num, int precert, struct x509_result *out);

/* x509fix_new_validator: a validator over x509fix.roots, default limits. */
struct x509_validator *x509fix_new_validator(void);

/* x509fix_check_extra parses extra_data back (RFC 6962 section 4.6) and
 * compares it to |want|; for precerts the pre_certificate first. */
void x509fix_check_extra(const struct x509_result *r, const struct pki_cert *precert,
			 const struct pki_cert *const *want, size_t num_want);

/* x509fix_expect_dedup checks r->dedup_key = SHA-256(tag || leaf || ikh). */
void x509fix_expect_dedup(const struct x509_result *r, const char *tag, size_t tag_len,
			  const struct pki_cert *leaf, const uint8_t *ikh);

/* x509fix_run_cmd runs |cmd| through the shell, captures its output into |out|
 * and returns its exit status. */
int x509fix_run_cmd(const char *cmd, char *out, size_t out_len);

/* x509fix_expect_reject_raw validates raw DER buffers and checks the error
 * code, a reason and no result; x509fix_expect_reject the same for |chain|. */
void x509fix_expect_reject_raw(struct x509_validator *v, const uint8_t *const *der,
			       const size_t *len, size_t num, int precert, int want);
void x509fix_expect_reject(struct x509_validator *v, const struct pki_cert *const *chain,
			   size_t num, int precert, int want);

#endif
