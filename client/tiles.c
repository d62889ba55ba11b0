/* tiles.c: read a log through its static read path (docs/tiles.md): the
 * checkpoint, verified with the pinned log key (its RFC6962NoteSignature is the
 * STH signature), and the entries from data tiles, each checked against the
 * level-0 hash tile of the same width before its leaves are handed on. The
 * checks themselves are entry/tilecheck.h's, shared with logd --mirror. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/mnctl.h"
#include "common/err.h"
#include "entry/note.h"
#include "entry/tilecheck.h"

int mnctl_fetch_checkpoint(struct mnctl *m, struct mnctl_sth *out)
{
	struct mnctl_resp r;
	struct note_checkpoint cp;
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
	/* keep the STH signature, so the state saves a verifiable STH */
	if (!tilecheck_checkpoint(&cp, m->v, &out->timestamp, &out->sig)) {
		mnctl_resp_cleanup(&r);
		return mnctl_fail(MNCTL_EVERIFY, "checkpoint: no valid RFC 6962 note signature "
				  "by the pinned log key");
	}
	out->tree_size = cp.tree_size;
	memcpy(out->root, cp.root, MERKLE_HASH_LEN);
	mnctl_resp_cleanup(&r);
	return MNCTL_OK;
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

struct pass {
	mnctl_leaf_fn fn;
	void *ctx;
	uint64_t start, end;
	int rc; /* what fn returned when it stopped */
};

static int pass_leaf(void *ctx, uint64_t index, const struct tileleaf *tl, const uint8_t *leaf,
		     size_t leaf_len, const uint8_t hash[MERKLE_HASH_LEN])
{
	struct pass *p = ctx;

	(void)tl;
	(void)hash;
	if (index < p->start || index >= p->end)
		return 0;
	p->rc = p->fn(p->ctx, index, leaf, leaf_len);
	return p->rc == MNCTL_OK ? 0 : MN_EINTERNAL;
}

int mnctl_fetch_tile_entries(struct mnctl *m, uint64_t start, uint64_t end,
			     uint64_t tree_size, mnctl_leaf_fn fn, void *ctx)
{
	uint8_t *leaf = malloc(TILECHECK_MAX_LEAF), *data = NULL;
	struct pass p = {fn, ctx, start, end, MNCTL_OK};
	char path[128];
	int ret = MNCTL_OK;

	if (end > tree_size) {
		free(leaf);
		return mnctl_fail(MNCTL_EUSAGE, "entries beyond the checkpoint");
	}
	if (leaf == NULL)
		return mnctl_fail(MNCTL_ENET, "out of memory");
	for (uint64_t n = start / 256; n * 256 < end && ret == MNCTL_OK; n++) {
		uint64_t w64 = tree_size - n * 256 < 256 ? tree_size - n * 256 : 256;
		unsigned w = (unsigned)w64;
		struct mnctl_resp hr, dr;
		size_t data_len;
		uint64_t bad = 0;
		int r;

		tilecheck_path(path, sizeof(path), "0", n, w);
		ret = get_tile(m, path, &hr);
		if (ret != MNCTL_OK)
			break;
		if (hr.body_len != (size_t)w * MERKLE_HASH_LEN) {
			mnctl_resp_cleanup(&hr);
			ret = mnctl_fail(MNCTL_ENET, "%s: %zu bytes", path, hr.body_len);
			break;
		}
		tilecheck_path(path, sizeof(path), "data", n, w);
		ret = get_tile(m, path, &dr);
		if (ret != MNCTL_OK) {
			mnctl_resp_cleanup(&hr);
			break;
		}
		if (tilecheck_gunzip(dr.body, dr.body_len, m->max_response, &data, &data_len) != 0) {
			mnctl_resp_cleanup(&hr);
			mnctl_resp_cleanup(&dr);
			ret = mnctl_fail(MNCTL_ENET, "%s: bad gzip encoding", path);
			break;
		}
		mnctl_resp_cleanup(&dr);
		/* the data tile must agree with the hash tile of the same width;
		 * the hash tiles are proved by the caller's root check */
		r = tilecheck_data(m->h, n, w, hr.body, data, data_len, leaf, pass_leaf, &p, &bad);
		if (r == MN_EBADSIG)
			ret = mnctl_fail(MNCTL_EVERIFY, "entry %" PRIu64 " in %s does not hash "
					 "to its level-0 tile hash", bad, path);
		else if (r == MN_EMALFORMED)
			ret = mnctl_fail(MNCTL_ENET, "%s: entry %" PRIu64 " malformed", path, bad);
		else if (r == MN_EINTERNAL && p.rc != MNCTL_OK)
			ret = p.rc; /* fn stopped, and said why */
		else if (r != 0)
			ret = mnctl_fail(MNCTL_ENET, "%s: %s", path, mn_strerror(r));
		mnctl_resp_cleanup(&hr);
		free(data);
		data = NULL;
	}
	free(leaf);
	return ret;
}
