/** Runs real processes (fixture apps, the CLI binary) and collects what a user would see. */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = `${ROOT}dist/cli/bin.js`;
export const FIXTURES = `${ROOT}test/fixtures/`;

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  timeoutMs?: number;
  cwd?: string;
}

/**
 * Environment for children: the parent's, minus anything that would point them at another database,
 * with a fresh spool directory unless the test gives one.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of Object.keys(env)) {
    if (
      key.startsWith('LOGWEAVER_') ||
      key.startsWith('PG') ||
      key === 'DATABASE_URL' ||
      key.startsWith('OpenClone_')
    ) {
      delete env[key];
    }
  }
  env.LOGWEAVER_SPOOL_DIR = mkdtempSync(join(tmpdir(), 'logweaver-spool-'));
  return Object.fromEntries(
    Object.entries({ ...env, ...extra }).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

export function run(command: string, args: string[], options: RunOptions = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: cleanEnv(options.env), cwd: options.cwd ?? ROOT, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

export function runNode(script: string, args: string[] = [], options: RunOptions = {}): Promise<Finished> {
  return run(process.execPath, [script, ...args], options);
}

export function runCli(args: string[], options: RunOptions = {}): Promise<Finished> {
  return runNode(CLI, args, options);
}

export interface RunningCli {
  /** Everything printed on stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout satisfies the check (polled every 20 ms). */
  waitForOutput(check: (stdout: string) => boolean, timeoutMs?: number): Promise<void>;
  /** Sends SIGINT, as Ctrl-C does, and resolves with the exit code. */
  interrupt(): Promise<number | null>;
  /** Kills it if a test failed before interrupting it. */
  kill(): void;
}

/** The CLI left running (tail --follow, view), for tests that act while it runs; `bin`: another copy of it. */
export function startCli(args: string[], env: Record<string, string | undefined> = {}, bin = CLI): RunningCli {
  const child = spawn(process.execPath, [bin, ...args], {
    env: cleanEnv(env),
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    waitForOutput: async (check, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!check(stdout)) {
        if (Date.now() > deadline) throw new Error(`output not seen in time; stdout: ${stdout}\nstderr: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    interrupt: async () => {
      child.kill('SIGINT');
      return exited;
    },
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** The CLI's stdout; throws, with its stderr, unless it exited 0 and printed nothing on stderr. */
export async function cliStdout(args: string[], options: RunOptions = {}): Promise<string> {
  const result = await runCli(args, options);
  if (result.code !== 0 || result.stderr !== '') {
    throw new Error(`logweaver-pino ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  }
  return result.stdout;
}

/** Each non-empty line parsed as JSON. */
export function jsonLines<T>(stdout: string): T[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

export interface PipeReader {
  child: ChildProcessByStdio<Writable, Readable, Readable>;
  stderr(): string;
  /** Writes to its stdin and resolves once the data is in the pipe (so the reader has taken all but a pipe's worth). */
  write(data: string | Buffer): Promise<void>;
  /** Ends its stdin and resolves with its exit code. */
  end(data?: string): Promise<number | null>;
}

/** The CLI in pipe mode with stdin left open; stdout is the caller's to read (or leave unread). */
export function startPipeReader(args: string[], env: Record<string, string | undefined> = {}): PipeReader {
  const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(env), cwd: ROOT, stdio: 'pipe' });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    stderr: () => stderr,
    write: (data) =>
      new Promise((resolve, reject) => child.stdin.write(data, (error) => (error ? reject(error) : resolve()))),
    end: async (data) => {
      child.stdin.end(data);
      return exited;
    },
  };
}
