import { existsSync } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';

/**
 * `npm run upload -- --dataset <id> <file or folder>…`: uploads files into a dataset straight to storage
 * through an upload session (parallel parts, a progress line), and resumes an interrupted upload: the
 * session and every finished part are kept in .trainyard-upload-<dataset>.json until the upload completes.
 * Options: --api (default $TRAINYARD_API or http://127.0.0.1:8080/api/v1), --token (default
 * $TRAINYARD_TOKEN), --user (default: learnt from the token), --concurrency (default 4).
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    dataset: { type: 'string' },
    api: { type: 'string' },
    token: { type: 'string' },
    user: { type: 'string' },
    concurrency: { type: 'string' },
  },
});
const api = (values.api ?? process.env.TRAINYARD_API ?? 'http://127.0.0.1:8080/api/v1').replace(/\/$/, '');
const token = values.token ?? process.env.TRAINYARD_TOKEN;
const concurrency = Number(values.concurrency ?? 4);
if (!values.dataset || !token || positionals.length === 0 || !Number.isInteger(concurrency) || concurrency < 1) {
  console.error('usage: npm run upload -- --dataset <id> [--token <ty_…> | TRAINYARD_TOKEN] [--api <url>] [--user <id>] [--concurrency N] <file or folder>…');
  process.exit(2);
}

interface LocalFile {
  name: string;
  path: string;
  size: number;
}
interface PlannedFile {
  name: string;
  size: number;
  mode: 'single' | 'multipart';
  status: 'pending' | 'uploaded';
  url?: string;
  part_size?: number;
  parts?: { part_number: number; size: number; url: string }[];
}
interface Session {
  id: string;
  status: string;
  files: PlannedFile[];
}
interface State {
  session: string;
  /** name → part number → ETag, for the parts already in storage. */
  parts: Record<string, Record<string, string>>;
  /** Single-PUT files already in storage. */
  sent: string[];
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${api}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

async function collect(inputs: string[]): Promise<LocalFile[]> {
  const files: LocalFile[] = [];
  for (const input of inputs) {
    const root = resolve(input);
    const info = await stat(root);
    if (info.isFile()) {
      files.push({ name: basename(root), path: root, size: info.size });
      continue;
    }
    for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      files.push({ name: relative(root, path).split(sep).join('/'), path, size: (await stat(path)).size });
    }
  }
  return files;
}

async function readSlice(path: string, start: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, start);
    return buffer;
  } finally {
    await handle.close();
  }
}

async function put(url: string, body: Buffer): Promise<string> {
  const response = await fetch(url, { method: 'PUT', body });
  if (!response.ok) throw new Error(`storage answered ${response.status}: ${await response.text()}`);
  return response.headers.get('etag') ?? '';
}

function progress(done: number, total: number, started: number): void {
  const share = total ? done / total : 1;
  const mbps = done / 1e6 / Math.max((Date.now() - started) / 1000, 0.001);
  const line = `[${'#'.repeat(Math.round(share * 30)).padEnd(30)}] ${(share * 100).toFixed(0).padStart(3)}% ${(done / 1e6).toFixed(1)}/${(total / 1e6).toFixed(1)} MB ${mbps.toFixed(1)} MB/s`;
  process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
}

const local = await collect(positionals);
const user = values.user ?? (await call<{ user_id: string }>('POST', '/login', { api_key: token })).user_id;
const base = `/user/${user}/dataset/${values.dataset}/upload`;
const stateFile = resolve(`.trainyard-upload-${values.dataset}.json`);
let state: State | undefined = existsSync(stateFile) ? (JSON.parse(await readFile(stateFile, 'utf8')) as State) : undefined;

let session: Session;
if (state && (await call<Session>('GET', `${base}/${state.session}`)).status === 'open') {
  session = await call<Session>('POST', `${base}/${state.session}/renew`);
  process.stderr.write(`resuming upload ${session.id}\n`);
} else {
  session = await call<Session>('POST', base, { files: local.map((f) => ({ name: f.name, size: f.size })) });
  state = { session: session.id, parts: {}, sent: [] };
}
// Written aside and renamed into place, so a client killed mid-write never leaves half a state file.
const saveState = async () => {
  await writeFile(`${stateFile}.tmp`, JSON.stringify(state));
  await rename(`${stateFile}.tmp`, stateFile);
};
await saveState();

// Every piece of work: one single PUT or one part, skipping what an earlier run already stored.
const pathOf = new Map(local.map((f) => [f.name, f.path]));
const work: { bytes: number; run: () => Promise<void> }[] = [];
let total = 0;
let done = 0;
for (const file of session.files) {
  total += file.size;
  const path = pathOf.get(file.name);
  if (!path) throw new Error(`${file.name} is in the session but not among the files given`);
  if (file.status === 'uploaded' || state.sent.includes(file.name)) {
    done += file.size;
    continue;
  }
  if (file.mode === 'single') {
    work.push({ bytes: file.size, run: async () => void (await put(file.url!, await readFile(path)), state!.sent.push(file.name)) });
    continue;
  }
  const stored = (state.parts[file.name] ??= {});
  for (const part of file.parts ?? []) {
    if (stored[part.part_number]) {
      done += part.size;
      continue;
    }
    const start = (part.part_number - 1) * file.part_size!;
    work.push({ bytes: part.size, run: async () => void (stored[part.part_number] = await put(part.url, await readSlice(path, start, part.size))) });
  }
}

const started = Date.now();
progress(done, total, started);
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    for (let item = work.shift(); item; item = work.shift()) {
      await item.run();
      done += item.bytes;
      await saveState();
      progress(done, total, started);
    }
  }),
);
if (process.stderr.isTTY) process.stderr.write('\n');

const completed = await call<Session>('POST', `${base}/${session.id}/complete`, {
  files: session.files
    .filter((f) => f.status !== 'uploaded')
    .map((f) =>
      f.mode === 'single'
        ? { name: f.name }
        : { name: f.name, parts: Object.entries(state!.parts[f.name] ?? {}).map(([n, etag]) => ({ part_number: Number(n), etag })) },
    ),
});
await rm(stateFile, { force: true });
console.log(JSON.stringify({ upload_id: completed.id, status: completed.status, files: completed.files.length, bytes: total }));
