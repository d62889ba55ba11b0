/* test_map_replay.c: the lookup map the store keeps incrementally
 * (store_append_mapped, storage/map.c) equals the map recomputed from
 * scratch by mnctl's auditor (client/audit.c, map_mem tiles) at every
 * map-root leaf of a 10^5-entry log of all four classes appended in batches
 * of random size, and a map-root leaf with a wrong root is caught at its
 * index.
 *
 * Leaves: 50 TLS and 50 S/MIME certificate templates (tests/lib/pki) whose
 * names carry a marker "q0000q" patched per leaf to one of a few thousand
 * numbers (the DER stays the same length; nothing here checks signatures),
 * and PGP endorsement (versions 1 and 2) and policy bodies built per leaf
 * from 50 certifiers, 50 domains and a few thousand host numbers, so the map has many keys,
 * long lists (under:exampleN.com, a certifier's pgp:) and short ones
 * (cert:). Each leaf has its own timestamp, so leaf hashes never repeat even
 * when bodies do. Batch sizes are drawn log-uniformly from 1..300 (mean
 * about 52), which gives some 1,900 map roots for 10^5 entries.
 *
 * This test links client/audit.c and the entry layer (Makefile). In the
 * sanitizer build it appends 3 * 10^4 entries (MN_MAP_REPLAY_N overrides). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/mnctl.h"
#include "common/b64.h"
#include "common/bytes.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "entry/pgp.h"
#include "map/map.h"
#include "merkle/merkle.h"
#include "storage/storage.h"
#include "tests/lib/pki.h"

#define NTEMPLATES 50
#define MAX_BATCH 300

#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_N 30000
#else
#define DEFAULT_N 100000
#endif

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static struct {
	struct pki_cert *root, *ca, *sroot, *sca;
	struct pki_cert *tls[NTEMPLATES], *smime[NTEMPLATES];
	struct merkle_hasher *h;
} G;

static int setup(void **state)
{
	int64_t now = pki_now();
	char n1[64], n2[64];

	(void)state;
	G.h = merkle_hasher_new();
	G.root = pki_root("Replay Root", 0);
	G.ca = pki_issue(G.root, "Replay CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	G.sroot = pki_root("Replay Mail Root", 0);
	G.sca = pki_issue(G.sroot, "Replay Mail CA", NULL, 0, PKI_CA, now - 86400,
			  now + 86400 * 365);
	if (G.h == NULL || G.ca == NULL || G.sca == NULL)
		return -1;
	for (int k = 0; k < NTEMPLATES; k++) {
		const char *dns[2] = {n1, n2};
		snprintf(n1, sizeof(n1), "hq0000q.t%d.example%d.com", k, k % 5);
		snprintf(n2, sizeof(n2), "www.hq0000q.t%d.example%d.com", k, k % 5);
		G.tls[k] = pki_issue(G.ca, n1, dns, 2, 0, now - 60, now + 86400 * 30);
		snprintf(n1, sizeof(n1), "uq0000q@t%d.mail%d.org", k, k % 5);
		G.smime[k] = pki_issue(G.sca, "mail user", dns, 1, PKI_EMAIL, now - 60,
				       now + 86400 * 30);
		if (G.tls[k] == NULL || G.smime[k] == NULL)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int k = 0; k < NTEMPLATES; k++) {
		pki_free(G.tls[k]);
		pki_free(G.smime[k]);
	}
	pki_free(G.ca);
	pki_free(G.root);
	pki_free(G.sca);
	pki_free(G.sroot);
	merkle_hasher_free(G.h);
	return 0;
}

/* patch replaces every "q0000q" in |p| with q<4 digits of v>q. */
static void patch(uint8_t *p, size_t len, unsigned v)
{
	char d[5];

	snprintf(d, sizeof(d), "%04u", v % 10000);
	for (size_t i = 0; i + 6 <= len; i++)
		if (memcmp(p + i, "q0000q", 6) == 0)
			memcpy(p + i + 1, d, 4);
}

/* pgp_body: an endorsement body, version 1 (three packets) or 2 (the VRF
 * address key, one packet), entry/pgp.h; nothing here checks signatures. */
