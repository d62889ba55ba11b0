/* test_lookup_batch.c: /mn/v1/lookup answers with entries read in batches
 * (store_r_entries_at, store_r_inclusion_proofs; STORE_PROOF_BATCH per batch)
 * are byte for byte the answer built one entry at a time (api__entry_json),
 * across batch boundaries and pages; and independently of that, every entry
 * carries its own leaf_input and extra_data and an audit path that verifies
 * alone against the answer's STH root. Drives api_handle on a store built in a
 * mkdtemp directory (removed at the end). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "api/internal.h"
#include "common/b64.h"
#include "common/err.h"
#include "entry/ct.h"
#include "merkle/merkle.h"

/* leaf i names a.example.com unless i % 3 == 2 (then b.example.com): 47 and
 * 23 matches, more than two batches for a */
#define NL 70u
#define NUM_A 47u

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

struct fix {
	char dir[64];
	struct store *s;
	struct api *api;
	struct merkle_hasher *h;
	uint8_t leaf[NL][128];
	size_t leaf_len[NL];
	uint8_t extra[NL][8];
	uint8_t lh[NL][MERKLE_HASH_LEN];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct store_options so = {0};
	struct store_leaf ls[NL];
	struct store_index_key keys[NL];
	uint8_t keybuf[NL][NAMES_MAX_KEY_LEN];
	struct store_sth sth;
	struct merkle_range range;
	struct api_config cfg;

