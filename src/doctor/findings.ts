/** What `doctor` found: one finding per check, with the fix for anything that is not right. */

/** `fail`: writing would fail (doctor exits 1); `warn`: it works, with something lost or slow. */
export type Verdict = 'ok' | 'warn' | 'fail';

export interface Finding {
  check: 'connection' | 'table' | 'privileges' | 'indexes' | 'spool';
  verdict: Verdict;
  text: string;
  /** What to run or set, one statement or flag each. */
  fixes: string[];
}

export function finding(check: Finding['check'], verdict: Verdict, text: string, fixes: string[] = []): Finding {
  return { check, verdict, text, fixes };
}

/** The worst verdict of a list of findings of one check, and their texts and fixes together. */
export function combine(check: Finding['check'], found: Finding[], whenNone: string): Finding {
  if (found.length === 0) return finding(check, 'ok', whenNone);
  const verdict = found.some((one) => one.verdict === 'fail') ? 'fail' : 'warn';
  return finding(
    check,
    verdict,
    found.map((one) => one.text).join('; '),
    found.flatMap((one) => one.fixes),
  );
}
