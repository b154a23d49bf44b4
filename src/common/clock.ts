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
