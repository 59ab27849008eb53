import { AppError, defineErrors } from '../../platform/errors/index.ts';

/** Stable codes of strong customer authentication (docs/errors.md, "Strong customer authentication"). */
export const ScaErrors = defineErrors({
  // The payment needs a two-factor approval linked to it (PSD2 RTS Art. 5); `authorization_details`
  // in the problem names what to request.
  SCA_REQUIRED: { status: 403, title: 'This payment needs strong customer authentication' },
  // The approval names another amount, currency or payee than the payment now has: void.
  SCA_MISMATCH: { status: 403, title: 'The approval does not match the payment' },
  SCA_ALREADY_USED: { status: 409, title: 'This approval or payment was already used' },
  SCA_SETTINGS_INVALID: { status: 400, title: 'The exemption settings are not valid' },
});

export type ScaErrorCode = keyof typeof ScaErrors;

export class ScaError extends AppError {
  constructor(code: ScaErrorCode, detail?: string, extra?: Readonly<Record<string, unknown>>) {
    super(code, detail, extra);
    this.name = 'ScaError';
  }
}
