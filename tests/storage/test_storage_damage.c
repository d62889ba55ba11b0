/* test_storage_damage.c: damage from outside: bytes of data.mdb patched as a
 * disk or a bad copy would, and a durable writer SIGKILLed at random moments
 * (every acknowledged batch survives). Set MN_TEST_SEED to replay a run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/err.h"
#include "merkle/merkle.h"
#include "storage/storage.h"
#include "tests/lib/refmerkle.h"
#include "tests/lib/storefix.h"

#define HL MERKLE_HASH_LEN

/* ---- corruption: patch data.mdb bytes, as a disk or a bad copy would ------ */

static uint8_t *read_file(const char *path, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len > 0);
	rewind(f);
	buf = malloc((size_t)len);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	*out_len = (size_t)len;
	return buf;
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* patch_all finds each |pat| in |buf|; where |skip_prefix| (if not NULL) does
 * not come right before it, xors |buf| at match + |at| with |x|. Returns how
 * many it patched. */
static size_t patch_all(uint8_t *buf, size_t len, const uint8_t *pat, size_t pat_len,
			const uint8_t *skip_prefix, size_t skip_len, size_t at, uint8_t x)
{
	size_t n = 0;

	for (size_t i = 0; i + pat_len <= len; i++) {
		if (memcmp(buf + i, pat, pat_len) != 0)
			continue;
		if (skip_prefix != NULL && i >= skip_len &&
		    memcmp(buf + i - skip_len, skip_prefix, skip_len) == 0)
			continue;
		buf[i + at] ^= x;
		n++;
	}
	return n;
}

/* open_copy writes |data| as data.mdb of a fresh directory and opens it; the
 * file must be unchanged afterwards, whatever the result. */
static int open_copy(const char *base, const char *name, const uint8_t *data,
		     size_t len, int read_only)
{
	char d[160], f[200];
	struct store *s = NULL;
	struct store_options o;
	uint8_t *after;
	size_t after_len;
	int ret;

	snprintf(d, sizeof(d), "%s/%s", base, name);
	assert_int_equal(mkdir(d, 0700), 0);
	snprintf(f, sizeof(f), "%s/data.mdb", d);
	write_file(f, data, len);
	o = storefix_opts(d);
	o.read_only = read_only;
	ret = store_open(&s, &o);
	if (ret == 0)
		store_close(s);
	else
		assert_null(s);
	after = read_file(f, &after_len);
	assert_int_equal(after_len, len);
	assert_memory_equal(after, data, len);
	free(after);
	return ret;
}

static void test_corruption(void **state)
{
	char dir[64], logdir[100], f[160];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct storefix_model m;
	struct merkle_range range;
	uint8_t *orig, *buf, pat[8 + 8 + HL], sizekey[8];
	size_t len;
	struct store_sth sth;
	struct store_reader *r;

	(void)state;
	storefix_make_tmp(dir);
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	o = storefix_opts(logdir);
	storefix_model_init(&m, 2000, 100);
	assert_err(store_open(&s, &o), 0);
	/* Batches ending at 1000 = 512+256+128+64+32+8: not a power of two, so
	 * the root is not itself a stored node. */
	assert_err(storefix_model_append(&m, s, h, 300), 0);
	assert_err(storefix_model_append(&m, s, h, 300), 0);
	assert_err(storefix_model_append(&m, s, h, 400), 0);
	store_get_range(s, &range);
	assert_int_equal(range.size, 1000);
	assert_err(store_read_begin(s, &r), 0);
	assert_err(store_r_sth(r, &sth), 0);
	store_read_end(r);
	store_close(s);
	snprintf(f, sizeof(f), "%s/data.mdb", logdir);
	orig = read_file(f, &len);
	buf = malloc(len);
	assert_non_null(buf);

	/* The untouched copy opens (control). */
	assert_err(open_copy(dir, "ok", orig, len, 0), 0);

	/* The STH as stored: be64 size || be64 timestamp || root. */
	mn_put_be64(pat, sth.tree_size);
	mn_put_be64(pat + 8, sth.timestamp);
	memcpy(pat + 16, sth.root, HL);

	/* 1. A flipped bit in the stored STH root. */
	memcpy(buf, orig, len);
	assert_true(patch_all(buf, len, pat, sizeof(pat), NULL, 0, 16 + 7, 0x10) >= 1);
	assert_err(open_copy(dir, "root", buf, len, 0), MN_ECORRUPT);
	assert_err(open_copy(dir, "root-ro", buf, len, 1), MN_ECORRUPT);

	/* 2. The STH's tree size off by one. */
	memcpy(buf, orig, len);
	assert_true(patch_all(buf, len, pat, sizeof(pat), NULL, 0, 7, 0x01) >= 1);
	assert_err(open_copy(dir, "size", buf, len, 0), MN_ECORRUPT);

	/* 3. The stored tree node of the range's largest subtree (level 9,
	 * index 0) differs from the range's copy in meta "state" (the one
	 * right after be64(1000)). */
	memcpy(buf, orig, len);
	mn_put_be64(sizekey, 1000);
	assert_true(patch_all(buf, len, range.hashes[0], HL, sizekey, 8, 3, 0x80) >= 1);
	assert_err(open_copy(dir, "tile", buf, len, 0), MN_ECORRUPT);

	/* 4. The compact range in meta "state" differs from the tiles (and so
	 * its root from the STH's): patch its smallest hash only. */
	memcpy(buf, orig, len);
	{
		uint8_t state_pat[8 + 6 * HL];
		memcpy(state_pat, sizekey, 8);
		memcpy(state_pat + 8, range.hashes, 6 * HL);
		assert_true(patch_all(buf, len, state_pat, sizeof(state_pat), NULL, 0,
				      8 + 5 * HL + 1, 0x04) >= 1);
	}
	assert_err(open_copy(dir, "state", buf, len, 0), MN_ECORRUPT);

	/* 5. Garbage data.mdb: a clear error, no crash. */
	memset(buf, 0xa5, len);
	{
		int ret = open_copy(dir, "garbage", buf, len, 0);
		assert_true(ret == MN_ECORRUPT || ret == MN_EIO);
	}

	free(buf);
	free(orig);
	storefix_model_free(&m);
	merkle_hasher_free(h);
	storefix_rm_tmp(dir);
}

