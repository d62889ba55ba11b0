/* tileleaf.c: data tile entries (see tileleaf.h). */
#include "entry/tileleaf.h"

#include <string.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "entry/ct.h"

/* te_span reads one TimestampedEntry from |c| into |te| (its bytes) with its
 * timestamp and type. 1 or 0. */
static int te_span(struct cbs *c, struct cbs *te, uint64_t *ts, uint16_t *type)
{
	struct cbs start = *c, body, ext;

	if (!cbs_get_u64(c, ts) || !cbs_get_u16(c, type))
		return 0;
	if (*type == CT_PRECERT_ENTRY && !cbs_skip(c, 32))
		return 0;
	if (!ct_entry_type_known(*type) || !cbs_get_u24_length_prefixed(c, &body) ||
	    cbs_len(&body) == 0 || !cbs_get_u16_length_prefixed(c, &ext))
		return 0;
	return cbs_get_bytes(&start, te, cbs_len(&start) - cbs_len(c));
}

static int is_ct_type(uint16_t t)
{
	return t == CT_X509_ENTRY || t == CT_PRECERT_ENTRY;
}

int tileleaf_issuers(uint16_t entry_type, const uint8_t *extra, size_t extra_len,
		     tileleaf_issuer_fn fn, void *ctx)
{
	struct cbs c, chain, pre, cert;
	uint8_t fp[TILELEAF_FP_LEN];
	int ret;

	if (!is_ct_type(entry_type))
		return 0;
	cbs_init(&c, extra, extra_len);
	if (entry_type == CT_PRECERT_ENTRY && !cbs_get_u24_length_prefixed(&c, &pre))
		return MN_EMALFORMED;
	if (!cbs_get_u24_length_prefixed(&c, &chain) || cbs_len(&c) != 0)
		return MN_EMALFORMED;
	while (cbs_len(&chain) != 0) {
		if (!cbs_get_u24_length_prefixed(&chain, &cert))
			return MN_EMALFORMED;
		if (!EVP_Digest(cbs_data(&cert), cbs_len(&cert), fp, NULL, EVP_sha256(), NULL))
			return MN_ECRYPTO;
		ret = fn(ctx, cbs_data(&cert), cbs_len(&cert), fp);
		if (ret != 0)
			return ret;
	}
	return 0;
}

static int add_fp(void *ctx, const uint8_t *der, size_t der_len,
		  const uint8_t fp[TILELEAF_FP_LEN])
{
	(void)der;
	(void)der_len;
	return cbb_add_bytes(ctx, fp, TILELEAF_FP_LEN) ? 0 : MN_ENOMEM;
}

int tileleaf_append(struct cbb *out, const uint8_t *leaf_input, size_t leaf_input_len,
		    const uint8_t *extra, size_t extra_len)
{
	struct cbs c, te, pre, x;
	struct cbb fps, b;
	uint64_t ts;
	uint16_t type;
	uint8_t v, lt;
	int ret;

	cbs_init(&c, leaf_input, leaf_input_len);
	if (!cbs_get_u8(&c, &v) || !cbs_get_u8(&c, &lt) || v != 0 || lt != 0 ||
	    !te_span(&c, &te, &ts, &type) || cbs_len(&c) != 0)
		return MN_ECORRUPT;
	if (!cbb_add_bytes(out, cbs_data(&te), cbs_len(&te)))
		return MN_ENOMEM;
	if (!is_ct_type(type)) {
		if (extra_len > 0xffffff)
			return MN_ECORRUPT;
		return cbb_add_u24(out, (uint32_t)extra_len) &&
			       cbb_add_bytes(out, extra, extra_len)
			       ? 0
			       : MN_ENOMEM;
	}
	if (type == CT_PRECERT_ENTRY) {
		cbs_init(&x, extra, extra_len);
		if (!cbs_get_u24_length_prefixed(&x, &pre))
			return MN_ECORRUPT;
		if (!cbb_add_u24_length_prefixed(out, &b) ||
		    !cbb_add_bytes(&b, cbs_data(&pre), cbs_len(&pre)) || !cbb_flush(out))
			return MN_ENOMEM;
	}
	if (!cbb_add_u16_length_prefixed(out, &fps))
		return MN_ENOMEM;
	ret = tileleaf_issuers(type, extra, extra_len, add_fp, &fps);
	if (ret == MN_EMALFORMED)
		return MN_ECORRUPT;
	if (ret != 0)
		return ret;
	return cbb_flush(out) ? 0 : MN_ENOMEM;
}

int tileleaf_parse(struct tileleaf *out, struct cbs *in)
{
	struct cbs te, x;

	memset(out, 0, sizeof(*out));
	if (!te_span(in, &te, &out->timestamp, &out->entry_type))
		return 0;
	out->te = cbs_data(&te);
	out->te_len = cbs_len(&te);
	if (!is_ct_type(out->entry_type)) {
		if (!cbs_get_u24_length_prefixed(in, &x))
			return 0;
		out->extra = cbs_data(&x);
		out->extra_len = cbs_len(&x);
		return 1;
	}
	if (out->entry_type == CT_PRECERT_ENTRY) {
		if (!cbs_get_u24_length_prefixed(in, &x))
			return 0;
		out->pre_certificate = cbs_data(&x);
		out->pre_certificate_len = cbs_len(&x);
	}
	if (!cbs_get_u16_length_prefixed(in, &x) || cbs_len(&x) % TILELEAF_FP_LEN != 0)
		return 0;
	out->fps = cbs_data(&x);
	out->num_fps = cbs_len(&x) / TILELEAF_FP_LEN;
	return 1;
}

struct fp_cmp {
	const struct tileleaf *tl;
	size_t i;
};

static int cmp_fp(void *ctx, const uint8_t *der, size_t der_len,
		  const uint8_t fp[TILELEAF_FP_LEN])
{
	struct fp_cmp *f = ctx;

	(void)der;
	(void)der_len;
	if (f->i >= f->tl->num_fps ||
	    memcmp(f->tl->fps + f->i * TILELEAF_FP_LEN, fp, TILELEAF_FP_LEN) != 0)
		return MN_EINVAL;
	f->i++;
	return 0;
}

int tileleaf_matches(const struct tileleaf *tl, const uint8_t *leaf_input,
		     size_t leaf_input_len, const uint8_t *extra, size_t extra_len)
{
	struct fp_cmp f = {tl, 0};
	struct cbs x, pre;

	if (leaf_input_len != tl->te_len + 2 || leaf_input[0] != 0 || leaf_input[1] != 0 ||
	    memcmp(leaf_input + 2, tl->te, tl->te_len) != 0)
		return 0;
	if (!is_ct_type(tl->entry_type))
		return tl->extra_len == extra_len &&
		       (extra_len == 0 || memcmp(tl->extra, extra, extra_len) == 0);
	if (tl->entry_type == CT_PRECERT_ENTRY) {
		cbs_init(&x, extra, extra_len);
		if (!cbs_get_u24_length_prefixed(&x, &pre) ||
		    !cbs_mem_equal(&pre, tl->pre_certificate, tl->pre_certificate_len))
			return 0;
	}
	return tileleaf_issuers(tl->entry_type, extra, extra_len, cmp_fp, &f) == 0 &&
	       f.i == tl->num_fps;
}
