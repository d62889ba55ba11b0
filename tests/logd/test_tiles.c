/* test_tiles.c: the C2SP static read path (api/static.c, docs/tiles.md)
 * checked by an implementation we did not write: build/tests/tilecheck is a
 * small Go program over Go's sumdb/tlog and sumdb/note (Debian
 * golang-golang-x-mod-dev). At several tree sizes, covering partial tiles at
 * levels 0 and 1 and full tiles at level 0, it verifies the checkpoint's
 * Ed25519 and RFC 6962 note signatures, proves every hash tile against the
 * checkpoint with tlog.TileHashReader, checks tlog.TreeHash against the
 * checkpoint and get-sth, and checks that every data tile parses back to what
 * get-entries returns and that every issuer is served. Here: the bad paths,
 * the headers, the note key file, and entry/note.h against the same
 * checkpoint. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "entry/ct.h"
#include "entry/note.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/liar.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"
#include "tests/lib/tlogcheck.h"

#define ORIGIN "log.example/tiles"

static void rm_rf(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* tilecheck runs the Go checker against the log and returns the tree size it
 * verified (it fails the test if the checker fails). */
static unsigned long tilecheck(uint16_t port)
{
	struct tlogcheck_result res;

	assert_int_equal(tlogcheck_run(port, &res), 0);
	return res.size;
}

