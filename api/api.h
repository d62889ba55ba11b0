/* api.h: HTTP endpoints as functions from a parsed request to a response. No
 * sockets here: logd/http.c owns the transport and calls api_handle.
 *
 * Threads: api_handle may be called on any thread, concurrently. A handler that
 * must wait (a submission waiting for its commit) returns API_ASYNC and later
 * calls the |done| function exactly once, possibly from another thread; the
 * transport must accept that. */
#ifndef MN_API_H
#define MN_API_H

#include <stddef.h>
#include <stdint.h>

enum api_method { API_GET = 1, API_POST = 2, API_OTHER = 3 };

struct api_request {
	enum api_method method;
	const char *path;   /* decoded path, no query; not NUL-terminated */
	size_t path_len;
	const char *query;  /* raw query string after '?', or NULL */
	size_t query_len;
	const uint8_t *body;
	size_t body_len;
};

struct api_response {
	int status;
	const char *content_type; /* static string; NULL = application/json */
	uint8_t *body;            /* malloc'd; owned by the response */
	size_t body_len;
	unsigned retry_after;     /* seconds; 0 = no Retry-After header */
};

/* api_response_free frees the body and zeroes |r|. */
void api_response_free(struct api_response *r);
/* api_response_error fills |r| with |status| and the RFC 6962 / 9162 style body
 * {"error_code": "<code>", "error_message": "<message>"}. */
void api_response_error(struct api_response *r, int status, const char *code,
			const char *message);

enum { API_DONE = 0, API_ASYNC = 1 };
typedef void (*api_done_fn)(void *done_ctx, struct api_response *resp);

struct api;
/* api_handle answers |req| into |resp| and returns API_DONE, or returns API_ASYNC
 * and later calls done(done_ctx, resp) once with a response the callee owns
 * (the transport frees it with api_response_free). The request's memory must
 * stay valid until then. */
int api_handle(struct api *api, const struct api_request *req,
	       struct api_response *resp, api_done_fn done, void *done_ctx);

#endif
