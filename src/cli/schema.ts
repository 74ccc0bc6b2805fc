/** `logweaver-pino schema print|apply`: the DDL of the log and runs tables, printed or applied. */
import pg from 'pg';
import { errorText } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { prepareTable } from '../write/schema.js';
import { schemaSql, tableNameOf } from '../write/ddl.js';
import { connectClient } from '../tls.js';
import { localSettings } from '../write/session.js';

export function printSchema(options: ResolvedOptions): string {
  return schemaSql(tableNameOf(options));
}

export async function applySchema(options: ResolvedOptions): Promise<string> {
  const config = { ...options.connection.config, password: options.connection.config.password };
  let client: pg.Client | undefined;
  try {
    ({ client } = await connectClient(config, options.connection.tls));
    const layout = await prepareTable(client, tableNameOf(options), true, localSettings(options.timezone));
    return `table ${options.schema}.${options.table} is ready (columns: ${layout.columns.join(', ')})`;
  } catch (error) {
    throw new Error(`${errorText(error)}, connecting as ${options.connection.description}`, { cause: error });
  } finally {
    await client?.end().catch(() => undefined);
  }
}
