import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * The worker image cannot be built here (no Docker engine), so this guards what a build would catch:
 * every project file the worker imports, its actions' lazy imports included, is copied into the image.
 */
describe('worker/Dockerfile', () => {
  it('copies every project module outside worker/ that the worker imports', async () => {
    // Arrange
    const result = await build({ entryPoints: ['worker/main.ts'], bundle: true, write: false, metafile: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'silent' });
    const imported = Object.keys(result.metafile.inputs).filter((path) => !path.startsWith('worker/') && !path.includes('node_modules'));
    const dockerfile = readFileSync('worker/Dockerfile', 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY\s+(.+)\s+\S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));

    // Assess
    expect(imported).toContain('functions/core/actions/catalogue.ts');
    const missing = imported.filter((path) => !copied.some((source) => source === path || (source.endsWith('/') && path.startsWith(source))));
    expect(missing).toEqual([]);
  });
});
