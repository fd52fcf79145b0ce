// How PostgreSQL's failures reach the services: a database that cannot answer (refused, dropped,
// shut down, a statement or pool checkout past its timeout) is Unavailable, 503 with Retry-After,
// never a 500 or a hang; a unique violation between two concurrent writers is the AlreadyExists the
// loser would have met had it come second. Everything else passes unchanged.
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
    if (state === '23505') {
      return new KmsError('Conflict', 'it already exists', { cause: error, conflict: 'AlreadyExists' });
    }
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
