/* test_storage_format.c: the store's on-disk layout seen through LMDB itself
 * (storage/internal.h): a missing database is refused without writing, and
 * the recorded format (meta "format") is set once and checked on open. Set
 * MN_TEST_SEED to replay a run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "merkle/merkle.h"
#include "storage/internal.h" /* lmdb.h, to damage a store by hand */
#include "storage/storage.h"
#include "tests/lib/storefix.h"

#define HL MERKLE_HASH_LEN

static int raw_db(const char *dir, const char *name, int drop)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	rc = mdb_dbi_open(txn, name, 0, &dbi);
	if (rc == 0 && drop)
		assert_int_equal(mdb_drop(txn, dbi, 1), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	return rc == 0;
}

/* A log with leaves whose leaf-hash index database is missing (a damaged
 * file, or one written by another layout) is refused, and the refusal writes
 * nothing: the database is not created behind the operator's back. A log
 * without leaves gets its missing databases made. */
static void test_missing_database(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct merkle_hasher *h = merkle_hasher_new();
	struct storefix_model m;

	(void)state;
	storefix_make_tmp(dir);
	o = storefix_opts(dir);
	storefix_model_init(&m, 100, 100);
	assert_err(store_open(&s, &o), 0);
	assert_err(storefix_model_append(&m, s, h, 10), 0);
	store_close(s);

	assert_true(raw_db(dir, "leafhash8", 1));
	assert_false(raw_db(dir, "leafhash8", 0));
	assert_err(store_open(&s, &o), MN_ECORRUPT);
	assert_false(raw_db(dir, "leafhash8", 0));
	o.read_only = 1;
	assert_err(store_open(&s, &o), MN_ECORRUPT);
	storefix_rm_tmp(dir);

	/* no leaves yet: the missing database is made */
	storefix_make_tmp(dir);
	o = storefix_opts(dir);
	assert_err(store_open(&s, &o), 0);
	store_close(s);
	assert_true(raw_db(dir, "openings", 1));
	assert_err(store_open(&s, &o), 0);
	store_close(s);
	assert_true(raw_db(dir, "openings", 0));
	storefix_model_free(&m);
	merkle_hasher_free(h);
	storefix_rm_tmp(dir);
}

/* raw_meta_put writes meta |key| = |val| (len bytes) into the store's file;
 * raw_meta_del deletes it. */
static void raw_meta(const char *dir, const char *key, const void *val, size_t len, int del)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	if (del)
		assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
	else
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* The log's format (meta "format") is recorded when the store is created:
 * leaf_index unless no_leaf_index asked otherwise, and never changed by a
 * later open with other options. A log that has an STH but no format (made
 * before formats were recorded) is format 0 and stays so. Flags this version
 * does not know, or a malformed value, are refused, read-only too. */
static void test_format(void **state)
{
	char dir[64];
	struct store *s;
	struct store_options o;
	struct storefix_model m;
	struct merkle_hasher *h = merkle_hasher_new();
	static const uint8_t unknown[4] = {0, 0, 0, 3}, shortv[3] = {0, 0, 1};

	(void)state;
	storefix_model_init(&m, 10, 10);
	for (int legacy = 0; legacy < 2; legacy++) {
		storefix_make_tmp(dir);
		o = storefix_opts(dir);
		o.no_leaf_index = legacy;
		assert_err(store_open(&s, &o), 0);
		assert_int_equal(store_format(s), legacy ? 0 : STORE_FMT_LEAF_INDEX);
		store_close(s);
		o.no_leaf_index = !legacy;
		assert_err(store_open(&s, &o), 0);
		assert_int_equal(store_format(s), legacy ? 0 : STORE_FMT_LEAF_INDEX);
		store_close(s);
		o.read_only = 1;
		assert_err(store_open(&s, &o), 0);
		assert_int_equal(store_format(s), legacy ? 0 : STORE_FMT_LEAF_INDEX);
		store_close(s);
		storefix_rm_tmp(dir);
	}
	/* an older log: an STH and leaves, no format recorded: format 0 */
	storefix_make_tmp(dir);
	o = storefix_opts(dir);
	assert_err(store_open(&s, &o), 0);
	assert_err(storefix_model_append(&m, s, h, 5), 0);
	store_close(s);
	raw_meta(dir, "format", NULL, 0, 1);
	assert_err(store_open(&s, &o), 0);
	assert_int_equal(store_format(s), 0);
	store_close(s);
	raw_meta(dir, "format", unknown, sizeof(unknown), 0);
	assert_err(store_open(&s, &o), MN_ECORRUPT);
	o.read_only = 1;
	assert_err(store_open(&s, &o), MN_ECORRUPT);
	o.read_only = 0;
	raw_meta(dir, "format", shortv, sizeof(shortv), 0);
	assert_err(store_open(&s, &o), MN_ECORRUPT);
	storefix_rm_tmp(dir);
	storefix_model_free(&m);
	merkle_hasher_free(h);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_database),
		cmocka_unit_test(test_format),
	};

	storefix_rng_init("test_storage_format");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
