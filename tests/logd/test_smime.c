/* test_smime.c: the S/MIME class through logd (DESIGN.md section 1). logd runs
 * as a child process on 127.0.0.1 with --tls-roots and --smime-roots, both
 * bundles sharing one root; S/MIME leaves and precertificates are accepted and
 * their SCTs verify as in test_logd.c, leaves that do not qualify are refused
 * with 400 and the reason, nothing refused reaches the tree, and get-roots lists
 * both sets (/mn/v1/get-roots one of them). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "entry/ct.h"
#include "merkle/merkle.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define DAY 86400

static struct {
	char dir[64];
	struct logd_proc logd;
	struct ct_verifier *v;
	struct merkle_hasher *h;
	/* tls_root and both_root are TLS roots; smime_root and both_root S/MIME. */
	struct pki_cert *tls_root, *tls_ca, *smime_root, *smime_ca, *both_root, *both_ca;
	uint64_t accepted; /* leaves the log took so far */
} T;

static void rm_rf(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static int setup(void **state)
{
	char tls[128], smime[128], data[128];
	int64_t now = pki_now();

	(void)state;
	snprintf(T.dir, sizeof(T.dir), "/tmp/mn-smime-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	T.tls_root = pki_root("TLS Root", 0);
	T.smime_root = pki_root("S/MIME Root", 0);
	T.both_root = pki_root("Both Root", 0);
	if (!T.tls_root || !T.smime_root || !T.both_root)
		return -1;
	T.tls_ca = pki_issue(T.tls_root, "TLS CA", NULL, 0, PKI_CA, now - DAY, now + 365 * DAY);
	T.smime_ca = pki_issue(T.smime_root, "S/MIME CA", NULL, 0, PKI_CA, now - DAY,
			       now + 365 * DAY);
	T.both_ca = pki_issue(T.both_root, "Both CA", NULL, 0, PKI_CA, now - DAY,
			      now + 365 * DAY);
	if (!T.tls_ca || !T.smime_ca || !T.both_ca)
		return -1;
	const struct pki_cert *tl[] = {T.tls_root, T.both_root};
	const struct pki_cert *sm[] = {T.smime_root, T.both_root};
	snprintf(tls, sizeof(tls), "%s/tls.pem", T.dir);
	snprintf(smime, sizeof(smime), "%s/smime.pem", T.dir);
	snprintf(data, sizeof(data), "%s/data", T.dir);
	if (pki_write_pem(tls, tl, 2) != 0 || pki_write_pem(smime, sm, 2) != 0)
		return -1;
	const char *args[] = {"--no-map", "--data", data, "--tls-roots", tls, "--smime-roots", smime,
			      "--threads", "2", NULL};
	if (logd_start(&T.logd, args) != 0)
		return -1;
	T.v = ct_verifier_new(T.logd.spki, T.logd.spki_len);
	T.h = merkle_hasher_new();
	return T.v != NULL && T.h != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	int st = logd_stop(&T.logd, SIGTERM);
	ct_verifier_free(T.v);
	merkle_hasher_free(T.h);
	struct pki_cert *all[] = {T.tls_root, T.tls_ca, T.smime_root,
				  T.smime_ca, T.both_root, T.both_ca};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		pki_free(all[i]);
	rm_rf(T.dir);
	return st == 0 ? 0 : -1;
}

/* --- helpers ------------------------------------------------------------- */

static char *chain_json(const struct pki_cert *const *certs, size_t n)
{
	json_t *arr = json_array(), *obj = json_object();
	char *s;

	for (size_t i = 0; i < n; i++) {
		char *b = malloc(mn_b64_encoded_len(certs[i]->der_len) + 1);
		assert_non_null(b);
		mn_b64_encode(b, certs[i]->der, certs[i]->der_len);
		json_array_append_new(arr, json_string(b));
		free(b);
	}
	json_object_set_new(obj, "chain", arr);
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	assert_non_null(s);
	return s;
}

static json_t *get_json(const char *target, int want_status)
{
	struct http_resp r;
	json_error_t e;
	json_t *j;

	assert_int_equal(http_do(T.logd.port, "GET", target, NULL, NULL, 0, &r), 0);
	if (r.status != want_status)
		fprintf(stderr, "GET %s: %d %s\n", target, r.status, (char *)r.body);
	assert_int_equal(r.status, want_status);
	j = json_loadb((const char *)r.body, r.body_len, 0, &e);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

/* submit posts |chain| to add-chain or add-pre-chain; returns the parsed JSON
 * answer and checks its status. */
static json_t *submit(const struct pki_cert *const *chain, size_t n, int precert,
		      int want_status)
{
	char *body = chain_json(chain, n);
	struct http_resp r;
	json_error_t e;
	assert_int_equal(http_do(T.logd.port, "POST",
				 precert ? "/ct/v1/add-pre-chain" : "/ct/v1/add-chain",
				 "Content-Type: application/json\r\n", body, strlen(body), &r),
			 0);
	free(body);
	if (r.status != want_status)
		fprintf(stderr, "POST: %d %s\n", r.status, (char *)r.body);
	assert_int_equal(r.status, want_status);
	json_t *j = json_loadb((const char *)r.body, r.body_len, 0, &e);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

static uint8_t *b64field(json_t *j, const char *name, size_t *len)
{
	json_t *f = json_object_get(j, name);
	uint8_t *out;
	assert_true(json_is_string(f));
	assert_int_equal(mn_b64_decode(&out, len, json_string_value(f), json_string_length(f),
				       1 << 24), 0);
	return out;
}

static uint64_t tree_size(void)
{
	json_t *j = get_json("/ct/v1/get-sth", 200);
	uint64_t n = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
	json_decref(j);
	return n;
}

/* check_sct verifies an add-chain answer over |e0| as a TLS client would. The
 * log is new, so its SCTs carry the static-ct-api leaf_index: it must be the
 * entry's index in get-entries (T.accepted: the entry just logged), whose
 * leaf is the entry with the SCT's timestamp and extensions. */
static void check_sct(json_t *j, const struct ct_entry *e0)
{
	struct ct_sct sct;
	struct ct_entry e = *e0, logged;
	struct cbs cbs;
	uint8_t *id, *sig, *ext;
	size_t idl, sigl, extl;
	uint64_t idx;
	int has;

	assert_int_equal(json_integer_value(json_object_get(j, "sct_version")), 0);
	id = b64field(j, "id", &idl);
	assert_int_equal(idl, 32);
	assert_memory_equal(id, T.logd.log_id, 32);
	sig = b64field(j, "signature", &sigl);
	memset(&sct, 0, sizeof(sct));
	memcpy(sct.log_id, id, 32);
	sct.timestamp = (uint64_t)json_integer_value(json_object_get(j, "timestamp"));
	ext = b64field(j, "extensions", &extl);
	assert_true(ct_parse_extensions(ext, extl, &has, &idx));
	assert_true(has);
	assert_int_equal(idx, T.accepted);
	sct.extensions = ext;
	sct.extensions_len = extl;
	cbs_init(&cbs, sig, sigl);
	assert_true(ct_parse_sig(&sct.sig, &cbs));
	assert_int_equal(cbs_len(&cbs), 0);
	e.timestamp = sct.timestamp;
	assert_true(ct_verify_sct(T.v, &sct, &e));
	{
		char target[96];
		json_t *g, *ent;
		uint8_t *leaf;
		size_t ll;
		snprintf(target, sizeof(target), "/ct/v1/get-entries?start=%llu&end=%llu",
			 (unsigned long long)idx, (unsigned long long)idx);
		g = get_json(target, 200);
		ent = json_array_get(json_object_get(g, "entries"), 0);
		leaf = b64field(ent, "leaf_input", &ll);
		assert_true(ct_parse_leaf(&logged, leaf, ll));
		assert_int_equal(logged.entry_type, e.entry_type);
		assert_int_equal(logged.timestamp, sct.timestamp);
		assert_int_equal(logged.body_len, e.body_len);
		assert_memory_equal(logged.body, e.body, e.body_len);
		assert_int_equal(logged.extensions_len, extl);
		assert_memory_equal(logged.extensions, ext, extl);
		free(leaf);
		json_decref(g);
	}
	/* the check is real: another body does not verify */
	uint8_t other = 0;
	e.body = &other;
	e.body_len = 1;
	assert_false(ct_verify_sct(T.v, &sct, &e));
	free(id);
	free(sig);
	free(ext);
}

/* accept submits |leaf| under |ca| (and |root| when not NULL) and checks the
 * SCT and that the tree grew by one. */
static void accept_leaf(const struct pki_cert *leaf, const struct pki_cert *ca,
			const struct pki_cert *root)
{
	const struct pki_cert *chain[] = {leaf, ca, root};
	json_t *j = submit(chain, root ? 3 : 2, 0, 200);
	struct ct_entry e = {.entry_type = CT_X509_ENTRY, .body = leaf->der,
			     .body_len = leaf->der_len};
	check_sct(j, &e);
	json_decref(j);
	T.accepted++;
	assert_int_equal(tree_size(), T.accepted);
}

/* refuse submits |leaf| under |ca| and expects 400 naming |why|, and no leaf. */
static void refuse_leaf(const struct pki_cert *leaf, const struct pki_cert *ca, int precert,
			const char *why)
{
	const struct pki_cert *chain[] = {leaf, ca};
	json_t *j = submit(chain, 2, precert, 400);
	const char *msg = json_string_value(json_object_get(j, "error_message"));
	assert_non_null(msg);
	if (strstr(msg, why) == NULL)
		fprintf(stderr, "error_message \"%s\", want \"%s\"\n", msg, why);
	assert_non_null(strstr(msg, why));
	assert_non_null(json_string_value(json_object_get(j, "error_code")));
	json_decref(j);
	assert_int_equal(tree_size(), T.accepted);
}

static struct pki_cert *leaf_with(const struct pki_cert *ca, struct pki_opts o)
{
	int64_t now = pki_now();
	o.cn = o.cn ? o.cn : "mail user";
	o.not_before = now - 60;
	o.not_after = now + 90 * DAY;
	struct pki_cert *c = pki_issue_opts(ca, &o);
	assert_non_null(c);
	return c;
}

/* the root DERs a get-roots answer lists, compared with |want| in order */
static void expect_roots(const char *target, const struct pki_cert *const *want, size_t n)
{
	json_t *j = get_json(target, 200);
	json_t *certs = json_object_get(j, "certificates");
	assert_true(json_is_array(certs));
	assert_int_equal(json_array_size(certs), n);
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(certs, i);
		uint8_t *der;
		size_t len;
		assert_int_equal(mn_b64_decode(&der, &len, json_string_value(e),
					       json_string_length(e), 1 << 20), 0);
		assert_int_equal(len, want[i]->der_len);
		assert_memory_equal(der, want[i]->der, len);
		free(der);
	}
	json_decref(j);
}

/* --- tests --------------------------------------------------------------- */

static void test_get_roots(void **state)
{
	(void)state;
	/* TLS first, then the S/MIME roots not already listed. */
	const struct pki_cert *all[] = {T.tls_root, T.both_root, T.smime_root};
	expect_roots("/ct/v1/get-roots", all, 3);
	const struct pki_cert *tls[] = {T.tls_root, T.both_root};
	expect_roots("/mn/v1/get-roots?class=tls", tls, 2);
	const struct pki_cert *smime[] = {T.smime_root, T.both_root};
	expect_roots("/mn/v1/get-roots?class=smime", smime, 2);

	static const char *const bad[] = {"/mn/v1/get-roots?class=bogus",
					  "/mn/v1/get-roots", "/mn/v1/get-roots?class=",
					  "/mn/v1/get-roots?class=TLS",
					  "/mn/v1/get-roots?class=smimex"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = get_json(bad[i], 400);
		assert_true(json_is_string(json_object_get(j, "error_code")));
		assert_true(json_is_string(json_object_get(j, "error_message")));
		json_decref(j);
	}
	/* GET only */
	struct http_resp r;
	assert_int_equal(http_do(T.logd.port, "POST", "/mn/v1/get-roots?class=tls", NULL, "", 0,
				 &r), 0);
	assert_int_equal(r.status, 405);
	http_resp_free(&r);
}

static void test_smime_accepted(void **state)
{
	(void)state;
	static const char *const alice[] = {"alice@example.com"};
	static const char *const box[] = {"J\xc3\xbcrgen@example.org"};

	/* rfc822Name, with and without the root in the chain */
	struct pki_cert *a = leaf_with(T.smime_ca, (struct pki_opts){
		.dns = alice, .num_dns = 1, .flags = PKI_EMAIL});
	accept_leaf(a, T.smime_ca, NULL);
	struct pki_cert *a2 = leaf_with(T.smime_ca, (struct pki_opts){
		.dns = alice, .num_dns = 1, .flags = PKI_EMAIL});
	accept_leaf(a2, T.smime_ca, T.smime_root);
	/* SmtpUTF8Mailbox */
	struct pki_cert *u = leaf_with(T.smime_ca, (struct pki_opts){
		.mailboxes = box, .num_mailboxes = 1, .eku = "emailProtection"});
	accept_leaf(u, T.smime_ca, NULL);
	/* legacy: the address only in the subject */
	struct pki_cert *l = leaf_with(T.smime_ca, (struct pki_opts){
		.subject_email = "bob@example.net", .eku = "emailProtection"});
	accept_leaf(l, T.smime_ca, NULL);
	/* under the root in both sets: an S/MIME leaf and a TLS leaf */
	struct pki_cert *b = leaf_with(T.both_ca, (struct pki_opts){
		.dns = alice, .num_dns = 1, .flags = PKI_EMAIL});
	accept_leaf(b, T.both_ca, NULL);
	static const char *const host[] = {"www.example.com"};
	struct pki_cert *bt = leaf_with(T.both_ca, (struct pki_opts){.dns = host, .num_dns = 1});
	accept_leaf(bt, T.both_ca, NULL);
	/* TLS as before */
	struct pki_cert *t = leaf_with(T.tls_ca, (struct pki_opts){.dns = host, .num_dns = 1});
	accept_leaf(t, T.tls_ca, NULL);

	/* An S/MIME precertificate: the SCT covers the final certificate's TBS
	 * and the issuing CA's key hash. */
	struct pki_opts o = {.dns = alice, .num_dns = 1, .flags = PKI_EMAIL | PKI_POISON,
			     .serial = 777};
	struct pki_cert *pre = leaf_with(T.smime_ca, o);
	o.flags = PKI_EMAIL;
	o.key = pre->key;
	struct pki_cert *fin = leaf_with(T.smime_ca, o);
	size_t tbs_len;
	uint8_t *tbs = pki_tbs(fin, &tbs_len);
	assert_non_null(tbs);
	const struct pki_cert *chain[] = {pre, T.smime_ca};
	json_t *j = submit(chain, 2, 1, 200);
	struct ct_entry e = {.entry_type = CT_PRECERT_ENTRY, .body = tbs, .body_len = tbs_len};
	assert_int_equal(pki_spki_sha256(T.smime_ca, e.issuer_key_hash), 0);
	check_sct(j, &e);
	json_decref(j);
	T.accepted++;
	assert_int_equal(tree_size(), T.accepted);
	OPENSSL_free(tbs);

	struct pki_cert *all[] = {a, a2, u, l, b, bt, t, pre, fin};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		pki_free(all[i]);
}

static void test_smime_refused(void **state)
{
	(void)state;
	static const char *const alice[] = {"alice@example.com"};
	static const char *const host[] = {"www.example.com"};
	static const char no_eku[] = "S/MIME leaf lacks emailProtection EKU";
	static const char no_addr[] = "S/MIME leaf has no email address";

	struct pki_cert *c[6];
	c[0] = leaf_with(T.smime_ca, (struct pki_opts){
		.dns = alice, .num_dns = 1, .flags = PKI_EMAIL | PKI_NO_EKU});
	refuse_leaf(c[0], T.smime_ca, 0, no_eku);
	c[1] = leaf_with(T.smime_ca, (struct pki_opts){
		.dns = alice, .num_dns = 1, .flags = PKI_EMAIL, .eku = "serverAuth"});
	refuse_leaf(c[1], T.smime_ca, 0, no_eku);
	c[2] = leaf_with(T.smime_ca, (struct pki_opts){
		.dns = host, .num_dns = 1, .eku = "emailProtection"});
	refuse_leaf(c[2], T.smime_ca, 0, no_addr);
	/* a TLS certificate offered under the S/MIME roots */
	c[3] = leaf_with(T.smime_ca, (struct pki_opts){.dns = host, .num_dns = 1});
	refuse_leaf(c[3], T.smime_ca, 0, no_eku);
	/* the same rules for precertificates */
	c[4] = leaf_with(T.smime_ca, (struct pki_opts){
		.dns = host, .num_dns = 1, .flags = PKI_POISON, .eku = "emailProtection"});
	refuse_leaf(c[4], T.smime_ca, 1, no_addr);
	/* an S/MIME leaf under a root in neither set */
	struct pki_cert *stray_root = pki_root("Stray Root", 0);
	assert_non_null(stray_root);
	c[5] = leaf_with(stray_root, (struct pki_opts){
		.dns = alice, .num_dns = 1, .flags = PKI_EMAIL});
	refuse_leaf(c[5], stray_root, 0, "accepted root");
	for (size_t i = 0; i < 6; i++)
		pki_free(c[i]);
	pki_free(stray_root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_roots),
		cmocka_unit_test(test_smime_accepted),
		cmocka_unit_test(test_smime_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
