// The AWS dialect's one table from failure to wire form: AWS's exception names (`__type`) and the
// HTTP status AWS KMS answers with (400 for the caller's mistakes, 5xx only for the server's, which
// the SDKs retry). Every Conflict kind and every SigV4 problem has its own exception.
import type { ConflictKind, ErrorCode, KmsError, ValidationKind } from '../../domain/errors.js';
import type { SignatureProblem } from '../../domain/sigv4.js';

export interface AwsError {
  type: string;
  status: number;
}

export const AWS_JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

/** A failure as it leaves: its status, AWS's headers and the `{__type, message}` body. */
export function awsErrorReply(
  wire: AwsError,
  message: string,
  requestId: string,
): { status: number; headers: Record<string, string>; body: string } {
  return {
    status: wire.status,
    headers: {
      'content-type': AWS_JSON_CONTENT_TYPE,
      'x-amzn-requestid': requestId,
      'x-amzn-errortype': wire.type,
    },
    body: JSON.stringify({ __type: wire.type, message }),
  };
}

const BY_CODE: Record<Exclude<ErrorCode, 'Conflict' | 'LimitExceeded'>, AwsError> = {
  ValidationError: { type: 'ValidationException', status: 400 },
  InvalidCiphertext: { type: 'InvalidCiphertextException', status: 400 },
  IncorrectKey: { type: 'IncorrectKeyException', status: 400 },
  KeyUsageMismatch: { type: 'InvalidKeyUsageException', status: 400 },
  Unauthenticated: { type: 'UnrecognizedClientException', status: 400 },
  AccessDenied: { type: 'AccessDeniedException', status: 400 },
  NotFound: { type: 'NotFoundException', status: 400 },
  KeyDisabled: { type: 'DisabledException', status: 400 },
  KeyPendingDeletion: { type: 'KMSInvalidStateException', status: 400 },
  // The AWS dialect's CreateKey takes no client token; named as EC2 names the same refusal.
  ClientTokenMismatch: { type: 'IdempotentParameterMismatchException', status: 400 },
  KeyExpired: { type: 'KMSInvalidStateException', status: 400 },
  PayloadTooLarge: { type: 'ValidationException', status: 400 },
  Unavailable: { type: 'DependencyTimeoutException', status: 503 },
  Internal: { type: 'KMSInternalException', status: 500 },
};

const BY_CONFLICT: Record<ConflictKind, AwsError> = {
  InvalidState: { type: 'KMSInvalidStateException', status: 400 },
  AlreadyExists: { type: 'AlreadyExistsException', status: 400 },
  ConcurrentModification: { type: 'ConflictException', status: 409 },
  UnsupportedOperation: { type: 'UnsupportedOperationException', status: 400 },
};

const BY_VALIDATION: Record<ValidationKind, AwsError> = {
  InvalidMarker: { type: 'InvalidMarkerException', status: 400 },
  MalformedPolicyDocument: { type: 'MalformedPolicyDocumentException', status: 400 },
  InvalidGrantToken: { type: 'InvalidGrantTokenException', status: 400 },
  InvalidGrantId: { type: 'InvalidGrantIdException', status: 400 },
  InvalidImportToken: { type: 'InvalidImportTokenException', status: 400 },
  ExpiredImportToken: { type: 'ExpiredImportTokenException', status: 400 },
  IncorrectKeyMaterial: { type: 'IncorrectKeyMaterialException', status: 400 },
};

const BY_SIGNATURE: Record<SignatureProblem, AwsError> = {
  missing: { type: 'MissingAuthenticationTokenException', status: 400 },
  incomplete: { type: 'IncompleteSignatureException', status: 400 },
  'unknown-key': { type: 'UnrecognizedClientException', status: 400 },
  mismatch: { type: 'InvalidSignatureException', status: 400 },
  expired: { type: 'InvalidSignatureException', status: 400 },
};

export function awsErrorOf(error: KmsError): AwsError {
  if (error.code === 'Conflict') return BY_CONFLICT[error.conflict ?? 'InvalidState'];
  if (error.code === 'ValidationError' && error.validation) return BY_VALIDATION[error.validation];
  if (error.code === 'LimitExceeded') {
    // A rate (it passes: Retry-After) is throttling, which the SDKs retry; a quota is not.
    return error.retryAfterSeconds === undefined
      ? { type: 'LimitExceededException', status: 400 }
      : { type: 'ThrottlingException', status: 400 };
  }
  return BY_CODE[error.code];
}

export const awsSignatureErrorOf = (problem: SignatureProblem): AwsError => BY_SIGNATURE[problem];

/** The protocol's own failures, before any action runs. */
export const PROTOCOL_ERRORS = {
  unknownOperation: { type: 'UnknownOperationException', status: 400 },
  serialization: { type: 'SerializationException', status: 400 },
  unsupported: { type: 'UnsupportedOperationException', status: 400 },
} as const satisfies Record<string, AwsError>;

/**
 * An outcome that AWS answers as an exception where the services answer with a result: Verify's
 * `valid: false` is KMSInvalidSignatureException, VerifyMac's KMSInvalidMacException. `code` is
 * what the audit record and metrics name it.
 */
export class AwsActionError extends Error {
  constructor(
    readonly wire: AwsError,
    message: string,
    readonly code: ErrorCode = 'ValidationError',
  ) {
    super(message);
    this.name = 'AwsActionError';
  }
}

export const RESULT_ERRORS = {
  invalidSignature: { type: 'KMSInvalidSignatureException', status: 400 },
  invalidMac: { type: 'KMSInvalidMacException', status: 400 },
  /** DryRun set on a request that would have succeeded (AWS answers 412). */
  dryRun: { type: 'DryRunOperationException', status: 412 },
} as const satisfies Record<string, AwsError>;
