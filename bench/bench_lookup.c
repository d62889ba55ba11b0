/* bench_lookup: /mn/v1/lookup on a log of 10^6 entries, next to
 * get-proof-by-hash on the same log in the same run (issue 6).
 *
 *   bench_lookup [BUILD]     BUILD holds logd (default build)
 *
 *  1. Build a log of NUM_LEAVES entries directly with storage, in batches of
 *     BATCH, with store_options.no_sync (a benchmark fixture, not the durable
 *     path: bench_store measures that). Each leaf is a MerkleTreeLeaf of type
 *     x509_entry with a ~300-byte synthetic body (not a certificate: lookup only
 *     parses the MerkleTreeLeaf), empty extra_data, one SCT signed once and
 *     reused, and one DNS index key (class tls): leaf i names
 *     "d<i % NUM_DOMAINS>.example.com", so each of the NUM_DOMAINS domains has
 *     exactly NUM_LEAVES / NUM_DOMAINS matches spread over the whole log. Every
 *     STH is signed with the key logd is then given, so the served STH is real.
 *  2. Start logd on 127.0.0.1:0 with that data directory and key; check a
 *     sample lookup (10 entries, the right leaves, each audit_path verified
 *     against the STH root) and a sample get-proof-by-hash.
 *  3. After 3 s warm-ups (logd maps the store's pages on first touch), wrk
 *     -t2 -c64 -d10s --latency with a Lua script choosing a random domain per
 *     request, then the same for get-proof-by-hash twice: "spread", over
 *     PROOF_LEAVES_SPREAD random leaves of the whole log, and "hot", over
 *     PROOF_LEAVES_HOT random leaves (all scripts pick a precomputed request at
 *     random, so wrk's Lua costs the same). The ratio is taken against the
 *     spread baseline: a lookup reads 10 entries spread over all 10^6, so the
 *     faithful "same run" comparison is a proof whose leaf-hash lookup and
 *     tiles are as cold as the lookup's. The hot baseline (the original one:
 *     5,000 leaves whose index entries and tile slots stay in the CPU caches)
 *     is still measured and printed next to it, so nothing is hidden. Prints
 *     req/s, p99, entries/s and both ratios, and the CPU per request of logd
 *     (from /proc, with its kernel part: mostly the writev of the answer and
 *     the loopback TCP path) and of wrk (from wait4): the machine's other load
 *     disturbs those less than the rates, and wrk and logd share the same 2
 *     cores, so the rates follow logd + wrk CPU per request. Last, get-entries
 *     of GE_ENTRIES consecutive entries, an answer of about the lookup's size
 *     read in one cursor walk without proofs: what shipping that many bytes
 *     costs logd, the kernel and wrk, whatever the lookup does to find them
 *     (a second row).
 *  5. The verifiable lookup map (issue 13): the same leaves are also appended,
 *     in the same batches, to a second log kept with the map
 *     (store_append_mapped, a map-root leaf after each batch, as logd's
 *     sequencer does). Steps 2-3 run on the first log with logd --no-map
 *     (lookups from the lookup indexes, no map section); then logd, map on,
 *     is started on the second log, a sample lookup is checked (10 entries,
 *     their audit paths, a map section with count 10), and the lookup load
 *     is run again, alternating with the first logd (MAP_ROUNDS rounds of
 *     WRK_SECONDS / 2 on each, after a warm-up): a row with the rate and CPU
 *     per request of lookups with completeness proofs against those without.
 *     The leaves are certificates (a P-256 template naming d<5 digits>.com,
 *     patched per leaf: the name and the serial) so that mapkeys_leaf files
 *     them under dns:dNNNNN.com and cert:.
 *  4. If the ratio is below 0.5 and perf is installed, profile logd under the
 *     lookup load (perf record for PERF_SECONDS) and print the top of the
 *     report on stderr.
 *
 * Data under BUILD/bench-lookup, removed at the end. Children (logd, wrk, perf)
 * are killed at the end, on failure, on SIGINT/SIGTERM and by a watchdog
 * alarm. Prints markdown rows for bench/RESULTS.md on stdout, progress on
 * stderr. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/lib/load.h"
#include "bench/lib/sth.h"
#include "common/b64.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "entry/names.h"
#include "logd/keys.h"
#include "merkle/merkle.h"
#include "storage/storage.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define NUM_LEAVES 1000000u
#define NUM_DOMAINS 100000u
#define MATCHES (NUM_LEAVES / NUM_DOMAINS)
#define BATCH 10000u
#define LEAF_MAX 1024
#define NUM_MAP_ROOTS ((NUM_LEAVES + BATCH - 1) / BATCH) /* one per batch, in log B */
#define PROOF_LEAVES_HOT 5000
#define PROOF_LEAVES_SPREAD 100000
/* get-entries of this many consecutive entries answers about as many bytes as
 * a lookup of MATCHES entries (their leaf_input and extra_data, without the
 * audit paths): the reference for what an answer of that size costs */
#define GE_ENTRIES 34
#define WRK_SECONDS 10
#define WARMUP_SECONDS 3
#define PERF_SECONDS "5"
#define WATCHDOG_SECONDS 600
#define MAP_ROUNDS 3

