/* test_policy_server.c: `mnctl policy-server` against a real logd, through a
 * proxy in this test that lies, and behind a real Postfix (Debian's postfix,
 * a private instance) delivering to receiving SMTP servers (Debian's
 * python3-aiosmtpd, tests/client/smtp_receiver.py) on 127.0.0.1.
 *
 *   test_answers     the socketmap answer for each kind of logged policy
 *   test_protocol    malformed netstrings, oversized requests and keys,
 *                    unknown map names, pipelining, byte-by-byte requests
 *   test_concurrent  many clients at once, each with many requests
 *   test_lies        every lie of the proxy gives TEMP; a dead log gives
 *                    TEMP, or the cached answer while it is fresh
 *   test_witness     with --witness-policy: TEMP while the log's checkpoint
 *                    lacks the witness quorum or is a cosigned fork, OK and
 *                    NOTFOUND once a quorum cosigned it (checkpoints cosigned
 *                    here, tests/lib/cosigned.h, served by tests/lib/liar.h)
 *   test_postfix     Postfix defers mail to secure.example when the receiver
 *                    offers no STARTTLS (and never delivers it), delivers it
 *                    over verified TLS when it does, delivers plain.example
 *                    (no policy) in plaintext, and defers lied.example while
 *                    the proxy hides its policy
 *
 * The tests run in order and share one log. Postfix must be installed
 * (scripts/deps.sh installs it): the test fails, it does not skip. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
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

#include "common/b64.h"
#include "entry/note.h"
#include "tests/lib/cosigned.h"
#include "tests/lib/liar.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

enum lie {
	L_PASS,
	L_DOWN,          /* close the connection without an answer */
	L_DROP_MAP,      /* resolve: no policy, no map, no items (the pre-map form) */
	L_DROP_POLICY,   /* resolve: policy and advice null, items and map kept */
	L_OTHER_DOMAIN,  /* resolve: ask logd about plain.example instead */
	L_OTHER_HIDDEN,  /* the same, and the answer's "domain" set back */
	L_FLIP_PATH,     /* resolve: flip a bit of the policy's audit path */
	L_OLD_FORMAT,    /* resolve: drop map and items, keep the policy */
	L_HIDE_LIST,     /* resolve: the policy gone from every field, its list
			  * emptied and its count set to 0, consistently */
};

static struct {
	char dir[64], cfg[128], keyfile[128];
	struct pki_cert *root, *ca, *mroot, *mx;
	struct logd_proc logd;
	char url[64], url_p[64];
	/* the proxy */
	int lfd;
	uint16_t pport;
	atomic_int mode;
	pthread_t thr;
	/* policy servers: direct to logd (d) and through the proxy (p) */
	pid_t psd, psp;
	uint16_t psd_port, psp_port;
	char psd_log[128], psp_log[128];
	/* receivers */
	pid_t rcv;
	uint16_t p_plain, p_strip, p_tls, p_lied;
	/* postfix */
	char pf[128];
	int pf_started;
	long long expired_exp;
} T;

/* --- the lying proxy ------------------------------------------------------ */

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

static char *tamper(int mode, const char *asked, const uint8_t *body, size_t len)
{
	json_t *j = json_loadb((const char *)body, len, 0, NULL), *pol;
	char *out;

	if (j == NULL)
		return NULL;
	pol = json_object_get(j, "policy");
	switch (mode) {
	case L_DROP_MAP:
		json_object_del(j, "map");
		json_object_del(j, "items");
		json_object_set_new(j, "policy", json_null());
		json_object_set_new(j, "advice", json_null());
		break;
	case L_DROP_POLICY:
		json_object_set_new(j, "policy", json_null());
		json_object_set_new(j, "advice", json_null());
		break;
	case L_OTHER_HIDDEN:
		json_object_set_new(j, "domain", json_string(asked));
		break;
	case L_FLIP_PATH: {
		json_t *v = json_array_get(json_object_get(pol, "audit_path"), 0);
		uint8_t *p;
		size_t l;
		char s[64];
		if (json_is_string(v) &&
		    mn_b64_decode(&p, &l, json_string_value(v), json_string_length(v), 64) == 0) {
			p[3] ^= 1;
			mn_b64_encode(s, p, l);
			json_string_set(v, s);
			free(p);
		}
		break;
	}
	case L_OLD_FORMAT:
		json_object_del(j, "map");
		json_object_del(j, "items");
		break;
	case L_HIDE_LIST: {
		/* what a log hiding the policy would say, with every field
		 * consistent but the map proof, which it cannot forge */
		json_t *k = json_array_get(json_object_get(json_object_get(j, "map"), "keys"), 0);
		json_object_set_new(j, "policy", json_null());
		json_object_set_new(j, "advice", json_null());
		json_object_set_new(j, "items", json_array());
		json_object_set_new(k, "count", json_integer(0));
		json_object_set_new(k, "items", json_array());
		json_object_set_new(k, "range_proof", json_array());
		break;
	}
	default:
		break;
	}
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return out;
}

