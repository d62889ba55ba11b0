/* bench_http: the running log over HTTP on 127.0.0.1, next to its ceilings.
 *
 *   bench_http [BUILD]     BUILD holds logd and bench/bare_server (default build)
 *   bench_http BUILD --add-only   only add-chain and add-pre-chain at 64
 *                          connections against BUILD/logd (to compare two logd
 *                          builds under the same load generator)
 *
 * Everything is measured in one run, about 2-3 minutes, on whatever cores the
 * machine has (load generators included):
 *
 *   ceiling A  bench/bare_server (libuv + llhttp, fixed 300-byte answer, same
 *              loop model as logd) under wrk -t2 -c64 -d10s;
 *   ceiling B  the naive add-chain path on one thread (base64, d2i_X509 each,
 *              X509_verify_cert with the root trusted and the intermediate
 *              untrusted, SHA-256 of the leaf, ECDSA P-256 sign of an SCT-sized
 *              message), best of 3, also multiplied by the number of cores;
 *   add-chain  an epoll load generator in this process (1, 8 and 64 keep-alive
 *              connections), each request a unique pre-generated [leaf, CA]
 *              chain; submissions/s, SCT latency p50/p99/max, every answer must
 *              be 200;
 *   add-pre-chain  the same at 64 connections with [precertificate, CA]
 *              chains (one precertificate made per two leaves);
 *   reads      wrk -t2 -c64 -d10s on get-sth, get-proof-by-hash (a Lua script
 *              cycling through the submitted leaves' hashes), get-sth-consistency
 *              (random pairs) and get-entries (256 at a time); get-entries'
 *              ceiling is bare_server answering as many bytes as one
 *              get-entries answer, under the same Lua script (a 300-byte
 *              answer is no ceiling for an 800 KB one).
 *
 * PKI: RSA-2048 root and intermediate like real CAs, ECDSA P-256 leaves (fast to
 * generate), made by bench/lib/chain.c with tests/lib/pki.c. The add-chain load
 * generator is bench/lib/post.c. Data directory under BUILD (fsync must reach
 * the real disk), removed at the end. Children (bare_server, logd, wrk) are
 * killed at the end, on failure, on SIGINT/SIGTERM and by a watchdog alarm
 * (bench/lib/load.h). Prints markdown rows for bench/RESULTS.md on stdout,
 * progress on stderr; writes BUILD/bench/http_*.dat and draws
 * bench/throughput.png and bench/latency.png with bench/plot.gp when gnuplot is
 * installed. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "bench/lib/chain.h"
#include "bench/lib/load.h"
#include "bench/lib/post.h"
#include "bench/lib/seqstat.h"
#include "common/b64.h"
#include "common/clock.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define MAX_LEAVES 60000      /* certificates generated at most */
#define GEN_SECONDS 30        /* ... or for this long, whichever comes first */
#define NAIVE_SUBS 2000       /* ceiling B: submissions per pass */
#define NAIVE_PASSES 3
#define ADD_SECONDS_MAIN 15   /* add-chain at 64 connections, at most */
#define ADD_SECONDS_SWEEP 3   /* add-chain at 1 and 8 connections */
#define WRK_SECONDS 10
#define WATCHDOG_SECONDS 300
#define MAX_PROOF_PATHS 20000
#define NUM_CONS_PATHS 5000
#define SCT_OVERHEAD 17
#define PRE_EVERY 2 /* a precertificate per PRE_EVERY leaves */

struct sub {
	struct pki_cert *leaf;
	char *b64;          /* base64 of the leaf DER */
	size_t b64_len;
	uint64_t timestamp; /* from the SCT; 0 until answered 200 */
	uint8_t ext[16];    /* the SCT's extensions (a new log's: leaf_index) */
	size_t ext_len;
};

static const char *build = "build";
static char workdir[512];
static struct pki_cert *root, *ca;
static char *ca_b64;
static size_t ca_b64_len;
static struct sub *subs;
static struct post_req *reqs; /* reqs[i]: the whole HTTP request of subs[i] */
static size_t num_subs;
static struct pki_cert **pres; /* precertificates, for add-pre-chain */
static struct post_req *pre_reqs;
static size_t num_pre;

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

/* --- PKI and submissions --- */

struct gen_arg {
	size_t start, step, limit;
	uint64_t deadline;
	size_t made; /* leaves made by this thread, at indexes start + k*step */
	int64_t now;
};

