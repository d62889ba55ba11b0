/* test_policy.c: signed policy statements (entry/policy.c). JWS are built here
 * with the OpenSSL API for every allowed alg; the signing input and the
 * R || S encoding are cross-checked with the openssl command line in both
 * directions; canonical JSON is checked against the examples of RFC 8785. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/policy.h"
#include "entry/x509.h"
#include "tests/lib/pki.h"

#define DAY 86400

static struct {
	struct pki_cert *root, *ca, *sroot, *sca;
	struct pki_cert *p256, *rsa, *p384, *ed, *other, *expired, *future, *wild,
		*upper, *email, *client_only, *tls_email, *smime_dns;
	struct x509_roots *troots, *sroots;
	struct x509_validator *x509;
	struct policy_verifier v;
	int64_t now;
} P;

static uint64_t now_ms(void)
{
	return (uint64_t)P.now * 1000;
}

/* --- building JWS ------------------------------------------------------- */

enum how { H_ES256, H_ES384, H_RS256, H_PS256, H_EDDSA };

static int ps_salt = 32; /* RFC 7518 section 3.5: the hash size */

/* sign_raw signs |msg| the JWS way: R || S for ECDSA (RFC 7518 section 3.4). */
static uint8_t *sign_raw(EVP_PKEY *key, enum how how, const uint8_t *msg,
			 size_t msg_len, size_t *out_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = how == H_ES384 ? EVP_sha384() : how == H_EDDSA ? NULL : EVP_sha256();
	size_t len = 0;
	uint8_t *sig = NULL;
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, &pctx, md, NULL, key), 1);
	if (how == H_PS256) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, ps_salt), 1);
	}
	assert_int_equal(EVP_DigestSign(ctx, NULL, &len, msg, msg_len), 1);
	sig = malloc(len);
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(ctx, sig, &len, msg, msg_len), 1);
	EVP_MD_CTX_free(ctx);
	if (how == H_ES256 || how == H_ES384) {
		int half = how == H_ES256 ? 32 : 48;
		const uint8_t *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
		assert_non_null(es);
		uint8_t *raw = malloc(2 * (size_t)half);
		assert_non_null(raw);
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, half), half);
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + half, half), half);
		ECDSA_SIG_free(es);
		free(sig);
		sig = raw;
		len = 2 * (size_t)half;
	}
	*out_len = len;
	return sig;
}

static char *b64url(const void *in, size_t len)
{
	char *s = malloc(mn_b64url_encoded_len(len) + 1);
	assert_non_null(s);
	mn_b64url_encode(s, in, len);
	return s;
}

/* jws_from_sig: header.payload.signature with the given signature bytes. */
static char *jws_from_sig(const char *header, const char *payload, const uint8_t *sig,
			  size_t sig_len)
{
	char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
	char *s = b64url(sig, sig_len);
	size_t n = strlen(h) + strlen(p) + strlen(s) + 3;
	char *out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%s.%s.%s", h, p, s);
	free(h);
	free(p);
	free(s);
	return out;
}

/* make_jws signs header.payload with |key| as |how| says. */
static char *make_jws(const char *header, const char *payload, EVP_PKEY *key,
		      enum how how)
{
	char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
	size_t n = strlen(h) + strlen(p) + 2, sig_len;
	char *input = malloc(n);
	assert_non_null(input);
	snprintf(input, n, "%s.%s", h, p);
	uint8_t *sig = sign_raw(key, how, (const uint8_t *)input, strlen(input), &sig_len);
	char *out = jws_from_sig(header, payload, sig, sig_len);
	free(sig);
	free(input);
	free(h);
	free(p);
	return out;
}

/* x5c_header: {"alg":ALG,"x5c":[leaf, ca]} plus |extra| members. */
static char *x5c_header(const char *alg, const struct pki_cert *leaf,
			const struct pki_cert *ca, const char *extra)
{
	char *a = malloc(mn_b64_encoded_len(leaf->der_len) + 1);
	char *b = malloc(mn_b64_encoded_len(ca->der_len) + 1);
	assert_non_null(a);
	assert_non_null(b);
	mn_b64_encode(a, leaf->der, leaf->der_len);
	mn_b64_encode(b, ca->der, ca->der_len);
	size_t n = strlen(a) + strlen(b) + strlen(alg) + strlen(extra) + 64;
	char *h = malloc(n);
	assert_non_null(h);
	snprintf(h, n, "{\"alg\":\"%s\"%s,\"x5c\":[\"%s\",\"%s\"]}", alg, extra, a, b);
	free(a);
	free(b);
	return h;
}

/* smtp_payload: a canonical smtp policy for |domain| issued at |iat|. */
static char *smtp_payload(const char *domain, int64_t iat, int64_t exp, uint64_t serial)
{
	char *p = malloc(1024);
	assert_non_null(p);
	snprintf(p, 1024,
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",\"mx\":[\"*.mx.%s\","
		 "\"mx1.%s\"],\"protocol\":\"smtp\",\"serial\":%llu,\"subject\":"
		 "{\"domain\":\"%s\"},\"tls\":{\"min\":\"1.2\",\"transport\":\"starttls\"},"
		 "\"v\":1}",
		 (long long)exp, (long long)iat, domain, domain, (unsigned long long)serial,
		 domain);
	return p;
}

static char *default_payload(void)
{
	return smtp_payload("example.com", P.now, P.now + 30 * DAY, 3);
}

/* build: a JWS over |payload| signed by |leaf| (under P.ca) with |alg|. */
static char *build(const char *alg, enum how how, const struct pki_cert *leaf,
		   const struct pki_cert *ca, const char *payload)
{
	char *h = x5c_header(alg, leaf, ca, "");
	char *j = make_jws(h, payload, leaf->key, how);
	free(h);
	return j;
}

static int check(const char *jws, struct policy_result *r, const char **reason)
{
	return policy_check(&P.v, r, reason, jws, strlen(jws), now_ms());
}

/* expect_fail: |jws| is refused with |code| and a reason containing |needle|;
 * takes ownership of |jws|. */
static void expect_fail(char *jws, int code, const char *needle)
{
	struct policy_result r;
	const char *reason = NULL;
	int ret = check(jws, &r, &reason);
	if (ret != code || reason == NULL || strstr(reason, needle) == NULL)
		print_error("got %s (%s), want %s with \"%s\"\n", mn_err_name(ret),
			    reason ? reason : "no reason", mn_err_name(code), needle);
	assert_int_equal(ret, code);
	assert_non_null(reason);
	assert_non_null(strstr(reason, needle));
	/* nothing to free on failure, and cleanup is safe anyway */
	assert_null(r.jws);
	assert_int_equal(r.signer_chain_present, 0);
	policy_result_cleanup(&r);
	free(jws);
}

static void expect_ok(char *jws, struct policy_result *r)
{
	const char *reason = NULL;
	int ret = check(jws, r, &reason);
	if (ret != 0)
		print_error("refused: %s (%s)\n", mn_err_name(ret), reason ? reason : "");
	assert_int_equal(ret, 0);
	assert_null(reason);
	free(jws);
}

/* --- fixture ------------------------------------------------------------ */

