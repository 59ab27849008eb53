/**
 * Account lockout, one pure state machine used for real accounts (stored on the user row) and for
 * unknown usernames (kept in the KV store) alike, so both answer the same sequence.
 *
 * PSD2 RTS (Commission Delegated Regulation (EU) 2018/389):
 *  - Art. 4(3)(b): at most five consecutive failed authentication attempts, then a temporary or
 *    permanent block;
 *  - Art. 4(4): the duration of a temporary block and the retries are set by risk; the payer is
 *    alerted before the block is made permanent (the "one attempt left" warning), and a secure
 *    procedure lets them regain access (an admin unlock).
 * NIST SP 800-63B-4 §3.2.2 caps consecutive failures at 100 for good: temporary blocks escalate to
 * a permanent one after `permanentAfter` of them (default 3, i.e. 15 failures).
 */

export interface LockoutPolicy {
  /** Consecutive failures that lock (PSD2 RTS Art. 4(3)(b): at most 5). */
  readonly threshold: number;
  /** Length of a temporary lock in ms; null locks until an admin unlocks. Default 30 minutes. */
  readonly durationMs: number | null;
  /** The lock that makes this many locks since the last success is permanent. Default 3. */
  readonly permanentAfter: number;
}

export const DEFAULT_LOCKOUT: LockoutPolicy = {
  threshold: 5,
  durationMs: 30 * 60_000,
  permanentAfter: 3,
};

export function checkLockoutPolicy(p: LockoutPolicy): LockoutPolicy {
  if (!Number.isInteger(p.threshold) || p.threshold < 2 || p.threshold > 5) {
    throw new Error('lockout threshold must be an integer from 2 to 5 (PSD2 RTS Art. 4(3)(b))');
  }
  if (p.durationMs !== null && (!Number.isInteger(p.durationMs) || p.durationMs < 60_000)) {
    throw new Error('lockout durationMs must be null (until unlocked) or at least one minute');
  }
  if (!Number.isInteger(p.permanentAfter) || p.permanentAfter < 1 || p.permanentAfter * p.threshold > 100) {
    throw new Error('lockout permanentAfter must be >= 1 and allow at most 100 failures (NIST SP 800-63B-4)');
  }
  return p;
}

export interface LockState {
  readonly failedAttempts: number;
  readonly lockouts: number;
  /** ms since the epoch, or null when not locked. */
  readonly lockedAt: number | null;
  /** End of a temporary lock (ms); null with `lockedAt` set: until an admin unlocks. */
  readonly lockedUntil: number | null;
}

export const UNLOCKED: LockState = { failedAttempts: 0, lockouts: 0, lockedAt: null, lockedUntil: null };

export function isLocked(s: LockState, now: number): boolean {
  return s.lockedAt !== null && (s.lockedUntil === null || s.lockedUntil > now);
}

export type FailureOutcome =
  | { readonly outcome: 'failure'; readonly warning: boolean; readonly state: LockState }
  | { readonly outcome: 'locked'; readonly newlyLocked: boolean; readonly state: LockState };

/** One more failed attempt. While locked nothing is counted: the answer is simply "locked". */
export function recordFailure(s: LockState, now: number, policy: LockoutPolicy): FailureOutcome {
  if (isLocked(s, now)) return { outcome: 'locked', newlyLocked: false, state: s };
  // A temporary lock that has run out gives a fresh round of attempts; the lock count stays.
  const attempts = (s.lockedAt !== null ? 0 : s.failedAttempts) + 1;
  if (attempts >= policy.threshold) {
    const lockouts = s.lockouts + 1;
    const permanent = policy.durationMs === null || lockouts >= policy.permanentAfter;
    return {
      outcome: 'locked',
      newlyLocked: true,
      state: {
        failedAttempts: attempts,
        lockouts,
        lockedAt: now,
        lockedUntil: permanent ? null : now + (policy.durationMs ?? 0),
      },
    };
  }
  return {
    outcome: 'failure',
    // PSD2 RTS Art. 4(4): alerted before the block, without saying which element was wrong.
    warning: attempts === policy.threshold - 1,
    state: { failedAttempts: attempts, lockouts: s.lockouts, lockedAt: null, lockedUntil: null },
  };
}

/** The warning a deferred failure reports later: whether the next failure locks. */
export function warningOf(s: LockState, now: number, policy: LockoutPolicy): boolean {
  return !isLocked(s, now) && s.lockedAt === null && s.failedAttempts === policy.threshold - 1;
}