static uint8_t *pgp_body(size_t *out_len)
{
	uint8_t fpr[20], cert_fpr[20], addr[32], junk[48], *out;
	char dom[64];
	unsigned c = (unsigned)(rnd() % NTEMPLATES);
	int v2 = rnd() & 1;
	struct cbb b, f;
	int ok;

	memset(fpr, 0, sizeof(fpr));
	mn_put_be64(fpr, rnd() % 3000); /* 3,000 endorsed keys */
	memset(cert_fpr, 0xce, sizeof(cert_fpr));
	cert_fpr[0] = (uint8_t)c;       /* 50 certifiers: long lists */
	memset(addr, 0xad, sizeof(addr));
	mn_put_be64(addr, rnd() % 2000); /* 2,000 hidden addresses */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rnd();
	snprintf(dom, sizeof(dom), "d%u.pgp%u.example.net", (unsigned)(rnd() % 500), c);
	ok = cbb_init(&b, 512, 1 << 16) && cbb_add_u8(&b, v2 ? PGP_BODY_V2 : PGP_BODY_V1) &&
	     cbb_add_u8_length_prefixed(&b, &f) && cbb_add_bytes(&f, fpr, 20) &&
	     cbb_add_u8_length_prefixed(&b, &f) && cbb_add_bytes(&f, cert_fpr, 20) &&
	     cbb_add_u8(&b, 0x10) && cbb_add_u64(&b, 1700000000 + rnd() % 1000) &&
	     cbb_add_u8_length_prefixed(&b, &f) &&
	     cbb_add_bytes(&f, (const uint8_t *)dom, strlen(dom)) &&
	     (!v2 || cbb_add_bytes(&b, addr, 32)) &&
	     cbb_add_bytes(&b, junk, 32) && /* uid commitment */
	     cbb_add_u24_length_prefixed(&b, &f) && pgp_packet_add(&f, 6, junk, 40);
	if (ok && !v2)
		ok = cbb_add_u24_length_prefixed(&b, &f) && pgp_packet_add(&f, 2, junk + 1, 44) &&
		     cbb_add_u24_length_prefixed(&b, &f) && pgp_packet_add(&f, 2, junk + 2, 46);
	ok = ok && cbb_add_u24_length_prefixed(&b, &f) && cbb_finish(&b, &out, out_len);
	assert_true(ok);
	return out;
}

static uint8_t *policy_body(size_t *out_len)
{
	static const char *const protos[] = {"smtp", "imap", "https", "submission"};
	unsigned k = (unsigned)(rnd() % NTEMPLATES);
	char payload[256], *p64, jws[512];
	uint8_t *out, cert_hash[32] = {0};
	struct cbb b, f;
	int ok;

	if (rnd() % 4 == 0)
		snprintf(payload, sizeof(payload),
			 "{\"v\":1,\"subject\":{\"email\":\"m%u@t%u.mail%u.org\"},"
			 "\"protocol\":\"email-e2e\",\"serial\":%u}",
			 (unsigned)(rnd() % 300), k, k % 5, (unsigned)(rnd() % 100));
	else
		snprintf(payload, sizeof(payload),
			 "{\"v\":1,\"subject\":{\"domain\":\"p%u.t%u.example%u.com\"},"
			 "\"protocol\":\"%s\",\"serial\":%u}",
			 (unsigned)(rnd() % 200), k, k % 5, protos[rnd() % 4],
			 (unsigned)(rnd() % 100));
	p64 = malloc(mn_b64url_encoded_len(strlen(payload)) + 1);
	assert_non_null(p64);
	mn_b64url_encode(p64, (const uint8_t *)payload, strlen(payload));
	snprintf(jws, sizeof(jws), "eyJhbGciOiJFUzI1NiJ9.%s.c2lnbmF0dXJl", p64);
	free(p64);
	ok = cbb_init(&b, 512, 1 << 16) && cbb_add_u24_length_prefixed(&b, &f) &&
	     cbb_add_bytes(&f, (const uint8_t *)jws, strlen(jws)) && cbb_add_u64(&b, k) &&
	     cbb_add_bytes(&b, cert_hash, 32) && cbb_finish(&b, &out, out_len);
	assert_true(ok);
	return out;
}

