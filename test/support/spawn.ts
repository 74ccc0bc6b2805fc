/** Runs real processes (fixture apps, the CLI binary) and collects what a user would see. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
