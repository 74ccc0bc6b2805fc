/**
 * What `doctor` reads from the database, in a few catalog queries that change nothing and need no
 * privilege beyond connecting: the server, the session's TLS, the tables, the role's privileges on
 * them, the log table's columns and its indexes.
 */
import type pg from 'pg';
import { qualifiedLedgerTable, qualifiedRunsTable, qualifiedTable, type TableName } from '../write/ddl.js';
import { columnTypes } from '../write/schema.js';

export type Privilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

/** One of the package's tables: whether it exists, and what the current role may do on it. */
export interface TableFacts {
  qualified: string;
  exists: boolean;
  privileges: ReadonlySet<Privilege>;
}

export interface IndexFacts {
  method: string;
  columns: string[];
}

export interface DatabaseFacts {
  serverVersion: string;
  role: string;
  /** The port the server itself listens on; null over a Unix socket. */
  serverPort: number | null;
  /** The TLS version of this session, or null when it is not encrypted. */
  tls: string | null;
  schemaExists: boolean;
  mayUseSchema: boolean;
  mayCreateInSchema: boolean;
  log: TableFacts;
  runs: TableFacts;
  ledger: TableFacts;
  /** The log table's columns and their types (empty when it does not exist). */
  columns: Map<string, string>;
  indexes: IndexFacts[];
}

export async function readFacts(client: pg.Client, name: TableName): Promise<DatabaseFacts> {
  const server = await one<{ version: string; role: string; port: number | null; tls: string | null }>(
    client,
    `SELECT current_setting('server_version') AS version, current_user AS role, inet_server_port() AS port,
            (SELECT CASE WHEN ssl THEN version END FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS tls`,
  );
  const schema = await one<{ found: boolean; usage: boolean; create: boolean }>(
    client,
    `SELECT to_regnamespace($1) IS NOT NULL AS found,
            coalesce(has_schema_privilege(to_regnamespace($1), 'USAGE'), false) AS usage,
            coalesce(has_schema_privilege(to_regnamespace($1), 'CREATE'), false) AS create`,
    [name.schema],
  );
  const [log, runs, ledger] = await tableFacts(client, [
    qualifiedTable(name),
    qualifiedRunsTable(name),
    qualifiedLedgerTable(name),
  ]);
  return {
    serverVersion: server.version,
    role: server.role,
    serverPort: server.port,
    tls: server.tls,
    schemaExists: schema.found,
    mayUseSchema: schema.usage,
    mayCreateInSchema: schema.create,
    log: log as TableFacts,
    runs: runs as TableFacts,
    ledger: ledger as TableFacts,
    columns: await columnTypes(client, qualifiedTable(name)),
    indexes: await indexes(client, qualifiedTable(name)),
  };
}

async function tableFacts(client: pg.Client, tables: string[]): Promise<TableFacts[]> {
  const result = await client.query<{ name: string; found: boolean; privileges: Privilege[] }>(
    `SELECT name, to_regclass(name) IS NOT NULL AS found,
            CASE WHEN to_regclass(name) IS NULL THEN '{}'::text[]
                 ELSE ARRAY(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p
                             WHERE has_table_privilege(to_regclass(name), p)) END AS privileges
       FROM unnest($1::text[]) WITH ORDINALITY AS t(name, n) ORDER BY n`,
    [tables],
  );
  return result.rows.map((row) => ({ qualified: row.name, exists: row.found, privileges: new Set(row.privileges) }));
}

/** Each index of the table: its access method and its key columns in order. */
async function indexes(client: pg.Client, table: string): Promise<IndexFacts[]> {
  const result = await client.query<IndexFacts>(
    `SELECT am.amname AS method,
            ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
      WHERE i.indrelid = to_regclass($1)`,
    [table],
  );
  return result.rows;
}

async function one<T extends pg.QueryResultRow>(client: pg.Client, sql: string, params: unknown[] = []): Promise<T> {
  return (await client.query<T>(sql, params)).rows[0] as T;
}
