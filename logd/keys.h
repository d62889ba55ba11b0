/* keys.h: the log's signing key (ECDSA P-256, PEM). */
#ifndef MN_LOGD_KEYS_H
#define MN_LOGD_KEYS_H

#include "entry/ct.h"

/* logd_key_load loads the PEM private key at |path|; if the file does not exist
 * and |generate| is set, generates a P-256 key and writes it with mode 0600
 * (O_EXCL, fsynced) first. Sets *out to a new signer. Returns 0, MN_ENOTFOUND
 * (missing and !generate), MN_EMALFORMED (unreadable or not a P-256 private
 * key), MN_EIO (cannot create). Every failure is logged with the path. */
int logd_key_load(struct ct_signer **out, const char *path, int generate);

#endif
