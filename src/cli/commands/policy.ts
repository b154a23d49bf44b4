import type { Command } from 'commander';
import { formatPolicyProblem } from '../../common/errors.js';
import { formatPolicy } from '../../kasp/format.js';
import type { Policy } from '../../kasp/policy.js';
import { loadPolicyFile } from '../../service/load-policy.js';
import { out, outJson } from '../output.js';

/** A policy as `--json` prints it: its resolved values, without the source positions. */
function policyJson(policy: Policy): Record<string, unknown> {
  return Object.fromEntries(Object.entries(policy).filter(([key]) => key !== 'source'));
}

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('read and check key and signing policies (KASP files)');

  policy
    .command('check')
    .description('check a policy file and print each policy with its resolved values; exits 3 listing every problem')
    .argument('<file>', 'the policy file (YAML), e.g. kasp/default.yaml')
    .option('--json', 'print the result as JSON')
    .action((file: string, opts: { json?: boolean }) => {
      // a refused file throws PolicyError; main.ts prints every problem and exits 3
      const { policies, warnings } = loadPolicyFile(file);
      if (opts.json) {
        outJson({ file, ok: true, policies: policies.map(policyJson), warnings });
        return;
      }
      for (const p of policies) for (const line of formatPolicy(p)) out(line);
      for (const w of warnings) out(`warning: ${formatPolicyProblem(w)}`);
      out(`${file}: ${policies.length} policy(ies), ${warnings.length} warning(s): OK`);
    });
}