/* One generated leaf, with everything store_append_mapped needs. */
struct gleaf {
	uint8_t *leaf;
	size_t leaf_len;
	uint8_t (*keys)[MAP_KEY_LEN];
	size_t num_keys;
};

static void make_leaf(struct gleaf *g, uint64_t ts, uint8_t (*scratch)[MAP_KEY_LEN])
{
	struct ct_entry e;
	uint8_t *body;
	size_t body_len;
	struct cbb b;
	int cut;

	memset(&e, 0, sizeof(e));
	e.timestamp = ts;
	switch (rnd() % 4) {
	case 0:
	case 1: {
		const struct pki_cert *c = (rnd() & 1 ? G.tls : G.smime)[rnd() % NTEMPLATES];
		body = malloc(c->der_len);
		assert_non_null(body);
		memcpy(body, c->der, c->der_len);
		body_len = c->der_len;
		patch(body, body_len, (unsigned)(rnd() % 2000));
		e.entry_type = CT_X509_ENTRY;
		break;
	}
	case 2:
		body = pgp_body(&body_len);
		e.entry_type = MN_PGP_ENDORSEMENT_ENTRY;
		break;
	default:
		body = policy_body(&body_len);
		e.entry_type = MN_SIGNED_POLICY_ENTRY;
		break;
	}
	e.body = body;
	e.body_len = body_len;
	assert_true(cbb_init(&b, body_len + 64, 1 << 20));
	assert_true(ct_write_leaf(&b, &e));
	assert_true(cbb_finish(&b, &g->leaf, &g->leaf_len));
	free(body);
	assert_int_equal(mapkeys_leaf(G.h, g->leaf, g->leaf_len, scratch, &g->num_keys, &cut), 0);
	assert_false(cut);
	assert_true(g->num_keys > 0);
	g->keys = malloc(g->num_keys * MAP_KEY_LEN);
	assert_non_null(g->keys);
	memcpy(g->keys, scratch, g->num_keys * MAP_KEY_LEN);
}

/* The store_map_commit hooks: a map-root leaf as logd makes it (a root
 * byte flipped for the batch whose map-root leaf is |tamper_at|), and an
 * unsigned STH. */
struct run {
	uint64_t ts;
	uint64_t tamper_at;
	uint8_t *root_leaf;
	uint64_t *root_idx; /* every map-root leaf's index */
	size_t num_roots, cap_roots;
};

static int root_leaf_hook(void *ctx, uint64_t covered, uint64_t num_keys,
			  const uint8_t map_root[MERKLE_HASH_LEN], struct store_leaf *out)
{
	struct run *r = ctx;
	struct mapkeys_root mr = {covered, num_keys, {0}};
	uint8_t body[MAPKEYS_ROOT_BODY_LEN];
	struct ct_entry e;
	struct cbb b;
	size_t len;

	memcpy(mr.root, map_root, MAP_HASH_LEN);
	if (covered == r->tamper_at)
		mr.root[17] ^= 0x40;
	mapkeys_root_encode(body, &mr);
	memset(&e, 0, sizeof(e));
	e.timestamp = r->ts;
	e.entry_type = MN_MAP_ROOT_ENTRY;
	e.body = body;
	e.body_len = sizeof(body);
	free(r->root_leaf);
	r->root_leaf = NULL;
	if (!cbb_init(&b, 128, 1024) || !ct_write_leaf(&b, &e) ||
	    !cbb_finish(&b, &r->root_leaf, &len)) {
		cbb_cleanup(&b);
		return MN_ENOMEM;
	}
	out->leaf_input = r->root_leaf;
	out->leaf_input_len = len;
	merkle_leaf_hash(G.h, out->leaf_hash, r->root_leaf, len);
	merkle_sha256(G.h, out->dedup_key, out->leaf_hash, MERKLE_HASH_LEN);
	if (r->num_roots == r->cap_roots) {
		r->cap_roots = r->cap_roots ? 2 * r->cap_roots : 1024;
		r->root_idx = realloc(r->root_idx, r->cap_roots * sizeof(*r->root_idx));
		if (r->root_idx == NULL)
			return MN_ENOMEM;
	}
	r->root_idx[r->num_roots++] = covered;
	return 0;
}

