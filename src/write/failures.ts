/**
 * What a failed write means: rows the server rejects (isolate them, never retry them as they are), a
 * set-up someone must change (retry slowly), or a batch an earlier attempt already committed.
 */
import { ledgerTableName, type TableName } from './ddl.js';
import { SchemaVersionError } from './versions.js';

/**
 * Errors caused by the rows rather than the database: data exceptions (class 22), constraint
 * violations (class 23, e.g. a CHECK the table's owner added), limits such as the nesting depth of a
 * json value (class 54), and rows the encoder could not encode. Retrying the same batch cannot help;
 * isolating the bad row can.
 */
export function isRowError(error: unknown): boolean {
  if (error instanceof RowEncodingError) return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && ['22', '23', '54'].includes(code.slice(0, 2));
}

/**
 * Errors that retrying soon will not cure, because someone must change the set-up: authorization
 * (class 28: wrong password, unknown role), an unknown database (3D) or schema (3F), and syntax or
 * access rules (class 42: no privilege, missing table or column, wrong column type), and tables at a
 * schema version newer than this code knows.
 */
export function isConfigurationError(error: unknown): boolean {
  if (error instanceof SchemaVersionError) return true; // tables newer than this code: upgrade the package
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && ['28', '3D', '3F', '42'].includes(code.slice(0, 2));
}

/**
 * The batch id is in the ledger already: an earlier attempt under the same id committed, after the
 * look-up said it had not (its transaction was still finishing). Its rows are stored; not again.
 */
export class BatchAlreadyCommitted extends Error {
  override name = 'BatchAlreadyCommitted';
  constructor(batchId: string, cause: unknown) {
    super(`batch ${batchId} was committed by an earlier attempt`, { cause });
  }
}

/** A unique violation on the ledger's key (not on the log table, where a user may add constraints). */
export function isLedgerConflict(error: unknown, table: TableName): boolean {
  const { code, table: violated } = error as { code?: unknown; table?: unknown };
  return code === '23505' && violated === ledgerTableName(table.table);
}

class RowEncodingError extends Error {
  override name = 'RowEncodingError';
}

export function encodeOrReject(encode: () => Buffer): Buffer {
  try {
    return encode();
  } catch (error) {
    throw new RowEncodingError(`a row could not be encoded: ${(error as Error).message}`, { cause: error });
  }
}
