/* shard.c: one log's resources and life cycle (shard.h). */
#include "logd/shard.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "api/api.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"
#include "entry/note.h"
#include "entry/pgp.h"
#include "entry/tpolicy.h"
#include "entry/x509.h"
#include "logd/backup.h"
#include "logd/keys.h"
#include "logd/mirror.h"
#include "logd/mirror_vrf.h"
#include "logd/publish.h"
#include "logd/reload.h"
#include "logd/sequencer.h"
#include "logd/cosign.h"
#include "storage/storage.h"

static int load_roots(struct x509_roots **out, const char *path)
{
	size_t skipped = 0;
	int ret = x509_roots_load_file(out, &skipped, path);

	if (ret == 0 && skipped > 0)
		mn_warn("roots", "path=%s skipped=%zu msg=\"unusable PEM blocks skipped\"", path,
			skipped);
	return ret;
}

/* where_line: "FILE:LINE" for |line|, or |where|. */
static const char *where_line(const char *where, const char *file, unsigned line, char *buf,
			      size_t len)
{
	if (file == NULL || line == 0)
		return where;
	snprintf(buf, len, "%s:%u", file, line);
	return buf;
}

/* key_exists: 1 if |path| exists (a key to load), 0 if not (to generate). */
static int key_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 || errno != ENOENT;
}

/* parent_exists: |path| exists, or the directory it would be created in
 * does. */
