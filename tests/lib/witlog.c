/* witlog.c: see witlog.h. */
#include "tests/lib/witlog.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "entry/note.h"
#include "entry/tpolicy.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/files.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

uint64_t witlog_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void witlog_nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* note_vkey: the log's note vkey from its log-list line */
static int note_vkey(const char *line, char *out, size_t cap)
{
	const char *k = strstr(line, "\"note_vkey\":\""), *e;

	if (k == NULL || (e = strchr(k + 13, '"')) == NULL || (size_t)(e - k - 13) >= cap)
		return -1;
	k += 13;
	memcpy(out, k, (size_t)(e - k));
	out[e - k] = '\0';
	return 0;
}

int witlog_init(struct witlog *f, const char *origin)
{
	int64_t now = pki_now();
	struct logd_proc first;
	FILE *l;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/mn-witlog-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		fprintf(stderr, "witlog: mkdtemp failed\n");
		f->dir[0] = '\0';
		return -1;
	}
	f->root = pki_root("Witlog Root", 0);
	f->ca = pki_issue(f->root, "Witlog CA", NULL, 0, PKI_CA, now - 86400, now + 86400 * 365);
	snprintf(f->roots, sizeof(f->roots), "%s/roots.pem", f->dir);
	snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
	snprintf(f->logs, sizeof(f->logs), "%s/logs", f->dir);
	{
		const struct pki_cert *rs[1] = {f->root};
		if (f->root == NULL || f->ca == NULL || pki_write_pem(f->roots, rs, 1) != 0) {
			fprintf(stderr, "witlog: cannot make the PKI\n");
			return -1;
		}
	}
	{
		const char *args[] = {"--data", f->data, "--tls-roots", f->roots, "--origin", origin,
				      NULL};
		int ok;
		if (logd_start(&first, args) != 0) {
			fprintf(stderr, "witlog: the first logd run failed\n");
			return -1;
		}
		ok = note_vkey(first.log_line, f->vkey, sizeof(f->vkey)) == 0;
		if (logd_stop(&first, SIGTERM) != 0 || !ok) {
			fprintf(stderr, "witlog: no note_vkey, or logd did not stop cleanly\n");
			return -1;
		}
	}
	l = fopen(f->logs, "w");
	if (l == NULL)
		return -1;
	fprintf(l, "log %s\n", f->vkey);
	return fclose(l) == 0 ? 0 : -1;
}

void witlog_free(struct witlog *f)
{
	char cmd[128];

	pki_free(f->ca);
	pki_free(f->root);
	f->ca = f->root = NULL;
	if (f->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "witlog: cannot remove %s\n", f->dir);
	}
}

static int add_one(struct witlog *f, uint16_t port, const char *prefix, const char *cn)
{
	int64_t now = pki_now();
	const char *dns[1] = {cn};
	int serial = f->serial++;
	struct pki_cert *leaf = pki_issue(f->ca, cn, dns, 1, 0, now - 60 - serial, now + 86400);
	const struct pki_cert *chain[2] = {leaf, f->ca};
	char *body, path[128];
	struct http_resp r;
	int ok;

	if (leaf == NULL)
		return -1;
	body = ctc_chain_json(chain, 2);
	snprintf(path, sizeof(path), "%s/ct/v1/add-chain", prefix);
	ok = body != NULL && http_do(port, "POST", path, NULL, body, strlen(body), &r) == 0;
	if (ok) {
		if (r.status != 200) {
			fprintf(stderr, "witlog: add-chain: HTTP %d\n", r.status);
			ok = 0;
		}
		http_resp_free(&r);
	}
	free(body);
	pki_free(leaf);
	return ok ? 0 : -1;
}

int witlog_add(struct witlog *f, uint16_t port, const char *prefix, const char *cn, int n)
{
	for (int i = 0; i < n; i++)
		if (add_one(f, port, prefix, cn) != 0)
			return -1;
	return 0;
}

int witlog_sth_size(uint16_t port, const char *prefix, uint64_t *size)
{
	char path[128];
	struct http_resp r;
	json_error_t e;
	json_t *j;
	int ret = -1;

	snprintf(path, sizeof(path), "%s/ct/v1/get-sth", prefix);
	if (http_do(port, "GET", path, NULL, NULL, 0, &r) != 0)
		return -1;
	j = r.status == 200 ? json_loadb((const char *)r.body, r.body_len, 0, &e) : NULL;
	if (j != NULL && json_is_integer(json_object_get(j, "tree_size"))) {
		*size = (uint64_t)json_integer_value(json_object_get(j, "tree_size"));
		ret = 0;
	}
	json_decref(j);
	http_resp_free(&r);
	return ret;
}

int witlog_checkpoint(uint16_t port, const char *prefix, const struct tpolicy *pol,
		      struct witlog_cp *out)
{
	char path[128];
	struct http_resp r;
	struct note_checkpoint nc;
	const char *why = NULL;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/checkpoint", prefix);
	if (http_do(port, "GET", path, NULL, NULL, 0, &r) != 0)
		return -1;
	out->status = r.status;
	if (r.status == 200) {
		if (note_parse_checkpoint(&nc, r.body, r.body_len) != 0) {
			fprintf(stderr, "witlog: %s does not parse\n", path);
			ret = -1;
		} else {
			out->size = nc.tree_size;
			out->check = tpolicy_check(pol, &nc, &out->cosigned, &why);
		}
	}
	http_resp_free(&r);
	return ret;
}

double witlog_metric(uint16_t port, const char *sample)
{
	struct http_resp r;
	const char *p;
	double v = -1;
	size_t sl = strlen(sample);

	if (http_do(port, "GET", "/metrics", NULL, NULL, 0, &r) != 0)
		return -1;
	for (p = (const char *)r.body; r.status == 200 && p != NULL && *p != '\0';) {
		if (strncmp(p, sample, sl) == 0 && p[sl] == ' ') {
			v = strtod(p + sl + 1, NULL);
			break;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	http_resp_free(&r);
	return v;
}

int witlog_mnctl_sth(struct witlog *f, uint16_t port, const char *prefix, const char *policy,
		     const char *wait_s)
{
	char url[128], key[128], cfg[128], cmd[384], *o = NULL, *e = NULL;
	int st;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, prefix);
	snprintf(key, sizeof(key), "%s/logkey.der", f->dir);
	snprintf(cfg, sizeof(cfg), "%s/mnctl", f->dir);
	snprintf(cmd, sizeof(cmd), "openssl pkey -in '%s/log-key.pem' -pubout -outform DER -out '%s'",
		 f->data, key);
	st = tf_run(f->dir, NULL, cmd, &o, &e);
	free(o);
	free(e);
	if (st != 0) {
		fprintf(stderr, "witlog: %s failed\n", cmd);
		return -1;
	}
	{
		const char *args[] = {"--config", cfg, "--key", key, "--log", url, "sth",
				      "--witness-policy", policy, "--witness-wait", wait_s, NULL};
		e = NULL;
		st = mnrun_mnctl(f->dir, args, NULL, &e);
	}
	if (st != 0)
		fprintf(stderr, "mnctl sth %s: exit %d: %s", url, st, e != NULL ? e : "");
	free(e);
	return st;
}
