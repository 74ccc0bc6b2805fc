// Records of shapes Pino's own serializers never make, but applications log anyway, and text the
// server cannot store as it is (FAULTS #19, #20): what each row holds is what a reader of the table
// would expect. Sanitising changes only a real NUL character and a lone surrogate; text that merely
// looks like their escapes is stored as written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { runCli } from './support/spawn.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('odd_records');
});
afterAll(async () => db.drop());

describe('sanitising', () => {
  it('stores the text C:\\u0000x (a backslash, then u0000) as written, and replaces only real NULs', async () => {
    const record = {
      level: 30,
      msg: 'C:\\u0000x',
      path: 'C:\\u0000x',
      pair: '\\\\ud800\\udc00',
      real: 'a\u0000b',
      lone: 'low \\\udc00',
    };
    const result = await runCli(['--database-url', db.url, '--application', 'escapes'], {
      input: `${JSON.stringify(record)}\n`,
    });
    expect(result.code).toBe(0);
    const rows = await db.query(
      `SELECT message, record->>'path' AS path, record->>'pair' AS pair, record->>'real' AS real,
              record->>'lone' AS lone
         FROM log WHERE application_name = 'escapes' AND record IS NOT NULL`,
    );
    expect(rows).toEqual([
      { message: 'C:\\u0000x', path: 'C:\\u0000x', pair: '\\\\ud800\\udc00', real: 'a\uFFFDb', lone: 'low \\\uFFFD' },
    ]);
  });
});

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
