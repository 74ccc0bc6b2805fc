/**
 * Drives test/fixtures/steady.mjs, an application that logs numbered records at a steady rate through
 * the real transport, and collects what it reports: memory samples, the worker's stats, stderr.
 */
import { spawn } from 'node:child_process';
import { cleanEnv, FIXTURES } from './spawn.js';

export interface WorkerStats {
  received: number;
  written: number;
  dropped: number;
  buffered: number;
  spoolBytes: number;
  workerMemory: { heapUsed: number; external: number; arrayBuffers: number };
}

export interface Sample {
  at: number;
  /** Records logged so far. */
  logged: number;
  /** Main-thread heapUsed + external after a full GC. */
  mainHeap: number;
  stats: WorkerStats | null;
}

export interface SteadyApp {
  samples: Sample[];
  /** Seqs of the records logged with the message 'poison <seq>'. */
  poisoned: number[];
  stderr(): string;
  poison(): void;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM (the app flushes through the shutdown helper); resolves with its exit and how many it logged. */
  stop(
    timeoutMs?: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; logged: number; processCpu: number }>;
  exited: Promise<number | null>;
}

export function startSteadyApp(
  rate: number,
  options: Record<string, unknown>,
  { prefix = [], env = {} }: { prefix?: string[]; env?: Record<string, string> } = {},
): SteadyApp {
  const command = [...prefix, process.execPath, '--expose-gc', `${FIXTURES}steady.mjs`, String(rate)];
  const child = spawn(command[0] as string, command.slice(1), {
    env: cleanEnv({ FIXTURE_OPTIONS: JSON.stringify(options), ...env }),
  });
  const samples: Sample[] = [];
  const poisoned: number[] = [];
  let logged = -1;
  let processCpu = -1;
  let stderr = '';
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const message = JSON.parse(line) as { type: string; seq?: number; count?: number; processCpu?: number } & Sample;
      if (message.type === 'sample') samples.push(message);
      if (message.type === 'poison') poisoned.push(message.seq as number);
      if (message.type === 'logged') {
        logged = message.count as number;
        processCpu = message.processCpu as number;
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    samples,
    poisoned,
    stderr: () => stderr,
    poison: () => child.kill('SIGUSR2'),
    kill: (signal) => child.kill(signal),
    exited: closed.then(({ code }) => code),
    async stop(timeoutMs = 20_000) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const { code, signal } = await closed;
      clearTimeout(killer);
      return { code, signal, logged, processCpu };
    },
  };
}

/** The largest main-thread figure after the warm-up, minus the median of the first samples after it. */
export function mainThreadGrowth(samples: Sample[], warmUpSamples = 10): number {
  const settled = samples.slice(warmUpSamples);
  const baseline = settled
    .slice(0, 10)
    .map((sample) => sample.mainHeap)
    .sort((a, b) => a - b);
  const median = baseline[Math.floor(baseline.length / 2)] ?? 0;
  return Math.max(...settled.map((sample) => sample.mainHeap)) - median;
}

/** The worker's largest heapUsed + external (which includes its array buffers) over all samples. */
export function workerPeak(samples: Sample[]): number {
  return Math.max(
    0,
    ...samples.map(({ stats }) => (stats ? stats.workerMemory.heapUsed + stats.workerMemory.external : 0)),
  );
}
