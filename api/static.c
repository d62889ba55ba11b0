/* static.c: the C2SP static read path of one log, under its prefix
 * (docs/tiles.md):
 *
 *   checkpoint                   c2sp.org/tlog-checkpoint, signed note (entry/note.h)
 *   tile/<L>/<N>[.p/<W>]         hash tiles, c2sp.org/tlog-tiles
 *   tile/data/<N>[.p/<W>]        data tiles of TileLeafs (entry/tileleaf.h), gzip
 *   issuer/<hex SHA-256>         the issuer certificates the data tiles name
 *
 * Everything is made from one read snapshot per request: a tile is served
 * only if every hash in it is covered by the snapshot's signed tree head, so a
 * client never sees a tile of a size no checkpoint has published. Full tiles,
 * partial tiles (a given width never changes) and issuers are immutable; the
 * checkpoint is not cached. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "api/internal.h"
#include "common/err.h"
#include "entry/note.h"
#include "entry/tileleaf.h"

#define IMMUTABLE "Cache-Control: public, max-age=604800, immutable\r\n"
#define MAX_LEVEL 7 /* 64 tree levels / 8 */

/* parse_tile_path parses "<N>[.p/<W>]" (N as x001/x234/067) that makes up all
 * of [p, p + len). *out_width is 256 for a full tile. 1 or 0. Only the
 * canonical encoding is accepted: each element three digits, all but the last
 * with an 'x', no leading "x000" element. */
static int parse_tile_path(const char *p, size_t len, uint64_t *out_n, unsigned *out_width)
{
	uint64_t n = 0, w;
	size_t i = 0, elems = 0;

	*out_width = 256;
	for (;;) {
		int x = i < len && p[i] == 'x';
		if (x)
			i++;
		if (len - i < 3)
			return 0;
		for (size_t k = 0; k < 3; k++)
			if (p[i + k] < '0' || p[i + k] > '9')
				return 0;
		if (n > UINT64_MAX / 1000)
			return 0;
		n = n * 1000 + (uint64_t)((p[i] - '0') * 100 + (p[i + 1] - '0') * 10 + (p[i + 2] - '0'));
		if (n > UINT64_MAX / 1000 && x)
			return 0;
		if (elems == 0 && x && n == 0)
			return 0; /* x000/...: not canonical */
		i += 3;
		elems++;
		if (!x)
			break;
		if (i >= len || p[i] != '/')
			return 0;
		i++;
	}
	if (i < len) {
		if (len - i < 4 || memcmp(p + i, ".p/", 3) != 0 ||
		    !mn_parse_dec(p + i + 3, len - i - 3, &w) || w < 1 || w > 255)
			return 0;
		*out_width = (unsigned)w;
	}
	*out_n = n;
	return 1;
}

static void set_body(struct api_response *resp, const char *ctype, const char *headers,
		     uint8_t *body, size_t len)
{
	resp->status = 200;
	resp->content_type = ctype;
	resp->headers = headers;
	resp->body = body;
	resp->body_len = len;
}

static const char *origin_of(const struct api_config *cfg, size_t *len)
{
	const char *o = cfg->note != NULL ? note_signer_name(cfg->note) : cfg->origin;

	*len = o != NULL ? strlen(o) : 0;
	return o;
}

/* mirror_checkpoint answers a mirror's checkpoint: the origin's, byte for
 * byte as the mirror verified and stored it with |sth| (logd/mirror.h), so its
 * every signature line (the Ed25519 one, cosignatures) reaches the mirror's
 * clients. 1 if it did; 0 if the snapshot has no such note (a copy made
 * before notes were stored: the checkpoint is then rebuilt from the STH). */
static int mirror_checkpoint(struct store_reader *rd, const struct store_sth *sth,
			     struct api_response *resp)
{
	struct note_checkpoint cp;
	const uint8_t *note;
	size_t len;
	uint8_t *out;

	if (store_r_note(rd, &note, &len) != 0 || note_parse_checkpoint(&cp, note, len) != 0 ||
	    cp.tree_size != sth->tree_size || memcmp(cp.root, sth->root, 32) != 0)
		return 0;
	out = malloc(len);
	if (out == NULL)
		return 0;
	memcpy(out, note, len);
	set_body(resp, "text/plain; charset=utf-8", "Cache-Control: no-store\r\n", out, len);
	return 1;
}

