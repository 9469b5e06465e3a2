import { spawnSync } from 'node:child_process';

/** `npm run bench`: every benchmark in its own process, in order; each prints one JSON line. */
const BENCHMARKS = ['bundle-size', 'cold-import', 'http-throughput', 'list-depth', 'upload', 'samples', 'jobs', 'model'];
const only = process.argv.slice(2);
let failed = false;
for (const name of only.length ? only : BENCHMARKS) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    failed = true;
    process.stderr.write(`bench ${name} failed (exit ${result.status})\n`);
  }
}
process.exit(failed ? 1 : 0);