static void *gen_thread(void *p)
{
	struct gen_arg *g = p;
	for (size_t i = g->start; i < g->limit; i += g->step) {
		if (mn_mono_ns() > g->deadline)
			break;
		subs[i].leaf = chain_leaf(ca, "h", i, g->now);
		if (subs[i].leaf == NULL)
			break;
		if (i % PRE_EVERY == 0 &&
		    (pres[i / PRE_EVERY] = chain_precert(ca, "p", i, g->now)) == NULL)
			break;
		g->made++;
	}
	return NULL;
}

/* make_pki creates the root, the intermediate and up to MAX_LEAVES leaves (two
 * threads, GEN_SECONDS at most), and writes the root to |roots_path|. */
static void make_pki(const char *roots_path)
{
	int64_t now = pki_now();
	chain_ca(now, roots_path, &root, &ca);
	ca_b64 = chain_b64(ca, &ca_b64_len);

	subs = calloc(MAX_LEAVES, sizeof(*subs));
	reqs = calloc(MAX_LEAVES, sizeof(*reqs));
	pres = calloc(MAX_LEAVES / PRE_EVERY + 1, sizeof(*pres));
	pre_reqs = calloc(MAX_LEAVES / PRE_EVERY + 1, sizeof(*pre_reqs));
	if (subs == NULL || reqs == NULL || pres == NULL || pre_reqs == NULL)
		load_die("out of memory");
	uint64_t t0 = mn_mono_ns();
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nthreads = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (size_t)ncpu;
	struct gen_arg g[8];
	pthread_t th[8];
	for (size_t t = 0; t < nthreads; t++) {
		g[t] = (struct gen_arg){t, nthreads, MAX_LEAVES,
					t0 + (uint64_t)GEN_SECONDS * 1000000000u, 0, now};
		if (pthread_create(&th[t], NULL, gen_thread, &g[t]) != 0)
			load_die("pthread_create failed");
	}
	for (size_t t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	/* keep the dense prefix that every thread filled */
	num_subs = 0;
	while (num_subs < MAX_LEAVES && subs[num_subs].leaf != NULL)
		num_subs++;
	for (size_t i = num_subs; i < MAX_LEAVES; i++)
		pki_free(subs[i].leaf);
	while (num_pre < (num_subs + PRE_EVERY - 1) / PRE_EVERY && pres[num_pre] != NULL)
		num_pre++;
	for (size_t i = num_pre; i <= MAX_LEAVES / PRE_EVERY; i++) {
		pki_free(pres[i]);
		pres[i] = NULL;
	}
	for (size_t i = 0; i < num_pre; i++) {
		char *b = chain_b64(pres[i], NULL);
		chain_req_to(&pre_reqs[i], "/ct/v1/add-pre-chain", b, ca_b64);
		free(b);
	}
	double dt = load_secs_since(t0);
	for (size_t i = 0; i < num_subs; i++) {
		struct sub *s = &subs[i];
		s->b64 = chain_b64(s->leaf, &s->b64_len);
		chain_req(&reqs[i], s->b64, ca_b64);
	}
	fprintf(stderr, "bench_http: %zu leaves and %zu precertificates in %.1f s on %zu threads\n",
		num_subs, num_pre, dt, nthreads);
	if (num_subs < 1000)
		load_die("too few leaves generated");
}

/* --- ceiling B: the naive validation path --- */

static EVP_PKEY *sct_key;

static void naive_one(X509_STORE *store, const struct sub *s)
{
	const char *b64[2] = {s->b64, ca_b64};
	size_t b64_len[2] = {s->b64_len, ca_b64_len};
	uint8_t *der[2], h[32], sig[80], msg[SCT_OVERHEAD + 32 + 2048];
	size_t len[2], sig_len = sizeof(sig);
	X509 *x[2];
	for (int i = 0; i < 2; i++) {
		if (mn_b64_decode(&der[i], &len[i], b64[i], b64_len[i], 1 << 20) != 0)
			load_die("naive: base64 decode failed");
		const unsigned char *p = der[i];
		x[i] = d2i_X509(NULL, &p, (long)len[i]);
		if (x[i] == NULL || p != der[i] + len[i])
			load_die("naive: d2i_X509 failed");
	}
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (untrusted == NULL || ctx == NULL || !sk_X509_push(untrusted, x[1]) ||
	    !X509_STORE_CTX_init(ctx, store, x[0], untrusted) || X509_verify_cert(ctx) != 1)
		load_die("naive: the chain does not verify");
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	SHA256(der[0], len[0], h);
	/* an SCT-sized message: the signed struct header and the leaf */
	size_t msg_len = SCT_OVERHEAD + (len[0] < 2048 ? len[0] : 2048);
	memset(msg, 0, SCT_OVERHEAD);
	memcpy(msg + SCT_OVERHEAD, der[0], msg_len - SCT_OVERHEAD);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, sct_key) != 1 ||
	    EVP_DigestSign(md, sig, &sig_len, msg, msg_len) != 1)
		load_die("naive: signing failed");
	EVP_MD_CTX_free(md);
	for (int i = 0; i < 2; i++) {
		X509_free(x[i]);
		free(der[i]);
	}
}

