// What a TLS failure means for the caller, by the stable code Node gives it (its own, or OpenSSL's
// verification and alert codes), so an Unavailable error says what to fix.
const HINTS: Record<string, string> = {
  SELF_SIGNED_CERT_IN_CHAIN: "the server's certificate is not from a trusted CA (set ca)",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's certificate is self-signed and not trusted (set ca)",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's certificate is not from a trusted CA (set ca)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the server's certificate is not from a trusted CA (set ca)",
  CERT_HAS_EXPIRED: "the server's certificate has expired",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's certificate does not name the endpoint's host",
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'the server requires a client certificate (set cert and key)',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'the server did not accept the client certificate',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'the server does not trust the client certificate',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the endpoint does not speak TLS (is it http://?)',
};

export function tlsFailureHint(code: string): string | undefined {
  return HINTS[code];
}
