/* bench/lib/sth.h: a signed tree head for benchmarks that write a store
 * directly (bench_lookup, bench_scale, bench_map), made as logd's sequencer
 * makes it: the RFC 6962 section 3.5 signature, TLS-encoded
 * (DigitallySigned), in struct store_sth. */
#ifndef MN_BENCH_STH_H
#define MN_BENCH_STH_H

#include "entry/ct.h"
#include "storage/storage.h"

/* bench_sign_sth signs |sth|'s timestamp, tree_size and root with |signer|
 * into its sig and sig_len, or load_die. */
void bench_sign_sth(const struct ct_signer *signer, struct store_sth *sth);

#endif
