/* x509.h: certificate chain validation for add-chain and add-pre-chain
 * (RFC 6962 sections 3.1, 4.1, 4.2), built for the submission hot path.
 *
 * What is checked (RFC 6962 section 3.1: "Logs MUST verify that the submitted
 * end-entity certificate or Precertificate has a valid signature chain leading
 * back to a trusted root CA certificate, using the chain of intermediate CA
 * certificates provided by the submitter"):
 *   - chain[0] is the leaf; every certificate is whole DER (d2i consumes exactly
 *     its input) of at most max_cert_len bytes; at most max_chain_len of them;
 *   - each certificate's issuer name equals the next one's subject name
 *     (X509_NAME_cmp, i.e. RFC 5280 section 7.1 canonical comparison) and its
 *     signature verifies with the next one's public key;
 *   - every certificate after the leaf is a CA (basicConstraints cA TRUE)
 *     whose keyUsage, if it has one, asserts keyCertSign, except a configured
 *     root, which is trusted as configured;
 *   - every pathLenConstraint in the chain, the root's included, holds (RFC
 *     5280 section 6.1.4: self-issued intermediates do not count, and neither
 *     does a Precertificate Signing Certificate, which stands for its issuer);
 *   - the last certificate either is a configured root (same DER) or is signed
 *     by a configured root whose subject equals its issuer; that root is then
 *     appended to extra_data. Only the submitted chain is used: no AIA fetching,
 *     no path building through other intermediates.
 *   - the leaf is not expired at submission time (notAfter >= now) and
 *     notBefore <= notAfter. A leaf that is not yet valid is accepted (section
 *     3.1 lets logs accept such certificates).
 * What is NOT checked, as CT logs do: validity dates of intermediates and roots,
 * revocation, name constraints, policies, unknown critical extensions, EKU
 * nesting. A log's job is to record what CAs issued, not to decide whether a
 * browser would trust it; the rules above keep out what no CA under a root
 * could have issued. docs/validation.md states the policy rule by rule, next
 * to what Trillian's CTFE does, and what PKITS says.
 *
 * Precertificates (add-pre-chain): the leaf carries the critical poison
 * extension 1.3.6.1.4.1.11129.2.4.3 whose value is ASN.1 NULL. If chain[1] is a
 * Precertificate Signing Certificate (a CA whose EKU holds
 * 1.3.6.1.4.1.11129.2.4.4), the final issuer is the certificate after it
 * (chain[2], or the implied root); otherwise chain[1] (or the implied root) is.
 * The logged TBSCertificate is the precertificate's with the poison extension
 * removed and, with a PSC, its issuer set to the PSC's issuer and its authority
 * key identifier replaced by the PSC's (RFC 6962 section 3.2). A PSC anywhere
 * else, or a PSC in an add-chain submission, is a bad chain.
 *
 * Speed: decoding a certificate (mostly its public key) costs OpenSSL 3.0 about
 * as much as five RSA-2048 verifications. Roots are decoded once at load time,
 * and intermediates that were part of a successful validation are kept, decoded,
 * in a bounded cache keyed by SHA-256 of their DER, together with the hash of the
 * certificate whose key verified their signature. A submitted intermediate is
 * looked up by hashing its DER before any decoding, and a link already verified
 * against the same issuer DER is not verified again (a signature check is a pure
 * function of the two DER encodings). The leaf is not decoded whole either: for
 * add-chain it is parsed with cursors, only its names, dates and extensions
 * decoded by OpenSSL (never its public key, which a log does not need), and its
 * signature is verified over the TBSCertificate bytes as found; anything
 * unusual (another signature algorithm, RSASSA-PSS, version 1 or 2, unique
 * identifiers, non-DER framing, extensions OpenSSL might find invalid) takes a
 * full d2i_X509. A precertificate takes the same fast path: its logged
 * TBSCertificate is edited with cursors (x509_precert.c), and a signature that fails the quick
 * check is checked again by X509_verify, so the outcome never depends on the
 * path. The typical submission then costs one cursor walk of the leaf and one
 * signature verification.
 *
 * Classes (DESIGN.md section 1). A validator holds two root sets, TLS and
 * S/MIME (either may be absent). Every check above applies to both; then the
 * chain is classed by the set(s) its anchor belongs to and by the leaf:
 *   - ends at a TLS root: class TLS. No EKU or name check, exactly as before.
 *   - ends at an S/MIME root: class S/MIME if the leaf qualifies, which needs
 *       (a) an extendedKeyUsage extension that lists id-kp-emailProtection
 *           (RFC 8550 section 4.4.4; no EKU at all, or anyExtendedKeyUsage
 *           alone, is NOT enough, as in the CA/B Forum S/MIME BRs 7.1.2.3 f), and
 *       (b) an email address in the subjectAltName: an rfc822Name or an
 *           otherName SmtpUTF8Mailbox (1.3.6.1.5.5.7.8.9, RFC 9598 section 3).
 *           Failing that, an emailAddress attribute in the subject (RFC 8550
 *           section 3, deprecated) is accepted and flagged |smime_legacy|.
 *     A chain that ends only at an S/MIME root and whose leaf does not qualify
 *     is rejected with MN_EBADCERT ("S/MIME leaf lacks emailProtection EKU",
 *     "S/MIME leaf has no email address"); so is a serverAuth-only TLS
 *     certificate offered under the S/MIME roots.
 *   - ends at a root in both sets (the same root DER in both bundles, or two
 *     roots that each verify the last certificate): TLS | S/MIME if the leaf
 *     qualifies for S/MIME, else just TLS (never an error: TLS needs nothing
 *     more). The root appended to extra_data is then the TLS one.
 * The S/MIME anchor is only searched for when it can matter: when the chain has
 * no TLS anchor, or when the leaf's EKU lists emailProtection. So a TLS
 * submission costs the same as before (plus one walk of its SAN, see names).
 *
 * Names. A successful result carries the leaf's subjectAltName dNSNames (ASCII
 * lowercased) and, when the class includes S/MIME, its email addresses (the
 * domain part ASCII lowercased, the local part kept as is), for the lookup
 * index. At most X509_MAX_NAMES of each, each 1..X509_MAX_NAME_LEN bytes;
 * duplicates are dropped; a name with a control byte (or, in an IA5String, a
 * byte >= 0x80), invalid UTF-8, or an address without a non-empty local part
 * and domain is skipped. Skipped or excess names set |names_incomplete|.
 *
 * Thread safety: roots are immutable after loading; a validator may be used by
 * any number of threads at once (the cache takes a pthread rwlock). */
