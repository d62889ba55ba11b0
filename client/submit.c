/* submit.c: add-chain and add-pre-chain (RFC 6962 sections 4.1, 4.2): submit,
 * check the SCT's signature over the entry we expect (section 3.2), save the
 * SCT, and optionally wait for and verify inclusion. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "client/mnctl.h"
#include "common/b64.h"
#include "common/clock.h"
#include "common/err.h"
#include "entry/x509.h"

void mnctl_chain_cleanup(struct mnctl_chain *c)
{
	for (size_t i = 0; i < c->num; i++)
		free(c->der[i]);
	c->num = 0;
}

static int chain_add(struct mnctl_chain *c, const uint8_t *der, size_t len)
{
	if (c->num == MNCTL_MAX_CHAIN)
		return 0;
	c->der[c->num] = malloc(len);
	if (c->der[c->num] == NULL)
		return 0;
	memcpy(c->der[c->num], der, len);
	c->len[c->num++] = len;
	return 1;
}

int mnctl_chain_read(struct mnctl_chain *c, const char *path)
{
	uint8_t *buf;
	size_t len;
	size_t before = c->num;
	int ret = mnctl_read_file(path, 16u << 20, &buf, &len);

	if (ret != MNCTL_OK)
		return ret;
	if (len >= 10 && memcmp(buf, "-----BEGIN", 10) == 0) {
		BIO *bio = BIO_new_mem_buf(buf, (int)len);
		X509 *x;
		while (bio != NULL && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			unsigned char *der = NULL;
			int n = i2d_X509(x, &der);
			int ok = n > 0 && chain_add(c, der, (size_t)n);
			OPENSSL_free(der);
			X509_free(x);
			if (!ok) {
				BIO_free(bio);
				free(buf);
				return mnctl_fail(MNCTL_ELOCAL, "%s: too many certificates", path);
			}
		}
		BIO_free(bio);
	} else if (!chain_add(c, buf, len)) {
		free(buf);
		return mnctl_fail(MNCTL_ELOCAL, "%s: too many certificates", path);
	}
	free(buf);
	if (c->num == before)
		return mnctl_fail(MNCTL_ELOCAL, "%s: no certificate found", path);
	return MNCTL_OK;
}

static char *chain_request(const struct mnctl_chain *c)
{
	json_t *arr = json_array(), *o = json_object();
	char *s;

	for (size_t i = 0; i < c->num; i++)
		json_array_append_new(arr, mnctl_json_b64_new(c->der[i], c->len[i]));
	json_object_set_new(o, "chain", arr);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* precert_entry rebuilds the precert_entry the log signed: the TBS without the
 * poison (and with a PSC's issuer) and the final issuer's key hash. That is
 * exactly x509_validate's output over the log's own roots (get-roots). */
static int precert_entry(struct mnctl *m, const struct mnctl_chain *c, uint64_t now_ms,
			 struct x509_result *res)
{
	json_t *j, *arr;
	struct x509_roots *roots = NULL;
	struct x509_validator *v = NULL;
	BIO *pem = BIO_new(BIO_s_mem());
	const char *why = NULL;
	char *p;
	long n;
	int ret = mnctl_get_json(m, "/ct/v1/get-roots", &j, NULL);

	if (ret != MNCTL_OK) {
		BIO_free(pem);
		return ret;
	}
	arr = json_object_get(j, "certificates");
	for (size_t i = 0; pem != NULL && i < json_array_size(arr); i++) {
		uint8_t *der;
		size_t len;
		const unsigned char *q;
		X509 *x;
		if (!mnctl_json_b64_value(json_array_get(arr, i), &der, &len, 1u << 20))
			continue;
		q = der;
		x = d2i_X509(NULL, &q, (long)len);
		if (x != NULL)
			PEM_write_bio_X509(pem, x);
		X509_free(x);
		free(der);
	}
	json_decref(j);
	n = pem ? BIO_get_mem_data(pem, &p) : 0;
	if (n <= 0 || x509_roots_load_pem(&roots, NULL, (const uint8_t *)p, (size_t)n) != 0) {
		BIO_free(pem);
		return mnctl_fail(MNCTL_ENET, "get-roots: no usable roots");
	}
	BIO_free(pem);
	v = x509_validator_new(roots, NULL);
	if (v == NULL) {
		x509_roots_free(roots);
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	}
	ret = x509_validate(v, (const uint8_t *const *)c->der, c->len, c->num, 1, now_ms,
			    res, &why);
	x509_validator_free(v);
	x509_roots_free(roots);
	if (ret != 0)
		return mnctl_fail(MNCTL_EVERIFY,
				  "the log accepted a precertificate chain that does not "
				  "validate against its own roots: %s", why ? why : mn_strerror(ret));
	return MNCTL_OK;
}

