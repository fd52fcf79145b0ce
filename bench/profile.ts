// Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time, the
// functions with the most inclusive time, and self time grouped by where the code lives.
// Standalone: node dist/bench/profile.js <file.cpuprofile> [top]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  location: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  /** Sampled time excluding (idle), ms. */
  busyMs: number;
  idleMs: number;
  self: ProfileEntry[];
  inclusive: ProfileEntry[];
  areas: { area: string; ms: number; percent: number }[];
}

function location(frame: CallFrame): string {
  const url = frame.url.replace(/^file:\/\//, '');
  const short = url.includes('/node_modules/')
    ? url.slice(url.lastIndexOf('/node_modules/') + '/node_modules/'.length)
    : url.includes('/dist/')
      ? url.slice(url.lastIndexOf('/dist/') + 1)
      : url;
  return short ? `${short}:${frame.lineNumber + 1}` : '';
}

function area(frame: CallFrame): string {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : 'native / V8 builtins';
  if (url.startsWith('node:')) return `node core (${url.slice(5).split('/')[0]})`;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return `npm ${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const dist = url.lastIndexOf('/dist/src/');
  if (dist >= 0)
    return `keyhaven ${
      url
        .slice(dist + '/dist/src/'.length)
        .split('/')
        .slice(0, -1)
        .join('/') || '.'
    }`;
  return url;
}

const keyOf = (frame: CallFrame) => `${frame.functionName || '(anonymous)'}\u0000${location(frame)}`;

function summarizeProfile(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }

  let idleUs = 0;
  let busyUs = 0;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const key = keyOf(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + us);
    const a = area(node.callFrame);
    areas.set(a, (areas.get(a) ?? 0) + us);
    // Inclusive: credit each distinct function on the stack once (recursion is not double counted).
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frameKey = keyOf(byId.get(at)!.callFrame);
      if (seen.has(frameKey)) continue;
      seen.add(frameKey);
      inclusive.set(frameKey, (inclusive.get(frameKey) ?? 0) + us);
    }
  }

  const entries = (map: Map<string, number>): ProfileEntry[] =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => {
        const [name, where] = key.split('\u0000');
        return { name: name!, location: where!, ms: us / 1000, percent: (100 * us) / busyUs };
      });

  return {
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    self: entries(self),
    inclusive: entries(new Map([...inclusive].filter(([key]) => !key.startsWith('(root)')))),
    areas: [...areas]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ area: name, ms: us / 1000, percent: (100 * us) / busyUs })),
  };
}

export function formatSummary(summary: ProfileSummary): string {
  const pct = (p: number) => `${p.toFixed(1).padStart(5)}%`;
  const lines = [
    `busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms`,
    '',
    'self time by area:',
    ...summary.areas.slice(0, 15).map((a) => `  ${pct(a.percent)}  ${a.area}`),
    '',
    'top functions by self time:',
    ...summary.self.map((e) => `  ${pct(e.percent)}  ${e.name}  ${e.location}`),
    '',
    'top functions by inclusive time:',
    ...summary.inclusive.map((e) => `  ${pct(e.percent)}  ${e.name}  ${e.location}`),
  ];
  return lines.join('\n');
}

export function summarizeFile(path: string, top = 25): ProfileSummary {
  return summarizeProfile(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, top);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node dist/bench/profile.js <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(formatSummary(summarizeFile(file, top ? Number(top) : 25)));
}