static void add(uint16_t port, const struct pki_cert *leaf, const struct pki_cert *ca,
		const char *path)
{
	const struct pki_cert *chain[2] = {leaf, ca};
	char *body = ctc_chain_json(chain, 2);
	struct http_resp r;

	assert_int_equal(http_do(port, "POST", path, NULL, body, strlen(body), &r), 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(body);
}

static void expect(uint16_t port, const char *method, const char *target, int status,
		   const char *code)
{
	struct http_resp r;

	assert_int_equal(http_do(port, method, target, NULL, NULL, 0, &r), 0);
	if (r.status != status)
		fprintf(stderr, "%s %s: %d %s\n", method, target, r.status, (char *)r.body);
	assert_int_equal(r.status, status);
	if (code != NULL) {
		assert_true(ctc_json_error(r.body, r.body_len));
		assert_non_null(strstr((char *)r.body, code));
	}
	http_resp_free(&r);
}

/* monitor runs mnctl monitor (get-entries, or --tiles) with its own state dir
 * and returns its stdout (the test fails unless it exits 0). */
static char *monitor_rc(const char *dir, uint16_t port, int tiles, int want_rc,
			char **out_err)
{
	char url[64], key[160], watch[160], st[160], cfg[160], *out = NULL, *err = NULL;
	const char *args[16];
	int n = 0, rc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	snprintf(key, sizeof(key), "%s/log.spki", dir);
	snprintf(watch, sizeof(watch), "%s/watch", dir);
	snprintf(st, sizeof(st), "%s/state-%s%s", dir, tiles ? "tiles" : "entries",
		 want_rc != 0 ? "-lied" : "");
	snprintf(cfg, sizeof(cfg), "%s/cfg", dir);
	args[n++] = "--config";
	args[n++] = cfg;
	args[n++] = "--log";
	args[n++] = url;
	args[n++] = "--key";
	args[n++] = key;
	args[n++] = "monitor";
	args[n++] = "--watch";
	args[n++] = watch;
	args[n++] = "--state";
	args[n++] = st;
	if (tiles)
		args[n++] = "--tiles";
	args[n] = NULL;
	rc = mnrun_mnctl(dir, args, &out, &err);
	if (rc != want_rc)
		fprintf(stderr, "mnctl: %s\n", err);
	assert_int_equal(rc, want_rc);
	if (out_err != NULL)
		*out_err = err;
	else
		free(err);
	return out;
}

static char *monitor(const char *dir, uint16_t port, int tiles)
{
	return monitor_rc(dir, port, tiles, 0, NULL);
}

/* mnctl monitor --tiles prints exactly what the get-entries monitor prints,
 * from scratch and when it resumes from its saved state. */
static void monitors_agree(const char *dir, uint16_t port)
{
	char *a = monitor(dir, port, 0), *b = monitor(dir, port, 1);

	assert_non_null(strstr(a, "verified tree_size"));
	assert_non_null(strstr(a, "MATCH domain tiles.example"));
	assert_string_equal(a, b);
	free(a);
	free(b);
}

static void test_tiles_cross_checked(void **state)
{
	char dir[64] = "/tmp/mn-tiles-XXXXXX", roots[128], data[128], path[160];
	struct logd_proc logd;
	int64_t now = pki_now();
	struct pki_cert *root, *ca;
	const char *dns[1] = {"tiles.example"};
	/* adds; with the map on, each batch also appends a map-root leaf */
	static const int targets[] = {4, 140};
	unsigned long sizes[3], n = 0;
	int added = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	root = pki_root("Tiles Root", 0);
	ca = pki_issue(root, "Tiles CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	snprintf(roots, sizeof(roots), "%s/roots.pem", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	{
		const struct pki_cert *rs[1] = {root};
		assert_int_equal(pki_write_pem(roots, rs, 1), 0);
	}
	{
		const char *args[] = {"--data", data, "--tls-roots", roots, "--origin", ORIGIN,
				      NULL};
		assert_int_equal(logd_start(&logd, args), 0);
	}
	/* the note key was made, private, and is in the log-list line */
	{
		struct stat st;
		json_error_t e;
		json_t *line = json_loads(logd.log_line, 0, &e);
		const char *vk;
		snprintf(path, sizeof(path), "%s/note-key.pem", data);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_non_null(line);
		assert_string_equal(json_string_value(json_object_get(line, "origin")), ORIGIN);
		vk = json_string_value(json_object_get(line, "note_vkey"));
		assert_non_null(vk);
		assert_int_equal(strncmp(vk, ORIGIN "+", strlen(ORIGIN) + 1), 0);
		json_decref(line);
	}
	/* a new log: the map-root leaf only (type 0x8003, the extension) */
	sizes[n++] = tilecheck(logd.port);
	/* a few of each CT type, then past one and two full level-0 tiles */
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		for (; added < targets[t]; added++) {
			struct pki_cert *leaf = pki_issue(ca, "tiles.example", dns, 1,
							  added % 7 == 3 ? PKI_POISON : 0,
							  now - 60 - added, now + 86400);
			add(logd.port, leaf, ca,
			    added % 7 == 3 ? "/ct/v1/add-pre-chain" : "/ct/v1/add-chain");
			pki_free(leaf);
		}
		sizes[n++] = tilecheck(logd.port);
	}
	assert_true(sizes[1] > 4 && sizes[1] < 256);     /* partial level 0 only */
	assert_true(sizes[2] > 256 && sizes[2] < 512);   /* full 0, partial 0 and 1 */

	/* the monitor over tiles sees what the monitor over get-entries sees */
	{
		FILE *f;
		snprintf(path, sizeof(path), "%s/log.spki", dir);
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(logd.spki, 1, logd.spki_len, f), logd.spki_len);
		fclose(f);
		snprintf(path, sizeof(path), "%s/watch", dir);
		f = fopen(path, "w");
		assert_non_null(f);
		fputs("tiles.example\n", f);
		fclose(f);
	}
	monitors_agree(dir, logd.port);
	for (int i = 0; i < 3; i++, added++) {
		struct pki_cert *leaf = pki_issue(ca, "tiles.example", dns, 1, 0, now - 30 - added,
						  now + 86400);
		add(logd.port, leaf, ca, "/ct/v1/add-chain");
		pki_free(leaf);
	}
	monitors_agree(dir, logd.port);
	sizes[2] = tilecheck(logd.port);
	/* a level-0 hash tile the checkpoint does not commit to: refused, exit 3,
	 * and no state saved */
	{
		struct liar *l = liar_start(logd.port);
		char *out, *err;
		assert_non_null(l);
		liar_set(l, LIAR_FLIP_TILE, NULL);
		out = monitor_rc(dir, liar_port(l), 1, 3, &err);
		assert_non_null(strstr(err, "does not hash to its level-0 tile hash"));
		assert_true(liar_tampered(l) > 0);
		snprintf(path, sizeof(path), "%s/state-tiles-lied/state.json", dir);
		assert_int_not_equal(access(path, F_OK), 0);
		free(out);
		free(err);
		liar_stop(l);
	}

	/* bad paths: 400 with a JSON error; beyond the checkpoint: 404 */
	expect(logd.port, "GET", "/tile/0/x000/001", 400, "malformed");
	expect(logd.port, "GET", "/tile/0/1", 400, "malformed");
	expect(logd.port, "GET", "/tile/0/000.p/256", 400, "malformed");
	expect(logd.port, "GET", "/tile/0/000.p/0", 400, "malformed");
	expect(logd.port, "GET", "/tile/0/000.p/01", 400, "malformed");
	expect(logd.port, "GET", "/tile/8/000", 400, "malformed");
	expect(logd.port, "GET", "/tile/01/000", 400, "malformed");
	expect(logd.port, "GET", "/tile/0/000/", 400, "malformed");
	expect(logd.port, "GET", "/tile/data/x001", 400, "malformed");
	expect(logd.port, "GET", "/issuer/ABCD", 400, "malformed");
	expect(logd.port, "GET",
	       "/issuer/ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB", 400,
	       "malformed");
	expect(logd.port, "GET", "/tile/0/005", 404, "notFound");
	expect(logd.port, "GET", "/tile/2/000.p/1", 404, "notFound");
	expect(logd.port, "GET", "/tile/data/005", 404, "notFound");
	expect(logd.port, "POST", "/checkpoint", 405, "methodNotAllowed");
	/* full tiles are immutable; data tiles gzip-encoded */
	{
		struct http_resp r;
		assert_int_equal(http_do(logd.port, "GET", "/tile/0/000", NULL, NULL, 0, &r), 0);
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body_len, 8192);
		assert_non_null(strstr(r.headers, "Cache-Control: public, max-age=604800, immutable"));
		http_resp_free(&r);
		assert_int_equal(http_do(logd.port, "GET", "/tile/data/000", NULL, NULL, 0, &r), 0);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.headers, "Content-Encoding: gzip"));
		assert_true(r.body_len > 2 && r.body[0] == 0x1f && r.body[1] == 0x8b);
		http_resp_free(&r);
	}
	/* our own parser and verifiers agree with Go's on the same checkpoint */
	{
		struct http_resp r, ri;
		struct note_checkpoint cp;
		struct ct_verifier *v = ct_verifier_new(logd.spki, logd.spki_len);
		json_error_t e;
		json_t *info;
		const char *vk;
		uint64_t ts = 0;
		assert_int_equal(http_do(logd.port, "GET", "/checkpoint", NULL, NULL, 0, &r), 0);
		assert_int_equal(http_do(logd.port, "GET", "/mn/v1/info", NULL, NULL, 0, &ri), 0);
		info = json_loadb((char *)ri.body, ri.body_len, 0, &e);
		assert_non_null(info);
		vk = json_string_value(json_object_get(info, "note_vkey"));
		assert_non_null(vk);
		assert_non_null(strstr(logd.log_line, vk));
		assert_int_equal(note_parse_checkpoint(&cp, r.body, r.body_len), 0);
		assert_int_equal(cp.tree_size, sizes[2]);
		assert_true(note_verify_rfc6962(&cp, v, &ts));
		assert_true(ts > 0);
		assert_true(note_verify_ed25519(&cp, vk, strlen(vk)));
		/* one flipped byte of the text: neither verifies */
		((char *)r.body)[cp.origin_len + 1] ^= 1;
		if (note_parse_checkpoint(&cp, r.body, r.body_len) == 0) {
			assert_false(note_verify_rfc6962(&cp, v, &ts));
			assert_false(note_verify_ed25519(&cp, vk, strlen(vk)));
		}
		json_decref(info);
		ct_verifier_free(v);
		http_resp_free(&r);
		http_resp_free(&ri);
	}
	assert_int_equal(logd_stop(&logd, 15), 0);
	pki_free(ca);
	pki_free(root);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tiles_cross_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
