/* test_tiles_big.c: issue 15's "partial tiles at every level". test_tiles
 * cross-checks levels 0 and 1 of the C2SP static read path through add-chain;
 * a level-2 tile needs more than 256 * 256 = 65,536 entries, too many to add
 * through the API in a test. So this test writes the log directly with the
 * storage API, as bench/bench_lookup.c builds its fixture (store_append_batch,
 * store_options.no_sync: a fixture, not the durable path), then starts logd on
 * it and runs tilecheck (tests/lib/tlogcheck.h: Go's sumdb/tlog and
 * sumdb/note) at two sizes:
 *
 *   SIZE_A = 65,536 + 300: level 2 partial of width 1, level 1 full + partial
 *            of width 1, level 0 full tiles + a partial of width 44;
 *   SIZE_B = 2 * 65,536 + 256 * 3 + 5: level 2 partial of width 2, level 1
 *            two full + a partial of width 3, level 0 partial of width 5.
 *
 * tilecheck proves every hash tile of every level against the checkpoint
 * (tlog.TileHashReader), checks tlog.TreeHash == the checkpoint root ==
 * get-sth's root, and checks every data tile against get-entries. Here we
 * also check that it proved exactly the number of tiles the tree has (so
 * the level-2 tile was among them), that the root is the one we computed
 * while writing the leaves, and that the level-2 tile's hashes are the roots
 * of the first 65,536-leaf subtrees we computed.
 *
 * The leaves are MerkleTreeLeafs of type x509_entry with a 40-byte synthetic
 * body (not a certificate: nothing on this path parses it) and extra_data an
 * empty certificate_chain, so the data tiles are well-formed TileLeafs with no
 * issuer fingerprints. The log is created in the RFC 6962 format
 * (no_leaf_index) so that one SCT, signed once, can be stored for every leaf.
 * Every STH is signed with the key logd is then given. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/err.h"
#include "entry/ct.h"
#include "logd/keys.h"
#include "merkle/merkle.h"
#include "storage/storage.h"
#include "tests/lib/proc.h"
#include "tests/lib/tlogcheck.h"

#define ORIGIN "log.example/tiles-big"
#define L2 65536u /* leaves under one level-2 tile hash */
#define SIZE_A (L2 + 300u)
#define SIZE_B (2u * L2 + 256u * 3u + 5u)
#define BATCH 8192u
#define LEAF_MAX 128

struct fixture {
	char dir[64], data[128], key[128];
	struct store *st;
	struct ct_signer *signer;
	struct merkle_hasher *h;
	struct merkle_range r;
	struct merkle_range sub; /* the current 65,536-leaf subtree */
	uint64_t base_ms;
	uint8_t sct[256];
	size_t sct_len;
	uint8_t l2[2][MERKLE_HASH_LEN]; /* the level-2 hashes 0 and 1 */
};

