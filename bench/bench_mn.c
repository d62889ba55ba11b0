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
 * watchdog alarm; the gpg-agent of the private home is stopped and the work
 * directory (under BUILD, so fsync reaches the real disk) removed. Prints
 * markdown rows for bench/RESULTS.md on stdout, progress on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "common/b64.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "entry/pgp.h"

/* Test helpers compiled in (the benchmarks do not link libtest.a). */
#include "tests/lib/mnfix.c"
#include "tests/lib/pki.c"
#include "tests/lib/proc.c"

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

struct req {
	char *data; /* the whole HTTP request */
	size_t len;
};

static const char *build = "build";
static char workdir[PATH_MAX];
static struct mnfix_gpg G;
static int gpg_started;

static struct req *chain_reqs, *pgp_reqs, *pol_reqs; /* pol_reqs[pair * SERIALS + s] */
static size_t num_chain, num_pgp, cap_pgp, num_pgp_keys;
static size_t pol_next[NUM_PAIRS]; /* next serial index per pair */

static const char *const protocols[NUM_PROTOCOLS] = {"https", "imap", "pop3", "smtp",
						     "submission", "xmpp-server"};

/* --- children and cleanup --- */

static volatile pid_t child;

static void on_fatal_signal(int sig)
{
	static const char msg[] = "bench_mn: stopped by a signal (watchdog?)\n";
	if (child > 0)
		kill(child, SIGKILL);
	/* fork and exec are async-signal-safe: stop the agent, remove the files */
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
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(128 + sig);
	_exit(128 + sig);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static void cleanup(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = 0;
	}
	if (gpg_started) {
		mnfix_gpg_kill(&G);
		gpg_started = 0;
	}
	if (workdir[0] != '\0') {
		nftw(workdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		workdir[0] = '\0';
	}
}

static void die(const char *what)
{
	fprintf(stderr, "bench_mn: %s\n", what);
	cleanup();
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (p == NULL)
		die("out of memory");
	return p;
}

static double secs_since(uint64_t t0)
{
	return (double)(mn_mono_ns() - t0) / 1e9;
}

/* make_req wraps the JSON |body| into a POST to |path|. */
static void make_req(struct req *r, const char *path, const char *body)
{
	size_t body_len = strlen(body);
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			 path, body_len);
	r->len = (size_t)n + body_len;
	r->data = xmalloc(r->len + 1);
	memcpy(r->data, head, (size_t)n);
	memcpy(r->data + n, body, body_len + 1);
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
		char name[64];
		snprintf(name, sizeof(name), "c%zu-%lld.bench.example", i, (long long)now);
		const char *dns[] = {name};
		leaves[i] = pki_issue(ca, name, dns, 1, 0, now - DAY, now + 90 * DAY);
		if (leaves[i] == NULL)
			break;
	}
	return NULL;
}

static void make_chain_reqs(void)
{
	char *ca_b64 = xmalloc(mn_b64_encoded_len(ca->der_len) + 1);
	mn_b64_encode(ca_b64, ca->der, ca->der_len);
	chain_reqs = xmalloc((num_chain + 1) * sizeof(*chain_reqs));
	for (size_t i = 0; i < num_chain; i++) {
		size_t n = mn_b64_encoded_len(leaves[i]->der_len) + strlen(ca_b64) + 32;
		char *leaf_b64 = xmalloc(mn_b64_encoded_len(leaves[i]->der_len) + 1), *body;
		mn_b64_encode(leaf_b64, leaves[i]->der, leaves[i]->der_len);
		body = xmalloc(n);
		snprintf(body, n, "{\"chain\":[\"%s\",\"%s\"]}", leaf_b64, ca_b64);
		make_req(&chain_reqs[i], "/ct/v1/add-chain", body);
		free(body);
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
			die("bad fingerprint");
		out[i] = (uint8_t)x;
	}
}

