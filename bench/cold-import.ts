import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundle, FUNCTION_ENTRIES, median, progress, report, round } from './common';

/**
 * Cold import of each function's bundle: a fresh `node` process per sample (median of 20), timing
 * `await import(bundle)` alone, with the configuration a deployed function has.
 */
const SAMPLES = 20;
const BUDGET_MS = 80;
const dir = await mkdtemp(join(tmpdir(), 'trainyard-cold-'));
const env = {
  ...process.env,
  NODE_OPTIONS: '',
  TRAINYARD_TABLE: 'bench-table',
  TRAINYARD_BUCKET: 'bench-bucket',
  TRAINYARD_CURSOR_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:cursor',
  AWS_REGION: 'us-east-1',
};
const medianMs: Record<string, number> = {};
for (const [name, entry] of Object.entries(FUNCTION_ENTRIES)) {
  const file = join(dir, `${name}.mjs`);
  await bundle(entry, file);
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const script = `const t = performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`;
    samples.push(Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' })));
  }
  medianMs[name] = round(median(samples));
  progress(`${name}: median ${medianMs[name]} ms over ${SAMPLES} processes (min ${round(Math.min(...samples))}, max ${round(Math.max(...samples))})`);
}
await rm(dir, { recursive: true, force: true });
const worst = Math.max(...Object.values(medianMs));
report({ bench: 'cold-import', samples: SAMPLES, median_ms: medianMs, worst_median_ms: worst, budget_ms: BUDGET_MS, within_budget: worst <= BUDGET_MS });
