/* test_bytes.c: the cbs reader and cbb builder (common/bytes.h), including
 * DER element parsing against hand-checked X.690 encodings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"

/* assert_unchanged: a failed getter must leave the cursor where it was. */
#define assert_unchanged(c, d, l)           \
	do {                                \
		assert_ptr_equal((c)->data, (d)); \
		assert_int_equal((c)->len, (l));  \
	} while (0)

static const uint8_t k8[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };

static void test_cbs_ints(void **state)
{
	struct cbs c;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	(void)state;
	/* exact size */
	cbs_init(&c, k8, 1);
	assert_true(cbs_get_u8(&c, &u8));
	assert_int_equal(u8, 0x01);
	assert_int_equal(cbs_len(&c), 0);
	cbs_init(&c, k8, 2);
	assert_true(cbs_get_u16(&c, &u16));
	assert_int_equal(u16, 0x0123);
	assert_int_equal(cbs_len(&c), 0);
	cbs_init(&c, k8, 3);
	assert_true(cbs_get_u24(&c, &u32));
	assert_int_equal(u32, 0x012345);
	assert_int_equal(cbs_len(&c), 0);
	cbs_init(&c, k8, 4);
	assert_true(cbs_get_u32(&c, &u32));
	assert_int_equal(u32, 0x01234567);
	assert_int_equal(cbs_len(&c), 0);
	cbs_init(&c, k8, 8);
	assert_true(cbs_get_u64(&c, &u64));
	assert_true(u64 == 0x0123456789abcdefULL);
	assert_int_equal(cbs_len(&c), 0);
	assert_ptr_equal(cbs_data(&c), k8 + 8);

	/* sequential reads advance */
	cbs_init(&c, k8, 8);
	assert_true(cbs_get_u8(&c, &u8) && cbs_get_u16(&c, &u16) && cbs_get_u24(&c, &u32));
	assert_int_equal(u8, 0x01);
	assert_int_equal(u16, 0x2345);
	assert_int_equal(u32, 0x6789ab);
	assert_int_equal(cbs_len(&c), 2);
	assert_ptr_equal(cbs_data(&c), k8 + 6);

	/* short and empty: fail, cursor unchanged, output untouched */
	for (size_t l = 0; l < 8; l++) {
		cbs_init(&c, k8, l);
		u8 = 0x55;
		u16 = 0x5555;
		u32 = 0x55555555;
		u64 = 0x55;
		if (l < 1) {
			assert_false(cbs_get_u8(&c, &u8));
			assert_int_equal(u8, 0x55);
		}
		if (l < 2) {
			assert_false(cbs_get_u16(&c, &u16));
			assert_int_equal(u16, 0x5555);
		}
		if (l < 3)
			assert_false(cbs_get_u24(&c, &u32));
		if (l < 4)
			assert_false(cbs_get_u32(&c, &u32));
		assert_int_equal(u32, 0x55555555);
		assert_false(cbs_get_u64(&c, &u64));
		assert_int_equal(u64, 0x55);
		assert_unchanged(&c, k8, l);
	}
}

