// Opens the pkcs11 key store from configuration: one Pkcs11Token per configured backend (in failover
// order), the root key store over them, and the HSM key backend sharing the same sessions.
import type { Pkcs11Config } from '../../../config.js';
import { TokenFailover } from './pkcs11-token-failover.js';
import { Pkcs11KeyBackend } from './pkcs11-key-backend.js';
import { Pkcs11Replication, type TransportKeyState } from './pkcs11-replication.js';
import { Pkcs11RootKeyStore } from './pkcs11-root-key-store.js';
import { Pkcs11Token } from './pkcs11-token.js';

export interface Pkcs11KeyStore {
  root: Pkcs11RootKeyStore;
  backend: Pkcs11KeyBackend;
  failover: TokenFailover;
  rootKeyCreated: boolean;
  /** With several backends: whether the shared transport key was found, made, or is missing. */
  transportKey: TransportKeyState;
  /** False when the token was unreachable at start (the server then runs degraded). */
  available: boolean;
}

export function createTokenFailover(config: Pkcs11Config): TokenFailover {
  const tokens: Pkcs11Token[] = [];
  try {
    for (const [index, backend] of config.backends.entries()) {
      tokens.push(
        new Pkcs11Token({
          name: backend.name ?? `hsm-${index + 1}`,
          module: backend.module,
          tokenLabel: backend.tokenLabel,
          pin: backend.pin,
          soPin: backend.soPin,
          sessionPoolSize: backend.sessionPoolSize ?? config.sessionPoolSize,
          sessionWaitMs: config.sessionWaitMs,
          synchronousCalls: backend.synchronousCalls ?? config.synchronousCalls,
          failureThreshold: config.circuit.failureThreshold,
          openMs: config.circuit.openSeconds * 1000,
          healthCheckMs: config.healthCheckSeconds * 1000,
          probeLabel: config.rootKeyLabel,
          replicated: config.backends.length > 1,
        }),
      );
    }
  } catch (error) {
    for (const token of tokens) void token.close();
    throw error;
  }
  return new TokenFailover(tokens);
}

/**
 * Opens every backend, finds or makes the root key and, with several backends, sets up the transport
 * key (when the SO PINs allow) and copies the root key to every backend. Runs before any request is
 * served: the transport key setup logs the SO in, which PKCS#11 allows only while no user works.
 */
export async function openPkcs11KeyStore(config: Pkcs11Config, dataDir: string): Promise<Pkcs11KeyStore> {
  const failover = createTokenFailover(config);
  try {
    failover.replication = new Pkcs11Replication(
      failover,
      dataDir,
      config.transportKeyLabel,
      config.healthCheckSeconds * 1000,
      config.replicationWindowSeconds * 1000,
    );
    // The transport key first: the root key is copied to the other tokens as soon as it is found
    // or made, which needs it (otherwise the copy fails and waits for the catch-up pass).
    const transportKey = await failover.replication.ensureTransportKey().catch(() => 'unavailable' as const);
    const opened = await Pkcs11RootKeyStore.open(failover, dataDir, config.rootKeyLabel);
    await failover.replication.catchUp();
    for (const token of failover.tokens) token.startHealthChecks();
    return {
      root: opened.store,
      backend: new Pkcs11KeyBackend(failover),
      failover,
      rootKeyCreated: opened.created,
      transportKey,
      available: opened.available,
    };
  } catch (error) {
    await failover.close();
    throw error;
  }
}