static const char *build = "build";
static char workdir[512];
static uint8_t (*hashes)[MERKLE_HASH_LEN]; /* every leaf hash, by index */
static uint8_t root[MERKLE_HASH_LEN];
static uint64_t base_ms;

/* The two logs: A without the map (served by logd --no-map), B with it. */
struct blog {
	uint8_t (*hashes)[MERKLE_HASH_LEN]; /* by index */
	uint8_t root[MERKLE_HASH_LEN];
	uint64_t size;
	int mapped; /* leaf i is at index i + i / BATCH (a map-root leaf per batch) */
};
static struct blog log_a, log_b;

/* The certificate template: "d00000.com" (CN and SAN) and a fixed serial,
 * patched per leaf. mapkeys does not check signatures. */
#define TMPL_SERIAL 0x5a5a5a5a5a5a5a5aull
static uint8_t tmpl_der[LEAF_MAX];
static size_t tmpl_len, tmpl_name_off[4], tmpl_num_names, tmpl_serial_off;

/* --- cleanup --- */

/* cleanup removes the work directory; an atexit handler registered before
 * load_init's, so it runs after the children are killed. */
static void cleanup(void)
{
	if (workdir[0] != '\0') {
		load_rm_tree(workdir);
		workdir[0] = '\0';
	}
}

/* --- 1. the log --- */

static void make_template(void)
{
	static const char *const dns[] = {"d00000.com"};
	struct pki_cert *ca = pki_root("Bench Lookup CA", 0), *c = NULL;
	struct pki_opts o = {0};
	uint8_t serial[8];
	const uint8_t *p;

	o.cn = "d00000.com";
	o.dns = dns;
	o.num_dns = 1;
	o.not_before = pki_now() - 86400;
	o.not_after = o.not_before + 90 * 86400;
	o.serial = TMPL_SERIAL;
	if (ca == NULL || (c = pki_issue_opts(ca, &o)) == NULL || c->der_len > LEAF_MAX - 64)
		load_die("cannot issue the template certificate");
	memcpy(tmpl_der, c->der, c->der_len);
	tmpl_len = c->der_len;
	pki_free(c);
	pki_free(ca);
	for (size_t off = 0; off < tmpl_len && tmpl_num_names < 4;) {
		p = memmem(tmpl_der + off, tmpl_len - off, "d00000", 6);
		if (p == NULL)
			break;
		tmpl_name_off[tmpl_num_names++] = (size_t)(p - tmpl_der) + 1;
		off = (size_t)(p - tmpl_der) + 6;
	}
	mn_put_be64(serial, TMPL_SERIAL);
	p = memmem(tmpl_der, tmpl_len, serial, 8);
	if (p == NULL || tmpl_num_names < 2)
		load_die("template certificate: name or serial not found");
	tmpl_serial_off = (size_t)(p - tmpl_der);
}

/* make_leaf writes the MerkleTreeLeaf of leaf |i| to |out| (LEAF_MAX bytes):
 * an x509_entry of the template certificate naming d<i % NUM_DOMAINS>.com. */
static size_t make_leaf(uint64_t i, uint8_t *out)
{
	uint8_t body[LEAF_MAX];
	char digits[16];
	struct ct_entry e;
	struct cbb b;
	size_t len;

	memcpy(body, tmpl_der, tmpl_len);
	snprintf(digits, sizeof(digits), "%05u", (unsigned)(i % NUM_DOMAINS));
	for (size_t k = 0; k < tmpl_num_names; k++)
		memcpy(body + tmpl_name_off[k], digits, 5);
	mn_put_be64(body + tmpl_serial_off, (TMPL_SERIAL & 0xff00000000000000ull) | i);
	memset(&e, 0, sizeof(e));
	e.timestamp = base_ms + i;
	e.entry_type = CT_X509_ENTRY;
	e.body = body;
	e.body_len = tmpl_len;
	if (!cbb_init(&b, LEAF_MAX, LEAF_MAX) || !ct_write_leaf(&b, &e) ||
	    (len = cbb_len(&b)) == 0) {
		cbb_cleanup(&b);
		load_die("cannot encode a leaf");
	}
	memcpy(out, cbb_data(&b), len);
	cbb_cleanup(&b);
	return len;
}

static int domain_key(uint8_t *out, size_t cap, uint64_t i)
{
	char name[64];
	int n = snprintf(name, sizeof(name), "d%05u.com", (unsigned)(i % NUM_DOMAINS));
	return names_dns_key(out, cap, name, (size_t)n, NAMES_CLASS_TLS);
}

/* The map-root leaf and the STH of a mapped batch, as logd/sequencer.c makes
 * them (store_map_commit's hooks). */
struct hook_ctx {
	struct merkle_hasher *h;
	const struct ct_signer *signer;
	uint64_t ts;
	uint8_t leaf[256];
};

static int map_leaf_hook(void *ctx, uint64_t covered, uint64_t num_keys,
			 const uint8_t map_root[MERKLE_HASH_LEN], struct store_leaf *out)
{
	struct hook_ctx *c = ctx;
	struct mapkeys_root mr;

	mr.covered = covered;
	mr.num_keys = num_keys;
	memcpy(mr.root, map_root, MERKLE_HASH_LEN);
	mapkeys_root_leaf(c->leaf, c->ts, &mr);
	out->leaf_input = c->leaf;
	out->leaf_input_len = MAPKEYS_ROOT_LEAF_LEN;
	merkle_leaf_hash(c->h, out->leaf_hash, c->leaf, out->leaf_input_len);
	mapkeys_root_dedup(c->h, out->dedup_key, out->leaf_hash);
	memcpy(log_b.hashes[covered], out->leaf_hash, MERKLE_HASH_LEN);
	return 0;
}

