/* bench_map.c: what the verifiable lookup map costs (issue 13; DESIGN.md
 * section 10). Prints markdown rows for bench/RESULTS.md on stdout, progress
 * on stderr. Data under BUILD/bench-map, removed at the end.
 *
 *   bench_map [BUILD [MAX_MEM_KEYS [REBUILD_ENTRIES [APPENDS]]]]
 *   defaults 10^6, 200,000, 60,000 (about 2 minutes; bench/RESULTS.md's
 *   figures come from 10^7, 10^6, 60,000: 6 minutes);
 *   BENCH_MAP_ONLY=sequenced|appends|proofs|rebuild runs one part;
 *   BENCH_MAP_ROUNDS, BENCH_MAP_SECONDS: part 4's rounds and window (2, 8);
 *   BENCH_MAP_P256=1: P-256 certificates (574/611 bytes) instead of RSA
 *   (970/1,007), to build big logs in less disk; BENCH_MAP_KEEP=1: leave the
 *   data under BUILD/bench-map.
 *
 * Leaves: x509_entry MerkleTreeLeafs whose body is a ~1 KB certificate
 * (RSA-2048 subject key, RSA-2048 issuer signature, like real ones; 970 and
 * 1,007 bytes) naming 2 or 3 DNS names (dN-bench-online-shop.com, www. and,
 * for every other leaf, mail. of it),
 * so mapkeys_leaf files each under 4 or 5 keys (cert:, dns: per name,
 * under:dN.com). Two templates are issued once with tests/lib/pki.c and
 * patched per leaf (the 7 digits of N, the serial), which keeps the DER valid
 * for mapkeys (it does not check signatures). Domain N of leaf i is
 * mix(i) mod (leaves / 2): about half the keys of a run are met again later
 * (renewals), so both new and existing lists are exercised. Each leaf also
 * gets the lookup-index keys logd writes (a DNS key per name, the cert
 * thumbprint), 64 bytes of extra data and a 120-byte SCT.
 *
 *  1. Durable appends (fsync per commit), store_append_batch against
 *     store_append_mapped, the same leaves and indexes, batches of the same
 *     size, each from an empty store. The leaves, their hashes and map keys
 *     (mapkeys_leaf) are made before each batch, untimed: the sequencer
 *     computes them on the submitting threads. Timed: what the sequencer's
 *     thread does for a batch: the new root and the STH signature (for
 *     store_append_batch) or the map-root leaf and the STH in the hooks (for
 *     store_append_mapped), and the store call. CPU is this thread's.
 *  2. Proof bytes of one key (MapProof, map/map.h) at 10^4 .. MAX_MEM_KEYS
 *     random keys in map_mem (batches of 2^16 sorted keys): mean and max over
 *     1,000 present and 1,000 absent keys.
 *  3. Rebuild: a log of REBUILD_ENTRIES leaves built without the map
 *     (store_append_batch, no_sync, batches of 10,000), then reopened with
 *     .map and caught up the way logd's seq_start does it (seq_start with
 *     opt.map: map_catch_up, 65,536 leaves per durable transaction); entries/s.
 *     Then start time (store_open + seq_start, nothing to catch up) with and
 *     without the map on that log, warm (best of 3) and cold (the store's
 *     files dropped from the page cache with posix_fadvise first, 3 runs),
 *     MapProof bytes from the store (1,000 present, 1,000 absent keys), and the map's pages per key and per entry
 *     (mdb_stat of map_tiles2 and map_items2 via store_get_stats; data 0: the
 *     lists' state is in the tiles' leaf payloads). Also
 *     mapkeys_leaf + map_update on map_mem alone over the same leaves.
 *  4. Sequenced durable appends (run first): the real sequencer with 4
 *     submitting threads, opt.map off and on alternating, each from an empty
 *     store (see "4." below). */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib/load.h"
#include "bench/lib/seqload.h"
#include "bench/lib/seqstat.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "entry/names.h"
#include "logd/keys.h"
#include "logd/sequencer.h"
#include "map/map.h"
#include "merkle/merkle.h"
#include "storage/storage.h"
#include "tests/lib/pki.h"

#define LEAF_MAX 2048
#define MAX_NAMES 3
#define MAX_KEYS 8
#define EXTRA_LEN 64
#define SCT_LEN 120
#define DIGITS 7
#define SERIAL 0x5a5a5a5a5a5a5a5aull

static char base[512];
static struct ct_signer *signer;
static uint64_t base_ms;

/* --- certificates ----------------------------------------------------------- */

struct tmpl {
	uint8_t der[LEAF_MAX];
	size_t len;
	size_t name_off[8]; /* where "0000000" of "d0000000" sits */
	size_t num_names;   /* occurrences (CN and SAN entries) */
	size_t serial_off;
	size_t num_dns;
};

static struct tmpl tmpls[2];
static int p256; /* BENCH_MAP_P256=1: P-256 keys and signatures (smaller leaves) */

static void make_tmpl(struct tmpl *t, const struct pki_cert *ca, size_t num_dns)
{
	static const char *const dns[MAX_NAMES] = {
		"d0000000-bench-online-shop.com", "www.d0000000-bench-online-shop.com",
		"mail.d0000000-bench-online-shop.com"};
	struct pki_opts o = {0};
	struct pki_cert *c;
	uint8_t serial[8];
	const uint8_t *p;

	o.cn = "d0000000-bench-online-shop.com";
	/* more of what real certificates carry, for their size */
	o.eku = "serverAuth,clientAuth";
	o.dns = dns;
	o.num_dns = num_dns;
	o.flags = p256 ? 0 : PKI_RSA;
	o.not_before = pki_now() - 86400;
	o.not_after = o.not_before + 90 * 86400;
	o.serial = SERIAL;
	c = pki_issue_opts(ca, &o);
	if (c == NULL || c->der_len > sizeof(t->der))
		load_die("cannot issue a template certificate");
	memcpy(t->der, c->der, c->der_len);
	t->len = c->der_len;
	t->num_dns = num_dns;
	pki_free(c);
	for (size_t off = 0; off < t->len && t->num_names < 8;) {
		p = memmem(t->der + off, t->len - off, "d0000000", 8);
		if (p == NULL)
			break;
		t->name_off[t->num_names++] = (size_t)(p - t->der) + 1;
		off = (size_t)(p - t->der) + 8;
	}
	mn_put_be64(serial, SERIAL);
	p = memmem(t->der, t->len, serial, 8);
	if (p == NULL || t->num_names < num_dns)
		load_die("template certificate: names or serial not found");
	t->serial_off = (size_t)(p - t->der);
}

