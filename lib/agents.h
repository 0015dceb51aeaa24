/*
 * agents.h - agent policies and authorization (domain.md 1.10, 8;
 * http-api.md 5.4). Pure: the caller loads the policy, the intent, the
 * newest risk.evaluated payload and the compliance report, and stores /
 * appends what these functions return.
 *
 * Ownership: the cv.h rule holds, and in addition every function below
 * returning json_t * hands the caller a new reference.
 */
#ifndef CV_AGENTS_H
#define CV_AGENTS_H

#include <stddef.h>

#include <jansson.h>

/*
 * The default AgentPolicy (1.10), 12 keys in spec order, for agent_id
 * and tenant_id (NULL or "" = null). Caller owns it; NULL on ENOMEM.
 */
json_t *cv_agent_policy_default(const char *agent_id, const char *tenant_id);

/*
 * get_policy's parse (8.1): a stored record completed to the 12 keys,
 * with the default for every key that is absent or of the wrong type.
 * Keys outside the 12 are dropped. Caller owns it; NULL on ENOMEM or when
 * stored is not an object.
 */
json_t *cv_agent_policy_from_stored(const json_t *stored);

/*
 * Validates an AgentPolicyBody (http-api.md 5.4) and returns the 12-key
 * AgentPolicy: numbers become doubles, integral reals become the integer
 * atl, extra fields are dropped. A tenant_id that is absent, null or ""
 * becomes default_tenant (the principal's tenant; NULL/"" = null); the
 * caller still enforces the cross-tenant rule. On the first invalid field
 * returns NULL and writes "body.<loc>: <message>" into err, e.g.
 * "body.agent_id: Field required" or
 * "body.atl: Input should be less than or equal to 3". Caller owns the
 * result.
 */
json_t *cv_agent_policy_from_body(const json_t *body,
    const char *default_tenant, char *err, size_t errsize);

/*
 * authorize (8.2). policy: the stored policy for (agent, tenant) or
 * cv_agent_policy_default(); missing keys take their defaults. intent:
 * the Intent JSON, or NULL when no intent has that id. risk_payload: the
 * payload of the newest risk.evaluated event for intent_id (looked up by
 * intent id only, any tenant), or NULL. compliance_report: the
 * ComplianceReport of the requested tenant; only consulted when the
 * intent exists and the policy requires a compliance pass (NULL is read
 * as a report with its defaults, i.e. passed). now_ts: the current ts,
 * NULL = the clock. An expires_at without offset is UTC (B13); one that
 * does not parse is ignored.
 *
 * Returns {agent_id, action, intent_id, allowed, reasons[], atl,
 * effective_limits, human_approvals, timestamp}; the caller appends it as
 * the agent.authorized payload. Caller owns it; NULL on ENOMEM.
 */
json_t *cv_agent_authorize(const json_t *policy, const char *action,
    const char *intent_id, const json_t *intent, const json_t *risk_payload,
    const json_t *compliance_report, int human_approvals,
    const char *now_ts);

#endif
