/* bench_mn: /mn/v1/add-pgp and /mn/v1/add-policy over HTTP on 127.0.0.1, next
 * to /ct/v1/add-chain measured in the same run against the same logd (issue 5:
 * the three go through the same sequencer).
 *
 *   bench_mn [BUILD]       BUILD holds logd (default build)
 *
 * About 70 s on whatever cores the machine has (load generator and gpg
 * included):
 *
 *   fixtures   a certifier key and up to MAX_PGP_KEYS ed25519 keys (with a
 *              cv25519 encryption subkey) made by gpg in a private GNUPGHOME,
 *              each with UIDS_PER_KEY user IDs (one gpg --edit-key session
 *              with --command-fd: a gpg process per user ID is 20x slower),
 *              all certified by the certifier PASSES_PER_KEY times (gpg
 *              --force-sign-key, each pass at its own frozen second in the past
 *              day with --faked-system-time, gpg's own signing being the slow
 *              part). One request per certification: the primary key, the
 *              user ID with its self-signature and that one certification, and
 *              the subkey with its binding, everything else cut out as a client
 *              submitting one address would; each is a distinct endorsement
 *              (the dedup key covers the certification's hashed subpackets,
 *              its creation time included), sent in a shuffled order.
 *              GEN_SECONDS at most, while threads make unique P-256 leaves for
 *              add-chain as bench_http does;
 *   policies   one TLS signer certificate whose subjectAltName lists
 *              d0..d199.bench.example, logged once by a first policy with x5c;
 *              then ES256 JWS naming it by x5t#S256 for every (domain,
 *              protocol) pair (200 x 6) and serials 1..SERIALS, RFC 8785
 *              canonical payloads, all pre-signed;
 *   load       an epoll load generator in this process (keep-alive, no
 *              pipelining) at 16 then 64 connections: add-chain, add-pgp and
 *              add-policy for RUN_SECONDS each (or until the unique submissions
 *              run out), every answer must be 200. A duplicate would be
 *              answered from the index, so nothing is sent twice; a pair's
 *              policies go over one connection in serial order, so none is
 *              refused as stale. At the end the tree must hold exactly one leaf
 *              per 200 (two for the first policy), or the rows say so.
 *
 * Children (logd) are killed at the end, on failure, on SIGINT/SIGTERM and by a
 * watchdog alarm (bench/lib/load.h; the load generator is bench/lib/post.h);
 * the gpg-agent of the private home is stopped and the work directory (under
 * BUILD, so fsync reaches the real disk) removed. Prints markdown rows for
 * bench/RESULTS.md on stdout, progress on stderr. */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "bench/lib/chain.h"
#include "bench/lib/load.h"
#include "bench/lib/post.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "entry/pgp.h"
#include "tests/lib/mnfix.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define MAX_LEAVES 60000     /* add-chain leaves generated at most */
#define MAX_PGP_KEYS 12      /* gpg keys at most ... */
#define UIDS_PER_KEY 250     /* ... each with this many user IDs ... */
#define PASSES_PER_KEY 10    /* ... each certified this many times */
#define GEN_SECONDS 45       /* fixture generation, at most */
#define NUM_DOMAINS 200      /* dNSNames of the policy signer */
#define NUM_PROTOCOLS 6
#define NUM_PAIRS (NUM_DOMAINS * NUM_PROTOCOLS)
#define SERIALS 20           /* policies pre-signed per (domain, protocol) */
#define RUN_SECONDS 3.0      /* each measurement, at most */
#define WATCHDOG_SECONDS 300
#define DAY 86400

static const char *build = "build";
static char workdir[PATH_MAX];
static struct mnfix_gpg G;
static int gpg_started;

static struct post_req *chain_reqs, *pgp_reqs, *pol_reqs; /* pol_reqs[pair * SERIALS + s] */
static size_t num_chain, num_pgp, cap_pgp, num_pgp_keys;
static size_t pol_next[NUM_PAIRS]; /* next serial index per pair */

