/* shard.h: one log served by logd, with everything it owns: its store, signing
 * and VRF keys, roots and validator, certifiers, sequencer and api. logd runs
 * one (the flags, at "/") or several (--config, each under /NAME/).
 *
 * Life cycle, in this order; each step undoes with the next ones' inverse:
 *   shard_load   read-only: loads roots and certifiers, and the keys if they
 *                exist. Nothing is created or written, so every log of a
 *                config can be checked before any is opened.
 *   shard_open   opens (creating if needed) the store, generates missing keys.
 *                A read-only log opens its store read-only (a new one is first
 *                given its signed empty tree) and never writes after that.
 *   shard_start  starts the sequencer (open logs only) and the api.
 *   shard_stop   stops the sequencer: queued submissions are committed and
 *                answered first; then the publisher (one last round). Call
 *                after the transport has stopped.
 *   shard_close  frees everything (safe after any step, and twice).
 * After shard_start, s->reload reloads the log's roots and certifiers from
 * the same files (SIGHUP, logd/reload.h); a backup copies cfg->data
 * (logd/backup.h). */
#ifndef MN_LOGD_SHARD_H
#define MN_LOGD_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "logd/config.h"

/* What a log checks submissions against: its roots (and the validator over
 * them) and its certifiers. Reloadable as a whole (SIGHUP): load a new one
 * with shard_trust_load, hand it to the api, free the old one once no request
 * can still use it. */
struct prom;
struct logd_reload;
struct note_signer;

struct shard_trust {
	struct x509_roots *tls_roots, *smime_roots;
	struct pgp_certifiers *certifiers;
	struct x509_validator *validator;
};

/* shard_trust_load loads |cfg|'s roots and certifiers and builds the
 * validator into |out| (zeroed first). Reads files only. |file| (NULL for the
 * flag form) and |where| name the source in messages. Returns 0, or MN_E*
 * after printing "FILE:LINE: cannot load ..." to stderr; on failure |out|
 * holds nothing. */
int shard_trust_load(struct shard_trust *out, const struct logd_log_config *cfg,
		     const char *file, const char *where);
/* shard_trust_free frees what |t| holds and zeroes it (safe twice). */
void shard_trust_free(struct shard_trust *t);

struct shard {
	const struct logd_log_config *cfg; /* borrowed */
	const char *where;      /* message prefix: "logd" or "FILE:LINE" */
	char where_buf[4200];
	char keypath[4200], vrfpath[4200];
	struct store *st;
	int writable;           /* the store was opened read-write */
	struct ct_signer *signer;
	struct vrf_key *vrf;
	struct shard_trust trust;
	struct seq *seq;        /* NULL for a read-only log */
	struct api *api;
	struct logd_reload *reload; /* SIGHUP: reloads trust from cfg's files */
	char notepath[4200];
	struct note_signer *note; /* the checkpoint's Ed25519 note key (shard_note_load) */
	/* A mirror (cfg->mirror, logd/mirror.h): no signer, VRF key, trust,
	 * sequencer, note key or reload; the follower writes the store, the api
	 * serves it read-only with the origin's key and tree heads. */
	uint8_t *mirror_spki;   /* the origin's key, DER (shard_load) */
	size_t mirror_spki_len;
	struct mirror *mirror;  /* the follower (shard_open; started by shard_start) */
	struct mirror_vrf *mirror_vrf; /* the origin's VRF proofs (logd/mirror_vrf.h) */
	struct publisher *pub;  /* publish: (logd/publish.h); NULL = not published */
	struct tpolicy *wpolicy; /* witness_policy: (shard_load); NULL = none */
	struct cosign *wit;    /* its collector (logd/cosign.h, shard_start) */
};

/* shard_mirror_failed: 1 once the log is a mirror whose follower stopped on a
 * verification failure (logd then exits with status 3). */
int shard_mirror_failed(const struct shard *s);

/* Per-process settings the api needs. */
struct shard_process {
	size_t max_entries;
	int only;               /* the single log of the flag form: no name, all classes */
	/* The whole /metrics exposition (logd/metrics.h logd_metrics_fn over every
	 * log), which each log's api serves; NULL = the api's own families. */
	void (*metrics)(void *ctx, struct prom *w);
	void *metrics_ctx;
};

/* shard_note_load loads the log's Ed25519 note key (cfg->note_key, else
 * DATA/note-key.pem) under its checkpoint origin: cfg->origin, else cfg->url
 * without its scheme, else "HOST:PORT" (the flag form) or "HOST:PORT/NAME".
 * With |generate| a missing key is created (mode 0600); without, a missing key
 * is MN_ENOTFOUND and nothing is printed. Call after shard_open with
 * |generate| (shard_start needs it), or after shard_load without. 0 or MN_E*
 * (printed). */
int shard_note_load(struct shard *s, const char *host, unsigned port, int generate);

/* shard_load: see above. |file| names the config file in messages (NULL for
 * the flag form). Returns 0, or MN_E* after printing "WHERE: reason" to stderr. */
int shard_load(struct shard *s, const struct logd_log_config *cfg, const char *file);
/* shard_open: see above. 0 or MN_E* (printed). */
int shard_open(struct shard *s);
/* shard_start: see above. 0 or MN_E* (printed). */
int shard_start(struct shard *s, const struct shard_process *p);
/* shard_stop, shard_close: see above. */
void shard_stop(struct shard *s);
void shard_close(struct shard *s);

/* shard_log_line writes the log's CT log list v3 entry (log_id, key, url,
 * mmd, and with a window temporal_interval; with |state_ts| state) as one
 * JSON object into |out| (malloc'd, NUL-terminated). |url| is the URL to
 * print. 0 or MN_ENOMEM. Needs the signer (shard_load with an existing key,
 * or shard_open). */
int shard_log_line(const struct shard *s, const char *url, const char *state_ts, char **out);

#endif
