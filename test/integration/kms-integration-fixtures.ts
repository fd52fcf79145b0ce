// What the integration layer's suites share: a Keyhaven process reached through its AWS endpoint
// (the real @aws-sdk/client-kms, SigV4 with a tenant admin's access key) and another reached
// through Keyhaven's own SDK, each wrapped in its provider adapter.
import type { KMSClient } from '@aws-sdk/client-kms';
import { KeyhavenClient } from '../../src/client/index.js';
import { AwsKmsProvider, KeyhavenProvider } from '../../src/integration/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { accessKeyOf, clientFor } from './aws-fixtures.js';
import { Api } from './http.js';
import { createActor, createTenant } from './identity-fixtures.js';

export interface AwsSide {
  server: TestServer;
  kms: KMSClient;
  provider: AwsKmsProvider;
}

export async function startAwsSide(): Promise<AwsSide> {
  const server = await startServer();
  const system = new Api(server.url, server.token);
  const tenantId = (await createTenant(system)).tenantId;
  const admin = await createActor(system, tenantId, ['admin']);
  // maxAttempts 1 (clientFor): retries are the integration service's, not the SDK's.
  const kms = clientFor(server, await accessKeyOf(system, admin.principal.principalId));
  return { server, kms, provider: new AwsKmsProvider(kms) };
}

export interface KeyhavenSide {
  server: TestServer;
  client: KeyhavenClient;
  provider: KeyhavenProvider;
}

export async function startKeyhavenSide(): Promise<KeyhavenSide> {
  const server = await startServer();
  const client = new KeyhavenClient({ endpoint: server.url, token: server.token, timeoutMs: 5_000 });
  return { server, client, provider: new KeyhavenProvider(client) };
}
