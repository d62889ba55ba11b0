/* storefix.h: what the storage/ tests (tests/storage/test_storage_*.c) share:
 * a seeded generator, temporary directories, deterministic leaves and STHs,
 * and a model of the log the test builds, checked against everything a reader
 * can see.
 *
 * Roots are checked against a naive RFC 6962 section 2.1 MTH built on
 * tests/lib/refmerkle (OpenSSL one-shot hashing, no merkle/ code) and, per
 * batch, against a compact range kept by the test; proofs are compared with
 * refmerkle's PATH/PROOF for small trees and verified with merkle_verify_* for
 * large ones.
 *
 *   storefix_rng_init("test_storage_log");   in main: MN_TEST_SEED or a new seed
 *   storefix_make_tmp(dir);                  a mkdtemp directory, and at the end
 *   storefix_rm_tmp(dir);                    remove it and everything below
 *   storefix_model_init(&m, cap, batches);
 *   storefix_model_append(&m, s, h, num);    append and follow
 *   storefix_check_log(s, &m, thorough);
 *
 * Unlike most helpers here these assert with cmocka: they are parts of test
 * cases, and a failure inside one fails the case that called it. */
#ifndef MN_TESTS_STOREFIX_H
#define MN_TESTS_STOREFIX_H

#include <stddef.h>
#include <stdint.h>

#include "merkle/merkle.h"
#include "storage/storage.h"

/* assert_err: |got| == |want|, both MN_E* codes, named on failure. */
#define assert_err(got, want)                                                   \
	do {                                                                    \
		int got_ = (got), want_ = (want);                               \
		if (got_ != want_)                                              \
			fail_msg("%s: got %s, want %s", #got, mn_err_name(got_), \
				 mn_err_name(want_));                           \
	} while (0)

/* storefix_seed: the run's seed, printed by storefix_rng_init as
 * MN_TEST_SEED=... so that a run can be replayed. */
extern uint64_t storefix_seed;
void storefix_rng_init(const char *prog);
/* storefix_splitmix: SplitMix64 step on |*x|. */
uint64_t storefix_splitmix(uint64_t *x);
/* storefix_rnd: uniform-ish in [0, n), from the seeded stream. */
uint64_t storefix_rnd(uint64_t n);

/* storefix_make_tmp: mkdtemp /tmp/mn-storage-XXXXXX into |dir|;
 * storefix_rm_tmp removes it (after making it writable again). */
void storefix_make_tmp(char dir[64]);
void storefix_rm_tmp(const char *dir);

/* Deterministic leaf |idx|: leaf_input = be64(idx) || 0..56 bytes, extra 0..40
 * bytes, sct 1..20 bytes, all derived from (idx, variant). */
struct storefix_gen {
	uint8_t input[64];
	size_t input_len;
	uint8_t extra[40];
	size_t extra_len;
	uint8_t sct[20];
	size_t sct_len;
};

/* storefix_fill: |len| bytes derived from |x|. */
void storefix_fill(uint64_t x, uint8_t *buf, size_t len);
void storefix_gen_leaf(struct storefix_gen *g, uint64_t idx, uint64_t variant);
/* storefix_dedup_key: the dedup key of leaf |idx| (0xd0 bytes after be64(idx)). */
void storefix_dedup_key(uint8_t out[32], uint64_t idx);
/* storefix_make_leaves fills |leaves| (and |gens|, which they borrow) for
 * indexes [start, start + num). */
void storefix_make_leaves(struct store_leaf *leaves, struct storefix_gen *gens,
			  uint64_t start, size_t num, uint64_t variant);
/* storefix_make_sth: an STH for (size, ts, root) with a filler signature
 * (signing is another layer). */
void storefix_make_sth(struct store_sth *sth, uint64_t size, uint64_t ts,
		       const uint8_t root[MERKLE_HASH_LEN]);
/* storefix_check_entry: |e| is generated leaf |idx| of |variant|. */
void storefix_check_entry(const struct store_entry *e, uint64_t idx, uint64_t variant);
uint64_t storefix_tree_size_of(struct store *s);

/* A log built by the test: its leaf hashes and, per batch, the size and the
 * root the test computed on its own. */
struct storefix_model {
	uint8_t (*lh)[MERKLE_HASH_LEN];
	uint64_t size, cap;
	uint64_t *sizes;
	uint8_t (*roots)[MERKLE_HASH_LEN];
	size_t num_batches, batch_cap;
	struct merkle_range range; /* the test's own copy */
	uint64_t ts;
	uint64_t variant;
};

void storefix_model_init(struct storefix_model *m, uint64_t cap, size_t batch_cap);
void storefix_model_free(struct storefix_model *m);
/* storefix_model_append appends |num| generated leaves through
 * store_append_batch and returns its result; on success the model follows. */
int storefix_model_append(struct storefix_model *m, struct store *s,
			  struct merkle_hasher *h, size_t num);
/* storefix_check_log checks everything a reader can see against the model.
 * |thorough| selects how many samples. */
void storefix_check_log(struct store *s, struct storefix_model *m, int thorough);
/* storefix_expect_unchanged: the store still shows exactly the model's log. */
void storefix_expect_unchanged(struct store *s, struct storefix_model *m);

/* storefix_opts: options for a store in |dir|, no_sync (tests need no
 * durability unless they say so). */
struct store_options storefix_opts(const char *dir);

#endif