static void test_cbs_bytes(void **state)
{
	struct cbs c, out;
	uint8_t buf[8];

	(void)state;
	cbs_init(&c, k8, 8);
	assert_true(cbs_skip(&c, 1));
	assert_true(cbs_get_bytes(&c, &out, 3));
	assert_ptr_equal(out.data, k8 + 1);
	assert_int_equal(out.len, 3);
	assert_true(cbs_mem_equal(&out, k8 + 1, 3));
	assert_false(cbs_mem_equal(&out, k8 + 1, 2));
	assert_false(cbs_mem_equal(&out, k8, 3));
	assert_false(cbs_get_bytes(&c, &out, 5));
	assert_unchanged(&c, k8 + 4, 4);
	assert_false(cbs_skip(&c, 5));
	assert_unchanged(&c, k8 + 4, 4);
	memset(buf, 0, sizeof(buf));
	assert_false(cbs_copy_bytes(&c, buf, 5));
	assert_unchanged(&c, k8 + 4, 4);
	assert_true(cbs_copy_bytes(&c, buf, 4));
	assert_memory_equal(buf, k8 + 4, 4);
	assert_int_equal(cbs_len(&c), 0);
	/* zero-length reads succeed on an empty cursor */
	assert_true(cbs_get_bytes(&c, &out, 0));
	assert_int_equal(out.len, 0);
	assert_true(cbs_skip(&c, 0));
	assert_true(cbs_mem_equal(&out, NULL, 0));
	cbs_init(&c, NULL, 0);
	assert_false(cbs_skip(&c, 1));
	assert_false(cbs_get_bytes(&c, &out, 1));
}

static void test_cbs_length_prefixed(void **state)
{
	static const uint8_t u8p[] = { 2, 0xaa, 0xbb, 0xcc };
	static const uint8_t u16p[] = { 0, 2, 0xaa, 0xbb, 0xcc };
	static const uint8_t u24p[] = { 0, 0, 2, 0xaa, 0xbb, 0xcc };
	static const uint8_t ab[] = { 0xaa, 0xbb };
	static const uint8_t big16[] = { 0x01, 0x00, 0xaa };
	static const struct {
		const uint8_t *in;
		size_t len;
		int width;
	} ok[] = { { u8p, sizeof(u8p), 1 }, { u16p, sizeof(u16p), 2 }, { u24p, sizeof(u24p), 3 } };
	struct cbs c, out;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		int (*get)(struct cbs *, struct cbs *) =
			ok[i].width == 1 ? cbs_get_u8_length_prefixed :
			ok[i].width == 2 ? cbs_get_u16_length_prefixed :
					   cbs_get_u24_length_prefixed;

		cbs_init(&c, ok[i].in, ok[i].len);
		assert_true(get(&c, &out));
		assert_true(cbs_mem_equal(&out, ab, 2));
		/* trailing-byte detection: one byte is left over */
		assert_int_equal(cbs_len(&c), 1);
		assert_int_equal(*cbs_data(&c), 0xcc);

		/* body truncated: every shorter input fails, cursor unchanged,
		 * including truncated prefixes (len < width) and empty input */
		for (size_t l = 0; l < (size_t)ok[i].width + 2; l++) {
			cbs_init(&c, ok[i].in, l);
			out.data = NULL;
			out.len = 77;
			assert_false(get(&c, &out));
			assert_unchanged(&c, ok[i].in, l);
			assert_int_equal(out.len, 77);
		}
		/* exactly prefix + body: no trailing bytes */
		cbs_init(&c, ok[i].in, (size_t)ok[i].width + 2);
		assert_true(get(&c, &out));
		assert_int_equal(cbs_len(&c), 0);
	}
	/* a u16 length of 256 with one byte behind it */
	cbs_init(&c, big16, sizeof(big16));
	assert_false(cbs_get_u16_length_prefixed(&c, &out));
	assert_unchanged(&c, big16, sizeof(big16));
	/* zero-length body */
	cbs_init(&c, u16p, 0);
	{
		static const uint8_t z[] = { 0, 0 };

		cbs_init(&c, z, 2);
		assert_true(cbs_get_u16_length_prefixed(&c, &out));
		assert_int_equal(out.len, 0);
		assert_int_equal(cbs_len(&c), 0);
	}
}

/* finish_expect finishes |cbb| and compares with |want|. */
static void finish_expect(struct cbb *cbb, const uint8_t *want, size_t want_len)
{
	uint8_t *data = NULL;
	size_t len = 0;

	assert_true(cbb_finish(cbb, &data, &len));
	assert_non_null(data);
	assert_int_equal(len, want_len);
	if (want_len != 0)
		assert_memory_equal(data, want, want_len);
	free(data);
}

