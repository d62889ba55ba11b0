/* policy.c: signed policy statements (entry type 0x8002): the compact JWS of
 * RFC 7515, RFC 8785 canonical JSON payloads, the signer's certificate; see
 * policy.h for the rules and the reasons behind them.
 *
 * Order of checks, cheapest and most specific first: JWS structure, header,
 * payload (canonical form, schema, times), then the signer: its key against
 * alg, the signature, the chain (x509_validate, which also caches
 * intermediates, so only statements with good signatures reach it), names,
 * usages and validity at iat. */
#include "entry/policy.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/b64.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/policy_internal.h"

#define MAX_X5C 32
#define MAX_MX 64

/* --- small helpers ------------------------------------------------------- */

/* check_payload without the time checks: a statement already logged */
#define POLICY_NO_CLOCK UINT64_MAX

static int ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* ascii_caseeq: equal lengths and equal bytes up to ASCII case. */
static int ascii_caseeq(const char *a, size_t a_len, const char *b, size_t b_len)
{
	if (a_len != b_len)
		return 0;
	for (size_t i = 0; i < a_len; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

static int str_is(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

/* sha256_2 sets |out| to SHA-256(|a| || |b|). Returns 1 or 0. */
static int sha256_2(uint8_t out[32], const void *a, size_t a_len, const void *b,
		    size_t b_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(ctx, a, a_len) && EVP_DigestUpdate(ctx, b, b_len) &&
		 EVP_DigestFinal_ex(ctx, out, &n) && n == 32;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* --- payload schema ------------------------------------------------------ */

/* valid_domain: lowercase LDH labels of 1..63 bytes, no leading or trailing
 * hyphen, at least two labels, a non-numeric last label, <= 253 bytes. */
static int valid_domain(const char *s, size_t len)
{
	size_t label = 0, labels = 1;
	int last_numeric = 1;
	if (len < 1 || len > 253)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			labels++;
			label = 0;
			last_numeric = 1;
			continue;
		}
		int digit = c >= '0' && c <= '9';
		if (!digit && !(c >= 'a' && c <= 'z') && c != '-')
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (!digit)
			last_numeric = 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-' && labels >= 2 && !last_numeric;
}

/* valid_local_part: RFC 5322 section 3.2.3 dot-atom, 1..64 bytes. */
static int valid_local_part(const char *s, size_t len)
{
	static const char special[] = "!#$%&'*+-/=?^_`{|}~";
	if (len < 1 || len > 64 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (s[i - 1] == '.')
				return 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || (c != '\0' && strchr(special, c) != NULL)))
			return 0;
	}
	return 1;
}

static int valid_email(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);
	if (len > POLICY_MAX_SUBJECT_LEN || at == NULL)
		return 0;
	size_t l = (size_t)(at - s);
	return valid_local_part(s, l) && valid_domain(at + 1, len - l - 1);
}

static const char *get_string(const json_t *j, size_t *out_len)
{
	if (!json_is_string(j))
		return NULL;
	*out_len = json_string_length(j);
	return json_string_value(j);
}

/* get_uint: an integer in [min, max]. */
static int get_uint(const json_t *j, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!json_is_integer(j))
		return 0;
	json_int_t v = json_integer_value(j);
	if (v < 0 || (uint64_t)v < min || (uint64_t)v > max)
		return 0;
	*out = (uint64_t)v;
	return 1;
}

/* only_fields: every member of |obj| is named in |names| (NULL-terminated). */
static int only_fields(const json_t *obj, const char *const *names)
{
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val) {
		size_t i;
		(void)val;
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(key, names[i]) == 0)
				break;
		if (names[i] == NULL)
			return 0;
	}
	return 1;
}

static const char *const kProtocols[] = {
	"smtp", "submission", "imap", "pop3", "https", "xmpp-server", "email-e2e", NULL,
};

static int check_tls(const json_t *tls, const char *protocol, const char **reason)
{
	static const char *const fields[] = {"min", "transport", NULL};
	const char *s;
	size_t len;
	if (!json_is_object(tls) || !only_fields(tls, fields)) {
		*reason = "payload tls must be an object with only transport and min";
		return 0;
	}
	s = get_string(json_object_get(tls, "transport"), &len);
	if (s == NULL || !(str_is(s, len, "starttls") || str_is(s, len, "implicit"))) {
		*reason = "payload tls.transport must be starttls or implicit";
		return 0;
	}
	/* Port 25 MX delivery has no implicit-TLS variant; HTTPS has no STARTTLS. */
	if ((strcmp(protocol, "smtp") == 0 && !str_is(s, len, "starttls")) ||
	    (strcmp(protocol, "https") == 0 && !str_is(s, len, "implicit"))) {
		*reason = "payload tls.transport does not fit the protocol";
		return 0;
	}
	s = get_string(json_object_get(tls, "min"), &len);
	if (s == NULL || !(str_is(s, len, "1.2") || str_is(s, len, "1.3"))) {
		*reason = "payload tls.min must be \"1.2\" or \"1.3\"";
		return 0;
	}
	return 1;
}

