// An in-process DataKeyProvider for envelope unit tests: wraps data keys with a local AES-256-GCM key
// bound to a context, like the server would. It stands in for key issuance only, not for the server.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataKeyProvider } from '../../src/cli/envelope-stream.js';

export interface InProcessDataKeyProvider extends DataKeyProvider {
  /** Every plaintext data key handed out, to check that the streams zeroize them. */
  issued: Buffer[];
}

export function inProcessDataKeyProvider(
  wrappingKey: Buffer = randomBytes(32),
  context = 'test-context',
): InProcessDataKeyProvider {
  const issued: Buffer[] = [];
  return {
    issued,
    async generateDataKey() {
      const plaintext = randomBytes(32);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', wrappingKey, iv).setAAD(Buffer.from(context));
      const wrapped = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      issued.push(plaintext);
      return { plaintext, wrapped };
    },
    async unwrapDataKey(wrapped) {
      const decipher = createDecipheriv('aes-256-gcm', wrappingKey, wrapped.subarray(0, 12)).setAAD(
        Buffer.from(context),
      );
      decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
      const plaintext = Buffer.concat([
        decipher.update(wrapped.subarray(12, wrapped.length - 16)),
        decipher.final(),
      ]);
      issued.push(plaintext);
      return plaintext;
    },
  };
}