int mnctl_wait_inclusion(struct mnctl *m, const uint8_t leaf_hash[32], uint64_t sct_ts,
			 uint64_t *out_index)
{
	uint64_t mmd_ms = mnctl_log_mmd(m) * 1000;
	long limit_s = mnctl_opts.wait_timeout_s >= 0 ? mnctl_opts.wait_timeout_s
						       : (long)(mmd_ms / 1000) + 30;
	uint64_t deadline = mn_mono_ns() + (uint64_t)limit_s * 1000000000u;
	unsigned delay_ms = 500;

	for (;;) {
		struct mnctl_sth sth;
		uint64_t index;
		int found, ret = mnctl_fetch_sth_checked(m, &sth);

		if (ret != MNCTL_OK)
			return ret;
		ret = mnctl_prove_hash(m, &sth, leaf_hash, &index, &found);
		if (ret != MNCTL_OK)
			return ret;
		if (found) {
			if (out_index != NULL)
				*out_index = index;
			if (m->json) {
				json_t *o = json_object();
				json_object_set_new(o, "included", json_true());
				json_object_set_new(o, "leaf_index", json_integer((json_int_t)index));
				json_object_set_new(o, "tree_size",
						    json_integer((json_int_t)sth.tree_size));
				mnctl_print_json(o);
			} else {
				printf("included: entry %" PRIu64 " of the tree of size %" PRIu64
				       " (inclusion proof verified)\n", index, sth.tree_size);
			}
			return MNCTL_OK;
		}
		if (sth.timestamp > sct_ts + mmd_ms)
			return mnctl_fail(MNCTL_EVERIFY,
					  "the log signed a tree head more than the MMD after "
					  "the SCT without including the entry (tree size %" PRIu64 ")",
					  sth.tree_size);
		if (mn_mono_ns() >= deadline)
			return mnctl_fail(MNCTL_ENET, "gave up waiting for inclusion after %ld s",
					  limit_s);
		{
			struct timespec ts = {.tv_sec = delay_ms / 1000,
					      .tv_nsec = (long)(delay_ms % 1000) * 1000000};
			nanosleep(&ts, NULL);
		}
		if (delay_ms < 5000)
			delay_ms *= 2;
	}
}

int mnctl_sct_check_index(const struct mnctl_sct *s, uint64_t index, const char *what)
{
	if (!s->has_index || s->leaf_index == index)
		return MNCTL_OK;
	return mnctl_fail(MNCTL_EVERIFY, "%s: the SCT's leaf_index is %" PRIu64 " but the entry "
			  "is at index %" PRIu64 " of the tree", what, s->leaf_index, index);
}

void mnctl_sct_cleanup(struct mnctl_sct *s)
{
	free(s->ext);
	memset(s, 0, sizeof(*s));
}

