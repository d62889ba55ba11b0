/* metrics.h: logd's /metrics exposition over one or several logs.
 *
 * Each layer adds its own families to a struct prom (common/prom.h):
 * http_server_metrics (process-wide), and per log api_metrics, seq_metrics,
 * store_metrics and logd_reload_metrics with the label list log="NAME". A
 * prom keeps one "# HELP"/"# TYPE" per family and all of a family's samples
 * together, so the logs' writers may simply be called one log after another.
 *
 * One log: struct logd_metrics with num_logs = 1 and logs[0].name = NULL (no
 * log label). Several logs (one logd serving shards): one entry per log, each
 * with its name; point every log's api_config.metrics at logd_metrics_fn with
 * the same struct logd_metrics, so /metrics on any of them shows all. */
#ifndef MN_LOGD_METRICS_H
#define MN_LOGD_METRICS_H

#include <stddef.h>

struct api;
struct http_server;
struct logd_reload;
struct mirror;
struct mirror_vrf;
struct publisher;
struct prom;
struct seq;
struct store;
struct cosign;

struct logd_metrics_log {
	const char *name;           /* the log label's value; NULL = no label */
	struct api *api;            /* each may be NULL (its families left out) */
	struct seq *seq;
	struct store *store;
	struct logd_reload *reload;
	struct mirror *mirror;      /* a mirror's follower (logd/mirror.h) */
	struct mirror_vrf *mirror_vrf; /* its origin's VRF proofs (logd/mirror_vrf.h) */
	struct publisher *pub;      /* logd/publish.h; NULL = not published */
	struct cosign *wit;        /* logd/cosign.h; NULL = no witnesses */
};

struct logd_metrics {
	struct http_server *srv;    /* NULL: no transport families */
	const struct logd_metrics_log *logs; /* borrowed */
	size_t num_logs;
};

/* logd_metrics_write adds mn_build_info{version,openssl,libuv} 1, the
 * transport's families, then each log's families to |w|. Thread-safe (each
 * writer is); |m| is read, not changed. */
void logd_metrics_write(const struct logd_metrics *m, struct prom *w);
/* logd_metrics_fn is logd_metrics_write for api_config.metrics: |ctx| is a
 * const struct logd_metrics * that outlives the api. */
void logd_metrics_fn(void *ctx, struct prom *w);

#endif