static int sign_hook(void *ctx, uint64_t tree_size, const uint8_t root[MERKLE_HASH_LEN],
		     struct store_sth *out)
{
	struct run *r = ctx;

	memset(out, 0, sizeof(*out));
	out->tree_size = tree_size;
	out->timestamp = r->ts;
	memcpy(out->root, root, MERKLE_HASH_LEN);
	return 0;
}

static size_t batch_size(void)
{
	/* log-uniform on 1..300 */
	double u = (double)(rnd() >> 11) / 9007199254740992.0;
	size_t n = (size_t)exp(u * log(MAX_BATCH + 1.0));

	return n < 1 ? 1 : n > MAX_BATCH ? MAX_BATCH : n;
}

/* build appends |n| generated leaves to a new mapped store in |dir|. */
static struct store *build(const char *dir, uint64_t n, struct run *r)
{
	struct store_options so = {.dir = dir, .no_sync = 1, .map = 1};
	struct store_map_commit mc = {root_leaf_hook, sign_hook, r};
	struct gleaf *g = calloc(MAX_BATCH, sizeof(*g));
	struct store_leaf *l = calloc(MAX_BATCH, sizeof(*l));
	uint8_t (*scratch)[MAP_KEY_LEN] = malloc(MAPKEYS_MAX * MAP_KEY_LEN);
	struct store *st;
	uint64_t done = 0;

	assert_non_null(g);
	assert_non_null(l);
	assert_non_null(scratch);
	assert_int_equal(store_open(&st, &so), 0);
	r->ts = 1700000000000ull;
	while (done < n) {
		size_t num = batch_size();
		struct store_sth sth;

		if (num > n - done)
			num = (size_t)(n - done);
		for (size_t i = 0; i < num; i++) {
			make_leaf(&g[i], ++r->ts, scratch);
			memset(&l[i], 0, sizeof(l[i]));
			l[i].leaf_input = g[i].leaf;
			l[i].leaf_input_len = g[i].leaf_len;
			merkle_leaf_hash(G.h, l[i].leaf_hash, g[i].leaf, g[i].leaf_len);
			memcpy(l[i].dedup_key, l[i].leaf_hash, 32);
			l[i].map_keys = (const uint8_t(*)[32])g[i].keys;
			l[i].num_map_keys = g[i].num_keys;
		}
		assert_int_equal(store_append_mapped(st, l, num, &mc, &sth), 0);
		for (size_t i = 0; i < num; i++) {
			free(g[i].leaf);
			free(g[i].keys);
		}
		done += num;
	}
	free(g);
	free(l);
	free(scratch);
	return st;
}

/* replay feeds the stored leaves [0, tree size) to a fresh audit, saving and
 * reloading the audit's state at leaf |reload_at|. Returns the audit's
 * result; *out gets the audit (free it). */
static int replay(struct store *st, uint64_t reload_at, struct mnctl_audit **out)
{
	struct mnctl_audit *a = mnctl_audit_new();
	struct store_reader *rd;
	uint64_t size, i = 0;
	int ret = MNCTL_OK;

	assert_non_null(a);
	assert_int_equal(store_read_begin(st, &rd), 0);
	size = store_r_tree_size(rd);
	while (i < size && ret == MNCTL_OK) {
		struct store_entry e[256];
		size_t got;

		assert_int_equal(store_r_entries(rd, i, 256, e, &got), 0);
		assert_true(got > 0);
		for (size_t k = 0; k < got && ret == MNCTL_OK; k++, i++) {
			if (i == reload_at) {
				uint8_t *enc;
				size_t len;
				assert_int_equal(mnctl_audit_encode(a, &enc, &len), 0);
				mnctl_audit_free(a);
				assert_int_equal(mnctl_audit_decode(&a, enc, len), 0);
				assert_int_equal(mnctl_audit_size(a), i);
				/* a damaged state is refused, not half loaded */
				{
					struct mnctl_audit *bad;
					assert_int_not_equal(mnctl_audit_decode(&bad, enc, len - 1), 0);
					assert_null(bad);
				}
				free(enc);
			}
			ret = mnctl_audit_leaf(a, i, e[k].leaf_input, e[k].leaf_input_len);
		}
	}
	store_read_end(rd);
	*out = a;
	return ret;
}

