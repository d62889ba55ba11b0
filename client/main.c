/* main.c: mnctl's command line: global options, the command table, exit codes. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "client/mnctl.h"
#include "client/policy_server.h"

struct mnctl_opts mnctl_opts;

static const char usage_text[] =
	"usage: mnctl [options] COMMAND [args]\n"
	"\n"
	"A client for metanotary / RFC 6962 logs that verifies everything the log says\n"
	"against the log's pinned public key.\n"
	"\n"
	"Commands:\n"
	"  info [URL]                  show /mn/v1/info; pin the key with\n"
	"                              --trust-on-first-use or --key FILE\n"
	"  sth                         fetch and verify the STH (signature, and\n"
	"                              consistency with the last STH seen); print size,\n"
	"                              time, root\n"
	"  consistency OLD [NEW]       verify that tree OLD is a prefix of tree NEW;\n"
	"                              each is a tree size seen by `sth` or an STH file\n"
	"                              (`sth --json` output); NEW defaults to the log's\n"
	"                              current STH\n"
	"  add-chain CERT.pem [CHAIN.pem...]      submit a certificate chain, verify the\n"
	"  add-pre-chain PRECERT.pem [CHAIN.pem...]  SCT; print it (base64 SCT list)\n"
	"      --sct FILE              write the binary SignedCertificateTimestampList\n"
	"      --leaf FILE             write the MerkleTreeLeaf (input for `prove`)\n"
	"      --wait-inclusion        then wait for and verify an inclusion proof\n"
	"      --wait-timeout SECONDS  give up waiting (default: the log's MMD + 30)\n"
	"  get-entries START END       download, verify (inclusion in the current STH)\n"
	"                              and decode entries START..END inclusive\n"
	"      --no-verify             skip the inclusion proofs\n"
	"  prove LEAF | --hash HASH    verify inclusion in the current STH of a\n"
	"                              MerkleTreeLeaf file (`--leaf` output), a\n"
	"                              certificate (DER or PEM) with --sct FILE, or a\n"
	"                              leaf hash (base64 or hex)\n"
	"      --tree-size N           prove against the saved STH of size N instead\n"
	"  monitor --watch FILE | --audit-map --state DIR\n"
	"                              follow the log from the saved state: verify\n"
	"                              consistency, download new entries, recompute the\n"
	"                              root, report certificates for watched domains\n"
	"                              (one per line; a.example matches www.a.example)\n"
	"      --batch N               entries per get-entries request (default 256)\n"
	"      --checkpoint N          prove and save the state every N entries\n"
	"                              (default 4096); an interrupted run resumes\n"
	"                              from the last one\n"
	"      --audit-map             also recompute the log's lookup map from the\n"
	"                              entries and check every map-root leaf against\n"
	"                              it (--watch is then optional); the audit's\n"
	"                              state is saved with the monitor's\n"
	"      --tiles                 read the checkpoint and the data and hash\n"
	"                              tiles (docs/tiles.md) instead of get-sth and\n"
	"                              get-entries; the new entries are proved once,\n"
	"                              against the checkpoint's root, at the end\n"
	"      (--log URL repeated)    follow several logs in one run, in turn: each\n"
	"                              log's state in DIR/NAME (NAME as in\n"
	"                              CONFIG/logs/), each MATCH and summary line\n"
	"                              starting with the log's URL (JSON: a \"log\"\n"
	"                              field); exit 3 if any log failed verification;\n"
	"                              each log's key pinned before with info (no --key)\n"
	"  add-pgp KEY.gpg --user-id 'Name <address>' --signer FPR\n"
	"                              submit a certifier's endorsement of a user ID on\n"
	"                              an OpenPGP key (binary or ASCII-armored); find\n"
	"                              the logged entry with a lookup, check it names\n"
	"                              the key, certifier and user ID, verify the SCT\n"
	"      --wait-inclusion        then wait for and verify an inclusion proof\n"
	"  add-policy POLICY.json --key KEY.pem --chain CHAIN.pem\n"
	"                              sign POLICY.json (made RFC 8785 canonical) as a\n"
	"                              JWS with KEY (P-256: ES256, P-384: ES384, RSA:\n"
	"                              RS256, Ed25519: EdDSA) and the certificate chain\n"
	"                              (leaf first) in x5c; submit; verify the SCTs\n"
	"                              over the rebuilt policy entry (and the signer's\n"
	"                              certificate entry when it is new)\n"
	"      --x5t                   name the logged signer by x5t#S256 instead\n"
	"      --pss                   PS256 with an RSA key\n"
	"      --wait-inclusion        then prove the policy entry and the signer entry\n"
	"                              (here the log's key is --log-key FILE)\n"
	"  lookup DOMAIN | ADDRESS | --pgp FPR\n"
	"                              what the log holds for a domain, an email\n"
	"                              address or an OpenPGP key: every entry's\n"
	"                              inclusion proof verified against the answer's\n"
	"                              STH (itself checked against the history); PGP\n"
	"                              user IDs shown when their opening verifies\n"
	"      --subdomains            include every name below DOMAIN\n"
	"      --types LIST            comma list of tls, smime, pgp, policy\n"
	"      --limit N               entries per page (1..100; all pages are read)\n"
	"      --no-completeness       check inclusion only (a log without a map);\n"
	"                              by default every page's map proof is checked:\n"
	"                              the map-root leaf ends the answer's STH, each\n"
	"                              key of the query is proven present with the\n"
	"                              items shown, or absent, and no entry is missing\n"
	"      --max-age SECONDS       refuse an answer whose STH is older than the\n"
	"                              newest seen by more (default: twice the MMD)\n"
	"  resolve ADDRESS | DOMAIN --protocol P\n"
	"                              how to reach ADDRESS (S/MIME certificates, PGP\n"
	"                              endorsements, policies) or DOMAIN over P (smtp,\n"
	"                              submission, imap, pop3, https, xmpp-server):\n"
	"                              every entry in the answer verified, every list\n"
	"                              proven whole by the map, the advice recomputed\n"
	"                              from the proven leaves (entry/advice.h) and\n"
	"                              compared, then printed\n"
	"      --no-completeness, --max-age   as for lookup\n"
	"      --smime-out DIR         (ADDRESS) write the S/MIME certificates as\n"
	"                              DIR/ADDRESS-INDEX.pem\n"
	"      --pgp-out FILE          (ADDRESS) write the endorsed OpenPGP keys as one\n"
	"                              ASCII-armored keyring\n"
	"  policy-server --listen HOST:PORT\n"
	"                              a Postfix socketmap server for\n"
	"                              smtp_tls_policy_maps = socketmap:inet:HOST:PORT:\n"
	"                              metanotary: answers each next-hop domain with\n"
	"                              the TLS policy the log proves (OK secure\n"
	"                              match=... protocols=>=TLSv1.2), NOTFOUND when\n"
	"                              none is in force, TEMP when the log cannot be\n"
	"                              reached or does not verify; one log line per\n"
	"                              decision on stderr; SIGTERM stops it\n"
	"      --map-name NAME         the socketmap name (default metanotary)\n"
	"      --cache-ttl SECONDS     keep verified answers this long (default and\n"
	"                              at most the log's MMD; 0: no cache)\n"
	"  witness serve --listen HOST:PORT --state DIR --key KEY --logs FILE\n"
	"                              a transparency log witness (c2sp.org/tlog-witness\n"
	"                              v1.0.0): POST /add-checkpoint cosigns (Ed25519\n"
	"                              cosignature/v1) each checkpoint of a listed log\n"
	"                              consistent with the last one it cosigned;\n"
	"                              GET /<sha256(origin) hex>/checkpoint serves that\n"
	"                              one. Prints its vkey, then \"witness listening\n"
	"                              on HOST:PORT\"; SIGTERM stops it\n"
	"      --state DIR             the last cosigned checkpoint of each log\n"
	"      --key KEY               its Ed25519 private key, PEM (created, mode\n"
	"                              0600, when missing)\n"
	"      --logs FILE             tlog-policy `log VKEY [URL]` lines: the logs\n"
	"                              it witnesses (origin = the vkey's name)\n"
	"      --name NAME             its key name (default: the --listen value)\n"
	"      --timeout SECONDS       each request must arrive whole within this\n"
	"                              (default 30)\n"
	"\n"
	"Global options:\n"
	"  --log URL                   the log (default: $MN_LOG); a URL with a path\n"
	"                              names one log of a multi-log server\n"
	"                              (http://HOST:6962/2027h1): every request path\n"
	"                              is appended to it, and keys, STH history and\n"
	"                              monitor state are kept per full URL\n"
	"  --config DIR                pinned keys and STH history\n"
	"                              (default: ~/.config/mnctl)\n"
	"  --key FILE, --log-key FILE  the log's public key (PEM or DER\n"
	"                              SubjectPublicKeyInfo) instead of the pinned one\n"
	"                              (with add-policy only --log-key)\n"
	"  --trust-on-first-use        with info: pin the key the log serves\n"
	"  --json                      machine-readable output (one JSON object a line)\n"
	"  --timeout SECONDS           per request (default 30)\n"
	"  --max-response BYTES        abort larger responses (default 67108864)\n"
	"  --help                      this text\n"
	"\n"
	"Exit codes:\n"
	"  0  ok\n"
	"  1  usage error\n"
	"  2  network or HTTP error, or a malformed response\n"
	"  3  verification failed: the log's signature, proof or data is wrong\n"
	"  4  the log rejected the submission\n"
	"  5  local error: files, configuration, no pinned key\n";

/* The command table. */
static const struct {
	const char *name;
	int (*fn)(struct mnctl *m, int argc, char **argv);
	int needs_log;
} commands[] = {
	{"info", mnctl_cmd_info, 1},
	{"sth", mnctl_cmd_sth, 1},
	{"consistency", mnctl_cmd_consistency, 1},
	{"add-chain", mnctl_cmd_add_chain, 1},
	{"add-pre-chain", mnctl_cmd_add_pre_chain, 1},
	{"get-entries", mnctl_cmd_get_entries, 1},
	{"prove", mnctl_cmd_prove, 1},
	{"monitor", mnctl_cmd_monitor, 1},
	{"add-pgp", mnctl_cmd_add_pgp, 1},
	{"add-policy", mnctl_cmd_add_policy, 1},
	{"lookup", mnctl_cmd_lookup, 1},
	{"resolve", mnctl_cmd_resolve, 1},
	{"policy-server", mnctl_cmd_policy_server, 1},
	{"witness", mnctl_cmd_witness, 0},
};

