/** Flags shared by several commands: where the table is, and the filters of the reading commands. */
import { Command } from 'commander';

/** Where the log table is and how to show times: the same flags (and variables) as the writer's. */
export function addTargetOptions(command: Command): Command {
  return command
    .option('--database-url <url>', 'PostgreSQL URL (else LOGWEAVER_DATABASE_URL, DATABASE_URL, PG*, OpenClone_*)')
    .option('--schema <name>', 'schema of the log table (LOGWEAVER_SCHEMA, default public)')
    .option('--table <name>', 'log table (LOGWEAVER_TABLE, default log)')
    .option(
      '--meta-schema <name>',
      "schema of <table>_runs and <table>_batches (LOGWEAVER_META_SCHEMA, default: the table's)",
    )
    .option('--timezone <zone>', 'IANA time zone for timestamps (LOGWEAVER_TIMEZONE, default: system)');
}

/** Collects a repeatable flag's values. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Which applications and machines: `tail` and `runs`. */
export function addSelectionOptions(command: Command): Command {
  return command
    .option('--application <name>', 'only this application (repeatable, or comma-separated)', collect)
    .option('--machine <name>', 'only this machine (repeatable, or comma-separated)', collect);
}

/** The filters of `tail` (the viewer has the same ones on its page). */
export function addFilterOptions(command: Command): Command {
  return addSelectionOptions(command)
    .option('--run <number>', 'only this run number, or "latest": the latest run of each application')
    .option('--level <level>', 'this level and above: DEBUG, INFO, WARNING, ERROR, CRITICAL')
    .option('--tag <tag>', 'only rows with this tag (repeatable: any of them)', collect)
    .option('--grep <text>', 'only rows whose message contains this text (ignoring case)')
    .option('--since <when>', 'from this time: 15m, 2h, 7d ago, or a date and time such as 2026-11-28T14:00')
    .option('--until <when>', 'up to this time, its whole millisecond included (same forms as --since)')
    .option('--third-party', 'only third-party rows (open_clone_log = false)')
    .option('--no-third-party', 'hide third-party rows');
}
