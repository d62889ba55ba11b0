/* mirrorrun.c: see mirrorrun.h. */
#include "tests/lib/mirrorrun.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/ctclient.h"

int mirrorrun_same(uint16_t a, uint16_t b, const char *target)
{
	struct http_resp ra, rb;
	int ok;

	if (http_do(a, "GET", target, NULL, NULL, 0, &ra) != 0)
		return -1;
	if (http_do(b, "GET", target, NULL, NULL, 0, &rb) != 0) {
		http_resp_free(&ra);
		return -1;
	}
	ok = ra.status == 200 && rb.status == 200 && ra.body_len == rb.body_len &&
	     memcmp(ra.body, rb.body, ra.body_len) == 0;
	if (!ok)
		fprintf(stderr, "%s differs:\n origin: %d %.300s\n mirror: %d %.300s\n", target,
			ra.status, (char *)ra.body, rb.status, (char *)rb.body);
	http_resp_free(&ra);
	http_resp_free(&rb);
	return ok ? 0 : -1;
}

int mirrorrun_synced(uint16_t origin, uint16_t mirror, const char *prefix)
{
	char t[128];
	struct timespec ts = {0, 50 * 1000 * 1000};

	snprintf(t, sizeof(t), "%s/ct/v1/get-sth", prefix);
	for (int i = 0; i < 1200; i++) {
		struct http_resp a, b;
		int eq;
		if (http_do(origin, "GET", "/ct/v1/get-sth", NULL, NULL, 0, &a) != 0)
			return -1;
		if (http_do(mirror, "GET", t, NULL, NULL, 0, &b) != 0) {
			http_resp_free(&a);
			return -1;
		}
		eq = a.status == 200 && b.status == 200 && a.body_len == b.body_len &&
		     memcmp(a.body, b.body, a.body_len) == 0;
		http_resp_free(&a);
		http_resp_free(&b);
		if (eq)
			return 0;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "the mirror did not catch up with the origin\n");
	return -1;
}

int mirrorrun_start(struct logd_proc *p, uint16_t upstream, const char *data,
		    const char *keyfile, const char *origin, const char *errfile)
{
	char url[64];
	const char *args[] = {"--mirror", url, "--mirror-key", keyfile, "--data", data,
			      "--origin", origin, NULL};
	int saved = -1, ret;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", upstream);
	if (origin == NULL)
		args[6] = NULL; /* the origin taken from the first checkpoint */
	if (errfile != NULL) {
		int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			return -1;
		saved = dup(2);
		dup2(fd, 2);
		close(fd);
	}
	ret = logd_start(p, args);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	return ret;
}

int mirrorrun_add(uint16_t port, const struct pki_cert *ca, int first, int n)
{
	const char *dns[1] = {"mirror.example"};
	int64_t now = pki_now();

	for (int i = first; i < first + n; i++) {
		int pre = i % 5 == 2, ok;
		struct pki_cert *leaf = pki_issue(ca, "mirror.example", dns, 1, pre ? PKI_POISON : 0,
						  now - 60 - i, now + 86400);
		const struct pki_cert *chain[2] = {leaf, ca};
		char *body = leaf != NULL ? ctc_chain_json(chain, 2) : NULL;
		struct http_resp r;
		ok = body != NULL &&
		     http_do(port, "POST", pre ? "/ct/v1/add-pre-chain" : "/ct/v1/add-chain",
			     NULL, body, strlen(body), &r) == 0;
		if (ok) {
			if (r.status != 200) {
				fprintf(stderr, "add leaf %d: %d %.300s\n", i, r.status,
					(char *)r.body);
				ok = 0;
			}
			http_resp_free(&r);
		}
		free(body);
		pki_free(leaf);
		if (!ok)
			return -1;
	}
	return 0;
}

int mirrorrun_get(uint16_t port, const char *target, struct http_resp *r)
{
	if (http_do(port, "GET", target, NULL, NULL, 0, r) != 0)
		return -1;
	if (r->status != 200) {
		fprintf(stderr, "GET %s: %d %s\n", target, r->status, (char *)r->body);
		return -1;
	}
	return 0;
}

int mirrorrun_stored_sth(const char *data, struct store_sth *out)
{
	struct store_options so = {.dir = data, .read_only = 1};
	struct store *st;
	struct store_reader *rd;
	int ret;

	if (store_open(&st, &so) != 0)
		return -1;
	if (store_read_begin(st, &rd) != 0) {
		store_close(st);
		return -1;
	}
	ret = store_r_sth(rd, out) == 0 ? 0 : -1;
	store_read_end(rd);
	store_close(st);
	return ret;
}
