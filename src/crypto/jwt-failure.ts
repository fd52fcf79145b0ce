// Why jose refused a JWT, in general words a response may carry: each of its error codes (stable,
// like ours) to a reason. Never the token, nor a claim's value; the error itself goes in `cause`.
import { errors } from 'jose';

/** The reason a JWT claim check failed, by the claim jose names (RFC 7519 §4.1). */
function describeClaimFailure(error: errors.JWTClaimValidationFailed, what: string): string {
  if (error.reason === 'missing') return `${what} lacks a required claim (${error.claim})`;
  switch (error.claim) {
    case 'nbf':
      return `${what} is not valid yet`;
    case 'iss':
      return `${what} is from another issuer`;
    case 'aud':
      return `${what} is meant for another audience`;
    case 'typ':
      return `${what} is of another type`;
    default:
      return `${what} has an invalid ${error.claim} claim`;
  }
}

/**
 * A sentence on why jose refused a JWT, starting with `what` ("the access token"). Anything that
 * is not a JOSEError (a failure inside a key resolver, say) is described generally.
 */
export function describeJwtFailure(error: unknown, what: string): string {
  if (!(error instanceof errors.JOSEError)) return `${what} could not be verified`;
  switch (error.code) {
    case 'ERR_JWT_EXPIRED':
      return `${what} has expired`;
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return describeClaimFailure(error as errors.JWTClaimValidationFailed, what);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return `${what} has an invalid signature`;
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return `${what} is signed with an unknown key`;
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return `${what} does not identify its signing key`;
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return `${what} uses a signing algorithm that is not accepted`;
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return `${what} is malformed`;
    default:
      return `${what} could not be verified`;
  }
}
