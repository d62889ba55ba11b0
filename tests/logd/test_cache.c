/* test_cache.c: a caching tier in front of logd (issue 15). Debian's nginx,
 * with proxy_cache configured by contrib/nginx-logd.conf (the snippet the
 * README documents; tests/lib/nginx.h writes the rest), sits between readers
 * and a logd serving one log under /cache/ (the --config form). A reader
 * reads the whole log through nginx: the checkpoint, every hash tile at every
 * level for the checkpoint's size, every data tile, every issuer the data
 * tiles name. Then:
 *   - the first read is byte for byte what logd serves itself (gzip data
 *     tiles pass untouched);
 *   - a second full read is at least 90% cache hits (X-Cache-Status), and
 *     mnctl monitor --tiles through nginx verifies the log and, run again from
 *     scratch, is served at least 90% from the cache (nginx's access log);
 *   - the checkpoint is never a HIT and shows a new size after a new add; a
 *     404 (a tile beyond the checkpoint) is never cached;
 *   - with logd stopped, every tile, data tile and issuer read before is
 *     still served, 200 and the same bytes, while the checkpoint and anything
 *     never read fail with 502. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "common/bytes.h"
#include "entry/note.h"
#include "entry/tileleaf.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/nginx.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define PREFIX "/cache"
#define NUM_ADDS 1300 /* five full tiles and a partial one at level 0 */
#define MAX_OBJS 64

static void rm_rf(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* One object of a full read: its path under the prefix and, once read, its
 * bytes. */
struct obj {
	char path[96];
	uint8_t *body;
	size_t body_len;
};

struct read {
	struct obj objs[MAX_OBJS];
	size_t num;
	size_t hits; /* X-Cache-Status HIT, checkpoint included in num */
	uint64_t size;
};

static void read_free(struct read *rd)
{
	for (size_t i = 0; i < rd->num; i++)
		free(rd->objs[i].body);
	memset(rd, 0, sizeof(*rd));
}

/* tile_path: "tile/<level or data>/<N>[.p/<W>]" with N in the tlog-tiles
 * path encoding (x001/x234/067). */
static void tile_path(char *out, size_t cap, const char *level, uint64_t n, unsigned w)
{
	char num[64] = "";
	uint64_t div = 1;
	size_t off = 0;

	while (n / div >= 1000)
		div *= 1000;
	for (; div > 0; div /= 1000) {
		off += (size_t)snprintf(num + off, sizeof(num) - off, "%s%03u",
					div > 1 ? "x" : "", (unsigned)(n / div % 1000));
		if (div > 1)
			num[off++] = '/';
	}
	num[off] = '\0';
	if (w != 0)
		snprintf(out, cap, "tile/%s/%s.p/%u", level, num, w);
	else
		snprintf(out, cap, "tile/%s/%s", level, num);
}

static struct obj *add_obj(struct read *rd, const char *path)
{
	assert_true(rd->num < MAX_OBJS);
	snprintf(rd->objs[rd->num].path, sizeof(rd->objs[0].path), "%s", path);
	return &rd->objs[rd->num++];
}

/* get fetches PREFIX/path from |port|, wants 200, and returns the cache
 * status in |st|. */
static void get(uint16_t port, const char *path, struct http_resp *r, char st[16])
{
	char target[128];

	snprintf(target, sizeof(target), "%s/%s", PREFIX, path);
	assert_int_equal(http_do(port, "GET", target, NULL, NULL, 0, r), 0);
	if (r->status != 200)
		fprintf(stderr, "GET %s: %d %s\n", target, r->status, (char *)r->body);
	assert_int_equal(r->status, 200);
	nginx_cache_status(r->headers, st);
}

static void gunzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	z_stream z;
	size_t cap = 1 << 20;
	int ret;

	memset(&z, 0, sizeof(z));
	*out = malloc(cap);
	assert_non_null(*out);
	assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
	z.next_in = (uint8_t *)in;
	z.avail_in = (uInt)in_len;
	z.next_out = *out;
	z.avail_out = (uInt)cap;
	ret = inflate(&z, Z_FINISH);
	assert_int_equal(ret, Z_STREAM_END);
	*out_len = z.total_out;
	inflateEnd(&z);
}

