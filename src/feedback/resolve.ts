/**
 * Feedback semantics ("silence is a signal"), as pure functions. Each impression has at most one
 * active outcome in the learning log; new feedback either leaves it, or retracts it and applies
 * a new one. Retraction is exact for conjugate sufficient statistics.
 *
 * Precedence (what supersedes what):
 * - `click`/`convert` (positive) supersede `ignored` and `dismiss` — a late click after the window
 *   closed retracts the provisional ignore — and a lower positive (a convert after a click, when
 *   its reward is higher). Nothing supersedes `regret`.
 * - `regret` (a late negative, e.g. a return) supersedes positives and `ignored`.
 * - `dismiss` (explicit "not interested") supersedes `ignored` only.
 * - `ignore` (the client says the moment passed) resolves an open window as silence, now.
 * Every feedback closes the impression's reward window.
 */
import type { FeedbackKind, OutcomeKind } from '../storage/types.js';

/** The parts of the feedback config the rules need. */
export interface FeedbackSemantics {
  readonly rewards: Readonly<Record<'click' | 'convert' | 'ignore' | 'dismiss' | 'regret', number>>;
  readonly weights: Readonly<Record<'click' | 'convert' | 'ignore' | 'dismiss' | 'regret', number>>;
  readonly examination: readonly number[];
  readonly learnSilence: boolean;
}

/** The outcome currently standing for an impression. */
export interface StandingOutcome {
  readonly kind: OutcomeKind;
  readonly reward: number;
}

/** What to do with one piece of feedback. */
export interface Resolution {
  /** Retract the standing outcome. */
  readonly retract: boolean;
  /** Apply a new outcome. */
  readonly apply?: { readonly kind: OutcomeKind; readonly reward: number; readonly weight: number };
}

/**
 * Largest |value| of a `convert` (its reward). A bound keeps every sufficient statistic finite:
 * squared rewards summed over billions of outcomes stay far below the double range, where one
 * unbounded value (1e160) made a posterior non-finite and its snapshot unloadable.
 */
export const MAX_FEEDBACK_VALUE = 1e9;

/** P(position examined); positions are 1-based, past the end the last value holds. */
export function examinationProbability(examination: readonly number[], position: number): number {
  const i = Math.min(Math.max(position, 1), examination.length) - 1;
  return examination[i]!;
}

const isPositive = (k: OutcomeKind) => k === 'click' || k === 'convert';

/** The outcome of silence at a position: reward `rewards.ignore`, weight `weights.ignore × P(examined)`. */
export function silenceOutcome(
  semantics: FeedbackSemantics,
  position: number,
): { kind: 'ignored'; reward: number; weight: number } {
  return {
    kind: 'ignored',
    reward: semantics.rewards.ignore,
    weight: semantics.weights.ignore * examinationProbability(semantics.examination, position),
  };
}

/**
 * Resolve one feedback event against the impression's standing outcome.
 * @param windowOpen whether the impression's reward window is still open (matters for `ignore`)
 * @param value for `convert`: its value (the reward); others ignore it
 */
export function resolveFeedback(
  semantics: FeedbackSemantics,
  kind: FeedbackKind,
  value: number | undefined,
  position: number,
  standing: StandingOutcome | undefined,
  windowOpen: boolean,
): Resolution {
  const none: Resolution = { retract: false };
  const learnable = (k: OutcomeKind) => semantics.learnSilence || (k !== 'ignored' && k !== 'dismiss');
  const make = (k: OutcomeKind, reward: number, weight: number): Resolution => {
    const retract = standing !== undefined;
    if (!learnable(k)) return { retract };
    return { retract, apply: { kind: k, reward, weight } };
  };
  switch (kind) {
    case 'click':
    case 'convert': {
      const reward = kind === 'convert' ? (value ?? semantics.rewards.convert) : semantics.rewards.click;
      const weight = semantics.weights[kind];
      if (!standing) return make(kind, reward, weight);
      if (standing.kind === 'regret') return none;
      if (isPositive(standing.kind) && reward <= standing.reward) return none;
      return make(kind, reward, weight);
    }
    case 'regret': {
      if (standing?.kind === 'regret' || standing?.kind === 'dismiss') return none;
      return make('regret', semantics.rewards.regret, semantics.weights.regret);
    }
    case 'dismiss': {
      if (standing && standing.kind !== 'ignored') return none;
      return make('dismiss', semantics.rewards.dismiss, semantics.weights.dismiss);
    }
    case 'ignore': {
      if (standing || !windowOpen) return none;
      const s = silenceOutcome(semantics, position);
      return make(s.kind, s.reward, s.weight);
    }
    default: {
      const never: never = kind;
      throw new Error(`unknown feedback kind ${String(never)}`);
    }
  }
}
