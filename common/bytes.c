/* bytes.c: the cbs reader and cbb builder declared in bytes.h, modeled on
 * BoringSSL crypto/bytestring/cbs.cc and cbb.cc. */
#include "common/bytes.h"

#include <stdlib.h>
#include <string.h>

/* ---- cbs: reader ---- */

void cbs_init(struct cbs *cbs, const uint8_t *data, size_t len)
{
	cbs->data = data;
	cbs->len = len;
}

/* get_be reads an |n|-byte big-endian integer (n <= 8). */
static int get_be(struct cbs *cbs, uint64_t *out, size_t n)
{
	uint64_t v = 0;

	if (cbs->len < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | cbs->data[i];
	cbs->data += n;
	cbs->len -= n;
	*out = v;
	return 1;
}

int cbs_skip(struct cbs *cbs, size_t len)
{
	if (cbs->len < len)
		return 0;
	cbs->data += len;
	cbs->len -= len;
	return 1;
}

int cbs_get_u8(struct cbs *cbs, uint8_t *out)
{
	uint64_t v;

	if (!get_be(cbs, &v, 1))
		return 0;
	*out = (uint8_t)v;
	return 1;
}

int cbs_get_u16(struct cbs *cbs, uint16_t *out)
{
	uint64_t v;

	if (!get_be(cbs, &v, 2))
		return 0;
	*out = (uint16_t)v;
	return 1;
}

int cbs_get_u24(struct cbs *cbs, uint32_t *out)
{
	uint64_t v;

	if (!get_be(cbs, &v, 3))
		return 0;
	*out = (uint32_t)v;
	return 1;
}

int cbs_get_u32(struct cbs *cbs, uint32_t *out)
{
	uint64_t v;

	if (!get_be(cbs, &v, 4))
		return 0;
	*out = (uint32_t)v;
	return 1;
}

int cbs_get_u64(struct cbs *cbs, uint64_t *out)
{
	return get_be(cbs, out, 8);
}

int cbs_get_bytes(struct cbs *cbs, struct cbs *out, size_t len)
{
	const uint8_t *p = cbs->data;

	if (!cbs_skip(cbs, len))
		return 0;
	cbs_init(out, p, len);
	return 1;
}

int cbs_copy_bytes(struct cbs *cbs, uint8_t *out, size_t len)
{
	if (cbs->len < len)
		return 0;
	if (len != 0)
		memcpy(out, cbs->data, len);
	return cbs_skip(cbs, len);
}

/* get_length_prefixed works on a copy so that a failure anywhere (short
 * prefix, short body) leaves |cbs| where it was. */
static int get_length_prefixed(struct cbs *cbs, struct cbs *out, size_t prefix_len)
{
	struct cbs tmp = *cbs;
	uint64_t len;

	if (!get_be(&tmp, &len, prefix_len) || !cbs_get_bytes(&tmp, out, (size_t)len))
		return 0;
	*cbs = tmp;
	return 1;
}

int cbs_get_u8_length_prefixed(struct cbs *cbs, struct cbs *out)
{
	return get_length_prefixed(cbs, out, 1);
}

int cbs_get_u16_length_prefixed(struct cbs *cbs, struct cbs *out)
{
	return get_length_prefixed(cbs, out, 2);
}

int cbs_get_u24_length_prefixed(struct cbs *cbs, struct cbs *out)
{
	return get_length_prefixed(cbs, out, 3);
}

int cbs_mem_equal(const struct cbs *cbs, const uint8_t *data, size_t len)
{
	if (cbs->len != len)
		return 0;
	return len == 0 || memcmp(cbs->data, data, len) == 0;
}

/* ---- DER (X.690 section 8.1 and 10.1) ---- */

int cbs_get_any_asn1_element(struct cbs *cbs, struct cbs *out, unsigned *out_tag,
			     size_t *out_header_len)
{
	struct cbs hdr = *cbs;
	uint8_t tag, len_byte;
	size_t len, header_len;

	if (!cbs_get_u8(&hdr, &tag) || !cbs_get_u8(&hdr, &len_byte))
		return 0;
	/* High-tag-number form (8.1.2.4) is never used by the structures we
	 * parse; [UNIVERSAL 0] is reserved for the encoding (end-of-contents). */
	if ((tag & 0x1f) == 0x1f || (tag & 0xdf) == 0)
		return 0;
	if ((len_byte & 0x80) == 0) {
		len = len_byte;
		header_len = 2;
	} else {
		size_t num_bytes = len_byte & 0x7f;
		uint64_t v;

		/* 0x80 is the indefinite form, forbidden in DER (10.1); more
		 * than 4 length bytes (>= 4 GiB) is never legitimate here. */
		if (num_bytes == 0 || num_bytes > 4)
			return 0;
		if (!get_be(&hdr, &v, num_bytes))
			return 0;
		/* Minimal encoding (10.1): short form when it fits, and no
		 * leading zero byte in the long form. */
		if (v < 0x80 || (v >> ((num_bytes - 1) * 8)) == 0)
			return 0;
		len = (size_t)v;
		header_len = 2 + num_bytes;
	}
	if (len > cbs->len - header_len)
		return 0;
	if (!cbs_get_bytes(cbs, out, header_len + len))
		return 0;
	if (out_tag != NULL)
		*out_tag = tag;
	if (out_header_len != NULL)
		*out_header_len = header_len;
	return 1;
}

/* get_asn1 reads an element of |tag|; |skip_header| selects contents only. */
static int get_asn1(struct cbs *cbs, struct cbs *out, unsigned tag, int skip_header)
{
	struct cbs tmp = *cbs, elem;
	unsigned got;
	size_t header_len;

	if (!cbs_get_any_asn1_element(&tmp, &elem, &got, &header_len) || got != tag)
		return 0;
	if (skip_header && !cbs_skip(&elem, header_len))
		return 0;
	*cbs = tmp;
	*out = elem;
	return 1;
}

int cbs_get_asn1(struct cbs *cbs, struct cbs *out, unsigned tag)
{
	return get_asn1(cbs, out, tag, 1);
}

int cbs_get_asn1_element(struct cbs *cbs, struct cbs *out, unsigned tag)
{
	return get_asn1(cbs, out, tag, 0);
}

int cbs_peek_asn1_tag(const struct cbs *cbs, unsigned tag)
{
	return cbs->len >= 1 && cbs->data[0] == tag;
}

/* ---- cbb: builder ---- */

int cbb_init(struct cbb *cbb, size_t initial_cap, size_t max_len)
{
	memset(cbb, 0, sizeof(*cbb));
	if (initial_cap > max_len)
		initial_cap = max_len;
	if (initial_cap == 0)
		initial_cap = 1; /* so a finished empty cbb hands back non-NULL */
	cbb->own.buf = malloc(initial_cap);
	if (cbb->own.buf == NULL)
		return 0;
	cbb->own.cap = initial_cap;
	cbb->own.max_len = max_len;
	cbb->base = &cbb->own;
	return 1;
}

void cbb_cleanup(struct cbb *cbb)
{
	/* A child shares its parent's buffer and owns nothing. */
	if (cbb->is_child)
		return;
	free(cbb->own.buf);
	memset(cbb, 0, sizeof(*cbb));
}

/* reserve makes room for |len| more bytes and returns a pointer to them
 * without committing them. Fails, setting the sticky error, past max_len. */
static uint8_t *reserve(struct cbb_base *base, size_t len)
{
	if (base->error)
		return NULL;
	if (len > base->max_len - base->len) {
		base->error = 1;
		return NULL;
	}
	if (base->len + len > base->cap) {
		size_t cap = base->cap, need = base->len + len;
		uint8_t *p;

		while (cap < need)
			cap = cap > base->max_len / 2 ? base->max_len : cap * 2;
		p = realloc(base->buf, cap);
		if (p == NULL) {
			base->error = 1;
			return NULL;
		}
		base->buf = p;
		base->cap = cap;
	}
	return base->buf + base->len;
}

int cbb_flush(struct cbb *cbb)
{
	struct cbb_base *base = cbb->base;
	struct cbb *child = cbb->child;
	size_t len;

	if (base == NULL || base->error)
		return 0;
	if (child == NULL)
		return 1;
	if (!cbb_flush(child))
		goto err;
	len = base->len - child->offset - child->prefix_len;
	if (child->prefix_len < sizeof(size_t) && (len >> (8 * child->prefix_len)) != 0)
		goto err; /* content does not fit its length prefix */
	for (size_t i = child->prefix_len; i > 0; i--) {
		base->buf[child->offset + i - 1] = (uint8_t)len;
		len >>= 8;
	}
	/* The closed child must not be written again: it has no base now. */
	child->base = NULL;
	cbb->child = NULL;
	return 1;
err:
	base->error = 1;
	return 0;
}

int cbb_finish(struct cbb *cbb, uint8_t **out_data, size_t *out_len)
{
	if (cbb->is_child || cbb->base == NULL)
		return 0;
	if (!cbb_flush(cbb)) {
		cbb_cleanup(cbb);
		return 0;
	}
	*out_data = cbb->own.buf;
	*out_len = cbb->own.len;
	cbb->own.buf = NULL;
	cbb_cleanup(cbb);
	return 1;
}

const uint8_t *cbb_data(struct cbb *cbb)
{
	if (!cbb_flush(cbb))
		return NULL;
	return cbb->base->buf + (cbb->is_child ? cbb->offset + cbb->prefix_len : 0);
}

size_t cbb_len(struct cbb *cbb)
{
	if (!cbb_flush(cbb))
		return 0;
	return cbb->base->len - (cbb->is_child ? cbb->offset + cbb->prefix_len : 0);
}

int cbb_add_space(struct cbb *cbb, uint8_t **out, size_t len)
{
	uint8_t *p;

	if (!cbb_flush(cbb) || (p = reserve(cbb->base, len)) == NULL)
		return 0;
	cbb->base->len += len;
	*out = p;
	return 1;
}

int cbb_add_bytes(struct cbb *cbb, const uint8_t *data, size_t len)
{
	uint8_t *p;

	if (!cbb_add_space(cbb, &p, len))
		return 0;
	if (len != 0)
		memcpy(p, data, len);
	return 1;
}

/* add_be appends the low |n| bytes of |v|, big-endian. */
static int add_be(struct cbb *cbb, uint64_t v, size_t n)
{
	uint8_t *p;

	if (!cbb_add_space(cbb, &p, n))
		return 0;
	for (size_t i = n; i > 0; i--) {
		p[i - 1] = (uint8_t)v;
		v >>= 8;
	}
	return 1;
}

int cbb_add_u8(struct cbb *cbb, uint8_t v) { return add_be(cbb, v, 1); }
int cbb_add_u16(struct cbb *cbb, uint16_t v) { return add_be(cbb, v, 2); }
int cbb_add_u32(struct cbb *cbb, uint32_t v) { return add_be(cbb, v, 4); }
int cbb_add_u64(struct cbb *cbb, uint64_t v) { return add_be(cbb, v, 8); }

int cbb_add_u24(struct cbb *cbb, uint32_t v)
{
	if (v > 0xffffff) {
		if (cbb->base != NULL)
			cbb->base->error = 1;
		return 0;
	}
	return add_be(cbb, v, 3);
}

/* add_length_prefixed writes a zero placeholder of |prefix_len| bytes that
 * cbb_flush later overwrites with the child's content length. */
static int add_length_prefixed(struct cbb *cbb, struct cbb *child, uint8_t prefix_len)
{
	size_t offset;

	if (cbb->base == NULL)
		return 0;
	offset = cbb->base->len;
	if (!add_be(cbb, 0, prefix_len))
		return 0;
	memset(child, 0, sizeof(*child));
	child->base = cbb->base;
	child->offset = offset;
	child->prefix_len = prefix_len;
	child->is_child = 1;
	cbb->child = child;
	return 1;
}

int cbb_add_u8_length_prefixed(struct cbb *cbb, struct cbb *child)
{
	return add_length_prefixed(cbb, child, 1);
}

int cbb_add_u16_length_prefixed(struct cbb *cbb, struct cbb *child)
{
	return add_length_prefixed(cbb, child, 2);
}

int cbb_add_u24_length_prefixed(struct cbb *cbb, struct cbb *child)
{
	return add_length_prefixed(cbb, child, 3);
}

int mn_reserve(uint8_t **buf, size_t *cap, size_t used, size_t add, size_t max)
{
	size_t c = *cap < 4096 ? 4096 : *cap;
	uint8_t *nb;

	if (add <= *cap - used)
		return 1;
	while (c - used < add)
		c = c > max / 2 ? max : c * 2;
	nb = realloc(*buf, c);
	if (nb == NULL)
		return 0;
	*buf = nb;
	*cap = c;
	return 1;
}

int mn_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mn_parse_dec(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 1;
}
