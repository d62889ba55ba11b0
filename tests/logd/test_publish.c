/* test_publish.c: publishing a log's static objects (logd/publish.h) and
 * `logd restore` (logd/restore.h).
 *
 * Directory: a log with publish: {dir} and the map on (so its tree holds
 * map-root leaves, the metanotary-1 extension, next to x509 and precert
 * entries) is filled past one full level-0 tile; once the published checkpoint
 * reaches the log's size, every object in the directory is byte-identical to
 * what logd serves at the same path. `logd restore` from the directory then
 * builds a store with the same tree (size and root of get-sth, checked by
 * store_open's own check and by logd serving it), whose rebuilt indexes make
 * it answer like the origin: lookups (with the map, and with --no-map from the
 * lookup indexes alone) and resolve give the origin's entries, a resubmitted
 * certificate and policy are duplicates of their original entries, and a
 * policy serial not above the restored head is refused; and restore refuses
 * a directory with one tampered hash tile or data tile, leaving no
 * environment behind.
 *
 * S3: the same against an S3 server that checks SigV4 (tests/lib/s3srv.h):
 * wrong credentials are refused by the server; with the server stopped, adds
 * go on (sct_after: commit), /readyz says the log is not ready and why, the
 * lag metric grows; once the server is back, publishing catches up, /readyz is
 * ready again, and `logd restore` from the bucket gives the log's tree.
 *
 * sct_after: publish, with kill -9 of the writer, 20 rounds: a child keeps
 * adding while the parent kills logd once some SCTs came back: every SCT
 * handed out (its leaf_index) is below the size of the checkpoint published
 * after the kill, and all the checkpoints published over the rounds are of one
 * tree (each root is the final log's root at that size).
 *
 * Torn round: a round writes its objects without an fsync each and makes them
 * durable with one barrier before the checkpoint, so an OS crash in a round
 * can leave the last durable checkpoint with the round's tiles missing or
 * empty. The test makes that state (logd killed with -9, the store's
 * checkpoint put back to an earlier one, a hash tile above it truncated to 0
 * bytes and a data tile deleted); logd restarted must write them again: every
 * object in the directory is then what logd serves, and tests/tilecheck (Go's
 * sumdb/tlog) verifies what logd serves. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api/api.h"
#include "common/b64.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/note.h"
#include "storage/storage.h"
#include "tests/lib/files.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/pki.h"
#include "logd/objstore.h"
#include "tests/lib/proc.h"
#include "tests/lib/s3srv.h"
#include "tests/lib/tlogcheck.h"

static void rm_rf(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}


static void add(uint16_t port, const char *prefix, const struct pki_cert *leaf,
		const struct pki_cert *ca, int pre)
{
	const struct pki_cert *chain[2] = {leaf, ca};
	char *body = ctc_chain_json(chain, 2), path[128];
	struct http_resp r;

	snprintf(path, sizeof(path), "%s/ct/v1/%s", prefix, pre ? "add-pre-chain" : "add-chain");
	assert_int_equal(http_do(port, "POST", path, NULL, body, strlen(body), &r), 0);
	if (r.status != 200)
		fprintf(stderr, "%s: %d %s\n", path, r.status, (char *)r.body);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(body);
}

/* post_json POSTs |body| to |path| and returns the answer's JSON (status in
 * *status). */