static void add_pgp_req(const struct pkt *const *parts, size_t num, const struct cbs *uid_body,
			const char *signer)
{
	size_t len = 0;
	for (size_t i = 0; i < num; i++)
		len += parts[i]->len;
	uint8_t *cert = xmalloc(len), *w = cert;
	for (size_t i = 0; i < num; i++) {
		memcpy(w, parts[i]->p, parts[i]->len);
		w += parts[i]->len;
	}
	char *uid = xmalloc(cbs_len(uid_body) + 1);
	memcpy(uid, cbs_data(uid_body), cbs_len(uid_body));
	uid[cbs_len(uid_body)] = '\0';
	char *body = mnfix_pgp_request(cert, len, uid, signer);
	if (body == NULL)
		die("cannot build an add-pgp request");
	if (num_pgp == cap_pgp) {
		cap_pgp = cap_pgp ? 2 * cap_pgp : 4096;
		struct req *q = realloc(pgp_reqs, cap_pgp * sizeof(*q));
		if (q == NULL)
			die("out of memory");
		pgp_reqs = q;
	}
	make_req(&pgp_reqs[num_pgp++], "/mn/v1/add-pgp", body);
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
	struct pkt *ps = xmalloc(cap * sizeof(*ps));
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
				die("out of memory");
			ps = q;
		}
		if (!pgp_packet_get(&c, &ps[n].tag, &ps[n].body, &whole))
			die("gpg exported a key that does not parse");
		ps[n].p = cbs_data(&whole);
		ps[n].len = cbs_len(&whole);
		n++;
	}
	if (n == 0 || ps[0].tag != 6)
		die("gpg exported no primary key first");
	for (first_uid = 1; first_uid < n && ps[first_uid].tag == 2; first_uid++)
		;
	for (first_sub = first_uid; first_sub < n && ps[first_sub].tag != 14; first_sub++)
		;
	size_t max_parts = first_uid + 3 + (n - first_sub);
	const struct pkt **parts = xmalloc(max_parts * sizeof(*parts));
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
		die("cannot create the GNUPGHOME");
	gpg_started = 1;
	snprintf(args, sizeof(args),
		 "--faked-system-time %lld! --quick-gen-key "
		 "'Bench Certifier <ca@certifier.example>' ed25519 sign 2y", t0);
	if (mnfix_gpg(&G, args) != 0 ||
	    mnfix_gpg_fpr(&G, "=Bench Certifier <ca@certifier.example>", ca_fpr) != 0)
		die("gpg cannot make the certifier (see gpg.log)");
	snprintf(args, sizeof(args), "--output '%s' --export %s", certifiers, ca_fpr);
	if (mnfix_gpg(&G, args) != 0)
		die("gpg cannot export the certifier");
	snprintf(path, sizeof(path), "%s.policy", certifiers);
	snprintf(args, sizeof(args), "# bench_mn\n%s scope=bench.example\n", ca_fpr);
	if (mnfix_write_file(path, args, strlen(args)) != 0)
		die("cannot write the certifier policy");

	for (size_t k = 0; k < MAX_PGP_KEYS && mn_mono_ns() < gen_deadline; k++) {
		struct mnfix_buf key;
		snprintf(who, sizeof(who), "Bench User <u%zux0@bench.example>", k);
		snprintf(args, sizeof(args),
			 "--faked-system-time %lld! --quick-gen-key '%s' ed25519 sign 2y", t0, who);
		if (mnfix_gpg(&G, args) != 0)
			die("gpg --quick-gen-key failed");
		snprintf(args, sizeof(args), "=%s", who);
		if (mnfix_gpg_fpr(&G, args, fpr) != 0)
			die("no fingerprint for a new key");
		snprintf(args, sizeof(args),
			 "--faked-system-time %lld! --quick-add-key %s cv25519 encr 2y", t0, fpr);
		if (mnfix_gpg(&G, args) != 0)
			die("gpg --quick-add-key failed");
		/* the other user IDs in one edit session, commands on stdin */
		snprintf(path, sizeof(path), "%s/adduid.txt", workdir);
		FILE *f = fopen(path, "w");
		if (f == NULL)
			die("cannot write the gpg commands");
		for (size_t i = 1; i < UIDS_PER_KEY; i++)
			fprintf(f, "adduid\nBench User\nu%zux%zu@bench.example\n\n", k, i);
		fputs("save\n", f);
		if (fclose(f) != 0)
			die("cannot write the gpg commands");
		snprintf(args, sizeof(args),
			 "--faked-system-time %lld! --command-fd 0 --edit-key %s <'%s'", t0, fpr,
			 path);
		if (mnfix_gpg(&G, args) != 0)
			die("gpg --edit-key adduid failed");
		for (int pass = 0; pass < PASSES_PER_KEY; pass++) {
			if (pass > 0 && mn_mono_ns() >= gen_deadline)
				break;
			snprintf(args, sizeof(args),
				 "--faked-system-time %lld! --force-sign-key -u %s "
				 "--quick-sign-key %s",
				 t0 + 1 + pass, ca_fpr, fpr);
			if (mnfix_gpg(&G, args) != 0)
				die("gpg --quick-sign-key failed");
		}
		snprintf(args, sizeof(args), "--export %s", fpr);
		if (mnfix_gpg_export(&G, args, &key) != 0)
			die("gpg --export failed");
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
		struct req t = pgp_reqs[i - 1];
		pgp_reqs[i - 1] = pgp_reqs[j];
		pgp_reqs[j] = t;
	}
}

