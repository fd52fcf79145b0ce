// How PostgreSQL's failures reach the services: a database that cannot answer (refused, dropped,
// shut down, a statement or pool checkout past its timeout) is Unavailable, 503 with Retry-After,
// never a 500 or a hang; a unique violation between two concurrent writers is the AlreadyExists,
// worded as the stores' own checks word it, that the loser would have met had it come second.
// Everything else passes unchanged.
import pg from 'pg';
import { KmsError } from '../../../domain/errors.js';

/** SQLSTATE classes of a server that cannot serve now (PostgreSQL, Appendix A). */
const UNAVAILABLE_CLASSES = new Set([
  '08', // connection exception
  '53', // insufficient resources (too many connections, disk full)
  '57', // operator intervention: 57014 statement timeout, 57P01 admin shutdown, 57P03 starting up
  '58', // system error (I/O)
]);

const UNAVAILABLE_STATES = new Set([
  '55P03', // lock_not_available (lock_timeout)
  '25006', // read_only_sql_transaction: a standby, not yet promoted
]);

const unavailable = (cause: unknown) =>
  new KmsError('Unavailable', 'the database is unavailable; try again', { cause, retryAfterSeconds: 1 });

export function databaseFailure(error: unknown): unknown {
  if (error instanceof KmsError || error instanceof TypeError || error instanceof RangeError) return error;
  if (error instanceof pg.DatabaseError) {
    const state = error.code ?? '';
    if (UNAVAILABLE_CLASSES.has(state.slice(0, 2)) || UNAVAILABLE_STATES.has(state))
      return unavailable(error);
    if (state === '23505') return uniqueViolation(error);
    // Serialization failure, deadlock: the client's retry will find the other writer's result.
    if (state === '40001' || state === '40P01') {
      return new KmsError('Conflict', 'a concurrent change conflicted with this one; retry', {
        cause: error,
        conflict: 'ConcurrentModification',
      });
    }
    return error;
  }
  // An error without a SQLSTATE comes from the driver, not the server: the connection was refused
  // or dropped, the pool had no connection within the timeout, the server did not answer in time.
  if (error instanceof Error) return unavailable(error);
  return error;
}

/**
 * Each unique constraint a store's check guards, with the message that check gives (the stores
 * check before they write; only a concurrent writer that passed the same check reaches the
 * constraint). The constraint names are the migrations' (PostgreSQL names an unnamed one
 * `<table>_<column>_key` or `<table>_pkey`; a renamed table keeps its constraint's name).
 */
const UNIQUE_CONSTRAINTS: Record<string, (taken: string) => string> = {
  keys_pkey: (keyId) => `key ${keyId} exists already`,
  tenant_aliases_pk: (name) => `alias ${name} already exists`,
  tenants_name_key: (name) => `a tenant named ${name} already exists`,
  principals_tenant_name: (name) => `a principal named ${name} already exists`,
  policies_key_id_key: (keyId) => `key ${keyId} already has a policy`,
};

/**
 * PostgreSQL's detail of a unique violation, `Key (col, ...)=(value, ...) already exists.`: the
 * last column is the one each message names (the others are the tenant, which holds no comma).
 */
const UNIQUE_DETAIL = /^Key \((.+)\)=\((.*)\) already exists\.$/;

function uniqueViolation(error: pg.DatabaseError): KmsError {
  const wording = error.constraint === undefined ? undefined : UNIQUE_CONSTRAINTS[error.constraint];
  const detail = UNIQUE_DETAIL.exec(error.detail ?? '');
  let message = 'it already exists';
  if (wording && detail) {
    const columns = detail[1]!.split(', ').length;
    message = wording(
      detail[2]!
        .split(', ')
        .slice(columns - 1)
        .join(', '),
    );
  }
  // Otherwise (a server whose messages are not in English words the detail its own way) the code
  // still tells the client what happened.
  return new KmsError('Conflict', message, { cause: error, conflict: 'AlreadyExists' });
}