#ifndef MN_ENTRY_X509_H
#define MN_ENTRY_X509_H

#include <stddef.h>
#include <stdint.h>

/* --- roots --------------------------------------------------------------- */

struct x509_roots;

/* x509_roots_load_pem parses every "CERTIFICATE" PEM block in |pem| (|pem_len|
 * bytes, not NUL-terminated). Blocks that do not decode (bad base64, bad DER,
 * trailing bytes, unsupported public key, other labels) are skipped and counted
 * in |*out_num_skipped| (may be NULL); duplicate roots are kept once. On success
 * sets |*out| (free with x509_roots_free) and returns 0. Returns MN_ENOTFOUND if
 * no root loaded, MN_ENOMEM. */
int x509_roots_load_pem(struct x509_roots **out, size_t *out_num_skipped,
			const uint8_t *pem, size_t pem_len);
/* x509_roots_load_file is x509_roots_load_pem on the contents of |path| (at most
 * 64 MiB). Also returns MN_EIO if the file cannot be read, MN_ETOOBIG. */
int x509_roots_load_file(struct x509_roots **out, size_t *out_num_skipped,
			 const char *path);
void x509_roots_free(struct x509_roots *roots);
/* x509_roots_count: the number of roots, in bundle order (for get-roots). */
size_t x509_roots_count(const struct x509_roots *roots);
/* x509_roots_contains returns 1 iff a root with exactly |der| is in |roots|
 * (NULL |roots|: 0). */
