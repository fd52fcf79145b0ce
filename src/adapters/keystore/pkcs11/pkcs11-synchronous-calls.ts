// keyStore.pkcs11.synchronousCalls: the short token calls an operation makes (encrypt, decrypt,
// sign, verify, wrap, unwrap, digest) run as their synchronous C_* counterparts on the event loop's
// thread instead of pkcs11js's C_*Async variants. An async call is queued to libuv's thread pool and
// its result comes back through the event loop: for a token that answers in microseconds (SoftHSM,
// an HSM on the PCIe bus) that hop costs more than the call itself (docs/hsm.md "Speed"). For a
// network HSM, whose calls take milliseconds, it would stall every request behind each call: keep
// the default (off) there. Key generation stays asynchronous either way (RSA-4096 takes seconds).
import type { Pkcs11Api } from './pkcs11-module.js';

type Api = Pkcs11Api;

/** The Async methods replaced, each by a call of its synchronous counterpart. */
const SHORT_CALLS = {
  C_EncryptAsync: (api, ...args: Parameters<Api['C_Encrypt']>) => api.C_Encrypt(...args),
  C_DecryptAsync: (api, ...args: Parameters<Api['C_Decrypt']>) => api.C_Decrypt(...args),
  C_SignAsync: (api, ...args: Parameters<Api['C_Sign']>) => api.C_Sign(...args),
  C_VerifyAsync: (api, ...args: Parameters<Api['C_Verify']>) => api.C_Verify(...args),
  C_DigestAsync: (api, ...args: Parameters<Api['C_Digest']>) => api.C_Digest(...args),
  C_WrapKeyAsync: (api, ...args: Parameters<Api['C_WrapKey']>) => api.C_WrapKey(...args),
  C_UnwrapKeyAsync: (api, ...args: Parameters<Api['C_UnwrapKey']>) => api.C_UnwrapKey(...args),
} satisfies Partial<Record<keyof Api, (api: Api, ...args: never[]) => unknown>>;

/**
 * A view of `api` whose short Async calls run synchronously (returning a settled promise, so callers
 * that await them are unchanged); every other method is the library's own, bound to it.
 */
export function synchronousCalls(api: Api): Api {
  const bound = new Map<PropertyKey, unknown>();
  for (const [name, call] of Object.entries(SHORT_CALLS)) {
    const run = call as (api: Api, ...args: unknown[]) => unknown;
    bound.set(name, (...args: unknown[]) => {
      try {
        return Promise.resolve(run(api, ...args));
      } catch (error) {
        return Promise.reject(error as Error);
      }
    });
  }
  return new Proxy(api, {
    get(target, property) {
      const own = bound.get(property);
      if (own !== undefined) return own;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const method = (value as (...args: unknown[]) => unknown).bind(target);
      bound.set(property, method);
      return method;
    },
  });
}