static int check_mx(const json_t *mx, const char **reason)
{
	size_t n = json_is_array(mx) ? json_array_size(mx) : 0;
	if (n < 1 || n > MAX_MX) {
		*reason = "payload mx must be an array of 1 to 64 host names";
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = 0, len2 = 0;
		const char *s = get_string(json_array_get(mx, i), &len);
		const char *name = s;
		size_t name_len = len;
		if (s != NULL && len > 2 && s[0] == '*' && s[1] == '.') {
			name += 2;
			name_len -= 2;
		}
		if (s == NULL || !valid_domain(name, name_len)) {
			*reason = "payload mx holds an invalid host name";
			return 0;
		}
		for (size_t k = 0; k < i; k++) {
			const char *t = get_string(json_array_get(mx, k), &len2);
			if (len2 == len && memcmp(s, t, len) == 0) {
				*reason = "payload mx holds a duplicate";
				return 0;
			}
		}
	}
	return 1;
}

static int check_e2e(const json_t *e2e, const char **reason)
{
	static const char *const fields[] = {"pgp", "smime", NULL};
	const char *key;
	json_t *val;
	if (!json_is_object(e2e) || json_object_size(e2e) < 1 ||
	    !only_fields(e2e, fields)) {
		*reason = "payload e2e must be an object with smime and/or pgp";
		return 0;
	}
	json_object_foreach((json_t *)e2e, key, val) {
		size_t len;
		const char *s = get_string(val, &len);
		(void)key;
		if (s == NULL || !(str_is(s, len, "require") || str_is(s, len, "prefer"))) {
			*reason = "payload e2e values must be require or prefer";
			return 0;
		}
	}
	return 1;
}

/* check_payload validates the schema of policy.h and fills the statement's
 * fields of |out|. Returns 0 or MN_EMALFORMED / MN_EBADCERT (times). */