int x509_roots_contains(const struct x509_roots *roots, const uint8_t *der, size_t len);
/* x509_roots_der returns root |i|'s DER (borrowed, lives as long as |roots|) and
 * its length in |*out_len|, or NULL if |i| is out of range. */
const uint8_t *x509_roots_der(const struct x509_roots *roots, size_t i,
			      size_t *out_len);

/* --- validator ----------------------------------------------------------- */

struct x509_limits {
	size_t max_chain_len; /* certificates, leaf included; 0 = 10 */
	size_t max_cert_len;  /* bytes per certificate; 0 = 64 KiB */
	size_t cache_cap;     /* cached intermediates; 0 = 4096 */
	/* slow: take OpenSSL's whole path for everything, as before the fast
	 * path existed: every leaf decoded by d2i_X509 and verified by
	 * X509_verify, every intermediate decoded and verified again (the
	 * cache neither read nor filled), a precertificate's TBSCertificate
	 * edited by OpenSSL. Same answers, same reasons, same bytes: the
	 * differential checks (test_pkits, fuzz_x509_diff) compare the two, and
	 * bench_validate measures what the fast path saves. 0 in logd. */
	int slow;
};

struct x509_validator;

/* x509_validator_new2 creates a validator over the TLS roots |tls_roots| and
 * the S/MIME roots |smime_roots| (either may be NULL for none; both borrowed:
 * they must outlive the validator) with |limits| (NULL for the defaults).
 * Returns NULL on OOM. */
struct x509_validator *x509_validator_new2(const struct x509_roots *tls_roots,
					   const struct x509_roots *smime_roots,
					   const struct x509_limits *limits);
/* x509_validator_new is x509_validator_new2(roots, NULL, limits): TLS only. */
struct x509_validator *x509_validator_new(const struct x509_roots *roots,
					  const struct x509_limits *limits);
void x509_validator_free(struct x509_validator *v);

/* Counters, for tests and /metrics. cert_decodes counts d2i of certificates
 * after the leaf (leaves are not counted); cache_hits counts submitted
 * intermediates found in the cache; sig_verifies counts signature checks;
 * fast_leaves counts leaves parsed with cursors, without d2i_X509. */
struct x509_stats {
	uint64_t cert_decodes;
	uint64_t cache_hits;
	uint64_t cache_entries;
	uint64_t sig_verifies;
	uint64_t fast_leaves;
};
void x509_validator_stats(const struct x509_validator *v, struct x509_stats *out);

/* Classes, a bitmask in x509_result.classes. */
enum { X509_CLASS_TLS = 1, X509_CLASS_SMIME = 2 };

/* x509_leaf_classes: the classes of the certificate |der| judged by the leaf
 * alone, for a reader that has the log's entries but not its roots (a mirror,
 * logd/mirror.h): X509_CLASS_SMIME if the leaf qualifies for S/MIME as above
 * (emailProtection EKU and an address), X509_CLASS_TLS if it does not or if
 * its subjectAltName also has a dNSName; 0 if it does not decode. Which root
 * set the origin chained it to is not in the leaf: a certificate that
 * qualifies for S/MIME but was logged under a TLS root only is S/MIME here. */
unsigned x509_leaf_classes(const uint8_t *der, size_t len);

#define X509_MAX_NAMES 100    /* per kind (DNS names, email addresses) */

struct x509_result;
/* x509_logged fills |out| (x509_result_cleanup) for an entry already in a log
 * (a restore rebuilding what the entry was filed under, logd/restore.c): the
 * entry's type, |body| (x509: the leaf DER; precert: the TBS, with
 * |issuer_key_hash|) and |extra| (its RFC 6962 extra_data) copied, the dedup
 * key as x509_validate computes it, and the classes and names of the leaf
 * (for a precert: of extra_data's pre_certificate) judged by the leaf alone,
 * as x509_leaf_classes does. Nothing is validated (the log did that when it
 * took the entry). 0, MN_EMALFORMED (a leaf that does not decode, an
 * extra_data without a pre_certificate), MN_EINVAL (another entry type),
 * MN_ENOMEM, MN_ECRYPTO. */
