/* seqload.c: see seqload.h. */
#include "bench/lib/seqload.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define PER_SUBMITTER (SEQLOAD_IN_FLIGHT / SEQLOAD_THREADS)

struct submitter;

struct bsub {
	struct api_submission s; /* first: done() gets &s */
	struct submitter *owner;
	struct bsub *next;       /* on the owner's free list */
	uint8_t *body;
};

struct submitter {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct bsub *free_list;  /* guarded by mu */
	int waiting;             /* guarded by mu */
	int stop;                /* guarded by mu */
	uint64_t completed;      /* guarded by mu: status 0 */
	uint64_t failed;         /* guarded by mu */
	uint64_t id;             /* the submitter thread's counter */
	struct bsub *slots;
	uint8_t *bodies;
	struct seqload *l;
} __attribute__((aligned(64)));

struct seqload {
	struct submitter subs[SEQLOAD_THREADS];
	struct seqload_options o;
};

static void on_done(struct api_submission *s, int status, const uint8_t *sct, size_t len,
		    uint64_t index)
{
	struct bsub *b = (struct bsub *)s;
	struct submitter *o = b->owner;

	(void)sct;
	(void)len;
	(void)index;
	pthread_mutex_lock(&o->mu);
	if (status == 0)
		o->completed++;
	else
		o->failed++;
	b->next = o->free_list;
	o->free_list = b;
	if (o->waiting)
		pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
}

/* dedup_key: unique and spread like the SHA-256 keys the API computes. */
static void dedup_key(uint8_t key[32], uint64_t id)
{
	uint64_t z = id + 0x9e3779b97f4a7c15ull; /* splitmix64, a bijection */

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	memcpy(key, &z, sizeof(z));
	memcpy(key + 8, &id, sizeof(id));
}

static void *submitter(void *arg)
{
	struct submitter *me = arg;
	struct seqload *l = me->l;
	uint64_t n = (uint64_t)(me - l->subs);

	for (;;) {
		struct bsub *list;

		pthread_mutex_lock(&me->mu);
		while (me->free_list == NULL && !me->stop) {
			me->waiting = 1;
			pthread_cond_wait(&me->cv, &me->mu);
			me->waiting = 0;
		}
		list = me->free_list;
		me->free_list = NULL;
		if (me->stop) {
			/* back on the list, so that seqload_free finds them */
			me->free_list = list;
			pthread_mutex_unlock(&me->mu);
			return NULL;
		}
		pthread_mutex_unlock(&me->mu);
		while (list != NULL) {
			struct bsub *b = list;
			uint64_t seqno = me->id++, id = n << 56 | seqno;

			list = b->next;
			if (l->o.fill != NULL) {
				l->o.fill(l->o.fill_ctx, (int)n, seqno, &b->s, b->body);
			} else {
				memcpy(b->body, &id, sizeof(id));
				dedup_key(b->s.dedup_key, id);
			}
			while (l->o.seq.submit(l->o.seq.impl, &b->s) == MN_EBUSY)
				sched_yield();
		}
	}
}

struct seqload *seqload_start(const struct seqload_options *o)
{
	struct seqload *l = calloc(1, sizeof(*l));
	size_t slot_len = o->fill != NULL ? o->slot_len : o->body_len;

	if (l == NULL || (o->fill == NULL && o->body_len < 8)) {
		fprintf(stderr, "seqload: out of memory or body too short\n");
		exit(1);
	}
	l->o = *o;
	for (int i = 0; i < SEQLOAD_THREADS; i++) {
		struct submitter *me = &l->subs[i];

		me->l = l;
		pthread_mutex_init(&me->mu, NULL);
		pthread_cond_init(&me->cv, NULL);
		me->slots = calloc(PER_SUBMITTER, sizeof(*me->slots));
		me->bodies = malloc(PER_SUBMITTER * slot_len);
		if (me->slots == NULL || me->bodies == NULL) {
			fprintf(stderr, "seqload: out of memory\n");
			exit(1);
		}
		memset(me->bodies, 0x42, PER_SUBMITTER * slot_len);
		for (int j = 0; j < PER_SUBMITTER; j++) {
			struct bsub *b = &me->slots[j];

			b->owner = me;
			b->body = me->bodies + (size_t)j * slot_len;
			b->s.entry.entry_type = 0;
			b->s.entry.body = b->body;
			b->s.entry.body_len = o->body_len;
			b->s.extra = o->extra;
			b->s.extra_len = o->extra_len;
			b->s.keys = o->keys;
			b->s.num_keys = o->num_keys;
			b->s.done = on_done;
			b->next = me->free_list;
			me->free_list = b;
		}
		if (pthread_create(&me->th, NULL, submitter, me) != 0) {
			fprintf(stderr, "seqload: cannot start a thread\n");
			exit(1);
		}
		(void)pthread_setname_np(me->th, "submitter");
	}
	return l;
}

uint64_t seqload_completed(struct seqload *l, uint64_t *out_failed)
{
	uint64_t c = 0, f = 0;

	for (int i = 0; i < SEQLOAD_THREADS; i++) {
		pthread_mutex_lock(&l->subs[i].mu);
		c += l->subs[i].completed;
		f += l->subs[i].failed;
		pthread_mutex_unlock(&l->subs[i].mu);
	}
	if (out_failed != NULL)
		*out_failed = f;
	return c;
}

clockid_t seqload_thread_clock(struct seqload *l, int i)
{
	clockid_t c = CLOCK_THREAD_CPUTIME_ID;

	(void)pthread_getcpuclockid(l->subs[i].th, &c);
	return c;
}

void seqload_stop(struct seqload *l)
{
	for (int i = 0; i < SEQLOAD_THREADS; i++) {
		pthread_mutex_lock(&l->subs[i].mu);
		l->subs[i].stop = 1;
		pthread_cond_signal(&l->subs[i].cv);
		pthread_mutex_unlock(&l->subs[i].mu);
	}
	for (int i = 0; i < SEQLOAD_THREADS; i++)
		pthread_join(l->subs[i].th, NULL);
}

void seqload_free(struct seqload *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i < SEQLOAD_THREADS; i++) {
		free(l->subs[i].slots);
		free(l->subs[i].bodies);
		pthread_mutex_destroy(&l->subs[i].mu);
		pthread_cond_destroy(&l->subs[i].cv);
	}
	free(l);
}
