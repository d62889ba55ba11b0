/* keys.h: the log's signing key (ECDSA P-256, PEM) and its VRF key (a P-256
 * private key too, used for ECVRF-P256-SHA256-TAI, common/vrf.h). */
#ifndef MN_LOGD_KEYS_H
#define MN_LOGD_KEYS_H

#include "common/vrf.h"
#include "entry/ct.h"

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

#endif