static const char *const protocols[NUM_PROTOCOLS] = {"https", "imap", "pop3", "smtp",
						     "submission", "xmpp-server"};

/* --- cleanup --- */

/* on_fatal_signal runs in load's signal handler, logd already killed: fork and
 * exec are async-signal-safe, so it stops the agent and removes the files. */
static void on_fatal_signal(void)
{
	if (gpg_started) {
		pid_t p = fork();
		if (p == 0) {
			execl("/usr/bin/gpgconf", "gpgconf", "--homedir", G.home, "--kill", "all",
			      (char *)NULL);
			_exit(127);
		}
		if (p > 0)
			waitpid(p, NULL, 0);
	}
	if (workdir[0] != '\0') {
		pid_t p = fork();
		if (p == 0) {
			execl("/bin/rm", "rm", "-rf", workdir, (char *)NULL);
			_exit(127);
		}
		if (p > 0)
			waitpid(p, NULL, 0);
	}
}

/* cleanup stops the agent and removes the work directory; an atexit handler
 * registered before load_init's, so it runs after logd is killed. */
static void cleanup(void)
{
	if (gpg_started) {
		mnfix_gpg_kill(&G);
		gpg_started = 0;
	}
	if (workdir[0] != '\0') {
		load_rm_tree(workdir);
		workdir[0] = '\0';
	}
}

/* --- add-chain leaves (a thread, while gpg works) --- */

static struct pki_cert *root, *ca;
static struct pki_cert **leaves;
static uint64_t gen_deadline;

static size_t next_leaf; /* slots claimed, atomically */

/* leaf_thread fills leaves[] slots it claims until MAX_LEAVES or the deadline;
 * two run at once (one of them once gpg is done). */
static void *leaf_thread(void *arg)
{
	int64_t now = pki_now();
	(void)arg;
	while (mn_mono_ns() < gen_deadline) {
		size_t i = __atomic_fetch_add(&next_leaf, 1, __ATOMIC_RELAXED);
		if (i >= MAX_LEAVES)
			break;
		leaves[i] = chain_leaf(ca, "c", i, now);
		if (leaves[i] == NULL)
			break;
	}
	return NULL;
}

static void make_chain_reqs(void)
{
	char *ca_b64 = chain_b64(ca, NULL);
	chain_reqs = load_xmalloc((num_chain + 1) * sizeof(*chain_reqs));
	for (size_t i = 0; i < num_chain; i++) {
		char *leaf_b64 = chain_b64(leaves[i], NULL);
		chain_req(&chain_reqs[i], leaf_b64, ca_b64);
		free(leaf_b64);
		pki_free(leaves[i]);
		leaves[i] = NULL;
	}
	free(ca_b64);
}

/* --- add-pgp endorsements --- */

struct pkt {
	uint8_t tag;
	const uint8_t *p; /* whole packet, header included */
	size_t len;
	struct cbs body;
};

/* sig_issuer sets |out| to the key ID of the v4 signature |body| (the issuer
 * fingerprint subpacket, type 33, or the issuer subpacket, type 16, in either
 * area; RFC 4880 section 5.2.3.1). Returns 1, or 0 if there is none. */
