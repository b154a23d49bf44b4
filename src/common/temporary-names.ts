/**
 * hms's temporary files: `TARGET.hms-tmp-PID`, beside the file they become at commit (renamed
 * over it), PID the process that writes. The fixed pattern makes the leftovers of a run killed
 * half-way recognisable, so that the next start removes them and nothing else
 * (storage/temporary-files.ts).
 */
const TEMPORARY = /^(.+)\.hms-tmp-([1-9][0-9]*)$/;
/** The names hms gave them before (`TARGET.tmp-PID`). */
const EARLIER = /^(.+)\.tmp-([1-9][0-9]*)$/;

/** The temporary file that becomes `path` at commit, written by process `pid`. */
export function temporaryName(path: string, pid: number): string {
  return `${path}.hms-tmp-${pid}`;
}

/** A file name read as one of hms's temporary files: the target's name and the writer's pid. */
export interface TemporaryName {
  readonly target: string;
  readonly pid: number;
  /** Named as hms named them before `.hms-tmp-` (`.tmp-PID`). */
  readonly earlier: boolean;
}

export function parseTemporaryName(name: string): TemporaryName | undefined {
  const m = TEMPORARY.exec(name) ?? EARLIER.exec(name);
  return m === null ? undefined : { target: m[1]!, pid: Number(m[2]), earlier: !name.endsWith(`.hms-tmp-${m[2]}`) };
}
