// LeaseStore over Kysely: INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING, one statement
// that SQLite (3.35+) and PostgreSQL run atomically, so two processes racing for an expired lease
// cannot both win: the row's update is conditional on what it holds when the statement runs.
import type { Kysely } from 'kysely';
import type { LeaseStore } from '../../ports/lease-store.js';
import type { Database } from './schema.js';

export class KyselyLeaseStore implements LeaseStore {
  constructor(private readonly db: Kysely<Database>) {}

  async tryAcquire(name: string, holder: string, now: Date, ttlMs: number): Promise<boolean> {
    const expiresAt = now.getTime() + ttlMs;
    const row = await this.db
      .insertInto('leases')
      .values({ name, holder, expires_at: expiresAt })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({ holder, expires_at: expiresAt })
          .where((eb) =>
            eb.or([eb('leases.holder', '=', holder), eb('leases.expires_at', '<=', now.getTime())]),
          ),
      )
      .returning('holder')
      .executeTakeFirst();
    return row?.holder === holder;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.db.deleteFrom('leases').where('name', '=', name).where('holder', '=', holder).execute();
  }
}