/* naive_rate returns submissions/s of the naive path on one thread, best of 3,
 * and in *out_cpu_us its CPU time per submission (best of 3), which the
 * machine's other load disturbs less than the rate. */
static double naive_rate(double *out_cpu_us)
{
	X509_STORE *store = X509_STORE_new();
	sct_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (store == NULL || sct_key == NULL || !X509_STORE_add_cert(store, root->x))
		load_die("cannot build the naive path's store");
	size_t n = num_subs < NAIVE_SUBS ? num_subs : NAIVE_SUBS;
	uint64_t best = UINT64_MAX, best_cpu = UINT64_MAX;
	for (int pass = 0; pass < NAIVE_PASSES; pass++) {
		uint64_t t = mn_mono_ns(), cpu = bench_cpu_ns(CLOCK_THREAD_CPUTIME_ID);
		for (size_t i = 0; i < n; i++)
			naive_one(store, &subs[i]);
		t = mn_mono_ns() - t;
		cpu = bench_cpu_ns(CLOCK_THREAD_CPUTIME_ID) - cpu;
		if (t < best)
			best = t;
		if (cpu < best_cpu)
			best_cpu = cpu;
	}
	*out_cpu_us = (double)best_cpu / 1000.0 / (double)n;
	X509_STORE_free(store);
	EVP_PKEY_free(sct_key);
	return (double)n * 1e9 / (double)best;
}

/* --- processes --- */

/* stop_child stops |pid| with SIGTERM, SIGKILL after 5 s. */
static void stop_child(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			load_untrack(pid);
			return;
		}
		usleep(100000);
	}
	kill(pid, SIGKILL);
	load_wait(pid);
}

/* run_wrk runs wrk -t2 -c64 on |url| (with the Lua |script| or NULL), |server|'s
 * CPU measured; returns 0 or -1 (load_wrk_run). */
static int run_wrk(const char *url, const char *script, pid_t server, struct load_wrk *r)
{
	fprintf(stderr, "bench_http: wrk %s%s%s\n", url, script ? " -s " : "", script ? script : "");
	return load_wrk_run(url, script, 2, 64, WRK_SECONDS, server, r);
}

/* --- add-chain load --- */

/* on_sct keeps the timestamp and extensions of the SCT answering a
 * submission, to hash its leaf for get-proof-by-hash. */
static void on_sct(void *arg, const struct post_req *req, const char *resp)
{
	struct sub *s = &subs[req - reqs];
	const char *ts = strstr(resp, "\"timestamp\":");
	const char *ext = strstr(resp, "\"extensions\":\"");

	(void)arg;
	s->timestamp = ts ? strtoull(ts + 12, NULL, 10) : 0;
	s->ext_len = 0;
	if (ext != NULL) {
		const char *b = ext + 14, *e = strchr(b, '"');
		uint8_t *d = NULL;
		size_t n = 0;
		if (e != NULL && mn_b64_decode(&d, &n, b, (size_t)(e - b), sizeof(s->ext)) == 0) {
			memcpy(s->ext, d, n);
			s->ext_len = n;
		}
		free(d);
		if (e == NULL || (e > b && s->ext_len == 0))
			s->timestamp = 0; /* cannot hash it: leave it out */
	}
}

/* run_add submits reqs[list->next .. list->limit) over |nconns| connections for
 * |seconds| at most, then waits for the answers. */
