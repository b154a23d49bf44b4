import type { UnixSeconds } from '../common/clock.js';
import { UsageError } from '../common/errors.js';
import { authorize, type Operator } from '../config/access.js';
import type { Gate } from '../enforcer/planner.js';
import type { Acting } from './keeper.js';
import { operation, type Applied, type OperationContext, type ServiceRequest } from './operations.js';
import type { Publication } from './publisher.js';

export type { Publication } from './publisher.js';

/** The answer to a request. */
export interface Answer {
  readonly op: string;
  /** Who the request was applied as: the kernel's word (or, in-process, this process's user). */
  readonly by: string;
  /** When it was applied. */
  readonly at: UnixSeconds;
  readonly result: Record<string, unknown>;
  /** What the running service published for it; null when applied without a running service. */
  readonly published: readonly Publication[] | null;
  /** What waits for people now, per zone the request changed (after publication). */
  readonly waiting: Readonly<Record<string, readonly Gate[]>>;
}

/** A request's change, made: who acted when, and what it applied. */
interface Change {
  readonly acting: Acting;
  readonly applied: Applied;
}

export interface AuthorityOptions {
  readonly now: () => UnixSeconds;
  /** The running service: signs, publishes and NOTIFYs the zone, and waits for its secondaries. */
  readonly publish?: (zone: string, reason: string) => Promise<Publication>;
}

/**
 * Applies operators' requests, one change at a time (ARCHITECTURE.md, one writer): the
 * operation's parameters are checked, then the caller's role for its zone (DP-2.8b), then it
 * is applied, audited as the caller; a change to what a zone serves is published at once when
 * the service runs. Reads are answered beside the changes, never queued behind them.
 */
export class Authority {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: OperationContext,
    private readonly options: AuthorityOptions,
  ) {}

  /**
   * `callerUid`: the kernel's uid of a caller on the socket (undefined: this process's own
   * user). Changes are made one at a time; what a change then waits for (its zones signed and
   * published, their secondaries seen serving them) is outside that queue: a request for a
   * small zone is never held behind a big zone's signing (issue 20).
   */
  async submit(request: ServiceRequest, who: Operator, callerUid?: number): Promise<Answer> {
    const o = operation(typeof request.op === 'string' ? request.op : '');
    let change: Promise<Change>;
    if (!o.writes) change = this.change(request, who, callerUid);
    else {
      change = this.queue.then(() => this.change(request, who, callerUid));
      this.queue = change.catch(() => undefined);
    }
    return this.answer(request, who, await change);
  }

  /** The request checked, authorised and applied (audited as the caller). */
  private async change(request: ServiceRequest, who: Operator, callerUid: number | undefined): Promise<Change> {
    const o = operation(request.op);
    if (typeof request.params !== 'object' || request.params === null || Array.isArray(request.params))
      throw new UsageError(`request ${request.op}: 'params' must be an object`);
    const params = o.parse(request.params);
    if (o.serviceOnly === true && this.ctx.service === undefined)
      throw new UsageError(`${request.op} acts on what the running service serves: start hms run first`);
    const zone = o.zoneOf(params, this.ctx.keeper);
    authorize(this.ctx.config.access, who, o.permission, zone);
    const note = (name: 'ticket' | 'comment'): string | null => {
      const v = request[name];
      if (v === undefined || v === null) return null;
      if (typeof v !== 'string' || v.length > 1000) throw new UsageError(`request ${request.op}: '${name}' must be text of at most 1000 characters`);
      return v;
    };
    const acting = { who, at: this.options.now(), ticket: note('ticket'), comment: note('comment') };
    const ctx: OperationContext =
      callerUid === undefined
        ? this.ctx
        : { keeper: this.ctx.keeper, config: this.ctx.config, ...(this.ctx.service === undefined ? {} : { service: this.ctx.service }), callerUid };
    return { acting, applied: await o.apply(ctx, params, acting) };
  }

  /** What the change waits for (its run, its zones published), then the answer. */
  private async answer(request: ServiceRequest, who: Operator, { acting, applied }: Change): Promise<Answer> {
    const result = applied.after === undefined ? applied.result : { ...applied.result, ...(await applied.after()) };
    const zones = applied.publish ?? [];
    const publish = this.options.publish;
    const published = publish === undefined ? null : await Promise.all(zones.map((z) => publish(z, `${request.op} by ${who.user}`)));
    const waiting: Record<string, readonly Gate[]> = {};
    for (const z of zones) {
      if (this.ctx.keeper.store.getZone(z) !== undefined) waiting[z] = this.ctx.keeper.plan(this.ctx.keeper.zone(z), this.options.now()).gates;
    }
    return { op: request.op, by: who.user, at: acting.at, result, published, waiting };
  }
}
