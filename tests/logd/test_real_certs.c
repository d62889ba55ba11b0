/* test_real_certs.c: real certificates from Debian's python3-cryptography-vectors
 * through running logds whose clocks are set inside their validity with
 * libfaketime (Debian faketime):
 *   - at 2018-10-01: the www.cryptography.io chain (RapidSSL SHA256 CA - G3), a
 *     Let's Encrypt certificate with embedded SCTs and a Let's Encrypt
 *     precertificate (Let's Encrypt Authority X3), with those two
 *     intermediates as logd's roots (their own roots are not in the package);
 *     scotthelme.co.uk's certificate (tls-feature-ocsp-staple.pem, X3, expired
 *     2017-11-29) is refused there as expired;
 *   - at 2017-10-15, inside that certificate's validity: it is accepted.
 * Each accepted chain's SCT must be valid for OpenSSL's CT code
 * (SCT_LIST_validate): for the precertificate that means logd logged the
 * TBSCertificate OpenSSL derives from it itself. These certificates all
 * expired in 2017-2018, so their acceptance also shows that logd read the
 * faked clock.
 * The 2018 logd also has NIST's PKITS trust anchor as a root (PKITS
 * certificates are valid 2010-2030), and the PKITS paths of the rules in
 * docs/validation.md go through add-chain: the pathLenConstraint paths of
 * issue 17 (4.6.5, 4.6.6), an issuer that is not a CA (4.6.2), one whose
 * keyUsage lacks keyCertSign (4.7.1) get 400 badChain naming the rule, and
 * valid paths (4.1.1, 4.6.7) and a name-constraint violation, which the
 * policy ignores (4.13.2), get SCTs that OpenSSL validates. */
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

#define LIBFAKETIME "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
#define HOUR_MS (3600 * 1000ULL)

/* A logd on a faked clock. */
struct faked {
	const char *faketime; /* libfaketime's FAKETIME */
	uint64_t now_ms;      /* the same instant */
	const char *name;     /* its section in the CT log store */
	struct logd_proc logd;
};

struct der {
	uint8_t *d;
	size_t len;
	X509 *x;
};

#define PKITS "x509/PKITS_data/certs/"
#define NUM_PKITS 12
static const char *const kPkits[NUM_PKITS] = {
	"TrustAnchorRootCertificate", "GoodCACert", "ValidCertificatePathTest1EE",
	"pathLenConstraint0CACert", "pathLenConstraint0subCACert",
	"ValidpathLenConstraintTest7EE", "InvalidpathLenConstraintTest5EE",
	"InvalidpathLenConstraintTest6EE", "basicConstraintsCriticalcAFalseCACert",
	"InvalidcAFalseTest2EE", "keyUsageCriticalkeyCertSignFalseCACert",
	"InvalidkeyUsageCriticalkeyCertSignFalseTest1EE",
};
enum {
	P_ANCHOR, P_GOOD_CA, P_GOOD_EE, P_PL0_CA, P_PL0_SUB, P_PL7_EE, P_PL5_EE, P_PL6_EE,
	P_CAFALSE_CA, P_CAFALSE_EE, P_KU_CA, P_KU_EE,
};

static struct {
	char dir[64];
	struct faked at2018, at2017;
	CTLOG_STORE *logs;
	struct der leaf, g3, scts, x3, pre, staple, nc_ca, nc_ee;
	struct der pkits[NUM_PKITS];
} T = {
	.at2018 = {"@2018-10-01 00:00:00", 1538352000000ULL, "mn2018", {0}},
	.at2017 = {"@2017-10-15 00:00:00", 1508025600000ULL, "mn2017", {0}},
};

static int set_x509(struct der *out)
{
	const unsigned char *p = out->d;
	out->x = d2i_X509(NULL, &p, (long)out->len);
	return out->x != NULL ? 0 : -1;
}

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
	return set_x509(out);
}

