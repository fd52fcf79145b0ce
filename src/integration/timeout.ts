// A per-call deadline: the call gets an AbortSignal that fires at the deadline, and the caller gets
// a ProviderTimeoutError then even if the SDK underneath ignores the signal.
import { ProviderTimeoutError } from './errors.js';
import type { CallContext } from './provider.js';

export async function withTimeout<T>(
  operation: string,
  timeoutMs: number,
  work: (context: CallContext) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ProviderTimeoutError(operation, timeoutMs));
    }, timeoutMs);
  });
  try {
    return await Promise.race([work({ signal: controller.signal }), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
