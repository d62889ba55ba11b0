/* tiles.c: read a log through its static read path (docs/tiles.md): the
 * checkpoint, verified with the pinned log key (its RFC6962NoteSignature is the
 * STH signature), and the entries from data tiles, each checked against the
 * level-0 hash tile of the same width before its leaves are handed on. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "client/mnctl.h"
#include "entry/note.h"
#include "entry/tileleaf.h"

int mnctl_fetch_checkpoint(struct mnctl *m, struct mnctl_sth *out)
{
	struct mnctl_resp r;
	struct note_checkpoint cp;
	uint64_t ts = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = mnctl_http_do(m, "/checkpoint", NULL, 0, &r);
	if (ret != MNCTL_OK)
		return ret;
	if (r.status != 200) {
		mnctl_resp_cleanup(&r);
		return mnctl_fail(MNCTL_ENET, "checkpoint: HTTP %ld", r.status);
	}
	if (note_parse_checkpoint(&cp, r.body, r.body_len) != 0) {
		mnctl_resp_cleanup(&r);
		return mnctl_fail(MNCTL_ENET, "checkpoint: malformed signed note");
	}
	if (!note_verify_rfc6962(&cp, m->v, &ts)) {
		mnctl_resp_cleanup(&r);
		return mnctl_fail(MNCTL_EVERIFY, "checkpoint: no valid RFC 6962 note signature "
				  "by the pinned log key");
	}
	out->tree_size = cp.tree_size;
	out->timestamp = ts;
	memcpy(out->root, cp.root, MERKLE_HASH_LEN);
	/* keep the STH signature, so the state saves a verifiable STH */
	for (size_t i = 0; i < cp.num_sigs; i++) {
		struct cbs c;
		uint64_t t;
		if (cp.sigs[i].key_id != note_rfc6962_key_id(cp.origin, cp.origin_len,
							     m->log_id))
			continue;
		cbs_init(&c, cp.sigs[i].sig, cp.sigs[i].sig_len);
		if (cbs_get_u64(&c, &t) && ct_parse_sig(&out->sig, &c) &&
		    ct_verify_sth(m->v, &out->sig, t, cp.tree_size, cp.root))
			break;
	}
	mnctl_resp_cleanup(&r);
	return MNCTL_OK;
}

/* tile_path writes "/tile/<level or data>/<N>[.p/<W>]". */
static void tile_path(char *out, size_t cap, const char *level, uint64_t n, unsigned w)
{
	char num[64];
	size_t off = 0;
	uint64_t d = 1;

	while (n / d >= 1000)
		d *= 1000;
	for (; d > 0 && off < sizeof(num); d /= 1000) {
		int k = snprintf(num + off, sizeof(num) - off, "%s%s%03u", off ? "/" : "",
				 d > 1 ? "x" : "", (unsigned)(n / d % 1000));
		off += k > 0 ? (size_t)k : 0;
	}
	if (w < 256)
		snprintf(out, cap, "/tile/%s/%s.p/%u", level, num, w);
	else
		snprintf(out, cap, "/tile/%s/%s", level, num);
}

static int get_tile(struct mnctl *m, const char *path, struct mnctl_resp *r)
{
	int ret = mnctl_http_do(m, path, NULL, 0, r);

	if (ret != MNCTL_OK)
		return ret;
	if (r->status != 200) {
		mnctl_resp_cleanup(r);
		return mnctl_fail(MNCTL_ENET, "%s: HTTP %ld", path, r->status);
	}
	return MNCTL_OK;
}

