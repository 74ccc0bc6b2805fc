/** `logweaver-pino view` started as a real process on a free port, for API and browser tests. */
import { startCli, type RunningCli } from './spawn.js';

export interface RunningViewer {
  /** http://127.0.0.1:PORT/ */
  url: string;
  cli: RunningCli;
}

const PRINTED_URL = /at (http:\/\/\S+\/) /;
/** Until it prints its address: on a machine whose cores are busy, starting Node and connecting can take many seconds. */
const START_TIMEOUT_MS = 45_000;

export async function startViewerProcess(databaseUrl: string, ...args: string[]): Promise<RunningViewer> {
  const cli = startCli(['view', '--port', '0', '--database-url', databaseUrl, '--timezone', 'UTC', ...args]);
  try {
    await cli.waitForOutput((stdout) => PRINTED_URL.test(stdout), START_TIMEOUT_MS);
  } catch (error) {
    cli.kill();
    throw error;
  }
  return { url: (PRINTED_URL.exec(cli.stdout()) as RegExpExecArray)[1] as string, cli };
}