static struct pki_cert *issue_with_key(const struct pki_cert *issuer, const char *cn,
				       const char *const *names, size_t num,
				       unsigned flags, EVP_PKEY *key, int64_t nb,
				       int64_t na)
{
	struct pki_opts o = {0};
	o.cn = cn;
	o.dns = names;
	o.num_dns = num;
	o.flags = flags;
	o.not_before = nb;
	o.not_after = na;
	o.key = key;
	return pki_issue_opts(issuer, &o);
}

static int setup(void)
{
	static const char *const ex[] = {"example.com", "www.example.com"};
	static const char *const other[] = {"other.com"};
	static const char *const wild[] = {"*.example.com"};
	static const char *const upper[] = {"EXAMPLE.Com"};
	static const char *const alice[] = {"alice@EXAMPLE.com"};
	int64_t now = P.now = pki_now();
	int64_t nb = now - DAY, na = now + 90 * DAY;
	EVP_PKEY *k384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *ked = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k384 == NULL || ked == NULL)
		return -1;
	P.root = pki_root("Policy Test Root", 0);
	P.sroot = pki_root("Policy Test S/MIME Root", 0);
	P.ca = pki_issue(P.root, "Policy Test CA", NULL, 0, PKI_CA, nb, now + 365 * DAY);
	P.sca = pki_issue(P.sroot, "Policy Test S/MIME CA", NULL, 0, PKI_CA, nb,
			  now + 365 * DAY);
	if (!P.root || !P.sroot || !P.ca || !P.sca)
		return -1;
	P.p256 = pki_issue(P.ca, "example.com", ex, 2, 0, nb, na);
	P.rsa = pki_issue(P.ca, "example.com", ex, 2, PKI_RSA, nb, na);
	P.p384 = issue_with_key(P.ca, "example.com", ex, 2, 0, k384, nb, na);
	P.ed = issue_with_key(P.ca, "example.com", ex, 2, 0, ked, nb, na);
	P.other = pki_issue(P.ca, "other.com", other, 1, 0, nb, na);
	P.expired = pki_issue(P.ca, "example.com", ex, 2, 0, now - 30 * DAY, now - DAY);
	P.future = pki_issue(P.ca, "example.com", ex, 2, 0, now + 3600, na);
	P.wild = pki_issue(P.ca, "*.example.com", wild, 1, 0, nb, na);
	P.upper = pki_issue(P.ca, "EXAMPLE.Com", upper, 1, 0, nb, na);
	P.email = pki_issue(P.sca, "alice", alice, 1, PKI_EMAIL, nb, na);
	/* an email SAN under the S/MIME root but with serverAuth EKU */
	{
		struct pki_opts o = {0};
		o.cn = "alice";
		o.dns = alice;
		o.num_dns = 1;
		o.flags = PKI_EMAIL;
		o.not_before = nb;
		o.not_after = na;
		o.eku = "serverAuth";
		P.client_only = pki_issue_opts(P.sca, &o);
		/* TLS-rooted, with an email SAN and emailProtection: class TLS only */
		o.eku = "emailProtection";
		P.tls_email = pki_issue_opts(P.ca, &o);
		/* S/MIME-rooted, qualifying as S/MIME, with a dNSName too */
		o.flags = 0;
		o.dns = ex;
		o.num_dns = 2;
		o.emails = alice;
		o.num_emails = 1;
		o.eku = "serverAuth,emailProtection";
		P.smime_dns = pki_issue_opts(P.sca, &o);
	}
	EVP_PKEY_free(k384);
	EVP_PKEY_free(ked);
	if (!P.p256 || !P.rsa || !P.p384 || !P.ed || !P.other || !P.expired || !P.future ||
	    !P.wild || !P.upper || !P.email || !P.client_only || !P.tls_email ||
	    !P.smime_dns)
		return -1;

	const struct pki_cert *tr[] = {P.root}, *sr[] = {P.sroot};
	size_t len;
	char *pem = pki_pem(tr, 1, &len);
	int ok = pem && x509_roots_load_pem(&P.troots, NULL, (uint8_t *)pem, len) == 0;
	free(pem);
	pem = pki_pem(sr, 1, &len);
	ok = ok && pem && x509_roots_load_pem(&P.sroots, NULL, (uint8_t *)pem, len) == 0;
	free(pem);
	if (!ok)
		return -1;
	P.x509 = x509_validator_new2(P.troots, P.sroots, NULL);
	if (!P.x509)
		return -1;
	P.v.x509 = P.x509;
	return 0;
}

static void teardown(void)
{
	struct pki_cert **all[] = {
		&P.root, &P.ca, &P.sroot, &P.sca, &P.p256, &P.rsa, &P.p384, &P.ed,
		&P.other, &P.expired, &P.future, &P.wild, &P.upper, &P.email,
		&P.client_only, &P.tls_email, &P.smime_dns,
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		pki_free(*all[i]);
		*all[i] = NULL;
	}
	x509_validator_free(P.x509);
	x509_roots_free(P.troots);
	x509_roots_free(P.sroots);
}

/* --- accepted statements ------------------------------------------------ */

static void check_result_common(const struct policy_result *r, const char *jws_copy,
				const struct pki_cert *signer)
{
	uint8_t want[32];
	assert_string_equal(r->subject, "example.com");
	assert_int_equal(r->subject_is_email, 0);
	assert_string_equal(r->protocol, "smtp");
	assert_int_equal(r->serial, 3);
	assert_int_equal(r->iat, (uint64_t)P.now);
	assert_int_equal(r->exp, (uint64_t)P.now + 30 * DAY);
	assert_int_equal(r->mode, POLICY_MODE_ENFORCE);
	assert_int_equal(r->withdraw, 0);
	assert_int_equal(r->subject_key_len, strlen("example.com|smtp"));
	assert_memory_equal(r->subject_key, "example.com|smtp", r->subject_key_len);
	SHA256(signer->der, signer->der_len, want);
	assert_memory_equal(r->signer_cert_hash, want, 32);
	assert_int_equal(r->signer_chain_present, 1);
	assert_int_equal(r->signer_chain.entry_type, CT_X509_ENTRY);
	assert_int_equal(r->signer_chain.body_len, signer->der_len);
	assert_memory_equal(r->signer_chain.body, signer->der, signer->der_len);
	assert_string_equal(r->jws, jws_copy);
	assert_int_equal(r->jws_len, strlen(jws_copy));
	/* dedup key computed independently */
	size_t jl = strlen(jws_copy);
	uint8_t *buf = malloc(16 + jl);
	assert_non_null(buf);
	memcpy(buf, "mn-dedup-policy", 16); /* with its NUL */
	memcpy(buf + 16, jws_copy, jl);
	SHA256(buf, 16 + jl, want);
	free(buf);
	assert_memory_equal(r->dedup_key, want, 32);
}

static void test_accept_each_alg(void **state)
{
	static const struct {
		const char *alg;
		enum how how;
	} algs[] = {
		{"ES256", H_ES256}, {"ES384", H_ES384}, {"RS256", H_RS256},
		{"PS256", H_PS256}, {"EdDSA", H_EDDSA},
	};
	const struct pki_cert *signers[] = {P.p256, P.p384, P.rsa, P.rsa, P.ed};
	(void)state;
	for (size_t i = 0; i < 5; i++) {
		char *payload = default_payload();
		char *jws = build(algs[i].alg, algs[i].how, signers[i], P.ca, payload);
		char *copy = strdup(jws);
		struct policy_result r;
		expect_ok(jws, &r);
		check_result_common(&r, copy, signers[i]);
		assert_memory_equal(r.payload, payload, strlen(payload));
		assert_int_equal(r.payload_len, strlen(payload));
		policy_result_cleanup(&r);
		policy_result_cleanup(&r); /* safe twice */
		free(copy);
		free(payload);
	}
}

