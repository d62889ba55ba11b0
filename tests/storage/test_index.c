/* test_index.c: lookup indexes, openings and policy heads in storage. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "merkle/merkle.h"
#include "storage/storage.h"

struct ctx {
	char dir[64];
	struct store *st;
	struct merkle_hasher *h;
	struct merkle_range range;
	uint64_t ts;
};

static void open_store(struct ctx *c)
{
	struct store_options o = {0};
	strcpy(c->dir, "/tmp/mn-idx-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	o.dir = c->dir;
	o.no_sync = 1;
	assert_int_equal(store_open(&c->st, &o), 0);
	c->h = merkle_hasher_new();
	merkle_range_init(&c->range);
}

static void close_store(struct ctx *c)
{
	char cmd[128];
	store_close(c->st);
	merkle_hasher_free(c->h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
	assert_int_equal(system(cmd), 0);
}

/* append one leaf with the given keys; returns the store's answer */
static int append(struct ctx *c, const struct store_index_key *keys, size_t num_keys,
		  const char *opening, const char *policy_key, uint64_t serial)
{
	struct store_leaf l;
	struct store_sth sth;
	struct merkle_range next = c->range;
	uint8_t leaf[16];
	int ret;

	memset(&l, 0, sizeof(l));
	memset(leaf, 0, sizeof(leaf));
	memcpy(leaf, &c->range.size, 8);
	memcpy(leaf + 8, &c->ts, 8);
	l.leaf_input = leaf;
	l.leaf_input_len = sizeof(leaf);
	merkle_leaf_hash(c->h, l.leaf_hash, leaf, sizeof(leaf));
	memcpy(l.dedup_key, l.leaf_hash, 32);
	l.keys = keys;
	l.num_keys = num_keys;
	if (opening != NULL) {
		l.opening = (const uint8_t *)opening;
		l.opening_len = strlen(opening);
	}
	if (policy_key != NULL) {
		l.policy_key = (const uint8_t *)policy_key;
		l.policy_key_len = strlen(policy_key);
		l.policy_serial = serial;
	}
	assert_int_equal(merkle_range_append(&next, c->h, l.leaf_hash, NULL, NULL), 0);
	memset(&sth, 0, sizeof(sth));
	sth.tree_size = next.size;
	sth.timestamp = ++c->ts;
	merkle_range_root(&next, c->h, sth.root);
	sth.sig_len = 1;
	ret = store_append_batch(c->st, &l, 1, &sth);
	if (ret == 0)
		c->range = next;
	return ret;
}

#define K(i, s) {(i), (uint8_t)(sizeof(s) - 1), (const uint8_t *)(s)}

struct hits {
	size_t n;
	uint64_t idx[64];
	char keys[64][64];
	size_t stop_after;
};

static int collect(void *p, const uint8_t *key, size_t len, uint64_t index)
{
	struct hits *h = p;
	snprintf(h->keys[h->n], sizeof(h->keys[0]), "%.*s", (int)len, (const char *)key);
	h->idx[h->n++] = index;
	return h->stop_after != 0 && h->n >= h->stop_after;
}

static void scan(struct ctx *c, enum store_index idx, const char *key, int prefix,
		 const char *after_key, uint64_t after_index, struct hits *out)
{
	struct store_reader *r;
	size_t stop = out->stop_after;
	memset(out, 0, sizeof(*out));
	out->stop_after = stop;
	assert_int_equal(store_read_begin(c->st, &r), 0);
	assert_int_equal(store_r_index_scan(r, idx, (const uint8_t *)key, strlen(key), prefix,
					    (const uint8_t *)after_key,
					    after_key ? strlen(after_key) : 0, after_index,
					    collect, out), 0);
	store_read_end(r);
}

