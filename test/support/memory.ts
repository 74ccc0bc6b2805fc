/** What a process holds in memory, as the kernel counts it: for tests of bounded memory in child processes. */
import { readFileSync } from 'node:fs';

/** The peak resident set size of a running process so far (VmHWM in /proc/<pid>/status), in bytes. */
export function peakResidentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kilobytes = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kilobytes === undefined) throw new Error(`no VmHWM in /proc/${pid}/status (has it exited?)`);
  return Number(kilobytes) * 1024;
}
