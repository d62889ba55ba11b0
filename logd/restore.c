/* restore.c: see restore.h. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <zlib.h>

#include "api/api.h"
#include "common/bytes.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/note.h"
#include "entry/tileleaf.h"
#include "logd/keys.h"
#include "logd/objstore.h"
#include "logd/restore.h"
#include "storage/storage.h"

#define MAX_TILE (64u << 20)
#define MAX_RAW_TILE (256u << 20)
#define MAX_ISSUER (1u << 20)

struct issuer {
	uint8_t fp[32];
	uint8_t *der;
	size_t len;
};

struct restore {
	struct objstore *os;
	struct store *st;
	struct merkle_hasher *h;
	struct merkle_range range;
	struct store_sth sth;   /* the checkpoint's */
	uint64_t size;
	struct issuer *iss;
	size_t num_iss, cap_iss;
	char err[1024];
};

__attribute__((format(printf, 3, 4))) static int fail(struct restore *r, int ret,
						     const char *fmt, ...);
static int fail(struct restore *r, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return ret != 0 ? ret : MN_EINVAL;
}

static int gunzip(uint8_t **out, size_t *out_len, const uint8_t *in, size_t in_len)
{
	z_stream z;
	size_t cap = in_len * 4 + 1024;
	uint8_t *buf;
	int zr;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return MN_ENOMEM;
	buf = malloc(cap);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)in_len;
	for (;;) {
		if (buf == NULL) {
			inflateEnd(&z);
			return MN_ENOMEM;
		}
		z.next_out = buf + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		zr = inflate(&z, Z_FINISH);
		if (zr == Z_STREAM_END)
			break;
		if ((zr != Z_BUF_ERROR && zr != Z_OK) || z.avail_in == 0 || cap >= MAX_RAW_TILE) {
			free(buf);
			inflateEnd(&z);
			return MN_EMALFORMED;
		}
		cap *= 2;
		uint8_t *nb = realloc(buf, cap);
		if (nb == NULL)
			free(buf);
		buf = nb;
	}
	if (z.avail_in != 0) {
		free(buf);
		inflateEnd(&z);
		return MN_EMALFORMED;
	}
	*out = buf;
	*out_len = z.total_out;
	inflateEnd(&z);
	return 0;
}

/* issuer_get: the certificate with SHA-256 |fp|, fetched once and checked. */
static int issuer_get(struct restore *r, const uint8_t fp[32], const struct issuer **out)
{
	char path[80];
	uint8_t *der = NULL, md[32];
	size_t len = 0;
	int ret;

	for (size_t i = 0; i < r->num_iss; i++)
		if (memcmp(r->iss[i].fp, fp, 32) == 0) {
			*out = &r->iss[i];
			return 0;
		}
	memcpy(path, "/issuer/", 8);
	for (size_t k = 0; k < 32; k++)
		snprintf(path + 8 + 2 * k, 3, "%02x", fp[k]);
	ret = objstore_get(r->os, path, MAX_ISSUER, &der, &len, r->err, sizeof(r->err));
	if (ret != 0)
		return r->err[0] != '\0' ? ret : fail(r, ret, "%s: %s", path, mn_strerror(ret));
	SHA256(der, len, md);
	if (len == 0 || memcmp(md, fp, 32) != 0) {
		free(der);
		return fail(r, MN_ECORRUPT, "%s: the certificate's SHA-256 is not its name", path);
	}
	if (r->num_iss == r->cap_iss) {
		size_t cap = r->cap_iss != 0 ? r->cap_iss * 2 : 16;
		struct issuer *n = realloc(r->iss, cap * sizeof(*n));
		if (n == NULL) {
			free(der);
			return MN_ENOMEM;
		}
		r->iss = n;
		r->cap_iss = cap;
	}
	memcpy(r->iss[r->num_iss].fp, fp, 32);
	r->iss[r->num_iss].der = der;
	r->iss[r->num_iss].len = len;
	*out = &r->iss[r->num_iss++];
	return 0;
}

/* extra_data of a type 0/1 leaf: [pre_certificate] then the chain, RFC 6962
 * section 4.6. */
