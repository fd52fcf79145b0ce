// A throwaway PostgreSQL cluster for the bench's PostgreSQL rows and for the tests
// (test/helpers/postgres.ts re-exports it): initdb in a temporary directory, the postmaster on a
// free loopback port with its socket in that directory, removed afterwards. initdb and postgres
// refuse to run as root, so as root (here and in CI) the server binaries run as the `postgres`
// system user that Debian's package creates, owning the directory.
import { execFile } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort, processTreeCpuMs } from './processes.js';

const run = promisify(execFile);

const USER = 'keyhaven';
/** The superuser's password: the URLs carry it, so the tests of redaction have something to hide. */
export const POSTGRES_PASSWORD = 'pg-test-secret-4711';

/** Whether the PostgreSQL server binaries are installed (apt-get install postgresql). */
export function postgresInstalled(): boolean {
  try {
    serverBinaries();
    return true;
  } catch {
    return false;
  }
}

export function serverBinaries(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      'PostgreSQL server binaries not found in /usr/lib/postgresql: apt-get install postgresql',
    );
  }
  return join(root, versions[0]!, 'bin');
}

export interface PostgresCluster {
  port: number;
  /** postgres://keyhaven:<password>@127.0.0.1:<port>/<database> */
  url(database: string): string;
  /** Creates an empty database (named uniquely when no name is given) and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the postmaster (fast shutdown: sessions are terminated, 57P01). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** SIGKILL to the postmaster, as a crash; start() then recovers from the WAL. */
  kill(): Promise<void>;
  /** Stops the server and removes its directory. */
  remove(): Promise<void>;
  /**
   * CPU time (ms) of the postmaster and its backends so far, or undefined when it is not running or
   * /proc is missing: what the database costs the requests of the nodes it serves.
   */
  cpuTimeMs(): number | undefined;
}

let databases = 0;

export interface PostgresOptions {
  /**
   * fsync on (default off): the bench's rows compare PostgreSQL with SQLite, whose audit records
   * are flushed to the disk before each reply, so the bench's PostgreSQL flushes its commits too.
   */
  fsync?: boolean;
}

export async function startPostgres(settings: PostgresOptions = {}): Promise<PostgresCluster> {
  const bin = serverBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'keyhaven-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? Number((await run('id', ['-u', 'postgres'])).stdout.trim()) : undefined;
  if (owner !== undefined) chownSync(dir, owner, Number((await run('id', ['-g', 'postgres'])).stdout.trim()));
  const serverCommand = async (command: string, args: string[]) => {
    const [file, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, command), ...args]]
      : [join(bin, command), args];
    return run(file, argv, { cwd: dir });
  };
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, POSTGRES_PASSWORD, { mode: 0o600 });
  if (owner !== undefined) chownSync(passwordFile, owner, -1);
  await serverCommand('initdb', [
    '-D',
    data,
    '-U',
    USER,
    '--pwfile',
    passwordFile,
    '--auth=scram-sha-256',
    '--encoding=UTF8',
    '--no-sync',
  ]);
  rmSync(passwordFile);
  const port = await freePort();
  const log = join(dir, 'postgres.log');
  // fsync off for the tests: a test cluster's durability is not under test, and the suite shares two
  // cores. initdb --no-sync only skips the flush of the new cluster's files.
  const fsync = settings.fsync ? 'on' : 'off';
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=${fsync} -c max_connections=200`;
  const start = () =>
    serverCommand('pg_ctl', ['-D', data, '-l', log, '-o', options, '-w', 'start']).catch((error: Error) => {
      const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-10).join('\n') : '';
      throw new Error(`PostgreSQL did not start:\n${tail}`, { cause: error });
    });
  let running = false;
  /** The first line of postmaster.pid, while the server runs. */
  const postmasterPid = () => {
    try {
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  const url = (database: string) => `postgres://${USER}:${POSTGRES_PASSWORD}@127.0.0.1:${port}/${database}`;
  await start();
  running = true;

  return {
    port,
    url,
    async createDatabase(name = `test_${process.pid}_${++databases}`) {
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      try {
        await client.query(`create database ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async stop() {
      await serverCommand('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    cpuTimeMs() {
      const pid = postmasterPid();
      return pid === undefined ? undefined : processTreeCpuMs(pid);
    },
    async kill() {
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      // The whole server at once, as a machine's crash or the OOM killer would: backends left
      // behind would hold the shared memory and keep the next postmaster from starting.
      const processes = [pid, ...childrenOf(pid)];
      for (const target of processes) process.kill(target, 'SIGKILL');
      for (let i = 0; i < 200 && processes.some(isAlive); i++) await new Promise((r) => setTimeout(r, 25));
      // The dead postmaster may linger as a zombie (whoever inherited it need not reap it), which
      // the next one's lock file checks take for a live server: the lock files go, as an operator
      // would remove it after a crash.
      for (const lock of [
        join(data, 'postmaster.pid'),
        join(dir, `.s.PGSQL.${port}.lock`),
        join(dir, `.s.PGSQL.${port}`),
      ]) {
        rmSync(lock, { force: true });
      }
      running = false;
    },
    async remove() {
      if (running) {
        await serverCommand('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function childrenOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after it.
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
      } catch {
        return false;
      }
    })
    .map(Number);
}

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
