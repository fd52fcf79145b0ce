// The database URL carries its user's password: what may be shown of it (logs, errors) comes from here.

/** Query parameters that carry a secret (libpq's connection parameters, which pg also reads). */
const SECRET_PARAMETERS = ['password', 'sslpassword'];

/**
 * The URL with its passwords replaced, in the user part and in the query:
 * `postgres://keyhaven:***@db:5432/keyhaven`, `postgres://db/kh?user=keyhaven&password=***`.
 */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    for (const name of [...parsed.searchParams.keys()]) {
      if (SECRET_PARAMETERS.includes(name.toLowerCase())) parsed.searchParams.set(name, '***');
    }
    return parsed.toString().replaceAll('%2A%2A%2A', '***');
  } catch {
    // Not parseable, so not knowably free of a password: say nothing of it.
    return '(an unparseable database URL)';
  }
}