static void templates(void)
{
	struct pki_cert *ca = pki_root("Bench Map CA", p256 ? 0 : PKI_RSA);

	if (ca == NULL)
		load_die("cannot make the CA");
	make_tmpl(&tmpls[0], ca, 2);
	make_tmpl(&tmpls[1], ca, 3);
	pki_free(ca);
	fprintf(stderr, "bench_map: certificates of %zu and %zu bytes\n", tmpls[0].len,
		tmpls[1].len);
}

static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* --- leaves ------------------------------------------------------------------- */

/* One leaf and everything the store is given with it. */
struct gleaf {
	uint8_t leaf[LEAF_MAX];
	uint8_t extra[EXTRA_LEN];
	uint8_t ikeys[MAX_NAMES][NAMES_MAX_KEY_LEN];
	uint8_t thumb[32];
	struct store_index_key keys[MAX_NAMES + 1];
	uint8_t mk[MAX_KEYS][MAP_KEY_LEN];
};

static uint8_t sct[SCT_LEN];

struct gen {
	struct merkle_hasher *h;
	uint8_t (*kbuf)[MAP_KEY_LEN];
	uint64_t domains; /* N of leaf i: mix(i) % domains */
	uint64_t num_map_keys;
};

static void gen_init(struct gen *g, uint64_t domains)
{
	g->h = merkle_hasher_new();
	g->kbuf = malloc(MAPKEYS_MAX * MAP_KEY_LEN);
	g->domains = domains;
	g->num_map_keys = 0;
	if (g->h == NULL || g->kbuf == NULL)
		load_die("out of memory");
}

static void gen_cleanup(struct gen *g)
{
	merkle_hasher_free(g->h);
	free(g->kbuf);
}

/* gen_leaf makes leaf |i| into |gl| and |l|; with |map_keys| its map keys too
 * (mapkeys_leaf, as the sequencer's submitters do). */
static void gen_leaf(struct gen *g, uint64_t i, struct gleaf *gl, struct store_leaf *l,
		     int map_keys)
{
	const struct tmpl *t = &tmpls[i & 1];
	uint8_t der[LEAF_MAX];
	char digits[24], name[64];
	uint64_t dom = mix(i) % g->domains % 10000000u;
	struct ct_entry e = {0};
	struct cbb b;
	size_t len, nk = 0;
	static const char *const pre[MAX_NAMES] = {"", "www.", "mail."};

	memcpy(der, t->der, t->len);
	snprintf(digits, sizeof(digits), "%0*" PRIu64, DIGITS, dom);
	for (size_t k = 0; k < t->num_names; k++)
		memcpy(der + t->name_off[k], digits, DIGITS);
	mn_put_be64(der + t->serial_off, (SERIAL & 0xff00000000000000ull) | i);
	e.timestamp = base_ms + i;
	e.entry_type = CT_X509_ENTRY;
	e.body = der;
	e.body_len = t->len;
	if (!cbb_init(&b, LEAF_MAX, LEAF_MAX) || !ct_write_leaf(&b, &e) ||
	    (len = cbb_len(&b)) == 0)
		load_die("cannot encode a leaf");
	memcpy(gl->leaf, cbb_data(&b), len);
	cbb_cleanup(&b);
	memset(l, 0, sizeof(*l));
	l->leaf_input = gl->leaf;
	l->leaf_input_len = len;
	l->extra = gl->extra;
	l->extra_len = sizeof(gl->extra);
	l->sct = sct;
	l->sct_len = sizeof(sct);
	merkle_leaf_hash(g->h, l->leaf_hash, gl->leaf, len);
	memcpy(l->dedup_key, l->leaf_hash, 32);
	l->dedup_key[0] ^= 0xa5;
	for (size_t k = 0; k < t->num_dns; k++) {
		int n = snprintf(name, sizeof(name), "%sd%s-bench-online-shop.com", pre[k],
				 digits);
		int kl = names_dns_key(gl->ikeys[k], NAMES_MAX_KEY_LEN, name, (size_t)n,
				       NAMES_CLASS_TLS);
		if (kl <= 0)
			load_die("cannot make an index key");
		gl->keys[k].index = STORE_IDX_DNS;
		gl->keys[k].key_len = (uint8_t)kl;
		gl->keys[k].key = gl->ikeys[k];
	}
	merkle_sha256(g->h, gl->thumb, der, t->len);
	gl->keys[t->num_dns].index = STORE_IDX_CERT;
	gl->keys[t->num_dns].key_len = 32;
	gl->keys[t->num_dns].key = gl->thumb;
	l->keys = gl->keys;
	l->num_keys = t->num_dns + 1;
	if (map_keys) {
		int cut = 0;
		if (mapkeys_leaf(g->h, gl->leaf, len, g->kbuf, &nk, &cut) != 0 || cut ||
		    nk > MAX_KEYS || nk < 2)
			load_die("mapkeys_leaf: unexpected keys");
		memcpy(gl->mk, g->kbuf, nk * MAP_KEY_LEN);
		l->map_keys = (const uint8_t(*)[32])gl->mk;
		l->num_map_keys = nk;
		g->num_map_keys += nk;
	}
}

/* --- STHs and the map-root leaf (as logd/sequencer.c makes them) ----------- */

static void sign_sth(struct store_sth *sth, uint64_t size, const uint8_t root[32],
		     uint64_t ts)
{
	struct ct_sig sig;
	struct cbb b;

	sth->tree_size = size;
	sth->timestamp = ts;
	memcpy(sth->root, root, 32);
	if (ct_sign_sth(signer, &sig, ts, size, root) != 0 ||
	    !cbb_init(&b, STORE_MAX_SIG_LEN, STORE_MAX_SIG_LEN) || !ct_write_sig(&b, &sig) ||
	    cbb_len(&b) == 0)
		load_die("cannot sign the STH");
	sth->sig_len = (uint16_t)cbb_len(&b);
	memcpy(sth->sig, cbb_data(&b), sth->sig_len);
	cbb_cleanup(&b);
}

