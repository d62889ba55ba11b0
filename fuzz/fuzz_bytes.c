/* fuzz_bytes.c: the cbs readers and cbb writers of common/bytes.h, DER included.
 *
 * Input: u8 prog_len, u8 cap, prog[prog_len], data[...]. Each program byte picks
 * a reader (and some take the next program byte as a length) that runs on a
 * cbs over |data|; everything read is written back with the matching cbb call.
 * Checks (BoringSSL fuzz/der_roundtrip.cc style):
 *   - a failed read leaves the cursor unchanged (bytes.h contract);
 *   - the cbb output equals exactly the bytes consumed from |data|;
 *   - the cbb cap (|cap| >= 200: unlimited, else cap - 200 ... well below)
 *     fails the build iff more than cap bytes were written;
 *   - a DER element's header re-encodes to the same bytes (minimal lengths),
 *     cbs_get_asn1 and cbs_get_asn1_element agree with the generic reader,
 *     and a recursive walk of constructed elements stays in bounds. */
#include <string.h>

#include "common/bytes.h"
#include "fuzz/fuzz.h"

const char fuzz_target_name[] = "bytes";

/* IGNORE: the cbb error is sticky and checked once at cbb_finish. */
#define IGNORE(x)          \
	do {               \
		if (x) {   \
		}          \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* der_header writes tag and the minimal DER length of |len| into |out|
 * (room for 6) and returns its length. */
static size_t der_header(uint8_t *out, unsigned tag, size_t len)
{
	size_t n = 0, i;
	uint8_t tmp[8];

	out[0] = (uint8_t)tag;
	if (len < 0x80) {
		out[1] = (uint8_t)len;
		return 2;
	}
	while (len > 0) {
		tmp[n++] = (uint8_t)len;
		len >>= 8;
	}
	out[1] = (uint8_t)(0x80 | n);
	for (i = 0; i < n; i++)
		out[2 + i] = tmp[n - 1 - i];
	return 2 + n;
}

/* check_element checks one element read by cbs_get_any_asn1_element. */
static void check_element(const struct cbs *elem, unsigned tag, size_t header_len)
{
	uint8_t hdr[8];
	size_t n;

	FUZZ_CHECK(header_len >= 2 && header_len <= cbs_len(elem));
	FUZZ_CHECK(cbs_data(elem)[0] == tag);
	n = der_header(hdr, tag, cbs_len(elem) - header_len);
	FUZZ_CHECK(n == header_len && memcmp(hdr, cbs_data(elem), n) == 0);
}

/* der_walk reads elements until |in| is empty or one fails, recursing into
 * constructed ones; the specific-tag readers must agree with the generic one. */
static void der_walk(struct cbs in, int depth)
{
	while (cbs_len(&in) > 0) {
		struct cbs a = in, b = in, c = in, elem, contents, elem2;
		unsigned tag;
		size_t header_len;
		int ok = cbs_get_any_asn1_element(&a, &elem, &tag, &header_len);

		if (!ok) {
			FUZZ_CHECK(a.data == in.data && a.len == in.len);
			/* with the first byte as the tag, the specific readers fail too */
			FUZZ_CHECK(!cbs_get_asn1(&b, &contents, cbs_data(&in)[0]));
			FUZZ_CHECK(!cbs_get_asn1_element(&c, &elem2, cbs_data(&in)[0]));
			FUZZ_CHECK(b.len == in.len && c.len == in.len);
			return;
		}
		check_element(&elem, tag, header_len);
		FUZZ_CHECK(cbs_peek_asn1_tag(&in, tag));
		FUZZ_CHECK(cbs_get_asn1(&b, &contents, tag));
		FUZZ_CHECK(cbs_data(&contents) == cbs_data(&elem) + header_len &&
			   cbs_len(&contents) == cbs_len(&elem) - header_len);
		FUZZ_CHECK(cbs_get_asn1_element(&c, &elem2, tag));
		FUZZ_CHECK(elem2.data == elem.data && elem2.len == elem.len);
		FUZZ_CHECK(a.len == b.len && b.len == c.len);
		/* a different tag must not match */
		b = in;
		FUZZ_CHECK(!cbs_get_asn1(&b, &contents, tag ^ 0x01u) && b.len == in.len);
		if ((tag & 0x20) && depth < 16)
			der_walk(contents, depth + 1);
		in = a;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *prog;
	size_t prog_len, cap, consumed, pc;
	struct cbs in, whole;
	struct cbb out;
	uint8_t *res = NULL;
	size_t res_len = 0;
	int finished;

	if (size < 2)
		return 0;
	prog_len = data[0];
	cap = data[1] >= 200 ? (size_t)1 << 30 : data[1];
	if (size - 2 < prog_len)
		return 0;
	prog = data + 2;
	cbs_init(&in, data + 2 + prog_len, size - 2 - prog_len);
	whole = in;
	FUZZ_CHECK(cbb_init(&out, 16, cap));

	for (pc = 0; pc < prog_len; pc++) {
		struct cbs before = in, sub;
		struct cbb child;
		uint8_t u8;
		uint16_t u16;
		uint32_t u32;
		uint64_t u64;
		uint8_t buf[256], be[8];
		unsigned tag;
		size_t header_len, n = pc + 1 < prog_len ? prog[pc + 1] : 0;
		int ok = 0;

		switch (prog[pc] % 12) {
		case 0:
			ok = cbs_get_u8(&in, &u8);
			if (ok)
				IGNORE(cbb_add_u8(&out, u8));
			break;
		case 1:
			ok = cbs_get_u16(&in, &u16);
			if (ok)
				IGNORE(cbb_add_u16(&out, u16));
			break;
		case 2:
			ok = cbs_get_u24(&in, &u32);
			if (ok) {
				FUZZ_CHECK(u32 < (1u << 24));
				IGNORE(cbb_add_u24(&out, u32));
			}
			break;
		case 3:
			ok = cbs_get_u32(&in, &u32);
			if (ok)
				IGNORE(cbb_add_u32(&out, u32));
			break;
		case 4:
			ok = cbs_get_u64(&in, &u64);
			if (ok) {
				mn_put_be64(be, u64);
				FUZZ_CHECK(memcmp(be, cbs_data(&before), 8) == 0);
				FUZZ_CHECK(mn_get_be64(be) == u64);
				IGNORE(cbb_add_u64(&out, u64));
			}
			break;
		case 5:
			pc++;
			ok = cbs_get_bytes(&in, &sub, n);
			if (ok) {
				FUZZ_CHECK(cbs_len(&sub) == n && cbs_data(&sub) == cbs_data(&before));
				FUZZ_CHECK(cbs_mem_equal(&sub, cbs_data(&before), n));
				IGNORE(cbb_add_bytes(&out, cbs_data(&sub), cbs_len(&sub)));
			}
			break;
		case 6:
		case 7:
		case 8: {
			int w = prog[pc] % 12 - 5;
			ok = w == 1 ? cbs_get_u8_length_prefixed(&in, &sub)
			   : w == 2 ? cbs_get_u16_length_prefixed(&in, &sub)
				    : cbs_get_u24_length_prefixed(&in, &sub);
			if (ok) {
				int opened = w == 1 ? cbb_add_u8_length_prefixed(&out, &child)
					   : w == 2 ? cbb_add_u16_length_prefixed(&out, &child)
						    : cbb_add_u24_length_prefixed(&out, &child);
				if (opened && cbb_add_bytes(&child, cbs_data(&sub), cbs_len(&sub)))
					IGNORE(cbb_flush(&out));
			}
			break;
		}
		case 9:
			pc++;
			ok = cbs_skip(&in, n);
			if (ok)
				IGNORE(cbb_add_bytes(&out, cbs_data(&before), n));
			break;
		case 10:
			pc++;
			ok = cbs_copy_bytes(&in, buf, n);
			if (ok) {
				uint8_t *space;
				FUZZ_CHECK(memcmp(buf, cbs_data(&before), n) == 0);
				if (cbb_add_space(&out, &space, n))
					memcpy(space, buf, n);
			}
			break;
		case 11:
			ok = cbs_get_any_asn1_element(&in, &sub, &tag, &header_len);
			if (ok) {
				check_element(&sub, tag, header_len);
				FUZZ_CHECK(cbs_data(&sub) == cbs_data(&before));
				IGNORE(cbb_add_bytes(&out, cbs_data(&sub), cbs_len(&sub)));
			}
			break;
		}
		if (!ok)
			FUZZ_CHECK(in.data == before.data && in.len == before.len);
		else
			FUZZ_CHECK(cbs_data(&in) >= cbs_data(&before) &&
				   cbs_len(&in) <= cbs_len(&before));
	}

	consumed = cbs_len(&whole) - cbs_len(&in);
	finished = cbb_finish(&out, &res, &res_len);
	FUZZ_CHECK(finished == (consumed <= cap));
	if (finished) {
		FUZZ_CHECK(res_len == consumed);
		FUZZ_CHECK(consumed == 0 || memcmp(res, cbs_data(&whole), consumed) == 0);
		free(res);
	} else {
		cbb_cleanup(&out);
	}

	der_walk(whole, 0);
	return 0;
}