/* gunzip inflates a gzip body (or returns it as is if it is not gzip). */
static int gunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, size_t max)
{
	z_stream z;
	size_t cap = len * 4 + 4096;
	uint8_t *buf;
	int rc;

	if (len < 2 || in[0] != 0x1f || in[1] != 0x8b) {
		*out = malloc(len ? len : 1);
		if (*out == NULL)
			return -1;
		memcpy(*out, in, len);
		*out_len = len;
		return 0;
	}
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -1;
	buf = malloc(cap);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	for (;;) {
		if (buf == NULL)
			break;
		z.next_out = buf + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END) {
			*out = buf;
			*out_len = z.total_out;
			inflateEnd(&z);
			return 0;
		}
		if ((rc != Z_OK && rc != Z_BUF_ERROR) || cap >= max ||
		    (rc == Z_BUF_ERROR && z.avail_in == 0))
			break;
		if (z.avail_out == 0) {
			uint8_t *nb = realloc(buf, cap * 2);
			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	free(buf);
	inflateEnd(&z);
	return -1;
}

int mnctl_fetch_tile_entries(struct mnctl *m, uint64_t start, uint64_t end,
			     uint64_t tree_size, mnctl_leaf_fn fn, void *ctx)
{
	uint8_t leaf[3 * 65536 + 64], *data = NULL, hash[MERKLE_HASH_LEN];
	char path[128];
	int ret = MNCTL_OK;

	if (end > tree_size)
		return mnctl_fail(MNCTL_EUSAGE, "entries beyond the checkpoint");
	for (uint64_t n = start / 256; n * 256 < end && ret == MNCTL_OK; n++) {
		uint64_t w64 = tree_size - n * 256 < 256 ? tree_size - n * 256 : 256;
		unsigned w = (unsigned)w64;
		struct mnctl_resp hr, dr;
		size_t data_len;
		struct cbs c;

		tile_path(path, sizeof(path), "0", n, w);
		ret = get_tile(m, path, &hr);
		if (ret != MNCTL_OK)
			break;
		if (hr.body_len != (size_t)w * MERKLE_HASH_LEN) {
			mnctl_resp_cleanup(&hr);
			return mnctl_fail(MNCTL_ENET, "%s: %zu bytes", path, hr.body_len);
		}
		tile_path(path, sizeof(path), "data", n, w);
		ret = get_tile(m, path, &dr);
		if (ret != MNCTL_OK) {
			mnctl_resp_cleanup(&hr);
			break;
		}
		if (gunzip(dr.body, dr.body_len, &data, &data_len, m->max_response) != 0) {
			mnctl_resp_cleanup(&hr);
			mnctl_resp_cleanup(&dr);
			return mnctl_fail(MNCTL_ENET, "%s: bad gzip encoding", path);
		}
		mnctl_resp_cleanup(&dr);
		cbs_init(&c, data, data_len);
		for (unsigned i = 0; i < w && ret == MNCTL_OK; i++) {
			struct tileleaf tl;
			uint64_t idx = n * 256 + i;
			if (!tileleaf_parse(&tl, &c) || tl.te_len + 2 > sizeof(leaf)) {
				ret = mnctl_fail(MNCTL_ENET, "%s: entry %u malformed", path, i);
				break;
			}
			leaf[0] = 0;
			leaf[1] = 0;
			memcpy(leaf + 2, tl.te, tl.te_len);
			/* the data tile must agree with the hash tile of the same
			 * width; the hash tiles are proved by the caller's root check */
			merkle_leaf_hash(m->h, hash, leaf, tl.te_len + 2);
			if (memcmp(hash, hr.body + (size_t)i * MERKLE_HASH_LEN, MERKLE_HASH_LEN) != 0) {
				ret = mnctl_fail(MNCTL_EVERIFY, "entry %" PRIu64 " in %s does not hash "
						 "to its level-0 tile hash", idx, path);
				break;
			}
			if (idx >= start && idx < end)
				ret = fn(ctx, idx, leaf, tl.te_len + 2);
		}
		if (ret == MNCTL_OK && cbs_len(&c) != 0)
			ret = mnctl_fail(MNCTL_ENET, "%s: bytes after the last entry", path);
		mnctl_resp_cleanup(&hr);
		free(data);
		data = NULL;
	}
	return ret;
}