static int sig_issuer(struct cbs body, uint8_t out[8])
{
	uint8_t v, skip;
	uint16_t area_len;
	struct cbs area;

	if (!cbs_get_u8(&body, &v) || v != 4 || !cbs_skip(&body, 3))
		return 0;
	for (int i = 0; i < 2; i++) {
		if (!cbs_get_u16(&body, &area_len) || !cbs_get_bytes(&body, &area, area_len))
			return 0;
		while (cbs_len(&area) > 0) {
			uint8_t b0, b1, type;
			uint32_t len;
			struct cbs sp;
			if (!cbs_get_u8(&area, &b0))
				return 0;
			if (b0 < 192) {
				len = b0;
			} else if (b0 < 255) {
				if (!cbs_get_u8(&area, &b1))
					return 0;
				len = ((uint32_t)(b0 - 192) << 8) + b1 + 192;
			} else if (!cbs_get_u32(&area, &len)) {
				return 0;
			}
			if (len == 0 || !cbs_get_bytes(&area, &sp, len) || !cbs_get_u8(&sp, &type))
				return 0;
			type &= 0x7f;
			if (type == 16 && cbs_len(&sp) == 8)
				return cbs_copy_bytes(&sp, out, 8);
			if (type == 33 && cbs_len(&sp) == 21 && cbs_get_u8(&sp, &skip) &&
			    skip == 4 && cbs_skip(&sp, 12))
				return cbs_copy_bytes(&sp, out, 8);
		}
	}
	return 0;
}

static void keyid_of(const char *fpr_hex, uint8_t out[8])
{
	for (int i = 0; i < 8; i++) {
		unsigned x;
		if (sscanf(fpr_hex + 24 + 2 * i, "%2x", &x) != 1)
			load_die("bad fingerprint");
		out[i] = (uint8_t)x;
	}
}

static void add_pgp_req(const struct pkt *const *parts, size_t num, const struct cbs *uid_body,
			const char *signer)
{
	size_t len = 0;
	for (size_t i = 0; i < num; i++)
		len += parts[i]->len;
	uint8_t *cert = load_xmalloc(len), *w = cert;
	for (size_t i = 0; i < num; i++) {
		memcpy(w, parts[i]->p, parts[i]->len);
		w += parts[i]->len;
	}
	char *uid = load_xmalloc(cbs_len(uid_body) + 1);
	memcpy(uid, cbs_data(uid_body), cbs_len(uid_body));
	uid[cbs_len(uid_body)] = '\0';
	char *body = mnfix_pgp_request(cert, len, uid, signer);
	if (body == NULL)
		load_die("cannot build an add-pgp request");
	if (num_pgp == cap_pgp) {
		cap_pgp = cap_pgp ? 2 * cap_pgp : 4096;
		struct post_req *q = realloc(pgp_reqs, cap_pgp * sizeof(*q));
		if (q == NULL)
			load_die("out of memory");
		pgp_reqs = q;
	}
	post_req_json(&pgp_reqs[num_pgp++], "/mn/v1/add-pgp", body);
	free(body);
	free(uid);
	free(cert);
}

/* split_key turns one exported key (primary, user IDs with their signatures,
 * subkeys with their bindings) into one add-pgp request per certification by
 * the certifier |signer_hex| of a user ID: the primary key (and any direct
 * signatures), that user ID, its self-signature and that one certification,
 * then every subkey with its bindings; other user IDs and certifications are
 * cut out, so each request is one distinct endorsement (a certification of
 * the same user ID made at another second is another statement). Returns the
 * number of requests added. */
