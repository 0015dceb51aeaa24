/*
 * sqlite_walbuf.c - a SQLite VFS over the default one that writes each
 * transaction's WAL frames with one write instead of two per frame.
 *
 * SQLite appends a frame as two writes, its 24-byte header and then the
 * page; a webhook delivery's transaction is about 20 frames, so 40
 * pwrite calls inside the writers' lock, at ~5 us each on this VM. Here
 * contiguous appends to a "-wal" file are gathered in memory and written
 * together when the frame that commits the transaction has been appended
 * (its header's "database size after commit" field is not zero).
 *
 * Why that is enough: SQLite makes frames visible to other connections
 * only after the commit frame is written (it then updates the WAL index
 * in shared memory), so everything it could expose is in the file by
 * then. Between the commit frame and that update SQLite may still write
 * to the WAL (frame headers whose checksums it recomputes, padding
 * frames): those writes go straight through, until the memory barrier
 * it issues on the database file right before the update has passed.
 * Frames of a transaction that has not committed (a cache spill) may
 * wait in memory; any other use of the WAL file first writes what is
 * pending: a read (this connection reading back a frame it spilled, a
 * checkpoint, recovery), a write elsewhere than the end of the pending
 * bytes, sync, truncate, size, file controls and close. A write that
 * fails when the pending bytes go out fails the xWrite that triggered
 * it, as a plain pwrite error would. Every other write (the database, its
 * shared memory, journals) passes straight through.
 *
 * Reads of the database and WAL files are copied from a mapping of the
 * file when it can be mapped (sqlite_mapread.c), read otherwise.
 */
#include "sqlite_walbuf.h"
#include "sqlite_mapread.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Pending bytes above this are written out even without a commit frame:
 * a large transaction streams instead of growing the buffer. */
#define PENDING_MAX (1024 * 1024)
#define FRAME_HEADER 24
#define WRITE_MAX (120 * 1024)

struct wb_file {
	sqlite3_file base;         /* pMethods: ours */
	sqlite3_file *real;        /* the default VFS's file, right after us */
	bool wal;
	bool commit_next;          /* the pending header was a commit frame's */
	bool committed;            /* commit frame out, barrier not yet seen */
	char *buf;                 /* pending WAL bytes, owned */
	size_t len, cap;
	sqlite3_int64 at;          /* file offset of buf[0] */
	struct cv_mapread map;     /* reads of the database and its WAL */
};

/* The WAL file whose commit frame this thread wrote last, until the
 * barrier before SQLite publishes the commit (connections are used by
 * one thread at a time). */
static _Thread_local struct wb_file *committed_wal;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs walbuf_vfs;
static bool map_reads;             /* real_vfs is the unix one */

static struct wb_file *wb(sqlite3_file *f)
{
	return (struct wb_file *)f;
}

/* Writes the pending bytes (if any) with the real file's xWrite, in
 * pieces of at most WRITE_MAX: the unix VFS writes at most 128 KB - 1
 * bytes per call (it masks the count) and reports a write of exactly
 * 128 KB as a full disk. */
static int flush(struct wb_file *f)
{
	int rc = SQLITE_OK;

	for (size_t done = 0; done < f->len && rc == SQLITE_OK; ) {
		size_t n = f->len - done < WRITE_MAX ? f->len - done : WRITE_MAX;
		rc = f->real->pMethods->xWrite(f->real, f->buf + done, (int)n,
		    f->at + (sqlite3_int64)done);
		done += n;
	}
	f->len = 0;
	f->commit_next = false;
	return rc;
}

static int wb_close(sqlite3_file *pf)
{
	struct wb_file *f = wb(pf);
	int rc = flush(f), rc2 = f->real->pMethods->xClose(f->real);

	cv_mapread_close(&f->map);
	free(f->buf);
	f->buf = NULL;
	f->cap = 0;
	if (committed_wal == f)
		committed_wal = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int wb_read(sqlite3_file *pf, void *out, int n, sqlite3_int64 off)
{
	struct wb_file *f = wb(pf);
	int rc = flush(f);

	if (rc != SQLITE_OK)
		return rc;
	if (n > 0 && cv_mapread_copy(&f->map, out, (size_t)n, off))
		return SQLITE_OK;
	return f->real->pMethods->xRead(f->real, out, n, off);
}

/* Appends to the pending bytes; false when out of memory (the caller
 * then writes through). */
static bool pend(struct wb_file *f, const void *data, int n)
{
	size_t need = f->len + (size_t)n;

	if (need > f->cap) {
		size_t cap = f->cap ? f->cap : 128 * 1024;
		char *b;
		while (cap < need)
			cap *= 2;
		if (!(b = realloc(f->buf, cap)))
			return false;
		f->buf = b;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, (size_t)n);
	f->len = need;
	return true;
}

/* Bytes 4-7 of a frame header: the database size after a commit, zero
 * for the other frames of a transaction. */
static bool commit_header(const void *data, int n)
{
	const unsigned char *h = data;

	return n == FRAME_HEADER && (h[4] | h[5] | h[6] | h[7]) != 0;
}

static int wb_write(sqlite3_file *pf, const void *data, int n,
    sqlite3_int64 off)
{
	struct wb_file *f = wb(pf);
	bool was_commit = f->commit_next;
	int rc;

	if (!f->wal || f->committed)
		return f->real->pMethods->xWrite(f->real, data, n, off);
	/* Not an append to what is pending: out it goes first. */
	if (f->len && off != f->at + (sqlite3_int64)f->len) {
		if ((rc = flush(f)) != SQLITE_OK)
			return rc;
		was_commit = false;
	}
	if (!f->len)
		f->at = off;
	if (f->len + (size_t)n > PENDING_MAX || !pend(f, data, n)) {
		if ((rc = flush(f)) != SQLITE_OK)
			return rc;
		rc = f->real->pMethods->xWrite(f->real, data, n, off);
		/* a commit header written through: its page still goes out
		 * at once, from the pending path */
		f->commit_next = rc == SQLITE_OK && commit_header(data, n);
		return rc;
	}
	if (was_commit) {             /* the commit frame's page: all of it */
		rc = flush(f);
		if (committed_wal && committed_wal != f)
			committed_wal->committed = false;
		f->committed = true;
		committed_wal = f;
		return rc;
	}
	f->commit_next = commit_header(data, n);
	return SQLITE_OK;
}

static int wb_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
	struct wb_file *f = wb(pf);
	int rc = flush(f);

	cv_mapread_truncated(&f->map, size);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real,
	    size);
}