static void run_add(pid_t server, uint16_t port, size_t nconns, struct post_list *list,
		    double seconds, struct post_result *r)
{
	int pre = list->reqs == pre_reqs;
	struct post_load l = {pre ? "add-pre-chain" : "add-chain", port, server, nconns, seconds,
			      post_list_next, pre ? NULL : on_sct, list};

	post_run(&l, r);
}

/* --- read scripts --- */

static void leaf_hash(const struct sub *s, uint8_t out[32])
{
	/* MerkleTreeLeaf (RFC 6962 section 3.4) behind the 0x00 leaf prefix */
	uint8_t head[1 + 2 + 8 + 2 + 3];
	size_t n = 0;
	head[n++] = 0x00; /* leaf hash prefix (section 2.1) */
	head[n++] = 0;    /* version = v1 */
	head[n++] = 0;    /* leaf_type = timestamped_entry */
	for (int i = 7; i >= 0; i--)
		head[n++] = (uint8_t)(s->timestamp >> (8 * i));
	head[n++] = 0; /* entry_type = x509_entry */
	head[n++] = 0;
	head[n++] = (uint8_t)(s->leaf->der_len >> 16);
	head[n++] = (uint8_t)(s->leaf->der_len >> 8);
	head[n++] = (uint8_t)s->leaf->der_len;
	uint8_t buf[sizeof(head) + 4096 + 2 + sizeof(s->ext)];
	if (s->leaf->der_len > 4096)
		load_die("a leaf is too large");
	memcpy(buf, head, n);
	memcpy(buf + n, s->leaf->der, s->leaf->der_len);
	n += s->leaf->der_len;
	buf[n++] = (uint8_t)(s->ext_len >> 8); /* extensions<0..2^16-1>: the SCT's */
	buf[n++] = (uint8_t)s->ext_len;
	memcpy(buf + n, s->ext, s->ext_len);
	n += s->ext_len;
	SHA256(buf, n, out);
}

static FILE *script_open(const char *path)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		load_die("cannot write a wrk script");
	fputs("local paths = {\n", f);
	return f;
}

static void script_close(FILE *f)
{
	fputs("}\n"
	      "local i = 0\n"
	      "setup = function(thread)\n"
	      "  nthreads = (nthreads or 0) + 1\n"
	      "  thread:set(\"first\", nthreads * 7919)\n"
	      "end\n"
	      "local reqs = {}\n"
	      "init = function(args)\n"
	      "  for k, p in ipairs(paths) do reqs[k] = wrk.format(\"GET\", p) end\n"
	      "  i = (first or 0) % #reqs\n"
	      "end\n"
	      "request = function()\n"
	      "  i = i + 1\n"
	      "  if i > #reqs then i = 1 end\n"
	      "  return reqs[i]\n"
	      "end\n",
	      f);
	if (fclose(f) != 0)
		load_die("cannot write a wrk script");
}

static void write_proof_script(const char *path, uint64_t tree_size, size_t *out_num)
{
	FILE *f = script_open(path);
	size_t num = 0;
	for (size_t i = 0; i < num_subs && num < MAX_PROOF_PATHS; i++) {
		if (subs[i].timestamp == 0)
			continue;
		uint8_t h[32];
		char enc[3 * 44 + 1];
		leaf_hash(&subs[i], h);
		load_b64_urlenc(enc, h, 32);
		fprintf(f, "\"/ct/v1/get-proof-by-hash?hash=%s&tree_size=%llu\",\n", enc,
			(unsigned long long)tree_size);
		num++;
	}
	script_close(f);
	*out_num = num;
}

static uint64_t rnd(uint64_t *state)
{
	/* xorshift64 */
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static void write_consistency_script(const char *path, uint64_t tree_size)
{
	FILE *f = script_open(path);
	uint64_t st = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < NUM_CONS_PATHS; i++) {
		uint64_t a = 1 + rnd(&st) % (tree_size - 1);
		uint64_t b = a + 1 + rnd(&st) % (tree_size - a);
		fprintf(f, "\"/ct/v1/get-sth-consistency?first=%llu&second=%llu\",\n",
			(unsigned long long)a, (unsigned long long)b);
	}
	script_close(f);
}

static void write_entries_script(const char *path, uint64_t tree_size)
{
	FILE *f = script_open(path);
	uint64_t st = 0x2545f4914f6cdd1dull;
	for (size_t i = 0; i < NUM_CONS_PATHS; i++) {
		uint64_t a = rnd(&st) % (tree_size - 255);
		fprintf(f, "\"/ct/v1/get-entries?start=%llu&end=%llu\",\n", (unsigned long long)a,
			(unsigned long long)(a + 255));
	}
	script_close(f);
}