static int load_pkits(struct der *out, const char *name)
{
	char rel[256];
	snprintf(rel, sizeof(rel), PKITS "%s.crt", name);
	if ((out->d = vectors_read(rel, &out->len)) == NULL)
		return -1;
	return set_x509(out);
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

/* start_faked runs logd over the roots |roots| with only logd on the faked
 * clock (monotonic time left real for libuv's timers); an ASan build must let
 * libfaketime load first. */
static int start_faked(struct faked *f, const struct der *const *roots, size_t num_roots)
{
	char rpath[128], data[128], asan[512];
	snprintf(rpath, sizeof(rpath), "%s/%s-roots.pem", T.dir, f->name);
	snprintf(data, sizeof(data), "%s/%s-data", T.dir, f->name);
	if (write_pem(rpath, roots, num_roots) != 0)
		return -1;
	const char *old_asan = getenv("ASAN_OPTIONS");
	snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0", old_asan ? old_asan : "",
		 old_asan ? ":" : "");
	char *saved_asan = old_asan ? strdup(old_asan) : NULL;
	setenv("LD_PRELOAD", LIBFAKETIME, 1);
	setenv("FAKETIME", f->faketime, 1);
	setenv("DONT_FAKE_MONOTONIC", "1", 1);
	setenv("ASAN_OPTIONS", asan, 1);
	const char *args[] = {"--data", data, "--tls-roots", rpath, NULL};
	int rc = logd_start(&f->logd, args);
	unsetenv("LD_PRELOAD");
	unsetenv("FAKETIME");
	unsetenv("DONT_FAKE_MONOTONIC");
	if (saved_asan != NULL)
		setenv("ASAN_OPTIONS", saved_asan, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(saved_asan);
	return rc;
}

/* log_conf appends |f|'s section to OpenSSL's CT log list file |out|. */
static void log_conf(FILE *out, const struct faked *f)
{
	char *b64 = malloc(mn_b64_encoded_len(f->logd.spki_len) + 1);
	assert_non_null(b64);
	mn_b64_encode(b64, f->logd.spki, f->logd.spki_len);
	fprintf(out, "\n[%s]\ndescription = metanotary test log at %s\nkey = %s\n", f->name,
		f->faketime, b64);
	free(b64);
}

static int setup(void **state)
{
	char conf[128];
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
	    load(&T.pre, "x509/cryptography.io.precert.pem", 0) != 0 ||
	    load(&T.staple, "x509/tls-feature-ocsp-staple.pem", 0) != 0 ||
	    load_pkits(&T.nc_ca, "nameConstraintsDN1CACert") != 0 ||
	    load_pkits(&T.nc_ee, "InvalidDNnameConstraintsTest2EE") != 0)
		return -1;
	for (size_t i = 0; i < NUM_PKITS; i++)
		if (load_pkits(&T.pkits[i], kPkits[i]) != 0)
			return -1;
	snprintf(T.dir, sizeof(T.dir), "/tmp/mn-real-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	const struct der *r2018[] = {&T.g3, &T.x3, &T.pkits[P_ANCHOR]}, *r2017[] = {&T.x3};
	if (start_faked(&T.at2018, r2018, 3) != 0 || start_faked(&T.at2017, r2017, 1) != 0)
		return -1;
	T.logs = CTLOG_STORE_new();
	if (T.logs == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/ct_log_list.cnf", T.dir);
	FILE *f = fopen(conf, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "enabled_logs = %s, %s\n", T.at2018.name, T.at2017.name);
	log_conf(f, &T.at2018);
	log_conf(f, &T.at2017);
	fclose(f);
	return CTLOG_STORE_load_file(T.logs, conf) == 1 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	int st = logd_stop(&T.at2018.logd, SIGTERM);
	int st2 = logd_stop(&T.at2017.logd, SIGTERM);
	CTLOG_STORE_free(T.logs);
	struct der *all[] = {&T.leaf, &T.g3, &T.scts, &T.x3, &T.pre, &T.staple, &T.nc_ca, &T.nc_ee};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		free(all[i]->d);
		X509_free(all[i]->x);
	}
	for (size_t i = 0; i < NUM_PKITS; i++) {
		free(T.pkits[i].d);
		X509_free(T.pkits[i].x);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T.dir);
	if (system(cmd) != 0)
		return -1;
	return st == 0 && st2 == 0 ? 0 : -1;
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

/* submit posts |certs| to |path| of |f|'s logd and returns the HTTP status;
 * with a 200 the SCT, decoded by OpenSSL's own TLS decoder, in |*out|; with
 * another status, when |err_code| is not NULL, the JSON error must be
 * |err_code| with |err_msg| in its message. */
static int submit(const struct faked *f, const char *path, const struct der *const *certs,
		  size_t n, SCT **out, const char *err_code, const char *err_msg)
{
	char *body = chain_json(certs, n);
	struct http_resp r;
	assert_int_equal(http_do(f->logd.port, "POST", path, NULL, body, strlen(body), &r), 0);
	free(body);
	int status = r.status;
	json_error_t e;
	json_t *j = json_loadb((char *)r.body, r.body_len, 0, &e);
	if (status != 200) {
		if (err_code != NULL) {
			assert_non_null(j);
			const char *code = json_string_value(json_object_get(j, "error_code"));
			const char *msg = json_string_value(json_object_get(j, "error_message"));
			assert_non_null(code);
			assert_non_null(msg);
			if (strcmp(code, err_code) != 0 || strstr(msg, err_msg) == NULL)
				fail_msg("%s: got %s \"%s\", want %s \"...%s...\"", path, code, msg,
					 err_code, err_msg);
		}
		json_decref(j);
		http_resp_free(&r);
		return status;
	}
	if (out == NULL) {
		json_decref(j);
		http_resp_free(&r);
		return status;
	}
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
	/* logd's SCT carries its (faked) clock: that instant plus a few seconds */
	assert_true(ts >= f->now_ms && ts < f->now_ms + HOUR_MS);
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

/* post: submit to the 2018 logd. */
static int post(const char *path, const struct der *const *certs, size_t n, SCT **out)
{
	return submit(&T.at2018, path, certs, n, out, NULL, NULL);
}

/* sct_valid_at runs OpenSSL's SCT validation of |sct| for |cert| issued by
 * |issuer|, an hour after |f|'s faked instant (an SCT from the future is
 * invalid). */
static int sct_valid_at(const struct faked *f, SCT *sct, ct_log_entry_type_t type, X509 *cert,
			X509 *issuer)
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
	CT_POLICY_EVAL_CTX_set_time(ctx, f->now_ms + HOUR_MS);
	int ok = SCT_LIST_validate(scts, ctx) == 1 &&
		 SCT_get_validation_status(sct) == SCT_VALIDATION_STATUS_VALID;
	CT_POLICY_EVAL_CTX_free(ctx);
	sk_SCT_free(scts); /* the caller keeps |sct| */
	return ok;
}

static int sct_valid(SCT *sct, ct_log_entry_type_t type, X509 *cert, X509 *issuer)
{
	return sct_valid_at(&T.at2018, sct, type, cert, issuer);
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

/* scotthelme.co.uk (TLS feature extension, must-staple) under X3: valid
 * 2017-08-31 to 2017-11-29, so expired for the 2018 logd and accepted by the
 * 2017 one. */
static void test_expiry_by_clock(void **state)
{
	SCT *sct;
	(void)state;
	const struct der *chain[] = {&T.staple, &T.x3};
	assert_int_equal(submit(&T.at2018, "/ct/v1/add-chain", chain, 2, NULL, "badCertificate",
				"expired"),
			 400);
	assert_int_equal(submit(&T.at2017, "/ct/v1/add-chain", chain, 2, &sct, NULL, NULL), 200);
	assert_true(sct_valid_at(&T.at2017, sct, CT_LOG_ENTRY_TYPE_X509, T.staple.x, T.x3.x));
	/* signed by the 2017 log, whose key is not the 2018 one's */
	unsigned char *id;
	assert_int_equal(SCT_get0_log_id(sct, &id), 32);
	assert_memory_equal(id, T.at2017.logd.log_id, 32);
	assert_memory_not_equal(T.at2017.logd.log_id, T.at2018.logd.log_id, 32);
	SCT_free(sct);
}

static const struct der *pk(int i)
{
	return &T.pkits[i];
}

/* The PKITS paths of the enforced rules through add-chain of a running logd. */
static void test_pkits_through_logd(void **state)
{
	SCT *sct;
	(void)state;
	/* 4.6.5 and 4.6.6, the paths that started issue 17: a CA under a
	 * pathLenConstraint 0 CA issuing a leaf */
	const struct der *pl5[] = {pk(P_PL5_EE), pk(P_PL0_SUB), pk(P_PL0_CA)};
	const struct der *pl6[] = {pk(P_PL6_EE), pk(P_PL0_SUB), pk(P_PL0_CA)};
	assert_int_equal(submit(&T.at2018, "/ct/v1/add-chain", pl5, 3, NULL, "badChain",
				"pathLenConstraint exceeded"),
			 400);
	assert_int_equal(submit(&T.at2018, "/ct/v1/add-chain", pl6, 3, NULL, "badChain",
				"pathLenConstraint exceeded"),
			 400);
	/* with the root included, too */
	const struct der *pl5r[] = {pk(P_PL5_EE), pk(P_PL0_SUB), pk(P_PL0_CA), pk(P_ANCHOR)};
	assert_int_equal(submit(&T.at2018, "/ct/v1/add-chain", pl5r, 4, NULL, "badChain",
				"pathLenConstraint exceeded"),
			 400);
	/* 4.6.2: the issuer is not a CA; 4.7.1: its keyUsage lacks keyCertSign */
	const struct der *cafalse[] = {pk(P_CAFALSE_EE), pk(P_CAFALSE_CA)};
	assert_int_equal(submit(&T.at2018, "/ct/v1/add-chain", cafalse, 2, NULL, "badChain",
				"not a CA"),
			 400);
	const struct der *ku[] = {pk(P_KU_EE), pk(P_KU_CA)};
	assert_int_equal(submit(&T.at2018, "/ct/v1/add-chain", ku, 2, NULL, "badChain",
				"keyCertSign"),
			 400);
	/* 4.1.1 and 4.6.7: valid, and their SCTs are valid for OpenSSL */
	const struct der *good[] = {pk(P_GOOD_EE), pk(P_GOOD_CA)};
	assert_int_equal(post("/ct/v1/add-chain", good, 2, &sct), 200);
	assert_true(sct_valid(sct, CT_LOG_ENTRY_TYPE_X509, pk(P_GOOD_EE)->x, pk(P_GOOD_CA)->x));
	SCT_free(sct);
	const struct der *pl7[] = {pk(P_PL7_EE), pk(P_PL0_CA)};
	assert_int_equal(post("/ct/v1/add-chain", pl7, 2, &sct), 200);
	assert_true(sct_valid(sct, CT_LOG_ENTRY_TYPE_X509, pk(P_PL7_EE)->x, pk(P_PL0_CA)->x));
	SCT_free(sct);
	/* 4.13.2: a name-constraint violation, which the policy ignores (a log
	 * records what a constrained CA issued outside its constraints) */
	const struct der *nc[] = {&T.nc_ee, &T.nc_ca};
	assert_int_equal(post("/ct/v1/add-chain", nc, 2, &sct), 200);
	assert_true(sct_valid(sct, CT_LOG_ENTRY_TYPE_X509, T.nc_ee.x, T.nc_ca.x));
	SCT_free(sct);
	/* a PKITS leaf is not a precertificate */
	assert_int_equal(submit(&T.at2018, "/ct/v1/add-pre-chain", good, 2, NULL,
				"badCertificate", "precertificate"),
			 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cryptography_io_chain),
		cmocka_unit_test(test_lets_encrypt_cert),
		cmocka_unit_test(test_lets_encrypt_precert),
		cmocka_unit_test(test_expiry_by_clock),
		cmocka_unit_test(test_pkits_through_logd),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
