/* fuzz_api.c: api_handle (api/api.h) on fuzzer-chosen requests, against a real
 * LMDB store in a temporary directory (created once, removed at exit) holding
 * the three entries of api_fixture.h, a real ct_signer, a validator over the
 * fixed roots, and a fake sequencer.
 *
 * Input: u8 flags, then the request target ("path" or "path?query") up to the
 * first '\n' (or the end), then the body.
 *   flags bits 0-1: method (0 GET, 1 POST, 2 other, 3 GET)
 *   flags bits 2-3: the sequencer: 0 commits at once (done with a fixed, valid
 *                   SCT), 1 done with MN_ENOSPACE, 2 submit refuses with
 *                   MN_EBUSY, 3 done with MN_EIO
 * The fake sequencer calls done() before submit returns, which the api must
 * accept (a real sequencer thread may be that fast).
 *
 * Checks: done is called exactly once for API_ASYNC and never for API_DONE;
 * every response has a status in 200..599 and, except /metrics, a body that is
 * a JSON object (jansson), with string error_code and error_message fields when
 * the status is 400 or more; a 200 from add-chain carries an SCT object. */
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "api/api.h"
#include "common/err.h"
#include "common/log.h"
#include "common/vrf.h"
#include "entry/ct.h"
#include "entry/x509.h"
#include "fuzz/api_fixture.h"
#include "fuzz/fixed_pki.h"
#include "fuzz/fuzz.h"
#include "storage/storage.h"
#include "tests/lib/mnfix.h"

const char fuzz_target_name[] = "api";

static char dir[64];
static struct store *st;
static struct ct_signer *signer;
static struct vrf_key *vrf;
static struct x509_roots *roots;
static struct x509_validator *tls;
static struct api *api;
static uint8_t *fixed_sct;
static size_t fixed_sct_len;
static int seq_mode;
static int verbose; /* FUZZ_VERBOSE=1: print each status (seed checking) */

struct outcome {
	int calls;
	struct api_response resp;
};

static int seq_submit(void *impl, struct api_submission *sub)
{
	(void)impl;
	FUZZ_CHECK(sub != NULL && sub->done != NULL);
	FUZZ_CHECK(ct_entry_type_known(sub->entry.entry_type));
	FUZZ_CHECK(sub->entry.body_len > 0);
	switch (seq_mode) {
	case 0:
		sub->done(sub, 0, fixed_sct, fixed_sct_len, 7);
		return 0;
	case 1:
		sub->done(sub, MN_ENOSPACE, NULL, 0, 0);
		return 0;
	case 2:
		return MN_EBUSY;
	default:
		sub->done(sub, MN_EIO, NULL, 0, 0);
		return 0;
	}
}

