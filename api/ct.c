/* ct.c: the RFC 6962 section 4 endpoints. Field names, encodings and error
 * bodies follow the RFC to the byte, since unmodified CT clients use them. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/internal.h"
#include "common/b64.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/vrf.h"
#include "entry/x509.h"
#include "merkle/merkle.h"
#include "storage/storage.h"

void api__err_response(struct api_response *resp, int err, const char *msg)
{
	const char *code;
	int status = api__status_for_err(err, &code);

	api_response_error(resp, status, code, msg != NULL ? msg : mn_strerror(err));
	if (err == MN_EBUSY)
		resp->retry_after = 1;
	else if (status == 503)
		resp->retry_after = 5;
}

/* open a snapshot or answer 503 */
static struct store_reader *reader(struct api *api, struct api_response *resp)
{
	struct store_reader *rd = NULL;
	int ret = store_read_begin(api__config(api)->store, &rd);

	if (ret != 0) {
		api__err_response(resp, ret == MN_EBUSY ? MN_EBUSY : MN_EIO,
			     "storage is not readable now");
		return NULL;
	}
	return rd;
}

/* get_u64_param: 1 with the value, or 0 after filling a 400 response. */
static int get_u64_param(const struct api_params *q, const char *name, uint64_t *out,
			 struct api_response *resp)
{
	size_t len;
	const char *v = api__param(q, name, &len);
	char msg[96];

	if (v == NULL) {
		snprintf(msg, sizeof(msg), "missing parameter %s", name);
		api_response_error(resp, 400, "malformed", msg);
		return 0;
	}
	if (!api__param_u64(v, len, out)) {
		snprintf(msg, sizeof(msg), "parameter %s is not a non-negative integer", name);
		api_response_error(resp, 400, "malformed", msg);
		return 0;
	}
	return 1;
}

/* The SCT as JSON (section 4.1): sct_version, id, timestamp, extensions,
 * signature (the base64 DigitallySigned struct). */
int api__sct_json(struct cbb *b, const uint8_t *sct_bytes, size_t len)
{
	struct ct_sct sct;
	struct cbb sig;
	uint8_t *sig_der = NULL;
	size_t sig_len;
	int ok;

	if (!ct_parse_sct(&sct, sct_bytes, len))
		return 0;
	if (!cbb_init(&sig, 96, 1024) || !ct_write_sig(&sig, &sct.sig) ||
	    !cbb_finish(&sig, &sig_der, &sig_len)) {
		cbb_cleanup(&sig);
		return 0;
	}
	ok = api__jraw(b, "{\"sct_version\":") && api__ju64(b, sct.version) &&
	     api__jraw(b, ",\"id\":") && api__jb64(b, sct.log_id, sizeof(sct.log_id)) &&
	     api__jraw(b, ",\"timestamp\":") && api__ju64(b, sct.timestamp) &&
	     api__jraw(b, ",\"extensions\":") &&
	     api__jb64(b, sct.extensions, sct.extensions_len) &&
	     api__jraw(b, ",\"signature\":") && api__jb64(b, sig_der, sig_len) &&
	     api__jraw(b, "}");
	free(sig_der);
	return ok;
}

void api__sct_response(struct api_response *resp, const uint8_t *sct_bytes, size_t len)
{
	struct cbb b;

	if (!cbb_init(&b, 256, 4096) || !api__sct_json(&b, sct_bytes, len)) {
		cbb_cleanup(&b);
		api_response_error(resp, 500, "internal", "stored SCT is malformed");
		return;
	}
	api__finish_json(resp, 200, &b);
}

