import type { Storage } from './storage';

/**
 * What the worker tells the orchestrator while it runs: status.json (rewritten on progress), metrics.jsonl
 * (rewritten whole when lines are added, since S3 has no append) and the attempt's log (uploaded every
 * ~2 s). Every writer serialises its own PUTs, so an older snapshot never lands after a newer one.
 */
export type JobStatus = 'Running' | 'Done' | 'Error' | 'Paused';

export interface CategoryValues {
  metric: string;
  category_wise_values: { category: string; value: number }[];
}

export interface Stat {
  metric: string;
  value: number;
}

export interface StatusDocument {
  status: JobStatus;
  message: string;
  attempt: number;
  epoch?: number;
  max_epoch?: number;
  cur_iter?: number;
  eta?: number;
  time_per_epoch?: number;
  kpi?: { metric: string; values: Record<string, number> }[];
  graphical?: { metric: string; values: Record<string, number>; x_min: number; x_max: number; y_min: number; y_max: number; units: string }[];
  categorical?: CategoryValues[];
  stats?: Stat[];
  updated_on: string;
}

export type StatusFields = Partial<Omit<StatusDocument, 'attempt' | 'updated_on'>>;

/** Runs PUTs one after another; each takes its snapshot only when its turn comes. */
class SerialWriter {
  private chain: Promise<void> = Promise.resolve();

  enqueue(write: () => Promise<void>): Promise<void> {
    const next = this.chain.then(write);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

export class StatusWriter {
  private document: StatusDocument;
  private readonly serial = new SerialWriter();
  private lastWrite = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly storage: Storage,
    readonly key: string,
    attempt: number,
    /** The least time between two progress writes. */
    private readonly intervalMs = 1000,
    private readonly onError: (error: unknown) => void = () => undefined,
    /** Progress writes give up when this aborts (a SIGTERM), so they never hold up the last write. */
    private readonly progressSignal?: AbortSignal,
  ) {
    this.document = { status: 'Running', message: '', attempt, updated_on: new Date().toISOString() };
  }

  get current(): Readonly<StatusDocument> {
    return this.document;
  }

  /** Progress: merged now, written at most every `intervalMs`; a failed progress write is reported, not thrown. */
  progress(fields: StatusFields): void {
    this.merge(fields);
    if (this.timer) return;
    const wait = this.lastWrite + this.intervalMs - Date.now();
    if (wait <= 0) {
      void this.put(this.progressSignal).catch(this.onError);
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.put(this.progressSignal).catch(this.onError);
    }, wait);
    this.timer.unref();
  }

  /** A write that must land (start, end): merged and written now; throws when the PUT fails. */
  write(fields: StatusFields, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.merge(fields);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return this.put(options.signal);
  }

  private merge(fields: StatusFields): void {
    const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    this.document = { ...this.document, ...defined, updated_on: new Date().toISOString() };
  }

  private put(signal?: AbortSignal): Promise<void> {
    return this.serial.enqueue(async () => {
      this.lastWrite = Date.now();
      await this.storage.putJson(this.key, this.document, { signal });
    });
  }
}

export interface MetricLine {
  metric: string;
  value: number;
  epoch?: number;
  step?: number;
}

/** metrics.jsonl: the lines earlier attempts left, then this attempt's, rewritten whole on each flush. */
export class MetricsWriter {
  private lines: string[] = [];
  private dirty = false;
  private readonly serial = new SerialWriter();

  constructor(
    private readonly storage: Storage,
    readonly key: string,
    private readonly attempt: number,
  ) {}

  /** Keeps what earlier attempts wrote (call once, before the first add). */
  async load(options: { signal?: AbortSignal } = {}): Promise<void> {
    const text = await this.storage.getText(this.key, options);
    if (text) this.lines = [...text.split('\n').filter((l) => l.trim()), ...this.lines];
  }

  add(...metrics: MetricLine[]): void {
    const time = new Date().toISOString();
    for (const m of metrics) this.lines.push(JSON.stringify({ time, attempt: this.attempt, ...m }));
    if (metrics.length) this.dirty = true;
  }

  flush(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (!this.dirty) return Promise.resolve();
    this.dirty = false;
    return this.serial.enqueue(() => this.storage.put(this.key, `${this.lines.join('\n')}\n`, 'application/x-ndjson', options));
  }
}

/** The attempt's log: printed to stdout as it happens, uploaded whole every `intervalMs` when it grew, and at exit. */
export class JobLog {
  private readonly lines: string[] = [];
  private uploaded = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly serial = new SerialWriter();

  constructor(
    private readonly storage: Storage | undefined,
    readonly key: string | undefined,
    private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {}

  line(message: string): void {
    for (const part of message.split(/\r?\n/)) {
      const line = `${new Date().toISOString()} ${part}`;
      this.lines.push(line);
      this.write(line);
    }
  }

  /** Uploads every `intervalMs` while the worker runs; the timer never keeps the process alive. */
  start(intervalMs = 2000): void {
    this.timer = setInterval(() => void this.flush().catch((error: unknown) => process.stderr.write(`log upload failed: ${String(error)}\n`)), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  flush(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (!this.storage || !this.key || this.uploaded === this.lines.length) return Promise.resolve();
    return this.serial.enqueue(async () => {
      const count = this.lines.length;
      if (count === this.uploaded) return;
      await this.storage!.put(this.key!, `${this.lines.slice(0, count).join('\n')}\n`, 'text/plain; charset=utf-8', options);
      this.uploaded = Math.max(this.uploaded, count);
    });
  }
}
