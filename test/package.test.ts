// The packed package, installed into a fresh application, resolves as `target: 'logweaver-pino'`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ROOT, run, runNode, startCli } from './support/spawn.js';

let db: TestDatabase;
let app: string;

const APP_SOURCE = `
import pino from 'pino';
const logger = pino({ transport: { target: 'logweaver-pino', options: { application: 'packed-app' } } });
for (let seq = 0; seq < 25; seq++) logger.info({ seq }, 'from the packed package');
`;

beforeAll(async () => {
  db = await createTestDatabase('package');
  app = mkdtempSync(join(tmpdir(), 'logweaver-app-'));
  const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', app], { cwd: ROOT, encoding: 'utf8' });
  const tarball = join(app, packed.trim().split('\n').pop() as string);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'packed-app', private: true, type: 'module' }));
  writeFileSync(join(app, 'app.mjs'), APP_SOURCE);
  const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, 'pino@10'], {
    cwd: app,
    timeoutMs: 120_000,
  });
  if (install.code !== 0) throw new Error(`npm install failed: ${install.stderr}`);
}, 180_000);

afterAll(async () => {
  rmSync(app, { recursive: true, force: true });
  await db.drop();
});

describe('the packed package', () => {
  it('is found by pino as a transport target by name and stores the rows', async () => {
    const result = await runNode(join(app, 'app.mjs'), [], { cwd: app, env: { DATABASE_URL: db.url } });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [stored] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM log WHERE application_name = 'packed-app' AND message = 'from the packed package'",
    );
    expect(stored).toEqual({ n: 25 });
  });

  it('ships the log viewer page with its binary', async () => {
    const viewer = startCli(
      ['view', '--port', '0'],
      { DATABASE_URL: db.url },
      join(app, 'node_modules/.bin/logweaver-pino'),
    );
    try {
      await viewer.waitForOutput((stdout) => / at http:\/\/\S+\/ /.test(stdout));
      const url = (/ at (http:\/\/\S+\/) /.exec(viewer.stdout()) as RegExpExecArray)[1] as string;
      for (const asset of ['', 'viewer.js', 'viewer.css']) expect((await fetch(new URL(asset, url))).status).toBe(200);
      expect(await viewer.interrupt()).toBe(0);
    } finally {
      viewer.kill();
    }
  });

  it('ships its binary', async () => {
    const result = await run(join(app, 'node_modules/.bin/logweaver-pino'), ['--help'], { cwd: app });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: logweaver-pino [options] [command]');
  });
});
