// `keyhaven hsm init | status`: prepare the configured PKCS#11 token(s) (transport key, root key,
// mechanism check) in process from the server's configuration, through openPkcs11KeyStore, the same
// function the composition root opens the key store with (so both set things up in the same order),
// and show each HSM backend's state as the server sees it.
import type { Command } from 'commander';
import { KEY_SPECS } from '../domain/key-spec.js';
import { createClient, emit } from './cli-context.js';
import { usageError } from './cli-error.js';
import { renderTable } from './output.js';

interface BackendView {
  name: string;
  kind: string;
  healthy: boolean;
  detail?: string;
}

export function registerHsmCommands(program: Command): void {
  const hsm = program
    .command('hsm')
    .description('PKCS#11 HSM key store: initialise tokens, show their state');

  hsm
    .command('init')
    .description(
      'create the root key in the configured token (if this data directory has none), with several backends set up the transport key (needs each soPin) and copy the root key to every token, and list the mechanisms the key specs need but the tokens lack',
    )
    .action(async (_options: unknown, command: Command) => {
      const { loadConfig } = await import('../config.js');
      const { openPkcs11KeyStore } = await import('../adapters/keystore/pkcs11/open-pkcs11-key-store.js');
      const { HSM_KEY_SPECS, mechanismsFor } =
        await import('../adapters/keystore/pkcs11/pkcs11-key-backend.js');
      const { HSM_OFFERED, HSM_NOT_OFFERED } =
        await import('../adapters/keystore/pkcs11/hsm-capabilities.js');
      const { mkdirSync } = await import('node:fs');
      const config = loadConfig();
      const pkcs11 = config.keyStore.pkcs11;
      if (config.keyStore.type !== 'pkcs11' || !pkcs11) {
        throw usageError(
          'the configured key store is not pkcs11 (set KEYHAVEN_KEYSTORE=pkcs11 and the PKCS#11 settings)',
        );
      }
      mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
      // No health probe or catch-up timer: this process only sets up and reports.
      const store = await openPkcs11KeyStore({ ...pkcs11, healthCheckSeconds: 0 }, config.dataDir);
      const { failover, transportKey } = store;
      try {
        const report: {
          backend: string;
          tokenLabel: string;
          missingMechanisms: { mechanism: string; specs: string[] }[];
        }[] = [];
        for (const token of failover.tokens) {
          const offered = new Set(await token.mechanisms());
          const missing = new Map<string, string[]>();
          for (const spec of HSM_KEY_SPECS) {
            for (const [name, mechanism] of Object.entries(mechanismsFor(spec))) {
              if (!offered.has(mechanism)) missing.set(name, [...(missing.get(name) ?? []), spec]);
            }
          }
          report.push({
            backend: token.name,
            tokenLabel: token.options.tokenLabel,
            missingMechanisms: [...missing].map(([mechanism, specs]) => ({ mechanism, specs })),
          });
        }
        const summary = {
          rootKeyLabel: pkcs11.rootKeyLabel,
          rootKey: store.available ? (store.rootKeyCreated ? 'created' : 'present') : 'unavailable',
          transportKey,
          replicationProblem: failover.replication?.problem,
          pendingReplications: Object.fromEntries(
            failover.tokens.map((t) => [t.name, failover.replication!.pendingFor(t.name)]),
          ),
          hsmKeySpecs: HSM_KEY_SPECS,
          unsupportedKeySpecs: KEY_SPECS.filter((spec) => !HSM_KEY_SPECS.includes(spec)),
          offered: HSM_OFFERED,
          notOffered: HSM_NOT_OFFERED,
          backends: report,
        };
        emit(command, summary, () =>
          [
            `root key "${summary.rootKeyLabel}": ${summary.rootKey}`,
            ...(transportKey === 'not-needed'
              ? []
              : [
                  `transport key "${pkcs11.transportKeyLabel}-wrap" / "-unwrap": ${transportKey}${summary.replicationProblem ? ` (${summary.replicationProblem})` : ''}`,
                  ...Object.entries(summary.pendingReplications)
                    .filter(([, count]) => count > 0)
                    .map(([name, count]) => `${name} still lacks ${count} object(s)`),
                ]),
            ...report.map((r) =>
              r.missingMechanisms.length === 0
                ? `${r.backend} (token "${r.tokenLabel}"): every mechanism the HSM key specs need is offered`
                : `${r.backend} (token "${r.tokenLabel}") lacks: ${r.missingMechanisms
                    .map((m) => `${m.mechanism} (for ${m.specs.join(', ')})`)
                    .join('; ')}`,
            ),
            ...(summary.unsupportedKeySpecs.length > 0
              ? [`key specs not offered at protection level HSM: ${summary.unsupportedKeySpecs.join(', ')}`]
              : []),
            '',
            'offered at protection level HSM (inside the token):',
            renderTable(HSM_OFFERED, [
              { header: 'KEY SPEC', value: (o) => o.specs },
              { header: 'OPERATIONS', value: (o) => o.operations },
              { header: 'MECHANISMS', value: (o) => o.mechanisms },
            ]),
            'not offered at protection level HSM:',
            renderTable(HSM_NOT_OFFERED, [
              { header: 'FEATURE', value: (n) => n.feature },
              { header: 'REASON', value: (n) => n.reason },
            ]),
          ].join('\n'),
        );
        if (!store.available || transportKey === 'unavailable') process.exitCode = 1;
      } finally {
        await store.root.close();
      }
    });

  hsm
    .command('status')
    .description(
      "show each HSM backend's state, circuit, session pool use and latency (from the server's /ready)",
    )
    .action(async (_options: unknown, command: Command) => {
      // Backend details are for authenticated callers only.
      const client = createClient(command);
      const ready = await client.ready();
      const body = ready.body as { backends?: BackendView[] };
      const backends = (body.backends ?? []).filter((b) => b.kind === 'pkcs11');
      emit(command, { backends }, () =>
        backends.length === 0
          ? 'the server has no PKCS#11 backend (its key store is not pkcs11)\n'
          : renderTable(backends, [
              { header: 'BACKEND', value: (b) => b.name },
              { header: 'HEALTHY', value: (b) => (b.healthy ? 'yes' : 'no') },
              { header: 'DETAIL', value: (b) => b.detail ?? '' },
            ]),
      );
      if (backends.some((b) => !b.healthy)) process.exitCode = 1;
    });
}