static int check_payload(const json_t *p, struct policy_result *out,
			 uint64_t now_ms, const char **reason)
{
	static const char *const fields[] = {
		"e2e", "exp", "iat", "mode", "mx", "protocol", "serial", "subject",
		"tls", "v", NULL,
	};
	uint64_t v;
	const char *s;
	size_t len;
	const json_t *subj, *sv;

	if (!json_is_object(p)) {
		*reason = "payload is not a JSON object";
		return MN_EMALFORMED;
	}
	if (!only_fields(p, fields)) {
		*reason = "payload has an unknown field";
		return MN_EMALFORMED;
	}
	if (!get_uint(json_object_get(p, "v"), 1, 1, &v)) {
		*reason = "payload v must be 1";
		return MN_EMALFORMED;
	}

	subj = json_object_get(p, "subject");
	if (!json_is_object(subj) || json_object_size(subj) != 1) {
		*reason = "payload subject must hold exactly one of domain and email";
		return MN_EMALFORMED;
	}
	if ((sv = json_object_get(subj, "domain")) != NULL) {
		s = get_string(sv, &len);
		if (s == NULL || !valid_domain(s, len)) {
			*reason = "payload subject.domain is not a lowercase DNS name";
			return MN_EMALFORMED;
		}
		out->subject_is_email = 0;
	} else if ((sv = json_object_get(subj, "email")) != NULL) {
		s = get_string(sv, &len);
		if (s == NULL || !valid_email(s, len)) {
			*reason = "payload subject.email is not an address with a lowercase domain";
			return MN_EMALFORMED;
		}
		out->subject_is_email = 1;
	} else {
		*reason = "payload subject must hold exactly one of domain and email";
		return MN_EMALFORMED;
	}
	memcpy(out->subject, s, len);
	out->subject[len] = '\0';

	s = get_string(json_object_get(p, "protocol"), &len);
	size_t pi = 0;
	if (s != NULL)
		for (; kProtocols[pi] != NULL; pi++)
			if (str_is(s, len, kProtocols[pi]))
				break;
	if (s == NULL || kProtocols[pi] == NULL) {
		*reason = "payload protocol is not one of smtp, submission, imap, pop3, "
			  "https, xmpp-server, email-e2e";
		return MN_EMALFORMED;
	}
	int e2e_proto = strcmp(kProtocols[pi], "email-e2e") == 0;
	if (e2e_proto != out->subject_is_email) {
		*reason = "payload protocol does not fit the subject (email-e2e is for "
			  "email subjects only)";
		return MN_EMALFORMED;
	}
	memcpy(out->protocol, s, len);
	out->protocol[len] = '\0';

	if (!get_uint(json_object_get(p, "serial"), 1, TWO_53, &out->serial)) {
		*reason = "payload serial must be an integer from 1 to 2^53";
		return MN_EMALFORMED;
	}
	if (!get_uint(json_object_get(p, "iat"), 0, TWO_53, &out->iat) ||
	    !get_uint(json_object_get(p, "exp"), 0, TWO_53, &out->exp)) {
		*reason = "payload iat and exp must be integers (seconds since the epoch)";
		return MN_EMALFORMED;
	}

	s = get_string(json_object_get(p, "mode"), &len);
	if (s != NULL && str_is(s, len, "enforce"))
		out->mode = POLICY_MODE_ENFORCE;
	else if (s != NULL && str_is(s, len, "testing"))
		out->mode = POLICY_MODE_TESTING;
	else if (s != NULL && str_is(s, len, "none"))
		out->mode = POLICY_MODE_NONE;
	else {
		*reason = "payload mode must be enforce, testing or none";
		return MN_EMALFORMED;
	}
	out->withdraw = out->mode == POLICY_MODE_NONE;

	const json_t *tls = json_object_get(p, "tls"), *mx = json_object_get(p, "mx"),
		     *e2e = json_object_get(p, "e2e");
	int is_smtp = strcmp(out->protocol, "smtp") == 0;
	if (out->withdraw) {
		if (tls != NULL || mx != NULL || e2e != NULL) {
			*reason = "payload with mode none must not carry tls, mx or e2e";
			return MN_EMALFORMED;
		}
	} else if (e2e_proto) {
		if (tls != NULL || mx != NULL) {
			*reason = "payload for email-e2e must not carry tls or mx";
			return MN_EMALFORMED;
		}
		if (e2e == NULL) {
			*reason = "payload for email-e2e lacks e2e";
			return MN_EMALFORMED;
		}
		if (!check_e2e(e2e, reason))
			return MN_EMALFORMED;
	} else {
		if (e2e != NULL) {
			*reason = "payload e2e is for email-e2e only";
			return MN_EMALFORMED;
		}
		if (tls == NULL) {
			*reason = "payload lacks tls";
			return MN_EMALFORMED;
		}
		if (!check_tls(tls, out->protocol, reason))
			return MN_EMALFORMED;
		if (is_smtp ? mx == NULL : mx != NULL) {
			*reason = is_smtp ? "payload for smtp lacks mx"
					  : "payload mx is for smtp only";
			return MN_EMALFORMED;
		}
		if (is_smtp && !check_mx(mx, reason))
			return MN_EMALFORMED;
	}

	/* Times (seconds; now_ms is milliseconds). */
	if (out->exp <= out->iat) {
		*reason = "payload exp is not after iat";
		return MN_EBADCERT;
	}
	if (now_ms == POLICY_NO_CLOCK)
		return 0; /* a logged statement: its times were checked then */
	if (out->iat * 1000 > now_ms + POLICY_MAX_IAT_SKEW_MS) {
		*reason = "payload iat is more than 5 minutes in the future";
		return MN_EBADCERT;
	}
	if (out->exp * 1000 < now_ms) {
		*reason = "payload exp is in the past";
		return MN_EBADCERT;
	}
	return 0;
}

/* --- header -------------------------------------------------------------- */

enum jws_alg { ALG_ES256, ALG_ES384, ALG_RS256, ALG_PS256, ALG_EDDSA };

static const struct {
	const char *name;
	enum jws_alg alg;
} kAlgs[] = {
	{"ES256", ALG_ES256}, {"ES384", ALG_ES384}, {"RS256", ALG_RS256},
	{"PS256", ALG_PS256}, {"EdDSA", ALG_EDDSA},
};

/* Header fields refused with a reason of their own. */
static const struct {
	const char *name, *reason;
} kRefused[] = {
	{"crit", "JWS header crit is not allowed (no extensions are understood)"},
	{"jku", "JWS header jku is not allowed (keys are never fetched)"},
	{"jwk", "JWS header jwk is not allowed (the key must come from a certificate)"},
	{"x5u", "JWS header x5u is not allowed (certificates are never fetched)"},
	{"x5t", "JWS header x5t (SHA-1) is not allowed; use x5t#S256"},
	{"kid", "JWS header kid is not allowed"},
	{"b64", "JWS header b64 is not allowed"},
	{"zip", "JWS header zip is not allowed"},
	{"cty", "JWS header cty is not allowed"},
	{"enc", "JWS header enc is not allowed (not a JWE)"},
};

