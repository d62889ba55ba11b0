/* names.h: name normalization and lookup-index keys (DESIGN.md sections 1, 5, 7).
 *
 * "What is known about example.com / alice@example.com / this key" is answered
 * from three lookup indexes. This module turns the names that certificates, PGP
 * user IDs, policies and lookup queries speak of into canonical strings, and
 * those into index keys whose byte order makes each question one prefix scan.
 * It does no I/O and includes no storage header: the caller maps
 * enum names_index onto the storage indexes (DNS -> STORE_IDX_DNS, EMAIL ->
 * STORE_IDX_EMAIL, FPR -> STORE_IDX_PGP).
 *
 * Key layout. Every key ends with a 0x00 separator and one class byte, so the
 * class of a match is its last byte (names_key_class) and "this name exactly"
 * is the prefix up to and including the 0x00:
 *
 *   DNS    reversed labels, each followed by '.':
 *            "www.example.com" -> "com.example.www." 00 cls
 *            "*.example.com"   -> "com.example.*."   00 cls   (wildcard kept)
 *          exact lookup of example.com:     prefix "com.example." 00
 *          example.com and every subdomain: prefix "com.example."
 *          The dot after every label is a label boundary, so "com.examples."
 *          never matches the prefix "com.example.".
 *   email  the domain reversed as above, '@', the local part:
 *            "alice@example.com" -> "com.example.@alice" 00 cls
 *          exact lookup:                      prefix "com.example.@alice" 00
 *          every address at example.com:      prefix "com.example.@"
 *          ... and at its subdomains:         prefix "com.example."
 *   FPR    lowercase hex of an OpenPGP fingerprint (v4: 20 bytes, v6: 32):
 *            "0123...cdef" 00 cls;           exact lookup: prefix hex 00
 *
 * Keys a leaf gets, per class (the caller builds them, e.g. with names_keyset):
 *   TLS certificate ('t'): the DNS key of each dNSName in the subjectAltName,
 *       or of the subject CN when there is no SAN (RFC 6125 section 6.4.4).
 *   S/MIME certificate ('s'): the email key of each address, plus the DNS key
 *       of each address's domain, so that a domain lookup of example.com also
 *       returns the S/MIME certificates of addresses at example.com.
 *   PGP endorsement ('p'): the DNS key of the user ID's domain, the email key
 *       of the user ID's address, and the FPR keys of the endorsed key and of
 *       the certifier. The leaf holds the address only as a salted commitment
 *       (DESIGN.md section 6); the index is not published data (only lookup
 *       answers are, and only to someone who already knows the address), so the
 *       plain email key keeps exact-address lookups working without putting the
 *       address into the append-only tree.
 *   policy ('y'): the DNS key of a domain subject, or the email key of an
 *       email subject plus the DNS key of its domain (as for S/MIME).
 *
 * Case. DNS names are ASCII and compared without case (RFC 4343); IDNs must come
 * as A-labels ("xn--..."), U-labels are rejected, never converted. Email
 * addresses are lowercased whole: the log treats "Alice@example.com" and
 * "alice@example.com" as one address. RFC 5321 section 2.4 lets a server treat
 * local parts case-sensitively; this is a deliberate simplification, since
 * nearly all providers do not.
 *
 * Lengths. Storage keys are 1..NAMES_MAX_KEY_LEN (255) bytes, so a DNS name of
 * 253 characters (key 256 bytes) or an address of more than 252 characters has
 * no key: the key functions return MN_ETOOBIG. A submission whose names cannot
 * all be indexed should be refused rather than logged unindexed, or a monitor
 * watching example.com with subdomains could miss a very long subdomain.
 *
 * Strings here are (pointer, length) pairs; NUL bytes inside them are rejected.
 * Output buffers are the caller's. On any error nothing partial is left: a
 * string output gets "" (when cap > 0), a byte output is left untouched. */
#ifndef MN_ENTRY_NAMES_H
#define MN_ENTRY_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define NAMES_MAX_DNS_LEN 253   /* RFC 1035 section 2.3.4, without a trailing dot */
#define NAMES_MAX_LABEL_LEN 63
#define NAMES_MAX_LOCAL_LEN 64  /* RFC 5321 section 4.5.3.1.1 */
#define NAMES_MAX_EMAIL_LEN 254 /* RFC 5321 section 4.5.3.1.3 path, less "<>" */
#define NAMES_MAX_KEY_LEN 255   /* what storage accepts */
#define NAMES_MAX_FPR_LEN 32

