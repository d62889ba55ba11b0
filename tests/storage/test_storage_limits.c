/* test_storage_limits.c: what storage/ refuses and where it stops: bad
 * batches and STHs leave the log unchanged, a full map is an error and not a
 * corrupt store, the map grows under concurrent readers, and read-only or bad
 * directories. Set MN_TEST_SEED to replay a run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/err.h"
#include "merkle/merkle.h"
#include "storage/storage.h"
#include "tests/lib/storefix.h"

#define HL MERKLE_HASH_LEN

static void test_rejects(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct storefix_model m;
	struct store_leaf leaves[4];
	struct storefix_gen gens[4];
	struct store_sth sth;
	struct merkle_range next;
	struct store_reader *r;
	uint8_t root[HL];
	uint64_t idx;

	(void)state;
	storefix_make_tmp(dir);
	o = storefix_opts(dir);
	storefix_model_init(&m, 100, 100);
	assert_err(store_open(&s, &o), 0);
	assert_err(storefix_model_append(&m, s, h, 10), 0);

	/* A wrong root. */
	storefix_make_leaves(leaves, gens, 10, 3, 0);
	next = m.range;
	for (int i = 0; i < 3; i++)
		assert_int_equal(merkle_range_append(&next, h, leaves[i].leaf_hash, NULL, NULL), 0);
	merkle_range_root(&next, h, root);
	root[5] ^= 1;
	storefix_make_sth(&sth, 13, m.ts + 1, root);
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EINVAL);
	storefix_expect_unchanged(s, &m);
	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_index_by_hash(r, leaves[0].leaf_hash, &idx), MN_ENOTFOUND);
	assert_err(store_r_dedup(r, leaves[0].dedup_key, &idx), MN_ENOTFOUND);
	store_read_end(r);

	/* A wrong tree size (root right for 3 leaves). */
	root[5] ^= 1;
	storefix_make_sth(&sth, 14, m.ts + 1, root);
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EINVAL);
	storefix_expect_unchanged(s, &m);

	/* An older STH timestamp, everything else right. */
	storefix_make_sth(&sth, 13, m.ts - 1, root);
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EINVAL);
	storefix_expect_unchanged(s, &m);

	/* A leaf hash already in the log (root computed with it, so only the
	 * duplicate is wrong). */
	storefix_make_leaves(leaves, gens, 10, 3, 0);
	memcpy(leaves[2].leaf_hash, m.lh[4], HL);
	next = m.range;
	for (int i = 0; i < 3; i++)
		assert_int_equal(merkle_range_append(&next, h, leaves[i].leaf_hash, NULL, NULL), 0);
	merkle_range_root(&next, h, root);
	storefix_make_sth(&sth, 13, m.ts + 1, root);
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EEXISTS);
	storefix_expect_unchanged(s, &m);

	/* The same leaf hash twice in one batch. */
	storefix_make_leaves(leaves, gens, 10, 3, 0);
	memcpy(leaves[2].leaf_hash, leaves[0].leaf_hash, HL);
	next = m.range;
	for (int i = 0; i < 3; i++)
		assert_int_equal(merkle_range_append(&next, h, leaves[i].leaf_hash, NULL, NULL), 0);
	merkle_range_root(&next, h, root);
	storefix_make_sth(&sth, 13, m.ts + 1, root);
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EEXISTS);
	storefix_expect_unchanged(s, &m);

	/* A dedup key already in the log. */
	storefix_make_leaves(leaves, gens, 10, 3, 0);
	storefix_dedup_key(leaves[1].dedup_key, 3);
	next = m.range;
	for (int i = 0; i < 3; i++)
		assert_int_equal(merkle_range_append(&next, h, leaves[i].leaf_hash, NULL, NULL), 0);
	merkle_range_root(&next, h, root);
	storefix_make_sth(&sth, 13, m.ts + 1, root);
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EEXISTS);
	storefix_expect_unchanged(s, &m);
	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_index_by_hash(r, leaves[0].leaf_hash, &idx), MN_ENOTFOUND);
	store_read_end(r);

	/* The same dedup key twice in one batch (the index inserts are sorted:
	 * the two land next to each other, and the batch still fails whole). */
	storefix_make_leaves(leaves, gens, 10, 3, 0);
	memcpy(leaves[0].dedup_key, leaves[2].dedup_key, 32);
	next = m.range;
	for (int i = 0; i < 3; i++)
		assert_int_equal(merkle_range_append(&next, h, leaves[i].leaf_hash, NULL, NULL), 0);
	merkle_range_root(&next, h, root);
	storefix_make_sth(&sth, 13, m.ts + 1, root);
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EEXISTS);
	storefix_expect_unchanged(s, &m);
	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_index_by_hash(r, leaves[1].leaf_hash, &idx), MN_ENOTFOUND);
	assert_err(store_r_dedup(r, leaves[2].dedup_key, &idx), MN_ENOTFOUND);
	store_read_end(r);

	/* Bad arguments. */
	storefix_make_leaves(leaves, gens, 10, 3, 0);
	leaves[1].sct_len = 70000;
	assert_err(store_append_batch(s, leaves, 3, &sth), MN_EINVAL);
	assert_err(store_append_batch(s, NULL, 3, &sth), MN_EINVAL);
	assert_err(store_append_batch(s, leaves, 3, NULL), MN_EINVAL);
	storefix_expect_unchanged(s, &m);

	/* num == 0: a re-signed STH of the same tree; a wrong root is refused. */
	merkle_range_root(&m.range, h, root);
	storefix_make_sth(&sth, m.size, m.ts + 5, root);
	sth.sig[0] ^= 0xff;
	assert_err(store_append_batch(s, NULL, 0, &sth), 0);
	m.ts += 5;
	storefix_expect_unchanged(s, &m);
	{
		struct store_sth got;
		assert_err(store_read_begin(s, &r), 0);
		assert_err(store_r_sth(r, &got), 0);
		assert_memory_equal(&got, &sth, sizeof(got));
		store_read_end(r);
	}
	root[0] ^= 1;
	storefix_make_sth(&sth, m.size, m.ts + 1, root);
	assert_err(store_append_batch(s, NULL, 0, &sth), MN_EINVAL);
	storefix_expect_unchanged(s, &m);

	/* After all the refusals the writer goes on normally, and the log
	 * reopens. */
	assert_err(storefix_model_append(&m, s, h, 5), 0);
	storefix_check_log(s, &m, 0);
	store_close(s);
	assert_err(store_open(&s, &o), 0);
	storefix_check_log(s, &m, 0);
	store_close(s);
	storefix_model_free(&m);
	merkle_hasher_free(h);
	storefix_rm_tmp(dir);
}

