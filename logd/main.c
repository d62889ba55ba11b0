/* main.c: logd, the metanotary log server. Wires storage, the sequencer, the
 * API and the HTTP transport together; owns configuration and signals. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"
#include "entry/note.h"
#include "entry/pgp.h"
#include "entry/x509.h"
#include "logd/http.h"
#include "logd/keys.h"
#include "logd/sequencer.h"
#include "storage/storage.h"

static const char usage[] =
	"usage: logd [options]\n"
	"  --listen HOST:PORT   address to serve on (default 127.0.0.1:6962; port 0 = any)\n"
	"  --data DIR           data directory (default ./data)\n"
	"  --key PEMFILE        log signing key, ECDSA P-256 (default DIR/log-key.pem,\n"
	"                       generated with mode 0600 if missing)\n"
	"  --vrf-key PEMFILE    VRF key (ECVRF-P256-SHA256-TAI, RFC 9381) for the map\n"
	"                       keys of email addresses (default DIR/vrf-key.pem,\n"
	"                       generated with mode 0600 if missing); keep it with the\n"
	"                       log key: a new one changes every address's map key\n"
	"  --tls-roots PEMFILE  accepted TLS roots (default /etc/ssl/certs/ca-certificates.crt)\n"
	"  --smime-roots PEMFILE accepted S/MIME roots (default none); a chain to these\n"
	"                       needs an emailProtection EKU and an email address\n"
	"  --certifiers FILE    OpenPGP certifier keys (binary or armored keyring) for\n"
	"                       /mn/v1/add-pgp; optional FILE.policy lines\n"
	"                       'FPR [scope=a.com,b.org] [expires=YYYY-MM-DD]'\n"
	"  --mmd SECONDS        maximum merge delay advertised (default 60); the STH is\n"
	"                       re-signed when idle at least every MMD/2\n"
	"  --threads N          event-loop threads (default: number of cores)\n"
	"  --max-body BYTES     request body limit (default 1048576)\n"
	"  --max-entries N      get-entries batch cap (default 256)\n"
	"  --max-queue N        sequencer queue limit before 503 (default 65536)\n"
	"  --max-conns N        open connection limit (default 4096)\n"
	"  --idle-timeout MS    close keep-alive connections idle this long (default 30000)\n"
	"  --request-timeout MS a request must arrive whole within this (default 10000)\n"
	"  --map-size BYTES     initial LMDB map size (default 1 GiB; grows as needed)\n"
	"  --max-map-size BYTES LMDB map size limit (default 1 TiB)\n"
	"  --no-map             do not keep the verifiable lookup map (no map-root\n"
	"                       leaves; lookups then prove no completeness)\n"
	"  --url URL            the log's public URL for the log-list line\n"
	"  --origin ORIGIN      the checkpoint's origin line and note key name (default:\n"
	"                       --url without scheme and trailing '/', else HOST:PORT)\n"
	"  --note-key PEMFILE   Ed25519 key of the checkpoint's second note signature,\n"
	"                       for witnesses (default DIR/note-key.pem, generated with\n"
	"                       mode 0600 if missing)\n"
	"  --verbose            debug logging\n"
	"  --help               this text\n"
	"On start logd prints one JSON line (log_id, key, url, mmd, origin, note_vkey: its\n"
	"entry for a CT log list)"
	", then 'listening on http://HOST:PORT/'. SIGINT/SIGTERM stop it\n"
	"gracefully: in-flight submissions are committed and answered first.\n";

struct config {
	char host[256];
	unsigned port;
	const char *data;
	const char *key;
	const char *vrf_key;
	const char *tls_roots;
	const char *smime_roots;
	const char *certifiers;
	const char *url;
	const char *origin;
	const char *note_key;
	unsigned long mmd, threads, max_body, max_entries, max_queue, max_conns;
	int no_map;
	unsigned long idle_ms, request_ms;
	unsigned long long map_size, max_map_size;
};

static int parse_ulong(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return 0;
	*out = v;
	return 1;
}

static int parse_listen(struct config *c, const char *s)
{
	const char *colon = strrchr(s, ':');
	unsigned long long port;
	size_t hl;

	if (colon == NULL || !parse_ulong(colon + 1, 65535, &port))
		return 0;
	hl = (size_t)(colon - s);
	if (hl == 0 || hl >= sizeof(c->host))
		return 0;
	memcpy(c->host, s, hl);
	c->host[hl] = '\0';
	c->port = (unsigned)port;
	return 1;
}

static int parse_args(struct config *c, int argc, char **argv)
{
	enum { O_LISTEN = 1, O_DATA, O_KEY, O_ROOTS, O_MMD, O_THREADS, O_BODY, O_ENTRIES,
	       O_QUEUE, O_CONNS, O_MAP, O_MAXMAP, O_URL, O_ORIGIN, O_NOTE_KEY, O_VERBOSE, O_HELP, O_IDLE, O_REQ,
	       O_SMIME, O_CERTIFIERS, O_NOMAP, O_VRF_KEY };
	static const struct option opts[] = {
		{"listen", required_argument, NULL, O_LISTEN},
		{"data", required_argument, NULL, O_DATA},
		{"key", required_argument, NULL, O_KEY},
		{"vrf-key", required_argument, NULL, O_VRF_KEY},
		{"tls-roots", required_argument, NULL, O_ROOTS},
		{"smime-roots", required_argument, NULL, O_SMIME},
		{"certifiers", required_argument, NULL, O_CERTIFIERS},
		{"mmd", required_argument, NULL, O_MMD},
		{"threads", required_argument, NULL, O_THREADS},
		{"max-body", required_argument, NULL, O_BODY},
		{"max-entries", required_argument, NULL, O_ENTRIES},
		{"max-queue", required_argument, NULL, O_QUEUE},
		{"max-conns", required_argument, NULL, O_CONNS},
		{"map-size", required_argument, NULL, O_MAP},
		{"max-map-size", required_argument, NULL, O_MAXMAP},
		{"url", required_argument, NULL, O_URL},
		{"origin", required_argument, NULL, O_ORIGIN},
		{"note-key", required_argument, NULL, O_NOTE_KEY},
		{"idle-timeout", required_argument, NULL, O_IDLE},
		{"request-timeout", required_argument, NULL, O_REQ},
		{"no-map", no_argument, NULL, O_NOMAP},
		{"verbose", no_argument, NULL, O_VERBOSE},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	unsigned long long v;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int ok = 1;
		switch (o) {
		case O_LISTEN: ok = parse_listen(c, optarg); break;
		case O_DATA: c->data = optarg; break;
		case O_KEY: c->key = optarg; break;
		case O_VRF_KEY: c->vrf_key = optarg; break;
		case O_ROOTS: c->tls_roots = optarg; break;
		case O_SMIME: c->smime_roots = optarg; break;
		case O_CERTIFIERS: c->certifiers = optarg; break;
		case O_URL: c->url = optarg; break;
		case O_ORIGIN: c->origin = optarg; break;
		case O_NOTE_KEY: c->note_key = optarg; break;
		case O_MMD: ok = parse_ulong(optarg, 86400, &v) && v > 0; c->mmd = (unsigned long)v; break;
		case O_THREADS: ok = parse_ulong(optarg, 256, &v); c->threads = (unsigned long)v; break;
		case O_BODY: ok = parse_ulong(optarg, 1u << 30, &v) && v >= 1024; c->max_body = (unsigned long)v; break;
		case O_ENTRIES: ok = parse_ulong(optarg, 100000, &v) && v > 0; c->max_entries = (unsigned long)v; break;
		case O_QUEUE: ok = parse_ulong(optarg, 10000000, &v) && v > 0; c->max_queue = (unsigned long)v; break;
		case O_CONNS: ok = parse_ulong(optarg, 1000000, &v) && v > 0; c->max_conns = (unsigned long)v; break;
		case O_IDLE: ok = parse_ulong(optarg, 3600000, &v) && v > 0; c->idle_ms = (unsigned long)v; break;
		case O_REQ: ok = parse_ulong(optarg, 3600000, &v) && v > 0; c->request_ms = (unsigned long)v; break;
		case O_MAP: ok = parse_ulong(optarg, ULLONG_MAX, &c->map_size); break;
		case O_MAXMAP: ok = parse_ulong(optarg, ULLONG_MAX, &c->max_map_size); break;
		case O_NOMAP: c->no_map = 1; break;
		case O_VERBOSE: mn_log_set_level(MN_LOG_DEBUG); break;
		case O_HELP: fputs(usage, stdout); exit(0);
		default: ok = 0;
		}
		if (!ok) {
			fprintf(stderr, "logd: bad value for option %s\n%s", argv[optind - 1], usage);
			return 0;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "logd: unexpected argument %s\n%s", argv[optind], usage);
		return 0;
	}
	return 1;
}

static size_t http_metrics(void *ctx, char *buf, size_t len)
{
	return http_server_metrics(ctx, buf, len);
}

static size_t seq_metrics_thunk(void *ctx, char *buf, size_t len)
{
	return seq_metrics(ctx, buf, len);
}

/* The HTTP server exists before the API (it needs the handler) and the API
 * needs the server for metrics; this indirection breaks the cycle. */