static void test_flipped_signature(void **state)
{
	const struct pki_cert *signers[] = {P.p256, P.p384, P.rsa, P.rsa, P.ed};
	const char *algs[] = {"ES256", "ES384", "RS256", "PS256", "EdDSA"};
	(void)state;
	for (int i = 0; i < 5; i++) {
		char *payload = default_payload();
		char *jws = build(algs[i], (enum how)i, signers[i], P.ca, payload);
		/* flip one bit of a signature byte: re-encode the decoded signature */
		char *dot = strrchr(jws, '.');
		uint8_t *sig;
		size_t sig_len;
		assert_int_equal(mn_b64url_decode(&sig, &sig_len, dot + 1, strlen(dot + 1), 4096), 0);
		sig[sig_len / 3] ^= 0x01;
		char *enc = b64url(sig, sig_len);
		size_t n = (size_t)(dot - jws) + strlen(enc) + 2;
		char *bad = malloc(n);
		assert_non_null(bad);
		snprintf(bad, n, "%.*s.%s", (int)(dot - jws), jws, enc);
		expect_fail(bad, MN_EBADSIG, "does not verify");
		/* and a payload changed after signing */
		char *p2 = smtp_payload("example.com", P.now, P.now + 30 * DAY, 4);
		char *h = x5c_header(algs[i], signers[i], P.ca, "");
		char *forged = jws_from_sig(h, p2, sig, sig_len);
		sig[sig_len / 3] ^= 0x01; /* the original, valid over the old payload */
		free(forged);
		forged = jws_from_sig(h, p2, sig, sig_len);
		expect_fail(forged, MN_EBADSIG, "does not verify");
		free(h);
		free(p2);
		free(enc);
		free(sig);
		free(jws);
		free(payload);
	}
}

static void test_withdraw_and_other_protocols(void **state)
{
	char p[1024];
	struct policy_result r;
	(void)state;
	snprintf(p, sizeof(p),
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"none\",\"protocol\":\"smtp\","
		 "\"serial\":9,\"subject\":{\"domain\":\"example.com\"},\"v\":1}",
		 (long long)P.now + DAY, (long long)P.now);
	expect_ok(build("ES256", H_ES256, P.p256, P.ca, p), &r);
	assert_int_equal(r.withdraw, 1);
	assert_int_equal(r.mode, POLICY_MODE_NONE);
	assert_int_equal(r.serial, 9);
	policy_result_cleanup(&r);

	/* withdrawal carrying tls is refused */
	snprintf(p, sizeof(p),
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"none\",\"protocol\":\"imap\","
		 "\"serial\":9,\"subject\":{\"domain\":\"example.com\"},\"tls\":{\"min\":"
		 "\"1.3\",\"transport\":\"implicit\"},\"v\":1}",
		 (long long)P.now + DAY, (long long)P.now);
	expect_fail(build("ES256", H_ES256, P.p256, P.ca, p), MN_EMALFORMED, "mode none");

	snprintf(p, sizeof(p),
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"testing\",\"protocol\":\"imap\","
		 "\"serial\":1,\"subject\":{\"domain\":\"example.com\"},\"tls\":{\"min\":"
		 "\"1.3\",\"transport\":\"implicit\"},\"v\":1}",
		 (long long)P.now + DAY, (long long)P.now);
	expect_ok(build("ES256", H_ES256, P.p256, P.ca, p), &r);
	assert_string_equal(r.protocol, "imap");
	assert_int_equal(r.mode, POLICY_MODE_TESTING);
	assert_memory_equal(r.subject_key, "example.com|imap", r.subject_key_len);
	policy_result_cleanup(&r);

	/* imap must not carry mx; https cannot be starttls */
	snprintf(p, sizeof(p),
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",\"mx\":[\"a.example.com\"],"
		 "\"protocol\":\"imap\",\"serial\":1,\"subject\":{\"domain\":\"example.com\"},"
		 "\"tls\":{\"min\":\"1.3\",\"transport\":\"implicit\"},\"v\":1}",
		 (long long)P.now + DAY, (long long)P.now);
	expect_fail(build("ES256", H_ES256, P.p256, P.ca, p), MN_EMALFORMED, "smtp only");
	snprintf(p, sizeof(p),
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",\"protocol\":\"https\","
		 "\"serial\":1,\"subject\":{\"domain\":\"example.com\"},\"tls\":{\"min\":"
		 "\"1.3\",\"transport\":\"starttls\"},\"v\":1}",
		 (long long)P.now + DAY, (long long)P.now);
	expect_fail(build("ES256", H_ES256, P.p256, P.ca, p), MN_EMALFORMED, "transport");
	/* smtp without mx */
	snprintf(p, sizeof(p),
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",\"protocol\":\"smtp\","
		 "\"serial\":1,\"subject\":{\"domain\":\"example.com\"},\"tls\":{\"min\":"
		 "\"1.2\",\"transport\":\"starttls\"},\"v\":1}",
		 (long long)P.now + DAY, (long long)P.now);
	expect_fail(build("ES256", H_ES256, P.p256, P.ca, p), MN_EMALFORMED, "lacks mx");
}

