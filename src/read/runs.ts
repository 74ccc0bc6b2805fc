/**
 * Runs: per application and machine, the last few runs with their first and last time, rows per
 * level, and whether they ended cleanly (from `<table>_runs`, where it exists).
 *
 * On the package's table everything goes through the (application_name, machine_name, run_number)
 * index: distinct applications, machines and run numbers are found by skip scans (one index probe
 * per value, not a pass over the rows), and only the runs shown are counted. OpenClone's table has
 * no such index, so there one aggregate pass over the table is the cheapest way.
 */
import type pg from 'pg';
import { LEVELS } from '../levels.js';
import { Parameters, type SqlQuery } from './query.js';
import type { ReadContext } from './reader.js';
import { formatTimestamp } from './time.js';
import type { TableShape } from './table.js';

export interface RunsRequest {
  applications: string[];
  machines: string[];
  /** The last this-many runs of each application on each machine. */
  perMachine: number;
}

export interface RunSummary {
  application_name: string;
  machine_name: string;
  run_number: number;
  first_timestamp: string;
  last_timestamp: string;
  rows: number;
  /** Rows per level, e.g. { INFO: 120, ERROR: 2 }. */
  levels: Record<string, number>;
  /** true or false where the runs table recorded an end; null where it is not known. */
  ended_cleanly: boolean | null;
  ended_at: string | null;
  /** The runs table has the run but no end: still running, or crashed or killed. */
  end_recorded: boolean | null;
}

type RunKey = [application: string, machine: string, run: number];

/** Which run: what the jump-to-run list needs, without counting rows. */
export interface RunIdentity {
  application_name: string;
  machine_name: string;
  run_number: number;
}

interface LevelCount {
  application_name: string;
  machine_name: string;
  run_number: number;
  level: string;
  rows: number;
  first: Date;
  last: Date;
}

export async function listRuns(
  client: pg.ClientBase,
  context: ReadContext,
  request: RunsRequest,
): Promise<RunSummary[]> {
  const counts = context.shape.hasRunIndex
    ? await countChosenRuns(client, context.shape, await chooseRunsByIndex(client, context.shape, request))
    : await countAllRuns(client, context.shape, request);
  const runs = lastRunsPerMachine(foldLevels(counts, context.timezone), request.perMachine);
  return addEnds(client, context, runs);
}

/** Distinct values of one column of the run index, under fixed leading columns, by a skip scan. */
function skipScan(
  shape: TableShape,
  column: 'application_name' | 'machine_name' | 'run_number',
  fixed: Record<string, unknown>,
  descending: boolean,
): SqlQuery {
  const params = new Parameters();
  const prefix = Object.entries(fixed)
    .map(([name, value]) => `${name} = ${params.add(value)} AND `)
    .join('');
  const [step, order] = descending ? ['<', 'DESC'] : ['>', 'ASC'];
  const first = `SELECT ${column} AS value FROM ${shape.qualified} WHERE ${prefix} ${column} IS NOT NULL ORDER BY ${column} ${order} LIMIT 1`;
  const following = `SELECT ${column} FROM ${shape.qualified} WHERE ${prefix} ${column} ${step} found.value ORDER BY ${column} ${order} LIMIT 1`;
  return {
    text: `WITH RECURSIVE found AS ((${first}) UNION ALL SELECT (${following}) FROM found WHERE found.value IS NOT NULL)
           SELECT value FROM found WHERE value IS NOT NULL`,
    values: params.values,
  };
}

async function distinctValues<T>(client: pg.ClientBase, query: SqlQuery, limit?: number): Promise<T[]> {
  // The recursion is lazy: a LIMIT outside stops it after that many index probes.
  const text = limit === undefined ? query.text : `${query.text} LIMIT ${Number(limit)}`;
  const result = await client.query<{ value: T }>({ text, values: query.values });
  return result.rows.map((row) => row.value);
}

interface ApplicationMachine {
  application: string;
  machine: string;
}