/* add_issuers adds issuer/<hex> for every fingerprint in the data tile |gz|
 * that is not in the read yet, and checks the tile holds |width| entries. */
static void add_issuers(struct read *rd, const uint8_t *gz, size_t gz_len, unsigned width)
{
	uint8_t *raw;
	size_t raw_len;
	struct cbs c;
	unsigned n = 0;

	gunzip(gz, gz_len, &raw, &raw_len);
	cbs_init(&c, raw, raw_len);
	while (c.len > 0) {
		struct tileleaf tl;
		assert_true(tileleaf_parse(&tl, &c));
		n++;
		for (size_t i = 0; i < tl.num_fps; i++) {
			char path[96] = "issuer/";
			int seen = 0;
			for (size_t k = 0; k < 32; k++)
				snprintf(path + 7 + 2 * k, 3, "%02x", tl.fps[32 * i + k]);
			for (size_t j = 0; j < rd->num; j++)
				seen |= strcmp(rd->objs[j].path, path) == 0;
			if (!seen)
				add_obj(rd, path);
		}
	}
	assert_int_equal(n, width);
	free(raw);
}

/* full_read reads the whole log through |port|: the checkpoint, then every
 * hash tile at every level and every data tile for its size, then every
 * issuer the data tiles name, in that order (issuer paths are learnt from the
 * data tiles). Hash tiles at a level exist while that level has a hash:
 * size >> 8L hashes, in full tiles of 256 and one partial tile. */
static void full_read(struct read *rd, uint16_t port)
{
	struct http_resp r;
	struct note_checkpoint cp;
	char st[16], path[96];

	memset(rd, 0, sizeof(*rd));
	get(port, "checkpoint", &r, st);
	assert_int_equal(note_parse_checkpoint(&cp, r.body, r.body_len), 0);
	assert_string_not_equal(st, "HIT");
	rd->size = cp.tree_size;
	add_obj(rd, "checkpoint");
	rd->objs[0].body = r.body;
	rd->objs[0].body_len = r.body_len;
	for (unsigned level = 0; (rd->size >> (8 * level)) > 0; level++) {
		uint64_t hashes = rd->size >> (8 * level);
		char l[4];
		snprintf(l, sizeof(l), "%u", level);
		for (uint64_t n = 0; n < hashes / 256; n++) {
			tile_path(path, sizeof(path), l, n, 0);
			add_obj(rd, path);
		}
		if (hashes % 256 != 0) {
			tile_path(path, sizeof(path), l, hashes / 256, (unsigned)(hashes % 256));
			add_obj(rd, path);
		}
	}
	for (uint64_t n = 0; n <= rd->size / 256; n++) {
		unsigned w = n < rd->size / 256 ? 0 : (unsigned)(rd->size % 256);
		if (n == rd->size / 256 && w == 0)
			break;
		tile_path(path, sizeof(path), "data", n, w);
		add_obj(rd, path);
	}
	for (size_t i = 1; i < rd->num; i++) {
		struct obj *o = &rd->objs[i];
		get(port, o->path, &r, st);
		o->body = r.body;
		o->body_len = r.body_len;
		rd->hits += strcmp(st, "HIT") == 0;
		if (strncmp(o->path, "tile/data/", 10) == 0) {
			const char *p = strstr(o->path, ".p/");
			assert_non_null(strstr(r.headers, "Content-Encoding: gzip"));
			add_issuers(rd, r.body, r.body_len, p != NULL ? (unsigned)atoi(p + 3) : 256);
		} else if (strncmp(o->path, "tile/", 5) == 0) {
			const char *p = strstr(o->path, ".p/");
			assert_int_equal(r.body_len, 32 * (p != NULL ? (size_t)atoi(p + 3) : 256));
		}
	}
}

