/* test_openssl_sct.c: OpenSSL's own Certificate Transparency code (crypto/ct,
 * what a TLS client built on OpenSSL runs) validates the SCTs logd issues:
 * for a certificate (SCT delivered in the TLS extension) and for a
 * precertificate (SCT embedded in the final certificate, where OpenSSL rebuilds
 * the TBSCertificate and the issuer key hash itself). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/ct.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "entry/ct.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

static struct {
	char dir[64];
	struct logd_proc logd;
	struct pki_cert *root, *ca;
	CTLOG_STORE *logs;
} T;

static int setup(void **state)
{
	char roots[128], data[128];
	int64_t now = pki_now();
	const struct pki_cert *rs[1];

	(void)state;
	strcpy(T.dir, "/tmp/mn-osct-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	T.root = pki_root("SCT Root", 0);
	T.ca = pki_issue(T.root, "SCT CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	rs[0] = T.root;
	snprintf(roots, sizeof(roots), "%s/roots.pem", T.dir);
	snprintf(data, sizeof(data), "%s/data", T.dir);
	if (T.ca == NULL || pki_write_pem(roots, rs, 1) != 0)
		return -1;
	{
		const char *args[] = {"--data", data, "--tls-roots", roots, NULL};
		if (logd_start(&T.logd, args) != 0)
			return -1;
	}
	/* the log as a TLS client knows it: its public key, from a log list in
	 * OpenSSL's own ct_log_list.cnf format */
	T.logs = CTLOG_STORE_new();
	if (T.logs == NULL)
		return -1;
	{
		char conf[128], *b64 = malloc(mn_b64_encoded_len(T.logd.spki_len) + 1);
		FILE *f;
		snprintf(conf, sizeof(conf), "%s/ct_log_list.cnf", T.dir);
		mn_b64_encode(b64, T.logd.spki, T.logd.spki_len);
		f = fopen(conf, "w");
		fprintf(f, "enabled_logs = mn\n\n[mn]\ndescription = metanotary test log\nkey = %s\n", b64);
		fclose(f);
		free(b64);
		if (CTLOG_STORE_load_file(T.logs, conf) != 1)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	int st = logd_stop(&T.logd, SIGTERM);
	CTLOG_STORE_free(T.logs);
	pki_free(T.ca);
	pki_free(T.root);
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T.dir);
		if (system(cmd) != 0)
			return -1;
	}
	return st == 0 ? 0 : -1;
}

static char *chain_json(const struct pki_cert *const *certs, size_t n)
{
	json_t *arr = json_array(), *obj = json_object();
	char *s;

	for (size_t i = 0; i < n; i++) {
		char *b = malloc(mn_b64_encoded_len(certs[i]->der_len) + 1);
		mn_b64_encode(b, certs[i]->der, certs[i]->der_len);
		json_array_append_new(arr, json_string(b));
		free(b);
	}
	json_object_set_new(obj, "chain", arr);
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return s;
}

static uint8_t *b64field(json_t *j, const char *name, size_t *len)
{
	json_t *f = json_object_get(j, name);
	uint8_t *out;
	assert_true(json_is_string(f));
	assert_int_equal(mn_b64_decode(&out, len, json_string_value(f), json_string_length(f), 1 << 16), 0);
	return out;
}

/* submit and turn the JSON answer into OpenSSL's SCT via its own TLS decoder */
static SCT *submit(const char *path, const struct pki_cert *leaf)
{
	const struct pki_cert *chain[2] = {leaf, T.ca};
	char *body = chain_json(chain, 2);
	struct http_resp r;
	json_error_t e;
	json_t *j;
	uint8_t *id, *ext, *sig, *enc;
	size_t idl, extl, sigl, encl;
	struct cbb b, c;
	const unsigned char *p;
	SCT *sct;

	assert_int_equal(http_do(T.logd.port, "POST", path, NULL, body, strlen(body), &r), 0);
	assert_int_equal(r.status, 200);
	j = json_loadb((char *)r.body, r.body_len, 0, &e);
	assert_non_null(j);
	id = b64field(j, "id", &idl);
	ext = b64field(j, "extensions", &extl);
	/* a new log: the static-ct-api leaf_index extension is in the SCT, so
	 * OpenSSL validates an SCT that carries it (the index follows the
	 * map-root leaves, so only its form is checked here) */
	{
		int has;
		uint64_t idx;
		assert_int_equal(extl, CT_LEAF_INDEX_EXT_LEN);
		assert_true(ct_parse_extensions(ext, extl, &has, &idx) && has);
	}
	sig = b64field(j, "signature", &sigl);
	/* SignedCertificateTimestamp, RFC 6962 section 3.2, from the JSON fields */
	assert_true(cbb_init(&b, 256, 4096));
	assert_true(cbb_add_u8(&b, 0));
	assert_true(cbb_add_bytes(&b, id, idl));
	assert_true(cbb_add_u64(&b, (uint64_t)json_integer_value(json_object_get(j, "timestamp"))));
	assert_true(cbb_add_u16_length_prefixed(&b, &c));
	assert_true(cbb_add_bytes(&c, ext, extl));
	assert_true(cbb_add_bytes(&b, sig, sigl));
	assert_true(cbb_finish(&b, &enc, &encl));
	p = enc;
	sct = o2i_SCT(NULL, &p, (long)encl);
	assert_non_null(sct);
	assert_true(p == enc + encl);
	free(enc);
	free(id);
	free(ext);
	free(sig);
	json_decref(j);
	http_resp_free(&r);
	free(body);
	return sct;
}