/* --- main --- */

static void add_row(const char *what, const struct post_result *r, double naive1,
		    double naive_cpu_us, int ncpu)
{
	double rate = post_rate(r);
	printf("| add-chain, %s, load generator on the same machine | %.0f /s (%zu in %.1f s, "
	       "%zu failed); SCT p50 %.1f ms, p99 %.1f ms, max %.1f ms; logd CPU %.0f us "
	       "per submission, load generator %.0f us | naive path x %d cores: %.0f /s "
	       "(1 core: %.0f /s, %.0f us CPU each) | %.2f (%.2fx 1-core naive; logd's CPU per "
	       "submission %.2fx naive's) |\n",
	       what, rate, r->ok, r->secs, r->failed, post_pct_ms(r, 0.5), post_pct_ms(r, 0.99),
	       post_pct_ms(r, 1.0), r->server_us, r->client_us, ncpu, naive1 * ncpu, naive1,
	       naive_cpu_us, rate / (naive1 * ncpu), rate / naive1, r->server_us / naive_cpu_us);
}

/* get_row prints a read row; |al| is bare_server under the same kind of wrk
 * Lua script (wrk's Lua request() costs the shared cores too), or NULL. */
static void get_row(const char *what, const struct load_wrk *w, const struct load_wrk *a,
		    const struct load_wrk *al, const char *extra)
{
	char ceil2[128] = "", ratio2[64] = "";
	if (al != NULL) {
		snprintf(ceil2, sizeof(ceil2), "; with the same Lua script %.0f req/s", al->rps);
		snprintf(ratio2, sizeof(ratio2), " (%.2f of the scripted)", w->rps / al->rps);
	}
	printf("| %s, wrk -t2 -c64 | %.0f req/s%s, p99 %.2f ms%s; logd CPU %.1f us/req | "
	       "bare_server %.0f req/s, p99 %.2f ms%s; %.1f us/req | %.2f%s |\n",
	       what, w->rps, extra ? extra : "", w->p99_ms,
	       w->non2xx + w->sock_errors ? " (ERRORS, see stderr)" : "", w->server_us, a->rps,
	       a->p99_ms, ceil2, a->server_us, w->rps / a->rps, ratio2);
	if (w->non2xx + w->sock_errors)
		fprintf(stderr, "bench_http: %s: %lu non-2xx answers, %lu socket errors\n", what,
			w->non2xx, w->sock_errors);
}

/* pre_row prints the add-pre-chain row next to add-chain's at 64 connections. */
static void pre_row(const struct post_result *rp, const struct post_result *r64)
{
	printf("| add-pre-chain, 64 connections, [precertificate, CA] | %.0f /s (%zu in %.1f s, "
	       "%zu failed); SCT p50 %.1f ms, p99 %.1f ms; logd CPU %.0f us per submission | "
	       "add-chain, same run: %.0f /s, %.0f us | %.2f |\n",
	       post_rate(rp), rp->ok, rp->secs, rp->failed, post_pct_ms(rp, 0.5),
	       post_pct_ms(rp, 0.99), rp->server_us, post_rate(r64), r64->server_us,
	       post_rate(rp) / post_rate(r64));
}

static void free_pres(void)
{
	for (size_t i = 0; i < num_pre; i++) {
		pki_free(pres[i]);
		free(pre_reqs[i].data);
	}
	free(pres);
	free(pre_reqs);
}

/* add_only: add-chain then add-pre-chain at 64 connections against
 * BUILD/logd, one row each ("--add-only"); |legacy|: a log created with
 * --no-leaf-index (the RFC 6962 format, SCTs signed before sequencing), to
 * compare the two formats' write paths ("--add-only --no-leaf-index"). */
