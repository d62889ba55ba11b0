/* witlog.h: a logd log witnessed by `mnctl witness serve` processes, for
 * tests (test_witness_reload, test_witness_mirror): its directory, test PKI
 * and log keys; adding certificates; reading /checkpoint and checking it
 * against a tlog-policy (entry/tpolicy.h tpolicy_check); /metrics samples;
 * `mnctl sth --witness-policy`. Functions return 0 or -1 (with a line on
 * stderr) and never abort: callers assert. */
#ifndef MN_TESTS_WITLOG_H
#define MN_TESTS_WITLOG_H

#include <stddef.h>
#include <stdint.h>

struct pki_cert;
struct tpolicy;

struct witlog {
	char dir[64];       /* a new /tmp/mn-witlog-XXXXXX, removed by witlog_free */
	char roots[128];    /* DIR/roots.pem: the log's TLS roots */
	char data[128];     /* DIR/data: the log's data (keys made by a first run) */
	char logs[128];     /* DIR/logs: the witnesses' --logs file ("log VKEY") */
	char vkey[512];     /* the log's note vkey */
	struct pki_cert *root, *ca;
	int serial;
};

/* witlog_init: the directory, PKI, and the log's keys for |origin| (a first
 * logd run without witnesses); the --logs file for its witnesses. */
int witlog_init(struct witlog *f, const char *origin);
void witlog_free(struct witlog *f);

/* witlog_add: |n| add-chain requests of new certificates for |cn| to the log
 * at |port|/|prefix|, each answered 200. */
int witlog_add(struct witlog *f, uint16_t port, const char *prefix, const char *cn, int n);
/* witlog_sth_size: get-sth's tree size. */
int witlog_sth_size(uint16_t port, const char *prefix, uint64_t *size);

/* A /checkpoint as read and checked against a policy. */
struct witlog_cp {
	int status;        /* HTTP status */
	uint64_t size;
	int check;         /* tpolicy_check's result (status 200 only) */
	size_t cosigned;   /* witnesses of the policy whose cosignature verified */
};
/* witlog_checkpoint reads |port|/|prefix|/checkpoint into |out|. 0 (also a
 * 404), or -1 (no answer, or a 200 that does not parse). */
int witlog_checkpoint(uint16_t port, const char *prefix, const struct tpolicy *pol,
		      struct witlog_cp *out);

/* witlog_metric: the value of the first /metrics sample line that starts with
 * |sample| (name and labels, then a space), or -1 when there is none. */
double witlog_metric(uint16_t port, const char *sample);

/* witlog_mnctl_sth runs `mnctl --key KEY --log http://127.0.0.1:|port||prefix|
 * sth --witness-policy |policy| --witness-wait |wait_s|` (KEY: the public half
 * of |f|'s log key, by openssl) and returns its exit status (-1: not run). */
int witlog_mnctl_sth(struct witlog *f, uint16_t port, const char *prefix, const char *policy,
		     const char *wait_s);

/* witlog_ms: a monotonic clock in ms; witlog_nap: a poll interval. */
uint64_t witlog_ms(void);
void witlog_nap(long ms);

#endif
