/*
 * worker_loop.h - the queue worker (operations.md 4): a daemon that runs
 * one queue cycle every poll interval, or a single cycle for cron.
 */
#ifndef CV_WORKER_LOOP_H
#define CV_WORKER_LOOP_H

#include <stdbool.h>

#include "config.h"
#include "store.h"

/* Runs the worker on an open store until SIGTERM/SIGINT (or one cycle
 * when once). Installs its own signal handlers. Returns the exit code. */
int cv_worker_main(const struct cv_config *cfg, struct cv_store *s, bool once);

#endif