static void rm_rf(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static size_t make_leaf(const struct fixture *f, uint64_t i, uint8_t *out)
{
	uint8_t body[40];
	struct ct_entry e;
	struct cbb b;
	size_t len;

	memset(body, 0, sizeof(body));
	snprintf((char *)body, sizeof(body), "synthetic leaf %llu", (unsigned long long)i);
	memset(&e, 0, sizeof(e));
	e.timestamp = f->base_ms + i;
	e.entry_type = CT_X509_ENTRY;
	e.body = body;
	e.body_len = sizeof(body);
	assert_true(cbb_init(&b, LEAF_MAX, LEAF_MAX));
	assert_true(ct_write_leaf(&b, &e));
	len = cbb_len(&b);
	assert_true(len > 0 && len <= LEAF_MAX);
	memcpy(out, cbb_data(&b), len);
	cbb_cleanup(&b);
	return len;
}

static void sign_sth(const struct fixture *f, struct store_sth *sth)
{
	struct ct_sig sig;
	struct cbb b;

	assert_int_equal(ct_sign_sth(f->signer, &sig, sth->timestamp, sth->tree_size, sth->root),
			 0);
	assert_true(cbb_init(&b, STORE_MAX_SIG_LEN, STORE_MAX_SIG_LEN));
	assert_true(ct_write_sig(&b, &sig));
	sth->sig_len = (uint16_t)cbb_len(&b);
	assert_true(sth->sig_len > 0);
	memcpy(sth->sig, cbb_data(&b), sth->sig_len);
	cbb_cleanup(&b);
}

/* grow appends leaves until the log has |target|, in batches of BATCH, each
 * with its signed STH; records the level-2 hashes as their subtrees close. */
static void grow(struct fixture *f, uint64_t target)
{
	static const uint8_t empty_chain[3] = {0, 0, 0};
	struct store_leaf *ls = calloc(BATCH, sizeof(*ls));
	uint8_t (*buf)[LEAF_MAX] = malloc((size_t)BATCH * LEAF_MAX);

	assert_non_null(ls);
	assert_non_null(buf);
	while (f->r.size < target) {
		struct store_sth sth;
		size_t k;
		for (k = 0; k < BATCH && f->r.size < target; k++) {
			struct store_leaf *l = &ls[k];
			uint64_t i = f->r.size;
			memset(l, 0, sizeof(*l));
			l->leaf_input = buf[k];
			l->leaf_input_len = make_leaf(f, i, buf[k]);
			l->extra = empty_chain;
			l->extra_len = sizeof(empty_chain);
			l->sct = f->sct;
			l->sct_len = f->sct_len;
			merkle_leaf_hash(f->h, l->leaf_hash, l->leaf_input, l->leaf_input_len);
			memcpy(l->dedup_key, l->leaf_hash, 32);
			l->dedup_key[0] ^= 0xa5;
			assert_int_equal(merkle_range_append(&f->r, f->h, l->leaf_hash, NULL, NULL), 0);
			assert_int_equal(merkle_range_append(&f->sub, f->h, l->leaf_hash, NULL, NULL),
					 0);
			if (f->sub.size == L2) {
				assert_true(f->r.size / L2 <= 2);
				merkle_range_root(&f->sub, f->h, f->l2[f->r.size / L2 - 1]);
				merkle_range_init(&f->sub);
			}
		}
		memset(&sth, 0, sizeof(sth));
		sth.tree_size = f->r.size;
		sth.timestamp = f->base_ms + f->r.size;
		merkle_range_root(&f->r, f->h, sth.root);
		sign_sth(f, &sth);
		assert_int_equal(store_append_batch(f->st, ls, k, &sth), 0);
	}
	free(ls);
	free(buf);
}

/* tiles_in is the number of hash tiles (of height 8, each counted once at its
 * widest) of a tree of |size| leaves, every level. */
static unsigned long tiles_in(uint64_t size)
{
	unsigned long n = 0;
	for (uint64_t w = size; w > 0; w >>= 8)
		n += (unsigned long)((w + 255) / 256);
	return n;
}

/* serve starts logd on the log, runs tilecheck and the checks above. */
static void serve_and_check(struct fixture *f, unsigned level2_width)
{
	const char *args[] = {"--data", f->data, "--key", f->key, "--origin", ORIGIN,
			      "--no-map", NULL};
	struct logd_proc logd;
	struct tlogcheck_result res;
	struct http_resp r;
	uint8_t root[MERKLE_HASH_LEN];
	char root_b64[64], target[64];
	uint64_t t0 = mn_mono_ns();

	merkle_range_root(&f->r, f->h, root);
	root_b64[mn_b64_encode(root_b64, root, sizeof(root))] = '\0';
	assert_int_equal(logd_start(&logd, args), 0);
	assert_int_equal(tlogcheck_run(logd.port, &res), 0);
	fprintf(stderr, "test_tiles_big: tilecheck of %llu entries: %.2f s\n",
		(unsigned long long)f->r.size, (double)(mn_mono_ns() - t0) / 1e9);
	assert_int_equal(res.size, f->r.size);
	assert_string_equal(res.root, root_b64);
	assert_int_equal(res.tiles, tiles_in(f->r.size));
	assert_int_equal(res.issuers, 0);
	/* the level-2 tile is the roots of the 65,536-leaf subtrees we built */
	snprintf(target, sizeof(target), "/tile/2/000.p/%u", level2_width);
	assert_int_equal(http_do(logd.port, "GET", target, NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, level2_width * MERKLE_HASH_LEN);
	for (unsigned i = 0; i < level2_width; i++)
		assert_memory_equal(r.body + i * MERKLE_HASH_LEN, f->l2[i], MERKLE_HASH_LEN);
	http_resp_free(&r);
	/* one wider than the checkpoint has: not served */
	snprintf(target, sizeof(target), "/tile/2/000.p/%u", level2_width + 1);
	assert_int_equal(http_do(logd.port, "GET", target, NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	assert_int_equal(logd_stop(&logd, 15), 0);
}

static void test_level2_tiles_cross_checked(void **state)
{
	struct fixture f;
	struct store_options so;
	uint64_t t0;

	(void)state;
	memset(&f, 0, sizeof(f));
	strcpy(f.dir, "/tmp/mn-tiles-big-XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	snprintf(f.data, sizeof(f.data), "%s/data", f.dir);
	snprintf(f.key, sizeof(f.key), "%s/key.pem", f.dir);
	assert_int_equal(logd_key_load(&f.signer, f.key, 1), 0);
	f.h = merkle_hasher_new();
	assert_non_null(f.h);
	merkle_range_init(&f.r);
	merkle_range_init(&f.sub);
	f.base_ms = mn_now_ms() - 2 * (uint64_t)SIZE_B;
	/* one SCT for every leaf: stored, never served on this path */
	{
		uint8_t body[40];
		struct ct_entry e = {.timestamp = f.base_ms, .entry_type = CT_X509_ENTRY,
				     .body = body, .body_len = sizeof(body)};
		struct ct_sct sct;
		struct cbb b;
		memset(body, 0x42, sizeof(body));
		assert_int_equal(ct_sign_sct(f.signer, &sct, &e), 0);
		assert_true(cbb_init(&b, 256, sizeof(f.sct)));
		assert_true(ct_write_sct(&b, &sct));
		f.sct_len = cbb_len(&b);
		assert_true(f.sct_len > 0);
		memcpy(f.sct, cbb_data(&b), f.sct_len);
		cbb_cleanup(&b);
	}
	memset(&so, 0, sizeof(so));
	so.dir = f.data;
	so.no_sync = 1;         /* a test fixture: the durable path is not under test */
	so.no_leaf_index = 1;   /* RFC 6962 format: the shared SCT is stored */

	t0 = mn_mono_ns();
	assert_int_equal(store_open(&f.st, &so), 0);
	grow(&f, SIZE_A);
	store_close(f.st);
	fprintf(stderr, "test_tiles_big: wrote %u entries in %.2f s\n", SIZE_A,
		(double)(mn_mono_ns() - t0) / 1e9);
	serve_and_check(&f, 1);

	so.no_leaf_index = 0; /* the log exists: it keeps its format */
	t0 = mn_mono_ns();
	assert_int_equal(store_open(&f.st, &so), 0);
	assert_int_equal(store_format(f.st), 0);
	grow(&f, SIZE_B);
	store_close(f.st);
	fprintf(stderr, "test_tiles_big: grew to %u entries in %.2f s\n", SIZE_B,
		(double)(mn_mono_ns() - t0) / 1e9);
	serve_and_check(&f, 2);

	ct_signer_free(f.signer);
	merkle_hasher_free(f.h);
	rm_rf(f.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level2_tiles_cross_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
