/* test_mnctl_mn.c: mnctl's metanotary commands (add-pgp, add-policy, lookup,
 * resolve) against a real logd with TLS and S/MIME roots and an OpenPGP
 * certifier, and against a proxy in this test that alters lookup, resolve and
 * submission answers.
 *
 * The OpenPGP keys and the endorsement are made by the gpg command line at test
 * time, so fingerprints come from gpg, not from mnctl; the policy's canonical
 * payload is a literal; entries mnctl reports are checked against what the
 * test reads from the log itself with get-entries and entry/ + merkle/. The
 * tests run in order and share one log. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "entry/ct.h"
#include "entry/pgp.h"
#include "entry/policy.h"
#include "merkle/merkle.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define ALICE_UID "Alice <alice@example.com>"

enum tamper {
	T_PASS,
	T_LOOKUP_PATH,    /* flip a byte of the last entry's audit_path[0] in lookup */
	T_LOOKUP_LEAF,    /* flip a byte of entries[0].leaf_input in lookup */
	T_LOOKUP_OPENING, /* flip a byte near the end of entries[0].opening */
	T_LOOKUP_TYPE,    /* change entries[0].entry_type */
	T_PGP_SCT,        /* flip a byte of the SCT signature of add-pgp */
	T_POLICY_SCT,     /* flip a byte of sct.signature of add-policy */
	T_RESOLVE_PATH,   /* flip a byte of pgp[0].audit_path[0] in resolve */
	T_POLICY_BARE,    /* answer add-policy with the bare SCT, as for a duplicate */
};

static struct {
	char dir[64], cfg[128], keyfile[128], home[128];
	char alice[41], ca[41], eve[41];
	struct pki_cert *root, *tca, *sroot, *sca;
	struct logd_proc logd;
	struct merkle_hasher *h;
	char url[64], url_p[64];
	/* leaf indexes as the test knows them */
	uint64_t next, pgp_idx, signer_idx;
	uint64_t smime_idx, deep_idx, mbox_idx; /* test_more_certs */
	uint64_t example_com[32]; /* every entry example.com --subdomains finds */
	size_t num_example_com;
	/* the proxy */
	int lfd;
	uint16_t pport;
	atomic_int mode;
	atomic_int tampered;
	pthread_t thr;
} T;

/* --- the lying proxy (as in test_mnctl.c) -------------------------------- */

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
	int mode = atomic_load(&T.mode), changed = 0;
	json_t *j, *ents, *v = NULL;
	char *out = NULL;
	long pos = -1;

	if (mode == T_PASS)
		return NULL;
	j = json_loadb((const char *)body, len, 0, NULL);
	if (j == NULL)
		return NULL;
	ents = json_object_get(j, "entries");
	if (strncmp(target, "/mn/v1/lookup", 13) == 0) {
		if (mode == T_LOOKUP_PATH) {
			v = json_array_get(json_object_get(json_array_get(ents, json_array_size(ents) - 1),
							   "audit_path"), 0);
			pos = 5;
		} else if (mode == T_LOOKUP_LEAF) {
			v = json_object_get(json_array_get(ents, 0), "leaf_input");
			pos = -3;
		} else if (mode == T_LOOKUP_OPENING) {
			v = json_object_get(json_array_get(ents, 0), "opening");
			pos = -2; /* in the certifier signature (v2 opening) */
		} else if (mode == T_LOOKUP_TYPE && json_array_size(ents) > 0) {
			json_object_set_new(json_array_get(ents, 0), "entry_type", json_integer(0));
			changed = 1;
		}
	} else if (mode == T_PGP_SCT && strcmp(target, "/mn/v1/add-pgp") == 0) {
		v = json_object_get(j, "signature");
	} else if (mode == T_POLICY_SCT && strcmp(target, "/mn/v1/add-policy") == 0) {
		v = json_object_get(json_object_get(j, "sct"), "signature");
	} else if (mode == T_RESOLVE_PATH && strncmp(target, "/mn/v1/resolve", 14) == 0) {
		v = json_array_get(json_object_get(json_array_get(json_object_get(j, "pgp"), 0),
						   "audit_path"), 0);
		pos = 9;
	}
	if (mode == T_POLICY_BARE && strcmp(target, "/mn/v1/add-policy") == 0) {
		out = json_dumps(json_object_get(j, "sct"), JSON_COMPACT);
		atomic_fetch_add(&T.tampered, 1);
	}
	if (v != NULL && flip_b64(v, pos))
		changed = 1;
	if (changed) {
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

static void serve_one(int fd)
{
	static char buf[1 << 20];
	char method[16], target[2048], head[256];
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
	if (http_do(T.logd.port, method, target, cl ? "Content-Type: application/json\r\n" : NULL,
		    buf + hl, cl, &r) != 0)
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
			return NULL;
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

static void set_mode(int mode)
{
	atomic_store(&T.mode, mode);
	atomic_store(&T.tampered, 0);
}

/* --- running mnctl ------------------------------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		buf[0] = '\0';
	fclose(f);
	return buf;
}

/* run_mnctl runs $MN_BUILD/mnctl --config T.cfg ARGS... (NULL-terminated;
 * tests/lib/mnrun) and returns its exit code, or -1 if it did not exit; *out
 * and *err get its stdout and stderr (free them). */
static int run_mnctl(const char *const *args, char **out, char **err)
{
	return mnrun_mnctl_pre(T.dir, MNRUN_ARGV("--config", T.cfg), args, out, err);
}

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

static uint64_t jint(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	assert_true(json_is_integer(v));
	return (uint64_t)json_integer_value(v);
}

static const char *jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_string(v))
		fprintf(stderr, "no string %s in %s\n", key, json_dumps(o, 0));
	assert_true(json_is_string(v));
	return json_string_value(v);
}

/* --- fixtures ------------------------------------------------------------ */

static int gpg(const char *args)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "gpg --batch --quiet --no-tty --homedir %s --pinentry-mode loopback "
		 "--passphrase '' %s >>%s/gpg.log 2>&1",
		 T.home, args, T.dir);
	return system(cmd);
}

static int fpr_of(const char *who, char out[41])
{
	char cmd[512], line[512];
	FILE *p;
	int found = 0;

	snprintf(cmd, sizeof(cmd),
		 "gpg --batch --no-tty --homedir %s --with-colons --list-keys '%s' 2>/dev/null",
		 T.home, who);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	while (fgets(line, sizeof(line), p))
		if (!found && strncmp(line, "fpr:::::::::", 12) == 0 && strlen(line) >= 52) {
			memcpy(out, line + 12, 40);
			out[40] = '\0';
			found = 1;
		}
	pclose(p);
	return found ? 0 : -1;
}