struct hook_ctx {
	struct merkle_hasher *h;
	uint64_t ts;
	uint8_t leaf[256];
};

static int leaf_hook(void *ctx, uint64_t covered, uint64_t num_keys,
		     const uint8_t map_root[MERKLE_HASH_LEN], struct store_leaf *out)
{
	struct hook_ctx *c = ctx;
	struct mapkeys_root mr;
	uint8_t body[MAPKEYS_ROOT_BODY_LEN];
	struct ct_entry e = {0};
	struct cbb b;

	mr.covered = covered;
	mr.num_keys = num_keys;
	memcpy(mr.root, map_root, 32);
	mapkeys_root_encode(body, &mr);
	e.timestamp = c->ts;
	e.entry_type = MN_MAP_ROOT_ENTRY;
	e.body = body;
	e.body_len = sizeof(body);
	if (!cbb_init(&b, sizeof(c->leaf), sizeof(c->leaf)) || !ct_write_leaf(&b, &e)) {
		cbb_cleanup(&b);
		return MN_ENOMEM;
	}
	out->leaf_input_len = cbb_len(&b);
	memcpy(c->leaf, cbb_data(&b), out->leaf_input_len);
	cbb_cleanup(&b);
	out->leaf_input = c->leaf;
	merkle_leaf_hash(c->h, out->leaf_hash, c->leaf, out->leaf_input_len);
	merkle_sha256(c->h, out->dedup_key, out->leaf_hash, 32);
	return 0;
}

static int sign_hook(void *ctx, uint64_t tree_size, const uint8_t root[MERKLE_HASH_LEN],
		     struct store_sth *out)
{
	struct hook_ctx *c = ctx;

	sign_sth(out, tree_size, root, c->ts);
	return 0;
}

/* --- clocks ------------------------------------------------------------------ */

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}


/* --- 1. durable appends, with and without the map --------------------------- */

struct arun {
	double rate;      /* leaves/s over the timed sections */
	double cpu_us;    /* this thread's CPU per leaf in them */
	double wbytes;    /* bytes written per leaf (wchar) */
	double bytes_per_entry;
	double map_bytes_per_entry;
	double keys_per_leaf;
	uint64_t tree_size;
};

static struct arun append_run(const char *name, int mapped, size_t batch, uint64_t n)
{
	char dir[700];
	struct store_options so = {0};
	struct store *st;
	struct gen g;
	struct gleaf *gl = malloc(batch * sizeof(*gl));
	struct store_leaf *ls = malloc(batch * sizeof(*ls));
	struct merkle_range r;
	struct store_stats ss;
	struct arun a = {0};
	uint64_t wall = 0, cpu = 0, w = 0, leaves = 0;

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	load_rm_tree(dir);
	so.dir = dir;
	so.map = mapped;
	so.map_size = 4ull << 30;
	if (gl == NULL || ls == NULL || store_open(&st, &so) != 0)
		load_die("cannot open the store");
	gen_init(&g, n / 2);
	merkle_range_init(&r);
	for (uint64_t i = 0; i < n;) {
		size_t k;
		uint64_t t0, c0, w0;
		int ret;

		for (k = 0; k < batch && i < n; k++, i++)
			gen_leaf(&g, i, &gl[k], &ls[k], mapped);
		t0 = mn_mono_ns();
		c0 = thread_cpu_ns();
		w0 = bench_wchar();
		if (mapped) {
			struct hook_ctx hc = {g.h, base_ms + i, {0}};
			struct store_map_commit mc = {leaf_hook, sign_hook, &hc};
			struct store_sth out;
			ret = store_append_mapped(st, ls, k, &mc, &out);
		} else {
			struct store_sth sth;
			uint8_t root[32];
			for (size_t j = 0; j < k; j++)
				if (merkle_range_append(&r, g.h, ls[j].leaf_hash, NULL, NULL) != 0)
					load_die("merkle_range_append failed");
			merkle_range_root(&r, g.h, root);
			sign_sth(&sth, r.size, root, base_ms + i);
			ret = store_append_batch(st, ls, k, &sth);
		}
		w += bench_wchar() - w0;
		cpu += thread_cpu_ns() - c0;
		wall += mn_mono_ns() - t0;
		if (ret != 0) {
			fprintf(stderr, "bench_map: append at %" PRIu64 ": %s\n", i, mn_strerror(ret));
			load_die("append failed");
		}
		leaves += k;
	}
	store_get_stats(st, &ss);
	a.rate = (double)leaves / ((double)wall / 1e9);
	a.cpu_us = (double)cpu / 1e3 / (double)leaves;
	a.wbytes = (double)w / (double)leaves;
	a.bytes_per_entry = (double)ss.used_bytes / (double)leaves;
	a.map_bytes_per_entry =
		(double)(ss.map_tiles_bytes + ss.map_data_bytes + ss.map_items_bytes) /
		(double)leaves;
	a.keys_per_leaf = mapped ? (double)g.num_map_keys / (double)leaves : 0;
	a.tree_size = ss.tree_size;
	fprintf(stderr, "bench_map: %s: %" PRIu64 " leaves in batches of %zu: %.0f /s, %.1f us "
		"CPU, %.0f B written, %.0f B/entry (map %.0f), tree %" PRIu64 "\n", name, leaves,
		batch, a.rate, a.cpu_us, a.wbytes, a.bytes_per_entry, a.map_bytes_per_entry,
		a.tree_size);
	store_close(st);
	load_rm_tree(dir);
	gen_cleanup(&g);
	free(gl);
	free(ls);
	return a;
}

static void bench_appends(uint64_t n)
{
	static const size_t batches[] = {512, 2048};

	for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
		char nb[64], nm[64];
		struct arun plain, mapped;

		snprintf(nb, sizeof(nb), "plain-%zu", batches[b]);
		snprintf(nm, sizeof(nm), "mapped-%zu", batches[b]);
		plain = append_run(nb, 0, batches[b], n);
		mapped = append_run(nm, 1, batches[b], n);
		printf("| map: durable appends with the map (store_append_mapped), 1 KB "
		       "certificates, %.1f map keys per entry, batches of %zu, %" PRIu64
		       " entries from empty | %.0f /s; CPU %.1f us per append; %.0f B written "
		       "per append; store %.0f B per entry (map %.0f B) | the same appends "
		       "without the map (store_append_batch): %.0f /s; CPU %.1f us; %.0f B "
		       "written; %.0f B per entry | %.2f (CPU %.2f) |\n",
		       mapped.keys_per_leaf, batches[b], n, mapped.rate, mapped.cpu_us,
		       mapped.wbytes, mapped.bytes_per_entry, mapped.map_bytes_per_entry,
		       plain.rate, plain.cpu_us, plain.wbytes, plain.bytes_per_entry,
		       mapped.rate / plain.rate, plain.cpu_us / mapped.cpu_us);
		fflush(stdout);
	}
}

