/* test_mnctl.c: the mnctl binary against a real logd, and against a proxy in
 * this test that makes the log lie in each way mnctl must catch.
 *
 * The tests run in order and share one log: info pins the key, add-chain
 * fills the log, later tests read it. Expected values come from the test's
 * own PKI (names, SHA-256 of the issuer key) and from entry/ and merkle/ used
 * directly, not from mnctl's output. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "entry/ct.h"
#include "merkle/merkle.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

enum tamper {
	T_PASS,
	T_SCT,     /* flip a byte of the SCT signature in add-chain responses */
	T_PROOF,   /* flip a byte of audit_path[0] / consistency[0] */
	T_STH,     /* flip a byte of the STH root */
	T_ENTRY,   /* flip a byte of entries[0].leaf_input */
	T_ENTRY_INDEX, /* flip the last byte of entries[0].leaf_input: its leaf_index */
	T_HANG,    /* never answer; wait for the client to give up */
	T_CUT,     /* 503 for get-entries from index 4 on (an interrupted run) */
};

static struct {
	char dir[64], cfg[128], roots[128], keyfile[128], watch[128];
	struct pki_cert *root, *ca, *other_root;
	struct logd_proc a, b;
	int b_running;
	uint8_t empty_root[32];
	size_t num_added;     /* entries in log A */
	size_t num_example;   /* of which match example.com */
	uint8_t leaf0_hash[32];
	/* the proxy */
	int lfd;
	uint16_t pport;
	atomic_int upstream;   /* port of the log the proxy forwards to */
	atomic_int mode;
	atomic_int tampered;   /* responses changed so far */
	pthread_t thr;
	char url_a[64], url_p[64];
} T;

/* --- the lying proxy ----------------------------------------------------- */

/* flip_b64 decodes the base64 string |v|, flips a bit of byte |pos| (from the
 * end if negative) and sets it back. Returns 1 if it changed something. */
static int flip_b64(json_t *v, long pos)
{
	uint8_t *p;
	size_t l;
	char *s;
	int ok = 0;

	if (!json_is_string(v) ||
	    mn_b64_decode(&p, &l, json_string_value(v), json_string_length(v), 1 << 24) != 0)
		return 0;
	if (l > 0) {
		size_t i = pos < 0 ? l - (size_t)(-pos) : (size_t)pos;
		p[i % l] ^= 0x01;
		s = malloc(mn_b64_encoded_len(l) + 1);
		mn_b64_encode(s, p, l);
		ok = json_string_set(v, s) == 0;
		free(s);
	}
	free(p);
	return ok;
}

static char *tamper_body(const char *target, const uint8_t *body, size_t len)
{
	int mode = atomic_load(&T.mode);
	json_t *j, *v = NULL;
	char *out = NULL;
	long pos = -1;

	if (mode == T_PASS)
		return NULL;
	j = json_loadb((const char *)body, len, 0, NULL);
	if (j == NULL)
		return NULL;
	if (mode == T_SCT && strstr(target, "/ct/v1/add-") == target) {
		v = json_object_get(j, "signature");
	} else if (mode == T_PROOF && strstr(target, "/ct/v1/get-proof-by-hash") == target) {
		v = json_array_get(json_object_get(j, "audit_path"), 0);
		pos = 7;
	} else if (mode == T_PROOF && strstr(target, "/ct/v1/get-sth-consistency") == target) {
		v = json_array_get(json_object_get(j, "consistency"), 0);
		pos = 7;
	} else if (mode == T_STH && strcmp(target, "/ct/v1/get-sth") == 0) {
		v = json_object_get(j, "sha256_root_hash");
		pos = 3;
	} else if (mode == T_ENTRY && strstr(target, "/ct/v1/get-entries") == target) {
		/* a byte inside the certificate's signature: it still decodes
		 * (before the 2 + 8 bytes of the leaf_index extension, which a
		 * new log's leaves end with: a flip there is caught as a wrong
		 * index, before the hashes) */
		v = json_object_get(json_array_get(json_object_get(j, "entries"), 0),
				    "leaf_input");
		pos = -15;
	} else if (mode == T_ENTRY_INDEX && strstr(target, "/ct/v1/get-entries") == target) {
		v = json_object_get(json_array_get(json_object_get(j, "entries"), 0),
				    "leaf_input");
		pos = -1;
	}
	if (v != NULL && flip_b64(v, pos)) {
		out = json_dumps(j, JSON_COMPACT);
		atomic_fetch_add(&T.tampered, 1);
	}
	json_decref(j);
	return out;
}

static void write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

/* serve_one reads one HTTP/1.1 request, forwards it to the upstream log with
 * proc.h's http_do, rewrites the response and answers with Connection: close. */
