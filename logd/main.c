/* main.c: logd, the metanotary log server. Reads its configuration (flags for
 * one log at "/", or a --config file for several, each under /NAME/), then
 * runs every log through the shard.h life cycle (load all, open all, start
 * all, serve, stop all) and owns the signals. */
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
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "logd/config.h"
#include "logd/backup.h"
#include "logd/http.h"
#include "logd/metrics.h"
#include "logd/reload.h"
#include "logd/restore.h"
#include "logd/router.h"
#include "logd/shard.h"
#include "storage/storage.h"

static const char usage[] =
	"usage: logd [options]\n"
	"       logd loglist --config FILE   print the config's logs as CT log list v3\n"
	"                       JSON (writes nothing; exit 2 if a log has no key yet)\n"
	"       logd backup --data DIR DEST | --config FILE --log NAME DEST\n"
	"                       a consistent copy while logd serves (README, Backups)\n"
	"       logd restore --from DIR|s3://BUCKET/PREFIX|https://URL --data DIR\n"
	"                       rebuild a log from its published objects, verifying\n"
	"                       every one (README, Publishing)\n"
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
	"  --no-leaf-index      when creating the log: the RFC 6962 format, SCTs without\n"
	"                       the static-ct-api leaf_index extension (a new log has it\n"
	"                       by default); a log's format is fixed when it is created,\n"
	"                       so on an existing log this is ignored with a warning\n"
	"  --url URL            the log's public URL for the log-list line\n"
	"  --published-sth FILE refuse to start unless the store holds this STH's tree\n"
	"                       (get-sth JSON; after restoring a backup, README)\n"
	"  --origin ORIGIN      the checkpoint's origin line and note key name (default:\n"
	"                       --url without scheme and trailing '/', else HOST:PORT)\n"
	"  --note-key PEMFILE   Ed25519 key of the checkpoint's second note signature,\n"
	"                       for witnesses (default DIR/note-key.pem, generated with\n"
	"                       mode 0600 if missing)\n"
	"  --witness-policy FILE tlog-policy file: the witnesses (each with its URL)\n"
	"                       and the quorum; /checkpoint then serves only checkpoints\n"
	"                       cosigned by the quorum (README, Witnesses)\n"
	"  --witness-timeout MS per add-checkpoint request, and how long\n"
	"                       --witness-fail-open waits for the quorum (default 5000)\n"
	"  --witness-interval MS the least time between two witnessing rounds\n"
	"                       (default 0: a round as soon as the last one is over)\n"
	"  --witness-fail-open  without the quorum after the timeout, serve the\n"
	"                       checkpoint with the cosignatures it has (default: keep\n"
	"                       serving the last witnessed one)\n"
	"  --mirror URL         a verifying mirror of the log at URL (its prefix): follow\n"
	"                       its checkpoint and tiles, verify everything, store it in\n"
	"                       --data, serve the read API with the origin's tree heads;\n"
	"                       submissions get 405 (README, Mirrors). Takes --data,\n"
	"                       --mirror-key, --origin (to require; default: the first\n"
	"                       checkpoint's) and the server options\n"
	"  --mirror-key KEY     the origin's log public key: PEM or DER file, or base64\n"
	"                       SPKI; required with --mirror\n"
	"  --config FILE        serve the logs of a YAML config file, each under /NAME/\n"
	"                       (contrib/logd.yaml); then only --listen, --threads and\n"
	"                       --verbose may be given too, and override the file\n"
	"  --verbose            debug logging\n"
	"  --help               this text\n"
	"On start logd prints one JSON line (log_id, key, url, mmd, origin, note_vkey: its\n"
	"entry for a CT log list), then 'listening on http://HOST:PORT/'. SIGINT/SIGTERM stop it\n"
	"gracefully: in-flight submissions are committed and answered first. SIGHUP\n"
	"reloads every log's roots, certifiers and witness policy from its files (a\n"
	"failed reload keeps the old ones and logs why).\n";

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
	const char *published_sth;
	const char *config;
	int num_flags;       /* options given other than --config/--listen/--threads/--verbose */
	int has_listen, has_threads;
	const char *origin;
	const char *note_key;
	const char *witness_policy;
	unsigned long long witness_timeout_ms;
	unsigned long long witness_interval_ms;
	int has_witness_interval;
	int witness_fail_open;
	const char *mirror, *mirror_key;
	int num_log_flags;   /* options a mirror does not take */
	unsigned long mmd, threads, max_body, max_entries, max_queue, max_conns;
	int no_map;
	int no_leaf_index;
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
	       O_QUEUE, O_CONNS, O_MAP, O_MAXMAP, O_URL, O_VERBOSE, O_HELP, O_IDLE, O_REQ,
	       O_SMIME, O_CERTIFIERS, O_NOMAP, O_VRF_KEY, O_CONFIG, O_PUBLISHED, O_NOLEAFIDX,
	       O_ORIGIN, O_NOTE_KEY, O_MIRROR, O_MIRROR_KEY, O_WPOLICY, O_WTIMEOUT,
	       O_WFAILOPEN, O_WINTERVAL };
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
		{"published-sth", required_argument, NULL, O_PUBLISHED},
		{"origin", required_argument, NULL, O_ORIGIN},
		{"note-key", required_argument, NULL, O_NOTE_KEY},
		{"mirror", required_argument, NULL, O_MIRROR},
		{"mirror-key", required_argument, NULL, O_MIRROR_KEY},
		{"witness-policy", required_argument, NULL, O_WPOLICY},
		{"witness-timeout", required_argument, NULL, O_WTIMEOUT},
		{"witness-fail-open", no_argument, NULL, O_WFAILOPEN},
		{"witness-interval", required_argument, NULL, O_WINTERVAL},
		{"idle-timeout", required_argument, NULL, O_IDLE},
		{"request-timeout", required_argument, NULL, O_REQ},
		{"no-map", no_argument, NULL, O_NOMAP},
		{"config", required_argument, NULL, O_CONFIG},
		{"no-leaf-index", no_argument, NULL, O_NOLEAFIDX},
		{"verbose", no_argument, NULL, O_VERBOSE},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	unsigned long long v;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int ok = 1;
		c->num_flags++;
		if (o == O_KEY || o == O_VRF_KEY || o == O_ROOTS || o == O_SMIME ||
		    o == O_CERTIFIERS || o == O_PUBLISHED || o == O_NOTE_KEY || o == O_QUEUE ||
		    o == O_NOLEAFIDX || o == O_WPOLICY || o == O_WTIMEOUT || o == O_WFAILOPEN ||
		    o == O_WINTERVAL)
			c->num_log_flags++;
		switch (o) {
		case O_LISTEN: ok = parse_listen(c, optarg); c->has_listen = 1; c->num_flags--; break;
		case O_CONFIG: c->config = optarg; c->num_flags--; break;
		case O_DATA: c->data = optarg; break;
		case O_KEY: c->key = optarg; break;
		case O_VRF_KEY: c->vrf_key = optarg; break;
		case O_ROOTS: c->tls_roots = optarg; break;
		case O_SMIME: c->smime_roots = optarg; break;
		case O_CERTIFIERS: c->certifiers = optarg; break;
		case O_URL: c->url = optarg; break;
		case O_PUBLISHED: c->published_sth = optarg; break;
		case O_ORIGIN: c->origin = optarg; break;
		case O_NOTE_KEY: c->note_key = optarg; break;
		case O_WPOLICY: c->witness_policy = optarg; break;
		case O_WTIMEOUT:
			ok = parse_ulong(optarg, 600000, &v) && v >= 100;
			c->witness_timeout_ms = v;
			break;
		case O_WFAILOPEN: c->witness_fail_open = 1; break;
		case O_WINTERVAL:
			ok = parse_ulong(optarg, 600000, &v);
			c->witness_interval_ms = v;
			c->has_witness_interval = 1;
			break;
		case O_MIRROR:
			c->mirror = optarg;
			ok = (strncmp(optarg, "http://", 7) == 0 || strncmp(optarg, "https://", 8) == 0) &&
			     strpbrk(optarg, "\"\\ ") == NULL;
			break;
		case O_MIRROR_KEY: c->mirror_key = optarg; break;
		case O_MMD: ok = parse_ulong(optarg, 86400, &v) && v > 0; c->mmd = (unsigned long)v; break;
		case O_THREADS: ok = parse_ulong(optarg, 256, &v); c->threads = (unsigned long)v;
			c->has_threads = 1; c->num_flags--; break;
		case O_BODY: ok = parse_ulong(optarg, 1u << 30, &v) && v >= 1024; c->max_body = (unsigned long)v; break;
		case O_ENTRIES: ok = parse_ulong(optarg, 100000, &v) && v > 0; c->max_entries = (unsigned long)v; break;
		case O_QUEUE: ok = parse_ulong(optarg, 10000000, &v) && v > 0; c->max_queue = (unsigned long)v; break;
		case O_CONNS: ok = parse_ulong(optarg, 1000000, &v) && v > 0; c->max_conns = (unsigned long)v; break;
		case O_IDLE: ok = parse_ulong(optarg, 3600000, &v) && v > 0; c->idle_ms = (unsigned long)v; break;
		case O_REQ: ok = parse_ulong(optarg, 3600000, &v) && v > 0; c->request_ms = (unsigned long)v; break;
		case O_MAP: ok = parse_ulong(optarg, ULLONG_MAX, &c->map_size); break;
		case O_MAXMAP: ok = parse_ulong(optarg, ULLONG_MAX, &c->max_map_size); break;
		case O_NOMAP: c->no_map = 1; break;
		case O_NOLEAFIDX: c->no_leaf_index = 1; break;
		case O_VERBOSE: mn_log_set_level(MN_LOG_DEBUG); c->num_flags--; break;
		case O_HELP: fputs(usage, stdout); exit(0);
		default: ok = 0;
		}
		if (!ok) {
			fprintf(stderr, "logd: bad value for option %s\n%s", argv[optind - 1], usage);
			return 0;
		}
	}
	if (c->config != NULL && c->num_flags > 0) {
		fprintf(stderr, "logd: with --config only --listen, --threads and --verbose may be "
			"given; the rest belongs in the file\n");
		return 0;
	}
	if ((c->mirror != NULL) != (c->mirror_key != NULL)) {
		fprintf(stderr, "logd: --mirror and --mirror-key go together\n");
		return 0;
	}
	if (c->mirror != NULL && c->num_log_flags > 0) {
		fprintf(stderr, "logd: a mirror (--mirror) takes no --key, --vrf-key, roots, "
			"--certifiers, --published-sth, --note-key, --max-queue, --no-leaf-index or "
			"--witness-*: "
			"it copies the origin's log\n");
		return 0;
	}
	if (c->witness_policy == NULL &&
	    (c->witness_timeout_ms != 0 || c->witness_fail_open || c->has_witness_interval)) {
		fprintf(stderr, "logd: --witness-timeout, --witness-interval and --witness-fail-open need "
			"--witness-policy\n");
		return 0;
	}
	if (optind != argc) {
		fprintf(stderr, "logd: unexpected argument %s\n%s", argv[optind], usage);
		return 0;
	}
	return 1;
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

