/* policy.h: signed policy statements (LogEntryType 0x8002 signed_policy_entry,
 * DESIGN.md sections 1 and 6), submitted to POST /mn/v1/add-policy as
 * {"jws": "<compact JWS>"}. This module checks one statement; it does no HTTP
 * and no storage: the caller logs the signer's chain, enforces the serial and
 * encodes the leaf body.
 *
 * The JWS (RFC 7515 section 7.1, compact serialization only):
 *   BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)
 * each part non-empty, strict unpadded base64url (RFC 7515 section 2).
 *
 * Protected header: a JSON object (duplicate keys rejected) holding only
 *   "alg"      required: ES256 | ES384 | RS256 | PS256 | EdDSA (RFC 7518
 *              section 3.1, RFC 8037 section 3.1); EdDSA means Ed25519 only;
 *   "x5c"      the signer's chain, leaf first, standard base64 DER (RFC 7515
 *              section 4.1.6), or
 *   "x5t#S256" base64url SHA-256 of the DER of an already logged signer
 *              certificate (section 4.1.8); exactly one of x5c / x5t#S256;
 *   "typ"      optional; if present "mn-policy+jwt" (ASCII case-insensitive,
 *              "application/" prefix allowed, RFC 7515 section 4.1.9).
 * Everything else is refused, in particular "crit" (we understand no
 * extensions), "jku", "jwk", "x5u" (the key must come from a logged
 * certificate, never from a URL or the message itself), "x5t" (SHA-1), "kid"
 * (redundant with x5c/x5t#S256 and would make equal statements differ), "b64"
 * (RFC 7797) and "zip". The alg must fit the signer's key: ES256 a P-256 key,
 * ES384 a P-384 key, RS256/PS256 an rsaEncryption key of >= 2048 bits, EdDSA an
 * Ed25519 key. ES256/ES384 signatures are R || S, 32/48 bytes each (RFC 7518
 * section 3.4); PS256 is RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte
 * salt (section 3.5).
 *
 * Payload: the RFC 8785 (JCS) canonical serialization of a JSON object, byte for
 * byte: no insignificant whitespace, members sorted by the UTF-16 code units of
 * their names, strings escaped minimally (only \" \\ \b \f \n \r \t and \u00xx,
 * lowercase hex, for other controls; "\/" is not canonical), integers in plain
 * decimal. Floats (anything with '.', 'e' or 'E') and integers beyond 2^53 are
 * refused, as are duplicate member names at any depth. Schema (every field
 * below is checked, unknown fields refused):
 *   v         1
 *   subject   {"domain": D} or {"email": L "@" D}; D is lowercase LDH
 *             (A-labels), at least two labels, no trailing dot, <= 253 bytes;
 *             L is a dot-atom local part (RFC 5322 section 3.2.3), <= 64 bytes;
 *             the whole address <= 254 bytes
 *   protocol  smtp | submission | imap | pop3 | https | xmpp-server for a
 *             domain; email-e2e for an email address
 *   serial    integer, 1 <= serial <= 2^53
 *   iat, exp  integers, seconds since the epoch, <= 2^53
 *   mode      enforce | testing | none (none withdraws the statement)
 *   tls       transport protocols only, required unless mode is none:
 *             {"min": "1.2" | "1.3", "transport": "starttls" | "implicit"};
 *             smtp must use starttls, https implicit
 *   mx        smtp only, required unless mode is none: 1..64 distinct lowercase
 *             host names, each optionally "*." + name (MTA-STS, RFC 8461
 *             section 3.2)
 *   e2e       email-e2e only, required unless mode is none: {"pgp": P,
 *             "smime": P}, at least one of the two, P = require | prefer
 * With mode none, tls, mx and e2e must be absent: a withdrawal says nothing else.
 * Times: exp > iat, iat <= now + 5 minutes, exp >= now.
 *
 * Signer: the chain in x5c is validated with x509_validate (add-chain rules,
 * which include "not expired now") and must be of class TLS for a domain
 * subject, S/MIME for an email subject; a certificate named by x5t#S256 is
 * fetched with the caller's find_cert (it was validated when it was logged;
 * its class is not known here, so the EKU rules below stand in for it).
 * Either way the signer certificate must
 *   - name the subject in subjectAltName: a dNSName equal to the domain (ASCII
 *     case-insensitive; a wildcard never matches), or an rfc822Name whose local
 *     part equals the address's exactly and whose domain equals it
 *     case-insensitively (RFC 5280 section 7.5); the subject DN is ignored;
 *   - carry extendedKeyUsage emailProtection for an email subject; for a domain
 *     subject, an extendedKeyUsage, if present, must hold serverAuth; a
 *     keyUsage, if present, must hold digitalSignature;
 *   - be valid at iat (notBefore <= iat <= notAfter).
 *
 * Thread safety: policy_check keeps no state of its own; it may run on any
 * number of threads at once (the validator is thread-safe, and find_cert must
 * be if it is shared). */
