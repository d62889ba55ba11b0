/* mn.c: the metanotary submission endpoints (DESIGN.md sections 1, 6, 7):
 * POST /mn/v1/add-pgp, POST /mn/v1/add-policy, GET /mn/v1/get-certifiers.
 * Like add-chain, an answer (an SCT) is only given after the durable commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/internal.h"
#include "common/b64.h"
#include "common/clock.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/pgp.h"
#include "entry/policy.h"
#include "entry/x509.h"

#define MAX_PGP_CERT (1u << 20)
#define MAX_USER_ID 1024
#define MAX_SIGNER_HEX 64

/* strict_object parses |req|'s body as a JSON object whose fields are exactly
 * |names| (all required), each a string. Returns the object or NULL with *why
 * and *err: MN_ENOMEM if jansson ran out of memory, else MN_EMALFORMED. */
static json_t *strict_object(const struct api_request *req, const char *const *names,
			     size_t num, const char **why, int *err)
{
	json_t *root = api__json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, err);
	const char *key;
	json_t *v;

	if (root == NULL) {
		*why = *err == MN_ENOMEM ? "out of memory"
					 : "body is not valid JSON (or repeats a field)";
		return NULL;
	}
	*err = MN_EMALFORMED;
	if (!json_is_object(root)) {
		*why = "body is not a JSON object";
		goto bad;
	}
	for (size_t i = 0; i < num; i++) {
		v = json_object_get(root, names[i]);
		if (v == NULL) {
			*why = "a required field is missing";
			goto bad;
		}
		if (!json_is_string(v)) {
			*why = "a field is not a string";
			goto bad;
		}
	}
	json_object_foreach(root, key, v) {
		size_t i;
		for (i = 0; i < num && strcmp(key, names[i]) != 0; i++)
			;
		if (i == num) {
			*why = "unknown field in body";
			goto bad;
		}
	}
	return root;
bad:
	json_decref(root);
	return NULL;
}

/* dedup_answer: if |key| is already in the log, fill |resp| with its SCT. */
static int dedup_answer(struct api *api, const uint8_t key[32], struct api_response *resp)
{
	struct store_reader *rd;
	struct store_entry e;
	uint64_t idx;
	int found = 0;

	if (store_read_begin(api__config(api)->store, &rd) != 0)
		return 0;
	if (store_r_dedup(rd, key, &idx) == 0 && store_r_entry(rd, idx, &e) == 0) {
		api__entry_sct_response(api, resp, &e);
		found = 1;
	}
	store_read_end(rd);
	return found;
}

static void submit_failed(struct api_response *resp, int ret)
{
	if (ret == MN_EINVAL) /* the sequencer's, never the client's (ct.c) */
		ret = MN_EINTERNAL;
	api__err_response(resp, ret, ret == MN_EBUSY ? "sequencer queue is full, retry later"
				 : ret == MN_ESHUTDOWN ? "log is shutting down" : NULL);
}

/* --- add-pgp ---------------------------------------------------------------- */

struct pgp_pend {
	struct api_submission sub;
	struct api *api;
	uint64_t t0;
	api_done_fn done;
	void *done_ctx;
	struct pgp_result res;
	struct api_keys keys;
};

static void pgp_pend_free(struct pgp_pend *p)
{
	pgp_result_cleanup(&p->res);
	api__keys_cleanup(&p->keys);
	free(p);
}

static void pgp_committed(struct api_submission *sub, int status, const uint8_t *sct,
			  size_t sct_len, uint64_t index)
{
	struct pgp_pend *p = sub->ctx;
	struct api_response resp;

	(void)index;
	memset(&resp, 0, sizeof(resp));
	if (status == MN_EINVAL) /* the sequencer's, never the client's (ct.c) */
		status = MN_EINTERNAL;
	if (status != 0)
		api__err_response(&resp, status, NULL);
	else
		api__sct_response(&resp, sct, sct_len);
	api__count(p->api, EP_MN_ADD_PGP, resp.status, mn_mono_ns() - p->t0);
	p->done(p->done_ctx, &resp);
	pgp_pend_free(p);
}