int mnctl_sct_from_json(struct mnctl *m, const json_t *j, const char *what,
			struct mnctl_sct *out)
{
	uint8_t *sig = NULL;
	size_t sig_len;
	uint64_t version;
	struct cbs cbs;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j) || !mnctl_json_u64(j, "sct_version", &version) ||
	    !mnctl_json_b64_fixed(j, "id", out->sct.log_id, CT_LOG_ID_LEN) ||
	    !mnctl_json_u64(j, "timestamp", &out->sct.timestamp) ||
	    !mnctl_json_b64(j, "extensions", &out->ext, &out->ext_len, 65535) ||
	    !mnctl_json_b64(j, "signature", &sig, &sig_len, 256))
		goto malformed;
	cbs_init(&cbs, sig, sig_len);
	if (version != 0 || !ct_parse_sig(&out->sct.sig, &cbs) || cbs_len(&cbs) != 0)
		goto malformed;
	/* static-ct-api CtExtensions: a list of typed extensions, bounds-checked */
	if (!ct_parse_extensions(out->ext, out->ext_len, &out->has_index, &out->leaf_index))
		goto malformed;
	free(sig);
	out->sct.version = 0;
	out->sct.extensions = out->ext;
	out->sct.extensions_len = out->ext_len;
	if (memcmp(out->sct.log_id, m->log_id, CT_LOG_ID_LEN) != 0) {
		mnctl_sct_cleanup(out);
		return mnctl_fail(MNCTL_EVERIFY, "%s: the SCT's log ID is not the pinned log's",
				  what);
	}
	return MNCTL_OK;
malformed:
	free(sig);
	mnctl_sct_cleanup(out);
	return mnctl_fail(MNCTL_ENET, "%s: malformed SCT", what);
}

int mnctl_post(struct mnctl *m, const char *path, const char *body, json_t **out)
{
	struct mnctl_resp r;
	json_error_t jerr;
	int ret;

	*out = NULL;
	ret = mnctl_http_do(m, path, body, strlen(body), &r);
	if (ret != MNCTL_OK)
		return ret;
	if (r.status != 200) {
		char msg[300];
		json_t *ej = json_loadb((const char *)r.body, r.body_len, 0, &jerr);
		const json_t *em = json_object_get(ej, "error_message");
		if (json_is_string(em))
			mnctl_sanitize(msg, sizeof(msg), (const uint8_t *)json_string_value(em),
				       json_string_length(em));
		else
			mnctl_sanitize(msg, sizeof(msg), r.body, r.body_len);
		json_decref(ej);
		/* 4xx but 429: the submission itself was refused. */
		ret = mnctl_fail(r.status >= 400 && r.status < 500 && r.status != 429
					 ? MNCTL_EREJECT : MNCTL_ENET,
				 "%s: HTTP %ld: %s", path, r.status, msg);
		mnctl_resp_cleanup(&r);
		return ret;
	}
	*out = json_loadb((const char *)r.body, r.body_len, JSON_REJECT_DUPLICATES, &jerr);
	mnctl_resp_cleanup(&r);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return mnctl_fail(MNCTL_ENET, "%s: response is not a JSON object", path);
	}
	return MNCTL_OK;
}