static int validate(STACK_OF(SCT) *scts, X509 *cert)
{
	CT_POLICY_EVAL_CTX *ctx = CT_POLICY_EVAL_CTX_new();
	int ok;

	CT_POLICY_EVAL_CTX_set1_cert(ctx, cert);
	CT_POLICY_EVAL_CTX_set1_issuer(ctx, T.ca->x);
	CT_POLICY_EVAL_CTX_set_shared_CTLOG_STORE(ctx, T.logs);
	ok = SCT_LIST_validate(scts, ctx);
	CT_POLICY_EVAL_CTX_free(ctx);
	return ok;
}

static void test_x509_sct_validates(void **state)
{
	int64_t now = pki_now();
	const char *dns[1] = {"tls.example.com"};
	struct pki_cert *leaf = pki_issue(T.ca, "tls.example.com", dns, 1, 0, now - 60, now + 86400);
	SCT *sct = submit("/ct/v1/add-chain", leaf);
	STACK_OF(SCT) *scts = sk_SCT_new_null();

	(void)state;
	assert_int_equal(SCT_set_log_entry_type(sct, CT_LOG_ENTRY_TYPE_X509), 1);
	assert_int_equal(SCT_set_source(sct, SCT_SOURCE_TLS_EXTENSION), 1);
	sk_SCT_push(scts, sct);
	assert_int_equal(validate(scts, leaf->x), 1);
	assert_int_equal(SCT_get_validation_status(sct), SCT_VALIDATION_STATUS_VALID);
	/* and OpenSSL says no for another certificate */
	{
		struct pki_cert *other = pki_issue(T.ca, "tls.example.com", dns, 1, 0, now - 60, now + 86400);
		assert_int_equal(validate(scts, other->x), 0);
		assert_int_equal(SCT_get_validation_status(sct), SCT_VALIDATION_STATUS_INVALID);
		pki_free(other);
	}
	SCT_LIST_free(scts);
	pki_free(leaf);
}

static void test_precert_sct_embedded_validates(void **state)
{
	int64_t now = pki_now();
	const char *dns[1] = {"pre.example.com"};
	struct pki_cert *pre = pki_issue(T.ca, "pre.example.com", dns, 1, PKI_POISON, now - 60,
					 now + 86400);
	SCT *sct = submit("/ct/v1/add-pre-chain", pre);
	STACK_OF(SCT) *scts = sk_SCT_new_null();
	X509 *fin = X509_dup(pre->x);
	int idx;

	(void)state;
	assert_int_equal(SCT_set_log_entry_type(sct, CT_LOG_ENTRY_TYPE_PRECERT), 1);
	sk_SCT_push(scts, sct);
	/* the CA issues the final certificate: no poison, the SCT list embedded */
	idx = X509_get_ext_by_NID(fin, NID_ct_precert_poison, -1);
	assert_true(idx >= 0);
	X509_EXTENSION_free(X509_delete_ext(fin, idx));
	assert_int_equal(X509_add1_ext_i2d(fin, NID_ct_precert_scts, scts, 0, 0), 1);
	assert_true(X509_sign(fin, T.ca->key, EVP_sha256()) > 0);
	SCT_LIST_free(scts);

	/* a TLS client: read the SCTs from the certificate and validate them */
	scts = X509_get_ext_d2i(fin, NID_ct_precert_scts, NULL, NULL);
	assert_non_null(scts);
	assert_int_equal(sk_SCT_num(scts), 1);
	assert_int_equal(validate(scts, fin), 1);
	assert_int_equal(SCT_get_validation_status(sk_SCT_value(scts, 0)),
			 SCT_VALIDATION_STATUS_VALID);
	SCT_LIST_free(scts);
	X509_free(fin);
	pki_free(pre);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x509_sct_validates),
		cmocka_unit_test(test_precert_sct_embedded_validates),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
