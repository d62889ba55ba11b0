/* http_dispatch.c: the handoff between the transport and the handler. A GET
 * runs the handler on the loop thread, a POST on libuv's thread pool
 * (uv_queue_work); an API_ASYNC completion comes back from any thread through
 * the loop's mutex-protected done queue and uv_async_send (http.c's
 * on_wakeup), and the response is written on the loop thread. */
#include <pthread.h>
#include <string.h>

#include <uv.h>

#include "llhttp.h"

#include "logd/http_internal.h"

static const uint8_t empty_body[1];

/* http__request_finished runs on the loop thread once the handler has
 * returned and, for API_ASYNC, done() has been received. */
void http__request_finished(struct conn *c)
{
	if (c->handler_ret == API_ASYNC) {
		api_response_free(&c->resp);
		c->resp = c->done_resp;
		memset(&c->done_resp, 0, sizeof(c->done_resp));
	}
	c->busy = 0;
	if (c->closing) {
		api_response_free(&c->resp);
		http__close_handles(c);
		return;
	}
	http__write_response(c);
}

static void handler_returned(struct conn *c, int ret)
{
	c->handler_ret = ret == API_ASYNC ? API_ASYNC : API_DONE;
	if (c->handler_ret == API_ASYNC && !c->done_received)
		return; /* done() will arrive through the wakeup queue */
	http__request_finished(c);
}

/* on_done is the api_done_fn given to handlers; any thread. It takes the
 * response's body and queues the conn for its loop. uv_async_send happens
 * under the mutex: once we unlock, the loop may finish the conn and close
 * the wakeup handle, so we must not touch either after unlocking. */
static void on_done(void *done_ctx, struct api_response *resp)
{
	struct conn *c = done_ctx;
	struct http_loop *lp = c->lp;

	if (resp == NULL) {
		api_response_error(&c->done_resp, 500, "internal", "internal error");
	} else {
		c->done_resp = *resp;
		if (resp == &c->resp)
			memset(&c->resp, 0, sizeof(c->resp));
	}
	pthread_mutex_lock(&lp->mu);
	c->done_next = NULL;
	if (lp->done_tail != NULL)
		lp->done_tail->done_next = c;
	else
		lp->done_head = c;
	lp->done_tail = c;
	uv_async_send(&lp->wakeup);
	pthread_mutex_unlock(&lp->mu);
}

static void work_cb(uv_work_t *req)
{
	struct conn *c = req->data;
	struct http_server *s = c->lp->srv;

	c->handler_ret = s->handler(s->handler_ctx, &c->req, &c->resp, on_done, c);
}

static void after_work_cb(uv_work_t *req, int status)
{
	struct conn *c = req->data;

	(void)status; /* never canceled: we do not call uv_cancel */
	c->work_active = 0;
	handler_returned(c, c->handler_ret);
}

/* http__dispatch hands a complete request (parser paused) to the handler. */
void http__dispatch(struct conn *c)
{
	struct http_loop *lp = c->lp;
	struct http_server *s = lp->srv;
	uint8_t method = llhttp_get_method(&c->parser);
	int ret;

	c->deadline = 0;
	c->keep_alive = llhttp_should_keep_alive(&c->parser) != 0;
	c->http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
	c->is_head = method == HTTP_HEAD;
	/* The last request: what follows is read (and discarded) only by
	 * the linger after our shutdown. */
	if (!c->keep_alive)
		http__read_stop(c);
	if (!http__split_target(c)) {
		http__send_error(c, 400, "malformed", "bad percent-encoding in the request path");
		return;
	}
	c->req.method = method == HTTP_GET    ? API_GET
			: method == HTTP_POST ? API_POST
					      : API_OTHER;
	c->req.body = c->body_len != 0 ? c->body : empty_body;
	c->req.body_len = c->body_len;
	memset(&c->resp, 0, sizeof(c->resp));
	c->busy = 1;
	c->done_received = 0;
	if (c->req.method == API_POST) {
		/* async from here: no reading until the response is written */
		http__read_stop(c);
		c->work.data = c;
		c->work_active = 1;
		if (uv_queue_work(&lp->loop, &c->work, work_cb, after_work_cb) != 0) {
			c->work_active = 0;
			c->busy = 0;
			http__send_error(c, 500, "internal", "cannot queue the request");
		}
		return;
	}
	ret = s->handler(s->handler_ctx, &c->req, &c->resp, on_done, c);
	if (ret == API_ASYNC)
		http__read_stop(c);
	handler_returned(c, ret);
}