static void test_email_subject(void **state)
{
	char p[1024];
	struct policy_result r;
	(void)state;
	snprintf(p, sizeof(p),
		 "{\"e2e\":{\"pgp\":\"prefer\",\"smime\":\"require\"},\"exp\":%lld,\"iat\":"
		 "%lld,\"mode\":\"enforce\",\"protocol\":\"email-e2e\",\"serial\":2,"
		 "\"subject\":{\"email\":\"alice@example.com\"},\"v\":1}",
		 (long long)P.now + DAY, (long long)P.now);
	/* SAN alice@EXAMPLE.com: the domain compares case-insensitively */
	expect_ok(build("ES256", H_ES256, P.email, P.sca, p), &r);
	assert_int_equal(r.subject_is_email, 1);
	assert_string_equal(r.subject, "alice@example.com");
	assert_memory_equal(r.subject_key, "alice@example.com|email-e2e", r.subject_key_len);
	assert_int_equal(r.subject_key_len, strlen("alice@example.com|email-e2e"));
	policy_result_cleanup(&r);

	/* a signer without emailProtection */
	expect_fail(build("ES256", H_ES256, P.client_only, P.sca, p), MN_EBADCERT,
		    "emailProtection");
	/* a TLS chain for an email subject, even with the right SAN and EKU */
	expect_fail(build("ES256", H_ES256, P.tls_email, P.ca, p), MN_EBADCERT,
		    "not S/MIME");

	/* local parts compare exactly */
	snprintf(p, sizeof(p),
		 "{\"e2e\":{\"smime\":\"require\"},\"exp\":%lld,\"iat\":%lld,\"mode\":"
		 "\"enforce\",\"protocol\":\"email-e2e\",\"serial\":2,\"subject\":"
		 "{\"email\":\"Alice@example.com\"},\"v\":1}",
		 (long long)P.now + DAY, (long long)P.now);
	expect_fail(build("ES256", H_ES256, P.email, P.sca, p), MN_EBADCERT, "email SAN");
	/* uppercase domain part in the payload */
	snprintf(p, sizeof(p),
		 "{\"e2e\":{\"smime\":\"require\"},\"exp\":%lld,\"iat\":%lld,\"mode\":"
		 "\"enforce\",\"protocol\":\"email-e2e\",\"serial\":2,\"subject\":"
		 "{\"email\":\"alice@Example.com\"},\"v\":1}",
		 (long long)P.now + DAY, (long long)P.now);
	expect_fail(build("ES256", H_ES256, P.email, P.sca, p), MN_EMALFORMED, "email");
	/* email-e2e without e2e, and e2e with a bad value */
	snprintf(p, sizeof(p),
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",\"protocol\":\"email-e2e\","
		 "\"serial\":2,\"subject\":{\"email\":\"alice@example.com\"},\"v\":1}",
		 (long long)P.now + DAY, (long long)P.now);
	expect_fail(build("ES256", H_ES256, P.email, P.sca, p), MN_EMALFORMED, "lacks e2e");
	snprintf(p, sizeof(p),
		 "{\"e2e\":{\"smime\":\"always\"},\"exp\":%lld,\"iat\":%lld,\"mode\":"
		 "\"enforce\",\"protocol\":\"email-e2e\",\"serial\":2,\"subject\":"
		 "{\"email\":\"alice@example.com\"},\"v\":1}",
		 (long long)P.now + DAY, (long long)P.now);
	expect_fail(build("ES256", H_ES256, P.email, P.sca, p), MN_EMALFORMED, "e2e");
	/* smtp for an email subject */
	snprintf(p, sizeof(p),
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",\"mx\":[\"mx.example.com\"],"
		 "\"protocol\":\"smtp\",\"serial\":2,\"subject\":{\"email\":"
		 "\"alice@example.com\"},\"tls\":{\"min\":\"1.2\",\"transport\":\"starttls\"},"
		 "\"v\":1}",
		 (long long)P.now + DAY, (long long)P.now);
	expect_fail(build("ES256", H_ES256, P.email, P.sca, p), MN_EMALFORMED,
		    "does not fit the subject");
}

/* --- header ------------------------------------------------------------- */

static void test_header_rejections(void **state)
{
	static const struct {
		const char *extra, *needle;
	} refused[] = {
		{",\"crit\":[\"exp\"]", "crit"},
		{",\"jku\":\"https://example.com/k\"", "jku"},
		{",\"jwk\":{\"kty\":\"EC\"}", "jwk"},
		{",\"x5u\":\"https://example.com/c\"", "x5u"},
		{",\"kid\":\"1\"", "kid"},
		{",\"x5t\":\"AAAA\"", "x5t"},
		{",\"foo\":1", "not allowed"},
		{",\"typ\":\"JWT\"", "typ"},
		{",\"x5t#S256\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", "exactly one"},
	};
	(void)state;
	char *payload = default_payload();
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char *h = x5c_header("ES256", P.p256, P.ca, refused[i].extra);
		expect_fail(make_jws(h, payload, P.p256->key, H_ES256), MN_EBADCERT,
			    refused[i].needle);
		free(h);
	}
	/* typ mn-policy+jwt is fine, in any case, with application/ */
	const char *typs[] = {",\"typ\":\"mn-policy+jwt\"", ",\"typ\":\"application/MN-Policy+JWT\""};
	for (size_t i = 0; i < 2; i++) {
		struct policy_result r;
		char *h = x5c_header("ES256", P.p256, P.ca, typs[i]);
		expect_ok(make_jws(h, payload, P.p256->key, H_ES256), &r);
		policy_result_cleanup(&r);
		free(h);
	}

	/* alg none, with and without a signature part; HS256 */
	char *h = x5c_header("none", P.p256, P.ca, "");
	expect_fail(jws_from_sig(h, payload, (const uint8_t *)"x", 1), MN_EBADCERT,
		    "alg none");
	char *unsigned_jws = jws_from_sig(h, payload, (const uint8_t *)"", 0);
	expect_fail(unsigned_jws, MN_EMALFORMED, "empty part");
	free(h);
	h = x5c_header("HS256", P.p256, P.ca, "");
	expect_fail(jws_from_sig(h, payload, (const uint8_t *)"0123456789abcdef0123456789abcdef", 32),
		    MN_EBADCERT, "HMAC");
	free(h);
	h = x5c_header("ES512", P.p256, P.ca, "");
	expect_fail(make_jws(h, payload, P.p256->key, H_ES256), MN_EBADCERT, "alg");
	free(h);

	/* duplicate header key */
	expect_fail(make_jws("{\"alg\":\"ES256\",\"alg\":\"ES256\",\"x5t#S256\":\"x\"}",
			     payload, P.p256->key, H_ES256),
		    MN_EMALFORMED, "duplicate");
	/* neither x5c nor x5t#S256 */
	expect_fail(make_jws("{\"alg\":\"ES256\"}", payload, P.p256->key, H_ES256),
		    MN_EBADCERT, "exactly one");
	/* x5c entries in base64url rather than base64, or empty */
	expect_fail(make_jws("{\"alg\":\"ES256\",\"x5c\":[\"MII-_\"]}", payload,
			     P.p256->key, H_ES256),
		    MN_EMALFORMED, "x5c");
	expect_fail(make_jws("{\"alg\":\"ES256\",\"x5c\":[]}", payload, P.p256->key, H_ES256),
		    MN_EMALFORMED, "x5c");
	free(payload);
}

static void test_alg_key_mismatch(void **state)
{
	(void)state;
	char *payload = default_payload();
	/* ES256 header, RSA key (signed PKCS#1 so the bytes are a real signature) */
	expect_fail(build("ES256", H_RS256, P.rsa, P.ca, payload), MN_EBADCERT,
		    "does not fit");
	/* ES384 header with a P-256 key, ES256 with P-384, EdDSA with P-256 */
	expect_fail(build("ES384", H_ES256, P.p256, P.ca, payload), MN_EBADCERT,
		    "does not fit");
	expect_fail(build("ES256", H_ES384, P.p384, P.ca, payload), MN_EBADCERT,
		    "does not fit");
	expect_fail(build("EdDSA", H_ES256, P.p256, P.ca, payload), MN_EBADCERT,
		    "does not fit");
	/* RS256 header with an Ed25519 key; PS256 signature under an RS256 header */
	expect_fail(build("RS256", H_EDDSA, P.ed, P.ca, payload), MN_EBADCERT,
		    "does not fit");
	expect_fail(build("RS256", H_PS256, P.rsa, P.ca, payload), MN_EBADSIG,
		    "does not verify");
	expect_fail(build("PS256", H_RS256, P.rsa, P.ca, payload), MN_EBADSIG,
		    "does not verify");
	/* PS256 with a salt other than 32 bytes is not PS256 */
	ps_salt = 20;
	expect_fail(build("PS256", H_PS256, P.rsa, P.ca, payload), MN_EBADSIG,
		    "does not verify");
	ps_salt = 32;
	free(payload);
}

/* --- payload ------------------------------------------------------------ */

/* with_payload: a valid ES256 statement over |p| by the P-256 signer. */
static char *with_payload(const char *p)
{
	return build("ES256", H_ES256, P.p256, P.ca, p);
}

