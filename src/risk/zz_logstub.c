/* TEMPORARY: stands in for src/risk/log.c (decision log) until it is merged. */
#include "postgres.h"
#include "risk_internal.h"
const char *const finsec_risk_decision_names[RISK_DECISION_KINDS] = {"allow", "challenge", "review", "block"};
const char *const finsec_risk_entity_names[RISK_LOG_ENTITIES] = {"customer","account","counterparty","device","ip","phone","merchant","card","region","reference"};
void finsec_risk_log_decision(const RiskLogEvent *ev) { (void) ev; }
void finsec_risk_log_value(char *dst, const char *src, int len) { strlcpy(dst, src, Min(len + 1, RISK_LOG_VALUE_LEN)); }
