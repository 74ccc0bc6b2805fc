/** A fresh database per test file on the tests' server, and small helpers to query it. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  url: string;
  name: string;
  query<T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** The URL of this database for another role. */
  urlFor(user: string, password: string): string;
  drop(): Promise<void>;
}

export function adminUrl(): string {
  return inject('adminUrl');
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function queryOnce<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params?: unknown[],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined); // a server going away mid-query rejects the query as well
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const admin = adminUrl();
  const name = `lw_${label.replace(/\W/g, '_')}_${randomBytes(4).toString('hex')}`;
  await queryOnce(admin, `CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  const url = withDatabase(admin, name);
  return {
    url,
    name,
    query: (sql, params) => queryOnce(url, sql, params),
    urlFor: (user, password) => {
      const parsed = new URL(url);
      parsed.username = user;
      parsed.password = password;
      return parsed.toString();
    },
    drop: async () => {
      await queryOnce(admin, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    },
  };
}

/**
 * Transactions rolled back so far in the database of `url`, from the server's statistics: a failed
 * write is one, so a test can tell that a retry really happened.
 */
export async function rolledBackTransactions(url: string): Promise<number> {
  const [row] = await queryOnce<{ n: number }>(
    url,
    'SELECT xact_rollback::int AS n FROM pg_stat_database WHERE datname = current_database()',
  );
  return row?.n ?? 0;
}