/* --- 2. proof bytes against the number of keys ------------------------------ */

static void rand_key(uint8_t out[32], uint64_t i, uint64_t salt)
{
	for (int k = 0; k < 4; k++) {
		uint64_t z = mix(i * 4 + (uint64_t)k + salt);
		memcpy(out + 8 * k, &z, 8);
	}
}

static int log10_u64(uint64_t v)
{
	int d = 0;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

static int kv_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MAP_KEY_LEN);
}

struct pstat {
	double mean, max, us;
};

static struct pstat proof_stats(const struct map_tiles *tiles, struct merkle_hasher *h,
				uint64_t num_keys, int present)
{
	struct pstat p = {0, 0, 0};
	uint64_t t0 = mn_mono_ns();
	const int n = 1000;

	for (int k = 0; k < n; k++) {
		uint8_t key[32], val[32];
		struct cbb c;
		int pres;
		if (present)
			rand_key(key, mix((uint64_t)k) % num_keys, 0);
		else
			rand_key(key, (uint64_t)k, 0x12345678abcdefull);
		if (!cbb_init(&c, 1024, MAP_MAX_PROOF_LEN) ||
		    map_prove(tiles, h, key, &c, &pres, val) != 0 || pres != present)
			load_die("map_prove failed");
		p.mean += (double)cbb_len(&c) / n;
		if ((double)cbb_len(&c) > p.max)
			p.max = (double)cbb_len(&c);
		cbb_cleanup(&c);
	}
	p.us = load_secs_since(t0) * 1e6 / n;
	return p;
}

static void bench_proofs(uint64_t max_keys)
{
	struct map_mem *m = map_mem_new();
	struct map_tiles tiles;
	struct merkle_hasher *h = merkle_hasher_new();
	const size_t chunk = 1 << 16;
	struct map_kv *kv = malloc(chunk * sizeof(*kv));
	uint64_t have = 0, num_keys = 0, t0 = mn_mono_ns();
	uint8_t root[32];
	char sizes[256] = "", present[512] = "", absent[512] = "", mem[256] = "";
	char cached[512] = "";
	size_t ls = 0, lp = 0, la = 0, lm = 0, lc = 0;
	struct pstat last = {0, 0, 0};

	if (m == NULL || h == NULL || kv == NULL)
		load_die("out of memory");
	map_mem_tiles(m, &tiles);
	for (uint64_t target = 10000; target <= max_keys; target *= 10) {
		struct pstat pp, pa;
		while (have < target) {
			size_t k = target - have < chunk ? (size_t)(target - have) : chunk;
			for (size_t j = 0; j < k; j++) {
				rand_key(kv[j].key, have + j, 0);
				rand_key(kv[j].value, have + j, 99);
			}
			qsort(kv, k, sizeof(*kv), kv_cmp);
			if (map_update(&tiles, h, kv, k, &num_keys, root) != 0)
				load_die("map_update failed");
			have += k;
		}
		pp = proof_stats(&tiles, h, have, 1);
		pa = proof_stats(&tiles, h, have, 0);
		last = pp;
		{
			/* the same proofs through the tile cache logd's store uses
			 * (storage/internal.h: 4,096 slots, strata 1..3), warm */
			struct map_cache *cache = map_cache_new(4096, 3);
			struct map_tiles tc = tiles;
			struct pstat pc;
			if (cache == NULL)
				load_die("out of memory");
			tc.cache = cache;
			(void)proof_stats(&tc, h, have, 1);
			pc = proof_stats(&tc, h, have, 1);
			lc += (size_t)snprintf(cached + lc, sizeof(cached) - lc, "%s%.1f / %.1f",
					       lc ? ", " : "", pp.us, pc.us);
			map_cache_free(cache);
		}
		fprintf(stderr, "bench_map: %" PRIu64 " keys (%.0f s): proof present %.0f B "
			"(max %.0f, %.1f us), absent %.0f B (max %.0f), map_mem %.0f B/key\n", have,
			load_secs_since(t0), pp.mean, pp.max, pp.us, pa.mean, pa.max,
			(double)map_mem_bytes(m) / (double)have);
		ls += (size_t)snprintf(sizes + ls, sizeof(sizes) - ls, "%s10^%d",
				       ls ? " / " : "", log10_u64(have));
		lp += (size_t)snprintf(present + lp, sizeof(present) - lp, "%s%.0f (max %.0f)",
				       lp ? " / " : "", pp.mean, pp.max);
		la += (size_t)snprintf(absent + la, sizeof(absent) - la, "%s%.0f", la ? " / " : "",
				       pa.mean);
		lm += (size_t)snprintf(mem + lm, sizeof(mem) - lm, "%s%.0f", lm ? " / " : "",
				       (double)map_mem_bytes(m) / (double)have);
		if (num_keys != have)
			load_die("map key count wrong");
	}
	printf("| map: MapProof bytes of one key, present (mean, max of 1,000) at %s random "
	       "keys (map_mem) | %s B | aim: 1024 B at 10^7 | %.2f |\n", sizes, present,
	       last.mean / 1024.0);
	printf("| map: MapProof bytes of an absent key (mean of 1,000) at %s keys | %s B | | |\n",
	       sizes, absent);
	printf("| map: map_prove of a present key in map_mem (no LMDB), us, without / with "
	       "the tile cache (4,096 slots, strata 1-3, warm), at %s keys | %s | | |\n", sizes,
	       cached);
	printf("| map: trie tiles in memory (map_mem: tile bytes and ids) per key at %s keys "
	       "| %s B | | |\n", sizes, mem);
	fflush(stdout);
	map_mem_free(m);
	merkle_hasher_free(h);
	free(kv);
}

/* --- 3. rebuild from the log, and start time --------------------------------- */