static size_t split_key(const uint8_t *key, size_t key_len, const char *key_hex,
			const char *signer_hex)
{
	struct cbs c;
	size_t n = 0, cap = 1024, added = 0, first_uid, first_sub;
	struct pkt *ps = load_xmalloc(cap * sizeof(*ps));
	uint8_t self_id[8], ca_id[8], id[8];

	keyid_of(key_hex, self_id);
	keyid_of(signer_hex, ca_id);
	cbs_init(&c, key, key_len);
	while (cbs_len(&c) > 0) {
		struct cbs whole;
		if (n == cap) {
			cap *= 2;
			struct pkt *q = realloc(ps, cap * sizeof(*ps));
			if (q == NULL)
				load_die("out of memory");
			ps = q;
		}
		if (!pgp_packet_get(&c, &ps[n].tag, &ps[n].body, &whole))
			load_die("gpg exported a key that does not parse");
		ps[n].p = cbs_data(&whole);
		ps[n].len = cbs_len(&whole);
		n++;
	}
	if (n == 0 || ps[0].tag != 6)
		load_die("gpg exported no primary key first");
	for (first_uid = 1; first_uid < n && ps[first_uid].tag == 2; first_uid++)
		;
	for (first_sub = first_uid; first_sub < n && ps[first_sub].tag != 14; first_sub++)
		;
	size_t max_parts = first_uid + 3 + (n - first_sub);
	const struct pkt **parts = load_xmalloc(max_parts * sizeof(*parts));
	for (size_t i = first_uid; i < first_sub;) {
		size_t end = i + 1, self = SIZE_MAX;
		while (end < first_sub && ps[end].tag == 2)
			end++;
		if (ps[i].tag != 13) {
			i = end;
			continue;
		}
		for (size_t k = i + 1; k < end; k++)
			if (self == SIZE_MAX && sig_issuer(ps[k].body, id) &&
			    memcmp(id, self_id, 8) == 0)
				self = k;
		for (size_t k = i + 1; self != SIZE_MAX && k < end; k++) {
			if (!sig_issuer(ps[k].body, id) || memcmp(id, ca_id, 8) != 0)
				continue;
			size_t np = 0;
			for (size_t j = 0; j < first_uid; j++)
				parts[np++] = &ps[j];
			parts[np++] = &ps[i];
			parts[np++] = &ps[self];
			parts[np++] = &ps[k];
			for (size_t j = first_sub; j < n; j++)
				parts[np++] = &ps[j];
			add_pgp_req(parts, np, &ps[i].body, signer_hex);
			added++;
		}
		i = end;
	}
	free(parts);
	free(ps);
	return added;
}

/* make_pgp makes the certifier (written to |certifiers|, with a policy file
 * scoping it to bench.example) and certified keys until GEN_SECONDS are up:
 * per key, UIDS_PER_KEY user IDs, then up to PASSES_PER_KEY certification
 * passes over all of them (gpg --force-sign-key), each pass at its own frozen
 * time (--faked-system-time T!), all in the past day. */
