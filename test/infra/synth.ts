import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { trainyardApp, type Trainyard } from '../../bin/app';

export interface SynthOptions {
  /**
   * Run esbuild for every function (about 1 s each). Off, the stacks are identical except for the
   * code asset, which is a placeholder: enough for everything but the bundling test.
   * @default false
   */
  readonly bundle?: boolean;
  /** Add constructs before synthesis (e.g. a deliberate cdk-nag violation). */
  readonly extend?: (trainyard: Trainyard) => void;
  /** @default a fresh temporary directory */
  readonly outdir?: string;
}

export interface Synthesized extends Trainyard {
  readonly app: App;
  readonly assembly: CloudAssembly;
  readonly outdir: string;
}

/** The feature flags and settings `cdk synth` uses, so the tests see the templates the CLI deploys. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

/** Build the app exactly as bin/trainyard.ts does, into a fresh directory, and synthesize it (cdk-nag included). */
export function synthTrainyard(options: SynthOptions = {}): Synthesized {
  const outdir = options.outdir ?? newOutdir();
  // As the CLI does: record which asset each resource uses (the bundling test reads it).
  const context: Record<string, unknown> = { ...cdkJsonContext(), 'aws:cdk:enable-asset-metadata': true };
  if (!options.bundle) context['aws:cdk:bundling-stacks'] = [];
  const app = new App({ outdir, context });
  const trainyard = trainyardApp(app);
  options.extend?.(trainyard);
  const assembly = app.synth();
  return { app, assembly, outdir, ...trainyard };
}

const outdirs: string[] = [];

export function newOutdir(): string {
  const outdir = mkdtempSync(join(tmpdir(), 'trainyard-cdk-'));
  outdirs.push(outdir);
  return outdir;
}

/** Remove every cloud assembly this test file synthesized (call from afterAll). */
export function removeSynthOutput(): void {
  for (const outdir of outdirs.splice(0)) rmSync(outdir, { recursive: true, force: true });
}