static int add_u24_bytes(struct cbb *b, const uint8_t *p, size_t len)
{
	return len < (1u << 24) && cbb_add_u24(b, (uint32_t)len) && cbb_add_bytes(b, p, len);
}

static int make_extra(struct restore *r, const struct tileleaf *tl, struct cbb *b)
{
	struct cbb chain;
	int ret;

	if (tl->entry_type == 1 &&
	    !add_u24_bytes(b, tl->pre_certificate, tl->pre_certificate_len))
		return MN_ENOMEM;
	if (!cbb_add_u24_length_prefixed(b, &chain))
		return MN_ENOMEM;
	for (size_t i = 0; i < tl->num_fps; i++) {
		const struct issuer *is = NULL;
		ret = issuer_get(r, tl->fps + 32 * i, &is);
		if (ret != 0)
			return ret;
		if (!add_u24_bytes(&chain, is->der, is->len))
			return MN_ENOMEM;
	}
	return cbb_flush(b) ? 0 : MN_ENOMEM;
}

/* one data tile: leaves [256n, 256n + width) appended in one batch */
static int restore_tile(struct restore *r, uint64_t n, unsigned width)
{
	char path[API_MAX_OBJECT_PATH];
	uint8_t *gz = NULL, *raw = NULL;
	size_t gz_len = 0, raw_len = 0;
	struct store_leaf leaves[256];
	struct api_leaf_index idx[256];
	uint8_t *bufs[256] = {0};
	struct store_sth sth;
	struct cbs c;
	int ret = 0;

	memset(leaves, 0, sizeof(leaves));
	memset(idx, 0, sizeof(idx));
	api_tile_path(path, sizeof(path), -1, n, width);
	ret = objstore_get(r->os, path, MAX_TILE, &gz, &gz_len, r->err, sizeof(r->err));
	if (ret != 0) {
		if (r->err[0] == '\0')
			fail(r, ret, "%s: %s", path, mn_strerror(ret));
		return ret;
	}
	ret = gunzip(&raw, &raw_len, gz, gz_len);
	free(gz);
	if (ret != 0)
		return fail(r, ret, "%s: not a gzip stream", path);
	cbs_init(&c, raw, raw_len);
	for (unsigned i = 0; i < width && ret == 0; i++) {
		uint64_t index = n * 256 + i, li;
		struct tileleaf tl;
		struct ct_entry e;
		struct cbb b;
		uint8_t *extra = NULL;
		size_t extra_len = 0;
		int has = 0;

		if (!tileleaf_parse(&tl, &c)) {
			ret = fail(r, MN_EMALFORMED, "%s: entry %u does not parse", path, i);
			break;
		}
		/* the MerkleTreeLeaf: version v1, timestamped_entry, then the TE */
		if (!cbb_init(&b, tl.te_len + 2 + 4096, SIZE_MAX) || !cbb_add_u8(&b, 0) ||
		    !cbb_add_u8(&b, 0) || !cbb_add_bytes(&b, tl.te, tl.te_len) ||
		    !cbb_finish(&b, &bufs[i], &leaves[i].leaf_input_len)) {
			cbb_cleanup(&b);
			ret = MN_ENOMEM;
			break;
		}
		leaves[i].leaf_input = bufs[i];
		if (!ct_parse_leaf(&e, bufs[i], leaves[i].leaf_input_len) ||
		    !ct_parse_extensions(e.extensions, e.extensions_len, &has, &li) || !has ||
		    li != index) {
			ret = fail(r, MN_ECORRUPT, "%s: entry %u does not carry leaf_index %" PRIu64
				   " (only logs of the leaf_index format can be restored)",
				   path, i, index);
			break;
		}
		if (tl.entry_type == 0 || tl.entry_type == 1) {
			if (!cbb_init(&b, 8192, SIZE_MAX)) {
				ret = MN_ENOMEM;
				break;
			}
			ret = make_extra(r, &tl, &b);
			if (ret == 0 && !cbb_finish(&b, &extra, &extra_len))
				ret = MN_ENOMEM;
			if (ret != 0) {
				cbb_cleanup(&b);
				break;
			}
		} else {
			extra = malloc(tl.extra_len + 1);
			if (extra == NULL) {
				ret = MN_ENOMEM;
				break;
			}
			memcpy(extra, tl.extra, tl.extra_len);
			extra_len = tl.extra_len;
		}
		if (!tileleaf_matches(&tl, leaves[i].leaf_input, leaves[i].leaf_input_len, extra,
				      extra_len)) {
			free(extra);
			ret = fail(r, MN_ECORRUPT, "%s: entry %u: the rebuilt entry does not match "
				   "its TileLeaf", path, i);
			break;
		}
		/* the leaf and its extra_data in one buffer */
		{
			uint8_t *both = realloc(bufs[i], leaves[i].leaf_input_len + extra_len + 1);
			if (both == NULL) {
				free(extra);
				ret = MN_ENOMEM;
				break;
			}
			memcpy(both + leaves[i].leaf_input_len, extra, extra_len);
			free(extra);
			bufs[i] = both;
			leaves[i].leaf_input = both;
			leaves[i].extra = both + leaves[i].leaf_input_len;
			leaves[i].extra_len = extra_len;
		}
		merkle_leaf_hash(r->h, leaves[i].leaf_hash, leaves[i].leaf_input,
				 leaves[i].leaf_input_len);
		/* what the log filed the entry under: its dedup key, lookup
		 * index keys and policy head, by the submission handlers' code
		 * (api/reindex.c) */
		ret = api_leaf_index(&idx[i], r->h, leaves[i].leaf_input, leaves[i].leaf_input_len,
				     leaves[i].leaf_hash, leaves[i].extra, leaves[i].extra_len);
		if (ret != 0) {
			ret = fail(r, ret == MN_EMALFORMED ? MN_ECORRUPT : ret, "%s: entry %u: "
				   "cannot rebuild what it is indexed under: %s", path, i,
				   mn_strerror(ret));
			break;
		}
		if (idx[i].has_dedup) {
			memcpy(leaves[i].dedup_key, idx[i].dedup_key, 32);
		} else {
			/* not derivable (an OpenPGP endorsement's needs its
			 * opening): a key that can never collide with a real one */
			static const char tag[] = "metanotary restored leaf";
			uint8_t tmp[sizeof(tag) - 1 + 32];
			memcpy(tmp, tag, sizeof(tag) - 1);
			memcpy(tmp + sizeof(tag) - 1, leaves[i].leaf_hash, 32);
			merkle_sha256(r->h, leaves[i].dedup_key, tmp, sizeof(tmp));
		}
		leaves[i].keys = idx[i].keys;
		leaves[i].num_keys = idx[i].num_keys;
		leaves[i].policy_key = idx[i].policy_key;
		leaves[i].policy_key_len = idx[i].policy_key_len;
		leaves[i].policy_serial = idx[i].policy_serial;
		if (merkle_range_append(&r->range, r->h, leaves[i].leaf_hash, NULL, NULL) != 0)
			ret = MN_EINVAL;
	}
	if (ret == 0 && cbs_len(&c) != 0)
		ret = fail(r, MN_EMALFORMED, "%s: bytes after entry %u", path, width);
	if (ret == 0) {
		sth = r->sth;
		sth.tree_size = r->range.size;
		merkle_range_root(&r->range, r->h, sth.root);
		if (sth.tree_size == r->size && memcmp(sth.root, r->sth.root, 32) != 0)
			ret = fail(r, MN_ECORRUPT, "the data tiles do not make the checkpoint's "
				   "tree: root at size %" PRIu64 " differs", r->size);
	}
	if (ret == 0) {
		ret = store_append_batch(r->st, leaves, width, &sth);
		if (ret != 0)
			fail(r, ret, "%s: cannot store the entries: %s", path, mn_strerror(ret));
	}
	for (unsigned i = 0; i < width; i++) {
		free(bufs[i]);
		api_leaf_index_cleanup(&idx[i]);
	}
	free(raw);
	return ret;
}