static void make_pgp(const char *certifiers)
{
	char args[2 * PATH_MAX + 256], fpr[41], ca_fpr[41], path[PATH_MAX + 64], who[128];
	long long t0 = (long long)pki_now() - DAY;

	if (mnfix_gpg_init(&G, workdir) != 0)
		load_die("cannot create the GNUPGHOME");
	gpg_started = 1;
	snprintf(args, sizeof(args),
		 "--faked-system-time %lld! --quick-gen-key "
		 "'Bench Certifier <ca@certifier.example>' ed25519 sign 2y", t0);
	if (mnfix_gpg(&G, args) != 0 ||
	    mnfix_gpg_fpr(&G, "=Bench Certifier <ca@certifier.example>", ca_fpr) != 0)
		load_die("gpg cannot make the certifier (see gpg.log)");
	snprintf(args, sizeof(args), "--output '%s' --export %s", certifiers, ca_fpr);
	if (mnfix_gpg(&G, args) != 0)
		load_die("gpg cannot export the certifier");
	snprintf(path, sizeof(path), "%s.policy", certifiers);
	snprintf(args, sizeof(args), "# bench_mn\n%s scope=bench.example\n", ca_fpr);
	if (mnfix_write_file(path, args, strlen(args)) != 0)
		load_die("cannot write the certifier policy");

	for (size_t k = 0; k < MAX_PGP_KEYS && mn_mono_ns() < gen_deadline; k++) {
		struct mnfix_buf key;
		snprintf(who, sizeof(who), "Bench User <u%zux0@bench.example>", k);
		snprintf(args, sizeof(args),
			 "--faked-system-time %lld! --quick-gen-key '%s' ed25519 sign 2y", t0, who);
		if (mnfix_gpg(&G, args) != 0)
			load_die("gpg --quick-gen-key failed");
		snprintf(args, sizeof(args), "=%s", who);
		if (mnfix_gpg_fpr(&G, args, fpr) != 0)
			load_die("no fingerprint for a new key");
		snprintf(args, sizeof(args),
			 "--faked-system-time %lld! --quick-add-key %s cv25519 encr 2y", t0, fpr);
		if (mnfix_gpg(&G, args) != 0)
			load_die("gpg --quick-add-key failed");
		/* the other user IDs in one edit session, commands on stdin */
		snprintf(path, sizeof(path), "%s/adduid.txt", workdir);
		FILE *f = fopen(path, "w");
		if (f == NULL)
			load_die("cannot write the gpg commands");
		for (size_t i = 1; i < UIDS_PER_KEY; i++)
			fprintf(f, "adduid\nBench User\nu%zux%zu@bench.example\n\n", k, i);
		fputs("save\n", f);
		if (fclose(f) != 0)
			load_die("cannot write the gpg commands");
		snprintf(args, sizeof(args),
			 "--faked-system-time %lld! --command-fd 0 --edit-key %s <'%s'", t0, fpr,
			 path);
		if (mnfix_gpg(&G, args) != 0)
			load_die("gpg --edit-key adduid failed");
		for (int pass = 0; pass < PASSES_PER_KEY; pass++) {
			if (pass > 0 && mn_mono_ns() >= gen_deadline)
				break;
			snprintf(args, sizeof(args),
				 "--faked-system-time %lld! --force-sign-key -u %s "
				 "--quick-sign-key %s",
				 t0 + 1 + pass, ca_fpr, fpr);
			if (mnfix_gpg(&G, args) != 0)
				load_die("gpg --quick-sign-key failed");
		}
		snprintf(args, sizeof(args), "--export %s", fpr);
		if (mnfix_gpg_export(&G, args, &key) != 0)
			load_die("gpg --export failed");
		split_key(key.p, key.len, fpr, ca_fpr);
		free(key.p);
		num_pgp_keys++;
	}
	mnfix_gpg_kill(&G);
	/* interleave keys, user IDs and certification times (fixed seed) */
	uint64_t st = 0x9e3779b97f4a7c15ull;
	for (size_t i = num_pgp; i > 1; i--) {
		st ^= st << 13;
		st ^= st >> 7;
		st ^= st << 17;
		size_t j = (size_t)(st % i);
		struct post_req t = pgp_reqs[i - 1];
		pgp_reqs[i - 1] = pgp_reqs[j];
		pgp_reqs[j] = t;
	}
}

/* --- add-policy statements --- */

static char *payload(int proto, const char *domain, int64_t iat, uint64_t serial)
{
	char *p = load_xmalloc(1024), extra[256] = "";
	const char *transport = "implicit";

	if (strcmp(protocols[proto], "smtp") == 0) {
		snprintf(extra, sizeof(extra), "\"mx\":[\"*.mx.%s\",\"mx1.%s\"],", domain, domain);
		transport = "starttls";
	} else if (strcmp(protocols[proto], "xmpp-server") == 0) {
		transport = "starttls";
	}
	/* RFC 8785: members sorted, no whitespace */
	snprintf(p, 1024,
		 "{\"exp\":%lld,\"iat\":%lld,\"mode\":\"enforce\",%s\"protocol\":\"%s\","
		 "\"serial\":%llu,\"subject\":{\"domain\":\"%s\"},\"tls\":{\"min\":\"1.2\","
		 "\"transport\":\"%s\"},\"v\":1}",
		 (long long)(iat + 30 * DAY), (long long)iat, extra, protocols[proto],
		 (unsigned long long)serial, domain, transport);
	return p;
}

static void policy_req(struct post_req *r, const char *jws)
{
	char *body = mnfix_policy_request(jws);
	if (body == NULL)
		load_die("cannot build an add-policy request");
	post_req_json(r, "/mn/v1/add-policy", body);
	free(body);
}

static struct pki_cert *signer;

struct sign_arg {
	size_t start, step;
	const char *hdr;
	int64_t now;
};

