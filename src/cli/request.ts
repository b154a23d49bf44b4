import type { Command } from 'commander';
import { isoSeconds } from '../common/clock.js';
import { SignerError, UsageError } from '../common/errors.js';
import { loadConfig } from '../config/config.js';
import { currentOperator } from '../config/identity.js';
import { Authority, type Answer } from '../service/authority.js';
import { askService, NoServiceError } from '../service/control.js';
import { Keeper } from '../service/keeper.js';
import { operation, type Params, type ServiceRequest } from '../service/operations.js';
import { lockHolder, tryLockState } from '../service/state-lock.js';
import { out, outJson } from './output.js';

/** The options every command that makes a request takes. */
export interface Common {
  config?: string;
  json?: boolean;
  ticket?: string;
  comment?: string;
}

/** The configuration file: `--config`, else HMS_CONFIG; a usage error without either. */
export function configPath(opts: { config?: string }): string {
  const path = opts.config ?? process.env.HMS_CONFIG;
  if (path === undefined || path === '') throw new UsageError('no configuration: give --config FILE or set HMS_CONFIG');
  return path;
}

export const common = (cmd: Command): Command =>
  cmd.option('--config <file>', 'the hms configuration (default: HMS_CONFIG)').option('--json', 'print the result as JSON');
export const changing = (cmd: Command): Command =>
  common(cmd).option('--ticket <id>', 'the ticket or change number this is done under (DP-2.4f)').option('--comment <text>', 'why, for the audit trail');

/** A request's answer, and whether the running service gave it. */
export interface Performed {
  readonly answer: Answer;
  readonly viaService: boolean;
}

/**
 * Makes a request (ARCHITECTURE.md, one writer): to the running service on its control
 * socket, which takes the caller from the kernel and applies it; without a running service,
 * here, as this process's user, under the state's exclusive lock for a change, so that two
 * writers never meet. The configuration is read without its secrets: an operator's CLI needs
 * the socket and a readable configuration, never the TSIG keys, the state or the token.
 */
export async function perform(opts: Common, op: string, params: Params): Promise<Performed> {
  const config = loadConfig(configPath(opts), { secrets: false });
  const sudo = process.getuid?.() === 0 ? process.env.SUDO_USER : undefined;
  const request: ServiceRequest = {
    op,
    params,
    ticket: opts.ticket ?? null,
    comment: opts.comment ?? null,
    ...(sudo === undefined || sudo === '' ? {} : { sudoUser: sudo }),
  };
  try {
    return { answer: (await askService(config.service.control, request)) as Answer, viaService: true };
  } catch (e) {
    if (!(e instanceof NoServiceError)) throw e;
  }
  const o = operation(op);
  if (o.serviceOnly === true)
    throw new SignerError('IO', `${op} acts on what the running service serves, and no service answers on ${config.service.control}: start hms run`);
  const who = currentOperator();
  const lock = o.writes ? tryLockState(config.state, `hms ${op} by ${who.user}`) : undefined;
  if (o.writes && lock === undefined) {
    throw new SignerError(
      'IO',
      `${config.state}: held by ${lockHolder(config.state)} while no service answers on ${config.service.control}; try again in a moment`,
    );
  }
  try {
    const keeper = Keeper.open(config);
    try {
      const authority = new Authority({ keeper, config }, { now: () => Math.floor(Date.now() / 1000) });
      return { answer: await authority.submit(request, who), viaService: false };
    } finally {
      await keeper.close();
    }
  } finally {
    lock?.release();
  }
}

/**
 * Prints what a change did beyond its own result: that it was applied without a running
 * service, or the version the service published for it and which secondaries serve it, and
 * what waits for people next and from when.
 */
export function reportServed({ answer, viaService }: Performed, lead = 'next'): void {
  if (!viaService) out(`applied by ${answer.by} without a running service (no answer on the control socket): it is served when hms run starts`);
  for (const p of answer.published ?? []) {
    if (p.serial === null) {
      out(`${p.zone}: not published: ${p.problem ?? 'unknown'}`);
      continue;
    }
    const seen = p.secondaries.map((s) => `${s.secondary} ${s.isCurrent ? 'serves it' : `serves ${s.serial ?? 'nothing we saw'}`}`).join(', ');
    out(
      p.servedAt !== null
        ? `${p.zone}: serial ${p.serial} published; ${p.secondaries.length === 0 ? 'no secondaries listed' : `served by every secondary at ${isoSeconds(p.servedAt)} (${seen})`}`
        : `${p.zone}: serial ${p.serial} published, but ${p.problem ?? 'not every secondary serves it'}${seen === '' ? '' : `: ${seen}`}`,
    );
  }
  for (const gates of Object.values(answer.waiting)) {
    for (const g of gates)
      out(`  ${lead}, from ${isoSeconds(g.from)}${viaService || g.from <= answer.at ? '' : ' (later if the service serves the change later)'}: ${g.what}`);
  }
}

/** `--json`: the result, with who applied it, what was published and what waits. */
export function outAnswer({ answer, viaService }: Performed): void {
  const zone = typeof answer.result.zone === 'string' ? answer.result.zone : undefined;
  const waiting = zone === undefined ? undefined : answer.waiting[zone];
  outJson({ ...answer.result, ...(waiting === undefined ? {} : { waiting }), by: answer.by, viaService, published: answer.published });
}