struct jws_header {
	enum jws_alg alg;
	const json_t *x5c;        /* borrowed from the header object */
	const json_t *x5t_s256;
};

static int check_header(const json_t *h, struct jws_header *out, const char **reason)
{
	const char *key;
	json_t *val;
	size_t len;
	const char *s;

	if (!json_is_object(h)) {
		*reason = "JWS header is not a JSON object";
		return MN_EMALFORMED;
	}
	json_object_foreach((json_t *)h, key, val) {
		(void)val;
		if (strcmp(key, "alg") == 0 || strcmp(key, "x5c") == 0 ||
		    strcmp(key, "x5t#S256") == 0 || strcmp(key, "typ") == 0)
			continue;
		for (size_t i = 0; i < sizeof(kRefused) / sizeof(kRefused[0]); i++)
			if (strcmp(key, kRefused[i].name) == 0) {
				*reason = kRefused[i].reason;
				return MN_EBADCERT;
			}
		*reason = "JWS header has a field that is not allowed";
		return MN_EBADCERT;
	}

	if ((s = get_string(json_object_get(h, "alg"), &len)) == NULL) {
		*reason = "JWS header has no alg string";
		return MN_EMALFORMED;
	}
	size_t i;
	for (i = 0; i < sizeof(kAlgs) / sizeof(kAlgs[0]); i++)
		if (str_is(s, len, kAlgs[i].name))
			break;
	if (i == sizeof(kAlgs) / sizeof(kAlgs[0])) {
		if (ascii_caseeq(s, len, "none", 4))
			*reason = "JWS alg none is not allowed";
		else if (len >= 2 && s[0] == 'H' && s[1] == 'S')
			*reason = "JWS alg HS* (HMAC) is not allowed";
		else
			*reason = "JWS alg is not one of ES256, ES384, RS256, PS256, EdDSA";
		return MN_EBADCERT;
	}
	out->alg = kAlgs[i].alg;

	const json_t *typ = json_object_get(h, "typ");
	if (typ != NULL) {
		s = get_string(typ, &len);
		if (s != NULL && len > 12 && ascii_caseeq(s, 12, "application/", 12)) {
			s += 12;
			len -= 12;
		}
		if (s == NULL || !ascii_caseeq(s, len, "mn-policy+jwt", 13)) {
			*reason = "JWS typ is not mn-policy+jwt";
			return MN_EBADCERT;
		}
	}

	out->x5c = json_object_get(h, "x5c");
	out->x5t_s256 = json_object_get(h, "x5t#S256");
	if ((out->x5c == NULL) == (out->x5t_s256 == NULL)) {
		*reason = "JWS header must hold exactly one of x5c and x5t#S256";
		return MN_EBADCERT;
	}
	return 0;
}

/* --- signature ----------------------------------------------------------- */

static int ec_curve_nid(EVP_PKEY *pk)
{
	char name[64];
	size_t len = 0;
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC ||
	    EVP_PKEY_get_group_name(pk, name, sizeof(name), &len) != 1)
		return NID_undef;
	int nid = OBJ_sn2nid(name);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(name);
	return nid;
}

static int key_fits(EVP_PKEY *pk, enum jws_alg alg)
{
	switch (alg) {
	case ALG_ES256:
		return ec_curve_nid(pk) == NID_X9_62_prime256v1;
	case ALG_ES384:
		return ec_curve_nid(pk) == NID_secp384r1;
	case ALG_RS256:
	case ALG_PS256:
		/* RFC 7518 sections 3.3 and 3.5: at least 2048 bits. The upper bound
		 * keeps a hostile key from costing seconds. */
		return EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA &&
		       EVP_PKEY_get_bits(pk) >= 2048 && EVP_PKEY_get_bits(pk) <= 8192;
	case ALG_EDDSA:
		return EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519;
	}
	return 0;
}

/* ecdsa_raw_to_der turns R || S (RFC 7518 section 3.4) into an ECDSA-Sig-Value
 * (RFC 3279 section 2.2.3), which is what OpenSSL verifies. */
static int ecdsa_raw_to_der(const uint8_t *sig, size_t half, uint8_t **out,
			    size_t *out_len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)half, NULL), *s = BN_bin2bn(sig + half, (int)half, NULL);
	int ret = MN_ENOMEM, n;
	*out = NULL;
	if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s))
		goto err;
	r = s = NULL; /* owned by es now */
	if ((n = i2d_ECDSA_SIG(es, out)) <= 0)
		goto err;
	*out_len = (size_t)n;
	ret = 0;
err:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return ret;
}

static int verify_sig(EVP_PKEY *pk, enum jws_alg alg, const uint8_t *msg,
		      size_t msg_len, const uint8_t *sig, size_t sig_len,
		      const char **reason)
{
	uint8_t *der = NULL;
	size_t der_len = 0;
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = NULL;
	int ret;

	switch (alg) {
	case ALG_ES256:
	case ALG_ES384: {
		size_t half = alg == ALG_ES256 ? 32 : 48;
		md = alg == ALG_ES256 ? EVP_sha256() : EVP_sha384();
		if (sig_len != 2 * half) {
			*reason = "JWS ECDSA signature is not R || S of the curve's size";
			return MN_EMALFORMED;
		}
		if ((ret = ecdsa_raw_to_der(sig, half, &der, &der_len)) != 0)
			return ret;
		sig = der;
		sig_len = der_len;
		break;
	}
	case ALG_RS256:
	case ALG_PS256:
		md = EVP_sha256();
		if (sig_len != (size_t)EVP_PKEY_get_size(pk)) {
			*reason = "JWS RSA signature length differs from the modulus";
			return MN_EMALFORMED;
		}
		break;
	case ALG_EDDSA:
		md = NULL; /* Ed25519 hashes internally (RFC 8032) */
		if (sig_len != 64) {
			*reason = "JWS Ed25519 signature is not 64 bytes";
			return MN_EMALFORMED;
		}
		break;
	}

	ret = MN_ECRYPTO;
	*reason = "signature verification failed internally";
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pk) != 1)
		goto err;
	if (alg == ALG_PS256 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1))
		goto err;
	if (alg == ALG_RS256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto err;
	if (EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) != 1) {
		*reason = "JWS signature does not verify";
		ret = MN_EBADSIG;
		goto err;
	}
	ret = 0;
	*reason = NULL;
err:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return ret;
}

/* --- signer certificate -------------------------------------------------- */

/* names_subject: a SAN entry of the right type equals the subject (policy.h). */
static int names_subject(X509 *x, const char *subject, int email)
{
	int crit = -1, found = 0;
	size_t subj_len = strlen(subject);
	const char *at = email ? strrchr(subject, '@') : NULL;
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL) /* none, or several SAN extensions (crit == -2) */
		return 0;
	for (int i = 0; i < sk_GENERAL_NAME_num(gens) && !found; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_IA5STRING *v;
		if (!email && g->type == GEN_DNS)
			v = g->d.dNSName;
		else if (email && g->type == GEN_EMAIL)
			v = g->d.rfc822Name;
		else
			continue;
		const char *d = (const char *)ASN1_STRING_get0_data(v);
		size_t d_len = (size_t)ASN1_STRING_length(v);
		if (!email) {
			found = ascii_caseeq(d, d_len, subject, subj_len);
			continue;
		}
		/* RFC 5280 section 7.5: local part exact, domain case-insensitive. */
		const char *d_at = NULL;
		for (size_t k = d_len; k > 0; k--)
			if (d[k - 1] == '@') {
				d_at = d + k - 1;
				break;
			}
		size_t local_len = (size_t)(at - subject);
		if (d_at != NULL && (size_t)(d_at - d) == local_len &&
		    memcmp(d, subject, local_len) == 0 &&
		    ascii_caseeq(d_at + 1, d_len - local_len - 1, at + 1,
				 subj_len - local_len - 1))
			found = 1;
	}
	GENERAL_NAMES_free(gens);
	return found;
}

static int check_signer(X509 *x, const struct policy_result *r, const char **reason)
{
	uint32_t flags = X509_get_extension_flags(x); /* caches the extensions */
	if (flags & EXFLAG_INVALID) {
		*reason = "signer certificate has invalid extensions";
		return MN_EBADCERT;
	}
	if (!names_subject(x, r->subject, r->subject_is_email)) {
		*reason = r->subject_is_email
				  ? "signer certificate has no email SAN equal to the subject"
				  : "signer certificate has no dNSName equal to the subject";
		return MN_EBADCERT;
	}
	uint32_t xku = X509_get_extended_key_usage(x);
	if (r->subject_is_email ? !(flags & EXFLAG_XKUSAGE) || !(xku & XKU_SMIME)
				: (flags & EXFLAG_XKUSAGE) && !(xku & XKU_SSL_SERVER)) {
		*reason = r->subject_is_email
				  ? "signer certificate lacks extendedKeyUsage emailProtection"
				  : "signer certificate's extendedKeyUsage lacks serverAuth";
		return MN_EBADCERT;
	}
	if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE)) {
		*reason = "signer certificate's keyUsage lacks digitalSignature";
		return MN_EBADCERT;
	}
	/* ASN1_TIME_cmp_time_t: -1 / 0 / 1, -2 on a bad time. */
	int nb = ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), (time_t)r->iat);
	int na = ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), (time_t)r->iat);
	if (nb == -2 || na == -2 || nb > 0 || na < 0) {
		*reason = "signer certificate was not valid at iat";
		return MN_EBADCERT;
	}
	return 0;
}

