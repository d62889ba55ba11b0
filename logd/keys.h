/* keys.h: the log's signing key (ECDSA P-256, PEM) and its VRF key (a P-256
 * private key too, used for ECVRF-P256-SHA256-TAI, common/vrf.h). */
#ifndef MN_LOGD_KEYS_H
#define MN_LOGD_KEYS_H

#include "common/vrf.h"
#include "entry/ct.h"
#include "entry/note.h"

/* logd_key_load loads the PEM private key at |path|; if the file does not exist
 * and |generate| is set, generates a P-256 key and writes it with mode 0600
 * (O_EXCL, fsynced) first. Sets *out to a new signer. Returns 0, MN_ENOTFOUND
 * (missing and !generate), MN_EMALFORMED (unreadable or not a P-256 private
 * key), MN_EIO (cannot create). Every failure is logged with the path. */
int logd_key_load(struct ct_signer **out, const char *path, int generate);

/* logd_vrf_key_load is logd_key_load for the VRF key: the PEM P-256 private
 * key at |path|, generated (mode 0600, O_EXCL, fsynced) if missing and
 * |generate| is set. Sets *out (vrf_key_free). Same returns. It must be a
 * different key from the signing key: the two are used with different
 * algorithms, and a key should serve one. */
int logd_vrf_key_load(struct vrf_key **out, const char *path, int generate);

/* logd_note_key_load loads the Ed25519 PEM private key of the checkpoint's
 * second note signature (entry/note.h) at |path| under the key name |origin|,
 * generated (mode 0600, O_EXCL, fsynced) if missing and |generate| is set.
 * Same returns as logd_key_load, and MN_EINVAL if |origin| is not a valid
 * key name. */
int logd_note_key_load(struct note_signer **out, const char *path, int generate,
		       const char *origin);

/* logd_default_origin writes the checkpoint origin: |origin| if given, else
 * |url| without its scheme and trailing slashes (static-ct-api: the submission
 * prefix as a schema-less URL), else "HOST:PORT" of the listen address. */
void logd_default_origin(char *out, size_t out_len, const char *origin, const char *url,
			 const char *host, unsigned port);

#endif
