// The ceiling for the HSM rows: the raw PKCS#11 call rate of the same SoftHSM2 token, with pkcs11js
// straight from the benchmark process, on the key objects the HSM server created. Two calls, each as
// the server makes it (hsm-aes-gcm.ts, pkcs11-key-backend.ts) minus everything else a request does:
//   encrypt  C_EncryptInit(CKM_AES_GCM, 12-byte IV, AAD, 128-bit tag) + C_Encrypt of 256 bytes
//   sign     C_SignInit(CKM_ECDSA) + C_Sign of a 32-byte digest (P-256)
// measured as a synchronous loop on one session, and with the async variants (libuv thread pool, as
// the server uses them) at N in flight, one session each.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pkcs11js from 'pkcs11js';
import { AES_GCM_TAG_LENGTH } from '../src/crypto/aead.js';
import { gcmMechanism } from '../src/adapters/keystore/pkcs11/hsm-aes-gcm.js';
import { SESSION_FLAGS } from '../src/adapters/keystore/pkcs11/pkcs11-token.js';

export type RawCall = 'encrypt' | 'sign';
export type RawMode = 'sync' | 'async';

export const RAW_CALLS: Record<RawCall, string> = {
  encrypt: 'C_EncryptInit + C_Encrypt, CKM_AES_GCM (AES-256), 256 bytes, 12-byte IV, AAD',
  sign: 'C_SignInit + C_Sign, CKM_ECDSA (P-256), 32-byte digest',
};

export interface RawRate {
  call: RawCall;
  mode: RawMode;
  /** Operations in flight: 1 for the synchronous loop. */
  inFlight: number;
  operations: number;
  elapsedMs: number;
  opsPerSecond: number;
  /** CPU of the benchmark process (every thread, so the library's too) per operation, µs. */
  cpuUsPerOp: number;
}

export interface RawTokenOptions {
  modulePath: string;
  /** softhsm2.conf of the token (SOFTHSM2_CONF is set only while the library initialises). */
  conf: string;
  tokenLabel: string;
  pin: string;
  /** Labels of the AES-256 secret key and the P-256 private key to use. */
  encryptKeyLabel: string;
  signKeyLabel: string;
}

type Handle = Buffer;

interface Lane {
  session: Handle;
  gcm: pkcs11js.Mechanism;
  encryptOut: Buffer;
  signOut: Buffer;
}

const PLAINTEXT_BYTES = 256;
const ECDSA = { mechanism: pkcs11js.CKM_ECDSA };