#ifndef MN_ENTRY_POLICY_H
#define MN_ENTRY_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "entry/x509.h"

#define POLICY_MAX_JWS_LEN (256u * 1024)  /* whole compact JWS */
#define POLICY_MAX_PAYLOAD_LEN (16u * 1024) /* decoded payload */
#define POLICY_MAX_SUBJECT_LEN 254
#define POLICY_MAX_PROTOCOL_LEN 15
/* subject "|" protocol */
#define POLICY_MAX_KEY_LEN (POLICY_MAX_SUBJECT_LEN + 1 + POLICY_MAX_PROTOCOL_LEN)
#define POLICY_MAX_IAT_SKEW_MS (5u * 60 * 1000)

enum policy_mode {
	POLICY_MODE_ENFORCE = 0,
	POLICY_MODE_TESTING = 1,
	POLICY_MODE_NONE = 2, /* withdraws */
};

/* What policy_check needs besides the JWS; caller-owned, borrowed. */
struct policy_verifier {
	/* The log's validator (TLS and S/MIME root sets, x509_validator_new2);
	 * required. An x5c chain must come out of x509_validate with class
	 * X509_CLASS_TLS for a domain subject, X509_CLASS_SMIME for an email one. */
	const struct x509_validator *x509;
	/* find_cert resolves x5t#S256: given SHA-256 of a certificate's DER, it
	 * returns 0 and sets *out_der to a malloc'd copy of that certificate (which
	 * policy_check frees with free()) and *out_len to its length, if the
	 * certificate is logged (as an x509_entry that passed validation); returns
	 * MN_ENOTFOUND if not; any other negative code is a failure passed through.
	 * NULL: x5t#S256 is refused. The DER returned is checked against the hash. */
	int (*find_cert)(void *ctx, const uint8_t hash[32], uint8_t **out_der,
			 size_t *out_len);
	void *find_cert_ctx;
};

/* The outcome of a successful check. Owns jws, payload and signer_chain;
 * release with policy_result_cleanup. */
struct policy_result {
	char *jws;               /* copy of the compact JWS, NUL-terminated */
	size_t jws_len;          /* without the NUL */
	uint8_t *payload;        /* the decoded (canonical JSON) payload */
	size_t payload_len;
	char subject[POLICY_MAX_SUBJECT_LEN + 1];   /* NUL-terminated */
	int subject_is_email;
	char protocol[POLICY_MAX_PROTOCOL_LEN + 1]; /* NUL-terminated */
	uint64_t serial;
	uint64_t iat, exp;       /* seconds since the epoch */
	enum policy_mode mode;
	int withdraw;            /* mode == POLICY_MODE_NONE */
	/* The policy_head index key: subject "|" protocol (no NUL), ASCII-lowercased
	 * (an address's local part too, as in the lookup indexes). Unambiguous:
	 * no protocol contains '|', so the last '|' splits it; a domain key has no
	 * '@'. A prefix "subject|" finds every protocol of a subject. */
	uint8_t subject_key[POLICY_MAX_KEY_LEN];
	size_t subject_key_len;
	uint8_t signer_cert_hash[32]; /* SHA-256 of the signer certificate's DER */
	/* With x5c: the validated chain (entry_type CT_X509_ENTRY, body = the
	 * signer's DER), which the caller logs as an x509_entry in the same batch
	 * unless it is already logged (look it up by signer_chain.dedup_key). */
	int signer_chain_present;
	struct x509_result signer_chain;
	/* SHA-256("mn-dedup-policy\0" || compact JWS). base64url decoding is strict,
	 * so the compact form is a canonical encoding of (header, payload,
	 * signature): equal keys mean the same signed bytes. */
	uint8_t dedup_key[32];
};

/* policy_result_cleanup frees what |r| owns and zeroes it (safe twice). */
void policy_result_cleanup(struct policy_result *r);