const uint8_t *api__entry_sct(struct api *api, const struct store_entry *e,
			      uint8_t buf[API__SCT_MAX], size_t *out_len)
{
	const struct ct_signer *signer = api__config(api)->signer;
	struct ct_sct sct;
	struct cbb b;
	uint8_t *der = NULL;
	size_t len = 0;
	int ret;

	*out_len = 0;
	if (e->sct_len > 0) {
		*out_len = e->sct_len;
		return e->sct;
	}
	if (signer == NULL)
		return NULL;
	ret = ct_sign_leaf_sct(signer, &sct, e->leaf_input, e->leaf_input_len);
	if (ret == 0 && (!cbb_init(&b, 160, API__SCT_MAX) || !ct_write_sct(&b, &sct) ||
			 !cbb_finish(&b, &der, &len))) {
		cbb_cleanup(&b);
		ret = MN_ENOMEM;
	}
	if (ret != 0) {
		mn_error("sct_sign", "what=\"a stored entry's SCT\" err=%s", mn_err_name(ret));
		return NULL;
	}
	memcpy(buf, der, len);
	free(der);
	*out_len = len;
	return buf;
}

void api__entry_sct_response(struct api *api, struct api_response *resp,
			     const struct store_entry *e)
{
	uint8_t buf[API__SCT_MAX];
	size_t len;
	const uint8_t *sct = api__entry_sct(api, e, buf, &len);

	if (sct == NULL)
		api_response_error(resp, 500, "internal", "cannot sign the SCT");
	else
		api__sct_response(resp, sct, len);
}

struct pending {
	struct api_submission sub; /* first: the sequencer hands this back */
	struct api *api;
	int precert;
	uint64_t t0;
	api_done_fn done;
	void *done_ctx;
	struct x509_result res;
	struct api_keys keys;
};

static void on_committed(struct api_submission *sub, int status, const uint8_t *sct,
			 size_t sct_len, uint64_t index)
{
	struct pending *p = (struct pending *)sub;
	struct api_response resp;

	(void)index;
	memset(&resp, 0, sizeof(resp));
	/* The submission was validated here: the sequencer's MN_EINVAL (it
	 * answers that when it cannot build the leaf, out of memory) is ours. */
	if (status == MN_EINVAL)
		status = MN_EINTERNAL;
	if (status != 0)
		api__err_response(&resp, status, NULL);
	else
		api__sct_response(&resp, sct, sct_len);
	api__count(p->api, p->precert ? EP_ADD_PRE_CHAIN : EP_ADD_CHAIN, resp.status,
		   mn_mono_ns() - p->t0);
	p->done(p->done_ctx, &resp);
	x509_result_cleanup(&p->res);
	api__keys_cleanup(&p->keys);
	free(p);
}

/* parse {"chain": ["base64 DER", ...]} into decoded certificates. */
static int parse_chain(struct api *api, const struct api_request *req, uint8_t **certs,
		       size_t *lens, size_t *num, const char **why)
{
	const struct api_config *cfg = api__config(api);
	json_t *root, *chain;
	size_t i;
	int ret = MN_EMALFORMED;

	*num = 0;
	root = api__json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &ret);
	if (root == NULL) {
		*why = ret == MN_ENOMEM ? "out of memory" : "body is not valid JSON";
		return ret;
	}
	ret = MN_EMALFORMED; /* from here on, any failure is the body's */
	if (!json_is_object(root)) {
		*why = "body is not a JSON object";
		goto out;
	}
	chain = json_object_get(root, "chain");
	if (chain == NULL) {
		*why = "missing field chain";
		goto out;
	}
	if (!json_is_array(chain)) {
		*why = "chain is not an array";
		goto out;
	}
	if (json_array_size(chain) == 0) {
		*why = "chain is empty";
		goto out;
	}
	if (json_array_size(chain) > cfg->max_chain) {
		*why = "chain has too many certificates";
		goto out;
	}
	for (i = 0; i < json_array_size(chain); i++) {
		json_t *s = json_array_get(chain, i);
		int r;
		if (!json_is_string(s)) {
			*why = "chain element is not a string";
			goto out;
		}
		r = mn_b64_decode(&certs[i], &lens[i], json_string_value(s),
				  json_string_length(s), cfg->max_cert_bytes);
		if (r == MN_EMALFORMED) {
			/* jansson can lose string bytes when an allocation fails
			 * mid-parse without reporting it; a second parse tells a
			 * bad element from that (as api__json_loadb does). */
			json_error_t e2;
			json_t *again = json_loadb((const char *)req->body, req->body_len,
						   JSON_REJECT_DUPLICATES, &e2);
			json_t *s2 = json_array_get(json_object_get(again, "chain"), i);
			if (again == NULL || !json_is_string(s2))
				r = MN_ENOMEM;
			else
				r = mn_b64_decode(&certs[i], &lens[i], json_string_value(s2),
						  json_string_length(s2), cfg->max_cert_bytes) == 0
					    ? MN_ENOMEM : MN_EMALFORMED;
			if (r == MN_ENOMEM && certs[i] != NULL) {
				free(certs[i]);
				certs[i] = NULL;
			}
			json_decref(again);
		}
		if (r != 0) {
			*why = r == MN_ETOOBIG ? "certificate too large"
			       : r == MN_ENOMEM ? "out of memory"
						: "chain element is not valid base64";
			if (r == MN_ENOMEM)
				ret = MN_ENOMEM;
			goto out;
		}
		(*num)++;
		if (lens[i] == 0) {
			*why = "chain element is empty";
			goto out;
		}
	}
	ret = 0;
