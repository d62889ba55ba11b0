/* log.c: what mnctl knows about a log (its pinned key, the STHs it has seen)
 * and the verified reads every command builds on. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "client/mnctl.h"
#include "common/b64.h"
#include "common/file.h"

/* --- files --------------------------------------------------------------- */

int mnctl_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	*out = NULL;
	*out_len = 0;
	if (f == NULL)
		return mnctl_fail(MNCTL_ELOCAL, "cannot open %s: %s", path, strerror(errno));
	for (;;) {
		size_t n;
		if (len + 1 >= cap) {
			uint8_t *p;
			cap = cap ? cap * 2 : 4096;
			p = realloc(buf, cap);
			if (p == NULL)
				goto oom;
			buf = p;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (len > max) {
			fclose(f);
			free(buf);
			return mnctl_fail(MNCTL_ELOCAL, "%s is larger than %zu bytes", path, max);
		}
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return mnctl_fail(MNCTL_ELOCAL, "cannot read %s", path);
	}
	fclose(f);
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return MNCTL_OK;
oom:
	fclose(f);
	free(buf);
	return mnctl_fail(MNCTL_ELOCAL, "out of memory");
}

int mnctl_mkdirs(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return mnctl_fail(MNCTL_ELOCAL, "bad directory name");
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return mnctl_fail(MNCTL_ELOCAL, "cannot create %s: %s", buf,
					  strerror(errno));
		buf[i] = i == n ? '\0' : '/';
	}
	return MNCTL_OK;
}

