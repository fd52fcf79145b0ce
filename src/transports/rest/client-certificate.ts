// The client certificate a request's connection presented and the TLS layer verified against
// server.tls.clientCa, and the facts of it that authentication reads (domain/client-certificate.ts):
// with auth.clientCertificates set, one of its names identifies a principal (authentication.ts).
import { TLSSocket, type DetailedPeerCertificate } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { ClientCertificate } from '../../domain/client-certificate.js';

/** Undefined without TLS, without a client certificate, or when it was not verified. */
export function verifiedClientCertificate(request: FastifyRequest): DetailedPeerCertificate | undefined {
  const socket = request.raw.socket;
  // `authorized` is the chain check's verdict; a certificate offered without one is no identity.
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const certificate = socket.getPeerCertificate(true);
  // Node answers an empty object when the peer sent none.
  return Object.keys(certificate).length > 0 ? certificate : undefined;
}

/** The verified client certificate as authentication reads it, or undefined (as above). */
export function clientCertificateOf(request: FastifyRequest): ClientCertificate | undefined {
  const certificate = verifiedClientCertificate(request);
  if (!certificate) return undefined;
  // Node's types say string; a subject with several CNs gives an array of them.
  const commonNames = (certificate.subject as { CN?: string | string[] } | undefined)?.CN;
  return {
    subjectCommonNames: commonNames === undefined ? [] : [commonNames].flat(),
    subjectAltName: certificate.subjectaltname,
    fingerprint256: certificate.fingerprint256,
    validTo: new Date(certificate.valid_to),
  };
}
