// A byte-count progress bar on stderr, shown only when stderr is a terminal (never in pipes or logs).
import { PassThrough } from 'node:stream';

const RENDER_INTERVAL_MS = 100;
const BAR_WIDTH = 30;

export interface ProgressTerminal {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** A pass-through that counts bytes and redraws the bar; `finish()` clears it. */
export function createProgress(
  label: string,
  total: number | undefined,
  terminal: ProgressTerminal = process.stderr,
): { stream: PassThrough; finish: () => void } {
  const stream = new PassThrough();
  if (!terminal.isTTY) return { stream, finish: () => undefined };

  const started = Date.now();
  let done = 0;
  let lastRender = 0;
  const render = () => {
    lastRender = Date.now();
    const seconds = Math.max((lastRender - started) / 1000, 0.001);
    const rate = `${formatBytes(done / seconds)}/s`;
    let line: string;
    if (total && total > 0) {
      const fraction = Math.min(done / total, 1);
      const filled = Math.round(fraction * BAR_WIDTH);
      const bar = '#'.repeat(filled) + '-'.repeat(BAR_WIDTH - filled);
      line = `${label} [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(total)} ${rate}`;
    } else {
      line = `${label} ${formatBytes(done)} ${rate}`;
    }
    terminal.write(`\r${line.slice(0, (terminal.columns ?? 80) - 1)}\x1b[K`);
  };
  stream.on('data', (chunk: Buffer) => {
    done += chunk.length;
    if (Date.now() - lastRender >= RENDER_INTERVAL_MS) render();
  });
  return {
    stream,
    finish: () => terminal.write('\r\x1b[K'),
  };
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}