int api__add_pgp(struct api *api, const struct api_request *req,
		 struct api_response *resp, api_done_fn done, void *done_ctx)
{
	static const char *const fields[] = {"cert", "user_id", "signer"};
	const struct api_config *cfg = api__config(api);
	const char *why = NULL, *uid, *signer;
	size_t uid_len, signer_len, cert_len = 0;
	uint8_t *cert = NULL;
	struct pgp_pend *p = NULL;
	json_t *root;
	int ret;

	unsigned slot;
	const struct api_trust *t;
	int has_certifiers;

	if (!api__admit(api, API_CLASS_PGP, resp))
		return API_DONE;
	t = api__trust_get(api, &slot);
	has_certifiers = t->certifiers != NULL;
	api__trust_put(api, slot);
	if (!has_certifiers || cfg->vrf == NULL) {
		api_response_error(resp, 400, "notAccepted",
				   !has_certifiers
					   ? "this log accepts no OpenPGP endorsements (no certifiers configured)"
					   : "this log accepts no OpenPGP endorsements (no VRF key configured)");
		return API_DONE;
	}
	root = strict_object(req, fields, 3, &why, &ret);
	if (root == NULL) {
		api__err_response(resp, ret, why);
		return API_DONE;
	}
	uid = json_string_value(json_object_get(root, "user_id"));
	uid_len = json_string_length(json_object_get(root, "user_id"));
	signer = json_string_value(json_object_get(root, "signer"));
	signer_len = json_string_length(json_object_get(root, "signer"));
	if (uid_len == 0 || uid_len > MAX_USER_ID) {
		api_response_error(resp, 400, "malformed", "user_id is empty or too long");
		goto out;
	}
	if (signer_len == 0 || signer_len > MAX_SIGNER_HEX) {
		api_response_error(resp, 400, "malformed", "signer is not a fingerprint");
		goto out;
	}
	ret = mn_b64_decode(&cert, &cert_len, json_string_value(json_object_get(root, "cert")),
			    json_string_length(json_object_get(root, "cert")), MAX_PGP_CERT);
	if (ret == MN_ENOMEM) {
		api__err_response(resp, ret, NULL);
		goto out;
	}
	if (ret != 0 || cert_len == 0) {
		api_response_error(resp, ret == MN_ETOOBIG ? 413 : 400,
				   ret == MN_ETOOBIG ? "tooLarge" : "malformed",
				   ret == MN_ETOOBIG ? "cert is too large" : "cert is not valid base64");
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		api_response_error(resp, 500, "internal", "out of memory");
		goto out;
	}
	api__keys_init(&p->keys);
	/* The address key is the VRF output of the address (entry/pgp.h); the
	 * key is read-only, so the cast only fits the callback's type. */
	/* the set this request started with, even if a reload swaps it; a
	 * reload that removed every certifier refuses like no certifiers */
	t = api__trust_get(api, &slot);
	if (t->certifiers == NULL) {
		api__trust_put(api, slot);
		api_response_error(resp, 400, "notAccepted", "this log accepts no OpenPGP "
				   "endorsements (no certifiers configured)");
		goto out;
	}
	ret = pgp_endorsement_check(t->certifiers, pgp_addr_key_vrf, (void *)cfg->vrf, &p->res,
				    &why, cert, cert_len, (const uint8_t *)uid, uid_len, signer,
				    signer_len, mn_now_ms() / 1000);
	api__trust_put(api, slot);
	if (ret != 0) {
		api__err_response(resp, ret, why);
		goto out;
	}
	if (dedup_answer(api, p->res.dedup_key, resp))
		goto out;