/* cache_status_of fetches PREFIX/path and returns its HTTP status. */
static int status_of(uint16_t port, const char *path, char st[16])
{
	struct http_resp r;
	char target[128];
	int s;

	snprintf(target, sizeof(target), "%s/%s", PREFIX, path);
	assert_int_equal(http_do(port, "GET", target, NULL, NULL, 0, &r), 0);
	s = r.status;
	nginx_cache_status(r.headers, st);
	http_resp_free(&r);
	return s;
}

static void add(uint16_t port, const struct pki_cert *ca, int i)
{
	const char *dns[1] = {"cache.example"};
	int64_t now = pki_now();
	struct pki_cert *leaf = pki_issue(ca, "cache.example", dns, 1, 0, now - 60 - i, now + 86400);
	const struct pki_cert *chain[2] = {leaf, ca};
	char *body = ctc_chain_json(chain, 2);
	struct http_resp r;

	assert_non_null(leaf);
	assert_int_equal(http_do(port, "POST", PREFIX "/ct/v1/add-chain", NULL, body, strlen(body),
				 &r), 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(body);
	pki_free(leaf);
}

/* access_hits counts, in nginx's access log from byte |from| on, the lines
 * and the HITs ("$upstream_cache_status $status $request_uri"). Returns the
 * log's length. */
static long access_hits(const char *prefix, long from, size_t *lines, size_t *hits)
{
	char path[320], line[512];
	FILE *f;
	long end;

	snprintf(path, sizeof(path), "%s/access.log", prefix);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fseek(f, from, SEEK_SET), 0);
	*lines = *hits = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		(*lines)++;
		*hits += strncmp(line, "HIT ", 4) == 0;
	}
	end = ftell(f);
	fclose(f);
	return end;
}

/* monitor runs mnctl monitor --tiles against |url| with a fresh state and
 * returns its stdout. */
