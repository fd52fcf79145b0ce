// ReplicationQueue over Kysely: one row per HSM object label awaiting copies (migration 0012). The
// same queries on SQLite and PostgreSQL; a put is an upsert, so two nodes writing one label keep one row.
import type { Kysely } from 'kysely';
import type { PendingReplication, ReplicationQueue } from '../../ports/replication-queue.js';
import type { Database } from './schema.js';

export class KyselyReplicationQueue implements ReplicationQueue {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<PendingReplication[]> {
    const rows = await this.db
      .selectFrom('hsm_replication_pending')
      .selectAll()
      .orderBy('created_at')
      .execute();
    return rows.map((row) => ({
      label: row.label,
      objectClass: Number(row.object_class),
      source: row.source,
      missing: JSON.parse(row.missing) as string[],
      createdAt: new Date(Number(row.created_at)).toISOString(),
      expired: Number(row.expired) === 1,
    }));
  }

  async put(entry: PendingReplication): Promise<void> {
    const values = {
      object_class: entry.objectClass,
      source: entry.source,
      missing: JSON.stringify(entry.missing),
      created_at: Date.parse(entry.createdAt),
      expired: entry.expired ? 1 : 0,
    };
    await this.db
      .insertInto('hsm_replication_pending')
      .values({ label: entry.label, ...values })
      .onConflict((oc) => oc.column('label').doUpdateSet(values))
      .execute();
  }

  async remove(label: string): Promise<void> {
    await this.db.deleteFrom('hsm_replication_pending').where('label', '=', label).execute();
  }
}
