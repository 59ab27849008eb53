import { defineErrors } from '../platform/errors/index.ts';

/** Stable codes of detection, response actions and incidents (docs/errors.md, "Detection"). */
export const DetectionErrors = defineErrors({
  DETECTION_ALERT_NOT_FOUND: { status: 404, title: 'No such alert' },
  DETECTION_ACTION_NOT_FOUND: { status: 404, title: 'No such response action' },
  DETECTION_SUPPRESSION_NOT_FOUND: { status: 404, title: 'No such active suppression' },
  DETECTION_INCIDENT_NOT_FOUND: { status: 404, title: 'No such incident' },
  DETECTION_DETECTOR_UNKNOWN: { status: 404, title: 'No such detector' },
  DETECTION_ACTION_NOT_APPLICABLE: {
    status: 422,
    title: 'The alert names nothing this action can act on (no address, client, token or user)',
  },
  DETECTION_ACTION_NOT_REVERTIBLE: {
    status: 409,
    title: 'The action is not in force (already reverted, failed or skipped)',
  },
  DETECTION_ACTION_FAILED: { status: 409, title: 'The response action could not be applied' },
  DETECTION_ALERT_RESOLVED: { status: 409, title: 'The alert is already resolved' },
  DETECTION_INCIDENT_TRANSITION: { status: 409, title: 'The incident cannot move to that status' },
  DETECTION_SUPPRESSION_INVALID: {
    status: 400,
    title: 'A suppression names a subject by both type and id, or neither',
  },
  DETECTION_THROTTLED: { status: 429, title: 'This client is throttled after a security alert' },
  DETECTION_STEP_UP_REQUIRED: {
    status: 401,
    title: 'A new sign-in with a second factor is required (RFC 9470 insufficient_user_authentication)',
  },
});

export type DetectionErrorCode = keyof typeof DetectionErrors;

/** Domain failure, free of HTTP; routes.ts turns it into a problem. */
export class DetectionError extends Error {
  constructor(
    readonly code: DetectionErrorCode,
    readonly detail?: string,
  ) {
    super(code);
    this.name = 'DetectionError';
  }
}
