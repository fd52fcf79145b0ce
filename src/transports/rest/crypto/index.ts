// REST routes of the cryptographic operations (API.md): base64 in, one CryptoService call, base64 out.
// One file per group of operations; this registers them all.
import type { FastifyInstance } from 'fastify';
import type { Keyhaven } from '../../../keyhaven.js';
import { registerAsymmetricRoutes } from './asymmetric.js';
import { registerDataKeyRoutes } from './data-keys.js';
import { registerDerivationRoutes } from './derivation.js';
import { registerEncryptionRoutes } from './encryption.js';
import { registerMacRoutes } from './mac.js';
import { registerSigningRoutes } from './signing.js';
import { registerWrappingRoutes } from './wrapping.js';

export function registerCryptoRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  registerEncryptionRoutes(app, keyhaven);
  registerDataKeyRoutes(app, keyhaven);
  registerSigningRoutes(app, keyhaven);
  registerMacRoutes(app, keyhaven);
  registerAsymmetricRoutes(app, keyhaven);
  registerWrappingRoutes(app, keyhaven);
  registerDerivationRoutes(app, keyhaven);
}
