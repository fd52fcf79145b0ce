// The context of a service call made directly by a test: the bootstrap admin over REST.
import { DEFAULT_TENANT, type RequestContext } from '../../src/domain/request-context.js';

export function adminContext(action = 'Test'): RequestContext {
  return {
    principal: {
      id: 'test-admin',
      name: 'admin',
      tenant: DEFAULT_TENANT,
      roles: ['admin'],
      attributes: {},
      policyIds: [],
    },
    tenant: DEFAULT_TENANT,
    credential: 'api-key',
    sourceIp: '127.0.0.1',
    requestId: 'test-request',
    action,
    transport: 'rest',
    facts: {},
  };
}