/* The logd process: its logs and what serves them. */
struct logd {
	struct config c;
	struct logd_config file;       /* --config, or the flags' single log */
	struct logd_log_config flag_log;
	const char *file_name;         /* NULL: the flag form */
	struct shard *shards;
	size_t num;
	struct router *router;
	struct http_server *srv;
	struct logd_metrics_log *mlogs; /* what /metrics shows, one per log */
	struct logd_metrics metrics;
};

/* from_flags: the flag form as a one-log config (no name, every class). */
static void from_flags(struct logd *d)
{
	struct logd_log_config *l = &d->flag_log;
	struct config *c = &d->c;

	l->data = (char *)c->data;
	l->key = (char *)c->key;
	l->vrf_key = (char *)c->vrf_key;
	l->url = (char *)c->url;
	l->published_sth = (char *)c->published_sth;
	l->origin = (char *)c->origin;
	l->note_key = (char *)c->note_key;
	l->witness_policy = (char *)c->witness_policy;
	l->witness_timeout_ms = c->witness_timeout_ms != 0 ? c->witness_timeout_ms : 5000;
	l->witness_fail_open = c->witness_fail_open;
	l->witness_interval_ms = c->witness_interval_ms;
	l->no_leaf_index = c->no_leaf_index;
	l->classes = LOGD_CLASS_ALL;
	l->tls_roots = (char *)c->tls_roots;
	l->smime_roots = (char *)c->smime_roots;
	l->certifiers = (char *)c->certifiers;
	l->mmd_s = c->mmd;
	l->max_queue = c->max_queue;
	l->map = !c->no_map;
	l->map_size = c->map_size;
	l->max_map_size = c->max_map_size;
	l->mirror = (char *)c->mirror;
	l->mirror_key = (char *)c->mirror_key;
	if (l->mirror != NULL)
		l->map = 0;
	d->file.logs = l;
	d->file.num_logs = 1;
	d->num = 1;
}