static void test_map_full(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct storefix_model m;
	struct store_stats st;
	int ret = 0, i;

	(void)state;
	storefix_make_tmp(dir);
	o = storefix_opts(dir);
	o.map_size = o.max_map_size = 1 << 20;
	storefix_model_init(&m, 100000, 10000);
	assert_err(store_open(&s, &o), 0);
	for (i = 0; i < 10000; i++) {
		ret = storefix_model_append(&m, s, h, 50);
		if (ret != 0)
			break;
	}
	assert_err(ret, MN_ENOSPACE);
	assert_true(m.size > 0);
	store_get_stats(s, &st);
	assert_int_equal(st.map_size, 1 << 20);
	storefix_check_log(s, &m, 0);
	/* Small batches still do not fit, or fit, but never corrupt. */
	for (i = 0; i < 20; i++) {
		ret = storefix_model_append(&m, s, h, 1);
		assert_true(ret == 0 || ret == MN_ENOSPACE);
	}
	storefix_check_log(s, &m, 0);
	store_close(s);

	assert_err(store_open(&s, &o), 0);
	storefix_check_log(s, &m, 0);
	store_close(s);

	/* A bigger max: appending resumes. */
	o.max_map_size = 16 << 20;
	assert_err(store_open(&s, &o), 0);
	for (i = 0; i < 40; i++)
		assert_err(storefix_model_append(&m, s, h, 50), 0);
	store_get_stats(s, &st);
	assert_true(st.map_size > (1 << 20));
	storefix_check_log(s, &m, 0);
	store_close(s);
	storefix_model_free(&m);
	merkle_hasher_free(h);
	storefix_rm_tmp(dir);
}

/* A thread that reads the whole time the writer grows the map. */
struct reader_loop {
	struct store *s;
	volatile int stop;
	uint64_t reads;
	int failed;
};

static void *reader_main(void *arg)
{
	struct reader_loop *rl = arg;

	while (!__atomic_load_n(&rl->stop, __ATOMIC_ACQUIRE)) {
		struct store_reader *r;
		struct store_entry e;
		uint64_t n;

		if (store_read_begin(rl->s, &r) != 0) {
			rl->failed = 1;
			break;
		}
		n = store_r_tree_size(r);
		if (n > 0) {
			uint64_t idx = (n * 2654435761u) % n;
			struct storefix_gen g;

			if (store_r_entry(r, idx, &e) != 0) {
				rl->failed = 1;
			} else {
				storefix_gen_leaf(&g, idx, 1);
				if (e.leaf_input_len != g.input_len ||
				    memcmp(e.leaf_input, g.input, g.input_len) != 0)
					rl->failed = 1;
			}
		}
		store_read_end(r);
		rl->reads++;
	}
	return NULL;
}

