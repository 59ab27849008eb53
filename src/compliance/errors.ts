import { AppError, defineErrors } from '../platform/errors/index.ts';

/** Stable codes of the compliance module (docs/errors.md, "Compliance"). */
export const ComplianceErrors = defineErrors({
  COMPLIANCE_RISK_NOT_FOUND: { status: 404, title: 'No such risk' },
  // A linked control is not in the report's registry (see GET /admin/compliance/report).
  COMPLIANCE_RISK_CONTROL_UNKNOWN: {
    status: 400,
    title: 'The risk links a control the report does not know',
  },
});

export type ComplianceErrorCode = keyof typeof ComplianceErrors;

export class ComplianceError extends AppError {
  constructor(code: ComplianceErrorCode, detail?: string) {
    super(code, detail);
    this.name = 'ComplianceError';
  }
}