int mnctl_fail(int code, const char *fmt, ...)
{
	static const char *const what[] = {
		[MNCTL_EUSAGE] = "usage",
		[MNCTL_ENET] = "network error",
		[MNCTL_EVERIFY] = "VERIFICATION FAILED",
		[MNCTL_EREJECT] = "rejected by the log",
		[MNCTL_ELOCAL] = "error",
	};
	va_list ap;

	fprintf(stderr, "mnctl: %s: ",
		code > 0 && code <= MNCTL_ELOCAL ? what[code] : "error");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

char *mnctl_sanitize(char *out, size_t out_len, const uint8_t *in, size_t in_len)
{
	size_t n = 0;

	if (out_len == 0)
		return out;
	for (size_t i = 0; i < in_len && n + 1 < out_len; i++)
		out[n++] = in[i] >= 0x20 && in[i] < 0x7f ? (char)in[i] : '?';
	out[n] = '\0';
	return out;
}

void mnctl_hex(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void mnctl_print_json(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

	if (s != NULL) {
		puts(s);
		free(s);
	}
	json_decref(j);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	*out = v;
	return 1;
}

/* mnctl_log_name turns a log URL into a file name, one per log: the part
 * after "://" (http and https name the same log), a plain "HOST[:PORT]" as
 * it always was, with ':' as '_'; anything else (a path prefix such as
 * /2027h1, IPv6 brackets) with every byte outside [A-Za-z0-9.-]
 * percent-encoded. The first form has no '%' and the second always has one,
 * so two different URLs never share a pinned key, an STH history or a
 * monitor state. */
char *mnctl_log_name(const char *url)
{
	const char *p = strstr(url, "://"), *colon;
	size_t n, o = 0;
	int plain = 1;
	char *out;

	p = p ? p + 3 : url;
	n = strlen(p);
	colon = strchr(p, ':');
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '-' ||
			 (&p[i] == colon && i > 0 && i + 1 < n);
		if (colon != NULL && &p[i] > colon && (c < '0' || c > '9'))
			ok = 0;
		if (!ok)
			plain = 0;
	}
	out = malloc(3 * n + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		static const char hex[] = "0123456789abcdef";
		unsigned char c = (unsigned char)p[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '-';
		if (ok) {
			out[o++] = (char)c;
		} else if (plain) {
			out[o++] = '_'; /* the port's ':' */
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

static char *log_dir_for(const char *config_dir, const char *url)
{
	char *name = mnctl_log_name(url), *out;
	size_t cl = strlen(config_dir), nl;

	if (name == NULL)
		return NULL;
	nl = strlen(name);
	out = malloc(cl + 6 + nl + 1);
	if (out != NULL) {
		memcpy(out, config_dir, cl);
		memcpy(out + cl, "/logs/", 6);
		memcpy(out + cl + 6, name, nl + 1);
	}
	free(name);
	return out;
}

/* log_open points |m| at the log |url|: its URL without trailing '/', its
 * directory under m->config_dir, an HTTP client and a hasher. */
static int log_open(struct mnctl *m, const char *url)
{
	m->url = strdup(url);
	if (m->url == NULL)
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	while (strlen(m->url) > 8 && m->url[strlen(m->url) - 1] == '/')
		m->url[strlen(m->url) - 1] = '\0';
	m->log_dir = log_dir_for(m->config_dir, m->url);
	m->http = mnctl_http_new(m->timeout_s, m->max_response);
	m->h = merkle_hasher_new();
	if (m->log_dir == NULL || m->http == NULL || m->h == NULL)
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	return MNCTL_OK;
}

/* log_close frees what log_open and the command set in |m|. */
static void log_close(struct mnctl *m)
{
	ct_verifier_free(m->v);
	merkle_hasher_free(m->h);
	mnctl_http_free(m->http);
	free(m->log_dir);
	free(m->url);
	m->v = NULL;
	m->h = NULL;
	m->http = NULL;
	m->log_dir = NULL;
	m->url = NULL;
}

/* monitor_logs runs `monitor` for each log in turn, each with its own state
 * in STATE/<log name>, its output lines naming it. One log's failure does not
 * stop the others; the exit code is 3 if any log failed verification, else
 * the first failure's. */
static int monitor_logs(const struct mnctl *base, const char *const *logs, size_t num_logs,
			int argc, char **argv)
{
	int worst = MNCTL_OK;

	(void)argv;
	if (argc != 0 || (mnctl_opts.watch == NULL && !mnctl_opts.audit_map) ||
	    mnctl_opts.state == NULL)
		return mnctl_fail(MNCTL_EUSAGE,
				  "monitor --watch FILE | --audit-map --state DIR");
	for (size_t i = 0; i < num_logs; i++) {
		struct mnctl m = *base;
		char *name = NULL, *state = NULL;
		int ret;

		m.name_log = 1;
		ret = log_open(&m, logs[i]);
		if (ret == MNCTL_OK && ((name = mnctl_log_name(m.url)) == NULL ||
					(state = malloc(strlen(mnctl_opts.state) + strlen(name) + 2)) ==
						NULL))
			ret = mnctl_fail(MNCTL_ELOCAL, "out of memory");
		if (ret == MNCTL_OK) {
			size_t sl = strlen(mnctl_opts.state), nl = strlen(name);
			memcpy(state, mnctl_opts.state, sl);
			state[sl] = '/';
			memcpy(state + sl + 1, name, nl + 1);
			ret = mnctl_monitor(&m, state);
		}
		fflush(stdout);
		if (ret != MNCTL_OK)
			fprintf(stderr, "mnctl: monitor of %s failed (exit %d)\n", m.url ? m.url : logs[i],
				ret);
		if (ret != MNCTL_OK && (worst == MNCTL_OK || ret == MNCTL_EVERIFY))
			worst = ret;
		free(name);
		free(state);
		log_close(&m);
	}
	return worst;
}

enum {
	O_LOG = 256, O_CONFIG, O_KEY, O_TOFU, O_JSON, O_TIMEOUT, O_MAXRESP, O_HELP,
	O_WAIT, O_WAIT_TIMEOUT, O_SCT, O_LEAF, O_HASH, O_WATCH, O_STATE, O_BATCH,
	O_TREE_SIZE, O_NO_VERIFY, O_CHECKPOINT, O_USER_ID, O_SIGNER, O_CHAIN, O_X5T, O_PSS,
	O_SUBDOMAINS, O_TYPES, O_PGP, O_LIMIT, O_PROTOCOL, O_LOG_KEY, O_AUDIT_MAP, O_TILES,
	O_NO_COMPLETENESS, O_MAX_AGE,
	O_LISTEN, O_MAP_NAME, O_CACHE_TTL, O_SMIME_OUT, O_PGP_OUT,
	O_LOGS, O_NAME,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"log", required_argument, NULL, O_LOG},
		{"config", required_argument, NULL, O_CONFIG},
		{"key", required_argument, NULL, O_KEY},
		{"trust-on-first-use", no_argument, NULL, O_TOFU},
		{"json", no_argument, NULL, O_JSON},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"max-response", required_argument, NULL, O_MAXRESP},
		{"help", no_argument, NULL, O_HELP},
		{"wait-inclusion", no_argument, NULL, O_WAIT},
		{"wait-timeout", required_argument, NULL, O_WAIT_TIMEOUT},
		{"sct", required_argument, NULL, O_SCT},
		{"leaf", required_argument, NULL, O_LEAF},
		{"hash", required_argument, NULL, O_HASH},
		{"watch", required_argument, NULL, O_WATCH},
		{"state", required_argument, NULL, O_STATE},
		{"batch", required_argument, NULL, O_BATCH},
		{"tree-size", required_argument, NULL, O_TREE_SIZE},
		{"no-verify", no_argument, NULL, O_NO_VERIFY},
		{"checkpoint", required_argument, NULL, O_CHECKPOINT},
		{"user-id", required_argument, NULL, O_USER_ID},
		{"signer", required_argument, NULL, O_SIGNER},
		{"chain", required_argument, NULL, O_CHAIN},
		{"x5t", no_argument, NULL, O_X5T},
		{"pss", no_argument, NULL, O_PSS},
		{"subdomains", no_argument, NULL, O_SUBDOMAINS},
		{"types", required_argument, NULL, O_TYPES},
		{"pgp", required_argument, NULL, O_PGP},
		{"limit", required_argument, NULL, O_LIMIT},
		{"protocol", required_argument, NULL, O_PROTOCOL},
		{"log-key", required_argument, NULL, O_LOG_KEY},
		{"audit-map", no_argument, NULL, O_AUDIT_MAP},
		{"tiles", no_argument, NULL, O_TILES},
		{"no-completeness", no_argument, NULL, O_NO_COMPLETENESS},
		{"max-age", required_argument, NULL, O_MAX_AGE},
		{"listen", required_argument, NULL, O_LISTEN},
		{"map-name", required_argument, NULL, O_MAP_NAME},
		{"cache-ttl", required_argument, NULL, O_CACHE_TTL},
		{"smime-out", required_argument, NULL, O_SMIME_OUT},
		{"pgp-out", required_argument, NULL, O_PGP_OUT},
		{"logs", required_argument, NULL, O_LOGS},
		{"name", required_argument, NULL, O_NAME},
		{NULL, 0, NULL, 0},
	};
	struct mnctl m = {.timeout_s = MNCTL_DEFAULT_TIMEOUT_S,
			  .max_response = MNCTL_DEFAULT_MAX_RESPONSE};
	const char *log_url = getenv("MN_LOG"), *config = NULL, *key_arg = NULL,
		   *log_key_arg = NULL;
	const char *logs[MNCTL_MAX_LOGS];
	size_t num_logs = 0;
	int c, ret = MNCTL_EUSAGE;
	size_t ci;
	uint64_t v;

	mnctl_opts.batch = 256;
	mnctl_opts.checkpoint = 4096;
	mnctl_opts.wait_timeout_s = -1;
	mnctl_opts.max_age_s = -1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_LOG:
			if (num_logs == MNCTL_MAX_LOGS)
				return mnctl_fail(MNCTL_EUSAGE, "at most %d --log options",
						  MNCTL_MAX_LOGS);
			logs[num_logs++] = log_url = optarg;
			break;
		case O_CONFIG: config = optarg; break;
		case O_KEY: key_arg = optarg; break;
		case O_LOG_KEY: log_key_arg = optarg; break;
		case O_TOFU: m.tofu = 1; break;
		case O_JSON: m.json = 1; break;
		case O_TIMEOUT:
			if (!parse_u64(optarg, &v) || v == 0 || v > 86400)
				return mnctl_fail(MNCTL_EUSAGE, "--timeout wants 1..86400 seconds");
			m.timeout_s = (long)v;
			break;
		case O_MAXRESP:
			if (!parse_u64(optarg, &v) || v < 1024 || v > ((uint64_t)1 << 40))
				return mnctl_fail(MNCTL_EUSAGE, "--max-response wants >= 1024 bytes");
			m.max_response = (size_t)v;
			break;
		case O_WAIT: mnctl_opts.wait_inclusion = 1; break;
		case O_WAIT_TIMEOUT:
			if (!parse_u64(optarg, &v) || v > 86400 * 7)
				return mnctl_fail(MNCTL_EUSAGE, "--wait-timeout wants seconds");
			mnctl_opts.wait_timeout_s = (long)v;
			break;
		case O_SCT: mnctl_opts.sct_out = mnctl_opts.sct_in = optarg; break;
		case O_LEAF: mnctl_opts.leaf_out = optarg; break;
		case O_HASH: mnctl_opts.hash = optarg; break;
		case O_WATCH: mnctl_opts.watch = optarg; break;
		case O_STATE: mnctl_opts.state = optarg; break;
		case O_BATCH:
			if (!parse_u64(optarg, &v) || v == 0 || v > 100000)
				return mnctl_fail(MNCTL_EUSAGE, "--batch wants 1..100000");
			mnctl_opts.batch = v;
			break;
		case O_TREE_SIZE:
			if (!parse_u64(optarg, &v))
				return mnctl_fail(MNCTL_EUSAGE, "--tree-size wants a number");
			mnctl_opts.tree_size = v;
			break;
		case O_NO_VERIFY: mnctl_opts.no_verify = 1; break;
		case O_CHECKPOINT:
			if (!parse_u64(optarg, &v) || v == 0)
				return mnctl_fail(MNCTL_EUSAGE, "--checkpoint wants a positive number");
			mnctl_opts.checkpoint = v;
			break;
		case O_USER_ID: mnctl_opts.user_id = optarg; break;
		case O_SIGNER: mnctl_opts.signer = optarg; break;
		case O_CHAIN: mnctl_opts.chain = optarg; break;
		case O_X5T: mnctl_opts.x5t = 1; break;
		case O_PSS: mnctl_opts.pss = 1; break;
		case O_SUBDOMAINS: mnctl_opts.subdomains = 1; break;
		case O_TYPES: mnctl_opts.types = optarg; break;
		case O_PGP: mnctl_opts.pgp = optarg; break;
		case O_LIMIT:
			if (!parse_u64(optarg, &v) || v == 0 || v > 100)
				return mnctl_fail(MNCTL_EUSAGE, "--limit wants 1..100");
			mnctl_opts.limit = v;
			break;
		case O_PROTOCOL: mnctl_opts.protocol = optarg; break;
		case O_AUDIT_MAP: mnctl_opts.audit_map = 1; break;
		case O_TILES: mnctl_opts.tiles = 1; break;
		case O_NO_COMPLETENESS: mnctl_opts.no_completeness = 1; break;
		case O_MAX_AGE:
			if (!parse_u64(optarg, &v) || v > 86400 * 365)
				return mnctl_fail(MNCTL_EUSAGE, "--max-age wants seconds");
			mnctl_opts.max_age_s = (long)v;
			break;
		case O_LISTEN: mnctl_opts.listen = optarg; break;
		case O_MAP_NAME: mnctl_opts.map_name = optarg; break;
		case O_SMIME_OUT: mnctl_opts.smime_out = optarg; break;
		case O_PGP_OUT: mnctl_opts.pgp_out = optarg; break;
		case O_LOGS: mnctl_opts.logs = optarg; break;
		case O_NAME: mnctl_opts.witness_name = optarg; break;
		case O_CACHE_TTL:
			if (!parse_u64(optarg, &v) || v > 86400)
				return mnctl_fail(MNCTL_EUSAGE, "--cache-ttl wants 0..86400 seconds");
			mnctl_opts.cache_ttl_s = v;
			mnctl_opts.cache_ttl_set = 1;
			break;
		case 'h':
		case O_HELP: fputs(usage_text, stdout); return MNCTL_OK;
		default: fputs(usage_text, stderr); return MNCTL_EUSAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return MNCTL_EUSAGE;
	}
	for (ci = 0; ci < sizeof(commands) / sizeof(commands[0]); ci++)
		if (strcmp(argv[optind], commands[ci].name) == 0)
			break;
	if (ci == sizeof(commands) / sizeof(commands[0]))
		return mnctl_fail(MNCTL_EUSAGE, "unknown command (see mnctl --help)");
	optind++;
	/* add-policy's --key is the signing key; the log's key is then --log-key. */
	if (commands[ci].fn == mnctl_cmd_add_policy) {
		mnctl_opts.sign_key = key_arg;
		m.key_file = log_key_arg;
	} else {
		if (key_arg != NULL && log_key_arg != NULL)
			return mnctl_fail(MNCTL_EUSAGE, "give --key or --log-key, not both");
		m.key_file = log_key_arg ? log_key_arg : key_arg;
	}
	/* a command without a log (witness serve) runs now */
	if (!commands[ci].needs_log)
		return commands[ci].fn(&m, argc - optind, argv + optind);
	/* `info URL` names the log as its argument. */
	if (ci == 0 && optind < argc)
		log_url = argv[optind++];
	if (num_logs > 1 && commands[ci].fn != mnctl_cmd_monitor)
		return mnctl_fail(MNCTL_EUSAGE, "--log given %zu times: only monitor follows "
				  "several logs", num_logs);
	if (num_logs > 1 && m.key_file != NULL)
		return mnctl_fail(MNCTL_EUSAGE, "--key names one log's key: with several --log, "
				  "pin each log's key with `mnctl info URL` first");
	if (num_logs <= 1) {
		logs[0] = log_url;
		num_logs = 1;
	}
	for (size_t i = 0; i < num_logs; i++) {
		if (logs[i] == NULL || logs[i][0] == '\0')
			return mnctl_fail(MNCTL_EUSAGE, "no log: give --log URL or set MN_LOG");
		if (strncmp(logs[i], "http://", 7) != 0 && strncmp(logs[i], "https://", 8) != 0)
			return mnctl_fail(MNCTL_EUSAGE,
					  "the log URL must start with http:// or https://");
	}

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return mnctl_fail(MNCTL_ELOCAL, "cannot initialise libcurl");
	if (config != NULL) {
		m.config_dir = strdup(config);
	} else {
		const char *home = getenv("HOME"), *xdg = getenv("XDG_CONFIG_HOME");
		char buf[PATH_MAX];
		if (xdg != NULL && xdg[0] == '/')
			snprintf(buf, sizeof(buf), "%s/mnctl", xdg);
		else
			snprintf(buf, sizeof(buf), "%s/.config/mnctl", home ? home : ".");
		m.config_dir = strdup(buf);
	}
	if (m.config_dir == NULL) {
		ret = mnctl_fail(MNCTL_ELOCAL, "out of memory");
		goto out;
	}
	if (num_logs == 1) {
		ret = log_open(&m, logs[0]);
		if (ret == MNCTL_OK)
			ret = commands[ci].fn(&m, argc - optind, argv + optind);
	} else {
		ret = monitor_logs(&m, logs, num_logs, argc - optind, argv + optind);
	}
out:
	log_close(&m);
	free(m.config_dir);
	curl_global_cleanup();
	return ret;
}
