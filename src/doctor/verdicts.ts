/**
 * From what the database says (facts.ts) to findings: what the writer and the readers need, what is
 * missing, and the statement that fixes each thing.
 */
import pg from 'pg';
import type { ResolvedOptions } from '../options.js';
import { RECORD_COLUMN } from '../write/copy.js';
import { columnProblems } from '../write/schema.js';
import { READ_INDEXES, readIndexSql, type ReadIndex, type TableName } from '../write/ddl.js';
import type { DatabaseFacts, IndexFacts, Privilege, TableFacts } from './facts.js';
import { combine, finding, type Finding } from './findings.js';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1']);
const POSTGRES_PORT = 5432;

export function databaseFindings(facts: DatabaseFacts, options: ResolvedOptions): Finding[] {
  const name = { schema: options.schema, table: options.table };
  const table = tableFinding(facts, options);
  const findings = [connectionFinding(facts, options), table, privilegesFinding(facts, options)];
  if (facts.log.exists && table.verdict === 'ok') findings.push(indexesFinding(facts, name));
  return findings;
}

function connectionFinding(facts: DatabaseFacts, options: ResolvedOptions): Finding {
  const { host = 'localhost', port = POSTGRES_PORT } = options.connection.config;
  const local = host.startsWith('/') || LOCAL_HOSTS.has(host);
  const between =
    facts.serverPort !== null && facts.serverPort !== Number(port)
      ? `a pooler or proxy is in between (port ${port} leads to a server on port ${facts.serverPort})`
      : 'no pooler seen';
  const text = `PostgreSQL ${facts.serverVersion} at ${host}:${port} as ${facts.role}; ${facts.tls ?? 'not encrypted'}; ${between}`;
  if (facts.tls !== null || local) return finding('connection', 'ok', text);
  return finding('connection', 'warn', `${text}: logs (and the password) cross the network in clear`, [
    'add sslmode=verify-full (with sslrootcert) to the database URL, or set PGSSLMODE',
  ]);
}

function tableFinding(facts: DatabaseFacts, options: ResolvedOptions): Finding {
  const { qualified } = facts.log;
  if (!facts.schemaExists) {
    return finding('table', 'fail', `schema ${options.schema} does not exist`, [
      `CREATE SCHEMA ${pg.escapeIdentifier(options.schema)};`,
    ]);
  }
  if (!facts.log.exists) {
    if (options.createTable && facts.mayCreateInSchema) {
      return finding('table', 'ok', `${qualified} does not exist yet: the first start creates it`);
    }
    return finding('table', 'fail', `${qualified} does not exist, and this role may not create it`, [
      `logweaver-pino schema apply --schema ${options.schema} --table ${options.table}   (as a role with CREATE on the schema)`,
    ]);
  }
  const problems = columnProblems(facts.columns, qualified);
  if (problems.length > 0) {
    return finding('table', 'fail', `${qualified} is not a LogWeaver table: ${problems.join('; ')}`, [
      'point --table (LOGWEAVER_TABLE) at a LogWeaver table, or give the columns the types named',
    ]);
  }
  const shape = facts.columns.has(RECORD_COLUMN)
    ? "is the package's table"
    : "has OpenClone's shape (no record column): written as it is";
  return finding('table', 'ok', `${qualified} ${shape}`);
}

/** What the writer needs on each table, and what goes wrong without it. */
function privilegesFinding(facts: DatabaseFacts, options: ResolvedOptions): Finding {
  const role = facts.role;
  const lacks: Finding[] = [];
  if (facts.schemaExists && !facts.mayUseSchema) {
    lacks.push(
      finding('privileges', 'fail', `${role} may not use schema ${options.schema}`, [
        `GRANT USAGE ON SCHEMA ${pg.escapeIdentifier(options.schema)} TO ${pg.escapeIdentifier(role)};`,
      ]),
    );
  }
  lacks.push(...missing(facts.log, role, ['SELECT', 'INSERT'], 'fail', 'no row can be written'));
  if (options.metaTables) lacks.push(...metaTableFindings(facts, options, role));
  return combine('privileges', lacks, `${role} has what the writer and the readers need`);
}

/** The runs table and the ledger (unless metaTables is off): used where they exist, else created if allowed. */
function metaTableFindings(facts: DatabaseFacts, options: ResolvedOptions, role: string): Finding[] {
  const mayCreate = options.createTable && facts.mayCreateInSchema;
  const lacks: Finding[] = [];
  lacks.push(...ownTable(facts.runs, role, 'no run can start', ['UPDATE', 'the end of each run is not recorded']));
  lacks.push(
    ...ownTable(facts.ledger, role, 'no batch can be committed', ['DELETE', 'its entries older than a day stay']),
  );
  if (!facts.runs.exists && !mayCreate) {
    lacks.push(
      finding('privileges', 'warn', `no ${facts.runs.qualified}: run ends are not recorded`, [schemaApply(options)]),
    );
  }
  if (!facts.ledger.exists && !mayCreate) {
    const what = `no ${facts.ledger.qualified}: a batch retried after an ambiguous failure may be stored twice`;
    lacks.push(finding('privileges', 'warn', what, [schemaApply(options)]));
  }
  return lacks;
}

/** The runs table or the ledger, where it exists: SELECT and INSERT are needed to write at all; the third is not. */
function ownTable(
  table: TableFacts,
  role: string,
  withoutNeeded: string,
  [optional, withoutOptional]: [Privilege, string],
): Finding[] {
  return [
    ...missing(table, role, ['SELECT', 'INSERT'], 'fail', withoutNeeded),
    ...missing(table, role, [optional], 'warn', withoutOptional),
  ];
}

function missing(
  table: TableFacts,
  role: string,
  needed: Privilege[],
  verdict: 'warn' | 'fail',
  consequence: string,
): Finding[] {
  if (!table.exists) return [];
  const lacking = needed.filter((privilege) => !table.privileges.has(privilege));
  if (lacking.length === 0) return [];
  const list = lacking.join(', ');
  return [
    finding('privileges', verdict, `${role} may not ${list} on ${table.qualified}: ${consequence}`, [
      `GRANT ${list} ON ${table.qualified} TO ${pg.escapeIdentifier(role)};   (as the table's owner)`,
    ]),
  ];
}

function schemaApply(options: ResolvedOptions): string {
  return `logweaver-pino schema apply --schema ${options.schema} --table ${options.table}   (as a role with CREATE on the schema), then grant as the README says`;
}

/** log_id serves every read's pages; the package's own table also has its indexes by time and run. */
function indexesFinding(facts: DatabaseFacts, name: TableName): Finding {
  const byLogId: ReadIndex = { suffix: 'log_id_idx', method: 'btree', columns: ['log_id'] };
  const wanted = facts.columns.has(RECORD_COLUMN) ? [byLogId, ...READ_INDEXES] : [byLogId];
  const absent = wanted.filter((index) => !facts.indexes.some((found) => serves(found, index)));
  const lacks = absent.map((index) =>
    finding('indexes', 'warn', `no ${index.method} index on (${index.columns.join(', ')}): reads scan the table`, [
      readIndexSql(name, index, true),
    ]),
  );
  return combine('indexes', lacks, 'every index the readers use is there');
}

/** An index serves another when it has the same method and starts with the same columns. */
function serves(found: IndexFacts, wanted: ReadIndex): boolean {
  return found.method === wanted.method && wanted.columns.every((column, at) => found.columns[at] === column);
}