/* load_config: the file, with --listen / --threads overriding it. 0, or 2
 * after printing FILE:LINE: reason. */
static int load_config(struct logd *d)
{
	char err[1024];
	int ret = logd_config_load(&d->file, d->c.config, err, sizeof(err));

	if (ret != 0) {
		fprintf(stderr, "%s\n", err[0] != '\0' ? err : mn_strerror(ret));
		logd_config_cleanup(&d->file);
		return 2;
	}
	d->file_name = d->c.config;
	d->num = d->file.num_logs;
	if (!d->c.has_listen) {
		snprintf(d->c.host, sizeof(d->c.host), "%s", d->file.host);
		d->c.port = d->file.port;
	}
	if (!d->c.has_threads)
		d->c.threads = d->file.threads;
	if (d->file.max_body != 0)
		d->c.max_body = d->file.max_body;
	if (d->file.max_entries != 0)
		d->c.max_entries = d->file.max_entries;
	if (d->file.max_conns != 0)
		d->c.max_conns = d->file.max_conns;
	if (d->file.idle_ms != 0)
		d->c.idle_ms = d->file.idle_ms;
	if (d->file.request_ms != 0)
		d->c.request_ms = d->file.request_ms;
	return 0;
}

/* load_all: shard_load of every log (nothing written). 0 or 2. */
static int load_all(struct logd *d)
{
	d->shards = calloc(d->num, sizeof(*d->shards));
	if (d->shards == NULL)
		return 1;
	for (size_t i = 0; i < d->num; i++)
		if (shard_load(&d->shards[i], &d->file.logs[i], d->file_name) != 0)
			return 2;
	return 0;
}

