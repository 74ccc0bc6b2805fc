/**
 * OpenClone's set-up: a database holding its EF Core `log` table, and an application role that may
 * only do what OpenClone grants it (INSERT and SELECT on `log`, by default), with no CREATE on
 * public unless the test grants it.
 */
import { adminUrl, createTestDatabase, queryOnce, type TestDatabase } from './database.js';
import { OPENCLONE_TABLE } from './seed.js';

export interface OpenCloneDatabase {
  db: TestDatabase;
  role: string;
  /** The database's URL as that role. */
  url: string;
  drop(): Promise<void>;
}

export async function openCloneDatabase(label: string, grants: string[] = ['INSERT, SELECT ON log']) {
  const db = await createTestDatabase(label);
  const role = `${label.replace(/\W/g, '_').slice(0, 20)}_${Math.random().toString(36).slice(2, 8)}`;
  await db.query(OPENCLONE_TABLE);
  await db.query(`CREATE ROLE ${role} LOGIN PASSWORD 'app-pw'`);
  await db.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
  await db.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
  for (const grant of grants) await db.query(`GRANT ${grant} TO ${role}`);
  const drop = async () => {
    await db.drop();
    await queryOnce(adminUrl(), `DROP ROLE IF EXISTS ${role}`);
  };
  return { db, role, url: db.urlFor(role, 'app-pw'), drop } satisfies OpenCloneDatabase;
}