out:
	json_decref(root);
	return ret;
}

int api__add_chain(struct api *api, const struct api_request *req,
		   struct api_response *resp, int precert, api_done_fn done,
		   void *done_ctx)
{
	const struct api_config *cfg = api__config(api);
	uint8_t *certs[64];
	size_t lens[64], num = 0, i;
	const char *why = NULL;
	struct pending *p = NULL;
	struct store_reader *rd;
	uint64_t idx;
	int ret;

	if (cfg->max_chain > 64) {
		api_response_error(resp, 500, "internal", "log is not configured for chains");
		return API_DONE;
	}
	if (!api__admit(api, API_CLASS_TLS | API_CLASS_SMIME, resp))
		return API_DONE;
	ret = parse_chain(api, req, certs, lens, &num, &why);
	if (ret != 0) {
		api__err_response(resp, ret, why);
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		api_response_error(resp, 500, "internal", "out of memory");
		goto out;
	}
	/* With a NotAfter window the window decides what the shard holds, so the
	 * validator's "expired at submission time" check is turned off (time 0)
	 * and api__cert_admissible checks the notAfter instead. */
	{
		/* the set this request started with, even if a reload swaps it */
		unsigned slot;
		const struct api_trust *t = api__trust_get(api, &slot);
		ret = t->tls != NULL
			      ? x509_validate(t->tls, (const uint8_t *const *)certs, lens, num,
					      precert, cfg->window_limit_ms != 0 ? 0 : mn_now_ms(),
					      &p->res, &why)
			      : MN_EINTERNAL;
		api__trust_put(api, slot);
	}
	if (ret != 0) {
		api__err_response(resp, ret, why);
		goto out;
	}
	if (!api__cert_admissible(api, &p->res, resp))
		goto out;

	/* A resubmission gets its original SCT straight from the index. */
	rd = reader(api, resp);
	if (rd == NULL)
		goto out;
	if (store_r_dedup(rd, p->res.dedup_key, &idx) == 0) {
		struct store_entry e;
		if (store_r_entry(rd, idx, &e) == 0) {
			api__entry_sct_response(api, resp, &e);
			store_read_end(rd);
			goto out;
		}
	}
	store_read_end(rd);

	p->api = api;
	p->precert = precert;
	p->t0 = mn_mono_ns();
	p->done = done;
	p->done_ctx = done_ctx;
	p->sub.entry.entry_type = p->res.entry_type;
	memcpy(p->sub.entry.issuer_key_hash, p->res.issuer_key_hash, 32);
	p->sub.entry.body = p->res.body;
	p->sub.entry.body_len = p->res.body_len;
	p->sub.extra = p->res.extra;
	p->sub.extra_len = p->res.extra_len;
	memcpy(p->sub.dedup_key, p->res.dedup_key, 32);
	ret = api__keys_x509(&p->keys, &p->res);
	if (ret != 0) {
		api__err_response(resp, ret, "certificate names cannot be indexed");
		goto out;
	}
	p->sub.keys = p->keys.arr;
	p->sub.num_keys = p->keys.num;
	p->sub.done = on_committed;
	ret = cfg->seq.submit(cfg->seq.impl, &p->sub);
	if (ret == MN_EINVAL) /* see on_committed */
		ret = MN_EINTERNAL;
	if (ret != 0) {
		api__err_response(resp, ret, ret == MN_EBUSY ? "sequencer queue is full, retry later"
				 : ret == MN_ESHUTDOWN ? "log is shutting down"
				 : ret == MN_ETOOBIG ? "the certificate names more than the lookup "
						       "map files per leaf (1024 keys)"
				 : NULL);
		goto out;
	}
	p = NULL; /* owned by the sequencer until on_committed */
	for (i = 0; i < num; i++)
		free(certs[i]);
	return API_ASYNC;
out:
	if (p != NULL) {
		x509_result_cleanup(&p->res);
		api__keys_cleanup(&p->keys);
		free(p);
	}
	for (i = 0; i < num; i++)
		free(certs[i]);
	return API_DONE;
}