static void serve_one(int fd)
{
	char buf[1 << 16], method[16], target[2048], head[256];
	size_t n = 0, hl, cl = 0;
	char *end, *p, *changed;
	struct http_resp r;

	for (;;) {
		ssize_t got;
		if (n == sizeof(buf) - 1)
			return;
		got = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (got <= 0)
			return;
		n += (size_t)got;
		buf[n] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
	}
	hl = (size_t)(end + 4 - buf);
	if ((p = strcasestr(buf, "\r\nContent-Length:")) != NULL && p < end)
		cl = strtoul(p + 17, NULL, 10);
	if (cl > sizeof(buf) - 1 - hl)
		return;
	while (n < hl + cl) {
		ssize_t got = read(fd, buf + n, hl + cl - n);
		if (got <= 0)
			return;
		n += (size_t)got;
	}
	if (sscanf(buf, "%15s %2047s", method, target) != 2)
		return;
	if (atomic_load(&T.mode) == T_CUT && strncmp(target, "/ct/v1/get-entries?start=", 25) == 0 &&
	    strtoul(target + 25, NULL, 10) >= 4) {
		static const char busy[] = "HTTP/1.1 503 X\r\nContent-Length: 0\r\n"
					   "Connection: close\r\n\r\n";
		write_all(fd, busy, sizeof(busy) - 1);
		atomic_fetch_add(&T.tampered, 1);
		return;
	}
	if (atomic_load(&T.mode) == T_HANG) {
		/* counted first, so the count is there when the client has given
		 * up; then read until the client closes: it must time out by itself */
		atomic_fetch_add(&T.tampered, 1);
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		return;
	}
	if (http_do((uint16_t)atomic_load(&T.upstream), method, target,
		    cl ? "Content-Type: application/json\r\n" : NULL, buf + hl, cl, &r) != 0)
		return;
	changed = r.status == 200 ? tamper_body(target, r.body, r.body_len) : NULL;
	{
		const char *b = changed ? changed : (const char *)r.body;
		size_t bl = changed ? strlen(changed) : r.body_len;
		int l = snprintf(head, sizeof(head),
				 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
				 r.status, bl);
		write_all(fd, head, (size_t)l);
		write_all(fd, b, bl);
	}
	free(changed);
	http_resp_free(&r);
}

static void *proxy_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(T.lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			return NULL; /* shutdown() of the listener */
		}
		serve_one(fd);
		close(fd);
	}
}

static int proxy_start(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (T.lfd < 0 || bind(T.lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(T.lfd, 16) != 0 || getsockname(T.lfd, (struct sockaddr *)&sa, &sl) != 0)
		return -1;
	T.pport = ntohs(sa.sin_port);
	return pthread_create(&T.thr, NULL, proxy_main, NULL);
}

/* --- running mnctl ------------------------------------------------------- */

/* run_mnctl runs $MN_BUILD/mnctl --config T.cfg ARGS... (NULL-terminated;
 * tests/lib/mnrun) and returns its exit code, or -1 if it did not exit; *out
 * and *err get its stdout and stderr (free them). */
static int run_mnctl(const char *const *args, char **out, char **err)
{
	return mnrun_mnctl_pre(T.dir, MNRUN_ARGV("--config", T.cfg), args, out, err);
}

/* expect_rc runs mnctl and checks the exit code (and, for expect_fail, that
 * stderr names the failure); on a mismatch it prints mnctl's output. Returns
 * stdout (free it). */
#define expect_rc(rc, ...) expect_rc_(__LINE__, rc, NULL, MNRUN_ARGV(__VA_ARGS__))
#define expect_fail(rc, needle, ...) expect_rc_(__LINE__, rc, needle, MNRUN_ARGV(__VA_ARGS__))
static char *expect_rc_(int line, int rc, const char *needle, const char *const *args)
{
	char *out = NULL, *err = NULL;
	int got = run_mnctl(args, &out, &err);

	if (!mnrun_expect(line, got, out, err, rc, needle, MNRUN_STDERR)) {
		free(out);
		free(err);
		fail();
	}
	free(err);
	return out;
}

/* json_lines parses every line of |s| as a JSON object into |out|. */
static size_t json_lines(char *s, json_t **out, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *l = strtok_r(s, "\n", &save); l != NULL && n < max;
	     l = strtok_r(NULL, "\n", &save)) {
		out[n] = json_loads(l, 0, NULL);
		assert_non_null(out[n]);
		n++;
	}
	return n;
}

static void json_lines_free(json_t **j, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(j[i]);
}

/* --- fixtures ------------------------------------------------------------ */

