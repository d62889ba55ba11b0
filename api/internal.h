/* internal.h: helpers shared by the api/ handlers. */
#ifndef MN_API_INTERNAL_H
#define MN_API_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "common/bytes.h"

/* JSON output on a cbb (cap API_MAX_RESPONSE). Each returns 1 or 0. */
#define API_MAX_RESPONSE (64u << 20)
int api__jraw(struct cbb *b, const char *s) MN_WUR;
int api__ju64(struct cbb *b, uint64_t v) MN_WUR;
/* api__jb64 writes "<base64 of data>" with the quotes. */
int api__jb64(struct cbb *b, const uint8_t *data, size_t len) MN_WUR;
/* api__jstr writes a JSON string literal of |s| (escaped). */
int api__jstr(struct cbb *b, const char *s, size_t len) MN_WUR;
/* api__finish_json moves |b| into |resp| with |status|; on failure sets 500. */
void api__finish_json(struct api_response *resp, int status, struct cbb *b);

/* Query strings: "a=1&b=2", values percent-decoded ('+' is kept as '+', since
 * CT clients send base64 in queries and base64 has no spaces). */
#define API_MAX_PARAMS 8
#define API_MAX_PARAM_LEN 512
struct api_params {
	size_t num;
	struct {
		char name[32];
		char value[API_MAX_PARAM_LEN + 1];
		size_t value_len;
	} p[API_MAX_PARAMS];
};
/* api__parse_query returns 0 or MN_EMALFORMED (bad escape, too many or too long
 * parameters, a repeated name, an empty name). */
int api__parse_query(struct api_params *out, const char *q, size_t len);
/* api__param returns the value of |name| or NULL. */
const char *api__param(const struct api_params *p, const char *name, size_t *out_len);
/* api__param_u64 parses a decimal uint64 (digits only, no sign, no leading
 * junk, no overflow). Returns 1 or 0. */
int api__param_u64(const char *s, size_t len, uint64_t *out) MN_WUR;

#endif

/* Endpoints, for routing and metrics. */
enum api_endpoint {
	EP_ADD_CHAIN,
	EP_ADD_PRE_CHAIN,
	EP_GET_STH,
	EP_GET_STH_CONSISTENCY,
	EP_GET_PROOF_BY_HASH,
	EP_GET_ENTRIES,
	EP_GET_ROOTS,
	EP_GET_ENTRY_AND_PROOF,
	EP_MN_INFO,
	EP_MN_GET_ROOTS,
	EP_METRICS,
	EP_HEALTHZ,
	EP_UNKNOWN,
	EP_COUNT
};

struct api;
/* RFC 6962 section 4 handlers (ct.c). Each fills |resp| and returns API_DONE,
 * or API_ASYNC for a submission that waits for its commit. */
int api__add_chain(struct api *api, const struct api_request *req,
		   struct api_response *resp, int precert, api_done_fn done,
		   void *done_ctx);
void api__get_sth(struct api *api, const struct api_params *q, struct api_response *resp);
void api__get_sth_consistency(struct api *api, const struct api_params *q,
			      struct api_response *resp);
void api__get_proof_by_hash(struct api *api, const struct api_params *q,
			    struct api_response *resp);
void api__get_entries(struct api *api, const struct api_params *q,
		      struct api_response *resp);
void api__get_roots(struct api *api, const struct api_params *q, struct api_response *resp);
/* api__mn_get_roots: /mn/v1/get-roots?class=tls|smime, one root set. */
void api__mn_get_roots(struct api *api, const struct api_params *q,
		       struct api_response *resp);
void api__get_entry_and_proof(struct api *api, const struct api_params *q,
			      struct api_response *resp);
void api__info(struct api *api, struct api_response *resp);
/* api__config: the configuration |api| serves. */
const struct api_config *api__config(const struct api *api);
/* api__count records one answered request for metrics. */
void api__count(struct api *api, enum api_endpoint ep, int status, uint64_t ns);
/* api__status_for_err maps an MN_E* to an HTTP status and error_code. */
int api__status_for_err(int err, const char **out_code);
