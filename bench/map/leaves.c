/* leaves.c: what bench_map's parts store (bench/map/bench_map.h): the two
 * certificate templates, the leaves made from them with their index keys and
 * map keys, signed STHs, and random map keys. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/lib/load.h"
#include "bench/lib/sth.h"
#include "bench/map/bench_map.h"
#include "common/bytes.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "merkle/merkle.h"
#include "tests/lib/pki.h"

/* --- certificates ----------------------------------------------------------- */

struct tmpl bmap_tmpls[2];
int bmap_p256;

static void make_tmpl(struct tmpl *t, const struct pki_cert *ca, size_t num_dns)
{
	static const char *const dns[MAX_NAMES] = {
		"d0000000-bench-online-shop.com", "www.d0000000-bench-online-shop.com",
		"mail.d0000000-bench-online-shop.com"};
	struct pki_opts o = {0};
	struct pki_cert *c;
	uint8_t serial[8];
	const uint8_t *p;

	o.cn = "d0000000-bench-online-shop.com";
	/* more of what real certificates carry, for their size */
	o.eku = "serverAuth,clientAuth";
	o.dns = dns;
	o.num_dns = num_dns;
	o.flags = bmap_p256 ? 0 : PKI_RSA;
	o.not_before = pki_now() - 86400;
	o.not_after = o.not_before + 90 * 86400;
	o.serial = SERIAL;
	c = pki_issue_opts(ca, &o);
	if (c == NULL || c->der_len > sizeof(t->der))
		load_die("cannot issue a template certificate");
	memcpy(t->der, c->der, c->der_len);
	t->len = c->der_len;
	t->num_dns = num_dns;
	pki_free(c);
	for (size_t off = 0; off < t->len && t->num_names < 8;) {
		p = memmem(t->der + off, t->len - off, "d0000000", 8);
		if (p == NULL)
			break;
		t->name_off[t->num_names++] = (size_t)(p - t->der) + 1;
		off = (size_t)(p - t->der) + 8;
	}
	mn_put_be64(serial, SERIAL);
	p = memmem(t->der, t->len, serial, 8);
	if (p == NULL || t->num_names < num_dns)
		load_die("template certificate: names or serial not found");
	t->serial_off = (size_t)(p - t->der);
}

void bmap_templates(void)
{
	struct pki_cert *ca = pki_root("Bench Map CA", bmap_p256 ? 0 : PKI_RSA);

	if (ca == NULL)
		load_die("cannot make the CA");
	make_tmpl(&bmap_tmpls[0], ca, 2);
	make_tmpl(&bmap_tmpls[1], ca, 3);
	pki_free(ca);
	fprintf(stderr, "bench_map: certificates of %zu and %zu bytes\n", bmap_tmpls[0].len,
		bmap_tmpls[1].len);
}

uint64_t bmap_mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* --- leaves ------------------------------------------------------------------- */

uint8_t bmap_sct[SCT_LEN];

void bmap_gen_init(struct gen *g, uint64_t domains)
{
	g->h = merkle_hasher_new();
	g->kbuf = malloc(MAPKEYS_MAX * MAP_KEY_LEN);
	g->domains = domains;
	g->num_map_keys = 0;
	if (g->h == NULL || g->kbuf == NULL)
		load_die("out of memory");
}

void bmap_gen_cleanup(struct gen *g)
{
	merkle_hasher_free(g->h);
	free(g->kbuf);
}

/* bmap_gen_leaf makes leaf |i| into |gl| and |l|; with |map_keys| its map keys too
 * (mapkeys_leaf, as the sequencer's submitters do). */
void bmap_gen_leaf(struct gen *g, uint64_t i, struct gleaf *gl, struct store_leaf *l,
		   int map_keys)
{
	const struct tmpl *t = &bmap_tmpls[i & 1];
	uint8_t der[LEAF_MAX];
	char digits[24], name[64];
	uint64_t dom = bmap_mix(i) % g->domains % 10000000u;
	struct ct_entry e = {0};
	struct cbb b;
	size_t len, nk = 0;
	static const char *const pre[MAX_NAMES] = {"", "www.", "mail."};

	memcpy(der, t->der, t->len);
	snprintf(digits, sizeof(digits), "%0*" PRIu64, DIGITS, dom);
	for (size_t k = 0; k < t->num_names; k++)
		memcpy(der + t->name_off[k], digits, DIGITS);
	mn_put_be64(der + t->serial_off, (SERIAL & 0xff00000000000000ull) | i);
	e.timestamp = bmap_base_ms + i;
	e.entry_type = CT_X509_ENTRY;
	e.body = der;
	e.body_len = t->len;
	if (!cbb_init(&b, LEAF_MAX, LEAF_MAX) || !ct_write_leaf(&b, &e) ||
	    (len = cbb_len(&b)) == 0)
		load_die("cannot encode a leaf");
	memcpy(gl->leaf, cbb_data(&b), len);
	cbb_cleanup(&b);
	memset(l, 0, sizeof(*l));
	l->leaf_input = gl->leaf;
	l->leaf_input_len = len;
	l->extra = gl->extra;
	l->extra_len = sizeof(gl->extra);
	l->sct = bmap_sct;
	l->sct_len = sizeof(bmap_sct);
	merkle_leaf_hash(g->h, l->leaf_hash, gl->leaf, len);
	memcpy(l->dedup_key, l->leaf_hash, 32);
	l->dedup_key[0] ^= 0xa5;
	for (size_t k = 0; k < t->num_dns; k++) {
		int n = snprintf(name, sizeof(name), "%sd%s-bench-online-shop.com", pre[k],
				 digits);
		int kl = names_dns_key(gl->ikeys[k], NAMES_MAX_KEY_LEN, name, (size_t)n,
				       NAMES_CLASS_TLS);
		if (kl <= 0)
			load_die("cannot make an index key");
		gl->keys[k].index = STORE_IDX_DNS;
		gl->keys[k].key_len = (uint8_t)kl;
		gl->keys[k].key = gl->ikeys[k];
	}
	merkle_sha256(g->h, gl->thumb, der, t->len);
	gl->keys[t->num_dns].index = STORE_IDX_CERT;
	gl->keys[t->num_dns].key_len = 32;
	gl->keys[t->num_dns].key = gl->thumb;
	l->keys = gl->keys;
	l->num_keys = t->num_dns + 1;
	if (map_keys) {
		int cut = 0;
		if (mapkeys_leaf(g->h, gl->leaf, len, g->kbuf, &nk, &cut) != 0 || cut ||
		    nk > MAX_KEYS || nk < 2)
			load_die("mapkeys_leaf: unexpected keys");
		memcpy(gl->mk, g->kbuf, nk * MAP_KEY_LEN);
		l->map_keys = (const uint8_t(*)[32])gl->mk;
		l->num_map_keys = nk;
		g->num_map_keys += nk;
	}
}

/* --- STHs (as logd/sequencer.c makes them) ----------------------------------- */

void bmap_sign_sth(struct store_sth *sth, uint64_t size, const uint8_t root[32],
		   uint64_t ts)
{
	sth->tree_size = size;
	sth->timestamp = ts;
	memcpy(sth->root, root, 32);
	bench_sign_sth(bmap_signer, sth);
}

/* --- random keys --------------------------------------------------------------- */

void bmap_rand_key(uint8_t out[32], uint64_t i, uint64_t salt)
{
	for (int k = 0; k < 4; k++) {
		uint64_t z = bmap_mix(i * 4 + (uint64_t)k + salt);
		memcpy(out + 8 * k, &z, 8);
	}
}

int bmap_kv_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MAP_KEY_LEN);
}