/* The get-sth body is the same for every request until the next STH: each
 * thread keeps the last one it built, keyed by the whole STH (so two logs in
 * one process cannot mix), and answers with a copy. Thread-local: no lock. */
#define STH_BODY_MAX 384
static _Thread_local struct {
	int valid;
	struct store_sth sth;
	size_t len;
	uint8_t body[STH_BODY_MAX];
} sth_cache;

static int same_sth(const struct store_sth *a, const struct store_sth *b)
{
	return a->tree_size == b->tree_size && a->timestamp == b->timestamp &&
	       a->sig_len == b->sig_len && memcmp(a->root, b->root, sizeof(a->root)) == 0 &&
	       memcmp(a->sig, b->sig, a->sig_len) == 0;
}

void api__get_sth(struct api *api, const struct api_params *q, struct api_response *resp)
{
	struct store_reader *rd = reader(api, resp);
	struct store_sth sth;
	struct cbb b;

	(void)q;
	if (rd == NULL)
		return;
	if (store_r_sth(rd, &sth) != 0) {
		store_read_end(rd);
		api_response_error(resp, 503, "unavailable", "no signed tree head yet");
		return;
	}
	store_read_end(rd);
	if (sth_cache.valid && same_sth(&sth_cache.sth, &sth)) {
		uint8_t *body = malloc(sth_cache.len);

		if (body != NULL) {
			memcpy(body, sth_cache.body, sth_cache.len);
			resp->status = 200;
			resp->content_type = NULL;
			resp->body = body;
			resp->body_len = sth_cache.len;
			return;
		}
	}
	/* Section 4.3. */
	if (!cbb_init(&b, 256, 1024) || !api__jraw(&b, "{\"tree_size\":") ||
	    !api__ju64(&b, sth.tree_size) || !api__jraw(&b, ",\"timestamp\":") ||
	    !api__ju64(&b, sth.timestamp) || !api__jraw(&b, ",\"sha256_root_hash\":") ||
	    !api__jb64(&b, sth.root, 32) || !api__jraw(&b, ",\"tree_head_signature\":") ||
	    !api__jb64(&b, sth.sig, sth.sig_len) || !api__jraw(&b, "}"))
		cbb_cleanup(&b);
	api__finish_json(resp, 200, &b);
	if (resp->status == 200 && resp->body_len <= STH_BODY_MAX) {
		sth_cache.sth = sth;
		sth_cache.len = resp->body_len;
		memcpy(sth_cache.body, resp->body, resp->body_len);
		sth_cache.valid = 1;
	}
}

static int write_path(struct cbb *b, const char *field, uint8_t (*path)[32], size_t num)
{
	if (!api__jraw(b, field))
		return 0;
	for (size_t i = 0; i < num; i++)
		if ((i > 0 && !api__jraw(b, ",")) || !api__jb64(b, path[i], 32))
			return 0;
	return api__jraw(b, "]");
}

