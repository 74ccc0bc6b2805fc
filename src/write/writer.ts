/**
 * Write: one connection, one COPY per batch. Connects lazily, prepares the table and the run on each
 * new connection, and on any failure drops the connection so the next batch starts afresh. It never
 * throws into the stream: the caller keeps the batch and retries.
 */
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { LogRow } from '../ingest/enrich.js';
import type { ConnectionSettings } from '../connection.js';
import { connectClient } from '../tls.js';
import { encodeBatch } from './copy.js';
import { allocateRun, endRun, type RunIdentity } from './run.js';
import { prepareTable, type TableLayout } from './schema.js';
import { qualifiedLedgerTable, qualifiedTable, type TableName } from './ddl.js';
import { BatchAlreadyCommitted, encodeOrReject, isLedgerConflict, isRowError } from './failures.js';
import { CLIENT_DEADLINE_MS, localSettings, withSettings, writerConfig } from './session.js';

interface WriterSettings {
  connection: ConnectionSettings;
  table: TableName;
  createTable: boolean;
  /** A promise while the machine name is still being looked up (identity.runIdentity). */
  run: RunIdentity | Promise<RunIdentity>;
  /** The TimeZone of each transaction, for anything the server formats or computes in it. */
  timezone: string;
  /** Called when the idle connection fails, so the failure is reported and not thrown. */
  onConnectionError: (error: Error) => void;
}

/** A connection that does not close within this after `end()` (a black hole never answers) is destroyed. */
const END_TIMEOUT_MS = 1_000;

/** A batch encoded for one connection (its run number and column types). */
export interface Payload {
  bytes: Buffer;
  rows: number;
  /** The connection it was encoded for: a payload from an earlier one is encoded again. */
  generation: number;
}

/**
 * Payload buffers are reused: on this machine writing a batch into freshly allocated memory cost
 * 3-5 times as much as into a reused buffer (page faults; bench/README.md). Two are in use at a time
 * (one sent, one encoded ahead); larger ones than this are not kept.
 */
const MAX_SPARE_PAYLOADS = 2;
const MAX_SPARE_BYTES = 4 * 1024 * 1024;

export class Writer {
  private client: pg.Client | undefined;
  private layout: TableLayout | undefined;
  private copySql = '';
  private run: number | undefined;
  private identity: RunIdentity | undefined;
  private closed = false;
  private generation = 0;
  private readonly spare: Buffer[] = [];
  /** The SET LOCAL statements every transaction starts with (session.ts). */
  private readonly local: string;

  constructor(private readonly settings: WriterSettings) {
    this.local = localSettings(settings.timezone);
  }

