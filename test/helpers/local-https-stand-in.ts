// What the local HTTPS stand-ins of remote services (fake-azure-key-vault.ts,
// fake-google-cloud-kms.ts) share: a TLS listener on loopback that can be stopped, with every open
// connection, and started again on the same port, as the remote service going away and coming back.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';

export abstract class LocalHttpsStandIn {
  private server: Server | undefined;
  port = 0;

  constructor(
    private readonly tls: { cert: Buffer; key: Buffer },
    /** The bearer token the client under test must present. */
    readonly token: string,
  ) {}

  get url(): string {
    return `https://localhost:${this.port}`;
  }

  async start(port = 0): Promise<void> {
    const server = createServer({ cert: this.tls.cert, key: this.tls.key }, (req, res) => {
      void this.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Closes the listener and every open connection: the service is gone until start(samePort). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}
