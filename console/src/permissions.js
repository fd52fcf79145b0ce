// What the signed-in principal may do, asked of the server (POST /v1/auth/verify) and never
// guessed: a button for an action the server would deny is disabled with the server's reason.
import { useEffect, useState } from 'preact/hooks';
import { call } from './api.js';

const cache = new Map();

export function forgetPermissions() {
  cache.clear();
}

/** The decision for one action (on one key), cached for the session until a change is made. */
export function verify(action, keyId) {
  const id = `${action} ${keyId ?? ''}`;
  let decision = cache.get(id);
  if (!decision) {
    decision = call('POST', '/v1/auth/verify', keyId === undefined ? { action } : { action, keyId }).then(
      (answer) => ({ allowed: answer.allowed, reason: answer.reason ?? describe(answer) }),
      (error) => ({ allowed: false, reason: `${error.code}: ${error.message}` }),
    );
    cache.set(id, decision);
  }
  return decision;
}

function describe(answer) {
  if (answer.allowed) return 'allowed';
  const by = answer.decidedBy;
  return by
    ? `denied by policy ${by.policyId} v${by.version}${by.sid ? ` (${by.sid})` : ''}`
    : 'no policy allows it';
}

/**
 * The decisions for `actions` (on `keyId`), as {action: {allowed, reason}}; an action not yet
 * answered is absent (its button stays disabled meanwhile). `generation` asks again after a change.
 */
export function usePermissions(actions, keyId, generation = 0) {
  const [decisions, setDecisions] = useState({});
  const names = actions.join(',');
  useEffect(() => {
    let current = true;
    if (generation > 0) forgetPermissions();
    Promise.all(actions.map((action) => verify(action, keyId))).then((answers) => {
      if (!current) return;
      setDecisions(Object.fromEntries(actions.map((action, i) => [action, answers[i]])));
    });
    return () => {
      current = false;
    };
  }, [names, keyId, generation]);
  return decisions;
}