static int add_only(const char *data, const char *roots, int legacy)
{
	struct logd_proc lp;
	const char *largs[] = {"--data", data, "--tls-roots", roots,
			       legacy ? "--no-leaf-index" : NULL, NULL};
	struct post_result ra, rp;
	struct post_list list = {reqs, 0, num_subs}, plist = {pre_reqs, 0, num_pre};

	load_logd_start(&lp, build, data, largs);
	run_add(lp.pid, lp.port, 64, &list, ADD_SECONDS_MAIN, &ra);
	run_add(lp.pid, lp.port, 64, &plist, ADD_SECONDS_MAIN, &rp);
	int st = load_logd_stop(&lp, SIGTERM);
	if (st != 0 || ra.failed + rp.failed > 0)
		fprintf(stderr, "bench_http: logd status %d, %zu + %zu failed\n", st, ra.failed,
			rp.failed);
	printf("| add-chain, 64 connections, %s/logd%s | %.0f /s (%zu in %.1f s, %zu failed); "
	       "SCT p50 %.1f ms, p99 %.1f ms; logd CPU %.0f us per submission | | |\n",
	       build, legacy ? " --no-leaf-index" : "", post_rate(&ra), ra.ok, ra.secs,
	       ra.failed, post_pct_ms(&ra, 0.5),
	       post_pct_ms(&ra, 0.99), ra.server_us);
	pre_row(&rp, &ra);
	for (size_t i = 0; i < num_subs; i++) {
		pki_free(subs[i].leaf);
		free(subs[i].b64);
		free(reqs[i].data);
	}
	free(subs);
	free(reqs);
	free(ca_b64);
	free_pres();
	post_result_cleanup(&ra);
	post_result_cleanup(&rp);
	pki_free(ca);
	pki_free(root);
	cleanup();
	return 0;
}