int api_log_checkpoint(struct api *api, uint8_t **out, size_t *out_len, uint64_t *out_timestamp)
{
	const struct api_config *cfg = api__config(api);
	struct store_reader *rd;
	struct store_sth sth;
	struct ct_sig sig;
	struct cbs c;
	struct cbb b;
	size_t olen;
	const char *origin = origin_of(cfg, &olen);
	int ret;

	*out = NULL;
	*out_len = 0;
	if (origin == NULL)
		return MN_ENOTFOUND;
	ret = store_read_begin(cfg->store, &rd);
	if (ret != 0)
		return ret;
	ret = store_r_sth(rd, &sth);
	store_read_end(rd);
	if (ret != 0)
		return ret;
	cbs_init(&c, sth.sig, sth.sig_len);
	if (!ct_parse_sig(&sig, &c) || cbs_len(&c) != 0)
		return MN_ECORRUPT;
	if (!cbb_init(&b, 512, 4096))
		return MN_ENOMEM;
	ret = note_sign_checkpoint(&b, cfg->note, origin, olen, api__log_id(cfg),
				   sth.tree_size, sth.root, sth.timestamp, &sig);
	if (ret != 0 || !cbb_finish(&b, out, out_len)) {
		cbb_cleanup(&b);
		return ret != 0 ? ret : MN_ENOMEM;
	}
	if (out_timestamp != NULL)
		*out_timestamp = sth.timestamp;
	return 0;
}

static void checkpoint(struct api *api, struct api_response *resp)
{
	const struct api_config *cfg = api__config(api);
	size_t olen;
	uint8_t *out;
	size_t out_len;
	int ret;

	if (origin_of(cfg, &olen) == NULL) {
		api_response_error(resp, 404, "notFound", "this log has no checkpoint origin");
		return;
	}
	if (cfg->mirror_of != NULL) {
		/* a mirror serves the origin's checkpoint as it verified it */
		struct store_reader *rd;
		struct store_sth sth;
		int served = 0;
		if (store_read_begin(cfg->store, &rd) == 0) {
			served = store_r_sth(rd, &sth) == 0 && mirror_checkpoint(rd, &sth, resp);
			store_read_end(rd);
		}
		if (served)
			return;
	}
	if (cfg->witnessed) {
		/* only a checkpoint that went through the witnesses (logd/cosign.h) */
		ret = api__served_checkpoint(api, &out, &out_len);
		if (ret == MN_ENOTFOUND) {
			api_response_error(resp, 404, "notFound",
					   "no witnessed checkpoint yet");
			return;
		}
		if (ret != 0) {
			api__err_response(resp, ret, NULL);
			return;
		}
	} else {
		ret = api_log_checkpoint(api, &out, &out_len, NULL);
		if (ret == MN_ENOTFOUND) {
			api_response_error(resp, 404, "notFound", "the log has no tree head yet");
			return;
		}
		if (ret != 0) {
			api__err_response(resp, ret, ret == MN_ENOMEM ? NULL
						     : "cannot sign the checkpoint");
			return;
		}
	}
	set_body(resp, "text/plain; charset=utf-8", "Cache-Control: no-store\r\n", out, out_len);
}

static void hash_tile(struct api *api, unsigned level, uint64_t n, unsigned width,
		      struct api_response *resp)
{
	struct store_reader *rd;
	const uint8_t *data;
	uint8_t *out;
	int ret;

	ret = store_read_begin(api__config(api)->store, &rd);
	if (ret != 0) {
		api__err_response(resp, ret, "storage is not readable");
		return;
	}
	ret = store_r_tile(rd, level, n, width, &data);
	if (ret == 0) {
		out = malloc((size_t)width * MERKLE_HASH_LEN);
		if (out == NULL)
			ret = MN_ENOMEM;
		else
			memcpy(out, data, (size_t)width * MERKLE_HASH_LEN);
	}
	store_read_end(rd);
	if (ret == MN_ENOTFOUND) {
		api_response_error(resp, 404, "notFound",
				   "tile not published: beyond the current checkpoint");
		return;
	}
	if (ret != 0) {
		api__err_response(resp, ret, "cannot read the tile");
		return;
	}
	set_body(resp, "application/octet-stream", IMMUTABLE, out,
		 (size_t)width * MERKLE_HASH_LEN);
}