static struct pki_cert *issue(const struct pki_cert *ca, const char *name)
{
	const char *dns[2] = {name, "alt.unrelated.test"};
	int64_t now = pki_now();
	struct pki_cert *c = pki_issue(ca, name, dns, 2, 0, now - 3600, now + 86400 * 90);
	assert_non_null(c);
	return c;
}

/* write_chain writes |leaf| to dir/NAME.pem and the CA to dir/ca.pem. */
static void write_leaf(const struct pki_cert *leaf, const char *name, char *path,
		       size_t path_len)
{
	const struct pki_cert *one[1] = {leaf};
	snprintf(path, path_len, "%s/%s.pem", T.dir, name);
	assert_int_equal(pki_write_pem(path, one, 1), 0);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void)
{
	const struct pki_cert *rs[1];
	char data[128], ca[128];
	const char *const *args;
	FILE *f;

	snprintf(T.dir, sizeof(T.dir), "/tmp/mnctl-test-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	snprintf(T.cfg, sizeof(T.cfg), "%s/config", T.dir);
	snprintf(T.roots, sizeof(T.roots), "%s/roots.pem", T.dir);
	snprintf(T.keyfile, sizeof(T.keyfile), "%s/key.der", T.dir);
	snprintf(T.watch, sizeof(T.watch), "%s/watch.txt", T.dir);
	T.root = pki_root("Test Root", 0);
	T.other_root = pki_root("Other Root", 0);
	if (T.root == NULL || T.other_root == NULL)
		return -1;
	T.ca = pki_issue(T.root, "Test CA", NULL, 0, PKI_CA, pki_now() - 86400,
			 pki_now() + 86400 * 365);
	rs[0] = T.root;
	if (T.ca == NULL || pki_write_pem(T.roots, rs, 1) != 0)
		return -1;
	rs[0] = T.ca;
	snprintf(ca, sizeof(ca), "%s/ca.pem", T.dir);
	if (pki_write_pem(ca, rs, 1) != 0)
		return -1;
	snprintf(data, sizeof(data), "%s/a", T.dir);
	{
		/* --max-entries 3: get-entries answers short, mnctl must go on */
		const char *a[] = {"--no-map", "--data", data, "--tls-roots", T.roots, "--threads", "1",
				   "--max-entries", "3", NULL};
		args = a;
		if (logd_start(&T.a, args) != 0)
			return -1;
	}
	if (logd_write_spki(&T.a, T.keyfile) != 0)
		return -1;
	f = fopen(T.watch, "w");
	if (f == NULL)
		return -1;
	fputs("# watched\n  Example.COM  \n\n*.nothing.invalid\n", f);
	fclose(f);
	snprintf(T.url_a, sizeof(T.url_a), "http://127.0.0.1:%u", T.a.port);
	atomic_store(&T.upstream, T.a.port);
	if (proxy_start() != 0)
		return -1;
	snprintf(T.url_p, sizeof(T.url_p), "http://127.0.0.1:%u/", T.pport);
	merkle_empty_root(T.empty_root);
	return 0;
}

static void teardown(void)
{
	shutdown(T.lfd, SHUT_RDWR);
	pthread_join(T.thr, NULL);
	close(T.lfd);
	logd_stop(&T.a, SIGTERM);
	if (T.b_running)
		logd_stop(&T.b, SIGTERM);
	pki_free(T.ca);
	pki_free(T.root);
	pki_free(T.other_root);
	nftw(T.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* add_direct submits a certificate for |name| to log A with mnctl and waits for
 * its inclusion. */
static void add_direct(const char *url, const char *name)
{
	char path[128], ca[128];
	struct pki_cert *c = issue(T.ca, name);
	char *out;

	write_leaf(c, "tmp", path, sizeof(path));
	snprintf(ca, sizeof(ca), "%s/ca.pem", T.dir);
	out = expect_rc(0, "--log", url, "--key", T.keyfile, "add-chain", path, ca,
			"--wait-inclusion");
	free(out);
	pki_free(c);
}

/* --- tests --------------------------------------------------------------- */

static void test_usage(void **state)
{
	char *out;

	(void)state;
	out = expect_rc(0, "--help");
	assert_non_null(strstr(out, "Exit codes"));
	assert_non_null(strstr(out, "3  verification failed"));
	free(out);
	free(expect_fail(1, "unknown command", "--log", T.url_a, "frobnicate"));
	free(expect_fail(1, "no log", "sth"));
	free(expect_fail(1, "START", "--log", T.url_a, "get-entries", "5", "2"));
}

static void test_info_pin(void **state)
{
	char path[256], wrong[128];
	json_t *j;
	char *out;
	size_t l;
	FILE *f;

	(void)state;
	/* no key pinned yet: sth refuses, info only shows */
	free(expect_fail(5, "no pinned key", "--log", T.url_a, "sth"));
	out = expect_rc(0, "info", T.url_a);
	assert_non_null(strstr(out, "NOT pinned"));
	free(out);
	/* a key file that is not the log's key: the log is not who we think */
	snprintf(wrong, sizeof(wrong), "%s/wrong.der", T.dir);
	{
		unsigned char *p = NULL;
		int n = i2d_PUBKEY(T.other_root->key, &p);
		assert_true(n > 0);
		f = fopen(wrong, "wb");
		assert_int_equal(fwrite(p, 1, (size_t)n, f), (size_t)n);
		fclose(f);
		OPENSSL_free(p);
	}
	free(expect_fail(3, "differs from the pinned key", "info", T.url_a, "--key", wrong));
	/* trust on first use pins the key the log serves */
	out = expect_rc(0, "--json", "info", T.url_a, "--trust-on-first-use");
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "pinned")));
	json_decref(j);
	free(out);
	snprintf(path, sizeof(path), "%s/logs/127.0.0.1_%u/key.der", T.cfg, T.a.port);
	{
		f = fopen(path, "rb");
		uint8_t buf[512];
		assert_non_null(f);
		l = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		assert_int_equal(l, T.a.spki_len);
		assert_memory_equal(buf, T.a.spki, l);
	}
	/* now pinned: info again verifies the served key against the pin */
	free(expect_rc(0, "info", T.url_a));
}

