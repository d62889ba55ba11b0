/* test_tilecheck.c: entry/tilecheck.h: tile paths, the capped gunzip, a data
 * tile against its level-0 hash tile (good, a wrong hash, trailing bytes, a
 * short tile), the extra_data rebuilt from issuers, and issuer hashes. The
 * end-to-end checks are tests/logd/test_mirror.c and test_tiles.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <zlib.h>

#include "common/err.h"
#include "entry/tilecheck.h"

static void test_path(void **state)
{
	char p[128];

	(void)state;
	tilecheck_path(p, sizeof(p), "0", 0, 256);
	assert_string_equal(p, "/tile/0/000");
	tilecheck_path(p, sizeof(p), "data", 1234067, 5);
	assert_string_equal(p, "/tile/data/x001/x234/067.p/5");
	tilecheck_path(p, sizeof(p), "2", 999, 255);
	assert_string_equal(p, "/tile/2/999.p/255");
}

static size_t gzip(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return z.total_out;
}

static void test_gunzip(void **state)
{
	uint8_t in[20000], gz[30000], *out;
	size_t n, out_len;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 / 3);
	n = gzip(in, sizeof(in), gz, sizeof(gz));
	assert_int_equal(tilecheck_gunzip(gz, n, sizeof(in), &out, &out_len), 0);
	assert_int_equal(out_len, sizeof(in));
	assert_memory_equal(out, in, sizeof(in));
	free(out);
	/* one byte over the cap */
	assert_int_equal(tilecheck_gunzip(gz, n, sizeof(in) - 1, &out, &out_len), MN_ETOOBIG);
	/* truncated, corrupted, or followed by bytes */
	assert_int_equal(tilecheck_gunzip(gz, n - 5, sizeof(in), &out, &out_len), MN_EMALFORMED);
	gz[n / 2] ^= 0x55;
	assert_int_not_equal(tilecheck_gunzip(gz, n, sizeof(in), &out, &out_len), 0);
	gz[n / 2] ^= 0x55;
	gz[n] = 0;
	assert_int_equal(tilecheck_gunzip(gz, n + 1, sizeof(in), &out, &out_len), MN_EMALFORMED);
	/* not gzip: as is */
	assert_int_equal(tilecheck_gunzip(in, 100, 100, &out, &out_len), 0);
	assert_int_equal(out_len, 100);
	assert_memory_equal(out, in, 100);
	free(out);
}

/* One x509_entry: its MerkleTreeLeaf and extra_data (a chain of |issuer|). */
static const uint8_t cert[] = {0x30, 0x03, 0x02, 0x01, 0x07};
static const uint8_t issuer[] = {0x30, 0x03, 0x02, 0x01, 0x09};

static size_t make_leaf(uint8_t *out, uint64_t ts)
{
	size_t o = 0;

	out[o++] = 0; /* version */
	out[o++] = 0; /* timestamped_entry */
	for (int i = 7; i >= 0; i--)
		out[o++] = (uint8_t)(ts >> (8 * i));
	out[o++] = 0;
	out[o++] = 0; /* x509_entry */
	out[o++] = 0;
	out[o++] = 0;
	out[o++] = sizeof(cert);
	memcpy(out + o, cert, sizeof(cert));
	o += sizeof(cert);
	out[o++] = 0;
	out[o++] = 0; /* no extensions */
	return o;
}

static const uint8_t extra[] = {0, 0, 8, 0, 0, 5, 0x30, 0x03, 0x02, 0x01, 0x09};

struct seen {
	int n;
	uint64_t last;
};

static int count(void *ctx, uint64_t index, const struct tileleaf *tl, const uint8_t *leaf,
		 size_t leaf_len, const uint8_t hash[MERKLE_HASH_LEN])
{
	struct seen *s = ctx;

	(void)tl, (void)leaf, (void)leaf_len, (void)hash;
	s->n++;
	s->last = index;
	return 0;
}

static int find(void *ctx, const uint8_t fp[TILELEAF_FP_LEN], const uint8_t **der,
		size_t *der_len)
{
	(void)ctx;
	if (!tilecheck_issuer_ok(issuer, sizeof(issuer), fp))
		return MN_ENOTFOUND;
	*der = issuer;
	*der_len = sizeof(issuer);
	return 0;
}

static void test_data(void **state)
{
	struct merkle_hasher *h = merkle_hasher_new();
	uint8_t leaf[64], hashes[3 * 32], *tile, *x, *scratch = malloc(TILECHECK_MAX_LEAF);
	size_t leaf_len, tile_len, x_len;
	struct seen s = {0, 0};
	uint64_t bad = 0;
	struct cbb b;
	struct cbs c;
	struct tileleaf tl;

	(void)state;
	assert_true(cbb_init(&b, 256, 1 << 20));
	for (int i = 0; i < 3; i++) {
		leaf_len = make_leaf(leaf, 1000 + (uint64_t)i);
		merkle_leaf_hash(h, hashes + 32 * i, leaf, leaf_len);
		assert_int_equal(tileleaf_append(&b, leaf, leaf_len, extra, sizeof(extra)), 0);
	}
	assert_true(cbb_finish(&b, &tile, &tile_len));
	/* good: 3 entries of tile 5 */
	assert_int_equal(tilecheck_data(h, 5, 3, hashes, tile, tile_len, scratch, count, &s, &bad),
			 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.last, 5 * 256 + 2);
	/* a hash that is not the entry's */
	hashes[32 + 9] ^= 1;
	assert_int_equal(tilecheck_data(h, 5, 3, hashes, tile, tile_len, scratch, count, &s, &bad),
			 MN_EBADSIG);
	assert_int_equal(bad, 5 * 256 + 1);
	hashes[32 + 9] ^= 1;
	/* fewer entries than the width, or bytes after them */
	assert_int_equal(tilecheck_data(h, 0, 3, hashes, tile, tile_len - 3, scratch, count, &s,
					&bad), MN_EMALFORMED);
	assert_int_equal(tilecheck_data(h, 0, 2, hashes, tile, tile_len, scratch, count, &s, &bad),
			 MN_EMALFORMED);
	/* the extra_data comes back from the issuer fingerprints */
	cbs_init(&c, tile, tile_len);
	assert_true(tileleaf_parse(&tl, &c));
	assert_int_equal(tl.num_fps, 1);
	assert_true(cbb_init(&b, 64, 1024));
	assert_int_equal(tilecheck_extra(&b, &tl, find, NULL), 0);
	assert_true(cbb_finish(&b, &x, &x_len));
	assert_int_equal(x_len, sizeof(extra));
	assert_memory_equal(x, extra, sizeof(extra));
	free(x);
	/* an issuer that does not hash to the fingerprint is not found */
	{
		uint8_t fp[32];
		SHA256(cert, sizeof(cert), fp);
		assert_false(tilecheck_issuer_ok(issuer, sizeof(issuer), fp));
	}
	free(tile);
	free(scratch);
	merkle_hasher_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_gunzip),
		cmocka_unit_test(test_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
