import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { HANDLER_GROUPS } from '../functions/routes';

/** Every Lambda entry point: one per handler group, the authorizer, and the event consumers. */
export const FUNCTION_ENTRIES: Record<string, string> = Object.fromEntries([
  ...HANDLER_GROUPS.map((group) => [group, `functions/api/${group}.ts`]),
  ['authorizer', 'functions/api/authorizer.ts'],
  ['purge', 'functions/events/purge.ts'],
  ['ingest', 'functions/events/ingest.ts'],
]);

/** The banner lib/function.ts gives every ESM bundle, so CommonJS dependencies still find `require`. */
export const REQUIRE_BANNER =
  "import { createRequire as __trainyardCreateRequire } from 'node:module'; const require = __trainyardCreateRequire(import.meta.url);";

export interface BundleResult {
  /** Bytes of the JavaScript output (not of its source map). */
  bytes: number;
  metafile: Metafile;
  /** The JavaScript output's entry in `metafile.outputs`. */
  output: Metafile['outputs'][string];
}

/**
 * Bundles an entry the way lib/function.ts has NodejsFunction do it: ESM, minified, node platform,
 * `module,main` main fields, the createRequire banner, every dependency (AWS SDK included) inside.
 * `sourceMap` adds what the deployed functions also get: a linked map without sources content.
 * (NodejsFunction derives its target from the runtime, node24 today; node22 is what runs here.)
 */
export async function bundle(entry: string, outfile: string, options: { sourceMap?: boolean } = {}): Promise<BundleResult> {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    mainFields: ['module', 'main'],
    banner: { js: REQUIRE_BANNER },
    sourcemap: options.sourceMap ?? false,
    sourcesContent: false,
    metafile: true,
    logLevel: 'error',
  });
  const [, output] = Object.entries(result.metafile.outputs).find(([path]) => !path.endsWith('.map')) ?? [];
  if (!output) throw new Error(`esbuild produced no JavaScript for ${entry}`);
  return { bytes: output.bytes, metafile: result.metafile, output };
}

/** The one JSON line a benchmark prints. */
export function report(figures: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** A bootstrap admin token in the shape the platform issues (`ty_` + 43 base64url characters). */
export const newAdminToken = () => `ty_${randomBytes(32).toString('base64url')}`;

/**
 * A throwaway `npm start` in its own process (as a user runs it, and so the load generator does not
 * share its event loop), with one user and its token; stopped and removed afterwards.
 */
export async function withRuntime<T>(run: (ctx: { url: string; userId: string; token: string }) => Promise<T>): Promise<T> {
  const dataDir = await mkdtemp(join(tmpdir(), 'trainyard-bench-'));
  const adminToken = newAdminToken();
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    env: {
      ...process.env,
      TRAINYARD_PORT: '0',
      TRAINYARD_DATA_DIR: dataDir,
      TRAINYARD_ADMIN_TOKEN: adminToken,
      NODE_OPTIONS: '--openssl-legacy-provider',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let seen = '';
      child.stdout.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const match = /Trainyard listening on (http:\/\/\S+)/.exec(seen);
        if (match?.[1]) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`npm start exited with ${code} before it served`)));
    });
    const { userId, token } = await userWithToken(url, adminToken);
    return await run({ url, userId, token });
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** A fresh user and a read/write token of it, made through the API with the admin token. */
export async function userWithToken(url: string, adminToken: string): Promise<{ userId: string; token: string }> {
  const admin = { authorization: `Bearer ${adminToken}` };
  const user = await post(`${url}/api/v1/admin/user`, admin, { email: `bench-${Date.now()}@example.com`, name: 'Bench' });
  const token = await post(`${url}/api/v1/user/${user.id}/token`, admin, { name: 'bench' });
  return { userId: user.id as string, token: token.token as string };
}

export async function post(url: string, headers: Record<string, string>, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  if (response.status !== 201) throw new Error(`POST ${url} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

/** Runs `task` for 0..count-1 with at most `concurrency` in flight. */
export async function pool(count: number, concurrency: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/** How long one run of `fn` takes, in milliseconds. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** Median of `samples` sequential runs of `fn`, in milliseconds. */
export async function medianMs(samples: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) times.push(await timeMs(fn));
  return round(median(times));
}