void api__get_sth_consistency(struct api *api, const struct api_params *q,
			      struct api_response *resp)
{
	uint64_t first, second;
	uint8_t proof[MERKLE_MAX_PROOF][32];
	size_t num;
	struct store_reader *rd;
	struct cbb b;
	int ret;

	if (!get_u64_param(q, "first", &first, resp) ||
	    !get_u64_param(q, "second", &second, resp))
		return;
	if (first > second) {
		api_response_error(resp, 400, "malformed", "first is greater than second");
		return;
	}
	rd = reader(api, resp);
	if (rd == NULL)
		return;
	if (second > store_r_tree_size(rd)) {
		store_read_end(rd);
		api_response_error(resp, 400, "malformed", "second is beyond the current tree size");
		return;
	}
	ret = store_r_consistency_proof(rd, first, second, proof, &num);
	store_read_end(rd);
	if (ret != 0) {
		api__err_response(resp, ret, "cannot build consistency proof");
		return;
	}
	/* Section 4.4. */
	if (!cbb_init(&b, 64 + num * 48, 8192) || !write_path(&b, "{\"consistency\":[", proof, num) ||
	    !api__jraw(&b, "}"))
		cbb_cleanup(&b);
	api__finish_json(resp, 200, &b);
}

void api__get_proof_by_hash(struct api *api, const struct api_params *q,
			    struct api_response *resp)
{
	uint64_t size, index;
	uint8_t proof[MERKLE_MAX_PROOF][32];
	uint8_t *hash = NULL;
	size_t num, hash_len, vlen;
	const char *v = api__param(q, "hash", &vlen);
	struct store_reader *rd;
	struct cbb b;
	int ret;

	if (v == NULL) {
		api_response_error(resp, 400, "malformed", "missing parameter hash");
		return;
	}
	ret = mn_b64_decode(&hash, &hash_len, v, vlen, 32);
	if (ret != 0 || hash_len != 32) {
		free(hash);
		if (ret == MN_ENOMEM)
			api__err_response(resp, MN_ENOMEM, NULL);
		else
			api_response_error(resp, 400, "malformed",
					   "hash is not a base64 SHA-256 leaf hash");
		return;
	}
	if (!get_u64_param(q, "tree_size", &size, resp)) {
		free(hash);
		return;
	}
	rd = reader(api, resp);
	if (rd == NULL) {
		free(hash);
		return;
	}
	if (size > store_r_tree_size(rd) || size == 0) {
		store_read_end(rd);
		free(hash);
		api_response_error(resp, 400, "malformed",
				   "tree_size is zero or beyond the current tree size");
		return;
	}
	ret = store_r_index_by_hash(rd, hash, &index);
	free(hash);
	if (ret != 0 || index >= size) {
		store_read_end(rd);
		api_response_error(resp, 404, "notFound",
				   "no leaf with this hash in the tree of this size");
		return;
	}
	ret = store_r_inclusion_proof(rd, index, size, proof, &num);
	store_read_end(rd);
	if (ret != 0) {
		api__err_response(resp, ret, "cannot build inclusion proof");
		return;
	}
	/* Section 4.5. */
	if (!cbb_init(&b, 64 + num * 48, 8192) || !api__jraw(&b, "{\"leaf_index\":") ||
	    !api__ju64(&b, index) || !write_path(&b, ",\"audit_path\":[", proof, num) ||
	    !api__jraw(&b, "}"))
		cbb_cleanup(&b);
	api__finish_json(resp, 200, &b);
}

#define PREFETCH_AHEAD 2

/* prefetch_entry starts loading every line of |e|'s leaf and extra data. */
static void prefetch_entry(const struct store_entry *e)
{
	for (size_t off = 0; off < e->leaf_input_len; off += 64)
		__builtin_prefetch(e->leaf_input + off);
	for (size_t off = 0; off < e->extra_len; off += 64)
		__builtin_prefetch(e->extra + off);
}

/* entry_json appends one get-entries element (after a comma if |comma|),
 * {"leaf_input":"<b64>","extra_data":"<b64>"}, with a single reservation: it
 * runs 256 times per request. Returns 1 or 0 (the cbb is then failed). */