static void test_non_canonical(void **state)
{
	char p[1024];
	(void)state;
	char *good = default_payload();
	size_t n = strlen(good);

	/* extra space after the first colon */
	const char *colon = strchr(good, ':');
	snprintf(p, sizeof(p), "%.*s: %s", (int)(colon - good), good, colon + 1);
	expect_fail(with_payload(p), MN_EMALFORMED, "canonical");
	/* trailing newline */
	snprintf(p, sizeof(p), "%s\n", good);
	expect_fail(with_payload(p), MN_EMALFORMED, "canonical");
	/* unsorted keys: v first */
	assert_memory_equal(good + n - 7, ",\"v\":1}", 7);
	snprintf(p, sizeof(p), "{\"v\":1,%.*s}", (int)(n - 8), good + 1);
	expect_fail(with_payload(p), MN_EMALFORMED, "canonical");
	/* an escaped character that needs no escape: ex\u0061mple.com */
	char *esc = smtp_payload("ex\\u0061mple.com", P.now, P.now + DAY, 3);
	expect_fail(with_payload(esc), MN_EMALFORMED, "canonical");
	free(esc);
	/* a leading zero / a float / an exponent */
	snprintf(p, sizeof(p), "%s", good);
	char *serial = strstr(p, "\"serial\":3");
	assert_non_null(serial);
	char q[1024];
	snprintf(q, sizeof(q), "%.*s\"serial\":3.0%s", (int)(serial - p), p, serial + 10);
	expect_fail(with_payload(q), MN_EMALFORMED, "floating");
	snprintf(q, sizeof(q), "%.*s\"serial\":3e0%s", (int)(serial - p), p, serial + 10);
	expect_fail(with_payload(q), MN_EMALFORMED, "floating");
	snprintf(q, sizeof(q), "%.*s\"serial\":03%s", (int)(serial - p), p, serial + 10);
	expect_fail(with_payload(q), MN_EMALFORMED, "JSON");
	/* serial beyond 2^53 */
	snprintf(q, sizeof(q), "%.*s\"serial\":9007199254740993%s", (int)(serial - p), p,
		 serial + 10);
	expect_fail(with_payload(q), MN_EMALFORMED, "2^53");
	free(good);
}

static void test_duplicate_keys(void **state)
{
	char p[1024];
	(void)state;
	char *good = default_payload();
	/* top level: a second "v":1 at the end keeps the rest canonical */
	snprintf(p, sizeof(p), "%.*s,\"v\":1}", (int)(strlen(good) - 1), good);
	expect_fail(with_payload(p), MN_EMALFORMED, "duplicate");
	/* nested, inside tls */
	char *tls = strstr(good, "\"tls\":{");
	assert_non_null(tls);
	snprintf(p, sizeof(p), "%.*s\"tls\":{\"min\":\"1.2\",\"min\":\"1.2\",%s",
		 (int)(tls - good), good, tls + 7);
	expect_fail(with_payload(p), MN_EMALFORMED, "duplicate");
	/* nested, inside subject */
	char *subj = strstr(good, "\"subject\":{");
	snprintf(p, sizeof(p), "%.*s\"subject\":{\"domain\":\"example.com\",%s",
		 (int)(subj - good), good, subj + 11);
	expect_fail(with_payload(p), MN_EMALFORMED, "duplicate");
	free(good);
}

static void test_schema(void **state)
{
	char p[1024];
	long long now = (long long)P.now;
	(void)state;
	/* unknown field (sorted into place so that only the field is wrong) */
	snprintf(p, sizeof(p),
		 "{\"exp\":%lld,\"foo\":1,\"iat\":%lld,\"mode\":\"enforce\",\"mx\":"
		 "[\"mx.example.com\"],\"protocol\":\"smtp\",\"serial\":3,\"subject\":"
		 "{\"domain\":\"example.com\"},\"tls\":{\"min\":\"1.2\",\"transport\":"
		 "\"starttls\"},\"v\":1}",
		 now + DAY, now);
	expect_fail(with_payload(p), MN_EMALFORMED, "unknown field");
	/* unknown field inside tls */
	snprintf(p, sizeof(p),
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",\"mx\":"
		 "[\"mx.example.com\"],\"protocol\":\"smtp\",\"serial\":3,\"subject\":"
		 "{\"domain\":\"example.com\"},\"tls\":{\"max\":\"1.3\",\"min\":\"1.2\","
		 "\"transport\":\"starttls\"},\"v\":1}",
		 now + DAY, now);
	expect_fail(with_payload(p), MN_EMALFORMED, "tls");
	/* bad protocol */
	snprintf(p, sizeof(p),
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",\"protocol\":\"ftp\","
		 "\"serial\":3,\"subject\":{\"domain\":\"example.com\"},\"tls\":{\"min\":"
		 "\"1.2\",\"transport\":\"starttls\"},\"v\":1}",
		 now + DAY, now);
	expect_fail(with_payload(p), MN_EMALFORMED, "protocol");
	/* v 2, serial 0, missing mode, bad mode, bad tls.min */
	struct {
		const char *from, *to, *needle;
	} edits[] = {
		{"\"v\":1", "\"v\":2", "v must be 1"},
		{"\"serial\":3", "\"serial\":0", "serial"},
		{"\"serial\":3", "\"serial\":-3", "serial"},
		{"\"serial\":3", "\"serial\":\"3\"", "serial"},
		{"\"mode\":\"enforce\",", "", "mode"},
		{"\"enforce\"", "\"strict\"", "mode"},
		{"\"min\":\"1.2\"", "\"min\":\"1.1\"", "tls.min"},
		{"\"starttls\"", "\"none\"", "tls.transport"},
		{"{\"domain\":\"example.com\"}", "{\"domain\":\"Example.com\"}", "lowercase"},
		{"{\"domain\":\"example.com\"}", "{\"domain\":\"example.com.\"}", "lowercase"},
		{"{\"domain\":\"example.com\"}", "{\"domain\":\"com\"}", "lowercase"},
		{"{\"domain\":\"example.com\"}", "{\"domain\":\"-x.example.com\"}", "lowercase"},
		{"{\"domain\":\"example.com\"}", "{}", "exactly one"},
		{"{\"domain\":\"example.com\"}",
		 "{\"domain\":\"example.com\",\"email\":\"a@example.com\"}", "exactly one"},
		{"\"mx1.example.com\"", "\"mx1.example.com\",\"mx1.example.com\"", "duplicate"},
		{"\"mx1.example.com\"", "\"mx 1.example.com\"", "mx"},
		{"\"mx1.example.com\"", "1", "mx"},
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *good = default_payload();
		char *at = strstr(good, edits[i].from);
		assert_non_null(at);
		snprintf(p, sizeof(p), "%.*s%s%s", (int)(at - good), good, edits[i].to,
			 at + strlen(edits[i].from));
		expect_fail(with_payload(p), MN_EMALFORMED, edits[i].needle);
		free(good);
	}
	/* not an object at all */
	expect_fail(with_payload("[1]"), MN_EMALFORMED, "object");
}

