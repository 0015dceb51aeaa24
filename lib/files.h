/*
 * files.h - small file-system helpers shared by the modules that write
 * files (the SQLite store, snapshots, calibrated profiles, exports).
 */
#ifndef CV_FILES_H
#define CV_FILES_H

/* mkdir -p of the directories leading to path (not path itself), mode
 * 0755 before the umask. Returns 0, or -1 with errno set. */
int cv_mkdir_parents(const char *path);

#endif
