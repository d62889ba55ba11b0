/* vrf.c: GET /mn/v1/vrf?email=ADDR, the VRF proof of an address's pgpaddr:
 * map key on its own (DESIGN.md section 10, docs/tiles.md):
 *
 *   {"email": "<normalized address>", "vrf_proof": "<b64 of pi, 81 bytes>"}
 *
 * the very proof a lookup or resolve answer by that address carries in its
 * map section. A mirror answers a lookup by address with the origin's proof
 * fetched here (logd/mirror_vrf.h); a mirror answers it too, with the
 * origin's proof it verified, so a mirror can follow a mirror. It tells the
 * asker nothing a lookup by the same address would not. */
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "common/vrf.h"
#include "entry/names.h"

int api__vrf(struct api *api, const struct api_params *q, struct api__vrf_ask *vq,
	     struct api_response *resp)
{
	const struct api_config *cfg = api__config(api);
	size_t el;
	const char *email = api__param(q, "email", &el);
	char norm[NAMES_MAX_EMAIL_LEN + 1], key[MAPKEYS_MAX_STR];
	uint8_t proof[VRF_PROOF_LEN];
	struct cbb b;
	int n, err;

	if (email == NULL || q->num != 1) {
		api_response_error(resp, 400, "malformed", "give email (only)");
		return API_DONE;
	}
	n = names_email_normalize(norm, sizeof(norm), email, el, 0);
	if (n < 0) {
		api_response_error(resp, 400, "malformed", "email is not a valid address");
		return API_DONE;
	}
	if (!api__has_vrf(cfg)) {
		if (cfg->mirror_of != NULL)
			api__not_mirrored_vrf(cfg, resp);
		else
			api_response_error(resp, 404, "noVrf", "this log has no VRF key");
		return API_DONE;
	}
	err = api__pgpaddr_key(api, key, proof, norm, (size_t)n, vq);
	if (err == API__VRF_FETCH)
		return err;
	if (err != 0) {
		api__vrf_error(cfg, resp, err);
		return API_DONE;
	}
	if (!cbb_init(&b, 256, 1024) || !api__jraw(&b, "{\"email\":") ||
	    !api__jstr(&b, norm, (size_t)n) || !api__jraw(&b, ",\"vrf_proof\":") ||
	    !api__jb64(&b, proof, VRF_PROOF_LEN) || !api__jraw(&b, "}"))
		cbb_cleanup(&b);
	api__finish_json(resp, 200, &b);
	return API_DONE;
}
