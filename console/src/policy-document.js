// What the editor checks before it sends a policy document (API.md "Identity, policy"): the shape
// of each statement. The server checks again and has the last word; its error is shown as it is.
const EFFECTS = ['allow', 'deny'];
const LISTS = ['principals', 'actions', 'resources'];
const CONDITIONS = ['sourceIp', 'timeWindow', 'context', 'keyTags', 'principalAttributes'];

/** The problems of `text` as a policy document, in words; empty when it looks valid. */
export function policyProblems(text) {
  let document;
  try {
    document = JSON.parse(text);
  } catch (error) {
    return [`not JSON: ${error.message}`];
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document))
    return ['the document must be an object {"statements": [...]}'];
  if (!Array.isArray(document.statements)) return ['"statements" must be a list'];
  const problems = [];
  document.statements.forEach((statement, i) => {
    const where = `statement ${i + 1}${statement?.sid ? ` (${statement.sid})` : ''}`;
    if (typeof statement !== 'object' || statement === null)
      return problems.push(`${where} must be an object`);
    if (!EFFECTS.includes(statement.effect)) problems.push(`${where}: "effect" must be "allow" or "deny"`);
    for (const list of LISTS) {
      const value = statement[list];
      if (!Array.isArray(value) || value.length === 0 || value.some((item) => typeof item !== 'string'))
        problems.push(`${where}: "${list}" must be a non-empty list of strings`);
    }
    for (const name of Object.keys(statement.conditions ?? {}))
      if (!CONDITIONS.includes(name)) problems.push(`${where}: unknown condition "${name}"`);
  });
  return problems;
}
