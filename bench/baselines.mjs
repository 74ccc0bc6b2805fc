// The baselines the end-to-end figures are compared with, written from this process.
//   copyCeiling: the same rows, encoded in advance as the package encodes them, written by a bare
//   COPY loop on one connection.
//   logweaverDesign: LogWeaver's writer: one INSERT per row, autocommit, from a background loop.
import { hostname } from 'node:os';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createRowBuilder } from '../dist/ingest/enrich.js';
import { createLevelNamer } from '../dist/levels.js';
import { encodeBatch } from '../dist/write/copy.js';
import { recordFields, recordMessage } from './records.mjs';

export function pinoLines(count) {
  const time = Date.now();
  return Array.from({ length: count }, (_, seq) =>
    JSON.stringify({
      level: 30,
      time: time + seq,
      pid: 1,
      hostname: 'bench',
      ...recordFields(seq),
      msg: recordMessage(seq),
    }),
  );
}

function rowsOf(lines) {
  const build = createRowBuilder({ levelName: createLevelNamer(), messageKey: 'msg', errorKey: 'err', staticTags: [] });
  const arrived = Date.now();
  return lines.map((line) => build({ line, arrived }));
}

const RUN = { runNumber: 1, application: 'bench-baseline', machineName: hostname(), ipAddress: '127.0.0.1' };
const COLUMNS =
  'run_number, application_name, open_clone_log, "timestamp", message, tags, level, machine_name, ip_address, record';

export async function copyCeiling(url, count, batchSize) {
  const rows = rowsOf(pinoLines(count));
  const payloads = [];
  for (let start = 0; start < rows.length; start += batchSize) {
    payloads.push(encodeBatch(rows.slice(start, start + batchSize), RUN, { runNumber: 'int4', record: 'json' }));
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const started = performance.now();
  for (const payload of payloads) {
    await new Promise((resolve, reject) => {
      const stream = client.query(copyFrom(`COPY log (${COLUMNS}) FROM STDIN (FORMAT binary)`));
      stream.on('error', reject);
      stream.on('finish', resolve);
      stream.end(payload);
    });
  }
  const seconds = (performance.now() - started) / 1000;
  await client.end();
  return { rowsPerSecond: count / seconds, stored: count };
}

export async function logweaverDesign(url, count) {
  const lines = pinoLines(count);
  const rows = rowsOf(lines);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const started = performance.now();
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index];
    await client.query(
      `INSERT INTO log (${COLUMNS}) VALUES ($1, $2, $3, to_timestamp($4 / 1000.0), $5, $6, $7, $8, $9, $10)`,
      [
        1,
        RUN.application,
        row.ownLog,
        row.time,
        row.message,
        row.tags,
        row.level,
        RUN.machineName,
        RUN.ipAddress,
        lines[index],
      ],
    );
  }
  const seconds = (performance.now() - started) / 1000;
  await client.end();
  return { rowsPerSecond: count / seconds, stored: count };
}