static void test_cbb_ints(void **state)
{
	static const uint8_t want[] = {
		0x01, 0x01, 0x02, 0x01, 0x02, 0x03, 0x01, 0x02, 0x03, 0x04,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xde, 0xad,
	};
	static const uint8_t dead[] = { 0xde, 0xad };
	struct cbb b;
	uint8_t *p;

	(void)state;
	assert_true(cbb_init(&b, 0, 1024));
	assert_true(cbb_add_u8(&b, 1));
	assert_true(cbb_add_u16(&b, 0x0102));
	assert_true(cbb_add_u24(&b, 0x010203));
	assert_true(cbb_add_u32(&b, 0x01020304));
	assert_true(cbb_add_u64(&b, 0x0102030405060708ULL));
	assert_true(cbb_add_space(&b, &p, 1));
	p[0] = 0xde;
	assert_true(cbb_add_bytes(&b, dead + 1, 1));
	assert_int_equal(cbb_len(&b), sizeof(want));
	assert_memory_equal(cbb_data(&b), want, sizeof(want));
	finish_expect(&b, want, sizeof(want));

	/* an empty builder finishes to an empty, non-NULL buffer */
	assert_true(cbb_init(&b, 0, 0));
	finish_expect(&b, NULL, 0);

	/* u24 out of range is an error */
	assert_true(cbb_init(&b, 4, 16));
	assert_false(cbb_add_u24(&b, 0x1000000));
	assert_false(cbb_finish(&b, &p, &(size_t){ 0 }));
	cbb_cleanup(&b);
}

/* round trip: a u8, u16 and u24 prefixed child at top level, and a u16 child
 * nested in a u24 child, parsed back with cbs. */
static void test_cbb_cbs_roundtrip(void **state)
{
	struct cbb b, c1, c2, c3, outer, inner;
	uint8_t *data;
	size_t len;
	struct cbs c, v1, v2, v3, vo, vi;
	uint8_t big[300];
	uint8_t u8;
	uint64_t u64;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	assert_true(cbb_init(&b, 1, 1 << 20));
	assert_true(cbb_add_u8_length_prefixed(&b, &c1));
	assert_true(cbb_add_bytes(&c1, big, 255));
	/* writing to the parent flushes the open child */
	assert_true(cbb_add_u16_length_prefixed(&b, &c2));
	assert_true(cbb_add_bytes(&c2, big, 300));
	assert_int_equal(cbb_len(&c2), 300);
	assert_memory_equal(cbb_data(&c2), big, 300);
	assert_true(cbb_add_u24_length_prefixed(&b, &c3));
	assert_true(cbb_add_u64(&c3, 42));
	assert_true(cbb_add_u24_length_prefixed(&b, &outer));
	assert_true(cbb_add_u8(&outer, 0x99));
	assert_true(cbb_add_u16_length_prefixed(&outer, &inner));
	assert_true(cbb_add_bytes(&inner, big, 3));
	/* the nested child is flushed by a write to the grandparent */
	assert_true(cbb_add_u8(&b, 0x77));
	/* a closed child refuses writes */
	assert_false(cbb_add_u8(&inner, 1));
	assert_true(cbb_finish(&b, &data, &len));
	assert_int_equal(len, 1 + 255 + 2 + 300 + 3 + 8 + 3 + 1 + 2 + 3 + 1);
	/* the prefixes themselves, checked by hand */
	assert_int_equal(data[0], 0xff);
	assert_int_equal(data[256], 0x01);
	assert_int_equal(data[257], 0x2c);

	cbs_init(&c, data, len);
	assert_true(cbs_get_u8_length_prefixed(&c, &v1));
	assert_true(cbs_mem_equal(&v1, big, 255));
	assert_true(cbs_get_u16_length_prefixed(&c, &v2));
	assert_true(cbs_mem_equal(&v2, big, 300));
	assert_true(cbs_get_u24_length_prefixed(&c, &v3));
	assert_true(cbs_get_u64(&v3, &u64));
	assert_true(u64 == 42);
	assert_int_equal(cbs_len(&v3), 0);
	assert_true(cbs_get_u24_length_prefixed(&c, &vo));
	assert_int_equal(cbs_len(&vo), 1 + 2 + 3);
	assert_true(cbs_get_u8(&vo, &u8));
	assert_int_equal(u8, 0x99);
	assert_true(cbs_get_u16_length_prefixed(&vo, &vi));
	assert_true(cbs_mem_equal(&vi, big, 3));
	assert_int_equal(cbs_len(&vo), 0);
	assert_true(cbs_get_u8(&c, &u8));
	assert_int_equal(u8, 0x77);
	assert_int_equal(cbs_len(&c), 0);
	free(data);

	/* unflushed children are closed by cbb_finish */
	assert_true(cbb_init(&b, 0, 64));
	assert_true(cbb_add_u16_length_prefixed(&b, &outer));
	assert_true(cbb_add_u8_length_prefixed(&outer, &inner));
	assert_true(cbb_add_u8(&inner, 5));
	{
		static const uint8_t want[] = { 0x00, 0x02, 0x01, 0x05 };

		finish_expect(&b, want, sizeof(want));
	}
}