static void tpath(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", T.dir, name);
}

static int make_pgp(void)
{
	char a[512], p[128];

	snprintf(T.home, sizeof(T.home), "%s/gnupg", T.dir);
	if (mkdir(T.home, 0700) != 0)
		return -1;
	if (gpg("--quick-gen-key '" ALICE_UID "' ed25519 sign 1y") ||
	    gpg("--quick-gen-key 'Cert Authority <ca@certifier.example>' ed25519 sign 1y") ||
	    gpg("--quick-gen-key 'Eve <eve@evil.example>' ed25519 sign 1y") ||
	    fpr_of("alice@example.com", T.alice) || fpr_of("ca@certifier.example", T.ca) ||
	    fpr_of("eve@evil.example", T.eve))
		return -1;
	snprintf(a, sizeof(a), "--quick-add-key %s cv25519 encr 1y", T.alice);
	if (gpg(a))
		return -1;
	snprintf(a, sizeof(a), "-u %s --quick-sign-key %s", T.ca, T.alice);
	if (gpg(a))
		return -1;
	tpath(p, sizeof(p), "alice.gpg");
	snprintf(a, sizeof(a), "--output %s --export %s", p, T.alice);
	if (gpg(a))
		return -1;
	tpath(p, sizeof(p), "alice.asc");
	snprintf(a, sizeof(a), "--armor --output %s --export %s", p, T.alice);
	if (gpg(a))
		return -1;
	tpath(p, sizeof(p), "certifiers.gpg");
	snprintf(a, sizeof(a), "--output %s --export %s", p, T.ca);
	return gpg(a) ? -1 : 0;
}

