/**
 * `logweaver-pino tail`: the last rows (100 unless --limit says otherwise), oldest first, through
 * pino-pretty or as JSON lines; with --follow, new rows as they land (polled every 500 ms) until
 * Ctrl-C, which ends it with exit code 0.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Writable } from 'node:stream';
import { Command } from 'commander';
import { errorText } from '../errors.js';
import { openReader, type OpenReader } from '../read/connect.js';
import type { FollowCursor } from '../read/follow.js';
import { parseFilters, parseLimit, resolveReadTarget, type Filters, type ReadTarget } from '../read/options.js';
import { pollNewRows, readLastRows } from '../read/reader.js';
import type { StoredRow } from '../read/rows.js';
import { addFilterOptions, addTargetOptions } from './flags.js';

const DEFAULT_TAIL_ROWS = 100;
const MAX_TAIL_ROWS = 100_000;
const POLL_INTERVAL_MS = 500;
const FOLLOW_BATCH_ROWS = 1_000;
const RECONNECT_DELAY_MS = 2_000;

interface TailSettings {
  target: ReadTarget;
  filters: Filters;
  limit: number;
  follow: boolean;
  json: boolean;
}

export function tailCommand(): Command {
  const command = new Command('tail')
    .description('print the last rows (through pino-pretty, or --json); --follow for new ones')
    .option(
      '--limit <rows>',
      `how many of the last rows to print first (default ${DEFAULT_TAIL_ROWS}, at most ${MAX_TAIL_ROWS})`,
    )
    .option('-f, --follow', 'keep printing new rows as they land, until Ctrl-C')
    .option('--json', 'one JSON object per row, keyed by the table column names')
    .action(async (flags: Record<string, unknown>) => {
      process.exitCode = await runTail(tailSettings(flags, process.env), process.stdout, process.stderr);
    });
  return addFilterOptions(addTargetOptions(command));
}

/** Every flag validated before anything connects: a bad one exits 2, naming it. */
function tailSettings(flags: Record<string, unknown>, env: Record<string, string | undefined>): TailSettings {
  const target = resolveReadTarget(flags, env);
  return {
    target,
    filters: parseFilters(flags, target.timezone, 'cli'),
    limit: parseLimit(flags.limit, 'cli', { fallback: DEFAULT_TAIL_ROWS, min: 0, max: MAX_TAIL_ROWS }),
    follow: flags.follow === true,
    json: flags.json === true,
  };
}

async function runTail(
  settings: TailSettings,
  stdout: Writable & { isTTY?: boolean },
  stderr: Writable,
): Promise<number> {
  const format = settings.json ? jsonLine : await prettyLine(settings.target.timezone, stdout);
  const output = new Output(stdout, format);
  let reader = await openReader(settings.target, 'tail');
  try {
    const request = { limit: settings.limit, withRecord: true };
    const first = await readLastRows(reader.client, reader.context, settings.filters, request);
    await output.print(first.rows.reverse());
    if (!settings.follow || output.closed) return 0;
    const stop = stopOnSignals(output);
    try {
      reader = await follow(settings, reader, first.follow, output, stop.signal, stderr);
    } finally {
      stop.dispose();
    }
    return 0;
  } finally {
    await reader.close();
  }
}

const jsonLine = (row: StoredRow) => `${JSON.stringify(row)}\n`;

/** pino-pretty, loaded only when used (--json output starts sooner without it); colours on a terminal. */
async function prettyLine(timezone: string, stdout: { isTTY?: boolean }): Promise<(row: StoredRow) => string> {
  const { createPrettyPrinter } = await import('./pretty.js');
  return createPrettyPrinter(timezone, stdout.isTTY === true && !process.env.NO_COLOR);
}

/** Polls until stopped; on a failure, says so and reconnects. Returns the reader in use at the end. */
async function follow(
  settings: TailSettings,
  initial: OpenReader,
  start: FollowCursor,
  output: Output,
  signal: AbortSignal,
  stderr: Writable,
): Promise<OpenReader> {
  let reader: OpenReader | undefined = initial;
  let cursor = start;
  while (!signal.aborted) {
    try {
      reader ??= await openReader(settings.target, 'tail');
      const poll = await abortable(
        pollNewRows(reader.client, reader.context, settings.filters, cursor, {
          limit: FOLLOW_BATCH_ROWS,
          withRecord: true,
        }),
        signal,
      );
      if (!poll) break;
      await output.print(poll.rows);
      cursor = poll.cursor;
      if (poll.rows.length < FOLLOW_BATCH_ROWS)
        await sleep(POLL_INTERVAL_MS, undefined, { signal }).catch(() => undefined);
    } catch (error) {
      stderr.write(`logweaver-pino: error: ${errorText(error)}; retrying in ${RECONNECT_DELAY_MS / 1000} s\n`);
      await reader?.close();
      reader = undefined;
      await sleep(RECONNECT_DELAY_MS, undefined, { signal }).catch(() => undefined);
    }
  }
  return reader ?? initial;
}

/** The work's result, or undefined as soon as the signal fires (the query is then left to end with the connection). */
async function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
    work.catch(() => undefined);
  }
}

/** Ctrl-C, SIGTERM, or the reader of stdout going away (`| head`) end following normally. */
function stopOnSignals(output: Output): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  output.onClose(stop);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

/** Writes formatted rows, waiting when the pipe is full; stops quietly once stdout is gone (EPIPE). */
class Output {
  closed = false;
  private listeners: (() => void)[] = [];

  constructor(
    private readonly stream: Writable,
    private readonly format: (row: StoredRow) => string,
  ) {
    stream.on('error', () => this.close());
  }

  async print(rows: StoredRow[]): Promise<void> {
    for (const row of rows) {
      if (this.closed) return;
      if (!this.stream.write(this.format(row))) await this.drained();
    }
  }

  onClose(listener: () => void): void {
    this.listeners.push(listener);
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off('drain', done);
        this.listeners = this.listeners.filter((listener) => listener !== done);
        resolve();
      };
      this.stream.on('drain', done);
      this.onClose(done);
    });
  }

  private close(): void {
    this.closed = true;
    for (const listener of this.listeners) listener();
  }
}