/* Leaf classes: the last byte of every key. */
#define NAMES_CLASS_TLS 't'
#define NAMES_CLASS_SMIME 's'
#define NAMES_CLASS_PGP 'p'
#define NAMES_CLASS_POLICY 'y'

/* Which lookup index a key belongs in (the caller maps these). */
enum names_index {
	NAMES_INDEX_DNS,
	NAMES_INDEX_EMAIL,
	NAMES_INDEX_FPR,
};

/* Flags for names_dns_normalize / names_email_normalize. */
#define NAMES_QUERY 0x1u             /* a lookup query: at least two labels */
#define NAMES_ALLOW_UNDERSCORE 0x2u  /* '_' in labels (certificate SANs such as
					* "_dmarc.example.com"); never in queries */
#define NAMES_ALLOW_WILDCARD 0x4u    /* leftmost label exactly "*" followed by at
					* least one label (certificate SANs,
					* RFC 6125 section 6.4.3) */

/* names_dns_normalize writes the canonical form of the DNS name |in| (|len|
 * bytes) to |out| as a NUL-terminated string: ASCII lowercased, one trailing
 * dot removed. The name must then be 1..253 characters of labels of 1..63
 * characters from [a-z0-9-] ('_' too with NAMES_ALLOW_UNDERSCORE), no label
 * starting or ending with '-', and the last label not all digits (so
 * "192.0.2.1" is not a domain, RFC 3696 section 2). A "*" label is accepted
 * only as described at NAMES_ALLOW_WILDCARD. Bytes >= 0x80 are rejected: IDNs
 * must be given as A-labels. |cap| should be at least NAMES_MAX_DNS_LEN + 1.
 * Returns the length (without the NUL), MN_EMALFORMED for a name that breaks
 * the rules, MN_EINVAL when |out| is NULL, |cap| is 0 or too small, or |flags|
 * has unknown bits. */
int names_dns_normalize(char *out, size_t cap, const char *in, size_t len,
			unsigned flags);

/* names_dns_key writes the DNS key of |normalized| (the output of
 * names_dns_normalize, any flags) with class |cls| to |out|: reversed labels,
 * 0x00, |cls|. Returns the key length, MN_ETOOBIG when the key would exceed
 * NAMES_MAX_KEY_LEN (a 253-character name), MN_EINVAL when |normalized| is not
 * in canonical form, |cls| is not a NAMES_CLASS_*, or |cap| is too small. */
int names_dns_key(uint8_t *out, size_t cap, const char *normalized, size_t len,
		  uint8_t cls);

/* names_dns_query_prefix writes the scan prefix for a lookup of |normalized|:
 * with |subdomains| == 0 "com.example." 00 (the name itself, every class),
 * otherwise "com.example." (the name and all names below it, wildcards
 * included). Returns the prefix length or MN_EINVAL as names_dns_key. */
int names_dns_query_prefix(uint8_t *out, size_t cap, const char *normalized,
			   size_t len, int subdomains);

/* names_dns_wildcard_prefix writes the exact-lookup prefix of the wildcard name
 * that would cover |normalized| (RFC 6125 section 6.4.3: "*" stands for one
 * whole leftmost label): "www.example.com" -> "com.example.*." 00. A caller
 * answering "which certificates are valid for www.example.com" scans this too.
 * Returns the prefix length, MN_ENOTFOUND when |normalized| has fewer than two
 * labels or is itself a wildcard, MN_EINVAL as names_dns_key. */
int names_dns_wildcard_prefix(uint8_t *out, size_t cap, const char *normalized,
			      size_t len);

/* names_email_normalize writes the canonical form of the address |in| to |out|
 * as a NUL-terminated string "local@domain". |in| has exactly one '@'; the
 * local part is 1..64 printable ASCII bytes (0x21..0x7e) other than '@' and is
 * lowercased (see "Case" above); the domain is normalized as by
 * names_dns_normalize with |flags| & NAMES_QUERY (no underscore, no wildcard,
 * no trailing dot); the whole is at most NAMES_MAX_EMAIL_LEN. |cap| should be at
 * least NAMES_MAX_EMAIL_LEN + 1. Returns the length, MN_EMALFORMED, or
 * MN_EINVAL as names_dns_normalize. */
int names_email_normalize(char *out, size_t cap, const char *in, size_t len,
			  unsigned flags);

/* names_email_key writes the email key of |normalized| (output of
 * names_email_normalize): reversed domain, '@', local part, 0x00, |cls|.
 * Returns the key length, MN_ETOOBIG (an address longer than 252), or
 * MN_EINVAL as names_dns_key. */
