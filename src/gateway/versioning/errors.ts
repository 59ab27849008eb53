import { defineErrors } from '../../platform/errors/index.ts';

/** Stable codes of API lifecycle governance (docs/errors.md, "API lifecycle"). */
export const VersioningErrors = defineErrors({
  // RFC 8594 §1 and RFC 9110 §15.5.11: after its sunset a route is gone for good, not missing.
  API_ROUTE_RETIRED: {
    status: 410,
    title: 'This route has been retired; its successor and the changelog are linked',
  },
});