/* api__gzip compresses |in| into a new buffer (gzip wrapper, RFC 1952).
 * 0 or MN_ENOMEM. */
static int gzip(uint8_t **out, size_t *out_len, const uint8_t *in, size_t in_len)
{
	z_stream z;
	size_t cap;
	uint8_t *buf;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return MN_ENOMEM;
	cap = deflateBound(&z, (uLong)in_len);
	buf = malloc(cap);
	if (buf == NULL) {
		deflateEnd(&z);
		return MN_ENOMEM;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)in_len;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(buf);
		return MN_ENOMEM;
	}
	*out_len = z.total_out;
	*out = buf;
	deflateEnd(&z);
	return 0;
}

#define DATA_TILE_CAP (256u << 20)

/* Compressed full data tiles are kept in a small direct-mapped cache (gzip is
 * ~2 ms of CPU per tile; a copy is ~10 us). The key is the tile's subtree root
 * (the level-8 tree hash over its 256 entries), so an entry can only ever
 * answer for the same 256 entries, whatever log or store asks. Partial tiles
 * are not cached. Process-wide, bounded: DT_SLOTS tiles. */
#define DT_SLOTS 64
static struct {
	uint8_t key[MERKLE_HASH_LEN];
	uint8_t *gz;
	size_t len;
} dt_cache[DT_SLOTS];
static pthread_mutex_t dt_mu = PTHREAD_MUTEX_INITIALIZER;

/* dt_get copies the cached tile with subtree root |key| into a new buffer.
 * 1 (hit), 0 (miss or out of memory). */
static int dt_get(uint64_t n, const uint8_t key[MERKLE_HASH_LEN], uint8_t **out, size_t *len)
{
	unsigned s = (unsigned)(n % DT_SLOTS);
	int hit = 0;

	pthread_mutex_lock(&dt_mu);
	if (dt_cache[s].gz != NULL && memcmp(dt_cache[s].key, key, MERKLE_HASH_LEN) == 0) {
		*out = malloc(dt_cache[s].len);
		if (*out != NULL) {
			memcpy(*out, dt_cache[s].gz, dt_cache[s].len);
			*len = dt_cache[s].len;
			hit = 1;
		}
	}
	pthread_mutex_unlock(&dt_mu);
	return hit;
}

static void dt_put(uint64_t n, const uint8_t key[MERKLE_HASH_LEN], const uint8_t *gz, size_t len)
{
	unsigned s = (unsigned)(n % DT_SLOTS);
	uint8_t *copy = malloc(len), *old;

	if (copy == NULL)
		return;
	memcpy(copy, gz, len);
	pthread_mutex_lock(&dt_mu);
	old = dt_cache[s].gz;
	memcpy(dt_cache[s].key, key, MERKLE_HASH_LEN);
	dt_cache[s].gz = copy;
	dt_cache[s].len = len;
	pthread_mutex_unlock(&dt_mu);
	free(old);
}

static void data_tile(struct api *api, uint64_t n, unsigned width, struct api_response *resp)
{
	struct store_reader *rd;
	struct store_entry ents[256];
	struct store_sth sth;
	size_t num = 0;
	struct cbb b;
	uint8_t *raw = NULL, *gz = NULL, key[MERKLE_HASH_LEN];
	size_t raw_len, gz_len;
	const uint8_t *up;
	int ret, cacheable = 0;

	if (!cbb_init(&b, 64u << 10, DATA_TILE_CAP)) {
		api__err_response(resp, MN_ENOMEM, NULL);
		return;
	}
	ret = store_read_begin(api__config(api)->store, &rd);
	if (ret != 0) {
		cbb_cleanup(&b);
		api__err_response(resp, ret, "storage is not readable");
		return;
	}
	ret = store_r_sth(rd, &sth);
	if (ret == 0 && (n > (UINT64_MAX >> 8) || sth.tree_size < n * 256 + width))
		ret = MN_ENOTFOUND;
	/* a full tile's key: its subtree root, node n of level 8 */
	if (ret == 0 && width == 256 && store_r_tile(rd, 1, n >> 8, (unsigned)(n & 255) + 1, &up) == 0) {
		memcpy(key, up + (n & 255) * MERKLE_HASH_LEN, MERKLE_HASH_LEN);
		cacheable = 1;
		if (dt_get(n, key, &gz, &gz_len)) {
			store_read_end(rd);
			cbb_cleanup(&b);
			goto done;
		}
	}
	if (ret == 0)
		ret = store_r_entries(rd, n * 256, width, ents, &num);
	if (ret == 0 && num != width)
		ret = MN_ECORRUPT;
	for (size_t i = 0; ret == 0 && i < num; i++)
		ret = tileleaf_append(&b, ents[i].leaf_input, ents[i].leaf_input_len,
				      ents[i].extra, ents[i].extra_len);
	store_read_end(rd);
	if (ret == 0 && !cbb_finish(&b, &raw, &raw_len))
		ret = MN_ENOMEM;
	if (ret == 0)
		ret = gzip(&gz, &gz_len, raw, raw_len);
	free(raw);
	if (ret != 0) {
		cbb_cleanup(&b);
		if (ret == MN_ENOTFOUND)
			api_response_error(resp, 404, "notFound",
					   "data tile not published: beyond the current checkpoint");
		else
			api__err_response(resp, ret, "cannot make the data tile");
		return;
	}
	if (cacheable)
		dt_put(n, key, gz, gz_len);
done:
	set_body(resp, "application/octet-stream", IMMUTABLE "Content-Encoding: gzip\r\n", gz,
		 gz_len);
}