static int map_sign_hook(void *ctx, uint64_t tree_size, const uint8_t r[MERKLE_HASH_LEN],
			 struct store_sth *out)
{
	struct hook_ctx *c = ctx;

	memset(out, 0, sizeof(*out));
	out->tree_size = tree_size;
	out->timestamp = c->ts;
	memcpy(out->root, r, MERKLE_HASH_LEN);
	bench_sign_sth(c->signer, out);
	return 0;
}

/* build_logs writes log A into |dir| and log B (with the map) into |dir_map|,
 * the same leaves in the same batches, and fills log_a and log_b. */
static void build_logs(const char *dir, const char *dir_map, const struct ct_signer *signer)
{
	struct store_options so = {0};
	struct store *st, *stm;
	struct merkle_hasher *h = merkle_hasher_new();
	struct merkle_range r;
	struct store_leaf *ls = calloc(BATCH, sizeof(*ls));
	struct store_index_key *keys = calloc(BATCH, sizeof(*keys));
	uint8_t (*leafbuf)[LEAF_MAX] = malloc((size_t)BATCH * LEAF_MAX);
	uint8_t (*keybuf)[NAMES_MAX_KEY_LEN] = malloc((size_t)BATCH * NAMES_MAX_KEY_LEN);
	uint8_t (*mk)[2][MAP_KEY_LEN] = malloc((size_t)BATCH * sizeof(*mk));
	uint8_t (*kbuf)[MAP_KEY_LEN] = malloc(MAPKEYS_MAX * MAP_KEY_LEN);
	uint8_t sctbuf[256];
	size_t sct_len;
	uint64_t t0 = mn_mono_ns(), t_map = 0;

	log_a.hashes = malloc((size_t)NUM_LEAVES * MERKLE_HASH_LEN);
	log_b.hashes = malloc((size_t)(NUM_LEAVES + NUM_MAP_ROOTS) * MERKLE_HASH_LEN);
	log_b.mapped = 1;
	if (h == NULL || ls == NULL || keys == NULL || leafbuf == NULL || keybuf == NULL ||
	    mk == NULL || kbuf == NULL || log_a.hashes == NULL || log_b.hashes == NULL)
		load_die("out of memory");
	/* one SCT for every leaf: lookup serves it in extra only if asked, never
	 * parses it */
	{
		uint8_t body[64];
		struct ct_entry e = {.timestamp = base_ms, .entry_type = CT_X509_ENTRY,
				     .body = body, .body_len = sizeof(body)};
		struct ct_sct sct;
		struct cbb b;
		memset(body, 0x42, sizeof(body));
		if (ct_sign_sct(signer, &sct, &e) != 0 || !cbb_init(&b, 256, sizeof(sctbuf)) ||
		    !ct_write_sct(&b, &sct) || (sct_len = cbb_len(&b)) == 0)
			load_die("cannot sign the SCT");
		memcpy(sctbuf, cbb_data(&b), sct_len);
		cbb_cleanup(&b);
	}
	so.dir = dir;
	so.no_sync = 1; /* a fixture: the durable path is bench_store's */
	so.map_size = 4ull << 30;
	if (store_open(&st, &so) != 0)
		load_die("cannot open the store");
	so.dir = dir_map;
	so.map = 1;
	if (store_open(&stm, &so) != 0)
		load_die("cannot open the store with the map");
	merkle_range_init(&r);
	for (uint64_t i = 0; i < NUM_LEAVES;) {
		struct store_sth sth = {0}, out_sth;
		struct hook_ctx hc = {h, signer, base_ms + NUM_LEAVES, {0}};
		struct store_map_commit mc = {map_leaf_hook, map_sign_hook, &hc};
		size_t k;
		uint64_t tm;
		for (k = 0; k < BATCH && i < NUM_LEAVES; k++, i++) {
			struct store_leaf *l = &ls[k];
			int kl = domain_key(keybuf[k], NAMES_MAX_KEY_LEN, i);
			size_t nk = 0;
			int cut = 0;
			if (kl <= 0)
				load_die("cannot make an index key");
			memset(l, 0, sizeof(*l));
			l->leaf_input = leafbuf[k];
			l->leaf_input_len = make_leaf(i, leafbuf[k]);
			l->extra = leafbuf[k];
			l->extra_len = 0;
			l->sct = sctbuf;
			l->sct_len = sct_len;
			merkle_leaf_hash(h, l->leaf_hash, l->leaf_input, l->leaf_input_len);
			memcpy(log_a.hashes[i], l->leaf_hash, MERKLE_HASH_LEN);
			memcpy(log_b.hashes[log_b.size + k], l->leaf_hash, MERKLE_HASH_LEN);
			/* a distinct dedup key: the leaf hash, tagged */
			memcpy(l->dedup_key, l->leaf_hash, 32);
			l->dedup_key[0] ^= 0xa5;
			keys[k].index = STORE_IDX_DNS;
			keys[k].key_len = (uint8_t)kl;
			keys[k].key = keybuf[k];
			l->keys = &keys[k];
			l->num_keys = 1;
			/* dns:dNNNNN.com and cert:: what the sequencer files */
			if (mapkeys_leaf(h, l->leaf_input, l->leaf_input_len, kbuf, &nk, &cut) != 0 ||
			    nk != 2)
				load_die("mapkeys_leaf: not the 2 keys expected");
			memcpy(mk[k], kbuf, sizeof(mk[k]));
			l->map_keys = (const uint8_t(*)[32])mk[k];
			l->num_map_keys = nk;
			if (merkle_range_append(&r, h, l->leaf_hash, NULL, NULL) != 0)
				load_die("merkle_range_append failed");
		}
		sth.tree_size = r.size;
		sth.timestamp = base_ms + NUM_LEAVES;
		merkle_range_root(&r, h, sth.root);
		bench_sign_sth(signer, &sth);
		int ret = store_append_batch(st, ls, k, &sth);
		if (ret != 0) {
			fprintf(stderr, "bench_lookup: append at %llu: %s\n",
				(unsigned long long)i, mn_strerror(ret));
			load_die("store_append_batch failed");
		}
		tm = mn_mono_ns();
		ret = store_append_mapped(stm, ls, k, &mc, &out_sth);
		t_map += mn_mono_ns() - tm;
		if (ret != 0) {
			fprintf(stderr, "bench_lookup: mapped append at %llu: %s\n",
				(unsigned long long)i, mn_strerror(ret));
			load_die("store_append_mapped failed");
		}
		log_b.size = out_sth.tree_size;
		memcpy(log_b.root, out_sth.root, MERKLE_HASH_LEN);
	}
	merkle_range_root(&r, h, log_a.root);
	log_a.size = r.size;
	hashes = log_a.hashes;
	memcpy(root, log_a.root, MERKLE_HASH_LEN);
	{
		struct store_stats ss, ssm;
		store_get_stats(st, &ss);
		store_get_stats(stm, &ssm);
		fprintf(stderr, "bench_lookup: built %u entries twice in %.1f s (no_sync; the "
			"mapped log %.1f s), %.0f MB used, with the map %.0f MB\n", NUM_LEAVES,
			load_secs_since(t0), (double)t_map / 1e9, (double)ss.used_bytes / 1e6,
			(double)ssm.used_bytes / 1e6);
	}
	store_close(st);
	store_close(stm);
	merkle_hasher_free(h);
	free(ls);
	free(keys);
	free(leafbuf);
	free(keybuf);
	free(mk);
	free(kbuf);
}