static void test_sth_empty(void **state)
{
	char *out;
	json_t *j;
	uint8_t root[32];

	(void)state;
	out = expect_rc(0, "--log", T.url_a, "--json", "sth");
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "tree_size")), 0);
	{
		uint8_t *p;
		size_t l;
		const json_t *r = json_object_get(j, "sha256_root_hash");
		assert_int_equal(mn_b64_decode(&p, &l, json_string_value(r), json_string_length(r), 32), 0);
		assert_int_equal(l, 32);
		memcpy(root, p, 32);
		free(p);
	}
	assert_memory_equal(root, T.empty_root, 32);
	json_decref(j);
	free(out);
	/* human form */
	out = expect_rc(0, "--log", T.url_a, "sth");
	assert_non_null(strstr(out, "tree_size 0\n"));
	assert_non_null(strstr(out, "root e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	free(out);
}

/* verify_sct_file checks the SCT list mnctl wrote, with entry/ct.h directly. */
static void verify_sct_file(const char *path, const struct pki_cert *leaf)
{
	uint8_t buf[1024];
	size_t n;
	struct cbs cbs, list, one;
	struct ct_sct sct;
	struct ct_entry e = {.entry_type = CT_X509_ENTRY};
	struct ct_verifier *v = ct_verifier_new(T.a.spki, T.a.spki_len);
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	cbs_init(&cbs, buf, n);
	assert_true(cbs_get_u16_length_prefixed(&cbs, &list));
	assert_int_equal(cbs_len(&cbs), 0);
	assert_true(cbs_get_u16_length_prefixed(&list, &one));
	assert_int_equal(cbs_len(&list), 0);
	assert_true(ct_parse_sct(&sct, cbs_data(&one), cbs_len(&one)));
	assert_memory_equal(sct.log_id, T.a.log_id, 32);
	e.body = leaf->der;
	e.body_len = leaf->der_len;
	assert_true(ct_verify_sct(v, &sct, &e));
	ct_verifier_free(v);
}

static void test_add_chain(void **state)
{
	char leafp[128], ca[128], sct[128], leafbin[128];
	struct pki_cert *c = issue(T.ca, "www.example.com");
	json_t *j[4];
	size_t n;
	char *out;

	(void)state;
	write_leaf(c, "leaf0", leafp, sizeof(leafp));
	snprintf(ca, sizeof(ca), "%s/ca.pem", T.dir);
	snprintf(sct, sizeof(sct), "%s/leaf0.sct", T.dir);
	snprintf(leafbin, sizeof(leafbin), "%s/leaf0.leaf", T.dir);
	out = expect_rc(0, "--log", T.url_a, "--json", "add-chain", leafp, ca, "--sct", sct,
			"--leaf", leafbin, "--wait-inclusion");
	n = json_lines(out, j, 4);
	assert_int_equal(n, 2);
	assert_true(json_is_true(json_object_get(j[0], "signature_verified")));
	assert_true(json_is_true(json_object_get(j[1], "included")));
	assert_int_equal(json_integer_value(json_object_get(j[1], "leaf_index")), 0);
	assert_int_equal(json_integer_value(json_object_get(j[1], "tree_size")), 1);
	json_lines_free(j, n);
	free(out);
	verify_sct_file(sct, c);
	/* the leaf file hashes to what the log's tree holds (checked in prove) */
	{
		struct ct_entry e;
		uint8_t buf[4096];
		struct merkle_hasher *h = merkle_hasher_new();
		FILE *f = fopen(leafbin, "rb");
		size_t l = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		assert_true(ct_parse_leaf(&e, buf, l));
		assert_int_equal(e.body_len, c->der_len);
		assert_memory_equal(e.body, c->der, c->der_len);
		merkle_leaf_hash(h, T.leaf0_hash, buf, l);
		merkle_hasher_free(h);
	}
	T.num_added = 1;
	T.num_example = 1;
	/* the same chain again: the log answers with the stored SCT */
	free(expect_rc(0, "--log", T.url_a, "add-chain", leafp, ca));
	pki_free(c);

	/* more: two matching example.com, two not */
	add_direct(T.url_a, "mail.example.com");
	add_direct(T.url_a, "example.org");
	add_direct(T.url_a, "example.com");
	add_direct(T.url_a, "notexample.com");
	T.num_added += 4;
	T.num_example += 2;
}

static void test_add_pre_chain(void **state)
{
	const char *dns[] = {"pre.example.com"};
	int64_t now = pki_now();
	struct pki_opts o = {.cn = "pre.example.com", .dns = dns, .num_dns = 1,
			     .flags = PKI_POISON, .not_before = now - 60,
			     .not_after = now + 86400 * 30};
	struct pki_cert *pre = pki_issue_opts(T.ca, &o);
	char path[128], ca[128];
	char *out;

	(void)state;
	assert_non_null(pre);
	write_leaf(pre, "pre", path, sizeof(path));
	snprintf(ca, sizeof(ca), "%s/ca.pem", T.dir);
	out = expect_rc(0, "--log", T.url_a, "add-pre-chain", path, ca, "--wait-inclusion");
	assert_non_null(strstr(out, "signature verified"));
	assert_non_null(strstr(out, "included: entry 5 "));
	free(out);
	T.num_added++;
	T.num_example++;
	/* a precertificate to add-chain, and a chain to an unknown root: rejected */
	free(expect_fail(4, "HTTP 400", "--log", T.url_a, "add-chain", path, ca));
	{
		struct pki_cert *foreign = issue(T.other_root, "x.example.com");
		write_leaf(foreign, "foreign", path, sizeof(path));
		free(expect_fail(4, "rejected", "--log", T.url_a, "add-chain", path));
		pki_free(foreign);
	}
	pki_free(pre);
}

static void test_get_entries(void **state)
{
	static const char *const names[] = {"www.example.com", "mail.example.com",
					    "example.org", "example.com", "notexample.com",
					    "pre.example.com"};
	json_t *j[16];
	char end[16], ikh[65];
	uint8_t hash[32];
	size_t n;
	char *out;

	(void)state;
	assert_int_equal(T.num_added, 6);
	snprintf(end, sizeof(end), "%zu", T.num_added - 1);
	out = expect_rc(0, "--log", T.url_a, "--json", "get-entries", "0", end);
	n = json_lines(out, j, 16);
	assert_int_equal(n, T.num_added);
	for (size_t i = 0; i < n; i++) {
		const json_t *dn = json_object_get(j[i], "dns_names");
		assert_int_equal(json_integer_value(json_object_get(j[i], "index")), i);
		assert_true(json_is_true(json_object_get(j[i], "verified")));
		assert_true(json_integer_value(json_object_get(j[i], "timestamp")) > 1700000000000);
		assert_string_equal(json_string_value(json_array_get(dn, 0)), names[i]);
		if (i < 5) {
			assert_string_equal(json_string_value(json_object_get(j[i], "entry_type")),
					    "x509_entry");
			assert_string_equal(json_string_value(json_array_get(dn, 1)),
					    "alt.unrelated.test");
			assert_null(json_object_get(j[i], "issuer_key_hash"));
		}
	}
	/* the precert: its type, and the hash of the issuer's key */
	assert_string_equal(json_string_value(json_object_get(j[5], "entry_type")),
			    "precert_entry");
	assert_int_equal(pki_spki_sha256(T.ca, hash), 0);
	for (int i = 0; i < 32; i++)
		snprintf(ikh + 2 * i, 3, "%02x", hash[i]);
	assert_string_equal(json_string_value(json_object_get(j[5], "issuer_key_hash")), ikh);
	assert_non_null(strstr(json_string_value(json_object_get(j[5], "subject")),
			       "CN=pre.example.com"));
	json_lines_free(j, n);
	free(out);
	/* human form, a sub-range */
	out = expect_rc(0, "--log", T.url_a, "get-entries", "2", "3");
	assert_non_null(strstr(out, "#2 x509_entry"));
	assert_non_null(strstr(out, "dns: example.org"));
	assert_non_null(strstr(out, "#3 x509_entry"));
	assert_null(strstr(out, "#4"));
	free(out);
	/* a response over the cap is not read to the end */
	free(expect_fail(2, "larger than 1024 bytes", "--log", T.url_a, "--max-response",
			 "1024", "get-entries", "0", "2"));
}

static void test_prove(void **state)
{
	char leafbin[128], leafp[128], sct[128], hex[65];
	char *out;

	(void)state;
	snprintf(leafbin, sizeof(leafbin), "%s/leaf0.leaf", T.dir);
	snprintf(leafp, sizeof(leafp), "%s/leaf0.pem", T.dir);
	snprintf(sct, sizeof(sct), "%s/leaf0.sct", T.dir);
	out = expect_rc(0, "--log", T.url_a, "prove", leafbin);
	assert_non_null(strstr(out, "is entry 0 of the tree of size 6"));
	free(out);
	out = expect_rc(0, "--log", T.url_a, "prove", leafp, "--sct", sct);
	assert_non_null(strstr(out, "is entry 0 "));
	free(out);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", T.leaf0_hash[i]);
	out = expect_rc(0, "--log", T.url_a, "--json", "prove", "--hash", hex);
	assert_non_null(strstr(out, "\"leaf_index\":0"));
	free(out);
	/* a hash the log does not have */
	hex[0] = hex[0] == '0' ? '1' : '0';
	free(expect_fail(2, "not in the tree", "--log", T.url_a, "prove", "--hash", hex));
}

static void test_consistency(void **state)
{
	char *out;

	(void)state;
	/* sth saved size 6 in the history (prove did); grow, then prove 6 -> 7 */
	add_direct(T.url_a, "www2.example.com");
	T.num_added++;
	T.num_example++;
	out = expect_rc(0, "--log", T.url_a, "--json", "consistency", "6");
	assert_non_null(strstr(out, "\"first\":6"));
	assert_non_null(strstr(out, "\"second\":7"));
	free(out);
	out = expect_rc(0, "--log", T.url_a, "consistency", "0", "7");
	assert_non_null(strstr(out, "consistent"));
	free(out);
	out = expect_rc(0, "--log", T.url_a, "consistency", "1", "6");
	free(out);
	free(expect_fail(5, "no saved STH", "--log", T.url_a, "consistency", "100"));
}

static void test_monitor_resume(void **state)
{
	char st[128], end[16];
	json_t *j[32];
	size_t n, m = 0;
	char *out;

	(void)state;
	snprintf(st, sizeof(st), "%s/mon", T.dir);
	out = expect_rc(0, "--log", T.url_a, "--json", "monitor", "--watch", T.watch,
			"--state", st, "--batch", "2");
	n = json_lines(out, j, 32);
	assert_true(n >= 1);
	for (size_t i = 0; i + 1 < n; i++) {
		const char *name = json_string_value(json_array_get(json_object_get(j[i], "dns_names"), 0));
		assert_string_equal(json_string_value(json_object_get(j[i], "watched")), "example.com");
		assert_true(strcmp(name, "example.com") == 0 ||
			    (strlen(name) > 12 && strcmp(name + strlen(name) - 12, ".example.com") == 0));
		m++;
	}
	assert_int_equal(m, T.num_example);
	assert_int_equal(json_integer_value(json_object_get(j[n - 1], "new_entries")), T.num_added);
	assert_int_equal(json_integer_value(json_object_get(j[n - 1], "matches")), T.num_example);
	json_lines_free(j, n);
	free(out);

	/* two new entries, one watched: the second run sees only those */
	add_direct(T.url_a, "deep.sub.example.com");
	add_direct(T.url_a, "example.net");
	out = expect_rc(0, "--log", T.url_a, "--json", "monitor", "--watch", T.watch,
			"--state", st);
	n = json_lines(out, j, 32);
	assert_int_equal(n, 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j[0], "dns_names"), 0)),
			    "deep.sub.example.com");
	snprintf(end, sizeof(end), "%zu", T.num_added);
	assert_int_equal(json_integer_value(json_object_get(j[0], "index")), T.num_added);
	assert_int_equal(json_integer_value(json_object_get(j[1], "first_index")), T.num_added);
	assert_int_equal(json_integer_value(json_object_get(j[1], "new_entries")), 2);
	assert_int_equal(json_integer_value(json_object_get(j[1], "matches")), 1);
	json_lines_free(j, n);
	free(out);
	T.num_added += 2;
	T.num_example++;
	/* nothing new: nothing printed but the summary */
	out = expect_rc(0, "--log", T.url_a, "monitor", "--watch", T.watch, "--state", st);
	assert_non_null(strstr(out, ": 0 new entries, 0 matches"));
	free(out);
}