static json_t *post_json(uint16_t port, const char *path, const char *body, int *status)
{
	struct http_resp r;
	json_t *j;

	assert_int_equal(http_do(port, "POST", path, "Content-Type: application/json\r\n", body,
				 strlen(body), &r), 0);
	*status = r.status;
	j = json_loadb((const char *)r.body, r.body_len, 0, NULL);
	if (j == NULL)
		fprintf(stderr, "POST %s: %d %s\n", path, r.status, (char *)r.body);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

/* get_json: the 200 answer to |target| as JSON */
static json_t *get_json(uint16_t port, const char *target)
{
	struct http_resp r;
	json_t *j;

	assert_int_equal(http_do(port, "GET", target, NULL, NULL, 0, &r), 0);
	if (r.status != 200)
		fprintf(stderr, "GET %s: %d %s\n", target, r.status, (char *)r.body);
	assert_int_equal(r.status, 200);
	j = json_loadb((const char *)r.body, r.body_len, 0, NULL);
	assert_non_null(j);
	http_resp_free(&r);
	return j;
}

/* smtp_policy_request: an add-policy body for publish.example, |serial|,
 * signed by |leaf| (chain leaf, ca in x5c). */
static char *smtp_policy_request(const struct pki_cert *leaf, const struct pki_cert *ca,
				 uint64_t serial)
{
	char *req = mnfix_smtp_policy_request(leaf, ca, "publish.example", serial);

	assert_non_null(req);
	return req;
}

/* same_json: |a| and |b| have equal members |name| (present). */
static void same_json(const json_t *a, const json_t *b, const char *name)
{
	const json_t *x = json_object_get(a, name), *y = json_object_get(b, name);

	assert_non_null(x);
	if (!json_equal(x, y)) {
		char *sa = json_dumps(x, JSON_COMPACT), *sb = y ? json_dumps(y, JSON_COMPACT) : NULL;
		fprintf(stderr, "%s differs:\n origin:   %.600s\n restored: %.600s\n", name, sa,
			sb ? sb : "(none)");
		free(sa);
		free(sb);
	}
	assert_true(json_equal(x, y));
}

/* sth: tree size and root of get-sth */
static void get_sth(uint16_t port, const char *prefix, uint64_t *size, uint8_t root[32])
{
	char path[128];
	struct http_resp r;
	json_error_t e;
	json_t *j;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/ct/v1/get-sth", prefix);
	assert_int_equal(http_do(port, "GET", path, NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	j = json_loadb((const char *)r.body, r.body_len, 0, &e);
	assert_non_null(j);
	*size = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
	const char *b = json_string_value(json_object_get(j, "sha256_root_hash"));
	assert_non_null(b);
	uint8_t *dec = NULL;
	assert_int_equal(mn_b64_decode(&dec, &len, b, strlen(b), 64), 0);
	assert_int_equal(len, 32);
	memcpy(root, dec, 32);
	free(dec);
	json_decref(j);
	http_resp_free(&r);
}

/* wait_published: polls DIR/checkpoint until it is of |size| (10 s at most). */
static void wait_published(const char *dir, uint64_t size)
{
	char path[256];
	struct timespec ts = {0, 20 * 1000 * 1000};

	snprintf(path, sizeof(path), "%s/checkpoint", dir);
	for (int i = 0; i < 500; i++) {
		size_t len;
		uint8_t *b = (uint8_t *)tf_read(path, &len);
		struct note_checkpoint cp;
		int ok = b != NULL && note_parse_checkpoint(&cp, b, len) == 0 && cp.tree_size == size;
		free(b);
		if (ok)
			return;
		nanosleep(&ts, NULL);
	}
	fail_msg("%s never reached size %llu", path, (unsigned long long)size);
}

struct cmp {
	uint16_t port;
	const char *prefix, *dir;
	int num;
};

static int compare_object(void *ctx, const char *path, size_t len)
{
	struct cmp *c = ctx;
	char file[512], target[256];
	struct http_resp r;
	uint8_t *b;
	size_t blen = 0;

	(void)len;
	snprintf(file, sizeof(file), "%s%s", c->dir, path);
	snprintf(target, sizeof(target), "%s%s", c->prefix, path);
	b = (uint8_t *)tf_read(file, &blen);
	if (b == NULL)
		fail_msg("%s was not published", file);
	assert_int_equal(http_do(c->port, "GET", target, NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	if (r.body_len != blen || memcmp(r.body, b, blen) != 0)
		fail_msg("%s differs from what logd serves at %s", file, target);
	http_resp_free(&r);
	free(b);
	c->num++;
	return 0;
}

/* run_restore runs logd restore and returns its exit status; *out gets its
 * stdout line. */
static int run_restore(const char *from, const char *data, const char *key, char *out,
		       size_t cap)
{
	const char *build = getenv("MN_BUILD");
	char cmd[1024];
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "%s/logd restore --from '%s' --data '%s' --key '%s'",
		 build != NULL ? build : "build", from, data, key);
	p = popen(cmd, "r");
	assert_non_null(p);
	out[0] = '\0';
	if (fgets(out, (int)cap, p) == NULL)
		out[0] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void flip(const char *file)
{
	size_t len = 0;
	uint8_t *b = (uint8_t *)tf_read(file, &len);
	FILE *f;

	assert_non_null(b);
	assert_true(len > 40);
	b[len / 2] ^= 0x01;
	f = fopen(file, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, len, f), len);
	fclose(f);
	free(b);
}

static void test_publish_dir_and_restore(void **state)
{
	char dir[64] = "/tmp/mn-publish-XXXXXX", roots[128], data[128], pub[128], cfg[128];
	char key[160], rdata[128], line[512], hex[65], file[256], cp[256], pubcopy[160], cmd[1200];
	struct logd_proc logd;
	int64_t now = pki_now();
	struct pki_cert *root, *ca, *first;
	const char *dns[1] = {"publish.example"};
	json_t *first_sct, *pol2, *o_lookup, *o_lookup2, *o_resolve;
	char *req2, *free_later;
	int hs;
	uint64_t size, rsize;
	uint8_t rootv[32], rroot[32];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	root = pki_root("Publish Root", 0);
	ca = pki_issue(root, "Publish CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	snprintf(roots, sizeof(roots), "%s/roots.pem", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(pub, sizeof(pub), "%s/pub", dir);
	snprintf(cfg, sizeof(cfg), "%s/logd.yaml", dir);
	{
		const struct pki_cert *rs[1] = {root};
		assert_int_equal(pki_write_pem(roots, rs, 1), 0);
	}
	f = fopen(cfg, "w");
	assert_non_null(f);
	fprintf(f, "listen: 127.0.0.1:0\nlogs:\n  - name: pub\n    data: %s\n"
		"    classes: [tls, policy]\n    roots: {tls: %s}\n    origin: log.example/pub\n"
		"    publish: {dir: %s}\n", data, roots, pub);
	fclose(f);
	{
		const char *args[] = {"--config", cfg, NULL};
		assert_int_equal(logd_start(&logd, args), 0);
	}
	for (int i = 0; i < 150; i++) {
		struct pki_cert *leaf = pki_issue(ca, "publish.example", dns, 1,
						  i % 7 == 3 ? PKI_POISON : 0, now - 60 - i,
						  now + 86400);
		add(logd.port, "/pub", leaf, ca, i % 7 == 3);
		pki_free(leaf);
	}
	/* a certificate and two policies it signs, whose answers and indexes a
	 * restore must give back (dedup, lookup, policy head) */
	first = pki_issue(ca, "publish.example", dns, 1, 0, now - 30, now + 86400);
	{
		const struct pki_cert *chain[2] = {first, ca};
		char *body = ctc_chain_json(chain, 2);
		first_sct = post_json(logd.port, "/pub/ct/v1/add-chain", body, &hs);
		assert_int_equal(hs, 200);
		free_later = body;
	}
	{
		char *req1 = smtp_policy_request(first, ca, 1);
		json_t *j = post_json(logd.port, "/pub/mn/v1/add-policy", req1, &hs);
		assert_int_equal(hs, 200);
		json_decref(j);
		free(req1);
		req2 = smtp_policy_request(first, ca, 2);
		pol2 = post_json(logd.port, "/pub/mn/v1/add-policy", req2, &hs);
		assert_int_equal(hs, 200);
	}
	get_sth(logd.port, "/pub", &size, rootv);
	o_lookup = get_json(logd.port, "/pub/mn/v1/lookup?domain=publish.example&limit=20");
	o_lookup2 = get_json(logd.port, "/pub/mn/v1/lookup?domain=publish.example&limit=20&"
			     "cursor=200");
	o_resolve = get_json(logd.port, "/pub/mn/v1/resolve?domain=publish.example&protocol=smtp");
	assert_true(size > 256 && size < 512); /* full and partial tiles */
	wait_published(pub, size);
	/* every tile and data tile of every level is what logd serves */
	{
		struct cmp c = {logd.port, "/pub", pub, 0};
		assert_int_equal(api_static_objects(0, size, compare_object, &c), 0);
		assert_true(c.num >= 4);
	}
	assert_int_equal(logd_stop(&logd, SIGTERM), 0);

	/* restore from the directory: the same tree */
	snprintf(key, sizeof(key), "%s/log-key.pem", data);
	snprintf(rdata, sizeof(rdata), "%s/restored", dir);
	assert_int_equal(run_restore(pub, rdata, key, line, sizeof(line)), 0);
	for (size_t k = 0; k < 32; k++)
		snprintf(hex + 2 * k, 3, "%02x", rootv[k]);
	{
		char want[300];
		snprintf(want, sizeof(want), "restore %s tree_size=%llu root=%s\n", rdata,
			 (unsigned long long)size, hex);
		assert_string_equal(line, want);
	}
	{
		struct store *st;
		struct store_options so = {.dir = rdata, .read_only = 1};
		struct store_reader *rd;
		struct store_sth sth;
		assert_int_equal(store_open(&st, &so), 0);
		assert_int_equal(store_read_begin(st, &rd), 0);
		assert_int_equal(store_r_sth(rd, &sth), 0);
		assert_int_equal(sth.tree_size, size);
		assert_memory_equal(sth.root, rootv, 32);
		store_read_end(rd);
		store_close(st);
	}
	/* logd serves the restored log: get-sth is the published tree head */
	{
		const char *args[] = {"--data", rdata, "--tls-roots", roots, "--origin",
				      "log.example/pub", "--key", key, NULL};
		json_t *j;
		assert_int_equal(logd_start(&logd, args), 0);
		get_sth(logd.port, "", &rsize, rroot);
		assert_int_equal(rsize, size);
		assert_memory_equal(rroot, rootv, 32);
		/* and the same objects */
		struct cmp c = {logd.port, "", pub, 0};
		assert_int_equal(api_static_objects(0, size, compare_object, &c), 0);
		/* lookups and resolve answer like the origin: the lookup
		 * indexes and the policy head were rebuilt from the leaves */
		j = get_json(logd.port, "/mn/v1/lookup?domain=publish.example&limit=20");
		same_json(o_lookup, j, "entries");
		same_json(o_lookup, j, "next_cursor");
		same_json(o_lookup, j, "map");
		assert_int_equal(json_array_size(json_object_get(j, "entries")), 20);
		json_decref(j);
		j = get_json(logd.port, "/mn/v1/lookup?domain=publish.example&limit=20&cursor=200");
		same_json(o_lookup2, j, "entries");
		same_json(o_lookup2, j, "map");
		json_decref(j);
		j = get_json(logd.port, "/mn/v1/resolve?domain=publish.example&protocol=smtp");
		same_json(o_resolve, j, "policy");
		same_json(o_resolve, j, "advice");
		same_json(o_resolve, j, "map");
		json_decref(j);
		/* a resubmitted certificate is a duplicate: its SCT is the
		 * original's entry (timestamp, leaf_index extension), nothing
		 * is appended */
		j = post_json(logd.port, "/ct/v1/add-chain", free_later, &hs);
		assert_int_equal(hs, 200);
		same_json(first_sct, j, "timestamp");
		same_json(first_sct, j, "extensions");
		json_decref(j);
		/* the same policy statement: a duplicate, the original leaf */
		j = post_json(logd.port, "/mn/v1/add-policy", req2, &hs);
		assert_int_equal(hs, 200);
		same_json(pol2, j, "leaf_index");
		json_decref(j);
		/* a new statement with a serial not above the head's: refused */
		{
			char *req = smtp_policy_request(first, ca, 2);
			j = post_json(logd.port, "/mn/v1/add-policy", req, &hs);
			assert_int_equal(hs, 400);
			assert_string_equal(json_string_value(json_object_get(j, "error_code")),
					    "staleSerial");
			json_decref(j);
			free(req);
		}
		get_sth(logd.port, "", &rsize, rroot);
		assert_int_equal(rsize, size);
		assert_int_equal(logd_stop(&logd, SIGTERM), 0);
	}
	/* without the map, lookups are answered from the lookup indexes alone:
	 * the same entries as the origin's */
	{
		const char *args[] = {"--data", rdata, "--tls-roots", roots, "--origin",
				      "log.example/pub", "--key", key, "--no-map", NULL};
		json_t *j;
		assert_int_equal(logd_start(&logd, args), 0);
		j = get_json(logd.port, "/mn/v1/lookup?domain=publish.example&limit=20");
		same_json(o_lookup, j, "entries");
		json_decref(j);
		j = get_json(logd.port, "/mn/v1/lookup?domain=publish.example&limit=20&cursor=200");
		same_json(o_lookup2, j, "entries");
		json_decref(j);
		assert_int_equal(logd_stop(&logd, SIGTERM), 0);
	}
	json_decref(first_sct);
	json_decref(pol2);
	json_decref(o_lookup);
	json_decref(o_lookup2);
	json_decref(o_resolve);
	free(req2);
	free(free_later);
	pki_free(first);

	/* a tampered hash tile, then a tampered data tile: refused, nothing left */
	static const char *const tampered[] = {"/tile/0/000", "/tile/data/000"};
	for (size_t t = 0; t < 2; t++) {
		snprintf(pubcopy, sizeof(pubcopy), "%s/pub%zu", dir, t);
		snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", pub, pubcopy);
		assert_int_equal(system(cmd), 0);
		snprintf(file, sizeof(file), "%s%s", pubcopy, tampered[t]);
		if (t == 0) {
			flip(file);
		} else {
			/* a well-formed gzip stream of one changed TileLeaf byte */
			char raw[300];
			snprintf(raw, sizeof(raw), "%s.raw", file);
			snprintf(cmd, sizeof(cmd), "gzip -dc '%s' > '%s'", file, raw);
			assert_int_equal(system(cmd), 0);
			flip(raw);
			snprintf(cmd, sizeof(cmd), "gzip -c '%s' > '%s' && rm '%s'", raw, file, raw);
			assert_int_equal(system(cmd), 0);
		}
		snprintf(rdata, sizeof(rdata), "%s/bad%zu", dir, t);
		assert_int_equal(run_restore(pubcopy, rdata, key, line, sizeof(line)), 1);
		snprintf(cp, sizeof(cp), "%s/data.mdb", rdata);
		assert_int_not_equal(access(cp, F_OK), 0);
	}
	pki_free(ca);
	pki_free(root);
	rm_rf(dir);
}

/* metric: the value of |name|{log="NAME"} in /metrics, or -1. */
static long long metric(uint16_t port, const char *name)
{
	struct http_resp r;
	char needle[160];
	const char *p;
	long long v = -1;

	if (http_do(port, "GET", "/metrics", NULL, NULL, 0, &r) != 0)
		return -1;
	snprintf(needle, sizeof(needle), "\n%s{log=\"s3\"} ", name);
	p = strstr((const char *)r.body, needle);
	if (p != NULL)
		v = strtoll(p + strlen(needle), NULL, 10);
	http_resp_free(&r);
	return v;
}

static int readyz(uint16_t port, char *body, size_t cap)
{
	struct http_resp r;
	int st;

	assert_int_equal(http_do(port, "GET", "/readyz", NULL, NULL, 0, &r), 0);
	snprintf(body, cap, "%s", (const char *)r.body);
	st = r.status;
	http_resp_free(&r);
	return st;
}

/* wait_metric waits until |name| equals |want| (20 s at most). */
static void wait_metric(uint16_t port, const char *name, long long want)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	long long v = -1;

	for (int i = 0; i < 1000; i++) {
		v = metric(port, name);
		if (v == want)
			return;
		nanosleep(&ts, NULL);
	}
	fail_msg("%s is %lld, never %lld", name, v, want);
}

static void write_creds(const char *path, const char *secret)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n", S3SRV_KEY_ID, secret);
	fclose(f);
}

/* the S3 server of the running test, stopped by the teardown if it fails */
static struct s3srv the_s3;

static int stop_s3(void **state)
{
	(void)state;
	s3srv_stop(&the_s3);
	return 0;
}

static void test_publish_s3(void **state)
{
	char dir[64] = "/tmp/mn-publish-s3-XXXXXX", roots[128], data[128], s3dir[128], cfg[128];
	char creds[128], bad[128], endpoint[64], key[160], rdata[128], line[512], hex[65];
	char body[2048], cmd[1400], err[512];
	struct logd_proc logd;
	struct s3srv *s3p = &the_s3;
#define s3 (*s3p)
	int64_t now = pki_now();
	struct pki_cert *root, *ca;
	const char *dns[1] = {"s3.example"};
	uint64_t size;
	uint8_t rootv[32];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	root = pki_root("S3 Root", 0);
	ca = pki_issue(root, "S3 CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	snprintf(roots, sizeof(roots), "%s/roots.pem", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(s3dir, sizeof(s3dir), "%s/s3", dir);
	snprintf(cfg, sizeof(cfg), "%s/logd.yaml", dir);
	snprintf(creds, sizeof(creds), "%s/creds", dir);
	snprintf(bad, sizeof(bad), "%s/bad-creds", dir);
	{
		const struct pki_cert *rs[1] = {root};
		assert_int_equal(pki_write_pem(roots, rs, 1), 0);
	}
	write_creds(creds, S3SRV_SECRET);
	write_creds(bad, "not-the-secret");
	assert_int_equal(s3srv_start(&s3, s3dir, "pub", 0), 0);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", s3.port);

	/* SigV4 is really checked: the wrong secret is refused, the right one not */
	{
		struct objstore *os;
		struct objstore_options oo = {.url = "s3://pub/check", .endpoint = endpoint,
					      .credentials = bad};
		assert_int_equal(objstore_new(&os, &oo, err, sizeof(err)), 0);
		assert_int_equal(objstore_put(os, "/x", (const uint8_t *)"x", 1, NULL, 0, err,
					      sizeof(err)), MN_EIO);
		assert_non_null(strstr(err, "403"));
		assert_non_null(strstr(err, "SignatureDoesNotMatch"));
		objstore_free(os);
		oo.credentials = creds;
		assert_int_equal(objstore_new(&os, &oo, err, sizeof(err)), 0);
		if (objstore_put(os, "/x", (const uint8_t *)"x", 1, NULL, 0, err, sizeof(err)) != 0)
			fail_msg("the right credentials: %s", err);
		objstore_free(os);
	}

	f = fopen(cfg, "w");
	assert_non_null(f);
	fprintf(f, "listen: 127.0.0.1:0\nlogs:\n  - name: s3\n    data: %s\n"
		"    classes: [tls]\n    roots: {tls: %s}\n    origin: log.example/s3\n"
		"    map: false\n    mmd: 60\n"
		"    publish: {s3: s3://pub/logs/s3, endpoint: %s, credentials: %s}\n",
		data, roots, endpoint, creds);
	fclose(f);
	{
		const char *args[] = {"--config", cfg, NULL};
		assert_int_equal(logd_start(&logd, args), 0);
	}
	for (int i = 0; i < 20; i++) {
		struct pki_cert *leaf = pki_issue(ca, "s3.example", dns, 1, i % 5 == 2 ? PKI_POISON : 0,
						  now - 60 - i, now + 86400);
		add(logd.port, "/s3", leaf, ca, i % 5 == 2);
		pki_free(leaf);
	}
	wait_metric(logd.port, "mn_publish_published_size", 20);
	assert_int_equal(readyz(logd.port, body, sizeof(body)), 200);

	/* the store goes down: adds go on, readiness and the lag say so */
	s3srv_stop(&s3);
	for (int i = 20; i < 40; i++) {
		struct pki_cert *leaf = pki_issue(ca, "s3.example", dns, 1, 0, now - 60 - i,
						  now + 86400);
		add(logd.port, "/s3", leaf, ca, 0);
		pki_free(leaf);
	}
	wait_metric(logd.port, "mn_publish_failing", 1);
	/* the round that failed may have started before the last adds: the
	 * publisher learns the tree size at its next round (after a backoff) */
	wait_metric(logd.port, "mn_publish_lag_entries", 20);
	assert_int_equal(metric(logd.port, "mn_publish_published_size"), 20);
	assert_int_equal(readyz(logd.port, body, sizeof(body)), 503);
	assert_non_null(strstr(body, "publishing is 20 entries"));
	/* back: publishing catches up */
	assert_int_equal(s3srv_start(&s3, s3dir, "pub", (uint16_t)atoi(endpoint + 17)), 0);
	wait_metric(logd.port, "mn_publish_published_size", 40);
	wait_metric(logd.port, "mn_publish_failing", 0);
	assert_int_equal(readyz(logd.port, body, sizeof(body)), 200);
	get_sth(logd.port, "/s3", &size, rootv);
	assert_int_equal(size, 40);
	assert_int_equal(logd_stop(&logd, SIGTERM), 0);

	/* restore from the bucket: the same tree; with the wrong secret: refused */
	snprintf(key, sizeof(key), "%s/log-key.pem", data);
	snprintf(rdata, sizeof(rdata), "%s/restored", dir);
	for (size_t k = 0; k < 32; k++)
		snprintf(hex + 2 * k, 3, "%02x", rootv[k]);
	{
		const char *build = getenv("MN_BUILD");
		char want[300];
		FILE *p;
		snprintf(cmd, sizeof(cmd), "%s/logd restore --from s3://pub/logs/s3 --endpoint %s "
			 "--credentials '%s' --data '%s' --key '%s'", build != NULL ? build : "build",
			 endpoint, bad, rdata, key);
		assert_int_not_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "%s/logd restore --from s3://pub/logs/s3 --endpoint %s "
			 "--credentials '%s' --data '%s' --key '%s'", build != NULL ? build : "build",
			 endpoint, creds, rdata, key);
		p = popen(cmd, "r");
		assert_non_null(p);
		if (fgets(line, sizeof(line), p) == NULL)
			line[0] = '\0';
		assert_int_equal(pclose(p), 0);
		snprintf(want, sizeof(want), "restore %s tree_size=40 root=%s\n", rdata, hex);
		assert_string_equal(line, want);
	}
	s3srv_stop(&s3);
	pki_free(ca);
	pki_free(root);
	rm_rf(dir);
#undef s3
}

/* adder: adds certificates until logd goes away, writing each SCT's
 * leaf_index to |out| as soon as it is answered. Runs in a child. */
static void adder(uint16_t port, const struct pki_cert *ca, const char *out, int round)
{
	FILE *f = fopen(out, "w");
	int64_t now = pki_now();
	const char *dns[1] = {"kill.example"};

	if (f == NULL)
		_exit(2);
	for (int i = 0; i < 100000; i++) {
		struct pki_cert *leaf = pki_issue(ca, "kill.example", dns, 1, 0,
						  now - 1000 * round - i, now + 86400);
		const struct pki_cert *chain[2] = {leaf, ca};
		char *body = ctc_chain_json(chain, 2);
		struct http_resp r;
		json_error_t e;
		json_t *j;
		const char *ext;
		uint8_t *dec = NULL;
		size_t len = 0;
		uint64_t idx = 0;
		int has = 0;

		if (http_do(port, "POST", "/k/ct/v1/add-chain", NULL, body, strlen(body), &r) != 0)
			_exit(0);
		free(body);
		pki_free(leaf);
		if (r.status != 200)
			_exit(0);
		j = json_loadb((const char *)r.body, r.body_len, 0, &e);
		ext = j != NULL ? json_string_value(json_object_get(j, "extensions")) : NULL;
		if (ext == NULL || mn_b64_decode(&dec, &len, ext, strlen(ext), 64) != 0 ||
		    !ct_parse_extensions(dec, len, &has, &idx) || !has)
			_exit(3);
		fprintf(f, "%llu\n", (unsigned long long)idx);
		fflush(f);
		free(dec);
		json_decref(j);
		http_resp_free(&r);
	}
	_exit(0);
}

static void test_sct_after_publish_kill9(void **state)
{
	char dir[64] = "/tmp/mn-publish-kill-XXXXXX", roots[128], data[128], pub[128], cfg[128];
	char idxf[128], cpf[160];
	struct logd_proc logd;
	int64_t now = pki_now();
	struct pki_cert *root, *ca;
	struct { uint64_t size; uint8_t root[32]; } seen[64];
	size_t num_seen = 0, total_scts = 0;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	root = pki_root("Kill Root", 0);
	ca = pki_issue(root, "Kill CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	snprintf(roots, sizeof(roots), "%s/roots.pem", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(pub, sizeof(pub), "%s/pub", dir);
	snprintf(cfg, sizeof(cfg), "%s/logd.yaml", dir);
	snprintf(idxf, sizeof(idxf), "%s/scts", dir);
	snprintf(cpf, sizeof(cpf), "%s/checkpoint", pub);
	{
		const struct pki_cert *rs[1] = {root};
		assert_int_equal(pki_write_pem(roots, rs, 1), 0);
	}
	f = fopen(cfg, "w");
	assert_non_null(f);
	fprintf(f, "listen: 127.0.0.1:0\nlogs:\n  - name: k\n    data: %s\n"
		"    classes: [tls]\n    roots: {tls: %s}\n    origin: log.example/k\n"
		"    map: false\n    publish: {dir: %s}\n    sct_after: publish\n",
		data, roots, pub);
	fclose(f);
	for (int round = 0; round < 20; round++) {
		const char *args[] = {"--config", cfg, NULL};
		struct timespec ts = {0, 2 * 1000 * 1000};
		struct note_checkpoint cp;
		uint8_t *b;
		size_t len = 0, lines = 0;
		unsigned long long idx;
		pid_t child;
		int want = 1 + round % 6;

		assert_int_equal(logd_start(&logd, args), 0);
		child = fork();
		assert_true(child >= 0);
		if (child == 0)
			adder(logd.port, ca, idxf, round);
		/* kill -9 once |want| SCTs came back, with more adds in flight */
		for (int i = 0; i < 5000 && lines < (size_t)want; i++) {
			char l[64];
			lines = 0;
			f = fopen(idxf, "r");
			while (f != NULL && fgets(l, sizeof(l), f) != NULL)
				lines++;
			if (f != NULL)
				fclose(f);
			if (lines < (size_t)want)
				nanosleep(&ts, NULL);
		}
		assert_true(lines >= (size_t)want);
		logd_stop(&logd, SIGKILL);
		waitpid(child, NULL, 0);
		/* what was published survives; every SCT is in it */
		b = (uint8_t *)tf_read(cpf, &len);
		assert_non_null(b);
		assert_int_equal(note_parse_checkpoint(&cp, b, len), 0);
		f = fopen(idxf, "r");
		assert_non_null(f);
		while (fscanf(f, "%llu", &idx) == 1) {
			if (idx >= cp.tree_size)
				fail_msg("round %d: an SCT for leaf %llu, but the published checkpoint "
					 "is of size %llu", round, idx, (unsigned long long)cp.tree_size);
			total_scts++;
		}
		fclose(f);
		seen[num_seen].size = cp.tree_size;
		memcpy(seen[num_seen].root, cp.root, 32);
		num_seen++;
		free(b);
	}
	/* one tree: each published root is the log's root at that size */
	{
		struct store *st;
		struct store_options so = {.dir = data, .read_only = 1};
		struct store_reader *rd;
		uint8_t r[32];
		assert_int_equal(store_open(&st, &so), 0);
		assert_int_equal(store_read_begin(st, &rd), 0);
		for (size_t i = 0; i < num_seen; i++) {
			assert_int_equal(store_r_root(rd, seen[i].size, r), 0);
			assert_memory_equal(r, seen[i].root, 32);
		}
		store_read_end(rd);
		store_close(st);
	}
	fprintf(stderr, "kill9: 20 rounds, %zu SCTs, final published size %llu\n", total_scts,
		(unsigned long long)seen[num_seen - 1].size);
	pki_free(ca);
	pki_free(root);
	rm_rf(dir);
}

static void test_publish_torn_round(void **state)
{
	char dir[64] = "/tmp/mn-publish-torn-XXXXXX", roots[128], data[128], pub[128], cfg[128];
	char cpf[160], file[256];
	struct logd_proc logd;
	int64_t now = pki_now();
	struct pki_cert *root, *ca;
	const char *dns[1] = {"torn.example"};
	const char *args[] = {"--config", NULL, NULL};
	struct tlogcheck_result tr;
	struct stat sb;
	uint8_t *cp3 = NULL;
	size_t cp3_len = 0;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	root = pki_root("Torn Root", 0);
	ca = pki_issue(root, "Torn CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	snprintf(roots, sizeof(roots), "%s/roots.pem", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(pub, sizeof(pub), "%s/pub", dir);
	snprintf(cfg, sizeof(cfg), "%s/logd.yaml", dir);
	snprintf(cpf, sizeof(cpf), "%s/checkpoint", pub);
	{
		const struct pki_cert *rs[1] = {root};
		assert_int_equal(pki_write_pem(roots, rs, 1), 0);
	}
	f = fopen(cfg, "w");
	assert_non_null(f);
	fprintf(f, "listen: 127.0.0.1:0\nlogs:\n  - name: torn\n    data: %s\n"
		"    classes: [tls]\n    roots: {tls: %s}\n    origin: log.example/torn\n"
		"    map: false\n    publish: {dir: %s}\n", data, roots, pub);
	fclose(f);
	args[1] = cfg;
	assert_int_equal(logd_start(&logd, args), 0);
	for (int i = 0; i < 7; i++) {
		struct pki_cert *leaf = pki_issue(ca, "torn.example", dns, 1, 0, now - 60 - i,
						  now + 86400);
		add(logd.port, "/torn", leaf, ca, 0);
		pki_free(leaf);
		if (i == 2) {
			/* the checkpoint of size 3, durable before the next rounds */
			wait_published(pub, 3);
			cp3 = (uint8_t *)tf_read(cpf, &cp3_len);
			assert_non_null(cp3);
		}
	}
	wait_published(pub, 7);
	logd_stop(&logd, SIGKILL);
	/* what an OS crash in the rounds after 3 can leave */
	f = fopen(cpf, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(cp3, 1, cp3_len, f), cp3_len);
	fclose(f);
	snprintf(file, sizeof(file), "%s/tile/0/000.p/7", pub);
	assert_int_equal(truncate(file, 0), 0);
	snprintf(file, sizeof(file), "%s/tile/data/000.p/7", pub);
	assert_int_equal(unlink(file), 0);

	assert_int_equal(logd_start(&logd, args), 0);
	wait_published(pub, 7);
	{
		struct cmp c = {logd.port, "/torn", pub, 0};
		assert_int_equal(api_static_objects(0, 7, compare_object, &c), 0);
		assert_int_equal(c.num, 2); /* /tile/data/000.p/7 and /tile/0/000.p/7 */
	}
	snprintf(file, sizeof(file), "%s/tile/0/000.p/7", pub);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_size, 7 * 32);
	assert_int_equal(tlogcheck_run_prefix(logd.port, "/torn", &tr), 0);
	assert_int_equal(tr.size, 7);
	assert_int_equal(tr.issuers, 2); /* the CA and the root */
	assert_int_equal(logd_stop(&logd, SIGTERM), 0);
	free(cp3);
	pki_free(ca);
	pki_free(root);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_dir_and_restore),
		cmocka_unit_test_teardown(test_publish_s3, stop_s3),
		cmocka_unit_test(test_sct_after_publish_kill9),
		cmocka_unit_test(test_publish_torn_round),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
