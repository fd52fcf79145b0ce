// SDK types for the audit log (API.md "Identity, policy, tenants, audit": GET /v1/logs, /verify,
// /export, and the audit key's public key).
import type { AuditRecord, AuditResult } from '../domain/audit-record.js';
import type { AuditVerification } from '../domain/audit-verifier.js';

export type { AuditRecord, AuditResult, AuditVerification };

export interface ListLogsInput {
  /** ISO 8601; `from` inclusive, `to` exclusive. */
  from?: string;
  to?: string;
  keyId?: string;
  principalId?: string;
  action?: string;
  result?: AuditResult;
  /** System auditors only: one tenant's records. */
  tenantId?: string;
  limit?: number;
  cursor?: string;
}

export interface ListLogsResult {
  records: AuditRecord[];
  nextCursor: string | null;
}

export interface LogRange {
  from?: string;
  to?: string;
}

export interface AuditPublicKey {
  keyId: string;
  keyVersion: number;
  algorithm: string;
  /** PEM (SPKI). */
  publicKey: string;
}
