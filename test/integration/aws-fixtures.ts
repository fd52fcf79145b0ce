// What the AWS dialect's suites share: access key pairs for principals, an @aws-sdk/client-kms
// client on the test server, a request signed by the SDK's own signer but sent by hand, and the
// exception a command fails with.
import { KMSClient, type KMSServiceException } from '@aws-sdk/client-kms';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { expect } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import type { Api } from './http.js';

export const REGION = 'us-east-1';

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

export async function accessKeyOf(admin: Api, principalId: string): Promise<AccessKey> {
  const created = await admin.post<AccessKey>(`/v1/principals/${principalId}/access-keys`, {});
  expect(created.status, created.text).toBe(201);
  return { accessKeyId: created.body.accessKeyId, secretAccessKey: created.body.secretAccessKey };
}

export const clientFor = (server: TestServer, credentials: AccessKey, region = REGION) =>
  new KMSClient({ endpoint: server.url, region, credentials, maxAttempts: 1 });

/**
 * A request signed by the AWS SDK's own signer but sent by hand, to try what a client would not
 * send: `unsigned` headers are left out of the signature, `after` changes the request once signed.
 */
export async function signedFetch(
  server: TestServer,
  credentials: AccessKey,
  target: string,
  body: string,
  options: { unsigned?: string[]; after?: (headers: Record<string, string>) => void } = {},
): Promise<{ status: number; body: { __type?: string; message?: string } }> {
  const url = new URL(server.url);
  const signer = new SignatureV4({
    credentials,
    region: REGION,
    service: 'kms',
    sha256: Hash.bind(null, 'sha256'),
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `TrentService.${target}`,
      },
      body,
    },
    { unsignableHeaders: new Set(options.unsigned ?? []) },
  );
  const headers = { ...signed.headers } as Record<string, string>;
  delete headers.host;
  options.after?.(headers);
  const response = await fetch(`${server.url}/`, { method: 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as { __type?: string }) : {} };
}

/** The exception a command fails with: its AWS type, message and HTTP status. */
export async function failure(
  work: Promise<unknown>,
): Promise<{ name: string; message: string; status?: number }> {
  const error = (await work.then(
    () => undefined,
    (e: unknown) => e,
  )) as KMSServiceException | undefined;
  expect(error, 'the command succeeded').toBeDefined();
  return { name: error!.name, message: error!.message, status: error!.$metadata?.httpStatusCode };
}
