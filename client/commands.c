/* commands.c: info, sth, consistency, get-entries, prove. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "client/mnctl.h"
#include "common/b64.h"

static int parse_u64_arg(const char *s, uint64_t *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return 0;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

static void fmt_time(char *out, size_t out_len, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(out, out_len, "?");
		return;
	}
	snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(ms % 1000));
}

static void print_sth(const struct mnctl *m, const struct mnctl_sth *s)
{
	char hex[65], when[64];

	if (m->json) {
		mnctl_print_json(mnctl_sth_to_json(m, s));
		return;
	}
	mnctl_hex(hex, s->root, 32);
	fmt_time(when, sizeof(when), s->timestamp);
	printf("tree_size %" PRIu64 "\ntimestamp %" PRIu64 " (%s)\nroot %s\n"
	       "signature ok\n", s->tree_size, s->timestamp, when, hex);
}

/* --- info ---------------------------------------------------------------- */

int mnctl_cmd_info(struct mnctl *m, int argc, char **argv)
{
	char path[4200], id64[64];
	uint8_t *key = NULL, log_id[32];
	size_t key_len;
	json_t *j = NULL;
	struct ct_verifier *served = NULL;
	struct stat st;
	int ret, pinned = 0, have_pin;

	(void)argv;
	if (argc != 0)
		return mnctl_fail(MNCTL_EUSAGE, "info takes the log URL only");
	ret = mnctl_get_json(m, "/mn/v1/info", &j, NULL);
	if (ret != MNCTL_OK)
		return ret;
	if (!mnctl_json_b64(j, "key", &key, &key_len, 4096) ||
	    !mnctl_json_b64_fixed(j, "log_id", log_id, 32) ||
	    !json_is_integer(json_object_get(j, "mmd"))) {
		ret = mnctl_fail(MNCTL_ENET, "/mn/v1/info: malformed response");
		goto out;
	}
	served = ct_verifier_new(key, key_len);
	if (served == NULL) {
		ret = mnctl_fail(MNCTL_ENET, "/mn/v1/info: key is not a P-256 public key");
		goto out;
	}
	/* RFC 6962 section 3.2: the log ID is SHA-256 of the key. */
	if (memcmp(ct_verifier_log_id(served), log_id, 32) != 0) {
		ret = mnctl_fail(MNCTL_EVERIFY, "/mn/v1/info: log_id is not SHA-256 of key");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/key.der", m->log_dir);
	have_pin = m->key_file != NULL || stat(path, &st) == 0;
	if (have_pin) {
		ret = mnctl_load_key(m);
		if (ret != MNCTL_OK)
			goto out;
		if (memcmp(m->log_id, log_id, 32) != 0) {
			ret = mnctl_fail(MNCTL_EVERIFY,
					 "the log serves a key that differs from the pinned "
					 "key for %s", m->url);
			goto out;
		}
		pinned = 1;
	}
	if ((have_pin && m->key_file != NULL) || (!have_pin && m->tofu)) {
		char *text = json_dumps(j, JSON_INDENT(1));
		ret = mnctl_mkdirs(m->log_dir);
		if (ret == MNCTL_OK)
			ret = mnctl_write_file_atomic(path, key, key_len);
		snprintf(path, sizeof(path), "%s/info.json", m->log_dir);
		if (ret == MNCTL_OK && text != NULL)
			ret = mnctl_write_file_atomic(path, (const uint8_t *)text, strlen(text));
		free(text);
		if (ret != MNCTL_OK)
			goto out;
		pinned = 1;
	}
	if (m->json) {
		json_t *o = json_deep_copy(j);
		json_object_set_new(o, "url", json_string(m->url));
		json_object_set_new(o, "pinned", json_boolean(pinned));
		mnctl_print_json(o);
	} else {
		uint64_t mmd = 0;
		mn_b64_encode(id64, log_id, 32);
		(void)mnctl_json_u64(j, "mmd", &mmd);
		printf("log %s\nlog_id %s\nmmd %" PRIu64 " s\n", m->url, id64, mmd);
		if (json_is_string(json_object_get(j, "signature_algorithm"))) {
			const json_t *s = json_object_get(j, "signature_algorithm");
			char buf[100];
			mnctl_sanitize(buf, sizeof(buf), (const uint8_t *)json_string_value(s),
				       json_string_length(s));
			printf("signature_algorithm %s\n", buf);
		}
		printf("key %s\n", pinned ? "pinned" : "NOT pinned (use --trust-on-first-use or --key)");
	}
	ret = MNCTL_OK;
out:
	ct_verifier_free(served);
	free(key);
	json_decref(j);
	return ret;
}

/* --- sth, consistency ---------------------------------------------------- */

int mnctl_cmd_sth(struct mnctl *m, int argc, char **argv)
{
	struct mnctl_witnessed wd;
	struct mnctl_sth s;
	int ret;

	(void)argv;
	if (argc != 0)
		return mnctl_fail(MNCTL_EUSAGE, "sth takes no arguments");
	ret = mnctl_load_key(m);
	if (ret == MNCTL_OK)
		ret = mnctl_fetch_sth_checked(m, &s);
	if (ret != MNCTL_OK || m->witness == NULL) {
		if (ret == MNCTL_OK)
			print_sth(m, &s);
		return ret;
	}
	ret = mnctl_witness_cover(m, &s, &wd);
	if (ret != MNCTL_OK)
		return ret;
	if (m->json) {
		json_t *o = mnctl_sth_to_json(m, &s);
		json_object_set_new(o, "witnessed_size", json_integer((json_int_t)wd.size));
		json_object_set_new(o, "witnessed_root", mnctl_json_b64_new(wd.root, 32));
		json_object_set_new(o, "cosigned_by", json_integer((json_int_t)wd.num_cosigned));
		mnctl_print_json(o);
		return MNCTL_OK;
	}
	print_sth(m, &s);
	printf("witnessed by a checkpoint of tree size %" PRIu64 " cosigned by %zu witness%s "
	       "of the policy (quorum met)\n", wd.size, wd.num_cosigned,
	       wd.num_cosigned == 1 ? "" : "es");
	return MNCTL_OK;
}

/* resolve_sth: a tree size from the history, or an STH file. */
static int resolve_sth(struct mnctl *m, const char *arg, struct mnctl_sth *out)
{
	uint64_t size;

	if (parse_u64_arg(arg, &size))
		return mnctl_history_find(m, size, out);
	return mnctl_sth_load_file(m, arg, out);
}

int mnctl_cmd_consistency(struct mnctl *m, int argc, char **argv)
{
	struct mnctl_sth a, b;
	int ret;

	if (argc < 1 || argc > 2)
		return mnctl_fail(MNCTL_EUSAGE, "consistency OLD [NEW]");
	ret = mnctl_load_key(m);
	if (ret != MNCTL_OK)
		return ret;
	ret = resolve_sth(m, argv[0], &a);
	if (ret != MNCTL_OK)
		return ret;
	if (argc == 2)
		ret = resolve_sth(m, argv[1], &b);
	else
		ret = mnctl_fetch_sth(m, &b);
	if (ret != MNCTL_OK)
		return ret;
	if (a.tree_size > b.tree_size)
		return mnctl_fail(MNCTL_EUSAGE, "OLD (%" PRIu64 ") is larger than NEW (%" PRIu64 ")",
				  a.tree_size, b.tree_size);
	ret = mnctl_verify_consistency(m, a.tree_size, a.root, b.tree_size, b.root);
	if (ret != MNCTL_OK)
		return ret;
	if (argc == 1)
		(void)mnctl_history_save(m, &b);
	if (m->json) {
		json_t *o = json_object();
		json_object_set_new(o, "first", json_integer((json_int_t)a.tree_size));
		json_object_set_new(o, "second", json_integer((json_int_t)b.tree_size));
		json_object_set_new(o, "consistent", json_true());
		mnctl_print_json(o);
	} else {
		printf("consistent: tree %" PRIu64 " is a prefix of tree %" PRIu64 "\n",
		       a.tree_size, b.tree_size);
	}
	return MNCTL_OK;
}

/* --- get-entries --------------------------------------------------------- */

struct get_entries_ctx {
	struct mnctl *m;
	const struct mnctl_sth *sth;
	int verify;
};

static int on_entry(void *ctx, uint64_t index, const uint8_t *leaf, size_t leaf_len)
{
	struct get_entries_ctx *c = ctx;
	struct mnctl_entry e;
	uint8_t hash[32];
	uint64_t got;
	int found, ret, ok;

	if (c->verify) {
		merkle_leaf_hash(c->m->h, hash, leaf, leaf_len);
		ret = mnctl_prove_hash(c->m, c->sth, hash, &got, &found);
		if (ret != MNCTL_OK)
			return ret;
		if (!found)
			return mnctl_fail(MNCTL_EVERIFY,
					  "entry %" PRIu64 ": its leaf_input is not in the "
					  "tree of size %" PRIu64 " (the log altered it)",
					  index, c->sth->tree_size);
		if (got != index)
			return mnctl_fail(MNCTL_EVERIFY,
					  "entry %" PRIu64 ": the log proves it at index %" PRIu64,
					  index, got);
	}
	ok = mnctl_entry_decode(&e, index, leaf, leaf_len);
	if (c->m->json) {
		json_t *j = ok ? mnctl_entry_json(&e) : json_object();
		if (!ok) {
			json_object_set_new(j, "index", json_integer((json_int_t)index));
			json_object_set_new(j, "error", json_string("malformed leaf"));
		}
		json_object_set_new(j, "verified", json_boolean(c->verify));
		mnctl_print_json(j);
	} else if (ok) {
		mnctl_entry_print(&e);
	} else {
		printf("#%" PRIu64 " malformed leaf (%zu bytes)\n", index, leaf_len);
	}
	mnctl_entry_cleanup(&e);
	return MNCTL_OK;
}

int mnctl_cmd_get_entries(struct mnctl *m, int argc, char **argv)
{
	struct get_entries_ctx c = {.m = m, .verify = !mnctl_opts.no_verify};
	struct mnctl_sth sth;
	uint64_t start, end;
	int ret;

	if (argc != 2 || !parse_u64_arg(argv[0], &start) || !parse_u64_arg(argv[1], &end) ||
	    start > end || end == UINT64_MAX)
		return mnctl_fail(MNCTL_EUSAGE, "get-entries START END (inclusive, START <= END)");
	ret = mnctl_load_key(m);
	if (ret == MNCTL_OK)
		ret = mnctl_fetch_sth_checked(m, &sth);
	if (ret != MNCTL_OK)
		return ret;
	if (start >= sth.tree_size)
		return mnctl_fail(MNCTL_EUSAGE, "START is beyond the tree size %" PRIu64,
				  sth.tree_size);
	if (end >= sth.tree_size)
		end = sth.tree_size - 1;
	c.sth = &sth;
	return mnctl_fetch_entries(m, start, end + 1, mnctl_opts.batch, on_entry, &c);
}

/* --- prove --------------------------------------------------------------- */

/* cert_der: a certificate file in PEM or DER, as DER (malloc'd). */
static int cert_der(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	BIO *bio;
	X509 *x;
	unsigned char *der = NULL;
	int n;

	if (in_len < 11 || memcmp(in, "-----BEGIN", 10) != 0) {
		*out = malloc(in_len);
		if (*out == NULL)
			return 0;
		memcpy(*out, in, in_len);
		*out_len = in_len;
		return 1;
	}
	bio = BIO_new_mem_buf(in, (int)in_len);
	x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	n = x ? i2d_X509(x, &der) : -1;
	BIO_free(bio);
	X509_free(x);
	if (n <= 0)
		return 0;
	*out = malloc((size_t)n);
	if (*out != NULL)
		memcpy(*out, der, (size_t)n);
	*out_len = (size_t)n;
	OPENSSL_free(der);
	return *out != NULL;
}

/* sct_from_file reads a SignedCertificateTimestampList (or one bare SCT) and
 * returns its first SCT; |out| borrows from |buf|. */
static int sct_from_file(struct ct_sct *out, const uint8_t *buf, size_t len)
{
	struct cbs cbs, list, one;

	if (ct_parse_sct(out, buf, len))
		return 1;
	cbs_init(&cbs, buf, len);
	return cbs_get_u16_length_prefixed(&cbs, &list) && cbs_len(&cbs) == 0 &&
	       cbs_get_u16_length_prefixed(&list, &one) &&
	       ct_parse_sct(out, cbs_data(&one), cbs_len(&one));
}

static int parse_hash_arg(const char *s, uint8_t out[32])
{
	size_t n = strlen(s);
	uint8_t *p;
	size_t l;

	if (n == 64) {
		for (size_t i = 0; i < 32; i++) {
			unsigned v;
			if (sscanf(s + 2 * i, "%2x", &v) != 1)
				return 0;
			out[i] = (uint8_t)v;
		}
		return 1;
	}
	if (mn_b64_decode(&p, &l, s, n, 32) != 0)
		return 0;
	if (l != 32) {
		free(p);
		return 0;
	}
	memcpy(out, p, 32);
	free(p);
	return 1;
}

int mnctl_cmd_prove(struct mnctl *m, int argc, char **argv)
{
	uint8_t hash[32], *file = NULL, *sctbuf = NULL, *der = NULL, *leaf = NULL;
	size_t file_len, sct_len, der_len, leaf_len;
	uint64_t ts = 0, index;
	struct mnctl_sth sth;
	struct mnctl_entry e;
	int ret, found;
	char hex[65];

	if ((mnctl_opts.hash != NULL) == (argc == 1) || argc > 1)
		return mnctl_fail(MNCTL_EUSAGE, "prove LEAF | prove --hash HASH");
	ret = mnctl_load_key(m);
	if (ret != MNCTL_OK)
		return ret;
	if (mnctl_opts.hash != NULL) {
		if (!parse_hash_arg(mnctl_opts.hash, hash))
			return mnctl_fail(MNCTL_EUSAGE, "--hash wants 32 bytes in base64 or hex");
	} else {
		ret = mnctl_read_file(argv[0], 1u << 25, &file, &file_len);
		if (ret != MNCTL_OK)
			return ret;
		if (mnctl_opts.sct_in == NULL) {
			/* A MerkleTreeLeaf, as add-chain --leaf wrote it. */
			if (!mnctl_entry_decode(&e, 0, file, file_len)) {
				free(file);
				return mnctl_fail(MNCTL_EUSAGE,
						  "%s is not a MerkleTreeLeaf (give a "
						  "certificate with --sct FILE)", argv[0]);
			}
			ts = e.timestamp;
			mnctl_entry_cleanup(&e);
			merkle_leaf_hash(m->h, hash, file, file_len);
		} else {
			/* A certificate and its SCT: the x509_entry leaf. */
			struct ct_sct sct;
			struct ct_entry ce = {.entry_type = CT_X509_ENTRY};
			struct cbb b;
			ret = mnctl_read_file(mnctl_opts.sct_in, 65536, &sctbuf, &sct_len);
			if (ret != MNCTL_OK)
				goto out;
			if (!sct_from_file(&sct, sctbuf, sct_len) ||
			    !cert_der(file, file_len, &der, &der_len)) {
				ret = mnctl_fail(MNCTL_EUSAGE, "cannot read the certificate or SCT");
				goto out;
			}
			ce.timestamp = ts = sct.timestamp;
			ce.body = der;
			ce.body_len = der_len;
			ce.extensions = sct.extensions;
			ce.extensions_len = sct.extensions_len;
			if (!cbb_init(&b, der_len + 64, der_len + 70000) || !ct_write_leaf(&b, &ce) ||
			    !cbb_finish(&b, &leaf, &leaf_len)) {
				cbb_cleanup(&b);
				ret = mnctl_fail(MNCTL_EUSAGE, "cannot build the leaf");
				goto out;
			}
			merkle_leaf_hash(m->h, hash, leaf, leaf_len);
		}
	}
	if (mnctl_opts.tree_size != 0)
		ret = mnctl_history_find(m, mnctl_opts.tree_size, &sth);
	else
		ret = mnctl_fetch_sth_checked(m, &sth);
	if (ret != MNCTL_OK)
		goto out;
	ret = mnctl_prove_hash(m, &sth, hash, &index, &found);
	if (ret != MNCTL_OK)
		goto out;
	mnctl_hex(hex, hash, 32);
	if (found && (leaf != NULL || file != NULL)) {
		/* static-ct-api: a leaf that names its index must be there */
		struct ct_entry ce;
		const uint8_t *l = leaf != NULL ? leaf : file;
		size_t ll = leaf != NULL ? leaf_len : file_len;
		if (ct_parse_leaf(&ce, l, ll) &&
		    !ct_extensions_match_index(ce.extensions, ce.extensions_len, index)) {
			ret = mnctl_fail(MNCTL_EVERIFY, "leaf %s is entry %" PRIu64 " of the tree, "
					 "but its extensions are not that leaf_index", hex, index);
			goto out;
		}
	}
	if (!found) {
		/* Section 3: a log must include an entry within the MMD of its SCT. */
		if (ts != 0 && sth.timestamp > ts + mnctl_log_mmd(m) * 1000)
			ret = mnctl_fail(MNCTL_EVERIFY,
					 "leaf %s is not in the tree of size %" PRIu64
					 " although its SCT is older than the MMD", hex,
					 sth.tree_size);
		else
			ret = mnctl_fail(MNCTL_ENET, "leaf %s is not in the tree of size %" PRIu64,
					 hex, sth.tree_size);
		goto out;
	}
	if (m->json) {
		json_t *o = json_object();
		json_object_set_new(o, "leaf_hash", mnctl_json_b64_new(hash, 32));
		json_object_set_new(o, "leaf_index", json_integer((json_int_t)index));
		json_object_set_new(o, "tree_size", json_integer((json_int_t)sth.tree_size));
		json_object_set_new(o, "included", json_true());
		mnctl_print_json(o);
	} else {
		printf("leaf %s is entry %" PRIu64 " of the tree of size %" PRIu64
		       ": inclusion verified\n", hex, index, sth.tree_size);
	}
	ret = MNCTL_OK;
out:
	free(file);
	free(sctbuf);
	free(der);
	free(leaf);
	return ret;
}