/* --- add-policy statements --- */

static char *payload(int proto, const char *domain, int64_t iat, uint64_t serial)
{
	char *p = xmalloc(1024), extra[256] = "";
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

static void policy_req(struct req *r, const char *jws)
{
	char *body = mnfix_policy_request(jws);
	if (body == NULL)
		die("cannot build an add-policy request");
	make_req(r, "/mn/v1/add-policy", body);
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
			die("cannot sign a policy");
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
		die("cannot issue the policy signer");
	SHA256(signer->der, signer->der_len, h);
	t = mnfix_b64url(h, 32);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"x5t#S256\":\"%s\"}", t);
	free(t);
	pol_reqs = xmalloc((size_t)NUM_PAIRS * SERIALS * sizeof(*pol_reqs));
	struct sign_arg a[2] = {{0, 2, hdr, now}, {1, 2, hdr, now}};
	pthread_t th;
	if (pthread_create(&th, NULL, sign_thread, &a[1]) != 0)
		die("pthread_create failed");
	sign_thread(&a[0]);
	pthread_join(th, NULL);
	/* pair 0 is d0 https: its serial 1 goes with x5c and logs the signer */
	char *pl = payload(0, "d0.bench.example", now, 1);
	char *jws = mnfix_x5c_jws(signer, ca, pl);
	char *body = jws ? mnfix_policy_request(jws) : NULL;
	if (body == NULL)
		die("cannot sign the first policy");
	free(jws);
	free(pl);
	return body;
}

/* --- the load generator: one thread, epoll, keep-alive --- */

/* A source of unique requests: a list taken in order (add-chain, add-pgp), or
 * the policies, where connection c owns the pairs c, c + nconns, ... and walks
 * them round-robin, each pair's serials in order. */
struct source {
	struct req *list;
	size_t *next, limit;
	int policy;
	size_t nconns;
	size_t *cursor; /* per connection: next pair slot to try (policy) */
};

static const struct req *source_next(struct source *s, size_t conn)
{
	if (!s->policy)
		return *s->next < s->limit ? &s->list[(*s->next)++] : NULL;
	size_t npairs = (NUM_PAIRS - conn + s->nconns - 1) / s->nconns;
	for (size_t tries = 0; tries < npairs; tries++) {
		size_t pair = conn + s->cursor[conn] * s->nconns;
		s->cursor[conn] = (s->cursor[conn] + 1) % npairs;
		if (pol_next[pair] < SERIALS)
			return &pol_reqs[pair * SERIALS + pol_next[pair]++];
	}
	return NULL;
}

struct lconn {
	int fd;
	const struct req *r; /* in flight, or NULL */
	size_t sent;
	int want_out;
	uint64_t t0;
	size_t have;
	char buf[4096];
};

struct load_result {
	size_t ok, failed, conn_errors;
	double secs;
	double server_us; /* logd's CPU per submission */
	uint32_t *lat_us; /* ok answers' latencies, sorted */
	size_t num_lat, cap_lat;
};

static int connect_nb(uint16_t port)
{
	struct sockaddr_in a;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(const struct load_result *r, double q)
{
	if (r->num_lat == 0)
		return 0;
	size_t i = (size_t)(q * (double)(r->num_lat - 1) + 0.5);
	return r->lat_us[i] / 1000.0;
}

static double rate(const struct load_result *r)
{
	return r->secs > 0 ? (double)r->ok / r->secs : 0;
}

/* proc_cpu_us: user + system CPU of process |pid| in microseconds (0 if
 * /proc cannot tell). */
static uint64_t proc_cpu_us(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&ut, &st) != 2)
		return 0;
	long hz = sysconf(_SC_CLK_TCK);
	return (ut + st) * 1000000ull / (unsigned long long)(hz > 0 ? hz : 100);
}

