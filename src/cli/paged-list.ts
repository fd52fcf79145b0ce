// How list commands page: every page by default, one page when --limit or --cursor asks for it, and
// then a hint on stderr (stdout stays a clean table) naming the command that prints the next page.
import type { Command } from 'commander';
import { emit, globalOptions } from './cli-context.js';
import { parseInteger } from './option-parsers.js';
import { renderTable, type Column } from './output.js';

export interface PageOptions {
  limit?: number;
  cursor?: string;
}

export interface Listing<T> {
  /** The list's name in --json output, as on the wire: `{<field>: [...], nextCursor}`. */
  field: string;
  /** The command line that lists the same items, for the "more:" hint. */
  commandLine: string;
  all: () => AsyncIterable<T>;
  page: (page: PageOptions) => Promise<{ items: T[]; nextCursor: string | null }>;
  columns: readonly Column<T>[];
}

export function pageOptions(command: Command, what: string): Command {
  return command
    .option('--limit <n>', `one page of at most n ${what}`, parseInteger(1, 1000))
    .option('--cursor <cursor>', 'the page after this cursor (printed by a previous paged list)');
}

export async function emitListing<T>(
  command: Command,
  options: PageOptions,
  listing: Listing<T>,
): Promise<void> {
  if (options.limit === undefined && options.cursor === undefined) {
    const items: T[] = [];
    for await (const item of listing.all()) items.push(item);
    emit(command, { [listing.field]: items, nextCursor: null }, () => renderTable(items, listing.columns));
    return;
  }
  const page = await listing.page(options);
  emit(command, { [listing.field]: page.items, nextCursor: page.nextCursor }, () =>
    renderTable(page.items, listing.columns),
  );
  if (page.nextCursor && !globalOptions(command).json) {
    const limit = options.limit === undefined ? '' : ` --limit ${options.limit}`;
    process.stderr.write(`more: ${listing.commandLine}${limit} --cursor ${page.nextCursor}\n`);
  }
}