static int setup(void)
{
	char roots[128], sroots[128], data[128];
	int64_t now = pki_now();

	snprintf(T.dir, sizeof(T.dir), "/tmp/mnctl-mn-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	tpath(T.cfg, sizeof(T.cfg), "config");
	tpath(T.keyfile, sizeof(T.keyfile), "logkey.der");
	if (make_pgp() != 0) {
		fprintf(stderr, "gpg fixtures failed (see %s/gpg.log)\n", T.dir);
		return -1;
	}
	T.root = pki_root("Client Test Root", 0);
	T.sroot = pki_root("Client Mail Root", 0);
	if (T.root == NULL || T.sroot == NULL)
		return -1;
	T.tca = pki_issue(T.root, "Client Test CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	T.sca = pki_issue(T.sroot, "Client Mail CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	tpath(roots, sizeof(roots), "roots.pem");
	tpath(sroots, sizeof(sroots), "sroots.pem");
	tpath(data, sizeof(data), "data");
	{
		const struct pki_cert *r[1] = {T.root}, *s[1] = {T.sroot};
		if (T.tca == NULL || T.sca == NULL || pki_write_pem(roots, r, 1) != 0 ||
		    pki_write_pem(sroots, s, 1) != 0)
			return -1;
	}
	{
		char certs[128];
		tpath(certs, sizeof(certs), "certifiers.gpg");
		const char *a[] = {"--data", data, "--tls-roots", roots, "--smime-roots", sroots,
				   "--certifiers", certs, "--threads", "1", NULL};
		if (logd_start(&T.logd, a) != 0)
			return -1;
	}
	if (logd_write_spki(&T.logd, T.keyfile) != 0)
		return -1;
	snprintf(T.url, sizeof(T.url), "http://127.0.0.1:%u", T.logd.port);
	if (proxy_start() != 0)
		return -1;
	snprintf(T.url_p, sizeof(T.url_p), "http://127.0.0.1:%u", T.pport);
	T.h = merkle_hasher_new();
	T.next = 1; /* a new mapped log: leaf 0 is the root of the empty map */
	return T.h == NULL ? -1 : 0;
}

static void teardown(void)
{
	char cmd[512];

	shutdown(T.lfd, SHUT_RDWR);
	pthread_join(T.thr, NULL);
	close(T.lfd);
	logd_stop(&T.logd, SIGTERM);
	pki_free(T.tca);
	pki_free(T.root);
	pki_free(T.sca);
	pki_free(T.sroot);
	merkle_hasher_free(T.h);
	snprintf(cmd, sizeof(cmd), "gpgconf --homedir %s --kill gpg-agent >/dev/null 2>&1; rm -rf '%s'",
		 T.home, T.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
}

/* get_leaf reads leaf |index| from the log with get-entries (malloc'd). */
static uint8_t *get_leaf(uint64_t index, size_t *len)
{
	char target[96];
	struct http_resp r;
	json_t *j;
	const json_t *v;
	uint8_t *leaf;

	snprintf(target, sizeof(target), "/ct/v1/get-entries?start=%llu&end=%llu",
		 (unsigned long long)index, (unsigned long long)index);
	assert_int_equal(http_do(T.logd.port, "GET", target, NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	j = json_loadb((const char *)r.body, r.body_len, 0, NULL);
	v = json_object_get(json_array_get(json_object_get(j, "entries"), 0), "leaf_input");
	assert_int_equal(mn_b64_decode(&leaf, len, json_string_value(v), json_string_length(v),
				       1 << 24), 0);
	json_decref(j);
	http_resp_free(&r);
	return leaf;
}

static void hex_of(char *out, const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* add_cert logs a certificate with add-chain directly (not through mnctl). */
static uint64_t add_cert(const struct pki_cert *leaf, const struct pki_cert *ca)
{
	json_t *arr = json_array(), *o = json_object();
	const struct pki_cert *c[2] = {leaf, ca};
	struct http_resp r;
	char *body;

	for (int i = 0; i < 2; i++) {
		char *e = malloc(mn_b64_encoded_len(c[i]->der_len) + 1);
		mn_b64_encode(e, c[i]->der, c[i]->der_len);
		json_array_append_new(arr, json_string(e));
		free(e);
	}
	json_object_set_new(o, "chain", arr);
	body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	assert_int_equal(http_do(T.logd.port, "POST", "/ct/v1/add-chain", NULL, body, strlen(body),
				 &r), 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(body);
	T.next += 2; /* the certificate, then the batch's map-root leaf */
	return T.next - 2;
}

static void example_com(uint64_t index)
{
	T.example_com[T.num_example_com++] = index;
}

/* --- tests --------------------------------------------------------------- */

static void test_pin(void **state)
{
	(void)state;
	free(expect_rc(0, "info", T.url, "--trust-on-first-use"));
	free(expect_fail(1, "--user-id", "--log", T.url, "add-pgp", "x.gpg"));
	free(expect_fail(1, "hex", "--log", T.url, "add-pgp", "x.gpg", "--user-id", ALICE_UID,
			 "--signer", "nothex"));
	free(expect_fail(1, "add-policy", "--log", T.url, "add-policy", "p.json"));
	free(expect_fail(1, "lookup", "--log", T.url, "lookup"));
	free(expect_fail(1, "--protocol", "--log", T.url, "resolve", "example.com"));
}

static void test_add_pgp(void **state)
{
	char path[128], asc[128], hex[65];
	json_t *j[4];
	size_t n, leaf_len;
	uint8_t *leaf, hash[32];
	struct ct_entry e;
	struct pgp_body b;
	char *out;

	(void)state;
	tpath(path, sizeof(path), "alice.gpg");
	tpath(asc, sizeof(asc), "alice.asc");
	out = expect_rc(0, "--log", T.url, "--json", "add-pgp", path, "--user-id", ALICE_UID,
			"--signer", T.ca, "--wait-inclusion");
	n = json_lines(out, j, 4);
	assert_int_equal(n, 2);
	assert_true(json_is_true(json_object_get(j[0], "signature_verified")));
	assert_string_equal(jstr(j[0], "endorsed_fpr"), T.alice);
	assert_string_equal(jstr(j[0], "certifier_fpr"), T.ca);
	assert_int_equal(jint(j[0], "leaf_index"), T.next);
	assert_true(json_is_true(json_object_get(j[1], "included")));
	assert_int_equal(jint(j[1], "leaf_index"), T.next);
	/* the leaf the log holds there is the endorsement mnctl reported */
	leaf = get_leaf(T.next, &leaf_len);
	merkle_leaf_hash(T.h, hash, leaf, leaf_len);
	hex_of(hex, hash, 32);
	assert_string_equal(jstr(j[0], "leaf_hash"), hex);
	assert_true(ct_parse_leaf(&e, leaf, leaf_len));
	assert_int_equal(e.entry_type, MN_PGP_ENDORSEMENT_ENTRY);
	assert_int_equal(e.timestamp, jint(j[0], "timestamp"));
	assert_int_equal(pgp_body_parse(&b, e.body, e.body_len), 0);
	assert_int_equal(cbs_len(&b.endorsed_fpr), 20);
	free(leaf);
	json_lines_free(j, n);
	free(out);
	T.pgp_idx = T.next++;
	T.next++; /* map-root leaf */
	example_com(T.pgp_idx);

	/* armored, signer in lower case with spaces: the same endorsement (the log
	 * answers with the first SCT, which mnctl verifies over the first leaf) */
	{
		char sp[64];
		size_t k = 0;
		for (int i = 0; i < 40; i++) {
			sp[k++] = (char)(T.ca[i] >= 'A' ? T.ca[i] + 32 : T.ca[i]);
			if (i % 4 == 3 && i < 39)
				sp[k++] = ' ';
		}
		sp[k] = '\0';
		out = expect_rc(0, "--log", T.url, "add-pgp", asc, "--user-id", ALICE_UID,
				"--signer", sp);
		assert_non_null(strstr(out, "signature verified over entry 1 "));
		free(out);
	}
	/* refusals: a signer that is not a certifier, a user ID not on the key */
	free(expect_fail(4, "HTTP 400", "--log", T.url, "add-pgp", path, "--user-id", ALICE_UID,
			 "--signer", T.eve));
	free(expect_fail(4, "rejected", "--log", T.url, "add-pgp", path, "--user-id",
			 "Alice <alice@example.org>", "--signer", T.ca));
	/* a corrupted armor checksum is caught locally */
	{
		char bad[128];
		char *text = slurp(asc), *eq;
		FILE *f;
		tpath(bad, sizeof(bad), "bad.asc");
		eq = strstr(text, "\n=");
		assert_non_null(eq);
		eq[2] = eq[2] == 'A' ? 'B' : 'A';
		f = fopen(bad, "w");
		fputs(text, f);
		fclose(f);
		free(text);
		free(expect_fail(5, "checksum", "--log", T.url, "add-pgp", bad, "--user-id",
				 ALICE_UID, "--signer", T.ca));
	}
}

/* signer: a certificate for |name| from the TLS CA with |key| (NULL: P-256);
 * writes NAME.key (PKCS#8 PEM) and NAME.pem (leaf, then CA). */
static struct pki_cert *signer(const char *name, EVP_PKEY *key, unsigned flags)
{
	const char *dns[1] = {name};
	int64_t now = pki_now();
	struct pki_opts o = {.cn = name, .dns = dns, .num_dns = 1, .flags = flags, .key = key,
			     .not_before = now - 3600, .not_after = now + 86400 * 30};
	struct pki_cert *c = pki_issue_opts(T.tca, &o);
	const struct pki_cert *chain[2] = {c, T.tca};
	char path[160];
	FILE *f;

	assert_non_null(c);
	snprintf(path, sizeof(path), "%s/%s.pem", T.dir, name);
	assert_int_equal(pki_write_pem(path, chain, 2), 0);
	snprintf(path, sizeof(path), "%s/%s.key", T.dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, c->key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	return c;
}

/* write_policy writes a policy with whitespace and keys out of order, and the
 * RFC 8785 form it must become into |canon|. */
static void write_policy(const char *file, const char *domain, const char *protocol,
			 int serial, char *canon, size_t canon_cap)
{
	long long now = (long long)time(NULL), iat = now - 60, exp = now + 86400;
	char path[160], extra[200], cextra[200];
	FILE *f;

	if (strcmp(protocol, "smtp") == 0) {
		snprintf(extra, sizeof(extra), ",\n  \"mx\": [ \"mx1.%s\", \"*.mail.%s\" ],\n"
			 "  \"tls\": { \"transport\": \"starttls\", \"min\": \"1.2\" }", domain, domain);
		snprintf(cextra, sizeof(cextra), "\"mx\":[\"mx1.%s\",\"*.mail.%s\"],", domain, domain);
	} else {
		snprintf(extra, sizeof(extra), ",\n  \"tls\": {\"transport\": \"implicit\", "
			 "\"min\": \"1.3\"}");
		cextra[0] = '\0';
	}
	snprintf(path, sizeof(path), "%s/%s", T.dir, file);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "{\n  \"v\": 1,\n  \"subject\": { \"domain\": \"%s\" },\n  \"protocol\": \"%s\",\n"
		"  \"serial\": %d, \"iat\": %lld, \"exp\": %lld,\n  \"mode\": \"enforce\"%s\n}\n",
		domain, protocol, serial, iat, exp, extra);
	fclose(f);
	snprintf(canon, canon_cap,
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",%s\"protocol\":\"%s\","
		 "\"serial\":%d,\"subject\":{\"domain\":\"%s\"},\"tls\":{\"min\":\"%s\","
		 "\"transport\":\"%s\"},\"v\":1}",
		 exp, iat, cextra, protocol, serial, domain,
		 strcmp(protocol, "smtp") == 0 ? "1.2" : "1.3",
		 strcmp(protocol, "smtp") == 0 ? "starttls" : "implicit");
}

/* check_policy_leaf: leaf |index| is a SignedPolicyBody of |jws| naming signer
 * entry |signer_index| and |signer|'s certificate hash; its hash is |hex|. */
static void check_policy_leaf(uint64_t index, const char *jws, uint64_t signer_index,
			      const struct pki_cert *signer_cert, const char *hex)
{
	size_t leaf_len;
	uint8_t *leaf = get_leaf(index, &leaf_len), hash[32], ch[32];
	struct ct_entry e;
	struct policy_body b;
	char h[65];

	merkle_leaf_hash(T.h, hash, leaf, leaf_len);
	hex_of(h, hash, 32);
	assert_string_equal(h, hex);
	assert_true(ct_parse_leaf(&e, leaf, leaf_len));
	assert_int_equal(e.entry_type, MN_SIGNED_POLICY_ENTRY);
	assert_true(policy_parse_body(&b, e.body, e.body_len));
	assert_int_equal(b.jws_len, strlen(jws));
	assert_memory_equal(b.jws, jws, b.jws_len);
	assert_int_equal(b.signer_index, signer_index);
	SHA256(signer_cert->der, signer_cert->der_len, ch);
	assert_memory_equal(b.signer_cert_hash, ch, 32);
	free(leaf);
}

/* jws_part decodes part |i| of a compact JWS (malloc'd, NUL-terminated). */
static char *jws_part(const char *jws, int i)
{
	const char *p = jws, *q;
	uint8_t *out;
	size_t len;
	char *s;

	for (int k = 0; k < i; k++)
		p = strchr(p, '.') + 1;
	q = strchr(p, '.');
	if (q == NULL)
		q = p + strlen(p);
	assert_int_equal(mn_b64url_decode(&out, &len, p, (size_t)(q - p), 1 << 20), 0);
	s = malloc(len + 1);
	memcpy(s, out, len);
	s[len] = '\0';
	free(out);
	return s;
}

static void test_add_policy_x5c(void **state)
{
	char pol[128], key[128], chain[128], canon[1024];
	struct pki_cert *c = signer("example.com", NULL, 0);
	json_t *j[4];
	size_t n;
	char *out, *hdr, *payload;

	(void)state;
	write_policy("pol1.json", "example.com", "smtp", 1, canon, sizeof(canon));
	tpath(pol, sizeof(pol), "pol1.json");
	tpath(key, sizeof(key), "example.com.key");
	tpath(chain, sizeof(chain), "example.com.pem");
	out = expect_rc(0, "--log", T.url, "--json", "add-policy", pol, "--key", key, "--chain",
			chain, "--wait-inclusion");
	n = json_lines(out, j, 4);
	assert_int_equal(n, 2);
	assert_true(json_is_true(json_object_get(j[0], "signature_verified")));
	assert_true(json_is_true(json_object_get(j[0], "signer_sct_verified")));
	/* the signer's chain was new: logged first */
	T.signer_idx = T.next++;
	T.next++; /* the signer's batch's map-root leaf */
	example_com(T.signer_idx);
	assert_int_equal(jint(j[0], "signer_leaf_index"), T.signer_idx);
	assert_int_equal(jint(j[0], "leaf_index"), T.next);
	assert_string_equal(jstr(j[0], "payload"), canon);
	payload = jws_part(jstr(j[0], "jws"), 1);
	assert_string_equal(payload, canon);
	free(payload);
	hdr = jws_part(jstr(j[0], "jws"), 0);
	assert_non_null(strstr(hdr, "\"alg\":\"ES256\""));
	assert_non_null(strstr(hdr, "\"x5c\":["));
	free(hdr);
	check_policy_leaf(T.next, jstr(j[0], "jws"), T.signer_idx, c, jstr(j[0], "leaf_hash"));
	assert_true(json_is_true(json_object_get(j[1], "included")));
	assert_int_equal(jint(j[1], "leaf_index"), T.next);
	json_lines_free(j, n);
	free(out);
	example_com(T.next++);
	T.next++; /* map-root leaf */
	/* the signer's certificate was logged as an x509_entry */
	{
		size_t l;
		uint8_t *leaf = get_leaf(T.signer_idx, &l);
		struct ct_entry e;
		assert_true(ct_parse_leaf(&e, leaf, l));
		assert_int_equal(e.entry_type, CT_X509_ENTRY);
		assert_int_equal(e.body_len, c->der_len);
		assert_memory_equal(e.body, c->der, c->der_len);
		free(leaf);
	}
	/* the same serial again is stale: refused */
	free(expect_fail(4, "HTTP 400", "--log-key", T.keyfile, "--log", T.url, "add-policy", pol,
			 "--key", key, "--chain", chain));
	/* a key that is not the certificate's */
	{
		char other[128];
		tpath(other, sizeof(other), "other.key");
		FILE *f = fopen(other, "w");
		assert_int_equal(PEM_write_PrivateKey(f, T.tca->key, NULL, NULL, 0, NULL, NULL), 1);
		fclose(f);
		free(expect_fail(5, "not the key", "--log", T.url, "add-policy", pol, "--key",
				 other, "--chain", chain));
	}
	pki_free(c);
}

static void test_add_policy_x5t(void **state)
{
	char pol[128], key[128], chain[128], canon[1024];
	json_t *j[4];
	size_t n;
	char *out, *hdr;
	const struct pki_cert *c;

	(void)state;
	write_policy("pol2.json", "example.com", "smtp", 2, canon, sizeof(canon));
	tpath(pol, sizeof(pol), "pol2.json");
	tpath(key, sizeof(key), "example.com.key");
	tpath(chain, sizeof(chain), "example.com.pem");
	out = expect_rc(0, "--log", T.url, "--log-key", T.keyfile, "--json", "add-policy", pol,
			"--key", key, "--chain", chain, "--x5t", "--wait-inclusion");
	n = json_lines(out, j, 4);
	assert_int_equal(n, 2);
	assert_true(json_is_true(json_object_get(j[0], "signature_verified")));
	assert_false(json_is_true(json_object_get(j[0], "signer_sct_verified")));
	assert_int_equal(jint(j[0], "signer_leaf_index"), T.signer_idx);
	assert_int_equal(jint(j[0], "leaf_index"), T.next);
	assert_string_equal(jstr(j[0], "payload"), canon);
	hdr = jws_part(jstr(j[0], "jws"), 0);
	assert_non_null(strstr(hdr, "\"x5t#S256\":"));
	assert_null(strstr(hdr, "x5c"));
	free(hdr);
	{
		/* the x5t#S256 names the signer certificate logged before */
		size_t l;
		uint8_t *leaf = get_leaf(T.signer_idx, &l);
		struct ct_entry e;
		struct pki_cert pc;
		assert_true(ct_parse_leaf(&e, leaf, l));
		pc.der = (uint8_t *)e.body;
		pc.der_len = e.body_len;
		c = &pc;
		check_policy_leaf(T.next, jstr(j[0], "jws"), T.signer_idx, c,
				  jstr(j[0], "leaf_hash"));
		free(leaf);
	}
	json_lines_free(j, n);
	free(out);
	example_com(T.next++);
	T.next++; /* map-root leaf */
}

/* Other key types: RSA with PS256, P-384 (ES384), Ed25519 (EdDSA, whose
 * deterministic signature makes a resubmission a duplicate). */
static void test_add_policy_algs(void **state)
{
	static const struct {
		const char *name, *type, *param, *alg, *protocol;
		int pss, in_example_com;
	} k[] = {
		{"mail.example.com", "RSA", NULL, "PS256", "imap", 1, 1},
		{"p384.example.com", "EC", "P-384", "ES384", "submission", 0, 1},
		{"example.net", "ED25519", NULL, "EdDSA", "https", 0, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		char pol[128], key[160], chain[160], canon[1024], file[64];
		EVP_PKEY *pk = k[i].param ? EVP_PKEY_Q_keygen(NULL, NULL, k[i].type, k[i].param)
			       : strcmp(k[i].type, "RSA") == 0
				       ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
				       : EVP_PKEY_Q_keygen(NULL, NULL, k[i].type);
		struct pki_cert *c;
		json_t *j[2];
		char *out, *hdr;
		size_t n;

		assert_non_null(pk);
		c = signer(k[i].name, pk, 0);
		EVP_PKEY_free(pk);
		snprintf(file, sizeof(file), "pol-%s.json", k[i].name);
		write_policy(file, k[i].name, k[i].protocol, 1, canon, sizeof(canon));
		tpath(pol, sizeof(pol), file);
		snprintf(key, sizeof(key), "%s/%s.key", T.dir, k[i].name);
		snprintf(chain, sizeof(chain), "%s/%s.pem", T.dir, k[i].name);
		if (k[i].pss)
			out = expect_rc(0, "--log", T.url, "--json", "add-policy", pol, "--key", key,
					"--chain", chain, "--pss");
		else
			out = expect_rc(0, "--log", T.url, "--json", "add-policy", pol, "--key", key,
					"--chain", chain);
		n = json_lines(out, j, 2);
		assert_int_equal(n, 1);
		hdr = jws_part(jstr(j[0], "jws"), 0);
		assert_non_null(strstr(hdr, k[i].alg));
		free(hdr);
		assert_string_equal(jstr(j[0], "payload"), canon);
		/* the signer, its map-root leaf, the policy, its map-root leaf */
		assert_int_equal(jint(j[0], "signer_leaf_index"), T.next);
		assert_int_equal(jint(j[0], "leaf_index"), T.next + 2);
		check_policy_leaf(T.next + 2, jstr(j[0], "jws"), T.next, c, jstr(j[0], "leaf_hash"));
		if (k[i].in_example_com) {
			example_com(T.next);
			example_com(T.next + 2);
		}
		T.next += 4;
		if (strcmp(k[i].alg, "EdDSA") == 0) {
			/* the identical JWS again: the log answers with the first entry */
			char *out2 = expect_rc(0, "--log", T.url, "--json", "add-policy", pol,
					       "--key", key, "--chain", chain);
			json_t *j2 = json_loads(out2, 0, NULL);
			assert_non_null(j2);
			assert_int_equal(jint(j2, "leaf_index"), T.next - 2);
			assert_int_equal(jint(j2, "timestamp"), jint(j[0], "timestamp"));
			assert_string_equal(jstr(j2, "leaf_hash"), jstr(j[0], "leaf_hash"));
			json_decref(j2);
			free(out2);
			/* answered with the bare first SCT (the documented duplicate
			 * answer): mnctl finds the entry by lookup and verifies there */
			set_mode(T_POLICY_BARE);
			out2 = expect_rc(0, "--log", T.url_p, "--log-key", T.keyfile, "--json",
					 "add-policy", pol, "--key", key, "--chain", chain);
			assert_int_equal(atomic_load(&T.tampered), 1);
			set_mode(T_PASS);
			j2 = json_loads(out2, 0, NULL);
			assert_non_null(j2);
			assert_true(json_is_true(json_object_get(j2, "duplicate")));
			assert_int_equal(jint(j2, "leaf_index"), T.next - 2);
			assert_int_equal(jint(j2, "signer_leaf_index"), T.next - 4);
			assert_string_equal(jstr(j2, "leaf_hash"), jstr(j[0], "leaf_hash"));
			json_decref(j2);
			free(out2);
		}
		json_lines_free(j, n);
		free(out);
		pki_free(c);
	}
}

/* more names: some below example.com, decoys, an S/MIME certificate for
 * alice@example.com */
static void test_more_certs(void **state)
{
	static const char *const names[] = {"www.example.com", "examples.com",
					    "deep.a.example.com", "example.co"};
	int64_t now = pki_now();

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *dns[1] = {names[i]};
		struct pki_cert *c = pki_issue(T.tca, names[i], dns, 1, 0, now - 60, now + 86400);
		uint64_t idx;
		assert_non_null(c);
		idx = add_cert(c, T.tca);
		if (strcmp(names[i], "deep.a.example.com") == 0)
			T.deep_idx = idx;
		if (strstr(names[i], "example.com") != NULL && strcmp(names[i], "examples.com") != 0)
			example_com(idx);
		pki_free(c);
	}
	{
		const char *mail[1] = {"alice@example.com"};
		struct pki_cert *c = pki_issue(T.sca, "Alice", mail, 1, PKI_EMAIL, now - 60,
					       now + 86400);
		assert_non_null(c);
		T.smime_idx = add_cert(c, T.sca);
		example_com(T.smime_idx);
		pki_free(c);
	}
	{
		/* an internationalized address: SmtpUTF8Mailbox (RFC 9598) */
		const char *mail[1] = {"bob@example.net"}, *mbox[1] = {"Jos\xc3\xa9@example.net"};
		struct pki_opts o = {.cn = "Jose", .dns = mail, .num_dns = 1, .flags = PKI_EMAIL,
				     .mailboxes = mbox, .num_mailboxes = 1,
				     .not_before = now - 60, .not_after = now + 86400};
		struct pki_cert *c = pki_issue_opts(T.sca, &o);
		assert_non_null(c);
		T.mbox_idx = add_cert(c, T.sca);
		pki_free(c);
	}
}

static void test_lookup_domain(void **state)
{
	json_t *j[64];
	size_t n;
	char *out;

	(void)state;
	/* pages of 2: mnctl follows next_cursor to the end */
	out = expect_rc(0, "--log", T.url, "--json", "lookup", "example.com", "--subdomains",
			"--limit", "2");
	n = json_lines(out, j, 64);
	assert_int_equal(n, T.num_example_com);
	for (size_t i = 0; i < n; i++) {
		uint64_t idx = jint(j[i], "index");
		const char *type = jstr(j[i], "entry_type");
		assert_int_equal(idx, T.example_com[i]);
		assert_true(json_is_true(json_object_get(j[i], "verified")));
		if (idx == T.pgp_idx) {
			assert_string_equal(type, "pgp_endorsement_entry");
			assert_string_equal(jstr(j[i], "endorsed_fpr"), T.alice);
			assert_string_equal(jstr(j[i], "certifier_fpr"), T.ca);
			/* a domain lookup gets no opening: no user ID shown */
			assert_null(json_object_get(j[i], "user_id"));
		} else if (idx == T.signer_idx + 2 || idx == T.signer_idx + 4) {
			/* the signer, a map-root leaf, policy 1, a map-root leaf,
			 * policy 2 */
			assert_string_equal(type, "signed_policy_entry");
			assert_string_equal(jstr(j[i], "domain"), "example.com");
			assert_string_equal(jstr(j[i], "protocol"), "smtp");
			assert_string_equal(jstr(j[i], "mode"), "enforce");
			assert_int_equal(jint(j[i], "serial"), (idx - T.signer_idx) / 2);
			assert_int_equal(jint(j[i], "signer_index"), T.signer_idx);
			assert_string_equal(json_string_value(json_array_get(
						    json_object_get(j[i], "classes"), 0)),
					    "policy");
		}
	}
	json_lines_free(j, n);
	free(out);

	/* exact, TLS only: the signer certificate of example.com */
	out = expect_rc(0, "--log", T.url, "--json", "lookup", "example.com", "--types", "tls");
	n = json_lines(out, j, 64);
	assert_int_equal(n, 1);
	assert_int_equal(jint(j[0], "index"), T.signer_idx);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j[0], "dns_names"), 0)),
			    "example.com");
	json_lines_free(j, n);
	free(out);

	/* human form */
	out = expect_rc(0, "--log", T.url, "lookup", "example.com", "--types", "policy");
	assert_non_null(strstr(out, "signed_policy_entry [policy]"));
	assert_non_null(strstr(out, "serial: 2"));
	assert_non_null(strstr(out, "2 entries, every inclusion proof verified"));
	free(out);
}

static void test_lookup_email_fpr(void **state)
{
	json_t *j[8];
	size_t n;
	char *out;
	int saw_pgp = 0, saw_smime = 0;

	(void)state;
	out = expect_rc(0, "--log", T.url, "--json", "lookup", "Alice@Example.com");
	n = json_lines(out, j, 8);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		const char *type = jstr(j[i], "entry_type");
		if (strcmp(type, "pgp_endorsement_entry") == 0) {
			saw_pgp = 1;
			assert_string_equal(jstr(j[i], "user_id"), ALICE_UID);
			assert_true(json_is_true(json_object_get(j[i], "opening_verified")));
		} else {
			saw_smime = 1;
			assert_string_equal(type, "x509_entry");
			assert_string_equal(json_string_value(json_array_get(
						    json_object_get(j[i], "emails"), 0)),
					    "alice@example.com");
		}
	}
	assert_true(saw_pgp && saw_smime);
	json_lines_free(j, n);
	free(out);

	out = expect_rc(0, "--log", T.url, "lookup", "alice@example.com", "--types", "pgp");
	assert_non_null(strstr(out, "user ID (opening verified): " ALICE_UID));
	free(out);

	/* by the endorsed key's and by the certifier's fingerprint */
	out = expect_rc(0, "--log", T.url, "--json", "lookup", "--pgp", T.alice);
	n = json_lines(out, j, 8);
	assert_int_equal(n, 1);
	assert_int_equal(jint(j[0], "index"), T.pgp_idx);
	assert_null(json_object_get(j[0], "user_id"));
	json_lines_free(j, n);
	free(out);
	out = expect_rc(0, "--log", T.url, "--json", "lookup", "--pgp", T.ca);
	n = json_lines(out, j, 8);
	assert_int_equal(n, 1);
	assert_string_equal(jstr(j[0], "endorsed_fpr"), T.alice);
	json_lines_free(j, n);
	free(out);
	out = expect_rc(0, "--log", T.url, "lookup", "--pgp", T.eve);
	assert_non_null(strstr(out, "0 entries"));
	free(out);
}

static void test_resolve(void **state)
{
	json_t *j, *adv;
	char *out;

	(void)state;
	out = expect_rc(0, "--log", T.url, "--json", "resolve", "alice@example.com");
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	adv = json_object_get(j, "advice");
	assert_true(json_is_true(json_object_get(adv, "smime")));
	assert_true(json_is_true(json_object_get(adv, "pgp")));
	/* S/MIME cert, endorsement, the domain's smtp policy: all proven */
	assert_true(jint(j, "verified") >= 3);
	{
		json_t *ents = json_object_get(j, "entries"), *e;
		size_t i;
		int pgp = 0;
		json_array_foreach(ents, i, e)
			if (strcmp(jstr(e, "entry_type"), "pgp_endorsement_entry") == 0) {
				assert_string_equal(jstr(e, "user_id"), ALICE_UID);
				pgp = 1;
			}
		assert_true(pgp);
	}
	json_decref(j);
	free(out);

	/* the same answer as files a mail client imports: each certificate and
	 * key checked by tools that are not mnctl (openssl, gpg) */
	{
		char sdir[128], ring[128], cmd[1024];
		tpath(sdir, sizeof(sdir), "smime-out");
		tpath(ring, sizeof(ring), "alice.asc.out");
		out = expect_rc(0, "--log", T.url, "--json", "resolve", "alice@example.com",
				"--smime-out", sdir, "--pgp-out", ring);
		j = json_loads(out, 0, NULL);
		assert_non_null(j);
		assert_true(jint(j, "smime_written") >= 1);
		assert_true(jint(j, "pgp_written") >= 1);
		json_decref(j);
		free(out);
		snprintf(cmd, sizeof(cmd), "for f in %s/alice@example.com-*.pem; do openssl x509 "
			 "-in $f -noout -ext subjectAltName | grep -q 'email:alice@example.com' || "
			 "exit 1; done", sdir);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "gpg --batch --no-tty --with-colons --show-keys %s "
			 "2>/dev/null | grep -q '^fpr:::::::::%s:'", ring, T.alice);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "gpg --batch --no-tty --with-colons --show-keys %s "
			 "2>/dev/null | grep -q 'Alice <alice@example.com>'", ring);
		assert_int_equal(system(cmd), 0);
		free(expect_fail(1, "for an address", "--log", T.url, "resolve", "example.com",
				 "--protocol", "smtp", "--pgp-out", ring));
	}

	out = expect_rc(0, "--log", T.url, "--json", "resolve", "example.com", "--protocol", "smtp");
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	adv = json_object_get(j, "advice");
	assert_int_equal(jint(adv, "serial"), 2);
	assert_string_equal(jstr(adv, "mode"), "enforce");
	assert_int_equal(jint(j, "verified"), 1);
	json_decref(j);
	free(out);

	out = expect_rc(0, "--log", T.url, "resolve", "example.com", "--protocol", "smtp");
	assert_non_null(strstr(out, "advice.mode: enforce"));
	assert_non_null(strstr(out, "1 entry, every inclusion proof verified"));
	free(out);
}