/* --- wrk --- */

/* wrk_start starts wrk -t2 -c64 -d|seconds|s with the Lua |script| on |url|,
 * |server|'s CPU counted from now (load_wrk_start). */
static void wrk_start(struct load_wrk_job *job, const char *url, const char *script,
		      int seconds, pid_t server)
{
	fprintf(stderr, "bench_lookup: wrk %s -s %s\n", url, script);
	load_wrk_start(job, url, script, 2, 64, seconds, server);
}

static int run_wrk(const char *url, const char *script, int seconds, pid_t server,
		   struct load_wrk *r)
{
	struct load_wrk_job job;

	wrk_start(&job, url, script, seconds, server);
	return load_wrk_finish(&job, r);
}

static void write_lookup_script(const char *path)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		load_die("cannot write a wrk script");
	fprintf(f, "reqs = {}\n"
		   "init = function(args)\n"
		   "  math.randomseed(seed or 1)\n"
		   "  for d = 0, %u do\n"
		   "    reqs[d + 1] = wrk.format(\"GET\", \"/mn/v1/lookup?domain=\" .. "
		   "string.format(\"d%%05d.com\", d))\n"
		   "  end\n"
		   "end\n%s",
		NUM_DOMAINS - 1, load_lua_random_request);
	if (fclose(f) != 0)
		load_die("cannot write a wrk script");
}