/* evict drops |dir|'s files from the page cache (posix_fadvise DONTNEED; the
 * store is closed and synced, so every page is clean): the next start reads
 * from the disk, as after a reboot. */
static void evict(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[1024];

	if (d == NULL)
		load_die("cannot list the store");
	while ((de = readdir(d)) != NULL) {
		int fd;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		(void)fdatasync(fd);
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	closedir(d);
}

/* store_proofs: MapProof bytes and time of 1,000 present keys (map keys of
 * random leaves) and 1,000 absent ones, from the store itself. */
static void store_proofs(struct store *st, struct gen *g, uint64_t n, struct pstat *pp,
			 struct pstat *pa)
{
	struct store_reader *rd;
	struct gleaf *gl = malloc(sizeof(*gl));
	struct store_leaf l;
	const int num = 1000;

	memset(pp, 0, sizeof(*pp));
	memset(pa, 0, sizeof(*pa));
	if (gl == NULL || store_read_begin(st, &rd) != 0)
		load_die("cannot read the store");
	for (int present = 1; present >= 0; present--) {
		struct pstat *p = present ? pp : pa;
		uint64_t t0 = mn_mono_ns();
		for (int k = 0; k < num; k++) {
			uint8_t key[32];
			uint64_t count = 0;
			struct cbb c;
			if (present) {
				uint64_t i = mix((uint64_t)k + 777) % n;
				gen_leaf(g, i, gl, &l, 1);
				memcpy(key, gl->mk[mix(i) % l.num_map_keys], 32);
			} else {
				rand_key(key, (uint64_t)k, 0x12345678abcdefull);
			}
			if (!cbb_init(&c, 1024, MAP_MAX_PROOF_LEN) ||
			    store_r_map_prove(rd, key, &c, &count) != 0 ||
			    (count > 0) != present)
				load_die("store_r_map_prove failed");
			p->mean += (double)cbb_len(&c) / num;
			if ((double)cbb_len(&c) > p->max)
				p->max = (double)cbb_len(&c);
			cbb_cleanup(&c);
		}
		p->us = load_secs_since(t0) * 1e6 / num;
	}
	store_read_end(rd);
	free(gl);
}

static void bench_rebuild(uint64_t n)
{
	char dir[700];
	struct store_options so = {0};
	struct store *st;
	struct seq *q;
	struct seq_options qo = {0};
	struct gen g;
	const size_t batch = 10000;
	struct gleaf *gl = malloc(batch * sizeof(*gl));
	struct store_leaf *ls = malloc(batch * sizeof(*ls));
	struct merkle_range r;
	struct store_stats ss;
	uint64_t t0, tb, c0;
	double build_s, catch_s, catch_cpu, mem_s, start_map[3], start_plain[3];
	uint64_t num_map_keys;

	snprintf(dir, sizeof(dir), "%s/rebuild", base);
	load_rm_tree(dir);
	so.dir = dir;
	so.no_sync = 1;
	so.map_size = 8ull << 30;
	if (gl == NULL || ls == NULL || store_open(&st, &so) != 0)
		load_die("cannot open the store");
	gen_init(&g, n / 2);
	merkle_range_init(&r);
	tb = mn_mono_ns();
	for (uint64_t i = 0; i < n;) {
		size_t k;
		struct store_sth sth;
		uint8_t root[32];
		for (k = 0; k < batch && i < n; k++, i++) {
			gen_leaf(&g, i, &gl[k], &ls[k], 0);
			if (merkle_range_append(&r, g.h, ls[k].leaf_hash, NULL, NULL) != 0)
				load_die("merkle_range_append failed");
		}
		merkle_range_root(&r, g.h, root);
		sign_sth(&sth, r.size, root, base_ms + i);
		if (store_append_batch(st, ls, k, &sth) != 0)
			load_die("store_append_batch failed");
	}
	build_s = load_secs_since(tb);
	store_close(st);
	fprintf(stderr, "bench_map: built %" PRIu64 " entries without the map in %.1f s\n", n,
		build_s);

	/* the map on map_mem alone: mapkeys_leaf + map_update, no LMDB (the leaves
	 * are made again, untimed; their keys and the trie update timed) */
	{
		struct map_mem *m = map_mem_new();
		struct map_tiles tiles;
		struct map_kv *kv = malloc(batch * MAX_KEYS * sizeof(*kv));
		uint64_t nk = 0, spent = 0;
		uint8_t mroot[32];
		struct gen g2;

		gen_init(&g2, n / 2);
		if (m == NULL || kv == NULL)
			load_die("out of memory");
		map_mem_tiles(m, &tiles);
		for (uint64_t i = 0; i < n;) {
			size_t k, nkv = 0, out = 0;
			uint64_t ts;
			for (k = 0; k < batch && i + k < n; k++)
				gen_leaf(&g2, i + k, &gl[k], &ls[k], 0);
			ts = mn_mono_ns();
			for (size_t j = 0; j < k; j++) {
				size_t cnt;
				int cut;
				if (mapkeys_leaf(g2.h, ls[j].leaf_input, ls[j].leaf_input_len, g2.kbuf,
						 &cnt, &cut) != 0)
					load_die("mapkeys_leaf failed");
				for (size_t x = 0; x < cnt; x++) {
					/* the value stands in for the list's new value: one
					 * item hash and one value hash per key, as storage
					 * computes them */
					uint8_t item[32];
					memcpy(kv[nkv].key, g2.kbuf[x], 32);
					map_list_item(g2.h, item, i + j, ls[j].leaf_hash);
					map_value(g2.h, kv[nkv].value, 1, item);
					nkv++;
				}
			}
			qsort(kv, nkv, sizeof(*kv), kv_cmp);
			for (size_t x = 0; x < nkv; x++)
				if (out == 0 || memcmp(kv[out - 1].key, kv[x].key, 32) != 0)
					kv[out++] = kv[x];
			if (map_update(&tiles, g2.h, kv, out, &nk, mroot) != 0)
				load_die("map_update failed");
			spent += mn_mono_ns() - ts;
			i += k;
		}
		mem_s = (double)spent / 1e9;
		fprintf(stderr, "bench_map: map_mem rebuild of %" PRIu64 " entries: %.1f s, %" PRIu64
			" keys\n", n, mem_s, nk);
		map_mem_free(m);
		free(kv);
		gen_cleanup(&g2);
	}

	/* catch-up as logd's start does it */
	so.no_sync = 0;
	so.map = 1;
	t0 = mn_mono_ns();
	c0 = thread_cpu_ns();
	qo.map = 1;
	if (store_open(&st, &so) != 0 || seq_start(&q, st, signer, &qo) != 0)
		load_die("catch-up failed");
	catch_s = load_secs_since(t0);
	catch_cpu = (double)(thread_cpu_ns() - c0) / 1e9;
	seq_stop(q);
	store_get_stats(st, &ss);
	{
		struct store_reader *rd;
		uint64_t cov;
		uint8_t mr[32];
		if (store_read_begin(st, &rd) != 0 || store_r_map(rd, &cov, &num_map_keys, mr) != 0)
			load_die("no map after the catch-up");
		store_read_end(rd);
	}
	store_close(st);
	fprintf(stderr, "bench_map: catch-up of %" PRIu64 " entries: %.1f s (CPU %.1f s), %" PRIu64
		" keys\n", n, catch_s, catch_cpu, num_map_keys);

	/* start: store_open (its consistency check) + seq_start, warm page cache,
	 * three times each, best kept */
	for (int k = 0; k < 3; k++) {
		for (int mp = 0; mp < 2; mp++) {
			so.map = mp;
			qo.map = mp;
			t0 = mn_mono_ns();
			if (store_open(&st, &so) != 0 || seq_start(&q, st, signer, &qo) != 0)
				load_die("reopen failed");
			(mp ? start_map : start_plain)[k] = load_secs_since(t0) * 1e3;
			seq_stop(q);
			store_close(st);
		}
	}
	for (int k = 1; k < 3; k++) {
		if (start_map[k] < start_map[0])
			start_map[0] = start_map[k];
		if (start_plain[k] < start_plain[0])
			start_plain[0] = start_plain[k];
	}
	printf("| map: rebuild from the log (logd start with the map on a log of %" PRIu64
	       " %zu/%zu-byte %s certificate entries built without it: seq_start's map_catch_up, "
	       "read + mapkeys_leaf + store_map_catch_up, 65,536 per durable commit) | %.0f "
	       "entries/s (%.1f s, %.1f s CPU, %" PRIu64 " keys) | mapkeys_leaf + map_update "
	       "on map_mem, same leaves: %.0f entries/s; building the log itself (no_sync): "
	       "%.0f entries/s | %.2f |\n",
	       n, tmpls[0].len, tmpls[1].len, p256 ? "P-256" : "RSA", (double)n / catch_s,
	       catch_s, catch_cpu, num_map_keys, (double)n / mem_s,
	       (double)n / build_s, mem_s / catch_s);
	printf("| map: logd start (store_open + seq_start, warm cache, best of 3) with the map, "
	       "nothing to catch up, %" PRIu64 " entries | %.2f ms | without the map, same log: "
	       "%.2f ms | %.2f |\n", n, start_map[0], start_plain[0],
	       start_map[0] / start_plain[0]);
	printf("| map: map storage at %" PRIu64 " entries, %" PRIu64 " keys, %" PRIu64
	       " items in map_items2 (LMDB pages of map_tiles2 + map_items2; lists of <= 4 items "
	       "inline in the tiles) | %.0f B per key, %.0f "
	       "B per entry (tiles %.0f, data %.0f, items %.0f per entry) | whole store %.0f B "
	       "per entry | %.2f of the store |\n",
	       n, num_map_keys, ss.map_items_records,
	       (double)(ss.map_tiles_bytes + ss.map_data_bytes + ss.map_items_bytes) /
		       (double)num_map_keys,
	       (double)(ss.map_tiles_bytes + ss.map_data_bytes + ss.map_items_bytes) / (double)n,
	       (double)ss.map_tiles_bytes / (double)n, (double)ss.map_data_bytes / (double)n,
	       (double)ss.map_items_bytes / (double)n, (double)ss.used_bytes / (double)n,
	       (double)(ss.map_tiles_bytes + ss.map_data_bytes + ss.map_items_bytes) /
		       (double)ss.used_bytes);
	fflush(stdout);

	/* cold start: the store's pages dropped from the page cache first */
	{
		double cold_map[3], cold_plain[3];
		struct pstat pp, pa;
		for (int k = 0; k < 3; k++) {
			for (int mp = 1; mp >= 0; mp--) {
				so.map = mp;
				qo.map = mp;
				evict(dir);
				t0 = mn_mono_ns();
				if (store_open(&st, &so) != 0 || seq_start(&q, st, signer, &qo) != 0)
					load_die("reopen failed");
				(mp ? cold_map : cold_plain)[k] = load_secs_since(t0) * 1e3;
				seq_stop(q);
				store_close(st);
			}
		}
		printf("| map: logd start (store_open + seq_start, COLD page cache: the store's "
		       "files evicted with posix_fadvise first, 3 runs) with the map, nothing to "
		       "catch up, %" PRIu64 " entries | %.1f, %.1f, %.1f ms | without the map: "
		       "%.1f, %.1f, %.1f ms | |\n", n, cold_map[0], cold_map[1], cold_map[2],
		       cold_plain[0], cold_plain[1], cold_plain[2]);
		so.map = 1;
		if (store_open(&st, &so) != 0)
			load_die("reopen failed");
		store_proofs(st, &g, n, &pp, &pa);
		store_close(st);
		printf("| map: MapProof bytes of one key from the store (store_r_map_prove, "
		       "%" PRIu64 " keys, %" PRIu64 " entries): present (mean, max of 1,000 map "
		       "keys of random leaves) / absent (mean, max of 1,000) | %.0f (max %.0f) / "
		       "%.0f (max %.0f) B; %.1f / %.1f us each, the tiles mostly on disk (the "
		       "cold runs evicted them) | aim: 1024 B at 10^7 keys | %.2f |\n",
		       num_map_keys, n, pp.mean, pp.max, pa.mean, pa.max, pp.us, pa.us,
		       pp.mean / 1024.0);
		fflush(stdout);
	}
	if (getenv("BENCH_MAP_KEEP") == NULL)
		load_rm_tree(dir);
	gen_cleanup(&g);
	free(gl);
	free(ls);
}


/* --- 4. sequenced durable appends, with and without the map ----------------- */

/* bench_store's "sequenced durable appends" harness with bench_map's leaves:
 * NUM_SUBMITTERS threads keep SEQ_IN_FLIGHT submissions queued in the real
 * sequencer (seq_start/seq_submit: the leaf encoded, its SCT signed and hashed
 * and, with the map, its map keys computed by mapkeys_leaf on the submitting
 * thread; one sequencer thread commits each batch durably). Each submission
 * is a ~1 KB certificate (the templates above, patched per submission) with
 * its lookup-index keys (computed by the submitter, as the API's threads do),
 * 64 bytes of extra data and a dedup key spread like SHA-256. The same
 * harness, store options and leaves with opt.map off and on, each from an
 * empty store, alternating, a warm-up second then a SEQ_SECONDS window. */
#define NUM_SUBMITTERS SEQLOAD_THREADS
#define SEQ_IN_FLIGHT SEQLOAD_IN_FLIGHT

/* a submission's own memory (seqload_options.slot_len) */
struct mapslot {
	struct store_index_key keys[MAX_NAMES + 1];
	uint8_t body[LEAF_MAX];
	uint8_t extra[EXTRA_LEN];
	uint8_t ikeys[MAX_NAMES][NAMES_MAX_KEY_LEN];
	uint8_t thumb[32];
};

static struct merkle_hasher *hashers[NUM_SUBMITTERS]; /* one per submitting thread */
static struct seq *the_seq;
static uint64_t seq_domains;

/* fill makes submission |id|: a certificate for domain mix(id) % seq_domains,
 * its index keys and its dedup key. */
static void fill(struct api_submission *sub, struct mapslot *b, struct merkle_hasher *h,
		 uint64_t id)
{
	static const char *const pre[MAX_NAMES] = {"", "www.", "mail."};
	const struct tmpl *t = &tmpls[mix(id ^ 0x55) & 1];
	uint64_t dom = mix(id) % seq_domains % 10000000u;
	char digits[24], name[64];
	uint64_t z = mix(id ^ 0xdedd0000ull);

	memcpy(b->body, t->der, t->len);
	snprintf(digits, sizeof(digits), "%0*" PRIu64, DIGITS, dom);
	for (size_t k = 0; k < t->num_names; k++)
		memcpy(b->body + t->name_off[k], digits, DIGITS);
	mn_put_be64(b->body + t->serial_off, (SERIAL & 0xff00000000000000ull) | id);
	sub->entry.entry_type = CT_X509_ENTRY;
	sub->entry.body = b->body;
	sub->entry.body_len = t->len;
	for (size_t k = 0; k < t->num_dns; k++) {
		int n = snprintf(name, sizeof(name), "%sd%s-bench-online-shop.com", pre[k],
				 digits);
		int kl = names_dns_key(b->ikeys[k], NAMES_MAX_KEY_LEN, name, (size_t)n,
				       NAMES_CLASS_TLS);
		if (kl <= 0)
			load_die("cannot make an index key");
		b->keys[k].index = STORE_IDX_DNS;
		b->keys[k].key_len = (uint8_t)kl;
		b->keys[k].key = b->ikeys[k];
	}
	merkle_sha256(h, b->thumb, b->body, t->len);
	b->keys[t->num_dns].index = STORE_IDX_CERT;
	b->keys[t->num_dns].key_len = 32;
	b->keys[t->num_dns].key = b->thumb;
	sub->keys = b->keys;
	sub->num_keys = t->num_dns + 1;
	memcpy(sub->dedup_key, &z, 8);
	memcpy(sub->dedup_key + 8, &id, 8);
	memcpy(sub->dedup_key + 16, b->thumb, 16);
	memset(b->extra, 0x33, sizeof(b->extra));
	sub->extra = b->extra;
	sub->extra_len = sizeof(b->extra);
}

/* fill_slot: seqload's fill hook, ids as before: submitter << 40 | counter. */
static void fill_slot(void *ctx, int thread, uint64_t seqno, struct api_submission *s,
		      uint8_t *slot)
{
	(void)ctx;
	fill(s, (struct mapslot *)slot, hashers[thread], (uint64_t)thread << 40 | seqno);
}


struct srun {
	double rate, batch, cpu_us, cpu_us_sub, wbytes, bytes_per_entry, map_per_entry;
	uint64_t tree_size, map_keys;
};

static struct srun seq_run(int mapped, unsigned seconds)
{
	char dir[700];
	struct store_options so = {0};
	struct seq_options qo = {0};
	struct store *st;
	struct store_stats ss;
	uint64_t total, failed;
	struct seq_window win;
	struct srun r;
	struct seqload *ld;
	struct seqload_options lo = {.fill = fill_slot, .slot_len = sizeof(struct mapslot)};

	memset(&r, 0, sizeof(r));
	snprintf(dir, sizeof(dir), "%s/seq-%s", base, mapped ? "map" : "plain");
	load_rm_tree(dir);
	so.dir = dir;
	so.map = mapped;
	qo.map = mapped;
	if (store_open(&st, &so) != 0 || seq_start(&the_seq, st, signer, &qo) != 0)
		load_die("sequencer setup failed");
	for (int i = 0; i < NUM_SUBMITTERS; i++)
		if ((hashers[i] = merkle_hasher_new()) == NULL)
			load_die("out of memory");
	lo.seq = seq_api(the_seq);
	ld = seqload_start(&lo);
	bench_seq_window(the_seq, ld, seconds, &win);
	seqload_stop(ld);
	seq_stop(the_seq); /* commits and answers what is still queued */
	store_get_stats(st, &ss);
	if (mapped) {
		struct store_reader *rd;
		uint64_t cov;
		uint8_t mr[32];
		if (store_read_begin(st, &rd) != 0 ||
		    store_r_map(rd, &cov, &r.map_keys, mr) != 0 || cov + 1 < ss.tree_size) {
			fprintf(stderr, "bench_map: map covers %" PRIu64 " of %" PRIu64 "\n", cov,
				ss.tree_size);
			load_die("the map does not cover the tree");
		}
		store_read_end(rd);
	}
	store_close(st);
	total = seqload_completed(ld, &failed);
	seqload_free(ld);
	for (int i = 0; i < NUM_SUBMITTERS; i++) {
		merkle_hasher_free(hashers[i]);
		hashers[i] = NULL;
	}
	/* every counted completion is a leaf of the tree; with the map the tree
	 * also holds a map-root leaf per batch (and leaf 0) */
	if (failed != 0 || win.appends == 0 || (!mapped && total != ss.tree_size) ||
	    (mapped && (total >= ss.tree_size || ss.tree_size - total < win.batches + 1)))
		load_die("sequenced run: failures, or completions do not match the tree");
	r.rate = (double)win.appends / ((double)win.ns / 1e9);
	r.batch = win.batches > 0 ? (double)win.appends / (double)win.batches : 0;
	r.cpu_us = (double)win.proc_cpu_ns / 1e3 / (double)win.appends;
	r.cpu_us_sub = (double)win.submit_cpu_ns / 1e3 / (double)win.appends;
	r.wbytes = (double)win.wbytes / (double)win.appends;
	r.bytes_per_entry = (double)ss.used_bytes / (double)ss.tree_size;
	r.map_per_entry = (double)(ss.map_tiles_bytes + ss.map_data_bytes + ss.map_items_bytes) /
			  (double)ss.tree_size;
	r.tree_size = ss.tree_size;
	fprintf(stderr, "bench_map: sequenced, map %s: %.0f /s, batch %.0f, CPU %.1f us (%.1f "
		"submitters), %.0f B written per append, tree %" PRIu64 ", %" PRIu64 " map keys\n",
		mapped ? "on" : "off", r.rate, r.batch, r.cpu_us, r.cpu_us_sub, r.wbytes,
		r.tree_size, r.map_keys);
	load_rm_tree(dir);
	return r;
}

static void bench_sequenced(unsigned rounds, unsigned seconds, uint64_t domains)
{
	struct srun pl[8], mp[8];
	double rr = 0, rc = 0;
	char a[1024] = "", b[1024] = "", c[256] = "";
	size_t la = 0, lb = 0, lc = 0;

	if (rounds > 8)
		rounds = 8;
	seq_domains = domains;
	for (unsigned k = 0; k < rounds; k++) {
		pl[k] = seq_run(0, seconds);
		mp[k] = seq_run(1, seconds);
	}
	for (unsigned k = 0; k < rounds; k++) {
		la += (size_t)snprintf(a + la, sizeof(a) - la,
				       "%s%.0f /s (batch %.0f; CPU %.1f us, submitters %.1f; %.0f B "
				       "written; tree %" PRIu64 ", %" PRIu64 " keys, map %.0f B per "
				       "entry)", k ? "; " : "", mp[k].rate, mp[k].batch,
				       mp[k].cpu_us, mp[k].cpu_us_sub, mp[k].wbytes,
				       mp[k].tree_size, mp[k].map_keys, mp[k].map_per_entry);
		lb += (size_t)snprintf(b + lb, sizeof(b) - lb,
				       "%s%.0f /s (batch %.0f; CPU %.1f us, submitters %.1f; %.0f B "
				       "written; tree %" PRIu64 ")", k ? "; " : "", pl[k].rate,
				       pl[k].batch, pl[k].cpu_us, pl[k].cpu_us_sub, pl[k].wbytes,
				       pl[k].tree_size);
		lc += (size_t)snprintf(c + lc, sizeof(c) - lc, "%s%.2f (CPU %.2f)", k ? ", " : "",
				       mp[k].rate / pl[k].rate, pl[k].cpu_us / mp[k].cpu_us);
		rr += mp[k].rate / pl[k].rate / rounds;
		rc += pl[k].cpu_us / mp[k].cpu_us / rounds;
	}
	printf("| map: SEQUENCED durable appends with the map (seq_start/seq_submit, opt.map "
	       "on; %d submitting threads, %d in flight; %zu/%zu-byte %s certificates with "
	       "their index keys, 2-5 map keys each, %" PRIu64 " domains; %u s window after 1 s, "
	       "from empty, %u alternating rounds) | %s | the same without the map (opt.map "
	       "off): %s | %s; mean %.2f (CPU %.2f) |\n",
	       NUM_SUBMITTERS, SEQ_IN_FLIGHT, tmpls[0].len, tmpls[1].len, p256 ? "P-256" : "RSA",
	       domains, seconds, rounds, a, b, c, rr, rc);
	fflush(stdout);
}

static unsigned env_u(const char *name, unsigned dflt)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? (unsigned)strtoul(v, NULL, 10) : dflt;
}