/* --- a lying log --------------------------------------------------------- */

static void set_mode(int mode)
{
	atomic_store(&T.mode, mode);
	atomic_store(&T.tampered, 0);
}

static void test_proxy_honest(void **state)
{
	char *out;

	(void)state;
	set_mode(T_PASS);
	/* through the proxy with --key instead of a pin: all verifies */
	out = expect_rc(0, "--log", T.url_p, "--key", T.keyfile, "sth");
	free(out);
	free(expect_rc(0, "--log", T.url_p, "--key", T.keyfile, "get-entries", "0", "1"));
}

/* An interrupted catch-up resumes from its last checkpoint. */
static void test_monitor_interrupted(void **state)
{
	char st[128], path[160];
	json_t *j[32];
	size_t n;
	char *out;

	(void)state;
	snprintf(st, sizeof(st), "%s/mon-cut", T.dir);
	set_mode(T_CUT);
	free(expect_fail(2, "HTTP 503", "--log", T.url_p, "--key", T.keyfile, "monitor",
			 "--watch", T.watch, "--state", st, "--batch", "2", "--checkpoint", "4"));
	assert_int_equal(atomic_load(&T.tampered), 1);
	snprintf(path, sizeof(path), "%s/state.json", st);
	assert_int_equal(access(path, F_OK), 0);
	set_mode(T_PASS);
	out = expect_rc(0, "--log", T.url_p, "--key", T.keyfile, "--json", "monitor",
			"--watch", T.watch, "--state", st, "--batch", "2", "--checkpoint", "4");
	n = json_lines(out, j, 32);
	assert_true(n >= 1);
	assert_int_equal(json_integer_value(json_object_get(j[n - 1], "first_index")), 4);
	assert_int_equal(json_integer_value(json_object_get(j[n - 1], "tree_size")),
			 T.num_added);
	/* entries 0..3 held www, mail and example.com: 3 of the matches */
	assert_int_equal(json_integer_value(json_object_get(j[n - 1], "matches")),
			 T.num_example - 3);
	json_lines_free(j, n);
	free(out);
}