/* --- the whole statement ------------------------------------------------- */

void policy_result_cleanup(struct policy_result *r)
{
	if (r == NULL)
		return;
	free(r->jws);
	free(r->payload);
	x509_result_cleanup(&r->signer_chain);
	memset(r, 0, sizeof(*r));
}

/* outputs fills the subject key, the dedup key and the JWS copy of |out|,
 * whose statement check_payload filled. 0, MN_ECRYPTO, MN_ENOMEM. */
static int outputs(struct policy_result *out, const char *jws, size_t jws_len)
{
	static const char kDedup[] = "mn-dedup-policy"; /* sizeof includes the NUL */
	size_t sl = strlen(out->subject), pl = strlen(out->protocol);

	memcpy(out->subject_key, out->subject, sl);
	/* The key is case-insensitive, like the lookup indexes (entry/names.h:
	 * addresses are compared lowercased), so resolve finds the head of
	 * "Carol@example.com" under "carol@example.com" and both share one serial
	 * chain. Domains are lowercase already. */
	for (size_t i = 0; i < sl; i++)
		if (out->subject_key[i] >= 'A' && out->subject_key[i] <= 'Z')
			out->subject_key[i] = (uint8_t)(out->subject_key[i] - 'A' + 'a');
	out->subject_key[sl] = '|';
	memcpy(out->subject_key + sl + 1, out->protocol, pl);
	out->subject_key_len = sl + 1 + pl;
	if (!sha256_2(out->dedup_key, kDedup, sizeof(kDedup), jws, jws_len))
		return MN_ECRYPTO;
	if ((out->jws = malloc(jws_len + 1)) == NULL)
		return MN_ENOMEM;
	memcpy(out->jws, jws, jws_len);
	out->jws[jws_len] = '\0';
	out->jws_len = jws_len;
	return 0;
}

int policy_logged(struct policy_result *out, const char *jws, size_t jws_len)
{
	const char *dot1, *dot2, *reason = NULL;
	json_t *payload = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	if (jws_len > POLICY_MAX_JWS_LEN)
		return MN_EMALFORMED;
	dot1 = jws_len ? memchr(jws, '.', jws_len) : NULL;
	dot2 = dot1 ? memchr(dot1 + 1, '.', jws_len - (size_t)(dot1 + 1 - jws)) : NULL;
	if (dot2 == NULL)
		return MN_EMALFORMED;
	ret = mn_b64url_decode(&out->payload, &out->payload_len, dot1 + 1,
			       (size_t)(dot2 - dot1 - 1), POLICY_MAX_JWS_LEN);
	if (ret == 0 && out->payload_len > POLICY_MAX_PAYLOAD_LEN)
		ret = MN_EMALFORMED;
	if (ret == 0)
		ret = policy__jcs_load(&payload, out->payload, out->payload_len, &reason);
	if (ret == 0)
		ret = check_payload(payload, out, POLICY_NO_CLOCK, &reason);
	if (ret == 0)
		ret = outputs(out, jws, jws_len);
	json_decref(payload);
	if (ret != 0) {
		policy_result_cleanup(out);
		return ret == MN_ENOMEM || ret == MN_ECRYPTO ? ret : MN_EMALFORMED;
	}
	return 0;
}