/* --- a lying log --------------------------------------------------------- */

static void test_lie_lookup(void **state)
{
	(void)state;
	set_mode(T_PASS);
	/* pinned through the proxy (pass mode): the log's VRF key comes with the
	 * pin, and answers for an address prove a pgpaddr key with it */
	free(expect_rc(0, "info", T.url_p, "--trust-on-first-use"));
	free(expect_rc(0, "--log", T.url_p, "--key", T.keyfile, "lookup", "example.com",
		       "--subdomains"));

	set_mode(T_LOOKUP_PATH);
	free(expect_fail(3, "inclusion proof", "--log", T.url_p, "--key", T.keyfile, "lookup",
			 "example.com", "--subdomains", "--limit", "3"));
	assert_int_equal(atomic_load(&T.tampered), 1);

	set_mode(T_LOOKUP_LEAF);
	free(expect_fail(3, "leaf_input", "--log", T.url_p, "--key", T.keyfile, "lookup",
			 "alice@example.com"));
	assert_int_equal(atomic_load(&T.tampered), 1);

	set_mode(T_LOOKUP_LEAF);
	free(expect_fail(3, "inclusion proof", "--log", T.url_p, "--key", T.keyfile, "lookup",
			 "--pgp", T.alice));

	set_mode(T_LOOKUP_OPENING);
	free(expect_fail(3, "opening", "--log", T.url_p, "--key", T.keyfile, "lookup",
			 "alice@example.com", "--types", "pgp"));
	assert_int_equal(atomic_load(&T.tampered), 1);

	set_mode(T_LOOKUP_TYPE);
	free(expect_fail(3, "entry_type", "--log", T.url_p, "--key", T.keyfile, "lookup",
			 "example.com"));

	set_mode(T_RESOLVE_PATH);
	free(expect_fail(3, "inclusion proof", "--log", T.url_p, "--key", T.keyfile, "resolve",
			 "alice@example.com"));
	assert_int_equal(atomic_load(&T.tampered), 1);
	set_mode(T_PASS);
}