/** Which applications logged from which machines: by skip scans where the run index exists. */
export async function listMachines(
  client: pg.ClientBase,
  shape: TableShape,
  applications: string[] = [],
): Promise<ApplicationMachine[]> {
  if (!shape.hasRunIndex) return distinctMachinesByScan(client, shape, applications);
  const names =
    applications.length > 0
      ? applications
      : await distinctValues<string>(client, skipScan(shape, 'application_name', {}, false));
  const pairs: ApplicationMachine[] = [];
  for (const application of names) {
    const fixed = { application_name: application };
    const machines = await distinctValues<string>(client, skipScan(shape, 'machine_name', fixed, false));
    pairs.push(...machines.map((machine) => ({ application, machine })));
  }
  return pairs;
}

/** OpenClone's table has no index to skip along: one pass. */
async function distinctMachinesByScan(
  client: pg.ClientBase,
  shape: TableShape,
  applications: string[],
): Promise<ApplicationMachine[]> {
  const where = applications.length > 0 ? 'WHERE application_name = ANY($1::text[])' : '';
  const result = await client.query<ApplicationMachine>(
    `SELECT DISTINCT application_name AS application, machine_name AS machine FROM ${shape.qualified} ${where}
      ORDER BY 1, 2`,
    applications.length > 0 ? [applications] : [],
  );
  return result.rows;
}

async function chooseRunsByIndex(client: pg.ClientBase, shape: TableShape, request: RunsRequest): Promise<RunKey[]> {
  const pairs = await listMachines(client, shape, request.applications);
  const chosen: RunKey[] = [];
  for (const { application, machine } of pairs) {
    if (request.machines.length > 0 && !request.machines.includes(machine)) continue;
    const fixed = { application_name: application, machine_name: machine };
    const runs = await distinctValues<number>(client, skipScan(shape, 'run_number', fixed, true), request.perMachine);
    chosen.push(...runs.map((run): RunKey => [application, machine, run]));
  }
  return chosen;
}

const COUNT_COLUMNS = `level, count(*)::int AS rows, min("timestamp") AS first, max("timestamp") AS last`;

/** Counts the chosen runs only, one index range each. */
async function countChosenRuns(client: pg.ClientBase, shape: TableShape, runs: RunKey[]): Promise<LevelCount[]> {
  if (runs.length === 0) return [];
  const result = await client.query<LevelCount>(
    `SELECT chosen.application_name, chosen.machine_name, chosen.run_number, counted.*
       FROM unnest($1::text[], $2::text[], $3::int[]) AS chosen(application_name, machine_name, run_number)
      CROSS JOIN LATERAL (
        SELECT ${COUNT_COLUMNS} FROM ${shape.qualified} AS log
         WHERE log.application_name = chosen.application_name AND log.machine_name = chosen.machine_name
           AND log.run_number = chosen.run_number
         GROUP BY level) AS counted`,
    [runs.map((run) => run[0]), runs.map((run) => run[1]), runs.map((run) => run[2])],
  );
  return result.rows;
}

/** WHERE clause for the applications and machines asked for. */
function selection(request: RunsRequest, params: Parameters): string {
  const conditions = [
    ...(request.applications.length > 0 ? [`application_name = ANY(${params.add(request.applications)}::text[])`] : []),
    ...(request.machines.length > 0 ? [`machine_name = ANY(${params.add(request.machines)}::text[])`] : []),
  ];
  return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
}

/** No run index (OpenClone's table): one aggregate pass over the rows of the applications asked for. */
async function countAllRuns(client: pg.ClientBase, shape: TableShape, request: RunsRequest): Promise<LevelCount[]> {
  const params = new Parameters();
  const result = await client.query<LevelCount>(
    `SELECT application_name, machine_name, run_number, ${COUNT_COLUMNS}
       FROM ${shape.qualified} ${selection(request, params)} GROUP BY application_name, machine_name, run_number, level`,
    params.values,
  );
  return result.rows;
}

/**
 * The last runs of each application on each machine, without counting their rows: for the viewer's
 * jump-to-run list. Index probes only on the package's table; one pass on OpenClone's.
 */
