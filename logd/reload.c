/* reload.c: reload one log's trust set on SIGHUP (see reload.h). */
#include "logd/reload.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/err.h"
#include "common/log.h"
#include "common/prom.h"
#include "entry/pgp.h"
#include "entry/tpolicy.h"
#include "entry/x509.h"
#include "logd/cosign.h"

struct logd_reload {
	struct api *api;
	char *name, *tls_roots, *smime_roots, *certifiers;
	char *policy;            /* witness_policy, or NULL */
	struct cosign *wit;
	pthread_mutex_t mu;  /* one reload at a time */
	pthread_mutex_t cmu; /* the counters (metrics must not wait for a reload) */
	uint64_t ok, failed;
	int last_ok;
};

/* The objects of one loaded set; freed by api_set_trust's release. */
struct owned {
	struct x509_roots *roots, *smime;
	struct pgp_certifiers *certifiers;
	struct x509_validator *tls;
};

static void owned_free(void *p)
{
	struct owned *o = p;

	if (o == NULL)
		return;
	x509_validator_free(o->tls);
	x509_roots_free(o->roots);
	x509_roots_free(o->smime);
	pgp_certifiers_free(o->certifiers);
	free(o);
}

static char *dup_or_null(const char *s, int *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*oom = 1;
	return d;
}

int logd_reload_new(struct logd_reload **out, struct api *api, const char *log_name,
		    const char *tls_roots, const char *smime_roots, const char *certifiers)
{
	struct logd_reload *r;
	int oom = 0;

	*out = NULL;
	if (api == NULL)
		return MN_EINVAL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return MN_ENOMEM;
	r->api = api;
	r->name = dup_or_null(log_name, &oom);
	r->tls_roots = dup_or_null(tls_roots, &oom);
	r->smime_roots = dup_or_null(smime_roots, &oom);
	r->certifiers = dup_or_null(certifiers, &oom);
	r->last_ok = 1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->cmu, NULL);
	if (oom) {
		logd_reload_free(r);
		return MN_ENOMEM;
	}
	*out = r;
	return 0;
}

void logd_reload_free(struct logd_reload *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->cmu);
	free(r->name);
	free(r->tls_roots);
	free(r->smime_roots);
	free(r->certifiers);
	free(r->policy);
	free(r);
}

int logd_reload_set_witness(struct logd_reload *r, const char *policy, struct cosign *wit)
{
	char *p = strdup(policy);

	if (p == NULL)
		return MN_ENOMEM;
	free(r->policy);
	r->policy = p;
	r->wit = wit;
	return 0;
}

static const char *roots_reason(int err)
{
	switch (err) {
	case MN_ENOTFOUND: return "no usable CERTIFICATE PEM block in it";
	case MN_EIO: return "cannot be read";
	case MN_ETOOBIG: return "larger than 64 MiB";
	default: return mn_strerror(err);
	}
}

static const char *certifiers_reason(int err)
{
	switch (err) {
	case MN_EMALFORMED: return "the keyring does not parse";
	case MN_EINVAL: return "secret key material, or a bad line in its .policy file";
	case MN_ENOTFOUND: return "it holds no key";
	case MN_EIO: return "it or its .policy file cannot be read";
	case MN_ETOOBIG: return "larger than 64 MiB";
	default: return mn_strerror(err);
	}
}

static void fail_line(const struct logd_reload *r, const char *file, const char *reason)
{
	char f[512], n[128];

	mn_error("reload_failed", "log=%s file=%s reason=\"%s\" msg=\"kept the previous roots, "
		 "certifiers and witness policy\"",
		 r->name != NULL ? mn_log_sanitize(n, sizeof(n), r->name, strlen(r->name)) : "-",
		 mn_log_sanitize(f, sizeof(f), file, strlen(file)), reason);
}

/* witness_line: the line of |path| that defines the witness |name| (0 if
 * none is found). */
static size_t witness_line(const char *path, const char *name)
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	size_t line = 0, nl = strlen(name), found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(buf, sizeof(buf), f) != NULL) {
		const char *p = buf;
		line++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "witness", 7) != 0 || (p[7] != ' ' && p[7] != '\t'))
			continue;
		p += 7;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, name, nl) == 0 && (p[nl] == ' ' || p[nl] == '\t'))
			found = line;
	}
	fclose(f);
	return found;
}

/* load_policy: the witness policy file, parsed, checked and made ready for
 * the collector (*out), or a failure logged with FILE:LINE where it has one. */