static void make_dir(char *dir, size_t cap)
{
	snprintf(dir, cap, "/tmp/mn-mapreplay-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void rm_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Every map-root leaf of a 10^5-entry log: the incremental root the store
 * committed equals the one recomputed from scratch. */
static void test_replay_random_batches(void **state)
{
	const char *env = getenv("MN_MAP_REPLAY_N");
	uint64_t n = env != NULL ? strtoull(env, NULL, 10) : DEFAULT_N;
	struct run r = {.tamper_at = UINT64_MAX};
	struct mnctl_audit *a;
	struct store_reader *rd;
	struct store *st;
	uint64_t covered, num_keys, akeys;
	uint8_t root[32], aroot[32];
	char dir[64];
	double t0 = now_s(), t1, t2;
	int ret;

	(void)state;
	make_dir(dir, sizeof(dir));
	st = build(dir, n, &r);
	t1 = now_s();
	ret = replay(st, r.root_idx[r.num_roots / 2] - 7, &a);
	if (ret != MNCTL_OK)
		fprintf(stderr, "%s\n", mnctl_audit_error(a));
	assert_int_equal(ret, MNCTL_OK);
	t2 = now_s();
	/* every map-root leaf was checked, and there are enough of them */
	assert_int_equal(mnctl_audit_num_roots(a), r.num_roots);
	if (n == DEFAULT_N)
		assert_true(r.num_roots >= (n >= 100000 ? 1000 : 500));
	/* and the map after the last one: the store's state */
	assert_int_equal(store_read_begin(st, &rd), 0);
	assert_int_equal(store_r_map(rd, &covered, &num_keys, root), 0);
	assert_int_equal(covered, store_r_tree_size(rd));
	store_read_end(rd);
	assert_int_equal(mnctl_audit_root(a, &akeys, aroot), MNCTL_OK);
	assert_int_equal(akeys, num_keys);
	assert_memory_equal(aroot, root, 32);
	fprintf(stderr, "map replay: %" PRIu64 " entries + %zu map-root leaves, %" PRIu64
		" keys; append %.1f s, replay %.1f s\n", n, r.num_roots, num_keys, t1 - t0,
		t2 - t1);
	mnctl_audit_free(a);
	store_close(st);
	free(r.root_idx);
	free(r.root_leaf);
	rm_dir(dir);
}

/* A map-root leaf committing a wrong root is caught at its index, after
 * the ones before it passed. */
static void test_replay_tampered(void **state)
{
	struct run r = {.tamper_at = UINT64_MAX};
	struct mnctl_audit *a;
	struct store *st;
	char dir[64], want[64];
	uint64_t bad;
	size_t k;

	(void)state;
	make_dir(dir, sizeof(dir));
	/* the map-root leaves land where the batch sizes put them: build once
	 * to learn them, then again with the same draws and one tampered */
	{
		uint64_t seed = rng;
		st = build(dir, 3000, &r);
		store_close(st);
		rm_dir(dir);
		assert_true(r.num_roots > 20);
		k = 5 + (size_t)(rnd() % (r.num_roots - 10));
		bad = r.root_idx[k];
		free(r.root_idx);
		free(r.root_leaf);
		memset(&r, 0, sizeof(r));
		r.tamper_at = bad;
		rng = seed;
		make_dir(dir, sizeof(dir));
		st = build(dir, 3000, &r);
		assert_int_equal(r.root_idx[k], bad);
	}
	assert_int_equal(replay(st, UINT64_MAX, &a), MNCTL_EVERIFY);
	snprintf(want, sizeof(want), "map-root leaf %" PRIu64 " (tree size %" PRIu64 ")", bad,
		 bad + 1);
	if (strstr(mnctl_audit_error(a), want) == NULL)
		fprintf(stderr, "error: %s\n", mnctl_audit_error(a));
	assert_non_null(strstr(mnctl_audit_error(a), want));
	assert_int_equal(mnctl_audit_size(a), bad);
	assert_int_equal(mnctl_audit_num_roots(a), k + 1);
	mnctl_audit_free(a);
	store_close(st);
	free(r.root_idx);
	free(r.root_leaf);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_tampered),
		cmocka_unit_test(test_replay_random_batches),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
