// Opens the pkcs11 key store from configuration: one Pkcs11Token per configured backend (in failover
// order), the root key store over them, and the HSM key backend sharing the same sessions.
import type { Pkcs11Config } from '../../../config.js';
import { Pkcs11Backends } from './pkcs11-backends.js';
import { Pkcs11KeyBackend } from './pkcs11-key-backend.js';
import { Pkcs11RootKeyStore } from './pkcs11-root-key-store.js';
import { Pkcs11Token } from './pkcs11-token.js';

export interface Pkcs11KeyStore {
  root: Pkcs11RootKeyStore;
  backend: Pkcs11KeyBackend;
  backends: Pkcs11Backends;
  rootKeyCreated: boolean;
  /** False when the token was unreachable at start (the server then runs degraded). */
  available: boolean;
}

export function createPkcs11Backends(config: Pkcs11Config): Pkcs11Backends {
  const tokens: Pkcs11Token[] = [];
  try {
    for (const [index, backend] of config.backends.entries()) {
      tokens.push(
        new Pkcs11Token({
          name: backend.name ?? `hsm-${index + 1}`,
          module: backend.module,
          tokenLabel: backend.tokenLabel,
          pin: backend.pin,
          sessionPoolSize: backend.sessionPoolSize ?? config.sessionPoolSize,
          sessionWaitMs: config.sessionWaitMs,
          failureThreshold: config.circuit.failureThreshold,
          openMs: config.circuit.openSeconds * 1000,
          healthCheckMs: config.healthCheckSeconds * 1000,
          probeLabel: config.rootKeyLabel,
        }),
      );
    }
  } catch (error) {
    for (const token of tokens) void token.close();
    throw error;
  }
  return new Pkcs11Backends(tokens);
}

export async function openPkcs11KeyStore(config: Pkcs11Config, dataDir: string): Promise<Pkcs11KeyStore> {
  const backends = createPkcs11Backends(config);
  try {
    const opened = await Pkcs11RootKeyStore.open(backends, dataDir, config.rootKeyLabel);
    return {
      root: opened.store,
      backend: new Pkcs11KeyBackend(backends),
      backends,
      rootKeyCreated: opened.created,
      available: opened.available,
    };
  } catch (error) {
    await backends.close();
    throw error;
  }
}