int mnctl_write_file_atomic(const char *path, const uint8_t *data, size_t len)
{
	char tmp[4200], dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, dfd;

	if (strlen(path) >= sizeof(dir))
		return mnctl_fail(MNCTL_ELOCAL, "file name too long");
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return mnctl_fail(MNCTL_ELOCAL, "cannot create %s: %s", tmp, strerror(errno));
	if (mn_write_sync(fd, data, len) != 0)
		goto err;
	close(fd);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return mnctl_fail(MNCTL_ELOCAL, "cannot rename %s: %s", tmp, strerror(errno));
	}
	/* The rename itself must reach the disk too. */
	if (slash == NULL) {
		dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		dfd = open(slash == path ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return MNCTL_OK;
err:
	close(fd);
	unlink(tmp);
	return mnctl_fail(MNCTL_ELOCAL, "cannot write %s: %s", tmp, strerror(errno));
}

/* --- the key ------------------------------------------------------------- */

/* key_to_der accepts a PEM "PUBLIC KEY" or a DER SubjectPublicKeyInfo. */
static int key_to_der(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	*out = NULL;
	if (in_len > 10 && memcmp(in, "-----BEGIN", 10) == 0) {
		BIO *bio = BIO_new_mem_buf(in, (int)in_len);
		EVP_PKEY *pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
		unsigned char *der = NULL;
		int n = pk ? i2d_PUBKEY(pk, &der) : -1;
		BIO_free(bio);
		EVP_PKEY_free(pk);
		if (n <= 0)
			return 0;
		*out = malloc((size_t)n);
		if (*out != NULL)
			memcpy(*out, der, (size_t)n);
		OPENSSL_free(der);
		*out_len = (size_t)n;
		return *out != NULL;
	}
	*out = malloc(in_len ? in_len : 1);
	if (*out == NULL)
		return 0;
	memcpy(*out, in, in_len);
	*out_len = in_len;
	return 1;
}

int mnctl_load_key(struct mnctl *m)
{
	char path[4200];
	uint8_t *raw = NULL, *der = NULL;
	size_t raw_len, der_len;
	int ret;

	if (m->v != NULL)
		return MNCTL_OK;
	if (m->key_file != NULL) {
		ret = mnctl_read_file(m->key_file, 65536, &raw, &raw_len);
		if (ret != MNCTL_OK)
			return ret;
	} else {
		struct stat st;
		snprintf(path, sizeof(path), "%s/key.der", m->log_dir);
		if (stat(path, &st) != 0)
			return mnctl_fail(MNCTL_ELOCAL,
					  "no pinned key for %s: run `mnctl info %s "
					  "--trust-on-first-use` or give --key FILE",
					  m->url, m->url);
		ret = mnctl_read_file(path, 65536, &raw, &raw_len);
		if (ret != MNCTL_OK)
			return ret;
	}
	if (!key_to_der(raw, raw_len, &der, &der_len) ||
	    (m->v = ct_verifier_new(der, der_len)) == NULL) {
		free(raw);
		free(der);
		return mnctl_fail(MNCTL_ELOCAL, "%s: not a P-256 public key",
				  m->key_file ? m->key_file : path);
	}
	memcpy(m->log_id, ct_verifier_log_id(m->v), CT_LOG_ID_LEN);
	free(raw);
	free(der);
	return MNCTL_OK;
}

/* --- STHs ---------------------------------------------------------------- */

int mnctl_sth_from_json(struct mnctl *m, const json_t *j, struct mnctl_sth *out)
{
	uint8_t *sig = NULL;
	size_t sig_len;
	struct cbs cbs;
	char hex[65];

	memset(out, 0, sizeof(*out));
	if (!mnctl_json_u64(j, "tree_size", &out->tree_size) ||
	    !mnctl_json_u64(j, "timestamp", &out->timestamp) ||
	    !mnctl_json_b64_fixed(j, "sha256_root_hash", out->root, MERKLE_HASH_LEN) ||
	    !mnctl_json_b64(j, "tree_head_signature", &sig, &sig_len, 256))
		goto malformed;
	cbs_init(&cbs, sig, sig_len);
	if (!ct_parse_sig(&out->sig, &cbs) || cbs_len(&cbs) != 0)
		goto malformed;
	free(sig);
	if (!ct_verify_sth(m->v, &out->sig, out->timestamp, out->tree_size, out->root)) {
		mnctl_hex(hex, out->root, MERKLE_HASH_LEN);
		return mnctl_fail(MNCTL_EVERIFY,
				  "STH signature does not verify with the pinned key "
				  "(tree_size %" PRIu64 ", root %s)",
				  out->tree_size, hex);
	}
	return MNCTL_OK;
malformed:
	free(sig);
	return mnctl_fail(MNCTL_ENET, "malformed STH");
}

json_t *mnctl_sth_to_json(const struct mnctl *m, const struct mnctl_sth *s)
{
	struct cbb b;
	json_t *j = json_object();

	if (j == NULL)
		return NULL;
	json_object_set_new(j, "tree_size", json_integer((json_int_t)s->tree_size));
	json_object_set_new(j, "timestamp", json_integer((json_int_t)s->timestamp));
	json_object_set_new(j, "sha256_root_hash", mnctl_json_b64_new(s->root, 32));
	if (cbb_init(&b, 128, 256) && ct_write_sig(&b, &s->sig))
		json_object_set_new(j, "tree_head_signature",
				    mnctl_json_b64_new(cbb_data(&b), cbb_len(&b)));
	cbb_cleanup(&b);
	json_object_set_new(j, "log_id", mnctl_json_b64_new(m->log_id, CT_LOG_ID_LEN));
	return j;
}

int mnctl_fetch_sth(struct mnctl *m, struct mnctl_sth *out)
{
	json_t *j;
	int ret = mnctl_get_json(m, "/ct/v1/get-sth", &j, NULL);

	if (ret != MNCTL_OK)
		return ret;
	ret = mnctl_sth_from_json(m, j, out);
	json_decref(j);
	return ret;
}

int mnctl_verify_consistency(struct mnctl *m, uint64_t size1,
			     const uint8_t root1[MERKLE_HASH_LEN], uint64_t size2,
			     const uint8_t root2[MERKLE_HASH_LEN])
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	char path[128];
	json_t *j, *arr;
	size_t num;
	int ret;

	if (size1 > size2)
		return mnctl_fail(MNCTL_EVERIFY, "tree shrank from %" PRIu64 " to %" PRIu64
				  " leaves", size1, size2);
	if (size1 == size2) {
		if (memcmp(root1, root2, MERKLE_HASH_LEN) != 0)
			return mnctl_fail(MNCTL_EVERIFY,
					  "two different roots for tree size %" PRIu64
					  " (the log forked)", size1);
		return MNCTL_OK;
	}
	if (size1 == 0)
		return MNCTL_OK; /* the empty tree is a prefix of every tree */
	snprintf(path, sizeof(path), "/ct/v1/get-sth-consistency?first=%" PRIu64
		 "&second=%" PRIu64, size1, size2);
	ret = mnctl_get_json(m, path, &j, NULL);
	if (ret != MNCTL_OK)
		return ret;
	arr = json_object_get(j, "consistency");
	num = json_array_size(arr);
	if (!json_is_array(arr) || num > MERKLE_MAX_PROOF) {
		json_decref(j);
		return mnctl_fail(MNCTL_ENET, "malformed consistency proof");
	}
	for (size_t i = 0; i < num; i++) {
		uint8_t *p;
		size_t l;
		if (!mnctl_json_b64_value(json_array_get(arr, i), &p, &l, 32) || l != 32) {
			free(p);
			json_decref(j);
			return mnctl_fail(MNCTL_ENET, "malformed consistency proof element");
		}
		memcpy(proof[i], p, 32);
		free(p);
	}
	json_decref(j);
	if (!merkle_verify_consistency(m->h, size1, size2, root1, root2,
				       (const uint8_t(*)[MERKLE_HASH_LEN])proof, num))
		return mnctl_fail(MNCTL_EVERIFY,
				  "consistency proof from tree size %" PRIu64
				  " to %" PRIu64 " does not verify (the log forked or "
				  "rewrote history)", size1, size2);
	return MNCTL_OK;
}

