/*
 * sqlite_mapread.c - page reads copied from a shared read-only mapping.
 *
 * SQLite drops a connection's whole page cache whenever another process
 * has committed since its last transaction, so with several responders
 * writing in turn every page a transaction touches is read again: about
 * 40 preads per webhook delivery, inside the writers' lock, ~2 us each on
 * this VM. A copy out of a mapping of the same file costs a memcpy.
 * SQLite's own memory-mapped I/O does not help here: it unmaps the whole
 * file each time it sees another process's commit.
 *
 * Why the copy reads what pread would: on Linux a MAP_SHARED mapping and
 * pread see the same page cache, so every write by any process is
 * visible at once. SQLite only reads bytes that exist: WAL frames listed
 * in the WAL index (written before they were listed) and database pages
 * below its snapshot's size; a file is cut shorter only by a checkpoint
 * or a truncate that no reader can still need. The file's size is
 * learned with fstat when a read passes the last size seen, and a read
 * beyond the end is left to the VFS, whose short-read rules apply. (A
 * file cut from outside SQLite's locking while the farm runs would make
 * a copy fault; that would corrupt the database anyway.)
 *
 * The descriptor is SQLite's own: opening and closing another one on the
 * database file would drop the process's POSIX locks on it.
 */
#include "sqlite_mapread.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* Mapped lengths: twice the file, in steps, so a growing file is mapped
 * again only after it doubled. Address space only; nothing is read in
 * until copied. */
#define MAP_STEP (64LL << 20)

static unsigned long long served;

/* The unix VFS's file begins with its methods, its VFS, its inode record
 * and then its descriptor (struct unixFile in SQLite's os_unix.c, laid
 * out that way since 3.7). The descriptor is trusted only when fstat
 * shows it open on the very file at path; with any other layout reads
 * are simply not mapped. */
static int unix_fd(const sqlite3_file *real, const char *path)
{
	struct cv_mapread_head head;
	struct stat a, b;

	memcpy(&head, real, sizeof head);
	if (head.fd < 0 || fstat(head.fd, &a) != 0 || !S_ISREG(a.st_mode) ||
	    stat(path, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return -1;
	return head.fd;
}

void cv_mapread_open(struct cv_mapread *m, const sqlite3_file *real,
    const char *path)
{
	memset(m, 0, sizeof *m);
	m->fd = path && sizeof(void *) >= 8 ? unix_fd(real, path) : -1;
}

static bool remap(struct cv_mapread *m, long long size)
{
	size_t len = (size_t)((2 * size / MAP_STEP + 1) * MAP_STEP);
	void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, m->fd, 0);

	if (p == MAP_FAILED) {
		cv_mapread_close(m);
		m->fd = -1;
		return false;
	}
	if (m->base)
		munmap((void *)m->base, m->len);
	m->base = p;
	m->len = len;
	return true;
}

/* Learns the file's size; false when end is beyond it or the file could
 * not be mapped that far. */
static bool reach(struct cv_mapread *m, long long end)
{
	struct stat st;

	if (fstat(m->fd, &st) != 0)
		return false;
	if ((size_t)st.st_size > m->len && !remap(m, st.st_size))
		return false;
	m->known = st.st_size;
	return end <= m->known;
}

bool cv_mapread_copy(struct cv_mapread *m, void *out, size_t n,
    long long off)
{
	if (m->fd < 0 || off < 0 || n > (size_t)(1LL << 30))
		return false;
	if (off + (long long)n > m->known && !reach(m, off + (long long)n))
		return false;
	memcpy(out, m->base + off, n);
	served++;
	return true;
}

void cv_mapread_truncated(struct cv_mapread *m, long long size)
{
	if (size < m->known)
		m->known = size < 0 ? 0 : size;
}

void cv_mapread_close(struct cv_mapread *m)
{
	if (m->base)
		munmap((void *)m->base, m->len);
	m->base = NULL;
	m->len = 0;
	m->known = 0;
}

unsigned long long cv_mapread_served(void)
{
	return served;
}
