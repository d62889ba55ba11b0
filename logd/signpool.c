/* signpool.c: see signpool.h. */
#include "logd/signpool.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/err.h"

struct signpool {
	signpool_fn fn;
	void *ctx;
	size_t chunk;
	pthread_t *threads;
	unsigned num_threads;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct signpool_item *head, *tail; /* guarded by mu */
	int stop;                          /* guarded by mu */
};

static void *pool_main(void *arg)
{
	struct signpool *p = arg;

	for (;;) {
		struct signpool_item *list, *last;
		size_t k = 1;

		pthread_mutex_lock(&p->mu);
		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->cond, &p->mu);
		list = p->head;
		if (list == NULL) { /* stopping, and nothing is left */
			pthread_mutex_unlock(&p->mu);
			break;
		}
		for (last = list; k < p->chunk && last->next != NULL; last = last->next)
			k++;
		p->head = last->next;
		if (p->head == NULL)
			p->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&p->mu);
		p->fn(p->ctx, list);
	}
	return NULL;
}

static void pool_free(struct signpool *p)
{
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cond);
	free(p->threads);
	free(p);
}

int signpool_start(struct signpool **out, unsigned threads, size_t chunk, signpool_fn fn,
		   void *ctx, const char *name)
{
	struct signpool *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return MN_ENOMEM;
	p->fn = fn;
	p->ctx = ctx;
	p->chunk = chunk > 0 ? chunk : 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (threads == 0)
		threads = 1;
	p->threads = calloc(threads, sizeof(*p->threads));
	if (p->threads == NULL) {
		pool_free(p);
		return MN_ENOMEM;
	}
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0) {
			signpool_stop(p);
			return MN_EINTERNAL;
		}
		(void)pthread_setname_np(p->threads[i], name);
		p->num_threads++;
	}
	*out = p;
	return 0;
}

void signpool_push(struct signpool *p, struct signpool_item *head, struct signpool_item *tail)
{
	pthread_mutex_lock(&p->mu);
	if (p->tail != NULL)
		p->tail->next = head;
	else
		p->head = head;
	p->tail = tail;
	/* a batch is thousands of items: every thread has work */
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

void signpool_stop(struct signpool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->num_threads; i++)
		pthread_join(p->threads[i], NULL);
	pool_free(p);
}
