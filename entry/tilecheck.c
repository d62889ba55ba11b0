/* tilecheck.c: checking the static read path's objects (see tilecheck.h). */
#include "entry/tilecheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "common/err.h"

int tilecheck_checkpoint(const struct note_checkpoint *cp, const struct ct_verifier *v,
			 uint64_t *out_ts, struct ct_sig *out_sig)
{
	uint32_t id = note_rfc6962_key_id(cp->origin, cp->origin_len, ct_verifier_log_id(v));

	for (size_t i = 0; i < cp->num_sigs; i++) {
		struct cbs c;
		uint64_t ts;
		if (cp->sigs[i].name_len != cp->origin_len ||
		    memcmp(cp->sigs[i].name, cp->origin, cp->origin_len) != 0 ||
		    cp->sigs[i].key_id != id)
			continue;
		cbs_init(&c, cp->sigs[i].sig, cp->sigs[i].sig_len);
		if (!cbs_get_u64(&c, &ts) || !ct_parse_sig(out_sig, &c) || cbs_len(&c) != 0 ||
		    !ct_verify_sth(v, out_sig, ts, cp->tree_size, cp->root))
			return 0;
		*out_ts = ts;
		return 1;
	}
	return 0;
}

void tilecheck_path(char *out, size_t cap, const char *level, uint64_t n, unsigned width)
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
	if (width < TILECHECK_WIDTH)
		snprintf(out, cap, "/tile/%s/%s.p/%u", level, num, width);
	else
		snprintf(out, cap, "/tile/%s/%s", level, num);
}

int tilecheck_gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **out,
		     size_t *out_len)
{
	z_stream z;
	size_t cap = len * 4 + 4096;
	uint8_t *buf;
	int rc, ret = MN_EMALFORMED;

	if (len < 2 || in[0] != 0x1f || in[1] != 0x8b) {
		if (len > max)
			return MN_ETOOBIG;
		*out = malloc(len ? len : 1);
		if (*out == NULL)
			return MN_ENOMEM;
		memcpy(*out, in, len);
		*out_len = len;
		return 0;
	}
	if (cap > max + 1)
		cap = max + 1;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return MN_ENOMEM;
	buf = malloc(cap);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	for (;;) {
		if (buf == NULL) {
			ret = MN_ENOMEM;
			break;
		}
		z.next_out = buf + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END) {
			if (z.total_out > max || z.avail_in != 0) {
				/* over the cap, or bytes after the stream */
				ret = z.total_out > max ? MN_ETOOBIG : MN_EMALFORMED;
				break;
			}
			*out = buf;
			*out_len = z.total_out;
			inflateEnd(&z);
			return 0;
		}
		if ((rc != Z_OK && rc != Z_BUF_ERROR) || (rc == Z_BUF_ERROR && z.avail_in == 0))
			break;
		if (z.avail_out == 0) {
			uint8_t *nb;
			if (cap > max) {
				ret = MN_ETOOBIG;
				break;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				ret = MN_ENOMEM;
				break;
			}
			buf = nb;
		}
	}
	free(buf);
	inflateEnd(&z);
	return ret;
}

int tilecheck_data(struct merkle_hasher *h, uint64_t n, unsigned width,
		   const uint8_t *hashes, const uint8_t *data, size_t data_len,
		   uint8_t *leaf_buf, tilecheck_leaf_fn fn, void *ctx, uint64_t *out_bad)
{
	uint8_t hash[MERKLE_HASH_LEN];
	struct cbs c;
	int ret;

	cbs_init(&c, data, data_len);
	for (unsigned i = 0; i < width; i++) {
		struct tileleaf tl;
		uint64_t idx = n * TILECHECK_WIDTH + i;
		if (!tileleaf_parse(&tl, &c) || tl.te_len + 2 > TILECHECK_MAX_LEAF) {
			*out_bad = idx;
			return MN_EMALFORMED;
		}
		leaf_buf[0] = 0; /* version = v1 */
		leaf_buf[1] = 0; /* leaf_type = timestamped_entry */
		memcpy(leaf_buf + 2, tl.te, tl.te_len);
		merkle_leaf_hash(h, hash, leaf_buf, tl.te_len + 2);
		if (memcmp(hash, hashes + (size_t)i * MERKLE_HASH_LEN, MERKLE_HASH_LEN) != 0) {
			*out_bad = idx;
			return MN_EBADSIG;
		}
		ret = fn(ctx, idx, &tl, leaf_buf, tl.te_len + 2, hash);
		if (ret != 0)
			return ret;
	}
	if (cbs_len(&c) != 0) {
		*out_bad = n * TILECHECK_WIDTH + width;
		return MN_EMALFORMED;
	}
	return 0;
}

int tilecheck_issuer_ok(const uint8_t *der, size_t der_len, const uint8_t fp[TILELEAF_FP_LEN])
{
	uint8_t got[TILELEAF_FP_LEN];

	return EVP_Digest(der, der_len, got, NULL, EVP_sha256(), NULL) &&
	       memcmp(got, fp, TILELEAF_FP_LEN) == 0;
}

int tilecheck_extra(struct cbb *out, const struct tileleaf *tl, tilecheck_issuer_fn fn,
		    void *ctx)
{
	struct cbb chain, cert, pre;
	int ret;

	if (tl->entry_type != CT_X509_ENTRY && tl->entry_type != CT_PRECERT_ENTRY)
		return cbb_add_bytes(out, tl->extra, tl->extra_len) ? 0 : MN_ENOMEM;
	if (tl->entry_type == CT_PRECERT_ENTRY &&
	    (!cbb_add_u24_length_prefixed(out, &pre) ||
	     !cbb_add_bytes(&pre, tl->pre_certificate, tl->pre_certificate_len) ||
	     !cbb_flush(out)))
		return MN_ENOMEM;
	if (!cbb_add_u24_length_prefixed(out, &chain))
		return MN_ENOMEM;
	for (size_t i = 0; i < tl->num_fps; i++) {
		const uint8_t *der;
		size_t der_len;
		ret = fn(ctx, tl->fps + i * TILELEAF_FP_LEN, &der, &der_len);
		if (ret != 0)
			return ret;
		if (der_len == 0 || der_len > 0xffffff)
			return MN_EMALFORMED;
		if (!cbb_add_u24_length_prefixed(&chain, &cert) ||
		    !cbb_add_bytes(&cert, der, der_len) || !cbb_flush(&chain))
			return MN_ENOMEM;
	}
	return cbb_flush(out) ? 0 : MN_EMALFORMED;
}