static int entry_json(struct cbb *b, const struct store_entry *e, int comma)
{
	static const char k1[] = "{\"leaf_input\":\"", k2[] = "\",\"extra_data\":\"";
	size_t l1 = mn_b64_encoded_len(e->leaf_input_len), l2 = mn_b64_encoded_len(e->extra_len);
	uint8_t *p;

	if (!cbb_add_space(b, &p, (size_t)comma + sizeof(k1) - 1 + l1 + sizeof(k2) - 1 + l2 + 2))
		return 0;
	if (comma)
		*p++ = ',';
	memcpy(p, k1, sizeof(k1) - 1);
	p += sizeof(k1) - 1;
	/* each encode writes a NUL after its text, on the byte written next */
	p += mn_b64_encode((char *)p, e->leaf_input, e->leaf_input_len);
	memcpy(p, k2, sizeof(k2) - 1);
	p += sizeof(k2) - 1;
	p += mn_b64_encode((char *)p, e->extra, e->extra_len);
	p[0] = '"';
	p[1] = '}';
	return 1;
}

void api__get_entries(struct api *api, const struct api_params *q,
		      struct api_response *resp)
{
	const struct api_config *cfg = api__config(api);
	uint64_t start, end, size;
	struct store_entry *ents = NULL;
	struct store_reader *rd;
	size_t num = 0, want, i, bytes = 0;
	struct cbb b;
	int ret;

	if (!get_u64_param(q, "start", &start, resp) || !get_u64_param(q, "end", &end, resp))
		return;
	if (start > end) {
		api_response_error(resp, 400, "endBeforeStart", "start is greater than end");
		return;
	}
	rd = reader(api, resp);
	if (rd == NULL)
		return;
	size = store_r_tree_size(rd);
	if (start >= size) {
		store_read_end(rd);
		api_response_error(resp, 400, "malformed", "start is beyond the tree size");
		return;
	}
	/* Section 4.6: the log may return fewer entries than asked for; an end past
	 * the last entry is clamped, never an error (monitors ask for that). */
	if (end >= size)
		end = size - 1;
	want = end - start + 1 < cfg->max_entries ? (size_t)(end - start + 1) : cfg->max_entries;
	ents = calloc(want, sizeof(*ents));
	if (ents == NULL) {
		store_read_end(rd);
		api_response_error(resp, 500, "internal", "out of memory");
		return;
	}
	ret = store_r_entries(rd, start, want, ents, &num);
	if (ret != 0) {
		store_read_end(rd);
		free(ents);
		api__err_response(resp, ret, "cannot read entries");
		return;
	}
	for (i = 0; i < num; i++)
		bytes += ents[i].leaf_input_len + ents[i].extra_len;
	if (!cbb_init(&b, 32 + bytes * 4 / 3 + num * 40, API_MAX_RESPONSE) ||
	    !api__jraw(&b, "{\"entries\":[")) {
		cbb_cleanup(&b);
	} else {
		for (i = 0; i < num; i++) {
			/* The entries sit on map pages that are cold in a big log;
			 * the hardware prefetcher does not cross into the next
			 * page, so start the next entries' loads by hand while this
			 * one is encoded. */
			if (i + PREFETCH_AHEAD < num)
				prefetch_entry(&ents[i + PREFETCH_AHEAD]);
			if (!entry_json(&b, &ents[i], i > 0))
				break;
		}
		if (i < num || !API__JLIT(&b, "]}"))
			cbb_cleanup(&b);
	}
	store_read_end(rd);
	free(ents);
	api__finish_json(resp, 200, &b);
}

/* roots_json answers {"certificates":[...]} with |a|'s roots, then those of
 * |b| (may be NULL) that |a| does not hold. */