/** One logged-in application on the token; close() ends every session and finalises the library. */
export class RawToken {
  private readonly lanes: Lane[] = [];
  private readonly plaintext = randomBytes(PLAINTEXT_BYTES);
  private readonly aad = Buffer.from('keyhaven/bench/aad: purpose=benchmark, tenant=acme', 'utf8');
  private readonly digest = randomBytes(32);
  private active: Promise<unknown> | undefined;
  private stopping = false;
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly api: pkcs11js.PKCS11,
    private readonly slot: Handle,
    private readonly aesKey: Handle,
    private readonly ecKey: Handle,
    first: Handle,
  ) {
    this.lanes.push(this.lane(first));
  }

  /** Loads and initialises the library, logs in and finds the two keys; checks one call of each. */
  static open(options: RawTokenOptions): RawToken {
    const api = new pkcs11js.PKCS11();
    api.load(options.modulePath);
    const previous = process.env.SOFTHSM2_CONF;
    process.env.SOFTHSM2_CONF = options.conf;
    try {
      // Async calls run on libuv's thread pool: the library must do its own locking.
      api.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    } catch (error) {
      api.close();
      throw error;
    } finally {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
    }
    let session: Handle | undefined;
    try {
      const slot = api
        .C_GetSlotList(true)
        .find((s) => api.C_GetTokenInfo(s).label.trimEnd() === options.tokenLabel);
      if (!slot) throw new Error(`no token labelled "${options.tokenLabel}"`);
      session = api.C_OpenSession(slot, SESSION_FLAGS);
      api.C_Login(session, pkcs11js.CKU_USER, options.pin);
      const aesKey = findObject(api, session, options.encryptKeyLabel, pkcs11js.CKO_SECRET_KEY);
      const ecKey = findObject(api, session, options.signKeyLabel, pkcs11js.CKO_PRIVATE_KEY);
      const token = new RawToken(api, slot, aesKey, ecKey, session);
      token.check();
      return token;
    } catch (error) {
      const opened = session;
      if (opened) tryCall(() => api.C_CloseSession(opened));
      tryCall(() => api.C_Finalize());
      api.close();
      throw error;
    }
  }

  /** Measures one call for `durationMs` after `warmupMs`, synchronously or with `inFlight` async calls. */
  async measure(
    call: RawCall,
    mode: RawMode,
    inFlight: number,
    durationMs: number,
    warmupMs: number,
  ): Promise<RawRate> {
    if (this.stopping) throw new Error('the raw PKCS#11 measurement was stopped');
    const lanes = mode === 'sync' ? 1 : inFlight;
    while (this.lanes.length < lanes) {
      this.lanes.push(this.lane(this.api.C_OpenSession(this.slot, SESSION_FLAGS)));
    }
    const run = mode === 'sync' ? this.runSync.bind(this, call) : this.runAsync.bind(this, call, lanes);
    const measured = (async () => {
      if (warmupMs > 0) await run(warmupMs);
      const cpuBefore = process.cpuUsage();
      const { operations, elapsedMs } = await run(durationMs);
      const cpu = process.cpuUsage(cpuBefore);
      if (this.stopping) throw new Error('the raw PKCS#11 measurement was stopped');
      const rate: RawRate = {
        call,
        mode,
        inFlight: lanes,
        operations,
        elapsedMs,
        opsPerSecond: (operations / elapsedMs) * 1000,
        cpuUsPerOp: (cpu.user + cpu.system) / Math.max(operations, 1),
      };
      return rate;
    })();
    this.active = measured.catch(() => undefined);
    return measured;
  }

  /**
   * Stops a measurement in progress, waits for calls still in flight (finalising under a running call
   * crashes), closes every session (which logs out) and finalises and unloads the library. Idempotent.
   */
  close(): Promise<void> {
    this.stopping = true;
    this.closed ??= (async () => {
      await this.active;
      for (const lane of this.lanes.splice(0)) tryCall(() => this.api.C_CloseSession(lane.session));
      tryCall(() => this.api.C_Finalize());
      this.api.close();
    })();
    return this.closed;
  }

  private lane(session: Handle): Lane {
    const iv = randomBytes(12);
    return {
      session,
      gcm: gcmMechanism(iv, this.aad),
      encryptOut: Buffer.alloc(PLAINTEXT_BYTES + AES_GCM_TAG_LENGTH),
      signOut: Buffer.alloc(72),
    };
  }

  private syncCall(call: RawCall, lane: Lane): Buffer {
    const { api } = this;
    if (call === 'encrypt') {
      api.C_EncryptInit(lane.session, lane.gcm, this.aesKey);
      return api.C_Encrypt(lane.session, this.plaintext, lane.encryptOut);
    }
    api.C_SignInit(lane.session, ECDSA, this.ecKey);
    return api.C_Sign(lane.session, this.digest, lane.signOut);
  }

  private asyncCall(call: RawCall, lane: Lane): Promise<Buffer> {
    const { api } = this;
    if (call === 'encrypt') {
      api.C_EncryptInit(lane.session, lane.gcm, this.aesKey);
      return api.C_EncryptAsync(lane.session, this.plaintext, lane.encryptOut);
    }
    api.C_SignInit(lane.session, ECDSA, this.ecKey);
    return api.C_SignAsync(lane.session, this.digest, lane.signOut);
  }

  private check(): void {
    const lane = this.lanes[0]!;
    const sealed = this.syncCall('encrypt', lane);
    if (sealed.length !== PLAINTEXT_BYTES + AES_GCM_TAG_LENGTH) {
      throw new Error(`raw AES-GCM encrypt returned ${sealed.length} bytes`);
    }
    const signature = this.syncCall('sign', lane);
    if (signature.length !== 64) throw new Error(`raw ECDSA P-256 sign returned ${signature.length} bytes`);
  }

  private async runSync(
    call: RawCall,
    durationMs: number,
  ): Promise<{ operations: number; elapsedMs: number }> {
    const lane = this.lanes[0]!;
    const start = performance.now();
    const deadline = start + durationMs;
    let operations = 0;
    let now = start;
    while (now < deadline && !this.stopping) {
      this.syncCall(call, lane);
      operations++;
      now = performance.now();
    }
    return { operations, elapsedMs: now - start };
  }

  private async runAsync(
    call: RawCall,
    inFlight: number,
    durationMs: number,
  ): Promise<{ operations: number; elapsedMs: number }> {
    const start = performance.now();
    const deadline = start + durationMs;
    let operations = 0;
    // Calls still in flight at the deadline complete and count; the window ends with the last one.
    await Promise.all(
      this.lanes.slice(0, inFlight).map(async (lane) => {
        while (performance.now() < deadline && !this.stopping) {
          await this.asyncCall(call, lane);
          operations++;
        }
      }),
    );
    return { operations, elapsedMs: performance.now() - start };
  }
}

function findObject(api: pkcs11js.PKCS11, session: Handle, label: string, objectClass: number): Handle {
  api.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_CLASS, value: objectClass },
  ]);
  try {
    const found = api.C_FindObjects(session, 2);
    if (found.length !== 1) throw new Error(`expected one object labelled ${label}, found ${found.length}`);
    return found[0]!;
  } finally {
    api.C_FindObjectsFinal(session);
  }
}

function tryCall(run: () => void): void {
  try {
    run();
  } catch {
    // Cleaning up: a session or library already gone leaves nothing to free.
  }
}