	/* Index: the user ID's domain and address (the normalized address the
	 * check found and VRF-hashed), and both fingerprints. */
	if (api__keys_pgp(&p->keys, (const uint8_t *)p->res.domain, strlen(p->res.domain),
			  p->res.address, p->res.address_len, p->res.endorsed_fpr,
			  p->res.endorsed_fpr_len, p->res.certifier_fpr,
			  p->res.certifier_fpr_len) != 0) {
		api_response_error(resp, 500, "internal", "out of memory");
		goto out;
	}
	p->api = api;
	p->t0 = mn_mono_ns();
	p->done = done;
	p->done_ctx = done_ctx;
	p->sub.entry.entry_type = MN_PGP_ENDORSEMENT_ENTRY;
	p->sub.entry.body = p->res.body;
	p->sub.entry.body_len = p->res.body_len;
	memcpy(p->sub.dedup_key, p->res.dedup_key, 32);
	p->sub.opening = p->res.opening;
	p->sub.opening_len = p->res.opening_len;
	p->sub.keys = p->keys.arr;
	p->sub.num_keys = p->keys.num;
	p->sub.done = pgp_committed;
	p->sub.ctx = p;
	ret = cfg->seq.submit(cfg->seq.impl, &p->sub);
	if (ret != 0) {
		submit_failed(resp, ret);
		goto out;
	}
	json_decref(root);
	free(cert);
	return API_ASYNC;
out:
	if (p != NULL)
		pgp_pend_free(p);
	json_decref(root);
	free(cert);
	return API_DONE;
}

void api__get_certifiers(struct api *api, struct api_response *resp)
{
	unsigned slot;
	const struct pgp_certifiers *c = api__trust_get(api, &slot)->certifiers;
	size_t n = c != NULL ? pgp_certifiers_count(c) : 0;
	struct cbb b;
	int ok;

	ok = cbb_init(&b, 4096, API_MAX_RESPONSE) && api__jraw(&b, "{\"certifiers\":[");
	for (size_t i = 0; ok && i < n; i++) {
		size_t klen, ns = pgp_certifiers_num_scopes(c, i);
		const uint8_t *key = pgp_certifiers_key(c, i, &klen);
		const char *fpr = pgp_certifiers_fpr_hex(c, i);
		uint64_t exp = pgp_certifiers_expires(c, i);

		ok = (i == 0 || api__jraw(&b, ",")) && api__jraw(&b, "{\"fingerprint\":") &&
		     api__jstr(&b, fpr, strlen(fpr)) && api__jraw(&b, ",\"key\":") &&
		     api__jb64(&b, key, klen) && api__jraw(&b, ",\"scope\":[");
		for (size_t j = 0; ok && j < ns; j++) {
			const char *sc = pgp_certifiers_scope(c, i, j);
			ok = (j == 0 || api__jraw(&b, ",")) && api__jstr(&b, sc, strlen(sc));
		}
		ok = ok && api__jraw(&b, "],\"expires\":") &&
		     (exp ? api__ju64(&b, exp) : api__jraw(&b, "null")) && api__jraw(&b, "}");
	}
	api__trust_put(api, slot);
	if (!ok || !api__jraw(&b, "]}")) {
		cbb_cleanup(&b);
		api_response_error(resp, 500, "internal", "out of memory");
		return;
	}
	api__finish_json(resp, 200, &b);
}

/* --- add-policy ------------------------------------------------------------- */

/* A policy names its signer by leaf index, so a signer chain that is new (x5c)
 * is logged first, then the policy; the answer carries both SCTs. */
struct pol_pend {
	struct api_submission chain_sub, pol_sub;
	struct api *api;
	uint64_t t0;
	api_done_fn done;
	void *done_ctx;
	struct policy_result res;
	struct api_keys chain_keys, pol_keys;
	uint8_t *body;
	size_t body_len;
	uint64_t signer_index;
	int chain_new;
	uint8_t chain_sct[512];
	size_t chain_sct_len;
};

static void pol_pend_free(struct pol_pend *p)
{
	policy_result_cleanup(&p->res);
	api__keys_cleanup(&p->chain_keys);
	api__keys_cleanup(&p->pol_keys);
	free(p->body);
	free(p);
}