/* log_url: the log's public URL (its url:, or where we listen). */
static void log_url(const struct logd *d, const struct shard *s, uint16_t port, char *out,
		    size_t len)
{
	if (s->cfg->url != NULL)
		snprintf(out, len, "%s", s->cfg->url);
	else if (s->cfg->name != NULL)
		snprintf(out, len, "http://%s:%u/%s/", d->c.host, port, s->cfg->name);
	else
		snprintf(out, len, "http://%s:%u/", d->c.host, port);
}

/* print_logs: one JSON line: the single log's entry, or {"logs":[...]}. */
static int print_logs(const struct logd *d, uint16_t port, const char *state_ts)
{
	char url[4600];
	char *line;

	if (d->file_name != NULL)
		fputs("{\"logs\":[", stdout);
	for (size_t i = 0; i < d->num; i++) {
		log_url(d, &d->shards[i], port, url, sizeof(url));
		if (shard_log_line(&d->shards[i], url, state_ts, &line) != 0)
			return 0;
		printf("%s%s", i > 0 ? "," : "", line);
		free(line);
	}
	fputs(d->file_name != NULL ? "]}\n" : "\n", stdout);
	return 1;
}

static void logd_cleanup(struct logd *d)
{
	/* Order matters: stop taking requests and let in-flight ones finish (their
	 * commits complete inside shard_stop), then close storage. */
	http_server_stop(d->srv);
	for (size_t i = 0; d->shards != NULL && i < d->num; i++)
		shard_stop(&d->shards[i]);
	for (size_t i = 0; d->shards != NULL && i < d->num; i++)
		shard_close(&d->shards[i]);
	free(d->shards);
	free(d->mlogs);
	router_free(d->router);
	if (d->file_name != NULL)
		logd_config_cleanup(&d->file);
}

static void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->host, sizeof(c->host), "127.0.0.1");
	c->port = 6962;
	c->data = "./data";
	c->tls_roots = "/etc/ssl/certs/ca-certificates.crt";
	c->mmd = 60;
}

/* loglist: `logd loglist --config FILE`. Reads the config, roots and keys;
 * writes nothing. */
static int loglist(int argc, char **argv)
{
	struct logd d;
	char ts[21];
	int rc;

	memset(&d, 0, sizeof(d));
	config_defaults(&d.c);
	if (!parse_args(&d.c, argc, argv))
		return 2;
	if (d.c.config == NULL) {
		fprintf(stderr, "logd loglist: --config FILE is required\n");
		return 2;
	}
	rc = load_config(&d);
	if (rc == 0)
		rc = load_all(&d);
	for (size_t i = 0; rc == 0 && i < d.num; i++)
		if (d.shards[i].signer == NULL && d.shards[i].cfg->mirror == NULL) {
			fprintf(stderr, "%s: log %s has no key yet (%s); start logd once to "
				"create it\n", d.shards[i].where, d.shards[i].cfg->name,
				d.shards[i].keypath);
			rc = 2;
		}
	logd_config_time(ts, mn_now_ms());
	for (size_t i = 0; rc == 0 && i < d.num; i++) {
		/* a log whose note key does not exist yet is listed without it */
		int r = shard_note_load(&d.shards[i], d.c.host, d.c.port, 0);
		if (r != 0 && r != MN_ENOTFOUND)
			rc = 2;
	}
	if (rc == 0 && !print_logs(&d, (uint16_t)d.c.port, ts))
		rc = 1;
	logd_cleanup(&d);
	return rc;
}