/* every hash tile at the checkpoint's size equals the restored tree's */
static int check_hash_tiles(struct restore *r)
{
	struct store_reader *rd;
	int ret = 0;

	for (unsigned l = 0; ret == 0 && l < 8; l++) {
		uint64_t nodes = r->size >> (8 * l);
		if (nodes == 0)
			break;
		for (uint64_t n = 0; ret == 0 && n <= (nodes - 1) >> 8; n++) {
			char path[API_MAX_OBJECT_PATH];
			unsigned w = nodes - n * 256 >= 256 ? 256 : (unsigned)(nodes - n * 256);
			uint8_t *got = NULL;
			size_t got_len = 0;
			const uint8_t *want;

			api_tile_path(path, sizeof(path), (int)l, n, w);
			ret = objstore_get(r->os, path, 256 * 32, &got, &got_len, r->err,
					   sizeof(r->err));
			if (ret != 0) {
				if (r->err[0] == '\0')
					fail(r, ret, "%s: %s", path, mn_strerror(ret));
				break;
			}
			ret = store_read_begin(r->st, &rd);
			if (ret == 0) {
				ret = store_r_tile(rd, l, n, w, &want);
				if (ret == 0 && (got_len != (size_t)w * 32 || memcmp(got, want, got_len) != 0))
					ret = fail(r, MN_ECORRUPT, "%s: the hash tile is not the "
						   "verified tree's", path);
				else if (ret != 0)
					fail(r, ret, "%s: cannot read the restored tile", path);
				store_read_end(rd);
			}
			free(got);
		}
	}
	return ret;
}