int policy_check(const struct policy_verifier *v, struct policy_result *out,
		 const char **out_reason, const char *jws, size_t jws_len,
		 uint64_t now_ms)
{
	const char *reason = NULL;
	int ret = MN_ENOMEM;
	uint8_t *hdr_bytes = NULL, *sig = NULL, *signer_der = NULL;
	size_t hdr_len = 0, sig_len = 0, signer_len = 0;
	json_t *hdr = NULL, *payload = NULL;
	uint8_t *certs[MAX_X5C] = {NULL};
	size_t cert_lens[MAX_X5C] = {0}, num_certs = 0;
	X509 *leaf = NULL;
	EVP_PKEY *pk = NULL;
	struct jws_header h;
	const char *dot1, *dot2;

	memset(out, 0, sizeof(*out));
	memset(&h, 0, sizeof(h));
#define FAIL(code, why)                                                         \
	do {                                                                     \
		ret = (code);                                                    \
		reason = (why);                                                  \
		goto err;                                                        \
	} while (0)

	if (v == NULL || v->x509 == NULL || (jws == NULL && jws_len > 0))
		FAIL(MN_EINVAL, "policy_check called without a validator");
	if (jws_len > POLICY_MAX_JWS_LEN)
		FAIL(MN_ETOOBIG, "JWS is too long");

	/* RFC 7515 section 7.1: three parts; section 5.2 step 1. */
	dot1 = jws_len ? memchr(jws, '.', jws_len) : NULL;
	dot2 = dot1 ? memchr(dot1 + 1, '.', jws_len - (size_t)(dot1 + 1 - jws)) : NULL;
	if (dot2 == NULL ||
	    memchr(dot2 + 1, '.', jws_len - (size_t)(dot2 + 1 - jws)) != NULL)
		FAIL(MN_EMALFORMED, "JWS is not three dot-separated parts");
	const char *p_b64 = dot1 + 1, *s_b64 = dot2 + 1;
	size_t h_b64_len = (size_t)(dot1 - jws), p_b64_len = (size_t)(dot2 - p_b64);
	size_t s_b64_len = jws_len - (size_t)(s_b64 - jws);
	if (h_b64_len == 0 || p_b64_len == 0 || s_b64_len == 0)
		FAIL(MN_EMALFORMED, "JWS has an empty part");
	if (mn_b64url_decode(&hdr_bytes, &hdr_len, jws, h_b64_len, jws_len) != 0 ||
	    mn_b64url_decode(&out->payload, &out->payload_len, p_b64, p_b64_len,
			     POLICY_MAX_JWS_LEN) != 0 ||
	    mn_b64url_decode(&sig, &sig_len, s_b64, s_b64_len, jws_len) != 0)
		FAIL(MN_EMALFORMED, "JWS part is not base64url");
	if (out->payload_len > POLICY_MAX_PAYLOAD_LEN)
		FAIL(MN_ETOOBIG, "JWS payload is too long");

	if ((ret = policy__json_load_strict(&hdr, hdr_bytes, hdr_len, 1, &reason)) != 0)
		goto err;
	if ((ret = check_header(hdr, &h, &reason)) != 0)
		goto err;
	if ((ret = policy__jcs_load(&payload, out->payload, out->payload_len, &reason)) != 0)
		goto err;
	if ((ret = check_payload(payload, out, now_ms, &reason)) != 0)
		goto err;

	/* The signer's DER. */
	if (h.x5c != NULL) {
		size_t n = json_is_array(h.x5c) ? json_array_size(h.x5c) : 0;
		if (n == 0)
			FAIL(MN_EMALFORMED, "JWS x5c is not a non-empty array");
		if (n > MAX_X5C)
			FAIL(MN_ETOOBIG, "JWS x5c holds too many certificates");
		for (; num_certs < n; num_certs++) {
			size_t len;
			const char *s = get_string(json_array_get(h.x5c, num_certs), &len);
			/* RFC 7515 section 4.1.6: base64, not base64url. */
			if (s == NULL || mn_b64_decode(&certs[num_certs], &cert_lens[num_certs],
						       s, len, jws_len) != 0)
				FAIL(MN_EMALFORMED, "JWS x5c entry is not base64 DER");
		}
		signer_der = certs[0];
		signer_len = cert_lens[0];
	} else {
		uint8_t *t = NULL;
		size_t t_len = 0, len;
		const char *s = get_string(h.x5t_s256, &len);
		if (s == NULL || mn_b64url_decode(&t, &t_len, s, len, 64) != 0 || t_len != 32) {
			free(t);
			FAIL(MN_EMALFORMED, "JWS x5t#S256 is not a base64url SHA-256");
		}
		memcpy(out->signer_cert_hash, t, 32);
		free(t);
		ret = v->find_cert == NULL
			      ? MN_ENOTFOUND
			      : v->find_cert(v->find_cert_ctx, out->signer_cert_hash,
					     &signer_der, &signer_len);
		if (ret == MN_ENOTFOUND)
			FAIL(MN_EBADCERT, "JWS x5t#S256 names no logged certificate");
		if (ret != 0) {
			signer_der = NULL;
			FAIL(ret, "certificate lookup failed");
		}
	}
	if (h.x5c != NULL) {
		if (!sha256_2(out->signer_cert_hash, "", 0, signer_der, signer_len))
			FAIL(MN_ECRYPTO, "SHA-256 failed");
	} else {
		/* Do not trust the lookup blindly: it must be the named certificate. */
		uint8_t got[32];
		if (!sha256_2(got, "", 0, signer_der, signer_len))
			FAIL(MN_ECRYPTO, "SHA-256 failed");
		if (memcmp(got, out->signer_cert_hash, 32) != 0)
			FAIL(MN_EINTERNAL, "certificate lookup returned another certificate");
	}

	const uint8_t *p = signer_der;
	if (signer_len > LONG_MAX || (leaf = d2i_X509(NULL, &p, (long)signer_len)) == NULL ||
	    p != signer_der + signer_len)
		FAIL(MN_EMALFORMED, "signer certificate is not one DER certificate");
	if ((pk = X509_get_pubkey(leaf)) == NULL)
		FAIL(MN_EBADCERT, "signer certificate's public key is not supported");
	if (!key_fits(pk, h.alg))
		FAIL(MN_EBADCERT, "JWS alg does not fit the signer's key");

	/* RFC 7515 section 5.2 step 8: the signing input is the ASCII of the first
	 * two parts with their dot, exactly as received. */
	if ((ret = verify_sig(pk, h.alg, (const uint8_t *)jws, (size_t)(dot2 - jws),
			      sig, sig_len, &reason)) != 0)
		goto err;

	if (h.x5c != NULL) {
		ret = x509_validate(v->x509, (const uint8_t *const *)certs, cert_lens,
				    num_certs, 0, now_ms, &out->signer_chain, &reason);
		if (ret != 0)
			goto err;
		out->signer_chain_present = 1;
		if (out->subject_is_email && !(out->signer_chain.classes & X509_CLASS_SMIME))
			FAIL(MN_EBADCERT, "signer chain is not S/MIME (email subjects need "
					  "a chain to an S/MIME root)");
		if (!out->subject_is_email && !(out->signer_chain.classes & X509_CLASS_TLS))
			FAIL(MN_EBADCERT, "signer chain does not end at a TLS root");
	}
	if ((ret = check_signer(leaf, out, &reason)) != 0)
		goto err;

	/* Outputs. */
	if ((ret = outputs(out, jws, jws_len)) != 0)
		FAIL(ret, ret == MN_ENOMEM ? "out of memory" : "SHA-256 failed");
	ret = 0;
	reason = NULL;
#undef FAIL

err:
	if (ret != 0)
		policy_result_cleanup(out);
	if (h.x5c == NULL)
		free(signer_der);
	for (size_t i = 0; i < MAX_X5C; i++)
		free(certs[i]);
	EVP_PKEY_free(pk);
	X509_free(leaf);
	json_decref(hdr);
	json_decref(payload);
	free(hdr_bytes);
	free(sig);
	if (out_reason != NULL)
		*out_reason = reason;
	return ret;
}