static char *monitor(const char *dir, const char *url, const char *state)
{
	char key[160], watch[160], st[160], cfg[160], *out = NULL, *err = NULL;
	int rc;

	snprintf(key, sizeof(key), "%s/log.spki", dir);
	snprintf(watch, sizeof(watch), "%s/watch", dir);
	snprintf(st, sizeof(st), "%s/%s", dir, state);
	snprintf(cfg, sizeof(cfg), "%s/cfg", dir);
	{
		const char *args[] = {"--config", cfg, "--log", url, "--key", key, "monitor",
				      "--watch", watch, "--state", st, "--tiles", NULL};
		rc = mnrun_mnctl(dir, args, &out, &err);
	}
	if (rc != 0)
		fprintf(stderr, "mnctl: %s\n", err);
	assert_int_equal(rc, 0);
	free(err);
	return out;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_cache_tier(void **state)
{
	char dir[64] = "/tmp/mn-cache-XXXXXX", path[160], cfg[160], url[96], st[16];
	const char *args[] = {"--config", cfg, NULL};
	struct logd_proc logd;
	struct nginx_proc nx;
	struct pki_cert *root, *ca;
	struct read r1, r2;
	int64_t now = pki_now();
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	root = pki_root("Cache Root", 0);
	ca = pki_issue(root, "Cache CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	snprintf(path, sizeof(path), "%s/roots.pem", dir);
	{
		const struct pki_cert *rs[1] = {root};
		assert_int_equal(pki_write_pem(path, rs, 1), 0);
	}
	snprintf(cfg, sizeof(cfg), "%s/logd.yaml", dir);
	f = fopen(cfg, "w");
	assert_non_null(f);
	fprintf(f, "listen: 127.0.0.1:0\nlogs:\n  - name: cache\n    data: %s/cache\n"
		"    classes: [tls]\n    roots: {tls: %s/roots.pem}\n    map: false\n"
		"    origin: cache.example/cache\n", dir, dir);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(logd_start(&logd, args), 0);
	for (int i = 0; i < NUM_ADDS; i++)
		add(logd.port, ca, i);
	assert_int_equal(nginx_start(&nx, dir, logd.port), 0);

	/* the first read: all misses, and exactly what logd serves */
	full_read(&r1, nx.port);
	assert_true(r1.size >= NUM_ADDS);
	assert_int_equal(r1.hits, 0);
	for (size_t i = 1; i < r1.num; i++) {
		struct http_resp r;
		get(logd.port, r1.objs[i].path, &r, st);
		assert_int_equal(r.body_len, r1.objs[i].body_len);
		assert_memory_equal(r.body, r1.objs[i].body, r.body_len);
		http_resp_free(&r);
	}
	/* the second: >= 90% hits, counting the checkpoint, which never is one */
	full_read(&r2, nx.port);
	fprintf(stderr, "cache: size %llu, second full read %zu/%zu hits\n",
		(unsigned long long)r2.size, r2.hits, r2.num);
	assert_int_equal(r2.num, r1.num);
	assert_true(r2.hits * 10 >= r2.num * 9);
	for (size_t i = 1; i < r2.num; i++) {
		assert_string_equal(r2.objs[i].path, r1.objs[i].path);
		assert_int_equal(r2.objs[i].body_len, r1.objs[i].body_len);
		assert_memory_equal(r2.objs[i].body, r1.objs[i].body, r1.objs[i].body_len);
	}
	read_free(&r2);

	/* a verifying client through the cache: mnctl monitor --tiles, twice from
	 * scratch; the second run is served from the cache */
	{
		const char *watch = "cache.example\n";
		char *a, *b;
		size_t lines, hits;
		long off;
		write_file(dir, "log.spki", logd.spki, logd.spki_len);
		write_file(dir, "watch", watch, strlen(watch));
		snprintf(url, sizeof(url), "http://127.0.0.1:%u" PREFIX, nx.port);
		off = access_hits(nx.prefix, 0, &lines, &hits);
		a = monitor(dir, url, "state-1");
		off = access_hits(nx.prefix, off, &lines, &hits);
		b = monitor(dir, url, "state-2");
		access_hits(nx.prefix, off, &lines, &hits);
		fprintf(stderr, "cache: mnctl monitor --tiles again: %zu/%zu hits\n", hits, lines);
		assert_non_null(strstr(a, "verified tree_size"));
		assert_non_null(strstr(a, "MATCH domain cache.example"));
		assert_string_equal(a, b);
		assert_true(lines > 0 && hits * 10 >= lines * 9);
		free(a);
		free(b);
	}

	/* not cached: a 404 for a tile beyond the checkpoint; the checkpoint,
	 * which shows the next size as soon as logd does */
	tile_path(path, sizeof(path), "0", r1.size / 256 + 1, 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(status_of(nx.port, path, st), 404);
		assert_string_not_equal(st, "HIT");
	}
	add(logd.port, ca, NUM_ADDS);
	{
		struct http_resp direct, via;
		struct note_checkpoint a, b;
		get(logd.port, "checkpoint", &direct, st);
		get(nx.port, "checkpoint", &via, st);
		assert_string_not_equal(st, "HIT");
		assert_int_equal(note_parse_checkpoint(&a, direct.body, direct.body_len), 0);
		assert_int_equal(note_parse_checkpoint(&b, via.body, via.body_len), 0);
		assert_true(a.tree_size > r1.size);
		assert_true(b.tree_size >= a.tree_size);
		http_resp_free(&direct);
		http_resp_free(&via);
	}

	/* logd stopped: what was read is still served, the rest is a 502 */
	assert_int_equal(logd_stop(&logd, 15), 0);
	for (size_t i = 1; i < r1.num; i++) {
		struct http_resp r;
		get(nx.port, r1.objs[i].path, &r, st);
		assert_string_equal(st, "HIT");
		assert_int_equal(r.body_len, r1.objs[i].body_len);
		assert_memory_equal(r.body, r1.objs[i].body, r.body_len);
		http_resp_free(&r);
	}
	assert_int_equal(status_of(nx.port, "checkpoint", st), 502);
	tile_path(path, sizeof(path), "0", r1.size / 256, (unsigned)(r1.size % 256) + 1);
	assert_int_equal(status_of(nx.port, path, st), 502);

	assert_int_equal(nginx_stop(&nx), 0);
	read_free(&r1);
	pki_free(ca);
	pki_free(root);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_tier),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