static void test_map_growth(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct storefix_model m;
	struct store_stats st;
	struct reader_loop rl;
	pthread_t th;

	(void)state;
	storefix_make_tmp(dir);
	o = storefix_opts(dir);
	o.map_size = 1 << 20;
	o.max_map_size = 64 << 20;
	storefix_model_init(&m, 200000, 10000);
	m.variant = 1;
	assert_err(store_open(&s, &o), 0);
	memset(&rl, 0, sizeof(rl));
	rl.s = s;
	assert_int_equal(pthread_create(&th, NULL, reader_main, &rl), 0);
	for (;;) {
		struct store_reader *r;

		store_get_stats(s, &st);
		if (st.used_bytes >= (10u << 20))
			break;
		/* A snapshot taken and released between batches. */
		assert_err(store_read_begin(s, &r), 0);
		assert_int_equal(store_r_tree_size(r), m.size);
		store_read_end(r);
		assert_err(storefix_model_append(&m, s, h, 500), 0);
	}
	__atomic_store_n(&rl.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(th, NULL), 0);
	fprintf(stderr, "growth: reads=%" PRIu64 " map=%" PRIu64 " used=%" PRIu64 " size=%" PRIu64 "\n", rl.reads, st.map_size, st.used_bytes, m.size);
	assert_int_equal(rl.failed, 0);
	assert_true(rl.reads > 0);
	assert_true(st.map_size >= (10u << 20) && st.map_size <= (64u << 20));
	storefix_check_log(s, &m, 0);
	store_close(s);
	assert_err(store_open(&s, &o), 0);
	storefix_check_log(s, &m, 0);
	store_close(s);
	storefix_model_free(&m);
	merkle_hasher_free(h);
	storefix_rm_tmp(dir);
}

static void test_read_only_and_bad_dirs(void **state)
{
	char dir[64], path[160];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct storefix_model m;
	int fd;

	(void)state;
	storefix_make_tmp(dir);
	snprintf(path, sizeof(path), "%s/log", dir);
	o = storefix_opts(path);
	storefix_model_init(&m, 100, 100);
	assert_err(store_open(&s, &o), 0);
	assert_err(storefix_model_append(&m, s, h, 20), 0);
	store_close(s);

	/* A log in a directory without write permission, opened read-only:
	 * reads work, appends fail cleanly. (Tests run as root, which ignores
	 * the mode, hence opt.read_only.) */
	assert_int_equal(chmod(path, 0500), 0);
	o.read_only = 1;
	assert_err(store_open(&s, &o), 0);
	storefix_check_log(s, &m, 0);
	assert_err(storefix_model_append(&m, s, h, 3), MN_EREADONLY);
	{
		struct store_sth sth;
		uint8_t root[HL];
		merkle_range_root(&m.range, h, root);
		storefix_make_sth(&sth, m.size, m.ts + 1, root);
		assert_err(store_append_batch(s, NULL, 0, &sth), MN_EREADONLY);
	}
	storefix_check_log(s, &m, 0);
	store_close(s);
	assert_int_equal(chmod(path, 0700), 0);

	/* Read-only open of a missing directory: not created. */
	snprintf(path, sizeof(path), "%s/missing", dir);
	o = storefix_opts(path);
	o.read_only = 1;
	s = (struct store *)1;
	assert_err(store_open(&s, &o), MN_EIO);
	assert_null(s);
	assert_int_equal(access(path, F_OK), -1);

	/* A directory that cannot be created (under a regular file), and a path
	 * that is a regular file. */
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	o = storefix_opts(path);
	assert_err(store_open(&s, &o), MN_EIO);
	snprintf(path, sizeof(path), "%s/file/sub", dir);
	o = storefix_opts(path);
	assert_err(store_open(&s, &o), MN_EIO);
	o = storefix_opts(NULL);
	assert_err(store_open(&s, &o), MN_EINVAL);

	storefix_model_free(&m);
	merkle_hasher_free(h);
	storefix_rm_tmp(dir);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_map_full),
		cmocka_unit_test(test_map_growth),
		cmocka_unit_test(test_read_only_and_bad_dirs),
	};

	storefix_rng_init("test_storage_limits");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