int main(int argc, char **argv)
{
	struct logd d;
	struct http_options ho = {0};
	struct shard_process sp = {0};
	sigset_t sigs;
	int ret, sig, rc = 1;

	if (argc >= 2 && strcmp(argv[1], "loglist") == 0)
		return loglist(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "backup") == 0)
		return logd_backup_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "restore") == 0)
		return logd_restore_main(argc - 1, argv + 1);
	memset(&d, 0, sizeof(d));
	config_defaults(&d.c);
	if (!parse_args(&d.c, argc, argv))
		return 2;
	if (d.c.config != NULL) {
		if ((rc = load_config(&d)) != 0)
			return rc;
	} else {
		from_flags(&d);
	}
	/* Everything a log needs is read and checked before anything is
	 * created: a bad config leaves no trace. */
	rc = load_all(&d);
	if (rc != 0)
		goto out;
	rc = 1;
	/* Block the stop signals and SIGHUP in every thread; main waits for
	 * them below. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (size_t i = 0; i < d.num; i++)
		if (shard_open(&d.shards[i]) != 0 ||
		    shard_note_load(&d.shards[i], d.c.host, d.c.port, 1) != 0)
			goto out;
	sp.max_entries = d.c.max_entries;
	sp.only = d.file_name == NULL;
	/* every log's api serves the whole exposition; the entries are filled
	 * in as the logs start, the transport once it listens */
	d.mlogs = calloc(d.num, sizeof(*d.mlogs));
	if (d.mlogs == NULL)
		goto out;
	d.metrics.logs = d.mlogs;
	d.metrics.num_logs = d.num;
	sp.metrics = logd_metrics_fn;
	sp.metrics_ctx = &d.metrics;
	for (size_t i = 0; i < d.num; i++) {
		struct shard *s = &d.shards[i];
		if (shard_start(s, &sp) != 0)
			goto out;
		d.mlogs[i] = (struct logd_metrics_log){s->cfg->name, s->api, s->seq, s->st,
						       s->reload, s->mirror, s->mirror_vrf,
						       s->pub, s->wit};
	}
	if (d.file_name != NULL) {
		d.router = router_new(d.num);
		if (d.router == NULL)
			goto out;
		for (size_t i = 0; i < d.num; i++) {
			struct shard *s = &d.shards[i];
			router_add(d.router, s->cfg->name, s->api, s->st, s->writable, s->cfg->mmd_s,
				   s->cfg->state == LOGD_STATE_OPEN);
			router_set_publisher(d.router, s->cfg->name, s->pub);
			router_set_witness(d.router, s->cfg->name, s->wit);
		}
	} else {
		the_api = d.shards[0].api;
	}

	ho.host = d.c.host;
	ho.port = (uint16_t)d.c.port;
	ho.threads = (unsigned)d.c.threads;
	ho.max_body_bytes = d.c.max_body;
	ho.max_conns = (unsigned)d.c.max_conns;
	ho.idle_timeout_ms = (unsigned)d.c.idle_ms;
	ho.request_timeout_ms = (unsigned)d.c.request_ms;
	ret = d.router != NULL ? http_server_start(&d.srv, &ho, router_handle, d.router)
			       : http_server_start(&d.srv, &ho, handler, NULL);
	if (ret != 0) {
		fprintf(stderr, "logd: cannot listen on %s:%u: %s\n", d.c.host, d.c.port,
			mn_strerror(ret));
		goto out;
	}
	/* Only metrics read this after start; set before any request can ask. */
	d.metrics.srv = d.srv;

	if (!print_logs(&d, http_server_port(d.srv), NULL))
		goto out;
	printf("listening on http://%s:%u/\n", d.c.host, http_server_port(d.srv));
	fflush(stdout);
	for (size_t i = 0; i < d.num; i++) {
		struct store_stats ss;
		store_get_stats(d.shards[i].st, &ss);
		mn_info("start", "log=%s listen=%s:%u data=%s tree_size=%llu",
			d.shards[i].cfg->name != NULL ? d.shards[i].cfg->name : "/", d.c.host,
			http_server_port(d.srv), d.shards[i].cfg->data,
			(unsigned long long)ss.tree_size);
	}

	while (sigwait(&sigs, &sig) == 0) {
		if (sig == SIGHUP) {
			for (size_t i = 0; i < d.num; i++)
				(void)logd_reload(d.shards[i].reload); /* logs its own failure */
			continue;
		}
		mn_info("stop", "signal=%d", sig);
		break;
	}
	rc = 0;
	/* a mirror that met a log it could not verify stopped logd: say so */
	for (size_t i = 0; i < d.num; i++)
		if (shard_mirror_failed(&d.shards[i]))
			rc = 3;
out:
	logd_cleanup(&d);
	return rc;
}
