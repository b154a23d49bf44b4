/** Seconds since the Unix epoch, UTC. */
export type UnixSeconds = number;
/** A duration in seconds. */
export type Seconds = number;

/** The only way the inner ring learns the time: it is handed a Clock. */
export interface Clock {
  now(): UnixSeconds;
}

/** A time as ISO 8601 UTC to the second (`2026-11-23T12:00:00Z`), for messages and listings. */
export function isoSeconds(t: UnixSeconds): string {
  return new Date(t * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * An ISO 8601 date or time (`2026-11-22`, `2026-11-22T12:00`, `2026-11-22T12:00:00.5+01:00`)
 * as seconds; one without a zone designator is UTC, never the host's local time (DK-16:
 * one time zone). Undefined when the text is no such time.
 */
export function parseUtcTime(text: string): UnixSeconds | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(text.trim());
  const ms = m === null ? NaN : Date.parse(`${m[1]}T${m[2] ?? '00:00'}${m[3] ?? 'Z'}`);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}
