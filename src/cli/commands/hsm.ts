import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { UsageError } from '../../common/errors.js';
import { Name } from '../../dns/name.js';
import { Algorithm, algorithmName } from '../../dnssec/algorithms.js';
import { verifySignature } from '../../dnssec/verify-signature.js';
import { HsmError } from '../../hsm/errors.js';
import { deleteKey, generateKey, hsmSigner } from '../../hsm/keys.js';
import { out, outJson } from '../output.js';
import { hsmOptions, openToken } from './sign.js';

const TESTS = [
  { algorithm: Algorithm.RSASHA256, bits: 1024 },
  { algorithm: Algorithm.RSASHA256, bits: 2048 },
  { algorithm: Algorithm.ECDSAP256SHA256 },
  { algorithm: Algorithm.ED25519 },
];

export function registerHsmCommands(program: Command): void {
  const hsm = program.command('hsm').description('the PKCS#11 HSM');
  hsmOptions(
    hsm
      .command('test')
      .description('check the token (login, generate, sign, verify, delete a test key) and measure signatures per second')
      .option('--seconds <n>', 'how long to sign with each algorithm', '1')
      .option('--sessions <n>', 'sessions signing at once', '2')
      .option('--json', 'print the result as JSON'),
  ).action(async (opts: { seconds: string; sessions: string; json?: boolean; module?: string; token?: string; pinFile?: string }) => {
    const seconds = Number(opts.seconds);
    const sessions = Number(opts.sessions);
    if (!(seconds > 0 && seconds <= 60)) throw new UsageError(`--seconds: '${opts.seconds}' is not from 0 to 60`);
    if (!Number.isInteger(sessions) || sessions < 1 || sessions > 64) throw new UsageError(`--sessions: '${opts.sessions}' is not from 1 to 64`);
    const token = openToken(opts, sessions);
    // signed as zones are: a thread per session, many requests waiting
    await token.startSigningThreads();
    const results: { algorithm: string; bits?: number; signaturesPerSecond: number; verified: boolean }[] = [];
    try {
      for (const spec of TESTS) {
        const key = generateKey(token, Name.parse('hsm-test.invalid.'), 'zsk', spec);
        try {
          const signer = hsmSigner(token, key);
          const data = randomBytes(200);
          const verified = verifySignature(key.dnskey, data, await signer.sign(data));
          if (!verified) throw new HsmError('C_Sign', token.where, undefined, `a ${algorithmName(spec.algorithm)} signature does not verify`);
          let count = 0;
          const until = performance.now() + seconds * 1000;
          const worker = async (): Promise<void> => {
            while (performance.now() < until) {
              await signer.sign(data);
              count++;
            }
          };
          const started = performance.now();
          await Promise.all(Array.from({ length: sessions * 64 }, worker));
          const rate = count / ((performance.now() - started) / 1000);
          results.push({
            algorithm: algorithmName(spec.algorithm),
            ...(spec.bits === undefined ? {} : { bits: spec.bits }),
            signaturesPerSecond: Math.round(rate),
            verified,
          });
        } finally {
          deleteKey(token, key);
        }
      }
    } finally {
      await token.close();
    }
    if (opts.json) {
      outJson({ token: token.where, sessions, results });
    } else {
      out(`${token.where}: login, key generation, signing, verification and deletion work (${sessions} session(s))`);
      for (const r of results) out(`  ${r.algorithm}${r.bits === undefined ? '' : `-${r.bits}`}: ${r.signaturesPerSecond} signatures/s`);
    }
  });
}
