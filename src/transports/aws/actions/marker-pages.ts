// Pages of a list a service answers whole (a key's tags, its versions), with AWS's Marker: the
// position of the page's last item, opaque to the caller. Items come sorted by position; the next
// page starts after it, whatever changed meanwhile. A Marker this server did not issue answers
// InvalidMarkerException.
import { invalidMarker } from '../../../domain/errors.js';

const PREFIX = 'p:';

const encode = (position: string) => Buffer.from(`${PREFIX}${position}`).toString('base64url');

function decode(marker: string): string {
  const text = Buffer.from(marker, 'base64url').toString();
  // Re-encoding must give the marker back: no other spelling of a position is one of ours.
  if (
    !text.startsWith(PREFIX) ||
    text.length === PREFIX.length ||
    encode(text.slice(PREFIX.length)) !== marker
  ) {
    throw invalidMarker();
  }
  return text.slice(PREFIX.length);
}

/** The page after `marker` of `items`, sorted by `positionOf` (code-unit order, unique positions). */
export function pageAfter<T>(
  items: readonly T[],
  positionOf: (item: T) => string,
  limit: number,
  marker: string | undefined,
): { page: T[]; nextMarker?: string } {
  const after = marker === undefined ? undefined : decode(marker);
  const rest = after === undefined ? items : items.filter((item) => positionOf(item) > after);
  const page = rest.slice(0, limit);
  const last = page.at(-1);
  return rest.length > limit && last !== undefined
    ? { page, nextMarker: encode(positionOf(last)) }
    : { page };
}

/** Truncated and NextMarker, as AWS's list actions answer them. */
export const truncation = (nextMarker: string | undefined) =>
  nextMarker === undefined ? { Truncated: false } : { Truncated: true, NextMarker: nextMarker };
