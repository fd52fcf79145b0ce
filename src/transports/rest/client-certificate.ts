// The client certificate a request's connection presented and the TLS layer verified against
// server.tls.clientCa. Mapping it to a principal belongs to the coming mTLS identity work: it will
// read the certificate here, in authentication.ts, beside the bearer token.
import { TLSSocket, type DetailedPeerCertificate } from 'node:tls';
import type { FastifyRequest } from 'fastify';

/** Undefined without TLS, without a client certificate, or when it was not verified. */
export function verifiedClientCertificate(request: FastifyRequest): DetailedPeerCertificate | undefined {
  const socket = request.raw.socket;
  // `authorized` is the chain check's verdict; a certificate offered without one is no identity.
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const certificate = socket.getPeerCertificate(true);
  // Node answers an empty object when the peer sent none.
  return Object.keys(certificate).length > 0 ? certificate : undefined;
}