int main(int argc, char **argv)
{
	const char *build = argc > 1 ? argv[1] : "build";
	uint64_t mem_keys = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
	uint64_t rebuild = argc > 3 ? strtoull(argv[3], NULL, 10) : 200000;
	uint64_t appends = argc > 4 ? strtoull(argv[4], NULL, 10) : 60000;
	/* "sequenced", "appends", "proofs", "rebuild"; BENCH_MAP_ROUNDS and
	 * BENCH_MAP_SECONDS (default 2 and 8) for "sequenced" */
	const char *only = getenv("BENCH_MAP_ONLY");
	char key[700];

	load_init("bench_map", 0);
	p256 = getenv("BENCH_MAP_P256") != NULL && strcmp(getenv("BENCH_MAP_P256"), "0") != 0;
	snprintf(base, sizeof(base), "%s/bench-map", build);
	load_rm_tree(base);
	if (mkdir(base, 0700) != 0)
		load_die("cannot create BUILD/bench-map");
	snprintf(key, sizeof(key), "%s/key.pem", base);
	if (logd_key_load(&signer, key, 1) != 0)
		load_die("cannot make the log key");
	base_ms = mn_now_ms() - 100000000ull;
	memset(sct, 0x5c, sizeof(sct));
	templates();
	if (only == NULL || strcmp(only, "sequenced") == 0)
		bench_sequenced(env_u("BENCH_MAP_ROUNDS", 2), env_u("BENCH_MAP_SECONDS", 8), 150000);
	if (only == NULL || strcmp(only, "appends") == 0)
		bench_appends(appends);
	if (only == NULL || strcmp(only, "proofs") == 0)
		bench_proofs(mem_keys);
	if (only == NULL || strcmp(only, "rebuild") == 0)
		bench_rebuild(rebuild);
	ct_signer_free(signer);
	if (getenv("BENCH_MAP_KEEP") == NULL)
		load_rm_tree(base);
	return 0;
}