  /** The run number, once the first connection has allocated it. */
  get runNumber(): number | undefined {
    return this.run;
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Connects, prepares the table and allocates the run number, unless already done. */
  async connect(): Promise<void> {
    await this.connection();
  }

  /**
   * Encodes rows for the current connection, so that a batch can be encoded while the previous one is
   * written; undefined before the first connection (the run number is not known yet).
   */
  encode(rows: readonly LogRow[]): Payload | undefined {
    if (!this.client || !this.layout || !this.identity) return undefined;
    const layout = this.layout;
    const run = {
      runNumber: this.run as number,
      application: this.identity.application,
      machineName: this.identity.machineName,
      ipAddress: this.identity.ipAddress,
    };
    const bytes = encodeOrReject(() => encodeBatch(rows, run, layout.encodings, this.spare.pop()));
    return { bytes, rows: rows.length, generation: this.generation };
  }

  /** Takes back a payload that will not be sent, so that its memory is reused. */
  release(payload: Payload): void {
    if (this.spare.length < MAX_SPARE_PAYLOADS && payload.bytes.buffer.byteLength <= MAX_SPARE_BYTES) {
      this.spare.push(Buffer.from(payload.bytes.buffer));
    }
  }

  /**
   * Commits the rows in one COPY, or throws leaving nothing half-written. With a batch id (and a
   * ledger table), the id is recorded in the same transaction, so wasCommitted() can tell later.
   * `onSent` is called once the rows are in the socket, while the server works on them. `encoded`,
   * from encode(), is used when it was made for these rows on this connection.
   */
  async write(rows: readonly LogRow[], batchId?: string, onSent?: () => void, encoded?: Payload): Promise<void> {
    // After close(), the rows are in the spool: a write queued behind the run's end on the same
    // connection would be committed by that transaction, and written again by the next start.
    this.throwIfClosed();
    const client = await this.connection();
    const layout = this.layout as TableLayout;
    const usable = encoded?.generation === this.generation && encoded.rows === rows.length;
    if (encoded && !usable) this.release(encoded);
    const payload = usable ? encoded : (this.encode(rows) as Payload);
    const ledger = batchId !== undefined && layout.hasLedger;
    try {
      // BEGIN, the settings, the ledger row (the id is a UUID of our own) and the COPY travel as one
      // query string, so a batch costs one round trip more than a bare COPY: the COMMIT. Without a
      // ledger, the settings and the COPY are one implicit transaction.
      const sql = ledger
        ? `BEGIN; ${this.local}; ${ledgerInsert(this.settings.table, batchId, rows.length)}; ${this.copySql}`
        : `${this.local}; ${this.copySql}`;
      await copy(client, sql, payload.bytes, onSent);
      if (ledger) await client.query('COMMIT');
    } catch (error) {
      // After a rejected row the connection is still good; after anything else, start afresh. The
      // payload's memory is not reused: the socket may still be sending it.
      if (!isRowError(error)) this.disconnect();
      else if (ledger) await client.query('ROLLBACK').catch(() => this.disconnect());
      if (ledger && isLedgerConflict(error, this.settings.table)) throw new BatchAlreadyCommitted(batchId, error);
      throw error;
    }
    this.release(payload);
  }

  /**
   * Whether a batch written with this id was committed (false when there is no ledger). A look-up by
   * primary key waits for no lock; the client's query_timeout bounds it.
   */
  async wasCommitted(batchId: string): Promise<boolean> {
    const client = await this.connection();
    if (!this.layout?.hasLedger) return false;
    const result = await client.query(
      `SELECT 1 FROM ${qualifiedLedgerTable(this.settings.table)} WHERE batch_id = $1`,
      [batchId],
    );
    return result.rows.length > 0;
  }

  /** Records the end of the run and closes the connection; `clean` is false when rows were left unwritten. */
  async close(end: { clean: boolean; counters: object }): Promise<void> {
    this.closed = true;
    const client = this.client;
    if (!client) return;
    if (this.layout?.hasRunsTable && this.run !== undefined && this.identity) {
      const { table } = this.settings;
      const [identity, runNumber] = [this.identity, this.run];
      await withSettings(client, this.local, () => endRun(client, table, identity, runNumber, end)).catch(
        () => undefined,
      );
    }
    this.client = undefined;
    await client.end().catch(() => undefined);
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const { client } = await connectClient(
      writerConfig(this.settings.connection),
      this.settings.connection.tls,
      (client) =>
        // An 'error' event with no listener would kill the worker: report it, drop the connection.
        client.on('error', (error) => {
          if (this.client === client) this.disconnect();
          this.settings.onConnectionError(error);
        }),
    );
    try {
      this.throwIfClosed();
      this.layout = await prepareTable(client, this.settings.table, this.settings.createTable, this.local);
      this.copySql = `COPY ${qualifiedTable(this.settings.table)} (${this.layout.columns
        .map((column) => pg.escapeIdentifier(column))
        .join(', ')}) FROM STDIN (FORMAT binary)`;
      this.identity ??= await this.settings.run;
      this.run ??= await allocateRun(client, this.settings.table, this.layout, this.identity, this.local);
      if (this.layout.hasLedger) await pruneLedger(client, this.settings.table, this.local);
      this.throwIfClosed();
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    this.generation++;
    return client;
  }

  /** Nothing is written after close(): what was not written is already spooled. */
  private throwIfClosed(): void {
    if (this.closed) throw new Error('the writer was closed');
  }

  private disconnect(): void {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    const destroy = setTimeout(() => socketOf(client).destroy(), END_TIMEOUT_MS);
    destroy.unref();
    client
      .end()
      .catch(() => undefined)
      .finally(() => clearTimeout(destroy));
  }
}

function ledgerInsert(table: TableName, batchId: string, rows: number): string {
  if (!/^[0-9a-f-]{36}$/.test(batchId)) throw new Error(`not a batch id: ${batchId}`);
  return `INSERT INTO ${qualifiedLedgerTable(table)} (batch_id, rows) VALUES ('${batchId}', ${rows})`;
}

/** Ledger entries are only needed until a retry has decided; a day is far more than enough. */
async function pruneLedger(client: pg.Client, table: TableName, settings: string): Promise<void> {
  await client
    .query(`${settings}; DELETE FROM ${qualifiedLedgerTable(table)} WHERE committed_at < now() - interval '1 day'`)
    .catch(() => undefined); // a role without DELETE keeps its entries
}

/** pg keeps its socket private; destroying it is the only way out of a connection that never answers. */
function socketOf(client: pg.Client): { destroy(): void } {
  return (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream;
}

/**
 * One COPY, with a watchdog: the server's statement_timeout cannot fire when the network drops
 * packets, so the client destroys the connection itself if no answer comes in time.
 */
function copy(client: pg.Client, sql: string, payload: Buffer, onSent?: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const watchdog = setTimeout(() => {
      reject(new Error(`no answer from the database within ${CLIENT_DEADLINE_MS / 1000} s`));
      socketOf(client).destroy();
    }, CLIENT_DEADLINE_MS);
    const stream = client.query(copyFrom(sql));
    stream.on('error', (error) => {
      clearTimeout(watchdog);
      reject(error);
    });
    stream.on('finish', () => {
      clearTimeout(watchdog);
      resolve();
    });
    // The payload waits in the stream until the server has answered the COPY; onSent runs once it
    // is in the socket. Run earlier, the work it starts delayed the sending (bench/README.md).
    stream.write(payload, () => onSent?.());
    stream.end();
  });
}