static void test_lie_sct(void **state)
{
	struct pki_cert *c = issue(T.ca, "lied.example.com");
	char path[128], ca[128];

	(void)state;
	write_leaf(c, "lied", path, sizeof(path));
	snprintf(ca, sizeof(ca), "%s/ca.pem", T.dir);
	set_mode(T_SCT);
	free(expect_fail(3, "SCT signature does not verify", "--log", T.url_p, "--key",
			 T.keyfile, "add-chain", path, ca));
	assert_int_equal(atomic_load(&T.tampered), 1);
	set_mode(T_PASS);
	/* untouched, the same SCT verifies (the log dedups the submission) */
	free(expect_rc(0, "--log", T.url_p, "--key", T.keyfile, "add-chain", path, ca));
	T.num_added++;
	T.num_example++;
	pki_free(c);
}

static void test_lie_proof(void **state)
{
	char leafbin[128], hist[16];

	(void)state;
	snprintf(leafbin, sizeof(leafbin), "%s/leaf0.leaf", T.dir);
	set_mode(T_PASS);
	free(expect_rc(0, "--log", T.url_p, "--key", T.keyfile, "sth"));
	set_mode(T_PROOF);
	free(expect_fail(3, "inclusion proof", "--log", T.url_p, "--key", T.keyfile,
			 "prove", leafbin));
	assert_int_equal(atomic_load(&T.tampered), 1);
	/* consistency: from a saved size to the grown tree */
	snprintf(hist, sizeof(hist), "%zu", T.num_added);
	add_direct(T.url_a, "grow.example.com");
	T.num_added++;
	T.num_example++;
	set_mode(T_PROOF);
	free(expect_fail(3, "consistency proof", "--log", T.url_p, "--key", T.keyfile,
			 "consistency", hist));
	assert_int_equal(atomic_load(&T.tampered), 1);
	set_mode(T_PASS);
	free(expect_rc(0, "--log", T.url_p, "--key", T.keyfile, "consistency", hist));
}