/* policy_check checks the compact JWS |jws| (|jws_len| bytes, borrowed, need not
 * be NUL-terminated) at time |now_ms| (ms since the epoch) as described above.
 * It does not check the serial against earlier statements: the caller does, with
 * out->subject_key. On success fills |out| (which the caller then cleans up) and
 * returns 0. On failure |out| holds nothing to free, |*out_reason| (may be NULL)
 * is set to a static string naming the problem, and the return value is:
 *   MN_EMALFORMED      not three base64url parts, a header or payload that is
 *                      not JSON or has duplicate keys, a payload that is not
 *                      canonical JSON, a float, a missing, mistyped, unknown or
 *                      out-of-range payload field (schema above), undecodable
 *                      x5c / x5t#S256 values, a signature of the wrong length;
 *   MN_ETOOBIG         a JWS longer than POLICY_MAX_JWS_LEN, a payload longer
 *                      than POLICY_MAX_PAYLOAD_LEN, more than 32 x5c entries;
 *   MN_EBADSIG         the signature does not verify;
 *   MN_EBADCERT        policy rejections: alg not allowed (none, HS256, ...), a
 *                      header field not allowed, neither or both of x5c and
 *                      x5t#S256, a typ other than mn-policy+jwt, an alg that does
 *                      not fit the key, a signer that does not name the subject
 *                      or has the wrong key/extended key usage, a signer not
 *                      valid at iat, exp <= iat, iat more than 5 minutes ahead,
 *                      exp in the past, an x5c chain of the wrong class (not
 *                      TLS for a domain, not S/MIME for an email), an x5t#S256 that find_cert does not find (or no
 *                      find_cert); also x509_validate's MN_EBADCERT (expired
 *                      signer, ...);
 *   MN_EBADCHAIN, MN_EUNKNOWNANCHOR, MN_ETOOBIG
 *                      passed through from x509_validate for x5c;
 *   MN_ENOMEM, MN_ECRYPTO, or find_cert's own error: internal failures. */
int policy_check(const struct policy_verifier *v, struct policy_result *out,
		 const char **out_reason, const char *jws, size_t jws_len,
		 uint64_t now_ms);

/* policy_logged fills |out| (policy_result_cleanup) for a JWS already in a
 * log (logd/restore.c rebuilding what its leaf was filed under): the
 * statement (subject, protocol, serial, ...), subject_key and dedup_key by
 * the same payload rules and code as policy_check, without the signature,
 * the signer and the clock (the log checked those when it took it; the
 * statement may have expired since). No signer_chain. 0, MN_EMALFORMED (not
 * a JWS whose payload passes the schema), MN_ENOMEM, MN_ECRYPTO. */
int policy_logged(struct policy_result *out, const char *jws, size_t jws_len);

/* The leaf body of a signed_policy_entry (DESIGN.md section 6), the opaque
 * signed_entry of TimestampedEntry for entry_type 0x8002:
 *
 *   struct {
 *       opaque jws<1..2^24-1>;        -- the compact JWS, ASCII, as submitted
 *       uint64 signer_index;          -- leaf index of the signer's x509_entry
 *       opaque signer_cert_hash[32];  -- SHA-256 of the signer's DER
 *   } SignedPolicyBody;
 *
 * signer_index is known only once the signer's certificate is in the tree (or
 * being added in the same batch): the caller supplies it. */
struct policy_body {
	const uint8_t *jws; /* borrowed */
	size_t jws_len;
	uint64_t signer_index;
	uint8_t signer_cert_hash[32];
};

/* policy_encode_body writes SignedPolicyBody for |r| with |signer_index| into a
 * new buffer (*out, free()) of *out_len bytes. Returns 0, MN_EINVAL if |r| holds
 * no JWS, MN_ENOMEM. */
int policy_encode_body(const struct policy_result *r, uint64_t signer_index,
		       uint8_t **out, size_t *out_len);

/* policy_parse_body parses a whole SignedPolicyBody (no trailing bytes); |out|
 * borrows from |in|. Returns 1, or 0 if malformed (empty JWS, short, trailing
 * bytes). It does not verify the JWS. */
int policy_parse_body(struct policy_body *out, const uint8_t *in, size_t in_len) MN_WUR;

/* policy_jcs_check returns 0 if |in| is a JSON object or array serialized
 * exactly as RFC 8785 prescribes, within this module's subset (no floats, no
 * integers beyond 2^53, no duplicate names, no NUL in strings); otherwise
 * MN_EMALFORMED with |*out_reason| (may be NULL) naming the problem, or
 * MN_ENOMEM. */
int policy_jcs_check(const uint8_t *in, size_t in_len, const char **out_reason);

#endif