static void test_times(void **state)
{
	(void)state;
	/* exp == iat, exp < iat */
	char *p = smtp_payload("example.com", P.now, P.now, 3);
	expect_fail(with_payload(p), MN_EBADCERT, "exp is not after iat");
	free(p);
	p = smtp_payload("example.com", P.now, P.now - 10, 3);
	expect_fail(with_payload(p), MN_EBADCERT, "exp is not after iat");
	free(p);
	/* iat 301 s ahead; 299 s ahead is fine (the signer is valid then) */
	p = smtp_payload("example.com", P.now + 301, P.now + DAY, 3);
	expect_fail(with_payload(p), MN_EBADCERT, "future");
	free(p);
	struct policy_result r;
	p = smtp_payload("example.com", P.now + 299, P.now + DAY, 3);
	expect_ok(with_payload(p), &r);
	policy_result_cleanup(&r);
	free(p);
	/* exp in the past */
	p = smtp_payload("example.com", P.now - 2 * DAY, P.now - 1, 3);
	expect_fail(with_payload(p), MN_EBADCERT, "exp is in the past");
	free(p);
}

/* --- signer ------------------------------------------------------------- */

static void test_signer_rejections(void **state)
{
	(void)state;
	char *p = default_payload();
	/* a signer for another domain */
	expect_fail(build("ES256", H_ES256, P.other, P.ca, p), MN_EBADCERT,
		    "dNSName");
	/* a wildcard certificate does not match (payload for www.example.com) */
	char *pw = smtp_payload("www.example.com", P.now, P.now + DAY, 3);
	expect_fail(build("ES256", H_ES256, P.wild, P.ca, pw), MN_EBADCERT, "dNSName");
	free(pw);
	/* an expired signer (x509_validate refuses it) */
	expect_fail(build("ES256", H_ES256, P.expired, P.ca, p), MN_EBADCERT, "");
	/* a signer not yet valid at iat (but accepted by the chain rules) */
	expect_fail(build("ES256", H_ES256, P.future, P.ca, p), MN_EBADCERT,
		    "not valid at iat");
	/* ... and an iat within the signer's validity is fine for it */
	struct policy_result r;
	char *late = smtp_payload("example.com", P.now + 3600, P.now + DAY, 3);
	/* iat one hour ahead is beyond the 5-minute skew: rejected for that */
	expect_fail(build("ES256", H_ES256, P.future, P.ca, late), MN_EBADCERT, "future");
	free(late);
	/* a signer chained to an S/MIME root only, though it names the domain */
	expect_fail(build("ES256", H_ES256, P.smime_dns, P.sca, p), MN_EBADCERT,
		    "TLS root");
	/* a signer chained to a root we do not accept at all */
	struct x509_validator *tls_only = x509_validator_new(P.troots, NULL);
	assert_non_null(tls_only);
	P.v.x509 = tls_only;
	expect_fail(build("ES256", H_ES256, P.smime_dns, P.sca, p), MN_EUNKNOWNANCHOR, "");
	P.v.x509 = P.x509;
	x509_validator_free(tls_only);
	/* case-insensitive dNSName match */
	expect_ok(build("ES256", H_ES256, P.upper, P.ca, p), &r);
	policy_result_cleanup(&r);
	/* x5c with the leaf only: the CA is missing, the chain does not verify */
	char *a = malloc(mn_b64_encoded_len(P.p256->der_len) + 1);
	assert_non_null(a);
	mn_b64_encode(a, P.p256->der, P.p256->der_len);
	size_t n = strlen(a) + 64;
	char *h = malloc(n);
	assert_non_null(h);
	snprintf(h, n, "{\"alg\":\"ES256\",\"x5c\":[\"%s\"]}", a);
	struct policy_result r2;
	const char *reason = NULL;
	char *jws = make_jws(h, p, P.p256->key, H_ES256);
	int ret = check(jws, &r2, &reason);
	assert_true(ret == MN_EUNKNOWNANCHOR || ret == MN_EBADCHAIN);
	free(jws);
	free(h);
	free(a);
	free(p);
}

/* x5t#S256: a table of "logged" certificates for the callback. */
static int lookups;
static int find_cert(void *ctx, const uint8_t hash[32], uint8_t **out_der,
		     size_t *out_len)
{
	const struct pki_cert *const *certs = ctx;
	lookups++;
	for (size_t i = 0; certs[i] != NULL; i++) {
		uint8_t h[32];
		SHA256(certs[i]->der, certs[i]->der_len, h);
		if (memcmp(h, hash, 32) == 0) {
			*out_der = malloc(certs[i]->der_len);
			assert_non_null(*out_der);
			memcpy(*out_der, certs[i]->der, certs[i]->der_len);
			*out_len = certs[i]->der_len;
			return 0;
		}
	}
	return MN_ENOTFOUND;
}

/* find_liar returns a certificate other than the one asked for. */
static int find_liar(void *ctx, const uint8_t hash[32], uint8_t **out_der,
		     size_t *out_len)
{
	uint8_t h[32];
	(void)hash;
	SHA256(P.rsa->der, P.rsa->der_len, h);
	return find_cert(ctx, h, out_der, out_len);
}

static void test_x5t(void **state)
{
	const struct pki_cert *logged[] = {P.p256, P.rsa, NULL};
	uint8_t h[32];
	char hdr[256];
	struct policy_result r;
	(void)state;
	char *p = default_payload();
	SHA256(P.p256->der, P.p256->der_len, h);
	char *t = b64url(h, 32);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"x5t#S256\":\"%s\"}", t);

	/* no callback: refused */
	expect_fail(make_jws(hdr, p, P.p256->key, H_ES256), MN_EBADCERT, "x5t#S256");

	P.v.find_cert = find_cert;
	P.v.find_cert_ctx = (void *)logged;
	lookups = 0;
	expect_ok(make_jws(hdr, p, P.p256->key, H_ES256), &r);
	assert_int_equal(lookups, 1);
	assert_int_equal(r.signer_chain_present, 0);
	assert_memory_equal(r.signer_cert_hash, h, 32);
	policy_result_cleanup(&r);

	/* a certificate the callback does not know */
	SHA256(P.p384->der, P.p384->der_len, h);
	char *t2 = b64url(h, 32);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES384\",\"x5t#S256\":\"%s\"}", t2);
	expect_fail(make_jws(hdr, p, P.p384->key, H_ES384), MN_EBADCERT,
		    "no logged certificate");
	/* a malformed thumbprint */
	expect_fail(make_jws("{\"alg\":\"ES256\",\"x5t#S256\":\"AAAA\"}", p, P.p256->key,
			     H_ES256),
		    MN_EMALFORMED, "x5t#S256");
	/* a logged certificate, but signed with another key */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"x5t#S256\":\"%s\"}", t);
	expect_fail(make_jws(hdr, p, P.future->key, H_ES256), MN_EBADSIG, "does not verify");
	/* a lookup that returns another certificate is caught */
	P.v.find_cert = find_liar;
	expect_fail(make_jws(hdr, p, P.p256->key, H_ES256), MN_EINTERNAL,
		    "another certificate");
	P.v.find_cert = NULL;
	P.v.find_cert_ctx = NULL;
	free(t);
	free(t2);
	free(p);
}

/* --- structure ---------------------------------------------------------- */

