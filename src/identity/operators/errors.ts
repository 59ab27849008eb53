import { AppError, defineErrors } from '../../platform/errors/index.ts';

/** Stable codes of operator bootstrap and admin sign-in (docs/errors.md, "Operators"). */
export const OperatorErrors = defineErrors({
  // The one-time bootstrap path is over: sign in as an operator (OAuth, two factors) instead.
  BOOTSTRAP_CLOSED: { status: 401, title: 'The bootstrap credential is closed; sign in as an operator' },
  // A first operator exists already (waiting for their second factor, or done).
  BOOTSTRAP_ALREADY_STARTED: { status: 409, title: 'The first operator was already created' },
  BOOTSTRAP_NOT_STARTED: { status: 409, title: 'Create the first operator before confirming it' },
  // The admin face is for operators: people of the platform tenant signed in with two factors.
  ADMIN_OPERATOR_REQUIRED: { status: 403, title: 'The admin API needs an operator of the platform' },
});

export type OperatorErrorCode = keyof typeof OperatorErrors;

export class OperatorError extends AppError {
  constructor(code: OperatorErrorCode, detail?: string) {
    super(code, detail);
    this.name = 'OperatorError';
  }
}