/* --- leaf body ----------------------------------------------------------- */

int policy_encode_body(const struct policy_result *r, uint64_t signer_index,
		       uint8_t **out, size_t *out_len)
{
	struct cbb cbb, jws;
	if (r == NULL || r->jws == NULL || r->jws_len == 0 || r->jws_len > CT_MAX_BODY_LEN)
		return MN_EINVAL;
	if (!cbb_init(&cbb, r->jws_len + 3 + 8 + 32, CT_MAX_BODY_LEN))
		return MN_ENOMEM;
	if (!cbb_add_u24_length_prefixed(&cbb, &jws) ||
	    !cbb_add_bytes(&jws, (const uint8_t *)r->jws, r->jws_len) ||
	    !cbb_add_u64(&cbb, signer_index) ||
	    !cbb_add_bytes(&cbb, r->signer_cert_hash, 32) ||
	    !cbb_finish(&cbb, out, out_len)) {
		cbb_cleanup(&cbb);
		return MN_ENOMEM;
	}
	return 0;
}

int policy_parse_body(struct policy_body *out, const uint8_t *in, size_t in_len)
{
	struct cbs cbs, jws;
	cbs_init(&cbs, in, in_len);
	if (!cbs_get_u24_length_prefixed(&cbs, &jws) || cbs_len(&jws) == 0 ||
	    !cbs_get_u64(&cbs, &out->signer_index) ||
	    !cbs_copy_bytes(&cbs, out->signer_cert_hash, 32) || cbs_len(&cbs) != 0)
		return 0;
	out->jws = cbs_data(&jws);
	out->jws_len = cbs_len(&jws);
	return 1;
}
