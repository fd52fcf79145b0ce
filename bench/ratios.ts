// Which rows are divided by which, and the division done round by round: each round's value of the
// numerator over the same round's value of the denominator, so the two cells share that round's
// machine state; only then are the per-round ratios summarised.
import { summarize, type Summary } from './stats.js';
import type { Operation } from './scenarios.js';
import type { Variant } from './variants.js';

/** `variant`: a variant over its reference (or the reverse); `variants`: a variant over another. */
export type RatioKind = 'floor' | 'bare-route' | 'feature' | 'variant' | 'variants';

export interface RatioDefinition {
  /** `numerator ÷ denominator`, by row label. */
  name: string;
  kind: RatioKind;
  numerator: string;
  denominator: string;
  /** What the ratio says, for the report. */
  meaning: string;
}

/** Rows whose work includes one AES-GCM operation, compared with the AEAD floor. */
export const AEAD_OPERATIONS: readonly Operation[] = [
  'encrypt',
  'aws-encrypt',
  'decrypt',
  'datakey',
  'hsm-encrypt',
];

const ratio = (numerator: string, denominator: string, kind: RatioKind, meaning: string) => ({
  name: `${numerator} ÷ ${denominator}`,
  kind,
  numerator,
  denominator,
  meaning,
});

/** The named ratios of the report, before the variants' own. */
const FIXED_RATIOS: readonly RatioDefinition[] = [
  ratio('encrypt', 'aead-floor', 'floor', 'what encrypt keeps of the cheapest AES-GCM route (the target)'),
  ratio('encrypt', 'baseline', 'bare-route', 'the old target (>= 0.50 of the bare route), information only'),
  ratio('aead-floor', 'baseline', 'bare-route', 'the most any encrypt route on Fastify + node:crypto keeps'),
  ratio(
    'aws-encrypt',
    'encrypt',
    'feature',
    'the AWS dialect (AWS JSON 1.1, SigV4 checked) ÷ REST with an API key, the same encrypt',
  ),
  ratio('hsm-encrypt', 'encrypt', 'feature', 'HSM key (SoftHSM2, pkcs11 key store) ÷ SOFTWARE key'),
  ratio('hsm-sign', 'sign', 'feature', 'HSM key (SoftHSM2, pkcs11 key store) ÷ SOFTWARE key'),
  ratio(
    'external-encrypt',
    'encrypt',
    'feature',
    'EXTERNAL key (data key wrapped at two providers, a Keyhaven process on the same machine) ÷ SOFTWARE key',
  ),
  ratio(
    'envelope-encrypt',
    'encrypt',
    'feature',
    'KmsIntegrationService.envelopeEncrypt (local AES-GCM, data key wrapped by one Keyhaven encrypt through the SDK) ÷ REST encrypt',
  ),
  ratio(
    'envelope-decrypt',
    'encrypt',
    'feature',
    'KmsIntegrationService.envelopeDecrypt, data-key cache off (one Keyhaven decrypt per call) ÷ REST encrypt',
  ),
  ratio(
    'envelope-decrypt-cached',
    'encrypt',
    'feature',
    'KmsIntegrationService.envelopeDecrypt, data-key cache on (no provider call once cached) ÷ REST encrypt',
  ),
  ratio(
    'envelope-decrypt-cached',
    'envelope-decrypt',
    'feature',
    'what the data-key cache buys an envelope decrypt',
  ),
];

/**
 * The named ratios whose two rows both run: the fixed ones, then per variant and operation the
 * variant over its reference (`operation ÷ operation@name` for one that switches a feature off),
 * then over each variant of its `over`.
 */
export function ratioDefinitions(rows: readonly string[], variants: readonly Variant[]): RatioDefinition[] {
  const fromVariants = variants.flatMap((variant) =>
    variant.operations.map((op) =>
      variant.switchesOff
        ? ratio(op, `${op}@${variant.name}`, 'variant', variant.description)
        : ratio(`${op}@${variant.name}`, op, 'variant', variant.description),
    ),
  );
  const betweenVariants = variants.flatMap((variant) =>
    (variant.over ?? []).flatMap((other) =>
      variant.operations.map((op) =>
        ratio(
          `${op}@${variant.name}`,
          `${op}@${other}`,
          'variants',
          `the @${variant.name} server over the @${other} server: both differences from the reference at once`,
        ),
      ),
    ),
  );
  return [...FIXED_RATIOS, ...fromVariants, ...betweenVariants].filter(
    (r) => rows.includes(r.numerator) && rows.includes(r.denominator),
  );
}

/**
 * numerator[i] / denominator[i] for every round i; NaN where either is missing, not finite, or the
 * denominator is 0 (summaries skip those rounds).
 */
export function perRoundRatios(
  numerator: readonly (number | null)[],
  denominator: readonly (number | null)[],
): number[] {
  return numerator.map((value, round) => {
    const below = denominator[round];
    if (value === null || below === null || below === undefined || below === 0) return Number.NaN;
    return value / below;
  });
}

export interface RatioResult {
  name: string;
  kind: RatioKind;
  numerator: string;
  denominator: string;
  concurrency: number;
  /** One ratio per round, in round order. */
  perRound: number[];
  summary: Summary;
}

export function summarizeRatio(
  definition: RatioDefinition,
  concurrency: number,
  numerator: readonly (number | null)[],
  denominator: readonly (number | null)[],
): RatioResult {
  const perRound = perRoundRatios(numerator, denominator);
  return {
    name: definition.name,
    kind: definition.kind,
    numerator: definition.numerator,
    denominator: definition.denominator,
    concurrency,
    perRound,
    summary: summarize(perRound),
  };
}
