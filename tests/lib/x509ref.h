/* x509ref.h: logd's chain validation policy (docs/validation.md) run by
 * OpenSSL's own X509_verify_cert instead of entry/x509.c's fast path, as an
 * independent second answer for differential tests (tests/entry/test_pkits.c,
 * fuzz/fuzz_x509_diff.c).
 *
 * X509_verify_cert checks signatures, name chaining, basicConstraints and
 * keyUsage of issuers (X509_check_ca) and every pathLenConstraint; its verify
 * callback lets through exactly the errors of the rules the policy ignores
 * (validity of issuers, name constraints, policies, unknown critical
 * extensions, what a configured root says about itself) and re-judges a path
 * length error with a Precertificate Signing Certificate not counted. What
 * X509_verify_cert does not know is checked here with the plain X509 API:
 * whole-DER certificates, the size limits, the leaf's dates, the poison and PSC
 * rules, and that the path OpenSSL built is the submitted chain (plus at most
 * the root), since a log validates the chain it is given and builds no other.
 *
 * Only the TLS root set and x509_validate's default limits (10 certificates,
 * 64 KiB each) are modelled. */
#ifndef MN_TESTS_X509REF_H
#define MN_TESTS_X509REF_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct x509ref;

/* x509ref_new decodes the roots |roots|[0..num) (DER, borrowed). Returns NULL
 * if one does not decode or on OOM. */
struct x509ref *x509ref_new(const uint8_t *const *roots, const size_t *lens, size_t num);
void x509ref_free(struct x509ref *r);

/* x509ref_verify returns 1 if the policy accepts the chain |certs| (DER) for
 * add-chain (|precert| 0) or add-pre-chain at |now| (seconds), else 0 with
 * |*why| (may be NULL) set to a static string. */
int x509ref_verify(const struct x509ref *r, const uint8_t *const *certs, const size_t *lens,
		   size_t num, int precert, int64_t now, const char **why);

/* x509ref_precert_tbs returns the TBSCertificate RFC 6962 section 3.2 logs for
 * the precertificate |pre| issued through the PSC |psc| (NULL if none), made
 * with OpenSSL (delete the poison, set the issuer and AKI, i2d_re_X509_tbs),
 * malloc'd, |*out_len| bytes; NULL on failure. */
uint8_t *x509ref_precert_tbs(const uint8_t *pre, size_t pre_len, const uint8_t *psc,
			     size_t psc_len, size_t *out_len);

struct x509_result;
/* x509ref_same_outcome compares two answers of x509_validate for the same
 * chain (the fast path's, |rc_a|/|why_a|/|a|, and the slow path's, x509.h
 * struct x509_limits.slow): NULL if the return values and reasons are equal
 * and, on success, every field of the results (entry type, body, extra_data,
 * dedup key, issuer key hash, notAfter, classes, names) is byte for byte the
 * same; else the name of the first difference. */
const char *x509ref_same_outcome(int rc_a, const char *why_a, const struct x509_result *a,
				 int rc_b, const char *why_b, const struct x509_result *b);

#endif
