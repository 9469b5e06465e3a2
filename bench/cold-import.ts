import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundle, FUNCTION_ENTRIES, median, progress, report, round } from './common';

/**
 * Cold import of each function's bundle: a fresh `node` process per sample (median of 20), timing
 * `await import(bundle)` alone, with the configuration a deployed function has. Budget: 80 ms median.
 *
 * Also measured, in the same rounds (samples interleave across functions, so a burst of load on this
 * small machine hits all of them alike):
 * - `median_ms_source_maps`: the deployed shape, a linked source map and NODE_OPTIONS=--enable-source-maps
 *   (lib/function.ts sets both);
 * - `baseline_ms`: importing an empty module, the part no bundle can save.
 * To stderr, the Node built-ins each import loads: `undici` there means the whole built-in fetch/WebSocket
 * stack got loaded at import (an ESM `import … from 'node:http'` does that on Node 22, through the lazy
 * WebSocket getters its facade reads; `process.getBuiltinModule('node:http')` does not).
 */
const SAMPLES = 20;
const BUDGET_MS = 80;

const env = {
  ...process.env,
  NODE_OPTIONS: '',
  TRAINYARD_TABLE: 'bench-table',
  TRAINYARD_BUCKET: 'bench-bucket',
  TRAINYARD_CURSOR_SECRET: 'bench-cursor-secret-bench-cursor-secret',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
};

/** Prints `{ ms, builtins }`: the import's duration and the public built-ins it loaded. */
const probe = (file: string) => `
const before = new Set(process.moduleLoadList);
const started = performance.now();
await import(${JSON.stringify(file)});
const ms = performance.now() - started;
const builtins = process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ') && (!m.includes('internal/') || m.includes('undici')))
  .map((m) => m.slice('NativeModule '.length).replace('internal/deps/undici/undici', 'undici'));
process.stdout.write(JSON.stringify({ ms, builtins }));`;

function sample(file: string, sourceMaps: boolean): { ms: number; builtins: string[] } {
  const args = [...(sourceMaps ? ['--enable-source-maps'] : []), '--input-type=module', '-e', probe(file)];
  return JSON.parse(execFileSync(process.execPath, args, { env, encoding: 'utf8' })) as { ms: number; builtins: string[] };
}

const dir = await mkdtemp(join(tmpdir(), 'trainyard-cold-'));
try {
  const plain: Record<string, string> = {};
  const mapped: Record<string, string> = {};
  for (const [name, entry] of Object.entries(FUNCTION_ENTRIES)) {
    plain[name] = join(dir, `${name}.mjs`);
    mapped[name] = join(dir, `${name}.map.mjs`);
    await bundle(entry, plain[name]);
    await bundle(entry, mapped[name], { sourceMap: true });
  }
  const empty = join(dir, 'empty.mjs');
  await writeFile(empty, 'export {};\n');

  const names = Object.keys(FUNCTION_ENTRIES);
  const times = Object.fromEntries(names.map((n) => [n, [] as number[]]));
  const mappedTimes = Object.fromEntries(names.map((n) => [n, [] as number[]]));
  const baseline: number[] = [];
  const builtins: Record<string, string[]> = {};
  const load = loadavg()[0]!;
  for (let i = 0; i < SAMPLES; i++) {
    baseline.push(sample(empty, false).ms);
    for (const name of names) {
      const run = sample(plain[name]!, false);
      times[name]!.push(run.ms);
      builtins[name] ??= run.builtins;
      mappedTimes[name]!.push(sample(mapped[name]!, true).ms);
    }
  }

  const medianMs = Object.fromEntries(names.map((n) => [n, round(median(times[n]!))]));
  const minMs = Object.fromEntries(names.map((n) => [n, round(Math.min(...times[n]!))]));
  const medianMapped = Object.fromEntries(names.map((n) => [n, round(median(mappedTimes[n]!))]));
  for (const name of names) {
    progress(
      `${name}: median ${medianMs[name]} ms (min ${minMs[name]}, max ${round(Math.max(...times[name]!))}); ` +
        `with source maps ${medianMapped[name]} ms; loads ${builtins[name]!.join(', ') || 'no built-ins'}`,
    );
  }
  const baselineMs = round(median(baseline));
  progress(`empty module: median ${baselineMs} ms; load average at start ${load.toFixed(2)} (timings on a busy machine run high)`);
  const worst = Math.max(...Object.values(medianMs));
  report({
    bench: 'cold-import',
    samples: SAMPLES,
    median_ms: medianMs,
    min_ms: minMs,
    median_ms_source_maps: medianMapped,
    baseline_ms: baselineMs,
    worst_median_ms: worst,
    budget_ms: BUDGET_MS,
    within_budget: worst <= BUDGET_MS,
    within_budget_source_maps: Math.max(...Object.values(medianMapped)) <= BUDGET_MS,
  });
} finally {
  await rm(dir, { recursive: true, force: true });
}