static void test_structure(void **state)
{
	(void)state;
	char *p = default_payload();
	char *jws = build("ES256", H_ES256, P.p256, P.ca, p);
	size_t n = strlen(jws);
	char *buf = malloc(n + 8);
	struct policy_result r;
	const char *reason;
	assert_non_null(buf);

	/* 2 parts, 4 parts, empty */
	const char *last = strrchr(jws, '.');
	snprintf(buf, n + 8, "%.*s", (int)(last - jws), jws);
	assert_int_equal(check(buf, &r, &reason), MN_EMALFORMED);
	snprintf(buf, n + 8, "%s.", jws);
	assert_int_equal(check(buf, &r, &reason), MN_EMALFORMED);
	assert_int_equal(policy_check(&P.v, &r, &reason, "", 0, now_ms()), MN_EMALFORMED);
	assert_int_equal(policy_check(&P.v, &r, &reason, "..", 2, now_ms()), MN_EMALFORMED);
	/* padding, a bad character, whitespace */
	snprintf(buf, n + 8, "%s=", jws);
	assert_int_equal(check(buf, &r, &reason), MN_EMALFORMED);
	assert_string_equal(reason, "JWS part is not base64url");
	snprintf(buf, n + 8, "%s", jws);
	buf[3] = '+';
	assert_int_equal(check(buf, &r, &reason), MN_EMALFORMED);
	snprintf(buf, n + 8, " %s", jws);
	assert_int_equal(check(buf, &r, &reason), MN_EMALFORMED);
	/* the header is not JSON */
	char *bad = jws_from_sig("{\"alg\":", p, (const uint8_t *)"xx", 2);
	expect_fail(bad, MN_EMALFORMED, "not JSON");
	/* too long */
	char *big = malloc(POLICY_MAX_JWS_LEN + 2);
	assert_non_null(big);
	memset(big, 'A', POLICY_MAX_JWS_LEN + 1);
	big[POLICY_MAX_JWS_LEN + 1] = '\0';
	assert_int_equal(check(big, &r, &reason), MN_ETOOBIG);
	free(big);
	/* not NUL-terminated input is fine: check the exact length is used */
	memcpy(buf, jws, n);
	buf[n] = 'Z';
	assert_int_equal(policy_check(&P.v, &r, &reason, buf, n, now_ms()), 0);
	policy_result_cleanup(&r);
	assert_int_equal(policy_check(&P.v, &r, &reason, buf, n + 1, now_ms()), MN_EMALFORMED);
	free(buf);
	free(jws);
	free(p);
}

/* --- body --------------------------------------------------------------- */

static void test_body(void **state)
{
	struct policy_result r;
	struct policy_body b;
	uint8_t *body;
	size_t len;
	(void)state;
	char *p = default_payload();
	char *jws = build("ES256", H_ES256, P.p256, P.ca, p);
	char *copy = strdup(jws);
	expect_ok(jws, &r);
	assert_int_equal(policy_encode_body(&r, 0x0102030405060708ull, &body, &len), 0);
	size_t jl = strlen(copy);
	assert_int_equal(len, 3 + jl + 8 + 32);
	/* opaque jws<1..2^24-1>; uint64 signer_index; opaque signer_cert_hash[32] */
	assert_int_equal(body[0], (jl >> 16) & 0xff);
	assert_int_equal(body[1], (jl >> 8) & 0xff);
	assert_int_equal(body[2], jl & 0xff);
	assert_memory_equal(body + 3, copy, jl);
	assert_memory_equal(body + 3 + jl, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	uint8_t h[32];
	SHA256(P.p256->der, P.p256->der_len, h);
	assert_memory_equal(body + 3 + jl + 8, h, 32);

	assert_int_equal(policy_parse_body(&b, body, len), 1);
	assert_int_equal(b.jws_len, jl);
	assert_memory_equal(b.jws, copy, jl);
	assert_int_equal(b.signer_index, 0x0102030405060708ull);
	assert_memory_equal(b.signer_cert_hash, h, 32);
	/* the JWS in a parsed body checks again */
	struct policy_result r2;
	const char *reason;
	assert_int_equal(policy_check(&P.v, &r2, &reason, (const char *)b.jws, b.jws_len,
				      now_ms()),
			 0);
	assert_memory_equal(r2.dedup_key, r.dedup_key, 32);
	policy_result_cleanup(&r2);
	/* truncated, trailing byte, empty jws */
	assert_int_equal(policy_parse_body(&b, body, len - 1), 0);
	uint8_t *longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, body, len);
	longer[len] = 0;
	assert_int_equal(policy_parse_body(&b, longer, len + 1), 0);
	uint8_t empty[3 + 8 + 32] = {0};
	assert_int_equal(policy_parse_body(&b, empty, sizeof(empty)), 0);
	assert_int_equal(policy_parse_body(&b, NULL, 0), 0);
	free(longer);
	free(body);

	struct policy_result none;
	memset(&none, 0, sizeof(none));
	assert_int_equal(policy_encode_body(&none, 0, &body, &len), MN_EINVAL);

	/* ECDSA is randomized: a second signature of the same statement is a
	 * different JWS and has a different dedup key */
	struct policy_result r3;
	expect_ok(build("ES256", H_ES256, P.p256, P.ca, p), &r3);
	assert_memory_not_equal(r3.dedup_key, r.dedup_key, 32);
	policy_result_cleanup(&r3);
	policy_result_cleanup(&r);
	free(copy);
	free(p);
}

/* --- RFC 8785 ----------------------------------------------------------- */

static void test_jcs(void **state)
{
	const char *reason;
	(void)state;
	/* RFC 8785 section 3.2.3: sorted by UTF-16 code units; the emoji
	 * (U+1F600, D83D DE00) sorts before U+FB33, unlike in UTF-8 byte order. */
	static const char sorted[] =
		"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
		"\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":"
		"\"Euro Sign\",\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\",\"\xef\xac\xb3"
		"\":\"Hebrew Letter Dalet With Dagesh\"}";
	assert_int_equal(policy_jcs_check((const uint8_t *)sorted, strlen(sorted), &reason), 0);
	static const char utf8_order[] =
		"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
		"\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":"
		"\"Euro Sign\",\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\","
		"\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\"}";
	assert_int_equal(policy_jcs_check((const uint8_t *)utf8_order, strlen(utf8_order),
					  &reason),
			 MN_EMALFORMED);
	assert_non_null(strstr(reason, "canonical"));

	/* RFC 8785 section 3.2.2.2: "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"
	 * serializes as "€$\u000f\nA'B\"\\\\\"/". */
	static const char str_ok[] = "[\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"]";
	assert_int_equal(policy_jcs_check((const uint8_t *)str_ok, strlen(str_ok), &reason), 0);
	static const char *const str_bad[] = {
		"[\"\\u20ac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"]", /* escaped euro */
		"[\"\xe2\x82\xac$\\u000F\\nA'B\\\"\\\\\\\\\\\"/\"]", /* uppercase hex */
		"[\"\xe2\x82\xac$\\u000f\\u000aA'B\\\"\\\\\\\\\\\"/\"]", /* \u000a for \n */
		"[\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"\\/\"]",   /* escaped '/' */
		"[\"\xe2\x82\xac$\\u000f\\nA'\\u0042\\\"\\\\\\\\\\\"/\"]", /* \u0042 */
	};
	for (size_t i = 0; i < sizeof(str_bad) / sizeof(str_bad[0]); i++) {
		reason = NULL;
		assert_int_equal(policy_jcs_check((const uint8_t *)str_bad[i],
						  strlen(str_bad[i]), &reason),
				 MN_EMALFORMED);
		assert_non_null(strstr(reason, "canonical"));
	}
	/* literals, integers, nesting, whitespace, duplicates, NUL, floats */
	static const struct {
		const char *in;
		int ret;
	} cases[] = {
		{"{\"a\":[true,false,null,0,-1,9007199254740992]}", 0},
		{"{\"a\":[-0]}", MN_EMALFORMED},
		{"{\"a\":[9007199254740993]}", MN_EMALFORMED},
		{"{\"a\":[1.5]}", MN_EMALFORMED},
		{"{\"a\":1,\"a\":1}", MN_EMALFORMED},
		{"{\"a\":{\"b\":1,\"b\":1}}", MN_EMALFORMED},
		{"{\"a\":[{\"b\":1,\"b\":2}]}", MN_EMALFORMED},
		{"{\"a\":\"\\u0000\"}", MN_EMALFORMED},
		{"{\"a\":1} ", MN_EMALFORMED},
		{"{\"a\" :1}", MN_EMALFORMED},
		{"{\"b\":1,\"a\":1}", MN_EMALFORMED},
		{"{\"a\":1,\"b\":1}", 0},
		{"{}", 0},
		{"{\"a\":\"\x7f\"}", 0},
		{"{\"a\":\"\\u007f\"}", MN_EMALFORMED},
		{"{\"a\":\"\\u001f\"}", 0},
		{"{\"a\":\"\\ud800\"}", MN_EMALFORMED}, /* lone surrogate */
		{"{\"a\":\"\xff\"}", MN_EMALFORMED},    /* not UTF-8 */
		{"\"a\"", MN_EMALFORMED},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = policy_jcs_check((const uint8_t *)cases[i].in, strlen(cases[i].in),
					   NULL);
		if (ret != cases[i].ret)
			print_error("case %zu: %s\n", i, cases[i].in);
		assert_int_equal(ret, cases[i].ret);
	}
	/* deep nesting is refused without blowing the stack */
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_int_equal(policy_jcs_check((const uint8_t *)deep, sizeof(deep), &reason),
			 MN_EMALFORMED);
}

