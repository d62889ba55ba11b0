/* test_real_certs.c: real certificates from Debian's python3-cryptography-vectors
 * through a running logd whose clock is set inside their validity with
 * libfaketime (Debian faketime): the www.cryptography.io chain (RapidSSL SHA256
 * CA - G3), a Let's Encrypt certificate with embedded SCTs and a Let's Encrypt
 * precertificate (Let's Encrypt Authority X3), with those two intermediates as
 * logd's roots (their own roots are not in the package). Each must be
 * accepted, and OpenSSL's CT code (SCT_LIST_validate) must find logd's SCT
 * valid: for the precertificate that means logd logged the TBSCertificate
 * OpenSSL derives from it itself. The certificates all expired in 2018, so
 * their acceptance also shows that logd read the faked clock. */
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
#include <openssl/ct.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "entry/ct.h"
#include "tests/lib/proc.h"
#include "tests/lib/vectors.h"

#define FAKE_TIME "@2018-10-01 00:00:00"
#define FAKE_TIME_MS 1538352000000ULL
#define LIBFAKETIME "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

struct der {
	uint8_t *d;
	size_t len;
	X509 *x;
};

static struct {
	char dir[64];
	struct logd_proc logd;
	CTLOG_STORE *logs;
	struct der leaf, g3, scts, x3, pre;
} T;

static int load(struct der *out, const char *rel, size_t which)
{
	uint8_t *der[4];
	size_t lens[4], n = vectors_pem_certs(rel, der, lens, 4);
	if (n <= which)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (i != which)
			free(der[i]);
	out->d = der[which];
	out->len = lens[which];
	const unsigned char *p = out->d;
	out->x = d2i_X509(NULL, &p, (long)out->len);
	return out->x != NULL ? 0 : -1;
}

static int write_pem(const char *path, const struct der *const *certs, size_t n)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		PEM_write_X509(f, certs[i]->x);
	return fclose(f) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	char roots[128], data[128], asan[512];
	(void)state;
	if (vectors_dir() == NULL) {
		fprintf(stderr, "python3-cryptography-vectors is missing (scripts/deps.sh)\n");
		return -1;
	}
	if (access(LIBFAKETIME, R_OK) != 0) {
		fprintf(stderr, "%s is missing (Debian faketime, scripts/deps.sh)\n", LIBFAKETIME);
		return -1;
	}
	if (load(&T.leaf, "x509/cryptography.io.chain.pem", 0) != 0 ||
	    load(&T.g3, "x509/rapidssl_sha256_ca_g3.pem", 0) != 0 ||
	    load(&T.scts, "x509/cryptography-scts.pem", 0) != 0 ||
	    load(&T.x3, "x509/letsencryptx3.pem", 0) != 0 ||
	    load(&T.pre, "x509/cryptography.io.precert.pem", 0) != 0)
		return -1;
	snprintf(T.dir, sizeof(T.dir), "/tmp/mn-real-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	snprintf(roots, sizeof(roots), "%s/roots.pem", T.dir);
	snprintf(data, sizeof(data), "%s/data", T.dir);
	const struct der *rs[] = {&T.g3, &T.x3};
	if (write_pem(roots, rs, 2) != 0)
		return -1;
	/* logd, and only logd, on the faked clock (monotonic time left real for
	 * libuv's timers); an ASan build must let libfaketime load first */
	const char *old_asan = getenv("ASAN_OPTIONS");
	snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0", old_asan ? old_asan : "",
		 old_asan ? ":" : "");
	char *saved_asan = old_asan ? strdup(old_asan) : NULL;
	setenv("LD_PRELOAD", LIBFAKETIME, 1);
	setenv("FAKETIME", FAKE_TIME, 1);
	setenv("DONT_FAKE_MONOTONIC", "1", 1);
	setenv("ASAN_OPTIONS", asan, 1);
	const char *args[] = {"--data", data, "--tls-roots", roots, NULL};
	int rc = logd_start(&T.logd, args);
	unsetenv("LD_PRELOAD");
	unsetenv("FAKETIME");
	unsetenv("DONT_FAKE_MONOTONIC");
	if (saved_asan != NULL)
		setenv("ASAN_OPTIONS", saved_asan, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(saved_asan);
	if (rc != 0)
		return -1;
	T.logs = CTLOG_STORE_new();
	if (T.logs == NULL)
		return -1;
	char conf[128], *b64 = malloc(mn_b64_encoded_len(T.logd.spki_len) + 1);
	snprintf(conf, sizeof(conf), "%s/ct_log_list.cnf", T.dir);
	mn_b64_encode(b64, T.logd.spki, T.logd.spki_len);
	FILE *f = fopen(conf, "w");
	fprintf(f, "enabled_logs = mn\n\n[mn]\ndescription = metanotary test log\nkey = %s\n", b64);
	fclose(f);
	free(b64);
	return CTLOG_STORE_load_file(T.logs, conf) == 1 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	int st = logd_stop(&T.logd, SIGTERM);
	CTLOG_STORE_free(T.logs);
	struct der *all[] = {&T.leaf, &T.g3, &T.scts, &T.x3, &T.pre};
	for (size_t i = 0; i < 5; i++) {
		free(all[i]->d);
		X509_free(all[i]->x);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T.dir);
	if (system(cmd) != 0)
		return -1;
	return st == 0 ? 0 : -1;
}

