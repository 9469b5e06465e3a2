import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundle, FUNCTION_ENTRIES, progress, report } from './common';

/** Minified bundle size of every Lambda function (budget: 400 KB each), and what weighs most in each. */
const BUDGET = 400 * 1024;
const dir = await mkdtemp(join(tmpdir(), 'trainyard-bundles-'));
const functions: Record<string, number> = {};
for (const [name, entry] of Object.entries(FUNCTION_ENTRIES)) {
  const { bytes, metafile } = await bundle(entry, join(dir, `${name}.mjs`));
  functions[name] = bytes;
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(Object.values(metafile.outputs)[0]?.inputs ?? {})) {
    const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? 'trainyard';
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + bytesInOutput);
  }
  const top = [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([p, b]) => `${p} ${(b / 1024).toFixed(0)} KB`);
  progress(`${name}: ${(bytes / 1024).toFixed(1)} KB (${top.join(', ')})`);
}
await rm(dir, { recursive: true, force: true });
const max = Math.max(...Object.values(functions));
report({ bench: 'bundle-size', functions, max_bytes: max, budget_bytes: BUDGET, within_budget: max <= BUDGET });