int x509_logged(struct x509_result *out, uint16_t entry_type, const uint8_t *body,
		size_t body_len, const uint8_t issuer_key_hash[32], const uint8_t *extra,
		size_t extra_len);
#define X509_MAX_NAME_LEN 255 /* bytes */

/* A name copied out of the leaf; |data| points into x509_result.names_mem. */
struct x509_name {
	const uint8_t *data;
	size_t len;
};

/* The outcome of a successful validation. Owns |body|, |extra| and |names_mem|
 * (malloc'd); release with x509_result_cleanup. */
struct x509_result {
	uint16_t entry_type;         /* CT_X509_ENTRY or CT_PRECERT_ENTRY */
	uint8_t issuer_key_hash[32]; /* precert: SHA-256 of the final issuer's SPKI */
	uint8_t *body;               /* x509: the leaf DER; precert: the TBS */
	size_t body_len;
	/* extra_data, RFC 6962 section 4.6:
	 *   x509:    ASN.1Cert certificate_chain<0..2^24-1>;
	 *   precert: struct { ASN.1Cert pre_certificate;
	 *                     ASN.1Cert precertificate_chain<0..2^24-1>; }
	 * the chain being chain[1..] as submitted, ending with the root (appended
	 * when the submitter left it out). */
	uint8_t *extra;
	size_t extra_len;
	/* SHA-256("mn-dedup-x509\0" || leaf DER) or
	 * SHA-256("mn-dedup-precert\0" || precert DER || issuer_key_hash). */
	uint8_t dedup_key[32];
	uint64_t not_after_ms; /* the leaf's notAfter, ms since the epoch */
	unsigned classes;      /* X509_CLASS_*, never 0 on success */
	int smime_legacy;      /* S/MIME by the subject's emailAddress only */
	int names_incomplete;  /* names were skipped or cut at X509_MAX_NAMES */
	/* The leaf's names (see "Names" above), borrowed from names_mem. */
	const struct x509_name *dns_names; /* SAN dNSNames, lowercased */
	size_t num_dns_names;
	const struct x509_name *emails;    /* only with X509_CLASS_SMIME */
	size_t num_emails;
	void *names_mem;
};

/* x509_result_cleanup frees what |r| owns and zeroes it (safe twice). */
void x509_result_cleanup(struct x509_result *r);

/* x509_validate checks the chain |certs|[0..num_certs) (each |cert_lens|[i]
 * bytes of DER, borrowed) for add-chain (|precert| == 0) or add-pre-chain
 * (|precert| != 0) at time |now_ms|. On success fills |out| (which the caller
 * then cleans up) and returns 0. On failure |out| holds nothing to free,
 * |*out_reason| (may be NULL) is set to a static string naming the problem, and
 * the return value is:
 *   MN_EMALFORMED      empty chain, a certificate that is not exactly one DER
 *                      Certificate, invalid extensions in the leaf;
 *   MN_ETOOBIG         more than max_chain_len certificates, or one larger than
 *                      max_cert_len;
 *   MN_EBADCHAIN       a certificate not signed by the next one, names that do
 *                      not chain, an intermediate that is not a CA or whose
 *                      keyUsage lacks keyCertSign, a pathLenConstraint
 *                      exceeded, a configured root before the end of the
 *                      chain, a misplaced PSC, an intermediate with an
 *                      unsupported key;
 *   MN_EUNKNOWNANCHOR  the chain neither ends at nor is signed by a root of
 *                      either set;
 *   MN_EBADCERT        a precertificate to add-chain, a final certificate to
 *                      add-pre-chain, a non-critical or malformed poison
 *                      extension, an expired leaf, notBefore > notAfter, a
 *                      chain to the S/MIME roots only whose leaf lacks the
 *                      emailProtection EKU or an email address;
 *   MN_ENOMEM, MN_ECRYPTO  internal failures. */
int x509_validate(const struct x509_validator *v, const uint8_t *const *certs,
		  const size_t *cert_lens, size_t num_certs, int precert,
		  uint64_t now_ms, struct x509_result *out, const char **out_reason);

#endif
