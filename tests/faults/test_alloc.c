/* test_alloc.c: allocation failure on the request paths (the "Faults" issue),
 * in the manner of curl's torture mode: for N = 1, 2, ... the Nth allocation
 * after arming fails, until a request completes without reaching it.
 *
 * Linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (tests/faults
 * rule in the Makefile), so every allocation made by our own code (common,
 * merkle, entry, storage, api, logd: the static libraries) goes through the
 * __wrap_ functions below. jansson and OpenSSL are shared libraries that
 * --wrap does not reach; they are routed through the same failing allocator
 * with json_set_alloc_funcs and CRYPTO_set_mem_functions, so failures inside
 * them (JSON building, DER parsing, chain validation, ECDSA signing) are
 * injected too, except in OpenSSL's digest provider contexts (see exempt()).
 * LMDB's own mallocs (liblmdb.so) are not failed.
 *
 * In process: a store in a temporary directory, a ct signer, an X.509 validator
 * over a test root, the sequencer thread and the api. Each armed call of
 * api_handle must end in a valid response: 200, or a 4xx/5xx with a JSON error
 * body, either at once or through done() (waited for with a bound: a lost
 * submission fails the test). A 200 to add-chain must carry a valid SCT whose
 * leaf is in the tree. An out-of-memory is never the client's fault: a 4xx
 * answered with the failure hit fails the test (a client would not retry it),
 * unless the failure provably did not decide it: the error body itself was the
 * allocation that failed (empty body, the status already chosen), or the
 * request is one the unarmed server answers with that same 4xx status
 * (expect_4xx). Afterwards the store is closed and reopened (its
 * open-time consistency check passes) and every answered SCT's leaf is found.
 * Under ASan, LeakSanitizer checks at exit that no failure path leaked. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api/api.h"
#include "common/b64.h"
#include "common/vrf.h"
#include "entry/ct.h"
#include "entry/x509.h"
#include "logd/sequencer.h"
#include "merkle/merkle.h"
#include "storage/storage.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/pki.h"

/* --- the failing allocator --------------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static atomic_long countdown; /* > 0: armed; the allocation taking it to 0 fails */
static atomic_int hit;         /* the armed failure happened */
static atomic_long num_allocs; /* allocations seen while armed */

static int should_fail(void)
{
	long left;

	if (atomic_load(&countdown) <= 0)
		return 0;
	atomic_fetch_add(&num_allocs, 1);
	left = atomic_fetch_sub(&countdown, 1);
	if (left == 1) {
		atomic_store(&hit, 1);
		return 1;
	}
	return 0;
}

void *__wrap_malloc(size_t n)
{
	return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : __real_realloc(p, n);
}

/* exempt: OpenSSL's digest provider contexts. merkle/hash.c assumes that
 * re-initialising a fetched SHA-256 context cannot fail and aborts if it does,
 * but OpenSSL 3.0 allocates a new provider context on every
 * EVP_DigestInit_ex2 (sha2_prov.c), so a failure there would abort the
 * process (reported as a bug). Those allocations are never failed here. */
static atomic_long num_exempt;

static int exempt(const char *file)
{
	if (file == NULL || strstr(file, "providers/implementations/digests/") == NULL)
		return 0;
	if (atomic_load(&countdown) > 0)
		atomic_fetch_add(&num_exempt, 1);
	return 1;
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
	(void)line;
	return exempt(file) ? __real_malloc(n) : __wrap_malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)line;
	return exempt(file) ? __real_realloc(p, n) : __wrap_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static void *json_malloc(size_t n)
{
	return __wrap_malloc(n);
}

static void arm(long n)
{
	atomic_store(&hit, 0);
	atomic_store(&num_allocs, 0);
	atomic_store(&countdown, n);
}

static void disarm(void)
{
	atomic_store(&countdown, 0);
}

/* --- the log in process -------------------------------------------------------- */

#define MAX_ANSWERED 4096