static void pol_finish(struct pol_pend *p, struct api_response *resp)
{
	api__count(p->api, EP_MN_ADD_POLICY, resp->status, mn_mono_ns() - p->t0);
	p->done(p->done_ctx, resp);
	pol_pend_free(p);
}

#define STALE_SERIAL_MSG \
	"serial is not higher than the current policy's for this subject and protocol"

static void pol_error(struct pol_pend *p, int status)
{
	struct api_response resp;

	memset(&resp, 0, sizeof(resp));
	if (status == MN_ERANGE)
		api_response_error(&resp, 400, "staleSerial", STALE_SERIAL_MSG);
	else /* MN_EINVAL: the sequencer's, never the client's (ct.c) */
		api__err_response(&resp, status == MN_EINVAL ? MN_EINTERNAL : status, NULL);
	pol_finish(p, &resp);
}

static void pol_committed(struct api_submission *sub, int status, const uint8_t *sct,
			  size_t sct_len, uint64_t index)
{
	struct pol_pend *p = sub->ctx;
	struct api_response resp;
	struct cbb b;
	int ok;

	if (status != 0) {
		pol_error(p, status);
		return;
	}
	memset(&resp, 0, sizeof(resp));
	/* {"sct": {...}, "leaf_index": N, "signer_leaf_index": M[, "signer_sct": {...}]} */
	ok = cbb_init(&b, 1024, 16384) && api__jraw(&b, "{\"sct\":") &&
	     api__sct_json(&b, sct, sct_len) && api__jraw(&b, ",\"leaf_index\":") &&
	     api__ju64(&b, index) && api__jraw(&b, ",\"signer_leaf_index\":") &&
	     api__ju64(&b, p->signer_index);
	if (ok && p->chain_new)
		ok = api__jraw(&b, ",\"signer_sct\":") &&
		     api__sct_json(&b, p->chain_sct, p->chain_sct_len);
	if (!ok || !api__jraw(&b, "}")) {
		cbb_cleanup(&b);
		api_response_error(&resp, 500, "internal", "out of memory");
	} else {
		api__finish_json(&resp, 200, &b);
	}
	pol_finish(p, &resp);
}

/* pol_submit encodes the policy leaf with the signer's index and queues it.
 * Returns 0 or an MN_E* (then nothing was queued). */
static int pol_submit(struct pol_pend *p)
{
	const struct api_config *cfg = api__config(p->api);
	int ret;

	ret = policy_encode_body(&p->res, p->signer_index, &p->body, &p->body_len);
	if (ret != 0)
		return ret;
	p->pol_sub.entry.entry_type = MN_SIGNED_POLICY_ENTRY;
	p->pol_sub.entry.body = p->body;
	p->pol_sub.entry.body_len = p->body_len;
	memcpy(p->pol_sub.dedup_key, p->res.dedup_key, 32);
	p->pol_sub.keys = p->pol_keys.arr;
	p->pol_sub.num_keys = p->pol_keys.num;
	p->pol_sub.policy_key = p->res.subject_key;
	p->pol_sub.policy_key_len = p->res.subject_key_len;
	p->pol_sub.policy_serial = p->res.serial;
	p->pol_sub.done = pol_committed;
	p->pol_sub.ctx = p;
	return cfg->seq.submit(cfg->seq.impl, &p->pol_sub);
}

static void chain_committed(struct api_submission *sub, int status, const uint8_t *sct,
			    size_t sct_len, uint64_t index)
{
	struct pol_pend *p = sub->ctx;
	int ret;

	if (status != 0) {
		pol_error(p, status);
		return;
	}
	if (sct_len <= sizeof(p->chain_sct)) {
		memcpy(p->chain_sct, sct, sct_len);
		p->chain_sct_len = sct_len;
	}
	p->signer_index = index;
	/* On the sequencer thread: the policy joins the next batch. */
	ret = pol_submit(p);
	if (ret != 0)
		pol_error(p, ret);
}

