/* seq_internal.h: what sequencer.c and seq_sign.c share: the sequencer's
 * state and its jobs. Not for other files (sequencer.h is the contract). */
#ifndef MN_LOGD_SEQ_INTERNAL_H
#define MN_LOGD_SEQ_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>

#include "entry/mapkeys.h"
#include "logd/sequencer.h"
#include "logd/signpool.h"
#include "storage/storage.h"

#define NUM_BUCKETS 12
#define SCT_MAX_LEN 4096
#define SEQ_POOL 16
/* Jobs a signing thread takes from the queue at once: few enough that the
 * threads share a batch evenly, enough that the lock is taken rarely. */
#define SIGN_CHUNK 16

struct job;

struct seq {
	struct store *st;
	const struct ct_signer *signer;
	struct seq_options opt;
	struct merkle_hasher *hasher;

	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct job *head, *tail;            /* guarded by mu */
	size_t queued;                      /* guarded by mu */
	int stopping;                       /* guarded by mu */

	uint64_t last_ts; /* timestamp of the latest STH (sequencer thread only) */

	/* A log of the static-ct-api format (STORE_FMT_LEAF_INDEX): each leaf
	 * carries its index, known only here, so its SCT is signed after the
	 * commit, by the signing threads of |signers|, not by the submitter. */
	int leaf_index;
	struct signpool *signers_pool;
	/* Jobs the sequencer took and nobody answered yet (atomic): with |queued|
	 * what seq_submit holds to max_queue, so neither the queue nor the jobs
	 * waiting for their SCTs grow without bound. A job leaves the count just
	 * before its done() is called. */
	size_t signing;

	/* Submitting threads that may prepare (sign) at once, opt.max_signers.
	 * A pool with more threads than cores (libuv's default is 4) would
	 * otherwise keep every core busy signing, and the one sequencer thread,
	 * the serial part, would get a 1/(threads + 1) share of the machine
	 * whenever it wakes from an fsync. */
	sem_t signers;

	/* leaf hashers for the submitting threads */
	pthread_mutex_t pool_mu;
	struct merkle_hasher *pool[SEQ_POOL];
	size_t num_pool;

	/* metrics, guarded by mu */
	uint64_t batches, leaves, dups, errors, resigns;
	uint64_t commit_ns_sum;
	uint64_t batch_hist[NUM_BUCKETS];  /* batch size <= 1,2,4,...,2048,+Inf */
	uint64_t commit_hist[NUM_BUCKETS]; /* commit latency buckets, see below */
	uint64_t sth_timestamp, tree_size;
};


/* A queued submission, prepared by the submitting thread: its leaf encoded,
 * its SCT signed, its leaf hash computed. Signing is the costly part (an ECDSA
 * signature per leaf) and it parallelizes, so it runs on the submitters'
 * threads (libuv's pool under HTTP), not on the one sequencer thread.
 *
 * In a leaf_index log the submitter encodes the leaf with a leaf_index
 * extension of 0 (its last 5 bytes) and computes its map keys; the sequencer
 * writes the index into those bytes and hashes the leaf (a few microseconds,
 * where the signature is tens), and after the commit a signing thread signs
 * the SCT from the leaf and answers. */
struct job {
	struct api_submission *sub;
	struct job *next;
	uint64_t ts;
	uint8_t *leaf;      /* the leaf, then the SCT, in one allocation */
	size_t leaf_len;
	const uint8_t *sct; /* points into leaf's allocation */
	size_t sct_len;
	uint8_t leaf_hash[32];
	uint8_t (*map_keys)[MAP_KEY_LEN]; /* with opt.map: the leaf's map keys */
	size_t num_map_keys;
	int leader; /* in a batch: index of the leader job for an in-batch duplicate,
		     * -1 for a leader, -2 for one answered already (from the store, or
		     * refused), -3 (leaf_index) for a stored one whose SCT is signed
		     * from its stored leaf, now in |leaf| */
	struct job *dups; /* leaf_index: in-batch duplicates answered with this
			   * job's SCT and index, linked through dups */
	uint8_t *sct_buf; /* leaf_index: the SCT signed after the commit */
	size_t sct_buf_len;
	int sign_ret;     /* and how its signing went */
	struct signpool_item item; /* leaf_index: on the signing threads' queue */
	int stored; /* in a batch: its dedup key is in the store, at stored_index */
	uint64_t stored_index;
	uint64_t index;
};


/* seq__job_free frees |j| with its leaf, SCT and map keys. */
void seq__job_free(struct job *j);

/* The SCTs of a leaf_index log, signed after the commit (seq_sign.c). */

/* seq__stored_leaf takes the stored leaf |e| into |j| (a duplicate whose SCT
 * is signed from its stored leaf): 1, or 0 on OOM. */
int seq__stored_leaf(struct job *j, const struct store_entry *e);
/* seq__sign_chunk is the signing threads' function (signpool.h). */
void seq__sign_chunk(void *ctx, struct signpool_item *items);
/* seq__hand_to_signers gives the |n| jobs of a committed batch (or of one
 * that failed with |ret|) to the signing threads, which answer them. */
void seq__hand_to_signers(struct seq *q, struct job **jobs, size_t n, int ret);

#endif
