/* seqload.h: continuous submission to a running sequencer, the harness of the
 * sequenced-append benchmarks (bench_store, bench_publish, bench_map).
 *
 * NUM threads each own IN_FLIGHT / NUM pre-allocated submissions; a
 * completion puts one back on its owner's free list and wakes that owner only
 * if it waits (no global lock, no broadcast, no allocation per submission),
 * so the harness costs little next to what it measures. Every leaf is unique
 * (submitter number and a counter in its first bytes and its dedup key, the
 * key spread like the SHA-256 keys the API computes), unless a fill hook makes
 * the submissions (bench_map), and only completions with status 0 are
 * counted: durable appends. */
#ifndef MN_BENCH_SEQLOAD_H
#define MN_BENCH_SEQLOAD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "api/api.h"

#define SEQLOAD_THREADS 4
#define SEQLOAD_IN_FLIGHT 4096

struct seqload_options {
	struct api_sequencer seq;           /* where to submit (seq_api(q), or a wrapper) */
	size_t body_len;                    /* bytes of each leaf's body (x509_entry) */
	const uint8_t *extra;               /* every leaf's extra_data (borrowed) */
	size_t extra_len;
	const struct store_index_key *keys; /* every leaf's index keys (borrowed) */
	size_t num_keys;
	/* fill (NULL: the leaves above) makes the |seqno|th submission of
	 * submitting thread |thread| (0 .. SEQLOAD_THREADS - 1) in |s|: its entry,
	 * extra data, keys and dedup key, in |slot_len| bytes of |slot| that stay
	 * its own while it is in flight; on the submitting thread. body_len,
	 * extra and keys are then unused. */
	void (*fill)(void *ctx, int thread, uint64_t seqno, struct api_submission *s,
		     uint8_t *slot);
	void *fill_ctx;
	size_t slot_len;
};

struct seqload;
/* seqload_start starts the submitting threads. Exits the process on failure
 * (a benchmark has nothing to recover). */
struct seqload *seqload_start(const struct seqload_options *o);
/* seqload_completed: durable appends so far; *out_failed (may be NULL) the
 * completions with another status. */
uint64_t seqload_completed(struct seqload *l, uint64_t *out_failed);
/* seqload_thread_clock: the CPU clock of submitting thread |i|. */
clockid_t seqload_thread_clock(struct seqload *l, int i);
/* seqload_stop stops and joins the submitting threads (submissions in flight
 * stay the sequencer's: stop it, then read seqload_completed). */
void seqload_stop(struct seqload *l);
/* seqload_free frees |l| (stopped; the sequencer stopped too). */
void seqload_free(struct seqload *l);

#endif