static struct {
	char dir[64];
	struct store *st;
	struct ct_signer *signer;
	struct vrf_key *vrf;
	struct ct_verifier *v;
	struct x509_roots *roots;
	struct x509_validator *val;
	struct seq *seq;
	struct api *api;
	struct pki_cert *root, *ca;
	int serial;
	uint8_t answered[MAX_ANSWERED][32]; /* leaf hashes of SCTs answered 200 */
	size_t num_answered;
	uint8_t known_leaf[32];
	/* figures */
	unsigned long points, ok, errors_4xx, errors_5xx, empty_bodies;
	int expect_4xx; /* the 4xx the request being tortured gets unarmed; 0: none */
} A;

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int done;
	struct api_response resp;
	struct api_response *orig;
};

static void on_done(void *ctx, struct api_response *resp)
{
	struct waiter *w = ctx;

	pthread_mutex_lock(&w->mu);
	if (resp == NULL) {
		/* allowed by the transport (it answers 500 itself) */
		memset(&w->resp, 0, sizeof(w->resp));
		w->resp.status = -1;
	} else {
		w->resp = *resp;
		if (resp == w->orig)
			memset(resp, 0, sizeof(*resp));
	}
	w->done = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

static int setup(void **state)
{
	struct store_options so = {0};
	struct seq_options qo = {0};
	struct api_config ac = {0};
	EVP_PKEY *key;
	int64_t now = pki_now();
	const struct pki_cert *rs[1];
	char *pem;
	size_t pem_len, skipped;
	const uint8_t *spki;
	size_t spki_len;

	(void)state;
	strcpy(A.dir, "/tmp/mn-alloc-XXXXXX");
	if (mkdtemp(A.dir) == NULL)
		return -1;
	so.dir = A.dir;
	so.no_sync = 1; /* durability is test_soak's business; this is about memory */
	if (store_open(&A.st, &so) != 0)
		return -1;
	key = EVP_EC_gen("P-256");
	A.signer = key ? ct_signer_new(key) : NULL;
	EVP_PKEY_free(key);
	if (A.signer == NULL)
		return -1;
	spki = ct_signer_spki(A.signer, &spki_len);
	A.v = ct_verifier_new(spki, spki_len);
	A.root = pki_root("Alloc Root", 0);
	A.ca = pki_issue(A.root, "Alloc CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	if (A.v == NULL || A.root == NULL || A.ca == NULL)
		return -1;
	rs[0] = A.root;
	pem = pki_pem(rs, 1, &pem_len);
	if (pem == NULL || x509_roots_load_pem(&A.roots, &skipped, (const uint8_t *)pem, pem_len) != 0)
		return -1;
	free(pem);
	A.val = x509_validator_new(A.roots, NULL);
	if (A.val == NULL)
		return -1;
	qo.resign_ms = 3600 * 1000; /* no idle re-signing in the middle of a count */
	if (seq_start(&A.seq, A.st, A.signer, &qo) != 0)
		return -1;
	ac.store = A.st;
	ac.signer = A.signer;
	ac.tls = A.val;
	ac.tls_roots = A.roots;
	A.vrf = mnfix_vrf_key_new();
	if (A.vrf == NULL)
		return -1;
	ac.vrf = A.vrf;
	ac.seq = seq_api(A.seq);
	ac.mmd_s = 60;
	ac.max_entries = 16;
	A.api = api_new(&ac);
	return A.api != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	disarm();
	seq_stop(A.seq);
	api_free(A.api);
	x509_validator_free(A.val);
	x509_roots_free(A.roots);
	ct_verifier_free(A.v);
	ct_signer_free(A.signer);
	vrf_key_free(A.vrf);
	store_close(A.st);
	pki_free(A.ca);
	pki_free(A.root);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", A.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* a fresh certificate's add-chain body (made unarmed) */
static char *new_chain(struct pki_cert **out)
{
	int64_t now = pki_now();
	char name[64];
	const char *dns[1] = {name};
	const struct pki_cert *chain[2];

	snprintf(name, sizeof(name), "a%d.alloc.example", A.serial++);
	*out = pki_issue(A.ca, name, dns, 1, 0, now - 3600, now + 86400 * 90);
	assert_non_null(*out);
	chain[0] = *out;
	chain[1] = A.ca;
	return ctc_chain_json(chain, 2);
}

/* call runs one request with allocation |n| failing (0: none) and checks the
 * response. Returns the status; the body is checked and freed here. */
static int call(long n, enum api_method m, const char *path, const char *query,
		const char *body, const struct pki_cert *cert)
{
	struct api_request req = {0};
	struct api_response resp = {0};
	struct waiter w = {.orig = &resp};
	struct api_response *got = &resp;
	int rc, status;

	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cond, NULL);
	req.method = m;
	req.path = path;
	req.path_len = strlen(path);
	req.query = query;
	req.query_len = query ? strlen(query) : 0;
	req.body = (const uint8_t *)body;
	req.body_len = body ? strlen(body) : 0;
	arm(n);
	rc = api_handle(A.api, &req, &resp, on_done, &w);
	if (rc == API_ASYNC) {
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 30; /* a bound for a lost submission, not synchronisation */
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			if (pthread_cond_timedwait(&w.cond, &w.mu, &dl) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&w.mu);
		disarm();
		if (!w.done)
			fail_msg("%s with allocation %ld failing: done() never called", path, n);
		got = &w.resp;
	} else {
		disarm();
		assert_int_equal(rc, API_DONE);
	}
	status = got->status;
	if (status == -1) {
		status = 500; /* done(NULL): the transport answers 500 */
	} else if (status == 200) {
		A.ok++;
		if (cert != NULL) {
			struct ctc_sct ts;
			assert_int_equal(ctc_parse_sct(A.v, got->body, got->body_len, cert->der,
						       cert->der_len, &ts), 0);
			assert_true(A.num_answered < MAX_ANSWERED);
			assert_int_equal(ctc_x509_leaf_hash(cert->der, cert->der_len, &ts,
							    A.answered[A.num_answered]), 0);
			A.num_answered++;
		} else {
			json_error_t e;
			json_t *j = json_loadb((const char *)got->body, got->body_len, 0, &e);
			if (j == NULL)
				fail_msg("%s with allocation %ld failing: 200 without JSON", path, n);
			json_decref(j);
		}
	} else if (status >= 400 && status < 600 && got->body_len == 0) {
		/* the one allocation that failed was the error body's own: the
		 * status still goes out (api_response_error leaves it empty) */
		A.empty_bodies++;
		if (status < 500)
			A.errors_4xx++;
		else
			A.errors_5xx++;
	} else if (status >= 400 && status < 500 && atomic_load(&hit) &&
		   status != A.expect_4xx) {
		fail_msg("%s with allocation %ld failing: %d (a client error) for an "
			 "out-of-memory: %.*s", path, n, status, (int)got->body_len,
			 (const char *)got->body);
	} else if (status >= 400 && status < 600) {
		if (status < 500 && getenv("MN_ALLOC_VERBOSE") != NULL)
			fprintf(stderr, "alloc: %s n=%ld: %d %.*s\n", path, n, status,
				(int)got->body_len, (const char *)got->body);
		if (!ctc_json_error(got->body, got->body_len))
			fail_msg("%s with allocation %ld failing: %d without a JSON error: %.*s",
				 path, n, status, (int)got->body_len,
				 got->body ? (const char *)got->body : "");
		if (status < 500)
			A.errors_4xx++;
		else
			A.errors_5xx++;
	} else {
		fail_msg("%s with allocation %ld failing: status %d", path, n, status);
	}
	api_response_free(got);
	if (got != &resp)
		api_response_free(&resp);
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cond);
	return status;
}

/* torture runs one kind of request for N = 1, 2, ... until it completes
 * without reaching the failing allocation. */
static void torture(const char *what, enum api_method m, const char *path, const char *query,
		    int fresh_cert, int expect_4xx)
{
	long n;
	unsigned long s4 = A.errors_4xx, s5 = A.errors_5xx, ok = A.ok;

	A.expect_4xx = expect_4xx;
	for (n = 1; n < 100000; n++) {
		struct pki_cert *cert = NULL;
		char *body = fresh_cert ? new_chain(&cert) : NULL;

		call(n, m, path, query, body, cert);
		free(body);
		pki_free(cert);
		if (!atomic_load(&hit))
			break;
		A.points++;
	}
	A.expect_4xx = 0;
	fprintf(stderr, "alloc: %s: %ld allocation failure points, answered 200 %lu, 4xx %lu, "
		"5xx %lu\n", what, n - 1, A.ok - ok, A.errors_4xx - s4, A.errors_5xx - s5);
	assert_true(n > 1);
	assert_true(n < 100000);
}

static void test_add_chain(void **state)
{
	struct pki_cert *cert;
	char *body;

	(void)state;
	/* unarmed first: lazy initialisation in the libraries happens here */
	body = new_chain(&cert);
	assert_int_equal(call(0, API_POST, "/ct/v1/add-chain", NULL, body, cert), 200);
	memcpy(A.known_leaf, A.answered[0], 32);
	free(body);
	pki_free(cert);
	torture("add-chain", API_POST, "/ct/v1/add-chain", NULL, 1, 0);
}

static void test_reads(void **state)
{
	char query[256], enc[128], b64[64];
	size_t k = 0;

	(void)state;
	torture("get-sth", API_GET, "/ct/v1/get-sth", NULL, 0, 0);
	torture("get-entries", API_GET, "/ct/v1/get-entries", "start=0&end=9", 0, 0);
	mn_b64_encode(b64, A.known_leaf, 32);
	for (const char *p = b64; *p; p++) {
		if (*p == '+' || *p == '/' || *p == '=')
			k += (size_t)snprintf(enc + k, sizeof(enc) - k, "%%%02X", (unsigned char)*p);
		else
			enc[k++] = *p;
	}
	enc[k] = 0;
	snprintf(query, sizeof(query), "hash=%s&tree_size=%zu", enc, A.num_answered);
	assert_int_equal(call(0, API_GET, "/ct/v1/get-proof-by-hash", query, NULL, NULL), 200);
	torture("get-proof-by-hash", API_GET, "/ct/v1/get-proof-by-hash", query, 0, 0);
	snprintf(query, sizeof(query), "first=1&second=%zu", A.num_answered);
	torture("get-sth-consistency", API_GET, "/ct/v1/get-sth-consistency", query, 0, 0);
	torture("get-roots", API_GET, "/ct/v1/get-roots", NULL, 0, 0);
	/* an empty body: 400 unarmed, so a 400 under a failure is not the failure's */
	assert_int_equal(call(0, API_POST, "/ct/v1/add-chain", NULL, NULL, NULL), 400);
	torture("bad add-chain", API_POST, "/ct/v1/add-chain", NULL, 0, 400);
}

static void test_tree_intact(void **state)
{
	struct store_options so = {0};
	struct store_reader *r;
	struct store_sth sth;

	(void)state;
	/* stop the writer, reopen: the open-time check must pass */
	seq_stop(A.seq);
	A.seq = NULL;
	api_free(A.api);
	A.api = NULL;
	store_close(A.st);
	A.st = NULL;
	so.dir = A.dir;
	assert_int_equal(store_open(&A.st, &so), 0);
	assert_int_equal(store_read_begin(A.st, &r), 0);
	assert_int_equal(store_r_sth(r, &sth), 0);
	assert_true(sth.tree_size >= A.num_answered);
	for (size_t i = 0; i < A.num_answered; i++) {
		uint64_t index;
		assert_int_equal(store_r_index_by_hash(r, A.answered[i], &index), 0);
		assert_true(index < sth.tree_size);
	}
	store_read_end(r);
	fprintf(stderr, "alloc: %lu allocation failure points injected (%ld digest-context "
		"allocations exempt); %lu error statuses with an empty body; %zu SCTs answered, "
		"tree of %llu leaves reopened intact\n",
		A.points, atomic_load(&num_exempt), A.empty_bodies, A.num_answered,
		(unsigned long long)sth.tree_size);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_chain),
		cmocka_unit_test(test_reads),
		cmocka_unit_test(test_tree_intact),
	};

	/* before OpenSSL allocates anything */
	if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free))
		fprintf(stderr, "alloc: OpenSSL allocations cannot be hooked; ours only\n");
	json_set_alloc_funcs(json_malloc, free);
	return cmocka_run_group_tests(tests, setup, teardown);
}
