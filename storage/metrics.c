/* metrics.c: the store's Prometheus families (common/prom.h). */
#include "storage/storage.h"

#include "common/prom.h"

void store_metrics(struct store *s, struct prom *w, const char *labels)
{
	struct store_stats st;

	store_get_stats(s, &st);
	prom_family(w, "mn_store_map_bytes", PROM_GAUGE,
		    "LMDB map size: address space reserved for the data file.");
	prom_u64(w, labels, NULL, st.map_size);
	prom_family(w, "mn_store_used_bytes", PROM_GAUGE,
		    "LMDB pages in use times the page size.");
	prom_u64(w, labels, NULL, st.used_bytes);
	prom_family(w, "mn_store_file_bytes", PROM_GAUGE, "Size of data.mdb on disk.");
	prom_u64(w, labels, NULL, st.file_bytes);
	prom_family(w, "mn_store_upper_tiles", PROM_GAUGE,
		    "Complete upper hash tiles held in memory.");
	prom_u64(w, labels, NULL, st.upper_tiles);
	prom_family(w, "mn_store_map_tiles_bytes", PROM_GAUGE,
		    "Pages of the lookup map's tiles database times the page size.");
	prom_u64(w, labels, NULL, st.map_tiles_bytes);
	prom_family(w, "mn_store_map_items_bytes", PROM_GAUGE,
		    "Pages of the lookup map's long lists times the page size.");
	prom_u64(w, labels, NULL, st.map_items_bytes);
}