static int submit(struct mnctl *m, int argc, char **argv, int precert)
{
	const char *ep = precert ? "/ct/v1/add-pre-chain" : "/ct/v1/add-chain";
	struct mnctl_chain c = {.num = 0};
	struct x509_result res;
	struct mnctl_sct ms = {0};
	struct ct_sct sct = {0};
	struct ct_entry e = {0};
	const uint8_t *ext = NULL;
	uint8_t *list = NULL, *leaf = NULL, *one = NULL;
	size_t ext_len = 0, list_len, leaf_len, one_len;
	uint8_t leaf_hash[32];
	json_t *j = NULL;
	struct cbb b;
	char *req = NULL;
	int ret;

	memset(&res, 0, sizeof(res));
	if (argc < 1)
		return mnctl_fail(MNCTL_EUSAGE, "%s CERT.pem [CHAIN.pem...]", ep + 7);
	ret = mnctl_load_key(m);
	if (ret != MNCTL_OK)
		return ret;
	for (int i = 0; i < argc; i++) {
		ret = mnctl_chain_read(&c, argv[i]);
		if (ret != MNCTL_OK)
			goto out;
	}
	req = chain_request(&c);
	if (req == NULL) {
		ret = mnctl_fail(MNCTL_ELOCAL, "out of memory");
		goto out;
	}
	ret = mnctl_post(m, ep, req, &j);
	if (ret != MNCTL_OK)
		goto out;
	ret = mnctl_sct_from_json(m, j, ep, &ms);
	if (ret != MNCTL_OK)
		goto out;
	sct = ms.sct;
	ext = ms.ext;
	ext_len = ms.ext_len;
	if (precert) {
		ret = precert_entry(m, &c, sct.timestamp, &res);
		if (ret != MNCTL_OK)
			goto out;
		e.entry_type = CT_PRECERT_ENTRY;
		memcpy(e.issuer_key_hash, res.issuer_key_hash, 32);
		e.body = res.body;
		e.body_len = res.body_len;
	} else {
		e.entry_type = CT_X509_ENTRY;
		e.body = c.der[0];
		e.body_len = c.len[0];
	}
	e.timestamp = sct.timestamp;
	e.extensions = ext;
	e.extensions_len = ext_len;
	if (!ct_verify_sct(m->v, &sct, &e)) {
		ret = mnctl_fail(MNCTL_EVERIFY,
				 "SCT signature does not verify over the submitted %s",
				 precert ? "precertificate" : "certificate");
		goto out;
	}
	/* The outputs: the SCT list (section 3.3, for the TLS extension or OCSP),
	 * one SCT, and the MerkleTreeLeaf whose hash the tree holds. */
	if (!cbb_init(&b, 256, 1 << 17) || !ct_write_sct_list(&b, &sct, 1) ||
	    !cbb_finish(&b, &list, &list_len) || !cbb_init(&b, 256, 1 << 17) ||
	    !ct_write_sct(&b, &sct) || !cbb_finish(&b, &one, &one_len) ||
	    !cbb_init(&b, e.body_len + 128, e.body_len + 70000) || !ct_write_leaf(&b, &e) ||
	    !cbb_finish(&b, &leaf, &leaf_len)) {
		cbb_cleanup(&b);
		ret = mnctl_fail(MNCTL_ELOCAL, "cannot encode the SCT");
		goto out;
	}
	merkle_leaf_hash(m->h, leaf_hash, leaf, leaf_len);
	if (mnctl_opts.sct_out != NULL &&
	    (ret = mnctl_write_file_atomic(mnctl_opts.sct_out, list, list_len)) != MNCTL_OK)
		goto out;
	if (mnctl_opts.leaf_out != NULL &&
	    (ret = mnctl_write_file_atomic(mnctl_opts.leaf_out, leaf, leaf_len)) != MNCTL_OK)
		goto out;
	if (m->json) {
		json_t *o = json_object();
		json_object_set_new(o, "sct_version", json_integer(0));
		json_object_set_new(o, "id", mnctl_json_b64_new(sct.log_id, 32));
		json_object_set_new(o, "timestamp", json_integer((json_int_t)sct.timestamp));
		json_object_set_new(o, "sct", mnctl_json_b64_new(one, one_len));
		json_object_set_new(o, "sct_list", mnctl_json_b64_new(list, list_len));
		json_object_set_new(o, "leaf_hash", mnctl_json_b64_new(leaf_hash, 32));
		json_object_set_new(o, "signature_verified", json_true());
		mnctl_print_json(o);
	} else {
		char *s = malloc(mn_b64_encoded_len(list_len) + 1), hex[65];
		if (s != NULL)
			mn_b64_encode(s, list, list_len);
		mnctl_hex(hex, leaf_hash, 32);
		printf("SCT timestamp %" PRIu64 ": signature verified\nleaf_hash %s\n"
		       "sct_list %s\n", sct.timestamp, hex, s ? s : "?");
		free(s);
	}
	fflush(stdout);
	ret = MNCTL_OK;
	if (mnctl_opts.wait_inclusion) {
		uint64_t idx;
		ret = mnctl_wait_inclusion(m, leaf_hash, sct.timestamp, &idx);
		if (ret == MNCTL_OK)
			ret = mnctl_sct_check_index(&ms, idx, ep);
	}
out:
	x509_result_cleanup(&res);
	json_decref(j);
	mnctl_sct_cleanup(&ms);
	mnctl_chain_cleanup(&c);
	free(req);
	free(list);
	free(one);
	free(leaf);
	return ret;
}

int mnctl_cmd_add_chain(struct mnctl *m, int argc, char **argv)
{
	return submit(m, argc, argv, 0);
}

int mnctl_cmd_add_pre_chain(struct mnctl *m, int argc, char **argv)
{
	return submit(m, argc, argv, 1);
}
