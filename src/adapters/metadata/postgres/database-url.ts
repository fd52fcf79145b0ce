// The database URL carries its user's password: what may be shown of it (logs, errors) comes from here.

/** The URL with its password replaced: `postgres://keyhaven:***@db:5432/keyhaven`. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not parseable, so not knowably free of a password: say nothing of it.
    return '(an unparseable database URL)';
  }
}
