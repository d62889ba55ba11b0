/* metrics.c: /metrics over one or several logs (see metrics.h). */
#include "logd/metrics.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <uv.h>

#include "api/api.h"
#include "common/prom.h"
#include "common/version.h"
#include "logd/http.h"
#include "logd/mirror.h"
#include "logd/mirror_vrf.h"
#include "logd/publish.h"
#include "logd/cosign.h"
#include "logd/reload.h"
#include "logd/sequencer.h"
#include "storage/storage.h"

void logd_metrics_write(const struct logd_metrics *m, struct prom *w)
{
	char info[256], v1[64], v2[64], v3[64];

	/* the build_info pattern: a constant 1 whose labels carry the versions */
	prom_label_escape(v1, sizeof(v1), MN_VERSION);
	prom_label_escape(v2, sizeof(v2), OpenSSL_version(OPENSSL_VERSION_STRING));
	prom_label_escape(v3, sizeof(v3), uv_version_string());
	snprintf(info, sizeof(info), "version=\"%s\",openssl=\"%s\",libuv=\"%s\"", v1, v2, v3);
	prom_family(w, "mn_build_info", PROM_GAUGE,
		    "Always 1; the labels carry the versions logd was built with.");
	prom_u64(w, NULL, info, 1);
	if (m->srv != NULL)
		http_server_metrics(m->srv, w);
	for (size_t i = 0; i < m->num_logs; i++) {
		const struct logd_metrics_log *l = &m->logs[i];
		char labels[200], esc[160];

		labels[0] = '\0';
		if (l->name != NULL && prom_label_escape(esc, sizeof(esc), l->name))
			snprintf(labels, sizeof(labels), "log=\"%s\"", esc);
		if (l->api != NULL)
			api_metrics(l->api, w, labels);
		if (l->seq != NULL)
			seq_metrics(l->seq, w, labels);
		if (l->store != NULL)
			store_metrics(l->store, w, labels);
		if (l->reload != NULL)
			logd_reload_metrics(l->reload, w, labels);
		if (l->mirror != NULL)
			mirror_metrics(l->mirror, w, labels);
		if (l->mirror_vrf != NULL)
			mirror_vrf_metrics(l->mirror_vrf, w, labels);
		if (l->pub != NULL)
			publish_metrics(l->pub, w, labels);
		if (l->wit != NULL)
			cosign_metrics(l->wit, w, labels);
	}
}

void logd_metrics_fn(void *ctx, struct prom *w)
{
	logd_metrics_write(ctx, w);
}
