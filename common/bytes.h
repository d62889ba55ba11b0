/* bytes.h: bounds-checked byte cursor (cbs) and builder (cbb), in the style of
 * BoringSSL's bytestring (include/openssl/bytestring.h).
 *
 * A cbs borrows memory: it never owns or frees what it points at. Every cbs_get_*
 * returns 1 on success and 0 on failure; on failure the cursor is left unchanged,
 * so parsers chain calls with `||` / `&&` and bail out on the first 0.
 * A top-level parse must finish with cbs_len() == 0 (trailing bytes are an error).
 *
 * A cbb owns a growable buffer with a hard cap (max_len). Errors are sticky: after
 * one failure every later call fails and cbb_finish fails; call cbb_cleanup on the
 * error path. Length-prefixed children are back-patched on flush. While a child is
 * open, write only to the child (writing to the parent flushes the child first). */
#ifndef MN_COMMON_BYTES_H
#define MN_COMMON_BYTES_H

#include <stddef.h>
#include <stdint.h>

#define MN_WUR __attribute__((warn_unused_result))

struct cbs {
	const uint8_t *data;
	size_t len;
};

/* cbs_init points |cbs| at |len| bytes at |data| (borrowed). */
void cbs_init(struct cbs *cbs, const uint8_t *data, size_t len);
static inline size_t cbs_len(const struct cbs *cbs) { return cbs->len; }
static inline const uint8_t *cbs_data(const struct cbs *cbs) { return cbs->data; }

int cbs_skip(struct cbs *cbs, size_t len) MN_WUR;
int cbs_get_u8(struct cbs *cbs, uint8_t *out) MN_WUR;
int cbs_get_u16(struct cbs *cbs, uint16_t *out) MN_WUR;
int cbs_get_u24(struct cbs *cbs, uint32_t *out) MN_WUR;
int cbs_get_u32(struct cbs *cbs, uint32_t *out) MN_WUR;
int cbs_get_u64(struct cbs *cbs, uint64_t *out) MN_WUR;
/* cbs_get_bytes sets |out| to the next |len| bytes and advances past them. */
int cbs_get_bytes(struct cbs *cbs, struct cbs *out, size_t len) MN_WUR;
/* cbs_copy_bytes copies the next |len| bytes to |out| and advances. */
int cbs_copy_bytes(struct cbs *cbs, uint8_t *out, size_t len) MN_WUR;
/* cbs_get_uN_length_prefixed reads an N-byte big-endian length, then that many
 * bytes into |out|. */
int cbs_get_u8_length_prefixed(struct cbs *cbs, struct cbs *out) MN_WUR;
int cbs_get_u16_length_prefixed(struct cbs *cbs, struct cbs *out) MN_WUR;
int cbs_get_u24_length_prefixed(struct cbs *cbs, struct cbs *out) MN_WUR;
/* cbs_mem_equal returns 1 iff |cbs| holds exactly |len| bytes equal to |data|. */
int cbs_mem_equal(const struct cbs *cbs, const uint8_t *data, size_t len);

/* DER (X.690), definite lengths only, minimal length encoding enforced.
 * Tags are single-byte identifiers (e.g. 0x30 SEQUENCE, 0xa3 [3] constructed). */
#define CBS_ASN1_BOOLEAN 0x01u
#define CBS_ASN1_INTEGER 0x02u
#define CBS_ASN1_BITSTRING 0x03u
#define CBS_ASN1_OCTETSTRING 0x04u
#define CBS_ASN1_OBJECT 0x06u
#define CBS_ASN1_SEQUENCE 0x30u
#define CBS_ASN1_SET 0x31u
/* cbs_get_asn1 reads one element with tag |tag| and sets |out| to its contents. */
int cbs_get_asn1(struct cbs *cbs, struct cbs *out, unsigned tag) MN_WUR;
/* cbs_get_asn1_element is cbs_get_asn1 but |out| includes the header. */
int cbs_get_asn1_element(struct cbs *cbs, struct cbs *out, unsigned tag) MN_WUR;
/* cbs_get_any_asn1_element reads any element; |out_tag| and |out_header_len|
 * may be NULL. */
