/* seq_sign.c: the SCTs of a leaf_index log (sequencer.h), signed after the
 * durable commit by the signing threads, since each leaf's index is known
 * only once sequenced. Nothing here runs before the commit of its batch. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "common/log.h"
#include "entry/ct.h"
#include "logd/seq_internal.h"

/* seq__stored_leaf makes the stored leaf |e| the job's leaf (a copy: |e| dies
 * with the read snapshot), for signing its SCT after the commit. 1 or 0. */
int seq__stored_leaf(struct job *j, const struct store_entry *e)
{
	uint8_t *copy = malloc(e->leaf_input_len);

	if (copy == NULL)
		return 0;
	memcpy(copy, e->leaf_input, e->leaf_input_len);
	free(j->leaf); /* the resubmission's own leaf, with another timestamp */
	j->leaf = copy;
	j->leaf_len = e->leaf_input_len;
	j->sct = NULL;
	j->sct_len = 0;
	return 1;
}

/* sign_job signs the SCT of job |j|'s leaf (committed) into j->sct_buf. On a
 * signing thread. */
static void sign_job(struct seq *q, struct job *j)
{
	struct ct_sct sct;
	struct cbb cbb;

	j->sign_ret = ct_sign_leaf_sct(q->signer, &sct, j->leaf, j->leaf_len);
	if (j->sign_ret == 0 &&
	    (!cbb_init(&cbb, 160, SCT_MAX_LEN) || !ct_write_sct(&cbb, &sct) ||
	     !cbb_finish(&cbb, &j->sct_buf, &j->sct_buf_len))) {
		cbb_cleanup(&cbb);
		j->sign_ret = MN_ENOMEM;
	}
	if (j->sign_ret != 0) /* the leaf is logged; a resubmission gets its SCT */
		mn_error("sct_sign", "index=%" PRIu64 " err=%s", j->index,
			 mn_err_name(j->sign_ret));
}

/* answer_signed answers job |j| (signed by sign_job) and its in-batch
 * duplicates, then frees them. */
static void answer_signed(struct seq *q, struct job *j)
{
	uint8_t *buf = j->sct_buf;
	size_t len = j->sct_buf_len;
	uint64_t index = j->index;
	int ret = j->sign_ret;

	while (j != NULL) {
		struct job *next = j->dups;
		__atomic_sub_fetch(&q->signing, 1, __ATOMIC_RELAXED);
		if (ret == 0)
			j->sub->done(j->sub, 0, buf, len, index);
		else
			j->sub->done(j->sub, ret, NULL, 0, 0);
		seq__job_free(j);
		j = next;
	}
	free(buf);
}

#define JOB_OF(it) ((struct job *)((char *)(it) - offsetof(struct job, item)))

/* sign_chunk is the signing threads' signpool_fn: it signs a chunk, then
 * answers it, so the answers come in bursts and a waiting submitter (or
 * event loop) is woken once for several. */
void seq__sign_chunk(void *ctx, struct signpool_item *items)
{
	struct seq *q = ctx;

	for (struct signpool_item *it = items; it != NULL; it = it->next)
		sign_job(q, JOB_OF(it));
	while (items != NULL) {
		struct signpool_item *next = items->next;
		answer_signed(q, JOB_OF(items));
		items = next;
	}
}

/* hand_to_signers answers a leaf_index batch after its commit (status |ret|):
 * a failed commit's leaders and duplicates at once, here; every committed
 * leader (with its in-batch duplicates) and every duplicate of a stored leaf
 * (leader -3, answered whatever this commit did) goes to the signing threads,
 * which sign in parallel with the next batch's commit. Jobs answered here
 * are freed here. */
void seq__hand_to_signers(struct seq *q, struct job **jobs, size_t n, int ret)
{
	struct signpool_item *head = NULL, **tail = &head, *last = NULL;

	for (size_t i = 0; i < n; i++) {
		struct job *j = jobs[i];

		if (j->leader == -2) { /* answered already */
			__atomic_sub_fetch(&q->signing, 1, __ATOMIC_RELAXED);
			seq__job_free(j);
			continue;
		}
		if ((j->leader >= 0 || j->leader == -1) && ret != 0) {
			__atomic_sub_fetch(&q->signing, 1, __ATOMIC_RELAXED);
			j->sub->done(j->sub, ret, NULL, 0, 0);
			seq__job_free(j);
			continue;
		}
		if (j->leader >= 0) { /* its leader comes earlier, in the list now */
			struct job *lead = jobs[j->leader];
			j->dups = lead->dups;
			lead->dups = j;
			continue;
		}
		j->item.next = NULL;
		*tail = &j->item;
		tail = &j->item.next;
		last = &j->item;
	}
	if (head != NULL)
		signpool_push(q->signers_pool, head, last);
}
