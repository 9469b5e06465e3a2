import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeSynthOutput, type Synthesized, synthTrainyard } from './synth';

/** The per-function budget of the foundation issue (bench/bundle-size.ts reports the figures): 400 KB minified. */
const BUNDLE_BUDGET_BYTES = 400 * 1024;

let synthesized: Synthesized;
let functions: [string, { Metadata: Record<string, string> }][];

afterAll(removeSynthOutput);

beforeAll(() => {
  // Prepare: a real synthesis, esbuild included (the other infra tests skip bundling).
  synthesized = synthTrainyard({ bundle: true });
  // The template as written to the cloud assembly: it keeps the asset metadata Template.fromStack drops.
  const template = synthesized.assembly.getStackArtifact(synthesized.platform.artifactId).template as {
    Resources: Record<string, { Type: string; Metadata: Record<string, string> }>;
  };
  functions = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
});

describe('function bundles', () => {
  it('every handler module bundles into one ESM file that exports `handler`', () => {
    expect(functions.length).toBeGreaterThan(0);
    for (const [id, fn] of functions) {
      const bundle = join(synthesized.outdir, fn.Metadata['aws:asset:path']!, 'index.mjs');
      expect(existsSync(bundle), `${id}: ${bundle}`).toBe(true);
      const code = readFileSync(bundle, 'utf8');
      // CommonJS dependencies inside an ES module need `require`: the banner provides it.
      expect(code.startsWith('import { createRequire')).toBe(true);
      expect(code).toMatch(/export\s*\{[^}]*\bas handler\b[^}]*\}|export\s*\{[^}]*\bhandler\b[^}]*\}/);
      expect(existsSync(`${bundle}.map`), `${id}: source map`).toBe(true);
    }
  });

  it('bundles stay small enough for a quick cold start', () => {
    for (const [id, fn] of functions) {
      const size = statSync(join(synthesized.outdir, fn.Metadata['aws:asset:path']!, 'index.mjs')).size;
      expect(size, id).toBeLessThan(BUNDLE_BUDGET_BYTES);
    }
  });
});