static void test_cbb_errors(void **state)
{
	struct cbb b, child;
	uint8_t *data = NULL, zeros[300];
	size_t len = 0;

	(void)state;
	memset(zeros, 0, sizeof(zeros));
	/* max_len is a hard cap; the error is sticky */
	assert_true(cbb_init(&b, 2, 10));
	assert_true(cbb_add_bytes(&b, zeros, 10));
	assert_false(cbb_add_u8(&b, 1));
	assert_false(cbb_add_bytes(&b, zeros, 0));
	assert_null(cbb_data(&b));
	assert_false(cbb_finish(&b, &data, &len));
	assert_null(data);
	cbb_cleanup(&b);

	/* a failed large write does not let a small one through afterwards */
	assert_true(cbb_init(&b, 2, 10));
	assert_true(cbb_add_u32(&b, 1));
	assert_false(cbb_add_u64(&b, 1));
	assert_false(cbb_add_u8(&b, 1));
	assert_false(cbb_finish(&b, &data, &len));

	/* the cap counts length prefixes too */
	assert_true(cbb_init(&b, 2, 10));
	assert_true(cbb_add_u16_length_prefixed(&b, &child));
	assert_true(cbb_add_bytes(&child, zeros, 8));
	assert_false(cbb_add_u8(&child, 0));
	assert_false(cbb_finish(&b, &data, &len));

	/* 256 bytes into a u8 child overflows its prefix */
	assert_true(cbb_init(&b, 0, 4096));
	assert_true(cbb_add_u8_length_prefixed(&b, &child));
	assert_true(cbb_add_bytes(&child, zeros, 256));
	assert_false(cbb_flush(&b));
	assert_false(cbb_add_u8(&b, 0));
	assert_false(cbb_finish(&b, &data, &len));
	cbb_cleanup(&b);

	/* the same, detected at cbb_finish */
	assert_true(cbb_init(&b, 0, 4096));
	assert_true(cbb_add_u8_length_prefixed(&b, &child));
	assert_true(cbb_add_bytes(&child, zeros, 256));
	assert_false(cbb_finish(&b, &data, &len));

	/* 65536 bytes into a u16 child */
	assert_true(cbb_init(&b, 0, 1 << 20));
	assert_true(cbb_add_u16_length_prefixed(&b, &child));
	for (int i = 0; i < 256; i++)
		assert_true(cbb_add_bytes(&child, zeros, 256));
	assert_false(cbb_finish(&b, &data, &len));

	/* cbb_finish refuses a child; cbb_cleanup on a child is a no-op */
	assert_true(cbb_init(&b, 0, 64));
	assert_true(cbb_add_u8_length_prefixed(&b, &child));
	assert_false(cbb_finish(&child, &data, &len));
	cbb_cleanup(&child);
	cbb_cleanup(&b);
	cbb_cleanup(&b); /* idempotent */
}