/* url_b64 percent-encodes a base64 string for a query parameter; |out| holds
 * 3 * 44 + 1 bytes. */
static void url_b64(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789ABCDEF";
	char b64[64];
	size_t n = mn_b64_encode(b64, in, len), o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b64[i];
		if (c == '+' || c == '/' || c == '=') {
			out[o++] = '%';
			out[o++] = digits[c >> 4];
			out[o++] = digits[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

int mnctl_prove_hash(struct mnctl *m, const struct mnctl_sth *sth,
		     const uint8_t leaf_hash[MERKLE_HASH_LEN], uint64_t *out_index,
		     int *out_found)
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	char path[256], h64[3 * 44 + 1], hex[65];
	json_t *j, *arr;
	long status;
	size_t num;
	int ret;

	*out_found = 0;
	if (sth->tree_size == 0)
		return MNCTL_OK;
	url_b64(h64, leaf_hash, MERKLE_HASH_LEN);
	snprintf(path, sizeof(path), "/ct/v1/get-proof-by-hash?hash=%s&tree_size=%" PRIu64,
		 h64, sth->tree_size);
	ret = mnctl_get_json(m, path, &j, &status);
	if (ret != MNCTL_OK)
		return ret;
	if (j == NULL) {
		if (status == 404)
			return MNCTL_OK;
		return mnctl_fail(MNCTL_ENET, "get-proof-by-hash: HTTP %ld", status);
	}
	arr = json_object_get(j, "audit_path");
	num = json_array_size(arr);
	if (!mnctl_json_u64(j, "leaf_index", out_index) || !json_is_array(arr) ||
	    num > MERKLE_MAX_PROOF) {
		json_decref(j);
		return mnctl_fail(MNCTL_ENET, "malformed inclusion proof");
	}
	for (size_t i = 0; i < num; i++) {
		uint8_t *p;
		size_t l;
		if (!mnctl_json_b64_value(json_array_get(arr, i), &p, &l, 32) || l != 32) {
			free(p);
			json_decref(j);
			return mnctl_fail(MNCTL_ENET, "malformed inclusion proof element");
		}
		memcpy(proof[i], p, 32);
		free(p);
	}
	json_decref(j);
	if (!merkle_verify_inclusion(m->h, leaf_hash, *out_index, sth->tree_size,
				     (const uint8_t(*)[MERKLE_HASH_LEN])proof, num,
				     sth->root)) {
		mnctl_hex(hex, leaf_hash, MERKLE_HASH_LEN);
		return mnctl_fail(MNCTL_EVERIFY,
				  "inclusion proof for leaf hash %s (index %" PRIu64
				  ") in the tree of size %" PRIu64 " does not verify",
				  hex, *out_index, sth->tree_size);
	}
	*out_found = 1;
	return MNCTL_OK;
}

/* --- STH history --------------------------------------------------------- */

static int sth_file_write(struct mnctl *m, const char *path, const struct mnctl_sth *s)
{
	json_t *j = mnctl_sth_to_json(m, s);
	char *text = j ? json_dumps(j, JSON_INDENT(1)) : NULL;
	int ret;

	json_decref(j);
	if (text == NULL)
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	ret = mnctl_write_file_atomic(path, (const uint8_t *)text, strlen(text));
	free(text);
	return ret;
}

int mnctl_sth_load_file(struct mnctl *m, const char *path, struct mnctl_sth *out)
{
	uint8_t *text;
	size_t len;
	json_t *j;
	json_error_t jerr;
	uint8_t id[CT_LOG_ID_LEN];
	int ret = mnctl_read_file(path, 1 << 16, &text, &len);

	if (ret != MNCTL_OK)
		return ret;
	j = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!json_is_object(j)) {
		json_decref(j);
		return mnctl_fail(MNCTL_ELOCAL, "%s: not an STH", path);
	}
	if (json_object_get(j, "log_id") != NULL &&
	    (!mnctl_json_b64_fixed(j, "log_id", id, sizeof(id)) ||
	     memcmp(id, m->log_id, sizeof(id)) != 0)) {
		json_decref(j);
		return mnctl_fail(MNCTL_ELOCAL, "%s: an STH of another log", path);
	}
	ret = mnctl_sth_from_json(m, j, out);
	json_decref(j);
	if (ret == MNCTL_ENET)
		return mnctl_fail(MNCTL_ELOCAL, "%s: not an STH", path);
	return ret;
}

int mnctl_history_save(struct mnctl *m, const struct mnctl_sth *s)
{
	char dir[4200], path[4300];
	int ret;

	snprintf(dir, sizeof(dir), "%s/sths", m->log_dir);
	ret = mnctl_mkdirs(dir);
	if (ret != MNCTL_OK)
		return ret;
	snprintf(path, sizeof(path), "%s/%020" PRIu64 ".json", dir, s->tree_size);
	return sth_file_write(m, path, s);
}

int mnctl_history_find(struct mnctl *m, uint64_t size, struct mnctl_sth *out)
{
	char path[4300];
	struct stat st;

	snprintf(path, sizeof(path), "%s/sths/%020" PRIu64 ".json", m->log_dir, size);
	if (stat(path, &st) != 0)
		return mnctl_fail(MNCTL_ELOCAL,
				  "no saved STH of size %" PRIu64 " for %s (see `mnctl sth`)",
				  size, m->url);
	return mnctl_sth_load_file(m, path, out);
}

int mnctl_history_latest(struct mnctl *m, struct mnctl_sth *out, int *found)
{
	char dir[4200];
	DIR *d;
	struct dirent *de;
	uint64_t best = 0;

	*found = 0;
	snprintf(dir, sizeof(dir), "%s/sths", m->log_dir);
	d = opendir(dir);
	if (d == NULL)
		return MNCTL_OK;
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long v;
		if (strlen(de->d_name) != 25 || strcmp(de->d_name + 20, ".json") != 0)
			continue;
		v = strtoull(de->d_name, &end, 10);
		if (end != de->d_name + 20)
			continue;
		if (!*found || v > best)
			best = v;
		*found = 1;
	}
	closedir(d);
	if (!*found)
		return MNCTL_OK;
	return mnctl_history_find(m, best, out);
}

