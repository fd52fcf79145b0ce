// The load generator against real HTTP servers on loopback: how it spreads its connections over
// several endpoints (the nodes of a cluster) and where in the request pool a run starts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest, endpointOf, runLoad, type LoadEndpoint } from '../../bench/load.js';

interface Node {
  server: Server;
  port: number;
  connections: number;
  /** The request paths this node served, in order. */
  paths: string[];
}

async function startNode(): Promise<Node> {
  const node = { connections: 0, paths: [] as string[] } as Node;
  node.server = createServer((request, response) => {
    node.paths.push(request.url ?? '');
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  node.server.on('connection', () => node.connections++);
  await new Promise<void>((done) => node.server.listen(0, '127.0.0.1', done));
  node.port = (node.server.address() as AddressInfo).port;
  return node;
}

const endpoint = (node: Node, count: number): LoadEndpoint => ({
  host: '127.0.0.1',
  port: node.port,
  requests: Array.from({ length: count }, (_, i) =>
    encodeRequest('POST', '127.0.0.1', node.port, `/r${i}`, {}, { i }),
  ),
});

describe('bench load generator', () => {
  let nodes: Node[];
  beforeAll(async () => {
    nodes = await Promise.all([startNode(), startNode(), startNode()]);
  });
  afterAll(async () => {
    for (const node of nodes) {
      node.server.closeAllConnections();
      await new Promise((done) => node.server.close(done));
    }
  });
  const reset = () => nodes.forEach((node) => ((node.connections = 0), (node.paths = [])));

  it('gives connection i the endpoint i mod n', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((i) => endpointOf(['a', 'b', 'c'], i))).toEqual([
      'a',
      'b',
      'c',
      'a',
      'b',
      'c',
      'a',
    ]);
    expect(() => endpointOf([], 0)).toThrow('at least one endpoint');
  });

  it('spreads its connections over the endpoints in turn, and every endpoint serves requests', async () => {
    reset();
    const result = await runLoad(
      { endpoints: nodes.map((node) => endpoint(node, 8)), expectStatus: 200 },
      { concurrency: 7, durationMs: 300 },
    );
    expect(result.errors).toBe(0);
    expect(nodes.map((node) => node.connections)).toEqual([3, 2, 2]);
    for (const node of nodes) expect(node.paths.length).toBeGreaterThan(0);
    const served = nodes.reduce((sum, node) => sum + node.paths.length, 0);
    // Requests still in flight when the window closes are answered after it and not counted.
    expect(served).toBeGreaterThanOrEqual(result.completed);
    expect(result.sent).toBe(served);
  });

  it('starts at firstRequest and reports what it sent, so a caller can continue from there', async () => {
    reset();
    const target = { endpoints: [endpoint(nodes[0]!, 10)], expectStatus: 200 };
    const first = await runLoad(target, {
      concurrency: 1,
      durationMs: 60_000,
      maxRequests: 4,
      firstRequest: 7,
    });
    expect(first.sent).toBe(4);
    const second = await runLoad(target, {
      concurrency: 1,
      durationMs: 60_000,
      maxRequests: 3,
      firstRequest: 7 + first.sent,
    });
    expect(second).toMatchObject({ sent: 3, completed: 3, errors: 0 });
    expect(nodes[0]!.paths).toEqual(['/r7', '/r8', '/r9', '/r0', '/r1', '/r2', '/r3']);
  });

  it('refuses endpoints whose request lists differ in length', async () => {
    await expect(
      runLoad(
        { endpoints: [endpoint(nodes[0]!, 2), endpoint(nodes[1]!, 3)], expectStatus: 200 },
        { concurrency: 2, durationMs: 100 },
      ),
    ).rejects.toThrow('the same, non-empty list of requests');
  });
});
