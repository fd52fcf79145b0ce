// CreateKey's client token (docs/cluster.md): a client that retries a request whose answer it lost
// (a timeout, a dropped connection, a worker that died) gets the key its first attempt created,
// not a second key. The token is claimed in the database before the key is created, by an insert
// a unique constraint decides, so concurrent identical requests on any process create one key.
// Tokens are remembered for 24 hours, as AWS's ClientToken windows, and belong to the principal that
// sent them: the same string from two principals is two tokens.
import { createHash, randomUUID } from 'node:crypto';
import { KmsError, validationError } from '../domain/errors.js';
import type { RequestContext } from '../domain/request-context.js';
import type { Clock } from '../ports/clock.js';
import type { ClientTokenStore } from '../ports/client-token-store.js';
import type { KeyDescription } from './key-records.js';

export const CLIENT_TOKEN_PATTERN = /^[\x20-\x7e]{1,64}$/;
/** How long a token is remembered: a retry after this creates a new key. */
export const CLIENT_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
/** How long a retry waits for the first request with its token to finish creating the key. */
const WAIT_FOR_FIRST_MS = 15_000;
/**
 * A claim this old whose key does not exist was abandoned: its process died between the claim and
 * the key's creation (or the key was deleted since). It is released, so that the token is not stuck
 * for the rest of its window. No creation takes this long (the database's statement timeout and
 * the key store's call timeouts end it sooner).
 */
export const ABANDONED_CLAIM_MS = 60_000;
const POLL_MS = 25;
/** How often a release that failed (the database was down) is tried again. */
export const RELEASE_RETRY_MS = 1000;

export class ClientTokens {
  constructor(
    private readonly store: ClientTokenStore,
    private readonly clock: Clock,
  ) {}

  /**
   * The key created for the caller's `token`: made now by `create(keyId)` if the token is new (or
   * forgotten), else the one made for it before, found by `find(keyId)`. The same token with other
   * parameters is ClientTokenMismatch. Another principal's token of the same string is another
   * token: claimed apart, it can neither block this one nor learn of its key.
   */
  async createOnce(
    ctx: RequestContext,
    token: string,
    request: unknown,
    create: (keyId: string) => Promise<KeyDescription>,
    find: (keyId: string) => Promise<KeyDescription | undefined>,
  ): Promise<KeyDescription> {
    if (typeof token !== 'string' || !CLIENT_TOKEN_PATTERN.test(token)) {
      throw validationError('clientToken must be 1-64 printable ASCII characters');
    }
    const principal = ctx.principal.id;
    const requestDigest = digestOf(request);
    const waitUntil = Date.now() + WAIT_FOR_FIRST_MS;
    for (;;) {
      const keyId = randomUUID();
      const now = this.clock.now();
      const outcome = await this.store.claim(ctx.tenant, principal, token, {
        requestDigest,
        keyId,
        createdAt: now,
      });
      if (outcome.claimed) {
        try {
          return await create(keyId);
        } catch (error) {
          // No key: the token is free again, for this client's retry or a concurrent twin's.
          await this.releaseFailedClaim(ctx.tenant, principal, token, keyId, find);
          throw error;
        }
      }
      const existing = outcome.existing;
      if (existing && existing.createdAt.getTime() <= now.getTime() - CLIENT_TOKEN_TTL_MS) {
        await this.store.release(ctx.tenant, principal, token, existing.keyId);
        continue;
      }
      if (existing && existing.requestDigest !== requestDigest) {
        throw new KmsError(
          'ClientTokenMismatch',
          'clientToken was used with other parameters in the last 24 hours; use a new token for a new key',
        );
      }
      if (existing) {
        const key = await find(existing.keyId);
        if (key) return key;
        if (existing.createdAt.getTime() <= now.getTime() - ABANDONED_CLAIM_MS) {
          await this.store.release(ctx.tenant, principal, token, existing.keyId);
          continue;
        }
      }
      // The first request with the token is still creating its key (or just failed to): wait.
      if (Date.now() >= waitUntil) {
        throw new KmsError('Unavailable', 'a request with this clientToken is still creating its key', {
          retryAfterSeconds: 1,
        });
      }
      await new Promise((turn) => setTimeout(turn, POLL_MS));
    }
  }

  /**
   * Releases the claim of a creation that failed. When the database itself failed (it restarted
   * under the request), the release fails too; left there, the claim would make every retry wait
   * and answer 503 until it counts as abandoned a minute later. So it is tried again in the
   * background, every second for half that time, and only while its key does not exist (a creation
   * whose commit succeeded unacknowledged keeps its claim, so that the retry finds that key).
   */
  private async releaseFailedClaim(
    tenantId: string,
    principalId: string,
    token: string,
    keyId: string,
    find: (keyId: string) => Promise<KeyDescription | undefined>,
  ): Promise<void> {
    const attempt = async () => {
      if (!(await find(keyId))) await this.store.release(tenantId, principalId, token, keyId);
    };
    if (
      await attempt().then(
        () => true,
        () => false,
      )
    )
      return;
    const giveUpAt = Date.now() + ABANDONED_CLAIM_MS / 2;
    const retry = () => {
      const timer = setTimeout(() => {
        attempt().catch(() => {
          if (Date.now() < giveUpAt) retry();
        });
      }, RELEASE_RETRY_MS);
      timer.unref();
    };
    retry();
  }

  /** Forgets tokens older than the window (scheduled work). */
  purge(): Promise<number> {
    return this.store.purge(new Date(this.clock.now().getTime() - CLIENT_TOKEN_TTL_MS));
  }
}

/** SHA-256 of the request's canonical JSON (object keys sorted): the parameters, not their order. */
function digestOf(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
