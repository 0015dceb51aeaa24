/*
 * families.h - every FastCGI family the farm runs (fcgi/ *.c with a route
 * table), for the tests that walk all route tables at once (scope rule,
 * tenant scoping, OpenAPI document), so that none of them misses a family.
 * A new family goes here and into ALL_FAMILY_SOURCES in Makefile.am.
 * The program is built with -DCV_FAMILY_NO_MAIN and those sources.
 */
#ifndef CV_TEST_FAMILIES_H
#define CV_TEST_FAMILIES_H

#include "farm.h"

extern const struct cv_family cv_family_agents, cv_family_compliance,
    cv_family_dashboard, cv_family_events, cv_family_health,
    cv_family_intents, cv_family_queue, cv_family_risk, cv_family_webhooks,
    cv_family_ui;

static const struct cv_family *const families[] = {
	&cv_family_agents, &cv_family_compliance, &cv_family_dashboard,
	&cv_family_events, &cv_family_health, &cv_family_intents,
	&cv_family_queue, &cv_family_risk, &cv_family_webhooks,
	&cv_family_ui,
};

#endif