static void test_lie_submissions(void **state)
{
	char path[128], pol[128], key[128], chain[128], canon[1024];

	(void)state;
	/* add-pgp: the (original) SCT altered */
	tpath(path, sizeof(path), "alice.gpg");
	set_mode(T_PGP_SCT);
	free(expect_fail(3, "SCT signature does not verify", "--log", T.url_p, "--key",
			 T.keyfile, "add-pgp", path, "--user-id", ALICE_UID, "--signer", T.ca));
	assert_int_equal(atomic_load(&T.tampered), 1);
	/* add-pgp: the leaf found by lookup altered */
	set_mode(T_LOOKUP_LEAF);
	free(expect_fail(3, "inclusion proof", "--log", T.url_p, "--key", T.keyfile, "add-pgp",
			 path, "--user-id", ALICE_UID, "--signer", T.ca));
	set_mode(T_LOOKUP_OPENING);
	free(expect_fail(3, "opening", "--log", T.url_p, "--key", T.keyfile, "add-pgp", path,
			 "--user-id", ALICE_UID, "--signer", T.ca));
	/* add-policy: the policy SCT altered (the policy is logged all the same) */
	write_policy("pol3.json", "example.com", "smtp", 3, canon, sizeof(canon));
	tpath(pol, sizeof(pol), "pol3.json");
	tpath(key, sizeof(key), "example.com.key");
	tpath(chain, sizeof(chain), "example.com.pem");
	set_mode(T_POLICY_SCT);
	free(expect_fail(3, "SCT signature does not verify over the signed policy", "--log",
			 T.url_p, "--log-key", T.keyfile, "add-policy", pol, "--key", key,
			 "--chain", chain, "--x5t"));
	assert_int_equal(atomic_load(&T.tampered), 1);
	set_mode(T_PASS);
}