static uint64_t rnd(uint64_t *state)
{
	/* xorshift64 */
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* write_proof_script: get-proof-by-hash of |num| leaves drawn at random
 * (xorshift seeded with |seed|) from the whole log. */
static void write_proof_script(const char *path, int num, uint64_t seed)
{
	FILE *f = fopen(path, "w");
	uint64_t st = seed;
	char enc[3 * 48 + 1];
	if (f == NULL)
		load_die("cannot write a wrk script");
	fputs("local paths = {\n", f);
	for (int i = 0; i < num; i++) {
		load_b64_urlenc(enc, hashes[rnd(&st) % NUM_LEAVES], MERKLE_HASH_LEN);
		fprintf(f, "\"/ct/v1/get-proof-by-hash?hash=%s&tree_size=%u\",\n", enc,
			NUM_LEAVES);
	}
	fprintf(f, "}\n%s%s", load_lua_paths_init, load_lua_random_request);
	if (fclose(f) != 0)
		load_die("cannot write a wrk script");
}

static void write_entries_script(const char *path)
{
	FILE *f = fopen(path, "w");
	uint64_t st = 0x853c49e6748fea9bull;
	if (f == NULL)
		load_die("cannot write a wrk script");
	fputs("local starts = {", f);
	for (unsigned i = 0; i < NUM_DOMAINS; i++)
		fprintf(f, "%llu,", (unsigned long long)(rnd(&st) % (NUM_LEAVES - GE_ENTRIES)));
	fprintf(f, "}\n"
		   "reqs = {}\n"
		   "init = function(args)\n"
		   "  math.randomseed(seed or 1)\n"
		   "  for k, s in ipairs(starts) do\n"
		   "    reqs[k] = wrk.format(\"GET\", \"/ct/v1/get-entries?start=\" .. s .. "
		   "\"&end=\" .. (s + %d))\n"
		   "  end\n"
		   "end\n%s",
		GE_ENTRIES - 1, load_lua_random_request);
	if (fclose(f) != 0)
		load_die("cannot write a wrk script");
}

/* --- 2. sample answers --- */

/* check_path parses the JSON array after "audit_path":[ at |p| and verifies it
 * as the inclusion proof of leaf |index|. Returns 1 or 0. */
static int check_path(struct merkle_hasher *h, const struct blog *lg, const char *p,
		      uint64_t index)
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t num = 0;

	p = strstr(p, "\"audit_path\":[");
	if (p == NULL)
		return 0;
	p += 14;
	while (*p == '"' && num < MERKLE_MAX_PROOF) {
		const char *e = strchr(p + 1, '"');
		uint8_t *d;
		size_t dl;
		if (e == NULL || mn_b64_decode(&d, &dl, p + 1, (size_t)(e - p - 1), 64) != 0)
			return 0;
		if (dl != MERKLE_HASH_LEN) {
			free(d);
			return 0;
		}
		memcpy(proof[num++], d, MERKLE_HASH_LEN);
		free(d);
		p = e + 1;
		if (*p == ',')
			p++;
	}
	return *p == ']' && index < lg->size &&
	       merkle_verify_inclusion(h, lg->hashes[index], index, lg->size,
				       (const uint8_t(*)[MERKLE_HASH_LEN])proof, num, lg->root);
}

/* check_samples checks a lookup (and, on log A, get-entries and
 * get-proof-by-hash) against |lg|; returns the lookup answer's size. */
static size_t check_samples(uint16_t port, const struct blog *lg)
{
	struct merkle_hasher *h = merkle_hasher_new();
	struct http_resp r;
	const unsigned d = 12345;
	char target[256];
	size_t found = 0;

	size_t lookup_bytes;
	char *map_sec;

	snprintf(target, sizeof(target), "/mn/v1/lookup?domain=d%05u.com", d);
	if (h == NULL || http_do(port, "GET", target, NULL, NULL, 0, &r) != 0)
		load_die("sample lookup: no answer");
	if (r.status != 200) {
		fprintf(stderr, "bench_lookup: lookup answered %d: %.300s\n", r.status,
			(char *)r.body);
		load_die("sample lookup failed");
	}
	char *sth = strstr((char *)r.body, "\"tree_size\":");
	if (sth == NULL || strtoull(sth + 12, NULL, 10) != lg->size)
		load_die("sample lookup: the STH is not of the built tree");
	/* the map section (after the entries) has leaf indexes of its own */
	map_sec = strstr((char *)r.body, ",\"map\":{");
	if ((map_sec != NULL) != lg->mapped)
		load_die(lg->mapped ? "sample lookup: no map section" :
				      "sample lookup: a map section from logd --no-map");
	if (map_sec != NULL) {
		char *count = strstr(map_sec, "\"count\":");
		if (count == NULL || strtoull(count + 8, NULL, 10) != MATCHES)
			load_die("sample lookup: the map's list does not have 10 items");
		*map_sec = '\0';
	}
	for (char *p = (char *)r.body; (p = strstr(p, "\"leaf_index\":")) != NULL; found++) {
		uint64_t idx = strtoull(p + 13, NULL, 10), i = d + found * NUM_DOMAINS;
		if (found >= MATCHES || idx != (lg->mapped ? i + i / BATCH : i))
			load_die("sample lookup: unexpected leaf index");
		if (!check_path(h, lg, p, idx))
			load_die("sample lookup: an audit_path does not verify");
		p++;
	}
	if (found != MATCHES)
		load_die("sample lookup: not 10 entries");
	fprintf(stderr, "bench_lookup: sample lookup%s: %zu entries, %zu bytes, all proofs "
		"verify\n", lg->mapped ? " with the map" : "", found, r.body_len);
	lookup_bytes = r.body_len;
	http_resp_free(&r);
	if (lg->mapped) {
		merkle_hasher_free(h);
		return lookup_bytes;
	}

	snprintf(target, sizeof(target), "/ct/v1/get-entries?start=0&end=%d", GE_ENTRIES - 1);
	if (http_do(port, "GET", target, NULL, NULL, 0, &r) != 0 || r.status != 200)
		load_die("sample get-entries failed");
	fprintf(stderr, "bench_lookup: sample get-entries: %d entries, %zu bytes\n", GE_ENTRIES,
		r.body_len);
	http_resp_free(&r);

	/* get-proof-by-hash for leaf 777777 */
	{
		char enc[3 * 48 + 1];
		load_b64_urlenc(enc, hashes[777777], MERKLE_HASH_LEN);
		snprintf(target, sizeof(target), "/ct/v1/get-proof-by-hash?hash=%s&tree_size=%u",
			 enc, NUM_LEAVES);
		if (http_do(port, "GET", target, NULL, NULL, 0, &r) != 0 || r.status != 200)
			load_die("sample get-proof-by-hash failed");
		char *li = strstr((char *)r.body, "\"leaf_index\":");
		if (li == NULL || strtoull(li + 13, NULL, 10) != 777777 ||
		    !check_path(h, lg, (char *)r.body, 777777))
			load_die("sample get-proof-by-hash: wrong leaf or proof");
		http_resp_free(&r);
	}
	merkle_hasher_free(h);
	return lookup_bytes;
}

