// A KeyManagementServiceClient on its HTTP/JSON REST fallback, pointed at a local stand-in: an
// OAuth2Client holding one fixed access token, whose gaxios transport trusts the test CA.
import { Agent } from 'node:https';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import { OAuth2Client } from 'google-auth-library';

type KmsAuthClient = NonNullable<
  NonNullable<ConstructorParameters<typeof KeyManagementServiceClient>[0]>['authClient']
>;

export function googleKmsClientFor(port: number, ca: Buffer, token: string): KeyManagementServiceClient {
  const authClient = new OAuth2Client();
  // No refresh token, an expiry an hour away: the client never asks a token endpoint.
  authClient.setCredentials({ access_token: token, expiry_date: Date.now() + 3_600_000 });
  // gax passes its own keep-alive agent on each request; the transporter's request interceptor is
  // where google-auth-library lets a caller choose the agent (here, one that trusts the test CA).
  const agent = new Agent({ ca, keepAlive: true });
  authClient.transporter.interceptors.request.add({ resolved: async (config) => ({ ...config, agent }) });
  return new KeyManagementServiceClient({
    fallback: true,
    protocol: 'https',
    apiEndpoint: 'localhost',
    port,
    // google-gax pins its google-auth-library; when npm installs another 10.x beside it, the two
    // OAuth2Client types differ (private members) though gax only calls getRequestHeaders/fetch.
    authClient: authClient as unknown as KmsAuthClient,
  });
}
