// Background key work: automatic rotation once a rotation period has elapsed, deletion once a
// deletion window has ended, and destruction of deleted keys' material. One key's failure (its HSM
// is down, a concurrent change) never stops the others: it is reported, and retried at the next run.
import { randomUUID } from 'node:crypto';
import { KmsError, type ErrorCode } from '../domain/errors.js';
import { internalContext } from '../domain/request-context.js';
import type { Key } from '../domain/key.js';
import type { Clock } from '../ports/clock.js';
import type { DueCursor, MetadataStore, QueuedDestruction } from '../ports/metadata-store.js';
import type { KeyDirectory } from './key-directory.js';
import type { AuditLog } from './audit-log.js';
import type { KeyService } from './key-service.js';
import type { UsageRecorder } from './usage-recorder.js';

export type KeyJob = 'rotate' | 'delete' | 'destroy';

export interface KeyJobFailure {
  job: KeyJob;
  keyId: string;
  version?: number;
  code: ErrorCode;
  /** KmsError messages carry no secrets; other errors are bugs, worth their message in the log. */
  message: string;
}

export interface KeyJobsReport {
  rotated: number;
  deleted: number;
  /** Key versions whose material was destroyed (deleted keys' versions). */
  destroyed: number;
  failures: KeyJobFailure[];
}

const PAGE = 100;
/** Keys looked at per job and run; the rest wait for the next run (jobs.intervalSeconds). */
const MAX_PER_RUN = 1000;

export class ScheduledKeyJobs {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly keys: KeyService,
    private readonly directory: KeyDirectory,
    private readonly usage: UsageRecorder,
    private readonly clock: Clock,
    private readonly audit: Pick<AuditLog, 'recordInternal' | 'internalEntry'>,
  ) {}

  private running: Promise<KeyJobsReport> | undefined;
  /** Where each job stopped when a run reached MAX_PER_RUN items: the next run resumes there. */
  private readonly resumeAfter = new Map<KeyJob, unknown>();

  /**
   * Runs every job once; a call while a run is under way shares it (the timer and the start-up run
   * never overlap). Never throws for a key's failure; see `failures`.
   */
  run(): Promise<KeyJobsReport> {
    this.running ??= this.runOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Resolves once no run is under way (before the stores close). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async runOnce(): Promise<KeyJobsReport> {
    const failures: KeyJobFailure[] = [];
    const rotated = await this.rotateDueKeys(failures);
    const deleted = await this.deleteDueKeys(failures);
    const destroyed = await this.destroyQueuedMaterial(failures);
    return { rotated, deleted, destroyed, failures };
  }

  private async rotateDueKeys(failures: KeyJobFailure[]): Promise<number> {
    let rotated = 0;
    const now = this.clock.now();
    await this.pageThrough<Key, DueCursor>(
      'rotate',
      (after) => this.metadata.keysDueForRotation(now, PAGE, after),
      (key) => ({ dueAt: key.nextRotationAt!, keyId: key.keyId }),
      async (key) => {
        // Only from the version that was due: another process's run may have rotated it already.
        const ctx = internalContext('RotateKey', randomUUID(), key.tenant);
        const startedAt = Date.now();
        // The RotateKey record is written in the version's own transaction: both land or neither.
        const rotatedKey = await this.keys.rotateDue(ctx, key.keyId, key.currentVersion, (rotated) => {
          ctx.facts.keyVersion = rotated.currentVersion;
          return this.audit.internalEntry(ctx, rotated.tenant, { startedAt });
        });
        if (rotatedKey) rotated++;
      },
      (key, error) => failures.push({ job: 'rotate', keyId: key.keyId, ...describe(error) }),
    );
    return rotated;
  }

  private async deleteDueKeys(failures: KeyJobFailure[]): Promise<number> {
    let deleted = 0;
    const now = this.clock.now();
    await this.pageThrough<Key, DueCursor>(
      'delete',
      (after) => this.metadata.keysDueForDeletion(now, PAGE, after),
      (key) => ({ dueAt: key.deletionDate!, keyId: key.keyId }),
      async (key) => {
        // Conditional on the state at the moment of removal: a deletion cancelled since the key was
        // listed keeps the key. Material is destroyed afterwards, from the queue this fills.
        const startedAt = Date.now();
        if (!(await this.metadata.deleteKeyIfDue(key.keyId, this.clock.now()))) return;
        this.directory.forget(key.keyId);
        this.usage.forget(key.keyId);
        const ctx = internalContext('DeleteKey', randomUUID(), key.tenant);
        ctx.facts.keyId = key.keyId;
        await this.audit.recordInternal(ctx, key.tenant, { startedAt });
        deleted++;
      },
      (key, error) => failures.push({ job: 'delete', keyId: key.keyId, ...describe(error) }),
    );
    return deleted;
  }

  private async destroyQueuedMaterial(failures: KeyJobFailure[]): Promise<number> {
    let destroyed = 0;
    await this.pageThrough<QueuedDestruction, QueuedDestruction>(
      'destroy',
      (after) => this.metadata.queuedDestructions(PAGE, after),
      (queued) => queued,
      async (queued) => {
        await this.keys.backendFor(queued.protectionLevel).destroyVersionMaterial(queued);
        await this.metadata.completeDestruction(queued.keyId, queued.version.version);
        destroyed++;
      },
      (queued, error) =>
        failures.push({
          job: 'destroy',
          keyId: queued.keyId,
          version: queued.version.version,
          ...describe(error),
        }),
    );
    return destroyed;
  }

  /**
   * Works through a job's items page by page, in the store's order, with a cursor: an item that
   * fails is passed over, so it cannot hold back the items after it, and is tried again at the next
   * run. A run stops after MAX_PER_RUN items and the next one resumes where it stopped, so even
   * more failing items than that never starve the rest; reaching the end starts over next time.
   */
  private async pageThrough<Item, Cursor>(
    job: KeyJob,
    page: (after: Cursor | undefined) => Promise<Item[]>,
    cursorOf: (item: Item) => Cursor,
    work: (item: Item) => Promise<void>,
    failed: (item: Item, error: unknown) => void,
  ): Promise<void> {
    let after = this.resumeAfter.get(job) as Cursor | undefined;
    this.resumeAfter.delete(job);
    for (let seen = 0; ;) {
      const items = await page(after);
      if (items.length === 0) return;
      for (const item of items) {
        try {
          await work(item);
        } catch (error) {
          failed(item, error);
        }
      }
      seen += items.length;
      after = cursorOf(items[items.length - 1]!);
      if (seen >= MAX_PER_RUN) {
        this.resumeAfter.set(job, after);
        return;
      }
    }
  }
}

function describe(error: unknown): { code: ErrorCode; message: string } {
  if (error instanceof KmsError) return { code: error.code, message: error.message };
  return { code: 'Internal', message: error instanceof Error ? error.message : String(error) };
}