int cbs_get_any_asn1_element(struct cbs *cbs, struct cbs *out, unsigned *out_tag,
			     size_t *out_header_len) MN_WUR;
/* cbs_peek_asn1_tag returns 1 iff the next byte is |tag|. */
int cbs_peek_asn1_tag(const struct cbs *cbs, unsigned tag);

struct cbb_base {
	uint8_t *buf;
	size_t len, cap, max_len;
	int error;
};

struct cbb {
	struct cbb_base *base; /* shared by a builder and its children */
	struct cbb *child;     /* open length-prefixed child, or NULL */
	size_t offset;         /* where this child's length prefix starts */
	uint8_t prefix_len;    /* 0 for the top level */
	int is_child;
	struct cbb_base own;   /* storage for the top-level base */
};

/* mn_parse_dec parses the |len| bytes at |s| as a canonical decimal: digits
 * only, no leading zero (unless "0"), at most UINT64_MAX. 1 or 0. */
int mn_parse_dec(const char *s, size_t len, uint64_t *out) MN_WUR;
/* mn_hex_digit: the value of the hexadecimal digit |c| (0-9, a-f, A-F), or -1
 * for any other byte. */
int mn_hex_digit(int c);

/* mn_reserve makes room in the heap buffer |*buf| (|*cap| bytes, |used| of
 * them taken) for |add| more bytes, growing it geometrically (4096 bytes at
 * first, then doubling) but never past |max| bytes; |add| <= |max| - |used|
 * (the caller checks its limit first). Returns 1, or 0 when out of memory
 * (|*buf| and |*cap| untouched). */
int mn_reserve(uint8_t **buf, size_t *cap, size_t used, size_t add, size_t max) MN_WUR;

/* cbb_init prepares |cbb| with |initial_cap| bytes reserved and a hard cap of
 * |max_len| bytes in total. Returns 1, or 0 on allocation failure. */
int cbb_init(struct cbb *cbb, size_t initial_cap, size_t max_len) MN_WUR;
/* cbb_cleanup frees the buffer of a top-level cbb that was not finished. */
void cbb_cleanup(struct cbb *cbb);
/* cbb_finish flushes, hands the buffer to the caller (free() it) and resets
 * |cbb|. Returns 0 if any earlier operation failed (buffer freed then). */
int cbb_finish(struct cbb *cbb, uint8_t **out_data, size_t *out_len) MN_WUR;
/* cbb_flush closes any open child, back-patching its length. */
int cbb_flush(struct cbb *cbb) MN_WUR;
/* cbb_data / cbb_len: the bytes written so far (flushes first; NULL/0 on error). */
const uint8_t *cbb_data(struct cbb *cbb);
size_t cbb_len(struct cbb *cbb);

int cbb_add_u8(struct cbb *cbb, uint8_t v) MN_WUR;
int cbb_add_u16(struct cbb *cbb, uint16_t v) MN_WUR;
int cbb_add_u24(struct cbb *cbb, uint32_t v) MN_WUR;
int cbb_add_u32(struct cbb *cbb, uint32_t v) MN_WUR;
int cbb_add_u64(struct cbb *cbb, uint64_t v) MN_WUR;
int cbb_add_bytes(struct cbb *cbb, const uint8_t *data, size_t len) MN_WUR;
/* cbb_add_space reserves |len| bytes and sets |*out| to them (valid until the
 * next write). */
int cbb_add_space(struct cbb *cbb, uint8_t **out, size_t len) MN_WUR;
/* cbb_add_uN_length_prefixed opens |child| whose length is written as an N-byte
 * prefix when it is flushed; fails if the content exceeds 2^(8N)-1 bytes. */
int cbb_add_u8_length_prefixed(struct cbb *cbb, struct cbb *child) MN_WUR;
int cbb_add_u16_length_prefixed(struct cbb *cbb, struct cbb *child) MN_WUR;
int cbb_add_u24_length_prefixed(struct cbb *cbb, struct cbb *child) MN_WUR;

/* Big-endian helpers for fixed-width keys. */
static inline void mn_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}
static inline uint64_t mn_get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

#endif
