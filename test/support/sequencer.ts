/**
 * The order in which the two workers take test files: the slowest first, so that no long file starts
 * last and runs alone at the end. Vitest's own order needs durations cached by an earlier run (a
 * clean clone, as in CI, has none, and a run of one test caches a misleading one), so the durations
 * come from here: seconds per file in a whole `npm test` on 2 shared cores. A file not listed runs
 * first (it may be slow), then the listed ones, slowest first.
 */
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const SECONDS: Record<string, number> = {
  'test/secrets.test.ts': 92,
  'test/pooler.test.ts': 82,
  'test/faults.test.ts': 69,
  'test/network-and-disk.test.ts': 66,
  'test/spool-outage.test.ts': 47,
  'test/exit-deadline.test.ts': 45,
  'test/spool-leftovers.test.ts': 47,
  'test/spool.test.ts': 39,
  'test/retention.test.ts': 35,
  'test/tail.test.ts': 34,
  'test/tls.test.ts': 31,
  'test/transport.test.ts': 30,
  'test/pipe.test.ts': 22,
  'test/package.test.ts': 22,
  'test/safety.test.ts': 20,
  'test/lock-queue.test.ts': 17,
  'test/doctor.test.ts': 17,
  'test/view-hostile.test.ts': 14,
  'test/targets.test.ts': 12,
  'test/openclone-times.test.ts': 11,
  'test/schema-versions.test.ts': 11,
  'test/openclone-meta.test.ts': 10,
  'test/shutdown.test.ts': 9,
  'test/view.test.ts': 7,
  'test/privileges.test.ts': 6,
  'test/openclone-runs.test.ts': 5,
  'test/runs.test.ts': 5,
  'test/read-openclone.test.ts': 4,
  'test/schema.test.ts': 4,
  'test/openclone-identity.test.ts': 3,
  'test/private-server.test.ts': 3,
  'test/report.test.ts': 3,
  'test/odd-records.test.ts': 2,
  'test/openclone.test.ts': 2,
  'test/read-options.test.ts': 0,
  'test/options.test.ts': 0,
  'test/find-chromium.test.ts': 0,
  'test/lines.test.ts': 0,
};
const UNLISTED = 1_000;

export default class SlowestFirst extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = (file: TestSpecification) =>
      SECONDS[relative(this.ctx.config.root, file.moduleId).replaceAll('\\', '/')] ?? UNLISTED;
    return Promise.resolve([...files].sort((a, b) => seconds(b) - seconds(a)));
  }
}