	assert_non_null(f);
	f->h = merkle_hasher_new();
	assert_non_null(f->h);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mn-lookupbatch-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	so.dir = f->dir;
	so.no_sync = 1;
	so.map_size = 64ull << 20;
	assert_int_equal(store_open(&f->s, &so), 0);
	memset(ls, 0, sizeof(ls));
	merkle_range_init(&range);
	for (unsigned i = 0; i < NL; i++) {
		uint8_t body[40];
		struct ct_entry e;
		struct cbb b;
		const char *name = i % 3 == 2 ? "b.example.com" : "a.example.com";
		int kl;

		memset(body, (int)(0x30 + i), sizeof(body));
		memset(&e, 0, sizeof(e));
		e.timestamp = 1000 + i;
		e.entry_type = CT_X509_ENTRY;
		e.body = body;
		e.body_len = 10 + i % 30;
		assert_true(cbb_init(&b, 128, sizeof(f->leaf[i])) && ct_write_leaf(&b, &e));
		f->leaf_len[i] = cbb_len(&b);
		memcpy(f->leaf[i], cbb_data(&b), f->leaf_len[i]);
		cbb_cleanup(&b);
		memset(f->extra[i], (int)i, sizeof(f->extra[i]));
		kl = names_dns_key(keybuf[i], sizeof(keybuf[i]), name, strlen(name),
				   NAMES_CLASS_TLS);
		assert_true(kl > 0);
		keys[i].index = STORE_IDX_DNS;
		keys[i].key_len = (uint8_t)kl;
		keys[i].key = keybuf[i];
		ls[i].leaf_input = f->leaf[i];
		ls[i].leaf_input_len = f->leaf_len[i];
		ls[i].extra = f->extra[i];
		ls[i].extra_len = i % 9; /* 0 (empty) to 8 bytes */
		ls[i].sct = f->extra[i];
		ls[i].sct_len = 1;
		merkle_leaf_hash(f->h, ls[i].leaf_hash, f->leaf[i], f->leaf_len[i]);
		memcpy(f->lh[i], ls[i].leaf_hash, MERKLE_HASH_LEN);
		memcpy(ls[i].dedup_key, ls[i].leaf_hash, MERKLE_HASH_LEN);
		ls[i].dedup_key[0] ^= 0xff;
		ls[i].keys = &keys[i];
		ls[i].num_keys = 1;
		assert_int_equal(merkle_range_append(&range, f->h, ls[i].leaf_hash, NULL, NULL),
				 0);
	}
	memset(&sth, 0, sizeof(sth));
	sth.tree_size = NL;
	sth.timestamp = 5000;
	merkle_range_root(&range, f->h, sth.root);
	sth.sig_len = 3;
	memcpy(sth.sig, "sig", 3);
	assert_int_equal(store_append_batch(f->s, ls, NL, &sth), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.store = f->s;
	f->api = api_new(&cfg);
	assert_non_null(f->api);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	api_free(f->api);
	store_close(f->s);
	assert_int_equal(nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
	merkle_hasher_free(f->h);
	free(f);
	return 0;
}

static void get(struct fix *f, const char *query, struct api_response *resp)
{
	struct api_request req = {API_GET, "/mn/v1/lookup", 13, query, strlen(query), NULL, 0};

	memset(resp, 0, sizeof(*resp));
	assert_int_equal(api_handle(f->api, &req, resp, NULL, NULL), API_DONE);
	assert_int_equal(resp->status, 200);
}

/* the leaves naming a.example.com, in order */
static unsigned a_leaf(unsigned k)
{
	return k / 2 * 3 + k % 2;
}

/* expect builds the answer for a-matches [from, from + num) one entry at a
 * time, with next_cursor as the lookup sets it. */
static void expect(struct fix *f, unsigned from, unsigned num, int more, struct cbb *b)
{
	struct store_reader *rd;
	struct store_sth sth;
	int ok;

	assert_int_equal(store_read_begin(f->s, &rd), 0);
	assert_int_equal(store_r_sth(rd, &sth), 0);
	ok = cbb_init(b, 4096, API_MAX_RESPONSE) && api__jraw(b, "{\"sth\":") &&
	     api__sth_json(b, &sth) && api__jraw(b, ",\"entries\":[");
	for (unsigned k = from; ok && k < from + num; k++)
		ok = (k == from || api__jraw(b, ",")) &&
		     api__entry_json(b, rd, a_leaf(k), sth.tree_size, 1, 0);
	ok = ok && api__jraw(b, "],\"next_cursor\":") &&
	     (more ? api__jraw(b, "\"") && api__ju64(b, a_leaf(from + num - 1)) &&
			     api__jraw(b, "\"")
		   : api__jraw(b, "null")) &&
	     api__jraw(b, "}");
	assert_true(ok);
	store_read_end(rd);
}

static void b64_equal(json_t *v, const uint8_t *want, size_t want_len)
{
	uint8_t *d;
	size_t dl;

	assert_true(json_is_string(v));
	assert_int_equal(mn_b64_decode(&d, &dl, json_string_value(v), json_string_length(v), 4096),
			 0);
	assert_int_equal(dl, want_len);
	if (dl > 0)
		assert_memory_equal(d, want, dl);
	free(d);
}

/* check_entries checks each entry of |resp| on its own: the leaf and extra of
 * a-match from + i, and an audit path that verifies against the answer's root. */
static void check_entries(struct fix *f, const struct api_response *resp, unsigned from,
			  unsigned num)
{
	json_error_t jerr;
	json_t *root = json_loadb((const char *)resp->body, resp->body_len, 0, &jerr);
	json_t *entries, *e;
	uint8_t *rh;
	size_t rl, i;

	assert_non_null(root);
	assert_int_equal(mn_b64_decode(&rh, &rl,
				       json_string_value(json_object_get(
					       json_object_get(root, "sth"), "sha256_root_hash")),
				       44, 64),
			 0);
	assert_int_equal(rl, MERKLE_HASH_LEN);
	entries = json_object_get(root, "entries");
	assert_int_equal(json_array_size(entries), num);
	json_array_foreach(entries, i, e) {
		unsigned idx = a_leaf(from + (unsigned)i);
		uint8_t path[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
		json_t *ap = json_object_get(e, "audit_path"), *h;
		size_t j;

		assert_int_equal(json_integer_value(json_object_get(e, "leaf_index")), idx);
		assert_int_equal(json_integer_value(json_object_get(e, "entry_type")),
				 CT_X509_ENTRY);
		b64_equal(json_object_get(e, "leaf_input"), f->leaf[idx], f->leaf_len[idx]);
		b64_equal(json_object_get(e, "extra_data"), f->extra[idx], idx % 9);
		assert_true(json_array_size(ap) <= MERKLE_MAX_PROOF);
		json_array_foreach(ap, j, h) {
			uint8_t *d;
			size_t dl;
			assert_int_equal(mn_b64_decode(&d, &dl, json_string_value(h),
						       json_string_length(h), 64),
					 0);
			assert_int_equal(dl, MERKLE_HASH_LEN);
			memcpy(path[j], d, dl);
			free(d);
		}
		assert_true(merkle_verify_inclusion(f->h, f->lh[idx], idx, NL,
						    (const uint8_t(*)[MERKLE_HASH_LEN])path,
						    json_array_size(ap), rh));
	}
	free(rh);
	json_decref(root);
}

static void check(struct fix *f, const char *query, unsigned from, unsigned num, int more)
{
	struct api_response resp;
	struct cbb want;

	get(f, query, &resp);
	expect(f, from, num, more, &want);
	assert_int_equal(resp.body_len, cbb_len(&want));
	assert_memory_equal(resp.body, cbb_data(&want), resp.body_len);
	check_entries(f, &resp, from, num);
	cbb_cleanup(&want);
	api_response_free(&resp);
}

static void test_batches(void **state)
{
	struct fix *f = *state;
	char q[128];

	/* all 47 in one answer: batches of 16, 16 and 15 */
	check(f, "domain=a.example.com&limit=100", 0, NUM_A, 0);
	/* pages ending at and around batch boundaries */
	check(f, "domain=a.example.com&limit=16", 0, 16, 1);
	check(f, "domain=a.example.com&limit=17", 0, 17, 1);
	check(f, "domain=a.example.com&limit=32", 0, 32, 1);
	check(f, "domain=a.example.com&limit=1", 0, 1, 1);
	snprintf(q, sizeof(q), "domain=a.example.com&limit=33&cursor=%u", a_leaf(16));
	check(f, q, 17, NUM_A - 17, 0);
	snprintf(q, sizeof(q), "domain=a.example.com&limit=30&cursor=%u", a_leaf(0));
	check(f, q, 1, 30, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batches),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
