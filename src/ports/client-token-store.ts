// Port: the client tokens of CreateKey, so that a client's retry of a request whose answer it lost
// finds the key the first attempt created instead of creating a second one.
export interface ClientTokenClaim {
  /** SHA-256 hex of the request's parameters, as the first request sent them. */
  requestDigest: string;
  keyId: string;
  createdAt: Date;
}

export type ClaimOutcome =
  | { claimed: true }
  /** `existing` may be another request's claim whose key is still being created; undefined when
   * that claim was released between the insert and the read (its creation failed): claim again. */
  | { claimed: false; existing: ClientTokenClaim | undefined };

export interface ClientTokenStore {
  /**
   * Claims `token` of `principalId` in `tenantId` for the key about to be created, in one insert
   * that a unique constraint decides, never a check followed by an insert. Each principal has its
   * own tokens: another principal's claim of the same string neither blocks nor reveals this one.
   */
  claim(tenantId: string, principalId: string, token: string, claim: ClientTokenClaim): Promise<ClaimOutcome>;
  /** Removes the claim of `keyId` (its creation failed, or it expired), if it is still that one. */
  release(tenantId: string, principalId: string, token: string, keyId: string): Promise<void>;
  /** Forgets claims made before `before` (tokens are remembered for a bounded time). */
  purge(before: Date): Promise<number>;
}
