import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundle, FUNCTION_ENTRIES, progress, report } from './common';

/**
 * Minified bundle size of every Lambda function (budget: 400 KB each), bundled as lib/function.ts does.
 * To stderr, what weighs most in each: the five biggest packages and the five biggest input files.
 */
const BUDGET = 400 * 1024;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const top = (entries: Iterable<[string, number]>) =>
  [...entries]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([name, bytes]) => `${name} ${kb(bytes)}`)
    .join(', ');

const dir = await mkdtemp(join(tmpdir(), 'trainyard-bundles-'));
const functions: Record<string, number> = {};
try {
  for (const [name, entry] of Object.entries(FUNCTION_ENTRIES)) {
    const { bytes, output } = await bundle(entry, join(dir, `${name}.mjs`));
    functions[name] = bytes;
    const inputs = Object.entries(output.inputs).map(([input, { bytesInOutput }]): [string, number] => [input, bytesInOutput]);
    const byPackage = new Map<string, number>();
    for (const [input, bytes] of inputs) {
      const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? '(trainyard)';
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + bytes);
    }
    progress(`${name}: ${kb(bytes)}`);
    progress(`  packages: ${top(byPackage)}`);
    progress(`  inputs:   ${top(inputs.map(([input, bytes]) => [input.replace(/^.*node_modules\//, ''), bytes]))}`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
const max = Math.max(...Object.values(functions));
report({ bench: 'bundle-size', functions, max_bytes: max, budget_bytes: BUDGET, within_budget: max <= BUDGET });
