// The replication queue of a process without its database: <dataDir>/pkcs11-replication.json. Used
// while the key store opens (before the metadata database, for the root key's copies) and by
// `keyhaven hsm init`; the server then moves its entries into the database (Pkcs11Replication.share).
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PendingReplication, ReplicationQueue } from '../../../ports/replication-queue.js';

export const REPLICATION_FILE = 'pkcs11-replication.json';

interface ReplicationFile {
  version: 1;
  /** createdAt and expired may be absent in files from before they existed. */
  pending: (Omit<PendingReplication, 'createdAt' | 'expired'> & { createdAt?: string; expired?: boolean })[];
}

export class FileReplicationQueue implements ReplicationQueue {
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, REPLICATION_FILE);
  }

  async list(): Promise<PendingReplication[]> {
    return this.read();
  }

  async put(entry: PendingReplication): Promise<void> {
    this.write([...this.read().filter((p) => p.label !== entry.label), entry]);
  }

  async remove(label: string): Promise<void> {
    const pending = this.read();
    const kept = pending.filter((p) => p.label !== label);
    if (kept.length !== pending.length) this.write(kept);
  }

  /** The file is gone once its entries live in the database. */
  delete(): void {
    rmSync(this.path, { force: true });
  }

  private read(): PendingReplication[] {
    if (!existsSync(this.path)) return [];
    const file = JSON.parse(readFileSync(this.path, 'utf8')) as ReplicationFile;
    // Entries written before createdAt existed start their window at this first look, kept.
    const now = new Date().toISOString();
    const pending = file.pending.map((p) => ({
      ...p,
      createdAt: p.createdAt ?? now,
      expired: p.expired ?? false,
    }));
    if (file.pending.some((p) => p.createdAt === undefined)) this.write(pending);
    return pending;
  }

  private write(pending: PendingReplication[]): void {
    const file: ReplicationFile = { version: 1, pending };
    const temporary = `${this.path}.tmp`;
    writeFileSync(temporary, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
    renameSync(temporary, this.path);
  }
}