static void serve_one(int fd)
{
	static char buf[1 << 16];
	char method[16], target[2048], asked[256] = "", head[256];
	size_t n = 0;
	char *end, *d;
	struct http_resp r;
	int mode = atomic_load(&T.mode);

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
	if (mode == L_DOWN || sscanf(buf, "%15s %2047s", method, target) != 2)
		return;
	if (strncmp(target, "/mn/v1/resolve", 14) == 0 && (d = strstr(target, "domain=")) != NULL) {
		sscanf(d + 7, "%255[^&]", asked);
		if (mode == L_OTHER_DOMAIN || mode == L_OTHER_HIDDEN) {
			char t2[2048];
			snprintf(t2, sizeof(t2), "/mn/v1/resolve?domain=plain.example&protocol=smtp");
			snprintf(target, sizeof(target), "%s", t2);
		}
	}
	if (http_do(T.logd.port, method, target, NULL, NULL, 0, &r) != 0)
		return;
	{
		char *changed = r.status == 200 && asked[0] != '\0' && mode != L_PASS
					? tamper(mode, asked, r.body, r.body_len) : NULL;
		const char *b = changed ? changed : (const char *)r.body;
		size_t bl = changed ? strlen(changed) : r.body_len;
		int l = snprintf(head, sizeof(head),
				 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n", r.status, bl);
		write_all(fd, head, (size_t)l);
		write_all(fd, b, bl);
		free(changed);
	}
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

static int listen_any(uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

/* free_port: a port nobody listens on now (for servers that cannot take 0). */
static uint16_t free_port(void)
{
	uint16_t p = 0;
	int fd = listen_any(&p);
	close(fd);
	return p;
}

/* --- helpers -------------------------------------------------------------- */

static void tpath(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", T.dir, name);
}

static char *slurp(const char *path)
{
	struct mnfix_buf b;
	char *s;

	if (mnfix_read_file(path, &b) != 0)
		return strdup("");
	s = malloc(b.len + 1);
	memcpy(s, b.p, b.len);
	s[b.len] = '\0';
	free(b.p);
	return s;
}

static int file_has(const char *path, const char *needle)
{
	char *s = slurp(path);
	int found = strstr(s, needle) != NULL;
	free(s);
	return found;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* wait_file_has polls |path| for |needle| until |deadline_s| passes. */
static int wait_file_has(const char *path, const char *needle, int deadline_s)
{
	uint64_t end = now_ms() + (uint64_t)deadline_s * 1000;

	while (now_ms() < end) {
		if (file_has(path, needle))
			return 1;
		pause_ms(50);
	}
	fprintf(stderr, "timed out waiting for \"%s\" in %s\n", needle, path);
	return 0;
}

static int run(const char *cmd)
{
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* add_policy submits an smtp policy for |domain| signed by a certificate for
 * it. |mx_json| is a JSON array or NULL (mode none). */
static void add_policy(const char *domain, int serial, const char *mode, const char *mx_json,
		       const char *min, long long exp)
{
	long long now = (long long)time(NULL);
	const char *dns[1] = {domain};
	struct pki_cert *c = pki_issue(T.ca, domain, dns, 1, 0, now - 3600, now + 86400 * 30);
	char payload[1024], *jws, *req;
	struct http_resp r;

	assert_non_null(c);
	if (mx_json != NULL)
		snprintf(payload, sizeof(payload),
			 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"%s\",\"mx\":%s,\"protocol\":\"smtp\","
			 "\"serial\":%d,\"subject\":{\"domain\":\"%s\"},\"tls\":{\"min\":\"%s\","
			 "\"transport\":\"starttls\"},\"v\":1}",
			 exp, now - 60, mode, mx_json, serial, domain, min);
	else
		snprintf(payload, sizeof(payload),
			 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"none\",\"protocol\":\"smtp\","
			 "\"serial\":%d,\"subject\":{\"domain\":\"%s\"},\"v\":1}",
			 exp, now - 60, serial, domain);
	jws = mnfix_x5c_jws(c, T.ca, payload);
	assert_non_null(jws);
	req = mnfix_policy_request(jws);
	assert_int_equal(http_do(T.logd.port, "POST", "/mn/v1/add-policy",
				 "Content-Type: application/json\r\n", req, strlen(req), &r), 0);
	if (r.status != 200)
		fprintf(stderr, "add-policy %s: %d %s\n", domain, r.status, r.body);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	free(req);
	free(jws);
	pki_free(c);
}

/* ps_start runs mnctl policy-server for |url|; stderr (the decision log) goes
 * to |log|. Reads the "listening on" line for the port. */
static int ps_start_w(const char *url, const char *log, const char *ttl, const char *policy,
		      pid_t *pid, uint16_t *port)
{
	const char *build = getenv("MN_BUILD");
	char bin[256], line[512];
	int pfd[2];
	FILE *f;
	unsigned p;

	snprintf(bin, sizeof(bin), "%s/mnctl", build ? build : "build");
	if (pipe(pfd) != 0)
		return -1;
	*pid = fork();
	if (*pid == 0) {
		int e = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(pfd[1], 1);
		dup2(e, 2);
		close(pfd[0]);
		if (policy != NULL)
			execl(bin, bin, "--config", T.cfg, "--key", T.keyfile, "--log", url,
			      "--timeout", "5", "--witness-policy", policy, "--witness-wait", "2",
			      "policy-server", "--listen", "127.0.0.1:0", "--cache-ttl", ttl,
			      (char *)NULL);
		else
			execl(bin, bin, "--config", T.cfg, "--key", T.keyfile, "--log", url,
			      "--timeout", "5", "policy-server", "--listen", "127.0.0.1:0",
			      "--cache-ttl", ttl, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "policy-server listening on 127.0.0.1:%u", &p) != 1) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	*port = (uint16_t)p;
	return 0;
}

static int ps_start(const char *url, const char *log, const char *ttl, pid_t *pid, uint16_t *port)
{
	return ps_start_w(url, log, ttl, NULL, pid, port);
}

static int ps_stop(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* --- a socketmap client (socketmap_table(5)) ------------------------------ */

static int sm_connect(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {.tv_sec = 20};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* sm_read reads one netstring answer into |out|; returns its length, -1 on
 * EOF before one, -2 if it is not a netstring. */
static int sm_read(int fd, char *out, size_t cap)
{
	size_t len = 0, i = 0;
	char c;

	for (;;) {
		if (read(fd, &c, 1) != 1)
			return -1;
		if (c == ':')
			break;
		if (c < '0' || c > '9' || ++i > 6)
			return -2;
		len = len * 10 + (size_t)(c - '0');
	}
	if (len + 1 > cap)
		return -2;
	for (size_t got = 0; got < len + 1;) {
		ssize_t n = read(fd, out + got, len + 1 - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	if (out[len] != ',')
		return -2;
	out[len] = '\0';
	return (int)len;
}

static void sm_send(int fd, const char *name, const char *key)
{
	char buf[2048];
	int n = snprintf(buf, sizeof(buf), "%zu:%s %s,", strlen(name) + 1 + strlen(key), name, key);
	write_all(fd, buf, (size_t)n);
}

/* ask returns the answer to one lookup on a new connection (malloc'd). */
static char *ask(uint16_t port, const char *key)
{
	char out[4096];
	int fd = sm_connect(port), n;

	sm_send(fd, "metanotary", key);
	n = sm_read(fd, out, sizeof(out));
	close(fd);
	assert_true(n >= 0);
	return strdup(out);
}

#define expect_answer(port, key, want) expect_answer_(__LINE__, port, key, want)
static void expect_answer_(int line, uint16_t port, const char *key, const char *want)
{
	char *got = ask(port, key);
	if (strncmp(got, want, strlen(want)) != 0) {
		fprintf(stderr, "line %d: %s: got \"%s\", want \"%s...\"\n", line, key, got, want);
		free(got);
		fail();
	}
	free(got);
}

/* --- setup ---------------------------------------------------------------- */

static int setup(void)
{
	char roots[128], data[128];
	int64_t now = pki_now();

	signal(SIGPIPE, SIG_IGN);
	snprintf(T.dir, sizeof(T.dir), "/tmp/mn-postfix-XXXXXX");
	if (mkdtemp(T.dir) == NULL)
		return -1;
	chmod(T.dir, 0755); /* postfix's unprivileged daemons read below it */
	tpath(T.cfg, sizeof(T.cfg), "config");
	tpath(T.keyfile, sizeof(T.keyfile), "logkey.der");
	tpath(T.psd_log, sizeof(T.psd_log), "psd.log");
	tpath(T.psp_log, sizeof(T.psp_log), "psp.log");
	T.root = pki_root("Policy Test Root", 0);
	T.mroot = pki_root("Mail Test Root", 0);
	if (T.root == NULL || T.mroot == NULL)
		return -1;
	T.ca = pki_issue(T.root, "Policy Test CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	{
		const char *dns[1] = {"mx1.secure.example"};
		T.mx = pki_issue(T.mroot, "mx1.secure.example", dns, 1, 0, now - 3600, now + 86400 * 30);
	}
	tpath(roots, sizeof(roots), "roots.pem");
	tpath(data, sizeof(data), "data");
	{
		const struct pki_cert *r[1] = {T.root};
		if (T.ca == NULL || T.mx == NULL || pki_write_pem(roots, r, 1) != 0)
			return -1;
	}
	{
		const char *a[] = {"--data", data, "--tls-roots", roots, "--threads", "2", NULL};
		if (logd_start(&T.logd, a) != 0)
			return -1;
	}
	if (logd_write_spki(&T.logd, T.keyfile) != 0)
		return -1;
	snprintf(T.url, sizeof(T.url), "http://127.0.0.1:%u", T.logd.port);
	T.lfd = listen_any(&T.pport);
	if (T.lfd < 0 || pthread_create(&T.thr, NULL, proxy_main, NULL) != 0)
		return -1;
	snprintf(T.url_p, sizeof(T.url_p), "http://127.0.0.1:%u", T.pport);
	return 0;
}

static void teardown(void)
{
	char cmd[512];

	if (T.pf_started) {
		snprintf(cmd, sizeof(cmd), "postfix -c %s/etc stop >/dev/null 2>&1", T.pf);
		run(cmd);
	}
	if (T.rcv > 0) {
		kill(T.rcv, SIGTERM);
		waitpid(T.rcv, NULL, 0);
	}
	if (T.psd > 0)
		ps_stop(T.psd);
	if (T.psp > 0)
		ps_stop(T.psp);
	shutdown(T.lfd, SHUT_RDWR);
	pthread_join(T.thr, NULL);
	close(T.lfd);
	logd_stop(&T.logd, SIGTERM);
	pki_free(T.root);
	pki_free(T.ca);
	pki_free(T.mroot);
	pki_free(T.mx);
	if (getenv("MN_KEEP") == NULL)
		mnfix_rm_rf(T.dir);
}

/* --- tests ---------------------------------------------------------------- */

static void test_answers(void **state)
{
	long long now = (long long)time(NULL), day = now + 86400;

	(void)state;
	add_policy("secure.example", 1, "enforce", "[\"mx1.secure.example\"]", "1.2", day);
	add_policy("lied.example", 1, "enforce", "[\"mx1.lied.example\"]", "1.2", day);
	add_policy("wild.example", 1, "enforce", "[\"*.mail.wild.example\",\"mx.wild.example\"]",
		   "1.3", day);
	add_policy("testing.example", 1, "testing", "[\"mx.testing.example\"]", "1.2", day);
	add_policy("gone.example", 1, "enforce", "[\"mx.gone.example\"]", "1.2", day);
	add_policy("gone.example", 2, "none", NULL, NULL, day);
	T.expired_exp = now + 2;
	add_policy("expired.example", 1, "enforce", "[\"mx.expired.example\"]", "1.2", T.expired_exp);

	assert_int_equal(ps_start(T.url, T.psd_log, "60", &T.psd, &T.psd_port), 0);
	expect_answer(T.psd_port, "secure.example",
		      "OK secure match=mx1.secure.example protocols=>=TLSv1.2");
	/* Postfix's keys are case-insensitive and may end in a dot */
	expect_answer(T.psd_port, "Secure.Example.",
		      "OK secure match=mx1.secure.example protocols=>=TLSv1.2");
	expect_answer(T.psd_port, "wild.example",
		      "OK secure match=.mail.wild.example:mx.wild.example protocols=>=TLSv1.3");
	expect_answer(T.psd_port, "plain.example", "NOTFOUND ");
	expect_answer(T.psd_port, "testing.example", "NOTFOUND ");
	expect_answer(T.psd_port, "gone.example", "NOTFOUND ");
	/* next hops that are not mail domains */
	expect_answer(T.psd_port, "[127.0.0.1]:25", "NOTFOUND ");
	expect_answer(T.psd_port, "secure.example:2525", "NOTFOUND ");
	expect_answer(T.psd_port, "example", "NOTFOUND ");
	/* one decision line each, saying where it came from */
	assert_true(wait_file_has(T.psd_log, "domain=secure.example answer=OK policy=\"secure "
				  "match=mx1.secure.example protocols=>=TLSv1.2\" serial=1", 5));
	assert_true(file_has(T.psd_log, "domain=secure.example answer=OK"));
	assert_true(file_has(T.psd_log, "source=cache"));
	assert_true(file_has(T.psd_log, "domain=plain.example answer=NOTFOUND "
			     "reason=no-policy-in-force absence=proven"));
	assert_true(file_has(T.psd_log, "domain=testing.example answer=NOTFOUND reason=testing-mode"));
}

static void test_protocol(void **state)
{
	char out[512], big[2048];
	int fd, n;

	(void)state;
	/* not a netstring at all */
	fd = sm_connect(T.psd_port);
	write_all(fd, "hello world\n", 12);
	n = sm_read(fd, out, sizeof(out));
	assert_true(n > 0);
	assert_string_equal(out, "PERM malformed netstring");
	assert_int_equal(sm_read(fd, out, sizeof(out)), -1); /* closed */
	close(fd);
	/* a length that does not match: no ',' where it must be */
	fd = sm_connect(T.psd_port);
	write_all(fd, "5:metanotary secure.example,", 28);
	assert_true(sm_read(fd, out, sizeof(out)) > 0);
	assert_string_equal(out, "PERM malformed netstring");
	assert_int_equal(sm_read(fd, out, sizeof(out)), -1);
	close(fd);
	/* an oversized length is refused before its bytes arrive */
	fd = sm_connect(T.psd_port);
	write_all(fd, "99999:", 6);
	assert_true(sm_read(fd, out, sizeof(out)) > 0);
	assert_string_equal(out, "PERM request too long");
	close(fd);
	fd = sm_connect(T.psd_port);
	write_all(fd, "1025:", 5);
	assert_true(sm_read(fd, out, sizeof(out)) > 0);
	assert_string_equal(out, "PERM request too long");
	close(fd);
	/* an oversized key in a well-formed request: PERM, the connection lives */
	memset(big, 'a', 600);
	big[600] = '\0';
	fd = sm_connect(T.psd_port);
	sm_send(fd, "metanotary", big);
	assert_true(sm_read(fd, out, sizeof(out)) > 0);
	assert_string_equal(out, "PERM key too long");
	/* unknown map name, then a good request on the same connection */
	sm_send(fd, "mta-sts", "secure.example");
	assert_true(sm_read(fd, out, sizeof(out)) > 0);
	assert_string_equal(out, "PERM unknown map name");
	sm_send(fd, "metanotary", "secure.example");
	assert_true(sm_read(fd, out, sizeof(out)) > 0);
	assert_string_equal(out, "OK secure match=mx1.secure.example protocols=>=TLSv1.2");
	/* a request without a key, and one with a NUL */
	write_all(fd, "10:metanotary,", 14);
	assert_true(sm_read(fd, out, sizeof(out)) > 0);
	assert_string_equal(out, "PERM unknown map name");
	write_all(fd, "14:metanotary a\0b,", 18);
	assert_true(sm_read(fd, out, sizeof(out)) > 0);
	assert_string_equal(out, "PERM malformed request");
	close(fd);
	/* pipelined: three requests in one write, three answers in order */
	fd = sm_connect(T.psd_port);
	write_all(fd, "25:metanotary secure.example,24:metanotary plain.example,"
		      "23:metanotary wild.example,", 84);
	assert_true(sm_read(fd, out, sizeof(out)) > 0);
	assert_string_equal(out, "OK secure match=mx1.secure.example protocols=>=TLSv1.2");
	assert_true(sm_read(fd, out, sizeof(out)) > 0);
	assert_string_equal(out, "NOTFOUND ");
	assert_true(sm_read(fd, out, sizeof(out)) > 0);
	assert_string_equal(out, "OK secure match=.mail.wild.example:mx.wild.example "
			    "protocols=>=TLSv1.3");
	/* byte by byte */
	{
		const char *req = "25:metanotary secure.example,";
		for (size_t i = 0; req[i] != '\0'; i++) {
			write_all(fd, req + i, 1);
			pause_ms(2);
		}
		assert_true(sm_read(fd, out, sizeof(out)) > 0);
		assert_string_equal(out, "OK secure match=mx1.secure.example protocols=>=TLSv1.2");
	}
	close(fd);
	/* the server is still up for everyone */
	expect_answer(T.psd_port, "plain.example", "NOTFOUND ");
}

#define CONC_THREADS 48
#define CONC_REQS 40

static atomic_int conc_bad;

static void *conc_client(void *arg)
{
	static const char *const keys[3] = {"secure.example", "plain.example", "wild.example"};
	static const char *const want[3] = {
		"OK secure match=mx1.secure.example protocols=>=TLSv1.2", "NOTFOUND ",
		"OK secure match=.mail.wild.example:mx.wild.example protocols=>=TLSv1.3"};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(T.psd_port)};
	size_t id = (size_t)(uintptr_t)arg;
	char out[512];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		atomic_fetch_add(&conc_bad, 1);
		return NULL;
	}
	for (size_t i = 0; i < CONC_REQS; i++) {
		size_t k = (id + i) % 3;
		sm_send(fd, "metanotary", keys[k]);
		if (sm_read(fd, out, sizeof(out)) < 0 || strcmp(out, want[k]) != 0) {
			atomic_fetch_add(&conc_bad, 1);
			break;
		}
	}
	close(fd);
	return NULL;
}

static void test_concurrent(void **state)
{
	pthread_t th[CONC_THREADS];

	(void)state;
	for (size_t i = 0; i < CONC_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, conc_client, (void *)(uintptr_t)i), 0);
	for (size_t i = 0; i < CONC_THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&conc_bad), 0);
}

static void test_lies(void **state)
{
	static const struct {
		int mode;
		const char *why;
	} lies[] = {
		{L_DROP_MAP, "reason=no-map absence=not-proven"},
		{L_DROP_POLICY, "reason=verification-failed"},
		{L_OTHER_DOMAIN, "reason=verification-failed"},
		{L_OTHER_HIDDEN, "reason=verification-failed"},
		{L_FLIP_PATH, "reason=verification-failed"},
		{L_HIDE_LIST, "reason=verification-failed"},
		{L_DOWN, "reason=log-error"},
	};
	char needle[128];

	(void)state;
	/* no cache, so that every question reaches the (lying) log */
	assert_int_equal(ps_start(T.url_p, T.psp_log, "0", &T.psp, &T.psp_port), 0);
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		atomic_store(&T.mode, lies[i].mode);
		expect_answer(T.psp_port, "lied.example", "TEMP ");
		snprintf(needle, sizeof(needle), "domain=lied.example answer=TEMP %s%s",
			 lies[i].mode == L_DROP_MAP ? "" : "source=log ", lies[i].why);
		assert_true(wait_file_has(T.psp_log, needle, 5));
		assert_int_equal(truncate(T.psp_log, 0), 0);
	}
	/* a policy without its map: nothing proves it is the one in force (a
	 * withdrawal or a stricter one may be hidden), so Postfix defers */
	atomic_store(&T.mode, L_OLD_FORMAT);
	expect_answer(T.psp_port, "lied.example", "TEMP ");
	assert_true(wait_file_has(T.psp_log, "domain=lied.example answer=TEMP source=log "
				  "reason=verification-failed", 5));
	assert_int_equal(truncate(T.psp_log, 0), 0);
	/* honest again */
	atomic_store(&T.mode, L_PASS);
	expect_answer(T.psp_port, "lied.example", "OK secure match=mx1.lied.example");
	expect_answer(T.psp_port, "plain.example", "NOTFOUND ");
	assert_int_equal(ps_stop(T.psp), 0);
	T.psp = 0;

	/* with a cache: a dead log still gets the fresh cached answer, and TEMP
	 * for what is not cached */
	assert_int_equal(ps_start(T.url_p, T.psp_log, "60", &T.psp, &T.psp_port), 0);
	expect_answer(T.psp_port, "secure.example", "OK secure match=mx1.secure.example");
	atomic_store(&T.mode, L_DOWN);
	expect_answer(T.psp_port, "secure.example", "OK secure match=mx1.secure.example");
	expect_answer(T.psp_port, "wild.example", "TEMP ");
	atomic_store(&T.mode, L_PASS);
	expect_answer(T.psp_port, "wild.example", "OK secure match=.mail.wild.example");

	/* an expired policy is no policy (asked only now: nothing cached) */
	while ((long long)time(NULL) <= T.expired_exp)
		pause_ms(100);
	expect_answer(T.psd_port, "expired.example", "NOTFOUND ");
}

/* serve_cosigned makes |l| answer /checkpoint with logd's checkpoint
 * cosigned by the witnesses of |mask|, or (|fork|) with a checkpoint of the
 * same size and another root, signed by the log's note key and cosigned. */
static void serve_cosigned(struct liar *l, const struct cosigned *cs, unsigned mask, int fork)
{
	struct http_resp r;
	struct note_checkpoint cp;
	uint8_t root[32];
	size_t n;
	char *note;

	assert_int_equal(http_do(T.logd.port, "GET", "/checkpoint", NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(note_parse_checkpoint(&cp, r.body, r.body_len), 0);
	memcpy(root, cp.root, 32);
	root[7] ^= 4;
	note = fork ? cosigned_fork(cs, T.logd.log_id, cp.tree_size, root, mask, &n)
		    : cosigned_add(cs, (const char *)r.body, r.body_len, mask, &n);
	http_resp_free(&r);
	assert_non_null(note);
	assert_int_equal(liar_checkpoint(l, note, n), 0);
	free(note);
}

static void test_witness(void **state)
{
	char data[128], notekey[160], policy[128], wlog[128], url[64];
	json_t *line = json_loads(T.logd.log_line, 0, NULL);
	const char *origin = json_string_value(json_object_get(line, "origin"));
	struct cosigned *cs;
	struct liar *l;
	pid_t pid;
	uint16_t port;

	(void)state;
	assert_non_null(origin);
	tpath(data, sizeof(data), "data");
	snprintf(notekey, sizeof(notekey), "%s/note-key.pem", data);
	tpath(policy, sizeof(policy), "witness-policy.txt");
	tpath(wlog, sizeof(wlog), "psw.log");
	cs = cosigned_new(notekey, origin, 3);
	assert_non_null(cs);
	json_decref(line);
	assert_int_equal(cosigned_write_policy(cs, policy, 3, 2), 0);
	l = liar_start(T.logd.port);
	assert_non_null(l);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", liar_port(l));
	/* no cache: every question checks the checkpoint the proxy serves now */
	assert_int_equal(ps_start_w(url, wlog, "0", policy, &pid, &port), 0);

	/* one cosignature of a quorum of two: Postfix defers */
	serve_cosigned(l, cs, 1u << 0, 0);
	expect_answer(port, "secure.example", "TEMP ");
	expect_answer(port, "plain.example", "TEMP ");
	assert_true(wait_file_has(wlog, "domain=secure.example answer=TEMP source=log "
				  "reason=witness-quorum-not-met", 5));
	assert_true(file_has(wlog, "domain=plain.example answer=TEMP source=log "
			     "reason=witness-quorum-not-met"));
	/* a quorum cosigned another tree of the same size: the log forked */
	serve_cosigned(l, cs, 1u << 0 | 1u << 2, 1);
	expect_answer(port, "secure.example", "TEMP ");
	assert_true(wait_file_has(wlog, "domain=secure.example answer=TEMP source=log "
				  "reason=verification-failed", 5));
	/* the quorum met: the verified answers */
	serve_cosigned(l, cs, 1u << 1 | 1u << 2, 0);
	expect_answer(port, "secure.example",
		      "OK secure match=mx1.secure.example protocols=>=TLSv1.2");
	expect_answer(port, "plain.example", "NOTFOUND ");
	/* four fetches: plain.example's last answer has secure.example's tree,
	 * which a checkpoint already covered (witness_check.c remembers it) */
	assert_true(liar_checkpoint_hits(l) >= 4);
	assert_int_equal(ps_stop(pid), 0);
	liar_stop(l);
	cosigned_free(cs);
}

/* --- Postfix -------------------------------------------------------------- */

static void pf_write(const char *name, const char *fmt, ...)
{
	char path[256];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/etc/%s", T.pf, name);
	f = fopen(path, "w");
	assert_non_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

/* pf_route writes the transport table: mail to secure.example goes to port
 * |secure_port|. Postfix indexes smtp_tls_policy_maps by the next hop
 * ([127.0.0.1]:PORT here), so a texthash maps each next hop back to its domain
 * in front of the socketmap (pipemap). That table never changes, so an smtp
 * process started before a reload answers the same. */
static void pf_route(uint16_t secure_port)
{
	pf_write("transport", "secure.example smtp:[127.0.0.1]:%u\nplain.example smtp:[127.0.0.1]:%u\n"
		 "lied.example smtp:[127.0.0.1]:%u\n", secure_port, T.p_plain, T.p_lied);
	pf_write("nexthops", "[127.0.0.1]:%u secure.example\n[127.0.0.1]:%u secure.example\n"
		 "[127.0.0.1]:%u plain.example\n[127.0.0.1]:%u lied.example\n", T.p_strip, T.p_tls,
		 T.p_plain, T.p_lied);
}

static void pf_send(const char *rcpt, const char *tag)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "printf 'Subject: %s\\n\\nbody %s\\n' | sendmail -C %s/etc "
		 "-f sender@sender.test %s", tag, tag, T.pf, rcpt);
	assert_int_equal(run(cmd), 0);
}

/* spool_has: a message with |tag| reached receiver |port|; *out_tls says if
 * over TLS. */
static int spool_has(uint16_t port, const char *tag, int *out_tls)
{
	char d[256], p[600];
	struct dirent *de;
	DIR *dir;
	int found = 0;

	snprintf(d, sizeof(d), "%s/spool/%u", T.dir, port);
	dir = opendir(d);
	if (dir == NULL)
		return 0;
	while (!found && (de = readdir(dir)) != NULL) {
		char *s;
		if (strstr(de->d_name, ".eml") == NULL)
			continue;
		snprintf(p, sizeof(p), "%s/%s", d, de->d_name);
		s = slurp(p);
		if (strstr(s, tag) != NULL) {
			found = 1;
			if (out_tls != NULL)
				*out_tls = strncmp(s, "X-Received-TLS: yes", 19) == 0;
		}
		free(s);
	}
	closedir(dir);
	return found;
}

static int wait_spool(uint16_t port, const char *tag, int *out_tls, int deadline_s)
{
	uint64_t end = now_ms() + (uint64_t)deadline_s * 1000;

	while (now_ms() < end) {
		if (spool_has(port, tag, out_tls))
			return 1;
		pause_ms(50);
	}
	fprintf(stderr, "timed out waiting for %s at receiver %u\n", tag, port);
	return 0;
}

static void start_receivers(void)
{
	char spool[160], cert[160], key[160], ports[4][16];
	int pfd[2];
	char line[64];
	FILE *f;

	tpath(spool, sizeof(spool), "spool");
	tpath(cert, sizeof(cert), "mx.pem");
	tpath(key, sizeof(key), "mx.key");
	{
		const struct pki_cert *c[1] = {T.mx};
		assert_int_equal(pki_write_pem(cert, c, 1), 0);
		f = fopen(key, "w");
		assert_non_null(f);
		assert_int_equal(PEM_write_PrivateKey(f, T.mx->key, NULL, NULL, 0, NULL, NULL), 1);
		fclose(f);
	}
	T.p_plain = free_port();
	T.p_strip = free_port();
	T.p_tls = free_port();
	T.p_lied = free_port();
	snprintf(ports[0], sizeof(ports[0]), "%u", T.p_plain);
	snprintf(ports[1], sizeof(ports[1]), "%u", T.p_strip);
	snprintf(ports[2], sizeof(ports[2]), "%u:tls", T.p_tls);
	snprintf(ports[3], sizeof(ports[3]), "%u", T.p_lied);
	assert_int_equal(pipe(pfd), 0);
	T.rcv = fork();
	if (T.rcv == 0) {
		char log[160];
		int e;
		tpath(log, sizeof(log), "receiver.log");
		e = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(pfd[1], 1);
		dup2(e, 2);
		close(pfd[0]);
		execl("/usr/bin/python3", "python3", "tests/client/smtp_receiver.py", spool, cert, key,
		      ports[0], ports[1], ports[2], ports[3], (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	assert_non_null(f);
	if (fgets(line, sizeof(line), f) == NULL || strncmp(line, "ready", 5) != 0) {
		fprintf(stderr, "receivers did not start (see %s/receiver.log)\n", T.dir);
		fail();
	}
	fclose(f);
}

static void start_postfix(void)
{
	char d[256], cmd[600], ca[256];
	struct passwd *pw = getpwnam("postfix");

	/* not a skip: the seed's use case needs a real MTA */
	if (access("/usr/sbin/postfix", X_OK) != 0 || access("/usr/sbin/sendmail", X_OK) != 0 ||
	    pw == NULL) {
		fprintf(stderr, "postfix is not installed (scripts/deps.sh installs it)\n");
		fail();
	}
	if (geteuid() != 0) {
		fprintf(stderr, "a private Postfix instance needs root\n");
		fail();
	}
	snprintf(T.pf, sizeof(T.pf), "%s/pf", T.dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/etc %s/queue %s/data", T.pf, T.pf, T.pf);
	assert_int_equal(run(cmd), 0);
	snprintf(d, sizeof(d), "%s/data", T.pf);
	assert_int_equal(chown(d, pw->pw_uid, pw->pw_gid), 0);
	snprintf(ca, sizeof(ca), "%s/etc/ca.pem", T.pf);
	{
		const struct pki_cert *c[1] = {T.mroot};
		assert_int_equal(pki_write_pem(ca, c, 1), 0);
	}
	pf_write("main.cf",
		 "compatibility_level = 3.6\n"
		 "queue_directory = %s/queue\n"
		 "data_directory = %s/data\n"
		 "mail_owner = postfix\n"
		 "inet_interfaces = 127.0.0.1\n"
		 "inet_protocols = ipv4\n"
		 "smtp_bind_address = 127.0.0.1\n"
		 "myhostname = sender.test\n"
		 "mydestination =\n"
		 "alias_maps =\n"
		 "alias_database =\n"
		 "biff = no\n"
		 "maillog_file_prefixes = /tmp\n"
		 "maillog_file = %s/maillog\n"
		 "transport_maps = texthash:%s/etc/transport\n"
		 "smtp_host_lookup = native\n"
		 "smtp_dns_support_level = disabled\n"
		 "smtp_tls_security_level = may\n"
		 "smtp_tls_CAfile = %s\n"
		 "smtp_tls_loglevel = 1\n"
		 /* deferred mail is retried within seconds, whatever a flush
		  * races with */
		 "queue_run_delay = 1s\n"
		 "minimal_backoff_time = 1s\n"
		 "maximal_backoff_time = 2s\n"
		 "smtp_tls_policy_maps = pipemap:{texthash:%s/etc/nexthops, "
		 "socketmap:inet:127.0.0.1:%u:metanotary}\n",
		 T.pf, T.pf, T.pf, T.pf, ca, T.pf, T.psp_port);
	pf_write("master.cf",
		 "127.0.0.1:%u inet n - n - - smtpd\n"
		 "pickup    unix  n - n 60 1 pickup\n"
		 "cleanup   unix  n - n - 0 cleanup\n"
		 "qmgr      unix  n - n 300 1 qmgr\n"
		 "tlsmgr    unix  - - n 1000? 1 tlsmgr\n"
		 "rewrite   unix  - - n - - trivial-rewrite\n"
		 "bounce    unix  - - n - 0 bounce\n"
		 "defer     unix  - - n - 0 bounce\n"
		 "trace     unix  - - n - 0 bounce\n"
		 "verify    unix  - - n - 1 verify\n"
		 "flush     unix  n - n 1000? 0 flush\n"
		 "proxymap  unix  - - n - - proxymap\n"
		 "smtp      unix  - - n - - smtp\n"
		 "relay     unix  - - n - - smtp\n"
		 "showq     unix  n - n - - showq\n"
		 "error     unix  - - n - - error\n"
		 "retry     unix  - - n - - error\n"
		 "discard   unix  - - n - - discard\n"
		 "local     unix  - n n - - local\n"
		 "anvil     unix  - - n - 1 anvil\n"
		 "scache    unix  - - n - 1 scache\n"
		 "postlog   unix-dgram n - n - 1 postlogd\n",
		 free_port());
	pf_route(T.p_strip);
	snprintf(cmd, sizeof(cmd), "postfix -c %s/etc start >%s/postfix-start.log 2>&1", T.pf, T.dir);
	assert_int_equal(run(cmd), 0);
	T.pf_started = 1;
}

static void test_postfix(void **state)
{
	char maillog[256], cmd[512];
	int tls = -1;

	(void)state;
	/* the Postfix instance asks the policy server behind the proxy (cached
	 * answers, honest for now) */
	atomic_store(&T.mode, L_PASS);
	start_receivers();
	start_postfix();
	snprintf(maillog, sizeof(maillog), "%s/maillog", T.pf);

	/* 1. secure.example's MX offers no STARTTLS (stripped): deferred,
	 *    never delivered */
	pf_send("bob@secure.example", "msg-secure-1");
	assert_true(wait_file_has(maillog, "TLS is required, but was not offered by host 127.0.0.1",
				  30));
	assert_true(wait_file_has(maillog, "to=<bob@secure.example>", 10));
	assert_true(file_has(maillog, "status=deferred"));
	assert_false(spool_has(T.p_strip, "msg-secure-1", NULL));

	/* 2. plain.example has no policy: delivered, in plaintext */
	pf_send("carol@plain.example", "msg-plain-1");
	assert_true(wait_spool(T.p_plain, "msg-plain-1", &tls, 30));
	assert_int_equal(tls, 0);

	/* 3. the log hides lied.example's policy (no map): TEMP, deferred, not
	 *    delivered in plaintext */
	atomic_store(&T.mode, L_DROP_MAP);
	pf_send("dave@lied.example", "msg-lied-1");
	assert_true(wait_file_has(maillog, "to=<dave@lied.example>", 30));
	assert_true(wait_file_has(T.psp_log, "domain=lied.example answer=TEMP", 5));
	assert_false(spool_has(T.p_lied, "msg-lied-1", NULL));
	/* ... and while it answers about another domain, still deferred */
	atomic_store(&T.mode, L_OTHER_HIDDEN);
	snprintf(cmd, sizeof(cmd), "postqueue -c %s/etc -f", T.pf);
	assert_int_equal(run(cmd), 0);
	assert_true(wait_file_has(T.psp_log, "domain=lied.example answer=TEMP source=log "
				  "reason=verification-failed", 30));
	assert_false(spool_has(T.p_lied, "msg-lied-1", NULL));
	atomic_store(&T.mode, L_PASS);

	/* 4. secure.example's real MX, with STARTTLS and a certificate for
	 *    mx1.secure.example: the deferred mail is delivered, verified TLS */
	pf_route(T.p_tls);
	snprintf(cmd, sizeof(cmd), "postfix -c %s/etc reload >/dev/null 2>&1", T.pf);
	assert_int_equal(run(cmd), 0);
	assert_true(wait_file_has(maillog, "reload -- version", 30));
	snprintf(cmd, sizeof(cmd), "postqueue -c %s/etc -f", T.pf);
	assert_int_equal(run(cmd), 0);
	assert_true(wait_spool(T.p_tls, "msg-secure-1", &tls, 30));
	assert_int_equal(tls, 1);
	assert_true(file_has(maillog, "Verified TLS connection established to 127.0.0.1"));
	assert_false(spool_has(T.p_strip, "msg-secure-1", NULL));
	assert_false(spool_has(T.p_lied, "msg-lied-1", NULL));
	/* Postfix's own view: lied.example's mail is still queued */
	snprintf(cmd, sizeof(cmd), "postqueue -c %s/etc -j | grep -q 'dave@lied.example'", T.pf);
	assert_int_equal(run(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_protocol),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_lies),
		cmocka_unit_test(test_witness),
		cmocka_unit_test(test_postfix),
	};
	int rc;

	if (setup() != 0) {
		fprintf(stderr, "setup failed (%s)\n", T.dir);
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	teardown();
	return rc;
}