static int load_policy(struct logd_reload *r, struct cosign_next **out)
{
	struct tpolicy *p = NULL;
	char err[1024], where[600];
	int ret;

	*out = NULL;
	ret = tpolicy_load(&p, r->policy, 0, err, sizeof(err));
	if (ret != 0) {
		/* "PATH:N: reason" (or "PATH: reason") */
		size_t pl = strlen(r->policy);
		const char *why = err;
		if (strncmp(err, r->policy, pl) == 0 && err[pl] == ':') {
			const char *c = strstr(err + pl + 1, ": ");
			snprintf(where, sizeof(where), "%.*s",
				 c != NULL ? (int)(c - err) : (int)pl, err);
			why = c != NULL ? c + 2 : err + pl + 1;
		} else {
			snprintf(where, sizeof(where), "%s", r->policy);
		}
		fail_line(r, where, why);
		return ret;
	}
	ret = cosign_check_policy(p, err, sizeof(err));
	if (ret == 0)
		ret = cosign_prepare(r->wit, p, out, err, sizeof(err));
	if (ret != 0) {
		size_t line = 0;
		for (size_t i = 0; line == 0 && i < p->num_witnesses; i++)
			if (strncmp(p->witnesses[i].url, "http://", 7) != 0 &&
			    strncmp(p->witnesses[i].url, "https://", 8) != 0)
				line = witness_line(r->policy, p->witnesses[i].name);
		if (line != 0)
			snprintf(where, sizeof(where), "%s:%zu", r->policy, line);
		else
			snprintf(where, sizeof(where), "%s", r->policy);
		fail_line(r, where, ret == MN_ENOMEM ? "out of memory" : err);
		tpolicy_free(p);
		return ret;
	}
	return 0;
}

static int load(struct logd_reload *r, struct owned *o)
{
	size_t skipped = 0;
	int ret;

	if (r->tls_roots != NULL) {
		ret = x509_roots_load_file(&o->roots, &skipped, r->tls_roots);
		if (ret != 0) {
			fail_line(r, r->tls_roots, roots_reason(ret));
			return ret;
		}
		if (skipped > 0)
			mn_warn("roots", "path=%s skipped=%zu msg=\"unusable PEM blocks skipped\"",
				r->tls_roots, skipped);
	}
	if (r->smime_roots != NULL) {
		ret = x509_roots_load_file(&o->smime, &skipped, r->smime_roots);
		if (ret != 0) {
			fail_line(r, r->smime_roots, roots_reason(ret));
			return ret;
		}
		if (skipped > 0)
			mn_warn("roots", "path=%s skipped=%zu msg=\"unusable PEM blocks skipped\"",
				r->smime_roots, skipped);
	}
	if (r->certifiers != NULL) {
		ret = pgp_certifiers_load_file(&o->certifiers, r->certifiers);
		if (ret != 0) {
			fail_line(r, r->certifiers, certifiers_reason(ret));
			return ret;
		}
	}
	o->tls = x509_validator_new2(o->roots, o->smime, NULL);
	if (o->tls == NULL) {
		fail_line(r, "-", "out of memory");
		return MN_ENOMEM;
	}
	return 0;
}

int logd_reload(struct logd_reload *r)
{
	struct owned *o = calloc(1, sizeof(*o));
	struct cosign_next *next = NULL;
	struct api_trust t;
	int ret;

	pthread_mutex_lock(&r->mu);
	if (o == NULL) {
		fail_line(r, "-", "out of memory");
		ret = MN_ENOMEM;
		goto out;
	}
	ret = load(r, o);
	if (ret == 0 && r->wit != NULL)
		ret = load_policy(r, &next);
	if (ret != 0)
		goto out;
	t.tls = o->tls;
	t.tls_roots = o->roots;
	t.smime_roots = o->smime;
	t.certifiers = o->certifiers;
	t.release = owned_free;
	t.owner = o;
	ret = api_set_trust(r->api, &t);
	if (ret != 0) {
		fail_line(r, "-", "out of memory");
		goto out;
	}
	o = NULL; /* the api's now */
	if (next != NULL) {
		cosign_commit(r->wit, next);
		next = NULL;
	}
	{
		char n[128];
		mn_info("reloaded", "log=%s tls_roots=%zu smime_roots=%zu certifiers=%zu "
			"witness_policy=%s",
			r->name != NULL ? mn_log_sanitize(n, sizeof(n), r->name, strlen(r->name)) : "-",
			t.tls_roots != NULL ? x509_roots_count(t.tls_roots) : (size_t)0,
			t.smime_roots != NULL ? x509_roots_count(t.smime_roots) : (size_t)0,
			t.certifiers != NULL ? pgp_certifiers_count(t.certifiers) : (size_t)0,
			r->wit != NULL ? "reloaded" : "-");
	}
out:
	pthread_mutex_lock(&r->cmu);
	if (ret == 0)
		r->ok++;
	else
		r->failed++;
	r->last_ok = ret == 0;
	pthread_mutex_unlock(&r->cmu);
	pthread_mutex_unlock(&r->mu);
	owned_free(o);
	if (next != NULL)
		cosign_next_free(r->wit, next);
	return ret;
}

void logd_reload_metrics(struct logd_reload *r, struct prom *w, const char *labels)
{
	uint64_t ok, failed;
	int last;

	pthread_mutex_lock(&r->cmu);
	ok = r->ok;
	failed = r->failed;
	last = r->last_ok;
	pthread_mutex_unlock(&r->cmu);
	prom_family(w, "mn_reloads_total", PROM_COUNTER,
		    "SIGHUP reloads of the roots and certifiers, by result.");
	prom_u64(w, labels, "result=\"ok\"", ok);
	prom_u64(w, labels, "result=\"failed\"", failed);
	prom_family(w, "mn_reload_last_successful", PROM_GAUGE,
		    "1 if the last reload succeeded (or none was tried), 0 if it failed.");
	prom_u64(w, labels, NULL, (uint64_t)last);
}
