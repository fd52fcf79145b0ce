// The API's enumerations (key specs, usages, protection levels, states), read from the server's own
// OpenAPI document, so that the console offers exactly what this server accepts.
import { call } from './api.js';

let loaded;

export function vocabulary() {
  loaded ??= call('GET', '/openapi.json').then((spec) => {
    const create = spec.paths['/v1/keys'].post.requestBody.content['application/json'].schema.properties;
    const list = spec.paths['/v1/keys'].get.parameters ?? [];
    const state = list.find((parameter) => parameter.name === 'state');
    return {
      keySpecs: create.keySpec.enum,
      keyUsages: create.keyUsage.enum,
      protectionLevels: create.protectionLevel.enum,
      origins: create.origin.enum,
      states: state?.schema?.enum ?? [
        'Enabled',
        'Disabled',
        'PendingDeletion',
        'PendingImport',
        'Unavailable',
      ],
    };
  });
  return loaded;
}
