/* bench/lib/chain.h: the add-chain fixtures of bench_http and bench_mn: an
 * RSA-2048 root and intermediate like real CAs, ECDSA P-256 leaves (fast to
 * generate), and the add-chain request of a [leaf, intermediate] chain.
 * Certificates come from tests/lib/pki.h; the caller frees them with pki_free. */
#ifndef MN_BENCH_CHAIN_H
#define MN_BENCH_CHAIN_H

#include <stddef.h>
#include <stdint.h>

struct pki_cert;
struct post_req;
struct logd_proc;

/* chain_ca makes the root and the intermediate, valid from a day before |now|
 * for ten years, and writes the root as PEM to |roots_path| (logd's
 * --tls-roots); load_die on failure. */
void chain_ca(int64_t now, const char *roots_path, struct pki_cert **out_root,
	      struct pki_cert **out_ca);
/* chain_leaf issues leaf |i| under |ca|: dNSName "<prefix><i>-<now>.bench.example",
 * valid from a day before |now| for 90 days. Returns NULL on failure. */
struct pki_cert *chain_leaf(const struct pki_cert *ca, const char *prefix, size_t i,
			    int64_t now);
/* chain_precert is chain_leaf for a precertificate (the critical poison
 * extension, RFC 6962 section 3.1), named "<prefix><i>-<now>.pre.bench.example". */
struct pki_cert *chain_precert(const struct pki_cert *ca, const char *prefix, size_t i,
			       int64_t now);
/* chain_fill adds |n| leaves chain_leaf(ca, prefix, i, now) to the logd at
 * 127.0.0.1:|port| with add-chain, one at a time; load_die unless each is
 * answered 200 (a fixture for the read benchmarks, not a load). */
void chain_fill(uint16_t port, const struct pki_cert *ca, const char *prefix, size_t n,
		int64_t now);
/* chain_log starts BUILD/logd on |workdir|/data (--no-map, the root of
 * chain_ca in |workdir|/roots.pem) and fills it with |n| leaves named by
 * |prefix| (chain_fill): the read benchmarks' log; load_die unless its tree
 * then has |n| entries. */
void chain_log(struct logd_proc *lp, const char *build, const char *workdir, const char *prefix,
	       size_t n, int64_t now, struct pki_cert **out_root, struct pki_cert **out_ca);
/* chain_b64 is |c|'s DER in base64, NUL-terminated, malloc'd (load_die if
 * not); its length (without the NUL) in |*out_len| when not NULL. */
char *chain_b64(const struct pki_cert *c, size_t *out_len);
/* chain_req_to is chain_req for the endpoint |path| ("/ct/v1/add-pre-chain"). */
void chain_req_to(struct post_req *out, const char *path, const char *leaf_b64,
		  const char *ca_b64);
/* chain_req fills |out| with the add-chain request of the chain [leaf, ca],
 * both base64 (NUL-terminated); out->data is malloc'd (load_die if not). */
void chain_req(struct post_req *out, const char *leaf_b64, const char *ca_b64);

#endif