static void *sign_thread(void *arg)
{
	struct sign_arg *a = arg;
	for (size_t i = a->start; i < (size_t)NUM_PAIRS * SERIALS; i += a->step) {
		size_t pair = i / SERIALS, s = i % SERIALS;
		char dom[64];
		snprintf(dom, sizeof(dom), "d%zu.bench.example", pair / NUM_PROTOCOLS);
		char *pl = payload((int)(pair % NUM_PROTOCOLS), dom, a->now, s + 1);
		char *jws = mnfix_jws_sign(a->hdr, pl, signer->key);
		if (jws == NULL)
			load_die("cannot sign a policy");
		policy_req(&pol_reqs[i], jws);
		free(jws);
		free(pl);
	}
	return NULL;
}

/* make_policies issues the signer and pre-signs every (pair, serial) JWS naming
 * it by x5t#S256; returns the first request (pair 0, serial 1, with x5c). */
static char *make_policies(int64_t now)
{
	const char *dns[NUM_DOMAINS];
	char names[NUM_DOMAINS][32], hdr[128], *t;
	uint8_t h[32];

	for (size_t i = 0; i < NUM_DOMAINS; i++) {
		snprintf(names[i], sizeof(names[i]), "d%zu.bench.example", i);
		dns[i] = names[i];
	}
	signer = pki_issue(ca, "Bench Policy Signer", dns, NUM_DOMAINS, 0, now - DAY,
			   now + 90 * DAY);
	if (signer == NULL)
		load_die("cannot issue the policy signer");
	SHA256(signer->der, signer->der_len, h);
	t = mnfix_b64url(h, 32);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"x5t#S256\":\"%s\"}", t);
	free(t);
	pol_reqs = load_xmalloc((size_t)NUM_PAIRS * SERIALS * sizeof(*pol_reqs));
	struct sign_arg a[2] = {{0, 2, hdr, now}, {1, 2, hdr, now}};
	pthread_t th;
	if (pthread_create(&th, NULL, sign_thread, &a[1]) != 0)
		load_die("pthread_create failed");
	sign_thread(&a[0]);
	pthread_join(th, NULL);
	/* pair 0 is d0 https: its serial 1 goes with x5c and logs the signer */
	char *pl = payload(0, "d0.bench.example", now, 1);
	char *jws = mnfix_x5c_jws(signer, ca, pl);
	char *body = jws ? mnfix_policy_request(jws) : NULL;
	if (body == NULL)
		load_die("cannot sign the first policy");
	free(jws);
	free(pl);
	return body;
}

/* --- load --- */

/* The policies' source: connection c owns the pairs c, c + nconns, ... and
 * walks them round-robin, each pair's serials in order, so that no policy
 * reaches logd before a smaller serial of its pair. */
struct pol_source {
	size_t nconns;
	size_t cursor[64]; /* per connection: next pair slot to try */
};

static const struct post_req *pol_source_next(void *arg, size_t conn)
{
	struct pol_source *s = arg;
	size_t npairs = (NUM_PAIRS - conn + s->nconns - 1) / s->nconns;
	for (size_t tries = 0; tries < npairs; tries++) {
		size_t pair = conn + s->cursor[conn] * s->nconns;
		s->cursor[conn] = (s->cursor[conn] + 1) % npairs;
		if (pol_next[pair] < SERIALS)
			return &pol_reqs[pair * SERIALS + pol_next[pair]++];
	}
	return NULL;
}

/* run_load sends |next|'s requests over |nconns| connections for RUN_SECONDS
 * or until it runs dry, then waits for the answers in flight. */
static void run_load(const char *what, pid_t server, uint16_t port, size_t nconns,
		     post_next_fn next, void *arg, struct post_result *r)
{
	struct post_load l = {what, port, server, nconns, RUN_SECONDS, next, NULL, arg};

	post_run(&l, r);
	fprintf(stderr, "bench_mn: %s, %zu conns: %.0f /s (%zu in %.1f s, %zu failed), p99 %.1f ms\n",
		what, nconns, post_rate(r), r->ok, r->secs, r->failed, post_pct_ms(r, 0.99));
}