/* --- 4. profile --- */

static void show_report(const char *data, const char *what, char *const *extra)
{
	char *argv[24];
	int n = 0, fd;
	argv[n++] = "/usr/bin/perf";
	argv[n++] = "report";
	argv[n++] = "--stdio";
	argv[n++] = "-i";
	argv[n++] = (char *)data;
	while (*extra != NULL && n < 22)
		argv[n++] = *extra++;
	argv[n] = NULL;
	pid_t pid = load_spawn(argv, &fd, 0);
	char *out = load_read_all(fd, 1 << 20);
	load_wait(pid);
	fprintf(stderr, "bench_lookup: perf report (%s):\n", what);
	int lines = 0;
	for (char *p = out, *e; *p != '\0' && lines < 45; p = e + 1) {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		if (*p != '#' && e > p) {
			fprintf(stderr, "  %.*s\n", (int)(e - p), p);
			lines++;
		}
		if (*e == '\0')
			break;
	}
	free(out);
}

static void profile(const char *url, const char *script, pid_t server)
{
	char data[700], pidstr[32];
	int pfd;
	struct load_wrk_job job;
	struct load_wrk w;

	if (access("/usr/bin/perf", X_OK) != 0) {
		fprintf(stderr, "bench_lookup: no /usr/bin/perf, no profile\n");
		return;
	}
	snprintf(data, sizeof(data), "%s/perf.data", workdir);
	snprintf(pidstr, sizeof(pidstr), "%d", (int)server);
	wrk_start(&job, url, script, WRK_SECONDS, server);
	sleep(2);
	char *pargv[] = {"/usr/bin/perf", "record", "-q", "-F", "999", "--call-graph", "dwarf",
			 "-o", data, "-p", pidstr, "--", "sleep", PERF_SECONDS, NULL};
	pid_t pp = load_spawn(pargv, &pfd, 1);
	free(load_read_all(pfd, 0));
	if (load_wait(pp) != 0)
		fprintf(stderr, "bench_lookup: perf record failed\n");
	if (load_wrk_finish(&job, &w) == 0)
		fprintf(stderr, "bench_lookup: under perf: %.0f req/s\n", w.rps);
	char *self[] = {"--no-children", "-g", "none", "--percent-limit", "1", NULL};
	show_report(data, "self time", self);
	char *incl[] = {"--children", "-g", "none", "--percent-limit", "3", NULL};
	show_report(data, "inclusive time", incl);
}

/* --- main --- */