/* response_done returns the total length of a complete response in |c|->buf,
 * 0 if more bytes are needed, or -1 if it is malformed; *status gets the code. */
static long response_done(struct lconn *c, int *status)
{
	c->buf[c->have] = '\0';
	char *end = strstr(c->buf, "\r\n\r\n");
	if (end == NULL)
		return c->have >= sizeof(c->buf) - 1 ? -1 : 0;
	if (strncmp(c->buf, "HTTP/1.1 ", 9) != 0)
		return -1;
	*status = (int)strtol(c->buf + 9, NULL, 10);
	size_t clen = 0;
	for (char *h = strstr(c->buf, "\r\n"); h != NULL && h < end; h = strstr(h + 2, "\r\n"))
		if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
			clen = strtoul(h + 17, NULL, 10);
	size_t total = (size_t)(end + 4 - c->buf) + clen;
	if (total >= sizeof(c->buf))
		return -1;
	return c->have >= total ? (long)total : 0;
}

static int lconn_send(int ep, struct lconn *c)
{
	while (c->sent < c->r->len) {
		ssize_t n = send(c->fd, c->r->data + c->sent, c->r->len - c->sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN)
				return -1;
			if (!c->want_out) {
				struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
				c->want_out = 1;
				return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0 ? 0 : -1;
			}
			return 0;
		}
		c->sent += (size_t)n;
	}
	if (c->want_out) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		c->want_out = 0;
		return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0 ? 0 : -1;
	}
	return 0;
}

/* run_load sends requests from |src| over |nconns| connections for |seconds|
 * or until |src| runs dry, then waits for the answers in flight. |cap| bounds
 * the number of requests |src| can give. */
static void run_load(const char *what, pid_t server, uint16_t port, size_t nconns,
		     struct source *src, size_t cap, struct load_result *r)
{
	struct lconn *cs = calloc(nconns, sizeof(*cs));
	int ep = epoll_create1(0);
	size_t active = 0;

	memset(r, 0, sizeof(*r));
	r->cap_lat = cap + 1;
	r->lat_us = xmalloc(r->cap_lat * sizeof(uint32_t));
	if (cs == NULL || ep < 0)
		die("load: setup failed");
	for (size_t i = 0; i < nconns; i++) {
		struct lconn *c = &cs[i];
		if ((c->fd = connect_nb(port)) < 0)
			die("load: cannot connect to logd");
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
			die("load: epoll_ctl failed");
	}
	uint64_t start = mn_mono_ns(), deadline = start + (uint64_t)(RUN_SECONDS * 1e9);
	uint64_t cpu_s = proc_cpu_us(server);
	for (size_t i = 0; i < nconns; i++) {
		struct lconn *c = &cs[i];
		if ((c->r = source_next(src, i)) != NULL) {
			c->sent = c->have = 0;
			c->t0 = mn_mono_ns();
			active++;
			if (lconn_send(ep, c) != 0)
				die("load: send failed");
		}
	}
	while (active > 0) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 10000);
		if (n == 0)
			die("load: no answer from logd for 10 s");
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("load: epoll_wait failed");
		}
		for (int e = 0; e < n; e++) {
			struct lconn *c = evs[e].data.ptr;
			size_t ci = (size_t)(c - cs);
			if (c->r == NULL)
				continue;
			if ((evs[e].events & EPOLLOUT) && lconn_send(ep, c) != 0)
				goto conn_error;
			if (!(evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				continue;
			ssize_t k = recv(c->fd, c->buf + c->have, sizeof(c->buf) - 1 - c->have, 0);
			if (k < 0 && errno == EAGAIN)
				continue;
			if (k <= 0)
				goto conn_error;
			c->have += (size_t)k;
			int status = 0;
			long total = response_done(c, &status);
			if (total == 0)
				continue;
			if (total < 0)
				goto conn_error;
			uint64_t now = mn_mono_ns();
			if (status == 200) {
				r->ok++;
				uint64_t us = (now - c->t0) / 1000;
				if (r->num_lat < r->cap_lat)
					r->lat_us[r->num_lat++] =
						us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
			} else {
				if (r->failed < 3)
					fprintf(stderr, "bench_mn: %s answered %d: %.300s\n", what,
						status, c->buf);
				r->failed++;
			}
			if ((size_t)total != c->have)
				goto conn_error; /* we never pipeline: extra bytes are wrong */
			c->have = 0;
			if (now < deadline && (c->r = source_next(src, ci)) != NULL) {
				c->sent = 0;
				c->t0 = now;
				if (lconn_send(ep, c) != 0)
					goto conn_error;
			} else {
				c->r = NULL;
				active--;
			}
			continue;
conn_error:
			r->conn_errors++;
			r->failed++;
			c->r = NULL;
			active--;
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			c->fd = -1;
		}
	}
	r->secs = secs_since(start);
	if (r->ok + r->failed > 0)
		r->server_us = (double)(proc_cpu_us(server) - cpu_s) / (double)(r->ok + r->failed);
	for (size_t i = 0; i < nconns; i++)
		if (cs[i].fd >= 0)
			close(cs[i].fd);
	close(ep);
	free(cs);
	qsort(r->lat_us, r->num_lat, sizeof(uint32_t), cmp_u32);
	fprintf(stderr, "bench_mn: %s, %zu conns: %.0f /s (%zu in %.1f s, %zu failed), p99 %.1f ms\n",
		what, nconns, rate(r), r->ok, r->secs, r->failed, pct_ms(r, 0.99));
}

