// Human and machine output: tables align and clip, JSON carries bytes as base64, and the progress bar
// draws only on a terminal.
import { describe, expect, it } from 'vitest';
import { renderDetails, renderTable, toJsonValue } from '../../src/cli/output.js';
import { createProgress, formatBytes } from '../../src/cli/progress.js';
import { collectPair, parseBase64 } from '../../src/cli/option-parsers.js';

describe('output', () => {
  it('aligns table columns and clips long cells', () => {
    const table = renderTable(
      [
        { id: 'a', text: 'short' },
        { id: 'longer-id', text: 'x'.repeat(50) },
      ],
      [
        { header: 'ID', value: (r) => r.id },
        { header: 'TEXT', value: (r) => r.text, maxWidth: 10 },
      ],
    );
    expect(table).toBe(`ID         TEXT\na          short\nlonger-id  ${'x'.repeat(9)}…\n`);
  });

  it('renders details without empty values', () => {
    expect(
      renderDetails([
        ['Key ID', 'k'],
        ['Tags', ''],
        ['Current version', 2],
        ['Tenant', null],
      ]),
    ).toBe('Key ID:          k\nCurrent version: 2\n');
  });

  it('turns Buffers into base64 and drops undefined members in JSON', () => {
    expect(toJsonValue({ a: Buffer.from('hi'), b: undefined, c: [new Uint8Array([255])], d: null })).toEqual({
      a: 'aGk=',
      c: ['/w=='],
      d: null,
    });
  });
});

describe('progress', () => {
  it('writes nothing when stderr is not a terminal', async () => {
    const written: string[] = [];
    const { stream, finish } = createProgress('x', 10, { isTTY: false, write: (t) => written.push(t) });
    stream.resume();
    stream.end(Buffer.alloc(10));
    finish();
    expect(written).toEqual([]);
  });

  it('draws a bar with percentage on a terminal and clears it when done', async () => {
    const written: string[] = [];
    const { stream, finish } = createProgress('encrypting', 2048, {
      isTTY: true,
      columns: 120,
      write: (t) => written.push(t),
    });
    stream.resume();
    stream.write(Buffer.alloc(1024));
    finish();
    expect(written[0]).toMatch(/^\rencrypting \[#{15}-{15}\] {2}50% 1\.0 KiB\/2\.0 KiB /);
    expect(written.at(-1)).toBe('\r\x1b[K');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MiB');
  });
});

describe('option parsers', () => {
  it('collects repeated k=v pairs, refusing a key given twice', () => {
    expect(collectPair('b=2', collectPair('a=x=y', undefined))).toEqual({ a: 'x=y', b: '2' });
    expect(() => collectPair('a=3', { a: '1' })).toThrow(/given twice/);
    expect(() => collectPair('=v', undefined)).toThrow(/key=value/);
  });

  it('accepts only standard base64', () => {
    expect(parseBase64('aGk=')).toEqual(Buffer.from('hi'));
    expect(() => parseBase64('aGk')).toThrow();
    expect(() => parseBase64('a-_k')).toThrow();
  });
});
