/* json.c: strict access to the fields of a log's JSON responses: the type is
 * checked, integers must be non-negative, base64 must be canonical. */
#include <stdlib.h>
#include <string.h>

#include "client/mnctl.h"
#include "common/b64.h"

int mnctl_json_u64(const json_t *obj, const char *key, uint64_t *out)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return 0;
	*out = (uint64_t)json_integer_value(v);
	return 1;
}

int mnctl_json_b64_value(const json_t *v, uint8_t **out, size_t *out_len, size_t max_len)
{
	*out = NULL;
	*out_len = 0;
	if (!json_is_string(v))
		return 0;
	return mn_b64_decode(out, out_len, json_string_value(v), json_string_length(v),
			     max_len) == 0;
}

int mnctl_json_b64(const json_t *obj, const char *key, uint8_t **out,
		   size_t *out_len, size_t max_len)
{
	return mnctl_json_b64_value(json_object_get(obj, key), out, out_len, max_len);
}

int mnctl_json_b64_fixed(const json_t *obj, const char *key, uint8_t *out, size_t len)
{
	uint8_t *p;
	size_t l;

	if (!mnctl_json_b64(obj, key, &p, &l, len))
		return 0;
	if (l != len) {
		free(p);
		return 0;
	}
	memcpy(out, p, len);
	free(p);
	return 1;
}

json_t *mnctl_json_b64_new(const uint8_t *in, size_t len)
{
	char *s = malloc(mn_b64_encoded_len(len) + 1);
	json_t *j;

	if (s == NULL)
		return NULL;
	mn_b64_encode(s, in, len);
	j = json_string(s);
	free(s);
	return j;
}
