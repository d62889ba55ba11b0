/* config.h: logd's configuration file (`logd --config FILE`), YAML read with
 * libyaml: the process's settings and a list of logs (shards, DESIGN.md
 * section 9), each served under its own URL prefix from its own LMDB
 * environment with its own key.
 *
 *   listen: 127.0.0.1:6962          HOST:PORT (port 0 = any)
 *   threads: 2                      event loops (0 = cores)
 *   max_body: 1048576               request body bytes
 *   max_entries: 256                get-entries batch cap
 *   max_conns: 4096                 open connections
 *   idle_timeout_ms: 30000          keep-alive idle
 *   request_timeout_ms: 10000       whole request
 *   logs:
 *     - name: 2027h1                URL prefix /2027h1/; [a-z0-9][a-z0-9._-]*,
 *                                   at most 63 bytes, not healthz/readyz/metrics
 *       data: DIR                   LMDB environment (required)
 *       key: PEM                    signing key (default DATA/log-key.pem,
 *                                   generated if missing)
 *       vrf_key: PEM                VRF key (default DATA/vrf-key.pem, same)
 *       url: URL                    public URL for the log list
 *       classes: [tls, smime, pgp, policy]   (required, at least one)
 *       roots: {tls: PEM, smime: PEM}   one per certificate class accepted;
 *                                   policy needs one of them
 *       certifiers: FILE            OpenPGP keyring, required with pgp
 *       not_after: {start: RFC3339, limit: RFC3339}   window [start, limit);
 *                                   absent = any NotAfter
 *       mmd: 60                     seconds, 1..86400
 *       state: open | read-only
 *       grace: 0                    seconds after limit before adds get 410
 *       max_queue: 65536            sequencer pool; past it 503 + Retry-After
 *       map: true                   keep the lookup map
 *       leaf_index: true            static-ct-api leaf_index SCTs; read only
 *                                   when the log is created (false = RFC 6962)
 *       published_sth: FILE         the restore guard (logd/backup.h)
 *       origin: ORIGIN              checkpoint origin (docs/tiles.md; default:
 *                                   url without scheme, else HOST:PORT/NAME)
 *       note_key: PEM               Ed25519 checkpoint note key (default
 *                                   DATA/note-key.pem, generated if missing)
 *       publish: {dir: PATH}        publish the static objects (logd/publish.h)
 *       publish: {s3: s3://BUCKET/PREFIX, endpoint: URL, region: R,
 *                 credentials: FILE}  ... to an S3-compatible store (SigV4;
 *                                   credentials default to the environment)
 *       sct_after: commit | publish SCTs after the durable commit (default),
 *                                   or only once published (needs publish)
 *       map_size / max_map_size     LMDB map sizes in bytes
 *       witness_policy: FILE        tlog-policy file (entry/tpolicy.h): the
 *                                   witnesses (each with its URL) and the
 *                                   quorum that the served and published
 *                                   checkpoint needs (logd/witness.h)
 *       witness_timeout: 5s         per request, and how long fail-open waits
 *                                   for the quorum: N ms|s|m, 100ms..10m
 *       witness_interval: 1s        the least time between two witnessing
 *                                   rounds (0, the default: a round as soon
 *                                   as the last one is over): N ms|s|m, 0..10m
 *       witness_mode: wait | fail-open   without the quorum: keep serving
 *                                   the last witnessed checkpoint (default),
 *                                   or after the timeout publish without it
 *       mirror: URL                 a verifying mirror of the log at URL
 *                                   (logd/mirror.h): no classes, roots,
 *                                   certifiers, keys, window or state; the map
 *                                   is off; origin: the origin to require
 *       mirror_key: KEY             the origin's log public key (PEM or DER
 *                                   file, or base64 SPKI); required with mirror
 *
 * What it promises: logd_config_parse does no I/O and accepts only a file
 * where every key is known, every value has its type and range, names and data
 * directories are distinct (no data directory inside another), every class has
 * what it needs, and windows are well formed. Every refusal is one message
 * "FILE:LINE: reason" naming the key or value (never echoing more than a
 * short excerpt of it). Files named by the config (roots, certifiers, keys)
 * are checked by logd when it loads them, with the line kept here. */