int main(int argc, char **argv)
{
	char data[600], data_map[600], key[600], url[128];
	uint64_t t_all = mn_mono_ns();
	struct ct_signer *signer;
	struct logd_proc lp;
	struct load_wrk wl;

	if (argc > 1)
		build = argv[1];
	atexit(cleanup);
	load_init("bench_lookup", WATCHDOG_SECONDS);

	snprintf(workdir, sizeof(workdir), "%s/bench-lookup", build);
	load_rm_tree(workdir); /* a previous run's */
	if (mkdir(workdir, 0700) != 0) {
		workdir[0] = '\0';
		load_die("cannot create BUILD/bench-lookup");
	}
	snprintf(data, sizeof(data), "%s/data", workdir);
	snprintf(data_map, sizeof(data_map), "%s/data-map", workdir);
	snprintf(key, sizeof(key), "%s/key.pem", workdir);
	if (logd_key_load(&signer, key, 1) != 0)
		load_die("cannot make the log key");
	base_ms = mn_now_ms() - 2 * (uint64_t)NUM_LEAVES;
	make_template();
	build_logs(data, data_map, signer);
	ct_signer_free(signer);

	const char *largs[] = {"--data", data, "--key", key, "--no-map", NULL};
	load_logd_run(&lp, build, largs);
	size_t bytes_nomap = check_samples(lp.port, &log_a);

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", lp.port);
	char lookup_lua[700], hot_lua[700], spread_lua[700], entries_lua[700];
	struct load_wrk wh, ws, we;
	snprintf(lookup_lua, sizeof(lookup_lua), "%s/lookup.lua", workdir);
	snprintf(hot_lua, sizeof(hot_lua), "%s/proof-hot.lua", workdir);
	snprintf(spread_lua, sizeof(spread_lua), "%s/proof-spread.lua", workdir);
	write_lookup_script(lookup_lua);
	write_proof_script(hot_lua, PROOF_LEAVES_HOT, 0x9e3779b97f4a7c15ull);
	write_proof_script(spread_lua, PROOF_LEAVES_SPREAD, 0x2545f4914f6cdd1dull);
	snprintf(entries_lua, sizeof(entries_lua), "%s/entries.lua", workdir);
	write_entries_script(entries_lua);
	/* warm-ups, unreported: logd maps the store's pages on first touch, and
	 * the first endpoint measured would pay for it. The spread baseline reads
	 * leaf-hash pages the lookups never touch, so it gets its own. */
	if (run_wrk(url, lookup_lua, WARMUP_SECONDS, lp.pid, &wl) != 0 ||
	    run_wrk(url, spread_lua, WARMUP_SECONDS, lp.pid, &ws) != 0)
		load_die("wrk failed on the warm-up");
	if (run_wrk(url, lookup_lua, WRK_SECONDS, lp.pid, &wl) != 0)
		load_die("wrk failed on lookup");
	fprintf(stderr, "bench_lookup: lookup %.0f req/s, p99 %.2f ms; logd %.1f us/req "
		"(kernel %.1f), wrk %.1f us/req\n", wl.rps, wl.p99_ms, wl.server_us,
		wl.server_sys_us, wl.client_us);
	if (run_wrk(url, spread_lua, WRK_SECONDS, lp.pid, &ws) != 0)
		load_die("wrk failed on get-proof-by-hash (spread)");
	fprintf(stderr, "bench_lookup: get-proof-by-hash, spread: %.0f req/s, p99 %.2f ms; "
		"logd %.1f us/req (kernel %.1f), wrk %.1f us/req\n", ws.rps, ws.p99_ms,
		ws.server_us, ws.server_sys_us, ws.client_us);
	if (run_wrk(url, hot_lua, WRK_SECONDS, lp.pid, &wh) != 0)
		load_die("wrk failed on get-proof-by-hash (hot)");
	fprintf(stderr, "bench_lookup: get-proof-by-hash, hot: %.0f req/s, p99 %.2f ms; "
		"logd %.1f us/req (kernel %.1f), wrk %.1f us/req\n", wh.rps, wh.p99_ms,
		wh.server_us, wh.server_sys_us, wh.client_us);
	if (run_wrk(url, entries_lua, WRK_SECONDS, lp.pid, &we) != 0)
		load_die("wrk failed on get-entries");
	fprintf(stderr, "bench_lookup: get-entries of %d: %.0f req/s, p99 %.2f ms; "
		"logd %.1f us/req (kernel %.1f), wrk %.1f us/req\n", GE_ENTRIES, we.rps, we.p99_ms,
		we.server_us, we.server_sys_us, we.client_us);
	double ratio = wl.rps / ws.rps, ratio_hot = wl.rps / wh.rps;
	if (ratio < 0.5 || getenv("BENCH_LOOKUP_PROFILE") != NULL)
		profile(url, lookup_lua, lp.pid);

	if (getenv("BENCH_LOOKUP_HOLD") != NULL) {
		fprintf(stderr, "bench_lookup: holding logd (pid %d) on port %u and %s "
			"(BENCH_LOOKUP_HOLD); press Enter\n", (int)lp.pid, lp.port, workdir);
		alarm(0);
		getchar();
	}
	/* 5. the same lookups on log B, logd with the map, next to log A's logd
	 * (--no-map, still running and idle): MAP_ROUNDS rounds of WRK_SECONDS / 2
	 * on each, alternating, so that the machine's other load falls on both */
	struct load_wrk wm = {0}, wn = {0}, r;
	struct logd_proc lpm;
	char url_m[128];
	const char *margs[] = {"--data", data_map, "--key", key, NULL};
	load_logd_run(&lpm, build, margs);
	size_t bytes_map = check_samples(lpm.port, &log_b);
	snprintf(url_m, sizeof(url_m), "http://127.0.0.1:%u", lpm.port);
	if (run_wrk(url_m, lookup_lua, WARMUP_SECONDS, lpm.pid, &r) != 0)
		load_die("wrk failed on lookup with the map");
	for (int round = 0; round < MAP_ROUNDS; round++) {
		for (int m = 0; m < 2; m++) {
			struct load_wrk *acc = m ? &wm : &wn;
			if (run_wrk(m ? url_m : url, lookup_lua, WRK_SECONDS / 2, m ? lpm.pid : lp.pid,
				    &r) != 0)
				load_die("wrk failed on lookup (map rounds)");
			fprintf(stderr, "bench_lookup: round %d, lookup %s: %.0f req/s, p99 %.2f ms; "
				"logd %.1f us/req (kernel %.1f), wrk %.1f us/req\n", round,
				m ? "with the map" : "--no-map", r.rps, r.p99_ms, r.server_us,
				r.server_sys_us, r.client_us);
			acc->rps += r.rps / MAP_ROUNDS;
			acc->p99_ms += r.p99_ms / MAP_ROUNDS;
			acc->server_us += r.server_us / MAP_ROUNDS;
			acc->server_sys_us += r.server_sys_us / MAP_ROUNDS;
			acc->client_us += r.client_us / MAP_ROUNDS;
			acc->non2xx += r.non2xx;
			acc->sock_errors += r.sock_errors;
		}
	}
	if (getenv("BENCH_LOOKUP_PROFILE_MAP") != NULL)
		profile(url_m, lookup_lua, lpm.pid);
	int st = load_logd_stop(&lpm, SIGTERM);
	if (st != 0)
		fprintf(stderr, "bench_lookup: logd (map) exited with status %d\n", st);
	st = load_logd_stop(&lp, SIGTERM);
	if (st != 0)
		fprintf(stderr, "bench_lookup: logd exited with status %d\n", st);
	unsigned long errs_m = wm.non2xx + wm.sock_errors + wn.non2xx + wn.sock_errors;
	unsigned long errs_l = wl.non2xx + wl.sock_errors, errs_s = ws.non2xx + ws.sock_errors,
		      errs_h = wh.non2xx + wh.sock_errors, errs_e = we.non2xx + we.sock_errors;
	if (errs_l + errs_s + errs_h + errs_e)
		fprintf(stderr, "bench_lookup: errors (non-2xx + socket): lookup %lu, "
			"get-proof-by-hash spread %lu, hot %lu, get-entries %lu\n", errs_l, errs_s,
			errs_h, errs_e);
	/* the rates follow the CPU per request of logd and wrk together (they
	 * share the 2 cores): this ratio is the steadier one */
	double cpu_l = wl.server_us + wl.client_us, cpu_s = ws.server_us + ws.client_us,
	       cpu_h = wh.server_us + wh.client_us, cpu_e = we.server_us + we.client_us;

	printf("| lookup, exact domain with %u matches (random of %u domains), %u entries, "
	       "wrk -t2 -c64 | %.0f req/s = %.0f entries/s with proofs, p99 %.2f ms%s; "
	       "CPU per request: logd %.0f us (kernel %.0f), wrk %.0f us "
	       "| get-proof-by-hash, same log, same run: spread (random of %d leaves over "
	       "the whole log) %.0f req/s, p99 %.2f ms%s, logd %.0f us (kernel %.0f), wrk %.0f us; "
	       "hot (random of %d leaves) %.0f req/s, p99 %.2f ms%s, logd %.0f us (kernel %.0f), "
	       "wrk %.0f us "
	       "| %.2f of spread, %.2f of hot (logd + wrk CPU per request: %.2f of spread, "
	       "%.2f of hot; logd alone: %.2f, %.2f) |\n",
	       MATCHES, NUM_DOMAINS, NUM_LEAVES, wl.rps, wl.rps * MATCHES, wl.p99_ms,
	       errs_l ? " (ERRORS)" : "", wl.server_us, wl.server_sys_us, wl.client_us,
	       PROOF_LEAVES_SPREAD, ws.rps, ws.p99_ms, errs_s ? " (ERRORS)" : "", ws.server_us,
	       ws.server_sys_us, ws.client_us, PROOF_LEAVES_HOT, wh.rps, wh.p99_ms,
	       errs_h ? " (ERRORS)" : "", wh.server_us, wh.server_sys_us, wh.client_us, ratio,
	       ratio_hot, cpu_l > 0 ? cpu_s / cpu_l : 0, cpu_l > 0 ? cpu_h / cpu_l : 0,
	       wl.server_us > 0 ? ws.server_us / wl.server_us : 0,
	       wl.server_us > 0 ? wh.server_us / wl.server_us : 0);
	printf("| get-entries of %d consecutive entries (an answer about the size of the "
	       "lookup's, without audit paths or scattered reads), %u entries, wrk -t2 -c64 "
	       "| %.0f req/s, p99 %.2f ms%s; CPU per request: logd %.0f us (kernel %.0f), "
	       "wrk %.0f us | get-proof-by-hash spread, same run (above) | %.2f (logd + wrk "
	       "CPU per request: %.2f) |\n",
	       GE_ENTRIES, NUM_LEAVES, we.rps, we.p99_ms, errs_e ? " (ERRORS)" : "",
	       we.server_us, we.server_sys_us, we.client_us, we.rps / ws.rps,
	       cpu_e > 0 ? cpu_s / cpu_e : 0);
	double cpu_m = wm.server_us + wm.client_us, cpu_n = wn.server_us + wn.client_us;
	printf("| lookup with the map's completeness proofs (logd, map on; the answer also "
	       "carries the map-root leaf and its audit path, the key's MapProof, its list page "
	       "and range proof), exact domain with %u matches, %u entries, wrk -t2 -c64, "
	       "%d alternating rounds of %d s | %.0f req/s, p99 %.2f ms%s, %zu B per answer; "
	       "CPU per request: logd %.0f us (kernel %.0f), wrk %.0f us | the same lookups "
	       "without the map (logd --no-map, a log of the same leaves, the other rounds): "
	       "%.0f req/s, p99 %.2f ms, %zu B per answer; logd %.0f us (kernel %.0f), wrk %.0f us "
	       "| %.2f (logd + wrk CPU per request: %.2f; logd alone: %.2f) |\n",
	       MATCHES, NUM_LEAVES, MAP_ROUNDS, WRK_SECONDS / 2, wm.rps, wm.p99_ms,
	       errs_m ? " (ERRORS)" : "", bytes_map, wm.server_us, wm.server_sys_us,
	       wm.client_us, wn.rps, wn.p99_ms, bytes_nomap, wn.server_us, wn.server_sys_us,
	       wn.client_us, wm.rps / wn.rps, cpu_m > 0 ? cpu_n / cpu_m : 0,
	       wm.server_us > 0 ? wn.server_us / wm.server_us : 0);
	cleanup();
	fprintf(stderr, "bench_lookup: done in %.0f s\n", load_secs_since(t_all));
	return 0;
}
