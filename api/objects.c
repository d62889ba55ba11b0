/* objects.c: which static objects (api/static.c, docs/tiles.md) a log adds
 * when it grows from one published size to another: the publisher's list
 * (logd/publish.h). Pure computation. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"

int api_tile_path(char *out, size_t cap, int level, uint64_t n, unsigned width)
{
	char num[64];
	size_t off = 0;
	uint64_t d = 1;
	int k;

	while (n / d >= 1000)
		d *= 1000;
	for (; d > 0; d /= 1000) {
		k = snprintf(num + off, sizeof(num) - off, "%s%s%03u", off ? "/" : "",
			     d > 1 ? "x" : "", (unsigned)(n / d % 1000));
		if (k < 0 || (size_t)k >= sizeof(num) - off)
			return 0;
		off += (size_t)k;
	}
	if (level < 0)
		k = width < 256 ? snprintf(out, cap, "/tile/data/%s.p/%u", num, width)
				: snprintf(out, cap, "/tile/data/%s", num);
	else
		k = width < 256 ? snprintf(out, cap, "/tile/%d/%s.p/%u", level, num, width)
				: snprintf(out, cap, "/tile/%d/%s", level, num);
	return k > 0 && (size_t)k < cap;
}

/* tiles of one level: nodes [0, new_nodes) at level 8L, minus what the tiles
 * at old_nodes already were. */
static int level_tiles(int level, uint64_t old_nodes, uint64_t new_nodes, api_object_fn fn,
		       void *ctx)
{
	char path[API_MAX_OBJECT_PATH];
	uint64_t first, last;
	int ret;

	if (new_nodes == 0 || new_nodes <= old_nodes)
		return 0;
	first = old_nodes >> 8;
	last = (new_nodes - 1) >> 8;
	for (uint64_t n = first; n <= last; n++) {
		uint64_t end = new_nodes - n * 256;
		unsigned w = end >= 256 ? 256 : (unsigned)end;
		/* the tile as it was at the old size: unchanged, already there */
		if (n == first && old_nodes - n * 256 == w)
			continue;
		if (!api_tile_path(path, sizeof(path), level, n, w))
			return -1;
		ret = fn(ctx, path, strlen(path));
		if (ret != 0)
			return ret;
	}
	return 0;
}

int api_static_objects(uint64_t old_size, uint64_t new_size, api_object_fn fn, void *ctx)
{
	int ret;

	if (new_size <= old_size)
		return 0;
	ret = level_tiles(-1, old_size, new_size, fn, ctx);
	for (int l = 0; ret == 0 && l < 8; l++) {
		unsigned sh = 8u * (unsigned)l;
		ret = level_tiles(l, old_size >> sh, new_size >> sh, fn, ctx);
	}
	return ret;
}
