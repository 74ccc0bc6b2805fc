// Records of shapes Pino's own serializers never make, but applications log anyway: what each row
// holds is what a reader of the table would expect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { runCli } from './support/spawn.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('enrich');
});
afterAll(async () => db.drop());

describe('records of odd shapes', () => {
  it('show object tags as JSON, an error logged as a string or without a stack, and no LEVELInfinity', async () => {
    const lines = [
      { level: 30, seq: 0, tags: ['a', { team: 'render' }, null, 7], msg: 'object tags' },
      { level: 30, seq: 1, tags: { team: 'render' }, msg: 'tags as an object' },
      { level: 50, seq: 2, err: 'connection reset', msg: 'an error given as a string' },
      { level: 50, seq: 3, err: { type: 'TypeError', message: 'x is undefined' }, msg: 'an error without a stack' },
      { level: Infinity, seq: 4, msg: 'a level past any number' }, // JSON.stringify writes null: made 1e400 below
      { level: 35, seq: 5, msg: 'a level number the logger did not declare' },
    ];
    const input = `${lines.map((line) => JSON.stringify(line).replace('null,"seq":4', '1e400,"seq":4')).join('\n')}\n`;
    const result = await runCli(['--database-url', db.url, '--application', 'odd'], { input });
    expect(result.code).toBe(0);
    const rows = await db.query(
      `SELECT tags, level, message FROM log WHERE application_name = 'odd' AND record IS NOT NULL
        ORDER BY (record->>'seq')::int`,
    );
    expect(rows).toEqual([
      { tags: 'a,{"team":"render"},7', level: 'INFO', message: 'object tags' },
      { tags: '{"team":"render"}', level: 'INFO', message: 'tags as an object' },
      { tags: '', level: 'ERROR', message: 'an error given as a string\nconnection reset' },
      { tags: '', level: 'ERROR', message: 'an error without a stack\nTypeError: x is undefined' },
      { tags: '', level: 'INFO', message: 'a level past any number' },
      { tags: '', level: 'LEVEL35', message: 'a level number the logger did not declare' },
    ]);
  });
});