struct issuer_find {
	uint8_t fp[32];
	uint64_t index;
	int found;
	const uint8_t *der;
	size_t der_len;
};

static int first_index(void *ctx, const uint8_t *key, size_t key_len, uint64_t index)
{
	struct issuer_find *f = ctx;

	(void)key;
	(void)key_len;
	f->index = index;
	f->found = 1;
	return 1;
}

static int match_issuer(void *ctx, const uint8_t *der, size_t der_len,
			const uint8_t fp[TILELEAF_FP_LEN])
{
	struct issuer_find *f = ctx;

	if (memcmp(fp, f->fp, 32) != 0)
		return 0;
	f->der = der;
	f->der_len = der_len;
	return 1;
}

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void issuer(struct api *api, const char *hex, size_t len, struct api_response *resp)
{
	struct issuer_find f;
	struct store_reader *rd;
	struct store_entry e;
	uint8_t key[33], *out = NULL;
	struct cbs c;
	uint8_t v, lt;
	uint64_t ts;
	uint16_t type = 0;
	int ret;

	memset(&f, 0, sizeof(f));
	if (len != 64) {
		api_response_error(resp, 400, "malformed",
				   "issuer fingerprint must be 64 lowercase hex digits");
		return;
	}
	for (size_t i = 0; i < 32; i++) {
		int hi = unhex(hex[2 * i]), lo = unhex(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			api_response_error(resp, 400, "malformed",
					   "issuer fingerprint must be 64 lowercase hex digits");
			return;
		}
		f.fp[i] = (uint8_t)(hi << 4 | lo);
	}
	key[0] = 'i';
	memcpy(key + 1, f.fp, 32);
	ret = store_read_begin(api__config(api)->store, &rd);
	if (ret != 0) {
		api__err_response(resp, ret, "storage is not readable");
		return;
	}
	ret = store_r_index_scan(rd, STORE_IDX_CERT, key, sizeof(key), 0, NULL, 0, 0,
				 first_index, &f);
	if (ret == 0 && !f.found)
		ret = MN_ENOTFOUND;
	if (ret == 0)
		ret = store_r_entry(rd, f.index, &e);
	if (ret == 0) {
		cbs_init(&c, e.leaf_input, e.leaf_input_len);
		if (!cbs_get_u8(&c, &v) || !cbs_get_u8(&c, &lt) || !cbs_get_u64(&c, &ts) ||
		    !cbs_get_u16(&c, &type))
			ret = MN_ECORRUPT;
	}
	if (ret == 0 && tileleaf_issuers(type, e.extra, e.extra_len, match_issuer, &f) != 1)
		ret = MN_ECORRUPT;
	if (ret == 0) {
		out = malloc(f.der_len);
		if (out == NULL)
			ret = MN_ENOMEM;
		else
			memcpy(out, f.der, f.der_len);
	}
	store_read_end(rd);
	if (ret == MN_ENOTFOUND) {
		api_response_error(resp, 404, "notFound", "no logged chain has this issuer");
		return;
	}
	if (ret != 0) {
		api__err_response(resp, ret, "cannot read the issuer");
		return;
	}
	set_body(resp, "application/pkix-cert", IMMUTABLE, out, f.der_len);
}

