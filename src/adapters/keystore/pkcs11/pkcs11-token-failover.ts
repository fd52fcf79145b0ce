// The ordered list of configured PKCS#11 backends. Each operation runs on the first backend whose
// circuit admits it and fails over to the next when that backend fails (HsmUnavailableError);
// a request's own errors (bad ciphertext, bad input) are returned at once, never retried elsewhere.
import { KmsError } from '../../../domain/errors.js';
import type { KeyStoreStatus, StatusOptions } from '../../../ports/key-store-status.js';
import type { Pkcs11Replication } from './pkcs11-replication.js';
import { HsmUnavailableError, type Pkcs11Token, type SessionScope } from './pkcs11-token.js';

export class TokenFailover {
  /** Copies key objects between the backends (set when the key store opens with a data directory). */
  replication: Pkcs11Replication | undefined;

  constructor(readonly tokens: Pkcs11Token[]) {
    if (tokens.length === 0) throw new Error('at least one PKCS#11 backend is needed');
  }

  get primary(): Pkcs11Token {
    return this.tokens[0]!;
  }

  async run<T>(operation: (scope: SessionScope, token: Pkcs11Token) => Promise<T> | T): Promise<T> {
    let lastError: HsmUnavailableError | undefined;
    for (const token of this.tokens) {
      try {
        return await token.run((scope) => operation(scope, token));
      } catch (error) {
        if (!(error instanceof HsmUnavailableError)) throw error;
        lastError = error;
      }
    }
    const names = this.tokens.map((t) => t.name).join(', ');
    throw new KmsError('Unavailable', `no HSM backend is available (${names}): ${lastError?.message}`, {
      cause: lastError,
    });
  }

  /** Runs `operation` on every backend, e.g. to destroy an object everywhere; returns per-backend errors. */
  async runOnEach(
    operation: (scope: SessionScope, token: Pkcs11Token) => Promise<void> | void,
  ): Promise<Error[]> {
    const errors: Error[] = [];
    for (const token of this.tokens) {
      try {
        await token.run((scope) => operation(scope, token));
      } catch (error) {
        errors.push(error as Error);
      }
    }
    return errors;
  }

  async status(options: StatusOptions = {}): Promise<KeyStoreStatus[]> {
    const statuses =
      options.probe === false
        ? this.tokens.map((token) => token.snapshot())
        : await Promise.all(this.tokens.map((token) => token.probe()));
    const replication = this.replication;
    if (!replication?.enabled) return statuses;
    // A probe round is a good moment to copy what a backend that came back has missed.
    if (options.probe !== false) void replication.catchUp();
    const problem = replication.problem;
    return statuses.map((status) => {
      const pending = replication.pendingFor(status.name);
      const notes = [
        pending > 0 ? `${pending} object(s) pending replication` : undefined,
        problem ? `replication: ${problem}` : undefined,
      ].filter((note) => note !== undefined);
      return {
        ...status,
        pendingReplications: pending,
        detail: [status.detail, ...notes].filter(Boolean).join('; '),
      };
    });
  }

  async close(): Promise<void> {
    this.replication?.close();
    for (const token of this.tokens) await token.close();
  }
}