/* --- main --- */

static void row(const char *what, size_t nconns, const struct post_result *r,
		const struct post_result *chain, const char *note)
{
	printf("| %s, %zu connections, load generator on the same machine | %.0f /s (%zu in "
	       "%.1f s, %zu failed%s); p50 %.1f ms, p99 %.1f ms; logd CPU %.0f us per "
	       "submission | add-chain, same logd, same run, %zu connections: %.0f /s, p99 "
	       "%.1f ms, %.0f us CPU | %.2f (CPU per submission %.2fx add-chain's) |\n",
	       what, nconns, post_rate(r), r->ok, r->secs, r->failed, note, post_pct_ms(r, 0.5),
	       post_pct_ms(r, 0.99), r->server_us, nconns, post_rate(chain), post_pct_ms(chain, 0.99),
	       chain->server_us, post_rate(chain) > 0 ? post_rate(r) / post_rate(chain) : 0,
	       chain->server_us > 0 ? r->server_us / chain->server_us : 0);
}

int main(int argc, char **argv)
{
	char data[PATH_MAX + 16], roots[PATH_MAX + 16], certifiers[PATH_MAX + 32];
	char tmpl[PATH_MAX];
	uint64_t t_all = mn_mono_ns();
	static const size_t conns[2] = {16, 64};
	struct post_result rc[2], rp[2], rq[2];

	if (argc > 1)
		build = argv[1];
	atexit(cleanup);
	load_init("bench_mn", WATCHDOG_SECONDS);
	load_at_signal(on_fatal_signal);

	/* an absolute work directory: gpg-agent puts its sockets in the home */
	snprintf(tmpl, sizeof(tmpl), "%s/bench-mn.XXXXXX", build);
	if (mkdtemp(tmpl) == NULL)
		load_die("cannot create the work directory under BUILD");
	if (realpath(tmpl, workdir) == NULL) {
		snprintf(workdir, sizeof(workdir), "%s", tmpl);
		load_die("realpath failed");
	}
	snprintf(data, sizeof(data), "%s/data", workdir);
	snprintf(roots, sizeof(roots), "%s/roots.pem", workdir);
	snprintf(certifiers, sizeof(certifiers), "%s/certifiers.pgp", workdir);

	/* PKI as bench_http: RSA root and intermediate, P-256 leaves */
	int64_t now = pki_now();
	chain_ca(now, roots, &root, &ca);

	/* fixtures: leaves on a thread while gpg works */
	uint64_t t0 = mn_mono_ns();
	gen_deadline = t0 + (uint64_t)GEN_SECONDS * 1000000000u;
	leaves = calloc(MAX_LEAVES, sizeof(*leaves));
	if (leaves == NULL)
		load_die("out of memory");
	pthread_t th;
	if (pthread_create(&th, NULL, leaf_thread, NULL) != 0)
		load_die("pthread_create failed");
	make_pgp(certifiers);
	/* the leaves get the rest of the budget on both cores */
	leaf_thread(NULL);
	pthread_join(th, NULL);
	/* keep the dense prefix */
	while (num_chain < MAX_LEAVES && leaves[num_chain] != NULL)
		num_chain++;
	for (size_t i = num_chain; i < MAX_LEAVES; i++)
		pki_free(leaves[i]);
	make_chain_reqs();
	free(leaves);
	fprintf(stderr, "bench_mn: %zu add-pgp endorsements (%zu keys), %zu add-chain leaves in "
		"%.1f s\n", num_pgp, num_pgp_keys, num_chain, load_secs_since(t0));
	t0 = mn_mono_ns();
	char *first = make_policies(now);
	fprintf(stderr, "bench_mn: %d policies signed in %.1f s\n", NUM_PAIRS * SERIALS,
		load_secs_since(t0));
	if (num_pgp < 1000 || num_chain < 1000)
		load_die("too few fixtures generated");

	/* logd */
	struct logd_proc lp;
	const char *largs[] = {"--data", data, "--tls-roots", roots, "--certifiers",
			       certifiers, NULL};
	load_logd_start(&lp, build, data, largs);
	{
		struct http_resp hr;
		if (http_do(lp.port, "POST", "/mn/v1/add-policy",
			    "Content-Type: application/json\r\n", first, strlen(first), &hr) != 0 ||
		    hr.status != 200 || strstr((char *)hr.body, "\"signer_sct\"") == NULL) {
			fprintf(stderr, "bench_mn: first policy: %d %s\n", hr.status,
				hr.body ? (char *)hr.body : "");
			load_die("the first policy (x5c) was not accepted");
		}
		http_resp_free(&hr);
		free(first);
		pol_next[0] = 1;
	}

	/* 16 then 64 connections: add-chain, add-pgp, add-policy, fresh each */
	struct post_list sc = {chain_reqs, 0, 0}, sp = {pgp_reqs, 0, 0};
	for (int k = 0; k < 2; k++) {
		size_t n = conns[k];
		struct pol_source sq = {.nconns = n};
		sc.limit = k == 0 ? num_chain / 2 : num_chain;
		sp.limit = k == 0 ? num_pgp / 2 : num_pgp;
		run_load("add-chain", lp.pid, lp.port, n, post_list_next, &sc, &rc[k]);
		run_load("add-pgp", lp.pid, lp.port, n, post_list_next, &sp, &rp[k]);
		run_load("add-policy", lp.pid, lp.port, n, pol_source_next, &sq, &rq[k]);
	}

	/* every 200 made exactly one leaf; the first policy made two */
	uint64_t tree_size = load_tree_size(lp.port);
	size_t total_ok = 2;
	for (int k = 0; k < 2; k++)
		total_ok += rc[k].ok + rp[k].ok + rq[k].ok;
	const char *mismatch = "";
	if (tree_size != total_ok) {
		fprintf(stderr, "bench_mn: tree_size %llu but %zu leaves expected\n",
			(unsigned long long)tree_size, total_ok);
		mismatch = "; TREE SIZE MISMATCH, see stderr";
	}
	int st = load_logd_stop(&lp, SIGTERM);
	if (st != 0)
		fprintf(stderr, "bench_mn: logd exited with status %d\n", st);

	for (int k = 1; k >= 0; k--) {
		char note[160];
		snprintf(note, sizeof(note), "%s%s",
			 rp[k].secs < RUN_SECONDS * 0.9 ? "; ran out of endorsements" : "", mismatch);
		row("add-pgp", conns[k], &rp[k], &rc[k], note);
		snprintf(note, sizeof(note), "%s%s",
			 rq[k].secs < RUN_SECONDS * 0.9 ? "; ran out of statements" : "", mismatch);
		row("add-policy (x5t#S256)", conns[k], &rq[k], &rc[k], note);
	}

	for (size_t i = 0; i < num_chain; i++)
		free(chain_reqs[i].data);
	for (size_t i = 0; i < num_pgp; i++)
		free(pgp_reqs[i].data);
	for (size_t i = 0; i < (size_t)NUM_PAIRS * SERIALS; i++)
		free(pol_reqs[i].data);
	free(chain_reqs);
	free(pgp_reqs);
	free(pol_reqs);
	for (int k = 0; k < 2; k++) {
		post_result_cleanup(&rc[k]);
		post_result_cleanup(&rp[k]);
		post_result_cleanup(&rq[k]);
	}
	pki_free(signer);
	pki_free(ca);
	pki_free(root);
	cleanup();
	fprintf(stderr, "bench_mn: done in %.0f s\n", load_secs_since(t_all));
	return 0;
}