static void roots_json(struct api_response *resp, const struct x509_roots *a,
		       const struct x509_roots *b)
{
	const struct x509_roots *sets[2] = {a, b};
	size_t i, len, num = 0;
	struct cbb c;

	if (!cbb_init(&c, 4096, API_MAX_RESPONSE) || !api__jraw(&c, "{\"certificates\":["))
		cbb_cleanup(&c);
	for (int s = 0; s < 2; s++) {
		size_t n = sets[s] != NULL ? x509_roots_count(sets[s]) : 0;
		for (i = 0; i < n; i++) {
			const uint8_t *der = x509_roots_der(sets[s], i, &len);
			if (s == 1 && x509_roots_contains(a, der, len))
				continue;
			if ((num++ > 0 && !api__jraw(&c, ",")) || !api__jb64(&c, der, len))
				break;
		}
	}
	if (!api__jraw(&c, "]}"))
		cbb_cleanup(&c);
	api__finish_json(resp, 200, &c);
}

void api__get_roots(struct api *api, const struct api_params *q, struct api_response *resp)
{
	unsigned slot;
	const struct api_trust *t = api__trust_get(api, &slot);

	(void)q;
	/* Section 4.7: every root the log accepts, TLS and S/MIME. */
	roots_json(resp, t->tls_roots, t->smime_roots);
	api__trust_put(api, slot);
}

void api__mn_get_roots(struct api *api, const struct api_params *q,
		       struct api_response *resp)
{
	size_t len;
	const char *cls = api__param(q, "class", &len);
	unsigned slot;
	const struct api_trust *t = api__trust_get(api, &slot);

	if (cls != NULL && len == 3 && memcmp(cls, "tls", 3) == 0)
		roots_json(resp, t->tls_roots, NULL);
	else if (cls != NULL && len == 5 && memcmp(cls, "smime", 5) == 0)
		roots_json(resp, t->smime_roots, NULL);
	else
		api_response_error(resp, 400, "malformed", "class must be tls or smime");
	api__trust_put(api, slot);
}

void api__get_entry_and_proof(struct api *api, const struct api_params *q,
			      struct api_response *resp)
{
	uint64_t index, size;
	uint8_t proof[MERKLE_MAX_PROOF][32];
	size_t num;
	struct store_entry e;
	struct store_reader *rd;
	struct cbb b;
	int ret;

	if (!get_u64_param(q, "leaf_index", &index, resp) ||
	    !get_u64_param(q, "tree_size", &size, resp))
		return;
	if (index >= size) {
		api_response_error(resp, 400, "malformed", "leaf_index is not below tree_size");
		return;
	}
	rd = reader(api, resp);
	if (rd == NULL)
		return;
	if (size > store_r_tree_size(rd)) {
		store_read_end(rd);
		api_response_error(resp, 400, "malformed", "tree_size is beyond the current tree size");
		return;
	}
	ret = store_r_entry(rd, index, &e);
	if (ret == 0)
		ret = store_r_inclusion_proof(rd, index, size, proof, &num);
	if (ret != 0) {
		store_read_end(rd);
		api__err_response(resp, ret, "cannot read entry");
		return;
	}
	/* Section 4.8. */
	if (!cbb_init(&b, 256 + (e.leaf_input_len + e.extra_len) * 4 / 3 + num * 48,
		      API_MAX_RESPONSE) ||
	    !api__jraw(&b, "{\"leaf_input\":") ||
	    !api__jb64(&b, e.leaf_input, e.leaf_input_len) ||
	    !api__jraw(&b, ",\"extra_data\":") || !api__jb64(&b, e.extra, e.extra_len) ||
	    !write_path(&b, ",\"audit_path\":[", proof, num) || !api__jraw(&b, "}"))
		cbb_cleanup(&b);
	store_read_end(rd);
	api__finish_json(resp, 200, &b);
}

/* info_classes: ,"classes":[...] the log accepts (a class needs what it is
 * checked against: S/MIME roots, certifiers). */