/* --- main --- */

static uint64_t get_tree_size(uint16_t port)
{
	struct http_resp r;
	if (http_do(port, "GET", "/ct/v1/get-sth", NULL, NULL, 0, &r) != 0 || r.status != 200)
		die("get-sth failed");
	char *p = strstr((char *)r.body, "\"tree_size\":");
	uint64_t n = p ? strtoull(p + 12, NULL, 10) : 0;
	http_resp_free(&r);
	return n;
}

static void row(const char *what, size_t nconns, const struct load_result *r,
		const struct load_result *chain, const char *note)
{
	printf("| %s, %zu connections, load generator on the same machine | %.0f /s (%zu in "
	       "%.1f s, %zu failed%s); p50 %.1f ms, p99 %.1f ms; logd CPU %.0f us per "
	       "submission | add-chain, same logd, same run, %zu connections: %.0f /s, p99 "
	       "%.1f ms, %.0f us CPU | %.2f (CPU per submission %.2fx add-chain's) |\n",
	       what, nconns, rate(r), r->ok, r->secs, r->failed, note, pct_ms(r, 0.5),
	       pct_ms(r, 0.99), r->server_us, nconns, rate(chain), pct_ms(chain, 0.99),
	       chain->server_us, rate(chain) > 0 ? rate(r) / rate(chain) : 0,
	       chain->server_us > 0 ? r->server_us / chain->server_us : 0);
}