int names_email_key(uint8_t *out, size_t cap, const char *normalized, size_t len,
		    uint8_t cls);

/* names_email_query_prefix writes the exact-lookup prefix of |normalized|:
 * "com.example.@alice" 00. Returns its length, MN_ETOOBIG (an address of 254
 * characters, which can have no key anyway), or MN_EINVAL. */
int names_email_query_prefix(uint8_t *out, size_t cap, const char *normalized,
			     size_t len);

/* names_email_domain_prefix writes the prefix, in the email index, of every
 * address at the normalized domain |domain|: "com.example.@", or with
 * |subdomains| != 0 "com.example." (addresses at subdomains too). Returns its
 * length or MN_EINVAL. */
int names_email_domain_prefix(uint8_t *out, size_t cap, const char *domain,
			      size_t len, int subdomains);

/* names_fpr_normalize decodes a fingerprint given as 40 (v4) or 64 (v6) hex
 * digits, upper or lower case, nothing else (no spaces, no "0x"), into |out|.
 * Returns the byte count (20 or 32), MN_EMALFORMED, or MN_EINVAL when |cap| is
 * too small. */
int names_fpr_normalize(uint8_t *out, size_t cap, const char *hex, size_t len);

/* names_fpr_key writes lowercase hex of |fpr| (20 or 32 bytes), 0x00, |cls|.
 * Returns the key length or MN_EINVAL. */
int names_fpr_key(uint8_t *out, size_t cap, const uint8_t *fpr, size_t fpr_len,
		  uint8_t cls);

/* names_fpr_query_prefix writes lowercase hex of |fpr|, 0x00. Returns its
 * length or MN_EINVAL. */
int names_fpr_query_prefix(uint8_t *out, size_t cap, const uint8_t *fpr,
			   size_t fpr_len);

/* names_class_valid returns 1 iff |cls| is one of NAMES_CLASS_*. */
int names_class_valid(uint8_t cls);

/* names_key_class returns the class byte of the index key |key| (a value
 * names_class_valid accepts), or MN_EMALFORMED when |key| does not end in
 * 0x00 and a class byte or holds another 0x00. */
int names_key_class(const uint8_t *key, size_t len);

/* A set of index keys for one leaf, without duplicates (a certificate naming
 * the same domain twice, two addresses at one domain). */
struct names_key {
	uint8_t index; /* enum names_index */
	uint8_t len;   /* 1..NAMES_MAX_KEY_LEN */
	uint8_t data[NAMES_MAX_KEY_LEN];
};

/* Owns |keys|. Initialize with names_keyset_init, release with
 * names_keyset_cleanup. */
struct names_keyset {
	struct names_key *keys;
	size_t num_keys;
	size_t cap_keys;
	size_t max_keys;
};

/* names_keyset_init makes |ks| empty, holding at most |max_keys| keys. */
void names_keyset_init(struct names_keyset *ks, size_t max_keys);
/* names_keyset_cleanup frees the keys; |ks| may then be initialized again. */
void names_keyset_cleanup(struct names_keyset *ks);

/* names_keyset_add adds a key unless an equal (index, key) is already there.
 * Returns 0, MN_EINVAL (bad index, length 0 or above NAMES_MAX_KEY_LEN),
 * MN_ETOOBIG (already max_keys keys), MN_ENOMEM. */
int names_keyset_add(struct names_keyset *ks, enum names_index index,
		     const uint8_t *key, size_t len);

/* names_keyset_add_dns normalizes |name| with |flags| and adds its DNS key of
 * class |cls|. Returns 0 or the error of names_dns_normalize, names_dns_key or
 * names_keyset_add. */
int names_keyset_add_dns(struct names_keyset *ks, const char *name, size_t len,
			 unsigned flags, uint8_t cls);

/* names_keyset_add_email normalizes |addr| and adds its email key of class
 * |cls| and, when |with_domain| is set, the DNS key of its domain with the same
 * class. Returns 0 or the errors as names_keyset_add_dns. */
int names_keyset_add_email(struct names_keyset *ks, const char *addr, size_t len,
			   int with_domain, uint8_t cls);

/* names_keyset_add_fpr adds the FPR key of |fpr| (20 or 32 bytes). */
int names_keyset_add_fpr(struct names_keyset *ks, const uint8_t *fpr,
			 size_t fpr_len, uint8_t cls);

#endif