/* ---- crash safety: SIGKILL a durable writer at random moments ------------- */

static void crash_child(const char *dir, int fd)
{
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct store_reader *r;
	struct store_sth sth;
	struct store_leaf leaves[20];
	struct storefix_gen gens[20];
	struct merkle_range range;
	uint8_t root[HL];
	uint64_t x = storefix_seed ^ (uint64_t)getpid(), ts = 1;

	memset(&o, 0, sizeof(o));
	o.dir = dir; /* durable: no_sync = 0 */
	o.map_size = 1 << 20; /* grow now and then, under the kills too */
	if (h == NULL || store_open(&s, &o) != 0)
		_exit(2);
	if (store_read_begin(s, &r) != 0)
		_exit(3);
	if (store_r_sth(r, &sth) == 0)
		ts = sth.timestamp + 1;
	store_read_end(r);
	for (;;) {
		size_t num = 1 + storefix_splitmix(&x) % 20;
		uint64_t size;

		store_get_range(s, &range);
		size = range.size;
		storefix_make_leaves(leaves, gens, size, num, 2);
		for (size_t i = 0; i < num; i++)
			if (merkle_range_append(&range, h, leaves[i].leaf_hash, NULL, NULL) != 0)
				_exit(4);
		merkle_range_root(&range, h, root);
		storefix_make_sth(&sth, size + num, ts++, root);
		if (store_append_batch(s, leaves, num, &sth) != 0)
			_exit(5);
		size += num;
		if (write(fd, &size, sizeof(size)) != (ssize_t)sizeof(size))
			_exit(6);
	}
}

static void check_after_crash(const char *dir, uint64_t acked)
{
	struct store *s;
	struct store_options o;
	struct store_reader *r;
	struct store_sth sth;
	struct store_entry ents[256];
	struct merkle_hasher *h = merkle_hasher_new();
	struct merkle_range range;
	uint8_t root[HL], lh[HL];
	uint64_t n, idx = 0;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.read_only = 1; /* look without touching */
	assert_err(store_open(&s, &o), 0);
	assert_err(store_read_begin(s, &r), 0);
	n = store_r_tree_size(r);
	assert_true(n >= acked);
	assert_err(store_r_sth(r, &sth), 0);
	merkle_range_init(&range);
	while (idx < n) {
		size_t got;
		assert_err(store_r_entries(r, idx, 256, ents, &got), 0);
		assert_true(got > 0);
		for (size_t j = 0; j < got; j++) {
			uint64_t found;

			storefix_check_entry(&ents[j], idx + j, 2);
			refmerkle_leaf_hash(lh, ents[j].leaf_input, ents[j].leaf_input_len);
			assert_int_equal(merkle_range_append(&range, h, lh, NULL, NULL), 0);
			assert_err(store_r_index_by_hash(r, lh, &found), 0);
			assert_int_equal(found, idx + j);
		}
		idx += got;
	}
	merkle_range_root(&range, h, root);
	assert_memory_equal(root, sth.root, HL);
	store_read_end(r);
	store_close(s);
	merkle_hasher_free(h);
}

static void test_crash(void **state)
{
	char dir[64], logdir[100];
	uint64_t acked = 0;
	struct timespec t0, t1;
	int rounds = 0;

	(void)state;
	storefix_make_tmp(dir);
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int fds[2], status;
		pid_t pid;
		uint64_t v, want = 1 + storefix_rnd(50), got = 0;
		ssize_t nr;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(logdir, fds[1]);
			_exit(7);
		}
		close(fds[1]);
		while (got < want) {
			nr = read(fds[0], &v, sizeof(v));
			if (nr < 0 && errno == EINTR)
				continue;
			assert_int_equal(nr, sizeof(v));
			assert_true(v > acked);
			acked = v;
			got++;
		}
		assert_int_equal(kill(pid, SIGKILL), 0);
		/* Acknowledgements written before the kill count too. */
		while ((nr = read(fds[0], &v, sizeof(v))) != 0) {
			if (nr < 0 && errno == EINTR)
				continue;
			assert_int_equal(nr, sizeof(v));
			acked = v;
		}
		close(fds[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		check_after_crash(logdir, acked);
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (rounds >= 40 || (rounds >= 20 && t1.tv_sec - t0.tv_sec > 20))
			break;
	}
	fprintf(stderr, "crash: rounds=%d acked=%" PRIu64 "\n", rounds, acked);
	assert_true(rounds >= 20);
	assert_true(acked > 0);
	storefix_rm_tmp(dir);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corruption),
		cmocka_unit_test(test_crash),
	};

	storefix_rng_init("test_storage_damage");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