/* policy_dedup_answer: if the statement |key| is already in the log, answer
 * as its first submission was answered, {"sct", "leaf_index",
 * "signer_leaf_index"} (without "signer_sct": this request logged no signer). */
static int policy_dedup_answer(struct api *api, const uint8_t key[32],
			       struct api_response *resp)
{
	struct store_reader *rd;
	struct store_entry e;
	struct ct_entry ent;
	struct policy_body pb;
	struct cbb b;
	uint8_t sct_buf[API__SCT_MAX];
	const uint8_t *sct;
	size_t sct_len;
	uint64_t idx;
	int found = 0;

	if (store_read_begin(api__config(api)->store, &rd) != 0)
		return 0;
	if (store_r_dedup(rd, key, &idx) != 0 || store_r_entry(rd, idx, &e) != 0)
		goto out;
	found = 1;
	if (!ct_parse_leaf(&ent, e.leaf_input, e.leaf_input_len) ||
	    ent.entry_type != MN_SIGNED_POLICY_ENTRY ||
	    !policy_parse_body(&pb, ent.body, ent.body_len)) {
		api_response_error(resp, 500, "internal", "stored policy leaf is malformed");
		goto out;
	}
	sct = api__entry_sct(api, &e, sct_buf, &sct_len);
	if (sct == NULL) {
		api_response_error(resp, 500, "internal", "cannot sign the SCT");
		goto out;
	}
	if (!cbb_init(&b, 1024, 16384) || !api__jraw(&b, "{\"sct\":") ||
	    !api__sct_json(&b, sct, sct_len) || !api__jraw(&b, ",\"leaf_index\":") ||
	    !api__ju64(&b, idx) || !api__jraw(&b, ",\"signer_leaf_index\":") ||
	    !api__ju64(&b, pb.signer_index) || !api__jraw(&b, "}")) {
		cbb_cleanup(&b);
		api_response_error(resp, 500, "internal", "out of memory");
		goto out;
	}
	api__finish_json(resp, 200, &b);
out:
	store_read_end(rd);
	return found;
}

/* find_cert for x5t#S256: a logged x509_entry with this thumbprint. */
struct find_ctx {
	struct api *api;
	uint64_t index;
	int found;
};

static int first_index(void *ctx, const uint8_t *key, size_t key_len, uint64_t index)
{
	struct find_ctx *f = ctx;
	(void)key;
	(void)key_len;
	f->index = index;
	f->found = 1;
	return 1;
}

static int find_cert(void *ctx, const uint8_t hash[32], uint8_t **out_der, size_t *out_len)
{
	struct find_ctx *f = ctx;
	struct store_reader *rd;
	struct store_entry e;
	struct ct_entry ent;
	int ret;

	if (store_read_begin(api__config(f->api)->store, &rd) != 0)
		return MN_EIO;
	ret = store_r_index_scan(rd, STORE_IDX_CERT, hash, 32, 0, NULL, 0, 0, first_index, f);
	if (ret == 0 && !f->found)
		ret = MN_ENOTFOUND;
	if (ret == 0)
		ret = store_r_entry(rd, f->index, &e);
	if (ret == 0 && (!ct_parse_leaf(&ent, e.leaf_input, e.leaf_input_len) ||
			 ent.entry_type != CT_X509_ENTRY))
		ret = MN_ECORRUPT;
	if (ret == 0) {
		*out_der = malloc(ent.body_len);
		if (*out_der == NULL)
			ret = MN_ENOMEM;
		else {
			memcpy(*out_der, ent.body, ent.body_len);
			*out_len = ent.body_len;
		}
	}
	store_read_end(rd);
	return ret;
}

int api__add_policy(struct api *api, const struct api_request *req,
		    struct api_response *resp, api_done_fn done, void *done_ctx)
{
	static const char *const fields[] = {"jws"};
	const struct api_config *cfg = api__config(api);
	struct policy_verifier v;
	struct find_ctx fctx = {api, 0, 0};
	struct pol_pend *p = NULL;
	const char *why = NULL;
	json_t *root;
	int ret;

