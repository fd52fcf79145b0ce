// Builds the EXTERNAL backend from keyStore.external: one integration-layer provider per configured
// provider, on its official SDK (or Keyhaven's own), in the configured order.
import { KMSClient } from '@aws-sdk/client-kms';
import type { Registry } from 'prom-client';
import { KeyhavenClient } from '../../../client/keyhaven-client.js';
import type { ExternalKeyStoreConfig, ExternalProviderConfig } from '../../../config.js';
import { AwsKmsProvider } from '../../../integration/aws-kms-provider.js';
import { KeyhavenProvider } from '../../../integration/keyhaven-provider.js';
import { KmsIntegrationService, type ProviderConfig } from '../../../integration/kms-integration-service.js';
import type { KmsProvider } from '../../../integration/provider.js';
import type { RootKeyStore } from '../../../ports/root-key-store.js';
import type { MaterialCache } from '../software/material-cache.js';
import { ExternalKeyBackend } from './external-key-backend.js';

export function openExternalKeyStore(
  config: ExternalKeyStoreConfig,
  root: RootKeyStore,
  cache: MaterialCache,
  metricsRegistry?: Registry,
): { backend: ExternalKeyBackend; providers: KmsIntegrationService } {
  const entries = config.providers.map((p): [string, ProviderConfig] => [
    p.name,
    {
      provider: providerFor(p),
      // Shorter than the library's defaults: a request waits on these, behind a load balancer's timeout.
      failureThreshold: p.failureThreshold ?? 3,
      recoveryTimeout: p.recoveryTimeoutMs ?? 5_000,
      timeout: p.timeoutMs ?? 5_000,
      retries: p.retries ?? 1,
    },
  ]);
  const providers = new KmsIntegrationService({
    providers: Object.fromEntries(entries),
    fallbackOrder: entries.map(([name]) => name),
    ...(metricsRegistry ? { metricsRegistry } : {}),
  });
  return {
    backend: new ExternalKeyBackend(
      providers,
      entries.map(([name]) => name),
      root,
      cache,
      { wrapGraceMs: config.wrapGraceMs },
    ),
    providers,
  };
}

function providerFor(config: ExternalProviderConfig): KmsProvider {
  switch (config.type) {
    case 'keyhaven':
      return new KeyhavenProvider(new KeyhavenClient({ endpoint: config.url, token: config.token }));
    case 'aws-kms':
      return new AwsKmsProvider(
        new KMSClient({
          region: config.region,
          ...(config.endpoint ? { endpoint: config.endpoint } : {}),
          ...(config.accessKeyId && config.secretAccessKey
            ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } }
            : {}),
          // The integration layer retries, behind its circuit breaker; the SDK's own would hide faults.
          maxAttempts: 1,
        }),
      );
  }
}