static void usage(void)
{
	fprintf(stderr, "usage: logd restore --from DIR|s3://BUCKET/PREFIX|https://URL --data DIR\n"
		"         [--key PEM] [--note-vkey VKEY]\n"
		"         [--endpoint URL] [--region R] [--credentials FILE]   (s3)\n");
}

static void remove_env(const char *dir)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
}

int logd_restore_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'},   {"data", required_argument, NULL, 'd'},
		{"key", required_argument, NULL, 'k'},    {"note-vkey", required_argument, NULL, 'v'},
		{"endpoint", required_argument, NULL, 'e'}, {"region", required_argument, NULL, 'r'},
		{"credentials", required_argument, NULL, 'c'}, {NULL, 0, NULL, 0},
	};
	struct objstore_options oo = {0};
	const char *data = NULL, *key = NULL, *vkey = NULL;
	char keypath[4200], mdb[4200], hex[65];
	struct restore r;
	struct ct_signer *signer = NULL;
	struct ct_verifier *ver = NULL;
	struct note_checkpoint cp;
	struct store_options so = {0};
	struct stat sb;
	uint8_t *cpbuf = NULL;
	size_t cplen = 0, spki_len;
	const uint8_t *spki;
	uint64_t ts;
	int o, ret, found = 0;

	memset(&r, 0, sizeof(r));
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'f': oo.url = optarg; break;
		case 'd': data = optarg; break;
		case 'k': key = optarg; break;
		case 'v': vkey = optarg; break;
		case 'e': oo.endpoint = optarg; break;
		case 'r': oo.region = optarg; break;
		case 'c': oo.credentials = optarg; break;
		default: usage(); return 2;
		}
	}
	if (optind != argc || oo.url == NULL || data == NULL) {
		usage();
		return 2;
	}
	snprintf(keypath, sizeof(keypath), "%s/log-key.pem", data);
	if (logd_key_load(&signer, key != NULL ? key : keypath, 0) != 0) {
		fprintf(stderr, "logd restore: the log's key %s is needed to verify the "
			"checkpoint (--key PEM)\n", key != NULL ? key : keypath);
		return 1;
	}
	snprintf(mdb, sizeof(mdb), "%s/data.mdb", data);
	if (stat(mdb, &sb) == 0) {
		fprintf(stderr, "logd restore: %s exists: restore only into a directory without "
			"a log\n", mdb);
		ct_signer_free(signer);
		return 1;
	}
	ret = objstore_new(&r.os, &oo, r.err, sizeof(r.err));
	if (ret != 0) {
		fprintf(stderr, "logd restore: %s\n", r.err);
		ct_signer_free(signer);
		return 2;
	}
	r.h = merkle_hasher_new();
	merkle_range_init(&r.range);
	spki = ct_signer_spki(signer, &spki_len);
	ver = ct_verifier_new(spki, spki_len);
	if (r.h == NULL || ver == NULL) {
		ret = MN_ENOMEM;
		goto out;
	}
	/* the checkpoint: parsed, then its signatures */
	ret = objstore_get(r.os, "/checkpoint", 4096, &cpbuf, &cplen, r.err, sizeof(r.err));
	if (ret != 0) {
		if (r.err[0] == '\0')
			fail(&r, ret, "checkpoint: %s", mn_strerror(ret));
		goto out;
	}
	if (note_parse_checkpoint(&cp, cpbuf, cplen) != 0) {
		ret = fail(&r, MN_EMALFORMED, "the checkpoint does not parse");
		goto out;
	}
	if (!note_verify_rfc6962(&cp, ver, &ts)) {
		ret = fail(&r, MN_EBADSIG, "the checkpoint's RFC 6962 signature does not verify "
			   "with the log's key");
		goto out;
	}
	if (vkey != NULL && !note_verify_ed25519(&cp, vkey, strlen(vkey))) {
		ret = fail(&r, MN_EBADSIG, "the checkpoint's Ed25519 signature does not verify "
			   "with --note-vkey");
		goto out;
	}
	for (size_t i = 0; i < cp.num_sigs && !found; i++) {
		uint32_t id = note_rfc6962_key_id(cp.origin, cp.origin_len,
						  ct_signer_log_id(signer));
		if (cp.sigs[i].key_id == id && cp.sigs[i].sig_len > 8 &&
		    cp.sigs[i].sig_len - 8 <= STORE_MAX_SIG_LEN) {
			r.sth.sig_len = (uint16_t)(cp.sigs[i].sig_len - 8);
			memcpy(r.sth.sig, cp.sigs[i].sig + 8, r.sth.sig_len);
			found = 1;
		}
	}
	if (!found) {
		ret = fail(&r, MN_EBADSIG, "the checkpoint has no usable RFC 6962 signature");
		goto out;
	}
	r.size = cp.tree_size;
	r.sth.tree_size = cp.tree_size;
	r.sth.timestamp = ts;
	memcpy(r.sth.root, cp.root, 32);
	so.dir = data;
	ret = store_open(&r.st, &so);
	if (ret != 0) {
		fail(&r, ret, "cannot create the store in %s: %s", data, mn_strerror(ret));
		goto out;
	}
	if (r.size == 0) {
		ret = store_append_batch(r.st, NULL, 0, &r.sth);
		if (ret != 0)
			fail(&r, ret, "cannot store the empty tree head: %s", mn_strerror(ret));
	}
	for (uint64_t n = 0; ret == 0 && n * 256 < r.size; n++) {
		uint64_t left = r.size - n * 256;
		ret = restore_tile(&r, n, left >= 256 ? 256 : (unsigned)left);
	}
	if (ret == 0)
		ret = check_hash_tiles(&r);
	store_close(r.st);
	r.st = NULL;
	if (ret == 0) {
		/* the open-time check of the result */
		ret = store_open(&r.st, &so);
		if (ret != 0)
			fail(&r, ret, "the restored store does not pass its check: %s",
			     mn_strerror(ret));
	}
out:
	store_close(r.st);
	if (ret != 0) {
		fprintf(stderr, "logd restore: from %s: %s\n", oo.url,
			r.err[0] != '\0' ? r.err : mn_strerror(ret));
		if (r.size != 0 || found)
			remove_env(data);
	} else {
		for (size_t k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", cp.root[k]);
		printf("restore %s tree_size=%" PRIu64 " root=%s\n", data, cp.tree_size, hex);
	}
	for (size_t i = 0; i < r.num_iss; i++)
		free(r.iss[i].der);
	free(r.iss);
	free(cpbuf);
	merkle_hasher_free(r.h);
	ct_verifier_free(ver);
	ct_signer_free(signer);
	objstore_free(r.os);
	return ret == 0 ? 0 : 1;
}
