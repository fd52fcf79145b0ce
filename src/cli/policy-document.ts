// Policies on the command line: documents read as JSON from a file or stdin ("-") and shown as
// indented JSON, and the statement that decided a request. Only the JSON syntax is checked here; the
// server checks the document and names what is wrong.
import type { DecidedBy, PolicyDocument } from '../client/index.js';
import { describeSyntaxError, parseJsonOrLocate } from '../json-position.js';
import { CliError } from './cli-error.js';
import { readInput, writeOutput } from './io.js';

export const DOCUMENT_OPTION_HELP = 'the policy document, a JSON file ("-" for stdin)';

export async function readPolicyDocument(path: string): Promise<PolicyDocument> {
  const source = path === '-' ? 'stdin' : path;
  const text = (await readInput(path)).toString('utf8');
  // A line and column rather than V8's message, which quotes the text around the error.
  const result = parseJsonOrLocate(text);
  if ('error' in result)
    throw new CliError('ValidationError', `${source} is ${describeSyntaxError(result.error)}`);
  const parsed = result.value;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliError('ValidationError', `${source} must hold a JSON object: {"statements": [...]}`);
  }
  return parsed as PolicyDocument;
}

export const renderPolicyDocument = (document: PolicyDocument) => `${JSON.stringify(document, null, 2)}\n`;

/** Writes the bare document, ready to edit and give back with --document. */
export async function writePolicyDocument(path: string, document: PolicyDocument): Promise<void> {
  await writeOutput(path, renderPolicyDocument(document));
}

/** `policy <id> v<n> statement "<sid>"`, or what deciding with no statement means. */
export function describeDecidedBy(decidedBy: DecidedBy | null): string {
  if (decidedBy === null) return 'no statement (default deny)';
  const statement = decidedBy.sid === null ? 'an unnamed statement' : `statement "${decidedBy.sid}"`;
  return `policy ${decidedBy.policyId} v${decidedBy.version}, ${statement}`;
}