static int wb_sync(sqlite3_file *pf, int flags)
{
	struct wb_file *f = wb(pf);
	int rc = flush(f);

	return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int wb_size(sqlite3_file *pf, sqlite3_int64 *size)
{
	struct wb_file *f = wb(pf);
	int rc = flush(f);

	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real,
	    size);
}

static int wb_lock(sqlite3_file *pf, int level)
{
	return wb(pf)->real->pMethods->xLock(wb(pf)->real, level);
}

static int wb_unlock(sqlite3_file *pf, int level)
{
	return wb(pf)->real->pMethods->xUnlock(wb(pf)->real, level);
}

static int wb_reserved(sqlite3_file *pf, int *out)
{
	return wb(pf)->real->pMethods->xCheckReservedLock(wb(pf)->real, out);
}

static int wb_control(sqlite3_file *pf, int op, void *arg)
{
	struct wb_file *f = wb(pf);
	int rc = flush(f);

	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real,
	    op, arg);
}

static int wb_sector(sqlite3_file *pf)
{
	return wb(pf)->real->pMethods->xSectorSize(wb(pf)->real);
}

static int wb_device(sqlite3_file *pf)
{
	return wb(pf)->real->pMethods->xDeviceCharacteristics(wb(pf)->real);
}

static int wb_shm_map(sqlite3_file *pf, int region, int size, int extend,
    void volatile **out)
{
	return wb(pf)->real->pMethods->xShmMap(wb(pf)->real, region, size,
	    extend, out);
}

static int wb_shm_lock(sqlite3_file *pf, int offset, int n, int flags)
{
	return wb(pf)->real->pMethods->xShmLock(wb(pf)->real, offset, n, flags);
}

/* Called on the database file right before SQLite publishes a commit in
 * the WAL index: from here on this thread's WAL writes gather again. */
static void wb_shm_barrier(sqlite3_file *pf)
{
	wb(pf)->real->pMethods->xShmBarrier(wb(pf)->real);
	if (committed_wal) {
		committed_wal->committed = false;
		committed_wal = NULL;
	}
}

static int wb_shm_unmap(sqlite3_file *pf, int del)
{
	return wb(pf)->real->pMethods->xShmUnmap(wb(pf)->real, del);
}

static int wb_fetch(sqlite3_file *pf, sqlite3_int64 off, int n, void **out)
{
	return wb(pf)->real->pMethods->xFetch(wb(pf)->real, off, n, out);
}

static int wb_unfetch(sqlite3_file *pf, sqlite3_int64 off, void *p)
{
	return wb(pf)->real->pMethods->xUnfetch(wb(pf)->real, off, p);
}

/* Version 3 methods; every file the default VFS opens has them (unix). */
static const sqlite3_io_methods wb_methods = {
	3, wb_close, wb_read, wb_write, wb_truncate, wb_sync, wb_size,
	wb_lock, wb_unlock, wb_reserved, wb_control, wb_sector, wb_device,
	wb_shm_map, wb_shm_lock, wb_shm_barrier, wb_shm_unmap, wb_fetch,
	wb_unfetch
};

static int wb_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *pf,
    int flags, int *out_flags)
{
	struct wb_file *f = wb(pf);
	int rc;

	(void)vfs;
	memset(f, 0, sizeof *f);
	f->real = (sqlite3_file *)(f + 1);
	rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK || !f->real->pMethods)
		return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
	if (f->real->pMethods->iVersion < 3) {
		f->real->pMethods->xClose(f->real);
		return SQLITE_CANTOPEN;
	}
	f->wal = (flags & SQLITE_OPEN_WAL) != 0;
	cv_mapread_open(&f->map, f->real, map_reads && (flags &
	    (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) ? name : NULL);
	pf->pMethods = &wb_methods;
	return SQLITE_OK;
}

const char *cv_sqlite_walbuf_vfs(void)
{
	if (walbuf_vfs.zName)
		return walbuf_vfs.zName;
	if (!(real_vfs = sqlite3_vfs_find(NULL)))
		return NULL;
	map_reads = strncmp(real_vfs->zName, "unix", 4) == 0 &&
	    real_vfs->szOsFile >= (int)sizeof(struct cv_mapread_head);
	walbuf_vfs = *real_vfs;
	walbuf_vfs.pNext = NULL;
	walbuf_vfs.szOsFile = (int)sizeof(struct wb_file) + real_vfs->szOsFile;
	walbuf_vfs.zName = "cv-walbuf";
	walbuf_vfs.xOpen = wb_open;
	if (sqlite3_vfs_register(&walbuf_vfs, 0) != SQLITE_OK) {
		walbuf_vfs.zName = NULL;
		return NULL;
	}
	return walbuf_vfs.zName;
}
