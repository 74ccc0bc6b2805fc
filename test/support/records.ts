/**
 * The oracle of FAULTS.md: numbered records in, each number stored exactly once. A reader (the real
 * CLI with stdin left open) writes numbered lines between faults; seqs() reads back what landed.
 */
import { spawn } from 'node:child_process';
import { queryOnce } from './database.js';
import { CLI, cleanEnv } from './spawn.js';

export function startReader(url: string, application: string) {
  const child = spawn(process.execPath, [CLI], {
    env: cleanEnv({ LOGWEAVER_DATABASE_URL: url, LOGWEAVER_APPLICATION: application, LOGWEAVER_FLUSH_INTERVAL: '100' }),
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let next = 0;
  return {
    write(count: number) {
      for (let index = 0; index < count; index++, next++) child.stdin.write(`{"level":30,"seq":${next},"msg":"n"}\n`);
    },
    async end() {
      child.stdin.end();
      return { code: await exited, stderr };
    },
    stderr: () => stderr,
  };
}

/** The seq of every stored record of the application (in `table`), in order; none before the table exists. */
export async function seqs(url: string, application: string, table = 'log'): Promise<number[]> {
  const rows = await queryOnce<{ seq: number }>(
    url,
    `SELECT (record->>'seq')::int AS seq FROM ${table} WHERE application_name = $1 AND record IS NOT NULL ORDER BY 1`,
    [application],
  ).catch((error: { code?: string }) => {
    if (error.code === '42P01') return [];
    throw error;
  });
  return rows.map((row) => row.seq);
}

export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const range = (count: number) => Array.from({ length: count }, (_, index) => index);
