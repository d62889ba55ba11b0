/* reload.h: SIGHUP reload of one log's trust set (TLS and S/MIME roots, the
 * OpenPGP certifiers) and of its witness policy (logd/cosign.h) from the
 * files it was started with.
 *
 * A reload reads every file anew, builds a complete new set, and only if all
 * of it loaded swaps it into the log's api (api_set_trust): requests already
 * in a handler finish with the set they started with, connections and queued
 * submissions are not touched; the new witness policy goes to the collector,
 * which uses it from its next round (cosign_commit). A reload that fails
 * changes nothing (neither the trust set nor the policy) and logs one line
 * "reload_failed log=... file=... reason=..." saying which file (a policy
 * error: FILE:LINE) and why. One struct logd_reload per log; logd calls logd_reload on each log for
 * one SIGHUP. */
#ifndef MN_LOGD_RELOAD_H
#define MN_LOGD_RELOAD_H

struct api;
struct cosign;
struct prom;
struct logd_reload;

/* logd_reload_new remembers the files of one log's trust set: |tls_roots|
 * (PEM, required), |smime_roots| and |certifiers| (NULL: the log has none and
 * a reload keeps none). |log_name| names the log in log lines and is NULL for
 * a single-log logd. Strings are copied; |api| is borrowed and must outlive
 * the reloader. Returns 0 and sets *out, MN_EINVAL, or MN_ENOMEM. */
int logd_reload_new(struct logd_reload **out, struct api *api, const char *log_name,
		    const char *tls_roots, const char *smime_roots, const char *certifiers);
/* logd_reload_set_witness makes the reload also reload the tlog-policy file
 * |policy| (copied) into |wit| (borrowed; it must outlive the reloader).
 * 0 or MN_ENOMEM. */
int logd_reload_set_witness(struct logd_reload *r, const char *policy, struct cosign *wit);
/* logd_reload_free frees |r|; NULL is a no-op. */
void logd_reload_free(struct logd_reload *r);

/* logd_reload loads the files and swaps the new set in. Returns 0, or the
 * MN_E* of the first file that did not load (the old set stays; logged with
 * the file and the reason). Blocks until requests that use the old set have
 * left their handlers (see api_set_trust); call it from the signal thread,
 * never from a handler. Concurrent calls on one |r| are serialised. */
int logd_reload(struct logd_reload *r);

/* logd_reload_metrics adds mn_reloads_total{result="ok"|"failed"} and
 * mn_reload_last_successful (1 or 0) to |w|, with the label list |labels|. */
void logd_reload_metrics(struct logd_reload *r, struct prom *w, const char *labels);

#endif
