/**
 * `logweaver-pino runs`: one line per run (or --json, one object per run): application, machine,
 * run number, first and last time, rows per level, and how the run ended where that is known.
 */
import type { Writable } from 'node:stream';
import { Command } from 'commander';
import { openReader } from '../read/connect.js';
import { parseFilters, parseLimit, resolveReadTarget, type ReadTarget } from '../read/options.js';
import { listRuns, type RunSummary, type RunsRequest } from '../read/runs.js';
import { readOnly } from '../read/read-only.js';
import { addSelectionOptions, addTargetOptions } from './flags.js';

const DEFAULT_RUNS_PER_MACHINE = 10;
const MAX_RUNS_PER_MACHINE = 10_000;

export function runsCommand(): Command {
  const command = new Command('runs')
    .description('list the runs of each application on each machine, with rows per level')
    .option(
      '--limit <runs>',
      `the last this-many runs of each application on each machine (default ${DEFAULT_RUNS_PER_MACHINE})`,
    )
    .option('--json', 'one JSON object per run')
    .action(async (flags: Record<string, unknown>) => {
      const { target, request } = runsSettings(flags, process.env);
      await runRuns(target, request, flags.json === true, process.stdout);
    });
  return addSelectionOptions(addTargetOptions(command));
}

function runsSettings(
  flags: Record<string, unknown>,
  env: Record<string, string | undefined>,
): { target: ReadTarget; request: RunsRequest } {
  const target = resolveReadTarget(flags, env);
  const { applications, machines } = parseFilters(
    { application: flags.application, machine: flags.machine },
    target.timezone,
    'cli',
  );
  const limit = parseLimit(flags.limit, 'cli', {
    fallback: DEFAULT_RUNS_PER_MACHINE,
    min: 1,
    max: MAX_RUNS_PER_MACHINE,
  });
  return { target, request: { applications, machines, perMachine: limit } };
}

async function runRuns(target: ReadTarget, request: RunsRequest, json: boolean, stdout: Writable): Promise<void> {
  const reader = await openReader(target, 'runs');
  try {
    const runs = await readOnly(reader.client, () => listRuns(reader.client, reader.context, request));
    stdout.write(
      runs
        .map((run) => (json ? JSON.stringify(run) : describeRun(run)))
        .map((line) => `${line}\n`)
        .join(''),
    );
  } finally {
    await reader.close();
  }
}

/** `SadTalker gpu-box run 7: 2026-… to 2026-…, 1,204 rows (INFO 1200, ERROR 4), ended cleanly` */
function describeRun(run: RunSummary): string {
  const levels = Object.entries(run.levels)
    .map(([level, rows]) => `${level} ${rows}`)
    .join(', ');
  return `${run.application_name} ${run.machine_name} run ${run.run_number}: ${run.first_timestamp} to ${run.last_timestamp}, ${run.rows} rows (${levels}), ${describeEnd(run)}`;
}

function describeEnd(run: RunSummary): string {
  if (run.end_recorded === null) return 'end unknown';
  if (!run.end_recorded) return 'no end recorded (still running, or killed)';
  return run.ended_cleanly ? `ended cleanly at ${run.ended_at}` : `ended uncleanly at ${run.ended_at}`;
}
