// Sanitising for PostgreSQL (FAULTS #19, #20) changes only what the server cannot store: a real NUL
// character and a lone surrogate. Text that merely looks like their escapes is stored as written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { runCli } from './support/spawn.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('sanitise');
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