/* ---- DER ---- */

static void test_der_known(void **state)
{
	/* SEQUENCE { INTEGER 5 } */
	static const uint8_t seq[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	/* [3] constructed, as in a TBSCertificate's extensions, then a NULL */
	static const uint8_t ctx[] = { 0xa3, 0x02, 0x04, 0x00, 0x05, 0x00 };
	struct cbs c, out, inner;
	unsigned tag;
	size_t hdr;
	uint8_t v;

	(void)state;
	cbs_init(&c, seq, sizeof(seq));
	assert_true(cbs_peek_asn1_tag(&c, CBS_ASN1_SEQUENCE));
	assert_false(cbs_peek_asn1_tag(&c, CBS_ASN1_INTEGER));
	assert_false(cbs_get_asn1(&c, &out, CBS_ASN1_INTEGER));
	assert_unchanged(&c, seq, sizeof(seq));
	assert_true(cbs_get_asn1(&c, &out, CBS_ASN1_SEQUENCE));
	assert_int_equal(cbs_len(&c), 0);
	assert_ptr_equal(out.data, seq + 2);
	assert_int_equal(out.len, 3);
	assert_true(cbs_get_asn1(&out, &inner, CBS_ASN1_INTEGER));
	assert_int_equal(cbs_len(&out), 0);
	assert_int_equal(inner.len, 1);
	assert_true(cbs_get_u8(&inner, &v));
	assert_int_equal(v, 5);

	cbs_init(&c, seq, sizeof(seq));
	assert_true(cbs_get_asn1_element(&c, &out, CBS_ASN1_SEQUENCE));
	assert_true(cbs_mem_equal(&out, seq, sizeof(seq)));

	cbs_init(&c, ctx, sizeof(ctx));
	assert_true(cbs_get_any_asn1_element(&c, &out, &tag, &hdr));
	assert_int_equal(tag, 0xa3);
	assert_int_equal(hdr, 2);
	assert_true(cbs_mem_equal(&out, ctx, 4));
	assert_true(cbs_get_any_asn1_element(&c, &out, NULL, NULL));
	assert_int_equal(out.len, 2);
	assert_int_equal(cbs_len(&c), 0);
	assert_false(cbs_get_any_asn1_element(&c, &out, NULL, NULL));
	assert_false(cbs_peek_asn1_tag(&c, 0x05));
}

static void test_der_lengths(void **state)
{
	uint8_t buf[4 + 300];
	struct cbs c, out;
	unsigned tag;
	size_t hdr;

	(void)state;
	memset(buf, 0xab, sizeof(buf));
	/* long form 0x81 0x80: 128 bytes of content */
	buf[0] = CBS_ASN1_OCTETSTRING;
	buf[1] = 0x81;
	buf[2] = 0x80;
	cbs_init(&c, buf, 3 + 128);
	assert_true(cbs_get_any_asn1_element(&c, &out, &tag, &hdr));
	assert_int_equal(tag, CBS_ASN1_OCTETSTRING);
	assert_int_equal(hdr, 3);
	assert_int_equal(out.len, 131);
	assert_int_equal(cbs_len(&c), 0);
	cbs_init(&c, buf, 3 + 128);
	assert_true(cbs_get_asn1(&c, &out, CBS_ASN1_OCTETSTRING));
	assert_ptr_equal(out.data, buf + 3);
	assert_int_equal(out.len, 128);
	/* one content byte short: length past the end */
	cbs_init(&c, buf, 3 + 127);
	assert_false(cbs_get_asn1(&c, &out, CBS_ASN1_OCTETSTRING));
	assert_unchanged(&c, buf, 130);
	/* trailing byte after the element stays in the cursor */
	cbs_init(&c, buf, 3 + 129);
	assert_true(cbs_get_asn1(&c, &out, CBS_ASN1_OCTETSTRING));
	assert_int_equal(cbs_len(&c), 1);

	/* 0x82 0x01 0x2c: 300 bytes */
	buf[1] = 0x82;
	buf[2] = 0x01;
	buf[3] = 0x2c;
	cbs_init(&c, buf, 4 + 300);
	assert_true(cbs_get_asn1(&c, &out, CBS_ASN1_OCTETSTRING));
	assert_int_equal(out.len, 300);
	assert_int_equal(cbs_len(&c), 0);
	/* 0x82 0x00 0x80: leading zero, not minimal */
	buf[2] = 0x00;
	buf[3] = 0x80;
	cbs_init(&c, buf, 4 + 128);
	assert_false(cbs_get_asn1(&c, &out, CBS_ASN1_OCTETSTRING));
	assert_unchanged(&c, buf, 4 + 128);

	{
		static const uint8_t bad[][5] = {
			{ 0x04, 0x81, 0x05, 0, 0 },    /* fits short form */
			{ 0x04, 0x81, 0x00, 0, 0 },    /* ditto, zero */
			{ 0x30, 0x80, 0x00, 0x00, 0 }, /* indefinite */
			{ 0x1f, 0x01, 0x00, 0, 0 },    /* high tag number */
			{ 0x3f, 0x01, 0x00, 0, 0 },    /* ditto, constructed */
			{ 0x9f, 0x20, 0x00, 0, 0 },    /* ditto, context */
			{ 0x04, 0x04, 0x00, 0, 0 },    /* past end (4 > 3) */
			{ 0x04, 0x85, 0x01, 0, 0 },    /* 5 length bytes */
			{ 0x04, 0xff, 0x01, 0, 0 },    /* reserved */
			{ 0x04, 0x82, 0x01, 0, 0 },    /* truncated length */
			{ 0x00, 0x00, 0x00, 0, 0 },    /* [UNIVERSAL 0] */
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			cbs_init(&c, bad[i], 5);
			assert_false(cbs_get_any_asn1_element(&c, &out, &tag, &hdr));
			assert_unchanged(&c, bad[i], 5);
		}
	}
	/* non-minimal long form with the content present: 04 81 05 + 5 bytes
	 * is rejected although 04 05 + the same 5 bytes is fine */
	{
		static const uint8_t nm[] = { 0x04, 0x81, 0x05, 1, 2, 3, 4, 5 };
		static const uint8_t sf[] = { 0x04, 0x05, 1, 2, 3, 4, 5 };

		cbs_init(&c, nm, sizeof(nm));
		assert_false(cbs_get_asn1(&c, &out, CBS_ASN1_OCTETSTRING));
		assert_unchanged(&c, nm, sizeof(nm));
		cbs_init(&c, sf, sizeof(sf));
		assert_true(cbs_get_asn1(&c, &out, CBS_ASN1_OCTETSTRING));
		assert_true(cbs_mem_equal(&out, nm + 3, 5));
	}
	/* header alone, or truncated header */
	{
		static const uint8_t h[] = { 0x04, 0x01 };

		cbs_init(&c, h, 2);
		assert_false(cbs_get_any_asn1_element(&c, &out, NULL, NULL));
		cbs_init(&c, h, 1);
		assert_false(cbs_get_any_asn1_element(&c, &out, NULL, NULL));
		cbs_init(&c, h, 0);
		assert_false(cbs_get_any_asn1_element(&c, &out, NULL, NULL));
	}
	/* zero-length contents are fine: NULL is 05 00 */
	{
		static const uint8_t n[] = { 0x05, 0x00 };

		cbs_init(&c, n, 2);
		assert_true(cbs_get_asn1(&c, &out, 0x05));
		assert_int_equal(out.len, 0);
		assert_int_equal(cbs_len(&c), 0);
	}
}

/* mn_reserve: 4096 first, doubling, clamped at max; untouched when room is left. */
static void test_reserve(void **state)
{
	uint8_t *buf = NULL, *kept;
	size_t cap = 0;

	(void)state;
	assert_int_equal(mn_reserve(&buf, &cap, 0, 10, 100000), 1);
	assert_non_null(buf);
	assert_int_equal(cap, 4096);
	kept = buf;
	assert_int_equal(mn_reserve(&buf, &cap, 4000, 96, 100000), 1);
	assert_ptr_equal(buf, kept);
	assert_int_equal(cap, 4096);
	assert_int_equal(mn_reserve(&buf, &cap, 4096, 1, 100000), 1);
	assert_int_equal(cap, 8192);
	assert_int_equal(mn_reserve(&buf, &cap, 8192, 20000, 100000), 1);
	assert_int_equal(cap, 32768);
	assert_int_equal(mn_reserve(&buf, &cap, 32768, 67232, 100000), 1);
	assert_int_equal(cap, 100000); /* 65536 * 2 would pass max */
	memset(buf, 1, cap);
	free(buf);
	buf = NULL;
	cap = 5000; /* a Content-Length-sized buffer grows from there */
	buf = malloc(cap);
	assert_int_equal(mn_reserve(&buf, &cap, 5000, 1, 1 << 20), 1);
	assert_int_equal(cap, 10000);
	free(buf);
}

static void test_parse_dec(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_int_equal(mn_parse_dec("0", 1, &v), 1);
	assert_int_equal(v, 0);
	assert_int_equal(mn_parse_dec("18446744073709551615", 20, &v), 1);
	assert_true(v == UINT64_MAX);
	assert_int_equal(mn_parse_dec("18446744073709551616", 20, &v), 0);
	assert_int_equal(mn_parse_dec("123456789012345678901", 21, &v), 0);
	assert_int_equal(mn_parse_dec("042", 3, &v), 0);
	assert_int_equal(mn_parse_dec("4 2", 3, &v), 0);
	assert_int_equal(mn_parse_dec("-1", 2, &v), 0);
	assert_int_equal(mn_parse_dec("", 0, &v), 0);
	assert_int_equal(mn_parse_dec("4096x", 4, &v), 1); /* only |len| bytes */
	assert_int_equal(v, 4096);
}

static void test_be64(void **state)
{
	uint8_t b[8];

	(void)state;
	mn_put_be64(b, 0x0123456789abcdefULL);
	assert_memory_equal(b, k8, 8);
	assert_true(mn_get_be64(k8) == 0x0123456789abcdefULL);
}

/* mn_hex_digit against libc's isxdigit and strtol for every byte value (and
 * a few ints outside a byte). */
static void test_hex_digit(void **state)
{
	(void)state;
	for (int c = 0; c < 256; c++) {
		char buf[2] = {(char)c, 0};
		int want = isxdigit(c) ? (int)strtol(buf, NULL, 16) : -1;
		assert_int_equal(mn_hex_digit(c), want);
	}
	assert_int_equal(mn_hex_digit(-1), -1);
	assert_int_equal(mn_hex_digit(256 + '0'), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cbs_ints),
		cmocka_unit_test(test_cbs_bytes),
		cmocka_unit_test(test_cbs_length_prefixed),
		cmocka_unit_test(test_cbb_ints),
		cmocka_unit_test(test_cbb_cbs_roundtrip),
		cmocka_unit_test(test_cbb_errors),
		cmocka_unit_test(test_der_known),
		cmocka_unit_test(test_der_lengths),
		cmocka_unit_test(test_be64),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_parse_dec),
		cmocka_unit_test(test_hex_digit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
