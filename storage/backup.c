/* backup.c: a consistent copy of a live environment (store_backup). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "storage/internal.h"

static int fsync_path(const char *path, int dir)
{
	int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -1;
	if (fsync(fd) != 0)
		ret = -1;
	close(fd);
	return ret;
}

int store_backup(struct store *s, const char *dest)
{
	char file[PATH_MAX], buf[256];
	struct stat st;
	int rc, retried = 0;

	if (dest == NULL || dest[0] == '\0' ||
	    snprintf(file, sizeof(file), "%s/data.mdb", dest) >= (int)sizeof(file))
		return MN_EINVAL;
	if (mkdir(dest, 0700) != 0 && errno != EEXIST) {
		mn_error("backup_failed", "dest=%s reason=\"%s\"",
			 mn_log_sanitize(buf, sizeof(buf), dest, strlen(dest)), strerror(errno));
		return MN_EIO;
	}
	if (stat(file, &st) == 0) {
		mn_error("backup_failed", "dest=%s reason=\"it already holds a data.mdb\"",
			 mn_log_sanitize(buf, sizeof(buf), dest, strlen(dest)));
		return MN_EEXISTS;
	}
	for (;;) {
		/* Count as a reader, as store_read_begin does, so that a map
		 * resize in this process waits for the copy. */
		pthread_mutex_lock(&s->rd_mu);
		while (s->resizing)
			pthread_cond_wait(&s->rd_cond, &s->rd_mu);
		s->num_active++;
		pthread_mutex_unlock(&s->rd_mu);
		/* One read transaction: the copy is the snapshot the transaction
		 * saw, whatever the writer commits meanwhile. MDB_CP_COMPACT
		 * walks the trees and writes only the pages in use, renumbered,
		 * without the free list. */
		rc = mdb_env_copy2(s->env, dest, MDB_CP_COMPACT);
		pthread_mutex_lock(&s->rd_mu);
		if (--s->num_active == 0)
			pthread_cond_broadcast(&s->rd_cond);
		pthread_mutex_unlock(&s->rd_mu);
		if (rc == MDB_MAP_RESIZED && !retried) {
			/* another process grew the map before the copy's snapshot */
			retried = 1;
			unlink(file);
			if (store__map_resize(s, 0) == 0)
				continue;
		}
		break;
	}
	if (rc == 0 && (fsync_path(file, 0) != 0 || fsync_path(dest, 1) != 0))
		rc = errno != 0 ? errno : EIO;
	if (rc != 0) {
		unlink(file);
		mn_error("backup_failed", "dest=%s reason=\"%s\"",
			 mn_log_sanitize(buf, sizeof(buf), dest, strlen(dest)), mdb_strerror(rc));
		return store__err(rc);
	}
	return 0;
}
