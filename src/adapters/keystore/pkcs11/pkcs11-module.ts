// One loaded PKCS#11 library per path and process: C_Initialize runs once when the first token of a
// library opens (STYLE.md, after Cosmian KMS), C_Finalize when the last one closes. Re-initialising
// is reserved for recovery (a token that vanished and came back is invisible to SoftHSM until then)
// and waits until no call of this library is in flight, since finalising under a running call crashes.
import pkcs11js from 'pkcs11js';

// The async C_* variants run on libuv's thread pool, so calls reach the library from several threads:
// without CKF_OS_LOCKING_OK a library may assume single-threaded use (PKCS#11 v2.40 §5.4) and corrupt
// its state under concurrency.
const MULTI_THREADED = { flags: pkcs11js.CKF_OS_LOCKING_OK };
import { ConfigError } from '../../../config.js';

export type Pkcs11Api = pkcs11js.PKCS11;

/** Shortest interval between two recoveries by re-initialisation of one library. */
const MIN_REINITIALIZE_INTERVAL_MS = 1000;

export class Pkcs11Module {
  /** Bumped by each re-initialisation: sessions and object handles of older generations are void. */
  generation = 0;
  private inFlight = 0;
  private drained: (() => void)[] = [];
  private reinitializing: Promise<void> | undefined;
  private lastReinitializeAt = 0;
  private users = 0;

  constructor(
    readonly path: string,
    readonly api: Pkcs11Api,
  ) {}

  /** Runs one library call (or a short sequence on one session), counted for draining. */
  async call<T>(run: (api: Pkcs11Api) => Promise<T> | T): Promise<T> {
    while (this.reinitializing) await this.reinitializing;
    this.inFlight++;
    try {
      return await run(this.api);
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const done of this.drained.splice(0)) done();
    }
  }

  /**
   * C_Finalize + C_Initialize once in-flight calls have finished; concurrent requests share one
   * re-initialisation, and at most one runs per MIN_REINITIALIZE_INTERVAL_MS. Returns whether it ran.
   */
  async reinitialize(): Promise<boolean> {
    if (this.reinitializing) {
      await this.reinitializing;
      return true;
    }
    if (Date.now() - this.lastReinitializeAt < MIN_REINITIALIZE_INTERVAL_MS) return false;
    this.lastReinitializeAt = Date.now();
    this.reinitializing = (async () => {
      if (this.inFlight > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
      try {
        this.api.C_Finalize();
      } catch {
        // Already finalised or the library is in a bad state: initialising again is the remedy.
      }
      this.api.C_Initialize(MULTI_THREADED);
      this.generation++;
    })();
    try {
      await this.reinitializing;
    } finally {
      this.reinitializing = undefined;
    }
    return true;
  }

  acquire(): this {
    this.users++;
    return this;
  }

  /** Finalises and unloads the library when its last user is gone. */
  release(): void {
    this.users--;
    if (this.users > 0) return;
    modules.delete(this.path);
    try {
      this.api.C_Finalize();
    } catch {
      // Finalising a library that lost its devices may fail; unloading still frees it.
    }
    this.api.close();
  }
}

const modules = new Map<string, Pkcs11Module>();

/** Loads and initialises the library at `path`, or returns the instance already loaded. */
export function openPkcs11Module(path: string): Pkcs11Module {
  const existing = modules.get(path);
  if (existing) return existing.acquire();
  const api = new pkcs11js.PKCS11();
  try {
    api.load(path);
  } catch (cause) {
    throw new ConfigError(`cannot load PKCS#11 module ${path}: ${(cause as Error).message}`);
  }
  try {
    api.C_Initialize(MULTI_THREADED);
  } catch (cause) {
    api.close();
    throw new ConfigError(`PKCS#11 module ${path} failed to initialise: ${(cause as Error).message}`);
  }
  const module = new Pkcs11Module(path, api);
  modules.set(path, module);
  return module.acquire();
}
