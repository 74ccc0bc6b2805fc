// Issue 15 item 2: run numbers against LogWeaver itself, which takes no lock (`SELECT ... ORDER BY
// run_number DESC LIMIT 1`, then INSERT its marker). The race is made deterministic: LogWeaver's
// stand-in reads the highest number, then a trigger holds logweaver-pino's marker INSERT (on an
// advisory lock the test owns) while the stand-in inserts its marker with the same number.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCloneDatabase, type OpenCloneDatabase } from './support/openclone.js';
import { runCli } from './support/spawn.js';

let openClone: OpenCloneDatabase;
const GATE = 4715;

beforeAll(async () => {
  openClone = await openCloneDatabase('openclone_runs');
  // Fires only for logweaver-pino's marker: it waits until the test lets it through.
  await openClone.db.query(`
    CREATE FUNCTION hold_marker() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('application_name') = 'logweaver-pino' AND NEW.message LIKE '% - Run Number Incremented' THEN
        PERFORM pg_advisory_lock(${GATE});
        PERFORM pg_advisory_unlock(${GATE});
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER hold_marker BEFORE INSERT ON log FOR EACH ROW EXECUTE FUNCTION hold_marker();`);
});
afterAll(async () => openClone.drop());

/** LogWeaver's own algorithm, in two steps so the test can put logweaver-pino between them. */
class LogWeaverStandIn {
  private readonly client = new pg.Client({ connectionString: openClone.url });

  constructor(private readonly application: string) {}

  async connect(): Promise<void> {
    await this.client.connect();
  }

  async nextRunNumber(): Promise<number> {
    const result = await this.client.query<{ run_number: number }>(
      `SELECT run_number FROM log WHERE application_name = $1 AND machine_name = 'gpu-box'
        ORDER BY run_number DESC LIMIT 1`,
      [this.application],
    );
    return (result.rows[0]?.run_number ?? 0) + 1;
  }

  async insertMarker(run: number): Promise<void> {
    await this.client.query(
      `INSERT INTO log (run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address)
       VALUES ($1, $2, true, now(), $2 || ' - Run Number Incremented', '', 'INFO', 'gpu-box', '10.0.0.5')`,
      [run, this.application],
    );
  }

  /** For a marker held in flight: LogWeaver's INSERT is autocommitted, this only slows it down. */
  async query(sql: string): Promise<void> {
    await this.client.query(sql);
  }

  async end(): Promise<void> {
    await this.client.end();
  }
}

async function waitForHeldMarker(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const held = await openClone.db.query(
      `SELECT 1 FROM pg_stat_activity WHERE application_name = 'logweaver-pino' AND wait_event = 'advisory'`,
    );
    if (held.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error("logweaver-pino's marker never reached the trigger");
}

interface RaceSteps {
  /** LogWeaver's steps before logweaver-pino starts; returns the number LogWeaver took. */
  before(logWeaver: LogWeaverStandIn): Promise<number>;
  /** Its steps while logweaver-pino's marker is held, after its read of the highest number. */
  during(logWeaver: LogWeaverStandIn, run: number): Promise<void>;
}

/** Runs the race; returns the number LogWeaver took and logweaver-pino's summary line. */
async function race(application: string, steps: RaceSteps): Promise<{ logWeaverRun: number; stderr: string }> {
  const gate = new pg.Client({ connectionString: openClone.db.url });
  const logWeaver = new LogWeaverStandIn(application);
  await Promise.all([gate.connect(), logWeaver.connect()]);
  try {
    await gate.query('SELECT pg_advisory_lock($1)', [GATE]);
    const logWeaverRun = await steps.before(logWeaver);
    const ours = runCli(['--database-url', openClone.url, '--application', application, '--machine-name', 'gpu-box'], {
      input: '{"level":30,"time":1700000000000,"msg":"rendered"}\n',
    });
    await waitForHeldMarker();
    await steps.during(logWeaver, logWeaverRun);
    await gate.query('SELECT pg_advisory_unlock($1)', [GATE]);
    return { logWeaverRun, stderr: (await ours).stderr };
  } finally {
    await Promise.all([gate.end(), logWeaver.end()]);
  }
}

async function markersAndRows(application: string) {
  const markers = await openClone.db.query(
    `SELECT run_number, ip_address = '10.0.0.5' AS logweaver FROM log
      WHERE application_name = $1 AND message LIKE '% - Run Number Incremented' ORDER BY run_number`,
    [application],
  );
  const rows = await openClone.db.query(
    `SELECT run_number FROM log WHERE application_name = $1 AND message = 'rendered'`,
    [application],
  );
  return { markers, rows };
}

const EACH_ITS_OWN = {
  markers: [
    { run_number: 1, logweaver: true },
    { run_number: 2, logweaver: false },
  ],
  rows: [{ run_number: 2 }],
};

describe('issue 15 item 2: a LogWeaver service starting at the same moment', () => {
  it('takes the next number when LogWeaver took the same one between its read and its check', async () => {
    const result = await race('SadTalker', {
      before: (logWeaver) => logWeaver.nextRunNumber(),
      during: (logWeaver, run) => logWeaver.insertMarker(run),
    });
    expect(result.logWeaverRun).toBe(1);
    expect(result.stderr).toBe('logweaver-pino: read 1 lines, wrote 1 rows, run 2 of SadTalker\n');
    expect(await markersAndRows('SadTalker')).toEqual(EACH_ITS_OWN);
  });

  it('also when the LogWeaver marker was in flight as the number was read, with newer ids committed', async () => {
    const result = await race('U2Net', {
      before: async (logWeaver) => {
        const run = await logWeaver.nextRunNumber();
        await logWeaver.query('BEGIN');
        await logWeaver.insertMarker(run);
        // A row of another service, committed: the newest id seen is above the marker's.
        await openClone.db.query(
          `INSERT INTO log (run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address)
           VALUES (1, 'other', true, now(), 'other', '', 'INFO', 'gpu-box', '10.0.0.6')`,
        );
        return run;
      },
      during: (logWeaver) => logWeaver.query('COMMIT'),
    });
    expect(result.logWeaverRun).toBe(1);
    expect(result.stderr).toBe('logweaver-pino: read 1 lines, wrote 1 rows, run 2 of U2Net\n');
    expect(await markersAndRows('U2Net')).toEqual(EACH_ITS_OWN);
  });
});