int mnctl_sth_check_history(struct mnctl *m, const struct mnctl_sth *sth)
{
	struct mnctl_sth old;
	int found, ret = mnctl_history_latest(m, &old, &found);

	if (ret != MNCTL_OK)
		return ret;
	if (found) {
		/* A log may serve an older STH from a lagging replica; it must
		 * still be a prefix of the newest one we saw. */
		if (old.tree_size <= sth->tree_size)
			ret = mnctl_verify_consistency(m, old.tree_size, old.root,
						       sth->tree_size, sth->root);
		else
			ret = mnctl_verify_consistency(m, sth->tree_size, sth->root,
						       old.tree_size, old.root);
		if (ret != MNCTL_OK)
			return ret;
	}
	return mnctl_history_save(m, sth);
}

int mnctl_fetch_sth_checked(struct mnctl *m, struct mnctl_sth *out)
{
	int ret = mnctl_fetch_sth(m, out);

	if (ret != MNCTL_OK)
		return ret;
	return mnctl_sth_check_history(m, out);
}

int mnctl_verify_audit_path(struct mnctl *m, const struct mnctl_sth *sth,
			    const json_t *path, const uint8_t leaf_hash[MERKLE_HASH_LEN],
			    uint64_t index)
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t num = json_array_size(path);
	char hex[65];

	if (!json_is_array(path) || num > MERKLE_MAX_PROOF)
		return mnctl_fail(MNCTL_ENET, "malformed audit path for entry %" PRIu64, index);
	for (size_t i = 0; i < num; i++) {
		uint8_t *p;
		size_t l;
		if (!mnctl_json_b64_value(json_array_get(path, i), &p, &l, 32) || l != 32) {
			free(p);
			return mnctl_fail(MNCTL_ENET, "malformed audit path element for entry %"
					  PRIu64, index);
		}
		memcpy(proof[i], p, 32);
		free(p);
	}
	if (index >= sth->tree_size ||
	    !merkle_verify_inclusion(m->h, leaf_hash, index, sth->tree_size,
				     (const uint8_t(*)[MERKLE_HASH_LEN])proof, num, sth->root)) {
		mnctl_hex(hex, leaf_hash, MERKLE_HASH_LEN);
		return mnctl_fail(MNCTL_EVERIFY,
				  "inclusion proof for entry %" PRIu64 " (leaf hash %s) in the "
				  "tree of size %" PRIu64 " does not verify (the log altered "
				  "the entry's leaf_input or its audit path)",
				  index, hex, sth->tree_size);
	}
	return MNCTL_OK;
}

uint64_t mnctl_log_mmd(struct mnctl *m)
{
	char path[4200];
	uint8_t *text;
	size_t len;
	uint64_t mmd = 60;
	json_t *j;
	json_error_t jerr;
	FILE *f;

	snprintf(path, sizeof(path), "%s/info.json", m->log_dir);
	f = fopen(path, "rb");
	if (f == NULL)
		return mmd;
	fclose(f);
	if (mnctl_read_file(path, 1 << 16, &text, &len) != MNCTL_OK)
		return mmd;
	j = json_loadb((const char *)text, len, 0, &jerr);
	free(text);
	if (!mnctl_json_u64(j, "mmd", &mmd) || mmd > 86400 * 7)
		mmd = 60;
	json_decref(j);
	return mmd;
}