int main(int argc, char **argv)
{
	char path[640], url[128], data[600], roots[600];
	uint64_t t_all = mn_mono_ns();
	if (argc > 1)
		build = argv[1];
	atexit(cleanup);
	load_init("bench_http", WATCHDOG_SECONDS);
	long ncpu_l = sysconf(_SC_NPROCESSORS_ONLN);
	int ncpu = ncpu_l < 1 ? 1 : (int)ncpu_l;

	load_workdir(workdir, sizeof(workdir), build, "bench-http");
	snprintf(data, sizeof(data), "%s/data", workdir);
	snprintf(roots, sizeof(roots), "%s/roots.pem", workdir);
	make_pki(roots);
	if (argc > 2 && strcmp(argv[2], "--add-only") == 0)
		return add_only(data, roots, argc > 3 && strcmp(argv[3], "--no-leaf-index") == 0);

	/* ceiling B, before any server runs */
	double naive_cpu_us;
	double naive1 = naive_rate(&naive_cpu_us);
	fprintf(stderr, "bench_http: naive path %.0f /s on one thread, %.0f us CPU each\n", naive1,
		naive_cpu_us);

	/* ceiling A */
	snprintf(path, sizeof(path), "%s/bench/bare_server", build);
	char *bare_argv[] = {path, "0", NULL};
	int fd;
	pid_t bare = load_spawn(bare_argv, &fd, 0);
	char line[128] = "";
	FILE *bf = fdopen(fd, "r");
	if (bf == NULL || fgets(line, sizeof(line), bf) == NULL ||
	    strncmp(line, "listening 127.0.0.1:", 20) != 0)
		load_die("bare_server did not start");
	fclose(bf);
	snprintf(url, sizeof(url), "http://127.0.0.1:%lu/", strtoul(line + 20, NULL, 10));
	struct load_wrk wa;
	if (run_wrk(url, NULL, bare, &wa) != 0)
		load_die("wrk failed on bare_server");
	fprintf(stderr, "bench_http: bare_server %.0f req/s, p99 %.2f ms\n", wa.rps, wa.p99_ms);
	char bare_url[128];
	snprintf(bare_url, sizeof(bare_url), "%.*s", (int)strlen(url) - 1, url);

	/* logd */
	struct logd_proc lp;
	const char *largs[] = {"--data", data, "--tls-roots", roots, NULL};
	load_logd_start(&lp, build, data, largs);

	/* add-chain: 1, 8, then 64 connections, each on fresh certificates */
	struct post_result r1, r8, r64;
	size_t quarter = num_subs / 8;
	struct post_list list = {reqs, 0, quarter};
	run_add(lp.pid, lp.port, 1, &list, ADD_SECONDS_SWEEP, &r1);
	fprintf(stderr, "bench_http: add-chain c=1: %.0f /s\n", post_rate(&r1));
	list.limit = list.next + 2 * quarter;
	run_add(lp.pid, lp.port, 8, &list, ADD_SECONDS_SWEEP, &r8);
	fprintf(stderr, "bench_http: add-chain c=8: %.0f /s\n", post_rate(&r8));
	list.limit = num_subs;
	run_add(lp.pid, lp.port, 64, &list, ADD_SECONDS_MAIN, &r64);
	fprintf(stderr, "bench_http: add-chain c=64: %.0f /s\n", post_rate(&r64));
	struct post_result rp;
	struct post_list plist = {pre_reqs, 0, num_pre};
	run_add(lp.pid, lp.port, 64, &plist, ADD_SECONDS_MAIN, &rp);
	fprintf(stderr, "bench_http: add-pre-chain c=64: %.0f /s\n", post_rate(&rp));

	uint64_t tree_size = load_tree_size(lp.port);
	size_t total_ok = r1.ok + r8.ok + r64.ok + rp.ok;
	if (tree_size != total_ok)
		fprintf(stderr, "bench_http: tree_size %llu but %zu submissions answered 200\n",
			(unsigned long long)tree_size, total_ok);
	if (tree_size < 512)
		load_die("the tree is too small to measure reads");

	/* get-entries must answer whole batches, or entries/s would be wrong */
	size_t per_batch = 0, entries_bytes = 0;
	{
		struct http_resp hr;
		if (http_do(lp.port, "GET", "/ct/v1/get-entries?start=0&end=255", NULL, NULL, 0,
			    &hr) != 0 || hr.status != 200)
			load_die("get-entries failed");
		for (char *p = (char *)hr.body; (p = strstr(p, "\"leaf_input\"")) != NULL; p++)
			per_batch++;
		entries_bytes = hr.body_len;
		http_resp_free(&hr);
		if (per_batch != 256)
			fprintf(stderr, "bench_http: get-entries answers %zu entries, not 256\n",
				per_batch);
	}

	/* reads */
	struct load_wrk ws, wp, wc, we;
	char script[700];
	size_t num_proofs;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/ct/v1/get-sth", lp.port);
	if (run_wrk(url, NULL, lp.pid, &ws) != 0)
		load_die("wrk failed on get-sth");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", lp.port);
	snprintf(script, sizeof(script), "%s/proof.lua", workdir);
	write_proof_script(script, tree_size, &num_proofs);
	if (run_wrk(url, script, lp.pid, &wp) != 0)
		load_die("wrk failed on get-proof-by-hash");
	/* the same Lua script against bare_server: wrk's Lua costs CPU too */
	struct load_wrk wal;
	if (run_wrk(bare_url, script, bare, &wal) != 0)
		load_die("wrk failed on bare_server with a script");
	stop_child(bare);
	snprintf(script, sizeof(script), "%s/consistency.lua", workdir);
	write_consistency_script(script, tree_size);
	if (run_wrk(url, script, lp.pid, &wc) != 0)
		load_die("wrk failed on get-sth-consistency");
	snprintf(script, sizeof(script), "%s/entries.lua", workdir);
	write_entries_script(script, tree_size);
	if (run_wrk(url, script, lp.pid, &we) != 0)
		load_die("wrk failed on get-entries");
	/* its ceiling: bare_server answering as many bytes, same Lua script */
	struct load_wrk wae;
	{
		char threads[16], body[32];
		snprintf(threads, sizeof(threads), "%d", ncpu);
		snprintf(body, sizeof(body), "%zu", entries_bytes);
		snprintf(path, sizeof(path), "%s/bench/bare_server", build);
		char *big_argv[] = {path, "0", threads, body, NULL};
		pid_t big = load_spawn(big_argv, &fd, 0);
		FILE *bb = fdopen(fd, "r");
		if (bb == NULL || fgets(line, sizeof(line), bb) == NULL ||
		    strncmp(line, "listening 127.0.0.1:", 20) != 0)
			load_die("bare_server (large answers) did not start");
		fclose(bb);
		snprintf(bare_url, sizeof(bare_url), "http://127.0.0.1:%lu",
			 strtoul(line + 20, NULL, 10));
		if (run_wrk(bare_url, script, big, &wae) != 0)
			load_die("wrk failed on bare_server with large answers");
		stop_child(big);
	}

	if (getenv("BENCH_HTTP_HOLD") != NULL) {
		fprintf(stderr, "bench_http: holding logd on port %u and %s (BENCH_HTTP_HOLD); "
			"press Enter\n", lp.port, workdir);
		alarm(WATCHDOG_SECONDS);
		getchar();
	}
	int st = load_logd_stop(&lp, SIGTERM);
	if (st != 0)
		fprintf(stderr, "bench_http: logd exited with status %d\n", st);

	/* rows */
	add_row("64 connections", &r64, naive1, naive_cpu_us, ncpu);
	pre_row(&rp, &r64);
	add_row("8 connections", &r8, naive1, naive_cpu_us, ncpu);
	add_row("1 connection", &r1, naive1, naive_cpu_us, ncpu);
	get_row("get-sth", &ws, &wa, NULL, NULL);
	char extra[128];
	snprintf(extra, sizeof(extra), " (%zu leaves, tree_size %llu)", num_proofs,
		 (unsigned long long)tree_size);
	get_row("get-proof-by-hash", &wp, &wa, &wal, extra);
	get_row("get-sth-consistency, random pairs", &wc, &wa, &wal, NULL);
	printf("| get-entries?start=X&end=X+255, wrk -t2 -c64 | %.0f req/s = %.0f entries/s, "
	       "%.1f MB/s, p99 %.2f ms%s; logd CPU %.1f us/req | bare_server answering the same "
	       "%zu bytes, same Lua script: %.0f req/s = %.1f MB/s, p99 %.2f ms; %.1f us/req | "
	       "%.2f |\n",
	       we.rps, we.rps * (double)per_batch, we.mb_per_s, we.p99_ms,
	       we.non2xx + we.sock_errors ? " (ERRORS, see stderr)" : "", we.server_us,
	       entries_bytes, wae.rps, wae.mb_per_s, wae.p99_ms, wae.server_us,
	       we.rps / wae.rps);
	if (we.non2xx + we.sock_errors)
		fprintf(stderr, "bench_http: get-entries: %lu non-2xx answers, %lu socket errors\n",
			we.non2xx, we.sock_errors);

	/* data files and plots */
	snprintf(path, sizeof(path), "%s/bench/http_throughput.dat", build);
	FILE *f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "# connections add-chain/s naive_x%d\n", ncpu);
		fprintf(f, "1 %.0f %.0f\n8 %.0f %.0f\n64 %.0f %.0f\n", post_rate(&r1),
			naive1 * ncpu, post_rate(&r8), naive1 * ncpu, post_rate(&r64),
			naive1 * ncpu);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/bench/http_latency.dat", build);
	f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "# percentile sct_ms_c1 sct_ms_c8 sct_ms_c64\n");
		for (int q = 0; q <= 100; q++)
			fprintf(f, "%d %.3f %.3f %.3f\n", q, post_pct_ms(&r1, q / 100.0),
				post_pct_ms(&r8, q / 100.0), post_pct_ms(&r64, q / 100.0));
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/bench/http_reads.dat", build);
	f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "# endpoint req/s p50_ms p99_ms\n");
		const struct load_wrk *ws_all[] = {&wa, &wal, &ws, &wp, &wc, &we};
		const char *names[] = {"bare_server", "bare_server+lua", "get-sth",
				       "get-proof-by-hash", "get-sth-consistency",
				       "get-entries(256)"};
		for (int i = 0; i < 6; i++)
			fprintf(f, "\"%s\" %.0f %.3f %.3f\n", names[i], ws_all[i]->rps,
				ws_all[i]->p50_ms, ws_all[i]->p99_ms);
		fclose(f);
	}
	if (access("bench/plot.gp", R_OK) == 0 && access("/usr/bin/gnuplot", X_OK) == 0) {
		char dir[600];
		snprintf(dir, sizeof(dir), "dir='%s/bench'", build);
		char *gp_argv[] = {"/usr/bin/gnuplot", "-e", dir, "bench/plot.gp", NULL};
		pid_t gp = load_spawn(gp_argv, &fd, 0);
		close(fd);
		load_wait(gp);
	}

	for (size_t i = 0; i < num_subs; i++) {
		pki_free(subs[i].leaf);
		free(subs[i].b64);
		free(reqs[i].data);
	}
	free(subs);
	free(reqs);
	free(ca_b64);
	post_result_cleanup(&r1);
	post_result_cleanup(&r8);
	post_result_cleanup(&r64);
	post_result_cleanup(&rp);
	free_pres();
	pki_free(ca);
	pki_free(root);
	cleanup();
	fprintf(stderr, "bench_http: done in %.0f s\n", load_secs_since(t_all));
	return 0;
}