	if (!api__admit(api, API_CLASS_POLICY, resp))
		return API_DONE;
	root = strict_object(req, fields, 1, &why, &ret);
	if (root == NULL) {
		api__err_response(resp, ret, why);
		return API_DONE;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		api_response_error(resp, 500, "internal", "out of memory");
		goto out;
	}
	api__keys_init(&p->chain_keys);
	api__keys_init(&p->pol_keys);
	{
		unsigned slot;
		v.x509 = api__trust_get(api, &slot)->tls;
		v.find_cert = find_cert;
		v.find_cert_ctx = &fctx;
		ret = policy_check(&v, &p->res, &why, json_string_value(json_object_get(root, "jws")),
				   json_string_length(json_object_get(root, "jws")), mn_now_ms());
		api__trust_put(api, slot);
	}
	if (ret != 0) {
		api__err_response(resp, ret, why);
		goto out;
	}
	if (policy_dedup_answer(api, p->res.dedup_key, resp))
		goto out;
	/* A stale serial is refused before anything is queued, so that a refused
	 * statement does not get its new signer logged. The sequencer still
	 * checks it atomically with the commit. */
	{
		struct store_reader *rd;
		uint64_t head_serial, head_idx;
		int stale = 0;

		if (store_read_begin(cfg->store, &rd) == 0) {
			stale = store_r_policy_head(rd, p->res.subject_key,
						    p->res.subject_key_len, &head_serial,
						    &head_idx) == 0 &&
				head_serial >= p->res.serial;
			store_read_end(rd);
		}
		if (stale) {
			api_response_error(resp, 400, "staleSerial", STALE_SERIAL_MSG);
			goto out;
		}
	}
	/* The policy's own keys: its subject (class 'y') and subject|protocol. */
	ret = api__keys_policy(&p->pol_keys, &p->res);
	if (ret != 0) {
		api__err_response(resp, ret == MN_ENOMEM ? ret : MN_EMALFORMED,
				  "policy subject cannot be indexed");
		goto out;
	}
	p->api = api;
	p->t0 = mn_mono_ns();
	p->done = done;
	p->done_ctx = done_ctx;

	if (p->res.signer_chain_present) {
		struct store_reader *rd;
		uint64_t idx;
		int logged = 0;

		if (store_read_begin(cfg->store, &rd) == 0) {
			logged = store_r_dedup(rd, p->res.signer_chain.dedup_key, &idx) == 0;
			store_read_end(rd);
		}
		if (logged) {
			p->signer_index = idx;
		} else {
			struct x509_result *c = &p->res.signer_chain;
			api__keys_cleanup(&p->chain_keys);
			ret = api__keys_x509(&p->chain_keys, c);
			if (ret != 0) {
				api__err_response(resp, ret, "signer names cannot be indexed");
				goto out;
			}
			p->chain_new = 1;
			p->chain_sub.entry.entry_type = c->entry_type;
			p->chain_sub.entry.body = c->body;
			p->chain_sub.entry.body_len = c->body_len;
			p->chain_sub.extra = c->extra;
			p->chain_sub.extra_len = c->extra_len;
			memcpy(p->chain_sub.dedup_key, c->dedup_key, 32);
			p->chain_sub.keys = p->chain_keys.arr;
			p->chain_sub.num_keys = p->chain_keys.num;
			p->chain_sub.done = chain_committed;
			p->chain_sub.ctx = p;
			ret = cfg->seq.submit(cfg->seq.impl, &p->chain_sub);
			if (ret != 0) {
				submit_failed(resp, ret);
				goto out;
			}
			json_decref(root);
			return API_ASYNC;
		}
	} else {
		p->signer_index = fctx.index;
	}
	ret = pol_submit(p);
	if (ret != 0) {
		submit_failed(resp, ret);
		goto out;
	}
	json_decref(root);
	return API_ASYNC;
out:
	if (p != NULL)
		pol_pend_free(p);
	json_decref(root);
	return API_DONE;
}