#ifndef MN_LOGD_CONFIG_H
#define MN_LOGD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* Classes a log accepts (the same bits as struct api_config.classes). */
enum {
	LOGD_CLASS_TLS = 1,
	LOGD_CLASS_SMIME = 2,
	LOGD_CLASS_PGP = 4,
	LOGD_CLASS_POLICY = 8,
	LOGD_CLASS_ALL = 15,
};

enum logd_state { LOGD_STATE_OPEN = 0, LOGD_STATE_READ_ONLY = 1 };

/* One log. Strings are malloc'd and owned by the config; NULL = not given.
 * *_line are the 1-based lines where each was given (0 = not given). */
struct logd_log_config {
	char *name;
	unsigned line;            /* the "- name:" item's line */
	char *data;
	char *key, *vrf_key, *url;
	unsigned key_line, vrf_key_line;
	char *published_sth;      /* the restore guard (logd/backup.h); NULL = none */
	char *origin;             /* checkpoint origin; NULL = from url, else HOST:PORT/NAME */
	char *note_key;           /* Ed25519 note key; NULL = DATA/note-key.pem */
	char *mirror;             /* a mirror of the log at this URL; NULL = a log */
	char *mirror_key;         /* the origin's public key (file or base64) */
	unsigned mirror_key_line;
	unsigned classes;         /* LOGD_CLASS_* */
	char *tls_roots, *smime_roots, *certifiers;
	unsigned tls_roots_line, smime_roots_line, certifiers_line;
	int has_window;
	uint64_t start_ms, limit_ms; /* NotAfter window [start, limit), ms */
	uint64_t mmd_s;           /* default 60 */
	enum logd_state state;
	uint64_t grace_s;         /* default 0 */
	size_t max_queue;         /* default 65536 */
	int map;                  /* default 1 */
	int no_leaf_index;        /* leaf_index: false; only when the log is created */
	unsigned long long map_size, max_map_size; /* 0 = storage defaults */
	/* publish: (logd/publish.h); dir or s3 (exactly one, or neither) */
	char *publish_dir, *publish_s3, *publish_endpoint, *publish_region,
		*publish_credentials;
	int sct_after_publish;    /* sct_after: publish */
	/* witnessed checkpoints (logd/witness.h); policy NULL = none */
	char *witness_policy;
	unsigned witness_policy_line;
	uint64_t witness_timeout_ms; /* default 5000 */
	uint64_t witness_interval_ms; /* witness_interval: 0 = no minimum */
	int witness_fail_open;       /* witness_mode: fail-open */
};

struct logd_config {
	char *file;               /* the path given, for messages */
	char host[256];
	unsigned port;            /* default 6962 */
	unsigned threads;         /* 0 = cores */
	size_t max_body, max_entries, max_conns;
	unsigned idle_ms, request_ms;
	struct logd_log_config *logs;
	size_t num_logs;          /* >= 1 */
};

/* logd_config_parse parses |len| bytes of YAML at |buf| into |out| (which the
 * caller cleans up with logd_config_cleanup, also on failure). |file| names
 * the source in messages. Returns 0, or MN_EINVAL with "FILE:LINE: reason" in
 * |err| (|err_len| bytes, NUL-terminated), or MN_ENOMEM. No I/O. */
int logd_config_parse(struct logd_config *out, const uint8_t *buf, size_t len,
		      const char *file, char *err, size_t err_len);

/* logd_config_load reads the file at |path| (at most 1 MiB) and parses it.
 * Also MN_EIO (with "FILE: cannot read: ..." in |err|). */
int logd_config_load(struct logd_config *out, const char *path, char *err, size_t err_len);

/* logd_config_cleanup frees what |c| owns and zeroes it (safe twice). */
void logd_config_cleanup(struct logd_config *c);

/* logd_config_time formats |ms| (whole seconds) as RFC 3339 UTC
 * "YYYY-MM-DDTHH:MM:SSZ" into |out| (at least 21 bytes). */
void logd_config_time(char out[21], uint64_t ms);

#endif
