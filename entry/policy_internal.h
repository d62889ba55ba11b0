/* policy_internal.h: what policy.c and policy_jcs.c share. */
#ifndef MN_ENTRY_POLICY_INTERNAL_H
#define MN_ENTRY_POLICY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define TWO_53 (UINT64_C(1) << 53) /* JSON integers beyond are not exact in I-JSON */

/* policy__json_load_strict parses a whole JSON object or array, refusing
 * duplicate names at every depth and NUL in strings (*out: json_decref).
 * |header| picks the reasons (JWS header or payload). 0, MN_EMALFORMED with
 * *reason set, MN_ENOMEM. */
int policy__json_load_strict(json_t **out, const uint8_t *in, size_t in_len, int header,
			     const char **reason);
/* policy__jcs_load parses |in| and requires it to be its own canonical form
 * (RFC 8785). Same returns. */
int policy__jcs_load(json_t **out, const uint8_t *in, size_t in_len, const char **reason);

#endif