static int parent_exists(const char *path)
{
	char buf[4200];
	struct stat sb;
	char *slash;

	if (stat(path, &sb) == 0)
		return 1;
	snprintf(buf, sizeof(buf), "%s", path);
	while ((slash = strrchr(buf, '/')) != NULL && slash[1] == '\0' && slash != buf)
		*slash = '\0'; /* trailing slashes */
	slash = strrchr(buf, '/');
	if (slash == NULL)
		return 1; /* relative, in the working directory */
	if (slash == buf)
		return 1; /* under / */
	*slash = '\0';
	return stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* in_dir: |path| names a file directly in |dir| (which logd creates). */
static int in_dir(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && path[n] == '/' && strchr(path + n + 1, '/') == NULL;
}

int shard_trust_load(struct shard_trust *t, const struct logd_log_config *cfg,
		     const char *file, const char *where)
{
	char w[4200];
	int ret = 0;

	memset(t, 0, sizeof(*t));
	if (cfg->tls_roots != NULL && (ret = load_roots(&t->tls_roots, cfg->tls_roots)) != 0) {
		fprintf(stderr, "%s: cannot load TLS roots %s: %s\n",
			where_line(where, file, cfg->tls_roots_line, w, sizeof(w)), cfg->tls_roots,
			mn_strerror(ret));
		goto err;
	}
	if (cfg->smime_roots != NULL &&
	    (ret = load_roots(&t->smime_roots, cfg->smime_roots)) != 0) {
		fprintf(stderr, "%s: cannot load S/MIME roots %s: %s\n",
			where_line(where, file, cfg->smime_roots_line, w, sizeof(w)),
			cfg->smime_roots, mn_strerror(ret));
		goto err;
	}
	if (cfg->certifiers != NULL &&
	    (ret = pgp_certifiers_load_file(&t->certifiers, cfg->certifiers)) != 0) {
		fprintf(stderr, "%s: cannot load certifiers %s: %s\n",
			where_line(where, file, cfg->certifiers_line, w, sizeof(w)),
			cfg->certifiers, mn_strerror(ret));
		goto err;
	}
	t->validator = x509_validator_new2(t->tls_roots, t->smime_roots, NULL);
	if (t->validator == NULL) {
		ret = MN_ENOMEM;
		fprintf(stderr, "%s: out of memory\n", where);
		goto err;
	}
	return 0;
err:
	shard_trust_free(t);
	return ret;
}

void shard_trust_free(struct shard_trust *t)
{
	x509_validator_free(t->validator);
	x509_roots_free(t->tls_roots);
	x509_roots_free(t->smime_roots);
	pgp_certifiers_free(t->certifiers);
	memset(t, 0, sizeof(*t));
}

int shard_load(struct shard *s, const struct logd_log_config *cfg, const char *file)
{
	char w[4200];
	int ret;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	if (file != NULL) {
		snprintf(s->where_buf, sizeof(s->where_buf), "%s:%u", file, cfg->line);
		s->where = s->where_buf;
	} else {
		s->where = "logd";
	}
	if (cfg->mirror != NULL) {
		/* a mirror has the origin's public key and nothing else */
		ret = mirror_key_load(where_line(s->where, file, cfg->mirror_key_line, w, sizeof(w)),
				      cfg->mirror_key, &s->mirror_spki, &s->mirror_spki_len);
		if (ret != 0)
			return ret;
		if (!parent_exists(cfg->data)) {
			fprintf(stderr, "%s: data directory %s: its parent directory does not "
				"exist\n", s->where, cfg->data);
			return MN_ENOTFOUND;
		}
		return 0;
	}
	if (cfg->key != NULL)
		snprintf(s->keypath, sizeof(s->keypath), "%s", cfg->key);
	else
		snprintf(s->keypath, sizeof(s->keypath), "%s/log-key.pem", cfg->data);
	if (cfg->vrf_key != NULL)
		snprintf(s->vrfpath, sizeof(s->vrfpath), "%s", cfg->vrf_key);
	else
		snprintf(s->vrfpath, sizeof(s->vrfpath), "%s/vrf-key.pem", cfg->data);

	ret = shard_trust_load(&s->trust, cfg, file, s->where);
	if (ret != 0)
		return ret;
	if (cfg->witness_policy != NULL) {
		char err[1024];
		ret = tpolicy_load(&s->wpolicy, cfg->witness_policy, 0, err, sizeof(err));
		if (ret == 0 && !s->wpolicy->has_quorum) {
			snprintf(err, sizeof(err), "%s: no quorum line", cfg->witness_policy);
			ret = MN_EINVAL;
		}
		for (size_t i = 0; ret == 0 && i < s->wpolicy->num_witnesses; i++)
			if (strncmp(s->wpolicy->witnesses[i].url, "http://", 7) != 0 &&
			    strncmp(s->wpolicy->witnesses[i].url, "https://", 8) != 0) {
				snprintf(err, sizeof(err), "%s: witness %s has no URL (witness NAME "
					 "VKEY URL, http:// or https://): logd cannot ask it",
					 cfg->witness_policy, s->wpolicy->witnesses[i].name);
				ret = MN_EINVAL;
			}
		if (ret != 0) {
			fprintf(stderr, "%s: cannot load witness policy: %s\n",
				where_line(s->where, file, cfg->witness_policy_line, w, sizeof(w)),
				err);
			return ret;
		}
	}
	/* What will be created must have somewhere to go. */
	if (!parent_exists(cfg->data)) {
		fprintf(stderr, "%s: data directory %s: its parent directory does not exist\n",
			s->where, cfg->data);
		return MN_ENOTFOUND;
	}
	if (!key_exists(s->keypath) && cfg->key != NULL && !in_dir(s->keypath, cfg->data) &&
	    !parent_exists(s->keypath)) {
		fprintf(stderr, "%s: key %s: its directory does not exist\n",
			where_line(s->where, file, cfg->key_line, w, sizeof(w)), s->keypath);
		return MN_ENOTFOUND;
	}
	if (!key_exists(s->vrfpath) && cfg->vrf_key != NULL && !in_dir(s->vrfpath, cfg->data) &&
	    !parent_exists(s->vrfpath)) {
		fprintf(stderr, "%s: VRF key %s: its directory does not exist\n",
			where_line(s->where, file, cfg->vrf_key_line, w, sizeof(w)), s->vrfpath);
		return MN_ENOTFOUND;
	}
	/* Keys that exist must load now; missing ones are generated by
	 * shard_open, after every log has been checked. */
	if (key_exists(s->keypath)) {
		ret = logd_key_load(&s->signer, s->keypath, 0);
		if (ret != 0) {
			fprintf(stderr, "%s: cannot load key %s: %s\n",
				where_line(s->where, file, cfg->key_line, w, sizeof(w)), s->keypath,
				mn_strerror(ret));
			return ret;
		}
	}
	if (key_exists(s->vrfpath)) {
		ret = logd_vrf_key_load(&s->vrf, s->vrfpath, 0);
		if (ret != 0) {
			fprintf(stderr, "%s: cannot load VRF key %s: %s\n",
				where_line(s->where, file, cfg->vrf_key_line, w, sizeof(w)), s->vrfpath,
				mn_strerror(ret));
			return ret;
		}
	}
	return 0;
}

int shard_note_load(struct shard *s, const char *host, unsigned port, int generate)
{
	const struct logd_log_config *c = s->cfg;
	char origin[512];
	int ret;

	if (s->note != NULL || c->mirror != NULL)
		return 0; /* a mirror serves the origin's checkpoint signature only */
	if (c->note_key != NULL)
		snprintf(s->notepath, sizeof(s->notepath), "%s", c->note_key);
	else
		snprintf(s->notepath, sizeof(s->notepath), "%s/note-key.pem", c->data);
	if (c->origin == NULL && c->url == NULL && c->name != NULL)
		snprintf(origin, sizeof(origin), "%s:%u/%s", host, port, c->name);
	else
		logd_default_origin(origin, sizeof(origin), c->origin, c->url, host, port);
	if (!generate && !key_exists(s->notepath))
		return MN_ENOTFOUND;
	ret = logd_note_key_load(&s->note, s->notepath, generate, origin);
	if (ret != 0)
		fprintf(stderr, "%s: cannot load note key %s (origin \"%s\"): %s\n", s->where,
			s->notepath, origin, mn_strerror(ret));
	return ret;
}

static int open_store(struct shard *s, int read_only)
{
	struct store_options so = {0};

	so.dir = s->cfg->data;
	so.map_size = s->cfg->map_size;
	so.max_map_size = s->cfg->max_map_size;
	so.map = s->cfg->map;
	so.no_leaf_index = s->cfg->no_leaf_index;
	so.read_only = read_only;
	s->writable = !read_only;
	return store_open(&s->st, &so);
}

static int has_sth(struct store *st)
{
	struct store_reader *rd;
	struct store_sth sth;
	int ret;

	if (store_read_begin(st, &rd) != 0)
		return 0;
	ret = store_r_sth(rd, &sth);
	store_read_end(rd);
	return ret == 0;
}

/* mirror_failed: the follower stopped on a verification failure; it said why
 * in the log. logd stops (exit status 3): its copy is left as it was. */
static void mirror_failed(void *ctx, const char *why)
{
	struct shard *s = ctx;

	fprintf(stderr, "%s: mirror of %s stopped: %s\n", s->where, s->cfg->mirror, why);
	kill(getpid(), SIGTERM);
}

int shard_mirror_failed(const struct shard *s)
{
	return s->mirror != NULL && mirror_stopped(s->mirror);
}

static int open_mirror(struct shard *s)
{
	const struct logd_log_config *c = s->cfg;
	struct store_options so = {0};
	struct mirror_options mo = {0};
	int ret;

	so.dir = c->data;
	so.map_size = c->map_size;
	so.max_map_size = c->max_map_size;
	so.no_leaf_index = 1; /* the leaves are the origin's, whatever their format */
	so.map = 1;           /* the origin's lookup map, recomputed and checked */
	ret = store_open(&s->st, &so);
	if (ret != 0) {
		fprintf(stderr, "%s: cannot open data directory %s: %s\n", s->where, c->data,
			mn_strerror(ret));
		return ret;
	}
	s->writable = 1;
	mo.url = c->mirror;
	mo.spki = s->mirror_spki;
	mo.spki_len = s->mirror_spki_len;
	mo.origin = c->origin;
	mo.st = s->st;
	mo.map = 1;
	mo.failed = mirror_failed;
	mo.ctx = s;
	ret = mirror_new(&s->mirror, &mo);
	if (ret != 0)
		return ret;
	/* lookups by address: the origin's VRF proofs, its VRF key pinned in
	 * the data directory at first contact */
	{
		struct mirror_vrf_options vo = {0};
		char pin[4200];
		snprintf(pin, sizeof(pin), "%s/origin-vrf-key", c->data);
		vo.url = c->mirror;
		vo.spki = s->mirror_spki;
		vo.spki_len = s->mirror_spki_len;
		vo.pin_path = pin;
		ret = mirror_vrf_new(&s->mirror_vrf, &vo);
		if (ret != 0)
			fprintf(stderr, "%s: cannot set up the origin's VRF proofs: %s\n", s->where,
				mn_strerror(ret));
	}
	return ret;
}

int shard_open(struct shard *s)
{
	const struct logd_log_config *c = s->cfg;
	int ret;

	if (c->mirror != NULL)
		return open_mirror(s);
	if (c->state == LOGD_STATE_READ_ONLY) {
		/* A read-only log never writes; one that has never run gets its
		 * signed empty tree once, so that get-sth has something to serve. */
		struct stat sb;
		ret = stat(c->data, &sb) == 0 ? open_store(s, 1) : MN_ENOTFOUND;
		if (ret == 0 && has_sth(s->st))
			goto keys;
		store_close(s->st);
		s->st = NULL;
	}
	ret = open_store(s, 0);
	if (ret == MN_EREADONLY && c->state == LOGD_STATE_OPEN) {
		/* A read-only data directory still serves reads; submissions get
		 * 503 storageReadOnly from the sequencer's failing commits. */
		ret = open_store(s, 1);
		if (ret == 0)
			mn_warn("store_read_only", "dir=%s msg=\"data directory is read-only: "
				"serving reads only, submissions get 503\"", c->data);
	}
	if (ret != 0) {
		fprintf(stderr, "%s: cannot open data directory %s: %s\n", s->where, c->data,
			mn_strerror(ret));
		return ret;
	}
keys:
	if (c->no_leaf_index && (store_format(s->st) & STORE_FMT_LEAF_INDEX))
		mn_warn("leaf_index_fixed", "dir=%s msg=\"no leaf_index ignored: this log was "
			"created with leaf_index SCTs, and a log's format never changes\"", c->data);
	if (s->signer == NULL && (ret = logd_key_load(&s->signer, s->keypath, 1)) != 0) {
		fprintf(stderr, "%s: cannot load key %s: %s\n", s->where, s->keypath,
			mn_strerror(ret));
		return ret;
	}
	if (s->vrf == NULL && (ret = logd_vrf_key_load(&s->vrf, s->vrfpath, 1)) != 0) {
		fprintf(stderr, "%s: cannot load VRF key %s: %s\n", s->where, s->vrfpath,
			mn_strerror(ret));
		return ret;
	}
	/* the restore guard, before anything is signed */
	if (c->published_sth != NULL &&
	    (ret = logd_check_published(s->st, s->signer, c->published_sth)) != 0) {
		fprintf(stderr, "%s: the store in %s does not hold the tree of %s (see the log)\n",
			s->where, c->data, c->published_sth);
		return ret;
	}
	if (c->state == LOGD_STATE_READ_ONLY && s->writable) {
		struct seq *q = NULL;
		struct seq_options qo = {0};
		qo.map = c->map;
		ret = seq_start(&q, s->st, s->signer, &qo);
		seq_stop(q);
		store_close(s->st);
		s->st = NULL;
		if (ret == 0)
			ret = open_store(s, 1);
		if (ret != 0) {
			fprintf(stderr, "%s: cannot initialize read-only log in %s: %s\n",
				s->where, c->data, mn_strerror(ret));
			return ret;
		}
	}
	return 0;
}

static void poke_publisher(void *ctx)
{
	publish_poke(ctx);
}

int shard_start(struct shard *s, const struct shard_process *p)
{
	const struct logd_log_config *c = s->cfg;
	struct api_config ac = {0};
	int ret;

	if (c->mirror != NULL) {
		ac.store = s->st;
		ac.mirror_of = c->mirror;
		ac.mirror_spki = mirror_spki(s->mirror, &ac.mirror_spki_len);
		ac.mirror_log_id = mirror_log_id(s->mirror);
		ac.origin = mirror_origin(s->mirror);
		ac.mirror_vrf_cached = mirror_vrf_cached;
		ac.mirror_vrf_fetch = mirror_vrf_fetch;
		ac.mirror_vrf_public = mirror_vrf_public;
		ac.mirror_vrf_ctx = s->mirror_vrf;
		ac.state = API_STATE_READ_ONLY;
		ac.mmd_s = c->mmd_s;
		ac.max_entries = p->max_entries;
		ac.metrics = p->metrics;
		ac.metrics_ctx = p->metrics_ctx;
		if (!p->only)
			ac.name = c->name;
		s->api = api_new(&ac);
		if (s->api == NULL)
			return MN_ENOMEM;
		ret = mirror_start(s->mirror);
		if (ret != 0)
			fprintf(stderr, "%s: cannot start the mirror: %s\n", s->where,
				mn_strerror(ret));
		return ret;
	}
	if (s->wpolicy != NULL) {
		struct cosign_options wo = {0};
		char err[1024];
		if (s->note == NULL) {
			fprintf(stderr, "%s: witness_policy needs the log's Ed25519 note key\n",
				s->where);
			return MN_EINVAL;
		}
		if (s->wpolicy->num_logs > 0 &&
		    tpolicy_find_log(s->wpolicy, note_signer_name(s->note),
				     strlen(note_signer_name(s->note))) == NULL)
			mn_warn("witness", "log=%s origin=%s msg=\"the witness policy lists logs, "
				"not this one: clients with it will refuse our checkpoints\"",
				c->name != NULL ? c->name : "/", note_signer_name(s->note));
		wo.policy = s->wpolicy;
		wo.timeout_ms = c->witness_timeout_ms;
		wo.fail_open = c->witness_fail_open;
		wo.interval_ms = c->witness_interval_ms;
		wo.name = c->name;
		wo.st = s->st;
		ret = cosign_new(&s->wit, &wo, err, sizeof(err));
		if (ret != 0) {
			fprintf(stderr, "%s: witness_policy %s: %s\n", s->where, c->witness_policy,
				ret == MN_ENOMEM ? "out of memory" : err);
			return ret;
		}
	}
	if (c->state == LOGD_STATE_OPEN) {
		struct seq_options qo = {0};
		qo.max_queue = c->max_queue;
		qo.map = c->map;
		qo.resign_ms = c->mmd_s * 1000 / 2;
		if (s->wit != NULL) {
			qo.on_sth = cosign_sth;
			qo.on_sth_ctx = s->wit;
		}
		ret = seq_start(&s->seq, s->st, s->signer, &qo);
		if (ret != 0) {
			fprintf(stderr, "%s: cannot start sequencer: %s\n", s->where,
				mn_strerror(ret));
			return ret;
		}
		ac.seq = seq_api(s->seq);
	}
	if (c->publish_dir != NULL || c->publish_s3 != NULL) {
		struct publish_options po = {0};
		po.store.url = c->publish_dir != NULL ? c->publish_dir : c->publish_s3;
		po.store.endpoint = c->publish_endpoint;
		po.store.region = c->publish_region;
		po.store.credentials = c->publish_credentials;
		po.name = c->name;
		po.sct_after_publish = c->sct_after_publish;
		ret = publish_new(&s->pub, s->st, &po);
		if (ret != 0)
			return ret;
		if (s->seq != NULL)
			ac.seq = publish_wrap(s->pub, ac.seq);
		if (s->wit != NULL)
			cosign_on_served(s->wit, poke_publisher, s->pub);
	}
	ac.store = s->st;
	ac.signer = s->signer;
	ac.tls = s->trust.validator;
	ac.tls_roots = s->trust.tls_roots;
	ac.smime_roots = s->trust.smime_roots;
	ac.certifiers = s->trust.certifiers;
	ac.vrf = s->vrf;
	ac.note = s->note;
	if (s->wit != NULL) {
		ac.witnessed = 1;
		ac.witness_info = cosign_info;
		ac.witness_info_ctx = s->wit;
	}
	ac.mmd_s = c->mmd_s;
	ac.max_entries = p->max_entries;
	ac.metrics = p->metrics;
	ac.metrics_ctx = p->metrics_ctx;
	if (!p->only) {
		ac.name = c->name;
		ac.classes = c->classes;
		ac.state = c->state == LOGD_STATE_READ_ONLY ? API_STATE_READ_ONLY : API_STATE_OPEN;
		if (c->has_window) {
			ac.window_start_ms = c->start_ms;
			ac.window_limit_ms = c->limit_ms;
			ac.grace_ms = c->grace_s * 1000;
		}
	}
	s->api = api_new(&ac);
	if (s->api == NULL)
		return MN_ENOMEM;
	if (s->pub != NULL && (ret = publish_start(s->pub, s->api)) != 0)
		return ret;
	if (s->wit != NULL && (ret = cosign_start(s->wit, s->api)) != 0)
		return ret;
	ret = logd_reload_new(&s->reload, s->api, c->name, c->tls_roots, c->smime_roots,
			      c->certifiers);
	if (ret == 0 && s->wit != NULL)
		ret = logd_reload_set_witness(s->reload, c->witness_policy, s->wit);
	if (ret != 0)
		fprintf(stderr, "%s: cannot set up the reload: %s\n", s->where, mn_strerror(ret));
	return ret;
}

void shard_stop(struct shard *s)
{
	seq_stop(s->seq);
	s->seq = NULL;
	cosign_stop(s->wit); /* after the sequencer (its hook), before the publisher */
	s->wit = NULL;
	publish_stop(s->pub);
	s->pub = NULL;
}

void shard_close(struct shard *s)
{
	seq_stop(s->seq);
	s->seq = NULL;
	cosign_stop(s->wit);
	s->wit = NULL;
	publish_stop(s->pub);
	s->pub = NULL;
	tpolicy_free(s->wpolicy);
	s->wpolicy = NULL;
	logd_reload_free(s->reload);
	s->reload = NULL;
	api_free(s->api);
	s->api = NULL;
	/* the follower writes the store: it ends before the store closes */
	mirror_free(s->mirror);
	s->mirror = NULL;
	mirror_vrf_free(s->mirror_vrf); /* after the api: no lookup in flight */
	s->mirror_vrf = NULL;
	free(s->mirror_spki);
	s->mirror_spki = NULL;
	shard_trust_free(&s->trust);
	ct_signer_free(s->signer);
	s->signer = NULL;
	vrf_key_free(s->vrf);
	s->vrf = NULL;
	note_signer_free(s->note);
	s->note = NULL;
	store_close(s->st);
	s->st = NULL;
}

int shard_log_line(const struct shard *s, const char *url, const char *state_ts, char **out)
{
	const struct logd_log_config *c = s->cfg;
	size_t spki_len = s->mirror_spki_len, len;
	const uint8_t *spki = c->mirror != NULL ? s->mirror_spki : ct_signer_spki(s->signer,
										    &spki_len);
	uint8_t mirror_id[32];
	const uint8_t *log_id = mirror_id;
	char id[64], *key = malloc(mn_b64_encoded_len(spki_len) + 1), *buf;
	char a[21], b[21];
	int n;

	if (key == NULL)
		return MN_ENOMEM;
	if (c->mirror != NULL)
		SHA256(spki, spki_len, mirror_id);
	else
		log_id = ct_signer_log_id(s->signer);
	mn_b64_encode(id, log_id, 32);
	mn_b64_encode(key, spki, spki_len);
	len = strlen(key) + strlen(url) + 1024;
	buf = malloc(len);
	if (buf == NULL) {
		free(key);
		return MN_ENOMEM;
	}
	n = snprintf(buf, len,
		     "{\"description\":\"metanotary log%s%s\",\"log_id\":\"%s\",\"key\":\"%s\","
		     "\"url\":\"%s\",\"mmd\":%llu",
		     c->name != NULL ? " " : "", c->name != NULL ? c->name : "", id, key, url,
		     (unsigned long long)c->mmd_s);
	if (c->has_window) {
		logd_config_time(a, c->start_ms);
		logd_config_time(b, c->limit_ms);
		n += snprintf(buf + n, len - (size_t)n,
			      ",\"temporal_interval\":{\"start_inclusive\":\"%s\","
			      "\"end_exclusive\":\"%s\"}", a, b);
	}
	/* origin and vkey are printable ASCII without '"' or '\\'
	 * (note_valid_name, base64) */
	if (s->note != NULL)
		n += snprintf(buf + n, len - (size_t)n, ",\"origin\":\"%s\",\"note_vkey\":\"%s\"",
			      note_signer_name(s->note), note_signer_vkey(s->note));
	/* a mirror's origin is the origin's (its checkpoint line: printable,
	 * no '"'); the URL is the config's, checked like url: */
	if (c->mirror != NULL && (s->mirror != NULL || c->origin != NULL))
		n += snprintf(buf + n, len - (size_t)n, ",\"origin\":\"%s\"",
			      s->mirror != NULL ? mirror_origin(s->mirror) : c->origin);
	if (c->mirror != NULL)
		n += snprintf(buf + n, len - (size_t)n, ",\"mirror_of\":\"%s\"", c->mirror);
	if (state_ts != NULL)
		n += snprintf(buf + n, len - (size_t)n, ",\"state\":{\"%s\":{\"timestamp\":\"%s\"}}",
			      c->state == LOGD_STATE_READ_ONLY ? "readonly" : "usable", state_ts);
	snprintf(buf + n, len - (size_t)n, "}");
	free(key);
	*out = buf;
	return 0;
}