/* --- openssl command line cross-check ----------------------------------- */

static int run_cmd(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static uint8_t *read_file(const char *path, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	uint8_t *buf = malloc(4096);
	assert_non_null(buf);
	*out_len = fread(buf, 1, 4096, f);
	fclose(f);
	return buf;
}

/* der_int: a DER INTEGER from 32 unsigned big-endian bytes, by hand (X.690
 * section 8.3: minimal, with a 0x00 when the top bit is set). */
static size_t der_int(uint8_t *out, const uint8_t *v, size_t n)
{
	size_t i = 0;
	while (i < n - 1 && v[i] == 0)
		i++;
	int pad = v[i] & 0x80;
	size_t len = n - i + (pad ? 1 : 0);
	out[0] = 0x02;
	out[1] = (uint8_t)len;
	if (pad)
		out[2] = 0;
	memcpy(out + 2 + (pad ? 1 : 0), v + i, n - i);
	return 2 + len;
}

/* der_int_parse: the inverse, into 32 bytes. */
static const uint8_t *der_int_parse(const uint8_t *p, uint8_t out[32])
{
	assert_int_equal(p[0], 0x02);
	size_t len = p[1];
	const uint8_t *v = p + 2;
	if (len == 33) {
		assert_int_equal(v[0], 0);
		v++;
		len--;
	}
	assert_true(len <= 32);
	memset(out, 0, 32);
	memcpy(out + 32 - len, v, len);
	return p + 2 + p[1];
}

static void test_openssl_cli(void **state)
{
	char dir[] = "/tmp/mn-policy-XXXXXX";
	char path[256], cmd[1024];
	(void)state;
	assert_non_null(mkdtemp(dir));
	char *p = default_payload();
	char *jws = build("ES256", H_ES256, P.p256, P.ca, p);

	/* public key */
	snprintf(path, sizeof(path), "%s/pub.pem", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PUBKEY(f, P.p256->key), 1);
	fclose(f);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, P.p256->key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);

	/* 1. our JWS: signing input = the text before the last dot; R || S turned
	 * into an ECDSA-Sig-Value by hand; openssl verifies it. */
	const char *dot = strrchr(jws, '.');
	snprintf(path, sizeof(path), "%s/input", dir);
	write_file(path, jws, (size_t)(dot - jws));
	uint8_t *raw;
	size_t raw_len;
	assert_int_equal(mn_b64url_decode(&raw, &raw_len, dot + 1, strlen(dot + 1), 128), 0);
	assert_int_equal(raw_len, 64);
	uint8_t der[80], body[76];
	size_t bl = der_int(body, raw, 32);
	bl += der_int(body + bl, raw + 32, 32);
	der[0] = 0x30;
	der[1] = (uint8_t)bl;
	memcpy(der + 2, body, bl);
	snprintf(path, sizeof(path), "%s/sig.der", dir);
	write_file(path, der, bl + 2);
	snprintf(cmd, sizeof(cmd),
		 "openssl dgst -sha256 -verify %s/pub.pem -signature %s/sig.der %s/input "
		 ">/dev/null 2>&1",
		 dir, dir, dir);
	assert_int_equal(run_cmd(cmd), 0);
	/* and a changed input does not verify there either */
	snprintf(path, sizeof(path), "%s/input", dir);
	write_file(path, jws, (size_t)(dot - jws) - 1);
	assert_int_not_equal(run_cmd(cmd), 0);
	free(raw);

	/* 2. openssl signs the signing input; we turn its DER into R || S by hand
	 * and policy_check accepts the JWS. */
	snprintf(path, sizeof(path), "%s/input", dir);
	write_file(path, jws, (size_t)(dot - jws));
	snprintf(cmd, sizeof(cmd),
		 "openssl dgst -sha256 -sign %s/key.pem -out %s/cli.der %s/input "
		 ">/dev/null 2>&1",
		 dir, dir, dir);
	assert_int_equal(run_cmd(cmd), 0);
	snprintf(path, sizeof(path), "%s/cli.der", dir);
	size_t cl;
	uint8_t *cli = read_file(path, &cl);
	assert_true(cl >= 8 && cli[0] == 0x30 && cli[1] == cl - 2);
	uint8_t rs[64];
	const uint8_t *q = der_int_parse(cli + 2, rs);
	q = der_int_parse(q, rs + 32);
	assert_ptr_equal(q, cli + cl);
	char *sig64 = b64url(rs, 64);
	size_t n = (size_t)(dot - jws) + strlen(sig64) + 2;
	char *jws2 = malloc(n);
	assert_non_null(jws2);
	snprintf(jws2, n, "%.*s.%s", (int)(dot - jws), jws, sig64);
	struct policy_result r;
	expect_ok(jws2, &r);
	policy_result_cleanup(&r);
	free(sig64);
	free(cli);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(run_cmd(cmd), 0);
	free(jws);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_each_alg),
		cmocka_unit_test(test_flipped_signature),
		cmocka_unit_test(test_withdraw_and_other_protocols),
		cmocka_unit_test(test_email_subject),
		cmocka_unit_test(test_header_rejections),
		cmocka_unit_test(test_alg_key_mismatch),
		cmocka_unit_test(test_non_canonical),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_signer_rejections),
		cmocka_unit_test(test_x5t),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_jcs),
		cmocka_unit_test(test_openssl_cli),
	};
	/* One PKI for the whole file (key generation is the slow part); freed by
	 * an atexit handler so that main ends with the runner's result. */
	if (setup() != 0) {
		fprintf(stderr, "test PKI setup failed\n");
		teardown();
		return 1;
	}
	atexit(teardown);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