int main(int argc, char **argv)
{
	char data[PATH_MAX + 16], roots[PATH_MAX + 16], certifiers[PATH_MAX + 32];
	char tmpl[PATH_MAX];
	uint64_t t_all = mn_mono_ns();
	static const size_t conns[2] = {16, 64};
	struct load_result rc[2], rp[2], rq[2];

	if (argc > 1)
		build = argv[1];
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGALRM, on_fatal_signal);
	alarm(WATCHDOG_SECONDS);

	/* an absolute work directory: gpg-agent puts its sockets in the home */
	snprintf(tmpl, sizeof(tmpl), "%s/bench-mn.XXXXXX", build);
	if (mkdtemp(tmpl) == NULL)
		die("cannot create the work directory under BUILD");
	if (realpath(tmpl, workdir) == NULL) {
		snprintf(workdir, sizeof(workdir), "%s", tmpl);
		die("realpath failed");
	}
	snprintf(data, sizeof(data), "%s/data", workdir);
	snprintf(roots, sizeof(roots), "%s/roots.pem", workdir);
	snprintf(certifiers, sizeof(certifiers), "%s/certifiers.pgp", workdir);

	/* PKI as bench_http: RSA root and intermediate, P-256 leaves */
	int64_t now = pki_now();
	root = pki_root("Bench Root", PKI_RSA);
	ca = root ? pki_issue(root, "Bench CA", NULL, 0, PKI_CA | PKI_RSA, now - DAY,
			      now + 3650 * (int64_t)DAY)
		  : NULL;
	if (ca == NULL)
		die("cannot create the root and intermediate");
	const struct pki_cert *bundle[] = {root};
	if (pki_write_pem(roots, bundle, 1) != 0)
		die("cannot write the roots PEM");

	/* fixtures: leaves on a thread while gpg works */
	uint64_t t0 = mn_mono_ns();
	gen_deadline = t0 + (uint64_t)GEN_SECONDS * 1000000000u;
	leaves = calloc(MAX_LEAVES, sizeof(*leaves));
	if (leaves == NULL)
		die("out of memory");
	pthread_t th;
	if (pthread_create(&th, NULL, leaf_thread, NULL) != 0)
		die("pthread_create failed");
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
		"%.1f s\n", num_pgp, num_pgp_keys, num_chain, secs_since(t0));
	t0 = mn_mono_ns();
	char *first = make_policies(now);
	fprintf(stderr, "bench_mn: %d policies signed in %.1f s\n", NUM_PAIRS * SERIALS,
		secs_since(t0));
	if (num_pgp < 1000 || num_chain < 1000)
		die("too few fixtures generated");

	/* logd */
	struct logd_proc lp;
	const char *largs[] = {"--data", data, "--tls-roots", roots, "--certifiers",
			       certifiers, NULL};
	if (mkdir(data, 0700) != 0)
		die("cannot create the data directory");
	setenv("MN_BUILD", build, 1);
	if (logd_start(&lp, largs) != 0)
		die("logd did not start");
	child = lp.pid;
	{
		struct http_resp hr;
		if (http_do(lp.port, "POST", "/mn/v1/add-policy",
			    "Content-Type: application/json\r\n", first, strlen(first), &hr) != 0 ||
		    hr.status != 200 || strstr((char *)hr.body, "\"signer_sct\"") == NULL) {
			fprintf(stderr, "bench_mn: first policy: %d %s\n", hr.status,
				hr.body ? (char *)hr.body : "");
			die("the first policy (x5c) was not accepted");
		}
		http_resp_free(&hr);
		free(first);
		pol_next[0] = 1;
	}

	/* 16 then 64 connections: add-chain, add-pgp, add-policy, fresh each */
	size_t next_chain = 0, next_pgp = 0;
	size_t cursor[64];
	for (int k = 0; k < 2; k++) {
		size_t n = conns[k];
		size_t chain_lim = k == 0 ? num_chain / 2 : num_chain;
		size_t pgp_lim = k == 0 ? num_pgp / 2 : num_pgp;
		struct source sc = {chain_reqs, &next_chain, chain_lim, 0, n, NULL};
		struct source sp = {pgp_reqs, &next_pgp, pgp_lim, 0, n, NULL};
		struct source sq = {NULL, NULL, 0, 1, n, cursor};
		memset(cursor, 0, sizeof(cursor));
		run_load("add-chain", lp.pid, lp.port, n, &sc, chain_lim - next_chain, &rc[k]);
		run_load("add-pgp", lp.pid, lp.port, n, &sp, pgp_lim - next_pgp, &rp[k]);
		run_load("add-policy", lp.pid, lp.port, n, &sq, (size_t)NUM_PAIRS * SERIALS,
			 &rq[k]);
	}

	/* every 200 made exactly one leaf; the first policy made two */
	uint64_t tree_size = get_tree_size(lp.port);
	size_t total_ok = 2;
	for (int k = 0; k < 2; k++)
		total_ok += rc[k].ok + rp[k].ok + rq[k].ok;
	const char *mismatch = "";
	if (tree_size != total_ok) {
		fprintf(stderr, "bench_mn: tree_size %llu but %zu leaves expected\n",
			(unsigned long long)tree_size, total_ok);
		mismatch = "; TREE SIZE MISMATCH, see stderr";
	}
	int st = logd_stop(&lp, SIGTERM);
	child = 0;
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
		free(rc[k].lat_us);
		free(rp[k].lat_us);
		free(rq[k].lat_us);
	}
	pki_free(signer);
	pki_free(ca);
	pki_free(root);
	cleanup();
	fprintf(stderr, "bench_mn: done in %.0f s\n", secs_since(t_all));
	return 0;
}