static int info_classes(struct cbb *b, const struct api_config *cfg, int has_tls, int has_smime,
			int has_pgp)
{
	unsigned c = cfg->classes != 0 ? cfg->classes : 15;
	int first = 1, ok = api__jraw(b, ",\"classes\":[");

	if (ok && (c & API_CLASS_TLS) && has_tls)
		ok = api__jraw(b, "\"tls\""), first = 0;
	if (ok && (c & API_CLASS_SMIME) && has_smime)
		ok = api__jraw(b, first ? "\"smime\"" : ",\"smime\""), first = 0;
	if (ok && (c & API_CLASS_PGP) && has_pgp)
		ok = api__jraw(b, first ? "\"pgp\"" : ",\"pgp\""), first = 0;
	if (ok && (c & API_CLASS_POLICY))
		ok = api__jraw(b, first ? "\"policy\"" : ",\"policy\"");
	return ok && api__jraw(b, "]");
}

/* info_shard: ,"name":..,"state":..,"not_after":{"start":ms,"limit":ms} for
 * a log configured as a shard. */
static int info_shard(struct cbb *b, const struct api_config *cfg)
{
	if (cfg->name != NULL &&
	    (!api__jraw(b, ",\"name\":") || !api__jstr(b, cfg->name, strlen(cfg->name))))
		return 0;
	if (!api__jraw(b, cfg->state == API_STATE_READ_ONLY ? ",\"state\":\"read-only\""
							    : ",\"state\":\"open\""))
		return 0;
	if (cfg->mirror_of != NULL &&
	    (!api__jraw(b, ",\"mirror_of\":") ||
	     !api__jstr(b, cfg->mirror_of, strlen(cfg->mirror_of))))
		return 0;
	if (cfg->window_limit_ms != 0 &&
	    (!api__jraw(b, ",\"not_after\":{\"start_ms\":") || !api__ju64(b, cfg->window_start_ms) ||
	     !api__jraw(b, ",\"limit_ms\":") || !api__ju64(b, cfg->window_limit_ms) ||
	     !api__jraw(b, "}")))
		return 0;
	return 1;
}

void api__info(struct api *api, struct api_response *resp)
{
	const struct api_config *cfg = api__config(api);
	size_t spki_len = 0;
	const uint8_t *spki = api__log_spki(cfg, &spki_len);
	uint8_t vpub[VRF_PUBLIC_LEN];
	struct cbb b;
	unsigned slot;
	const struct api_trust *t = api__trust_get(api, &slot);
	int has_tls = t->tls_roots != NULL, has_smime = t->smime_roots != NULL,
	    has_pgp = t->certifiers != NULL, has_vpub = cfg->vrf != NULL;

	api__trust_put(api, slot);
	if (cfg->vrf != NULL)
		vrf_public(cfg->vrf, vpub);
	else if (cfg->mirror_vrf_public != NULL)
		/* a mirror: the origin's, which its lookup answers' proofs verify with */
		has_vpub = cfg->mirror_vrf_public(cfg->mirror_vrf_ctx, vpub);
	if (!cbb_init(&b, 512, 8192) || !api__jraw(&b, "{\"log_id\":") ||
	    !api__jb64(&b, api__log_id(cfg), 32) || !api__jraw(&b, ",\"key\":") ||
	    !api__jb64(&b, spki, spki_len) || !api__jraw(&b, ",\"mmd\":") ||
	    !api__ju64(&b, cfg->mmd_s) ||
	    !api__jraw(&b, ",\"signature_algorithm\":\"ecdsa-p256-sha256\"") ||
	    (has_vpub && (!api__jraw(&b, ",\"vrf_public_key\":") ||
				  !api__jb64(&b, vpub, sizeof(vpub)))) ||
	    !api__static_info_json(&b, api) ||
	    !info_classes(&b, cfg, has_tls, has_smime, has_pgp) || !info_shard(&b, cfg) ||
	    !api__jraw(&b, ",\"limits\":{\"get_entries\":") ||
	    !api__ju64(&b, cfg->max_entries) || !api__jraw(&b, ",\"chain_length\":") ||
	    !api__ju64(&b, cfg->max_chain) || !api__jraw(&b, ",\"certificate_bytes\":") ||
	    !api__ju64(&b, cfg->max_cert_bytes) || !api__jraw(&b, "}}"))
		cbb_cleanup(&b);
	api__finish_json(resp, 200, &b);
}
