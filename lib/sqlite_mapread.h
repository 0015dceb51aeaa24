/* sqlite_mapread.h - page reads of a database or WAL file copied from a
 * shared read-only mapping instead of one pread each (see
 * sqlite_mapread.c). Used by the cv-walbuf VFS for each file it opens. */
#ifndef CV_SQLITE_MAPREAD_H
#define CV_SQLITE_MAPREAD_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

struct cv_mapread {
	int fd;                    /* borrowed from SQLite's file; -1: off */
	const char *base;          /* the mapping, owned; NULL until used */
	size_t len;                /* its length */
	long long known;           /* bytes the file was last seen to hold */
};

/* What cv_mapread_open reads at the start of a unix VFS file (see
 * unix_fd in sqlite_mapread.c): a VFS whose files are smaller
 * (szOsFile) must not be passed in. */
struct cv_mapread_head {
	const void *methods, *vfs, *inode;
	int fd;
};

/* Serves reads of real, a file the unix VFS opened on path. Off (every
 * read then falls back to the caller) when the descriptor cannot be
 * proven to be open on that very file. Maps nothing yet. */
void cv_mapread_open(struct cv_mapread *m, const sqlite3_file *real,
    const char *path);

/* Copies n bytes at off into out and returns true, or returns false when
 * the caller must read them itself: reads off, or bytes beyond the end of
 * the file (a short read is the VFS's to report). */
bool cv_mapread_copy(struct cv_mapread *m, void *out, size_t n,
    long long off);

/* This connection truncated the file to size: no copy beyond it. */
void cv_mapread_truncated(struct cv_mapread *m, long long size);

/* Unmaps; the descriptor stays SQLite's. */
void cv_mapread_close(struct cv_mapread *m);

/* Reads served from mappings by this process so far (for tests). */
unsigned long long cv_mapread_served(void);

#endif
