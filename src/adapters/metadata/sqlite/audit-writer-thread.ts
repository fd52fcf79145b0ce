// The audit log's appends on a worker thread with its own connection to the database file.
// better-sqlite3 is synchronous: on the main thread every request would wait for each commit, and
// with audit.fsync for the disk's flush too. Here the main thread only posts the rows and goes on
// serving; the worker runs one prepared insert per record in one transaction and answers once it
// is committed: written to the file (synchronous=NORMAL in WAL mode: it survives a crash of the
// process) or, with audit.fsync, flushed to the disk (synchronous=FULL: it survives a power loss).
// SQLite serialises the two connections' writes (WAL, busy timeout), so the chain stays one
// sequence of rows.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { GENESIS_HASH, type ChainHead } from '../../../domain/audit-record.js';
import { ChainMovedError } from '../../../ports/audit-store.js';
import type { AuditRecordsTable } from '../schema.js';

/** The audit_records columns, in insert order (the worker's statement is built from them). */
const COLUMNS: readonly (keyof AuditRecordsTable)[] = [
  'seq',
  'time',
  'request_id',
  'tenant_id',
  'principal_id',
  'action',
  'key_id',
  'key_version',
  'result',
  'error_code',
  'source_ip',
  'latency_ms',
  'prev_hash',
  'hash',
];

const SEQ = COLUMNS.indexOf('seq');
const PREV_HASH = COLUMNS.indexOf('prev_hash');
const HASH = COLUMNS.indexOf('hash');

// Plain JavaScript, evaluated as the worker's script: a source file would not exist beside the
// TypeScript sources that the tests run. The driver is passed as a resolved path so that it loads
// whatever the working directory.
//
// Batches arrive while one commits (the main thread does not wait for the last answer before it
// sends the next): those waiting are committed together, in one transaction. Each must continue the
// chain as committed, its first record's prev_hash the last committed record's hash: one computed
// after a batch that failed is refused, and no record ever points at one that is not there. A
// refusal says "moved" with the head as read under the write lock: another process (a cluster
// worker) appended first, and the caller chains the batch again from there.
const WORKER_SCRIPT = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const { SEQ, PREV_HASH, HASH, GENESIS_HASH } = workerData;
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('synchronous = ' + (workerData.fsync ? 'FULL' : 'NORMAL'));
db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
const insert = db.prepare(workerData.insert);
const storedHead = db.prepare('SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1');
// IMMEDIATE: the head is read under the write lock, so no other connection can move it between
// the check and the inserts.
const append = db.transaction((batches) => {
  const head = storedHead.get();
  let tail = head ? head.hash : GENESIS_HASH;
  let tailSeq = head ? Number(head.seq) : 0;
  const accepted = [];
  for (const batch of batches) {
    const first = batch.rows[0];
    if (first[PREV_HASH] !== tail || first[SEQ] !== tailSeq + 1) {
      answer(batch, 'the records do not continue the stored chain', tailSeq === 0 ? null : { seq: tailSeq, hash: tail });
      continue;
    }
    for (const row of batch.rows) insert.run(row);
    accepted.push(batch);
    const last = batch.rows[batch.rows.length - 1];
    tail = last[HASH];
    tailSeq = last[SEQ];
  }
  return accepted;
});
let waiting = [];
const answer = (batch, error, head) =>
  parentPort.postMessage(error === undefined ? { id: batch.id } : head === undefined ? { id: batch.id, error } : { id: batch.id, error, moved: true, head });
function commit() {
  const batches = waiting;
  waiting = [];
  try {
    for (const batch of append.immediate(batches)) answer(batch);
  } catch (error) {
    // Refused batches were answered already; a second answer for the same id is ignored. A seq
    // another writer took is the chain moving too (its head unknown here).
    const code = error && error.code;
    const taken = code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
    for (const batch of batches)
      parentPort.postMessage({ id: batch.id, error: String((error && error.message) || error), moved: taken });
  }
}
parentPort.on('message', (batch) => {
  if (waiting.push(batch) === 1) setImmediate(commit);
});
`;

/** The worker's answer to one batch: no error, or why; `moved` when another writer was first. */
interface WriterAnswer {
  id: number;
  error?: string;
  moved?: boolean;
  /** With `moved`, the head under the write lock (null: empty) when the worker read it. */
  head?: ChainHead | null;
}

interface Waiting {
  resolve: () => void;
  reject: (error: Error) => void;
  /** The worker the rows went to: only its death fails them. */
  worker: Worker;
}

export class AuditWriterThread {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private closed = false;
  /** Called once no append waits for an answer (close() waits for it). */
  private whenIdle: (() => void) | undefined;

  constructor(
    private readonly path: string,
    private readonly options: { busyTimeoutMs: number; fsync: boolean },
  ) {}

  /**
   * Inserts the rows, all or none; resolves once they are committed, rejects otherwise (and when
   * the first does not continue the stored chain). Appends may overlap: they commit in call order.
   */
  append(rows: readonly AuditRecordsTable[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('the audit writer is closed'));
    const worker = this.running();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, worker });
      // Waiting for an answer keeps the process alive (a CLI command's last record); idle, the
      // worker never does (a server that was not closed still exits).
      if (this.waiting.size === 1) worker.ref();
      // Positional values: cheaper to copy to the worker than objects, and to bind.
      worker.postMessage({ id, rows: rows.map((row) => COLUMNS.map((column) => row[column])) });
    });
  }

  /**
   * Refuses new appends, waits for those sent (up to the busy timeout and a second), then stops
   * the worker: a record sent just before shutdown is committed, or its append fails.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.waiting.size > 0) {
      await new Promise<void>((settled) => {
        const timer = setTimeout(settled, this.options.busyTimeoutMs + 1000);
        this.whenIdle = () => {
          clearTimeout(timer);
          settled();
        };
      });
    }
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
    for (const waiting of this.waiting.values()) waiting.reject(new Error('the audit writer is closed'));
    this.waiting.clear();
  }

  /** The worker, started on first use and again after it died (its pending appends failed). */
  private running(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SCRIPT, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        path: this.path,
        busyTimeoutMs: this.options.busyTimeoutMs,
        fsync: this.options.fsync,
        insert: `INSERT INTO audit_records (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
        SEQ,
        PREV_HASH,
        HASH,
        GENESIS_HASH,
      },
    });
    worker.unref();
    worker.on('message', ({ id, error, moved, head }: WriterAnswer) => {
      const waiting = this.waiting.get(id);
      this.waiting.delete(id);
      if (error === undefined) waiting?.resolve();
      else if (moved) waiting?.reject(new ChainMovedError(head, { cause: new Error(error) }));
      else waiting?.reject(new Error(error));
      if (this.waiting.size === 0) {
        worker.unref();
        this.whenIdle?.();
      }
    });
    const died = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const [id, waiting] of this.waiting) {
        if (waiting.worker !== worker) continue;
        this.waiting.delete(id);
        waiting.reject(error);
      }
      if (this.waiting.size === 0) this.whenIdle?.();
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`the audit writer stopped (exit code ${code})`)));
    this.worker = worker;
    return worker;
  }
}
