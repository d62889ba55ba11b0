/* test_mn_submit_policy.c: POST /mn/v1/add-policy over HTTP (issue 5),
 * against the logd of tests/lib/mnsub: policy JWS (RFC 7515 compact
 * serialization) built here with the OpenSSL API, signed by X.509 signers from
 * tests/lib/pki: accepted with their signer leaf, duplicates, x5t, stale and
 * email policies, and rejections (each a 400 and no new leaf). At the end the
 * tree holds exactly the leaves accepted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "common/vrf.h"
#include "entry/ct.h"
#include "entry/pgp.h"
#include "entry/policy.h"
#include "merkle/merkle.h"
#include "tests/lib/mnsub.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define DAY 86400

/* --- add-policy ------------------------------------------------------------ */

enum how { H_ES256, H_RS256 };

/* sign_raw signs |msg| the JWS way: R || S for ES256 (RFC 7518 section 3.4). */
static uint8_t *sign_raw(EVP_PKEY *key, enum how how, const uint8_t *msg, size_t msg_len,
			 size_t *out_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t len = 0;
	uint8_t *sig;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(ctx, NULL, &len, msg, msg_len), 1);
	sig = malloc(len);
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(ctx, sig, &len, msg, msg_len), 1);
	EVP_MD_CTX_free(ctx);
	if (how == H_ES256) {
		const uint8_t *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
		uint8_t *raw = malloc(64);
		assert_non_null(es);
		assert_non_null(raw);
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
		ECDSA_SIG_free(es);
		free(sig);
		sig = raw;
		len = 64;
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

/* jws_with_sig: BASE64URL(header).BASE64URL(payload).BASE64URL(sig). */
static char *jws_with_sig(const char *header, const char *payload, const uint8_t *sig,
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

static char *make_jws(const char *header, const char *payload, EVP_PKEY *key, enum how how)
{
	char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
	size_t n = strlen(h) + strlen(p) + 2, sig_len;
	char *input = malloc(n), *out;
	uint8_t *sig;

	assert_non_null(input);
	snprintf(input, n, "%s.%s", h, p);
	sig = sign_raw(key, how, (const uint8_t *)input, strlen(input), &sig_len);
	out = jws_with_sig(header, payload, sig, sig_len);
	free(sig);
	free(input);
	free(h);
	free(p);
	return out;
}

/* x5c_header: {"alg":ALG,"x5c":[leaf, ca]} (standard base64 DER). */
static char *x5c_header(const char *alg, const struct pki_cert *leaf,
			const struct pki_cert *ca)
{
	char *a = malloc(mn_b64_encoded_len(leaf->der_len) + 1);
	char *b = malloc(mn_b64_encoded_len(ca->der_len) + 1), *h;
	size_t n;

	assert_non_null(a);
	assert_non_null(b);
	mn_b64_encode(a, leaf->der, leaf->der_len);
	mn_b64_encode(b, ca->der, ca->der_len);
	n = strlen(a) + strlen(b) + strlen(alg) + 64;
	h = malloc(n);
	assert_non_null(h);
	snprintf(h, n, "{\"alg\":\"%s\",\"x5c\":[\"%s\",\"%s\"]}", alg, a, b);
	free(a);
	free(b);
	return h;
}

/* smtp_payload: an RFC 8785 canonical smtp policy for |domain|. */
static char *smtp_payload(const char *domain, int64_t iat, uint64_t serial)
{
	char *p = malloc(1024);

	assert_non_null(p);
	snprintf(p, 1024,
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",\"mx\":[\"*.mx.%s\","
		 "\"mx1.%s\"],\"protocol\":\"smtp\",\"serial\":%llu,\"subject\":"
		 "{\"domain\":\"%s\"},\"tls\":{\"min\":\"1.2\",\"transport\":\"starttls\"},"
		 "\"v\":1}",
		 (long long)(iat + 30 * DAY), (long long)iat, domain, domain,
		 (unsigned long long)serial, domain);
	return p;
}

/* x5c_jws: |payload| signed by |leaf| under |ca| with |alg| / |how|. */
static char *x5c_jws(const char *alg, enum how how, const struct pki_cert *leaf,
		     const struct pki_cert *ca, const char *payload)
{
	char *h = x5c_header(alg, leaf, ca);
	char *j = make_jws(h, payload, leaf->key, how);
	free(h);
	return j;
}

static char *policy_request(const char *jws)
{
	json_t *o = json_pack("{s:s}", "jws", jws);
	char *s = json_dumps(o, JSON_COMPACT);
	assert_non_null(s);
	json_decref(o);
	return s;
}

/* check_policy_leaf: the 0x8002 leaf at |index| carries |jws|, names the signer
 * at |signer_index| and its certificate |signer|. */
static void check_policy_leaf(uint64_t index, json_t *sct, const char *jws,
			      uint64_t signer_index, const struct pki_cert *signer)
{
	struct policy_body pb;
	uint8_t *body, h[32];
	size_t len;

	body = mnsub_logged(index, sct, MN_SIGNED_POLICY_ENTRY, &len);
	assert_true(policy_parse_body(&pb, body, len));
	assert_int_equal(pb.jws_len, strlen(jws));
	assert_memory_equal(pb.jws, jws, pb.jws_len);
	assert_int_equal(pb.signer_index, signer_index);
	SHA256(signer->der, signer->der_len, h);
	assert_memory_equal(pb.signer_cert_hash, h, 32);
	/* the SignedPolicyBody, byte by byte: u24 jws, u64 index, hash[32] */
	assert_int_equal(len, 3 + strlen(jws) + 8 + 32);
	assert_int_equal((size_t)body[0] << 16 | (size_t)body[1] << 8 | body[2], strlen(jws));
	free(body);
}

/* check_signer_leaf: the x509_entry at |index| is |signer|'s DER, signed by the
 * SCT |sct|. */
static void check_signer_leaf(uint64_t index, json_t *sct, const struct pki_cert *signer)
{
	uint8_t *body;
	size_t len;

	body = mnsub_logged(index, sct, CT_X509_ENTRY, &len);
	assert_int_equal(len, signer->der_len);
	assert_memory_equal(body, signer->der, len);
	free(body);
}

static void test_policy_accept(void **state)
{
	struct mnsub_sth before = mnsub_get_sth(), after;
	char *payload = smtp_payload("example.com", mnsub.now, 5);
	char *req;
	json_t *j;
	uint64_t li, si;

	(void)state;
	mnsub.jws1 = x5c_jws("ES256", H_ES256, mnsub.leaf, mnsub.ica, payload);
	req = policy_request(mnsub.jws1);
	j = mnsub_post_ok("/mn/v1/add-policy", req);
	assert_int_equal(json_object_size(j), 4);
	assert_true(json_is_object(json_object_get(j, "sct")));
	assert_true(json_is_object(json_object_get(j, "signer_sct")));
	assert_true(json_is_integer(json_object_get(j, "leaf_index")));
	assert_true(json_is_integer(json_object_get(j, "signer_leaf_index")));
	li = (uint64_t)json_integer_value(json_object_get(j, "leaf_index"));
	si = (uint64_t)json_integer_value(json_object_get(j, "signer_leaf_index"));
	/* the signer's certificate went in first, then the policy naming it */
	after = mnsub_get_sth();
	assert_int_equal(after.size, before.size + 2);
	assert_int_equal(si, before.size);
	assert_int_equal(li, before.size + 1);
	check_signer_leaf(si, json_object_get(j, "signer_sct"), mnsub.leaf);
	check_policy_leaf(li, json_object_get(j, "sct"), mnsub.jws1, si, mnsub.leaf);
	mnsub.signer_index = si;
	mnsub.ans1 = j;
	free(req);
	free(payload);
}

static void test_policy_duplicate(void **state)
{
	struct mnsub_sth before = mnsub_get_sth(), after;
	char *req = policy_request(mnsub.jws1);
	json_t *j;

	(void)state;
	assert_non_null(mnsub.ans1);
	j = mnsub_post_ok("/mn/v1/add-policy", req);
	/* the same SCT, and the same leaf and signer */
	assert_true(mnsub_same_sct(json_object_get(j, "sct"), json_object_get(mnsub.ans1, "sct")));
	assert_true(json_equal(json_object_get(j, "leaf_index"),
			       json_object_get(mnsub.ans1, "leaf_index")));
	assert_true(json_equal(json_object_get(j, "signer_leaf_index"),
			       json_object_get(mnsub.ans1, "signer_leaf_index")));
	after = mnsub_get_sth();
	assert_int_equal(after.size, before.size);
	json_decref(j);
	free(req);
}

static char *x5t_header(const struct pki_cert *c)
{
	uint8_t h[32];
	char *t, *out = malloc(128);

	assert_non_null(out);
	SHA256(c->der, c->der_len, h);
	t = b64url(h, 32);
	snprintf(out, 128, "{\"alg\":\"ES256\",\"x5t#S256\":\"%s\"}", t);
	free(t);
	return out;
}

static void test_policy_x5t(void **state)
{
	struct mnsub_sth before = mnsub_get_sth(), after;
	char *payload = smtp_payload("example.com", mnsub.now, 6);
	char *hdr = x5t_header(mnsub.leaf), *jws = make_jws(hdr, payload, mnsub.leaf->key, H_ES256);
	char *req = policy_request(jws);
	json_t *j;
	uint64_t li;

	(void)state;
	j = mnsub_post_ok("/mn/v1/add-policy", req);
	/* the signer is already logged: no signer_sct, its old index */
	assert_int_equal(json_object_size(j), 3);
	assert_null(json_object_get(j, "signer_sct"));
	assert_int_equal(json_integer_value(json_object_get(j, "signer_leaf_index")),
			 mnsub.signer_index);
	li = (uint64_t)json_integer_value(json_object_get(j, "leaf_index"));
	after = mnsub_get_sth();
	assert_int_equal(after.size, before.size + 1);
	assert_int_equal(li, before.size);
	check_policy_leaf(li, json_object_get(j, "sct"), jws, mnsub.signer_index, mnsub.leaf);
	json_decref(j);
	free(req);
	free(jws);
	free(hdr);
	free(payload);

	/* x5t#S256 of a certificate that is not logged */
	payload = smtp_payload("example.com", mnsub.now, 7);
	hdr = x5t_header(mnsub.other);
	jws = make_jws(hdr, payload, mnsub.other->key, H_ES256);
	req = policy_request(jws);
	mnsub_expect_reject("/mn/v1/add-policy", req, "badCertificate", "names no logged certificate");
	free(req);
	free(jws);
	free(hdr);
	free(payload);
}

static void test_policy_stale(void **state)
{
	char *payload, *jws, *req;

	(void)state;
	/* serial 4 < 6: refused by serial, even from the x5c signer already logged */
	payload = smtp_payload("example.com", mnsub.now, 4);
	jws = x5c_jws("ES256", H_ES256, mnsub.leaf, mnsub.ica, payload);
	req = policy_request(jws);
	mnsub_expect_reject("/mn/v1/add-policy", req, "staleSerial", "serial");
	free(req);
	free(jws);
	free(payload);
	/* serial 4 from a signer not logged yet: refused, and the refused
	 * statement's signer is not logged either */
	payload = smtp_payload("example.com", mnsub.now, 4);
	jws = x5c_jws("ES256", H_ES256, mnsub.leaf2, mnsub.ica, payload);
	req = policy_request(jws);
	mnsub_expect_reject("/mn/v1/add-policy", req, "staleSerial", "serial");
	free(req);
	free(jws);
	free(payload);
	/* serial 6 again, a different statement (iat a second earlier): not higher */
	payload = smtp_payload("example.com", mnsub.now - 1, 6);
	jws = x5c_jws("ES256", H_ES256, mnsub.leaf, mnsub.ica, payload);
	req = policy_request(jws);
	mnsub_expect_reject("/mn/v1/add-policy", req, "staleSerial", "serial");
	free(req);
	free(jws);
	free(payload);
}

static void test_policy_email(void **state)
{
	struct mnsub_sth before = mnsub_get_sth(), after;
	char payload[1024], *jws, *req;
	json_t *j;
	uint64_t li, si;

	(void)state;
	snprintf(payload, sizeof(payload),
		 "{\"e2e\":{\"pgp\":\"prefer\",\"smime\":\"require\"},\"exp\":%lld,\"iat\":"
		 "%lld,\"mode\":\"enforce\",\"protocol\":\"email-e2e\",\"serial\":1,"
		 "\"subject\":{\"email\":\"alice@example.com\"},\"v\":1}",
		 (long long)mnsub.now + DAY, (long long)mnsub.now);
	/* a TLS signer for an email subject is refused */
	jws = x5c_jws("ES256", H_ES256, mnsub.leaf, mnsub.ica, payload);
	req = policy_request(jws);
	mnsub_expect_reject("/mn/v1/add-policy", req, "badCertificate", "email");
	free(req);
	free(jws);
	/* the S/MIME signer */
	jws = x5c_jws("ES256", H_ES256, mnsub.email, mnsub.sca, payload);
	req = policy_request(jws);
	j = mnsub_post_ok("/mn/v1/add-policy", req);
	assert_int_equal(json_object_size(j), 4);
	li = (uint64_t)json_integer_value(json_object_get(j, "leaf_index"));
	si = (uint64_t)json_integer_value(json_object_get(j, "signer_leaf_index"));
	after = mnsub_get_sth();
	assert_int_equal(after.size, before.size + 2);
	assert_int_equal(si, before.size);
	assert_int_equal(li, before.size + 1);
	check_signer_leaf(si, json_object_get(j, "signer_sct"), mnsub.email);
	check_policy_leaf(li, json_object_get(j, "sct"), jws, si, mnsub.email);
	json_decref(j);
	free(req);
	free(jws);
}

static void test_policy_rejections(void **state)
{
	char *payload = smtp_payload("example.com", mnsub.now, 100), *jws, *req, *h, p[1024];

	(void)state;
	/* alg none */
	h = x5c_header("none", mnsub.leaf, mnsub.ica);
	jws = jws_with_sig(h, payload, (const uint8_t *)"x", 1);
	req = policy_request(jws);
	mnsub_expect_reject("/mn/v1/add-policy", req, "badCertificate", "alg none");
	free(req);
	free(jws);
	free(h);
	/* non-canonical payload: a space after the first colon */
	{
		const char *colon = strchr(payload, ':');
		snprintf(p, sizeof(p), "%.*s: %s", (int)(colon - payload), payload, colon + 1);
	}
	jws = x5c_jws("ES256", H_ES256, mnsub.leaf, mnsub.ica, p);
	req = policy_request(jws);
	mnsub_expect_reject("/mn/v1/add-policy", req, "malformed", "canonical");
	free(req);
	free(jws);
	/* a duplicate JSON key in the payload ("v" twice, still sorted) */
	snprintf(p, sizeof(p), "%.*s,\"v\":1}", (int)strlen(payload) - 1, payload);
	jws = x5c_jws("ES256", H_ES256, mnsub.leaf, mnsub.ica, p);
	req = policy_request(jws);
	mnsub_expect_reject("/mn/v1/add-policy", req, "malformed", "duplicate");
	free(req);
	free(jws);
	/* ... and in the JWS header */
	jws = make_jws("{\"alg\":\"ES256\",\"alg\":\"ES256\",\"x5t#S256\":\"x\"}", payload,
		       mnsub.leaf->key, H_ES256);
	req = policy_request(jws);
	mnsub_expect_reject("/mn/v1/add-policy", req, "malformed", "duplicate");
	free(req);
	free(jws);
	/* a signer for another domain */
	jws = x5c_jws("ES256", H_ES256, mnsub.other, mnsub.ica, payload);
	req = policy_request(jws);
	mnsub_expect_reject("/mn/v1/add-policy", req, "badCertificate", "no dNSName equal");
	free(req);
	free(jws);
	/* an expired signer */
	jws = x5c_jws("ES256", H_ES256, mnsub.expired, mnsub.ica, payload);
	req = policy_request(jws);
	mnsub_expect_reject("/mn/v1/add-policy", req, "badCertificate", "expired");
	free(req);
	free(jws);
	/* alg and key do not match: ES256 header, RSA key (a real RS256 signature) */
	jws = x5c_jws("ES256", H_RS256, mnsub.rsa, mnsub.ica, payload);
	req = policy_request(jws);
	mnsub_expect_reject("/mn/v1/add-policy", req, "badCertificate", "does not fit");
	free(req);
	free(jws);
	/* a signature that does not verify: the last signature byte changed */
	jws = x5c_jws("ES256", H_ES256, mnsub.leaf, mnsub.ica, payload);
	{
		char *last = jws + strlen(jws) - 2;
		*last = *last == 'A' ? 'B' : 'A';
	}
	req = policy_request(jws);
	mnsub_expect_reject("/mn/v1/add-policy", req, NULL, "does not verify");
	free(req);
	free(jws);
	/* request JSON: missing jws, unknown field, jws not a string, not JSON */
	mnsub_expect_reject("/mn/v1/add-policy", "{}", "malformed", "missing");
	mnsub_expect_reject("/mn/v1/add-policy", "{\"jws\":\"a.b.c\",\"x\":\"y\"}", "malformed",
		      "unknown field");
	mnsub_expect_reject("/mn/v1/add-policy", "{\"jws\":1}", "malformed", "not a string");
	mnsub_expect_reject("/mn/v1/add-policy", "{\"jws\":", "malformed", "JSON");
	mnsub_expect_reject("/mn/v1/add-policy", "{\"jws\":\"a.b\"}", "malformed", "three");
	free(payload);
}


/* --- the whole tree ----------------------------------------------------------- */

static void test_final_tree(void **state)
{
	(void)state;
	mnsub_check_tree(5); /* policy 2 (signer + policy), x5t 1, email 2 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_accept),
		cmocka_unit_test(test_policy_duplicate),
		cmocka_unit_test(test_policy_x5t),
		cmocka_unit_test(test_policy_stale),
		cmocka_unit_test(test_policy_email),
		cmocka_unit_test(test_policy_rejections),
		cmocka_unit_test(test_final_tree),
	};
	return cmocka_run_group_tests(tests, mnsub_setup, mnsub_teardown);
}