static char *chain_json(const struct der *const *certs, size_t n)
{
	json_t *arr = json_array(), *obj = json_object();
	for (size_t i = 0; i < n; i++) {
		char *b = malloc(mn_b64_encoded_len(certs[i]->len) + 1);
		mn_b64_encode(b, certs[i]->d, certs[i]->len);
		json_array_append_new(arr, json_string(b));
		free(b);
	}
	json_object_set_new(obj, "chain", arr);
	char *s = json_dumps(obj, JSON_COMPACT);
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

/* post submits |certs| to |path| and returns the HTTP status; with a 200 the
 * SCT, decoded by OpenSSL's own TLS decoder, in |*out|. */
static int post(const char *path, const struct der *const *certs, size_t n, SCT **out)
{
	char *body = chain_json(certs, n);
	struct http_resp r;
	assert_int_equal(http_do(T.logd.port, "POST", path, NULL, body, strlen(body), &r), 0);
	free(body);
	int status = r.status;
	if (status != 200 || out == NULL) {
		http_resp_free(&r);
		return status;
	}
	json_error_t e;
	json_t *j = json_loadb((char *)r.body, r.body_len, 0, &e);
	size_t idl, extl, sigl, encl;
	uint8_t *enc;
	struct cbb b, c;
	assert_non_null(j);
	uint8_t *id = b64field(j, "id", &idl), *ext = b64field(j, "extensions", &extl),
		*sig = b64field(j, "signature", &sigl);
	uint64_t ts = (uint64_t)json_integer_value(json_object_get(j, "timestamp"));
	/* a new log: its SCTs carry the static-ct-api leaf_index extension */
	{
		int has;
		uint64_t idx;
		assert_int_equal(extl, CT_LEAF_INDEX_EXT_LEN);
		assert_true(ct_parse_extensions(ext, extl, &has, &idx) && has);
	}
	/* logd's SCT carries its (faked) clock: 2018-10-01 plus a few seconds */
	assert_true(ts >= FAKE_TIME_MS && ts < FAKE_TIME_MS + 3600 * 1000);
	/* SignedCertificateTimestamp, RFC 6962 section 3.2 */
	assert_true(cbb_init(&b, 256, 4096));
	assert_true(cbb_add_u8(&b, 0));
	assert_true(cbb_add_bytes(&b, id, idl));
	assert_true(cbb_add_u64(&b, ts));
	assert_true(cbb_add_u16_length_prefixed(&b, &c));
	assert_true(cbb_add_bytes(&c, ext, extl));
	assert_true(cbb_add_bytes(&b, sig, sigl));
	assert_true(cbb_finish(&b, &enc, &encl));
	const unsigned char *p = enc;
	*out = o2i_SCT(NULL, &p, (long)encl);
	assert_non_null(*out);
	free(enc);
	free(id);
	free(ext);
	free(sig);
	json_decref(j);
	http_resp_free(&r);
	return status;
}

/* sct_valid runs OpenSSL's SCT validation of |sct| for |cert| issued by
 * |issuer|, at the faked time plus an hour (an SCT from the future is
 * invalid). */
static int sct_valid(SCT *sct, ct_log_entry_type_t type, X509 *cert, X509 *issuer)
{
	STACK_OF(SCT) *scts = sk_SCT_new_null();
	CT_POLICY_EVAL_CTX *ctx = CT_POLICY_EVAL_CTX_new();
	/* SCT_set_source also sets the entry type, so it comes first */
	assert_int_equal(SCT_set_source(sct, type == CT_LOG_ENTRY_TYPE_X509
						   ? SCT_SOURCE_TLS_EXTENSION
						   : SCT_SOURCE_X509V3_EXTENSION), 1);
	assert_int_equal(SCT_set_log_entry_type(sct, type), 1);
	sk_SCT_push(scts, sct);
	CT_POLICY_EVAL_CTX_set1_cert(ctx, cert);
	CT_POLICY_EVAL_CTX_set1_issuer(ctx, issuer);
	CT_POLICY_EVAL_CTX_set_shared_CTLOG_STORE(ctx, T.logs);
	CT_POLICY_EVAL_CTX_set_time(ctx, FAKE_TIME_MS + 3600 * 1000);
	int ok = SCT_LIST_validate(scts, ctx) == 1 &&
		 SCT_get_validation_status(sct) == SCT_VALIDATION_STATUS_VALID;
	CT_POLICY_EVAL_CTX_free(ctx);
	sk_SCT_free(scts); /* the caller keeps |sct| */
	return ok;
}

static void test_cryptography_io_chain(void **state)
{
	SCT *sct;
	(void)state;
	const struct der *chain[] = {&T.leaf, &T.g3};
	assert_int_equal(post("/ct/v1/add-chain", chain, 2, &sct), 200);
	assert_true(sct_valid(sct, CT_LOG_ENTRY_TYPE_X509, T.leaf.x, T.g3.x));
	/* the leaf alone: its root is implied; the same entry */
	assert_int_equal(post("/ct/v1/add-chain", chain, 1, NULL), 200);
	/* a certificate is not a precertificate */
	assert_int_equal(post("/ct/v1/add-pre-chain", chain, 2, NULL), 400);
	SCT_free(sct);
}

static void test_lets_encrypt_cert(void **state)
{
	SCT *sct;
	(void)state;
	const struct der *chain[] = {&T.scts, &T.x3};
	assert_int_equal(post("/ct/v1/add-chain", chain, 2, &sct), 200);
	assert_true(sct_valid(sct, CT_LOG_ENTRY_TYPE_X509, T.scts.x, T.x3.x));
	/* and the SCT is for this certificate only */
	assert_false(sct_valid(sct, CT_LOG_ENTRY_TYPE_X509, T.leaf.x, T.x3.x));
	/* not under the other root */
	const struct der *wrong[] = {&T.scts, &T.g3};
	assert_int_equal(post("/ct/v1/add-chain", wrong, 2, NULL), 400);
	SCT_free(sct);
}

static void test_lets_encrypt_precert(void **state)
{
	SCT *sct;
	(void)state;
	const struct der *chain[] = {&T.pre, &T.x3};
	assert_int_equal(post("/ct/v1/add-pre-chain", chain, 2, &sct), 200);
	/* OpenSSL rebuilds the TBSCertificate from the precertificate (poison
	 * removed) and hashes X3's key: logd must have signed exactly that */
	assert_true(sct_valid(sct, CT_LOG_ENTRY_TYPE_PRECERT, T.pre.x, T.x3.x));
	assert_int_equal(post("/ct/v1/add-chain", chain, 2, NULL), 400);
	SCT_free(sct);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cryptography_io_chain),
		cmocka_unit_test(test_lets_encrypt_cert),
		cmocka_unit_test(test_lets_encrypt_precert),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