/* A log that never answers: --timeout bounds every request. */
static void test_timeout(void **state)
{
	(void)state;
	set_mode(T_HANG);
	free(expect_fail(2, "imeout", "--log", T.url_p, "--key", T.keyfile, "--timeout", "1",
			 "sth"));
	assert_int_equal(atomic_load(&T.tampered), 1);
	set_mode(T_PASS);
}

static void test_lie_sth(void **state)
{
	(void)state;
	set_mode(T_STH);
	free(expect_fail(3, "STH signature", "--log", T.url_p, "--key", T.keyfile, "sth"));
	assert_int_equal(atomic_load(&T.tampered), 1);
	set_mode(T_PASS);
}

static void test_lie_entry(void **state)
{
	char st[128], path[160];

	(void)state;
	set_mode(T_ENTRY);
	free(expect_fail(3, "leaf_input", "--log", T.url_p, "--key", T.keyfile,
			 "get-entries", "0", "0"));
	assert_int_equal(atomic_load(&T.tampered), 1);
	/* the monitor recomputes the root and refuses; no state is saved */
	snprintf(st, sizeof(st), "%s/mon-lie", T.dir);
	set_mode(T_ENTRY);
	free(expect_fail(3, "altered entries", "--log", T.url_p, "--key", T.keyfile,
			 "monitor", "--watch", T.watch, "--state", st));
	assert_true(atomic_load(&T.tampered) >= 1);
	snprintf(path, sizeof(path), "%s/state.json", st);
	assert_int_equal(access(path, F_OK), -1);
	/* a leaf that names another index than its own (a new log's leaves
	 * carry the static-ct-api leaf_index) is refused before any hash */
	set_mode(T_ENTRY_INDEX);
	free(expect_fail(3, "not the static-ct-api leaf_index", "--log", T.url_p, "--key",
			 T.keyfile, "monitor", "--watch", T.watch, "--state", st));
	assert_int_equal(access(path, F_OK), -1);
	/* honest again, the same state directory works */
	set_mode(T_PASS);
	free(expect_rc(0, "--log", T.url_p, "--key", T.keyfile, "monitor", "--watch",
		       T.watch, "--state", st));
}