/* run_monitor runs monitor --json over |watch| (the file's text) with a new
 * state directory |name| and returns the match lines (the summary is checked
 * and dropped); *n is their number. */
static size_t run_monitor(const char *name, const char *watch, json_t **j, size_t max)
{
	char wpath[160], st[160];
	size_t n;
	char *out;
	FILE *f;

	tpath(wpath, sizeof(wpath), name);
	f = fopen(wpath, "w");
	assert_non_null(f);
	fputs(watch, f);
	fclose(f);
	snprintf(st, sizeof(st), "%s/%s.state", T.dir, name);
	out = expect_rc(0, "--log", T.url, "--json", "monitor", "--watch", wpath, "--state", st);
	n = json_lines(out, j, max);
	free(out);
	assert_true(n >= 1);
	assert_int_equal(jint(j[n - 1], "tree_size"), T.next);
	assert_int_equal(jint(j[n - 1], "new_entries"), T.next);
	assert_int_equal(jint(j[n - 1], "matches"), n - 1);
	json_decref(j[n - 1]);
	return n - 1;
}

static void test_monitor_watch(void **state)
{
	char watch[512], ca_spaced[64], wpath[160], st[160];
	json_t *j[40];
	size_t n, k = 0;
	char *out;

	(void)state;
	/* the certifier's fingerprint in lower case with spaces */
	for (int i = 0; i < 40; i++) {
		ca_spaced[k++] = (char)(T.ca[i] >= 'A' ? T.ca[i] + 32 : T.ca[i]);
		if (i % 4 == 3 && i < 39)
			ca_spaced[k++] = ' ';
	}
	ca_spaced[k] = '\0';
	snprintf(watch, sizeof(watch),
		 "# an address, a fingerprint, a domain, an SmtpUTF8Mailbox\n"
		 "ALICE@example.COM\n  %s  \n*.a.example.com\njos\xc3\xa9@Example.NET\n", ca_spaced);
	n = run_monitor("w1", watch, j, 40);
	assert_int_equal(n, 4);
	/* in leaf order: the endorsement, deep.a.example.com, alice's S/MIME
	 * certificate, Jos\xc3\xa9's */
	assert_true(T.pgp_idx < T.deep_idx && T.deep_idx < T.smime_idx &&
		    T.smime_idx < T.mbox_idx);
	assert_int_equal(jint(j[0], "index"), T.pgp_idx);
	assert_string_equal(jstr(j[0], "entry_type"), "pgp_endorsement_entry");
	assert_string_equal(jstr(j[0], "watched_kind"), "fingerprint");
	assert_int_equal(jint(j[1], "index"), T.deep_idx);
	assert_string_equal(jstr(j[1], "entry_type"), "x509_entry");
	assert_string_equal(jstr(j[1], "watched_kind"), "domain");
	assert_string_equal(jstr(j[1], "watched"), "a.example.com");
	assert_int_equal(jint(j[2], "index"), T.smime_idx);
	assert_string_equal(jstr(j[2], "watched_kind"), "email");
	assert_string_equal(jstr(j[2], "watched"), "alice@example.com");
	assert_int_equal(jint(j[3], "index"), T.mbox_idx);
	assert_string_equal(jstr(j[3], "watched_kind"), "email");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j[3], "mailboxes"),
							     0)), "Jos??@example.net");
	json_lines_free(j, n);

	/* a domain: certificates, the endorsement (its user ID's domain) and the
	 * policies about example.com; not the S/MIME certificate (an address at
	 * example.com is not the domain) */
	n = run_monitor("w2", "example.com\n", j, 40);
	{
		size_t e = 0;
		for (size_t i = 0; i < T.num_example_com; i++) {
			if (T.example_com[i] == T.smime_idx)
				continue;
			assert_true(e < n);
			assert_int_equal(jint(j[e], "index"), T.example_com[i]);
			assert_string_equal(jstr(j[e], "watched_kind"), "domain");
			e++;
		}
		assert_int_equal(e, n);
	}
	for (size_t i = 0; i < n; i++)
		if (jint(j[i], "index") == T.signer_idx + 1)
			assert_string_equal(jstr(j[i], "entry_type"), "signed_policy_entry");
	json_lines_free(j, n);

	/* nothing: another key, another address, a parent of no name, the
	 * endorsed key's fingerprint with a digit changed */
	{
		char other[41];
		memcpy(other, T.alice, 41);
		other[39] = other[39] == '0' ? '1' : '0';
		snprintf(watch, sizeof(watch), "%s\n%s\nbob@example.com\nample.com\n", T.eve, other);
	}
	n = run_monitor("w3", watch, j, 40);
	assert_int_equal(n, 0);

	/* the endorsed key, and the human form */
	snprintf(watch, sizeof(watch), "%s\n", T.alice);
	tpath(wpath, sizeof(wpath), "w4");
	{
		FILE *f = fopen(wpath, "w");
		assert_non_null(f);
		fputs(watch, f);
		fclose(f);
	}
	snprintf(st, sizeof(st), "%s/w4.state", T.dir);
	out = expect_rc(0, "--log", T.url, "monitor", "--watch", wpath, "--state", st);
	snprintf(watch, sizeof(watch), "MATCH fingerprint %s: #%llu pgp_endorsement_entry ",
		 T.alice, (unsigned long long)T.pgp_idx);
	assert_non_null(strstr(out, watch));
	assert_non_null(strstr(out, " 1 matches\n"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_add_pgp),
		cmocka_unit_test(test_add_policy_x5c),
		cmocka_unit_test(test_add_policy_x5t),
		cmocka_unit_test(test_add_policy_algs),
		cmocka_unit_test(test_more_certs),
		cmocka_unit_test(test_lookup_domain),
		cmocka_unit_test(test_lookup_email_fpr),
		cmocka_unit_test(test_monitor_watch),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_lie_lookup),
		cmocka_unit_test(test_lie_submissions),
	};
	signal(SIGPIPE, SIG_IGN);
	if (setup() != 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	atexit(teardown);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
