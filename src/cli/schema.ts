/** `logweaver-pino schema print|apply`: the DDL of the log and runs tables, printed or applied. */
import pg from 'pg';
import { errorText } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { prepareTable, schemaSql, tableNameOf } from '../write/schema.js';

export function printSchema(options: ResolvedOptions): string {
  return schemaSql(tableNameOf(options));
}

export async function applySchema(options: ResolvedOptions): Promise<string> {
  const client = new pg.Client({ ...options.connection.config, password: options.connection.config.password });
  try {
    await client.connect();
    const layout = await prepareTable(client, tableNameOf(options), true);
    return `table ${options.schema}.${options.table} is ready (columns: ${layout.columns.join(', ')})`;
  } catch (error) {
    throw new Error(`${errorText(error)}, connecting as ${options.connection.description}`, { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}