static struct api *the_api;

static int handler(void *ctx, const struct api_request *req, struct api_response *resp,
		   api_done_fn done, void *done_ctx)
{
	(void)ctx;
	return api_handle(the_api, req, resp, done, done_ctx);
}

int main(int argc, char **argv)
{
	struct config c = {
		.host = "127.0.0.1", .port = 6962, .data = "./data",
		.tls_roots = "/etc/ssl/certs/ca-certificates.crt", .mmd = 60,
	};
	char keypath[4096], vrfpath[4096], notepath[4096], origin[512];
	struct store_options so = {0};
	struct store *st = NULL;
	struct ct_signer *signer = NULL;
	struct vrf_key *vrf = NULL;
	struct note_signer *note = NULL;
	struct x509_roots *roots = NULL, *smime_roots = NULL;
	struct pgp_certifiers *certifiers = NULL;
	struct x509_validator *tls = NULL;
	size_t skipped = 0;
	struct seq *seq = NULL;
	struct seq_options qo = {0};
	struct http_server *srv = NULL;
	struct http_options ho = {0};
	struct api_config ac = {0};
	sigset_t sigs;
	int ret, sig, rc = 1;

	if (!parse_args(&c, argc, argv))
		return 2;
	/* Block the stop signals in every thread; main waits for them below. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	so.dir = c.data;
	so.map_size = c.map_size;
	so.max_map_size = c.max_map_size;
	so.map = !c.no_map;
	ret = store_open(&st, &so);
	if (ret == MN_EREADONLY) {
		/* A read-only data directory still serves reads; submissions get
		 * 503 storageReadOnly from the sequencer's failing commits. */
		so.read_only = 1;
		ret = store_open(&st, &so);
		if (ret == 0)
			mn_warn("store_read_only", "dir=%s msg=\"data directory is read-only: "
				"serving reads only, submissions get 503\"", c.data);
	}
	if (ret != 0) {
		fprintf(stderr, "logd: cannot open data directory %s: %s\n", c.data, mn_strerror(ret));
		goto out;
	}
	if (c.key == NULL) {
		snprintf(keypath, sizeof(keypath), "%s/log-key.pem", c.data);
		c.key = keypath;
	}
	ret = logd_key_load(&signer, c.key, 1);
	if (ret != 0) {
		fprintf(stderr, "logd: cannot load key %s: %s\n", c.key, mn_strerror(ret));
		goto out;
	}
	if (c.vrf_key == NULL) {
		snprintf(vrfpath, sizeof(vrfpath), "%s/vrf-key.pem", c.data);
		c.vrf_key = vrfpath;
	}
	ret = logd_vrf_key_load(&vrf, c.vrf_key, 1);
	if (ret != 0) {
		fprintf(stderr, "logd: cannot load VRF key %s: %s\n", c.vrf_key, mn_strerror(ret));
		goto out;
	}
	if (c.note_key == NULL) {
		snprintf(notepath, sizeof(notepath), "%s/note-key.pem", c.data);
		c.note_key = notepath;
	}
	logd_default_origin(origin, sizeof(origin), c.origin, c.url, c.host, c.port);
	ret = logd_note_key_load(&note, c.note_key, 1, origin);
	if (ret != 0) {
		fprintf(stderr, "logd: cannot load note key %s (origin \"%s\"): %s\n", c.note_key,
			origin, mn_strerror(ret));
		goto out;
	}
	ret = x509_roots_load_file(&roots, &skipped, c.tls_roots);
	if (ret != 0) {
		fprintf(stderr, "logd: cannot load TLS roots %s: %s\n", c.tls_roots, mn_strerror(ret));
		goto out;
	}
	if (skipped > 0)
		mn_warn("roots", "path=%s skipped=%zu msg=\"unusable PEM blocks skipped\"",
			c.tls_roots, skipped);
	if (c.smime_roots != NULL) {
		ret = x509_roots_load_file(&smime_roots, &skipped, c.smime_roots);
		if (ret != 0) {
			fprintf(stderr, "logd: cannot load S/MIME roots %s: %s\n", c.smime_roots,
				mn_strerror(ret));
			goto out;
		}
		if (skipped > 0)
			mn_warn("roots", "path=%s skipped=%zu msg=\"unusable PEM blocks skipped\"",
				c.smime_roots, skipped);
	}
	tls = x509_validator_new2(roots, smime_roots, NULL);
	if (tls == NULL)
		goto out;
	if (c.certifiers != NULL) {
		ret = pgp_certifiers_load_file(&certifiers, c.certifiers);
		if (ret != 0) {
			fprintf(stderr, "logd: cannot load certifiers %s: %s\n", c.certifiers,
				mn_strerror(ret));
			goto out;
		}
	}
	qo.max_queue = c.max_queue;
	qo.map = !c.no_map;
	qo.resign_ms = c.mmd * 1000 / 2;
	ret = seq_start(&seq, st, signer, &qo);
	if (ret != 0) {
		fprintf(stderr, "logd: cannot start sequencer: %s\n", mn_strerror(ret));
		goto out;
	}

	ac.store = st;
	ac.signer = signer;
	ac.tls = tls;
	ac.tls_roots = roots;
	ac.smime_roots = smime_roots;
	ac.certifiers = certifiers;
	ac.vrf = vrf;
	ac.note = note;
	ac.seq = seq_api(seq);
	ac.mmd_s = c.mmd;
	ac.max_entries = c.max_entries;
	ac.metrics[0] = seq_metrics_thunk;
	ac.metrics_ctx[0] = seq;
	ac.metrics[1] = http_metrics;
	the_api = api_new(&ac);
	if (the_api == NULL)
		goto out;

	ho.host = c.host;
	ho.port = (uint16_t)c.port;
	ho.threads = (unsigned)c.threads;
	ho.max_body_bytes = c.max_body;
	ho.max_conns = (unsigned)c.max_conns;
	ho.idle_timeout_ms = (unsigned)c.idle_ms;
	ho.request_timeout_ms = (unsigned)c.request_ms;
	ret = http_server_start(&srv, &ho, handler, NULL);
	if (ret != 0) {
		fprintf(stderr, "logd: cannot listen on %s:%u: %s\n", c.host, c.port, mn_strerror(ret));
		goto out;
	}
	/* Only metrics read this after start; set before any request can ask. */
	api_set_metrics_ctx(the_api, 1, srv);

	{
		size_t spki_len;
		const uint8_t *spki = ct_signer_spki(signer, &spki_len);
		char id[64], *key = malloc(mn_b64_encoded_len(spki_len) + 1);
		char url[600];
		if (key == NULL)
			goto out;
		mn_b64_encode(id, ct_signer_log_id(signer), 32);
		mn_b64_encode(key, spki, spki_len);
		if (c.url != NULL)
			snprintf(url, sizeof(url), "%s", c.url);
		else
			snprintf(url, sizeof(url), "http://%s:%u/", c.host, http_server_port(srv));
		/* origin and vkey are printable ASCII without '"' or '\\'
		 * (note_valid_name, base64) */
		printf("{\"description\":\"metanotary log\",\"log_id\":\"%s\",\"key\":\"%s\","
		       "\"url\":\"%s\",\"mmd\":%lu,\"origin\":\"%s\",\"note_vkey\":\"%s\"}\n",
		       id, key, url, c.mmd, note_signer_name(note), note_signer_vkey(note));
		printf("listening on http://%s:%u/\n", c.host, http_server_port(srv));
		fflush(stdout);
		free(key);
	}
	{
		struct store_stats ss;
		store_get_stats(st, &ss);
		mn_info("start", "listen=%s:%u data=%s tree_size=%llu", c.host,
			http_server_port(srv), c.data, (unsigned long long)ss.tree_size);
	}

	if (sigwait(&sigs, &sig) == 0)
		mn_info("stop", "signal=%d", sig);
	rc = 0;
out:
	/* Order matters: stop taking requests and let in-flight ones finish (their
	 * commits complete inside seq_stop), then close storage. */
	http_server_stop(srv);
	seq_stop(seq);
	api_free(the_api);
	x509_validator_free(tls);
	x509_roots_free(roots);
	x509_roots_free(smime_roots);
	pgp_certifiers_free(certifiers);
	ct_signer_free(signer);
	vrf_key_free(vrf);
	note_signer_free(note);
	store_close(st);
	return rc;
}