/* A split view: another log instance with the same key but other entries
 * answers instead. Its STHs are validly signed, but not consistent with what
 * mnctl saw before. */
static void test_lie_fork(void **state)
{
	char data[128], keypem[128], st[128];

	(void)state;
	set_mode(T_PASS);
	snprintf(st, sizeof(st), "%s/mon-fork", T.dir);
	free(expect_rc(0, "--log", T.url_p, "--key", T.keyfile, "monitor", "--watch",
		       T.watch, "--state", st));
	free(expect_rc(0, "--log", T.url_p, "--key", T.keyfile, "sth"));

	snprintf(data, sizeof(data), "%s/b", T.dir);
	snprintf(keypem, sizeof(keypem), "%s/a/log-key.pem", T.dir);
	{
		const char *a[] = {"--no-map", "--data", data, "--key", keypem, "--tls-roots", T.roots,
				   "--threads", "1", NULL};
		assert_int_equal(logd_start(&T.b, a), 0);
		T.b_running = 1;
	}
	assert_int_equal(T.b.spki_len, T.a.spki_len);
	assert_memory_equal(T.b.spki, T.a.spki, T.a.spki_len);
	{
		/* B must be larger than A for a consistency proof to exist */
		char url_b[64], name[64];
		snprintf(url_b, sizeof(url_b), "http://127.0.0.1:%u", T.b.port);
		for (size_t i = 0; i <= T.num_added; i++) {
			snprintf(name, sizeof(name), "fork%zu.example.com", i);
			add_direct(url_b, name);
		}
	}
	atomic_store(&T.upstream, T.b.port);
	free(expect_fail(3, "consistency proof", "--log", T.url_p, "--key", T.keyfile,
			 "monitor", "--watch", T.watch, "--state", st));
	free(expect_fail(3, "consistency proof", "--log", T.url_p, "--key", T.keyfile, "sth"));
	atomic_store(&T.upstream, T.a.port);
	free(expect_rc(0, "--log", T.url_p, "--key", T.keyfile, "sth"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_info_pin),
		cmocka_unit_test(test_sth_empty),
		cmocka_unit_test(test_add_chain),
		cmocka_unit_test(test_add_pre_chain),
		cmocka_unit_test(test_get_entries),
		cmocka_unit_test(test_prove),
		cmocka_unit_test(test_consistency),
		cmocka_unit_test(test_monitor_resume),
		cmocka_unit_test(test_proxy_honest),
		cmocka_unit_test(test_monitor_interrupted),
		cmocka_unit_test(test_lie_sct),
		cmocka_unit_test(test_lie_proof),
		cmocka_unit_test(test_lie_sth),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_lie_entry),
		cmocka_unit_test(test_lie_fork),
	};
	signal(SIGPIPE, SIG_IGN);
	if (setup() != 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	atexit(teardown);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
