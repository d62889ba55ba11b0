/* chain.c: see chain.h. */
#include "bench/lib/chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "bench/lib/load.h"
#include "bench/lib/post.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define DAY 86400

void chain_ca(int64_t now, const char *roots_path, struct pki_cert **out_root,
	      struct pki_cert **out_ca)
{
	struct pki_cert *root = pki_root("Bench Root", PKI_RSA), *ca;
	const struct pki_cert *bundle[1];

	ca = root ? pki_issue(root, "Bench CA", NULL, 0, PKI_CA | PKI_RSA, now - DAY,
			      now + 3650 * (int64_t)DAY)
		  : NULL;
	if (ca == NULL)
		load_die("cannot create the root and intermediate");
	bundle[0] = root;
	if (pki_write_pem(roots_path, bundle, 1) != 0)
		load_die("cannot write the roots PEM");
	*out_root = root;
	*out_ca = ca;
}

struct pki_cert *chain_leaf(const struct pki_cert *ca, const char *prefix, size_t i,
			    int64_t now)
{
	char name[64];
	const char *dns[] = {name};

	snprintf(name, sizeof(name), "%s%zu-%lld.bench.example", prefix, i, (long long)now);
	return pki_issue(ca, name, dns, 1, 0, now - DAY, now + 90 * DAY);
}

struct pki_cert *chain_precert(const struct pki_cert *ca, const char *prefix, size_t i,
			       int64_t now)
{
	char name[64];
	const char *dns[] = {name};

	snprintf(name, sizeof(name), "%s%zu-%lld.pre.bench.example", prefix, i, (long long)now);
	return pki_issue(ca, name, dns, 1, PKI_POISON, now - DAY, now + 90 * DAY);
}

void chain_req(struct post_req *out, const char *leaf_b64, const char *ca_b64)
{
	chain_req_to(out, "/ct/v1/add-chain", leaf_b64, ca_b64);
}

void chain_req_to(struct post_req *out, const char *path, const char *leaf_b64,
		  const char *ca_b64)
{
	size_t n = strlen(leaf_b64) + strlen(ca_b64) + 32;
	char *body = load_xmalloc(n);

	snprintf(body, n, "{\"chain\":[\"%s\",\"%s\"]}", leaf_b64, ca_b64);
	post_req_json(out, path, body);
	free(body);
}

void chain_fill(uint16_t port, const struct pki_cert *ca, const char *prefix, size_t n,
		int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		struct pki_cert *leaf = chain_leaf(ca, prefix, i, now);
		const struct pki_cert *chain[2] = {leaf, ca};
		char *body = leaf != NULL ? ctc_chain_json(chain, 2) : NULL;
		struct http_resp r;

		if (body == NULL ||
		    http_do(port, "POST", "/ct/v1/add-chain", NULL, body, strlen(body), &r) != 0)
			load_die("add-chain failed");
		if (r.status != 200)
			load_die("add-chain answered not 200");
		http_resp_free(&r);
		free(body);
		pki_free(leaf);
	}
}

char *chain_b64(const struct pki_cert *c, size_t *out_len)
{
	char *b = load_xmalloc(mn_b64_encoded_len(c->der_len) + 1);
	size_t n = mn_b64_encode(b, c->der, c->der_len);

	if (out_len != NULL)
		*out_len = n;
	return b;
}

void chain_log(struct logd_proc *lp, const char *build, const char *workdir, const char *prefix,
	       size_t n, int64_t now, struct pki_cert **out_root, struct pki_cert **out_ca)
{
	char roots[600], data[600];

	snprintf(roots, sizeof(roots), "%s/roots.pem", workdir);
	snprintf(data, sizeof(data), "%s/data", workdir);
	chain_ca(now, roots, out_root, out_ca);
	{
		const char *args[] = {"--no-map", "--data", data, "--tls-roots", roots, NULL};
		load_logd_start(lp, build, data, args);
	}
	chain_fill(lp->port, *out_ca, prefix, n, now);
	if (load_tree_size(lp->port) != n)
		load_die("unexpected tree size");
}