static void on_done(void *ctx, struct api_response *resp)
{
	struct outcome *o = ctx;

	o->calls++;
	FUZZ_CHECK(o->calls == 1 && resp != NULL);
	o->resp = *resp; /* the transport owns it now */
	memset(resp, 0, sizeof(*resp));
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	api_free(api);
	x509_validator_free(tls);
	x509_roots_free(roots);
	ct_signer_free(signer);
	vrf_key_free(vrf);
	store_close(st);
	free(fixed_sct);
	if (dir[0] != '\0')
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* fill_store appends the fixture's entries with a signed tree head. */
static void fill_store(void)
{
	struct fixture_leaf fl[FIXTURE_NUM_LEAVES];
	struct store_leaf leaves[FIXTURE_NUM_LEAVES];
	uint8_t *scts[FIXTURE_NUM_LEAVES];
	struct merkle_hasher *h = merkle_hasher_new();
	struct merkle_range r;
	struct store_sth sth;
	struct ct_sig sig;
	struct cbb b;
	uint8_t *sig_der;
	size_t sig_len;

	FUZZ_CHECK(h != NULL);
	fixture_leaves(fl, tls, fuzz_stored_pem, FUZZ_PKI_NOW_MS);
	merkle_range_init(&r);
	for (size_t i = 0; i < FIXTURE_NUM_LEAVES; i++) {
		struct ct_sct sct;
		size_t len;
		FUZZ_CHECK(ct_sign_sct(signer, &sct, &fl[i].entry) == 0);
		FUZZ_CHECK(cbb_init(&b, 128, 1024) && ct_write_sct(&b, &sct) &&
			   cbb_finish(&b, &scts[i], &len));
		memset(&leaves[i], 0, sizeof(leaves[i]));
		leaves[i].leaf_input = fl[i].leaf_input;
		leaves[i].leaf_input_len = fl[i].leaf_input_len;
		leaves[i].extra = fl[i].res.extra;
		leaves[i].extra_len = fl[i].res.extra_len;
		leaves[i].sct = scts[i];
		leaves[i].sct_len = len;
		memcpy(leaves[i].leaf_hash, fl[i].leaf_hash, 32);
		memcpy(leaves[i].dedup_key, fl[i].res.dedup_key, 32);
		FUZZ_CHECK(merkle_range_append(&r, h, fl[i].leaf_hash, NULL, NULL) == 0);
		if (i == 0) {
			/* the SCT the fake sequencer hands out */
			fixed_sct = malloc(len);
			FUZZ_CHECK(fixed_sct != NULL);
			memcpy(fixed_sct, scts[i], len);
			fixed_sct_len = len;
		}
	}
	memset(&sth, 0, sizeof(sth));
	sth.tree_size = FIXTURE_NUM_LEAVES;
	sth.timestamp = FUZZ_PKI_NOW_MS + 10;
	merkle_range_root(&r, h, sth.root);
	FUZZ_CHECK(ct_sign_sth(signer, &sig, sth.timestamp, sth.tree_size, sth.root) == 0);
	FUZZ_CHECK(cbb_init(&b, 96, 1024) && ct_write_sig(&b, &sig) &&
		   cbb_finish(&b, &sig_der, &sig_len));
	FUZZ_CHECK(sig_len <= sizeof(sth.sig));
	memcpy(sth.sig, sig_der, sig_len);
	sth.sig_len = (uint16_t)sig_len;
	free(sig_der);
	FUZZ_CHECK(store_append_batch(st, leaves, FIXTURE_NUM_LEAVES, &sth) == 0);
	for (size_t i = 0; i < FIXTURE_NUM_LEAVES; i++)
		free(scts[i]);
	fixture_free(fl);
	merkle_hasher_free(h);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct store_options so = {0};
	struct api_config ac = {0};
	EVP_PKEY *key;
	size_t skipped = 0;

	(void)argc;
	(void)argv;
	mn_log_set_level(MN_LOG_ERROR);
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	snprintf(dir, sizeof(dir), "/tmp/mn-fuzz-api.XXXXXX");
	FUZZ_CHECK(mkdtemp(dir) != NULL);
	atexit(teardown);
	so.dir = dir;
	so.map_size = 16 << 20;
	so.no_sync = 1;
	FUZZ_CHECK(store_open(&st, &so) == 0);
	key = EVP_EC_gen("P-256");
	FUZZ_CHECK(key != NULL);
	signer = ct_signer_new(key);
	EVP_PKEY_free(key);
	FUZZ_CHECK(signer != NULL);
	FUZZ_CHECK(x509_roots_load_pem(&roots, &skipped, (const uint8_t *)fuzz_roots_pem,
				       strlen(fuzz_roots_pem)) == 0);
	tls = x509_validator_new(roots, NULL);
	FUZZ_CHECK(tls != NULL);
	fill_store();
	ac.store = st;
	ac.signer = signer;
	ac.tls = tls;
	ac.tls_roots = roots;
	vrf = mnfix_vrf_key_new();
	FUZZ_CHECK(vrf != NULL);
	ac.vrf = vrf;
	ac.seq.submit = seq_submit;
	ac.seq.impl = NULL;
	ac.mmd_s = 60;
	ac.max_entries = 2; /* so that get-entries truncates */
	api = api_new(&ac);
	FUZZ_CHECK(api != NULL);
	return 0;
}

static void check_response(const struct api_response *resp, const char *path,
			   size_t path_len, int submission)
{
	json_error_t jerr;
	json_t *j;

	if (verbose)
		fprintf(stderr, "status %d: %.*s\n", resp->status,
			(int)(resp->body_len < 200 ? resp->body_len : 200),
			resp->body != NULL ? (const char *)resp->body : "");
	FUZZ_CHECK(resp->status >= 200 && resp->status <= 599);
	if (path_len == 8 && memcmp(path, "/metrics", 8) == 0 && resp->status == 200) {
		/* Prometheus text, not JSON */
		FUZZ_CHECK(resp->content_type != NULL);
		return;
	}
	FUZZ_CHECK(resp->content_type == NULL);
	FUZZ_CHECK(resp->body != NULL);
	j = json_loadb((const char *)resp->body, resp->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		fprintf(stderr, "not JSON (%s): %.*s\n", jerr.text, (int)resp->body_len,
			(const char *)resp->body);
		abort();
	}
	FUZZ_CHECK(json_is_object(j));
	if (resp->status >= 400) {
		FUZZ_CHECK(json_is_string(json_object_get(j, "error_code")));
		FUZZ_CHECK(json_is_string(json_object_get(j, "error_message")));
	} else if (submission) {
		FUZZ_CHECK(json_is_integer(json_object_get(j, "sct_version")));
		FUZZ_CHECK(json_is_string(json_object_get(j, "id")));
		FUZZ_CHECK(json_is_string(json_object_get(j, "signature")));
	}
	json_decref(j);
}

static int path_is(const struct api_request *req, const char *path)
{
	return req->path_len == strlen(path) && memcmp(req->path, path, req->path_len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum api_method methods[4] = {API_GET, API_POST, API_OTHER, API_GET};
	struct api_request req;
	struct outcome o;
	struct api_response resp;
	const uint8_t *nl, *q;
	size_t target_len;
	int ret, submission;

	if (size < 1)
		return 0;
	memset(&req, 0, sizeof(req));
	memset(&o, 0, sizeof(o));
	req.method = methods[data[0] & 3];
	seq_mode = (data[0] >> 2) & 3;
	data++;
	size--;
	nl = memchr(data, '\n', size);
	target_len = nl != NULL ? (size_t)(nl - data) : size;
	q = memchr(data, '?', target_len);
	req.path = (const char *)data;
	req.path_len = q != NULL ? (size_t)(q - data) : target_len;
	if (q != NULL) {
		req.query = (const char *)q + 1;
		req.query_len = target_len - req.path_len - 1;
	}
	if (nl != NULL) {
		req.body = nl + 1;
		req.body_len = size - target_len - 1;
	}
	submission = req.method == API_POST &&
		     (path_is(&req, "/ct/v1/add-chain") || path_is(&req, "/ct/v1/add-pre-chain"));

	ret = api_handle(api, &req, &resp, on_done, &o);
	if (ret == API_ASYNC) {
		FUZZ_CHECK(submission);
		FUZZ_CHECK(o.calls == 1); /* the fake sequencer answers at once */
		check_response(&o.resp, req.path, req.path_len, 1);
		api_response_free(&o.resp);
		/* |resp| is not used for an API_ASYNC answer */
	} else {
		FUZZ_CHECK(ret == API_DONE && o.calls == 0);
		check_response(&resp, req.path, req.path_len, submission);
		api_response_free(&resp);
	}
	return 0;
}