static void test_index_scan(void **state)
{
	struct ctx c;
	struct hits h;
	const struct store_index_key k0[] = {K(STORE_IDX_DNS, "com.example."),
					     K(STORE_IDX_DNS, "com.example.www."),
					     K(STORE_IDX_DNS, "com.example.www.")};
	const struct store_index_key k1[] = {K(STORE_IDX_DNS, "co.example.")};
	const struct store_index_key k2[] = {K(STORE_IDX_DNS, "com.example.mail."),
					     K(STORE_IDX_EMAIL, "com.example.@alice")};
	const struct store_index_key k3[] = {K(STORE_IDX_DNS, "com.examples.")};

	(void)state;
	open_store(&c);
	assert_int_equal(append(&c, k0, 3, NULL, NULL, 0), 0); /* 0 */
	assert_int_equal(append(&c, k1, 1, NULL, NULL, 0), 0); /* 1 */
	assert_int_equal(append(&c, k2, 2, NULL, NULL, 0), 0); /* 2 */
	assert_int_equal(append(&c, k3, 1, NULL, NULL, 0), 0); /* 3 */
	assert_int_equal(append(&c, k0, 2, NULL, NULL, 0), 0); /* 4 */

	/* exact: only com.example. itself */
	h.stop_after = 0;
	scan(&c, STORE_IDX_DNS, "com.example.", 0, NULL, 0, &h);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.idx[0], 0);
	assert_int_equal(h.idx[1], 4);
	/* subdomains: the name and everything below it, not examples. or co. */
	scan(&c, STORE_IDX_DNS, "com.example.", 1, NULL, 0, &h);
	assert_int_equal(h.n, 5);
	assert_string_equal(h.keys[0], "com.example.");
	assert_string_equal(h.keys[2], "com.example.mail.");
	assert_string_equal(h.keys[3], "com.example.www.");
	assert_int_equal(h.idx[3], 0);
	assert_int_equal(h.idx[4], 4);
	/* paging: resume after (com.example.mail., 2) */
	scan(&c, STORE_IDX_DNS, "com.example.", 1, "com.example.mail.", 2, &h);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.keys[0], "com.example.www.");
	/* resume after (com.example., 0): the next is (com.example., 4) */
	scan(&c, STORE_IDX_DNS, "com.example.", 1, "com.example.", 0, &h);
	assert_int_equal(h.n, 4);
	assert_int_equal(h.idx[0], 4);
	/* pages of 2 return every item once */
	{
		struct hits all;
		char after[64] = "";
		uint64_t after_i = 0;
		size_t total = 0;
		memset(&all, 0, sizeof(all));
		for (;;) {
			h.stop_after = 2;
			scan(&c, STORE_IDX_DNS, "com.example.", 1, total ? after : NULL, after_i, &h);
			if (h.n == 0)
				break;
			for (size_t i = 0; i < h.n; i++)
				all.idx[total++] = h.idx[i];
			strcpy(after, h.keys[h.n - 1]);
			after_i = h.idx[h.n - 1];
		}
		assert_int_equal(total, 5);
	}
	h.stop_after = 0;
	scan(&c, STORE_IDX_EMAIL, "com.example.@alice", 0, NULL, 0, &h);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.idx[0], 2);
	scan(&c, STORE_IDX_EMAIL, "com.example.@al", 0, NULL, 0, &h);
	assert_int_equal(h.n, 0);
	scan(&c, STORE_IDX_PGP, "x", 1, NULL, 0, &h);
	assert_int_equal(h.n, 0);
	close_store(&c);
}

static void test_openings_and_policy(void **state)
{
	struct ctx c;
	struct store_reader *r;
	const uint8_t *op;
	size_t op_len;
	uint64_t serial, index;

	(void)state;
	open_store(&c);
	assert_int_equal(append(&c, NULL, 0, "salt|Alice <alice@example.com>", NULL, 0), 0);
	assert_int_equal(append(&c, NULL, 0, NULL, "example.com|smtp", 3), 0);
	/* a lower or equal serial is refused and writes nothing */
	assert_int_equal(append(&c, NULL, 0, NULL, "example.com|smtp", 3), MN_ERANGE);
	assert_int_equal(append(&c, NULL, 0, NULL, "example.com|smtp", 2), MN_ERANGE);
	assert_int_equal(append(&c, NULL, 0, NULL, "example.com|imap", 1), 0);
	assert_int_equal(store_read_begin(c.st, &r), 0);
	assert_int_equal(store_r_tree_size(r), 3);
	assert_int_equal(store_r_opening(r, 0, &op, &op_len), 0);
	assert_int_equal(op_len, strlen("salt|Alice <alice@example.com>"));
	assert_memory_equal(op, "salt|Alice <alice@example.com>", op_len);
	assert_int_equal(store_r_opening(r, 1, &op, &op_len), MN_ENOTFOUND);
	assert_int_equal(store_r_policy_head(r, (const uint8_t *)"example.com|smtp", 16, &serial, &index), 0);
	assert_int_equal(serial, 3);
	assert_int_equal(index, 1);
	store_read_end(r);
	/* a higher serial supersedes */
	assert_int_equal(append(&c, NULL, 0, NULL, "example.com|smtp", 7), 0);
	assert_int_equal(store_read_begin(c.st, &r), 0);
	assert_int_equal(store_r_policy_head(r, (const uint8_t *)"example.com|smtp", 16, &serial, &index), 0);
	assert_int_equal(serial, 7);
	assert_int_equal(index, 3);
	assert_int_equal(store_r_policy_head(r, (const uint8_t *)"example.org|smtp", 16, &serial, &index),
			 MN_ENOTFOUND);
	store_read_end(r);
	close_store(&c);
}

static void test_bad_keys(void **state)
{
	struct ctx c;
	const struct store_index_key bad_idx[] = {{9, 1, (const uint8_t *)"x"}};
	const struct store_index_key empty[] = {{STORE_IDX_DNS, 0, (const uint8_t *)"x"}};

	(void)state;
	open_store(&c);
	assert_int_equal(append(&c, bad_idx, 1, NULL, NULL, 0), MN_EINVAL);
	assert_int_equal(append(&c, empty, 1, NULL, NULL, 0), MN_EINVAL);
	close_store(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_scan),
		cmocka_unit_test(test_openings_and_policy),
		cmocka_unit_test(test_bad_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