int api__static_route(const char *path, size_t len, enum api_endpoint *out_ep)
{
	if (len == 11 && memcmp(path, "/checkpoint", 11) == 0)
		*out_ep = EP_CHECKPOINT;
	else if (len >= 11 && memcmp(path, "/tile/data/", 11) == 0)
		*out_ep = EP_DATA_TILE;
	else if (len >= 6 && memcmp(path, "/tile/", 6) == 0)
		*out_ep = EP_TILE;
	else if (len >= 8 && memcmp(path, "/issuer/", 8) == 0)
		*out_ep = EP_ISSUER;
	else
		return 0;
	return 1;
}

void api__static(struct api *api, enum api_endpoint ep, const struct api_request *req,
		 struct api_response *resp)
{
	const char *p = req->path;
	size_t len = req->path_len;
	uint64_t n, level;
	unsigned width;
	const char *slash;

	switch (ep) {
	case EP_CHECKPOINT:
		checkpoint(api, resp);
		return;
	case EP_ISSUER:
		issuer(api, p + 8, len - 8, resp);
		return;
	case EP_DATA_TILE:
		if (!parse_tile_path(p + 11, len - 11, &n, &width)) {
			api_response_error(resp, 400, "malformed",
					   "data tile path must be tile/data/<N>[.p/<W>]");
			return;
		}
		data_tile(api, n, width, resp);
		return;
	default:
		p += 6;
		len -= 6;
		slash = memchr(p, '/', len);
		if (slash == NULL || !mn_parse_dec(p, (size_t)(slash - p), &level) ||
		    level > MAX_LEVEL ||
		    !parse_tile_path(slash + 1, len - (size_t)(slash + 1 - p), &n, &width)) {
			api_response_error(resp, 400, "malformed",
					   "tile path must be tile/<L>/<N>[.p/<W>], L 0..7");
			return;
		}
		hash_tile(api, (unsigned)level, n, width, resp);
		return;
	}
}

/* exact_static_ct: the log's data tiles are plain static-ct-api v1.1 (its
 * only classes are tls and smime, which travel as entry types 0 and 1, it
 * keeps no lookup map, so no map-root leaves, and every leaf carries its
 * leaf_index). Otherwise a reader needs docs/tiles.md's extension. */
static int exact_static_ct(const struct api_config *cfg)
{
	uint64_t covered;
	int exists;

	if (cfg->classes == 0 || (cfg->classes & ~(unsigned)(API_CLASS_TLS | API_CLASS_SMIME)))
		return 0;
	store_map_covered(cfg->store, &covered, &exists);
	return !exists && (store_format(cfg->store) & STORE_FMT_LEAF_INDEX) != 0;
}

int api__static_info_json(struct cbb *b, const struct api *api)
{
	const struct api_config *cfg = api__config(api);
	size_t olen;
	const char *origin = origin_of(cfg, &olen);

	if (origin != NULL && (!api__jraw(b, ",\"origin\":") || !api__jstr(b, origin, olen)))
		return 0;
	if (cfg->note != NULL &&
	    (!api__jraw(b, ",\"note_vkey\":") ||
	     !api__jstr(b, note_signer_vkey(cfg->note), strlen(note_signer_vkey(cfg->note)))))
		return 0;
	if (cfg->witness_info != NULL &&
	    (!api__jraw(b, ",\"witness\":") || !cfg->witness_info(cfg->witness_info_ctx, b)))
		return 0;
	return api__jraw(b, exact_static_ct(cfg)
				    ? ",\"data_tile_format\":\"" API_DATA_TILE_FORMAT_EXACT "\""
				    : ",\"data_tile_format\":\"" API_DATA_TILE_FORMAT "\"");
}

int api_static_get(struct api *api, const char *path, size_t len, struct api_response *resp)
{
	struct api_request req = {.method = API_GET, .path = path, .path_len = len};
	enum api_endpoint ep;

	memset(resp, 0, sizeof(*resp));
	if (!api__static_route(path, len, &ep))
		return 0;
	api__static(api, ep, &req, resp);
	return 1;
}
