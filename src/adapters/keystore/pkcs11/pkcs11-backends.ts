// The ordered list of configured PKCS#11 backends. Each operation runs on the first backend whose
// circuit admits it and fails over to the next when that backend fails (HsmUnavailableError);
// a request's own errors (bad ciphertext, bad input) are returned at once, never retried elsewhere.
import { KmsError } from '../../../domain/errors.js';
import type { BackendStatus } from '../../../ports/root-key-store.js';
import { HsmUnavailableError, type Pkcs11Token, type SessionScope } from './pkcs11-token.js';

export class Pkcs11Backends {
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

  async status(): Promise<BackendStatus[]> {
    return Promise.all(this.tokens.map((token) => token.probe()));
  }

  async close(): Promise<void> {
    for (const token of this.tokens) await token.close();
  }
}
