/* sqlite_walbuf.h - a SQLite VFS that writes a transaction's WAL frames
 * with one write and copies page reads from a mapping of the file (see
 * sqlite_walbuf.c). */
#ifndef CV_SQLITE_WALBUF_H
#define CV_SQLITE_WALBUF_H

#include <sqlite3.h>

/* The VFS's name for sqlite3_open_v2, registered (not as the default) on
 * the first call; NULL if it could not be, then use the default VFS.
 * Not thread-safe on its first call. */
const char *cv_sqlite_walbuf_vfs(void);

#endif
