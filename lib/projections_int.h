/*
 * projections_int.h - helpers shared by the projection modules only
 * (health.c, compliance.c, predictions.c, projections.c, review.c).
 * Not part of the library's public interface.
 */
#ifndef CV_PROJECTIONS_INT_H
#define CV_PROJECTIONS_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

#define CV_HOUR_US ((int64_t)3600 * 1000000)

/* Sets o[k] = v (stolen, also on failure); clears *ok when either is NULL
 * or the set fails, so a builder checks once at the end. */
void cv_oset(json_t *o, const char *k, json_t *v, bool *ok);

/* Appends v (stolen) to a; clears *ok on failure. */
void cv_aput(json_t *a, json_t *v, bool *ok);

/* The event's payload object, or NULL (borrowed). */
const json_t *cv_ev_payload(const json_t *ev);

/* The event's timestamp string, or "". */
const char *cv_ev_ts(const json_t *ev);

/* Whether ev's timestamp lies in [since, before); NULL bounds are open.
 * Text comparison (section 0: fixed-width ts). */
bool cv_ev_in(const json_t *ev, const char *since, const char *before);

/* Number of events in [since, before). events NULL counts 0. */
size_t cv_ev_count(const json_t *events, const char *since,
    const char *before);

/* ts form of now_us - delta_us. */
void cv_ts_back(char out[CV_TS_LEN], int64_t now_us, int64_t delta_us);

/* JSON null for NULL or "", else the string (new reference). */
json_t *cv_tenant_json(const char *tenant_id);

/* A lesson {code, title, why, action, priority[, metric{name, observed,
 * target}]}; metric values round3. metric_name NULL omits the metric. */
json_t *cv_lesson_new(const char *code, const char *title, const char *why,
    const char *action, int priority, const char *metric_name,
    double observed, double target);

/* Stable sort of a lesson array by priority ascending, in place. */
void cv_lessons_sort(json_t *lessons);

/* {summary, level, lessons (sorted), next_actions (first 3 actions)};
 * lessons_take is stolen. */
json_t *cv_learning_wrap(const char *summary, const char *level,
    json_t *lessons_take);

/* fmtN / pct0 / pct1 into a caller buffer (domain.md section 0). */
const char *cv_fmtb(char *buf, size_t size, double x, int n);
const char *cv_pctb(char *buf, size_t size, double x, int n);

#endif
