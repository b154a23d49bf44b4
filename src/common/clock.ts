/** Seconds since the Unix epoch, UTC. */
export type UnixSeconds = number;
/** A duration in seconds. */
export type Seconds = number;

/** The only way the inner ring learns the time: it is handed a Clock. */
export interface Clock {
  now(): UnixSeconds;
}