export async function listRunIdentities(
  client: pg.ClientBase,
  shape: TableShape,
  request: RunsRequest,
): Promise<RunIdentity[]> {
  if (shape.hasRunIndex) {
    const keys = await chooseRunsByIndex(client, shape, request);
    const runs = keys.map(([application_name, machine_name, run_number]) => ({
      application_name,
      machine_name,
      run_number,
    }));
    return lastRunsPerMachine(runs, request.perMachine);
  }
  const params = new Parameters();
  const result = await client.query<RunIdentity>(
    `SELECT DISTINCT application_name, machine_name, run_number FROM ${shape.qualified} ${selection(request, params)}`,
    params.values,
  );
  return lastRunsPerMachine(result.rows, request.perMachine);
}

const runId = (run: RunIdentity) => JSON.stringify([run.application_name, run.machine_name, run.run_number]);

/** LogWeaver's levels in their order, any other label after them. */
function levelRank(level: string): number {
  const rank = (LEVELS as readonly string[]).indexOf(level);
  return rank === -1 ? LEVELS.length : rank;
}

function foldLevels(counts: LevelCount[], timezone: string): RunSummary[] {
  const runs = new Map<string, RunSummary & { firstDate: Date; lastDate: Date }>();
  for (const count of counts) {
    const run = runs.get(runId(count)) ?? {
      application_name: count.application_name,
      machine_name: count.machine_name,
      run_number: count.run_number,
      firstDate: count.first,
      lastDate: count.last,
      first_timestamp: '',
      last_timestamp: '',
      rows: 0,
      levels: {},
      ended_cleanly: null,
      ended_at: null,
      end_recorded: null,
    };
    run.rows += count.rows;
    run.levels[count.level] = count.rows;
    if (count.first < run.firstDate) run.firstDate = count.first;
    if (count.last > run.lastDate) run.lastDate = count.last;
    runs.set(runId(count), run);
  }
  return [...runs.values()].map(({ firstDate, lastDate, ...run }) => ({
    ...run,
    levels: Object.fromEntries(
      Object.entries(run.levels).sort(([a], [b]) => levelRank(a) - levelRank(b) || a.localeCompare(b)),
    ),
    first_timestamp: formatTimestamp(firstDate, timezone),
    last_timestamp: formatTimestamp(lastDate, timezone),
  }));
}

/** Sorted by application, machine and run; the last `perMachine` runs of each. */
function lastRunsPerMachine<Run extends RunIdentity>(runs: Run[], perMachine: number): Run[] {
  const sorted = [...runs].sort(
    (a, b) =>
      a.application_name.localeCompare(b.application_name) ||
      a.machine_name.localeCompare(b.machine_name) ||
      a.run_number - b.run_number,
  );
  const byMachine = new Map<string, Run[]>();
  for (const run of sorted) {
    const key = JSON.stringify([run.application_name, run.machine_name]);
    byMachine.set(key, [...(byMachine.get(key) ?? []), run]);
  }
  return [...byMachine.values()].flatMap((machineRuns) => machineRuns.slice(-perMachine));
}

async function addEnds(client: pg.ClientBase, context: ReadContext, runs: RunSummary[]): Promise<RunSummary[]> {
  const runsTable = context.shape.runsTable;
  if (!runsTable || runs.length === 0) return runs;
  const result = await client.query<{
    application_name: string;
    machine_name: string;
    run_number: number;
    ended_at: Date | null;
    ended_cleanly: boolean | null;
  }>(
    `SELECT application_name, machine_name, run_number, ended_at, ended_cleanly FROM ${runsTable}
      WHERE (application_name, machine_name, run_number) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::int[]))`,
    [runs.map((run) => run.application_name), runs.map((run) => run.machine_name), runs.map((run) => run.run_number)],
  );
  const ends = new Map(result.rows.map((row) => [runId(row), row]));
  return runs.map((run) => {
    const end = ends.get(runId(run));
    if (!end) return run;
    return {
      ...run,
      end_recorded: end.ended_at !== null,
      ended_at: end.ended_at ? formatTimestamp(end.ended_at, context.timezone) : null,
      ended_cleanly: end.ended_at ? end.ended_cleanly : null,
    };
  });
}
